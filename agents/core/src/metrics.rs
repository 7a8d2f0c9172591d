//! What every run records: per interval of steps (`metrics_every`, 1 for a row per step), per
//! agent and over all agents, the reward, the reward rate, the reward rate over a moving window
//! (JBW's metric, spec §10.6), the items collected by type and the steps per second, written as
//! `metrics.csv`; and a running hash of the whole trajectory — every action, reward, move and
//! observation — that two runs share only if they are identical to the bit. The hash, the rate
//! windows and the sums of the interval under way are state: they travel in snapshots so that a
//! resumed run continues them exactly. A run of any length keeps one interval's sums in memory
//! and writes a bounded number of rows per interval.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use beanworld_sim::Simulation;
use beanworld_sim::action::Action;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_128_with_seed;

/// The running trajectory hash and the reward-rate windows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    /// Running hash of every step's actions, rewards, moves and observations.
    pub trajectory: u128,
    /// Steps in the reward-rate window.
    pub window: u64,
    /// Per agent id: the rewards of its last `window` steps (a ring), their sum, and how many
    /// steps it has taken part in.
    rates: BTreeMap<u32, Rate>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Rate {
    recent: Vec<f32>,
    sum: f64,
    steps: u64,
}

impl Record {
    /// A fresh record with a rate window of `window` steps.
    pub fn new(window: u64) -> Self {
        Record { trajectory: 0, window: window.max(1), rates: BTreeMap::new() }
    }

    /// Adds agent `id`'s reward of this step; returns its reward rate over the window.
    pub fn rate(&mut self, id: u32, reward: f32) -> f64 {
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

    /// Agent `id`'s reward rate over the window now (0 before its first step).
    pub fn current(&self, id: u32) -> f64 {
        self.rates.get(&id).map_or(0.0, |r| r.sum / r.steps.clamp(1, self.window) as f64)
    }

    /// Folds one step into the trajectory hash: the previous hash seeds XXH3-128 over the step
    /// number, every agent's action, reward and move, and every observation.
    #[allow(clippy::too_many_arguments)]
    pub fn hash_step(
        &mut self,
        bytes: &mut Vec<u8>,
        step: u64,
        actions: &[Action],
        rewards: &[f32],
        moved: &[bool],
        scent: &[f32],
        vision: &[f32],
    ) {
        bytes.clear();
        bytes.extend_from_slice(&self.trajectory.to_le_bytes());
        bytes.extend_from_slice(&step.to_le_bytes());
        for ((a, r), m) in actions.iter().zip(rewards).zip(moved) {
            bytes.extend_from_slice(&a.code().to_le_bytes());
            bytes.extend_from_slice(&r.to_bits().to_le_bytes());
            bytes.push(u8::from(*m));
        }
        for v in scent.iter().chain(vision) {
            bytes.extend_from_slice(&v.to_bits().to_le_bytes());
        }
        self.trajectory = xxh3_128_with_seed(bytes, 0x6265_616e_776f_726c);
    }
}

/// The sums of the metrics interval under way, per agent.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Interval {
    /// Steps in an interval: a row is written after every step that is a multiple of it.
    pub every: u64,
    agents: BTreeMap<u32, Tally>,
}

/// One agent's sums over the interval under way.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Tally {
    /// Steps it took part in.
    steps: u64,
    reward: f64,
    /// Items collected by type.
    collected: Vec<u64>,
    /// Its running totals of items collected by type after the last step (what it had
    /// collected before the interval is not counted in it).
    seen: Vec<u64>,
}

impl Interval {
    /// An empty interval of `every` steps (at least 1).
    pub fn new(every: u64) -> Self {
        Interval { every: every.max(1), agents: BTreeMap::new() }
    }

    /// Whether some agent has steps not yet written.
    fn pending(&self) -> bool {
        self.agents.values().any(|t| t.steps > 0)
    }
}

/// The columns of `metrics.csv` before the item types.
const COLUMNS: &str = "step,agent,steps,reward,reward_rate,window_rate";

/// `metrics.csv`: after every `every` steps (and at the end of a run), a row per agent that took
/// part in the interval and a row `all` over all of them, with the columns
/// `step,agent,steps,reward,reward_rate,window_rate,<collected by type>,steps_per_sec` — the
/// interval's last step, the agent's id, the steps it took in the interval, its reward summed
/// over them, that sum per step, its reward rate over the last `window` steps at the interval's
/// end, the items it collected in the interval by type, and (on the `all` row only) the steps
/// per second of wall-clock time the interval took. On the `all` row, `steps` counts agent-steps,
/// `reward_rate` is per agent-step and `window_rate` is the mean over the interval's agents.
pub struct Metrics {
    out: BufWriter<File>,
    row: String,
    bytes: Vec<u8>,
    kinds: usize,
    /// The hash and windows, to be saved in snapshots.
    pub record: Record,
    /// The interval under way, to be saved in snapshots.
    pub interval: Interval,
    /// When the interval under way started, and at which step (this process's part of it).
    since: (Instant, u64),
}

