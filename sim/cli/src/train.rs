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
//! Same scenario, seed, worlds and learner ⇒ the same weights, whatever `--agent-threads` (the
//! threads that step the worlds).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::events::Events;
use anyhow::{Context, bail};
use beanworld_rl::ppo::{BatchedPpo, UpdateStats};
use beanworld_sim::Scenario;
use beanworld_sim::policy::PolicyKind;
use serde::Serialize;

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

/// The reward-rate points of the plot, merged pairwise when there are too many.
#[derive(Default)]
struct Curve {
    /// (last step, reward, stream-steps) per point.
    points: Vec<(u64, f64, f64)>,
}

impl Curve {
    fn push(&mut self, step: u64, reward: f64, stream_steps: f64) {
        self.points.push((step, reward, stream_steps));
        if self.points.len() > PLOT_POINTS {
            self.points = self
                .points
                .chunks(2)
                .map(|c| c.iter().fold((0, 0.0, 0.0), |a, p| (p.0, a.1 + p.1, a.2 + p.2)))
                .collect();
        }
    }

    fn line(&self, name: &str) -> Line {
        let points = self.points.iter().map(|&(s, r, n)| (s as f64, r / n.max(1.0))).collect();
        Line { name: name.to_string(), points, colour: 0, dashed: false }
    }
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
    if args.resume.is_some() {
        return refuse(
            "--resume",
            "a batched run saves its learner (learner.safetensors, see --load-learner), not its worlds",
        );
    }
    if args.snapshot_every > 0 {
        return refuse(
            "--snapshot-every",
            "a batched run saves its learner (learner.safetensors), not its worlds",
        );
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
    let seeds: Vec<u64> = (0..worlds).map(|i| scenario.seed.wrapping_add(i)).collect();
    let mut ppo = beanworld_rl::batched(agent, &scenario, &seeds, args.agent_threads as usize)?;
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
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let every = args.metrics_every(&scenario);

    let window = FINAL_WINDOW.min(args.steps.div_ceil(10)).max(1);
    let mut training = Training::open(&args.out, ppo.streams(), window)?;
    let bar = crate::run::progress_bar(0, args.steps);
    let started = Instant::now();
    let result = training.go(&mut ppo, args.steps, every, &stop, &bar, started);
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let steps = ppo.steps();

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
        &[training.curve.line(agent)],
        &args.out.join("reward_rate.png"),
    );
    let streams = ppo.streams() as f64;
    let (window_steps, window_reward) = training.final_window(steps);
    let time = ppo.timing();
    let summary = Summary {
        scenario: scenario.name.clone(),
        agent: agent.to_string(),
        seeds,
        worlds: worlds as usize,
        streams: ppo.streams(),
        steps,
        env_steps: steps * worlds,
        seconds,
        env_steps_per_sec: (steps * worlds) as f64 / seconds.max(1e-9),
        updates: ppo.learner().updates(),
        reward_rate: training.reward / (streams * steps.max(1) as f64),
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

/// What a batched run writes as it goes.
struct Training {
    metrics: BufWriter<File>,
    updates: BufWriter<File>,
    /// The lines of `updates` for TensorBoard.
    events: Events,
    streams: usize,
    curve: Curve,
    /// Reward of all streams so far.
    reward: f64,
    /// Steps in the final window.
    window: u64,
    /// (step, reward so far) at metrics rows: those a final window may still start at.
    marks: std::collections::VecDeque<(u64, f64)>,
}

impl Training {
    fn open(out: &Path, streams: usize, window: u64) -> anyhow::Result<Self> {
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
            curve: Curve::default(),
            reward: 0.0,
            window,
            marks: std::collections::VecDeque::from([(0, 0.0)]),
        })
    }

    /// Steps `ppo` until `until` or `stop`, writing a metrics row every `every` steps and a line
    /// per update.
    fn go(
        &mut self,
        ppo: &mut BatchedPpo,
        until: u64,
        every: u64,
        stop: &AtomicBool,
        bar: &indicatif::ProgressBar,
        started: Instant,
    ) -> anyhow::Result<()> {
        let worlds = ppo.env().len() as f64;
        let (mut interval_reward, mut interval_start, mut interval_time) = (0.0, 0, Instant::now());
        while ppo.steps() < until && !stop.load(Ordering::SeqCst) {
            let updates = ppo.learner().updates();
            ppo.step()?;
            let step = ppo.steps();
            interval_reward += ppo.rewards().iter().map(|&r| f64::from(r)).sum::<f64>();
            if ppo.learner().updates() > updates
                && let Some(stats) = ppo.learner().last_update()
            {
                let rate = (step as f64 * worlds) / started.elapsed().as_secs_f64().max(1e-9);
                let line = serde_json::to_string(&UpdateLine { step, env_steps_per_sec: rate, stats })?;
                writeln!(self.updates, "{line}")?;
                self.events.scalars(step, "learner", &line)?;
            }
            if step.is_multiple_of(every) || step == until {
                self.row(step, step - interval_start, interval_reward, worlds, interval_time)?;
                (interval_reward, interval_start, interval_time) = (0.0, step, Instant::now());
            }
            if step.is_multiple_of(256) {
                bar.set_position(step);
            }
        }
        let step = ppo.steps();
        if step > interval_start {
            self.row(step, step - interval_start, interval_reward, worlds, interval_time)?;
        }
        Ok(())
    }

    /// A metrics row for the `steps` steps up to `step`, whose reward was `reward`.
    fn row(&mut self, step: u64, steps: u64, reward: f64, worlds: f64, since: Instant) -> anyhow::Result<()> {
        let stream_steps = (steps as usize * self.streams) as f64;
        let speed = steps as f64 * worlds / since.elapsed().as_secs_f64().max(1e-9);
        writeln!(self.metrics, "{step},{},{reward},{},{speed:.0}", self.streams, reward / stream_steps)?;
        self.reward += reward;
        self.curve.push(step, reward, stream_steps);
        self.trim(step);
        self.marks.push_back((step, self.reward));
        // Rows are few (one per interval): each reaches the disk as it comes, to be watched.
        self.metrics.flush()?;
        self.updates.flush()?;
        Ok(())
    }

    /// Steps and reward of the shortest stretch of whole metric intervals ending at `end` (the
    /// last row) that covers the final window (the whole run if shorter).
    fn final_window(&mut self, end: u64) -> (u64, f64) {
        self.trim(end);
        let &(from, reward_before) = self.marks.front().unwrap_or(&(0, 0.0));
        (end - from, self.reward - reward_before)
    }

    /// Forgets the marks that no final window ending at `end` or later can start at (so they
    /// stay few however long the run).
    fn trim(&mut self, end: u64) {
        while self.marks.len() > 1 && self.marks[1].0 + self.window <= end {
            self.marks.pop_front();
        }
    }

    /// Flushes both files.
    fn close(&mut self) -> anyhow::Result<()> {
        self.metrics.flush().context("cannot write metrics.csv")?;
        self.updates.flush().context("cannot write learner.jsonl")?;
        self.events.flush().with_context(|| format!("cannot write {}", self.events.path().display()))?;
        Ok(())
    }
}
