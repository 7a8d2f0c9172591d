//! What a step leaves behind: the [`StepReport`] front ends read (who acted, how, and what they
//! got), and the [`Pending`] part of it that agents are owed at the next step, which snapshots keep.
//!
//! The report's lists are in agent order and reused from step to step: recording a step
//! allocates nothing once they have grown to the number of agents.

use beanworld_sim::StepOutcome;
use beanworld_sim::action::Action;

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
    /// What agents had to tell after acting in it ([`Agent::take_report`](crate::Agent::take_report)):
    /// (agent id, or a team's key, and a JSON object), in thread order.
    pub reports: Vec<(u32, String)>,
}

impl StepReport {
    /// Keeps what the simulation says of the step just taken with `self.actions`.
    #[inline]
    pub(super) fn record(&mut self, outcome: &StepOutcome<'_>) {
        self.ids.clear();
        self.ids.extend_from_slice(outcome.ids);
        self.rewards.clear();
        self.rewards.extend_from_slice(outcome.rewards);
        self.moved.clear();
        self.moved.extend_from_slice(outcome.moved);
    }
}

/// What the agents are owed at the next step: the last step's rewards and moves, and the actions
/// they took, which they learn from before acting again. A snapshot keeps it, so that a resumed
/// run gives its agents exactly the first observation the uninterrupted run gave them.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Pending {
    pub(super) ids: Vec<u32>,
    pub(super) rewards: Vec<f32>,
    pub(super) moved: Vec<bool>,
    pub(super) previous: Vec<(u32, Action)>,
}
