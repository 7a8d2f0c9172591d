//! `beanworld run`: run a scenario headless with its scripted agents, writing metrics, a summary,
//! snapshots, and a running hash of the whole trajectory.
//!
//! `--steps N` means "until step N", so a run resumed from a snapshot with the same `--steps`
//! ends where the uninterrupted run did, with the same `trajectory_hash` (the running hash and the
//! metric windows travel in the snapshot). Ctrl-C stops after the current step: metrics are
//! flushed and a snapshot of that step is written.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::Context;
use beanworld_sim::{Simulation, snapshot};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_128_with_seed;

use crate::drive::Driver;
use crate::scenario_arg;

/// Arguments of `run`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The scenario file (RON); the embedded JBW classic scenario when absent.
    scenario: Option<PathBuf>,
    /// Run until this step.
    #[arg(long, default_value_t = 10_000)]
    steps: u64,
    /// World seed (overrides the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Output folder for metrics.csv, summary.json and snapshots/.
    #[arg(long, default_value = "out")]
    out: PathBuf,
    /// Write a snapshot every N steps (0: only at the end).
    #[arg(long, default_value_t = 0)]
    snapshot_every: u64,
    /// Continue from this snapshot.
    #[arg(long, value_name = "FILE")]
    resume: Option<PathBuf>,
    /// Steps in the moving window of the reward rate.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    rate_window: u64,
}

/// What `run` keeps beside the simulation, saved in snapshots so a resumed run continues it.
#[derive(Serialize, Deserialize)]
struct Record {
    /// Running hash of every step's actions, rewards, moves and observations.
    trajectory: u128,
    /// Steps in the reward-rate window.
    window: u64,
    /// Per agent id: the rewards of its last `window` steps (a ring), their sum, and how many
    /// steps it has taken part in.
    rates: BTreeMap<u32, Rate>,
}

#[derive(Serialize, Deserialize)]
struct Rate {
    recent: Vec<f32>,
    sum: f64,
    steps: u64,
}

impl Record {
    fn new(window: u64) -> Self {
        Record { trajectory: 0, window, rates: BTreeMap::new() }
    }

    /// Adds agent `id`'s reward of this step; returns its reward rate over the window.
    fn rate(&mut self, id: u32, reward: f32) -> f64 {
        let window = self.window;
        let rate = self.rates.entry(id).or_insert_with(|| Rate {
            recent: vec![0.0; window as usize],
            sum: 0.0,
            steps: 0,
        });
        let slot = (rate.steps % window) as usize;
        let old = std::mem::replace(&mut rate.recent[slot], reward);
        rate.sum += f64::from(reward) - f64::from(old);
        rate.steps += 1;
        rate.sum / rate.steps.min(window) as f64
    }
}

#[derive(Serialize)]
struct Summary {
    scenario: String,
    seed: u64,
    steps: u64,
    steps_this_run: u64,
    seconds: f64,
    steps_per_sec: f64,
    agents: usize,
    reward: BTreeMap<u32, f64>,
    collected: BTreeMap<String, u64>,
    patches: usize,
    evicted_records: usize,
    trajectory_hash: String,
    world_hash: String,
    interrupted: bool,
}

