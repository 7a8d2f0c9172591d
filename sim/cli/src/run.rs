//! `beanworld run`: run a scenario headless, its agents driven by their built-in policies or by
//! a named baseline on agent threads, writing metrics, a reward-rate plot, a summary, snapshots,
//! and a running hash of the whole trajectory.
//!
//! `--steps N` means "until step N", so a run resumed from a snapshot with the same `--steps`
//! ends where the uninterrupted run did, with the same `trajectory_hash` (the running hash, the
//! metric windows and the agents' states travel in the snapshot). Ctrl-C stops after the current
//! step; a panicking agent stops the run too: either way the metrics are flushed and a snapshot
//! of that step is written.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, bail};
use beanworld_agents::metrics::{Interval, Metrics, Record};
use beanworld_agents::runner::Spawn;
use beanworld_agents::session::{self, Extra};
use beanworld_agents::{Driver, Runner};
use beanworld_sim::action_log::LogWriter;
use beanworld_sim::policy::PolicyKind;
use beanworld_sim::{Scenario, Simulation, snapshot};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::learner_log::LearnerLog;
use crate::scenario_arg;

/// Arguments of `run`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The scenario file (RON); the embedded JBW classic scenario when absent.
    pub(crate) scenario: Option<PathBuf>,
    /// Run until this step.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) steps: u64,
    /// World seed (overrides the scenario's).
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// Output folder for metrics.csv, summary.json, reward_rate.png and snapshots/.
    #[arg(long, default_value = "out")]
    pub(crate) out: PathBuf,
    /// Write a snapshot every N steps (0: only at the end; with --worlds, none). With --worlds,
    /// a snapshot is a folder, snapshots/STEP/, of every world, the learner and the run's counts,
    /// written every N steps and when the run ends.
    #[arg(long, default_value_t = 0)]
    pub(crate) snapshot_every: u64,
    /// Keep only the newest K snapshots in DIR/snapshots (0: keep them all).
    #[arg(long, value_name = "K", default_value_t = 3)]
    pub(crate) keep_snapshots: usize,
    /// Continue from this snapshot (its seed is the run's: a different --seed is refused); with
    /// --worlds, from a snapshot folder (OUT/snapshots/STEP), bit for bit as if the run had not
    /// stopped.
    #[arg(long, value_name = "PATH")]
    pub(crate) resume: Option<PathBuf>,
    /// With --resume: new agents (fresh learners of --agent, which may differ from the
    /// snapshot's) in the snapshot's world, instead of the agents it saved; what they learned
    /// before is left behind, e.g. to see how much it helps (the suite's forward transfer).
    #[arg(long, requires = "resume")]
    pub(crate) fresh_agents: bool,
    /// Record every step's actions of the agents driven from outside, and every parameter or
    /// task set during the run, into this action log (`beanworld replay LOG` re-runs it); a
    /// resumed run continues the log it wrote.
    #[arg(long, value_name = "LOG")]
    pub(crate) record_actions: Option<PathBuf>,
    /// Steps per row of metrics.csv (default: the scenario's `metrics_every`, else 1,000).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    metrics_every: Option<u64>,
    /// `per-step` writes a row per step and agent (the same as --metrics-every 1).
    #[arg(long, value_enum, conflicts_with = "metrics_every")]
    metrics: Option<MetricsLayout>,
    /// Steps in the moving window of the reward rate.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub(crate) rate_window: u64,
    /// Drive every agent with this agent instead of the scenario's policies: a baseline
    /// (random, greedy-visual, greedy-scent), a learner (ppo, dqn, each also -vision or -scent),
    /// or a team (ppo-shared, -vision, -scent); a learner's settings may follow in RON, as in
    /// "ppo(reward_aware: true, entropy_weight: 0.05)".
    #[arg(long, value_name = "NAME")]
    pub(crate) agent: Option<String>,
    /// Publish views of the run on this address (PORT for loopback, or HOST:PORT) for
    /// `beanworld watch --attach` to show; the run goes on whether or not anyone watches.
    #[arg(long, value_name = "ADDR", value_parser = beanworld_viewer::remote::parse_addr)]
    pub(crate) serve: Option<std::net::SocketAddr>,
    /// Threads that run the agents (with --worlds: that step the worlds). With 1, the agents act
    /// on the simulation's thread, which waits for their actions either way.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub(crate) agent_threads: u64,
    /// Threads that perceive (take the agents' observations): for scenarios with many agents,
    /// whose observations take most of a step. Results are the same whatever the number.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub(crate) perception_threads: u64,
    /// Run without the scenario's teacher (the world keeps the scenario's own parameters), to
    /// compare a learner with and without its curriculum.
    #[arg(long)]
    pub(crate) no_teacher: bool,
    /// Train the --agent learner (ppo, ppo-vision, ppo-scent) on every agent of N worlds at once
    /// (seeds seed … seed+N−1), one forward pass per step for all (default: the scenario's
    /// `worlds`); writes metrics.csv, learner.jsonl, summary.json and learner.safetensors
    /// (docs/src/learners.md, "Many worlds learning as one").
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub(crate) worlds: Option<u64>,
    /// With --worlds: start from the learner in this checkpoint (a run's learner.safetensors):
    /// its whole state if saved by the same learner and settings, else its weights, which must be
    /// of the same network.
    #[arg(long, value_name = "FILE")]
    pub(crate) load_learner: Option<PathBuf>,
    /// With --worlds: write the learner's checkpoint here (default OUT/learner.safetensors).
    #[arg(long, value_name = "FILE")]
    pub(crate) save_learner: Option<PathBuf>,
}

