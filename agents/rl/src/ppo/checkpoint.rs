//! Portable checkpoints of a PPO learner: one safetensors file, which any safetensors reader
//! opens (from Python, `safetensors.numpy.load_file` gives numpy arrays).
//!
//! - Every weight of the network is an f32 tensor named by its path in the network
//!   (`policy.weight`, `s1.bias`, …; a linear layer's weight is `[inputs, outputs]`).
//! - `beanworld.state` (u8) is the rest of the learner, in its own format, for an exact
//!   continuation: Adam's moments, its random stream, its update count, the rollouts in progress
//!   (and the weights again, as the optimizer knows them).
//! - The metadata has one entry, `beanworld`: a JSON object [`About`] — the format, the learner's
//!   name, its settings (RON), the network's shape, its streams, and the steps and updates it has
//!   trained for. One entry, because safetensors writes several in no fixed order, and the same
//!   learner must give the same bytes.
//!
//! Loading takes the state if there is one, then the named weights over it: unchanged, they are
//! the state's own and the run continues bit-exactly; changed (weights edited in numpy), they
//! win, and Adam goes on from its moments. A file without the state (weights written from numpy
//! with the metadata of a checkpoint) starts a fresh optimizer from those weights. A network of
//! another shape is refused, naming each tensor that differs.

use std::collections::{BTreeMap, HashMap};

use beanworld_agents::AgentError;
use burn::store::burn_pack::Tensor as PackTensor;
use burn::tensor::{Bytes, DType};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use crate::net::Shape;

/// A named tensor, as weights and gradients travel in and out of a learner.
pub use burn::store::burn_pack::Tensor as NamedTensor;

/// A named f32 tensor of `shape` holding `values` (row-major); or why not, if they do not fill
/// the shape.
pub fn named(name: &str, shape: Vec<usize>, values: Vec<f32>) -> Result<NamedTensor, AgentError> {
    let wanted: usize = shape.iter().product();
    if wanted != values.len() {
        return Err(refused(format!(
            "{name}: a shape of {shape:?} holds {wanted} values, not {}",
            values.len()
        )));
    }
    Ok(burn::store::bridge::from_data(burn::tensor::TensorData::new(values, shape), name.to_string(), None))
}

/// The name, shape and values of a named f32 tensor; or why not, if it is not f32.
pub fn values(tensor: NamedTensor) -> Result<(String, Vec<usize>, Vec<f32>), AgentError> {
    let name = tensor.name.clone();
    let data = burn::store::bridge::into_data(tensor).map_err(|e| refused(format!("{name}: {e}")))?;
    let shape = data.shape().to_vec();
    let values = data.try_into_vec::<f32>().map_err(|e| refused(format!("{name}: {e:?}")))?;
    Ok((name, shape, values))
}

/// XXH3-128 of `weights` (little-endian f32s in the network's order), as hex: what a run's
/// `summary.json` calls `weights_hash`.
pub fn weights_hash(weights: &[f32]) -> String {
    let bytes: Vec<u8> = weights.iter().flat_map(|w| w.to_le_bytes()).collect();
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&bytes))
}

/// The metadata key, and the name of the state tensor.
const KEY: &str = "beanworld";
const STATE: &str = "beanworld.state";
/// What [`About::format`] says.
pub const FORMAT: &str = "beanworld-ppo-checkpoint-2";
/// The format before it, whose learner state held its settings in an earlier layout: its weights
/// and metadata read as ever, its state not at all (a checkpoint of it loads as weights only).
const FORMAT_1: &str = "beanworld-ppo-checkpoint-1";

/// What a checkpoint says about itself (its `beanworld` metadata).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct About {
    /// [`FORMAT`].
    pub format: String,
    /// The learner's name, settings included (`ppo-scent(rollout: 128)`).
    pub learner: String,
    /// Its settings, in RON.
    pub settings: String,
    /// The shapes its network is built for.
    pub shape: Shape,
    /// The streams it acted for when saved.
    pub streams: usize,
    /// Steps of every stream it has trained for, over every run that led to it.
    pub steps: u64,
    /// Updates taken.
    pub updates: u64,
}

/// A checkpoint read back: what it says, its weights by name, and the learner's own state if it
/// has one.
pub struct Checkpoint {
    /// Its metadata.
    pub about: About,
    /// Its weights, named.
    pub weights: Vec<PackTensor>,
    /// The learner's own state (`beanworld.state`), if the file has it.
    pub state: Option<Vec<u8>>,
}

