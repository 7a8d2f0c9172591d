//! The PPO update: GAE advantages over each rollout, bootstrapped from the value of where its
//! agent stands, then `epochs` passes of clipped-objective Adam steps over minibatches of steps
//! (of sequences of steps, with an LSTM) drawn from the learner's own stream. It empties the
//! rollouts it learns from, keeping each agent's recurrent state.

use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, TensorData};
use rand_chacha::rand_core::Rng;

use super::{Learner, Rollout};
use crate::net::Shape;

impl Learner {
    /// Advantages (GAE, bootstrapped from `last_value`) and returns of `r`, appended.
    fn advantages(&self, r: &Rollout, last_value: f32, adv: &mut Vec<f32>, returns: &mut Vec<f32>) {
        let (g, l) = (self.settings.discount, self.settings.lambda);
        let n = r.rewards.len();
        let at = adv.len();
        adv.resize(at + n, 0.0);
        let mut next = (last_value, 0.0f32);
        for t in (0..n).rev() {
            let delta = r.rewards[t] + g * next.0 - r.values[t];
            let a = delta + g * l * next.1;
            adv[at + t] = a;
            next = (r.values[t], a);
        }
        returns.extend(adv[at..].iter().zip(&r.values).map(|(a, v)| a + v));
    }

    /// One update over `rollouts` (every step of each rewarded), each bootstrapped from its value
    /// in `last_values`; empties them (an agent's memory stays). It is [`Learner::begin_update`],
    /// an Adam step ([`Learner::apply`]) on each of [`Learner::next_gradients`], and
    /// [`Learner::finish_update`]: the parts a data-parallel learner takes apart.
    /// Whether there was a step to learn from.
    pub fn update(&mut self, rollouts: &mut [&mut Rollout], last_values: &[f32]) -> bool {
        let Some(mut update) = self.begin_update(rollouts, last_values) else { return false };
        while let Some(gradients) = self.next_gradients(&mut update) {
            self.apply(gradients);
        }
        self.finish_update(update);
        true
    }

    /// Starts an update over `rollouts`, each bootstrapped from its value in `last_values`, and
    /// empties them; `None` if they hold no step.
    pub fn begin_update(&mut self, rollouts: &mut [&mut Rollout], last_values: &[f32]) -> Option<Update> {
        let experience = self.experience(rollouts, last_values)?;
        let stats = UpdateStats {
            update: self.updates + 1,
            samples: experience.adv.len(),
            learning_rate: self.settings.anneal.rate(self.settings.learning_rate, self.updates),
            explained_variance: experience.explained_variance,
            reward_deviation: self.settings.reward_scale.then(|| self.returns.deviation()),
            ..UpdateStats::default()
        };
        Some(Update {
            order: (0..experience.sequences.len() as u32).collect(),
            per_batch: (self.settings.minibatch / experience.length).max(1),
            experience,
            epoch: 0,
            chunk: 0,
            minibatch: Minibatch::default(),
            parts: Vec::new(),
            stats,
        })
    }

    /// The gradients of the loss on the next minibatch of `update`, at the weights as they are
    /// now; `None` once every pass over its sequences is done. Each pass visits them in an order
    /// drawn from the learner's own stream as the pass begins.
    pub fn next_gradients(&mut self, update: &mut Update) -> Option<GradientsParams> {
        if update.epoch >= self.settings.epochs {
            return None;
        }
        if update.chunk == 0 {
            // Fisher–Yates from the learner's own stream.
            let order = &mut update.order;
            for i in (1..order.len()).rev() {
                let j = ((u64::from(self.rng.next_u32()) * (i as u64 + 1)) >> 32) as usize;
                order.swap(i, j);
            }
        }
        let from = update.chunk * update.per_batch;
        let to = (from + update.per_batch).min(update.order.len());
        let chunk = &update.order[from..to];
        let (gradients, mut stats) = if self.settings.shards > 1 && chunk.len() > 1 {
            self.sharded_gradients(&mut update.parts, &update.experience, chunk)
        } else {
            update.minibatch.gather(&self.shape, &update.experience, chunk);
            let length = update.experience.length;
            self.gradients(&self.net, &update.minibatch, chunk.len(), length, None, true)
        };
        stats.grad_norm = crate::net::grad_norm(&self.net, &gradients);
        update.stats.add(&stats);
        update.chunk += 1;
        if to == update.order.len() {
            (update.epoch, update.chunk) = (update.epoch + 1, 0);
        }
        Some(gradients)
    }

