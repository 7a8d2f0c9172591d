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
    // Agents named in the file must exist (a learner also checks the world suits it).
    crate::agents::check_named(&scenario, Some(&args.scenario))?;
    let teacher = scenario.teacher.as_ref().map_or(String::new(), |t| {
        let rule = match t.rule {
            beanworld_sim::teacher::Rule::Adaptive { every, .. } => format!("adaptive every {every} steps"),
            beanworld_sim::teacher::Rule::Cyclical { easy, hard } => {
                format!("cyclical {easy} easy / {hard} hard")
            }
        };
        let knobs: Vec<&str> = t.knobs.iter().map(|k| k.name.as_str()).collect();
        let until = t.until.map_or(String::new(), |u| format!(" until {u}"));
        format!(", teacher {rule} on {}{until}", knobs.join(", "))
    });
    let _ = writeln!(
        std::io::stdout(),
        "ok: {} — {} item types ({}), patch {}, {} proposals/patch, vision {}, fov {:.0}°, {}, seed {}{teacher}{}",
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
