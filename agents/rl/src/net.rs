//! The actor-critic network of the paper's experiments (spec §10.4): a small convolutional encoder for vision (3×3 stride 2, C→16 channels, then 2×2, 16→16, then
//! dense to `H`; each convolution computed as one matrix product over the windows it reads, so
//! a batch of any size is a few large products rather than many small loops), an MLP for scent (dense to 32, then to `H`), GELU activations, and the sign of
//! `moved`; policy logits and a value read off their concatenation. A reward-aware network also
//! reads the task — the coefficients of the reward function in force — through a dense layer to
//! 8 (the paper's reward embedding). With a memory, an LSTM core reads those features and the
//! heads read its output beside them, as in the paper. A burn module; its weights are drawn from the agent's own
//! random stream, so a run is reproducible.

use beanworld_agents::{AgentError, Observation};
use burn::module::Param;
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::sigmoid;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::Rng;

use crate::gelu::gelu;

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
    /// Whether scent is read as `sign(s)·ln(1 + |s|)` (see the PPO setting `log_scent`).
    pub log_scent: bool,
    /// Whether each hidden layer normalises its units' inputs before its activation (see the
    /// PPO setting `layer_norm`).
    #[serde(default)]
    pub layer_norm: bool,
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
            log_scent: false,
            layer_norm: false,
        };
        Ok((shape, actions))
    }

    /// Side of the first convolution's output (5 for R = 5).
    fn first_side(&self) -> usize {
        self.side.saturating_sub(3) / 2 + 1
    }

    /// The weight rows that read unit `unit` of the hidden layer `layer` (named as
    /// [`Net::activations`] names them): `(tensor, row)`, the tensors named as in checkpoints.
    pub fn readers(&self, layer: &str, unit: usize) -> Vec<(&'static str, usize)> {
        let task = if self.task > 0 { TASK_EMBEDDING } else { 0 };
        let vision = if self.senses.vision() { self.hidden } else { 0 };
        let heads = |offset: usize| {
            let mut rows = vec![("policy.weight", offset + unit), ("value.weight", offset + unit)];
            if self.memory {
                rows.push(("core.input.weight", offset + unit));
            }
            rows
        };
        match layer {
            "task" => heads(0),
            "vision" => heads(task),
            "s2" => heads(task + vision),
            "s1" => vec![("s2.weight", unit)],
            // The second convolution reads four shifted views of the first's 16 channels.
            "c1" => (0..4).map(|view| ("c2.weight", view * 16 + unit)).collect(),
            // The dense layer reads every position's 16 channels.
            "c2" => (0..self.conv_features() / 16).map(|at| ("vision.weight", at * 16 + unit)).collect(),
            _ => Vec::new(),
        }
    }

    /// Features after the second convolution, flattened (256 for R = 5, 784 for R = 8).
    pub fn conv_features(&self) -> usize {
        16 * self.first_side().saturating_sub(1).pow(2)
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
    /// The convolutions, as products over the windows they read: `[3·3·C, 16]` and
    /// `[2·2·16, 16]`, rows in window order (row, column, channel).
    c1: Option<Linear>,
    c2: Option<Linear>,
    /// Side of the first convolution's output.
    first_side: usize,
    vision: Option<Linear>,
    s1: Option<Linear>,
    s2: Option<Linear>,
    task: Option<Linear>,
    core: Option<Core>,
    policy: Linear,
    value: Linear,
    /// With `layer_norm`: a normalisation of each hidden layer's inputs to its activation.
    norms: Option<Norms>,
}

/// The layer normalisations of the hidden layers (Lyle et al. 2024), by the layer they serve.
#[derive(Module, Debug)]
pub struct Norms {
    task: Option<LayerNorm>,
    c1: Option<LayerNorm>,
    c2: Option<LayerNorm>,
    vision: Option<LayerNorm>,
    s1: Option<LayerNorm>,
    s2: Option<LayerNorm>,
}

