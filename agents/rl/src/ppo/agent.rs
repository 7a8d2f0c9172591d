//! [`Ppo`]: a PPO [`Learner`] driving one agent over one rollout. It learns as rewards come and
//! updates every `rollout` steps, bootstrapping from the observation that completed the rollout.

use beanworld_agents::{Agent, AgentError, Needs, Observation};
use beanworld_sim::Config;
use beanworld_sim::action::Action;

use super::{Learner, Rollout, Settings};
use crate::net::{Inputs, Senses};

/// A PPO learner driving one agent.
pub struct Ppo {
    learner: Learner,
    rollout: Rollout,
    /// Scratch: one observation's inputs, the recurrent state after it, its probabilities and
    /// value.
    one: Inputs,
    memory: Vec<f32>,
    probs: Vec<f32>,
    values: Vec<f32>,
    /// Whether it learns no more ([`Agent::freeze`]).
    frozen: bool,
}

impl Ppo {
    /// A learner named `name` for `config`, looking with `senses`, its weights and sampling drawn
    /// from a stream keyed by the world seed and its id.
    pub fn new(
        name: &str,
        config: &Config,
        senses: Senses,
        settings: Settings,
        id: u32,
        seed: u64,
    ) -> Result<Self, AgentError> {
        Ok(Ppo {
            learner: Learner::new(name, config, senses, settings, id, seed)?,
            rollout: Rollout::default(),
            one: Inputs::default(),
            memory: Vec::new(),
            probs: Vec::new(),
            values: Vec::new(),
            frozen: false,
        })
    }

    /// Updates taken so far.
    pub fn updates(&self) -> u64 {
        self.learner.updates()
    }

    /// Evaluates `observation` into the scratch buffers.
    fn evaluate(&mut self, observation: &Observation<'_>) {
        self.one.clear();
        self.one.push(self.learner.shape(), observation);
        self.memory.clear();
        self.learner.push_memory(&self.rollout, &mut self.memory);
        self.learner.evaluate(&self.one, &mut self.memory, &mut self.probs, &mut self.values);
    }
}

impl Agent for Ppo {
    fn name(&self) -> &str {
        self.learner.name()
    }

    fn needs(&self) -> Needs {
        let senses = self.learner.shape().senses;
        Needs { vision: senses.vision(), scent: senses.scent() }
    }

    fn act(&mut self, observation: &Observation<'_>) -> Action {
        self.rollout.forget_unrewarded(self.learner.shape());
        self.evaluate(observation);
        let value = self.values.first().copied().unwrap_or(0.0);
        self.learner.choose(&self.probs, value, &self.one, 0, &self.memory, &mut self.rollout)
    }

    fn learn(&mut self, _previous: Action, observation: &Observation<'_>) {
        if self.frozen {
            // The step is done with; the memory after it stays.
            self.rollout.clear();
            return;
        }
        if !self.rollout.waiting() {
            return; // (nothing pending: a reward for an action it did not choose)
        }
        self.rollout.reward(observation.reward);
        if self.rollout.len() < self.learner.settings().rollout {
            return;
        }
        self.evaluate(observation);
        let last = self.values.first().copied().unwrap_or(0.0);
        self.learner.update(&mut [&mut self.rollout], &[last]);
    }

    fn save(&self) -> Vec<u8> {
        self.learner.save(&self.rollout)
    }

    fn load(&mut self, bytes: &[u8]) -> Result<(), AgentError> {
        self.rollout = self.learner.load(bytes)?;
        Ok(())
    }

    fn take_report(&mut self) -> Option<String> {
        self.learner.take_update_json()
    }

    fn freeze(&mut self) -> bool {
        self.frozen = true;
        true
    }
}
