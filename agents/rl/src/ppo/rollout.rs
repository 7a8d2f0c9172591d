//! [`Rollout`]: the steps one agent took since the last update — the network's inputs, the
//! actions, their log-probabilities, values and rewards, and (with an LSTM) the agent's recurrent
//! state. It keeps every held step paired with its reward: an action whose reward never came is
//! forgotten, never matched with a later reward.

use crate::net::{Inputs, Shape};

/// The steps of one agent since the last update, as the network's inputs and what happened.
#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Rollout {
    pub(super) inputs: Inputs,
    pub(super) actions: Vec<u32>,
    pub(super) log_probs: Vec<f32>,
    pub(super) values: Vec<f32>,
    pub(super) rewards: Vec<f32>,
    /// The agent's recurrent state now (empty: zeros, as at the start) and before each step
    /// held (empty without an LSTM).
    pub(super) memory: Vec<f32>,
    pub(super) memories: Vec<f32>,
    /// The stream's discounted return so far, `R ← γR + r` over every step learned from (with
    /// `reward_scale`; kept across updates, like the memory).
    pub(super) discounted: f64,
}

impl Rollout {
    /// Steps whose reward has come.
    pub fn len(&self) -> usize {
        self.rewards.len()
    }

    /// Whether no step's reward has come.
    pub fn is_empty(&self) -> bool {
        self.rewards.is_empty()
    }

    /// Whether the last action still waits for its reward.
    pub fn waiting(&self) -> bool {
        self.actions.len() > self.rewards.len()
    }

    /// Records the reward of the last action (ignored if no action waits for one).
    pub fn reward(&mut self, reward: f32) {
        if self.waiting() {
            self.rewards.push(reward);
        }
    }

    /// Forgets an action whose reward never came (a caller that did not call `learn`), rather
    /// than pair the rewards with the wrong steps.
    pub fn forget_unrewarded(&mut self, shape: &Shape) {
        if self.waiting() {
            self.inputs.pop(shape);
            self.log_probs.pop();
            self.values.pop();
            self.actions.pop();
            // The memory goes back to before that step.
            let m = shape.memory_len();
            if m > 0 && self.memories.len() >= m {
                let at = self.memories.len() - m;
                self.memory.clear();
                self.memory.extend_from_slice(&self.memories[at..]);
                self.memories.truncate(at);
            }
        }
    }

    /// Makes room for `steps` more steps without growing.
    pub(super) fn reserve(&mut self, shape: &Shape, steps: usize) {
        self.inputs.reserve(shape, steps);
        for v in [&mut self.log_probs, &mut self.values, &mut self.rewards] {
            v.reserve(steps);
        }
        self.actions.reserve(steps);
        self.memories.reserve(steps * shape.memory_len());
    }

    /// Forgets the steps held, keeping the agent's memory and its discounted return.
    pub(super) fn clear(&mut self) {
        let Rollout { inputs, actions, log_probs, values, rewards, memory: _, memories, discounted: _ } =
            self;
        inputs.clear();
        for v in [log_probs, values, rewards, memories] {
            v.clear();
        }
        actions.clear();
    }
}
