//! PPO (clipped objective, GAE), learning online for as long as the run lasts: no episodes.
//! Every `rollout` steps the agent bootstraps the value of where it stands, computes advantages
//! over the steps since the last update, and takes `epochs` passes of minibatch Adam steps over
//! them; then it goes on acting with the new policy. The whole learner — weights, Adam's
//! moments, the half-filled rollout, its random stream — is its snapshot state.
//!
//! [`Learner`] is the network and its training, over any number of rollouts at once: [`Ppo`]
//! gives it one (an agent), a parameter-sharing team gives it one per member.
//!
//! With `lstm: true` the network has the paper's LSTM core. Each rollout then also carries its
//! agent's recurrent state and the state before every step; an update cuts each rollout into
//! sequences of `sequence` steps and trains through time over each, from the state recorded at
//! its start (as it was when the agent acted: the usual recurrent PPO).

use beanworld_agents::{Agent, Needs, Observation};
use beanworld_sim::Config;
use beanworld_sim::action::Action;
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::store::ModuleRecord;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Bytes, Int, TensorData};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::Rng;

use crate::net::{Inputs, Net, Senses, Shape};
/// PPO's settings. The defaults follow the paper's runner (spec §10.4) where it is stated —
/// discount 0.99, GAE λ 0.9, clip 0.1, value weight 0.5, entropy 0.01, gradient norm 0.5,
/// 4 passes, an update every 512 steps — except for a larger learning rate (3e-4, not 1e-4),
/// minibatches of 128 and normalised advantages, which learn faster without the LSTM.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Hidden width `H`.
    pub hidden: usize,
    /// Steps between updates.
    pub rollout: usize,
    /// Passes over each rollout.
    pub epochs: usize,
    /// Samples per Adam step.
    pub minibatch: usize,
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// Discount γ.
    pub discount: f32,
    /// GAE λ.
    pub lambda: f32,
    /// Ratio clip ε.
    pub clip: f32,
    /// Weight of the value loss.
    pub value_weight: f32,
    /// Weight of the entropy bonus.
    pub entropy_weight: f32,
    /// Largest global gradient norm.
    pub max_grad_norm: f64,
    /// Whether each update's advantages are scaled to mean 0 and deviation 1 (the paper's runner
    /// does not: then small rewards move the policy little, and the entropy bonus weighs more).
    pub normalize_advantages: bool,
    /// The share of steps on which the agent acts uniformly at random: it acts on
    /// `(1 − explore)·π + explore/A`, and the clipped objective compares the log-probabilities of
    /// that mixture, so the update stays on-policy. With 0 (the default) a policy can become so
    /// sure of an action that it never tries another again — walking into a wall for good, say,
    /// where the entropy bonus's gradient has vanished.
    pub explore: f32,
    /// Whether the network has an LSTM core (spec §10.4), so that it can remember.
    pub lstm: bool,
    /// Steps per sequence that an update backpropagates through (with `lstm`).
    pub sequence: usize,
    /// Whether the network also reads the task (the reward function in force), so that one
    /// network can hold a policy for each task a schedule switches between (spec §10.4's
    /// reward-aware network).
    pub reward_aware: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            hidden: 64,
            rollout: 512,
            epochs: 4,
            minibatch: 128,
            learning_rate: 3e-4,
            discount: 0.99,
            lambda: 0.9,
            clip: 0.1,
            value_weight: 0.5,
            entropy_weight: 0.01,
            max_grad_norm: 0.5,
            normalize_advantages: true,
            explore: 0.0,
            lstm: false,
            sequence: 16,
            reward_aware: false,
        }
    }
}

/// The steps of one agent since the last update, as the network's inputs and what happened.
#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Rollout {
    inputs: Inputs,
    actions: Vec<u32>,
    log_probs: Vec<f32>,
    values: Vec<f32>,
    rewards: Vec<f32>,
    /// The agent's recurrent state now (empty: zeros, as at the start) and before each step
    /// held (empty without an LSTM).
    memory: Vec<f32>,
    memories: Vec<f32>,
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

    /// Forgets the steps held, keeping the agent's memory.
    fn clear(&mut self) {
        let Rollout { inputs, actions, log_probs, values, rewards, memory: _, memories } = self;
        inputs.clear();
        for v in [log_probs, values, rewards, memories] {
            v.clear();
        }
        actions.clear();
    }
}

/// What a learner's snapshot holds.
#[derive(serde::Serialize, serde::Deserialize)]
struct State<R> {
    name: String,
    settings: Settings,
    shape: Shape,
    weights: Vec<u8>,
    adam: Vec<u8>,
    rng: u128,
    updates: u64,
    /// The rollouts in progress (one for an agent; per member for a team).
    rollouts: R,
}

