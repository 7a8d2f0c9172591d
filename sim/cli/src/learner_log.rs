//! `learner.jsonl` of a run whose agents learn over the step channel: a line for each report an
//! agent or team makes after acting ([`Agent::take_report`](beanworld_agents::Agent::take_report);
//! a PPO learner reports each update), its JSON object prefixed with the step, the agent (its id;
//! a team's first member) and the steps per second of the run so far. Nothing is written, and no
//! file made, for agents that report nothing. A run resumed into the same folder keeps the lines
//! up to the snapshot's step and appends.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;

use crate::events::Events;
use beanworld_agents::Runner;

/// The file's name in a run's folder.
pub(crate) const FILE: &str = "learner.jsonl";

pub(crate) struct LearnerLog {
    path: PathBuf,
    append: bool,
    file: Option<BufWriter<File>>,
    /// The same numbers for TensorBoard ([`crate::events`]), opened with the file.
    events: Option<Events>,
    /// The first failure to write; the run goes on, and it is returned at the end.
    error: Option<std::io::Error>,
    started: Instant,
    first_step: u64,
}

impl LearnerLog {
    /// A log in `dir` for a run starting at step `first_step`; a resumed run (`append`) keeps
    /// the lines of the file there up to that step.
    pub(crate) fn new(dir: &Path, append: bool, first_step: u64) -> anyhow::Result<Self> {
        let path = dir.join(FILE);
        if append && path.exists() {
            keep_until(&path, first_step).with_context(|| format!("cannot rewrite {}", path.display()))?;
        }
        let events = dir.join(crate::events::FILE);
        if append && events.exists() {
            crate::events::keep_until(&events, first_step)
                .with_context(|| format!("cannot rewrite {}", events.display()))?;
        }
        Ok(LearnerLog {
            path,
            append,
            file: None,
            events: None,
            error: None,
            started: Instant::now(),
            first_step,
        })
    }

    /// Writes down what the agents reported in the step `runner` just took.
    pub(crate) fn take(&mut self, runner: &Runner) {
        let reports = &runner.report().reports;
        if reports.is_empty() || self.error.is_some() {
            return;
        }
        let step = runner.sim().time();
        let rate = (step - self.first_step) as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        if let Err(e) = self.write(step, rate, reports) {
            self.error = Some(e);
        }
    }

    fn write(&mut self, step: u64, rate: f64, reports: &[(u32, String)]) -> std::io::Result<()> {
        let file = match &mut self.file {
            Some(file) => file,
            None => {
                let file = OpenOptions::new()
                    .create(true)
                    .write(true)
                    .append(self.append)
                    .truncate(!self.append)
                    .open(&self.path)?;
                self.file.insert(BufWriter::new(file))
            }
        };
        let events = match &mut self.events {
            Some(events) => events,
            None => {
                let dir = self.path.parent().unwrap_or(Path::new("."));
                self.events.insert(Events::open(dir, self.append.then_some(self.first_step))?)
            }
        };
        for (agent, report) in reports {
            events.scalars(step, &format!("agent_{agent}"), report)?;
            // The report's fields after the run's own; a report that is not an object is kept
            // whole, as a string.
            let head = format!("{{\"step\":{step},\"agent\":{agent},\"steps_per_sec\":{rate:.1}");
            match report.trim().strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
                Some(fields) if fields.trim().is_empty() => writeln!(file, "{head}}}")?,
                Some(fields) => writeln!(file, "{head},{fields}}}")?,
                None => writeln!(file, "{head},\"report\":{}}}", serde_json::Value::String(report.clone()))?,
            }
        }
        // Flushed with each update (a line every few hundred steps), so that a run cut short
        // keeps them.
        events.flush()?;
        file.flush()
    }

    /// Flushes the log; the first error met writing it, if any.
    pub(crate) fn finish(mut self) -> anyhow::Result<()> {
        if let Some(file) = &mut self.file
            && let Err(e) = file.flush()
        {
            self.error.get_or_insert(e);
        }
        match self.error {
            Some(e) => Err(e).with_context(|| format!("cannot write {}", self.path.display())),
            None => Ok(()),
        }
    }
}

/// Cuts the log at `path` before its first line of a step after `step` (its lines are in step
/// order; a line that does not parse is a line cut short, and goes too).
fn keep_until(path: &Path, step: u64) -> std::io::Result<()> {
    #[derive(serde::Deserialize)]
    struct Line {
        step: u64,
    }
    cut_after(path, 0, step, |line| serde_json::from_str::<Line>(line).ok().map(|l| l.step))
}

/// Cuts the file at `path`, after its first `header` lines, before its first line whose step
/// (`step_of`, in step order) is after `step`, or that has none or no end (a line cut short by
/// a kill).
pub(crate) fn cut_after(
    path: &Path,
    header: usize,
    step: u64,
    step_of: impl Fn(&str) -> Option<u64>,
) -> std::io::Result<()> {
    let text = std::fs::read_to_string(path)?;
    let mut keep = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let whole = line.ends_with('\n');
        if !whole || (i >= header && step_of(line.trim_end()).is_none_or(|s| s > step)) {
            break;
        }
        keep += line.len();
    }
    OpenOptions::new().write(true).open(path)?.set_len(keep as u64)
}
