//! `beanworld bench`: how fast a scenario steps with a built-in policy. It times setting up the
//! world (initial generation and agent placement) and the first step apart from the steady
//! state, and observes every agent every step, as a learner would need.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use beanworld_sim::Simulation;
use beanworld_sim::policy::PolicyKind;
use beanworld_sim::scenario::AgentGroup;
use serde::Serialize;

use crate::drive::Driver;
use crate::scenario_arg;

/// Arguments of `bench`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The scenario file (RON); the embedded JBW classic scenario when absent.
    scenario: Option<PathBuf>,
    /// The policy every agent follows.
    #[arg(long, value_enum)]
    policy: Policy,
    /// Number of agents (placed around the scenario's first agent position).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    agents: u32,
    /// Steps to run.
    #[arg(long, default_value_t = 100_000)]
    steps: u64,
    /// World seed (overrides the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Print one JSON line instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Policy {
    Walk,
    Turn,
}

#[derive(Serialize)]
struct Report {
    scenario: String,
    policy: String,
    agents: u32,
    steps: u64,
    steps_per_sec: f64,
    agent_steps_per_sec: f64,
    first_step_seconds: f64,
    patches: usize,
}

/// Runs `bench`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let mut scenario = scenario_arg::load(args.scenario.as_deref())?;
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    let base = scenario.agents.first().cloned().unwrap_or_default();
    let spread = ((f64::from(args.agents)).sqrt().ceil() as u32).max(base.spread);
    scenario.agents = vec![AgentGroup {
        count: args.agents,
        policy: match args.policy {
            Policy::Walk => PolicyKind::Walk,
            Policy::Turn => PolicyKind::Turn,
        },
        spread,
        ..base
    }];
    let name = scenario.name.clone();

    let started = Instant::now();
    let mut sim = Simulation::new(scenario)?;
    let mut driver = Driver::new(&sim)?;
    driver.step(&mut sim, |_, _, _| {})?;
    let first_step_seconds = started.elapsed().as_secs_f64();

    let steady = Instant::now();
    for _ in 1..args.steps {
        driver.step(&mut sim, |_, _, _| {})?;
    }
    let seconds = steady.elapsed().as_secs_f64().max(1e-9);
    let steps_per_sec = args.steps.saturating_sub(1) as f64 / seconds;
    let report = Report {
        scenario: name,
        policy: format!("{:?}", args.policy).to_lowercase(),
        agents: args.agents,
        steps: args.steps,
        steps_per_sec,
        agent_steps_per_sec: steps_per_sec * f64::from(args.agents),
        first_step_seconds,
        patches: sim.world().patch_count(),
    };
    if args.json {
        let _ = writeln!(std::io::stdout(), "{}", serde_json::to_string(&report)?);
    } else {
        let _ = writeln!(
            std::io::stdout(),
            "{}: {} agent(s) on `{}`, {} steps: {:.0} steps/s, {:.0} agent-steps/s; first step {:.3} s; {} patches",
            report.scenario,
            report.agents,
            report.policy,
            report.steps,
            report.steps_per_sec,
            report.agent_steps_per_sec,
            report.first_step_seconds,
            report.patches
        );
    }
    Ok(())
}
