//! Non-stationary dynamics (JBW has none, spec §3.6): regrowth, drift and scripted events, and
//! the eviction settings that bound memory in never-ending runs. This module holds their
//! resolved settings and the pure parts — time functions, addressing a parameter of the
//! configuration; `simulation.rs` carries them out.
//!
//! - *Regrowth*: every `interval` steps, each patch within `radius` patches of an agent gets
//!   `proposals` more sampler proposals, continuing its chain under the current energies, so
//!   collected items come back and the layout moves toward the equilibrium of the current
//!   parameters. Patches take their turns at staggered steps (a phase per patch), so the work is
//!   spread evenly over time.
//! - *Drift*: a parameter — an intensity or interaction argument, a colour or scent channel — is a
//!   function of time. Generation of new patches always uses the scenario's own values (so the
//!   world stays a pure function of seed and place); drift acts through regrowth and perception.
//! - *Events*: at a given step, set a parameter, place or clear items in a region, add or remove
//!   agents, switch the task, or ask for a snapshot.

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::energy::{Intensity, Interaction};
use crate::geometry::Region;
use crate::group::AgentGroup;
use crate::task::Schedule;

/// A value that changes with the step number.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TimeFn {
    /// Always `v`.
    Constant(f32),
    /// `initial`, then each `(step, value)` from that step on (steps ascending).
    Steps {
        /// The value before the first change.
        initial: f32,
        /// `(step, value)` pairs.
        changes: Vec<(u64, f32)>,
    },
    /// `from` until `start`, linearly to `to` at `end`, `to` after.
    Ramp {
        /// First step of the ramp.
        start: u64,
        /// Last step of the ramp.
        end: u64,
        /// Value up to `start`.
        from: f32,
        /// Value from `end` on.
        to: f32,
    },
    /// `mean + amplitude · wave((t + phase) / period)`, the wave a sine or a square (+1 in the
    /// first half of each period, −1 in the second).
    Cycle {
        /// Sine or square.
        shape: Shape,
        /// Centre value.
        mean: f32,
        /// Half the swing.
        amplitude: f32,
        /// Steps per cycle.
        period: u64,
        /// Steps added to `t` before the wave is taken.
        phase: u64,
    },
}

/// The wave of a [`TimeFn::Cycle`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Shape {
    /// `sin(2π·x)`.
    Sine,
    /// +1 for the first half of each period, −1 for the second.
    Square,
}

impl TimeFn {
    /// The value at step `t`.
    pub fn at(&self, t: u64) -> f32 {
        match self {
            TimeFn::Constant(v) => *v,
            TimeFn::Steps { initial, changes } => {
                let i = changes.partition_point(|(s, _)| *s <= t);
                if i == 0 { *initial } else { changes[i - 1].1 }
            }
            TimeFn::Ramp { start, end, from, to } => {
                if t <= *start {
                    *from
                } else if t >= *end {
                    *to
                } else {
                    let f = (t - start) as f64 / (end - start) as f64;
                    (f64::from(*from) + f * (f64::from(*to) - f64::from(*from))) as f32
                }
            }
            TimeFn::Cycle { shape, mean, amplitude, period, phase } => {
                let p = (*period).max(1);
                // (t + phase) mod p and x < p / 2, without overflow for periods past 2^63.
                let (a, b) = (t % p, phase % p);
                let x = if a >= p - b { a - (p - b) } else { a + b };
                let wave = match shape {
                    Shape::Sine => (std::f64::consts::TAU * x as f64 / p as f64).sin(),
                    Shape::Square => {
                        if x < p - x {
                            1.0
                        } else {
                            -1.0
                        }
                    }
                };
                (f64::from(*mean) + f64::from(*amplitude) * wave) as f32
            }
        }
    }
}

/// One number in the configuration that drift or an event may change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Param {
    /// An argument of an item type's intensity (`Constant`'s value is argument 0; `RadialHash`:
    /// 0 shift, 1 scale, 2 c, 3 k).
    Intensity {
        /// Item type.
        item: usize,
        /// Which argument.
        arg: usize,
    },
    /// An argument of the interaction of `item` with `other`, in the order of the enum's
    /// fields (`PiecewiseBox`: l1, l2, c1, c2; `Cross`: d1, d2, near_aligned, …).
    Interaction {
        /// The item type.
        item: usize,
        /// The other item type.
        other: usize,
        /// Which argument.
        arg: usize,
    },
    /// A colour channel of an item type.
    Color {
        /// Item type.
        item: usize,
        /// Channel.
        channel: usize,
    },
    /// A scent channel of an item type.
    Scent {
        /// Item type.
        item: usize,
        /// Channel.
        channel: usize,
    },
}