fn refused(message: String) -> AgentError {
    AgentError::State(message)
}

/// The bytes of a checkpoint of `weights` (f32, named), `state` and `about`.
pub fn write(about: &About, weights: Vec<PackTensor>, state: &[u8]) -> Result<Vec<u8>, AgentError> {
    let broken = |e: &dyn std::fmt::Display| refused(format!("cannot write the checkpoint: {e}"));
    let mut owned: BTreeMap<String, (Vec<usize>, Bytes)> = BTreeMap::new();
    for t in weights {
        if t.dtype != DType::F32 {
            return Err(refused(format!("weight {} is {:?}, not f32", t.name, t.dtype)));
        }
        let (name, _, shape, _, bytes) = t.into_parts().map_err(|e| broken(&e))?;
        owned.insert(name, (shape.to_vec(), bytes));
    }
    let mut views: Vec<(String, TensorView<'_>)> = Vec::with_capacity(owned.len() + 1);
    for (name, (shape, bytes)) in &owned {
        views
            .push((name.clone(), TensorView::new(Dtype::F32, shape.clone(), bytes).map_err(|e| broken(&e))?));
    }
    views.push((
        STATE.to_string(),
        TensorView::new(Dtype::U8, vec![state.len()], state).map_err(|e| broken(&e))?,
    ));
    let about = serde_json::to_string(about).map_err(|e| broken(&e))?;
    let metadata = HashMap::from([(KEY.to_string(), about)]);
    safetensors::serialize(views, Some(metadata)).map_err(|e| broken(&e))
}

/// Reads a checkpoint, refusing what is not one (damaged, of another format, without its
/// metadata, or with tensors of a type a learner does not hold). A checkpoint of the format
/// before this one is read without its state.
pub fn read(bytes: &[u8]) -> Result<Checkpoint, AgentError> {
    let file =
        SafeTensors::deserialize(bytes).map_err(|e| refused(format!("not a safetensors file: {e}")))?;
    let (_, metadata) =
        SafeTensors::read_metadata(bytes).map_err(|e| refused(format!("not a safetensors file: {e}")))?;
    let Some(text) = metadata.metadata().as_ref().and_then(|m| m.get(KEY)) else {
        return Err(refused(format!("not a learner checkpoint: its metadata has no \"{KEY}\" entry")));
    };
    let about: About = serde_json::from_str(text)
        .map_err(|e| refused(format!("the checkpoint's \"{KEY}\" metadata: {e}")))?;
    let earlier = about.format == FORMAT_1;
    if about.format != FORMAT && !earlier {
        return Err(refused(format!("the checkpoint is of format \"{}\", not \"{FORMAT}\"", about.format)));
    }
    let mut weights = Vec::new();
    let mut state = None;
    for (name, view) in file.tensors() {
        match (name.as_str(), view.dtype()) {
            (STATE, Dtype::U8) => state = Some(view.data().to_vec()),
            (STATE, other) => return Err(refused(format!("{STATE} is {other:?}, not U8"))),
            (_, Dtype::F32) => {
                let bytes = Bytes::from_bytes_vec(view.data().to_vec());
                weights.push(PackTensor::new(name, DType::F32, view.shape().to_vec(), None, bytes));
            }
            (_, other) => return Err(refused(format!("weight {name} is {other:?}, not F32"))),
        }
    }
    Ok(Checkpoint { about, weights, state: if earlier { None } else { state } })
}

/// Why the weights `given` do not fit a network whose weights are `wanted` (names and shapes), or
/// `None` if they do: every tensor that is missing, unknown, or of another shape.
pub fn misfit(wanted: &[PackTensor], given: &[PackTensor]) -> Option<String> {
    let shapes = |ts: &[PackTensor]| -> BTreeMap<String, Vec<usize>> {
        ts.iter().map(|t| (t.name.clone(), t.shape.to_vec())).collect()
    };
    let (wanted, given) = (shapes(wanted), shapes(given));
    let mut problems = Vec::new();
    for (name, shape) in &wanted {
        match given.get(name) {
            None => problems.push(format!("{name} {shape:?} is missing")),
            Some(s) if s != shape => {
                problems.push(format!("{name} is {s:?} in the checkpoint, {shape:?} here"))
            }
            Some(_) => {}
        }
    }
    problems.extend(
        given
            .keys()
            .filter(|n| !wanted.contains_key(*n))
            .map(|n| format!("{n} is not a weight of this network")),
    );
    (!problems.is_empty()).then(|| problems.join("; "))
}
