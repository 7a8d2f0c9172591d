//! What crosses the step channel: one [`Batch`] per agent thread, handed from the runner to the
//! thread with its agents' observations and back with their actions, through a pair of one-slot
//! lock-free queues ([`send`], [`receive`]).
//!
//! Each batch is allocated once, when its thread starts, and then only travels: at any time it is
//! either in the runner's hands, in a queue, or in its thread's, never in two places, so neither
//! side locks it. Its lists are cleared, never dropped, between steps, so a step allocates
//! nothing once they have grown to the group's size (only agents joining or leaving, saved states
//! and failures allocate).

use std::thread::Thread;

use beanworld_sim::Simulation;
use beanworld_sim::action::Action;
use crossbeam_queue::ArrayQueue;

use crate::agent::Driver;
use crate::backoff::{Patience, Rest, Span};

/// An agent thread's news about who it drives.
pub(super) enum Join {
    /// A new agent or team, for agent `id` (a team's first member: its key).
    New(u32, Driver),
    /// Agent `id` joins the team keyed `key`.
    Member { key: u32, id: u32 },
}

/// One group's share of a step, passed back and forth between the runner and an agent thread.
#[derive(Default)]
pub(super) struct Batch {
    pub(super) step: u64,
    pub(super) ids: Vec<u32>,
    pub(super) moved: Vec<bool>,
    pub(super) rewards: Vec<f32>,
    pub(super) previous: Vec<Option<Action>>,
    pub(super) scent: Vec<f32>,
    pub(super) vision: Vec<f32>,
    pub(super) inventory: Vec<u32>,
    /// The task's coefficients, the same for every agent.
    pub(super) task: Vec<f32>,
    pub(super) actions: Vec<Action>,
    /// Agents entering the group (added by events) and ids leaving it.
    pub(super) joins: Vec<Join>,
    pub(super) leaves: Vec<u32>,
    /// States to restore, by key (an agent's id, a team's first member).
    pub(super) load: Vec<(u32, Vec<u8>)>,
    /// Ask every agent of the group for its state.
    pub(super) save: bool,
    pub(super) saved: Vec<(u32, Vec<u8>)>,
    pub(super) stop: bool,
    /// The first agent that failed: its id, its name, why.
    pub(super) failure: Option<(u32, String, String)>,
    /// What agents had to tell after acting: (agent id or team key, a JSON object).
    pub(super) reports: Vec<(u32, String)>,
}

impl Batch {
    /// Empties the observations for step `step` and copies in the task in force in `sim`; joins,
    /// leaves and states to load gathered since the last step stay.
    #[inline]
    pub(super) fn begin(&mut self, step: u64, sim: &Simulation) {
        self.step = step;
        self.ids.clear();
        self.moved.clear();
        self.rewards.clear();
        self.previous.clear();
        self.scent.clear();
        self.vision.clear();
        self.inventory.clear();
        self.task.resize(sim.task_len(), 0.0);
        sim.observe_task(&mut self.task);
        self.save = false;
        self.failure = None;
    }

    /// Whether the batch gives its thread nothing to do: no agent to act, none coming or going.
    pub(super) fn is_idle(&self) -> bool {
        self.ids.is_empty() && self.joins.is_empty() && self.leaves.is_empty()
    }
}

/// How either side of the channel waits for the other: spin 99 looks, yield until the 5,000th
/// (more threads than cores must not starve the one doing the work), then park until woken
/// ([`send`] unparks).
const WAIT: Patience =
    Patience { spin: Span::Looks(100), spins_per_look: 1, yields: Span::Looks(5_000), rest: Rest::Park };

/// Waits for an item of `queue`, backing off as [`WAIT`] says.
pub(super) fn receive<T>(queue: &ArrayQueue<T>) -> T {
    WAIT.wait_for(|| queue.pop())
}

/// Puts `value` in `queue` and wakes `to`, the thread that receives from it.
pub(super) fn send<T>(queue: &ArrayQueue<T>, value: T, to: &Thread) {
    if queue.push(value).is_err() {
        unreachable!("each queue holds at most the one batch in flight");
    }
    to.unpark();
}
