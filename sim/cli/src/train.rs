//! `beanworld run SCENARIO --agent ppo --worlds N`: one PPO learner trains on every agent of N
//! worlds at once (seeds seed, seed+1, …, seed+N−1), one forward pass per step for all of them
//! ([`BatchedPpo`]). This is the throughput setting (many short lives learning as one); without
//! `--worlds` a learner lives one unbroken life through the step channel. Written into `--out`:
//!
//! - `metrics.csv`: a row every `metrics_every` steps: the reward of all streams over the
//!   interval, its rate per stream and step, and env-steps per second (a stream is one agent of
//!   one world; an env-step is one step of one world);
//! - `learner.jsonl`: a line per update, what it did ([`UpdateStats`]) with the step it was taken
//!   at and the env-steps per second so far;
//! - `reward_rate.png`: the rate of each interval;
//! - `summary.json`: the run, its reward rate over all steps and over the last
//!   `min(10⁶, ⌈steps/10⌉)` steps (`final_reward_rate`), and a hash of the final weights;
//! - `learner.safetensors` (or `--save-learner PATH`): a portable checkpoint of the learner
//!   ([`checkpoint`](beanworld_rl::ppo::checkpoint): the weights as named f32 tensors, and the
//!   rest of its state), however the run ends (Ctrl-C and errors included); `--load-learner`
//!   starts a run from one.
//!
//! - with `--snapshot-every K`, every K steps and when the run ends, `snapshots/STEP/`: every
//!   world's snapshot (`world-0000.snap`, …), the learner's checkpoint with its rollouts in
//!   progress, and the run's own counts (`run.state`); `--resume snapshots/STEP` goes on from
//!   it, bit for bit as if the run had not stopped.
//!
//! Same scenario, seed, worlds and learner ⇒ the same weights, whatever `--agent-threads` (the
//! threads that step the worlds), and whether the run stopped and resumed on the way.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::events::Events;
use anyhow::{Context, bail};
use beanworld_agents::VecEnv;
use beanworld_rl::ppo::{BatchedPpo, UpdateStats};
use beanworld_sim::policy::PolicyKind;
use beanworld_sim::{Scenario, Simulation, snapshot};
use serde::{Deserialize, Serialize};

use crate::plot::{Line, plot_points};
use crate::run::Args;

/// The header of a batched run's `metrics.csv` (which `beanworld plot` reads too).
pub(crate) const METRICS_HEADER: &str = "step,streams,reward,reward_rate,env_steps_per_sec";

/// Longest window of `final_reward_rate`, in steps.
const FINAL_WINDOW: u64 = 1_000_000;
/// Most points kept for the plot: beyond them neighbours merge, so memory stays bounded however
/// long the run.
const PLOT_POINTS: usize = 4096;

#[derive(Serialize)]
struct Summary {
    scenario: String,
    agent: String,
    seeds: Vec<u64>,
    worlds: usize,
    streams: usize,
    steps: u64,
    /// Steps taken by this run (fewer than `steps` if it was resumed), over `seconds`.
    steps_this_run: u64,
    env_steps: u64,
    seconds: f64,
    env_steps_per_sec: f64,
    updates: u64,
    /// Reward per stream and step over the whole run.
    reward_rate: f64,
    /// Reward per stream and step over the last `final_window` steps.
    final_reward_rate: f64,
    final_window: u64,
    /// Seconds stepping the worlds, acting and updating.
    env_seconds: f64,
    act_seconds: f64,
    update_seconds: f64,
    /// XXH3-128 of the final weights (little-endian f32s in the network's order).
    weights_hash: String,
    interrupted: bool,
}

/// A line of `learner.jsonl`.
#[derive(Serialize)]
struct UpdateLine<'a> {
    step: u64,
    env_steps_per_sec: f64,
    #[serde(flatten)]
    stats: &'a UpdateStats,
}

