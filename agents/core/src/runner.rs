//! The runner: the simulation steps on the caller's thread while agents act on agent threads.
//!
//! Each agent thread owns a group of agents (agent id modulo the number of threads). Every step
//! the runner fills one preallocated [`Batch`] per group with its agents' observations and sends
//! it through a lock-free queue (crossbeam `ArrayQueue`); the thread fills in actions and sends
//! the batch back. Batches are reused, so a step allocates nothing, and no lock is taken: a waiting
//! side spins briefly, then parks until the other side unparks it. An agent's action depends only
//! on its own observations, so results are identical whatever the number of threads or their
//! timing — and identical to stepping the engine directly. Agents driven by the engine's built-in
//! policies (walk, turn) are asked on the simulation thread.
//!
//! Control messages (pause, resume, snapshot, change a parameter or the task) arrive through
//! another queue and take effect at a step boundary: that is how a curriculum teacher steers a
//! task while a learner trains.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::{self, JoinHandle, Thread};

use beanworld_sim::action::Action;
use beanworld_sim::dynamics::Param;
use beanworld_sim::policy::PolicyKind;
use beanworld_sim::task::Schedule;
use beanworld_sim::{Simulation, StepError};
use crossbeam_queue::ArrayQueue;

use crate::agent::{Agent, Driver, Members, Observation};

