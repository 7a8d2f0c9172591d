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
    /// in `last_values`; empties them (an agent's memory stays).
    pub fn update(&mut self, rollouts: &mut [&mut Rollout], last_values: &[f32]) {
        let Some(experience) = self.experience(rollouts, last_values) else { return };
        let mut order: Vec<u32> = (0..experience.sequences.len() as u32).collect();
        let per_batch = (self.settings.minibatch / experience.length).max(1);
        let mut minibatch = Minibatch::default();
        for _ in 0..self.settings.epochs {
            // Fisher–Yates from the learner's own stream.
            for i in (1..order.len()).rev() {
                let j = ((u64::from(self.rng.next_u32()) * (i as u64 + 1)) >> 32) as usize;
                order.swap(i, j);
            }
            for chunk in order.chunks(per_batch) {
                minibatch.gather(&self.shape, &experience, chunk);
                self.learn(&minibatch, chunk.len(), experience.length);
            }
        }
        self.acting = self.net.valid();
        self.updates += 1;
    }

    /// Every step of `rollouts` in one place with its advantage (normalised if the settings say
    /// so) and return, cut into the sequences minibatches are made of; empties the rollouts.
    /// `None` if there is no step to learn from.
    fn experience(&self, rollouts: &mut [&mut Rollout], last_values: &[f32]) -> Option<Experience> {
        let (mut adv, mut returns) = (Vec::new(), Vec::new());
        let mut all = Rollout::default();
        let length = if self.shape.memory { self.settings.sequence } else { 1 };
        let mut sequences: Vec<(usize, usize)> = Vec::new();
        for (r, last) in rollouts.iter_mut().zip(last_values) {
            r.forget_unrewarded(&self.shape);
            let first = all.actions.len();
            self.advantages(r, *last, &mut adv, &mut returns);
            for k in 0..r.len() {
                all.inputs.push_row(&self.shape, &r.inputs, k);
            }
            all.actions.extend_from_slice(&r.actions);
            all.log_probs.extend_from_slice(&r.log_probs);
            all.memories.extend_from_slice(&r.memories);
            sequences.extend((0..r.len()).step_by(length).map(|k| (first + k, (r.len() - k).min(length))));
            r.clear();
        }
        let n = adv.len();
        if n == 0 {
            return None;
        }
        if self.settings.normalize_advantages {
            let mean = adv.iter().sum::<f32>() / n as f32;
            let std = (adv.iter().map(|a| (a - mean).powi(2)).sum::<f32>() / n as f32).sqrt();
            for a in &mut adv {
                *a = (*a - mean) / (std + 1e-8);
            }
        }
        Some(Experience { all, adv, returns, sequences, length })
    }

    /// One Adam step on the clipped objective over `minibatch`: `sequences` sequences of
    /// `length` steps.
    fn learn(&mut self, minibatch: &Minibatch, sequences: usize, length: usize) {
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
            self.net.forward_sequences(x, Tensor::from_data(memory, dev), length)
        } else {
            self.net.forward(x)
        };
        // The mean over the real steps.
        let valid: f32 = minibatch.mask.iter().sum();
        let padded = column(&minibatch.mask);
        let mean = |t: Tensor<1>| {
            if valid as usize == b { t.mean() } else { (t * padded.clone()).sum().div_scalar(valid) }
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
        let ratio = (log_p - old).exp();
        let clipped = ratio.clone().clamp(1.0 - s.clip, 1.0 + s.clip);
        let policy = mean((ratio * a.clone()).min_pair(clipped * a)).neg();
        let value = mean((values.reshape([b]) - target).powi_scalar(2));
        let entropy = mean((log_all.clone().exp() * log_all).sum_dim(1).reshape([b])).neg();
        let loss = policy + value.mul_scalar(s.value_weight) - entropy.mul_scalar(s.entropy_weight);
        let grads = GradientsParams::from_grads(loss.backward(), &self.net);
        self.net = self.adam.step(s.learning_rate, self.net.clone(), grads);
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
