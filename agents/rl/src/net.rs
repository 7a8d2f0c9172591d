//! The actor-critic network of the paper's experiments (spec §10.4): a small convolutional encoder for vision (3×3 stride 2, C→16 channels, then 2×2, 16→16, then
//! dense to `H`), an MLP for scent (dense to 32, then to `H`), GELU activations, and the sign of
//! `moved`; policy logits and a value read off their concatenation. A reward-aware network also
//! reads the task — the coefficients of the reward function in force — through a dense layer to
//! 8 (the paper's reward embedding). With a memory, an LSTM core reads those features and the
//! heads read its output beside them, as in the paper. A burn module; its weights are drawn from the agent's own
//! random stream, so a run is reproducible.

use beanworld_agents::{AgentError, Observation};
use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::{gelu, sigmoid};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::Rng;

/// What the network looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Senses {
    /// The vision window only.
    Vision,
    /// The scent vector only.
    Scent,
    /// Both.
    Both,
}

impl Senses {
    /// Whether vision is used.
    pub fn vision(self) -> bool {
        self != Senses::Scent
    }

    /// Whether scent is used.
    pub fn scent(self) -> bool {
        self != Senses::Vision
    }
}

/// The shapes a network is built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shape {
    /// Vision window side `2R + 1`.
    pub side: usize,
    /// Colour channels `C`.
    pub channels: usize,
    /// Scent channels `S`.
    pub scent: usize,
    /// Hidden width `H`.
    pub hidden: usize,
    /// Actions.
    pub actions: usize,
    /// What it looks at.
    pub senses: Senses,
    /// Task coefficients per row (0 if the network is not reward-aware).
    pub task: usize,
    /// Whether it has an LSTM core (whose state is `H` outputs and `H` cells).
    pub memory: bool,
}

/// Width of the reward embedding (spec §10.4).
const TASK_EMBEDDING: usize = 8;

impl Shape {
    /// The shape of a network with `hidden` units that `name` builds for a world of `config`,
    /// looking with `senses` (and at the task if `reward_aware`), with the actions the world
    /// allows (in the order of its outputs); or why no such network can learn there.
    pub fn for_world(
        name: &str,
        config: &beanworld_sim::Config,
        senses: Senses,
        hidden: usize,
        reward_aware: bool,
    ) -> Result<(Shape, Vec<beanworld_sim::action::Action>), AgentError> {
        let actions = beanworld_agents::allowed_actions(config);
        if actions.is_empty() {
            return Err(AgentError::World("the scenario allows no action to learn".into()));
        }
        let side = 2 * config.vision.range as usize + 1;
        if senses.vision() && side < 5 {
            return Err(AgentError::World(format!(
                "{name} needs a vision range of at least 2 (its convolutions), not {}",
                config.vision.range
            )));
        }
        let shape = Shape {
            side,
            channels: config.vision.color_dimension,
            scent: config.scent.dimension,
            hidden,
            actions: actions.len(),
            senses,
            task: if reward_aware {
                beanworld_sim::task::Reward::coefficients_len(config.items.len())
            } else {
                0
            },
            memory: false,
        };
        Ok((shape, actions))
    }

    /// Features after the second convolution, flattened (256 for R = 5, 784 for R = 8).
    pub fn conv_features(&self) -> usize {
        let first = self.side.saturating_sub(3) / 2 + 1;
        16 * first.saturating_sub(1).pow(2)
    }

    /// Vision floats per row (0 if vision is not used).
    pub fn vision_len(&self) -> usize {
        if self.senses.vision() { self.channels * self.side * self.side } else { 0 }
    }

    /// Scent floats per row (0 if scent is not used).
    pub fn scent_len(&self) -> usize {
        if self.senses.scent() { self.scent } else { 0 }
    }

    /// Width of the features: each sense's encoding, `moved`, the task's embedding.
    fn features(&self) -> usize {
        self.hidden * (usize::from(self.senses.vision()) + usize::from(self.senses.scent()))
            + 1
            + if self.task > 0 { TASK_EMBEDDING } else { 0 }
    }

    /// Width of what the heads read: the features, and the LSTM's output if it has one.
    fn trunk(&self) -> usize {
        self.features() + if self.memory { self.hidden } else { 0 }
    }

    /// Floats of recurrent state per agent: the LSTM's output, then its cells (0 without one).
    pub fn memory_len(&self) -> usize {
        if self.memory { 2 * self.hidden } else { 0 }
    }
}