    /// One Adam step with `gradients` (clipped to the largest norm the settings allow).
    pub fn apply(&mut self, gradients: GradientsParams) {
        let rate = self.settings.anneal.rate(self.settings.learning_rate, self.updates);
        self.net = self.adam.step(rate, self.net.clone(), gradients);
    }

    /// Ends `update`: the acting network takes the new weights, the update is counted, and the
    /// mitigations and diagnostics due after it run; what it did is [`Learner::last_update`].
    pub fn finish_update(&mut self, update: Update) {
        let Update { experience, mut stats, .. } = update;
        stats.average();
        self.count_update();
        let redo = &self.settings.redo;
        if redo.every > 0 && self.updates.is_multiple_of(redo.every) {
            let tau = redo.tau;
            stats.recycled = Some(self.network().redo(&experience.all.inputs, tau));
        }
        let cbp = self.settings.continual_backprop.clone();
        if cbp.replacement_rate > 0.0 {
            let steps = stats.minibatches as u64;
            stats.replaced = Some(self.network().continual_backprop(&experience.all.inputs, steps, &cbp));
        }
        let every = self.settings.diagnose_every;
        if every > 0 && self.updates.is_multiple_of(every) {
            let (net, inputs) = (&self.acting, &experience.all.inputs);
            stats.diagnostics =
                Some(crate::diagnose::of_net(net, &self.shape, inputs, &self.initial, &self.infer));
        }
        self.last_update = Some(stats);
        self.gathered = experience.all;
        self.gathered.clear();
    }

    /// Ends an update whose gradients were computed elsewhere (by the replicas of a data-parallel
    /// learner, each over its own rollouts) and applied here: the acting network takes the new
    /// weights, the update is counted, and shrink-and-perturb runs if it is due. What the update
    /// measured is the replicas'; so are the mitigations that need its steps (ReDo, continual
    /// backprop) and the diagnostics.
    pub fn finish_remote_update(&mut self) {
        self.count_update();
        self.last_update = None;
    }

    /// What ends every update: the acting network takes the new weights, the update is counted,
    /// and shrink-and-perturb runs if it is due.
    fn count_update(&mut self) {
        self.acting = self.net.valid();
        self.updates += 1;
        let sp = &self.settings.shrink_perturb;
        if sp.every > 0 && self.updates.is_multiple_of(sp.every) {
            let sp = sp.clone();
            self.network().shrink_perturb(&sp);
        }
    }

    /// Every step of `rollouts` in one place with its advantage (normalised if the settings say
    /// so) and return, cut into the sequences minibatches are made of; empties the rollouts.
    /// `None` if there is no step to learn from.
    fn experience(&mut self, rollouts: &mut [&mut Rollout], last_values: &[f32]) -> Option<Experience> {
        for r in rollouts.iter_mut() {
            r.forget_unrewarded(&self.shape);
        }
        if self.settings.reward_scale {
            self.scale_rewards(rollouts);
        }
        let (mut adv, mut returns, mut values) = (Vec::new(), Vec::new(), Vec::new());
        let mut all = std::mem::take(&mut self.gathered);
        all.clear();
        all.reserve(&self.shape, rollouts.iter().map(|r| r.len()).sum());
        let length = if self.shape.memory { self.settings.sequence } else { 1 };
        let mut sequences: Vec<(usize, usize)> = Vec::new();
        for (r, last) in rollouts.iter_mut().zip(last_values) {
            let first = all.actions.len();
            self.advantages(r, *last, &mut adv, &mut returns);
            for k in 0..r.len() {
                all.inputs.push_row(&self.shape, &r.inputs, k);
            }
            all.actions.extend_from_slice(&r.actions);
            all.log_probs.extend_from_slice(&r.log_probs);
            values.extend_from_slice(&r.values);
            all.memories.extend_from_slice(&r.memories);
            sequences.extend((0..r.len()).step_by(length).map(|k| (first + k, (r.len() - k).min(length))));
            r.clear();
        }
        let n = adv.len();
        if n == 0 {
            return None;
        }
        let explained_variance = explained_variance(&values, &returns);
        if self.settings.normalize_advantages {
            let mean = adv.iter().sum::<f32>() / n as f32;
            let std = (adv.iter().map(|a| (a - mean).powi(2)).sum::<f32>() / n as f32).sqrt();
            for a in &mut adv {
                *a = (*a - mean) / (std + 1e-8);
            }
        }
        Some(Experience { all, adv, returns, sequences, length, explained_variance })
    }

