//! `beanworld bound`: the reward upper bound of spec §10.3 — the best rate of collecting one item
//! type that an agent which must keep moving upward could reach, solved exactly on boxes of
//! worlds with seeds `seed`, `seed + 1`, …, and averaged.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use beanworld_baselines::upper_bound;
use beanworld_sim::Simulation;
use serde::Serialize;

use crate::scenario_arg;

/// Arguments of `bound`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The scenario file (RON); the embedded JBW classic scenario when absent.
    scenario: Option<PathBuf>,
    /// The item type to collect.
    #[arg(long, default_value = "jellybean")]
    item: String,
    /// Boxes (worlds) to solve.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    maps: u64,
    /// Seed of the first world.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The box is [0, SIDE] × [0, SIDE] (JBW: 32).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(i64).range(2..=400))]
    side: i64,
    /// Partial plans examined per round before a box is given up (and reported as unsolved).
    #[arg(long, default_value_t = 50_000_000)]
    node_limit: u64,
    /// Threads solving boxes.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=256))]
    threads: u64,
    /// Print JSON lines (one per box, then the summary) instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Line {
    seed: u64,
    solved: bool,
    open: Option<bool>,
    rate: Option<f64>,
    beans_in_box: Option<usize>,
    beans: Option<usize>,
    cost: Option<u32>,
    nodes: Option<u64>,
    seconds: f64,
}

#[derive(Serialize)]
struct Summary {
    scenario: String,
    item: String,
    solved: u64,
    unsolved: u64,
    blocked: u64,
    mean_rate: f64,
    standard_error: f64,
}

/// Runs `bound`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let scenario = scenario_arg::load(args.scenario.as_deref())?;
    let bean = scenario
        .config
        .items
        .iter()
        .position(|t| t.name == args.item)
        .with_context(|| format!("the scenario has no item type \"{}\"", args.item))?;
    let mut out = std::io::stdout();
    let seeds: Vec<u64> = (args.seed..args.seed + args.maps).collect();
    let threads = (args.threads as usize).min(seeds.len()).max(1);
    let solve = |seed: u64| -> anyhow::Result<(Option<upper_bound::Plan>, f64)> {
        let mut s = scenario.clone();
        s.seed = seed;
        s.agents.clear();
        let mut sim = Simulation::new(s)?;
        let started = Instant::now();
        let plan = upper_bound::solve(&mut sim, bean, args.side, args.node_limit);
        Ok((plan, started.elapsed().as_secs_f64()))
    };
    let (mut rates, mut unsolved, mut blocked) = (Vec::new(), 0u64, 0u64);
    let mut report =
        |seed: u64, result: anyhow::Result<(Option<upper_bound::Plan>, f64)>| -> anyhow::Result<()> {
            let (plan, seconds) = result?;
            match &plan {
                Some(p) if p.open => rates.push(p.rate),
                Some(_) => blocked += 1,
                None => unsolved += 1,
            }
            print_line(&mut out, &args, seed, plan.as_ref(), seconds)
        };
    in_order(&seeds, threads, &solve, &mut report)?;
    anyhow::ensure!(!rates.is_empty(), "no box was solved: raise --node-limit, or try other seeds");
    let n = rates.len() as f64;
    let mean = rates.iter().sum::<f64>() / n.max(1.0);
    let var = rates.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    let se = (var / n.max(1.0)).sqrt();
    let summary = Summary {
        scenario: scenario.name.clone(),
        item: args.item.clone(),
        solved: rates.len() as u64,
        unsolved,
        blocked,
        mean_rate: mean,
        standard_error: se,
    };
    if args.json {
        writeln!(out, "{}", serde_json::to_string(&summary)?)?;
    } else {
        writeln!(
            out,
            "{}: best {} rate {mean:.4} ± {se:.4} (standard error) over {} boxes{}",
            summary.scenario,
            summary.item,
            summary.solved,
            [(unsolved, "not solved"), (blocked, "blocked")]
                .iter()
                .filter(|(n, _)| *n > 0)
                .map(|(n, what)| format!("; {n} {what} (left out of the mean)"))
                .collect::<String>()
        )?;
    }
    Ok(())
}

/// Solves every seed of `seeds` on `threads` threads, each taking the next seed as it finishes
/// one (boxes take from a fraction of a second to a minute), and hands the results to `report`
/// in seed order as soon as all seeds before them are done.
fn in_order<T: Send>(
    seeds: &[u64],
    threads: usize,
    solve: &(dyn Fn(u64) -> T + Sync),
    report: &mut dyn FnMut(u64, T) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let (tx, rx) = std::sync::mpsc::channel();
        for _ in 0..threads {
            let (tx, next) = (tx.clone(), &next);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&seed) = seeds.get(i) else { break };
                    if tx.send((i, solve(seed))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut waiting = std::collections::BTreeMap::new();
        let mut due = 0;
        for (i, result) in rx {
            waiting.insert(i, result);
            while let Some(result) = waiting.remove(&due) {
                report(seeds[due], result)?;
                due += 1;
            }
        }
        anyhow::ensure!(due == seeds.len(), "a solver thread panicked");
        Ok(())
    })
}

/// Prints what one box gave: a JSON line with `--json`, else a sentence.
fn print_line(
    out: &mut impl Write,
    args: &Args,
    seed: u64,
    plan: Option<&upper_bound::Plan>,
    seconds: f64,
) -> anyhow::Result<()> {
    if args.json {
        let line = Line {
            seed,
            solved: plan.is_some(),
            open: plan.map(|p| p.open),
            rate: plan.map(|p| p.rate),
            beans_in_box: plan.map(|p| p.beans_in_box),
            beans: plan.map(|p| p.beans),
            cost: plan.map(|p| p.cost),
            nodes: plan.map(|p| p.nodes),
            seconds,
        };
        writeln!(out, "{}", serde_json::to_string(&line)?)?;
    } else {
        match plan {
            Some(p) if p.open => writeln!(
                out,
                "seed {seed}: rate {:.4} ({} of {} beans, cost {}; {} plans examined, {seconds:.2} s)",
                p.rate, p.beans, p.beans_in_box, p.cost, p.nodes
            )?,
            Some(_) => writeln!(out, "seed {seed}: the top row cannot be reached from the start")?,
            None => writeln!(out, "seed {seed}: not solved within {} plans per round", args.node_limit)?,
        }
    }
    Ok(())
}
