//! Tasks: reward functions and the schedules that switch between them (spec §7.2–7.3). JBW
//! computes rewards outside its core; here the engine computes them, so every front end gets the
//! same reward. A reward function scores one agent's transition over one step; a schedule picks
//! the function in force at the simulation time after the step (the first step is time 1).

use serde::{Deserialize, Serialize};

/// A reward function over one agent's transition, with item types by index.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Reward {
    /// Always 0.
    Zero,
    /// `value` on every step (negative for a cost per action).
    Action(f32),
    /// `value` per item of the type collected this step.
    Collect {
        /// Item type.
        item: usize,
        /// Reward per item.
        value: f32,
    },
    /// `−value` per item of the type collected this step.
    Avoid {
        /// Item type.
        item: usize,
        /// Penalty per item.
        value: f32,
    },
    /// `value` when the squared distance from the agent's spawn cell strictly grew this step.
    Explore(f32),
    /// The sum of the parts.
    Sum(Vec<Reward>),
}

impl Reward {
    /// How many numbers [`Reward::coefficients`] writes for a world of `items` item types.
    pub fn coefficients_len(items: usize) -> usize {
        items + 2
    }

    /// The function as numbers, written into `out` ([`Reward::coefficients_len`] of them): for
    /// each item type what collecting one is worth (collect minus avoid), then the value of every
    /// step, then the value of exploring. Every reward function is linear in these, so two
    /// functions with the same numbers reward every transition the same: it is the whole task, as
    /// a reward-aware learner reads it (spec §10.4 embeds the same terms).
    pub fn coefficients(&self, out: &mut [f32]) {
        out.fill(0.0);
        self.add_coefficients(out);
    }

    fn add_coefficients(&self, out: &mut [f32]) {
        let items = out.len().saturating_sub(2);
        let mut add = |k: usize, v: f32| {
            if let Some(x) = out.get_mut(k) {
                *x += v;
            }
        };
        match self {
            Reward::Zero => {}
            Reward::Action(v) => add(items, *v),
            Reward::Collect { item, value } if *item < items => add(*item, *value),
            Reward::Avoid { item, value } if *item < items => add(*item, -value),
            Reward::Collect { .. } | Reward::Avoid { .. } => {}
            Reward::Explore(v) => add(items + 1, *v),
            Reward::Sum(parts) => {
                for part in parts {
                    part.add_coefficients(out);
                }
            }
        }
    }
}

/// What a reward function looks at: one agent before and after a step.
#[derive(Clone, Copy, Debug)]
pub struct Transition<'a> {
    /// Inventory before the step.
    pub before: &'a [u32],
    /// Inventory after the step.
    pub after: &'a [u32],
    /// Squared distance from the spawn cell before the step.
    pub distance_before: u128,
    /// Squared distance from the spawn cell after the step.
    pub distance_after: u128,
}

impl Reward {
    /// The reward for a transition.
    pub fn value(&self, t: &Transition<'_>) -> f32 {
        let gained = |item: usize| t.after[item] as f32 - t.before[item] as f32;
        match self {
            Reward::Zero => 0.0,
            Reward::Action(v) => *v,
            Reward::Collect { item, value } => value * gained(*item),
            Reward::Avoid { item, value } => -value * gained(*item),
            Reward::Explore(v) => {
                if t.distance_after > t.distance_before {
                    *v
                } else {
                    0.0
                }
            }
            Reward::Sum(parts) => parts.iter().map(|r| r.value(t)).sum(),
        }
    }
}

/// Which reward function is in force when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Schedule {
    /// The same function at every step.
    Fixed(Reward),
    /// Functions in turn for the given numbers of steps, repeating: at time `t`, the one whose
    /// window holds `t mod (sum of durations)`.
    Cyclical(Vec<(Reward, u64)>),
    /// From each start time on, its function, until the next start (starts ascending, from 0).
    Piecewise(Vec<(u64, Reward)>),
}

impl Schedule {
    /// The reward function in force at time `t`.
    pub fn at(&self, t: u64) -> &Reward {
        match self {
            Schedule::Fixed(r) => r,
            Schedule::Cyclical(parts) => &parts[self.phase(t)].0,
            Schedule::Piecewise(parts) => &parts[self.phase(t)].1,
        }
    }