/// A message to the running simulation, applied at the next step boundary.
#[derive(Clone, Debug)]
pub enum Control {
    /// Stop stepping until [`Control::Resume`].
    Pause,
    /// Continue after [`Control::Pause`].
    Resume,
    /// Ask the front end for a snapshot (reported by [`Runner::step`]).
    Snapshot,
    /// Set a parameter of the world from now on.
    SetParam(Param, f32),
    /// Switch the reward schedule.
    SetTask(Schedule),
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// An agent panicked while acting or learning.
    #[error("agent {id} ({name}) panicked: {message}")]
    AgentPanicked {
        /// Its id.
        id: u32,
        /// Its name.
        name: String,
        /// The panic message.
        message: String,
    },
    /// A saved state could not be restored.
    #[error("agent {id} ({name}): {message}")]
    Restore {
        /// Its id (a team's first member).
        id: u32,
        /// Its name.
        name: String,
        /// Why.
        message: String,
    },
    /// The simulation refused a step.
    #[error(transparent)]
    Step(#[from] StepError),
    /// An agent thread is gone.
    #[error("agent thread {0} stopped unexpectedly")]
    ThreadGone(usize),
}

/// An agent thread's news about who it drives.
enum Join {
    /// A new agent or team, for agent `id` (a team's first member: its key).
    New(u32, Driver),
    /// Agent `id` joins the team keyed `key`.
    Member { key: u32, id: u32 },
}

/// One group's share of a step, passed back and forth between the runner and an agent thread.
#[derive(Default)]
struct Batch {
    step: u64,
    ids: Vec<u32>,
    moved: Vec<bool>,
    rewards: Vec<f32>,
    previous: Vec<Option<Action>>,
    scent: Vec<f32>,
    vision: Vec<f32>,
    inventory: Vec<u32>,
    /// The task's coefficients, the same for every agent.
    task: Vec<f32>,
    actions: Vec<Action>,
    /// Agents entering the group (added by events) and ids leaving it.
    joins: Vec<Join>,
    leaves: Vec<u32>,
    /// States to restore, by key (an agent's id, a team's first member).
    load: Vec<(u32, Vec<u8>)>,
    /// Ask every agent of the group for its state.
    save: bool,
    saved: Vec<(u32, Vec<u8>)>,
    stop: bool,
    failure: Option<(u32, String, String)>,
}

struct Group {
    to_thread: Arc<ArrayQueue<Box<Batch>>>,
    from_thread: Arc<ArrayQueue<Box<Batch>>>,
    thread: Option<JoinHandle<()>>,
    handle: Thread,
    spare: Option<Box<Batch>>,
}

/// Waits for an item: spins a little, then yields the core (more threads than cores must not
/// starve the one doing the work), then parks until woken.
fn receive<T>(queue: &ArrayQueue<T>) -> T {
    let mut tries = 0u32;
    loop {
        if let Some(v) = queue.pop() {
            return v;
        }
        tries += 1;
        if tries < 100 {
            std::hint::spin_loop();
        } else if tries < 5_000 {
            thread::yield_now();
        } else {
            thread::park();
        }
    }
}

fn send<T>(queue: &ArrayQueue<T>, value: T, to: &Thread) {
    if queue.push(value).is_err() {
        unreachable!("each queue holds at most the one batch in flight");
    }
    to.unpark();
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// What an agent thread drives: an agent or a team, its key, and this step's rows of the batch.
struct Unit {
    key: u32,
    driver: Driver,
    rows: Vec<usize>,
    actions: Vec<Action>,
}

/// An agent thread's units and which unit drives which agent.
#[derive(Default)]
struct Units {
    units: Vec<Unit>,
    /// `(agent id, unit index)`, sorted by id.
    owners: Vec<(u32, usize)>,
}

impl Units {
    fn unit_keyed(&self, key: u32) -> Option<usize> {
        self.units.iter().position(|u| u.key == key)
    }

    fn own(&mut self, id: u32, unit: usize) {
        match self.owners.binary_search_by_key(&id, |(i, _)| *i) {
            Ok(k) => self.owners[k].1 = unit,
            Err(k) => self.owners.insert(k, (id, unit)),
        }
    }

    /// Applies a batch's joins, leaves and states to restore; failures go into the batch.
    fn admit(&mut self, batch: &mut Batch) {
        for id in std::mem::take(&mut batch.leaves) {
            let Ok(k) = self.owners.binary_search_by_key(&id, |(i, _)| *i) else { continue };
            let (_, unit) = self.owners.remove(k);
            match &mut self.units[unit].driver {
                Driver::Team(team) => team.leave(id),
                Driver::Agent(_) => {
                    self.units.remove(unit);
                    for owner in &mut self.owners {
                        if owner.1 > unit {
                            owner.1 -= 1;
                        }
                    }
                }
            }
        }
        for join in std::mem::take(&mut batch.joins) {
            let (id, unit) = match join {
                Join::New(id, mut driver) => {
                    if let Driver::Team(team) = &mut driver {
                        team.join(id);
                    }
                    self.units.push(Unit { key: id, driver, rows: Vec::new(), actions: Vec::new() });
                    (id, self.units.len() - 1)
                }
                Join::Member { key, id } => {
                    let Some(unit) = self.unit_keyed(key) else {
                        batch.failure = Some((id, "?".into(), format!("no team keyed {key} in its thread")));
                        continue;
                    };
                    if let Driver::Team(team) = &mut self.units[unit].driver {
                        team.join(id);
                    }
                    (id, unit)
                }
            };
            self.own(id, unit);
        }
        for (key, state) in std::mem::take(&mut batch.load) {
            let Some(unit) = self.unit_keyed(key) else { continue };
            let driver = &mut self.units[unit].driver;
            let name = driver.name().to_string();
            let loaded = match driver {
                Driver::Agent(a) => a.load(&state),
                Driver::Team(t) => t.load(&state),
            };
            if let Err(e) = loaded {
                batch.failure.get_or_insert((key, name, format!("cannot restore its state: {e}")));
            }
        }
    }

    /// Every unit learns from the last step and chooses the next actions, written into
    /// `batch.actions` in the batch's order.
    fn act(&mut self, batch: &mut Batch, lens: (usize, usize, usize)) {
        for unit in &mut self.units {
            unit.rows.clear();
        }
        for (k, id) in batch.ids.iter().enumerate() {
            match self.owners.binary_search_by_key(id, |(i, _)| *i) {
                Ok(at) => self.units[self.owners[at].1].rows.push(k),
                Err(_) => {
                    batch.failure = Some((*id, "?".into(), "no agent with this id in its thread".into()));
                    return;
                }
            }
        }
        let mut actions = std::mem::take(&mut batch.actions);
        actions.clear();
        actions.resize(batch.ids.len(), Action::NoOp);
        let (s, v, kinds) = lens;
        for unit in &mut self.units {
            if unit.rows.is_empty() {
                continue;
            }
            let (name, outcome) = match &mut unit.driver {
                Driver::Agent(agent) => {
                    let k = unit.rows[0];
                    let needs = agent.needs();
                    let observation = Observation {
                        id: batch.ids[k],
                        step: batch.step,
                        scent: if needs.scent { &batch.scent[k * s..(k + 1) * s] } else { &[] },
                        vision: if needs.vision { &batch.vision[k * v..(k + 1) * v] } else { &[] },
                        moved: batch.moved[k],
                        inventory: &batch.inventory[k * kinds..(k + 1) * kinds],
                        reward: batch.rewards[k],
                        task: &batch.task,
                    };
                    let previous = batch.previous[k];
                    let outcome = catch_unwind(AssertUnwindSafe(|| {
                        if let Some(previous) = previous {
                            agent.learn(previous, &observation);
                        }
                        actions[k] = agent.act(&observation);
                    }));
                    (agent.name(), outcome)
                }
                Driver::Team(team) => {
                    let members = Members {
                        step: batch.step,
                        rows: &unit.rows,
                        ids: &batch.ids,
                        moved: &batch.moved,
                        rewards: &batch.rewards,
                        previous: &batch.previous,
                        scent: &batch.scent,
                        vision: &batch.vision,
                        inventory: &batch.inventory,
                        task: &batch.task,
                        lens,
                        needs: team.needs(),
                    };
                    unit.actions.clear();
                    unit.actions.resize(unit.rows.len(), Action::NoOp);
                    let outcome = catch_unwind(AssertUnwindSafe(|| team.step(&members, &mut unit.actions)));
                    for (row, action) in unit.rows.iter().zip(&unit.actions) {
                        actions[*row] = *action;
                    }
                    (team.name(), outcome)
                }
            };
            if let Err(payload) = outcome {
                let id = batch.ids[unit.rows[0]];
                batch.failure = Some((id, name.to_string(), panic_message(payload.as_ref())));
                break;
            }
        }
        batch.actions = actions;
    }

    fn save(&self, batch: &mut Batch) {
        batch.saved.clear();
        for unit in &self.units {
            // An agent that cannot save (it may have panicked before) is left out.
            let state = catch_unwind(AssertUnwindSafe(|| match &unit.driver {
                Driver::Agent(a) => a.save(),
                Driver::Team(t) => t.save(),
            }));
            if let Ok(state) = state {
                batch.saved.push((unit.key, state));
            }
        }
    }
}

/// The body of an agent thread.
fn agent_thread(
    inbox: Arc<ArrayQueue<Box<Batch>>>,
    outbox: Arc<ArrayQueue<Box<Batch>>>,
    runner: Thread,
    lens: (usize, usize, usize),
) {
    let mut units = Units::default();
    loop {
        let mut batch = receive(&inbox);
        if batch.stop {
            return;
        }
        units.admit(&mut batch);
        if batch.failure.is_none() {
            units.act(&mut batch, lens);
        }
        if batch.save {
            units.save(&mut batch);
        }
        send(&outbox, batch, &runner);
    }
}

/// What one step did.
#[derive(Debug, Default)]
pub struct StepReport {
    /// Ids of the agents that took part, in agent order.
    pub ids: Vec<u32>,
    /// Their actions.
    pub actions: Vec<Action>,
    /// Their rewards.
    pub rewards: Vec<f32>,
    /// Whether each moved.
    pub moved: Vec<bool>,
    /// Whether a snapshot was asked for (by an event or a control message).
    pub snapshot: bool,
}

/// What the agents are owed at the next step: the last step's rewards and moves, and the actions
/// they took, which they learn from before acting again. A snapshot keeps it, so that a resumed
/// run gives its agents exactly the first observation the uninterrupted run gave them.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Pending {
    ids: Vec<u32>,
    rewards: Vec<f32>,
    moved: Vec<bool>,
    previous: Vec<(u32, Action)>,
}

/// Makes what drives an externally driven agent (by id and policy) that was not given to
/// [`Runner::new`], at the start or when the scenario adds it during the run. When it returns a
/// [`Driver::Team`], later agents of the same policy join that team instead of being spawned.
pub type Spawn = Box<dyn FnMut(u32, &PolicyKind) -> Driver>;

/// The agent threads; stopping and joining them when dropped.
struct Groups(Vec<Group>);

impl Drop for Groups {
    fn drop(&mut self) {
        for group in &mut self.0 {
            let mut batch = group.spare.take().unwrap_or_default();
            batch.stop = true;
            if group.to_thread.push(batch).is_ok() {
                group.handle.unpark();
            }
            if let Some(t) = group.thread.take() {
                let _ = t.join();
            }
        }
    }
}

/// Steps a simulation with agents on agent threads.
pub struct Runner {
    sim: Simulation,
    groups: Groups,
    spawn: Spawn,
    /// The externally driven agents the threads hold: `(id, group)`, sorted by id.
    known: Vec<(u32, usize)>,
    /// The teams: the policy whose agents join it, its key, its group.
    teams: Vec<(PolicyKind, u32, usize)>,
    /// Scratch for [`Runner::admit`]: externally driven agents now, and those new since.
    present: Vec<u32>,
    joining: Vec<(u32, PolicyKind)>,
    /// The last action of each agent, by id.
    previous: Vec<(u32, Action)>,
    report: StepReport,
    scripted: Vec<Option<Action>>,
    /// Observations of every agent after the last step, in agent order.
    scent: Vec<f32>,
    vision: Vec<f32>,
    control: Arc<ArrayQueue<Control>>,
    paused: bool,
    snapshot_asked: bool,
    /// Per group, how many of its actions were taken while assembling a step's actions.
    cursor: Vec<usize>,
}

impl Runner {
    /// A runner over `sim` with `threads` agent threads. `agents` drive the simulation's
    /// externally driven agents (policy `External` or `Agent`) by id; `spawn` makes the drivers
    /// of the others, now and when events add agents later.
    pub fn new(sim: Simulation, agents: Vec<(u32, Box<dyn Agent>)>, threads: usize, spawn: Spawn) -> Self {
        let threads = threads.clamp(1, 256);
        let (scent_len, vision_len, kinds) = (sim.scent_len(), sim.vision_len(), sim.config().items.len());
        let me = thread::current();
        let groups: Vec<Group> = (0..threads)
            .map(|g| {
                let to_thread = Arc::new(ArrayQueue::new(1));
                let from_thread = Arc::new(ArrayQueue::new(1));
                let (inbox, outbox, runner) = (Arc::clone(&to_thread), Arc::clone(&from_thread), me.clone());
                let thread = thread::Builder::new()
                    .name(format!("agents-{g}"))
                    .spawn(move || agent_thread(inbox, outbox, runner, (scent_len, vision_len, kinds)))
                    .unwrap_or_else(|e| panic!("cannot start an agent thread: {e}"));
                let handle = thread.thread().clone();
                Group { to_thread, from_thread, thread: Some(thread), handle, spare: Some(Box::default()) }
            })
            .collect();
        let mut runner = Runner {
            sim,
            groups: Groups(groups),
            spawn,
            known: Vec::new(),
            teams: Vec::new(),
            present: Vec::new(),
            joining: Vec::new(),
            previous: Vec::new(),
            report: StepReport::default(),
            scripted: Vec::new(),
            scent: Vec::new(),
            vision: Vec::new(),
            control: Arc::new(ArrayQueue::new(1024)),
            paused: false,
            snapshot_asked: false,
            cursor: Vec::new(),
        };
        let mut given = agents;
        given.sort_unstable_by_key(|(id, _)| *id);
        given.dedup_by_key(|(id, _)| *id);
        for (id, agent) in given {
            let g = id as usize % threads;
            if let Some(batch) = runner.groups.0[g].spare.as_mut() {
                batch.joins.push(Join::New(id, Driver::Agent(agent)));
            }
            runner.known.push((id, g));
        }
        runner.admit();
        runner.observe_all();
        runner
    }