/// The argument names of an intensity function, in [`Param::Intensity`] order.
pub fn intensity_args(f: &Intensity) -> &'static [&'static str] {
    match f {
        Intensity::Zero => &[],
        Intensity::Constant(_) => &["value"],
        Intensity::RadialHash { .. } => &["shift", "scale", "c", "k"],
    }
}

/// The argument names of an interaction function, in [`Param::Interaction`] order.
pub fn interaction_args(g: &Interaction) -> &'static [&'static str] {
    match g {
        Interaction::Zero => &[],
        Interaction::PiecewiseBox { .. } => &["l1", "l2", "c1", "c2"],
        Interaction::Cross { .. } => {
            &["d1", "d2", "near_aligned", "far_aligned", "near_off_axis", "far_off_axis"]
        }
        Interaction::CrossHash { .. } => {
            &["s", "c", "k", "delta", "near_aligned", "far_aligned", "near_off_axis", "far_off_axis"]
        }
    }
}

fn intensity_arg(f: &mut Intensity, arg: usize) -> Option<&mut f32> {
    match (f, arg) {
        (Intensity::Constant(v), 0) => Some(v),
        (Intensity::RadialHash { shift, .. }, 0) => Some(shift),
        (Intensity::RadialHash { scale, .. }, 1) => Some(scale),
        (Intensity::RadialHash { c, .. }, 2) => Some(c),
        (Intensity::RadialHash { k, .. }, 3) => Some(k),
        _ => None,
    }
}

fn interaction_arg(g: &mut Interaction, arg: usize) -> Option<&mut f32> {
    match g {
        Interaction::Zero => None,
        Interaction::PiecewiseBox { l1, l2, c1, c2 } => [l1, l2, c1, c2].into_iter().nth(arg),
        Interaction::Cross { d1, d2, near_aligned, far_aligned, near_off_axis, far_off_axis } => {
            [d1, d2, near_aligned, far_aligned, near_off_axis, far_off_axis].into_iter().nth(arg)
        }
        Interaction::CrossHash { s, c, k, delta, near_aligned, far_aligned, near_off_axis, far_off_axis } => {
            [s, c, k, delta, near_aligned, far_aligned, near_off_axis, far_off_axis].into_iter().nth(arg)
        }
    }
}

impl Param {
    /// The number this parameter addresses in `config` (`None` if it does not exist there).
    pub fn slot<'a>(&self, config: &'a mut Config) -> Option<&'a mut f32> {
        match *self {
            Param::Intensity { item, arg } => intensity_arg(&mut config.items.get_mut(item)?.intensity, arg),
            Param::Interaction { item, other, arg } => {
                interaction_arg(config.items.get_mut(item)?.interactions.get_mut(other)?, arg)
            }
            Param::Color { item, channel } => config.items.get_mut(item)?.color.get_mut(channel),
            Param::Scent { item, channel } => config.items.get_mut(item)?.scent.get_mut(channel),
        }
    }

    /// Whether changing it changes the item distribution (rather than only what agents perceive).
    pub fn is_energy(&self) -> bool {
        matches!(self, Param::Intensity { .. } | Param::Interaction { .. })
    }
}

/// Regrowth settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Regrowth {
    /// Patches within this Chebyshev distance (in patches) of an agent's patch regrow.
    pub radius: u32,
    /// Steps between two rounds of one patch.
    pub interval: u64,
    /// Sampler proposals per round.
    pub proposals: u32,
}

/// Eviction settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Eviction {
    /// Patches farther than this (Chebyshev distance in patches) from every agent's patch leave
    /// memory: unchanged ones are dropped (they regenerate identically), changed ones are kept
    /// as a compact record.
    pub radius: u32,
}

/// What an event does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum EventAction {
    /// Set a parameter to a value from now on (ending any drift of it).
    Set(Param, f32),
    /// Put an item of this type on every empty cell of the region without an agent.
    Place(usize, Region),
    /// Remove the live items of these types (all types if empty) in the region.
    Clear(Vec<usize>, Region),
    /// Add a group of agents.
    AddAgents(AgentGroup),
    /// Remove the agent with this id.
    RemoveAgent(u32),
    /// Switch to this reward schedule.
    SetTask(Schedule),
    /// Ask the front end to save a snapshot.
    Snapshot,
}