/// Adds a point to the plot's reward-rate points `(last step, reward, stream-steps)`, merging
/// neighbours pairwise when there are too many.
fn push_point(points: &mut Vec<(u64, f64, f64)>, step: u64, reward: f64, stream_steps: f64) {
    points.push((step, reward, stream_steps));
    if points.len() > PLOT_POINTS {
        *points = points
            .chunks(2)
            .map(|c| c.iter().fold((0, 0.0, 0.0), |a, p| (p.0, a.1 + p.1, a.2 + p.2)))
            .collect();
    }
}

/// The plot's line of `points`.
fn line(points: &[(u64, f64, f64)], name: &str) -> Line {
    let points = points.iter().map(|&(s, r, n)| (s as f64, r / n.max(1.0))).collect();
    Line { name: name.to_string(), points, colour: 0, dashed: false }
}

/// The learner a batched run trains — `--agent`, else the `Agent` policy every agent of the
/// scenario has — or why there is none; refuses what a batched run does not do, with the reason.
fn check(args: &Args, scenario: &Scenario, worlds: u64) -> anyhow::Result<String> {
    let mut policies = scenario.agents.iter().map(|g| match &g.policy {
        PolicyKind::Agent(name) => Some(name.as_str()),
        _ => None,
    });
    let agent = match (args.agent.as_deref(), policies.next().flatten()) {
        (Some(agent), _) => agent.to_string(),
        (None, Some(first)) if policies.all(|p| p == Some(first)) => first.to_string(),
        _ => bail!(
            "training over {worlds} worlds needs one learner for every agent: name it with --agent \
             (ppo, ppo-vision, ppo-scent), or give every agent of the scenario the same Agent policy"
        ),
    };
    let refuse = |what: &str, why: &str| -> anyhow::Result<String> {
        bail!("--worlds {worlds} cannot be used with {what}: {why}")
    };
    if args.fresh_agents {
        return refuse("--fresh-agents", "a batched run resumes its learner with its worlds");
    }
    if args.resume.is_some() && args.load_learner.is_some() {
        return refuse("--resume and --load-learner", "a snapshot holds its learner");
    }
    if args.serve.is_some() {
        return refuse("--serve", "views are of one world; watch a run without --worlds");
    }
    if args.record_actions.is_some() {
        return refuse("--record-actions", "an action log is of one world");
    }
    Ok(agent)
}

