//! The [`Agent`] trait: what a learner or a baseline implements to live in a beanworld.

use beanworld_sim::action::Action;

/// What an agent perceives after a step.
#[derive(Clone, Copy, Debug)]
pub struct Observation<'a> {
    /// The agent's id.
    pub id: u32,
    /// The simulation time (steps taken so far).
    pub step: u64,
    /// Scent at the agent's cell (`S` floats); empty if the agent does not need it.
    pub scent: &'a [f32],
    /// Vision, `(2R+1) × (2R+1) × C`, `[right][forward][channel]` (spec §5.1); empty if the agent
    /// does not need it.
    pub vision: &'a [f32],
    /// Whether the last step moved the agent.
    pub moved: bool,
    /// Items held, per type.
    pub inventory: &'a [u32],
    /// The reward of the last step (0 before the first).
    pub reward: f32,
}

/// Which parts of the observation an agent uses (an agent that needs no vision does not pay for
/// copying it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Needs {
    /// The vision window.
    pub vision: bool,
    /// The scent vector.
    pub scent: bool,
}

impl Needs {
    /// Everything.
    pub const ALL: Needs = Needs { vision: true, scent: true };
}

/// A learner or a scripted agent. It is moved to an agent thread, so it must be `Send`.
pub trait Agent: Send {
    /// A short name for messages.
    fn name(&self) -> &str;

    /// The observation parts it uses.
    fn needs(&self) -> Needs {
        Needs::ALL
    }

    /// Chooses the action of the next step.
    fn act(&mut self, observation: &Observation<'_>) -> Action;

    /// Learns from the transition that the last action led to: `observation` carries its reward.
    /// Called before [`Agent::act`] on every step but the first.
    fn learn(&mut self, _previous: Action, _observation: &Observation<'_>) {}

    /// Its own state, saved beside world snapshots.
    fn save(&self) -> Vec<u8> {
        Vec::new()
    }

    /// Restores the state [`Agent::save`] returned.
    fn load(&mut self, _state: &[u8]) -> Result<(), String> {
        Ok(())
    }
}
