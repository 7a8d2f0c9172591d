//! Track files (`scenarios/suite/*.ron`): a named, versioned life for a learner — one scenario
//! it lives in as one unbroken stream — with the tasks its frozen policy is scored on, the
//! held-out worlds it is scored in, and a smoke and a full length.
//!
//! ```ron
//! Track(
//!     name: "cyclical",
//!     version: 1,
//!     probes: "relearning the same two tasks again and again",
//!     scenario: "../cyclical.ron",            // relative to the track file
//!     tasks: [Task(name: "jelly beans", reward: Collect(item: "jellybean", value: 1))],
//!     held_out: [1000001, 1000002],           // world seeds never trained on
//!     smoke: (steps: 4000, eval_every: 2000, eval_steps: 500, window: 2000),
//!     full: (steps: 2000000, eval_every: 100000, eval_steps: 10000, window: 50000),
//! )
//! ```

use std::path::{Path, PathBuf};

use anyhow::bail;
use beanworld_sim::Scenario;
use beanworld_sim::scenario::RewardSpec;
use beanworld_sim::task::{Reward, Schedule};
use serde::Deserialize;

/// The folder of the shipped tracks, relative to the repository root.
pub(crate) const SHIPPED: &str = "scenarios/suite";

/// The lives' seeds are `0..seeds`; held-out seeds must be at least this, so no track can
/// evaluate in a world some life was trained in.
pub(crate) const FIRST_HELD_OUT: u64 = 1_000_000;

/// A track as written.
#[derive(Deserialize)]
#[serde(rename = "Track", deny_unknown_fields)]
struct TrackFile {
    name: String,
    version: u32,
    probes: String,
    scenario: PathBuf,
    tasks: Vec<TaskFile>,
    held_out: Vec<u64>,
    smoke: Lengths,
    full: Lengths,
}

#[derive(Deserialize)]
#[serde(rename = "Task", deny_unknown_fields)]
struct TaskFile {
    name: String,
    reward: RewardSpec,
}

/// How long a life lasts and how it is scored.
#[derive(Clone, Copy, Debug, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct Lengths {
    /// Steps of the life.
    pub(crate) steps: u64,
    /// Steps between evaluations of the frozen policy (a divisor of `steps`).
    pub(crate) eval_every: u64,
    /// Steps of each evaluation, in each held-out world, on each task.
    pub(crate) eval_steps: u64,
    /// Steps in the trailing window of the reward-rate curve and of the final rate.
    pub(crate) window: u64,
}

/// A task the frozen policy is scored on.
#[derive(Clone, Debug)]
pub(crate) struct Task {
    pub(crate) name: String,
    pub(crate) reward: Reward,
}

/// A track, checked: its scenario loaded, its tasks resolved against the scenario's items.
#[derive(Clone, Debug)]
pub(crate) struct Track {
    pub(crate) name: String,
    pub(crate) version: u32,
    pub(crate) probes: String,
    /// The scenario file, as found.
    pub(crate) scenario_path: PathBuf,
    pub(crate) scenario: Scenario,
    pub(crate) tasks: Vec<Task>,
    pub(crate) held_out: Vec<u64>,
    pub(crate) smoke: Lengths,
    pub(crate) full: Lengths,
}