    /// PPO's reward scaling (`reward_scale`): each rollout's discounted return goes on over its
    /// rewards, in stream order, into the running moments; then every reward is divided by their
    /// deviation, this update's steps included, and clipped to ±10.
    fn scale_rewards(&mut self, rollouts: &mut [&mut Rollout]) {
        let discount = f64::from(self.settings.discount);
        for r in rollouts.iter_mut() {
            for &reward in &r.rewards {
                r.discounted = discount * r.discounted + f64::from(reward);
                self.returns.push(r.discounted);
            }
        }
        let deviation = self.returns.deviation();
        for r in rollouts.iter_mut() {
            for reward in &mut r.rewards {
                *reward = (f64::from(*reward) / deviation).clamp(-10.0, 10.0) as f32;
            }
        }
    }

    /// The gradients over the sequences of `chunk` in `settings.shards` parts (fewer if it
    /// holds fewer sequences), each gathered
    /// into its own of `parts` and computed on a thread of its own, summed in part order; and
    /// what they measured. Every part's losses are divided by the steps of the whole minibatch,
    /// so the sum is the whole minibatch's mean. The first part is computed on the learner's
    /// network; each other on a copy whose weights are leaves of their own, so that no two
    /// backward passes share a graph (burn's autodiff would then run them one after another).
    fn sharded_gradients(
        &self,
        parts: &mut Vec<Minibatch>,
        experience: &Experience,
        chunk: &[u32],
    ) -> (GradientsParams, UpdateStats) {
        let length = experience.length;
        // min(shards, sequences) parts of consecutive sequences, the first ones one longer
        // where they do not divide evenly.
        let count = self.settings.shards.min(chunk.len());
        let (size, longer) = (chunk.len() / count, chunk.len() % count);
        parts.resize_with(count, Minibatch::default);
        let mut from = 0;
        for (k, part) in parts.iter_mut().enumerate() {
            let to = from + size + usize::from(k < longer);
            part.gather(&self.shape, experience, &chunk[from..to]);
            from = to;
        }
        let steps: f32 = parts.iter().map(|p| p.mask.iter().sum::<f32>()).sum();
        let sequences = |part: &Minibatch| part.mask.len() / length;
        let (first, rest) = parts.split_first().unwrap_or_else(|| unreachable!("a minibatch has a sequence"));
        let (mut gradients, mut stats, others) = std::thread::scope(|scope| {
            let threads: Vec<_> = rest
                .iter()
                .map(|part| {
                    scope.spawn(move || {
                        let net = crate::net::with_own_leaves(&self.net);
                        self.gradients(&net, part, sequences(part), length, Some(steps), false)
                    })
                })
                .collect();
            let (gradients, stats) =
                self.gradients(&self.net, first, sequences(first), length, Some(steps), true);
            // A part's thread panics only on a bug: pass it on.
            let others: Vec<_> = threads
                .into_iter()
                .map(|t| t.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect();
            (gradients, stats, others)
        });
        for (more, measured) in others {
            crate::net::add_gradients(&self.net, &mut gradients, more);
            stats.merge(&measured);
        }
        (gradients, stats)
    }

    /// The gradients of the clipped objective over `minibatch` (`sequences` sequences of
    /// `length` steps) on `net`, and what it measured on the way (less the gradient's norm).
    /// Its losses are means over the minibatch's steps, or sums divided by `steps` when it is one
    /// part of a larger one; L2-init's penalty is added if `penalised` (once per minibatch).
    fn gradients(
        &self,
        net: &crate::net::Net,
        minibatch: &Minibatch,
        sequences: usize,
        length: usize,
        steps: Option<f32>,
        penalised: bool,
    ) -> (GradientsParams, UpdateStats) {
        let dev = &self.train;
        let s = &self.settings;
        let m = self.shape.memory_len();
        let batch = &minibatch.rows;
        let b = sequences * length;
        let x = batch.inputs.tensors(&self.shape, dev);
        let column = |v: &[f32]| Tensor::<1>::from_data(TensorData::new(v.to_vec(), [b]), dev);
        let ints: Vec<i64> = batch.actions.iter().map(|&a| i64::from(a)).collect();
        let taken = Tensor::<2, Int>::from_data(TensorData::new(ints, [b, 1]), dev);
        let (old, a, target) = (column(&batch.log_probs), column(&minibatch.adv), column(&minibatch.returns));
        let (logits, values) = if m > 0 {
            let memory = TensorData::new(batch.memories.clone(), [sequences, m]);
            net.forward_sequences(x, Tensor::from_data(memory, dev), length)
        } else {
            net.forward(x)
        };
        // The mean over the real steps (or their sum over the whole minibatch's).
        let valid: f32 = minibatch.mask.iter().sum();
        let padded = column(&minibatch.mask);
        let mean = |t: Tensor<1>| match steps {
            None if valid as usize == b => t.mean(),
            None => (t * padded.clone()).sum().div_scalar(valid),
            Some(all) if valid as usize == b => t.sum().div_scalar(all),
            Some(all) => (t * padded.clone()).sum().div_scalar(all),
        };
        let log_all = log_softmax(logits, 1);
        // The log-probabilities of the policy acted on (see `Settings::explore`).
        let acted = if s.explore > 0.0 {
            let floor = s.explore / self.shape.actions as f32;
            log_all.clone().exp().mul_scalar(1.0 - s.explore).add_scalar(floor).log()
        } else {
            log_all.clone()
        };
        let log_p = acted.gather(1, taken).reshape([b]);
        let log_ratio = log_p - old;
        let ratio = log_ratio.clone().exp();
        // KL(old ‖ new) estimated as the mean of (r − 1) − log r, and the share of steps clipped.
        let (r, log_r) = (ratio.clone().detach(), log_ratio.detach());
        let approx_kl = mean(r.clone().sub_scalar(1.0) - log_r);
        let clipped_share = mean(r.sub_scalar(1.0).abs().greater_elem(s.clip).float());
        let clipped = ratio.clone().clamp(1.0 - s.clip, 1.0 + s.clip);
        let policy = mean((ratio * a.clone()).min_pair(clipped * a)).neg();
        let value = mean((values.reshape([b]) - target).powi_scalar(2));
        let entropy = mean((log_all.clone().exp() * log_all).sum_dim(1).reshape([b])).neg();
        let scalar = |t: &Tensor<1>| f64::from(t.clone().detach().into_scalar::<f32>());
        let stats = UpdateStats {
            minibatches: 1,
            policy_loss: scalar(&policy),
            value_loss: scalar(&value),
            entropy: scalar(&entropy),
            approx_kl: scalar(&approx_kl),
            clip_fraction: scalar(&clipped_share),
            ..UpdateStats::default()
        };
        let mut loss = policy + value.mul_scalar(s.value_weight) - entropy.mul_scalar(s.entropy_weight);
        if penalised
            && s.l2_init > 0.0
            && let Some(distance) = net.squared_distance(&self.initial)
        {
            loss = loss + distance.mul_scalar(s.l2_init);
        }
        (GradientsParams::from_grads(loss.backward(), net), stats)
    }
}

/// What one update did: its size, and the means over its minibatches of the losses (as
/// minimised, before their weights), the policy's entropy, the estimated KL divergence of the
/// new policy from the one that acted, the share of steps whose ratio was clipped, and the
/// global gradient norm before clipping; and how much of the returns' variance the values
/// explained before it.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct UpdateStats {
    /// Its number, from 1.
    pub update: u64,
    /// Steps learned from.
    pub samples: usize,
    /// Adam steps taken.
    pub minibatches: usize,
    /// Adam's learning rate in this update (with `anneal`, where the schedule has it).
    pub learning_rate: f64,
    /// The clipped surrogate objective, negated.
    pub policy_loss: f64,
    /// The mean squared error of the values against the returns.
    pub value_loss: f64,
    /// The policy's entropy (nats).
    pub entropy: f64,
    /// KL(acting policy ‖ updated policy), estimated as the mean of (r − 1) − log r.
    pub approx_kl: f64,
    /// The share of steps whose probability ratio r lay outside 1 ± clip.
    pub clip_fraction: f64,
    /// The gradient's global L2 norm before clipping.
    pub grad_norm: f64,
    /// 1 − Var(return − value) / Var(return) over the steps learned from (1: the values predict
    /// the returns; 0: no better than their mean).
    pub explained_variance: f64,
    /// What the rewards were divided by (with `reward_scale`): the running deviation of the
    /// discounted return.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reward_deviation: Option<f64>,
    /// Hidden units ReDo recycled after the update (with `redo`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recycled: Option<usize>,
    /// Hidden units continual backprop replaced after the update (with `continual_backprop`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaced: Option<usize>,
    /// The plasticity diagnostics after the update, every `diagnose_every` updates.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<crate::diagnose::Diagnostics>,
}

