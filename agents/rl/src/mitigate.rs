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
//!   gave (nothing for a dead one). Adam's moments of those weights are kept;
//! - continual backprop (Dohare et al. 2024, "Loss of plasticity in deep continual learning"):
//!   each hidden unit keeps a running *contribution utility* — its mean absolute output times
//!   the mean magnitude of the weights that read it — and an age; with every Adam step a
//!   `replacement_rate` share of the units older than `maturity` steps is owed replacement, and
//!   the lowest-utility mature units are replaced as ReDo recycles, the readers' biases first
//!   taking in the unit's mean output so that what the network computes barely moves.

use beanworld_agents::AgentError;
use burn::module::Module;
use burn::prelude::Device;
use burn::store::ModuleSnapshot;
use burn::store::burn_pack::Tensor as PackTensor;
use burn::tensor::{Bytes, DType};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};

use crate::net::{Inputs, Net, Shape};

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

/// Continual backprop's settings (`continual_backprop: (replacement_rate: 1e-4)` turns it on
/// with the paper's maturity and decay).
///
/// The reference code tests its units after every Adam step on that step's minibatch; here
/// they are tested once per update, on up to [`crate::diagnose::PROBE_ROWS`] of the update's
/// steps, as if those outputs had been seen at each of its `k` Adam steps: ages grow by `k`,
/// running averages decay by `decay^k`, and `k` steps' replacements are owed. The owed share
/// accumulates (the reference code's `accumulate` variant), so no random draw decides.
/// Adam's moments of the replaced weights are kept, where the reference code zeroes them.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContinualBackprop {
    /// The share of mature units of a layer replaced per Adam step; 0: never (the default; the
    /// paper's reinforcement-learning runs use 1e-4).
    pub replacement_rate: f64,
    /// Adam steps a unit lives before it may be replaced (the paper's 10,000).
    pub maturity: u64,
    /// The decay of the running averages per Adam step (0.99).
    pub decay: f64,
}

impl Default for ContinualBackprop {
    fn default() -> Self {
        ContinualBackprop { replacement_rate: 0.0, maturity: 10_000, decay: 0.99 }
    }
}

/// Refuses the mitigations that cannot be combined: ReDo or continual backprop with LayerNorm
/// (`layer_norm`), and ReDo with continual backprop; and continual backprop's settings out of
/// range.
pub fn check(layer_norm: bool, redo: &Redo, cbp: &ContinualBackprop) -> Result<(), String> {
    for (on, what) in [(redo.every > 0, "redo"), (cbp.replacement_rate > 0.0, "continual_backprop")] {
        if on && layer_norm {
            return Err(format!(
                "{what} and layer_norm cannot be combined: a replaced unit would change the normalisation of every other unit of its layer"
            ));
        }
    }
    if redo.every > 0 && cbp.replacement_rate > 0.0 {
        return Err(
            "redo and continual_backprop cannot be combined: both replace units, and a unit ReDo recycled would keep continual backprop's record of the one before".into(),
        );
    }
    if !(0.0..=1.0).contains(&cbp.replacement_rate) || !(0.0..1.0).contains(&cbp.decay) {
        return Err(format!(
            "continual_backprop needs a replacement_rate within 0 and 1 and a decay at least 0 and below 1, not {} and {}",
            cbp.replacement_rate, cbp.decay
        ));
    }
    Ok(())
}

/// A learner's network as the mitigations change it.
pub struct Network<'a> {
    /// The learner's name, for a failure's message.
    pub name: &'a str,
    /// The network's shape.
    pub shape: &'a Shape,
    /// The weights being trained (on the autodiff device).
    pub net: &'a mut Net,
    /// Their copy for acting, refreshed after every change.
    pub acting: &'a mut Net,
    /// The learner's random stream, which seeds the fresh networks (so a restored learner
    /// draws the same).
    pub rng: &'a mut ChaCha8Rng,
    /// Continual backprop's record of the units.
    pub units: &'a mut Utilities,
    /// The device without autodiff.
    pub infer: &'a Device,
}