    /// The group (agent thread) of agent `id`, if a thread holds it.
    fn group_of(&self, id: u32) -> Option<usize> {
        self.known.binary_search_by_key(&id, |(i, _)| *i).ok().map(|k| self.known[k].1)
    }

    /// Brings the threads up to date with who is driven from outside now: agents that left are
    /// dropped (or leave their team), new ones join their policy's team or get a driver from
    /// `spawn`. Allocates only when someone comes or goes.
    fn admit(&mut self) {
        let mut present = std::mem::take(&mut self.present);
        let mut joining = std::mem::take(&mut self.joining);
        present.clear();
        joining.clear();
        for a in self.sim.agents().iter().filter(|a| a.policy.kind.is_external()) {
            present.push(a.id);
            if self.group_of(a.id).is_none() {
                joining.push((a.id, a.policy.kind.clone()));
            }
        }
        present.sort_unstable();
        let gone = self.known.iter().any(|(id, _)| present.binary_search(id).is_err());
        if gone {
            for (id, g) in &self.known {
                if present.binary_search(id).is_err()
                    && let Some(batch) = self.groups.0[*g].spare.as_mut()
                {
                    batch.leaves.push(*id);
                }
            }
            self.known.retain(|(id, _)| present.binary_search(id).is_ok());
        }
        let threads = self.groups.0.len();
        for (id, kind) in joining.drain(..) {
            let (g, join) = match self.teams.iter().find(|(k, _, _)| *k == kind) {
                Some((_, key, g)) => (*g, Join::Member { key: *key, id }),
                None => {
                    let driver = (self.spawn)(id, &kind);
                    let g = id as usize % threads;
                    if matches!(driver, Driver::Team(_)) {
                        self.teams.push((kind, id, g));
                    }
                    (g, Join::New(id, driver))
                }
            };
            if let Some(batch) = self.groups.0[g].spare.as_mut() {
                batch.joins.push(join);
            }
            match self.known.binary_search_by_key(&id, |(i, _)| *i) {
                Ok(k) => self.known[k].1 = g,
                Err(k) => self.known.insert(k, (id, g)),
            }
        }
        (self.present, self.joining) = (present, joining);
    }

