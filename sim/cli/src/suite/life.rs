//! One life of the protocol: a learner lives in a track's scenario as one unbroken stream (a
//! `beanworld run` of it, snapshots included), and every `eval_every` steps a frozen copy of it
//! is scored on each of the track's tasks in each held-out world. What it writes in its folder:
//!
//! - the run's own files (`metrics.csv`, `summary.json`, `switches.csv`, `learner.jsonl`, …;
//!   `summary.json` and `metrics.csv` carry timings);
//! - `evals.csv`: `step` and a column per task: the frozen policy's reward per agent and step
//!   over `eval_steps` steps, the mean over the held-out worlds;
//! - `result.json` when the life is done: the protocol's figures ([`Result`]).
//!
//! Where a task first comes into force after the start, the snapshot of that step is kept in
//! `transfer/` and, once the life is lived, a fresh learner is put into that world for the
//! task's first phase (`transfer/fresh-STEP`, a `run --resume --fresh-agents`): the two
//! learners' rewards over the same steps give the forward transfer. `transfer/` goes when
//! `result.json` is written.
//!
//! `evals.csv` and `result.json` depend on nothing but the track, the learner and the seed. A
//! life killed midway is resumed from its newest snapshot taken at an evaluation (one is taken
//! at each), keeping the evaluations up to it; a finished one (its `result.json` there) is not
//! run again.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, bail};
use beanworld_agents::session;
use beanworld_agents::{Agent, Driver, Frozen, Runner};
use beanworld_sim::policy::PolicyKind;
use beanworld_sim::task::Schedule;
use beanworld_sim::{Scenario, Simulation};
use clap::Parser;
use serde::Serialize;

use super::track::{Lengths, Track};
use crate::recovery;

/// The file a finished life leaves.
pub(crate) const RESULT: &str = "result.json";
const EVALS: &str = "evals.csv";
/// The format written in every `result.json`.
pub(crate) const FORMAT: &str = "beanworld-suite-life-2";
/// The folder of the snapshots and runs that measure forward transfer.
const TRANSFER: &str = "transfer";

/// One life to live.
pub(crate) struct Life<'a> {
    pub(crate) track: &'a Track,
    pub(crate) learner: &'a str,
    pub(crate) seed: u64,
    pub(crate) smoke: bool,
    pub(crate) dir: PathBuf,
}

/// How a life ended.
pub(crate) enum Ended {
    /// Lived to the end now, or before.
    Done,
    /// Stopped by Ctrl-C; a snapshot was kept to go on from.
    Interrupted,
}

/// The protocol's figures for one life (`result.json`). Rates are rewards per agent and step.
#[derive(Serialize, serde::Deserialize, Clone, Debug)]
pub(crate) struct Result {
    pub(crate) format: String,
    pub(crate) track: String,
    pub(crate) version: u32,
    pub(crate) learner: String,
    pub(crate) seed: u64,
    pub(crate) smoke: bool,
    pub(crate) lengths: Lengths,
    pub(crate) held_out: Vec<u64>,
    pub(crate) tasks: Vec<String>,
    /// Steps at which the reward function in force changed.
    pub(crate) switches: Vec<u64>,
    /// `(step, rate over the trailing window)` at each evaluation.
    pub(crate) curve: Vec<(u64, f64)>,
    /// `(step, score per task)` of each evaluation.
    pub(crate) evals: Vec<(u64, Vec<f64>)>,
    /// Total reward over the life, per step.
    pub(crate) lifetime: f64,
    /// The rate over the life's last `window` steps.
    pub(crate) last: f64,
    /// Per task: the best score of an earlier evaluation minus the last evaluation's.
    pub(crate) forgetting: Vec<f64>,
    /// Per change of the reward function: steps until the trailing rate (over `window / 10`)
    /// first reached half of the phase's rate over its second half (none: never, or nothing to
    /// reach).
    pub(crate) recovery: Vec<Option<u64>>,
    /// Of a schedule that repeats its tasks: per task, the rate over the first `window / 2`
    /// steps of its second phase minus that of its last (positive: it relearns more slowly late
    /// in life), the mean over the tasks with three phases or more; none otherwise.
    pub(crate) plasticity_loss: Option<f64>,
    /// Per task that first comes into force after the start: `(its first step, the life's mean
    /// reward per step over the first `window` steps of that phase (or fewer, see
    /// `Track::transfers`) − a fresh learner's over the same steps of the same world)`; positive
    /// where what the learner learned before helps it.
    pub(crate) forward_transfer: Vec<(u64, f64)>,
    /// The plasticity diagnostics of the life's learner, each update's that has them: not part of
    /// `result.json`, but read from the learner's log beside it by `suite report`.
    #[serde(skip)]
    pub(crate) diagnostics: Vec<Diagnostic>,
}

