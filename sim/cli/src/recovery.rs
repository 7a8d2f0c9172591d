//! `beanworld recovery DIR [DIR...]`: how fast a learner recovers after each switch of its reward
//! schedule — the never-ending-learning measure of a cyclical run. For each phase — the first,
//! learnt from scratch, then one per switch in `switches.csv` — it reads the mean reward per
//! agent and step from `metrics.csv` and reports (to the resolution of its rows: exact for a
//! run written with `--metrics per-step`, else taking each interval's reward as spread evenly
//! over its steps):
//!
//! - `early`: the reward rate over the first `--early` steps of the phase;
//! - `final`: the rate over the second half of the phase (a learner's rate swings; half a phase
//!   is a steadier measure of where it got to than its last few thousand steps);
//! - `recovery`: steps into the phase until the trailing `--window`-step rate first reaches
//!   half of `final` (empty when `final` is not above 0: nothing to recover to).
//!
//! A learner that keeps learning recovers faster in later cycles: `recovery` falls and `early`
//! rises from one phase of a reward to the next phase of the same reward. The table goes to
//! stdout and `recovery.csv`, and `recovery.png` plots `early` cycle by cycle for every run
//! given, a line for each phase of the cycle (`--cycle` phases to a cycle: 2 for a schedule that
//! switches between two rewards). `early` is the steadier measure: `recovery` is undefined for a
//! phase that never gets above 0.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::plot::{Line, MetricsFile};

/// Arguments of `recovery`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Run folders (each with metrics.csv and switches.csv).
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// Steps in the trailing window of the rates.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..))]
    window: u64,
    /// Steps at the start of a phase that `early` averages over.
    #[arg(long, default_value_t = 20000, value_parser = clap::value_parser!(u64).range(1..))]
    early: u64,
    /// Phases to a cycle of the schedule (the plot draws each phase of the cycle as a line).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    cycle: u64,
    /// The plot (default: recovery.png in the first run's folder).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// One phase's figures.
pub(crate) struct Row {
    /// Its first step.
    pub(crate) start: u64,
    pub(crate) early: f64,
    pub(crate) last: f64,
    pub(crate) recovery: Option<u64>,
}

/// A run's reward per agent, accumulated: at the end of each interval of `metrics.csv`, the
/// mean reward per agent summed over every step so far. Between two interval ends it grows
/// evenly (exact for a row per step).
pub(crate) struct Cumulative {
    /// The interval ends, rising.
    ends: Vec<u64>,
    /// The sum at each end.
    sums: Vec<f64>,
}

impl Cumulative {
    /// Built from the mean reward per agent at each of the steps `1..=r.len()`.
    #[cfg(test)]
    fn per_step(r: &[f64]) -> Self {
        let ends = (1..=r.len() as u64).collect();
        let sums = r
            .iter()
            .scan(0.0, |acc, x| {
                *acc += x;
                Some(*acc)
            })
            .collect();
        Cumulative { ends, sums }
    }

    /// The last step.
    pub(crate) fn len(&self) -> u64 {
        self.ends.last().copied().unwrap_or(0)
    }

    /// The sum over steps `1..=t` (`t` clamped to the run).
    pub(crate) fn at(&self, t: u64) -> f64 {
        let i = self.ends.partition_point(|&e| e < t);
        let Some(&end) = self.ends.get(i) else { return self.sums.last().copied().unwrap_or(0.0) };
        let (from, base) = if i == 0 { (0, 0.0) } else { (self.ends[i - 1], self.sums[i - 1]) };
        base + (self.sums[i] - base) * (t - from) as f64 / (end - from).max(1) as f64
    }
}

/// The `all` rows of a run's `metrics.csv`, accumulated.
pub(crate) fn rewards(dir: &Path) -> anyhow::Result<Cumulative> {
    rewards_since(dir, 0)
}

/// The `all` rows of the `metrics.csv` of a run that started at step `start` (resumed into a
/// folder of its own), accumulated from 0 there.
pub(crate) fn rewards_since(dir: &Path, start: u64) -> anyhow::Result<Cumulative> {
    let (mut ends, mut sums, mut total) = (Vec::new(), Vec::new(), 0.0);
    if start > 0 {
        ends.push(start);
        sums.push(0.0);
    }
    let mut last = start;
    for row in MetricsFile::open(dir)? {
        let row = row?;
        if row.agent.is_some() || row.step <= last {
            continue;
        }
        // Mean reward per agent-step, times the steps of the interval.
        total += row.reward / row.steps.max(1) as f64 * (row.step - last) as f64;
        ends.push(row.step);
        sums.push(total);
        last = row.step;
    }
    Ok(Cumulative { ends, sums })
}

pub(crate) fn switches(dir: &Path) -> anyhow::Result<Vec<u64>> {
    let path = dir.join("switches.csv");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(text.lines().skip(1).filter_map(|l| l.trim().parse().ok()).collect())
}