/// `gelu(layer(x))`, normalised before the activation if `norm` is there.
fn hidden(layer: &Linear, norm: Option<&LayerNorm>, x: Tensor<2>) -> Tensor<2> {
    let z = layer.forward(x);
    gelu(match norm {
        Some(n) => n.forward(z),
        None => z,
    })
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

/// A convolution of `inputs` channels to 16 with a `kernel`-square window, as a [`Linear`] over
/// the windows (rows in window order: row, column, channel); its weights drawn as a convolution's
/// `[16][inputs][kernel][kernel]`, uniform within ±1/√fan-in.
fn conv(rng: &mut ChaCha8Rng, inputs: usize, kernel: usize, device: &Device) -> Linear {
    let fan_in = inputs * kernel * kernel;
    let bound = 1.0 / (fan_in as f32).sqrt();
    let drawn = draw(rng, 16 * fan_in, bound);
    let mut weights = vec![0.0; 16 * fan_in];
    for (i, w) in drawn.into_iter().enumerate() {
        let (o, c, ky, kx) = (i / fan_in, i / (kernel * kernel) % inputs, i / kernel % kernel, i % kernel);
        weights[((ky * kernel + kx) * inputs + c) * 16 + o] = w;
    }
    let mut layer = LinearConfig::new(fan_in, 16).init(device);
    layer.weight = Param::from_tensor(Tensor::from_data(TensorData::new(weights, [fan_in, 16]), device));
    layer.bias =
        Some(Param::from_tensor(Tensor::from_data(TensorData::new(draw(rng, 16, bound), [16]), device)));
    layer
}

/// Gives every parameter of a network its place in the order of the fields as its id (1, 2, …).
/// burn draws a parameter's id at random in each process, and its records name what they hold by
/// id (the weights' record, and Adam's moments): numbered, the same learner saves the same bytes
/// in any process.
struct NumberParameters(u64);

impl burn::module::ModuleMapper for NumberParameters {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        self.0 += 1;
        let (_, tensor, mapper) = param.consume();
        Param::from_mapped_value(burn::module::ParamId::from(self.0), tensor, mapper)
    }
}