/// The network.
#[derive(Module, Debug)]
pub struct Net {
    c1: Option<Conv2d>,
    c2: Option<Conv2d>,
    vision: Option<Linear>,
    s1: Option<Linear>,
    s2: Option<Linear>,
    task: Option<Linear>,
    core: Option<Core>,
    policy: Linear,
    value: Linear,
}

/// `n` values uniform within ±`bound`, from `rng`.
fn draw(rng: &mut ChaCha8Rng, n: usize, bound: f32) -> Vec<f32> {
    (0..n).map(|_| ((rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0) * bound).collect()
}

fn linear(rng: &mut ChaCha8Rng, inputs: usize, outputs: usize, scale: f32, device: &Device) -> Linear {
    let bound = scale / (inputs.max(1) as f32).sqrt();
    let mut layer = LinearConfig::new(inputs, outputs).init(device);
    layer.weight = Param::from_tensor(Tensor::from_data(
        TensorData::new(draw(rng, inputs * outputs, bound), [inputs, outputs]),
        device,
    ));
    layer.bias = Some(Param::from_tensor(Tensor::from_data(
        TensorData::new(draw(rng, outputs, bound), [outputs]),
        device,
    )));
    layer
}

fn conv(rng: &mut ChaCha8Rng, inputs: usize, kernel: usize, stride: usize, device: &Device) -> Conv2d {
    let fan_in = inputs * kernel * kernel;
    let bound = 1.0 / (fan_in as f32).sqrt();
    let mut layer =
        Conv2dConfig::new([inputs, 16], [kernel, kernel]).with_stride([stride, stride]).init(device);
    let weights = TensorData::new(draw(rng, 16 * fan_in, bound), [16, inputs, kernel, kernel]);
    layer.weight = Param::from_tensor(Tensor::from_data(weights, device));
    layer.bias =
        Some(Param::from_tensor(Tensor::from_data(TensorData::new(draw(rng, 16, bound), [16]), device)));
    layer
}

impl Net {
    /// A network for `shape` on `device`, its weights uniform within ±1/√fan-in from `rng` (the
    /// policy head a hundred times smaller, so that the first policy is nearly uniform).
    pub fn new(shape: &Shape, rng: &mut ChaCha8Rng, device: &Device) -> Self {
        let h = shape.hidden;
        let (c1, c2, vision) = if shape.senses.vision() {
            (
                Some(conv(rng, shape.channels, 3, 2, device)),
                Some(conv(rng, 16, 2, 1, device)),
                Some(linear(rng, shape.conv_features(), h, 1.0, device)),
            )
        } else {
            (None, None, None)
        };
        let (s1, s2) = if shape.senses.scent() {
            (Some(linear(rng, shape.scent, 32, 1.0, device)), Some(linear(rng, 32, h, 1.0, device)))
        } else {
            (None, None)
        };
        let task = (shape.task > 0).then(|| linear(rng, shape.task, TASK_EMBEDDING, 1.0, device));
        let core = shape.memory.then(|| Core::new(rng, shape.features(), shape.hidden, device));
        let policy = linear(rng, shape.trunk(), shape.actions, 0.01, device);
        let value = linear(rng, shape.trunk(), 1, 1.0, device);
        Net { c1, c2, vision, s1, s2, task, core, policy, value }
    }

    /// Policy logits `[B, A]` and values `[B, 1]` for a batch of inputs (a network without a
    /// memory).
    pub fn forward(&self, x: Tensors) -> (Tensor<2>, Tensor<2>) {
        self.heads(self.features(x))
    }

    /// Policy logits, values and the new recurrent state for one step of `B` agents whose state
    /// before it is `memory` `[B, 2H]` (outputs, then cells).
    pub fn forward_step(&self, x: Tensors, memory: Tensor<2>) -> (Tensor<2>, Tensor<2>, Tensor<2>) {
        let features = self.features(x);
        let Some(core) = &self.core else {
            let (logits, values) = self.heads(features);
            return (logits, values, memory);
        };
        let h = memory.clone().narrow(1, 0, core.hidden);
        let c = memory.narrow(1, core.hidden, core.hidden);
        let (h, c) = core.step(features.clone(), h, c);
        let (logits, values) = self.heads(Tensor::cat(vec![features, h.clone()], 1));
        (logits, values, Tensor::cat(vec![h, c], 1))
    }

    /// Policy logits `[S·L, A]` and values `[S·L, 1]` for `S` sequences of `L` = `steps` steps
    /// each, the rows of `x` sequence after sequence, each sequence starting from its row of
    /// `memory` `[S, 2H]`: backpropagation through time over the `L` steps.
    pub fn forward_sequences(&self, x: Tensors, memory: Tensor<2>, steps: usize) -> (Tensor<2>, Tensor<2>) {
        let features = self.features(x);
        let Some(core) = &self.core else { return self.heads(features) };
        let [rows, width] = features.dims();
        let sequences = rows / steps.max(1);
        let by_step = features.clone().reshape([sequences, steps, width]);
        let mut h = memory.clone().narrow(1, 0, core.hidden);
        let mut c = memory.narrow(1, core.hidden, core.hidden);
        let mut outputs = Vec::with_capacity(steps);
        for t in 0..steps {
            let x_t = by_step.clone().narrow(1, t, 1).reshape([sequences, width]);
            (h, c) = core.step(x_t, h, c);
            outputs.push(h.clone());
        }
        let outputs: Tensor<3> = Tensor::stack(outputs, 1);
        let outputs = outputs.reshape([rows, core.hidden]);
        self.heads(Tensor::cat(vec![features, outputs], 1))
    }

    /// The features the heads (and the LSTM) read, `[B, features]`.
    fn features(&self, x: Tensors) -> Tensor<2> {
        let Tensors { vision, scent, moved, task } = x;
        let mut parts = Vec::with_capacity(4);
        if let (Some(t), Some(dense)) = (task, &self.task) {
            parts.push(gelu(dense.forward(t)));
        }
        if let (Some(v), Some(c1), Some(c2), Some(dense)) = (vision, &self.c1, &self.c2, &self.vision) {
            let x = gelu(c2.forward(gelu(c1.forward(v))));
            parts.push(gelu(dense.forward(x.flatten(1, 3))));
        }
        if let (Some(s), Some(s1), Some(s2)) = (scent, &self.s1, &self.s2) {
            parts.push(gelu(s2.forward(gelu(s1.forward(s)))));
        }
        parts.push(moved);
        Tensor::cat(parts, 1)
    }

    fn heads(&self, z: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        (self.policy.forward(z.clone()), self.value.forward(z))
    }
}

/// An LSTM cell (spec §10.4): gates `x·Wx + h·Wh + b` in the order input, candidate, forget,
/// output; `c' = c·σ(f) + σ(i)·tanh(g)`, `h' = tanh(c')·σ(o)`. Its output is `h'` (the paper's
/// code returns `c'`, unbounded; `h'` is the usual choice and keeps the heads' inputs in ±1).
#[derive(Module, Debug)]
pub struct Core {
    input: Linear,
    recurrent: Linear,
    hidden: usize,
}

impl Core {
    fn new(rng: &mut ChaCha8Rng, inputs: usize, hidden: usize, device: &Device) -> Self {
        let input = linear(rng, inputs, 4 * hidden, 1.0, device);
        let mut recurrent = linear(rng, hidden, 4 * hidden, 1.0, device);
        recurrent.bias = None;
        Core { input, recurrent, hidden }
    }

    /// One step for a batch: the new outputs and cells.
    fn step(&self, x: Tensor<2>, h: Tensor<2>, c: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let gates = self.input.forward(x) + self.recurrent.forward(h);
        let n = self.hidden;
        let gate = |k: usize| gates.clone().narrow(1, k * n, n);
        let (i, g, f, o) = (sigmoid(gate(0)), gate(1).tanh(), sigmoid(gate(2)), sigmoid(gate(3)));
        let c = c * f + i * g;
        (c.clone().tanh() * o, c)
    }
}

/// A batch of inputs as tensors: vision `[B, C, side, side]`, scent `[B, S]`, `2·moved − 1`
/// `[B, 1]` and task coefficients `[B, T]` (the parts the network does not read are `None`).
pub struct Tensors {
    /// Vision, channels first.
    pub vision: Option<Tensor<4>>,
    /// Scent.
    pub scent: Option<Tensor<2>>,
    /// The sign of `moved`.
    pub moved: Tensor<2>,
    /// The task's coefficients.
    pub task: Option<Tensor<2>>,
}

/// Observations as the network reads them, one row after another: vision channels first
/// (`[C][side][side]`), then scent, then `2·moved − 1`, then the task's coefficients. Rollouts
/// and replay buffers are built of these.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Inputs {
    /// Vision rows, `C·side·side` floats each (empty if vision is not used).
    pub vision: Vec<f32>,
    /// Scent rows, `S` floats each (empty if scent is not used).
    pub scent: Vec<f32>,
    /// One float per row.
    pub moved: Vec<f32>,
    /// Task rows, `T` floats each (empty if the network is not reward-aware).
    pub task: Vec<f32>,
}

