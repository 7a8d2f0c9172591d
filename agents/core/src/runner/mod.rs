//! The runner: the simulation steps on the caller's thread while agents act on agent threads.
//!
//! Each agent thread owns a group of agents (agent id modulo the number of threads). Every step
//! the runner fills one preallocated batch per group with its agents' observations and sends
//! it through a lock-free queue (crossbeam `ArrayQueue`); the thread fills in actions and sends
//! the batch back. Batches are reused, so a step allocates nothing, and no lock is taken: a waiting
//! side spins briefly, then parks until the other side unparks it. An agent's action depends only
//! on its own observations, so results are identical whatever the number of threads or their
//! timing — and identical to stepping the engine directly. Agents driven by the engine's built-in
//! policies (walk, turn) are asked on the simulation thread, and so are all the agents of a
//! runner with one agent thread: the step waits for them either way, and handing it to a thread
//! and back only costs (most where other work shares the cores).
//!
//! Control messages (pause, resume, snapshot, change a parameter or the task) arrive through
//! another queue and take effect at a step boundary: that is how a curriculum teacher steers a
//! task while a learner trains.
//!
//! This module holds the [`Runner`] and its step; the rest of the channel lives beside it:
//! `batch.rs` (what crosses it, and how each side waits), `agent_thread.rs` (the threads and the
//! agents they drive), `roster.rs` (which thread drives which agent), `control.rs`, `report.rs`
//! and `error.rs`.

mod agent_thread;
mod batch;
mod control;
mod error;
mod report;
mod roster;

use std::sync::Arc;
use std::thread;

use beanworld_sim::Simulation;
use beanworld_sim::action::Action;
use beanworld_sim::action_log::LogWriter;
use crossbeam_queue::ArrayQueue;

use self::agent_thread::{Group, Groups};
use self::control::Controls;
use self::roster::Roster;
use crate::agent::Agent;
use crate::perceivers::Perceivers;

pub use self::control::Control;
pub use self::error::RunError;
pub use self::report::{Pending, StepReport};
pub use self::roster::Spawn;

/// The most agent threads a runner starts.
const MAX_THREADS: usize = 256;

/// Steps a simulation with agents on agent threads.
pub struct Runner {
    sim: Simulation,
    groups: Groups,
    roster: Roster,
    /// The last action of each agent, by id.
    previous: Vec<(u32, Action)>,
    report: StepReport,
    scripted: Vec<Option<Action>>,
    /// Observations of every agent after the last step, in agent order.
    scent: Vec<f32>,
    vision: Vec<f32>,
    controls: Controls,
    /// Per group, how many of its actions were taken while assembling a step's actions.
    cursor: Vec<usize>,
    /// Where what comes from outside the engine is recorded, if anywhere.
    log: Option<LogWriter>,
    /// The threads that perceive ([`Runner::set_perception_threads`]).
    perceivers: Perceivers,
}

impl Runner {
    /// A runner over `sim` with `threads` agent threads. `agents` drive the simulation's
    /// externally driven agents (policy `External` or `Agent`) by id; `spawn` makes the drivers
    /// of the others, now and when events add agents later. With one thread (or none asked for)
    /// the agents act on this thread: the step waits for them either way.
    pub fn new(sim: Simulation, agents: Vec<(u32, Box<dyn Agent>)>, threads: usize, spawn: Spawn) -> Self {
        let threads = threads.clamp(1, MAX_THREADS);
        let lens = (sim.scent_len(), sim.vision_len(), sim.config().items.len());
        let me = thread::current();
        let groups = if threads == 1 {
            vec![Group::here(lens)]
        } else {
            (0..threads).map(|g| Group::spawn(g, me.clone(), lens)).collect()
        };
        let mut runner = Runner {
            sim,
            groups: Groups(groups),
            roster: Roster::new(spawn),
            previous: Vec::new(),
            report: StepReport::default(),
            scripted: Vec::new(),
            scent: Vec::new(),
            vision: Vec::new(),
            controls: Controls::new(),
            cursor: Vec::new(),
            log: None,
            perceivers: Perceivers::default(),
        };
        runner.roster.give(agents, &mut runner.groups);
        runner.roster.admit(&runner.sim, &mut runner.groups);
        runner.observe_all();
        runner
    }

