//! `beanworld validate SCENARIO`: load and check a scenario, print a one-line summary.

use std::io::Write;
use std::path::PathBuf;

use crate::scenario_arg;

/// Arguments of `validate`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The scenario file (RON).
    scenario: PathBuf,
}

/// Runs `validate`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let scenario = scenario_arg::load(Some(&args.scenario))?;
    let c = &scenario.config;
    let names: Vec<&str> = c.items.iter().map(|t| t.name.as_str()).collect();
    let mut notes = Vec::new();
    for t in &c.items {
        for (u, g) in c.items.iter().zip(&t.interactions) {
            if g.reach() > c.patch_size as u64 {
                notes.push(format!(
                    "{}→{} reaches {} cells, cut at the patch size {}",
                    t.name,
                    u.name,
                    g.reach(),
                    c.patch_size
                ));
            }
        }
    }
    let _ = writeln!(
        std::io::stdout(),
        "ok: {} — {} item types ({}), patch {}, {} proposals/patch, vision {}, fov {:.0}°, {}, seed {}{}",
        args.scenario.display(),
        names.len(),
        names.join(", "),
        c.patch_size,
        c.mcmc_iterations,
        c.vision.range,
        c.vision.field_of_view.to_degrees(),
        match scenario.agents.iter().map(|g| u64::from(g.count)).sum::<u64>() {
            1 => "1 agent".to_string(),
            n => format!("{n} agents"),
        },
        scenario.seed,
        if notes.is_empty() { String::new() } else { format!("; note: {}", notes.join("; ")) }
    );
    Ok(())
}
