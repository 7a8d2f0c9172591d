//! PPO (clipped objective, GAE), learning online for as long as the run lasts: no episodes.
//! Every `rollout` steps the agent bootstraps the value of where it stands, computes advantages
//! over the steps since the last update, and takes `epochs` passes of minibatch Adam steps over
//! them; then it goes on acting with the new policy. The whole learner — weights, Adam's
//! moments, the half-filled rollout, its random stream — is its snapshot state.
//!
//! [`Learner`] is the network and its training, over any number of rollouts at once: [`Ppo`]
//! gives it one (an agent), a parameter-sharing team gives it one per member.
//!
//! With `lstm: true` the network has the paper's LSTM core. Each rollout then also carries its
//! agent's recurrent state and the state before every step; an update cuts each rollout into
//! sequences of `sequence` steps and trains through time over each, from the state recorded at
//! its start (as it was when the agent acted: the usual recurrent PPO).
//!
//! The parts, one module each: the settings (here), a [`Rollout`] of one agent's steps
//! (`rollout`), the [`Learner`] that acts and saves (`learner`), its update (`update`), and the
//! [`Ppo`] agent over one rollout (`agent`), and the [`SharedPpo`] team whose members share one
//! learner (`shared`).

mod agent;
mod batched;
pub mod checkpoint;
mod learner;
mod rollout;
mod shared;
mod update;

pub use agent::Ppo;
pub use batched::{BatchedPpo, Loaded, Timing};
pub use learner::Learner;
pub use rollout::Rollout;
pub use shared::SharedPpo;
pub use update::{Update, UpdateStats};

/// PPO's settings. The defaults follow the paper's runner (spec §10.4) where it is stated —
/// discount 0.99, GAE λ 0.9, clip 0.1, value weight 0.5, entropy 0.01, gradient norm 0.5,
/// 4 passes, an update every 512 steps — except for a larger learning rate (3e-4, not 1e-4),
/// minibatches of 128 and normalised advantages, which learn faster without the LSTM.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Hidden width `H`.
    pub hidden: usize,
    /// Steps between updates.
    pub rollout: usize,
    /// Passes over each rollout.
    pub epochs: usize,
    /// Samples per Adam step.
    pub minibatch: usize,
    /// Parts each minibatch's gradient is computed in, one thread each, and then summed in order
    /// (1, the default: in one piece on the learner's thread). The weights depend on the number
    /// of parts (sums in another order round differently), never on the machine's threads;
    /// 2 or more spreads the update, most of a learner's time, over that many cores.
    pub shards: usize,
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// A learning rate that falls as updates go by (off by default; see [`Anneal`]).
    pub anneal: Anneal,
    /// Discount γ.
    pub discount: f32,
    /// GAE λ.
    pub lambda: f32,
    /// Ratio clip ε.
    pub clip: f32,
    /// Weight of the value loss.
    pub value_weight: f32,
    /// Weight of the entropy bonus.
    pub entropy_weight: f32,
    /// Largest global gradient norm.
    pub max_grad_norm: f64,
    /// Whether each update's advantages are scaled to mean 0 and deviation 1 (the paper's runner
    /// does not: then small rewards move the policy little, and the entropy bonus weighs more).
    pub normalize_advantages: bool,
    /// Whether the rewards learned from are divided by the running deviation of the discounted
    /// return (Engstrom et al. 2020, "Implementation matters in deep policy gradients": PPO's
    /// reward scaling). Each stream keeps its return `R ← γR + r`; every step's `R` joins one
    /// running variance over all the learner's steps so far, and as an update begins its rewards
    /// are divided by that deviation and clipped to ±10. The values then predict scaled returns,
    /// and advantages keep the size of the rewards' surprises: without `normalize_advantages`,
    /// a rollout with no reward in it moves the policy little, where normalising it would scale
    /// its noise up to a deviation of 1. Off by default.
    pub reward_scale: bool,
    /// The share of steps on which the agent acts uniformly at random: it acts on
    /// `(1 − explore)·π + explore/A`, and the clipped objective compares the log-probabilities of
    /// that mixture, so the update stays on-policy. With 0 (the default) a policy can become so
    /// sure of an action that it never tries another again — walking into a wall for good, say,
    /// where the entropy bonus's gradient has vanished.
    pub explore: f32,
    /// Whether the network has an LSTM core (spec §10.4), so that it can remember.
    pub lstm: bool,
    /// Steps per sequence that an update backpropagates through (with `lstm`).
    pub sequence: usize,
    /// Whether the network also reads the task (the reward function in force), so that one
    /// network can hold a policy for each task a schedule switches between (spec §10.4's
    /// reward-aware network).
    pub reward_aware: bool,
    /// Whether the network reads each scent value `s` as `sign(s)·ln(1 + |s|)`: scent sums
    /// every item's, and in the paper's world it reaches 55 near truffles where it is 1–3
    /// elsewhere, which unscaled inputs make hard to learn from.
    pub log_scent: bool,
    /// Updates between the plasticity diagnostics written with an update's losses (dormant
    /// units, effective rank, feature and weight norms, distance from the initial weights:
    /// [`crate::diagnose`]); 0 for none. They are measured on up to 256 of the update's steps.
    pub diagnose_every: u64,
    /// Shrink-and-perturb ([`crate::mitigate::ShrinkPerturb`]): off unless its `every` is set,
    /// as in `shrink_perturb: (every: 100)`.
    pub shrink_perturb: crate::mitigate::ShrinkPerturb,
    /// L2-init (Kumar et al. 2023, "Maintaining plasticity in continual learning via
    /// regenerative regularization"): `λ·Σ (w − w₀)²` added to the loss, pulling every weight
    /// toward the value it started with; 0 (the default) for none.
    pub l2_init: f32,
    /// ReDo ([`crate::mitigate::Redo`]): off unless its `every` is set, as in `redo: (every: 10)`.
    pub redo: crate::mitigate::Redo,
    /// LayerNorm in the torso (Lyle et al. 2024, "Disentangling the causes of plasticity loss in
    /// neural networks"): each hidden layer normalises its inputs to its activation (a learned
    /// gain and bias per unit); off by default. It changes the network, so checkpoints of one
    /// do not fit the other.
    pub layer_norm: bool,
    /// Continual backprop ([`crate::mitigate::ContinualBackprop`]): off unless its
    /// `replacement_rate` is set, as in `continual_backprop: (replacement_rate: 1e-4)`.
    pub continual_backprop: crate::mitigate::ContinualBackprop,
}

