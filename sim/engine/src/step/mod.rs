//! The step, phase by phase, in the order of spec §6.6: check every agent's action
//! (`actions.rs`), resolve who may move and move them (`moves.rs`), collect (`collect.rs`),
//! reward each agent by the task in force (`reward.rs`), then the world's own dynamics at the new
//! time — events, drift, regrowth, fading scent, eviction (`dynamics.rs`). Observations are
//! written on request between steps (`perceive.rs`, with the agents sorted into vision buckets in
//! `buckets.rs`).
//!
//! A step allocates nothing once the scratch has grown to the number of agents. The phases are
//! `#[inline]`: each is called once a step, from another module (so possibly another codegen
//! unit), and a turning step is short enough (about 190 ns) that the calls showed in `bench`.
//!
//! Differences from JBW, on purpose: "first come, first served" means lowest agent id first
//! (JBW: whichever thread submits first); RANDOM draws from a seeded stream per step; an agent
//! that does not move — blocked, or beaten to a cell — keeps its cell, so nobody moves into it
//! (JBW lets them, spec §11 #1); blocking items block under NO_COLLISIONS too (JBW walks
//! through walls, §11 #2).

mod actions;
pub(crate) mod buckets;
mod collect;
mod dynamics;
mod moves;
pub(crate) mod perceive;
mod reward;

use crate::action::{Action, ActionError};
use crate::simulation::{SimError, Simulation};
use crate::world::StoreError;

pub use dynamics::EVICT_EVERY;

/// Why a step could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// An action was refused; nothing happened.
    #[error(transparent)]
    Action(#[from] ActionError),
    /// A scripted event could not place its agents (the step itself happened).
    #[error("event at step {at}: {cause}")]
    Event {
        /// The step of the event.
        at: u64,
        /// What failed (written in the message, so not an error source: a chain
        /// printed with `{:#}` shows it once).
        cause: SimError,
    },
    /// The store of evicted patches failed (during this step or before): the world can no
    /// longer be restored exactly, so the run must stop.
    #[error("step {at}: {cause}")]
    Store {
        /// The step.
        at: u64,
        /// What failed (written in the message, so not an error source).
        cause: StoreError,
    },
}

/// What one step did to each agent that took part, in agent order. (Events after the step may
/// add or remove agents: the simulation's agent list is then longer or shorter.)
#[derive(Debug)]
pub struct StepOutcome<'a> {
    /// The ids of the agents that took part.
    pub ids: &'a [u32],
    /// The reward of the step.
    pub rewards: &'a [f32],
    /// Whether the agent changed cell.
    pub moved: &'a [bool],
}

impl Simulation {
    /// Advances the world by one step with one action per agent (in agent order). If any action
    /// is refused, nothing happens and the error says which.
    pub fn step(&mut self, actions: &[Action]) -> Result<StepOutcome<'_>, StepError> {
        let agents = self.state.agents.len();
        self.check_actions(actions)?;
        self.generate_destinations();
        self.resolve_moves();
        self.state.time += 1;
        self.move_agents();
        self.collect_items();
        self.reward_agents();
        self.run_dynamics()?;
        if let Some(cause) = self.state.world.fault() {
            return Err(StepError::Store { at: self.state.time, cause: cause.clone() });
        }
        let s = &self.scratch;
        Ok(StepOutcome { ids: &s.ids[..agents], rewards: &s.rewards[..agents], moved: &s.moved[..agents] })
    }
}
