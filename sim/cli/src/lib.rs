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
pub use train::{load_worlds, save_worlds};
mod validate;
mod watch;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// `beanworld --version`: the version and the commit it was built from (see `build.rs`).
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("BEANWORLD_COMMIT"), ")");

/// A Jelly Bean World–style simulator for never-ending learning.
#[derive(Parser, Debug)]
#[command(name = "beanworld", version = VERSION, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Threads that sample a step's new patches together, where they do not depend on each other
    /// (default: the machine's; 1 keeps generation on the thread that steps). Results are the same
    /// whatever the number.
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=256))]
    generation_threads: Option<u64>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check a scenario file and print a one-line summary, or what is wrong with it.
    #[command(after_help = "Example:\n  beanworld validate scenarios/jbw-paper.ron")]
    Validate(validate::Args),
    /// Generate a region of a scenario's world; print statistics, a digest, a picture, items.
    #[command(
        after_help = "Example:\n  beanworld map scenarios/jbw-v0.ron --region 0,0,99,99 --stats --png map.png"
    )]
    Map(map::Args),
    /// Run a scenario headless, its agents or a learner (`--agent`): metrics, summary, snapshots.
    #[command(
        after_help = "Examples:\n  beanworld run scenarios/jbw-v0.ron --steps 100000 --out runs/v0\n  \
        beanworld run scenarios/experiments/paper-scent.ron --agent ppo-scent --steps 200000 --out runs/ppo"
    )]
    Run(run::Args),
    /// Run a scenario as `run` does, shown live in a window (pan, zoom, follow, overlays).
    #[command(after_help = "Example:\n  beanworld watch scenarios/seasons.ron --agent greedy-visual")]
    Watch(watch::Args),
    /// Measure how fast a scenario steps with a built-in policy or a learner.
    #[command(after_help = "Examples:\n  beanworld bench scenarios/jbw-v0.ron --steps 100000\n  \
        beanworld bench scenarios/jbw-v0.ron --learner ppo-scent --worlds 64 --steps 1100")]
    Bench(bench::Args),
    /// Draw the metrics of one or more runs into a PNG.
    #[command(after_help = "Examples:\n  beanworld plot runs/v0 runs/ppo --out rates.png\n  \
        beanworld plot runs/ppo --learner dormant_0.1")]
    Plot(plot::Args),
    /// How fast a learner recovers after each switch of its reward schedule.
    #[command(after_help = "Example:\n  beanworld recovery runs/cyclical-1 runs/cyclical-2 --window 5000")]
    Recovery(recovery::Args),
    /// Re-run an action log written by `run --record-actions`, without its agents.
    #[command(
        after_help = "Example:\n  beanworld run scenarios/jbw-v0.ron --steps 1000 --record-actions v0.log --out runs/v0\n  \
        beanworld replay v0.log"
    )]
    Replay(replay::Args),
    /// Run a scenario and write PNG frames drawn on the GPU.
    #[command(
        after_help = "Example:\n  beanworld record scenarios/jbw-v0.ron --steps 200 --every 10 --follow 1 --out frames"
    )]
    Record(record::Args),
    /// The reward upper bound (spec §10.3): the best rate on boxes of the world, solved exactly.
    #[command(after_help = "Example:\n  beanworld bound --maps 4 --threads 2")]
    Bound(bound::Args),
    /// The never-ending-learning benchmark: tracks, lives scored by the protocol, reports.
    #[command(after_help = "Examples:\n  beanworld suite list\n  \
        beanworld suite run cyclical --learner greedy-scent --seeds 2 --smoke --out suite-out\n  \
        beanworld suite report suite-out")]
    Suite(suite::Args),
    /// Print a completion script for a shell (bash, zsh, fish, elvish, powershell).
    #[command(
        after_help = "Example:\n  beanworld completions bash > ~/.local/share/bash-completion/completions/beanworld"
    )]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// The `beanworld` command: parses the command line, runs the subcommand.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(threads) = cli.generation_threads {
        beanworld_sim::set_default_generation_threads(threads as usize);
    }
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
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "beanworld", &mut std::io::stdout());
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
