//! `beanworld plot DIR [DIR...]`: draws the metrics of one or more runs into one PNG, so runs
//! can be compared and slow changes (seasons, schedule switches) seen at a glance. The drawing
//! itself, which `run` and `recovery` use too, is in `chart`.

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
}

/// Runs `plot`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let out = match (&args.out, args.dirs.as_slice()) {
        (Some(out), _) => out.clone(),
        (None, [one]) => one.join("plot.png"),
        (None, _) => PathBuf::from("plot.png"),
    };
    plot_runs(&args.dirs, &out, args.points)?;
    let _ = writeln!(std::io::stdout(), "{}", out.display());
    Ok(())
}
