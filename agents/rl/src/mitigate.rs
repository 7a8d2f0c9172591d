//! Plasticity mitigations: ways to keep a network able to learn that continual-learning papers
//! propose, each a learner setting, off by default.
//!
//! - shrink-and-perturb (Ash & Adams 2020, "On warm-starting neural network training"): every
//!   so often each weight `w` becomes `shrink·w + perturb·w'`, with `w'` the same weight of a
//!   freshly initialised network; shrink 0.4 and perturb 0.1 by default (as implementations
//!   following the paper's reference code have them), applied in the paper when new data
//!   arrive. A stream has no such moments, so here it is every `every` updates;
//! - ReDo (Sokar et al. 2023, "The dormant neuron phenomenon in deep reinforcement learning"):
//!   every so often each τ-dormant hidden unit ([`crate::diagnose`]) is recycled: its incoming
//!   weights and bias are drawn afresh and the weights that read it are set to 0, so it can
//!   learn again, changing what the network computes only by what the nearly silent unit
//!   gave (nothing for a dead one). Adam's moments of those weights are kept.

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

/// ReDo's settings (`redo: (every: 10)` turns it on).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Redo {
    /// Updates between two recyclings; 0: never (the default).
    pub every: u64,
    /// A unit whose score is at most this is dormant (as the diagnostics' `dormant_0.1`).
    pub tau: f64,
}

impl Default for Redo {
    fn default() -> Self {
        Redo { every: 0, tau: 0.1 }
    }
}

/// Weights by name: shape and values.
type Named = std::collections::BTreeMap<String, (Vec<usize>, Vec<f32>)>;

/// `tensors` by name, as floats (`what` names the mitigation in an error).
fn open(tensors: Vec<PackTensor>, what: &str) -> Result<Named, AgentError> {
    let floats = |b: &[u8]| -> Vec<f32> {
        b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
    };
    tensors
        .into_iter()
        .map(|t| t.into_parts().map(|(name, _, shape, _, bytes)| (name, (shape.to_vec(), floats(&bytes)))))
        .collect::<Result<_, _>>()
        .map_err(|e| AgentError::State(format!("{what}: {e}")))
}

/// The tensors of `named`, back as f32 tensors.
fn close(named: Named) -> Vec<PackTensor> {
    named
        .into_iter()
        .map(|(name, (shape, v))| {
            let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
            PackTensor::new(name, DType::F32, shape, None, Bytes::from_bytes_vec(bytes))
        })
        .collect()
}

/// `weights` with each unit of `units` (`(layer, unit)`) recycled: its incoming weights (the
/// unit's column of `LAYER.weight`) and bias (`LAYER.bias`) taken from `fresh`, and the rows
/// that read it (`readers(layer, unit)`) set to 0.
pub fn recycle(
    weights: Vec<PackTensor>,
    fresh: Vec<PackTensor>,
    units: &[(String, usize)],
    readers: impl Fn(&str, usize) -> Vec<(&'static str, usize)>,
) -> Result<Vec<PackTensor>, AgentError> {
    let missing = |name: &str| AgentError::State(format!("ReDo: no {name}"));
    let (mut w, f) = (open(weights, "ReDo")?, open(fresh, "ReDo")?);
    for (layer, unit) in units {
        for part in ["weight", "bias"] {
            let name = format!("{layer}.{part}");
            let (Some((shape, to)), Some((_, from))) = (w.get_mut(&name), f.get(&name)) else {
                return Err(missing(&name));
            };
            // A weight is [inputs, outputs]: the unit's column; a bias: its entry.
            let outputs = *shape.last().unwrap_or(&1);
            for k in (*unit..to.len().min(from.len())).step_by(outputs.max(1)) {
                to[k] = from[k];
            }
        }
        for (name, row) in readers(layer, *unit) {
            let Some((shape, to)) = w.get_mut(name) else { return Err(missing(name)) };
            let width = *shape.last().unwrap_or(&1);
            if let Some(r) = to.get_mut(row * width..(row + 1) * width) {
                r.fill(0.0);
            }
        }
    }
    Ok(close(w))
}

/// `shrink·w + perturb·f` for every weight `w` of `weights` and `f` of `fresh` (the same names
/// and shapes: a network and a fresh one of its shape).
pub fn shrink_perturb(
    weights: Vec<PackTensor>,
    fresh: Vec<PackTensor>,
    shrink: f32,
    perturb: f32,
) -> Result<Vec<PackTensor>, AgentError> {
    let what = "shrink-and-perturb";
    let (mut w, f) = (open(weights, what)?, open(fresh, what)?);
    for (name, (shape, values)) in &mut w {
        let Some((_, noise)) = f.get(name).filter(|(s, v)| s == shape && v.len() == values.len()) else {
            return Err(AgentError::State(format!("{what}: {name} {shape:?} is not in the fresh network")));
        };
        for (x, n) in values.iter_mut().zip(noise) {
            *x = shrink * *x + perturb * n;
        }
    }
    Ok(close(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor(name: &str, shape: &[usize], values: impl Iterator<Item = f32>) -> PackTensor {
        let bytes: Vec<u8> = values.flat_map(f32::to_le_bytes).collect();
        PackTensor::new(name.to_string(), DType::F32, shape.to_vec(), None, Bytes::from_bytes_vec(bytes))
    }

    fn net(base: f32) -> Vec<PackTensor> {
        vec![
            tensor("s1.weight", &[2, 3], (0..6).map(|i| base + i as f32)),
            tensor("s1.bias", &[3], (0..3).map(|i| base + 10.0 + i as f32)),
            tensor("s2.weight", &[3, 2], (0..6).map(|i| base + 20.0 + i as f32)),
        ]
    }

    fn values(ts: &[PackTensor], name: &str) -> Vec<f32> {
        let t = ts.iter().find(|t| t.name == name).expect("a tensor of that name");
        let (_, _, _, _, bytes) = t.clone().into_parts().expect("parts");
        bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
    }

    #[test]
    fn a_recycled_unit_reads_afresh_and_is_read_by_no_one() {
        let readers =
            |layer: &str, unit: usize| if layer == "s1" { vec![("s2.weight", unit)] } else { vec![] };
        let out = recycle(net(0.0), net(100.0), &[("s1".into(), 1)], readers).expect("recycled");
        // Unit 1's column of s1.weight ([2, 3]) and its bias come from the fresh network.
        assert_eq!(values(&out, "s1.weight"), [0.0, 101.0, 2.0, 3.0, 104.0, 5.0]);
        assert_eq!(values(&out, "s1.bias"), [10.0, 111.0, 12.0]);
        // Row 1 of s2.weight ([3, 2]), which reads it, is 0; the rest is as it was.
        assert_eq!(values(&out, "s2.weight"), [20.0, 21.0, 0.0, 0.0, 24.0, 25.0]);
    }

    #[test]
    fn shrink_and_perturb_mixes_each_weight() {
        let out = shrink_perturb(net(0.0), net(100.0), 0.5, 0.25).expect("mixed");
        assert_eq!(
            values(&out, "s1.bias"),
            [0.5 * 10.0 + 0.25 * 110.0, 0.5 * 11.0 + 0.25 * 111.0, 0.5 * 12.0 + 0.25 * 112.0]
        );
    }
}
