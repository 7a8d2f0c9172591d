//! Plasticity diagnostics: what continual-learning researchers measure to see why a learner
//! stops learning, computed from a batch of the learner's own recent inputs.
//!
//! - dormant units (Sokar et al. 2023, "The dormant neuron phenomenon in deep RL"): unit `i` of
//!   a layer scores `s_i = E|h_i| / ((1/H) Σ_k E|h_k|)`, its mean absolute output over the batch
//!   against the layer's mean; it is τ-dormant if `s_i ≤ τ`. Reported for τ = 0 and τ = 0.1 over
//!   all hidden units, and for τ = 0.1 per layer (a convolution's units are its channels, over
//!   every position);
//! - effective rank of the features the heads read (Kumar et al. 2021, "Implicit
//!   under-parameterization"): with `σ_1 ≥ σ_2 ≥ …` the singular values of the features
//!   `Φ [B, F]`, `srank = min { k : Σ_{i≤k} σ_i ≥ (1 − δ) Σ_i σ_i }`, δ = 0.01;
//! - the features' mean L2 norm per row, the weights' L2 norm and their L2 distance from the
//!   weights the learner started with.

use std::collections::BTreeMap;

use burn::prelude::*;
use nalgebra::DMatrix;

use crate::net::{Inputs, Net, Shape};

/// The δ of [`srank`].
pub const SRANK_DELTA: f64 = 0.01;

/// The most rows of inputs the diagnostics look at.
pub const PROBE_ROWS: usize = 256;

/// The outputs of `net`'s hidden layers (`(name, values, units)`) and its features (`(values,
/// width)`) on [`PROBE_ROWS`] rows (or fewer) spread evenly over `inputs`, and how many rows
/// those are.
type Probe = (Vec<(&'static str, Vec<f32>, usize)>, (Vec<f32>, usize), usize);

fn probe(net: &Net, shape: &Shape, inputs: &Inputs, device: &Device) -> Probe {
    // Rows spread evenly over all of them: an update's steps are its streams' rollouts one
    // after another, and every stream should be in the probe.
    let (all, rows) = (inputs.len(), inputs.len().min(PROBE_ROWS));
    let mut probe = Inputs::default();
    for k in 0..rows {
        probe.push_row(shape, inputs, k * all / rows);
    }
    let (layers, features) = net.activations(probe.tensors(shape, device));
    // The networks compute in f32: another element type cannot come back.
    let values = |t: Tensor<2>| {
        let units = t.dims()[1];
        (t.into_data().try_into_vec::<f32>().unwrap_or_default(), units)
    };
    let layers = layers
        .into_iter()
        .map(|(name, t)| {
            let (v, units) = values(t);
            (name, v, units)
        })
        .collect();
    (layers, values(features), rows)
}

/// The diagnostics of `net` (made for `shape`, without autodiff, on `device`) on
/// [`PROBE_ROWS`] rows (or fewer) spread evenly over `inputs`, its weights having started as
/// `initial`.
pub fn of_net(net: &Net, shape: &Shape, inputs: &Inputs, initial: &[f32], device: &Device) -> Diagnostics {
    let (layers, (features, width), rows) = probe(net, shape, inputs, device);
    diagnose(&layers, &features, width, rows, &net.weights(), initial)
}

/// The outputs of `net`'s hidden layers on [`PROBE_ROWS`] rows (or fewer) spread evenly over
/// `inputs`: `(name, rows × units values, units)`.
pub fn layer_outputs(
    net: &Net,
    shape: &Shape,
    inputs: &Inputs,
    device: &Device,
) -> Vec<(&'static str, Vec<f32>, usize)> {
    probe(net, shape, inputs, device).0
}

/// The τ-dormant units of `net`'s hidden layers on [`PROBE_ROWS`] rows spread evenly over `inputs`:
/// `(layer, unit)`.
pub fn dormant_units(
    net: &Net,
    shape: &Shape,
    inputs: &Inputs,
    device: &Device,
    tau: f64,
) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for (name, values, units) in &layer_outputs(net, shape, inputs, device) {
        let scores = dormancy_scores(values, *units);
        out.extend(
            scores.iter().enumerate().filter(|(_, s)| **s <= tau).map(|(i, _)| ((*name).to_string(), i)),
        );
    }
    out
}

/// The diagnostics of one update (see the module's documentation), as written beside its
/// losses in `learner.jsonl`.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Diagnostics {
    /// The share of hidden units that are 0-dormant (their outputs all 0 over the batch).
    #[serde(rename = "dormant_0")]
    pub dormant_zero: f64,
    /// The share of hidden units that are 0.1-dormant.
    #[serde(rename = "dormant_0.1")]
    pub dormant: f64,
    /// Per hidden layer, the share of its units that are 0.1-dormant.
    pub dormant_by_layer: BTreeMap<String, f64>,
    /// The effective rank of the features the heads read; absent where it cannot be had (a
    /// network gone to NaN, or a decomposition that did not converge).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub srank: Option<usize>,
    /// The features' mean L2 norm per row.
    pub feature_norm: f64,
    /// The L2 norm of every weight.
    pub weight_norm: f64,
    /// The L2 distance of the weights from those the learner started with.
    pub init_distance: f64,
    /// Rows of inputs measured.
    pub probe_rows: usize,
}