    /// Restores the agents' and teams' saved states (what [`Runner::save_agents`] returned), each
    /// under its key: an agent's id, a team's first member.
    pub fn load_agents(&mut self, states: Vec<(u32, Vec<u8>)>) -> Result<(), RunError> {
        for (key, state) in states {
            let Some(g) = self.roster.group_of(key) else { continue };
            if let Some(batch) = self.groups.0[g].spare.as_mut() {
                batch.load.push((key, state));
            }
        }
        for (g, group) in self.groups.0.iter_mut().enumerate() {
            let Some(mut batch) = group.spare.take() else { return Err(RunError::ThreadGone(g)) };
            batch.ids.clear();
            group.send(batch);
            let mut batch = group.receive();
            let failure = batch.failure.take();
            group.spare = Some(batch);
            if let Some((id, name, message)) = failure {
                return Err(RunError::Restore { id, name, message });
            }
        }
        Ok(())
    }

    /// What the agents are owed at the next step (for snapshots).
    pub fn pending(&self) -> Pending {
        Pending {
            ids: self.report.ids.clone(),
            rewards: self.report.rewards.clone(),
            moved: self.report.moved.clone(),
            previous: self.previous.clone(),
        }
    }

    /// Restores [`Runner::pending`]'s output, saved at the step the simulation was restored to.
    pub fn restore_pending(&mut self, pending: Pending) {
        let Pending { ids, rewards, moved, previous } = pending;
        self.report.actions.clear();
        for id in &ids {
            let action =
                previous.binary_search_by_key(id, |(i, _)| *i).ok().map_or(Action::NoOp, |k| previous[k].1);
            self.report.actions.push(action);
        }
        (self.report.ids, self.report.rewards, self.report.moved, self.previous) =
            (ids, rewards, moved, previous);
    }

    /// The simulation.
    pub fn sim(&self) -> &Simulation {
        &self.sim
    }

    /// The simulation, to change between steps (generate regions, place items, observe).
    pub fn sim_mut(&mut self) -> &mut Simulation {
        &mut self.sim
    }

    /// A handle for sending [`Control`] messages, from any thread.
    pub fn controller(&self) -> Arc<ArrayQueue<Control>> {
        self.controls.sender()
    }

    /// Observations of every agent after the last step: scent, then vision, in agent order.
    pub fn observations(&self) -> (&[f32], &[f32]) {
        (&self.scent, &self.vision)
    }

    /// Every agent's observation, spread over the perceiving threads.
    fn observe_all(&mut self) {
        self.perceivers.observe_all(&mut self.sim, &mut self.scent, &mut self.vision);
    }

    /// Perceives on `threads` threads (this one and `threads − 1` more) from the next step on:
    /// for many agents, whose observations take most of a step. Observations are the same
    /// whatever the number.
    pub fn set_perception_threads(&mut self, threads: usize) {
        self.perceivers = Perceivers::new(threads);
    }

    /// What the last step did.
    pub fn report(&self) -> &StepReport {
        &self.report
    }

    /// Records from now on, into `log`, every step's actions and every parameter or task set
    /// through the control queue: what a replay needs.
    pub fn record_actions(&mut self, log: LogWriter) {
        self.log = Some(log);
    }

    /// Writes what the action log holds so far to its file (nothing without a log).
    pub fn flush_log(&mut self) -> Result<(), RunError> {
        match &mut self.log {
            Some(log) => Ok(log.flush()?),
            None => Ok(()),
        }
    }

    /// Advances one step and returns true, unless paused (then returns false at once; call again
    /// later). [`Runner::report`] says what the step did.
    pub fn step(&mut self) -> Result<bool, RunError> {
        if self.controls.apply(&mut self.sim, self.log.as_mut())? {
            return Ok(false);
        }
        self.roster.admit(&self.sim, &mut self.groups);
        self.fill_batches();
        let sent = self.send_batches();
        self.collect_batches(&sent)?;
        self.assemble_actions()?;
        self.advance()?;
        Ok(true)
    }

    /// Puts what each externally driven agent observes before this step — scent, vision,
    /// inventory, its last reward, whether it moved, its last action, the task — into its group's
    /// batch, in agent order.
    #[inline]
    fn fill_batches(&mut self) {
        let (s, v, kinds) = (self.sim.scent_len(), self.sim.vision_len(), self.sim.config().items.len());
        let step = self.sim.time();
        for group in &mut self.groups.0 {
            if let Some(batch) = group.spare.as_mut() {
                batch.begin(step, &self.sim);
            }
        }
        for (i, agent) in self.sim.agents().iter().enumerate() {
            if !agent.policy.kind.is_external() {
                continue;
            }
            let Some(g) = self.roster.group_of(agent.id) else { continue };
            let Some(batch) = self.groups.0[g].spare.as_mut() else { continue };
            // Ids are in increasing order in both lists (agents keep their order).
            let last = self.report.ids.binary_search(&agent.id).ok();
            batch.ids.push(agent.id);
            batch.moved.push(last.is_some_and(|k| self.report.moved[k]));
            batch.rewards.push(last.map_or(0.0, |k| self.report.rewards[k]));
            let previous =
                self.previous.binary_search_by_key(&agent.id, |(id, _)| *id).ok().map(|k| self.previous[k].1);
            batch.previous.push(previous);
            batch.scent.extend_from_slice(&self.scent[i * s..(i + 1) * s]);
            batch.vision.extend_from_slice(&self.vision[i * v..(i + 1) * v]);
            batch.inventory.extend_from_slice(&agent.inventory[..kinds]);
        }
    }