    /// Which of the schedule's parts is in force at time `t` (0 for a fixed one).
    pub fn phase(&self, t: u64) -> usize {
        match self {
            Schedule::Fixed(_) => 0,
            Schedule::Cyclical(parts) => {
                let period: u64 = parts.iter().map(|(_, d)| d).sum();
                let mut s = t % period.max(1);
                for (i, (_, d)) in parts.iter().enumerate() {
                    if s < *d {
                        return i;
                    }
                    s -= d;
                }
                parts.len() - 1
            }
            Schedule::Piecewise(parts) => parts.partition_point(|(start, _)| *start <= t).saturating_sub(1),
        }
    }

    /// The same schedule with every part's reward function replaced by `f` of it.
    pub fn map(&self, f: impl Fn(&Reward) -> Reward) -> Schedule {
        match self {
            Schedule::Fixed(r) => Schedule::Fixed(f(r)),
            Schedule::Cyclical(parts) => Schedule::Cyclical(parts.iter().map(|(r, d)| (f(r), *d)).collect()),
            Schedule::Piecewise(parts) => {
                Schedule::Piecewise(parts.iter().map(|(t, r)| (*t, f(r))).collect())
            }
        }
    }

    /// How many parts the schedule has.
    pub fn phases(&self) -> usize {
        match self {
            Schedule::Fixed(_) => 1,
            Schedule::Cyclical(parts) => parts.len(),
            Schedule::Piecewise(parts) => parts.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transition<'a>(before: &'a [u32], after: &'a [u32], d0: u128, d1: u128) -> Transition<'a> {
        Transition { before, after, distance_before: d0, distance_after: d1 }
    }

    #[test]
    fn reward_functions_score_transitions() {
        let t = transition(&[0, 2, 5], &[1, 2, 7], 4, 5);
        assert_eq!(Reward::Collect { item: 2, value: 1.0 }.value(&t), 2.0);
        assert_eq!(Reward::Avoid { item: 0, value: 1.0 }.value(&t), -1.0);
        assert_eq!(Reward::Explore(0.5).value(&t), 0.5);
        assert_eq!(Reward::Explore(0.5).value(&transition(&[0], &[0], 5, 5)), 0.0);
        let sum = Reward::Sum(vec![
            Reward::Collect { item: 2, value: 1.0 },
            Reward::Avoid { item: 0, value: 1.0 },
            Reward::Action(-0.01),
        ]);
        assert!((sum.value(&t) - 0.99).abs() < 1e-6);
    }

    #[test]
    fn coefficients_describe_the_whole_function() {
        let sum = Reward::Sum(vec![
            Reward::Collect { item: 2, value: 1.0 },
            Reward::Avoid { item: 0, value: 0.5 },
            Reward::Collect { item: 0, value: 2.0 },
            Reward::Action(-0.01),
            Reward::Explore(0.25),
        ]);
        let mut out = vec![9.0; Reward::coefficients_len(3)];
        sum.coefficients(&mut out);
        assert_eq!(out, [1.5, 0.0, 1.0, -0.01, 0.25]);
        // The reward is linear in them.
        let t = transition(&[0, 2, 5], &[1, 2, 7], 4, 5);
        let linear = out[0] * 1.0 + out[2] * 2.0 + out[3] + out[4];
        assert!((sum.value(&t) - linear).abs() < 1e-6);
        Reward::Zero.coefficients(&mut out);
        assert_eq!(out, [0.0; 5]);
    }

    #[test]
    fn cyclical_schedules_switch_at_their_durations() {
        let a = Reward::Collect { item: 0, value: 1.0 };
        let b = Reward::Avoid { item: 0, value: 1.0 };
        let s = Schedule::Cyclical(vec![(a.clone(), 100_000), (b.clone(), 100_000)]);
        assert_eq!(s.at(1), &a);
        assert_eq!(s.at(99_999), &a);
        assert_eq!(s.at(100_000), &b);
        assert_eq!(s.at(199_999), &b);
        assert_eq!(s.at(200_000), &a);
        // A one-shot curriculum switch (spec §7.3).
        let once = Schedule::Cyclical(vec![(a.clone(), 100_000), (b.clone(), 10_000_000)]);
        assert_eq!(once.at(5_000_000), &b);
    }

    #[test]
    fn piecewise_schedules_hold_until_the_next_start() {
        let a = Reward::Action(1.0);
        let b = Reward::Action(2.0);
        let s = Schedule::Piecewise(vec![(0, a.clone()), (500, b.clone())]);
        assert_eq!(s.at(1), &a);
        assert_eq!(s.at(499), &a);
        assert_eq!(s.at(500), &b);
        assert_eq!(s.at(u64::MAX), &b);
    }
}