/// Runs `run --worlds N` (or `run` of a scenario with `worlds: N`), of `scenario`.
pub fn run(args: &Args, mut scenario: Scenario, worlds: u64) -> anyhow::Result<()> {
    let agent = check(args, &scenario, worlds)?;
    let agent = agent.as_str();
    let stop = Arc::new(AtomicBool::new(false));
    crate::run::stop_on_ctrl_c(&stop);
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    if scenario.teacher.is_some() && !args.no_teacher {
        bail!(
            "scenario \"{}\" has a teacher, which sets one world's parameters as its agent learns; \
             --worlds runs no teacher (add --no-teacher to train without it)",
            scenario.name
        );
    }
    for group in &mut scenario.agents {
        group.policy = PolicyKind::External;
    }
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let every = args.metrics_every(&scenario);
    let (mut ppo, mut training) = match &args.resume {
        Some(path) => resume(args, &mut scenario, agent, worlds, every, path)?,
        None => fresh(args, &scenario, agent, worlds, every)?,
    };
    let seeds = training.counts.seeds.clone();
    let worlds = seeds.len() as u64;
    let snapshots =
        Snapshots { dir: args.out.join("snapshots"), every: args.snapshot_every, keep: args.keep_snapshots };
    let first_step = ppo.steps();
    snapshots.clear_after(first_step, args.resume.is_some())?;
    let bar = crate::run::progress_bar(first_step, args.steps);
    let started = Instant::now();
    let plan = Plan { until: args.steps, every, started, snapshots: &snapshots };
    let mut result = training.go(&mut ppo, &plan, &stop, &bar);
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let steps = ppo.steps();
    // A run that stopped between steps (at its end, or on Ctrl-C) can be resumed from here; one
    // that failed within a step cannot.
    if result.is_ok() && snapshots.every > 0 && !snapshots.due(steps) && steps > first_step {
        result = training.snapshot(&ppo, &snapshots);
    }
    // The interval in progress gets its row after the snapshot, which keeps it open: a resumed
    // run goes on with it, as a run that had not stopped would.
    let closed = training.close_interval(steps, worlds as f64);
    result = result.and(closed);

    // Whatever happened, everything learned and measured so far is kept.
    let checkpoint = args.save_learner.clone().unwrap_or_else(|| args.out.join("learner.safetensors"));
    let saved = ppo
        .checkpoint()
        .map_err(anyhow::Error::from)
        .and_then(|bytes| Ok(std::fs::write(&checkpoint, bytes)?))
        .with_context(|| format!("cannot write the learner to {}", checkpoint.display()));
    training.close()?;
    let _ = plot_points(
        &format!("{} × {worlds} worlds, {agent}", scenario.name),
        ("step", "reward per stream and step"),
        &[line(&training.counts.curve, agent)],
        &args.out.join("reward_rate.png"),
    );
    let streams = ppo.streams() as f64;
    let window = FINAL_WINDOW.min(args.steps.div_ceil(10)).max(1);
    let (window_steps, window_reward) = training.final_window(steps, window);
    let time = ppo.timing();
    let summary = Summary {
        scenario: scenario.name.clone(),
        agent: agent.to_string(),
        seeds,
        worlds: worlds as usize,
        streams: ppo.streams(),
        steps,
        steps_this_run: steps - first_step,
        env_steps: steps * worlds,
        seconds,
        env_steps_per_sec: ((steps - first_step) * worlds) as f64 / seconds.max(1e-9),
        updates: ppo.learner().updates(),
        reward_rate: training.counts.reward / (streams * steps.max(1) as f64),
        final_reward_rate: window_reward / (streams * window_steps.max(1) as f64),
        final_window: window_steps,
        env_seconds: time.env.as_secs_f64(),
        act_seconds: time.act.as_secs_f64(),
        update_seconds: time.update.as_secs_f64(),
        weights_hash: beanworld_rl::ppo::checkpoint::weights_hash(&ppo.learner().weights()),
        interrupted: stop.load(Ordering::SeqCst),
    };
    let path = args.out.join("summary.json");
    std::fs::write(&path, serde_json::to_string_pretty(&summary)? + "\n")
        .with_context(|| format!("cannot write {}", path.display()))?;
    saved?;
    result.with_context(|| {
        format!(
            "the run stopped at step {steps}; metrics and the learner were kept in {}",
            args.out.display()
        )
    })?;
    if summary.interrupted {
        eprintln!(
            "interrupted at step {steps}: metrics, the learner and the summary are in {}",
            args.out.display()
        );
        std::process::exit(130);
    }
    let _ = writeln!(
        std::io::stdout(),
        "{steps} steps of {worlds} worlds ({} streams) in {seconds:.2} s, {:.0} env-steps/s, {} updates; \
         reward rate {:.4}, final {:.4}; results in {}",
        summary.streams,
        summary.env_steps_per_sec,
        summary.updates,
        summary.reward_rate,
        summary.final_reward_rate,
        args.out.display()
    );
    Ok(())
}

