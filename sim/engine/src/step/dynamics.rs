//! Phase 6: the world's own dynamics at the new time (JBW has none; DESIGN.md "Non-stationary
//! dynamics"): the scripted events due, drift of the parameters, regrowth rounds of the patches
//! near agents, forgetting collected items whose scent has faded, and eviction of patches far
//! from every agent.

use rustc_hash::FxHashSet;

use super::StepError;
use crate::dynamics::{EventAction, Regrowth};
use crate::geometry::{Cell, PatchCoord};
use crate::rng::{Purpose, stream};
use crate::simulation::Simulation;

/// How often (in steps) far patches are evicted.
pub const EVICT_EVERY: u64 = 256;

impl Simulation {
    /// Runs the world's dynamics after the agents have acted. Everything runs even when an event
    /// fails; the error is reported afterwards.
    #[inline]
    pub(super) fn run_dynamics(&mut self) -> Result<(), StepError> {
        let now = self.state.time;
        let event = self.run_events();
        if !self.scenario.dynamics.drift.is_empty() {
            self.refresh_params();
        }
        if let Some(r) = self.scenario.dynamics.regrowth.clone() {
            self.regrow(&r);
        }
        let world = &mut self.state.world;
        for agent in &self.state.agents {
            for c in world.block(agent.position) {
                world.purge(c, now);
            }
        }
        if let Some(e) = &self.scenario.dynamics.eviction
            && now.is_multiple_of(EVICT_EVERY)
        {
            let (n, radius) = (self.tables.current.patch_size, i64::from(e.radius));
            let centres = &mut self.scratch.centres;
            centres.clear();
            centres.extend(self.state.agents.iter().map(|a| a.position.patch(n)));
            world.evict(now, &mut self.tables.sampler, |c| {
                centres.iter().all(|a| (c.x - a.x).abs().max((c.y - a.y).abs()) > radius)
            });
        }
        event
    }

    /// Carries out the events due at the current time, in order.
    pub(crate) fn run_events(&mut self) -> Result<(), StepError> {
        let now = self.state.time;
        while let Some(event) =
            self.scenario.dynamics.events.get(self.state.next_event).filter(|e| e.at <= now)
        {
            let action = event.action.clone();
            self.state.next_event += 1;
            let n = self.tables.current.patch_size;
            let (world, sampler) = (&mut self.state.world, &mut self.tables.sampler);
            match action {
                EventAction::Set(param, value) => self.set_override(param, value),
                EventAction::Place(kind, region) => {
                    for c in region.patches(n) {
                        world.fix(c, sampler);
                    }
                    let agents: FxHashSet<Cell> = self.state.agents.iter().map(|a| a.position).collect();
                    for y in region.min.y..=region.max.y {
                        for x in region.min.x..=region.max.x {
                            let cell = Cell::new(x, y);
                            if !agents.contains(&cell) {
                                world.place(cell, kind, now);
                            }
                        }
                    }
                }
                EventAction::Clear(kinds, region) => {
                    for c in region.patches(n) {
                        world.fix(c, sampler);
                    }
                    world.clear(region, &kinds, now);
                }
                EventAction::AddAgents(group) => {
                    let g = self.scenario.agents.len();
                    self.place_group(g, &group).map_err(|cause| StepError::Event { at: now, cause })?;
                }
                EventAction::RemoveAgent(id) => {
                    self.state.agents.retain(|a| a.id != id);
                    self.scratch.moves += 1;
                    self.size_scratch();
                }
                EventAction::SetTask(task) => self.state.task = task,
                EventAction::Snapshot => self.state.snapshot_requested = true,
            }
        }
        Ok(())
    }

    /// One regrowth round for every patch near an agent whose turn it is.
    fn regrow(&mut self, r: &Regrowth) {
        let (now, seed) = (self.state.time, self.scenario.seed);
        let n = self.tables.current.patch_size;
        let radius = i64::from(r.radius);
        let zone = &mut self.scratch.zone;
        zone.clear();
        for agent in &self.state.agents {
            let p = agent.position.patch(n);
            for dy in -radius..=radius {
                for dx in -radius..=radius {
                    zone.push(p.offset(dx, dy));
                }
            }
        }
        zone.sort_unstable_by_key(|c| (c.y, c.x));
        zone.dedup();
        let world = &mut self.state.world;
        for &c in zone.iter() {
            let turn = now + patch_phase(seed, c, r.interval);
            if !turn.is_multiple_of(r.interval) {
                continue;
            }
            world.fix(c, &mut self.tables.sampler);
            world.purge(c, now);
            let own = world.patch(c).map_or(&[][..], |p| p.items.as_slice());
            let neighbours = c.neighbours().map(|nb| world.patch(nb).map_or(&[][..], |p| p.items.as_slice()));
            let mut rng = stream(seed, Purpose::Regrowth(c, turn / r.interval));
            let changes = self.tables.regrower.regrow(
                &self.tables.current,
                c,
                own,
                neighbours,
                self.state.agents.iter().map(|a| a.position),
                r.proposals,
                &mut rng,
            );
            world.apply_changes(c, &changes, now);
        }
    }
}

/// The step offset at which patch `c` takes its regrowth turns (spreads rounds over time).
fn patch_phase(seed: u64, c: PatchCoord, interval: u64) -> u64 {
    let mut z = seed
        ^ (c.x as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ (c.y as u64).wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) % interval
}