/// Per unit of a layer whose outputs are `values` (`rows × units`, row-major), its score
/// `s_i` (0 for every unit of a layer whose outputs are all 0).
pub fn dormancy_scores(values: &[f32], units: usize) -> Vec<f64> {
    let rows = values.len() / units.max(1);
    let mut means = vec![0.0f64; units];
    for row in values.chunks_exact(units) {
        for (m, &v) in means.iter_mut().zip(row) {
            *m += f64::from(v.abs());
        }
    }
    for m in &mut means {
        *m /= rows.max(1) as f64;
    }
    let layer = means.iter().sum::<f64>() / units.max(1) as f64;
    means.iter().map(|m| if layer > 0.0 { m / layer } else { 0.0 }).collect()
}

/// Iterations the singular value decomposition may take. It converges in far fewer; without a
/// bound, a matrix on which it does not (seen once in a million-step run: the run hung in it)
/// would hold a never-ending run for good.
pub const SVD_ITERATIONS: usize = 10_000;

/// The effective rank (with δ = [`SRANK_DELTA`]) of the `rows × cols` matrix `values`
/// (row-major); 0 for a matrix of zeros; `None` for one with a NaN or an infinity, or on which
/// the decomposition does not converge within [`SVD_ITERATIONS`].
pub fn srank(values: &[f32], cols: usize) -> Option<usize> {
    srank_within(values, cols, SVD_ITERATIONS)
}

/// [`srank`], the decomposition given at most `iterations`.
fn srank_within(values: &[f32], cols: usize, iterations: usize) -> Option<usize> {
    let rows = values.len() / cols.max(1);
    if !values.iter().all(|v| v.is_finite()) {
        return None;
    }
    // Scaled to a largest entry of 1, entries below 10⁻¹² of it taken as 0 (the rank, a ratio of
    // sums of singular values, does not see them; subnormal numbers slow the decomposition).
    let top = values.iter().fold(0.0f32, |a, v| a.max(v.abs()));
    if rows == 0 || cols == 0 || top == 0.0 {
        return Some(0);
    }
    let scaled = values.iter().map(|&v| {
        let x = f64::from(v) / f64::from(top);
        if x.abs() < 1e-12 { 0.0 } else { x }
    });
    let m = DMatrix::from_row_iterator(rows, cols, scaled);
    let svd = nalgebra::SVD::try_new(m, false, false, f64::EPSILON, iterations)?;
    let mut sigma: Vec<f64> = svd.singular_values.iter().copied().collect();
    sigma.sort_by(|a, b| b.total_cmp(a));
    let total: f64 = sigma.iter().sum();
    if total <= 0.0 {
        return Some(0);
    }
    let mut sum = 0.0;
    for (k, s) in sigma.iter().enumerate() {
        sum += s;
        if sum >= (1.0 - SRANK_DELTA) * total {
            return Some(k + 1);
        }
    }
    Some(sigma.len())
}

