//! The greedy scent ("blind") agent of JBW (spec §10.2): it follows the jelly-bean component of
//! its scent — forward while it grows, turning around when it fades — and sidesteps when blocked.
//! The scent is compared only across steps forward (turning in place leaves it unchanged, and
//! comparing then would keep the agent turning for ever).

use std::collections::VecDeque;

use beanworld_agents::{Agent, AgentError, Needs, Observation};
use beanworld_sim::Config;
use beanworld_sim::action::{Action, Move, Turn};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::Rng;

const FORWARD: Action = Action::Move { direction: Move::Forward, steps: 1 };
const LEFT: Action = Action::Turn(Turn::Left);
const RIGHT: Action = Action::Turn(Turn::Right);

/// The scent-following baseline.
pub struct GreedyScent {
    target: Vec<f32>,
    rng: ChaCha8Rng,
    queue: VecDeque<Action>,
    /// Whether the queued actions are a detour around an obstacle.
    detour: bool,
    turned_around: bool,
    last_scent: f32,
    last_action: Option<Action>,
    still: u32,
}

impl GreedyScent {
    /// A scent agent for `config`: it follows the scent of the type named "jellybean".
    pub fn new(config: &Config, id: u32, seed: u64) -> Result<Self, AgentError> {
        let target = config
            .items
            .iter()
            .find(|t| t.name == "jellybean")
            .map(|t| t.scent.clone())
            .ok_or_else(|| {
                AgentError::World("the greedy scent agent follows an item type named \"jellybean\"".into())
            })?;
        Ok(GreedyScent {
            target,
            rng: crate::agent_rng(seed, id, "greedy-scent"),
            queue: VecDeque::new(),
            detour: false,
            turned_around: false,
            last_scent: 0.0,
            last_action: None,
            still: 0,
        })
    }
}

impl Agent for GreedyScent {
    fn name(&self) -> &str {
        "greedy-scent"
    }

    fn needs(&self) -> Needs {
        Needs { vision: false, scent: true }
    }

    fn act(&mut self, observation: &Observation<'_>) -> Action {
        let s: f32 = observation.scent.iter().zip(&self.target).map(|(a, b)| a * b).sum();
        let tried_forward = self.last_action == Some(FORWARD);
        self.still = if observation.moved || !tried_forward { 0 } else { self.still + 1 };
        let blocked = tried_forward && !observation.moved;
        if blocked && self.detour {
            // Blocked during a detour: a wider one.
            self.queue = VecDeque::from([RIGHT, FORWARD, LEFT, FORWARD]);
        } else if self.queue.is_empty() {
            self.detour = false;
            if blocked {
                self.queue.extend([RIGHT, FORWARD, LEFT]);
                self.detour = true;
            } else if tried_forward && observation.moved && s <= self.last_scent && s != 0.0 {
                // Judged only after a step forward: turning in place does not change the scent.
                self.queue.extend([RIGHT, RIGHT]);
                if self.turned_around {
                    if s < self.last_scent {
                        self.queue.push_back(FORWARD);
                    }
                    self.queue.push_back(if self.rng.next_u32() >> 31 == 0 { LEFT } else { RIGHT });
                }
                self.turned_around = !self.turned_around;
            }
        }
        if observation.moved || self.last_action.is_none() {
            self.last_scent = s;
        }
        let action = self.queue.pop_front().unwrap_or(FORWARD);
        self.last_action = Some(action);
        action
    }

    fn save(&self) -> Vec<u8> {
        let state = (
            self.rng.get_word_pos(),
            self.queue.iter().copied().collect::<Vec<_>>(),
            self.detour,
            self.turned_around,
            self.last_scent,
            self.last_action,
            self.still,
        );
        postcard::to_stdvec(&state).unwrap_or_default()
    }

    fn load(&mut self, state: &[u8]) -> Result<(), AgentError> {
        type State = (u128, Vec<Action>, bool, bool, f32, Option<Action>, u32);
        let (word, queue, detour, turned, scent, last, still): State = postcard::from_bytes(state)
            .map_err(|e| AgentError::State(format!("a greedy scent agent's state: {e}")))?;
        self.rng.set_word_pos(word);
        self.queue = queue.into();
        (self.detour, self.turned_around, self.last_scent, self.last_action, self.still) =
            (detour, turned, scent, last, still);
        Ok(())
    }
}