/// A new learner over new worlds (from `--load-learner`'s checkpoint if given), and the files
/// of a new run.
fn fresh(
    args: &Args,
    scenario: &Scenario,
    agent: &str,
    worlds: u64,
    every: u64,
) -> anyhow::Result<(BatchedPpo, Training)> {
    let seeds: Vec<u64> = (0..worlds).map(|i| scenario.seed.wrapping_add(i)).collect();
    let mut ppo = beanworld_rl::batched(agent, scenario, &seeds, args.agent_threads as usize)?;
    if let Some(path) = &args.load_learner {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let loaded = ppo
            .load_checkpoint(&bytes)
            .with_context(|| format!("cannot load the learner in {}", path.display()))?;
        if !loaded.state {
            eprintln!(
                "{}: the weights only (saved by another learner or settings, or without its state): \
                 Adam and the random stream start afresh",
                path.display()
            );
        } else if !loaded.rollouts {
            eprintln!(
                "{}: saved with another number of streams: its rollouts in progress are dropped",
                path.display()
            );
        }
    }
    let training = Training::open(&args.out, ppo.streams(), Counts::new(agent, seeds, every))?;
    Ok((ppo, training))
}

/// The learner and worlds of the snapshot folder `path`, and the run's files kept up to its
/// step; refused, with the reason, if the snapshot is not of this run (another learner, number
/// of worlds, seed or metrics interval) or is damaged.
fn resume(
    args: &Args,
    scenario: &mut Scenario,
    agent: &str,
    worlds: u64,
    every: u64,
    path: &Path,
) -> anyhow::Result<(BatchedPpo, Training)> {
    if path.is_file() {
        bail!(
            "{} is a file: a run over worlds resumes from a snapshot folder, OUT/snapshots/STEP \
             (a run over one world resumes from a STEP.snap file, without --worlds)",
            path.display()
        );
    }
    if !is_snapshot(path) {
        bail!("{} is not a snapshot folder of a run over worlds (it has no {STATE})", path.display());
    }
    let counts = Counts::read(&path.join(STATE))?;
    let mismatch = |what: String| anyhow::anyhow!("{}: the snapshot {what}", path.display());
    if counts.agent != agent {
        return Err(mismatch(format!(
            "is of the learner {:?}; resume with --agent {:?}",
            counts.agent, counts.agent
        )));
    }
    if args.worlds.is_some_and(|n| n != counts.seeds.len() as u64)
        || (args.worlds.is_none() && worlds > 1 && worlds != counts.seeds.len() as u64)
    {
        return Err(mismatch(format!(
            "has {} worlds; resume with --worlds {}",
            counts.seeds.len(),
            counts.seeds.len()
        )));
    }
    let first = counts.seeds.first().copied().unwrap_or(0);
    if args.seed.is_some_and(|seed| seed != first) {
        return Err(mismatch(format!("is of seed {first}; a resumed run keeps its seed")));
    }
    if counts.every != every {
        return Err(mismatch(format!(
            "wrote metrics every {} steps, not {every}; resume with --metrics-every {}",
            counts.every, counts.every
        )));
    }
    scenario.seed = first;
    let ppo = load_worlds(path, scenario, agent, args.agent_threads as usize)?;
    let seeds = ppo.env().seeds();
    if seeds != counts.seeds || ppo.steps() != counts.step {
        return Err(mismatch(format!(
            "holds worlds of seeds {seeds:?} at step {}, its counts are of seeds {:?} at step {}",
            ppo.steps(),
            counts.seeds,
            counts.step
        )));
    }
    let training = Training::resume(&args.out, ppo.streams(), counts)?;
    Ok((ppo, training))
}

/// Writes into the folder `dir` every world of `ppo` (`world-0000.snap`, …, each with whether
/// its agents moved in the last step) and its learner's checkpoint with its rollouts in progress
/// (`learner.safetensors`): what [`load_worlds`] goes on from, exactly.
pub fn save_worlds(ppo: &BatchedPpo, dir: &Path) -> anyhow::Result<()> {
    let agents = ppo.env().agents_per_world();
    for (i, world) in ppo.env().worlds().iter().enumerate() {
        let moved = ppo.env().moved()[i * agents..(i + 1) * agents].to_vec();
        snapshot::save(world, &moved, &dir.join(world_file(i)))?;
    }
    let learner = dir.join(LEARNER);
    let bytes =
        ppo.checkpoint().with_context(|| format!("cannot save the learner to {}", learner.display()))?;
    std::fs::write(&learner, bytes).with_context(|| format!("cannot write {}", learner.display()))
}

