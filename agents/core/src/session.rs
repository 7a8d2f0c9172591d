//! A run from start to end: step a [`Runner`] until a step, record metrics, write snapshots on a
//! cadence and when asked, and — however the run ends (done, interrupted, an agent panicked) —
//! flush the metrics and write a final snapshot with the agents' states, so nothing is lost.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use beanworld_sim::snapshot::{self, SnapshotError};
use serde::{Deserialize, Serialize};

use crate::agent::Teacher;
use crate::metrics::{Interval, Metrics, Record};
use crate::runner::{Pending, RunError, Runner};

/// What `run` keeps in snapshots beside the simulation.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Extra {
    /// The trajectory hash and reward-rate windows.
    pub record: Record,
    /// The sums of the metrics interval under way.
    pub interval: Interval,
    /// The name of the agent that drives the externally driven agents, if any.
    pub agent: Option<String>,
    /// The saved states of the agents on the agent threads, by id.
    pub agents: Vec<(u32, Vec<u8>)>,
    /// What the agents are owed at the next step.
    pub pending: Pending,
    /// The teacher's state (empty without one).
    pub teacher: Vec<u8>,
}

/// Why a session stopped early.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The run failed; metrics and a final snapshot were written.
    #[error(transparent)]
    Run(#[from] RunError),
    /// Writing results failed.
    #[error("{0}")]
    Io(String),
    /// A snapshot could not be written.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
}

/// How a session ended.
#[derive(Debug)]
pub struct Outcome {
    /// Steps taken in this session.
    pub steps: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Whether it was interrupted (`stop` was raised).
    pub interrupted: bool,
    /// The last snapshot written.
    pub snapshot: PathBuf,
}

/// How long to run and where to save.
#[derive(Clone, Debug)]
pub struct Plan<'a> {
    /// The baseline driving the agents, recorded in snapshots.
    pub agent: Option<&'a str>,
    /// Run until this step.
    pub until: u64,
    /// Write a snapshot every this many steps (0: never; a final one is always written).
    pub every: u64,
    /// Keep only the newest this many `<step>.snap` files in `snapshots` (0: keep them all), so
    /// that a never-ending run's snapshots take bounded disk.
    pub keep: usize,
    /// The folder for `<step>.snap` files.
    pub snapshots: &'a Path,
}

/// Who else takes part in a session besides the runner's agents.
#[derive(Default)]
pub struct Company<'a> {
    /// A curriculum teacher, called after every step (before that step's snapshot is taken).
    pub teacher: Option<&'a mut dyn Teacher>,
}

/// Steps `runner` as `plan` says (or until `stop` is raised), recording into `metrics`, letting
/// `company`'s teacher steer, and writing snapshots on the plan's cadence, when an event or a
/// control message asks, and at the end. On every exit path the metrics are written (the interval
/// under way as it stands) and flushed and the final snapshot written before returning; the error, if any, comes with the path of that snapshot.
pub fn run(
    runner: &mut Runner,
    metrics: &mut Metrics,
    plan: &Plan<'_>,
    mut company: Company<'_>,
    stop: &AtomicBool,
    mut after_step: impl FnMut(&mut Runner),
) -> Result<Outcome, (SessionError, Option<PathBuf>)> {
    let Plan { agent, until, every, keep, snapshots } = *plan;
    let start = runner.sim().time();
    let started = Instant::now();
    let mut result: Result<(), SessionError> = Ok(());
    while runner.sim().time() < until && !stop.load(Ordering::SeqCst) {
        match runner.step() {
            Ok(true) => {}
            Ok(false) => {
                std::thread::sleep(std::time::Duration::from_millis(1));
                continue;
            }
            Err(e) => {
                result = Err(e.into());
                break;
            }
        }
        let report = runner.report();
        let due = report.snapshot;
        let (scent, vision) = runner.observations();
        if let Err(e) = metrics.step(
            runner.sim(),
            &report.ids,
            &report.actions,
            &report.rewards,
            &report.moved,
            scent,
            vision,
        ) {
            result = Err(SessionError::Io(format!("cannot write metrics.csv: {e}")));
            break;
        }
        if let Some(teacher) = company.teacher.as_deref_mut() {
            teacher.after_step(runner);
        }
        after_step(runner);
        let step = runner.sim().time();
        // The rows and the action log up to a snapshot are on disk before it is: a run killed
        // later and resumed from it loses nothing.
        if (every > 0 && step.is_multiple_of(every) || due)
            && step < until
            && let Err(e) = metrics
                .flush()
                .map_err(|e| SessionError::Io(format!("cannot write metrics.csv: {e}")))
                .and_then(|()| Ok(runner.flush_log()?))
                .and_then(|()| save(runner, metrics, agent, company.teacher.as_deref(), (snapshots, keep)))
        {
            result = Err(e);
            break;
        }
    }
    let flushed = metrics
        .finish(runner.sim())
        .map_err(|e| SessionError::Io(format!("cannot write metrics.csv: {e}")))
        .and_then(|()| Ok(runner.flush_log()?));
    let last = save(runner, metrics, agent, company.teacher.as_deref(), (snapshots, keep));
    let outcome = Outcome {
        steps: runner.sim().time() - start,
        seconds: started.elapsed().as_secs_f64(),
        interrupted: stop.load(Ordering::SeqCst),
        snapshot: snapshots.join(format!("{}.snap", runner.sim().time())),
    };
    let written = last.is_ok().then(|| outcome.snapshot.clone());
    result.and(flushed).and(last).map(|()| outcome).map_err(|e| (e, written))
}

fn save(
    runner: &mut Runner,
    metrics: &Metrics,
    agent: Option<&str>,
    teacher: Option<&dyn Teacher>,
    (dir, keep): (&Path, usize),
) -> Result<(), SessionError> {
    let agents = runner.save_agents().unwrap_or_default();
    let extra = Extra {
        record: metrics.record.clone(),
        interval: metrics.interval.clone(),
        agent: agent.map(str::to_string),
        agents,
        pending: runner.pending(),
        teacher: teacher.map(|t| t.save()).unwrap_or_default(),
    };
    snapshot::save(runner.sim(), &extra, &dir.join(format!("{}.snap", runner.sim().time())))?;
    if keep > 0 {
        prune(dir, keep).map_err(|e| {
            SessionError::Io(format!("cannot remove old snapshots in {}: {e}", dir.display()))
        })?;
    }
    Ok(())
}

/// Removes all but the newest `keep` snapshots (`<step>.snap`) from `dir`.
fn prune(dir: &Path, keep: usize) -> std::io::Result<()> {
    let steps = snapshot_steps(dir)?;
    for step in &steps[..steps.len().saturating_sub(keep)] {
        std::fs::remove_file(dir.join(format!("{step}.snap")))?;
    }
    Ok(())
}

/// The steps of the `<step>.snap` files a session wrote into `dir`, rising.
pub fn snapshot_steps(dir: &Path) -> std::io::Result<Vec<u64>> {
    let mut steps: Vec<u64> = std::fs::read_dir(dir)?
        .filter_map(|entry| {
            let name = entry.ok()?.file_name();
            name.to_str()?.strip_suffix(".snap")?.parse().ok()
        })
        .collect();
    steps.sort_unstable();
    Ok(steps)
}
