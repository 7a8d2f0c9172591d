//! `beanworld suite report DIR…`: every life found in the folders of `suite run`, grouped by
//! track and learner, as a Markdown table (`report.md`: each figure's mean over the seeds, its
//! 95% bootstrap confidence interval and its interquartile mean) and a plot per track
//! (`TRACK.png`: the reward-rate curve's mean over the seeds with its 95% band per learner, the
//! task changes marked). The bootstrap draws from a fixed seed, so the same lives give the same
//! bytes. Where the lives' learners report the plasticity diagnostics (their `learner.jsonl`,
//! beside each result), it adds their dormant share and srank over the last tenth of each
//! life's updates, and a plot
//! of the dormant share over life (`TRACK-dormant.png`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};

use super::life::{Diagnostic, FORMAT, RESULT, Result as Life};
use crate::plot::{Band, plot_bands};

/// Arguments of `suite report`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Folders written by `suite run` (every result.json below them is read).
    #[arg(required = true)]
    pub(crate) dirs: Vec<PathBuf>,
    /// Where report.md and the plots go (default: the first folder).
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
}

/// Resamples of the bootstrap.
const RESAMPLES: usize = 2000;

/// Runs `suite report`; returns the report's path.
pub(crate) fn run(args: &Args) -> anyhow::Result<PathBuf> {
    let mut paths = Vec::new();
    for dir in &args.dirs {
        if !dir.is_dir() {
            bail!("{}: not a folder", dir.display());
        }
        find_results(dir, 0, &mut paths)?;
    }
    paths.sort();
    if paths.is_empty() {
        bail!(
            "no {RESULT} below {}: no life has finished there",
            args.dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    let mut lives = Vec::with_capacity(paths.len());
    for path in &paths {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let mut life: Life = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a life's result", path.display()))?;
        if life.format != FORMAT {
            bail!("{}: format {:?}, this build reads {FORMAT:?}", path.display(), life.format);
        }
        life.diagnostics = diagnostics(&path.with_file_name(crate::learner_log::FILE))?;
        lives.push(life);
    }
    let out = args.out.clone().unwrap_or_else(|| args.dirs[0].clone());
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let markdown = write(&lives, &out)?;
    let path = out.join("report.md");
    std::fs::write(&path, markdown).with_context(|| format!("cannot write {}", path.display()))?;
    println!("{} lives; {}", lives.len(), path.display());
    Ok(path)
}

/// Collects the `result.json` files below `dir` (a few levels: OUT/TRACK/LEARNER/LIFE).
fn find_results(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry.with_context(|| format!("cannot read {}", dir.display()))?.path();
        if path.is_dir() && depth < 4 {
            find_results(&path, depth + 1, out)?;
        } else if path.file_name().is_some_and(|n| n == RESULT) {
            out.push(path);
        }
    }
    Ok(())
}

/// The diagnostics in the learner log at `path`: none if there is no log (a baseline's life) or
/// no line has them; a line that is not JSON is refused with its place.
fn diagnostics(path: &Path) -> anyhow::Result<Vec<Diagnostic>> {
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut found = Vec::new();
    for (k, line) in text.lines().enumerate() {
        let value: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("{}, line {}: not a learner's line", path.display(), k + 1))?;
        let number = |key: &str| value.get(key).and_then(serde_json::Value::as_f64);
        if let (Some(step), Some(dormant), Some(srank)) =
            (value.get("step").and_then(serde_json::Value::as_u64), number("dormant_0.1"), number("srank"))
        {
            found.push(Diagnostic { step, dormant, srank });
        }
    }
    Ok(found)
}

/// Per life of `lives` with diagnostics in the range `chosen` of its own, the mean of `pick` over
/// those.
fn diagnosed(
    lives: &[&Life],
    chosen: impl Fn(&[Diagnostic]) -> std::ops::Range<usize>,
    pick: fn(&Diagnostic) -> f64,
) -> Vec<f64> {
    lives
        .iter()
        .map(|l| &l.diagnostics[chosen(&l.diagnostics)])
        .filter(|d| !d.is_empty())
        .map(|d| mean_of(&d.iter().map(pick).collect::<Vec<f64>>()))
        .collect()
}