impl Track {
    /// Reads and checks the track file at `path`.
    pub(crate) fn load(path: &Path) -> anyhow::Result<Track> {
        let file = path.display();
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read {file}: {e}"))?;
        let written: TrackFile = ron::Options::default()
            .from_str(&text)
            .map_err(|e| anyhow::anyhow!("{file}:{}:{}: {}", e.span.start.line, e.span.start.col, e.code))?;
        // A problem with a field: at the place in the file where `found` is written.
        let at = |found: &str, field: &str, message: String| {
            let (line, col) = position(&text, found);
            anyhow::anyhow!("{file}:{line}:{col}: {field}: {message}")
        };
        let scenario_path = path.parent().unwrap_or(Path::new(".")).join(&written.scenario);
        let shown = written.scenario.display().to_string();
        if !scenario_path.is_file() {
            return Err(at(&shown, "scenario", format!("no scenario file at {}", scenario_path.display())));
        }
        let scenario = Scenario::load(&scenario_path)
            .map_err(|e| at(&shown, "scenario", format!("the scenario is not valid: {e}")))?;
        if scenario.worlds > 1 {
            return Err(at(
                &shown,
                "scenario",
                "a life is one stream: the scenario must have `worlds: 1`".into(),
            ));
        }
        if written.name.is_empty() || !written.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(at(
                "name",
                "name",
                format!("\"{}\" is not a track name (letters, digits and '-')", written.name),
            ));
        }
        if written.tasks.is_empty() {
            return Err(at("tasks", "tasks", "no task to score the learner on; list at least one".into()));
        }
        let mut tasks = Vec::with_capacity(written.tasks.len());
        for (i, task) in written.tasks.iter().enumerate() {
            let reward = scenario.reward(&task.reward).map_err(|e| {
                at(&format!("\"{}\"", task.name), &format!("tasks[{i}] (\"{}\")", task.name), e)
            })?;
            if tasks.iter().any(|t: &Task| t.name == task.name) {
                return Err(at(
                    &format!("\"{}\"", task.name),
                    &format!("tasks[{i}]"),
                    "a second task of that name".into(),
                ));
            }
            tasks.push(Task { name: task.name.clone(), reward });
        }
        if written.held_out.is_empty() {
            return Err(at("held_out", "held_out", "no held-out world; list at least one seed".into()));
        }
        if let Some(seed) = written.held_out.iter().find(|&&s| s < FIRST_HELD_OUT) {
            return Err(at(
                "held_out",
                "held_out",
                format!(
                    "seed {seed} may be a life's (lives take seeds 0, 1, …); held-out seeds are {FIRST_HELD_OUT} or more"
                ),
            ));
        }
        if scenario
            .dynamics
            .events
            .iter()
            .any(|e| matches!(e.action, beanworld_sim::dynamics::EventAction::SetTask(_)))
        {
            return Err(at(
                &shown,
                "scenario",
                "it sets tasks by events; a track's tasks change by the scenario's schedule (Piecewise), which the suite reads to find new tasks".into(),
            ));
        }
        for (name, lengths) in [("smoke", &written.smoke), ("full", &written.full)] {
            check_lengths(lengths).map_err(|e| at(&format!("{name}:"), name, e))?;
            if !transfers(&scenario.task, lengths.steps).is_empty()
                && !lengths.eval_every.is_multiple_of(scenario.metrics_every.max(1))
            {
                return Err(at(
                    &format!("{name}:"),
                    name,
                    format!(
                        "eval_every ({}) must be a multiple of the scenario's metrics_every ({}) where tasks change: forward transfer sums whole metrics rows",
                        lengths.eval_every, scenario.metrics_every
                    ),
                ));
            }
            if let Some((from, _)) = transfers(&scenario.task, lengths.steps)
                .into_iter()
                .find(|(from, _)| !from.is_multiple_of(lengths.eval_every))
            {
                return Err(at(
                    &format!("{name}:"),
                    name,
                    format!(
                        "a task first comes into force at step {from}, where no evaluation is (eval_every {}): forward transfer starts from the snapshot taken there",
                        lengths.eval_every
                    ),
                ));
            }
        }
        Ok(Track {
            name: written.name,
            version: written.version,
            probes: written.probes,
            scenario_path,
            scenario,
            tasks,
            held_out: written.held_out,
            smoke: written.smoke,
            full: written.full,
        })
    }

    /// The lengths of a smoke or a full life.
    pub(crate) fn lengths(&self, smoke: bool) -> Lengths {
        if smoke { self.smoke } else { self.full }
    }

    /// The spans over which forward transfer is measured in a life of `lengths`: the first
    /// `window` steps (or fewer) of the first phase of each task that comes into force after
    /// the start; see [`transfers`].
    pub(crate) fn transfers(&self, lengths: &Lengths) -> Vec<(u64, u64)> {
        // The life's rewards are summed per metrics row: the span ends on one, so that the life's
        // and the fresh learner's sums cover the same steps exactly (`from` is an evaluation,
        // which is on a row: see `load`).
        let every = self.scenario.metrics_every.max(1);
        let spans = transfers(&self.scenario.task, lengths.steps);
        spans
            .into_iter()
            .map(|(from, to)| (from, to.min(from + lengths.window)))
            .map(|(from, to)| (from, from + (to - from) / every * every))
            .filter(|(from, to)| to > from)
            .collect()
    }
}