impl Metrics {
    /// Opens `path` for a run at the simulation's current step: a fresh run starts the file anew;
    /// a resumed one keeps the rows up to the snapshot's step and drops any later ones (streaming
    /// them through a temporary file, so a file of any length is fine).
    pub fn open(path: &Path, sim: &Simulation, record: Record, interval: Interval) -> std::io::Result<Self> {
        let mut header = String::from(COLUMNS);
        for t in &sim.config().items {
            header.push(',');
            header.push_str(&t.name);
        }
        header.push_str(",steps_per_sec");
        let partial = path.with_extension("csv.partial");
        let mut out = BufWriter::new(File::create(&partial)?);
        writeln!(out, "{header}")?;
        if sim.time() > 0
            && let Ok(f) = File::open(path)
        {
            let mut lines = BufReader::new(f).lines();
            // Rows of another layout (an older build's) are not kept.
            if lines.next().transpose()?.as_deref() == Some(header.as_str()) {
                for line in lines {
                    let line = line?;
                    let step: u64 = line.split(',').next().and_then(|s| s.parse().ok()).unwrap_or(u64::MAX);
                    if step <= sim.time() {
                        writeln!(out, "{line}")?;
                    }
                }
            }
        }
        out.flush()?;
        std::fs::rename(&partial, path)?;
        let kinds = sim.config().items.len();
        Ok(Metrics {
            out,
            row: String::new(),
            bytes: Vec::new(),
            kinds,
            record,
            interval,
            since: (Instant::now(), sim.time()),
        })
    }

    /// Records one step: the hash over `actions`, `rewards`, `moved` of agents `ids` and the
    /// observations after it, the agents' rates and sums; and, if the step ends an interval, its
    /// rows.
    #[allow(clippy::too_many_arguments)]
    pub fn step(
        &mut self,
        sim: &Simulation,
        ids: &[u32],
        actions: &[Action],
        rewards: &[f32],
        moved: &[bool],
        scent: &[f32],
        vision: &[f32],
    ) -> std::io::Result<()> {
        let step = sim.time();
        self.record.hash_step(&mut self.bytes, step, actions, rewards, moved, scent, vision);
        let agents = sim.agents();
        for (i, (&id, &reward)) in ids.iter().zip(rewards).enumerate() {
            self.record.rate(id, reward);
            let kinds = self.kinds;
            let tally = self.interval.agents.entry(id).or_insert_with(|| Tally {
                collected: vec![0; kinds],
                seen: vec![0; kinds],
                ..Tally::default()
            });
            tally.steps += 1;
            tally.reward += f64::from(reward);
            // The agents are usually in the order of `ids`; one removed by an event after the
            // step took its counts with it.
            let agent = agents.get(i).filter(|a| a.id == id).or_else(|| agents.iter().find(|a| a.id == id));
            if let Some(agent) = agent {
                for ((count, seen), &now) in
                    tally.collected.iter_mut().zip(&mut tally.seen).zip(&agent.collected)
                {
                    *count += now.saturating_sub(*seen);
                    *seen = now;
                }
            }
        }
        if step.is_multiple_of(self.interval.every) {
            self.write_rows(step)?;
        }
        Ok(())
    }

    /// Writes the interval under way as it stands (the rows of a run that ends between two
    /// multiples of `every`) and flushes the file; the next interval starts empty.
    pub fn finish(&mut self, sim: &Simulation) -> std::io::Result<()> {
        if self.interval.pending() {
            self.write_rows(sim.time())?;
        }
        self.flush()
    }

    /// Writes buffered rows to the file.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }

    /// Writes the rows of the interval ending at `step` and starts the next one.
    fn write_rows(&mut self, step: u64) -> std::io::Result<()> {
        use std::fmt::Write as _;
        let mut all = Tally { collected: vec![0; self.kinds], ..Tally::default() };
        let (mut window, mut agents) = (0.0, 0usize);
        // Agents gone from the interval are gone from the world: their entries go too.
        self.interval.agents.retain(|_, t| t.steps > 0);
        for (&id, tally) in &mut self.interval.agents {
            let rate = self.record.current(id);
            self.row.clear();
            let _ = write!(self.row, "{step},{id},");
            tally_columns(&mut self.row, tally, rate);
            writeln!(self.out, "{}", self.row)?;
            all.steps += tally.steps;
            all.reward += tally.reward;
            for (sum, count) in all.collected.iter_mut().zip(&tally.collected) {
                *sum += count;
            }
            window += rate;
            agents += 1;
            tally.steps = 0;
            tally.reward = 0.0;
            tally.collected.iter_mut().for_each(|c| *c = 0);
        }
        let (started, from) = self.since;
        let per_sec = step.saturating_sub(from) as f64 / started.elapsed().as_secs_f64().max(1e-9);
        self.row.clear();
        let _ = write!(self.row, "{step},all,");
        tally_columns(&mut self.row, &all, window / agents.max(1) as f64);
        let _ = write!(self.row, "{per_sec:.0}");
        writeln!(self.out, "{}", self.row)?;
        self.since = (Instant::now(), step);
        Ok(())
    }
}

/// The columns from `steps` to the items collected, and the comma before `steps_per_sec`.
fn tally_columns(row: &mut String, tally: &Tally, window_rate: f64) {
    use std::fmt::Write as _;
    let rate = tally.reward / tally.steps.max(1) as f64;
    let _ = write!(row, "{},{},{rate:.6},{window_rate:.6},", tally.steps, tally.reward);
    for c in &tally.collected {
        let _ = write!(row, "{c},");
    }
}