    /// Restores the agents' and teams' saved states (what [`Runner::save_agents`] returned), each
    /// under its key: an agent's id, a team's first member.
    pub fn load_agents(&mut self, states: Vec<(u32, Vec<u8>)>) -> Result<(), RunError> {
        for (key, state) in states {
            let Some(g) = self.group_of(key) else { continue };
            if let Some(batch) = self.groups.0[g].spare.as_mut() {
                batch.load.push((key, state));
            }
        }
        for (g, group) in self.groups.0.iter_mut().enumerate() {
            let Some(mut batch) = group.spare.take() else { return Err(RunError::ThreadGone(g)) };
            batch.ids.clear();
            send(&group.to_thread, batch, &group.handle);
            let mut batch = receive(&group.from_thread);
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
        Arc::clone(&self.control)
    }

    /// Observations of every agent after the last step: scent, then vision, in agent order.
    pub fn observations(&self) -> (&[f32], &[f32]) {
        (&self.scent, &self.vision)
    }

    fn observe_all(&mut self) {
        self.sim.observe_all(&mut self.scent, &mut self.vision);
    }

    /// Applies waiting control messages; returns whether the run is paused.
    fn apply_controls(&mut self) -> bool {
        while let Some(c) = self.control.pop() {
            match c {
                Control::Pause => self.paused = true,
                Control::Resume => self.paused = false,
                Control::Snapshot => self.snapshot_asked = true,
                Control::SetParam(p, v) => self.sim.set_param(p, v),
                Control::SetTask(t) => self.sim.set_task(t),
            }
        }
        self.paused
    }

    /// What the last step did.
    pub fn report(&self) -> &StepReport {
        &self.report
    }

    /// Advances one step and returns true, unless paused (then returns false at once; call again
    /// later). [`Runner::report`] says what the step did.
    pub fn step(&mut self) -> Result<bool, RunError> {
        if self.apply_controls() {
            return Ok(false);
        }
        let (s, v, kinds) = (self.sim.scent_len(), self.sim.vision_len(), self.sim.config().items.len());
        let step = self.sim.time();
        self.admit();

        // Fill and send the batches.
        for group in &mut self.groups.0 {
            if let Some(batch) = group.spare.as_mut() {
                batch.step = step;
                batch.ids.clear();
                batch.moved.clear();
                batch.rewards.clear();
                batch.previous.clear();
                batch.scent.clear();
                batch.vision.clear();
                batch.inventory.clear();
                batch.task.resize(self.sim.task_len(), 0.0);
                self.sim.observe_task(&mut batch.task);
                batch.save = false;
                batch.failure = None;
            }
        }
        let groups = self.groups.0.len();
        for (i, agent) in self.sim.agents().iter().enumerate() {
            if !agent.policy.kind.is_external() {
                continue;
            }
            let Some(g) = self.group_of(agent.id) else { continue };
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
        // Only groups with something to do get a batch.
        let mut busy = [false; 256];
        for (g, group) in self.groups.0.iter_mut().enumerate() {
            let idle = group
                .spare
                .as_ref()
                .is_some_and(|b| b.ids.is_empty() && b.joins.is_empty() && b.leaves.is_empty());
            if !idle && let Some(batch) = group.spare.take() {
                send(&group.to_thread, batch, &group.handle);
                busy[g] = true;
            }
        }
        // Collect them: every group answers, even after a failure elsewhere.
        let mut failure = None;
        for (g, group) in self.groups.0.iter_mut().enumerate() {
            if !busy[g] {
                continue;
            }
            if group.thread.as_ref().is_none_or(|t| t.is_finished()) && group.from_thread.is_empty() {
                return Err(RunError::ThreadGone(g));
            }
            let mut batch = receive(&group.from_thread);
            batch.joins.clear();
            batch.leaves.clear();
            if let Some(f) = batch.failure.take() {
                failure.get_or_insert(f);
            }
            group.spare = Some(batch);
        }
        if let Some((id, name, message)) = failure {
            return Err(RunError::AgentPanicked { id, name, message });
        }

        // Assemble the actions in agent order and step.
        self.sim.scripted_actions(&mut self.scripted);
        let cursor = &mut self.cursor;
        cursor.clear();
        cursor.resize(groups, 0);
        self.report.actions.clear();
        for (agent, scripted) in self.sim.agents().iter().zip(&self.scripted) {
            let action = match scripted {
                Some(a) => *a,
                None => {
                    let known = &self.known;
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
        let outcome = self.sim.step(&self.report.actions)?;
        self.report.ids.clear();
        self.report.ids.extend_from_slice(outcome.ids);
        self.report.rewards.clear();
        self.report.rewards.extend_from_slice(outcome.rewards);
        self.report.moved.clear();
        self.report.moved.extend_from_slice(outcome.moved);
        self.previous.clear();
        self.previous.extend(self.report.ids.iter().copied().zip(self.report.actions.iter().copied()));
        self.previous.sort_unstable_by_key(|(id, _)| *id);
        self.observe_all();
        self.report.snapshot = self.sim.take_snapshot_request() || std::mem::take(&mut self.snapshot_asked);
        Ok(true)
    }

    /// The saved states of every agent on the agent threads, by id.
    pub fn save_agents(&mut self) -> Result<Vec<(u32, Vec<u8>)>, RunError> {
        let mut out = Vec::new();
        for (g, group) in self.groups.0.iter_mut().enumerate() {
            let Some(mut batch) = group.spare.take() else { return Err(RunError::ThreadGone(g)) };
            batch.ids.clear();
            batch.save = true;
            send(&group.to_thread, batch, &group.handle);
            let mut batch = receive(&group.from_thread);
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