/// An event at a step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The step after which it happens (0: before the first step).
    pub at: u64,
    /// What happens.
    pub action: EventAction,
}

/// All dynamics of a scenario.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Dynamics {
    /// Regrowth, if any.
    pub regrowth: Option<Regrowth>,
    /// Parameters that follow functions of time.
    pub drift: Vec<(Param, TimeFn)>,
    /// Events, in the order they happen (by step, then as written).
    pub events: Vec<Event>,
    /// Eviction, if any.
    pub eviction: Option<Eviction>,
}

impl Dynamics {
    /// Whether the world stays as generated (no regrowth, drift or events).
    pub fn is_static(&self) -> bool {
        self.regrowth.is_none() && self.drift.is_empty() && self.events.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cycle_of_the_longest_period_neither_overflows_nor_changes_its_wave() {
        let (max, half) = (u64::MAX, u64::MAX / 2);
        let square =
            |phase| TimeFn::Cycle { shape: Shape::Square, mean: 0.0, amplitude: 1.0, period: max, phase };
        assert_eq!([square(0).at(half - 1), square(0).at(half), square(0).at(half + 1)], [1.0, 1.0, -1.0]);
        assert_eq!(
            [square(max - 1).at(max - 1), square(max - 1).at(1), square(half).at(half)],
            [-1.0, 1.0, -1.0]
        );
        let small = TimeFn::Cycle { shape: Shape::Square, mean: 0.0, amplitude: 1.0, period: 5, phase: 3 };
        assert_eq!((0..5).map(|t| small.at(t)).collect::<Vec<_>>(), [-1.0, -1.0, 1.0, 1.0, 1.0]);
    }

    #[test]
    fn time_functions_follow_their_definitions() {
        assert_eq!(TimeFn::Constant(2.0).at(99), 2.0);
        let steps = TimeFn::Steps { initial: 1.0, changes: vec![(10, 2.0), (20, 3.0)] };
        assert_eq!([steps.at(0), steps.at(9), steps.at(10), steps.at(25)], [1.0, 1.0, 2.0, 3.0]);
        let ramp = TimeFn::Ramp { start: 100, end: 200, from: 0.0, to: 10.0 };
        assert_eq!([ramp.at(50), ramp.at(150), ramp.at(300)], [0.0, 5.0, 10.0]);
        let sine = TimeFn::Cycle { shape: Shape::Sine, mean: 1.0, amplitude: 2.0, period: 100, phase: 0 };
        assert!((sine.at(25) - 3.0).abs() < 1e-6 && (sine.at(75) + 1.0).abs() < 1e-6);
        let square =
            TimeFn::Cycle { shape: Shape::Square, mean: 0.0, amplitude: 1.0, period: 100, phase: 50 };
        assert_eq!([square.at(0), square.at(49), square.at(50), square.at(99)], [-1.0, -1.0, 1.0, 1.0]);
    }

    #[test]
    fn parameters_address_the_configuration() {
        let text = r#"Scenario(items: [
            Item(name: "a", scent: [1, 2], color: [3], intensity: Constant(-1),
                 interactions: {"a": PiecewiseBox(l1: 1, l2: 2, c1: 3, c2: 4)}),
        ], vision: (agent_color: [0]))"#;
        let mut config = crate::Scenario::parse(text, "t.ron").expect("valid").config;
        *Param::Intensity { item: 0, arg: 0 }.slot(&mut config).expect("exists") = 2.5;
        *Param::Interaction { item: 0, other: 0, arg: 3 }.slot(&mut config).expect("exists") = -9.0;
        *Param::Scent { item: 0, channel: 1 }.slot(&mut config).expect("exists") = 7.0;
        assert_eq!(config.items[0].intensity, Intensity::Constant(2.5));
        assert_eq!(
            config.items[0].interactions[0],
            Interaction::PiecewiseBox { l1: 1.0, l2: 2.0, c1: 3.0, c2: -9.0 }
        );
        assert_eq!(config.items[0].scent, [1.0, 7.0]);
        assert!(Param::Color { item: 0, channel: 3 }.slot(&mut config).is_none());
        assert!(Param::Intensity { item: 0, arg: 1 }.slot(&mut config).is_none());
    }
}