/// The batched learner `agent` over the worlds of `scenario` that [`save_worlds`] wrote into
/// `dir` (each world's seed read from its file), stepped on `threads` threads, at the step they
/// were saved at: it goes on as if it had not stopped. Refused, with the reason, if a world is
/// not of `scenario`, the worlds are not of one step, the learner is another, or a file is
/// damaged.
pub fn load_worlds(
    dir: &Path,
    scenario: &Scenario,
    agent: &str,
    threads: usize,
) -> anyhow::Result<BatchedPpo> {
    let mut sims: Vec<Simulation> = Vec::new();
    let mut moved = Vec::new();
    while dir.join(world_file(sims.len())).is_file() {
        let path = dir.join(world_file(sims.len()));
        let mut own = scenario.clone();
        own.seed = snapshot::header(&path)?.seed;
        let (sim, flags): (Simulation, Vec<bool>) = snapshot::load(&path, &own)?;
        if let Some(first) = sims.first()
            && first.time() != sim.time()
        {
            bail!(
                "{}: world {} is at step {}, world 0 at {}",
                dir.display(),
                sims.len(),
                sim.time(),
                first.time()
            );
        }
        sims.push(sim);
        moved.extend(flags);
    }
    let Some(step) = sims.first().map(Simulation::time) else {
        bail!("{} holds no world ({} is not there)", dir.display(), world_file(0));
    };
    let env = VecEnv::from_worlds(scenario, sims, moved, threads)
        .with_context(|| format!("{}: the worlds do not fit together", dir.display()))?;
    let mut ppo = beanworld_rl::batched_over(agent, scenario, env)?;
    let learner = dir.join(LEARNER);
    let bytes = std::fs::read(&learner).with_context(|| format!("cannot read {}", learner.display()))?;
    ppo.resume(&bytes, step)
        .with_context(|| format!("cannot resume the learner in {}", learner.display()))?;
    Ok(ppo)
}

/// Whether `path` is a batched run's snapshot (a folder with the run's counts).
fn is_snapshot(path: &Path) -> bool {
    path.join(STATE).is_file()
}

/// The file of a snapshot folder with the run's counts.
const STATE: &str = "run.state";
/// The file of a snapshot folder with the learner.
const LEARNER: &str = "learner.safetensors";

/// The file of a snapshot folder with world `i`.
fn world_file(i: usize) -> String {
    format!("world-{i:04}.snap")
}

/// How far a batched run goes, with a metrics row every `every` steps and the snapshots due.
#[derive(Clone, Copy)]
struct Plan<'a> {
    until: u64,
    every: u64,
    /// When the run began.
    started: Instant,
    snapshots: &'a Snapshots,
}

/// Where and how often a batched run writes snapshots.
struct Snapshots {
    dir: PathBuf,
    /// Steps between snapshots (0: none).
    every: u64,
    /// Newest snapshots kept (0: all).
    keep: usize,
}

impl Snapshots {
    /// Whether the snapshot of step `step` is due.
    fn due(&self, step: u64) -> bool {
        self.every > 0 && step.is_multiple_of(self.every)
    }

    /// The steps of the snapshots in the folder, rising.
    fn steps(&self) -> std::io::Result<Vec<u64>> {
        let mut steps: Vec<u64> = std::fs::read_dir(&self.dir)?
            .filter_map(|entry| {
                let entry = entry.ok()?;
                let step = entry.file_name().to_str()?.parse().ok()?;
                is_snapshot(&entry.path()).then_some(step)
            })
            .collect();
        steps.sort_unstable();
        Ok(steps)
    }

