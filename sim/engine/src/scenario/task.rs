//! The `task: …` section: the reward schedule as written ([`ScheduleSpec`] of [`RewardSpec`]s,
//! items by name) and its resolution into the engine's [`Schedule`] (spec §7). Events that
//! switch the task and [`Scenario::schedule`](super::Scenario::schedule) resolve schedules the
//! same way.

use serde::{Deserialize, Serialize};

use super::error::{Problem, check_finite, problem};
use super::items::Lookup;
use crate::task::{Reward, Schedule};

/// A reward function as written, with item types by name (see [`Reward`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum RewardSpec {
    /// Always 0.
    Zero,
    /// `value` on every step.
    Action(f32),
    /// `value` per item of the type collected.
    Collect {
        /// Item name.
        item: String,
        /// Reward per item.
        value: f32,
    },
    /// `−value` per item of the type collected.
    Avoid {
        /// Item name.
        item: String,
        /// Penalty per item.
        value: f32,
    },
    /// `value` when the distance from the start grew.
    Explore(f32),
    /// The sum of the parts.
    Sum(Vec<RewardSpec>),
}

/// A schedule as written (see [`Schedule`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ScheduleSpec {
    /// One function throughout.
    Fixed(RewardSpec),
    /// `[(function, steps), …]`, repeating.
    Cyclical(Vec<(RewardSpec, u64)>),
    /// `[(start step, function), …]`, starts ascending from 0.
    Piecewise(Vec<(u64, RewardSpec)>),
}

impl RewardSpec {
    /// Checks the function written at `path` and resolves its item names.
    pub(super) fn resolve(&self, path: &str, lookup: &Lookup<'_>) -> Result<Reward, Problem> {
        Ok(match self {
            RewardSpec::Zero => Reward::Zero,
            RewardSpec::Action(v) => {
                check_finite(&format!("{path}[0]"), &[*v])?;
                Reward::Action(*v)
            }
            RewardSpec::Explore(v) => {
                check_finite(&format!("{path}[0]"), &[*v])?;
                Reward::Explore(*v)
            }
            RewardSpec::Collect { item, value } => {
                check_finite(&format!("{path}.value"), &[*value])?;
                Reward::Collect { item: lookup(format!("{path}.item"), item)?, value: *value }
            }
            RewardSpec::Avoid { item, value } => {
                check_finite(&format!("{path}.value"), &[*value])?;
                Reward::Avoid { item: lookup(format!("{path}.item"), item)?, value: *value }
            }
            RewardSpec::Sum(parts) => Reward::Sum(
                parts
                    .iter()
                    .enumerate()
                    .map(|(i, r)| r.resolve(&format!("{path}[0][{i}]"), lookup))
                    .collect::<Result<_, _>>()?,
            ),
        })
    }
}

impl ScheduleSpec {
    /// Checks the schedule written at `at` and resolves its item names.
    pub(super) fn resolve(&self, at: &str, lookup: &Lookup<'_>) -> Result<Schedule, Problem> {
        Ok(match self {
            ScheduleSpec::Fixed(r) => Schedule::Fixed(r.resolve(&format!("{at}[0]"), lookup)?),
            ScheduleSpec::Cyclical(parts) => {
                if parts.is_empty() {
                    return Err(problem(at, "a cyclical schedule needs at least one (reward, steps) entry"));
                }
                let mut period = 0u64;
                let mut out = Vec::with_capacity(parts.len());
                for (i, (r, steps)) in parts.iter().enumerate() {
                    if *steps == 0 {
                        return Err(problem(
                            format!("{at}[0][{i}][1]"),
                            "expected a duration of at least 1 step",
                        ));
                    }
                    period = period.checked_add(*steps).ok_or_else(|| {
                        problem(format!("{at}[0][{i}][1]"), "the durations add up to more than 2^64 steps")
                    })?;
                    out.push((r.resolve(&format!("{at}[0][{i}][0]"), lookup)?, *steps));
                }
                Schedule::Cyclical(out)
            }
            ScheduleSpec::Piecewise(parts) => {
                if parts.first().is_none_or(|(start, _)| *start != 0) {
                    return Err(problem(at, "a piecewise schedule must start with an entry at step 0"));
                }
                let mut out = Vec::with_capacity(parts.len());
                for (i, (start, r)) in parts.iter().enumerate() {
                    if i > 0 && *start <= parts[i - 1].0 {
                        return Err(problem(
                            format!("{at}[0][{i}][0]"),
                            format!(
                                "expected start steps in increasing order, found {start} after {}",
                                parts[i - 1].0
                            ),
                        ));
                    }
                    out.push((*start, r.resolve(&format!("{at}[0][{i}][1]"), lookup)?));
                }
                Schedule::Piecewise(out)
            }
        })
    }
}