impl Net {
    /// A network for `shape` on `device`, its weights uniform within ±1/√fan-in from `rng` (the
    /// policy head a hundred times smaller, so that the first policy is nearly uniform).
    pub fn new(shape: &Shape, rng: &mut ChaCha8Rng, device: &Device) -> Self {
        let h = shape.hidden;
        let (c1, c2, vision) = if shape.senses.vision() {
            (
                Some(conv(rng, shape.channels, 3, device)),
                Some(conv(rng, 16, 2, device)),
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
        let norm = |on: bool, width: usize| on.then(|| LayerNormConfig::new(width).init(device));
        let norms = shape.layer_norm.then(|| Norms {
            task: norm(task.is_some(), TASK_EMBEDDING),
            c1: norm(c1.is_some(), 16),
            c2: norm(c2.is_some(), 16),
            vision: norm(vision.is_some(), h),
            s1: norm(s1.is_some(), 32),
            s2: norm(s2.is_some(), h),
        });
        let net =
            Net { c1, c2, first_side: shape.first_side(), vision, s1, s2, task, core, policy, value, norms };
        net.map(&mut NumberParameters(0))
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
        self.features_seen(x, &mut None)
    }

    /// The output of each hidden layer before the heads for a batch, by layer name (`task`,
    /// `c1` and `c2` — a row per position of each window, a column per channel — `vision`,
    /// `s1`, `s2`), and the features the heads read, `[B, features]` (without an LSTM's
    /// output): what the plasticity diagnostics look at.
    pub fn activations(&self, x: Tensors) -> (Vec<(&'static str, Tensor<2>)>, Tensor<2>) {
        let mut layers = Some(Vec::with_capacity(6));
        let features = self.features_seen(x, &mut layers);
        (layers.unwrap_or_default(), features)
    }

    /// [`Net::features`], keeping each hidden layer's output in `layers` if it is `Some`.
    fn features_seen(&self, x: Tensors, layers: &mut Option<Vec<(&'static str, Tensor<2>)>>) -> Tensor<2> {
        let mut seen = |name: &'static str, t: Tensor<2>| {
            if let Some(layers) = layers.as_mut() {
                layers.push((name, t.clone()));
            }
            t
        };
        let Tensors { vision, scent, moved, task } = x;
        let mut parts = Vec::with_capacity(4);
        if let (Some(t), Some(dense)) = (task, &self.task) {
            parts.push(seen("task", hidden(dense, self.norm(|n| &n.task), t)));
        }
        if let (Some(windows), Some(c1), Some(c2), Some(dense)) = (vision, &self.c1, &self.c2, &self.vision) {
            // The first convolution over its windows ([B·f·f, 9C] → [B, f, f, 16]); the second
            // over the four shifted views of that (2×2 windows, [B·g·g, 64]); flattened.
            let (b, f) = (moved.dims()[0], self.first_side);
            let g = f.saturating_sub(1);
            let first = seen("c1", hidden(c1, self.norm(|n| &n.c1), windows)).reshape([b, f, f, 16]);
            let shifted: Vec<Tensor<4>> = [(0, 0), (0, 1), (1, 0), (1, 1)]
                .into_iter()
                .map(|(dy, dx)| first.clone().narrow(1, dy, g).narrow(2, dx, g))
                .collect();
            let second = seen(
                "c2",
                hidden(c2, self.norm(|n| &n.c2), Tensor::cat(shifted, 3).reshape([b * g * g, 64])),
            );
            parts.push(seen(
                "vision",
                hidden(dense, self.norm(|n| &n.vision), second.reshape([b, g * g * 16])),
            ));
        }
        if let (Some(s), Some(s1), Some(s2)) = (scent, &self.s1, &self.s2) {
            let first = seen("s1", hidden(s1, self.norm(|n| &n.s1), s));
            parts.push(seen("s2", hidden(s2, self.norm(|n| &n.s2), first)));
        }
        parts.push(moved);
        Tensor::cat(parts, 1)
    }

    /// The normalisation `which` picks, if the network has them.
    fn norm(&self, which: impl Fn(&Norms) -> &Option<LayerNorm>) -> Option<&LayerNorm> {
        self.norms.as_ref().and_then(|n| which(n).as_ref())
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

/// A batch of inputs as tensors: vision as the first convolution's windows `[B·f·f, 3·3·C]`
/// (row by row of the output, each window row, column, channel), scent `[B, S]`, `2·moved − 1`
/// `[B, 1]` and task coefficients `[B, T]` (the parts the network does not read are `None`).
pub struct Tensors {
    /// Vision, as the first convolution's windows.
    pub vision: Option<Tensor<2>>,
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
            let values = (0..shape.scent).map(|i| observation.scent.get(i).copied().unwrap_or(0.0));
            if shape.log_scent {
                self.scent.extend(values.map(|s| s.signum() * s.abs().ln_1p()));
            } else {
                self.scent.extend(values);
            }
        }
        self.moved.push(if observation.moved { 1.0 } else { -1.0 });
        self.task.extend((0..shape.task).map(|i| observation.task.get(i).copied().unwrap_or(0.0)));
    }

    /// Makes room for `rows` more rows without growing.
    pub fn reserve(&mut self, shape: &Shape, rows: usize) {
        self.vision.reserve(rows * shape.vision_len());
        self.scent.reserve(rows * shape.scent_len());
        self.moved.reserve(rows);
        self.task.reserve(rows * shape.task);
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

    /// The first convolution's windows of every row's vision: 3×3 windows at stride 2, each
    /// window's cells row by row and each cell's channels.
    fn windows(&self, shape: &Shape) -> Vec<f32> {
        let (side, c, f) = (shape.side, shape.channels, shape.first_side());
        let per_row = side * side * c;
        let mut out = Vec::with_capacity(self.len() * f * f * 9 * c);
        for image in self.vision.chunks_exact(per_row) {
            for oy in 0..f {
                for ox in 0..f {
                    for ky in 0..3 {
                        for kx in 0..3 {
                            let cell = (2 * oy + ky) * side + 2 * ox + kx;
                            out.extend((0..c).map(|ch| image[ch * side * side + cell]));
                        }
                    }
                }
            }
        }
        out
    }

    /// The rows as the network's inputs on `device`.
    pub fn tensors(&self, shape: &Shape, device: &Device) -> Tensors {
        let n = self.len();
        let vision = shape.senses.vision().then(|| {
            let windows = self.windows(shape);
            let rows = windows.len() / (9 * shape.channels);
            Tensor::from_data(TensorData::new(windows, [rows, 9 * shape.channels]), device)
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

impl Net {
    /// Every weight, parameter after parameter in the order of the fields, as floats.
    pub fn weights(&self) -> Vec<f32> {
        struct Collect(Vec<f32>);
        impl burn::module::ModuleVisitor for Collect {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                if let Ok(v) = param.val().into_data().try_to_vec::<f32>() {
                    self.0.extend(v);
                }
            }
        }
        let mut collect = Collect(Vec::new());
        self.visit(&mut collect);
        collect.0
    }
}

impl Net {
    /// `Σ (w − w₀)²` over every weight `w` and its value `w₀` in `from` (as [`Net::weights`]
    /// orders them), on the device of the weights, differentiable: L2-init's penalty.
    pub fn squared_distance(&self, from: &[f32]) -> Option<Tensor<1>> {
        struct Sum<'a> {
            from: &'a [f32],
            at: usize,
            sum: Option<Tensor<1>>,
        }
        impl burn::module::ModuleVisitor for Sum<'_> {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                let p = param.val();
                let n = p.shape().num_elements();
                let Some(w0) = self.from.get(self.at..self.at + n) else { return };
                self.at += n;
                let w0 = Tensor::<1>::from_data(TensorData::new(w0.to_vec(), [n]), &p.device());
                let d = (p.reshape([n]) - w0).powi_scalar(2).sum();
                self.sum = Some(match self.sum.take() {
                    Some(s) => s + d,
                    None => d,
                });
            }
        }
        let mut sum = Sum { from, at: 0, sum: None };
        self.visit(&mut sum);
        sum.sum
    }
}

/// Adam with each parameter tensor's gradient norm clipped to `max_grad_norm` (burn's `Norm`
/// clipping scales each tensor on its own, not all of them by one factor as PyTorch's
/// `clip_grad_norm_` does; with one global clip at the same bound the reward-aware switching
/// bandit of `tests/learning.rs` no longer learns within its steps).
pub fn adam(max_grad_norm: f64) -> burn::optim::ModuleOptimizer {
    burn::optim::AdamConfig::new()
        .with_grad_clipping(Some(burn::grad_clipping::GradientClippingConfig::Norm(max_grad_norm as f32)))
        .init()
}

/// Adam's state as bytes that depend on its contents alone. burn writes the moments in the order
/// of a hash map, which differs from process to process; read back, they come in the order of
/// their names (the parameter's number, then the moment), and are written again in that order.
pub fn adam_bytes(adam: &burn::optim::ModuleOptimizer) -> Result<Vec<u8>, String> {
    use burn::store::burn_pack::{Reader, Writer};
    let bytes = adam.into_bytes().map_err(|e| e.to_string())?;
    let reader = Reader::from_bytes(bytes).map_err(|e| e.to_string())?;
    let (scalars, metadata) = (reader.scalars().clone(), reader.metadata().clone());
    let mut writer = Writer::new(reader.into_tensors().map_err(|e| e.to_string())?);
    for (key, value) in &scalars {
        writer = writer.with_scalar(key, *value);
    }
    for (key, value) in &metadata {
        writer = writer.with_metadata(key, value);
    }
    writer.into_bytes().map(|b| b.to_vec()).map_err(|e| e.to_string())
}

/// A copy of `net` whose weights are new leaves of the autodiff graph (the same values and
/// parameter ids): its forward and backward passes share no graph with the original's, so the
/// two can run on two threads at once.
pub fn with_own_leaves(net: &Net) -> Net {
    struct Leaves;
    impl burn::module::ModuleMapper for Leaves {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            param.map(|t| t.detach().require_grad())
        }
    }
    net.clone().map(&mut Leaves)
}

/// Adds `more` into `into`, parameter by parameter of `net` (a parameter only one of them has
/// a gradient for keeps that one).
pub fn add_gradients(net: &Net, into: &mut GradientsParams, mut more: GradientsParams) {
    struct Add<'a> {
        into: &'a mut GradientsParams,
        more: &'a mut GradientsParams,
    }
    impl burn::module::ModuleVisitor for Add<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let Some(g) = self.more.remove::<D>(param.id) else { return };
            let sum = match self.into.remove::<D>(param.id) {
                Some(a) => a + g,
                None => g,
            };
            self.into.register::<D>(param.id, sum);
        }
    }
    net.visit(&mut Add { into, more: &mut more });
}