/// The report's Markdown; the plots go into `out`.
fn write(lives: &[Life], out: &Path) -> anyhow::Result<String> {
    // Track (and length) → learner → lives, in name order; a learner keeps its colour throughout.
    let mut groups: BTreeMap<(String, bool), BTreeMap<String, Vec<&Life>>> = BTreeMap::new();
    for life in lives {
        groups
            .entry((life.track.clone(), life.smoke))
            .or_default()
            .entry(life.learner.clone())
            .or_default()
            .push(life);
    }
    let learners: Vec<&str> = {
        let mut l: Vec<&str> = lives.iter().map(|l| l.learner.as_str()).collect();
        l.sort_unstable();
        l.dedup();
        l
    };
    let colour = |name: &str| learners.iter().position(|l| *l == name).unwrap_or(0);
    let mut md = String::from("# beanworld suite report\n\n");
    let _ = writeln!(
        md,
        "{} lives. Each figure: the mean over seeds [95% bootstrap confidence interval] and the \
         interquartile mean (IQM). Rates are rewards per agent and step; docs/src/suite.md defines each figure.\n",
        lives.len()
    );
    for ((track, smoke), by_learner) in &groups {
        let first = by_learner.values().next().and_then(|l| l.first()).context("a group without lives")?;
        for lives in by_learner.values() {
            if let Some(other) = lives.iter().find(|l| l.lengths != first.lengths || l.tasks != first.tasks) {
                bail!(
                    "track \"{track}\": lives of version {} and {} (or of other lengths or tasks) cannot be compared",
                    first.version,
                    other.version
                );
            }
        }
        let l = &first.lengths;
        let name = if *smoke { format!("{track}-smoke") } else { track.clone() };
        let _ = writeln!(
            md,
            "## {name}\n\nVersion {}, {} steps per life; every {} steps a frozen copy is scored for {} steps on {} task(s) in {} held-out world(s); window {} steps.\n",
            first.version,
            l.steps,
            l.eval_every,
            l.eval_steps,
            first.tasks.len(),
            first.held_out.len(),
            l.window
        );
        md.push_str("| learner | seeds | lifetime | final | frozen score | forgetting | recovery (steps) | plasticity loss | forward transfer |\n");
        md.push_str("|---|---|---|---|---|---|---|---|---|\n");
        for (learner, lives) in by_learner {
            let per =
                |f: &dyn Fn(&Life) -> Option<f64>| lives.iter().filter_map(|l| f(l)).collect::<Vec<f64>>();
            let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
            let cells = [
                cell(&per(&|l| Some(l.lifetime)), 4),
                cell(&per(&|l| Some(l.last)), 4),
                cell(&per(&|l| l.evals.last().and_then(|(_, s)| mean(s))), 4),
                cell(&per(&|l| mean(&l.forgetting)), 4),
                cell(&per(&|l| mean(&l.recovery.iter().flatten().map(|&r| r as f64).collect::<Vec<_>>())), 0),
                cell(&per(&|l| l.plasticity_loss), 4),
                cell(&per(&|l| mean(&l.forward_transfer.iter().map(|&(_, f)| f).collect::<Vec<_>>())), 4),
            ];
            let _ = writeln!(md, "| `{learner}` | {} | {} |", lives.len(), cells.join(" | "));
        }
        md.push_str("\nFrozen scores at the last evaluation, per task:\n\n| learner |");
        for task in &first.tasks {
            let _ = write!(md, " {task} |");
        }
        md.push_str("\n|---|");
        md.push_str(&"---|".repeat(first.tasks.len()));
        md.push('\n');
        for (learner, lives) in by_learner {
            let _ = write!(md, "| `{learner}` |");
            for j in 0..first.tasks.len() {
                let v: Vec<f64> = lives.iter().filter_map(|l| l.evals.last().map(|(_, s)| s[j])).collect();
                let _ = write!(md, " {} |", cell(&v, 4));
            }
            md.push('\n');
        }
        let bands: Vec<Band> = by_learner
            .iter()
            .map(|(learner, lives)| Band {
                name: learner.clone(),
                colour: colour(learner),
                points: (0..first.curve.len())
                    .map(|k| {
                        let v: Vec<f64> = lives.iter().filter_map(|l| l.curve.get(k).map(|p| p.1)).collect();
                        let (lo, hi) = bootstrap(&v, 500);
                        (first.curve[k].0 as f64, mean_of(&v), lo, hi)
                    })
                    .collect(),
            })
            .collect();
        let png = format!("{name}.png");
        let markers: Vec<f64> = if first.switches.len() <= 100 {
            first.switches.iter().map(|&s| s as f64).collect()
        } else {
            Vec::new()
        };
        plot_bands(
            &format!("{name}: reward rate over the last {} steps (mean, 95% CI)", l.window),
            ("step", "reward per step"),
            &bands,
            &markers,
            &out.join(&png),
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let _ = writeln!(md, "\n![{name}]({png})\n");
        write_diagnostics(&mut md, (&name, first), by_learner, &colour, out)?;
    }
    Ok(md)
}

/// The plasticity diagnostics of a track's learners that report them, if any do: their dormant
/// share and srank over the last tenth of each life's updates, and the dormant share over life, averaged
/// on the reward curve's steps, in `NAME-dormant.png`.
fn write_diagnostics(
    md: &mut String,
    (name, first): (&str, &Life),
    by_learner: &BTreeMap<String, Vec<&Life>>,
    colour: &dyn Fn(&str) -> usize,
    out: &Path,
) -> anyhow::Result<()> {
    let reporting: Vec<(&String, &Vec<&Life>)> =
        by_learner.iter().filter(|(_, lives)| lives.iter().any(|l| !l.diagnostics.is_empty())).collect();
    if reporting.is_empty() {
        return Ok(());
    }
    md.push_str(
        "Plasticity diagnostics over the last tenth of each life's updates (learners that report them): \
         the share of dormant units (τ = 0.1) and the effective rank of the features (srank):\n\n\
         | learner | dormant (τ = 0.1) | srank |\n|---|---|---|\n",
    );
    // The last tenth of a life's updates, at least its last.
    let end = |d: &[Diagnostic]| d.len() - (d.len() / 10).max(1).min(d.len())..d.len();
    for (learner, lives) in &reporting {
        let dormant = diagnosed(lives, end, |d| d.dormant);
        let srank = diagnosed(lives, end, |d| d.srank);
        let _ = writeln!(md, "| `{learner}` | {} | {} |", cell(&dormant, 4), cell(&srank, 1));
    }
    let bands: Vec<Band> = reporting
        .iter()
        .map(|(learner, lives)| Band {
            name: (*learner).clone(),
            colour: colour(learner),
            points: first
                .curve
                .iter()
                .scan(0, |from, &(step, _)| {
                    // The updates after the curve's previous point, up to this one (a log is in
                    // step order).
                    let span = (*from, step);
                    *from = step;
                    let within = move |d: &[Diagnostic]| {
                        d.partition_point(|x| x.step <= span.0)..d.partition_point(|x| x.step <= span.1)
                    };
                    Some((step, diagnosed(lives, within, |d| d.dormant)))
                })
                .filter(|(_, v)| !v.is_empty())
                .map(|(step, v)| {
                    let (lo, hi) = bootstrap(&v, 500);
                    (step as f64, mean_of(&v), lo, hi)
                })
                .collect(),
        })
        .collect();
    let png = format!("{name}-dormant.png");
    plot_bands(
        &format!("{name}: share of dormant units (τ = 0.1), mean over seeds, 95% CI"),
        ("step", "dormant share"),
        &bands,
        &[],
        &out.join(&png),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let _ = writeln!(md, "\n![{name}: dormant units]({png})\n");
    Ok(())
}

fn mean_of(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// `mean [low, high] · IQM x` with `decimals`, or a dash without values.
fn cell(v: &[f64], decimals: usize) -> String {
    if v.is_empty() {
        return "—".into();
    }
    let (lo, hi) = bootstrap(v, RESAMPLES);
    format!("{:.decimals$} [{lo:.decimals$}, {hi:.decimals$}] · IQM {:.decimals$}", mean_of(v), iqm(v))
}

/// The 95% percentile-bootstrap interval of the mean of `v`, from `resamples` resamples drawn
/// from a fixed seed.
fn bootstrap(v: &[f64], resamples: usize) -> (f64, f64) {
    if v.len() < 2 {
        let m = mean_of(v);
        return (m, m);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_5eed);
    let n = v.len() as u64;
    let mut means: Vec<f64> = (0..resamples)
        .map(|_| {
            (0..n).map(|_| v[((u128::from(rng.next_u64()) * u128::from(n)) >> 64) as usize]).sum::<f64>()
                / n as f64
        })
        .collect();
    means.sort_by(f64::total_cmp);
    let at = |q: f64| means[((q * (resamples - 1) as f64).round() as usize).min(resamples - 1)];
    (at(0.025), at(0.975))
}

/// The interquartile mean: the mean of the middle half of the sorted values (each value at the
/// quartiles counted by the share of it inside), as `rliable` computes it.
fn iqm(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len() as f64;
    let (lo, hi) = (n * 0.25, n * 0.75);
    let mut sum = 0.0;
    for (i, x) in s.iter().enumerate() {
        // The part of [i, i+1) inside [lo, hi).
        let inside = ((i + 1) as f64).min(hi) - (i as f64).max(lo);
        if inside > 0.0 {
            sum += x * inside;
        }
    }
    sum / (hi - lo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interquartile_mean_drops_the_outer_quarters() {
        assert!((iqm(&[1.0, 2.0, 3.0, 4.0]) - 2.5).abs() < 1e-12);
        assert!((iqm(&[0.0, 1.0, 1.0, 100.0]) - 1.0).abs() < 1e-12);
        // Five values: the middle half is 1.25 values' worth of the 2nd … 4th.
        assert!((iqm(&[0.0, 1.0, 2.0, 3.0, 10.0]) - 2.0).abs() < 1e-12);
        assert!((iqm(&[7.0]) - 7.0).abs() < 1e-12);
    }

    #[test]
    fn the_bootstrap_interval_holds_the_mean_and_repeats() {
        let v = [0.1, 0.2, 0.15, 0.3, 0.25];
        let (lo, hi) = bootstrap(&v, 2000);
        assert!(lo < 0.2 && 0.2 < hi && lo >= 0.1 && hi <= 0.3, "{lo} {hi}");
        assert_eq!(bootstrap(&v, 2000), (lo, hi));
        assert_eq!(bootstrap(&[0.5], 2000), (0.5, 0.5));
    }
}
