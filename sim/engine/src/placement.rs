//! Placing agents: the free-cell rule that puts each agent of a group on the nearest cell to the
//! group's position that holds neither another agent nor a blocking item (JBW instead places
//! agents at the origin only, spec §11 #4), at the start and when an event adds agents.

use rustc_hash::FxHashSet;

use crate::geometry::Cell;
use crate::group::AgentGroup;
use crate::policy::Scripted;
use crate::rng::{Purpose, stream};
use crate::simulation::{SimError, Simulation};
use crate::state::Agent;

impl Simulation {
    /// Places one group of agents by the free-cell rule: for each agent, the nearest cell to the
    /// group's position (ring by ring, each ring in row-major order from the bottom left) that
    /// holds neither another agent nor a blocking item. New agents get the next ids. Cells only
    /// fill up while a group is placed, so each agent's search goes on from where the last one's
    /// ended (one pass over the rings for the whole group).
    pub(crate) fn place_group(&mut self, g: usize, group: &AgentGroup) -> Result<(), SimError> {
        let k = self.config().items.len();
        let mut taken: FxHashSet<Cell> = self.state.agents.iter().map(|a| a.position).collect();
        let centre = group.cell();
        let mut candidates = ring_order(centre, i64::from(group.spread));
        for index in 1..=group.count {
            let mut placed = None;
            for cell in candidates.by_ref() {
                if taken.contains(&cell) {
                    continue;
                }
                self.state.world.fix_block(cell, &mut self.tables.sampler);
                if !self.blocks(cell) {
                    placed = Some(cell);
                    break;
                }
            }
            let Some(cell) = placed else {
                return Err(SimError::Placement {
                    group: g,
                    index,
                    count: group.count,
                    position: centre,
                    spread: group.spread,
                });
            };
            taken.insert(cell);
            let id = self.state.next_id;
            self.state.next_id += 1;
            let rng = stream(self.scenario.seed, Purpose::Policy(id));
            self.state.agents.push(Agent {
                id,
                position: cell,
                facing: group.facing,
                spawn: cell,
                inventory: vec![0; k],
                collected: vec![0; k],
                reward: 0.0,
                policy: Scripted::new(group.policy.clone(), rng),
            });
        }
        self.scratch.moves += 1;
        self.size_scratch();
        Ok(())
    }
}

/// The cells within Chebyshev distance `spread` of `centre`, ring by ring outwards, each ring in
/// row-major order from its bottom-left corner.
fn ring_order(centre: Cell, spread: i64) -> impl Iterator<Item = Cell> {
    (0..=spread).flat_map(move |r| {
        (-r..=r).flat_map(move |dy| {
            // A ring's bottom and top rows are whole; the rows between hold its two ends.
            let step = if dy.abs() == r { 1 } else { 2 * r as usize };
            (-r..=r).step_by(step).map(move |dx| Cell::new(centre.x + dx, centre.y + dy))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rings_go_outwards_each_from_its_bottom_left_corner() {
        let cells: Vec<(i64, i64)> = ring_order(Cell::new(10, 20), 1).map(|c| (c.x, c.y)).collect();
        assert_eq!(
            cells,
            [(10, 20), (9, 19), (10, 19), (11, 19), (9, 20), (11, 20), (9, 21), (10, 21), (11, 21)]
        );
        assert_eq!(ring_order(Cell::new(0, 0), 3).count(), 49, "every cell of the 7 × 7 square once");
    }
}
