//! The random agent: a uniformly drawn legal action every step.

use beanworld_agents::{Agent, AgentError, Needs, Observation};
use beanworld_sim::Config;
use beanworld_sim::action::Action;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::Rng;

/// Uniform over the actions the scenario allows.
pub struct Random {
    actions: Vec<Action>,
    rng: ChaCha8Rng,
}

impl Random {
    /// A random agent for `config`, its stream keyed by the world seed and its id.
    pub fn new(config: &Config, id: u32, seed: u64) -> Self {
        Random { actions: crate::allowed_actions(config), rng: crate::agent_rng(seed, id, "random") }
    }
}

impl Agent for Random {
    fn name(&self) -> &str {
        "random"
    }

    fn needs(&self) -> Needs {
        Needs { vision: false, scent: false }
    }

    fn act(&mut self, _: &Observation<'_>) -> Action {
        let n = self.actions.len() as u64;
        if n == 0 {
            return Action::NoOp;
        }
        self.actions[((u64::from(self.rng.next_u32()) * n) >> 32) as usize]
    }

    fn save(&self) -> Vec<u8> {
        self.rng.get_word_pos().to_le_bytes().to_vec()
    }

    fn load(&mut self, state: &[u8]) -> Result<(), AgentError> {
        let pos: [u8; 16] =
            state.try_into().map_err(|_| AgentError::State("a random agent's state is 16 bytes".into()))?;
        self.rng.set_word_pos(u128::from_le_bytes(pos));
        Ok(())
    }
}
