//! DQN, learning online for as long as the run lasts: ε-greedy acting, a replay buffer of the
//! most recent steps, n-step returns, a target network refreshed on a fixed cadence, double-DQN
//! targets and a duelling head (the network's value head plus its centred action head). The run
//! is one endless stream of steps, so there are no terminal states: every target bootstraps.
//!
//! The replay buffer is a ring of observation rows; step `j`'s transition is row `j`, its action,
//! the rewards of steps `j … j+n−1` and row `j+n`, so each observation is stored once. The whole
//! learner — both networks, Adam's moments, the ring, its random stream — is its snapshot state.
//!
//! It takes the plasticity mitigations of [`crate::mitigate`] as PPO does, each off by default,
//! on the online network (the target network takes them in at its next refresh). Its "update"
//! is an Adam step: ReDo and shrink-and-perturb count their `every` in Adam steps, and ReDo finds
//! dormant units on the newest steps of the replay ring, as the diagnostics do. Continual
//! backprop tests its units at each refresh of the target network, as if their outputs then had
//! been seen at each Adam step since the last test.

use beanworld_agents::{Agent, AgentError, Needs, Observation};
use beanworld_sim::Config;
use beanworld_sim::action::Action;
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Int, TensorData};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::Rng;

use crate::net::{Inputs, Net, Senses, Shape, Tensors};

/// DQN's settings.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Hidden width `H`.
    pub hidden: usize,
    /// Steps the replay buffer holds.
    pub replay: usize,
    /// Transitions per Adam step.
    pub batch: usize,
    /// Steps summed before bootstrapping (`n` of the n-step return).
    pub n_step: usize,
    /// Discount γ.
    pub discount: f32,
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// Steps between Adam steps.
    pub train_every: u64,
    /// Steps before the first Adam step.
    pub warmup: u64,
    /// Steps between copies of the online network into the target network.
    pub target_every: u64,
    /// ε at the start.
    pub epsilon_start: f32,
    /// ε after `epsilon_steps` steps, and from then on (the world keeps changing, so exploration
    /// never stops).
    pub epsilon_end: f32,
    /// Steps over which ε falls linearly.
    pub epsilon_steps: u64,
    /// Largest global gradient norm.
    pub max_grad_norm: f64,
    /// Whether the network also reads the task (the reward function in force), so that one
    /// network can hold a policy for each task a schedule switches between (spec §10.4's
    /// reward-aware network).
    pub reward_aware: bool,
    /// Shrink-and-perturb, every `every` Adam steps (as PPO's `shrink_perturb`).
    pub shrink_perturb: crate::mitigate::ShrinkPerturb,
    /// L2-init's λ (as PPO's `l2_init`); 0 for none.
    pub l2_init: f32,
    /// ReDo, every `every` Adam steps (as PPO's `redo`).
    pub redo: crate::mitigate::Redo,
    /// LayerNorm in the torso (as PPO's `layer_norm`).
    pub layer_norm: bool,
    /// Continual backprop (as PPO's `continual_backprop`), its units tested at each refresh of
    /// the target network.
    pub continual_backprop: crate::mitigate::ContinualBackprop,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            hidden: 64,
            replay: 16_384,
            batch: 64,
            n_step: 3,
            discount: 0.99,
            learning_rate: 2.5e-4,
            train_every: 4,
            warmup: 2_000,
            target_every: 2_000,
            epsilon_start: 1.0,
            epsilon_end: 0.05,
            epsilon_steps: 50_000,
            max_grad_norm: 10.0,
            reward_aware: false,
            shrink_perturb: crate::mitigate::ShrinkPerturb::default(),
            l2_init: 0.0,
            redo: crate::mitigate::Redo::default(),
            layer_norm: false,
            continual_backprop: crate::mitigate::ContinualBackprop::default(),
        }
    }
}

/// The replay ring: row `j` of the stream lives at `j % capacity`.
#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
struct Replay {
    rows: Inputs,
    actions: Vec<u32>,
    rewards: Vec<f32>,
    /// Rows stored so far (observations acted on).
    stored: u64,
    /// Rewards received so far.
    rewarded: u64,
}