/// The global L2 norm of `grads` over every parameter of `net` (before any clipping).
pub fn grad_norm<M: Module>(net: &M, grads: &GradientsParams) -> f64 {
    struct SumSquares<'a> {
        grads: &'a GradientsParams,
        sum: f64,
    }
    impl burn::module::ModuleVisitor for SumSquares<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.get::<D>(param.id) {
                self.sum += f64::from(g.square().sum().into_scalar::<f32>());
            }
        }
    }
    let mut squares = SumSquares { grads, sum: 0.0 };
    net.visit(&mut squares);
    squares.sum.sqrt()
}

#[cfg(test)]
mod tests {
    use burn::tensor::module::conv2d;
    use burn::tensor::ops::ConvOptions;

    use super::*;

    /// A convolution's weights `[16, inputs, k, k]` from a [`conv`] layer's `[k·k·inputs, 16]`.
    fn as_convolution(layer: &Linear, inputs: usize, k: usize) -> Tensor<4> {
        layer.weight.val().reshape([k, k, inputs, 16]).permute([3, 2, 0, 1])
    }

    /// A network shape with vision (a 9-cell window of 3 colours), 3 scents and 8 units, 3 actions.
    fn small(task: usize, memory: bool, layer_norm: bool) -> Shape {
        Shape {
            side: 9,
            channels: 3,
            scent: 3,
            hidden: 8,
            actions: 3,
            senses: Senses::Both,
            task,
            memory,
            log_scent: false,
            layer_norm,
        }
    }

