//! Who drives which agent: the runner's record of the externally driven agents its threads hold
//! (agent id → group), the teams that later agents of the same policy join, and the [`Spawn`]
//! callback that makes a driver for an agent that arrives.
//!
//! The roster keeps the threads in step with the simulation: before every step, every externally
//! driven agent of the simulation is held by exactly one group, and no group holds an agent that
//! has left. News for a thread (joins, leaves) goes into its spare batch and reaches it with the
//! next step. An agent's group is its id modulo the number of threads, or its team's group.

use beanworld_sim::Simulation;
use beanworld_sim::policy::PolicyKind;

use super::agent_thread::Groups;
use super::batch::Join;
use crate::agent::{Agent, Driver};

/// Makes what drives an externally driven agent (by id and policy) that was not given to
/// [`Runner::new`](super::Runner::new), at the start or when the scenario adds it during the run.
/// When it returns a [`Driver::Team`], later agents of the same policy join that team instead of
/// being spawned.
pub type Spawn = Box<dyn FnMut(u32, &PolicyKind) -> Driver>;

/// The externally driven agents the threads hold, and how newcomers get a driver.
pub(super) struct Roster {
    spawn: Spawn,
    /// `(id, group)`, sorted by id.
    pub(super) known: Vec<(u32, usize)>,
    /// The teams: the policy whose agents join it, its key, its group.
    teams: Vec<(PolicyKind, u32, usize)>,
    /// Scratch for [`Roster::admit`]: externally driven agents now, and those new since.
    present: Vec<u32>,
    joining: Vec<(u32, PolicyKind)>,
}

impl Roster {
    /// An empty roster whose newcomers get drivers from `spawn`.
    pub(super) fn new(spawn: Spawn) -> Self {
        Roster { spawn, known: Vec::new(), teams: Vec::new(), present: Vec::new(), joining: Vec::new() }
    }

    /// Hands the given agents to their groups (`id` modulo the number of groups), in order of id;
    /// of several with one id, one is kept.
    pub(super) fn give(&mut self, mut agents: Vec<(u32, Box<dyn Agent>)>, groups: &mut Groups) {
        let threads = groups.0.len();
        agents.sort_unstable_by_key(|(id, _)| *id);
        agents.dedup_by_key(|(id, _)| *id);
        for (id, agent) in agents {
            let g = id as usize % threads;
            if let Some(batch) = groups.0[g].spare.as_mut() {
                batch.joins.push(Join::New(id, Driver::Agent(agent)));
            }
            self.known.push((id, g));
        }
    }

    /// The group (agent thread) of agent `id`, if a thread holds it.
    pub(super) fn group_of(&self, id: u32) -> Option<usize> {
        self.known.binary_search_by_key(&id, |(i, _)| *i).ok().map(|k| self.known[k].1)
    }

    /// Brings the threads up to date with who is driven from outside now: agents that left are
    /// dropped (or leave their team), new ones join their policy's team or get a driver from
    /// `spawn`. Allocates only when someone comes or goes.
    #[inline]
    pub(super) fn admit(&mut self, sim: &Simulation, groups: &mut Groups) {
        let mut present = std::mem::take(&mut self.present);
        let mut joining = std::mem::take(&mut self.joining);
        present.clear();
        joining.clear();
        for a in sim.agents().iter().filter(|a| a.policy.kind.is_external()) {
            present.push(a.id);
            if self.group_of(a.id).is_none() {
                joining.push((a.id, a.policy.kind.clone()));
            }
        }
        present.sort_unstable();
        self.drop_absent(&present, groups);
        for (id, kind) in joining.drain(..) {
            self.join(id, kind, groups);
        }
        (self.present, self.joining) = (present, joining);
    }

    /// Tells the groups of known agents not `present` (sorted) that they left.
    fn drop_absent(&mut self, present: &[u32], groups: &mut Groups) {
        let gone = self.known.iter().any(|(id, _)| present.binary_search(id).is_err());
        if !gone {
            return;
        }
        for (id, g) in &self.known {
            if present.binary_search(id).is_err()
                && let Some(batch) = groups.0[*g].spare.as_mut()
            {
                batch.leaves.push(*id);
            }
        }
        self.known.retain(|(id, _)| present.binary_search(id).is_ok());
    }

    /// Agent `id`, new, joins its policy's team, or gets a driver of its own.
    fn join(&mut self, id: u32, kind: PolicyKind, groups: &mut Groups) {
        let threads = groups.0.len();
        let (g, join) = match self.teams.iter().find(|(k, _, _)| *k == kind) {
            Some((_, key, g)) => (*g, Join::Member { key: *key, id }),
            None => {
                let driver = (self.spawn)(id, &kind);
                let g = id as usize % threads;
                if matches!(driver, Driver::Team(_)) {
                    self.teams.push((kind, id, g));
                }
                (g, Join::New(id, driver))
            }
        };
        if let Some(batch) = groups.0[g].spare.as_mut() {
            batch.joins.push(join);
        }
        match self.known.binary_search_by_key(&id, |(i, _)| *i) {
            Ok(k) => self.known[k].1 = g,
            Err(k) => self.known.insert(k, (id, g)),
        }
    }
}