/// How often metrics.csv gets rows.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MetricsLayout {
    /// A row per agent (and one over all of them) every `metrics_every` steps.
    Interval,
    /// A row per agent (and one over all of them) every step.
    PerStep,
}

impl Args {
    /// Steps per metrics row for a run of `scenario`.
    pub(crate) fn metrics_every(&self, scenario: &Scenario) -> u64 {
        match (self.metrics, self.metrics_every) {
            (Some(MetricsLayout::PerStep), _) => 1,
            (_, Some(every)) => every,
            _ => scenario.metrics_every,
        }
    }
}

#[derive(Serialize)]
struct Summary {
    scenario: String,
    seed: u64,
    agent: Option<String>,
    steps: u64,
    steps_this_run: u64,
    seconds: f64,
    steps_per_sec: f64,
    agents: usize,
    reward: BTreeMap<u32, f64>,
    collected: BTreeMap<String, u64>,
    collected_per_step: BTreeMap<String, f64>,
    patches: usize,
    evicted_records: usize,
    trajectory_hash: String,
    world_hash: String,
    interrupted: bool,
    /// The teacher's difficulty at the end, if a teacher ran.
    difficulty: Option<f32>,
}

/// Hands every agent to the named baseline.
pub(crate) fn drive_with(scenario: &mut Scenario, agent: &str) -> anyhow::Result<()> {
    crate::agents::make(agent, &scenario.config, 1, 0)?;
    for group in &mut scenario.agents {
        group.policy = PolicyKind::External;
    }
    Ok(())
}