/// Runs `run`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let mut scenario = scenario_arg::load(args.scenario.as_deref())?;
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    let (mut sim, mut record) = match &args.resume {
        Some(path) => {
            let (sim, record): (Simulation, Record) = snapshot::load(path, &scenario)?;
            if record.window != args.rate_window {
                anyhow::bail!(
                    "{}: the snapshot's reward-rate window is {} steps; resume with --rate-window {}",
                    path.display(),
                    record.window,
                    record.window
                );
            }
            (sim, record)
        }
        None => {
            let sim = Simulation::new(scenario.clone())
                .with_context(|| format!("scenario \"{}\"", scenario.name))?;
            (sim, Record::new(args.rate_window))
        }
    };
    let mut driver = Driver::new(&sim)?;
    let snapshots = args.out.join("snapshots");
    std::fs::create_dir_all(&snapshots).with_context(|| format!("cannot create {}", snapshots.display()))?;
    let metrics_path = args.out.join("metrics.csv");
    let mut metrics = open_metrics(&metrics_path, &sim)?;

    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        // A second handler cannot be installed in one process; the first one is enough.
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst));
    }
    let start_step = sim.time();
    let bar = progress_bar(start_step, args.steps);
    let started = Instant::now();
    let mut bytes: Vec<u8> = Vec::new();
    let mut row = String::new();
    let (mut ids, mut rewards, mut moved): (Vec<u32>, Vec<f32>, Vec<bool>) = Default::default();
    let k = sim.config().items.len();
    let result = (|| -> anyhow::Result<()> {
        while sim.time() < args.steps && !stop.load(Ordering::SeqCst) {
            driver.step(&mut sim, |i, r, m| {
                ids.clear();
                ids.extend_from_slice(i);
                rewards.clear();
                rewards.extend_from_slice(r);
                moved.clear();
                moved.extend_from_slice(m);
            })?;
            let step = sim.time();
            record.trajectory = hash_step(&mut bytes, record.trajectory, step, &driver, &rewards, &moved);
            for (&id, &reward) in ids.iter().zip(&rewards) {
                let rate = record.rate(id, reward);
                row.clear();
                use std::fmt::Write as _;
                let _ = write!(row, "{step},{id},{reward},{rate:.6}");
                match sim.agents().iter().find(|a| a.id == id) {
                    Some(agent) => agent.collected.iter().for_each(|c| {
                        let _ = write!(row, ",{c}");
                    }),
                    // Removed by an event after the step: its counts left with it.
                    None => (0..k).for_each(|_| row.push(',')),
                }
                writeln!(metrics, "{row}")?;
            }
            let due = sim.take_snapshot_request();
            if (args.snapshot_every > 0 && step % args.snapshot_every == 0 || due) && step < args.steps {
                snapshot::save(&sim, &record, &snapshots.join(format!("{step}.snap")))?;
            }
            if step % 256 == 0 {
                bar.set_position(step);
            }
        }
        Ok(())
    })();
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    // Whatever happened, keep what was done: metrics, a final snapshot, the summary.
    metrics.flush().context("cannot write metrics.csv")?;
    snapshot::save(&sim, &record, &snapshots.join(format!("{}.snap", sim.time())))?;
    let steps_this_run = sim.time() - start_step;
    let mut collected: BTreeMap<String, u64> = BTreeMap::new();
    for (k, t) in sim.config().items.iter().enumerate() {
        collected.insert(t.name.clone(), sim.agents().iter().map(|a| a.collected[k]).sum());
    }
    let summary = Summary {
        scenario: sim.scenario().name.clone(),
        seed: sim.scenario().seed,
        steps: sim.time(),
        steps_this_run,
        seconds,
        steps_per_sec: steps_this_run as f64 / seconds.max(1e-9),
        agents: sim.agents().len(),
        reward: sim.agents().iter().map(|a| (a.id, a.reward)).collect(),
        collected,
        patches: sim.world().patch_count(),
        evicted_records: sim.world().record_count(),
        trajectory_hash: format!("{:032x}", record.trajectory),
        world_hash: sim.state_digest(),
        interrupted: stop.load(Ordering::SeqCst),
    };
    let path = args.out.join("summary.json");
    std::fs::write(&path, serde_json::to_string_pretty(&summary)? + "\n")
        .with_context(|| format!("cannot write {}", path.display()))?;
    result?;
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
        steps_this_run,
        seconds,
        summary.steps_per_sec,
        summary.trajectory_hash,
        args.out.display()
    );
    Ok(())
}

/// Folds one step into the running trajectory hash: the previous hash seeds XXH3-128 over the
/// step number, every agent's action, reward and move, and every observation.
fn hash_step(
    bytes: &mut Vec<u8>,
    previous: u128,
    step: u64,
    driver: &Driver,
    rewards: &[f32],
    moved: &[bool],
) -> u128 {
    bytes.clear();
    bytes.extend_from_slice(&previous.to_le_bytes());
    bytes.extend_from_slice(&step.to_le_bytes());
    for ((a, r), m) in driver.actions.iter().zip(rewards).zip(moved) {
        bytes.extend_from_slice(&a.code().to_le_bytes());
        bytes.extend_from_slice(&r.to_bits().to_le_bytes());
        bytes.push(u8::from(*m));
    }
    for v in driver.scent.iter().chain(&driver.vision) {
        bytes.extend_from_slice(&v.to_bits().to_le_bytes());
    }
    xxh3_128_with_seed(bytes, 0x6265_616e_776f_726c)
}

/// Opens metrics.csv for appending after the simulation's current step: a fresh run starts it
/// anew; a resumed run keeps the rows up to the snapshot's step and drops any later ones.
fn open_metrics(path: &Path, sim: &Simulation) -> anyhow::Result<BufWriter<File>> {
    let mut header = String::from("step,agent,reward,reward_rate");
    for t in &sim.config().items {
        header.push(',');
        header.push_str(&t.name);
    }
    let mut kept = Vec::new();
    if sim.time() > 0
        && let Ok(f) = File::open(path)
    {
        for line in BufReader::new(f).lines().skip(1) {
            let line = line?;
            let step: u64 = line.split(',').next().and_then(|s| s.parse().ok()).unwrap_or(u64::MAX);
            if step <= sim.time() {
                kept.push(line);
            }
        }
    }
    let mut w =
        BufWriter::new(File::create(path).with_context(|| format!("cannot create {}", path.display()))?);
    writeln!(w, "{header}")?;
    for line in kept {
        writeln!(w, "{line}")?;
    }
    Ok(w)
}

fn progress_bar(from: u64, to: u64) -> ProgressBar {
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