    /// Makes way for a run that begins at step `first`: one resumed (`resumed`) abandons the
    /// snapshots after `first`, as it has cut its files back to it; a new one is refused if
    /// there are snapshots of an earlier run here (they are the user's, and pruning would take
    /// the older ones of this run first).
    fn clear_after(&self, first: u64, resumed: bool) -> anyhow::Result<()> {
        if self.every == 0 || !self.dir.is_dir() {
            return Ok(());
        }
        let steps = self.steps().with_context(|| format!("cannot read {}", self.dir.display()))?;
        if !resumed && let Some(last) = steps.last() {
            bail!(
                "{} holds snapshots of an earlier run (the last of step {last}): resume from one \
                 with --resume, or write this run to another --out",
                self.dir.display()
            );
        }
        let partial = std::fs::read_dir(&self.dir)
            .with_context(|| format!("cannot read {}", self.dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "partial"));
        let abandoned = steps.into_iter().filter(|&s| s > first).map(|s| self.dir.join(s.to_string()));
        for dir in abandoned.chain(partial) {
            std::fs::remove_dir_all(&dir).with_context(|| format!("cannot remove {}", dir.display()))?;
        }
        Ok(())
    }

    /// Removes all but the newest `keep` snapshots.
    fn prune(&self) -> std::io::Result<()> {
        if self.keep == 0 {
            return Ok(());
        }
        let steps = self.steps()?;
        for step in &steps[..steps.len().saturating_sub(self.keep)] {
            std::fs::remove_dir_all(self.dir.join(step.to_string()))?;
        }
        Ok(())
    }
}

/// What a batched run has counted, beside its worlds and learner: what a resumed run needs to
/// go on writing the same rows and summary. Saved in a snapshot as `run.state` (postcard, then
/// a CRC-32C of it, so that a damaged file is refused).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
struct Counts {
    /// The learner, as named with its settings.
    agent: String,
    /// Each world's seed.
    seeds: Vec<u64>,
    /// The step it was saved at (0 until a snapshot).
    step: u64,
    /// Steps per metrics row.
    every: u64,
    /// Reward of all streams over the rows written.
    reward: f64,
    /// The row interval in progress: its reward and the step it began after.
    interval_reward: f64,
    interval_start: u64,
    /// (step, reward so far) at the rows a final window may still start at.
    marks: std::collections::VecDeque<(u64, f64)>,
    /// The plot's points.
    curve: Vec<(u64, f64, f64)>,
}

impl Counts {
    /// The counts of a new run of the learner `agent` over worlds of `seeds`, with a metrics
    /// row every `every` steps.
    fn new(agent: &str, seeds: Vec<u64>, every: u64) -> Self {
        Counts {
            agent: agent.to_string(),
            seeds,
            step: 0,
            every,
            reward: 0.0,
            interval_reward: 0.0,
            interval_start: 0,
            marks: std::collections::VecDeque::from([(0, 0.0)]),
            curve: Vec::new(),
        }
    }

    fn write(&self, path: &Path) -> anyhow::Result<()> {
        let mut bytes = postcard::to_stdvec(self).context("cannot encode the run's counts")?;
        let crc = crc32c::crc32c(&bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());
        std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
    }

    fn read(path: &Path) -> anyhow::Result<Self> {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let damaged = || anyhow::anyhow!("{} is damaged (its checksum does not match)", path.display());
        let (body, crc) =
            bytes.split_at_checked(bytes.len().checked_sub(4).ok_or_else(damaged)?).ok_or_else(damaged)?;
        if crc32c::crc32c(body).to_le_bytes() != crc {
            return Err(damaged());
        }
        postcard::from_bytes(body).with_context(|| format!("{} is damaged", path.display()))
    }
}

/// What a batched run writes as it goes.
struct Training {
    metrics: BufWriter<File>,
    updates: BufWriter<File>,
    /// The lines of `updates` for TensorBoard.
    events: Events,
    streams: usize,
    counts: Counts,
    /// When, and at which step, this run began its part of the interval in progress.
    since: (Instant, u64),
}