impl Network<'_> {
    /// Shrink-and-perturb with `settings`' shrink and perturb.
    pub fn shrink_perturb(&mut self, settings: &ShrinkPerturb) {
        let (shrink, perturb) = (settings.shrink, settings.perturb);
        self.renew(|weights, fresh| shrink_perturb(weights, fresh, shrink, perturb));
    }

    /// ReDo at threshold `tau` on the units as `inputs` (up to
    /// [`crate::diagnose::PROBE_ROWS`] of them) find them: the units recycled.
    pub fn redo(&mut self, inputs: &Inputs, tau: f64) -> usize {
        let units = crate::diagnose::dormant_units(self.acting, self.shape, inputs, self.infer, tau);
        if !units.is_empty() {
            let shape = *self.shape;
            self.renew(|weights, fresh| recycle(weights, fresh, &units, |l, u| shape.readers(l, u)));
        }
        units.len()
    }

    /// Continual backprop with `settings` after `steps` Adam steps, the units' outputs measured
    /// on `inputs` (up to [`crate::diagnose::PROBE_ROWS`] of them): the units replaced.
    pub fn continual_backprop(&mut self, inputs: &Inputs, steps: u64, settings: &ContinualBackprop) -> usize {
        let layers = crate::diagnose::layer_outputs(self.acting, self.shape, inputs, self.infer);
        let shape = *self.shape;
        let weights = self.net.collect(None, None, false);
        let chosen = choose_units(weights, &layers, steps, settings, self.units, |l, u| shape.readers(l, u));
        // The weights are this network's: a failure is a bug (see `renew`).
        let chosen = chosen.unwrap_or_else(|e| panic!("{}: {e}", self.name));
        if !chosen.is_empty() {
            self.renew(|weights, fresh| replace_units(weights, fresh, &chosen, |l, u| shape.readers(l, u)));
        }
        chosen.len()
    }

    /// Replaces the weights by `mix` of them and a fresh network's, drawn from a stream seeded
    /// from the learner's own; Adam's moments are kept.
    fn renew(
        &mut self,
        mix: impl FnOnce(Vec<PackTensor>, Vec<PackTensor>) -> Result<Vec<PackTensor>, AgentError>,
    ) {
        let mut rng = ChaCha8Rng::seed_from_u64(self.rng.next_u64());
        let fresh = Net::new(self.shape, &mut rng, self.infer).collect(None, None, false);
        // The fresh network is of this one's shape: a failure is a bug, which stops the run
        // (the runner turns an agent's panic into a clean stop with everything saved).
        let mixed = match mix(self.net.collect(None, None, false), fresh) {
            Ok(mixed) => mixed,
            Err(e) => panic!("{}: {e}", self.name),
        };
        if let Some(e) = self.net.apply(mixed, None, None, false).errors.first() {
            panic!("{}: cannot set the weights: {e}", self.name);
        }
        *self.acting = self.net.valid();
    }
}

/// What continual backprop keeps of each hidden unit between updates: part of a learner's
/// state, so that a restored learner replaces the same units.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Utilities {
    /// By layer (named as [`crate::net::Net::activations`] names them).
    layers: std::collections::BTreeMap<String, Units>,
}

/// The units of one layer.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
struct Units {
    /// Running contribution utility (before the correction for its start at 0).
    utility: Vec<f64>,
    /// Running mean output (likewise).
    mean: Vec<f64>,
    /// Adam steps since the unit was made.
    age: Vec<u64>,
    /// Replacements owed and not yet made (below 1).
    owed: f64,
}

/// A unit chosen for replacement: its layer, its index, and its mean output (corrected for the
/// running average's start at 0), which its readers' biases take in.
pub type Replacement = (String, usize, f32);

