//! The agent threads: the runner's hold on each ([`Group`]: its queues, its handle, its batch
//! while the runner has it) and each thread's life ([`agent_thread`]): take a batch, admit the
//! agents that join and drop those that leave, have every agent or team learn and act on its rows,
//! hand over saved states when asked, send the batch back.
//!
//! A runner with one group drives it on its own thread instead ([`Group::here`]): the simulation
//! waits for the agents' actions every step, so a thread of their own would only hand the step
//! over and back, which costs little on an idle core and a great deal where other work shares
//! the cores (each side then yields its core while it waits for the other).
//!
//! A thread owns its agents outright; nothing else touches them, so they need no lock. An agent's
//! action depends only on its own observations, so which thread drives it changes nothing. A
//! panicking agent is caught and reported in the batch (the first failure of a step); its thread
//! goes on answering, so the runner can stop cleanly and save what it can.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::{self, JoinHandle, Thread};

use beanworld_sim::action::Action;
use crossbeam_queue::ArrayQueue;

use super::batch::{Batch, Join, receive, send};
use crate::agent::{Agent, Driver, Members, Observation, Team};

/// The runner's side of one group of agents.
pub(super) struct Group {
    way: Way,
    /// The group's batch while the runner holds it (between steps).
    pub(super) spare: Option<Box<Batch>>,
}

/// Where a group's agents act.
enum Way {
    /// On an agent thread of their own, which batches cross to and back.
    Thread {
        to_thread: Arc<ArrayQueue<Box<Batch>>>,
        from_thread: Arc<ArrayQueue<Box<Batch>>>,
        thread: Option<JoinHandle<()>>,
        handle: Thread,
    },
    /// On the runner's thread, as each batch is sent; `answered` holds it until received. Once
    /// something outside an agent's act panics there, the group is gone, as its thread would be.
    Here { units: Box<Units>, lens: (usize, usize, usize), answered: Option<Box<Batch>>, gone: bool },
}

impl Group {
    /// Starts agent thread `g`, which answers `runner`; `lens` are the lengths of one agent's
    /// scent, vision and inventory.
    pub(super) fn spawn(g: usize, runner: Thread, lens: (usize, usize, usize)) -> Self {
        let to_thread = Arc::new(ArrayQueue::new(1));
        let from_thread = Arc::new(ArrayQueue::new(1));
        let (inbox, outbox) = (Arc::clone(&to_thread), Arc::clone(&from_thread));
        let thread = thread::Builder::new()
            .name(format!("agents-{g}"))
            .spawn(move || agent_thread(inbox, outbox, runner, lens))
            .unwrap_or_else(|e| panic!("cannot start an agent thread: {e}"));
        let handle = thread.thread().clone();
        let way = Way::Thread { to_thread, from_thread, thread: Some(thread), handle };
        Group { way, spare: Some(Box::default()) }
    }

    /// A group whose agents act on the runner's thread.
    pub(super) fn here(lens: (usize, usize, usize)) -> Self {
        let way = Way::Here { units: Box::default(), lens, answered: None, gone: false };
        Group { way, spare: Some(Box::default()) }
    }

    /// Hands `batch` to the group's agents.
    pub(super) fn send(&mut self, mut batch: Box<Batch>) {
        match &mut self.way {
            Way::Thread { to_thread, handle, .. } => send(to_thread, batch, handle),
            Way::Here { units, lens, answered, gone } => {
                if !*gone {
                    *gone = catch_unwind(AssertUnwindSafe(|| serve(units, &mut batch, *lens))).is_err();
                }
                *answered = Some(batch);
            }
        }
    }

    /// The batch last sent, answered (waiting for it if the group has a thread).
    pub(super) fn receive(&mut self) -> Box<Batch> {
        match &mut self.way {
            Way::Thread { from_thread, .. } => receive(from_thread),
            Way::Here { answered, .. } => answered.take().unwrap_or_default(),
        }
    }

    /// Whether the group can no longer answer: its thread is gone with nothing left to answer.
    pub(super) fn is_gone(&self) -> bool {
        match &self.way {
            Way::Thread { from_thread, thread, .. } => {
                thread.as_ref().is_none_or(|t| t.is_finished()) && from_thread.is_empty()
            }
            Way::Here { gone, .. } => *gone,
        }
    }
}

/// The groups; stopping and joining their threads when dropped.
pub(super) struct Groups(pub(super) Vec<Group>);