/// What a snapshot holds.
#[derive(serde::Serialize, serde::Deserialize)]
struct State {
    name: String,
    settings: Settings,
    shape: Shape,
    weights: Vec<u8>,
    target: Vec<u8>,
    adam: Vec<u8>,
    rng: u128,
    replay: Replay,
    updates: u64,
    since_report: Since,
    /// Continual backprop's record of each unit, and the Adam steps at its last test.
    units: crate::mitigate::Utilities,
    tested: u64,
}

/// What the Adam steps since the last report add up to; reported, and cleared, with each
/// refresh of the target network ([`Agent::take_report`]).
#[derive(Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
struct Since {
    adam_steps: u64,
    /// Sums over those steps of the batch's mean Huber loss and mean n-step target.
    loss: f64,
    target: f64,
    /// Whether the target network was refreshed since the last report.
    refreshed: bool,
    /// Hidden units ReDo recycled and continual backprop replaced.
    recycled: u64,
    replaced: u64,
}

/// A DQN learner.
pub struct Dqn {
    name: String,
    settings: Settings,
    shape: Shape,
    /// The network being trained (on the autodiff device).
    net: Net,
    /// The same weights without autodiff, for acting and for choosing targets' actions.
    acting: Net,
    /// The weights it started with (made again from the seed, so not saved): the diagnostics
    /// measure the distance from them.
    initial: Vec<f32>,
    /// The target network.
    target: Net,
    adam: ModuleOptimizer,
    rng: ChaCha8Rng,
    actions: Vec<Action>,
    replay: Replay,
    updates: u64,
    since_report: Since,
    /// Continual backprop's record of each hidden unit (empty without it), and the Adam steps
    /// taken at its last test.
    units: crate::mitigate::Utilities,
    tested: u64,
    /// Whether it learns no more ([`Agent::freeze`]).
    frozen: bool,
    /// Scratch rows: one observation; a batch's rows and their successors.
    one: Inputs,
    now: Inputs,
    next: Inputs,
    train: Device,
    infer: Device,
}

fn optimizer(settings: &Settings) -> ModuleOptimizer {
    crate::net::adam(settings.max_grad_norm)
}

/// Q-values from the duelling heads: `V + A − mean(A)`.
fn q_values(net: &Net, inputs: Tensors) -> Tensor<2> {
    let (advantage, value) = net.forward(inputs);
    let mean = advantage.clone().mean_dim(1);
    advantage - mean + value
}

fn read(t: Tensor<2>) -> Vec<f32> {
    match t.into_data().try_into_vec::<f32>() {
        Ok(v) => v,
        // A tensor of another element type is a bug here, not bad input: stop loudly (the
        // runner turns an agent's panic into a clean stop with everything saved).
        Err(e) => panic!("dqn: {e:?}"),
    }
}

impl Dqn {
    /// A learner named `name` for `config`, looking with `senses`, its weights and exploration
    /// drawn from a stream keyed by the world seed and its id.
    pub fn new(
        name: &str,
        config: &Config,
        senses: Senses,
        settings: Settings,
        id: u32,
        seed: u64,
    ) -> Result<Self, AgentError> {
        let invalid = |message: String| Err(AgentError::Invalid(message));
        if settings.batch == 0
            || settings.n_step == 0
            || settings.train_every == 0
            || settings.target_every == 0
        {
            return invalid("batch, n_step, train_every and target_every must be at least 1".into());
        }
        if settings.replay <= settings.n_step {
            return invalid(format!(
                "the replay buffer ({}) must hold more than n_step steps",
                settings.replay
            ));
        }
        crate::mitigate::check(settings.layer_norm, &settings.redo, &settings.continual_backprop)
            .map_err(AgentError::Invalid)?;
        let (mut shape, actions) =
            Shape::for_world(name, config, senses, settings.hidden, settings.reward_aware)?;
        shape.layer_norm = settings.layer_norm;
        let mut rng = beanworld_agents::agent_rng(seed, id, "dqn");
        let (train, infer) = (Device::flex().autodiff(), Device::flex());
        let net = Net::new(&shape, &mut rng, &train);
        Ok(Dqn {
            name: name.to_string(),
            initial: net.valid().weights(),
            acting: net.valid(),
            target: net.valid(),
            net,
            adam: optimizer(&settings),
            settings,
            shape,
            rng,
            actions,
            replay: Replay::default(),
            updates: 0,
            since_report: Since::default(),
            units: crate::mitigate::Utilities::default(),
            tested: 0,
            frozen: false,
            one: Inputs::default(),
            now: Inputs::default(),
            next: Inputs::default(),
            train,
            infer,
        })
    }