/// Continual backprop's test after an update of `steps` Adam steps: updates the utilities in
/// `kept` from the hidden layers' outputs `layers` (`(name, rows × units values, units)`) and
/// the `weights`, and chooses the units to replace — in each layer the lowest-utility mature
/// units, as many as are owed. `readers(layer, unit)` names the weight rows that read a unit.
pub fn choose_units(
    weights: Vec<PackTensor>,
    layers: &[(&'static str, Vec<f32>, usize)],
    steps: u64,
    settings: &ContinualBackprop,
    kept: &mut Utilities,
    readers: impl Fn(&str, usize) -> Vec<(&'static str, usize)>,
) -> Result<Vec<Replacement>, AgentError> {
    let w = open(weights, "continual backprop")?;
    let d = settings.decay.powf(steps as f64);
    let mut chosen = Vec::new();
    for (name, values, units) in layers {
        let units = *units;
        let kept = kept.layers.entry((*name).to_string()).or_default();
        if kept.age.len() != units {
            *kept =
                Units { utility: vec![0.0; units], mean: vec![0.0; units], age: vec![0; units], owed: 0.0 };
        }
        let rows = values.len() / units.max(1);
        let (mut magnitude, mut mean) = (vec![0.0f64; units], vec![0.0f64; units]);
        for row in values.chunks_exact(units) {
            for (i, &x) in row.iter().enumerate() {
                magnitude[i] += f64::from(x.abs());
                mean[i] += f64::from(x);
            }
        }
        for i in 0..units {
            let (mut read, mut count) = (0.0f64, 0usize);
            for (tensor, row) in readers(name, i) {
                let Some((shape, v)) = w.get(tensor) else {
                    return Err(AgentError::State(format!("continual backprop: no {tensor}")));
                };
                let width = *shape.last().unwrap_or(&1);
                for x in v.get(row * width..(row + 1) * width).unwrap_or(&[]) {
                    read += f64::from(x.abs());
                    count += 1;
                }
            }
            let contribution = magnitude[i] / rows.max(1) as f64 * read / count.max(1) as f64;
            kept.utility[i] = d * kept.utility[i] + (1.0 - d) * contribution;
            kept.mean[i] = d * kept.mean[i] + (1.0 - d) * mean[i] / rows.max(1) as f64;
            kept.age[i] += steps;
        }
        let correction = |age: u64| 1.0 - settings.decay.powf(age as f64);
        let mut mature: Vec<usize> = (0..units).filter(|&i| kept.age[i] > settings.maturity).collect();
        kept.owed += settings.replacement_rate * mature.len() as f64 * steps as f64;
        // What is owed is paid as far as there are mature units; the rest waits (at most a
        // layer's worth).
        let paid = kept.owed.floor().min(mature.len() as f64);
        kept.owed = (kept.owed - paid).min(units as f64);
        let utility = |i: usize| kept.utility[i] / correction(kept.age[i]);
        mature.sort_by(|&a, &b| utility(a).total_cmp(&utility(b)).then(a.cmp(&b)));
        for &i in mature.iter().take(paid as usize) {
            chosen.push(((*name).to_string(), i, (kept.mean[i] / correction(kept.age[i])) as f32));
            (kept.utility[i], kept.mean[i], kept.age[i]) = (0.0, 0.0, 0);
        }
    }
    Ok(chosen)
}

/// Continual backprop's generation: `weights` with each unit of `chosen` replaced — its mean
/// output added, through the weights that read it, to their layers' biases, then recycled as
/// [`recycle`] does (fresh incoming weights from `fresh`, readers set to 0).
pub fn replace_units(
    weights: Vec<PackTensor>,
    fresh: Vec<PackTensor>,
    chosen: &[Replacement],
    readers: impl Fn(&str, usize) -> Vec<(&'static str, usize)>,
) -> Result<Vec<PackTensor>, AgentError> {
    let what = "continual backprop";
    let (mut w, f) = (open(weights, what)?, open(fresh, what)?);
    for (layer, unit, mean) in chosen {
        for (tensor, row) in readers(layer, *unit) {
            let bias = format!("{}.bias", tensor.strip_suffix(".weight").unwrap_or(tensor));
            let Some((shape, v)) = w.get(tensor) else {
                return Err(AgentError::State(format!("{what}: no {tensor}")));
            };
            let width = *shape.last().unwrap_or(&1);
            let read: Vec<f32> = v.get(row * width..(row + 1) * width).unwrap_or(&[]).to_vec();
            let Some((_, b)) = w.get_mut(&bias) else {
                return Err(AgentError::State(format!("{what}: no {bias}")));
            };
            for (b, r) in b.iter_mut().zip(read) {
                *b += r * mean;
            }
        }
        renew_unit(&mut w, &f, layer, *unit, &readers, what)?;
    }
    Ok(close(w))
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
    let (mut w, f) = (open(weights, "ReDo")?, open(fresh, "ReDo")?);
    for (layer, unit) in units {
        renew_unit(&mut w, &f, layer, *unit, &readers, "ReDo")?;
    }
    Ok(close(w))
}

/// Unit `unit` of `layer` in `w` made anew: its incoming weights and bias from `f`, the rows
/// that read it set to 0 (`what` names the mitigation in an error).
fn renew_unit(
    w: &mut Named,
    f: &Named,
    layer: &str,
    unit: usize,
    readers: &impl Fn(&str, usize) -> Vec<(&'static str, usize)>,
    what: &str,
) -> Result<(), AgentError> {
    let missing = |name: &str| AgentError::State(format!("{what}: no {name}"));
    for part in ["weight", "bias"] {
        let name = format!("{layer}.{part}");
        let (Some((shape, to)), Some((_, from))) = (w.get_mut(&name), f.get(&name)) else {
            return Err(missing(&name));
        };
        // A weight is [inputs, outputs]: the unit's column; a bias: its entry.
        let outputs = *shape.last().unwrap_or(&1);
        for k in (unit..to.len().min(from.len())).step_by(outputs.max(1)) {
            to[k] = from[k];
        }
    }
    for (name, row) in readers(layer, unit) {
        let Some((shape, to)) = w.get_mut(name) else { return Err(missing(name)) };
        let width = *shape.last().unwrap_or(&1);
        if let Some(r) = to.get_mut(row * width..(row + 1) * width) {
            r.fill(0.0);
        }
    }
    Ok(())
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
    fn continual_backprop_replaces_the_least_useful_mature_units_at_its_rate() {
        let readers =
            |layer: &str, unit: usize| if layer == "s1" { vec![("s2.weight", unit)] } else { vec![] };
        // Two rows of s1's outputs: unit 0 large, unit 1 silent, unit 2 small; s2 reads them
        // with rows of mean magnitude 20.5, 22.5 and 24.5.
        let layers = vec![("s1", vec![2.0, 0.0, 0.5, 2.0, 0.0, 0.5], 3)];
        let settings = ContinualBackprop { replacement_rate: 0.25, maturity: 2, decay: 0.5 };
        let mut kept = Utilities::default();
        let mut test = || choose_units(net(0.0), &layers, 1, &settings, &mut kept, readers).expect("tested");
        // Steps 1 and 2: no unit is older than 2; step 3: three mature units owe 0.75.
        for step in 1..=3 {
            assert!(test().is_empty(), "step {step}");
        }
        // Step 4: 1.5 owed, one paid: the silent unit, whose readers take in nothing.
        assert_eq!(test(), [("s1".to_string(), 1, 0.0)]);
        // Step 5: the young unit is not mature; the other two owe 0.5 more: the one that gives
        // less (0.5 × 24.5 < 2 × 20.5), its mean output 0.5 as it was, whatever the decay.
        assert_eq!(test(), [("s1".to_string(), 2, 0.5)]);
        assert!(test().is_empty(), "step 6: 0.25 owed");
    }

    #[test]
    fn a_replaced_unit_hands_its_mean_output_to_its_readers_biases() {
        let readers = |layer: &str, unit: usize| {
            if layer == "s1" { vec![("s2.weight", unit)] } else { vec![] }
        };
        let mut with_bias = net(0.0);
        with_bias.push(tensor("s2.bias", &[2], [30.0, 31.0].into_iter()));
        let fresh = {
            let mut f = net(100.0);
            f.push(tensor("s2.bias", &[2], [130.0, 131.0].into_iter()));
            f
        };
        let out = replace_units(with_bias, fresh, &[("s1".into(), 2, 0.5)], readers).expect("replaced");
        // s2 read unit 2 with row 2 ([24, 25]): its biases take in 0.5 of it, then the row is 0.
        assert_eq!(values(&out, "s2.bias"), [30.0 + 12.0, 31.0 + 12.5]);
        assert_eq!(values(&out, "s2.weight"), [20.0, 21.0, 22.0, 23.0, 0.0, 0.0]);
        assert_eq!(values(&out, "s1.weight"), [0.0, 1.0, 102.0, 3.0, 4.0, 105.0]);
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
