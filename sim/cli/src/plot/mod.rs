//! `beanworld plot DIR [DIR...]`: draws the metrics of one or more runs into one PNG, so runs
//! can be compared and slow changes (seasons, schedule switches) seen at a glance; with
//! `--learner FIELD`, a field of their learners' `learner.jsonl` instead (a loss, a plasticity
//! diagnostic). The drawing itself, which `run` and `recovery` use too, is in `chart`.

use std::io::Write;
use std::path::PathBuf;

mod chart;
mod metrics;

pub(crate) use chart::{Band, Line, plot_bands, plot_points, plot_runs};
pub(crate) use metrics::MetricsFile;

/// Why a plot (or reading the metrics it draws) failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PlotError(pub(crate) String);

/// Arguments of `plot`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Run folders (each with a metrics.csv).
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// The picture to write (default: DIR/plot.png for one run, plot.png for several).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Points per line.
    #[arg(long, default_value_t = 400, value_parser = clap::value_parser!(u64).range(2..=100_000))]
    points: u64,
    /// Draw this field of each run's learner.jsonl over the steps, a line per learner, instead
    /// of the reward rate: `policy_loss`, `dormant_0.1`, `srank`, `init_distance`, a field
    /// within one as `dormant_by_layer/s1`, …
    #[arg(long, value_name = "FIELD")]
    learner: Option<String>,
}

/// Runs `plot`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let out = match (&args.out, args.dirs.as_slice()) {
        (Some(out), _) => out.clone(),
        (None, [one]) => one.join("plot.png"),
        (None, _) => PathBuf::from("plot.png"),
    };
    match &args.learner {
        Some(field) => {
            let lines = learner_lines(&args.dirs, field, args.points as usize)?;
            plot_points(&format!("{field} per update"), ("step", field), &lines, &out)?;
        }
        None => plot_runs(&args.dirs, &out, args.points)?,
    }
    let _ = writeln!(std::io::stdout(), "{}", out.display());
    Ok(())
}

/// `field` (a `/`-separated path into each line) of the `learner.jsonl` of each run in `dirs`,
/// a line per run and learner, each of at most `points` points (every k-th update).
fn learner_lines(dirs: &[PathBuf], field: &str, points: usize) -> Result<Vec<Line>, PlotError> {
    let mut lines = Vec::new();
    for (run, dir) in dirs.iter().enumerate() {
        let path = dir.join(crate::learner_log::FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            PlotError(format!("cannot read {} (a run with a learner writes it): {e}", path.display()))
        })?;
        let mut by_learner: std::collections::BTreeMap<String, Vec<(f64, f64)>> = Default::default();
        let mut fields = std::collections::BTreeSet::new();
        for line in text.lines() {
            let Ok(o) = serde_json::from_str::<serde_json::Value>(line) else { continue };
            if let Some(o) = o.as_object() {
                fields.extend(o.keys().cloned());
            }
            let value = field.split('/').try_fold(&o, |v, k| v.get(k)).and_then(serde_json::Value::as_f64);
            let (Some(value), Some(step)) = (value, o.get("step").and_then(serde_json::Value::as_f64)) else {
                continue;
            };
            let learner = o.get("agent").map_or_else(String::new, |a| format!(" agent {a}"));
            by_learner.entry(learner).or_default().push((step, value));
        }
        if by_learner.is_empty() {
            return Err(PlotError(format!(
                "{}: no line has a number at \"{field}\"; its fields: {}",
                path.display(),
                fields.into_iter().collect::<Vec<_>>().join(", ")
            )));
        }
        for (learner, all) in by_learner {
            let every = all.len().div_ceil(points.max(1)).max(1);
            lines.push(Line {
                name: format!("{}{learner}", dir.display()),
                points: all.into_iter().step_by(every).collect(),
                colour: run,
                dashed: false,
            });
        }
    }
    Ok(lines)
}