    /// `n` rows of inputs for `shape`, each value uniform within ±`scale`.
    fn random_rows(shape: &Shape, n: usize, scale: f32) -> Inputs {
        use rand_chacha::rand_core::SeedableRng;
        let mut rows = Inputs::default();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for _ in 0..n {
            rows.vision.extend(draw(&mut rng, shape.vision_len(), scale));
            rows.scent.extend(draw(&mut rng, shape.scent, scale));
            rows.moved.push(1.0);
            rows.task.extend(draw(&mut rng, shape.task, scale));
        }
        rows
    }

    #[test]
    fn a_dead_unit_recycled_leaves_what_the_network_computes_as_it_was() {
        use burn::store::ModuleSnapshot;
        use burn::store::burn_pack::Tensor as PackTensor;
        use rand_chacha::rand_core::SeedableRng;
        // Vision, scent, the task and an LSTM: every layer ReDo knows, every reader of each.
        let shape = small(5, true, false);
        let device = Device::flex();
        let net = |seed: u64| Net::new(&shape, &mut ChaCha8Rng::seed_from_u64(seed), &device);
        let zeros = |ts: Vec<PackTensor>| -> Vec<PackTensor> {
            ts.into_iter()
                .map(|t| {
                    let (name, dtype, shape, _, bytes) = t.into_parts().expect("parts");
                    PackTensor::new(
                        name,
                        dtype,
                        shape.to_vec(),
                        None,
                        burn::tensor::Bytes::from_bytes_vec(vec![0; bytes.len()]),
                    )
                })
                .collect()
        };
        let rows = random_rows(&shape, 4, 1.0);
        let outputs = |net: &Net| {
            let memory = Tensor::<2>::zeros([4, shape.memory_len()], &device);
            let (logits, values, memory) = net.forward_step(rows.tensors(&shape, &device), memory);
            let v = |t: Tensor<2>| t.into_data().try_into_vec::<f32>().expect("f32");
            (v(logits), v(values), v(memory))
        };
        for layer in ["task", "c1", "c2", "vision", "s1", "s2"] {
            let unit = vec![(layer.to_string(), 3)];
            // Unit 3 killed: no input, no bias (GELU(0) = 0 wherever it is read).
            let dead = crate::mitigate::recycle(
                net(1).collect(None, None, false),
                zeros(net(2).collect(None, None, false)),
                &unit,
                |_, _| Vec::new(),
            )
            .expect("killed");
            let mut before = net(1);
            before.apply(dead.clone(), None, None, false);
            // Recycled: fresh inputs, and whatever reads it reads 0.
            let recycled =
                crate::mitigate::recycle(dead, net(3).collect(None, None, false), &unit, |l, u| {
                    shape.readers(l, u)
                })
                .expect("recycled");
            let mut after = net(1);
            after.apply(recycled, None, None, false);
            assert!(outputs(&before) == outputs(&after), "{layer}: the outputs changed");
            // Its outputs were read, too: without zeroing the readers, they change.
            let unread = crate::mitigate::recycle(
                before.collect(None, None, false),
                net(3).collect(None, None, false),
                &unit,
                |_, _| Vec::new(),
            )
            .expect("revived");
            let mut revived = net(1);
            revived.apply(unread, None, None, false);
            assert!(outputs(&before) != outputs(&revived), "{layer}: the unit is read by nothing");
        }
    }