/// The diagnostics of a network whose hidden layers gave `layers` (`(name, values, units)`) and
/// whose heads read `features` (`rows × width`) on `rows` rows of inputs, with weights `weights`
/// that started as `initial`.
pub fn diagnose(
    layers: &[(&str, Vec<f32>, usize)],
    features: &[f32],
    width: usize,
    rows: usize,
    weights: &[f32],
    initial: &[f32],
) -> Diagnostics {
    let (mut units, mut zero, mut dormant) = (0usize, 0usize, 0usize);
    let mut by_layer = BTreeMap::new();
    for (name, values, n) in layers {
        let scores = dormancy_scores(values, *n);
        let d = scores.iter().filter(|&&s| s <= 0.1).count();
        units += scores.len();
        zero += scores.iter().filter(|&&s| s <= 0.0).count();
        dormant += d;
        by_layer.insert((*name).to_string(), d as f64 / scores.len().max(1) as f64);
    }
    let norm = |x: &mut dyn Iterator<Item = f64>| x.map(|v| v * v).sum::<f64>().sqrt();
    let feature_norm = features
        .chunks_exact(width.max(1))
        .map(|row| norm(&mut row.iter().map(|&v| f64::from(v))))
        .sum::<f64>()
        / rows.max(1) as f64;
    Diagnostics {
        dormant_zero: zero as f64 / units.max(1) as f64,
        dormant: dormant as f64 / units.max(1) as f64,
        dormant_by_layer: by_layer,
        srank: srank(features, width),
        feature_norm,
        weight_norm: norm(&mut weights.iter().map(|&w| f64::from(w))),
        init_distance: norm(&mut weights.iter().zip(initial).map(|(&w, &w0)| f64::from(w) - f64::from(w0))),
        probe_rows: rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unit_is_dormant_against_its_layer_mean() {
        // Three units over two rows: mean |h| of 1, 1 and 0.1 (layer mean 0.7).
        let values = [1.0, -1.0, 0.1, -1.0, 1.0, -0.1];
        let s = dormancy_scores(&values, 3);
        assert!((s[0] - 1.0 / 0.7).abs() < 1e-6 && (s[2] - 0.1 / 0.7).abs() < 1e-6, "{s:?}");
        // A unit that never fires is 0-dormant; one at a tenth of the mean is 0.1-dormant.
        let layers = [("a", vec![2.0, 0.0, 0.0, 2.0, 0.0, 0.0], 3), ("b", vec![1.0, 1.0, 0.05, 1.0], 2)];
        let d = diagnose(&layers, &[1.0, 0.0], 2, 1, &[3.0, 4.0], &[3.0, 0.0]);
        // Layer a: units 1 and 2 never fire (s = 0); layer b: unit 1 scores 0.525/0.7625 > 0.1.
        assert_eq!(d.dormant_by_layer["a"], 2.0 / 3.0);
        assert_eq!(d.dormant_by_layer["b"], 0.0);
        assert_eq!((d.dormant_zero, d.dormant), (2.0 / 5.0, 2.0 / 5.0));
        assert_eq!((d.weight_norm, d.init_distance, d.feature_norm), (5.0, 4.0, 1.0));
    }

    #[test]
    fn the_effective_rank_counts_the_directions_that_matter() {
        // Rank 2: the rows span two directions with equal weight.
        let two = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0];
        assert_eq!(srank(&two, 3), Some(2));
        // Full rank but one direction 10⁻⁴ of the others: it falls within δ.
        let thin = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1e-4];
        assert_eq!(srank(&thin, 3), Some(2));
        assert_eq!(srank(&[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0], 3), Some(3));
        // Scale does not matter.
        let small: Vec<f32> = two.iter().map(|v| v * 1e-30).collect();
        assert_eq!(srank(&small, 3), Some(2));
        assert_eq!(srank(&[0.0; 6], 3), Some(0));
        assert_eq!(srank(&[1.0, f32::NAN, 0.0, 1.0], 2), None, "a diverged network");
        // A decomposition that does not converge in its iterations gives up rather than hang.
        let mixed = [0.3, -1.2, 0.7, 2.0, 0.1, -0.4, 0.9, 0.5, 1.1, -0.6, 0.8, 0.2];
        assert_eq!(srank_within(&mixed, 3, 1), None);
        assert!(srank_within(&mixed, 3, SVD_ITERATIONS).is_some());
    }
}
