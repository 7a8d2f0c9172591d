//! Plasticity mitigations: ways to keep a network able to learn that continual-learning papers
//! propose, each a learner setting, off by default.
//!
//! - shrink-and-perturb (Ash & Adams 2020, "On warm-starting neural network training"): every
//!   so often each weight `w` becomes `shrink·w + perturb·w'`, with `w'` the same weight of a
//!   freshly initialised network; the paper's values are shrink 0.4 and perturb 0.1, applied
//!   when new data arrive. A stream has no such moments, so here it is every `every` updates.

use beanworld_agents::AgentError;
use burn::store::burn_pack::Tensor as PackTensor;
use burn::tensor::{Bytes, DType};

/// Shrink-and-perturb's settings (`shrink_perturb: (every: 100)` turns it on with the paper's
/// shrink and perturb).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShrinkPerturb {
    /// Updates between two applications; 0: never (the default).
    pub every: u64,
    /// What each weight is multiplied by.
    pub shrink: f32,
    /// What the fresh network's weight is multiplied by before it is added.
    pub perturb: f32,
}

impl Default for ShrinkPerturb {
    fn default() -> Self {
        ShrinkPerturb { every: 0, shrink: 0.4, perturb: 0.1 }
    }
}

/// `shrink·w + perturb·f` for every weight `w` of `weights` and `f` of `fresh` (the same names
/// and shapes: a network and a fresh one of its shape).
pub fn shrink_perturb(
    weights: Vec<PackTensor>,
    fresh: Vec<PackTensor>,
    shrink: f32,
    perturb: f32,
) -> Result<Vec<PackTensor>, AgentError> {
    let broken = |e: &dyn std::fmt::Display| AgentError::State(format!("shrink-and-perturb: {e}"));
    let mut fresh: std::collections::BTreeMap<String, (Vec<usize>, Bytes)> = fresh
        .into_iter()
        .map(|t| t.into_parts().map(|(name, _, shape, _, bytes)| (name, (shape.to_vec(), bytes))))
        .collect::<Result<_, _>>()
        .map_err(|e| broken(&e))?;
    let mut out = Vec::with_capacity(fresh.len());
    for t in weights {
        let (name, _, shape, _, bytes) = t.into_parts().map_err(|e| broken(&e))?;
        let Some((fresh_shape, noise)) = fresh.remove(&name) else {
            return Err(broken(&format!("the fresh network has no {name}")));
        };
        if fresh_shape != shape.to_vec() || noise.len() != bytes.len() {
            return Err(broken(&format!("{name} is {shape:?} here, {fresh_shape:?} in the fresh network")));
        }
        let mixed: Vec<u8> = bytes
            .chunks_exact(4)
            .zip(noise.chunks_exact(4))
            .flat_map(|(w, f)| {
                let (w, f) = (
                    f32::from_le_bytes([w[0], w[1], w[2], w[3]]),
                    f32::from_le_bytes([f[0], f[1], f[2], f[3]]),
                );
                (shrink * w + perturb * f).to_le_bytes()
            })
            .collect();
        out.push(PackTensor::new(name, DType::F32, shape.to_vec(), None, Bytes::from_bytes_vec(mixed)));
    }
    Ok(out)
}
