//! [`Learner`]: the PPO network and what it does between updates — evaluating a batch of
//! observations, drawing actions into rollouts, saving and restoring itself with the rollouts in
//! progress. Its update lives in `update`. It owns the weights, Adam's moments and its random
//! stream; the rollouts belong to whoever feeds it (an agent, or a team's members).

use beanworld_agents::AgentError;
use beanworld_sim::Config;
use beanworld_sim::action::Action;
use burn::module::{Module, ParamId};
use burn::optim::GradientsParams;
use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use burn::store::burn_pack::Tensor as PackTensor;
use burn::store::{ModuleRecord, ModuleSnapshot};
use burn::tensor::{Bytes, TensorData};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::Rng;

use super::{Rollout, Settings, UpdateStats};
use crate::net::{Inputs, Net, Senses, Shape};

/// What a learner's snapshot holds.
#[derive(serde::Serialize, serde::Deserialize)]
struct State<R> {
    name: String,
    /// In RON, so that a setting added later reads as its default in a state saved before it.
    settings: String,
    shape: Shape,
    weights: Vec<u8>,
    adam: Vec<u8>,
    rng: u128,
    updates: u64,
    /// Continual backprop's record of each unit.
    units: crate::mitigate::Utilities,
    /// The running moments of the discounted return (with `reward_scale`).
    returns: super::update::Moments,
    /// The rollouts in progress (one for an agent; per member for a team).
    rollouts: R,
}

