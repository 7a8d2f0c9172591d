//! beanworld-curriculum: teachers that change the task while a learner trains. A scenario's
//! `teacher:` field (see `beanworld_sim::teacher`) names knobs — world parameters, or a reward
//! bonus per item collected (denser reward while it is easy), each with an easy and a hard value —
//! and a rule for the difficulty between them:
//!
//! - **adaptive**: every `every` steps it re-estimates how hard the current setting is for the
//!   learners (their mean reward per step since the last decision) and moves the difficulty up
//!   when they do better than its band, down when they do worse, so the task stays at the edge
//!   of what they can do;
//! - **cyclical**: easy and full-difficulty phases alternate on a fixed schedule.
//!
//! Either may stop teaching at `until`, leaving the full task from then on. A [`Curriculum`]
//! sends its settings as control messages through the runner's step channel; they take effect at
//! the next step boundary, so a taught run is as reproducible as any other, and its state (the
//! difficulty, the reward gathered since the last decision, its history) travels in snapshots.

use beanworld_agents::{AgentError, Control, Runner, Teacher};
use beanworld_sim::teacher::{self, Rule, Target};
use serde::{Deserialize, Serialize};

/// What changes as it teaches.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct State {
    difficulty: f32,
    /// Reward summed over agents and steps since the last decision, and how many agent-steps.
    reward: f64,
    samples: u64,
    /// `(step, difficulty)`: from that step on, that difficulty.
    history: Vec<(u64, f32)>,
    /// Past `until`: the full task, no more teaching.
    done: bool,
}

/// A teacher following a scenario's `teacher:` field.
pub struct Curriculum {
    spec: teacher::Teacher,
    state: State,
}

impl Curriculum {
    /// A teacher for `spec`; call [`Curriculum::start`] on a fresh run, or
    /// [`Teacher::load`] on a resumed one.
    pub fn new(spec: teacher::Teacher) -> Self {
        Curriculum { spec, state: State::default() }
    }

    /// Sets the first difficulty before the first step of `runner`.
    pub fn start(&mut self, runner: &Runner) {
        let first = match self.spec.rule {
            Rule::Adaptive { start, .. } => start,
            Rule::Cyclical { .. } => 0.0,
        };
        let step = runner.sim().time();
        let first = if self.spec.until.is_some_and(|u| step >= u) { 1.0 } else { first };
        self.set(runner, step, first);
    }

    /// The difficulty now, in `[0, 1]`.
    pub fn difficulty(&self) -> f32 {
        self.state.difficulty
    }

    /// Each change: from which step on, which difficulty.
    pub fn history(&self) -> &[(u64, f32)] {
        &self.state.history
    }

    /// Sends every knob's value at `difficulty`, for the steps after `step`.
    fn set(&mut self, runner: &Runner, step: u64, difficulty: f32) {
        let difficulty = difficulty.clamp(0.0, 1.0);
        if self.state.history.last().is_some_and(|(_, d)| *d == difficulty) {
            return;
        }
        let control = runner.controller();
        // The runner drains the queue (1,024 places) at every step, and a teacher sends at most
        // one message per knob per step, so it is never full.
        for knob in &self.spec.knobs {
            if let Target::Param(param) = &knob.target {
                let _ = control.push(Control::SetParam(param.clone(), knob.at(difficulty)));
            }
        }
        if self.spec.knobs.iter().any(|k| matches!(k.target, Target::Bonus { .. })) {
            let base = &runner.sim().scenario().task;
            let _ = control.push(Control::SetTask(teacher::with_bonuses(base, &self.spec.knobs, difficulty)));
        }
        self.state.difficulty = difficulty;
        self.state.history.push((step + 1, difficulty));
    }
}

impl Teacher for Curriculum {
    fn after_step(&mut self, runner: &Runner) {
        if self.state.done {
            return;
        }
        let step = runner.sim().time();
        if self.spec.until.is_some_and(|u| step + 1 >= u) {
            self.set(runner, step, 1.0);
            self.state.done = true;
            return;
        }
        match self.spec.rule {
            Rule::Adaptive { every, band, step: delta, .. } => {
                let rewards = &runner.report().rewards;
                self.state.reward += rewards.iter().map(|&r| f64::from(r)).sum::<f64>();
                self.state.samples += rewards.len() as u64;
                if step.is_multiple_of(every) && self.state.samples > 0 {
                    let rate = (self.state.reward / self.state.samples as f64) as f32;
                    let d = self.state.difficulty;
                    let next = if rate > band.1 {
                        d + delta
                    } else if rate < band.0 {
                        d - delta
                    } else {
                        d
                    };
                    (self.state.reward, self.state.samples) = (0.0, 0);
                    self.set(runner, step, next);
                }
            }
            Rule::Cyclical { easy, hard } => {
                let next = if step % (easy + hard) < easy { 0.0 } else { 1.0 };
                self.set(runner, step, next);
            }
        }
    }

    fn save(&self) -> Vec<u8> {
        postcard::to_stdvec(&self.state).unwrap_or_default()
    }

    fn load(&mut self, state: &[u8]) -> Result<(), AgentError> {
        self.state = postcard::from_bytes(state)
            .map_err(|e| AgentError::State(format!("not a teacher's state: {e}")))?;
        Ok(())
    }
}