/// The figures of every phase of a run whose accumulated rewards are `r`; phase `k` runs from
/// `starts[k]` to the step before `starts[k + 1]`.
pub(crate) fn measure(r: &Cumulative, starts: &[u64], window: u64, early: u64) -> Vec<Row> {
    // Mean reward over steps `from..=to` (1-based, clamped to the run).
    let mean = |from: u64, to: u64| -> f64 {
        let to = to.min(r.len());
        if to < from {
            return 0.0;
        }
        (r.at(to) - r.at(from - 1)) / (to - from + 1) as f64
    };
    let mut rows = Vec::new();
    for (k, &s) in starts.iter().enumerate() {
        let end = starts.get(k + 1).map_or(r.len(), |n| n - 1);
        // (The last phase, cut short by the end of the run before `early` steps, says nothing.)
        let cut = k + 1 == starts.len() && k > 0 && end + 1 < s + early;
        if s > end || s == 0 || cut {
            continue;
        }
        let last = mean(s + (end - s).div_ceil(2), end);
        let recovery = (last > 0.0)
            .then(|| {
                (s..=end).find(|&t| {
                    t + 1 >= s + window.min(end - s + 1)
                        && mean((t + 1).saturating_sub(window).max(s), t) >= last / 2.0
                })
            })
            .flatten()
            .map(|t| t + 1 - s);
        rows.push(Row { start: s, early: mean(s, s + early - 1), last, recovery });
    }
    rows
}

/// Runs `recovery`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let mut all = Vec::new();
    let mut out = std::io::stdout();
    for dir in &args.dirs {
        // The first phase, learnt from scratch, is phase 0; then one per switch.
        let starts: Vec<u64> = std::iter::once(1).chain(switches(dir)?).collect();
        let rows = measure(&rewards(dir)?, &starts, args.window, args.early);
        let mut csv = String::from("phase,step,early,final,recovery\n");
        let _ = writeln!(out, "{}\n   phase      step     early     final  recovery", dir.display());
        for (k, row) in rows.iter().enumerate() {
            let recovery = row.recovery.map_or(String::new(), |t| t.to_string());
            csv.push_str(&format!("{k},{},{:.6},{:.6},{recovery}\n", row.start, row.early, row.last));
            let _ = writeln!(
                out,
                "  {:>6} {:>9} {:>9.4} {:>9.4} {:>9}",
                k,
                row.start,
                row.early,
                row.last,
                if recovery.is_empty() { "-" } else { &recovery }
            );
        }
        let path = dir.join("recovery.csv");
        std::fs::write(&path, csv).with_context(|| format!("cannot write {}", path.display()))?;
        all.push((dir.display().to_string(), rows));
    }
    let out = args.out.unwrap_or_else(|| args.dirs[0].join("recovery.png"));
    let cycle = args.cycle as usize;
    // A colour per run; the phases of a cycle alternate solid and dashed.
    let lines: Vec<Line> = all
        .iter()
        .enumerate()
        .flat_map(|(run, (name, rows))| {
            (0..cycle).map(move |j| Line {
                name: if cycle > 1 { format!("{name}, phase {j} of each cycle") } else { name.clone() },
                points: rows
                    .iter()
                    .enumerate()
                    .skip(j)
                    .step_by(cycle)
                    .map(|(k, r)| ((k / cycle) as f64, r.early))
                    .collect(),
                colour: run,
                dashed: j % 2 == 1,
            })
        })
        .collect();
    crate::plot::plot_points(
        &format!("reward rate over the first {} steps of each phase, cycle by cycle", args.early),
        ("cycle", "reward per step"),
        &lines,
        &out,
    )?;
    let _ = writeln!(std::io::stdout(), "{}", out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_is_the_time_to_half_the_final_rate() {
        // 10 steps before the switch; after it (step 11) reward 0 for 4 steps, then 1 each step:
        // the phase's second half (steps 21–30) earns 1 a step.
        let mut r = vec![1.0; 10];
        r.extend([0.0; 4]);
        r.extend([1.0; 16]);
        let rows = measure(&Cumulative::per_step(&r), &[11], 4, 4);
        assert_eq!(rows.len(), 1);
        assert!((rows[0].last - 1.0).abs() < 1e-12);
        assert!(rows[0].early.abs() < 1e-12, "the first four steps earned nothing");
        // Trailing 4-step means after the switch: steps 15 and 16 give 1/4 and 2/4 ≥ 1/2.
        assert_eq!(rows[0].recovery, Some(6));
    }

    #[test]
    fn intervals_spread_their_reward_evenly() {
        // Two intervals of 10 steps: 5 then 10 in all.
        let r = Cumulative { ends: vec![10, 20], sums: vec![5.0, 15.0] };
        assert_eq!((r.at(0), r.at(4), r.at(10), r.at(15), r.at(25)), (0.0, 2.0, 5.0, 10.0, 15.0));
        let rows = measure(&r, &[1, 11], 2, 4);
        assert_eq!(rows.len(), 2);
        assert!((rows[0].early - 0.5).abs() < 1e-12 && (rows[1].early - 1.0).abs() < 1e-12);
    }
}