/// One update's plasticity diagnostics, as `suite report` reads them from a learner's log.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Diagnostic {
    pub(crate) step: u64,
    /// The share of dormant units at τ = 0.1.
    pub(crate) dormant: f64,
    /// The effective rank of the features.
    pub(crate) srank: f64,
}

/// Lives `life` to its end, or until `stop` is raised.
pub(crate) fn live(life: &Life<'_>, stop: &AtomicBool) -> anyhow::Result<Ended> {
    if life.dir.join(RESULT).is_file() {
        return Ok(Ended::Done);
    }
    let lengths = life.track.lengths(life.smoke);
    std::fs::create_dir_all(&life.dir).with_context(|| format!("cannot create {}", life.dir.display()))?;
    let resume = newest_snapshot(&life.dir.join("snapshots"), &lengths)?;
    let evals_path = life.dir.join(EVALS);
    match resume {
        Some((step, _)) => {
            crate::learner_log::cut_after(&evals_path, 1, step, |line| line.split(',').next()?.parse().ok())
                .with_context(|| format!("cannot rewrite {}", evals_path.display()))?
        }
        None => {
            let header: Vec<&str> =
                std::iter::once("step").chain(life.track.tasks.iter().map(|t| t.name.as_str())).collect();
            std::fs::write(&evals_path, header.join(",") + "\n")
                .with_context(|| format!("cannot write {}", evals_path.display()))?;
        }
    }
    let resume: Vec<String> = match &resume {
        Some((_, path)) => vec!["--resume".into(), path.display().to_string()],
        None => Vec::new(),
    };
    let args = run_args(life, lengths.steps, &life.dir, lengths.eval_every, &resume)?;
    let mut scenario = life.track.scenario.clone();
    crate::run::drive_with(&mut scenario, life.learner)?;
    scenario.teacher = None;
    let mut evals = OpenOptions::new()
        .append(true)
        .open(&evals_path)
        .with_context(|| format!("cannot write {}", evals_path.display()))?;
    let transfers = life.track.transfers(&lengths);
    let transfer = life.dir.join(TRANSFER);
    let halt = AtomicBool::new(false);
    let mut failed: Option<anyhow::Error> = None;
    let ended = crate::run::session(&args, &halt, |runner| {
        if stop.load(Ordering::SeqCst) {
            halt.store(true, Ordering::SeqCst);
        }
        let step = runner.sim().time();
        if failed.is_some() {
            return;
        }
        // The snapshot of a step where a task first comes into force is written after that
        // step's call: it is kept aside at the next one.
        if transfers.iter().any(|&(from, _)| from + 1 == step)
            && let Err(e) = keep_for_transfer(&life.dir, step - 1)
        {
            failed = Some(e);
            halt.store(true, Ordering::SeqCst);
        }
        if !step.is_multiple_of(lengths.eval_every) {
            return;
        }
        let scored = runner
            .save_agents()
            .map_err(anyhow::Error::from)
            .and_then(|states| evaluate(life, &scenario, runner.sim(), &states, lengths.eval_steps))
            .and_then(|scores| {
                let row: Vec<String> =
                    std::iter::once(step.to_string()).chain(scores.iter().map(|s| s.to_string())).collect();
                writeln!(evals, "{}", row.join(","))?;
                evals.flush()?;
                Ok(())
            });
        if let Err(e) = scored {
            failed = Some(e.context(format!("the evaluation at step {step}")));
            halt.store(true, Ordering::SeqCst);
        }
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    if let Some(failure) = ended.failure() {
        bail!("{failure}");
    }
    if ended.interrupted() || ended.sim.time() < lengths.steps {
        return Ok(Ended::Interrupted);
    }
    let mut fresh = Vec::with_capacity(transfers.len());
    for &(from, to) in &transfers {
        match fresh_learner(life, &transfer, from, to, stop)? {
            Some(rate) => fresh.push((from, to, rate)),
            None => return Ok(Ended::Interrupted),
        }
    }
    let result = measure(life, &lengths, &fresh)?;
    let path = life.dir.join(RESULT);
    std::fs::write(&path, serde_json::to_string_pretty(&result)? + "\n")
        .with_context(|| format!("cannot write {}", path.display()))?;
    // Done: nothing will resume from them.
    let _ = std::fs::remove_dir_all(life.dir.join("snapshots"));
    let _ = std::fs::remove_dir_all(&transfer);
    Ok(Ended::Done)
}

/// Keeps the life's snapshot of `step` in `transfer/` (once).
fn keep_for_transfer(dir: &Path, step: u64) -> anyhow::Result<()> {
    let kept = dir.join(TRANSFER).join(format!("{step}.snap"));
    if kept.is_file() {
        return Ok(());
    }
    let from = dir.join("snapshots").join(format!("{step}.snap"));
    std::fs::create_dir_all(dir.join(TRANSFER))
        .with_context(|| format!("cannot create {}", dir.display()))?;
    // Written whole, then renamed: a kill leaves no half snapshot to go on from.
    let part = kept.with_extension("part");
    std::fs::copy(&from, &part)
        .and_then(|_| std::fs::rename(&part, &kept))
        .with_context(|| format!("cannot keep {} as {}", from.display(), kept.display()))?;
    Ok(())
}

/// The reward per step of a fresh learner put into the life's world at step `from` (the
/// snapshot kept in `transfer`) over steps `from + 1 ..= to`, run once (`None`: interrupted).
fn fresh_learner(
    life: &Life<'_>,
    transfer: &Path,
    from: u64,
    to: u64,
    stop: &AtomicBool,
) -> anyhow::Result<Option<f64>> {
    let out = transfer.join(format!("fresh-{from}"));
    let finished = |out: &Path| -> Option<bool> {
        let text = std::fs::read_to_string(out.join("summary.json")).ok()?;
        let summary: serde_json::Value = serde_json::from_str(&text).ok()?;
        Some(summary["steps"].as_u64()? == to && !summary["interrupted"].as_bool()?)
    };
    if finished(&out) != Some(true) {
        // A run cut short starts again from the kept snapshot: it is short, and the same.
        let _ = std::fs::remove_dir_all(&out);
        let snapshot = transfer.join(format!("{from}.snap"));
        let extra = ["--resume", &snapshot.display().to_string(), "--fresh-agents"].map(String::from);
        let args = run_args(life, to, &out, 0, &extra)?;
        let halt = AtomicBool::new(false);
        let ended = crate::run::session(&args, &halt, |_| {
            if stop.load(Ordering::SeqCst) {
                halt.store(true, Ordering::SeqCst);
            }
        })
        .with_context(|| format!("the fresh learner at step {from}"))?;
        if let Some(failure) = ended.failure() {
            bail!("the fresh learner at step {from}: {failure}");
        }
        if ended.interrupted() || ended.sim.time() < to {
            return Ok(None);
        }
    }
    let rewards = recovery::rewards_since(&out, from)?;
    Ok(Some((rewards.at(to) - rewards.at(from)) / (to - from).max(1) as f64))
}

/// The arguments of a `beanworld run` of the life's track and learner until step `steps` into
/// `out`, with a snapshot every `every` steps (0: at the end), and `extra` arguments.
fn run_args(
    life: &Life<'_>,
    steps: u64,
    out: &Path,
    every: u64,
    extra: &[String],
) -> anyhow::Result<crate::run::Args> {
    #[derive(Parser)]
    struct Run {
        #[command(flatten)]
        args: crate::run::Args,
    }
    let mut argv: Vec<String> = vec![
        "run".into(),
        life.track.scenario_path.display().to_string(),
        "--steps".into(),
        steps.to_string(),
        "--out".into(),
        out.display().to_string(),
        "--agent".into(),
        life.learner.into(),
        "--snapshot-every".into(),
        every.to_string(),
        "--keep-snapshots".into(),
        "2".into(),
        "--no-teacher".into(),
    ];
    // A resumed run takes the snapshot's seed.
    if !extra.iter().any(|a| a == "--resume") {
        argv.extend(["--seed".into(), life.seed.to_string()]);
    }
    argv.extend(extra.iter().cloned());
    Ok(Run::try_parse_from(argv).context("the life's run")?.args)
}

/// The newest snapshot in `dir` taken at an evaluation: its step and path.
fn newest_snapshot(dir: &Path, lengths: &Lengths) -> anyhow::Result<Option<(u64, PathBuf)>> {
    if !dir.is_dir() {
        return Ok(None);
    }
    let steps = session::snapshot_steps(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    let at_evaluation = |&s: &u64| s > 0 && s.is_multiple_of(lengths.eval_every) && s <= lengths.steps;
    Ok(steps.into_iter().rfind(at_evaluation).map(|step| (step, dir.join(format!("{step}.snap")))))
}

/// The frozen learners' scores: per task, the mean over the held-out worlds of the reward per
/// agent and step over `steps` steps of a fresh world of the scenario (its seed the held-out
/// one, its reward the task's, its parameters those of the life's world now, held still), every
/// agent driven by a frozen copy of the life's agent of its id (or of the first, for an id the
/// life has not got).
fn evaluate(
    life: &Life<'_>,
    scenario: &Scenario,
    now: &Simulation,
    states: &[(u32, Vec<u8>)],
    steps: u64,
) -> anyhow::Result<Vec<f64>> {
    let mut now_world = scenario.clone();
    now_world.config = now.current_config().clone();
    now_world.dynamics.drift.clear();
    now_world.dynamics.events.clear();
    let mut scores = Vec::with_capacity(life.track.tasks.len());
    for task in &life.track.tasks {
        let mut sum = 0.0;
        for &seed in &life.track.held_out {
            let mut world = now_world.clone();
            world.seed = seed;
            world.task = Schedule::Fixed(task.reward.clone());
            sum += score(world, life.learner, states, steps)
                .with_context(|| format!("task \"{}\", held-out world {seed}", task.name))?;
        }
        scores.push(sum / life.track.held_out.len() as f64);
    }
    Ok(scores)
}

/// The reward per agent and step of frozen copies of `learner` over `steps` steps of `world`.
fn score(world: Scenario, learner: &str, states: &[(u32, Vec<u8>)], steps: u64) -> anyhow::Result<f64> {
    let (config, seed) = (world.config.clone(), world.seed);
    let sim = Simulation::new(world)?;
    // The state of agent `id` in the life, or the first one's for an id the life has not got.
    let state_of = |id: u32| states.iter().find(|(k, _)| *k == id).or(states.first()).map(|(_, s)| s.clone());
    let agents = sim
        .agents()
        .iter()
        .map(|a| Ok((a.id, frozen(learner, &config, a.id, seed, state_of(a.id).as_deref())?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    // Agents that events add later start from the first state, checked here once.
    let later = state_of(u32::MAX);
    frozen(learner, &config, u32::MAX, seed, later.as_deref())?;
    let learner = learner.to_string();
    let spawn = Box::new(move |id: u32, _: &PolicyKind| -> Driver {
        match frozen(&learner, &config, id, seed, later.as_deref()) {
            Ok(agent) => Driver::Agent(agent),
            Err(e) => unreachable!("checked before the evaluation: {e}"),
        }
    });
    let mut runner = Runner::new(sim, agents, 1, spawn);
    let mut total = 0.0;
    while runner.sim().time() < steps {
        if !runner.step()? {
            continue;
        }
        let rewards = &runner.report().rewards;
        total += rewards.iter().map(|&r| f64::from(r)).sum::<f64>() / rewards.len().max(1) as f64;
    }
    runner.finish();
    Ok(total / steps as f64)
}

/// A frozen copy of agent `id` of `learner`, restored from `state` (a fresh one without).
fn frozen(
    learner: &str,
    config: &beanworld_sim::Config,
    id: u32,
    seed: u64,
    state: Option<&[u8]>,
) -> anyhow::Result<Box<dyn Agent>> {
    let Driver::Agent(mut agent) = crate::agents::make(learner, config, id, seed)? else {
        bail!("{learner} is a team; the suite scores agents");
    };
    if let Some(state) = state {
        agent.load(state).with_context(|| format!("cannot restore agent {id}"))?;
    }
    Ok(Box::new(Frozen::new(agent)))
}

/// The protocol's figures, from the life's `metrics.csv`, `switches.csv` and `evals.csv`.
/// `fresh`: `(from, to, rate)`, the reward per step of a fresh learner over steps `from + 1 ..= to`.
fn measure(life: &Life<'_>, lengths: &Lengths, fresh: &[(u64, u64, f64)]) -> anyhow::Result<Result> {
    let rewards = recovery::rewards(&life.dir)?;
    let switches = recovery::switches(&life.dir)?;
    let evals = read_evals(&life.dir.join(EVALS), life.track.tasks.len())?;
    let steps = rewards.len();
    // The rate over the `window` steps up to `t` (all of them, early in the life).
    let rate = |t: u64, window: u64| {
        let w = window.min(t).max(1);
        (rewards.at(t) - rewards.at(t.saturating_sub(w))) / w as f64
    };
    let curve = evals.iter().map(|(step, _)| (*step, rate(*step, lengths.window))).collect();
    let forgetting = (0..life.track.tasks.len())
        .map(|j| match evals.split_last() {
            Some(((_, last), earlier)) if !earlier.is_empty() => {
                earlier.iter().map(|(_, s)| s[j]).fold(f64::NEG_INFINITY, f64::max) - last[j]
            }
            _ => 0.0,
        })
        .collect();
    let starts: Vec<u64> = std::iter::once(1).chain(switches.iter().copied()).collect();
    let early = (lengths.window / 2).max(1);
    let phases = recovery::measure(&rewards, &starts, (lengths.window / 10).max(1), early);
    let recovery = phases.iter().filter(|p| p.start > 1).map(|p| p.recovery).collect();
    Ok(Result {
        format: FORMAT.into(),
        track: life.track.name.clone(),
        version: life.track.version,
        learner: life.learner.into(),
        seed: life.seed,
        smoke: life.smoke,
        lengths: *lengths,
        held_out: life.track.held_out.clone(),
        tasks: life.track.tasks.iter().map(|t| t.name.clone()).collect(),
        plasticity_loss: plasticity_loss(&life.track.scenario.task, &phases),
        switches,
        curve,
        evals,
        lifetime: rewards.at(steps) / steps.max(1) as f64,
        last: rate(steps, lengths.window),
        forgetting,
        recovery,
        forward_transfer: fresh
            .iter()
            .map(|&(from, to, rate)| {
                (from, (rewards.at(to) - rewards.at(from)) / (to - from).max(1) as f64 - rate)
            })
            .collect(),
        diagnostics: Vec::new(),
    })
}

/// See [`Result::plasticity_loss`]: from each phase's `early` rate.
fn plasticity_loss(schedule: &Schedule, phases: &[recovery::Row]) -> Option<f64> {
    let Schedule::Cyclical(parts) = schedule else { return None };
    let mut by_part: Vec<Vec<f64>> = vec![Vec::new(); parts.len()];
    for phase in phases {
        by_part[schedule.phase(phase.start)].push(phase.early);
    }
    let losses: Vec<f64> = by_part.iter().filter(|e| e.len() >= 3).map(|e| e[1] - e[e.len() - 1]).collect();
    (!losses.is_empty()).then(|| losses.iter().sum::<f64>() / losses.len() as f64)
}

/// The rows of `evals.csv`: each step and its `tasks` scores.
fn read_evals(path: &Path, tasks: usize) -> anyhow::Result<Vec<(u64, Vec<f64>)>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let mut fields = line.split(',');
        let step = fields.next().and_then(|s| s.parse().ok());
        let scores: Vec<f64> = fields.filter_map(|s| s.parse().ok()).collect();
        match step {
            Some(step) if scores.len() == tasks => rows.push((step, scores)),
            _ => bail!("{}:{}: not a row of {tasks} scores: {line}", path.display(), i + 1),
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use beanworld_sim::task::Reward;

    fn phase(start: u64, early: f64) -> recovery::Row {
        recovery::Row { start, early, last: 0.0, recovery: None }
    }

    #[test]
    fn plasticity_loss_compares_the_second_and_the_last_relearning() {
        let two = Schedule::Cyclical(vec![(Reward::Zero, 10), (Reward::Action(1.0), 10)]);
        // Part 0 at 1, 21, 41; part 1 at 11, 31, 51, 71.
        let phases = [(1, 0.1), (11, 0.2), (21, 0.5), (31, 0.6), (41, 0.3), (51, 0.4), (71, 0.1)];
        let phases: Vec<_> = phases.iter().map(|&(s, e)| phase(s, e)).collect();
        // Part 0: 0.5 − 0.3; part 1: 0.6 − 0.1.
        let loss = plasticity_loss(&two, &phases).expect("three phases of each");
        assert!((loss - (0.2 + 0.5) / 2.0).abs() < 1e-12, "{loss}");
        assert_eq!(plasticity_loss(&two, &phases[..4]), None, "two phases of each say nothing");
        assert_eq!(plasticity_loss(&Schedule::Fixed(Reward::Zero), &phases), None);
    }
}
