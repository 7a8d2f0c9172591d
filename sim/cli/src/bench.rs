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
    /// Step this many independent worlds at once (vectorized; seeds seed, seed+1, …).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    worlds: Option<u64>,
    /// Threads for vectorized worlds (with --worlds) or for agents (with --agent).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=256))]
    threads: u64,
    /// Drive the agents with this baseline through the step channel instead of the policy.
    #[arg(long, value_name = "NAME")]
    agent: Option<String>,
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
    if let Some(worlds) = args.worlds {
        return bench_worlds(scenario, &args, worlds as usize);
    }
    if let Some(agent) = args.agent.clone() {
        return bench_channel(scenario, &args, &agent);
    }

    let started = Instant::now();
    let sim = Simulation::new(scenario)?;
    let mut runner = beanworld_agents::Runner::new(
        sim,
        Vec::new(),
        1,
        Box::new(|id, _| unreachable!("agent {id}: no agent joins")),
    );
    runner.step()?;
    let first_step_seconds = started.elapsed().as_secs_f64();

    let steady = Instant::now();
    for _ in 1..args.steps {
        runner.step()?;
    }
    let sim = runner.finish();
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
    print(&report, args.json)
}

fn print(report: &Report, json: bool) -> anyhow::Result<()> {
    if json {
        let _ = writeln!(std::io::stdout(), "{}", serde_json::to_string(report)?);
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

/// `--worlds N`: N independent worlds stepped together on `--threads` threads.
fn bench_worlds(scenario: beanworld_sim::Scenario, args: &Args, worlds: usize) -> anyhow::Result<()> {
    let seed = scenario.seed;
    let seeds: Vec<u64> = (0..worlds as u64).map(|i| seed + i).collect();
    let started = Instant::now();
    let mut env = beanworld_agents::VecEnv::new(&scenario, &seeds, args.threads as usize)?;
    env.step_scripted()?;
    let first_step_seconds = started.elapsed().as_secs_f64();
    let steady = Instant::now();
    env.run_scripted(args.steps.saturating_sub(1))?;
    let seconds = steady.elapsed().as_secs_f64().max(1e-9);
    let steps_per_sec = args.steps.saturating_sub(1) as f64 / seconds;
    let report = Report {
        scenario: format!("{} × {worlds} worlds on {} threads", scenario.name, args.threads),
        policy: format!("{:?}", args.policy).to_lowercase(),
        agents: args.agents,
        steps: args.steps,
        steps_per_sec,
        agent_steps_per_sec: steps_per_sec * (worlds * env.agents_per_world()) as f64,
        first_step_seconds,
        patches: env.worlds().iter().map(|w| w.world().patch_count()).sum(),
    };
    print(&report, args.json)
}

/// `--agent NAME`: the agents act on `--threads` agent threads through the step channel.
fn bench_channel(mut scenario: beanworld_sim::Scenario, args: &Args, agent: &str) -> anyhow::Result<()> {
    for group in &mut scenario.agents {
        group.policy = PolicyKind::External;
    }
    let name = scenario.name.clone();
    let (config, seed) = (scenario.config.clone(), scenario.seed);
    let started = Instant::now();
    let sim = Simulation::new(scenario)?;
    beanworld_baselines::make(agent, sim.config(), 1, seed).map_err(anyhow::Error::msg)?;
    let owned = agent.to_string();
    let make = move |id: u32, _: &PolicyKind| -> Box<dyn beanworld_agents::Agent> {
        beanworld_baselines::make(&owned, &config, id, seed).unwrap_or_else(|e| unreachable!("checked: {e}"))
    };
    let agents: Vec<(u32, Box<dyn beanworld_agents::Agent>)> = sim
        .agents()
        .iter()
        .map(|a| {
            (
                a.id,
                beanworld_baselines::make(agent, sim.config(), a.id, seed)
                    .unwrap_or_else(|e| unreachable!("{e}")),
            )
        })
        .collect();
    let mut runner = beanworld_agents::Runner::new(sim, agents, args.threads as usize, Box::new(make));
    runner.step()?;
    let first_step_seconds = started.elapsed().as_secs_f64();
    let steady = Instant::now();
    for _ in 1..args.steps {
        runner.step()?;
    }
    let seconds = steady.elapsed().as_secs_f64().max(1e-9);
    let steps_per_sec = args.steps.saturating_sub(1) as f64 / seconds;
    let report = Report {
        scenario: format!("{name} through the channel on {} agent threads", args.threads),
        policy: agent.to_string(),
        agents: args.agents,
        steps: args.steps,
        steps_per_sec,
        agent_steps_per_sec: steps_per_sec * f64::from(args.agents),
        first_step_seconds,
        patches: runner.sim().world().patch_count(),
    };
    print(&report, args.json)
}