    #[test]
    fn a_unit_of_constant_output_replaced_by_continual_backprop_changes_nothing_downstream() {
        use burn::store::ModuleSnapshot;
        use burn::store::burn_pack::Tensor as PackTensor;
        use rand_chacha::rand_core::SeedableRng;
        let shape = small(5, true, false);
        let device = Device::flex();
        let net = |seed: u64| Net::new(&shape, &mut ChaCha8Rng::seed_from_u64(seed), &device);
        let rows = random_rows(&shape, 4, 1.0);
        let outputs = |weights: Vec<PackTensor>| {
            let mut net = net(1);
            net.apply(weights, None, None, false);
            let memory = Tensor::<2>::zeros([4, shape.memory_len()], &device);
            let (logits, values, memory) = net.forward_step(rows.tensors(&shape, &device), memory);
            let v = |t: Tensor<2>| t.into_data().try_into_vec::<f32>().expect("f32");
            [v(logits), v(values), v(memory)].concat()
        };
        let largest_change =
            |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
        for layer in ["task", "c1", "c2", "vision", "s1", "s2"] {
            // Unit 3 reads nothing and has bias 1: it outputs GELU(1) wherever it is.
            let constant: Vec<PackTensor> = net(1)
                .collect(None, None, false)
                .into_iter()
                .map(|t| {
                    let (name, dtype, dims, _, bytes) = t.into_parts().expect("parts");
                    let mut v: Vec<f32> =
                        bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
                    let width = *dims.last().unwrap_or(&1);
                    if name == format!("{layer}.weight") {
                        v.iter_mut().skip(3).step_by(width).for_each(|w| *w = 0.0);
                    } else if name == format!("{layer}.bias") {
                        v[3] = 1.0;
                    }
                    let bytes = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                    PackTensor::new(
                        name,
                        dtype,
                        dims.to_vec(),
                        None,
                        burn::tensor::Bytes::from_bytes_vec(bytes),
                    )
                })
                .collect();
            let gelu_1 = 0.841_344_7;
            let replace = |mean: f32| {
                let unit = [(layer.to_string(), 3, mean)];
                let fresh = net(3).collect(None, None, false);
                crate::mitigate::replace_units(constant.clone(), fresh, &unit, |l, u| shape.readers(l, u))
                    .expect("replaced")
            };
            let before = outputs(constant.clone());
            // Its mean output moved into its readers' biases: the outputs are as they were.
            let change = largest_change(&before, &outputs(replace(gelu_1)));
            assert!(change < 1e-5, "{layer}: the outputs moved by {change}");
            // Without that, they move.
            let change = largest_change(&before, &outputs(replace(0.0)));
            assert!(change > 1e-3, "{layer}: the unit's output was read by nothing ({change})");
        }
    }

