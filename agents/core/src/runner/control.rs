//! Control messages: how a curriculum teacher, a viewer or any other thread steers a running
//! simulation (pause, resume, ask for a snapshot, change a parameter or the task).
//!
//! Messages arrive through a lock-free queue that any thread may push to, and take effect only at
//! a step boundary, when the runner drains the queue: a step never sees half of a change.

use std::sync::Arc;

use beanworld_sim::Simulation;
use beanworld_sim::action_log::{LogError, LogWriter};
use beanworld_sim::dynamics::Param;
use beanworld_sim::task::Schedule;
use crossbeam_queue::ArrayQueue;

/// A message to the running simulation, applied at the next step boundary.
#[derive(Clone, Debug)]
pub enum Control {
    /// Stop stepping until [`Control::Resume`].
    Pause,
    /// Continue after [`Control::Pause`].
    Resume,
    /// Ask the front end for a snapshot (reported by [`Runner::step`](super::Runner::step)).
    Snapshot,
    /// Set a parameter of the world from now on.
    SetParam(Param, f32),
    /// Switch the reward schedule.
    SetTask(Schedule),
}

/// The queue control messages come through, and what they leave behind between steps.
pub(super) struct Controls {
    queue: Arc<ArrayQueue<Control>>,
    paused: bool,
    /// A snapshot was asked for since the last step.
    snapshot_asked: bool,
}

impl Controls {
    /// An empty queue of room for 1024 messages, not paused.
    pub(super) fn new() -> Self {
        Controls { queue: Arc::new(ArrayQueue::new(1024)), paused: false, snapshot_asked: false }
    }

    /// A handle for sending messages, from any thread.
    pub(super) fn sender(&self) -> Arc<ArrayQueue<Control>> {
        Arc::clone(&self.queue)
    }

    /// Applies the waiting messages to `sim`, recording the changes of the world in `log`;
    /// returns whether the run is paused.
    #[inline]
    pub(super) fn apply(
        &mut self,
        sim: &mut Simulation,
        mut log: Option<&mut LogWriter>,
    ) -> Result<bool, LogError> {
        while let Some(c) = self.queue.pop() {
            match c {
                Control::Pause => self.paused = true,
                Control::Resume => self.paused = false,
                Control::Snapshot => self.snapshot_asked = true,
                Control::SetParam(p, v) => {
                    if let Some(log) = log.as_deref_mut() {
                        log.param(&p, v)?;
                    }
                    sim.set_param(p, v);
                }
                Control::SetTask(t) => {
                    if let Some(log) = log.as_deref_mut() {
                        log.task(&t)?;
                    }
                    sim.set_task(t);
                }
            }
        }
        Ok(self.paused)
    }

    /// Whether a snapshot was asked for since the last call.
    #[inline]
    pub(super) fn take_snapshot_request(&mut self) -> bool {
        std::mem::take(&mut self.snapshot_asked)
    }
}