/// The learning rate's schedule, for a run of known length (`anneal: (updates: 1220)`): it falls
/// linearly, update by update, from `learning_rate` to `to`·`learning_rate` over the first
/// `updates` updates, and stays there. PPO's usual schedule for a fixed budget (falling to 0); a
/// never-ending run has no end to fall towards, so it is off (`updates: 0`) by default.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Anneal {
    /// Updates over which the rate falls; 0: it never does.
    pub updates: u64,
    /// Where it falls to, as a share of `learning_rate`: from 0 (the default) to 1.
    pub to: f64,
}

impl Anneal {
    /// The learning rate for the update after `done` updates, from `rate`.
    pub fn rate(&self, rate: f64, done: u64) -> f64 {
        if self.updates == 0 {
            return rate;
        }
        let gone = (done as f64 / self.updates as f64).min(1.0);
        rate * (1.0 - gone * (1.0 - self.to))
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            hidden: 64,
            rollout: 512,
            epochs: 4,
            minibatch: 128,
            shards: 1,
            learning_rate: 3e-4,
            anneal: Anneal::default(),
            discount: 0.99,
            lambda: 0.9,
            clip: 0.1,
            value_weight: 0.5,
            entropy_weight: 0.01,
            max_grad_norm: 0.5,
            normalize_advantages: true,
            reward_scale: false,
            explore: 0.0,
            lstm: false,
            sequence: 16,
            reward_aware: false,
            log_scent: false,
            diagnose_every: 1,
            shrink_perturb: crate::mitigate::ShrinkPerturb::default(),
            l2_init: 0.0,
            redo: crate::mitigate::Redo::default(),
            layer_norm: false,
            continual_backprop: crate::mitigate::ContinualBackprop::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Anneal;

    /// The schedule falls linearly to its floor over its updates and stays there; off, it keeps
    /// the rate.
    #[test]
    fn the_learning_rate_falls_linearly_to_its_floor_and_stays() {
        let a = Anneal { updates: 100, to: 0.1 };
        let rates: Vec<f64> = [0, 50, 100, 1000].iter().map(|&done| a.rate(1e-3, done)).collect();
        let want = [1e-3, 0.55e-3, 0.1e-3, 0.1e-3];
        for (got, want) in rates.iter().zip(want) {
            assert!((got - want).abs() < 1e-12, "{rates:?}");
        }
        assert_eq!(Anneal::default().rate(3e-4, 1_000_000), 3e-4);
        assert_eq!(Anneal { updates: 10, to: 0.0 }.rate(3e-4, 10), 0.0);
    }
}
