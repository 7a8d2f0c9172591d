//! Phase 1: every agent's action is checked against the action rules (spec §6.1–6.3) and turned
//! into a destination and a facing; what the reward will compare against (inventories, distance
//! from spawn) is noted before anything moves. A refused action stops the step before anything
//! has happened.

use super::reward::squared_distance;
use crate::action::{self, Action, ActionError};
use crate::simulation::Simulation;

impl Simulation {
    /// Checks one action per agent (in agent order) and notes each agent's destination and
    /// facing, and its inventory and distance from spawn before the step.
    #[inline]
    pub(super) fn check_actions(&mut self, actions: &[Action]) -> Result<(), ActionError> {
        let agents = &self.state.agents;
        if actions.len() != agents.len() {
            return Err(ActionError::Count { agents: agents.len(), actions: actions.len() });
        }
        let k = self.scenario.config.items.len();
        let s = &mut self.scratch;
        for (i, (agent, &act)) in agents.iter().zip(actions).enumerate() {
            let req = action::request(&self.tables.current.actions, agent.id, agent.facing, act)?;
            let (way, cells) = req.displacement;
            s.destination[i] = agent.position.step(way, cells);
            s.facing[i] = req.facing;
        }
        for (i, agent) in agents.iter().enumerate() {
            s.before[i * k..(i + 1) * k].copy_from_slice(&agent.inventory);
            s.distance_before[i] = squared_distance(agent.position, agent.spawn);
        }
        Ok(())
    }
}
