//! Phases 2 and 3: the world is generated around every cell an agent heads for, then who may
//! move is decided (spec §6.4–6.5, with the fixes named in `step/mod.rs`) and they move.

use crate::config::CollisionPolicy;
use crate::rng::{Purpose, Rng, below, stream};
use crate::simulation::Simulation;

impl Simulation {
    /// Generates and fixes the world around every cell an agent heads for, so that blocking can
    /// be judged and the agent can act there.
    #[inline]
    pub(super) fn generate_destinations(&mut self) {
        let world = &mut self.state.world;
        let heading =
            self.state.agents.iter().zip(&self.scratch.destination).filter(|(a, d)| **d != a.position);
        // Most steps fix nothing: look before handing the destinations over.
        if heading.clone().any(|(_, &d)| !world.block_is_fixed(d)) {
            world.fix_blocks(heading.map(|(_, &d)| d), &mut self.tables.sampler);
        }
    }

    #[inline]
    pub(super) fn resolve_moves(&mut self) {
        let policy = self.tables.current.actions.collision_policy;
        let n_agents = self.state.agents.len();
        for i in 0..n_agents {
            let dest = self.scratch.destination[i];
            self.scratch.moving[i] = dest != self.state.agents[i].position && !self.blocks(dest);
        }
        if policy == CollisionPolicy::NoCollisions || n_agents < 2 {
            return;
        }
        let s = &mut self.scratch;
        s.claims.clear();
        // An agent staying put holds its own cell against everyone.
        for (i, agent) in self.state.agents.iter().enumerate() {
            if s.destination[i] == agent.position {
                s.claims.insert(agent.position, i);
            }
        }
        // Otherwise the first requester (lowest id) wins…
        for (i, agent) in self.state.agents.iter().enumerate() {
            if s.destination[i] != agent.position {
                s.claims.entry(s.destination[i]).or_insert(i);
            }
        }
        // …or, under RANDOM, a uniformly drawn one among the movers asking for a cell nobody holds.
        if policy == CollisionPolicy::Random {
            s.contest.clear();
            s.contest.extend(
                self.state
                    .agents
                    .iter()
                    .enumerate()
                    .filter(|&(i, a)| s.destination[i] != a.position)
                    .map(|(i, _)| (s.destination[i], i)),
            );
            s.contest.sort_unstable_by_key(|&(c, i)| (c.y, c.x, i));
            let mut rng = stream(self.scenario.seed, Purpose::Conflicts(self.state.time + 1));
            for run in s.contest.chunk_by(|a, b| a.0 == b.0) {
                let (cell, _) = run[0];
                let held =
                    s.claims.get(&cell).is_some_and(|&w| s.destination[w] == self.state.agents[w].position);
                if run.len() > 1 && !held {
                    let pick = run[below(rng.next_u32(), run.len() as u32) as usize].1;
                    s.claims.insert(cell, pick);
                }
            }
        }
        for i in 0..n_agents {
            if s.moving[i] && s.claims.get(&s.destination[i]) != Some(&i) {
                s.moving[i] = false;
            }
        }
        // Agents that stay keep their cells: whoever won such a cell cannot enter it, and so
        // keeps its own cell in turn.
        s.stuck.clear();
        s.stuck.extend(
            self.state.agents.iter().enumerate().filter(|&(i, _)| !s.moving[i]).map(|(_, a)| a.position),
        );
        while let Some(cell) = s.stuck.pop() {
            if let Some(&w) = s.claims.get(&cell)
                && s.moving[w]
                && s.destination[w] == cell
            {
                s.moving[w] = false;
                s.stuck.push(self.state.agents[w].position);
            }
        }
    }

    /// Turns every agent to its new facing and moves those that may.
    #[inline]
    pub(super) fn move_agents(&mut self) {
        let s = &mut self.scratch;
        for (i, agent) in self.state.agents.iter_mut().enumerate() {
            agent.facing = s.facing[i];
            s.moved[i] = s.moving[i];
            if s.moving[i] {
                agent.position = s.destination[i];
                s.moves += 1;
            }
        }
    }
}
