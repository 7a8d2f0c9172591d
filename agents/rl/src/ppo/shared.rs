//! [`SharedPpo`]: one PPO network for every member of a team. Each step it evaluates all present
//! members in one batch and draws each one's action from its own row; each member keeps its own
//! rollout (advantages never mix members' futures). When the members' rollouts together hold
//! `rollout` steps per present member, it takes one update over all of them: as much compute per
//! sample as independent learners, but every member's experience trains the one policy.
//!
//! This is parameter sharing (`policy: Agent("ppo-shared")`); independent learners need nothing
//! of it — each agent gets a [`Ppo`](super::Ppo) of its own. The runner puts a team's members on
//! one agent thread, and saves the team's state under its first member's id.

use beanworld_agents::{AgentError, Members, Needs, Team};
use beanworld_sim::Config;
use beanworld_sim::action::Action;

use super::{Learner, Rollout, Settings};
use crate::net::{Inputs, Senses};

/// A PPO learner shared by a team.
pub struct SharedPpo {
    learner: Learner,
    /// Each member's rollout, sorted by id.
    members: Vec<(u32, Rollout)>,
    /// Scratch, per step: where each present member is in `members`, their inputs, probabilities
    /// and values.
    at: Vec<usize>,
    inputs: Inputs,
    memory: Vec<f32>,
    probs: Vec<f32>,
    values: Vec<f32>,
}

impl SharedPpo {
    /// A team named `name` for `config`, looking with `senses`; its weights and sampling come
    /// from a stream keyed by the world seed.
    pub fn new(
        name: &str,
        config: &Config,
        senses: Senses,
        settings: Settings,
        seed: u64,
    ) -> Result<Self, AgentError> {
        Ok(SharedPpo {
            learner: Learner::new(name, config, senses, settings, 0, seed)?,
            members: Vec::new(),
            at: Vec::new(),
            inputs: Inputs::default(),
            memory: Vec::new(),
            probs: Vec::new(),
            values: Vec::new(),
        })
    }

    /// Updates taken so far.
    pub fn updates(&self) -> u64 {
        self.learner.updates()
    }

    /// The ids of its members.
    pub fn member_ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.members.iter().map(|(id, _)| *id)
    }

    fn evaluate(&mut self, members: &Members<'_>) {
        self.inputs.clear();
        self.memory.clear();
        for k in 0..members.len() {
            self.inputs.push(self.learner.shape(), &members.observation(k));
            self.learner.push_memory(&self.members[self.at[k]].1, &mut self.memory);
        }
        self.learner.evaluate(&self.inputs, &mut self.memory, &mut self.probs, &mut self.values);
    }
}

impl Team for SharedPpo {
    fn name(&self) -> &str {
        self.learner.name()
    }

    fn needs(&self) -> Needs {
        let senses = self.learner.shape().senses;
        Needs { vision: senses.vision(), scent: senses.scent() }
    }

    fn join(&mut self, id: u32) {
        if let Err(k) = self.members.binary_search_by_key(&id, |(i, _)| *i) {
            self.members.insert(k, (id, Rollout::default()));
        }
    }

    fn leave(&mut self, id: u32) {
        if let Ok(k) = self.members.binary_search_by_key(&id, |(i, _)| *i) {
            self.members.remove(k);
        }
    }

    fn step(&mut self, members: &Members<'_>, actions: &mut [Action]) {
        self.at.clear();
        for k in 0..members.len() {
            let id = members.id(k);
            let at = match self.members.binary_search_by_key(&id, |(i, _)| *i) {
                Ok(at) => at,
                Err(at) => {
                    // (A member the runner did not announce: take it in.)
                    self.members.insert(at, (id, Rollout::default()));
                    for earlier in &mut self.at {
                        if *earlier >= at {
                            *earlier += 1;
                        }
                    }
                    at
                }
            };
            self.at.push(at);
            let rollout = &mut self.members[at].1;
            if members.previous(k).is_some() {
                rollout.reward(members.observation(k).reward);
            } else {
                rollout.forget_unrewarded(self.learner.shape());
            }
        }
        self.evaluate(members);
        let gathered: usize = self.at.iter().map(|&at| self.members[at].1.len()).sum();
        if gathered >= self.learner.settings().rollout * members.len() {
            // Members are in id order, and so are their rollouts.
            let mut present: Vec<&mut Rollout> = Vec::with_capacity(members.len());
            let mut next = self.at.iter().peekable();
            for (k, (_, rollout)) in self.members.iter_mut().enumerate() {
                if next.peek() == Some(&&k) {
                    next.next();
                    present.push(rollout);
                }
            }
            self.learner.update(&mut present, &self.values);
            self.evaluate(members);
        }
        let (a, m) = (self.learner.shape().actions, self.learner.shape().memory_len());
        for (k, action) in actions.iter_mut().enumerate() {
            let rollout = &mut self.members[self.at[k]].1;
            *action = self.learner.choose(
                &self.probs[k * a..(k + 1) * a],
                self.values[k],
                &self.inputs,
                k,
                &self.memory[k * m..(k + 1) * m],
                rollout,
            );
        }
    }

    fn save(&self) -> Vec<u8> {
        self.learner.save(&self.members)
    }

    fn load(&mut self, state: &[u8]) -> Result<(), AgentError> {
        self.members = self.learner.load(state)?;
        Ok(())
    }

    fn take_report(&mut self) -> Option<String> {
        self.learner.take_update_json()
    }
}