impl Training {
    /// The files of a new run in `out`.
    fn open(out: &Path, streams: usize, counts: Counts) -> anyhow::Result<Self> {
        let create = |name: &str| {
            let path = out.join(name);
            File::create(&path)
                .map(BufWriter::new)
                .with_context(|| format!("cannot write {}", path.display()))
        };
        let mut metrics = create("metrics.csv")?;
        writeln!(metrics, "{METRICS_HEADER}")?;
        Ok(Training {
            metrics,
            updates: create("learner.jsonl")?,
            events: Events::open(out, None)
                .with_context(|| format!("cannot write {}", out.join(crate::events::FILE).display()))?,
            streams,
            counts,
            since: (Instant::now(), 0),
        })
    }

    /// The files of the run in `out` resumed with `counts`, kept up to its step (what comes after
    /// is about to be written again); files that are not there are begun anew.
    fn resume(out: &Path, streams: usize, counts: Counts) -> anyhow::Result<Self> {
        let append = |name: &str, header: usize, until: u64, step_of: fn(&str) -> Option<u64>| {
            let path = out.join(name);
            if path.is_file() {
                crate::learner_log::cut_after(&path, header, until, step_of)
                    .with_context(|| format!("cannot rewrite {}", path.display()))?;
            }
            // Not there, or cut to nothing (killed before its first line reached the disk).
            let fresh = std::fs::metadata(&path).map_or(true, |m| m.len() == 0);
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            anyhow::Ok((BufWriter::new(file), fresh))
        };
        // Rows up to the last whole interval: a run that ended within one wrote a row for its
        // part, which the resumed run writes whole.
        let (mut metrics, fresh) = append("metrics.csv", 1, counts.interval_start, |row| {
            row.split(',').next().and_then(|s| s.parse().ok())
        })?;
        if fresh {
            writeln!(metrics, "{METRICS_HEADER}")?;
        }
        let (updates, _) = append("learner.jsonl", 0, counts.step, |line| {
            serde_json::from_str::<serde_json::Value>(line).ok()?.get("step")?.as_u64()
        })?;
        Ok(Training {
            metrics,
            updates,
            events: Events::open(out, Some(counts.step))
                .with_context(|| format!("cannot write {}", out.join(crate::events::FILE).display()))?,
            streams,
            counts,
            since: (Instant::now(), 0),
        })
    }

    /// Steps `ppo` as `plan` says until its end or `stop`, writing a metrics row every `every`
    /// steps, a line per update and the snapshots due.
    fn go(
        &mut self,
        ppo: &mut BatchedPpo,
        plan: &Plan<'_>,
        stop: &AtomicBool,
        bar: &indicatif::ProgressBar,
    ) -> anyhow::Result<()> {
        let Plan { until, every, started, snapshots } = *plan;
        let worlds = ppo.env().len() as f64;
        let first_step = ppo.steps();
        self.since = (Instant::now(), first_step);
        while ppo.steps() < until && !stop.load(Ordering::SeqCst) {
            let updates = ppo.learner().updates();
            ppo.step()?;
            let step = ppo.steps();
            self.counts.interval_reward += ppo.rewards().iter().map(|&r| f64::from(r)).sum::<f64>();
            if ppo.learner().updates() > updates
                && let Some(stats) = ppo.learner().last_update()
            {
                let rate = ((step - first_step) as f64 * worlds) / started.elapsed().as_secs_f64().max(1e-9);
                let line = serde_json::to_string(&UpdateLine { step, env_steps_per_sec: rate, stats })?;
                writeln!(self.updates, "{line}")?;
                self.events.scalars(step, "learner", &line)?;
            }
            if step.is_multiple_of(every) {
                self.row(step, worlds)?;
            }
            if snapshots.due(step) {
                self.snapshot(ppo, snapshots)?;
            }
            if step.is_multiple_of(256) {
                bar.set_position(step);
            }
        }
        Ok(())
    }