impl UpdateStats {
    /// Adds a minibatch's measures.
    fn add(&mut self, m: &UpdateStats) {
        self.merge(m);
        self.minibatches += m.minibatches;
        self.grad_norm += m.grad_norm;
    }

    /// Adds the measures of another part of the same minibatch (its losses already divided by
    /// the whole minibatch's steps).
    fn merge(&mut self, part: &UpdateStats) {
        self.policy_loss += part.policy_loss;
        self.value_loss += part.value_loss;
        self.entropy += part.entropy;
        self.approx_kl += part.approx_kl;
        self.clip_fraction += part.clip_fraction;
    }

    /// Turns the sums of [`UpdateStats::add`] into means.
    fn average(&mut self) {
        let n = self.minibatches.max(1) as f64;
        for v in [
            &mut self.policy_loss,
            &mut self.value_loss,
            &mut self.entropy,
            &mut self.approx_kl,
            &mut self.clip_fraction,
            &mut self.grad_norm,
        ] {
            *v /= n;
        }
    }
}

impl Learner {
    /// Its network as the mitigations ([`crate::mitigate`]) change it.
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
}

/// 1 − Var(returns − values) / Var(returns); 0 where the returns do not vary.
fn explained_variance(values: &[f32], returns: &[f32]) -> f64 {
    let variance = |x: &mut dyn Iterator<Item = f64>| {
        let (mut n, mut sum, mut squares) = (0.0, 0.0, 0.0);
        for v in x {
            n += 1.0;
            sum += v;
            squares += v * v;
        }
        if n == 0.0 { 0.0 } else { (squares / n - (sum / n).powi(2)).max(0.0) }
    };
    let of_returns = variance(&mut returns.iter().map(|&r| f64::from(r)));
    if of_returns <= 0.0 {
        return 0.0;
    }
    let of_errors = variance(&mut returns.iter().zip(values).map(|(&r, &v)| f64::from(r - v)));
    1.0 - of_errors / of_returns
}

