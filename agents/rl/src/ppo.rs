//! PPO (clipped objective, GAE), learning online for as long as the run lasts: no episodes.
//! Every `rollout` steps the agent bootstraps the value of where it stands, computes advantages
//! over the steps since the last update, and takes `epochs` passes of minibatch Adam steps over
//! them; then it goes on acting with the new policy. The whole learner — weights, Adam's
//! moments, the half-filled rollout, its random stream — is its snapshot state.

use beanworld_agents::{Agent, Needs, Observation};
use beanworld_sim::Config;
use beanworld_sim::action::Action;
use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
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
        }
    }
}

/// The steps since the last update, as the network's inputs and what happened.
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Rollout {
    inputs: Inputs,
    actions: Vec<u32>,
    log_probs: Vec<f32>,
    values: Vec<f32>,
    rewards: Vec<f32>,
}

impl Rollout {
    /// Forgets the last step's inputs and choice.
    fn drop_last(&mut self, shape: &Shape) {
        self.inputs.pop(shape);
        self.log_probs.pop();
        self.values.pop();
        self.actions.pop();
    }

    fn clear(&mut self) {
        let Rollout { inputs, actions, log_probs, values, rewards } = self;
        inputs.clear();
        for v in [log_probs, values, rewards] {
            v.clear();
        }
        actions.clear();
    }
}

/// What a snapshot holds.
#[derive(serde::Serialize, serde::Deserialize)]
struct State {
    name: String,
    settings: Settings,
    shape: Shape,
    weights: Vec<u8>,
    adam: Vec<u8>,
    rng: u128,
    rollout: Rollout,
    updates: u64,
}

/// A PPO learner.
pub struct Ppo {
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
    rollout: Rollout,
    /// Updates so far.
    updates: u64,
    /// Scratch: one observation's inputs.
    one: Inputs,
    train: Device,
    infer: Device,
}

fn optimizer(settings: &Settings) -> ModuleOptimizer {
    AdamConfig::new()
        .with_grad_clipping(Some(GradientClippingConfig::Norm(settings.max_grad_norm as f32)))
        .init()
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
        let actions = beanworld_baselines::allowed_actions(config);
        if actions.is_empty() {
            return Err("the scenario allows no action to learn".into());
        }
        let side = 2 * config.vision.range as usize + 1;
        if senses.vision() && side < 5 {
            return Err(format!(
                "{name} needs a vision range of at least 2 (its convolutions), not {}",
                config.vision.range
            ));
        }
        if settings.rollout == 0 || settings.minibatch == 0 || settings.epochs == 0 {
            return Err("rollout, minibatch and epochs must be at least 1".into());
        }
        let shape = Shape {
            side,
            channels: config.vision.color_dimension,
            scent: config.scent.dimension,
            hidden: settings.hidden,
            actions: actions.len(),
            senses,
        };
        let mut rng = beanworld_baselines::agent_rng(seed, id, "ppo");
        let (train, infer) = (Device::flex().autodiff(), Device::flex());
        let net = Net::new(&shape, &mut rng, &train);
        Ok(Ppo {
            name: name.to_string(),
            acting: net.valid(),
            net,
            adam: optimizer(&settings),
            settings,
            shape,
            rng,
            actions,
            rollout: Rollout::default(),
            updates: 0,
            one: Inputs::default(),
            train,
            infer,
        })
    }

    /// Updates taken so far.
    pub fn updates(&self) -> u64 {
        self.updates
    }

    /// Policy probabilities and value for one observation.
    fn evaluate(&mut self, observation: &Observation<'_>) -> Result<(Vec<f32>, f32), String> {
        let mut one = std::mem::take(&mut self.one);
        one.clear();
        one.push(&self.shape, observation);
        let (vision, scent, moved) = one.tensors(&self.shape, &self.infer);
        self.one = one;
        let (logits, value) = self.acting.forward(vision, scent, moved);
        let read = |t: Tensor<2>| t.into_data().try_into_vec::<f32>().map_err(|e| format!("{e:?}"));
        let logits = read(logits)?;
        let value = read(value)?.first().copied().unwrap_or(0.0);
        let top = logits.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        let exp: Vec<f32> = logits.iter().map(|l| (l - top).exp()).collect();
        let sum: f32 = exp.iter().sum();
        Ok((exp.iter().map(|e| e / sum).collect(), value))
    }

    /// Advantages and returns of the rollout (GAE), bootstrapped from `last_value`.
    fn advantages(&self, last_value: f32) -> (Vec<f32>, Vec<f32>) {
        let r = &self.rollout;
        let (g, l) = (self.settings.discount, self.settings.lambda);
        let n = r.rewards.len();
        let mut adv = vec![0.0; n];
        let mut next = (last_value, 0.0f32);
        for t in (0..n).rev() {
            let delta = r.rewards[t] + g * next.0 - r.values[t];
            let a = delta + g * l * next.1;
            adv[t] = a;
            next = (r.values[t], a);
        }
        let returns = adv.iter().zip(&r.values).map(|(a, v)| a + v).collect();
        (adv, returns)
    }

    /// One update over the rollout.
    fn update(&mut self, last_value: f32) {
        let (mut adv, returns) = self.advantages(last_value);
        let n = adv.len();
        let mean = adv.iter().sum::<f32>() / n as f32;
        let std = (adv.iter().map(|a| (a - mean).powi(2)).sum::<f32>() / n as f32).sqrt();
        for a in &mut adv {
            *a = (*a - mean) / (std + 1e-8);
        }
        let dev = self.train.clone();
        let (vision, scent, moved) = self.rollout.inputs.tensors(&self.shape, &dev);
        let ints: Vec<i64> = self.rollout.actions.iter().map(|&a| i64::from(a)).collect();
        let actions = Tensor::<1, Int>::from_data(TensorData::new(ints, [n]), &dev);
        let column = |v: Vec<f32>| Tensor::<1>::from_data(TensorData::new(v, [n]), &dev);
        let (old, adv, returns) = (column(self.rollout.log_probs.clone()), column(adv), column(returns));
        let s = self.settings.clone();
        let mut order: Vec<u32> = (0..n as u32).collect();
        for _ in 0..s.epochs {
            // Fisher–Yates from the learner's own stream.
            for i in (1..n).rev() {
                let j = ((u64::from(self.rng.next_u32()) * (i as u64 + 1)) >> 32) as usize;
                order.swap(i, j);
            }
            for chunk in order.chunks(s.minibatch) {
                let b = chunk.len();
                let rows = Tensor::<1, Int>::from_data(
                    TensorData::new(chunk.iter().map(|&i| i64::from(i)).collect::<Vec<_>>(), [b]),
                    &dev,
                );
                let pick4 = |t: &Option<Tensor<4>>| t.clone().map(|t| t.select(0, rows.clone()));
                let pick2 = |t: &Option<Tensor<2>>| t.clone().map(|t| t.select(0, rows.clone()));
                let (logits, values) =
                    self.net.forward(pick4(&vision), pick2(&scent), moved.clone().select(0, rows.clone()));
                let log_all = log_softmax(logits, 1);
                let taken = actions.clone().select(0, rows.clone()).reshape([b, 1]);
                let log_p = log_all.clone().gather(1, taken).reshape([b]);
                let a = adv.clone().select(0, rows.clone());
                let ratio = (log_p - old.clone().select(0, rows.clone())).exp();
                let clipped = ratio.clone().clamp(1.0 - s.clip, 1.0 + s.clip);
                let policy = (ratio * a.clone()).min_pair(clipped * a).mean().neg();
                let value =
                    (values.reshape([b]) - returns.clone().select(0, rows.clone())).powi_scalar(2).mean();
                let entropy = (log_all.clone().exp() * log_all).sum_dim(1).mean().neg();
                let loss = policy + value.mul_scalar(s.value_weight) - entropy.mul_scalar(s.entropy_weight);
                let grads = GradientsParams::from_grads(loss.backward(), &self.net);
                self.net = self.adam.step(s.learning_rate, self.net.clone(), grads);
            }
        }
        self.acting = self.net.valid();
        self.updates += 1;
        self.rollout.clear();
    }

    fn save_state(&self) -> Result<State, String> {
        let weights = self.net.clone().into_record().into_bytes().map_err(|e| e.to_string())?;
        let adam = self.adam.into_bytes().map_err(|e| e.to_string())?;
        // (Snapshots are taken between steps; the runner keeps what the agents are owed at the
        // next step, so the pending step's reward arrives after a resume as it would have.)
        let r = &self.rollout;
        Ok(State {
            name: self.name.clone(),
            settings: self.settings.clone(),
            shape: self.shape,
            weights: weights.to_vec(),
            adam: adam.to_vec(),
            rng: self.rng.get_word_pos(),
            rollout: Rollout {
                inputs: r.inputs.clone(),
                actions: r.actions.clone(),
                log_probs: r.log_probs.clone(),
                values: r.values.clone(),
                rewards: r.rewards.clone(),
            },
            updates: self.updates,
        })
    }
}
impl Agent for Ppo {
    fn name(&self) -> &str {
        &self.name
    }