    /// Adam steps taken so far.
    pub fn updates(&self) -> u64 {
        self.updates
    }

    /// ε after `steps` steps.
    fn epsilon(&self, steps: u64) -> f32 {
        let s = &self.settings;
        let done = (steps as f32 / s.epsilon_steps.max(1) as f32).min(1.0);
        s.epsilon_start + (s.epsilon_end - s.epsilon_start) * done
    }

    /// A uniform draw in `[0, 1)`.
    fn uniform(&mut self) -> f32 {
        (self.rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32
    }

    /// A uniform draw in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.rng.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// One Adam step on a batch drawn from the ring.
    fn train_step(&mut self) {
        let s = self.settings.clone();
        let (cap, n) = (s.replay as u64, s.n_step as u64);
        let r = &self.replay;
        // Row j is usable when it has not been overwritten and row j+n is stored.
        let (lo, hi) = (r.stored.saturating_sub(cap), r.stored.saturating_sub(n + 1));
        if hi < lo {
            return;
        }
        let (mut now, mut next) = (std::mem::take(&mut self.now), std::mem::take(&mut self.next));
        now.clear();
        next.clear();
        let mut taken = Vec::with_capacity(s.batch);
        let mut returns = Vec::with_capacity(s.batch);
        for _ in 0..s.batch {
            let j = lo + self.below(hi - lo + 1);
            let r = &self.replay;
            now.push_row(&self.shape, &r.rows, (j % cap) as usize);
            next.push_row(&self.shape, &r.rows, ((j + n) % cap) as usize);
            taken.push(i64::from(r.actions[(j % cap) as usize]));
            let mut g = 0.0;
            for k in (0..n).rev() {
                g = r.rewards[((j + k) % cap) as usize] + s.discount * g;
            }
            returns.push(g);
        }
        let b = s.batch;
        // Double DQN: the online network picks the next action, the target network values it.
        let online_next = read(q_values(&self.acting, next.tensors(&self.shape, &self.infer)));
        let target_next = read(q_values(&self.target, next.tensors(&self.shape, &self.infer)));
        let a = self.shape.actions;
        let bootstrap = s.discount.powi(s.n_step as i32);
        for (k, g) in returns.iter_mut().enumerate() {
            let row = &online_next[k * a..(k + 1) * a];
            let best = (0..a).fold(0, |best, i| if row[i] > row[best] { i } else { best });
            *g += bootstrap * target_next[k * a + best];
        }
        let dev = self.train.clone();
        let q = q_values(&self.net, now.tensors(&self.shape, &dev));
        let taken = Tensor::<2, Int>::from_data(TensorData::new(taken, [b, 1]), &dev);
        let chosen = q.gather(1, taken).reshape([b]);
        self.since_report.target += returns.iter().map(|&g| f64::from(g)).sum::<f64>() / b as f64;
        let y = Tensor::<1>::from_data(TensorData::new(returns, [b]), &dev);
        // Huber loss: quadratic within 1 of the target, linear beyond.
        let error = (chosen - y).abs();
        let inner = error.clone().clamp_max(1.0);
        let mut loss = (inner.clone().powi_scalar(2).mul_scalar(0.5) + error - inner).mean();
        self.since_report.loss += f64::from(loss.clone().detach().into_scalar::<f32>());
        if s.l2_init > 0.0
            && let Some(distance) = self.net.squared_distance(&self.initial)
        {
            loss = loss + distance.mul_scalar(s.l2_init);
        }
        self.since_report.adam_steps += 1;
        let grads = GradientsParams::from_grads(loss.backward(), &self.net);
        self.net = self.adam.step(s.learning_rate, self.net.clone(), grads);
        self.acting = self.net.valid();
        self.updates += 1;
        (self.now, self.next) = (now, next);
        if s.shrink_perturb.every > 0 && self.updates.is_multiple_of(s.shrink_perturb.every) {
            self.network().shrink_perturb(&s.shrink_perturb);
        }
        if s.redo.every > 0 && self.updates.is_multiple_of(s.redo.every) {
            let recent = self.recent();
            self.since_report.recycled += self.network().redo(&recent, s.redo.tau) as u64;
        }
    }

    /// Continual backprop's test of the units, after the Adam steps since the last.
    fn continual_backprop(&mut self) {
        let steps = self.updates - self.tested;
        if self.settings.continual_backprop.replacement_rate > 0.0 && steps > 0 {
            let (recent, settings) = (self.recent(), self.settings.continual_backprop.clone());
            self.since_report.replaced += self.network().continual_backprop(&recent, steps, &settings) as u64;
            self.tested = self.updates;
        }
    }

    /// The newest rows of the replay ring, up to [`crate::diagnose::PROBE_ROWS`], newest first:
    /// what the diagnostics and the mitigations measure the units on (saved with the learner, so
    /// a restored one measures the same).
    fn recent(&self) -> Inputs {
        let (r, cap) = (&self.replay, self.settings.replay as u64);
        let mut recent = Inputs::default();
        for k in 1..=r.stored.min(cap).min(crate::diagnose::PROBE_ROWS as u64) {
            recent.push_row(&self.shape, &r.rows, ((r.stored - k) % cap) as usize);
        }
        recent
    }

    /// Its online network as the mitigations ([`crate::mitigate`]) change it.
    fn network(&mut self) -> crate::mitigate::Network<'_> {
        crate::mitigate::Network {
            name: &self.name,
            shape: &self.shape,
            net: &mut self.net,
            acting: &mut self.acting,
            rng: &mut self.rng,
            units: &mut self.units,
            infer: &self.infer,
        }
    }

