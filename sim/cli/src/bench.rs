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
    #[arg(long, value_enum, default_value = "walk")]
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
    /// With --worlds: meet at every step (`VecEnv::step` with the policies' actions, as a learner
    /// or the Python vector env drives it) instead of letting each thread run its worlds' steps
    /// on its own.
    #[arg(long, requires = "worlds")]
    per_step: bool,
    /// Threads for vectorized worlds (with --worlds), for agents (with --agent), or else for
    /// perceiving (the agents' observations, spread over the threads).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=256))]
    threads: u64,
    /// Drive the agents with this baseline through the step channel instead of the policy.
    #[arg(long, value_name = "NAME")]
    agent: Option<String>,
    /// Train this batched learner (`ppo`, `ppo-vision`, `ppo-scent`, settings in RON after the
    /// name) on every agent of `--worlds` worlds (default 1), one forward pass per step for all
    /// of them, updates included; the report gives env-steps per second and where the time went.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["agent", "per_step", "frames"])]
    learner: Option<String>,
    /// Where vision is computed; with `gpu`, all agents' observations are one GPU dispatch per
    /// step, and the report gives observations per second (vision alone) for it.
    #[arg(long, value_enum, default_value_t = Vision::Cpu)]
    vision: Vision,
    /// Draw a frame of this size (WxH pixels, 8 px per cell, centred on the first agent) on the
    /// GPU after every step and read it back; the report gives frames per second.
    #[arg(long, value_name = "WxH", value_parser = crate::record::parse_size)]
    frames: Option<(u32, u32)>,
}