impl Inputs {
    /// Rows held.
    pub fn len(&self) -> usize {
        self.moved.len()
    }

    /// Whether it holds no row.
    pub fn is_empty(&self) -> bool {
        self.moved.is_empty()
    }

    /// Appends `observation` as one row (a missing part reads as zeros).
    pub fn push(&mut self, shape: &Shape, observation: &Observation<'_>) {
        if shape.senses.vision() {
            let (s, c) = (shape.side, shape.channels);
            for ch in 0..c {
                for k in 0..s * s {
                    self.vision.push(observation.vision.get(k * c + ch).copied().unwrap_or(0.0));
                }
            }
        }
        if shape.senses.scent() {
            self.scent.extend((0..shape.scent).map(|i| observation.scent.get(i).copied().unwrap_or(0.0)));
        }
        self.moved.push(if observation.moved { 1.0 } else { -1.0 });
        self.task.extend((0..shape.task).map(|i| observation.task.get(i).copied().unwrap_or(0.0)));
    }

    /// Appends row `k` of `other`.
    pub fn push_row(&mut self, shape: &Shape, other: &Inputs, k: usize) {
        let (v, s) = (shape.vision_len(), shape.scent_len());
        self.vision.extend_from_slice(&other.vision[k * v..(k + 1) * v]);
        self.scent.extend_from_slice(&other.scent[k * s..(k + 1) * s]);
        self.moved.push(other.moved[k]);
        let t = shape.task;
        self.task.extend_from_slice(&other.task[k * t..(k + 1) * t]);
    }

