//! Phase 4: each agent, in id order, collects the item on its cell if it holds the items that
//! collecting it requires, and pays its costs (spec §6.7).

use crate::simulation::Simulation;

impl Simulation {
    /// Collects, for every agent in id order, the item on its cell where the agent may.
    #[inline]
    pub(super) fn collect_items(&mut self) {
        let now = self.state.time;
        let items = &self.tables.current.items;
        for agent in &mut self.state.agents {
            let cell = agent.position;
            let Some(kind) = self.state.world.item_type_at(cell) else { continue };
            let item = &items[kind];
            if !agent.inventory.iter().zip(&item.required_counts).all(|(have, need)| have >= need) {
                continue;
            }
            self.state.world.collect(cell, now);
            agent.inventory[kind] += 1;
            agent.collected[kind] += 1;
            for (have, cost) in agent.inventory.iter_mut().zip(&item.required_costs) {
                *have = have.saturating_sub(*cost);
            }
        }
    }
}