/// The PPO network and its training: acting for a batch of observations, and updates over any
/// number of rollouts.
pub struct Learner {
    name: String,
    settings: Settings,
    shape: Shape,
    /// The network being trained (on the autodiff device).
    net: Net,
    /// The same weights without autodiff, for acting; refreshed after every update.
    acting: Net,
    adam: ModuleOptimizer,
    rng: ChaCha8Rng,
    actions: Vec<Action>,
    /// Updates so far.
    updates: u64,
    train: Device,
    infer: Device,
}

/// Appends `memory` (`m` floats of recurrent state; empty reads as the zeros an agent starts
/// from) to `out`.
fn append_memory(m: usize, memory: &[f32], out: &mut Vec<f32>) {
    if memory.len() == m {
        out.extend_from_slice(memory);
    } else {
        out.resize(out.len() + m, 0.0);
    }
}

fn optimizer(settings: &Settings) -> ModuleOptimizer {
    crate::net::adam(settings.max_grad_norm)
}

impl Learner {
    /// A learner named `name` for `config`, looking with `senses`, its weights and sampling drawn
    /// from a stream keyed by the world seed and `id`.
    pub fn new(
        name: &str,
        config: &Config,
        senses: Senses,
        settings: Settings,
        id: u32,
        seed: u64,
    ) -> Result<Self, String> {
        if settings.rollout == 0 || settings.minibatch == 0 || settings.epochs == 0 {
            return Err("rollout, minibatch and epochs must be at least 1".into());
        }
        if settings.lstm && settings.sequence == 0 {
            return Err("sequence must be at least 1".into());
        }
        if !(0.0..1.0).contains(&settings.explore) {
            return Err(format!("explore must be at least 0 and below 1, not {}", settings.explore));
        }
        let (mut shape, actions) =
            Shape::for_world(name, config, senses, settings.hidden, settings.reward_aware)?;
        shape.memory = settings.lstm;
        let mut rng = beanworld_agents::agent_rng(seed, id, "ppo");
        let (train, infer) = (Device::flex().autodiff(), Device::flex());
        let net = Net::new(&shape, &mut rng, &train);
        Ok(Learner {
            name: name.to_string(),
            acting: net.valid(),
            net,
            adam: optimizer(&settings),
            settings,
            shape,
            rng,
            actions,
            updates: 0,
            train,
            infer,
        })
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The shapes its network is built for.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    /// Its settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Updates taken so far.
    pub fn updates(&self) -> u64 {
        self.updates
    }

    /// Appends `rollout`'s agent's recurrent state to `memory` (nothing without an LSTM).
    pub fn push_memory(&self, rollout: &Rollout, memory: &mut Vec<f32>) {
        append_memory(self.shape.memory_len(), &rollout.memory, memory);
    }

    /// Policy probabilities (`A` per row) and values of the rows of `inputs`, in one batch;
    /// `memory` holds each row's recurrent state before the step (see [`Learner::push_memory`])
    /// and is overwritten with the state after it.
    pub fn evaluate(
        &self,
        inputs: &Inputs,
        memory: &mut Vec<f32>,
        probs: &mut Vec<f32>,
        values: &mut Vec<f32>,
    ) {
        let x = inputs.tensors(&self.shape, &self.infer);
        let (logits, value) = if self.shape.memory {
            let before = Tensor::from_data(
                TensorData::new(std::mem::take(memory), [inputs.len(), self.shape.memory_len()]),
                &self.infer,
            );
            let (logits, value, after) = self.acting.forward_step(x, before);
            *memory = self.read(after);
            (logits, value)
        } else {
            self.acting.forward(x)
        };
        let logits = self.read(logits);
        *values = self.read(value);
        probs.clear();
        for row in logits.chunks(self.shape.actions) {
            let top = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
            let at = probs.len();
            probs.extend(row.iter().map(|l| (l - top).exp()));
            let sum: f32 = probs[at..].iter().sum();
            let (keep, floor) = (1.0 - self.settings.explore, self.settings.explore / row.len() as f32);
            for p in &mut probs[at..] {
                *p = *p / sum * keep + floor;
            }
        }
    }

    fn read(&self, t: Tensor<2>) -> Vec<f32> {
        match t.into_data().try_into_vec::<f32>() {
            Ok(v) => v,
            // A tensor of another element type is a bug, not bad input: stop the run loudly (the
            // runner turns an agent's panic into a clean stop with everything saved).
            Err(e) => panic!("{}: {e:?}", self.name),
        }
    }

    /// Draws an action from `probs` (one row), records the step in `rollout` — row `row` of
    /// `inputs`, with its `value` — moves the agent's recurrent state on to `memory` (its row of
    /// what [`Learner::evaluate`] wrote; empty without an LSTM) and returns the action.
    pub fn choose(
        &mut self,
        probs: &[f32],
        value: f32,
        inputs: &Inputs,
        row: usize,
        memory: &[f32],
        rollout: &mut Rollout,
    ) -> Action {
        let u = (self.rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32;
        let mut k = probs.len() - 1;
        let mut acc = 0.0;
        for (i, p) in probs.iter().enumerate() {
            acc += p;
            if u < acc {
                k = i;
                break;
            }
        }
        rollout.inputs.push_row(&self.shape, inputs, row);
        rollout.actions.push(k as u32);
        rollout.log_probs.push(probs[k].max(1e-12).ln());
        rollout.values.push(value);
        if self.shape.memory {
            append_memory(self.shape.memory_len(), &rollout.memory, &mut rollout.memories);
            rollout.memory.clear();
            rollout.memory.extend_from_slice(memory);
        }
        self.actions[k]
    }

    /// Advantages (GAE, bootstrapped from `last_value`) and returns of `r`, appended.
    fn advantages(&self, r: &Rollout, last_value: f32, adv: &mut Vec<f32>, returns: &mut Vec<f32>) {
        let (g, l) = (self.settings.discount, self.settings.lambda);
        let n = r.rewards.len();
        let at = adv.len();
        adv.resize(at + n, 0.0);
        let mut next = (last_value, 0.0f32);
        for t in (0..n).rev() {
            let delta = r.rewards[t] + g * next.0 - r.values[t];
            let a = delta + g * l * next.1;
            adv[at + t] = a;
            next = (r.values[t], a);
        }
        returns.extend(adv[at..].iter().zip(&r.values).map(|(a, v)| a + v));
    }

    /// One update over `rollouts` (every step of each rewarded), each bootstrapped from its value
    /// in `last_values`; empties them (an agent's memory stays).
    pub fn update(&mut self, rollouts: &mut [&mut Rollout], last_values: &[f32]) {
        let (mut adv, mut returns) = (Vec::new(), Vec::new());
        let mut all = Rollout::default();
        // What a minibatch is made of: sequences of consecutive steps of one agent, each
        // (first row in `all`, steps); without an LSTM every step is a sequence of its own.
        let length = if self.shape.memory { self.settings.sequence } else { 1 };
        let mut sequences: Vec<(usize, usize)> = Vec::new();
        for (r, last) in rollouts.iter_mut().zip(last_values) {
            r.forget_unrewarded(&self.shape);
            let first = all.actions.len();
            self.advantages(r, *last, &mut adv, &mut returns);
            for k in 0..r.len() {
                all.inputs.push_row(&self.shape, &r.inputs, k);
            }
            all.actions.extend_from_slice(&r.actions);
            all.log_probs.extend_from_slice(&r.log_probs);
            all.memories.extend_from_slice(&r.memories);
            sequences.extend((0..r.len()).step_by(length).map(|k| (first + k, (r.len() - k).min(length))));
            r.clear();
        }
        let n = adv.len();
        if n == 0 {
            return;
        }
        if self.settings.normalize_advantages {
            let mean = adv.iter().sum::<f32>() / n as f32;
            let std = (adv.iter().map(|a| (a - mean).powi(2)).sum::<f32>() / n as f32).sqrt();
            for a in &mut adv {
                *a = (*a - mean) / (std + 1e-8);
            }
        }
        let dev = self.train.clone();
        let s = self.settings.clone();
        let m = self.shape.memory_len();
        let mut order: Vec<u32> = (0..sequences.len() as u32).collect();
        // Each minibatch is gathered here, row by row, into small tensors: selecting rows out of
        // tensors of the whole batch costs in proportion to the whole batch on the CPU backend,
        // which a team's update (512 steps per member) makes large. A sequence shorter than
        // `length` (the end of a rollout) is padded with copies of its last step, which the
        // losses leave out.
        let mut batch = Rollout::default();
        let per_batch = (s.minibatch / length).max(1);
        let (mut rows_adv, mut rows_returns, mut mask) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..s.epochs {
            // Fisher–Yates from the learner's own stream.
            for i in (1..order.len()).rev() {
                let j = ((u64::from(self.rng.next_u32()) * (i as u64 + 1)) >> 32) as usize;
                order.swap(i, j);
            }
            for chunk in order.chunks(per_batch) {
                let b = chunk.len() * length;
                batch.clear();
                rows_adv.clear();
                rows_returns.clear();
                mask.clear();
                for &q in chunk {
                    let (first, steps) = sequences[q as usize];
                    batch.memories.extend_from_slice(&all.memories[first * m..(first + 1) * m]);
                    for t in 0..length {
                        let i = first + t.min(steps - 1);
                        batch.inputs.push_row(&self.shape, &all.inputs, i);
                        batch.actions.push(all.actions[i]);
                        batch.log_probs.push(all.log_probs[i]);
                        rows_adv.push(adv[i]);
                        rows_returns.push(returns[i]);
                        mask.push(if t < steps { 1.0 } else { 0.0 });
                    }
                }
                let x = batch.inputs.tensors(&self.shape, &dev);
                let column = |v: &[f32]| Tensor::<1>::from_data(TensorData::new(v.to_vec(), [b]), &dev);
                let ints: Vec<i64> = batch.actions.iter().map(|&a| i64::from(a)).collect();
                let taken = Tensor::<2, Int>::from_data(TensorData::new(ints, [b, 1]), &dev);
                let (old, a, target) = (column(&batch.log_probs), column(&rows_adv), column(&rows_returns));
                let (logits, values) = if m > 0 {
                    let memory = TensorData::new(batch.memories.clone(), [chunk.len(), m]);
                    self.net.forward_sequences(x, Tensor::from_data(memory, &dev), length)
                } else {
                    self.net.forward(x)
                };
                // The mean over the real steps.
                let valid: f32 = mask.iter().sum();
                let padded = column(&mask);
                let mean = |t: Tensor<1>| {
                    if valid as usize == b { t.mean() } else { (t * padded.clone()).sum().div_scalar(valid) }
                };
                let log_all = log_softmax(logits, 1);
                // The log-probabilities of the policy acted on (see `Settings::explore`).
                let acted = if s.explore > 0.0 {
                    let floor = s.explore / self.shape.actions as f32;
                    log_all.clone().exp().mul_scalar(1.0 - s.explore).add_scalar(floor).log()
                } else {
                    log_all.clone()
                };
                let log_p = acted.gather(1, taken).reshape([b]);
                let ratio = (log_p - old).exp();
                let clipped = ratio.clone().clamp(1.0 - s.clip, 1.0 + s.clip);
                let policy = mean((ratio * a.clone()).min_pair(clipped * a)).neg();
                let value = mean((values.reshape([b]) - target).powi_scalar(2));
                let entropy = mean((log_all.clone().exp() * log_all).sum_dim(1).reshape([b])).neg();
                let loss = policy + value.mul_scalar(s.value_weight) - entropy.mul_scalar(s.entropy_weight);
                let grads = GradientsParams::from_grads(loss.backward(), &self.net);
                self.net = self.adam.step(s.learning_rate, self.net.clone(), grads);
            }
        }
        self.acting = self.net.valid();
        self.updates += 1;
    }

    /// The learner's state with `rollouts`, as bytes (empty if the weights cannot be written).
    pub fn save<R: serde::Serialize>(&self, rollouts: R) -> Vec<u8> {
        let weights = self.net.clone().into_record().into_bytes().map(|b| b.to_vec());
        let adam = self.adam.into_bytes().map(|b| b.to_vec());
        let (Ok(weights), Ok(adam)) = (weights, adam) else { return Vec::new() };
        let state = State {
            name: self.name.clone(),
            settings: self.settings.clone(),
            shape: self.shape,
            weights,
            adam,
            rng: self.rng.get_word_pos(),
            updates: self.updates,
            rollouts,
        };
        postcard::to_stdvec(&state).unwrap_or_default()
    }

    /// Restores what [`Learner::save`] wrote and returns its rollouts.
    pub fn load<R: serde::de::DeserializeOwned>(&mut self, bytes: &[u8]) -> Result<R, String> {
        let state: State<R> =
            postcard::from_bytes(bytes).map_err(|e| format!("not a {} learner's state: {e}", self.name))?;
        if state.shape != self.shape || state.settings != self.settings || state.name != self.name {
            return Err(format!(
                "the saved learner ({}, {:?}) is not this one ({}, {:?})",
                state.name, state.shape, self.name, self.shape
            ));
        }
        let record =
            ModuleRecord::from_bytes(Bytes::from_bytes_vec(state.weights)).map_err(|e| e.to_string())?;
        self.net = self.net.clone().try_load_record(record).map_err(|e| e.to_string())?;
        self.acting = self.net.valid();
        self.adam = optimizer(&self.settings)
            .from_bytes(Bytes::from_bytes_vec(state.adam))
            .map_err(|e| e.to_string())?;
        self.rng.set_word_pos(state.rng);
        self.updates = state.updates;
        Ok(state.rollouts)
    }
}

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
    ) -> Result<Self, String> {
        Ok(Ppo {
            learner: Learner::new(name, config, senses, settings, id, seed)?,
            rollout: Rollout::default(),
            one: Inputs::default(),
            memory: Vec::new(),
            probs: Vec::new(),
            values: Vec::new(),
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

    fn load(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.rollout = self.learner.load(bytes)?;
        Ok(())
    }
}
