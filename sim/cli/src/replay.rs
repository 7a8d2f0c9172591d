//! `beanworld replay LOG`: re-runs an action log that `run --record-actions` wrote, without the
//! agents that made it, and prints the trajectory and world hashes — the same as the recorded
//! run's `summary.json` when the replay is exact.

use std::io::Write;
use std::path::PathBuf;

use beanworld_agents::replay;

/// Arguments of `replay`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The action log.
    log: PathBuf,
    /// Stop after this step (default: the whole log).
    #[arg(long)]
    steps: Option<u64>,
}

/// Runs `replay`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let replayed = replay::replay(&args.log, args.steps, |_, _, _| true)?;
    let _ = writeln!(
        std::io::stdout(),
        "{} steps of \"{}\" replayed; trajectory {:032x}; world {}",
        replayed.sim.time(),
        replayed.sim.scenario().name,
        replayed.record.trajectory,
        replayed.sim.state_digest()
    );
    Ok(())
}