    /// Overwrites row `k` with row `from` of `other`.
    pub fn set_row(&mut self, shape: &Shape, k: usize, other: &Inputs, from: usize) {
        let (v, s) = (shape.vision_len(), shape.scent_len());
        self.vision[k * v..(k + 1) * v].copy_from_slice(&other.vision[from * v..(from + 1) * v]);
        self.scent[k * s..(k + 1) * s].copy_from_slice(&other.scent[from * s..(from + 1) * s]);
        self.moved[k] = other.moved[from];
        let t = shape.task;
        self.task[k * t..(k + 1) * t].copy_from_slice(&other.task[from * t..(from + 1) * t]);
    }

    /// Forgets the last row.
    pub fn pop(&mut self, shape: &Shape) {
        self.vision.truncate(self.vision.len().saturating_sub(shape.vision_len()));
        self.scent.truncate(self.scent.len().saturating_sub(shape.scent_len()));
        self.moved.pop();
        self.task.truncate(self.task.len().saturating_sub(shape.task));
    }

    /// Forgets every row.
    pub fn clear(&mut self) {
        self.vision.clear();
        self.scent.clear();
        self.moved.clear();
        self.task.clear();
    }

    /// The rows as the network's inputs on `device`.
    pub fn tensors(&self, shape: &Shape, device: &Device) -> Tensors {
        let n = self.len();
        let vision = shape.senses.vision().then(|| {
            Tensor::from_data(
                TensorData::new(self.vision.clone(), [n, shape.channels, shape.side, shape.side]),
                device,
            )
        });
        let scent = shape
            .senses
            .scent()
            .then(|| Tensor::from_data(TensorData::new(self.scent.clone(), [n, shape.scent]), device));
        let moved = Tensor::from_data(TensorData::new(self.moved.clone(), [n, 1]), device);
        let task = (shape.task > 0)
            .then(|| Tensor::from_data(TensorData::new(self.task.clone(), [n, shape.task]), device));
        Tensors { vision, scent, moved, task }
    }
}

/// Adam with the global gradient norm clipped to `max_grad_norm`, as both learners train.
pub fn adam(max_grad_norm: f64) -> burn::optim::ModuleOptimizer {
    burn::optim::AdamConfig::new()
        .with_grad_clipping(Some(burn::grad_clipping::GradientClippingConfig::Norm(max_grad_norm as f32)))
        .init()
}