/// Running mean and variance (Welford's), of the discounted returns `reward_scale` divides by.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub(super) struct Moments {
    count: u64,
    mean: f64,
    /// The sum of squared differences from the mean.
    m2: f64,
}

impl Moments {
    pub(super) fn push(&mut self, x: f64) {
        self.count += 1;
        let delta = x - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (x - self.mean);
    }

    /// The deviation (with 1e-8 added to the variance, so that it is never 0).
    pub(super) fn deviation(&self) -> f64 {
        let variance = if self.count == 0 { 0.0 } else { self.m2 / self.count as f64 };
        (variance + 1e-8).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::{Moments, explained_variance};

    #[test]
    fn running_moments_give_the_deviation_of_all_values_pushed() {
        let xs = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        let mut m = Moments::default();
        assert!((m.deviation() - 1e-4).abs() < 1e-12);
        for x in xs {
            m.push(x);
        }
        assert!((m.deviation() - (4.0f64 + 1e-8).sqrt()).abs() < 1e-12, "{}", m.deviation());
    }

    #[test]
    fn explained_variance_is_one_for_exact_values_and_zero_for_their_mean() {
        let returns = [1.0, 2.0, 3.0, 6.0];
        assert!((explained_variance(&returns, &returns) - 1.0).abs() < 1e-12);
        let mean = [3.0; 4];
        assert!(explained_variance(&mean, &returns).abs() < 1e-12);
        assert_eq!(explained_variance(&[0.0; 3], &[2.0; 3]), 0.0);
    }
}

/// An update under way ([`Learner::begin_update`]): what it learns from, the order its current
/// pass visits the sequences in, where it is, and what it has measured so far.
pub struct Update {
    experience: Experience,
    order: Vec<u32>,
    /// Sequences per minibatch.
    per_batch: usize,
    /// The pass under way, and its next minibatch.
    epoch: usize,
    chunk: usize,
    minibatch: Minibatch,
    /// With `shards`: each part of the minibatch.
    parts: Vec<Minibatch>,
    stats: UpdateStats,
}

impl Update {
    /// Steps it learns from.
    pub fn samples(&self) -> usize {
        self.experience.adv.len()
    }
}

/// Everything one update learns from: every step of every rollout in order (`all`), each with
/// its advantage and return, and the sequences minibatches are made of: consecutive steps of one
/// agent, each (first row in `all`, steps); without an LSTM every step is a sequence of its own.
struct Experience {
    all: Rollout,
    adv: Vec<f32>,
    returns: Vec<f32>,
    sequences: Vec<(usize, usize)>,
    /// Steps per sequence.
    length: usize,
    /// Of the values before the update (see [`UpdateStats::explained_variance`]).
    explained_variance: f64,
}

/// One minibatch, gathered row by row into small tensors: selecting rows out of tensors of the
/// whole batch costs in proportion to the whole batch on the CPU backend, which a team's update
/// (512 steps per member) makes large. A sequence shorter than `length` (the end of a rollout) is
/// padded with copies of its last step, which the losses leave out (`mask` 0).
#[derive(Default)]
struct Minibatch {
    rows: Rollout,
    adv: Vec<f32>,
    returns: Vec<f32>,
    mask: Vec<f32>,
}

impl Minibatch {
    /// Fills this minibatch with the sequences of `experience` numbered in `chunk`.
    fn gather(&mut self, shape: &Shape, experience: &Experience, chunk: &[u32]) {
        let (all, length) = (&experience.all, experience.length);
        let m = shape.memory_len();
        self.rows.clear();
        self.adv.clear();
        self.returns.clear();
        self.mask.clear();
        for &q in chunk {
            let (first, steps) = experience.sequences[q as usize];
            self.rows.memories.extend_from_slice(&all.memories[first * m..(first + 1) * m]);
            for t in 0..length {
                let i = first + t.min(steps - 1);
                self.rows.inputs.push_row(shape, &all.inputs, i);
                self.rows.actions.push(all.actions[i]);
                self.rows.log_probs.push(all.log_probs[i]);
                self.adv.push(experience.adv[i]);
                self.returns.push(experience.returns[i]);
                self.mask.push(if t < steps { 1.0 } else { 0.0 });
            }
        }
    }
}
