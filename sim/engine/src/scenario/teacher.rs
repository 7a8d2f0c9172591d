//! The `teacher: …` field of a scenario file and its resolution into [`Teacher`].

use serde::{Deserialize, Serialize};

use super::dynamics::resolve_param;
use super::error::{Problem, problem};
use super::items::Lookup;
use crate::config::Config;
use crate::dynamics::{Dynamics, EventAction, Param};
use crate::teacher::{Knob, Rule, Target, Teacher};

/// `Knob(param: "onion.intensity", easy: -8.0, hard: -3.0)`, or a reward bonus per item:
/// `Knob(param: "reward.banana", easy: 0.5, hard: 0.0)`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "Knob")]
pub struct KnobSpec {
    /// The parameter's path, as in `Drift`.
    pub param: String,
    /// Its value at difficulty 0.
    pub easy: f32,
    /// Its value at difficulty 1.
    pub hard: f32,
}

/// `teacher: Adaptive(…)` or `teacher: Cyclical(…)`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum TeacherSpec {
    /// `Adaptive(every: 5000, band: (0.02, 0.05), step: 0.1, start: 0.0, knobs: [...], until: 400000)`.
    Adaptive {
        /// Steps between decisions.
        every: u64,
        /// The reward rate it aims for.
        band: (f32, f32),
        /// How far one decision moves the difficulty.
        step: f32,
        /// The difficulty at the start.
        #[serde(default)]
        start: f32,
        /// What it turns.
        knobs: Vec<KnobSpec>,
        /// When it stops teaching.
        #[serde(default)]
        until: Option<u64>,
    },
    /// `Cyclical(easy: 20000, hard: 20000, knobs: [...], until: 400000)`.
    Cyclical {
        /// Steps of each easy phase.
        easy: u64,
        /// Steps of each hard phase.
        hard: u64,
        /// What it turns.
        knobs: Vec<KnobSpec>,
        /// When it stops teaching.
        #[serde(default)]
        until: Option<u64>,
    },
}

impl TeacherSpec {
    /// Checks and resolves the field against the resolved configuration and dynamics: a knob
    /// may not turn a parameter that drifts, nor add a reward bonus when an event switches the
    /// reward schedule.
    pub(super) fn resolve(
        &self,
        config: &Config,
        dynamics: &Dynamics,
        lookup: &Lookup<'_>,
    ) -> Result<Teacher, Problem> {
        let (rule, knobs, until) = self.rule()?;
        if knobs.is_empty() {
            return Err(problem("teacher.knobs", "expected at least one knob to turn"));
        }
        let drifting: Vec<Param> = dynamics.drift.iter().map(|(p, _)| p.clone()).collect();
        let switches_task = dynamics.events.iter().any(|e| matches!(e.action, EventAction::SetTask(_)));
        let mut resolved: Vec<Knob> = Vec::with_capacity(knobs.len());
        for (i, k) in knobs.iter().enumerate() {
            let path = format!("teacher.knobs[{i}]");
            let target = if let Some(item) = k.param.strip_prefix("reward.") {
                if switches_task {
                    return Err(problem(
                        format!("{path}.param"),
                        "a reward knob adds to the scenario's schedule, which an event here replaces; \
                         drop the SetTask event or the reward knob",
                    ));
                }
                Target::Bonus { item: lookup(format!("{path}.param"), item)? }
            } else {
                let param = resolve_param(&format!("{path}.param"), &k.param, config, lookup)?;
                if drifting.contains(&param) {
                    return Err(problem(
                        format!("{path}.param"),
                        format!(
                            "\"{}\" drifts; a teacher setting it would end its drift, so turn another knob",
                            k.param
                        ),
                    ));
                }
                Target::Param(param)
            };
            if resolved.iter().any(|r| r.target == target) {
                return Err(problem(format!("{path}.param"), format!("\"{}\" is already a knob", k.param)));
            }
            if !(k.easy.is_finite() && k.hard.is_finite()) {
                return Err(problem(
                    path,
                    format!("expected finite values, found easy {} and hard {}", k.easy, k.hard),
                ));
            }
            resolved.push(Knob { name: k.param.clone(), target, easy: k.easy, hard: k.hard });
        }
        Ok(Teacher { rule, knobs: resolved, until })
    }

    /// Checks the rule's settings; the rule, the knobs as written and when teaching stops.
    fn rule(&self) -> Result<(Rule, &[KnobSpec], Option<u64>), Problem> {
        Ok(match self {
            TeacherSpec::Adaptive { every, band, step, start, knobs, until } => {
                if *every == 0 {
                    return Err(problem("teacher.every", "expected at least 1 step between decisions"));
                }
                if !(band.0.is_finite() && band.1.is_finite() && band.0 < band.1) {
                    return Err(problem(
                        "teacher.band",
                        format!("expected (low, high) with low < high, found ({}, {})", band.0, band.1),
                    ));
                }
                if !(*step > 0.0 && *step <= 1.0) {
                    return Err(problem("teacher.step", format!("expected a step in (0, 1], found {step}")));
                }
                if !(0.0..=1.0).contains(start) {
                    return Err(problem(
                        "teacher.start",
                        format!("expected a difficulty in [0, 1], found {start}"),
                    ));
                }
                (Rule::Adaptive { every: *every, band: *band, step: *step, start: *start }, knobs, *until)
            }
            TeacherSpec::Cyclical { easy, hard, knobs, until } => {
                if *easy == 0 || *hard == 0 {
                    return Err(problem(
                        if *easy == 0 { "teacher.easy" } else { "teacher.hard" },
                        "expected phases of at least 1 step",
                    ));
                }
                (Rule::Cyclical { easy: *easy, hard: *hard }, knobs, *until)
            }
        })
    }
}