    /// Every weight of its online network, in a fixed order.
    pub fn weights(&self) -> Vec<f32> {
        self.acting.weights()
    }

    /// Its state, or `None` if the weights cannot be written.
    fn save_state(&self) -> Option<State> {
        let bytes = |net: Net| net.into_record().into_bytes().map(|b| b.to_vec()).ok();
        Some(State {
            name: self.name.clone(),
            settings: self.settings.clone(),
            shape: self.shape,
            weights: bytes(self.net.clone())?,
            target: bytes(self.target.clone())?,
            adam: crate::net::adam_bytes(&self.adam).ok()?,
            rng: self.rng.get_word_pos(),
            replay: self.replay.clone(),
            updates: self.updates,
            since_report: self.since_report,
            units: self.units.clone(),
            tested: self.tested,
        })
    }
}

impl Agent for Dqn {
    fn name(&self) -> &str {
        &self.name
    }

    fn needs(&self) -> Needs {
        let senses = self.shape.senses;
        Needs { vision: senses.vision(), scent: senses.scent() }
    }

    fn act(&mut self, observation: &Observation<'_>) -> Action {
        let cap = self.settings.replay as u64;
        let r = &mut self.replay;
        // The last action's reward never came (a caller that did not call `learn`): that row
        // is overwritten rather than paired with the wrong reward.
        r.stored = r.stored.min(r.rewarded);
        let explore = self.epsilon(self.replay.stored);
        let k = if self.uniform() < explore {
            self.below(self.actions.len() as u64) as usize
        } else {
            let mut one = std::mem::take(&mut self.one);
            one.clear();
            one.push(&self.shape, observation);
            let q = read(q_values(&self.acting, one.tensors(&self.shape, &self.infer)));
            self.one = one;
            (0..q.len()).fold(0, |best, i| if q[i] > q[best] { i } else { best })
        };
        let r = &mut self.replay;
        let at = (r.stored % cap) as usize;
        self.one.clear();
        self.one.push(&self.shape, observation);
        if at < r.rows.len() {
            r.rows.set_row(&self.shape, at, &self.one, 0);
            r.actions[at] = k as u32;
        } else {
            r.rows.push_row(&self.shape, &self.one, 0);
            r.actions.push(k as u32);
            r.rewards.push(0.0);
        }
        r.stored += 1;
        self.actions[k]
    }

