//! What every run records: per step and agent the reward, the reward rate over a moving window
//! (JBW's metric, spec §10.6) and the items collected by type, written as `metrics.csv`; and a
//! running hash of the whole trajectory — every action, reward, move and observation — that two
//! runs share only if they are identical to the bit. The hash and the rate windows are state:
//! they travel in snapshots so that a resumed run continues them exactly.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

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

/// `metrics.csv`, written a row per step and agent: `step,agent,reward,reward_rate,<collected
/// by type>`.
pub struct Metrics {
    out: BufWriter<File>,
    row: String,
    bytes: Vec<u8>,
    /// The hash and windows, to be saved in snapshots.
    pub record: Record,
}

impl Metrics {
    /// Opens `path` for a run at the simulation's current step: a fresh run starts the file anew;
    /// a resumed one keeps the rows up to the snapshot's step and drops any later ones.
    pub fn open(path: &Path, sim: &Simulation, record: Record) -> std::io::Result<Self> {
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
        let mut out = BufWriter::new(File::create(path)?);
        writeln!(out, "{header}")?;
        for line in kept {
            writeln!(out, "{line}")?;
        }
        Ok(Metrics { out, row: String::new(), bytes: Vec::new(), record })
    }

    /// Records one step: the hash over `actions`, `rewards`, `moved` of agents `ids` and the
    /// observations after it, and a row per agent.
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
        use std::fmt::Write as _;
        let step = sim.time();
        self.record.hash_step(&mut self.bytes, step, actions, rewards, moved, scent, vision);
        let kinds = sim.config().items.len();
        for (&id, &reward) in ids.iter().zip(rewards) {
            let rate = self.record.rate(id, reward);
            self.row.clear();
            let _ = write!(self.row, "{step},{id},{reward},{rate:.6}");
            match sim.agents().iter().find(|a| a.id == id) {
                Some(agent) => agent.collected.iter().for_each(|c| {
                    let _ = write!(self.row, ",{c}");
                }),
                // Removed by an event after the step: its counts left with it.
                None => (0..kinds).for_each(|_| self.row.push(',')),
            }
            writeln!(self.out, "{}", self.row)?;
        }
        Ok(())
    }

    /// Writes buffered rows to the file.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}