    /// The row of the interval in progress, if it has a step, as the run ends at `step`.
    fn close_interval(&mut self, step: u64, worlds: f64) -> anyhow::Result<()> {
        if step > self.counts.interval_start { self.row(step, worlds) } else { Ok(()) }
    }

    /// A metrics row for the interval in progress, which ends at `step`.
    fn row(&mut self, step: u64, worlds: f64) -> anyhow::Result<()> {
        let c = &mut self.counts;
        let (steps, reward) = (step - c.interval_start, c.interval_reward);
        let stream_steps = (steps as usize * self.streams) as f64;
        let (since, from) = self.since;
        let speed = (step - from) as f64 * worlds / since.elapsed().as_secs_f64().max(1e-9);
        self.since = (Instant::now(), step);
        writeln!(self.metrics, "{step},{},{reward},{},{speed:.0}", self.streams, reward / stream_steps)?;
        c.reward += reward;
        (c.interval_reward, c.interval_start) = (0.0, step);
        push_point(&mut c.curve, step, reward, stream_steps);
        // The longest window any run may ask for at its end: a run resumed with more --steps
        // than it began with has a longer final window than it would have kept marks for.
        self.trim(step, FINAL_WINDOW);
        self.counts.marks.push_back((step, self.counts.reward));
        // Rows are few (one per interval): each reaches the disk as it comes, to be watched.
        self.metrics.flush()?;
        self.updates.flush()?;
        Ok(())
    }

    /// Writes `snapshots/STEP/` for the step `ppo` stands at: first into a folder of its own,
    /// renamed when whole, so a run killed while writing leaves no snapshot that looks whole.
    fn snapshot(&mut self, ppo: &BatchedPpo, snapshots: &Snapshots) -> anyhow::Result<()> {
        let step = ppo.steps();
        let dir = snapshots.dir.join(step.to_string());
        let partial = snapshots.dir.join(format!("{step}.partial"));
        let fail = |what: &str| format!("cannot write the snapshot {}: {what}", dir.display());
        if partial.exists() {
            std::fs::remove_dir_all(&partial).with_context(|| fail("cannot clear a partial one"))?;
        }
        std::fs::create_dir_all(&partial).with_context(|| fail("cannot create its folder"))?;
        save_worlds(ppo, &partial).with_context(|| fail("its worlds and learner"))?;
        let counts = Counts { step, ..self.counts.clone() };
        counts.write(&partial.join(STATE))?;
        // Rows and update lines up to this step reach the disk before the snapshot is whole.
        self.close()?;
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| fail("cannot replace the one there"))?;
        }
        std::fs::rename(&partial, &dir).with_context(|| fail("cannot rename it"))?;
        // Training goes on if old snapshots cannot be removed: they are the user's to clear.
        if let Err(e) = snapshots.prune() {
            eprintln!("cannot remove old snapshots in {}: {e}", snapshots.dir.display());
        }
        Ok(())
    }

    /// Steps and reward of the shortest stretch of whole metric intervals ending at `end` (the
    /// last row) that covers the final window of `window` steps (the whole run if shorter).
    fn final_window(&mut self, end: u64, window: u64) -> (u64, f64) {
        self.trim(end, window);
        let &(from, reward_before) = self.counts.marks.front().unwrap_or(&(0, 0.0));
        (end - from, self.counts.reward - reward_before)
    }

    /// Forgets the marks that no final window of `window` steps ending at `end` or later can
    /// start at (so they stay few however long the run).
    fn trim(&mut self, end: u64, window: u64) {
        let c = &mut self.counts;
        while c.marks.len() > 1 && c.marks[1].0 + window <= end {
            c.marks.pop_front();
        }
    }

    /// Flushes the files.
    fn close(&mut self) -> anyhow::Result<()> {
        self.metrics.flush().context("cannot write metrics.csv")?;
        self.updates.flush().context("cannot write learner.jsonl")?;
        self.events.flush().with_context(|| format!("cannot write {}", self.events.path().display()))?;
        Ok(())
    }
}
