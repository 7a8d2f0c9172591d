//! beanworld: the command-line front end of the beanworld simulator, as a library so that the
//! Python binding runs the same code (the suite with a Python learner: [`suite::run_with`]).
//! Each subcommand lives in its own module; [`main`] parses the command line and turns every
//! error into one clear message and a non-zero exit code.

pub mod agents;
mod bench;
mod bound;
mod events;
mod learner_log;
mod map;
mod plot;
mod record;
mod recovery;
mod replay;
mod run;
mod scenario_arg;
pub mod suite;
mod train;
mod validate;
mod watch;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// A Jelly Bean World–style simulator for never-ending learning.
#[derive(Parser, Debug)]
#[command(name = "beanworld", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check a scenario file and print a one-line summary, or what is wrong with it.
    Validate(validate::Args),
    /// Generate a region of a scenario's world; print statistics, a digest, a picture, items.
    Map(map::Args),
    /// Run a scenario headless with its scripted agents: metrics, summary, snapshots.
    Run(run::Args),
    /// Run a scenario as `run` does, shown live in a window (pan, zoom, follow, overlays).
    Watch(watch::Args),
    /// Measure how fast a scenario steps with a built-in policy.
    Bench(bench::Args),
    /// Draw the metrics of one or more runs into a PNG.
    Plot(plot::Args),
    /// How fast a learner recovers after each switch of its reward schedule.
    Recovery(recovery::Args),
    /// Re-run an action log written by `run --record-actions`, without its agents.
    Replay(replay::Args),
    /// Run a scenario and write PNG frames drawn on the GPU.
    Record(record::Args),
    /// The reward upper bound (spec §10.3): the best rate on boxes of the world, solved exactly.
    Bound(bound::Args),
    /// The never-ending-learning benchmark: tracks, lives scored by the protocol, reports.
    Suite(suite::Args),
}

/// The `beanworld` command: parses the command line, runs the subcommand.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(args) => validate::run(args),
        Command::Map(args) => map::run(args),
        Command::Run(args) => run::run(args),
        Command::Watch(args) => watch::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Plot(args) => plot::run(args),
        Command::Recovery(args) => recovery::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Record(args) => record::run(args),
        Command::Bound(args) => bound::run(args),
        Command::Suite(args) => suite::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
