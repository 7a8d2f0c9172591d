//! What a scenario says about its teacher: the knobs a curriculum turns (world parameters, or a
//! bonus per item collected added to the reward; each with an easy and a hard value) and how it
//! decides where to set them. This is plain data; the
//! engine never acts on it. A teacher (crate `beanworld-curriculum`) watches the learner's reward
//! and moves the knobs through the runner's control messages, at step boundaries, so a run with a
//! teacher is as deterministic as any other.

use serde::{Deserialize, Serialize};

use crate::dynamics::Param;
use crate::task::{Reward, Schedule};

/// What a knob turns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Target {
    /// A world parameter.
    Param(Param),
    /// A bonus per item of this type collected, added to every reward function of the scenario's
    /// schedule: denser reward while it is easy (at 0 the schedule is exactly the scenario's).
    Bonus {
        /// Item type.
        item: usize,
    },
}

/// A knob the teacher sets to `easy + difficulty · (hard − easy)`, difficulty in `[0, 1]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Knob {
    /// The knob as written (`"onion.intensity"`, `"reward.banana"`).
    pub name: String,
    /// What it turns.
    pub target: Target,
    /// Its value at difficulty 0.
    pub easy: f32,
    /// Its value at difficulty 1 (the full task).
    pub hard: f32,
}

impl Knob {
    /// The value at `difficulty`.
    pub fn at(&self, difficulty: f32) -> f32 {
        self.easy + difficulty.clamp(0.0, 1.0) * (self.hard - self.easy)
    }
}

/// How the teacher sets the difficulty.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Rule {
    /// Every `every` steps, the mean reward per agent and step since the last decision is
    /// compared with `band`: above it the difficulty rises by `step`, below it falls by `step`
    /// (keeping the learner at the edge of what it can do).
    Adaptive {
        /// Steps between decisions.
        every: u64,
        /// The reward rate it aims for, `(low, high)`.
        band: (f32, f32),
        /// How far one decision moves the difficulty.
        step: f32,
        /// The difficulty at the start.
        start: f32,
    },
    /// Alternates `easy` steps at difficulty 0 with `hard` steps at difficulty 1, easy first.
    Cyclical {
        /// Steps of each easy phase.
        easy: u64,
        /// Steps of each hard phase.
        hard: u64,
    },
}

/// A scenario's teacher.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Teacher {
    /// How it decides.
    pub rule: Rule,
    /// What it turns.
    pub knobs: Vec<Knob>,
    /// From this step on, the full task (difficulty 1) and no more teaching; `None`: it teaches
    /// for as long as the run lasts.
    pub until: Option<u64>,
}

/// The scenario's schedule `base` with the bonuses of `knobs` at `difficulty` added to every
/// reward function (bonuses of 0 left out, so at full difficulty it is `base` itself when the
/// hard bonuses are 0).
pub fn with_bonuses(base: &Schedule, knobs: &[Knob], difficulty: f32) -> Schedule {
    let bonuses: Vec<Reward> = knobs
        .iter()
        .filter_map(|k| match k.target {
            Target::Bonus { item } => {
                let value = k.at(difficulty);
                (value != 0.0).then_some(Reward::Collect { item, value })
            }
            Target::Param(_) => None,
        })
        .collect();
    if bonuses.is_empty() {
        return base.clone();
    }
    base.map(|r| Reward::Sum(std::iter::once(r.clone()).chain(bonuses.iter().cloned()).collect()))
}