    /// Sends their batches to the groups with something to do; returns which were sent.
    #[inline]
    fn send_batches(&mut self) -> [bool; MAX_THREADS] {
        let mut sent = [false; MAX_THREADS];
        for (g, group) in self.groups.0.iter_mut().enumerate() {
            let idle = group.spare.as_ref().is_some_and(|b| b.is_idle());
            if !idle && let Some(batch) = group.spare.take() {
                group.send(batch);
                sent[g] = true;
            }
        }
        sent
    }

    /// Takes back the batches `sent`, with their actions. Every group answers, even after a
    /// failure elsewhere; the first failure is returned once all have.
    #[inline]
    fn collect_batches(&mut self, sent: &[bool; MAX_THREADS]) -> Result<(), RunError> {
        let mut failure = None;
        self.report.reports.clear();
        for (g, group) in self.groups.0.iter_mut().enumerate() {
            if !sent[g] {
                continue;
            }
            if group.is_gone() {
                return Err(RunError::ThreadGone(g));
            }
            let mut batch = group.receive();
            batch.joins.clear();
            batch.leaves.clear();
            if let Some(f) = batch.failure.take() {
                failure.get_or_insert(f);
            }
            self.report.reports.append(&mut batch.reports);
            group.spare = Some(batch);
        }
        match failure {
            Some((id, name, message)) => Err(RunError::AgentPanicked { id, name, message }),
            None => Ok(()),
        }
    }

    /// Puts every agent's action for this step into the report, in agent order: the built-in
    /// policies' from the simulation, the others' from their groups' batches.
    #[inline]
    fn assemble_actions(&mut self) -> Result<(), RunError> {
        self.sim.scripted_actions(&mut self.scripted);
        let cursor = &mut self.cursor;
        cursor.clear();
        cursor.resize(self.groups.0.len(), 0);
        self.report.actions.clear();
        for (agent, scripted) in self.sim.agents().iter().zip(&self.scripted) {
            let action = match scripted {
                Some(a) => *a,
                None => {
                    let known = &self.roster.known;
                    let at = known.binary_search_by_key(&agent.id, |(i, _)| *i);
                    let g = at.map(|k| known[k].1).map_err(|_| RunError::ThreadGone(0))?;
                    let batch = self.groups.0[g].spare.as_ref().ok_or(RunError::ThreadGone(g))?;
                    let a = batch.actions.get(cursor[g]).copied().unwrap_or(Action::NoOp);
                    cursor[g] += 1;
                    a
                }
            };
            self.report.actions.push(action);
        }
        Ok(())
    }

    /// Steps the simulation with the report's actions, and keeps what came of it: rewards and
    /// moves in the report, each agent's action for it to learn from, the next observations, and
    /// whether a snapshot is wanted.
    #[inline]
    fn advance(&mut self) -> Result<(), RunError> {
        if let Some(log) = &mut self.log {
            log.step(&self.report.actions)?;
        }
        let outcome = self.sim.step(&self.report.actions)?;
        self.report.record(&outcome);
        self.previous.clear();
        self.previous.extend(self.report.ids.iter().copied().zip(self.report.actions.iter().copied()));
        self.previous.sort_unstable_by_key(|(id, _)| *id);
        self.observe_all();
        self.report.snapshot = self.sim.take_snapshot_request() || self.controls.take_snapshot_request();
        Ok(())
    }

    /// The saved states of every agent on the agent threads, by id.
    pub fn save_agents(&mut self) -> Result<Vec<(u32, Vec<u8>)>, RunError> {
        let mut out = Vec::new();
        for (g, group) in self.groups.0.iter_mut().enumerate() {
            let Some(mut batch) = group.spare.take() else { return Err(RunError::ThreadGone(g)) };
            batch.ids.clear();
            batch.save = true;
            group.send(batch);
            let mut batch = group.receive();
            out.append(&mut batch.saved);
            batch.save = false;
            group.spare = Some(batch);
        }
        out.sort_unstable_by_key(|(id, _)| *id);
        Ok(out)
    }

    /// Stops the agent threads and returns the simulation.
    pub fn finish(self) -> Simulation {
        let Runner { sim, groups, .. } = self;
        drop(groups);
        sim
    }
}