    #[test]
    fn layer_norm_keeps_the_features_in_scale_whatever_the_inputs() {
        use rand_chacha::rand_core::SeedableRng;
        let norm_of_features = |layer_norm: bool, scale: f32| {
            let shape = small(0, false, layer_norm);
            let device = Device::flex();
            let net = Net::new(&shape, &mut ChaCha8Rng::seed_from_u64(1), &device);
            let rows = random_rows(&shape, 4, scale);
            let (_, features) = net.activations(rows.tensors(&shape, &device));
            let v = features.into_data().try_into_vec::<f32>().expect("f32");
            v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt()
        };
        // Inputs a thousand times larger: the features grow with them, unless each layer is
        // normalised, when they stay where they were.
        let (plain, normed) = (
            norm_of_features(false, 1000.0) / norm_of_features(false, 1.0),
            norm_of_features(true, 1000.0) / norm_of_features(true, 1.0),
        );
        assert!(plain > 100.0, "without: ×{plain}");
        assert!((0.5..2.0).contains(&normed), "with: ×{normed}");
    }

    #[test]
    fn log_scent_reads_each_value_as_its_signed_log() {
        let mut shape = Shape {
            side: 5,
            channels: 3,
            scent: 3,
            hidden: 8,
            actions: 3,
            senses: Senses::Scent,
            task: 0,
            memory: false,
            log_scent: false,
            layer_norm: false,
        };
        let scent = [0.0, 54.0, -1.0];
        let observation = Observation {
            id: 0,
            step: 0,
            scent: &scent,
            vision: &[],
            moved: true,
            inventory: &[],
            reward: 0.0,
            task: &[],
        };
        let mut raw = Inputs::default();
        raw.push(&shape, &observation);
        assert_eq!(raw.scent, scent);
        shape.log_scent = true;
        let mut logged = Inputs::default();
        logged.push(&shape, &observation);
        assert_eq!(logged.scent, [0.0, 55f32.ln(), -(2f32.ln())]);
    }

    #[test]
    fn the_convolutions_as_products_are_burns_convolutions() {
        let shape = Shape {
            side: 11,
            channels: 3,
            scent: 3,
            hidden: 8,
            actions: 3,
            senses: Senses::Vision,
            task: 0,
            memory: false,
            log_scent: false,
            layer_norm: false,
        };
        let device = Device::flex();
        let mut rng = beanworld_agents::agent_rng(3, 0, "conv");
        let net = Net::new(&shape, &mut rng, &device);
        let rows = 3;
        let inputs = Inputs {
            vision: draw(&mut rng, rows * shape.vision_len(), 1.0),
            moved: vec![1.0, -1.0, 1.0],
            ..Inputs::default()
        };
        let got = net.features(inputs.tensors(&shape, &device));

        let (Some(c1), Some(c2), Some(dense)) = (&net.c1, &net.c2, &net.vision) else { panic!("vision") };
        let x = Tensor::<4>::from_data(TensorData::new(inputs.vision.clone(), [rows, 3, 11, 11]), &device);
        let bias = |l: &Linear| l.bias.as_ref().map(|b| b.val());
        // burn's own GELU and convolutions, as the reference.
        use burn::tensor::activation::gelu;
        let h1 =
            gelu(conv2d(x, as_convolution(c1, 3, 3), bias(c1), ConvOptions::new([2, 2], [0, 0], [1, 1], 1)));
        let h2 = gelu(conv2d(
            h1,
            as_convolution(c2, 16, 2),
            bias(c2),
            ConvOptions::new([1, 1], [0, 0], [1, 1], 1),
        ));
        assert_eq!(h2.dims(), [rows, 16, 4, 4]);
        let flat = h2.permute([0, 2, 3, 1]).reshape([rows, 256]);
        let moved = Tensor::<2>::from_data(TensorData::new(inputs.moved.clone(), [rows, 1]), &device);
        let want = Tensor::cat(vec![gelu(dense.forward(flat)), moved], 1);

        let (got, want) = (
            got.into_data().try_to_vec::<f32>().expect("f32"),
            want.into_data().try_to_vec::<f32>().expect("f32"),
        );
        assert_eq!(got.len(), want.len());
        let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst < 1e-5, "largest difference {worst}");
        assert!(want.iter().any(|v| v.abs() > 0.1), "not all near zero");
    }
}