impl Drop for Groups {
    fn drop(&mut self) {
        for group in &mut self.0 {
            let Way::Thread { to_thread, thread, handle, .. } = &mut group.way else { continue };
            let mut batch = group.spare.take().unwrap_or_default();
            batch.stop = true;
            if to_thread.push(batch).is_ok() {
                handle.unpark();
            }
            if let Some(t) = thread.take() {
                let _ = t.join();
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
        serve(&mut units, &mut batch, lens);
        send(&outbox, batch, &runner);
    }
}

/// What a group does with a batch: admit the agents that join and drop those that leave, have
/// every agent or team act on its rows, save their states if asked.
fn serve(units: &mut Units, batch: &mut Batch, lens: (usize, usize, usize)) {
    units.admit(batch);
    if batch.failure.is_none() {
        units.act(batch, lens);
    }
    if batch.save {
        units.save(batch);
    }
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

impl Unit {
    /// Has the agent or team learn from the last step and choose its rows' actions, written into
    /// `actions` (the batch's order); returns its name and whether it panicked.
    fn act(
        &mut self,
        batch: &Batch,
        lens: (usize, usize, usize),
        actions: &mut [Action],
    ) -> (&str, thread::Result<()>) {
        match &mut self.driver {
            Driver::Agent(agent) => {
                let outcome = act_alone(agent.as_mut(), self.rows[0], batch, lens, actions);
                (agent.name(), outcome)
            }
            Driver::Team(team) => {
                let outcome = act_as_team(team.as_mut(), &self.rows, &mut self.actions, batch, lens);
                for (row, action) in self.rows.iter().zip(&self.actions) {
                    actions[*row] = *action;
                }
                (team.name(), outcome)
            }
        }
    }
}

/// One agent, on row `k` of the batch: learns from its last action, then acts.
fn act_alone(
    agent: &mut dyn Agent,
    k: usize,
    batch: &Batch,
    (s, v, kinds): (usize, usize, usize),
    actions: &mut [Action],
) -> thread::Result<()> {
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
    catch_unwind(AssertUnwindSafe(|| {
        if let Some(previous) = previous {
            agent.learn(previous, &observation);
        }
        actions[k] = agent.act(&observation);
    }))
}

/// A team, on its `rows` of the batch: one call for all its members, their actions into `out`.
fn act_as_team(
    team: &mut dyn Team,
    rows: &[usize],
    out: &mut Vec<Action>,
    batch: &Batch,
    lens: (usize, usize, usize),
) -> thread::Result<()> {
    let members = Members {
        step: batch.step,
        rows,
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
    out.clear();
    out.resize(rows.len(), Action::NoOp);
    catch_unwind(AssertUnwindSafe(|| team.step(&members, out)))
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

    /// Applies a batch's leaves, joins and states to restore; failures go into the batch.
    fn admit(&mut self, batch: &mut Batch) {
        for id in std::mem::take(&mut batch.leaves) {
            self.leave(id);
        }
        for join in std::mem::take(&mut batch.joins) {
            self.join(join, batch);
        }
        for (key, state) in std::mem::take(&mut batch.load) {
            self.load(key, &state, batch);
        }
    }

    /// Agent `id` leaves its team, or its unit is dropped.
    fn leave(&mut self, id: u32) {
        let Ok(k) = self.owners.binary_search_by_key(&id, |(i, _)| *i) else { return };
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

    /// A new unit, or a new member of a team this thread drives.
    fn join(&mut self, join: Join, batch: &mut Batch) {
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
                    return;
                };
                if let Driver::Team(team) = &mut self.units[unit].driver {
                    team.join(id);
                }
                (id, unit)
            }
        };
        self.own(id, unit);
    }

    /// Restores the state of the unit keyed `key`, if this thread drives it.
    fn load(&mut self, key: u32, state: &[u8], batch: &mut Batch) {
        let Some(unit) = self.unit_keyed(key) else { return };
        let driver = &mut self.units[unit].driver;
        let name = driver.name().to_string();
        let loaded = match driver {
            Driver::Agent(a) => a.load(state),
            Driver::Team(t) => t.load(state),
        };
        if let Err(e) = loaded {
            batch.failure.get_or_insert((key, name, format!("cannot restore its state: {e}")));
        }
    }

    /// Every unit learns from the last step and chooses the next actions, written into
    /// `batch.actions` in the batch's order.
    fn act(&mut self, batch: &mut Batch, lens: (usize, usize, usize)) {
        if !self.assign_rows(batch) {
            return;
        }
        let mut actions = std::mem::take(&mut batch.actions);
        actions.clear();
        actions.resize(batch.ids.len(), Action::NoOp);
        for unit in &mut self.units {
            if unit.rows.is_empty() {
                continue;
            }
            let id = batch.ids[unit.rows[0]];
            let (name, outcome) = unit.act(batch, lens, &mut actions);
            if let Err(payload) = outcome {
                batch.failure = Some((id, name.to_string(), panic_message(payload.as_ref())));
                break;
            }
            // A report that cannot be made is left out, as a state that cannot be saved is.
            if let Ok(Some(report)) = catch_unwind(AssertUnwindSafe(|| unit.driver.take_report())) {
                batch.reports.push((unit.key, report));
            }
        }
        batch.actions = actions;
    }

    /// Gives each unit its rows of the batch; false (and a failure in the batch) when an agent of
    /// the batch has no unit here.
    fn assign_rows(&mut self, batch: &mut Batch) -> bool {
        for unit in &mut self.units {
            unit.rows.clear();
        }
        for (k, id) in batch.ids.iter().enumerate() {
            match self.owners.binary_search_by_key(id, |(i, _)| *i) {
                Ok(at) => self.units[self.owners[at].1].rows.push(k),
                Err(_) => {
                    batch.failure = Some((*id, "?".into(), "no agent with this id in its thread".into()));
                    return false;
                }
            }
        }
        true
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
