//! Phase 5: every agent is rewarded by the task in force at the new time, from what changed in
//! its inventory and its distance from where it was placed (spec §7).

use crate::geometry::Cell;
use crate::simulation::Simulation;
use crate::task::Transition;

impl Simulation {
    /// Scores the step for every agent and adds it to the agent's total.
    #[inline]
    pub(super) fn reward_agents(&mut self) {
        let k = self.scenario.config.items.len();
        let reward = self.state.task.at(self.state.time);
        let s = &mut self.scratch;
        for (i, agent) in self.state.agents.iter_mut().enumerate() {
            let t = Transition {
                before: &s.before[i * k..(i + 1) * k],
                after: &agent.inventory,
                distance_before: s.distance_before[i],
                distance_after: squared_distance(agent.position, agent.spawn),
            };
            let r = reward.value(&t);
            agent.reward += f64::from(r);
            s.rewards[i] = r;
            s.ids[i] = agent.id;
        }
    }
}

/// The squared Euclidean distance between two cells, exact for any cells.
pub(super) fn squared_distance(a: Cell, b: Cell) -> u128 {
    let (dx, dy) = (a.x.abs_diff(b.x) as u128, a.y.abs_diff(b.y) as u128);
    dx * dx + dy * dy
}