/// Runs `run`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let scenario = scenario_arg::load(args.scenario.as_deref())?;
    let worlds = args.worlds.unwrap_or(scenario.worlds);
    if args.worlds.is_some() || worlds > 1 || args.resume.as_deref().is_some_and(std::path::Path::is_dir) {
        return crate::train::run(&args, scenario, worlds);
    }
    for (option, given) in
        [("--load-learner", args.load_learner.is_some()), ("--save-learner", args.save_learner.is_some())]
    {
        if given {
            bail!("{option} is for a learner trained over worlds (--worlds N, or a scenario's `worlds`)");
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    stop_on_ctrl_c(&stop);
    let mut bar: Option<ProgressBar> = None;
    let mut publisher = match args.serve {
        Some(addr) => {
            let feed = beanworld_viewer::Feed::new(Arc::clone(&stop));
            let bound = beanworld_viewer::remote::serve(Arc::clone(&feed), addr)
                .with_context(|| format!("cannot serve views on {addr}"))?;
            eprintln!("serving views on {bound} (beanworld watch --attach {bound})");
            Some(beanworld_viewer::Publisher::new(feed, args.steps, args.rate_window))
        }
        None => None,
    };
    let ended = session(&args, &stop, |runner| {
        if let Some(p) = &mut publisher {
            p.after_step(runner);
        }
        let step = runner.sim().time();
        let bar = bar.get_or_insert_with(|| progress_bar(step, args.steps));
        if step % 256 == 0 {
            bar.set_position(step);
        }
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    report(&args, ended?)
}

/// Raises `stop` on Ctrl-C (the run then ends after the current step, saving everything).
pub(crate) fn stop_on_ctrl_c(stop: &Arc<AtomicBool>) {
    let stop = Arc::clone(stop);
    // A second handler cannot be installed in one process; the first one is enough.
    let _ = ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst));
}

/// How a session ended: its summary (also in `summary.json`) and why it stopped early, if it did.
pub(crate) struct Ended {
    summary: Summary,
    failure: Option<String>,
    /// The simulation as it ended (what `watch` keeps showing).
    #[cfg_attr(not(feature = "window"), allow(dead_code))]
    pub(crate) sim: Simulation,
}

impl Ended {
    /// Why the run stopped on an error, if it did.
    pub(crate) fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    /// Whether it was interrupted (Ctrl-C).
    pub(crate) fn interrupted(&self) -> bool {
        self.summary.interrupted
    }
}

/// Prints how a run ended, or fails with why it stopped; exits with 130 if it was interrupted.
pub(crate) fn report(args: &Args, ended: Ended) -> anyhow::Result<()> {
    let Ended { summary, failure, .. } = ended;
    if let Some(failure) = failure {
        bail!("{failure}");
    }
    if summary.interrupted {
        eprintln!(
            "interrupted at step {}: metrics, a snapshot and the summary are in {}",
            summary.steps,
            args.out.display()
        );
        std::process::exit(130);
    }
    // A closed pipe (`| head`) is no reason to fail after the work is done.
    let _ = writeln!(
        std::io::stdout(),
        "{} steps ({} this run) in {:.2} s, {:.0} steps/s; trajectory {}; results in {}",
        summary.steps,
        summary.steps_this_run,
        summary.seconds,
        summary.steps_per_sec,
        summary.trajectory_hash,
        args.out.display()
    );
    Ok(())
}

/// The run itself: sets the runner up as `args` say (fresh or resumed), steps it until
/// `args.steps` or until `stop` is raised, calling `after_step` after every step, and writes
/// metrics, snapshots, the reward-rate plot and the summary however it ends.
pub(crate) fn session(
    args: &Args,
    stop: &AtomicBool,
    mut after_step: impl FnMut(&mut Runner),
) -> anyhow::Result<Ended> {
    let mut scenario = scenario_arg::load(args.scenario.as_deref())?;
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    if let Some(path) = &args.resume {
        scenario.seed = resumed_seed(args, path)?;
    }
    if let Some(agent) = &args.agent {
        drive_with(&mut scenario, agent)?;
    }
    let (mut sim, mut extra) = match &args.resume {
        Some(path) => resume(args, path, &scenario)?,
        None => fresh(args, scenario)?,
    };
    if args.fresh_agents {
        // The world goes on; its agents start anew, owed nothing, in a fresh metrics interval.
        extra.agent = args.agent.clone();
        extra.agents.clear();
        extra.pending = Default::default();
        extra.interval = Interval::new(extra.interval.every);
        extra.record = Record::new(extra.record.window);
    }
    // Records of evicted patches that spill go beside the run's other files (created below
    // before the first step), not to a temporary folder that may be memory.
    sim.keep_records_in(&args.out)?;
    check_agent_names(args, &sim)?;
    let spawn = spawner(args, &sim);
    let mut runner = Runner::new(sim, Vec::new(), args.agent_threads as usize, spawn);
    runner.set_perception_threads(args.perception_threads as usize);
    runner.load_agents(extra.agents)?;
    runner.restore_pending(extra.pending);
    if let Some(path) = &args.record_actions {
        let (sim, at) = (runner.sim(), runner.sim().time());
        let log = if args.resume.is_some() {
            LogWriter::append(path, sim.scenario(), at)
        } else {
            LogWriter::create(path, sim.scenario())
        };
        runner.record_actions(log?);
    }
    let mut teacher = teacher(args, &runner, &extra.teacher)?;

    let snapshots = args.out.join("snapshots");
    std::fs::create_dir_all(&snapshots).with_context(|| format!("cannot create {}", snapshots.display()))?;
    let metrics_path = args.out.join("metrics.csv");
    let mut metrics = Metrics::open(&metrics_path, runner.sim(), extra.record, extra.interval)
        .with_context(|| format!("cannot write {}", metrics_path.display()))?;

    let start_step = runner.sim().time();
    let plan = session::Plan {
        agent: args.agent.as_deref(),
        until: args.steps,
        every: args.snapshot_every,
        keep: args.keep_snapshots,
        snapshots: &snapshots,
    };
    let company =
        session::Company { teacher: teacher.as_mut().map(|t| t as &mut dyn beanworld_agents::Teacher) };
    let mut learner_log = LearnerLog::new(&args.out, args.resume.is_some(), start_step)?;
    let result = session::run(&mut runner, &mut metrics, &plan, company, stop, |runner| {
        learner_log.take(runner);
        after_step(runner);
    });
    let logged = learner_log.finish();
    let sim = runner.finish();
    write_switches(&args.out, &sim)?;
    if let Some(teacher) = &teacher {
        write_teacher(&args.out, teacher)?;
    }
    let _ = crate::plot::plot_runs(std::slice::from_ref(&args.out), &args.out.join("reward_rate.png"), 400);
    let (steps_this_run, seconds, interrupted) = match &result {
        Ok(o) => (o.steps, o.seconds, o.interrupted),
        Err(_) => (sim.time() - start_step, 0.0, false),
    };
    let summary = Summary {
        steps_this_run,
        seconds,
        steps_per_sec: steps_this_run as f64 / seconds.max(1e-9),
        trajectory_hash: format!("{:032x}", metrics.record.trajectory),
        interrupted,
        difficulty: teacher.as_ref().map(|t| t.difficulty()),
        ..Summary::of(&sim, args.agent.clone())
    };
    let path = args.out.join("summary.json");
    std::fs::write(&path, serde_json::to_string_pretty(&summary)? + "\n")
        .with_context(|| format!("cannot write {}", path.display()))?;
    let failure = result.err().map(|(e, snapshot)| {
        let kept = snapshot
            .map_or(String::new(), |s| format!("; metrics and a snapshot ({}) were kept", s.display()));
        format!("the run stopped at step {}: {e}{kept}", sim.time())
    });
    logged?;
    Ok(Ended { summary, failure, sim })
}

/// A new simulation of `scenario` with empty metric windows and no saved agents.
fn fresh(args: &Args, scenario: Scenario) -> anyhow::Result<(Simulation, Extra)> {
    let sim = Simulation::new(scenario.clone()).with_context(|| format!("scenario \"{}\"", scenario.name))?;
    let extra = Extra {
        record: Record::new(args.rate_window),
        interval: Interval::new(args.metrics_every(&scenario)),
        agent: args.agent.clone(),
        agents: Vec::new(),
        pending: Default::default(),
        teacher: Vec::new(),
    };
    Ok((sim, extra))
}

/// The simulation and what the front end saved beside it in the snapshot at `path`, refused
/// where `args` would continue it differently from how it was started.
fn resume(args: &Args, path: &std::path::Path, scenario: &Scenario) -> anyhow::Result<(Simulation, Extra)> {
    let (sim, extra): (Simulation, Extra) = snapshot::load(path, scenario)?;
    let every = args.metrics_every(scenario);
    if extra.interval.every != every {
        bail!(
            "{}: the snapshot's metrics were written every {} steps, not {every}; resume with --metrics-every {}",
            path.display(),
            extra.interval.every,
            extra.interval.every
        );
    }
    if extra.record.window != args.rate_window {
        bail!(
            "{}: the snapshot's reward-rate window is {} steps; resume with --rate-window {}",
            path.display(),
            extra.record.window,
            extra.record.window
        );
    }
    if extra.teacher.is_empty() != (args.no_teacher || scenario.teacher.is_none()) {
        bail!(
            "{}: the snapshot was taken {} a teacher; resume {} --no-teacher",
            path.display(),
            if extra.teacher.is_empty() { "without" } else { "with" },
            if extra.teacher.is_empty() { "with" } else { "without" },
        );
    }
    if extra.agent != args.agent && !args.fresh_agents {
        bail!(
            "{}: the snapshot's agents were driven by {:?}; resume with the same --agent",
            path.display(),
            extra.agent
        );
    }
    Ok((sim, extra))
}

/// The seed of the snapshot at `path`, which a resumed run takes; a different `--seed` is refused.
fn resumed_seed(args: &Args, path: &std::path::Path) -> anyhow::Result<u64> {
    let header = snapshot::header(path)?;
    match args.seed {
        Some(seed) if seed != header.seed => bail!(
            "{}: the snapshot was made with seed {}, not --seed {seed}; leave --seed out to resume it",
            path.display(),
            header.seed
        ),
        _ => Ok(header.seed),
    }
}

/// Refuses a run in which an externally driven agent, now or added later by events, has no
/// known agent to drive it.
fn check_agent_names(args: &Args, sim: &Simulation) -> anyhow::Result<()> {
    // `--agent` drives every agent (`drive_with`).
    if args.agent.is_some() {
        return Ok(());
    }
    let added = sim.scenario().dynamics.events.iter().filter_map(|e| match &e.action {
        beanworld_sim::dynamics::EventAction::AddAgents(g) => Some(&g.policy),
        _ => None,
    });
    if sim.scenario().agents.iter().map(|g| &g.policy).chain(added).any(|kind| *kind == PolicyKind::External)
    {
        bail!(
            "the scenario has agents driven externally (policy: External); name a baseline to drive them with \
             --agent, or give their policy as Agent(\"NAME\")"
        );
    }
    crate::agents::check_named(sim.scenario(), args.scenario.as_deref())
}

/// What makes the driver of each externally driven agent as it appears: `--agent`'s, else the
/// one its policy names (every name was checked by [`check_agent_names`]).
fn spawner(args: &Args, sim: &Simulation) -> Spawn {
    let agent_name = args.agent.clone();
    let config = sim.config().clone();
    let seed = sim.scenario().seed;
    Box::new(move |id: u32, kind: &PolicyKind| -> Driver {
        let name = match (&agent_name, kind) {
            (Some(name), _) | (None, PolicyKind::Agent(name)) => name.as_str(),
            _ => "random",
        };
        match crate::agents::make(name, &config, id, seed) {
            Ok(a) => a,
            Err(e) => unreachable!("checked before the run: {e}"),
        }
    })
}

/// The scenario's teacher, unless `--no-teacher`: started afresh, or restored from `saved`.
fn teacher(
    args: &Args,
    runner: &Runner,
    saved: &[u8],
) -> anyhow::Result<Option<beanworld_curriculum::Curriculum>> {
    let (Some(spec), false) = (&runner.sim().scenario().teacher, args.no_teacher) else {
        return Ok(None);
    };
    let mut teacher = beanworld_curriculum::Curriculum::new(spec.clone());
    if saved.is_empty() {
        teacher.start(runner);
    } else {
        beanworld_agents::Teacher::load(&mut teacher, saved)
            .map_err(|e| anyhow::anyhow!("cannot restore the teacher: {e}"))?;
    }
    Ok(Some(teacher))
}

/// Writes `teacher.csv`: the difficulty the teacher set, and when.
fn write_teacher(dir: &std::path::Path, teacher: &beanworld_curriculum::Curriculum) -> anyhow::Result<()> {
    let mut text = String::from("step,difficulty\n");
    for (step, d) in teacher.history() {
        text.push_str(&format!("{step},{d}\n"));
    }
    std::fs::write(dir.join("teacher.csv"), text).context("cannot write teacher.csv")
}

impl Summary {
    /// What the simulation says of the run as it ended; the fields about this run's timing and
    /// its metrics are left for the caller.
    fn of(sim: &Simulation, agent: Option<String>) -> Self {
        let mut collected: BTreeMap<String, u64> = BTreeMap::new();
        let mut per_step: BTreeMap<String, f64> = BTreeMap::new();
        for (k, t) in sim.config().items.iter().enumerate() {
            let total: u64 = sim.agents().iter().map(|a| a.collected[k]).sum();
            collected.insert(t.name.clone(), total);
            let agents = sim.agents().len().max(1) as f64;
            per_step.insert(t.name.clone(), total as f64 / agents / sim.time().max(1) as f64);
        }
        Summary {
            scenario: sim.scenario().name.clone(),
            seed: sim.scenario().seed,
            agent,
            steps: sim.time(),
            steps_this_run: 0,
            seconds: 0.0,
            steps_per_sec: 0.0,
            agents: sim.agents().len(),
            reward: sim.agents().iter().map(|a| (a.id, a.reward)).collect(),
            collected,
            collected_per_step: per_step,
            patches: sim.world().patch_count(),
            evicted_records: sim.world().record_count(),
            trajectory_hash: String::new(),
            world_hash: sim.state_digest(),
            interrupted: false,
            difficulty: None,
        }
    }
}

/// Writes `switches.csv`: the steps, from the first, where the reward function of the schedule
/// in force now changed.
fn write_switches(dir: &std::path::Path, sim: &Simulation) -> anyhow::Result<()> {
    // From the first step, a resumed run too: a run killed before it wrote the file has left
    // none, and the schedule says where every switch was.
    let mut text = String::from("step\n");
    let task = sim.task();
    let mut last = task.at(1);
    for t in 2..=sim.time() {
        let now = task.at(t);
        if now != last {
            text.push_str(&format!("{t}\n"));
            last = now;
        }
    }
    std::fs::write(dir.join("switches.csv"), text).context("cannot write switches.csv")?;
    Ok(())
}

pub(crate) fn progress_bar(from: u64, to: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(to), ProgressDrawTarget::stderr());
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} steps  {per_sec}  eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_position(from);
    bar
}