/// Where a reward function first comes into force in steps `1..=steps` of `schedule`, after
/// step 1: `(from, to)`, its first step and its phase's last. Forward transfer compares the
/// steps `from + 1 ..= to` of a life with those of a fresh learner put into the life's world as
/// it was after step `from` (the snapshot taken there; the life's learner has had that one step
/// of the new task).
fn transfers(schedule: &Schedule, steps: u64) -> Vec<(u64, u64)> {
    let mut seen = vec![schedule.at(1)];
    let mut out: Vec<(u64, u64)> = Vec::new();
    let mut open = false;
    for t in 2..=steps {
        let (now, before) = (schedule.at(t), schedule.at(t - 1));
        if now == before {
            continue;
        }
        if open && let Some(last) = out.last_mut() {
            last.1 = t - 1;
            open = false;
        }
        if !seen.contains(&now) {
            seen.push(now);
            out.push((t, steps));
            open = true;
        }
    }
    // A phase of one step has nothing to compare.
    out.retain(|(from, to)| to > from);
    out
}

fn check_lengths(l: &Lengths) -> Result<(), String> {
    if l.steps == 0 || l.eval_every == 0 || l.eval_steps == 0 || l.window == 0 {
        return Err("steps, eval_every, eval_steps and window must be at least 1".into());
    }
    if !l.steps.is_multiple_of(l.eval_every) {
        return Err(format!(
            "eval_every ({}) must divide steps ({}), so that the life ends with an evaluation",
            l.eval_every, l.steps
        ));
    }
    Ok(())
}

/// The line and column (from 1) of the first `needle` in `text`, or of its start.
fn position(text: &str, needle: &str) -> (usize, usize) {
    let start = text.find(needle).unwrap_or(0);
    let before = &text[..start];
    (before.matches('\n').count() + 1, start - before.rfind('\n').map_or(0, |i| i + 1) + 1)
}

/// The track a command-line argument names: a track file, or the name of a shipped track
/// (`scenarios/suite/NAME.ron`, found from the current folder).
pub(crate) fn find(arg: &str) -> anyhow::Result<Track> {
    let path = Path::new(arg);
    if path.extension().is_some_and(|e| e == "ron") || path.is_file() {
        return Track::load(path);
    }
    let shipped = Path::new(SHIPPED).join(format!("{arg}.ron"));
    if shipped.is_file() {
        return Track::load(&shipped);
    }
    let known = shipped_names().unwrap_or_default();
    bail!(
        "no track \"{arg}\": not a track file, and not one of the tracks in {SHIPPED} ({})",
        if known.is_empty() { "none found from this folder".to_string() } else { known.join(", ") }
    )
}

/// The shipped tracks' file names without `.ron`, sorted.
pub(crate) fn shipped_names() -> std::io::Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(SHIPPED)?
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".ron").map(str::to_string))
        .collect();
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_from_one() {
        assert_eq!(position("a\n  bc", "bc"), (2, 3));
        assert_eq!(position("abc", "a"), (1, 1));
    }

    #[test]
    fn transfers_are_the_first_phases_of_new_tasks() {
        let (a, b, c) = (Reward::Zero, Reward::Action(1.0), Reward::Action(2.0));
        let cyclical = Schedule::Cyclical(vec![(a.clone(), 10), (b.clone(), 10)]);
        // Rewards at t: a for 1..=9, b for 10..=19, a for 20..=29, …: b is new once.
        assert_eq!(transfers(&cyclical, 100), vec![(10, 19)]);
        assert_eq!(transfers(&cyclical, 15), vec![(10, 15)], "the life ends within the phase");
        assert_eq!(transfers(&cyclical, 10), vec![], "a phase of one step");
        let story = Schedule::Piecewise(vec![(0, a.clone()), (30, b), (60, a), (90, c)]);
        assert_eq!(transfers(&story, 120), vec![(30, 59), (90, 120)], "a task in force again is not new");
        assert_eq!(transfers(&Schedule::Fixed(Reward::Zero), 100), vec![]);
    }

    #[test]
    fn lengths_must_end_on_an_evaluation() {
        let l = Lengths { steps: 10, eval_every: 3, eval_steps: 1, window: 1 };
        assert!(check_lengths(&l).expect_err("3 does not divide 10").contains("must divide"));
        assert!(check_lengths(&Lengths { eval_every: 5, ..l }).is_ok());
        assert!(check_lengths(&Lengths { eval_steps: 0, ..l }).is_err());
    }
}