#[derive(Clone, Copy, Debug, PartialEq, clap::ValueEnum)]
enum Vision {
    Cpu,
    Gpu,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Policy {
    Walk,
    Turn,
}

#[derive(Default, Serialize)]
struct Report {
    scenario: String,
    policy: String,
    agents: u32,
    steps: u64,
    steps_per_sec: f64,
    agent_steps_per_sec: f64,
    first_step_seconds: f64,
    patches: usize,
    /// With `--vision gpu`: observations per second of the vision step alone, as a run on the
    /// CPU would get them (agent records and changed patches uploaded, dispatch, read-back),
    /// and what adapter did it.
    #[serde(skip_serializing_if = "Option::is_none")]
    observations_per_sec: Option<f64>,
    /// With `--vision gpu`: observations per second the GPU computes from the resident world,
    /// left on the GPU (what a learner on the GPU would get; no upload, no read-back).
    #[serde(skip_serializing_if = "Option::is_none")]
    resident_observations_per_sec: Option<f64>,
    /// With `--vision gpu`: patches resident on the GPU at the end, and bytes uploaded per step
    /// (mean after the first step).
    #[serde(skip_serializing_if = "Option::is_none")]
    resident_patches: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upload_bytes_per_step: Option<f64>,
    /// With `--vision gpu`: the CPU path's observations per second in the same run (scent
    /// included, with its caches of unchanged windows, as a run observes).
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu_observations_per_sec: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    adapter: Option<String>,
    /// With `--frames`: frames drawn and read back per second (the cell image built on the CPU,
    /// the frame drawn, copied back and unpacked).
    #[serde(skip_serializing_if = "Option::is_none")]
    frames_per_sec: Option<f64>,
    /// With `--learner`: where the time went, and the updates taken.
    #[serde(skip_serializing_if = "Option::is_none")]
    learner: Option<LearnerTime>,
    /// With `--worlds`: the memory the process holds for each world at the end of the run (its
    /// resident set then, less before the worlds were made, per world), where the system says
    /// (Linux).
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes_per_world: Option<f64>,
    /// With `--worlds … --per-step`: patches sampled ahead of need while the threads waited for
    /// the slowest world of a step, and how many of them the worlds took.
    #[serde(skip_serializing_if = "Option::is_none")]
    sampled_ahead: Option<(u64, u64)>,
}

/// The process's resident set in bytes, from `/proc/self/status` (`None` where there is none).
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.trim_start_matches("VmRSS:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

/// With `--learner`: seconds spent stepping the worlds, acting (inputs, forward pass, drawing
/// actions) and updating, over the whole run; and the updates taken.
#[derive(Default, Serialize)]
struct LearnerTime {
    env_seconds: f64,
    act_seconds: f64,
    update_seconds: f64,
    updates: u64,
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
    if let Some(learner) = args.learner.clone() {
        return bench_learner(scenario, &args, &learner);
    }
    if let Some(worlds) = args.worlds {
        return bench_worlds(scenario, &args, worlds as usize);
    }
    if let Some(agent) = args.agent.clone() {
        return bench_channel(scenario, &args, &agent);
    }
    if args.vision == Vision::Gpu {
        return bench_gpu_vision(scenario, &args);
    }
    if let Some(size) = args.frames {
        return bench_frames(scenario, &args, size);
    }

    let started = Instant::now();
    let sim = Simulation::new(scenario)?;
    let mut runner = beanworld_agents::Runner::new(
        sim,
        Vec::new(),
        1,
        Box::new(|id, _| unreachable!("agent {id}: no agent joins")),
    );
    runner.set_perception_threads(args.threads as usize);
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
        ..Report::default()
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
        if let (Some(gpu), Some(resident), Some(cpu), Some(adapter)) = (
            report.observations_per_sec,
            report.resident_observations_per_sec,
            report.cpu_observations_per_sec,
            &report.adapter,
        ) {
            let _ = writeln!(
                std::io::stdout(),
                "vision: {gpu:.0} observations/s on the GPU ({adapter}) read back, {resident:.0} left \
                 on the GPU; {cpu:.0} on the CPU path; {} patches resident, {:.0} bytes uploaded a step",
                report.resident_patches.unwrap_or(0),
                report.upload_bytes_per_step.unwrap_or(0.0)
            );
        }
        if let (Some(fps), Some(adapter)) = (report.frames_per_sec, &report.adapter) {
            let _ = writeln!(std::io::stdout(), "frames: {fps:.1} per second on {adapter}, read back");
        }
        if let Some((sampled, taken)) = report.sampled_ahead {
            let _ = writeln!(
                std::io::stdout(),
                "ahead: {sampled} patches sampled ahead while threads waited, {taken} of them taken"
            );
        }
        if let Some(bytes) = report.bytes_per_world {
            let _ =
                writeln!(std::io::stdout(), "memory: {:.2} MB per world, resident at the end", bytes / 1e6);
        }
        if let Some(t) = &report.learner {
            let total = (t.env_seconds + t.act_seconds + t.update_seconds).max(1e-9);
            let share = |s: f64| 100.0 * s / total;
            let _ = writeln!(
                std::io::stdout(),
                "time: worlds {:.0}%, acting {:.0}%, {} updates {:.0}%",
                share(t.env_seconds),
                share(t.act_seconds),
                t.updates,
                share(t.update_seconds)
            );
        }
    }
    Ok(())
}

/// `--vision gpu`: the world steps on the CPU; every step, all agents' vision is computed on the
/// GPU from the resident world and read back, then computed again from what is resident (the
/// GPU's own throughput), then by the CPU path, each timed apart. The GPU's and the CPU's
/// observations must agree exactly on the first and the last step. Steps/s count all three.
fn bench_gpu_vision(scenario: beanworld_sim::Scenario, args: &Args) -> anyhow::Result<()> {
    use std::time::Duration;
    let name = scenario.name.clone();
    let started = Instant::now();
    let mut sim = Simulation::new(scenario)?;
    let mut gpu = beanworld_render::GpuVision::new(&sim)?;
    let agents = sim.agents().len();
    let ol = gpu.observation_len();
    let (mut choices, mut actions) = (Vec::new(), Vec::new());
    let (mut vision, mut cpu_vision) = (vec![0.0; agents * ol], vec![0.0; agents * ol]);
    let mut scent = vec![0.0; sim.scent_len()];
    let (mut observing, mut resident, mut cpu_observing) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let (mut steady, mut uploaded) = (None, 0);
    for step in 0..args.steps {
        if step == 1 {
            (observing, resident, cpu_observing) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
            uploaded = gpu.uploaded_bytes();
            steady = Some(Instant::now());
        }
        sim.scripted_actions(&mut choices);
        actions.clear();
        actions.extend(choices.iter().map(|c| c.unwrap_or(beanworld_sim::action::Action::NoOp)));
        sim.step(&actions)?;
        let t = Instant::now();
        gpu.observe(&[&sim], &mut vision)?;
        observing += t.elapsed();
        let t = Instant::now();
        gpu.recompute()?;
        resident += t.elapsed();
        let t = Instant::now();
        for (i, out) in cpu_vision.chunks_exact_mut(ol).enumerate() {
            sim.observe(i, &mut scent, out);
        }
        cpu_observing += t.elapsed();
        if (step == 0 || step + 1 == args.steps) && cpu_vision != vision {
            anyhow::bail!("GPU vision differs from the CPU's at step {step} on {}", gpu.adapter);
        }
    }
    let first_step_seconds = started.elapsed().as_secs_f64();
    let seconds = steady.map_or(1e-9, |s| s.elapsed().as_secs_f64().max(1e-9));
    let steps = args.steps.saturating_sub(1) as f64;
    let per_sec = |d: Duration| steps * agents as f64 / d.as_secs_f64().max(1e-9);
    let report = Report {
        scenario: name,
        policy: format!("{:?}", args.policy).to_lowercase(),
        agents: args.agents,
        steps: args.steps,
        steps_per_sec: steps / seconds,
        agent_steps_per_sec: steps / seconds * agents as f64,
        first_step_seconds: first_step_seconds - seconds,
        patches: sim.world().patch_count(),
        observations_per_sec: Some(per_sec(observing)),
        resident_observations_per_sec: Some(per_sec(resident)),
        resident_patches: Some(gpu.resident_patches()),
        upload_bytes_per_step: Some((gpu.uploaded_bytes() - uploaded) as f64 / steps.max(1.0)),
        cpu_observations_per_sec: Some(per_sec(cpu_observing)),
        adapter: Some(gpu.adapter.clone()),
        ..Report::default()
    };
    print(&report, args.json)
}

/// `--frames WxH`: a frame drawn on the GPU and read back after every step.
fn bench_frames(scenario: beanworld_sim::Scenario, args: &Args, (w, h): (u32, u32)) -> anyhow::Result<()> {
    use beanworld_render::frame::{CellImage, Overlays};
    use beanworld_sim::{Cell, Region};
    const PPC: u32 = 8;
    let name = scenario.name.clone();
    let started = Instant::now();
    let renderer = beanworld_render::Renderer::new()?;
    let sim = Simulation::new(scenario)?;
    let mut runner = beanworld_agents::Runner::new(
        sim,
        Vec::new(),
        1,
        Box::new(|id, _| unreachable!("agent {id}: no agent joins")),
    );
    let (cols, rows) = (i64::from(w.div_ceil(PPC)), i64::from(h.div_ceil(PPC)));
    let mut drawing = std::time::Duration::ZERO;
    let mut steady = None;
    for step in 0..args.steps {
        if step == 1 {
            drawing = std::time::Duration::ZERO;
            steady = Some(Instant::now());
        }
        runner.step()?;
        let sim = runner.sim_mut();
        let centre = sim.agents().first().map_or(Cell::new(0, 0), |a| a.position);
        let min = Cell::new(centre.x - cols / 2, centre.y - rows / 2);
        let region = Region::new(min, Cell::new(min.x + cols - 1, min.y + rows - 1));
        sim.generate(region);
        let t = Instant::now();
        let image = CellImage::with(sim, region, Overlays::default());
        let pixels = renderer.frame(&image, PPC)?;
        std::hint::black_box(pixels);
        drawing += t.elapsed();
    }
    let seconds = steady.map_or(1e-9, |s| s.elapsed().as_secs_f64().max(1e-9));
    let steps = args.steps.saturating_sub(1) as f64;
    let sim = runner.finish();
    let report = Report {
        scenario: format!("{name} with {}×{} frames", cols * i64::from(PPC), rows * i64::from(PPC)),
        policy: format!("{:?}", args.policy).to_lowercase(),
        agents: args.agents,
        steps: args.steps,
        steps_per_sec: steps / seconds,
        agent_steps_per_sec: steps / seconds * f64::from(args.agents),
        first_step_seconds: started.elapsed().as_secs_f64() - seconds,
        patches: sim.world().patch_count(),
        adapter: Some(renderer.adapter.clone()),
        frames_per_sec: Some(steps / drawing.as_secs_f64().max(1e-9)),
        ..Report::default()
    };
    print(&report, args.json)
}

/// `--worlds N`: N independent worlds stepped together on `--threads` threads.
fn bench_worlds(scenario: beanworld_sim::Scenario, args: &Args, worlds: usize) -> anyhow::Result<()> {
    let seed = scenario.seed;
    let seeds: Vec<u64> = (0..worlds as u64).map(|i| seed + i).collect();
    let before = resident_bytes();
    let started = Instant::now();
    let mut env = beanworld_agents::VecEnv::new(&scenario, &seeds, args.threads as usize)?;
    env.step_scripted()?;
    let first_step_seconds = started.elapsed().as_secs_f64();
    let steady = Instant::now();
    if args.per_step {
        for _ in 1..args.steps {
            env.step_scripted()?;
        }
    } else {
        env.run_scripted(args.steps.saturating_sub(1))?;
    }
    let seconds = steady.elapsed().as_secs_f64().max(1e-9);
    let steps_per_sec = args.steps.saturating_sub(1) as f64 / seconds;
    let report = Report {
        scenario: format!(
            "{} × {worlds} worlds on {} threads{}",
            scenario.name,
            args.threads,
            if args.per_step { ", meeting every step" } else { "" }
        ),
        policy: format!("{:?}", args.policy).to_lowercase(),
        agents: args.agents,
        steps: args.steps,
        steps_per_sec,
        agent_steps_per_sec: steps_per_sec * (worlds * env.agents_per_world()) as f64,
        first_step_seconds,
        patches: env.worlds().iter().map(|w| w.world().patch_count()).sum(),
        bytes_per_world: before
            .zip(resident_bytes())
            .map(|(before, after)| after.saturating_sub(before) as f64 / worlds.max(1) as f64),
        sampled_ahead: args.per_step.then(|| env.sampled_ahead()),
        ..Report::default()
    };
    print(&report, args.json)
}

/// `--learner NAME`: a batched learner trains on every agent of `--worlds` worlds (seeds seed,
/// seed+1, …); every step counts (the first included), updates too.
fn bench_learner(mut scenario: beanworld_sim::Scenario, args: &Args, learner: &str) -> anyhow::Result<()> {
    for group in &mut scenario.agents {
        group.policy = PolicyKind::External;
    }
    let worlds = args.worlds.unwrap_or(1);
    let seeds: Vec<u64> = (0..worlds).map(|i| scenario.seed + i).collect();
    let started = Instant::now();
    let mut ppo = beanworld_rl::batched(learner, &scenario, &seeds, args.threads as usize)?;
    ppo.step()?;
    let first_step_seconds = started.elapsed().as_secs_f64();
    let steady = Instant::now();
    for _ in 1..args.steps {
        ppo.step()?;
    }
    let seconds = steady.elapsed().as_secs_f64().max(1e-9);
    let steps_per_sec = args.steps.saturating_sub(1) as f64 / seconds;
    let time = ppo.timing();
    let report = Report {
        scenario: format!("{} × {worlds} worlds on {} threads", scenario.name, args.threads),
        policy: learner.to_string(),
        agents: args.agents,
        steps: args.steps,
        steps_per_sec,
        agent_steps_per_sec: steps_per_sec * ppo.streams() as f64,
        first_step_seconds,
        patches: ppo.env().worlds().iter().map(|w| w.world().patch_count()).sum(),
        learner: Some(LearnerTime {
            env_seconds: time.env.as_secs_f64(),
            act_seconds: time.act.as_secs_f64(),
            update_seconds: time.update.as_secs_f64(),
            updates: ppo.learner().updates(),
        }),
        ..Report::default()
    };
    print(&report, args.json)
}

/// `--agent NAME`: the agents act on `--threads` agent threads through the step channel (with
/// one, on the simulation's thread).
fn bench_channel(mut scenario: beanworld_sim::Scenario, args: &Args, agent: &str) -> anyhow::Result<()> {
    for group in &mut scenario.agents {
        group.policy = PolicyKind::External;
    }
    let name = scenario.name.clone();
    let (config, seed) = (scenario.config.clone(), scenario.seed);
    let started = Instant::now();
    let sim = Simulation::new(scenario)?;
    crate::agents::make(agent, sim.config(), 1, seed)?;
    let owned = agent.to_string();
    let make = move |id: u32, _: &PolicyKind| -> beanworld_agents::Driver {
        crate::agents::make(&owned, &config, id, seed).unwrap_or_else(|e| unreachable!("checked: {e}"))
    };
    let mut runner = beanworld_agents::Runner::new(sim, Vec::new(), args.threads as usize, Box::new(make));
    runner.step()?;
    let first_step_seconds = started.elapsed().as_secs_f64();
    let steady = Instant::now();
    for _ in 1..args.steps {
        runner.step()?;
    }
    let seconds = steady.elapsed().as_secs_f64().max(1e-9);
    let steps_per_sec = args.steps.saturating_sub(1) as f64 / seconds;
    let report = Report {
        scenario: if args.threads > 1 {
            format!("{name} through the channel on {} agent threads", args.threads)
        } else {
            format!("{name}, the agents acting on the simulation's thread")
        },
        policy: agent.to_string(),
        agents: args.agents,
        steps: args.steps,
        steps_per_sec,
        agent_steps_per_sec: steps_per_sec * f64::from(args.agents),
        first_step_seconds,
        patches: runner.sim().world().patch_count(),
        ..Report::default()
    };
    print(&report, args.json)
}