    fn learn(&mut self, _previous: Action, observation: &Observation<'_>) {
        if self.frozen {
            return; // (the next action's row overwrites the unrewarded one)
        }
        let r = &mut self.replay;
        if r.rewarded >= r.stored {
            return; // (nothing pending: a reward for an action it did not choose)
        }
        let cap = self.settings.replay as u64;
        r.rewards[(r.rewarded % cap) as usize] = observation.reward;
        r.rewarded += 1;
        let steps = r.rewarded;
        let s = &self.settings;
        if steps >= s.warmup && steps.is_multiple_of(s.train_every) {
            self.train_step();
        }
        if steps.is_multiple_of(self.settings.target_every) {
            self.continual_backprop();
            self.target = self.net.valid();
            self.since_report.refreshed = true;
        }
    }

    fn save(&self) -> Vec<u8> {
        match self.save_state() {
            Some(state) => postcard::to_stdvec(&state).unwrap_or_default(),
            None => Vec::new(),
        }
    }

    fn load(&mut self, bytes: &[u8]) -> Result<(), AgentError> {
        let state: State = postcard::from_bytes(bytes)
            .map_err(|e| AgentError::State(format!("not a DQN learner's state: {e}")))?;
        if state.shape != self.shape || state.settings != self.settings || state.name != self.name {
            return Err(AgentError::State(format!(
                "the saved learner ({}, {:?}) is not this one ({}, {:?})",
                state.name, state.shape, self.name, self.shape
            )));
        }
        let broken = |e: &dyn std::fmt::Display| AgentError::State(e.to_string());
        let record =
            |bytes: Vec<u8>| ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes)).map_err(|e| broken(&e));
        self.net = self.net.clone().try_load_record(record(state.weights)?).map_err(|e| broken(&e))?;
        self.acting = self.net.valid();
        let target = self.net.clone().try_load_record(record(state.target)?).map_err(|e| broken(&e))?;
        self.target = target.valid();
        self.adam = optimizer(&self.settings)
            .from_bytes(Bytes::from_bytes_vec(state.adam))
            .map_err(|e| broken(&e))?;
        self.rng.set_word_pos(state.rng);
        self.replay = state.replay;
        self.updates = state.updates;
        self.since_report = state.since_report;
        self.units = state.units;
        self.tested = state.tested;
        Ok(())
    }

    fn freeze(&mut self) -> bool {
        self.frozen = true;
        true
    }

    /// With each refresh of the target network: the Adam steps taken so far, ε, the mean Huber
    /// loss and n-step target over the Adam steps since the last report (none during the
    /// warm-up), the units the mitigations recycled or replaced since (where they are on), and the
    /// plasticity diagnostics on the newest steps of the replay buffer.
    fn take_report(&mut self) -> Option<String> {
        let since = self.since_report;
        if !since.refreshed || since.adam_steps == 0 {
            self.since_report.refreshed = false;
            return None;
        }
        self.since_report = Since::default();
        let n = since.adam_steps as f64;
        let mut report = serde_json::json!({
            "updates": self.updates,
            "adam_steps": since.adam_steps,
            "epsilon": self.epsilon(self.replay.stored),
            "learning_rate": self.settings.learning_rate,
            "loss": since.loss / n,
            "target": since.target / n,
        });
        let s = &self.settings;
        if let Some(report) = report.as_object_mut() {
            if s.redo.every > 0 {
                report.insert("recycled".into(), since.recycled.into());
            }
            if s.continual_backprop.replacement_rate > 0.0 {
                report.insert("replaced".into(), since.replaced.into());
            }
        }
        let recent = self.recent();
        let diagnostics =
            crate::diagnose::of_net(&self.acting, &self.shape, &recent, &self.initial, &self.infer);
        if let (Some(report), Ok(serde_json::Value::Object(d))) =
            (report.as_object_mut(), serde_json::to_value(diagnostics))
        {
            report.extend(d);
        }
        Some(report.to_string())
    }
}