    fn needs(&self) -> Needs {
        let senses = self.shape.senses;
        Needs { vision: senses.vision(), scent: senses.scent() }
    }

    fn act(&mut self, observation: &Observation<'_>) -> Action {
        if self.rollout.actions.len() > self.rollout.rewards.len() {
            // The last action's reward never came (a caller that did not call `learn`): forget
            // that step rather than pair the rewards with the wrong steps.
            self.rollout.drop_last(&self.shape);
        }
        let (probs, value) = match self.evaluate(observation) {
            Ok(v) => v,
            // A numerical failure is a bug, not bad input: stop the run loudly (the runner turns
            // an agent's panic into a clean stop with everything saved).
            Err(e) => panic!("{}: {e}", self.name),
        };
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
        self.rollout.inputs.push(&self.shape, observation);
        self.rollout.actions.push(k as u32);
        self.rollout.log_probs.push(probs[k].max(1e-12).ln());
        self.rollout.values.push(value);
        self.actions[k]
    }

    fn learn(&mut self, _previous: Action, observation: &Observation<'_>) {
        if self.rollout.rewards.len() >= self.rollout.actions.len() {
            return; // (nothing pending: a reward for an action it did not choose)
        }
        self.rollout.rewards.push(observation.reward);
        if self.rollout.rewards.len() < self.settings.rollout {
            return;
        }
        match self.evaluate(observation) {
            Ok((_, last)) => self.update(last),
            Err(e) => panic!("{}: {e}", self.name),
        }
    }

    fn save(&self) -> Vec<u8> {
        match self.save_state() {
            Ok(state) => postcard::to_stdvec(&state).unwrap_or_default(),
            Err(_) => Vec::new(),
        }
    }

    fn load(&mut self, bytes: &[u8]) -> Result<(), String> {
        let state: State =
            postcard::from_bytes(bytes).map_err(|e| format!("not a PPO learner's state: {e}"))?;
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
        self.rollout = state.rollout;
        self.updates = state.updates;
        Ok(())
    }
}