/// The PPO network and its training: acting for a batch of observations, and updates over any
/// number of rollouts.
pub struct Learner {
    pub(super) name: String,
    pub(super) settings: Settings,
    pub(super) shape: Shape,
    /// The network being trained (on the autodiff device).
    pub(super) net: Net,
    /// The same weights without autodiff, for acting; refreshed after every update.
    pub(super) acting: Net,
    pub(super) adam: ModuleOptimizer,
    pub(super) rng: ChaCha8Rng,
    pub(super) actions: Vec<Action>,
    /// Updates so far.
    pub(super) updates: u64,
    /// What the last update did (not saved: a report, not state).
    pub(super) last_update: Option<UpdateStats>,
    pub(super) train: Device,
    pub(super) infer: Device,
    /// The weights it started with (made again from the seed, so not saved), which the
    /// diagnostics measure the distance from.
    pub(super) initial: Vec<f32>,
    /// Continual backprop's record of each hidden unit (empty without it).
    pub(super) units: crate::mitigate::Utilities,
    /// The running moments of every stream's discounted return, which `reward_scale` divides
    /// the rewards by the deviation of.
    pub(super) returns: super::update::Moments,
    /// The buffer an update gathers every step of its rollouts into, kept from one update to the
    /// next so that its pages stay mapped (not state: empty between updates).
    pub(super) gathered: Rollout,
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
    ) -> Result<Self, AgentError> {
        let invalid = |message: String| Err(AgentError::Invalid(message));
        if settings.rollout == 0 || settings.minibatch == 0 || settings.epochs == 0 || settings.shards == 0 {
            return invalid("rollout, minibatch, epochs and shards must be at least 1".into());
        }
        if settings.lstm && settings.sequence == 0 {
            return invalid("sequence must be at least 1".into());
        }
        crate::mitigate::check(settings.layer_norm, &settings.redo, &settings.continual_backprop)
            .map_err(AgentError::Invalid)?;
        if !(0.0..1.0).contains(&settings.explore) {
            return invalid(format!("explore must be at least 0 and below 1, not {}", settings.explore));
        }
        if !(0.0..=1.0).contains(&settings.anneal.to) {
            return invalid(format!(
                "anneal's to (the share of the learning rate it falls to) must be from 0 to 1, not {}",
                settings.anneal.to
            ));
        }
        let (mut shape, actions) =
            Shape::for_world(name, config, senses, settings.hidden, settings.reward_aware)?;
        shape.memory = settings.lstm;
        shape.log_scent = settings.log_scent;
        shape.layer_norm = settings.layer_norm;
        let mut rng = beanworld_agents::agent_rng(seed, id, "ppo");
        let (train, infer) = (Device::flex().autodiff(), Device::flex());
        let net = Net::new(&shape, &mut rng, &train);
        let acting = net.valid();
        Ok(Learner {
            name: name.to_string(),
            initial: acting.weights(),
            acting,
            net,
            adam: crate::net::adam(settings.max_grad_norm),
            settings,
            shape,
            rng,
            actions,
            updates: 0,
            last_update: None,
            train,
            infer,
            units: crate::mitigate::Utilities::default(),
            returns: super::update::Moments::default(),
            gathered: Rollout::default(),
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

    /// Every weight of its network, in a fixed order.
    pub fn weights(&self) -> Vec<f32> {
        self.acting.weights()
    }

    /// Its weights as named tensors (`policy.weight`, …; see [`super::checkpoint`]): the newest,
    /// Adam steps of an update under way included.
    pub fn weight_tensors(&self) -> Vec<PackTensor> {
        self.net.collect(None, None, false)
    }

    /// Replaces its weights with `weights` (named as [`Learner::weight_tensors`] names them),
    /// keeping Adam's moments; refuses, changing nothing, weights of another network.
    pub fn set_weights(&mut self, weights: Vec<PackTensor>) -> Result<(), AgentError> {
        if let Some(why) = super::checkpoint::misfit(&self.weight_tensors(), &weights) {
            return Err(AgentError::State(format!("the weights do not fit {}: {why}", self.name)));
        }
        let result = self.net.apply(weights, None, None, false);
        if let Some(e) = result.errors.first() {
            return Err(AgentError::State(format!("cannot set the weights of {}: {e}", self.name)));
        }
        self.acting = self.net.valid();
        Ok(())
    }

    /// Makes its weights (named as [`Learner::set_weights`] takes them) also the ones it started
    /// with, which L2-init pulls toward and the diagnostics measure the distance from: for the
    /// replicas of a data-parallel learner, which all start from one replica's weights.
    pub fn set_initial_weights(&mut self, weights: Vec<PackTensor>) -> Result<(), AgentError> {
        self.set_weights(weights)?;
        self.initial = self.acting.weights();
        Ok(())
    }

    /// `gradients` as named f32 tensors, one per weight, named and shaped as
    /// [`Learner::weight_tensors`] names them (zeros where a weight had no gradient).
    pub fn gradient_tensors(&self, gradients: &GradientsParams) -> Vec<PackTensor> {
        let mut out = Vec::new();
        for t in self.net.collect(None, None, false) {
            let Some(id) = t.param_id.map(ParamId::from) else { continue };
            let shape = t.shape.to_vec();
            let values: Vec<f32> = match shape.len() {
                1 => gradients.get::<1>(id).map(|g| self.read_any(g.into_data())),
                2 => gradients.get::<2>(id).map(|g| self.read_any(g.into_data())),
                // The network's weights are vectors and matrices: another rank is a bug.
                n => panic!("{}: weight {} has {n} dimensions", self.name, t.name),
            }
            .unwrap_or_else(|| vec![0.0; shape.iter().product()]);
            out.push(burn::store::bridge::from_data(TensorData::new(values, shape), t.name, None));
        }
        out
    }

    /// Gradients read from named tensors (as [`Learner::gradient_tensors`] writes them); refuses
    /// tensors that are not one per weight of this network, of its shapes.
    pub fn gradients_from(&self, tensors: Vec<PackTensor>) -> Result<GradientsParams, AgentError> {
        let own = self.net.collect(None, None, false);
        if let Some(why) = super::checkpoint::misfit(&own, &tensors) {
            return Err(AgentError::State(format!("the gradients do not fit {}: {why}", self.name)));
        }
        let mut by_name: std::collections::HashMap<String, PackTensor> =
            tensors.into_iter().map(|t| (t.name.clone(), t)).collect();
        let mut gradients = GradientsParams::new();
        for t in own {
            let (Some(id), Some(g)) = (t.param_id.map(ParamId::from), by_name.remove(&t.name)) else {
                continue;
            };
            let data = burn::store::bridge::into_data(g)
                .map_err(|e| AgentError::State(format!("gradient {}: {e}", t.name)))?;
            let data = data.convert::<f32>();
            match t.shape.len() {
                1 => gradients.register::<1>(id, Tensor::from_data(data, &self.infer)),
                _ => gradients.register::<2>(id, Tensor::from_data(data, &self.infer)),
            }
        }
        Ok(gradients)
    }

    fn read_any(&self, data: TensorData) -> Vec<f32> {
        match data.try_into_vec::<f32>() {
            // A tensor of another element type is a bug, not bad input: stop the run loudly (the
            // runner turns an agent's panic into a clean stop with everything saved).
            Ok(v) => v,
            Err(e) => panic!("{}: {e:?}", self.name),
        }
    }

    /// Updates taken so far.
    pub fn updates(&self) -> u64 {
        self.updates
    }

    /// What the last update did, if one was taken since it was made or loaded.
    pub fn last_update(&self) -> Option<&UpdateStats> {
        self.last_update.as_ref()
    }

    /// What the last update did as a JSON object, once: `None` until the next update.
    pub fn take_update_json(&mut self) -> Option<String> {
        self.last_update.take().and_then(|stats| serde_json::to_string(&stats).ok())
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
        self.read_any(t.into_data())
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

    /// The learner's state with `rollouts`, as bytes (empty if the weights cannot be written).
    pub fn save<R: serde::Serialize>(&self, rollouts: R) -> Vec<u8> {
        let weights = self.net.clone().into_record().into_bytes().map(|b| b.to_vec());
        let adam = crate::net::adam_bytes(&self.adam);
        let settings = ron::to_string(&self.settings);
        let (Ok(weights), Ok(adam), Ok(settings)) = (weights, adam, settings) else { return Vec::new() };
        let state = State {
            name: self.name.clone(),
            settings,
            shape: self.shape,
            weights,
            adam,
            rng: self.rng.get_word_pos(),
            updates: self.updates,
            units: self.units.clone(),
            returns: self.returns,
            rollouts,
        };
        postcard::to_stdvec(&state).unwrap_or_default()
    }

    /// Restores what [`Learner::save`] wrote and returns its rollouts.
    pub fn load<R: serde::de::DeserializeOwned>(&mut self, bytes: &[u8]) -> Result<R, AgentError> {
        let state: State<R> = postcard::from_bytes(bytes)
            .map_err(|e| AgentError::State(format!("not a {} learner's state: {e}", self.name)))?;
        let settings = ron::from_str::<Settings>(&state.settings).ok();
        if state.shape != self.shape || settings.as_ref() != Some(&self.settings) || state.name != self.name {
            return Err(AgentError::State(format!(
                "the saved learner ({}, {:?}) is not this one ({}, {:?})",
                state.name, state.shape, self.name, self.shape
            )));
        }
        let broken = |e: &dyn std::fmt::Display| AgentError::State(e.to_string());
        let record =
            ModuleRecord::from_bytes(Bytes::from_bytes_vec(state.weights)).map_err(|e| broken(&e))?;
        self.net = self.net.clone().try_load_record(record).map_err(|e| broken(&e))?;
        self.acting = self.net.valid();
        self.adam = crate::net::adam(self.settings.max_grad_norm)
            .from_bytes(Bytes::from_bytes_vec(state.adam))
            .map_err(|e| broken(&e))?;
        self.rng.set_word_pos(state.rng);
        self.updates = state.updates;
        self.units = state.units;
        self.returns = state.returns;
        Ok(state.rollouts)
    }
}
