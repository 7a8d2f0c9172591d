//! `beanworld suite`: the never-ending-learning benchmark. A track (`scenarios/suite/*.ron`,
//! `track.rs`) is a life for a learner, the tasks it is scored on and the held-out worlds it is
//! scored in; `suite run` lives it once per seed (`life.rs`), a frozen copy of the learner scored
//! every `eval_every` steps; `suite report` puts the lives of one or more runs side by side
//! (`report.rs`). docs/src/suite.md defines every figure.

mod life;
mod report;
mod track;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use anyhow::bail;
use beanworld_agents::Driver;

use self::life::{Ended, Life};
use self::track::Track;

/// Arguments of `suite`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// The shipped tracks (scenarios/suite), a line each: what each probes.
    List,
    /// Live a learner's life on each track for each seed, scoring a frozen copy of it on the
    /// track's tasks in held-out worlds as it goes; a killed run goes on where it stopped.
    Run(RunArgs),
    /// A Markdown table and plots of the lives in one or more `suite run` folders.
    Report(report::Args),
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// Tracks: names of shipped tracks (`suite list`) or track files.
    #[arg(required = true)]
    tracks: Vec<String>,
    /// The learner (or baseline) that lives, as `run --agent` takes it: "ppo(log_scent: true)".
    /// Given more than once, every learner lives every track, all their lives sharing the jobs.
    #[arg(long, value_name = "NAME", required = true)]
    learner: Vec<String>,
    /// Lives per track and learner, seeds 0 … N−1.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=1000))]
    seeds: u64,
    /// Lives lived at once.
    #[arg(long, value_name = "J", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
    jobs: u64,
    /// The tracks' smoke lengths (a quick check) instead of their full ones.
    #[arg(long)]
    smoke: bool,
    /// The folder of the results: OUT/TRACK/LEARNER/seed-N (smoke-seed-N with --smoke).
    #[arg(long, default_value = "suite-out")]
    out: PathBuf,
}

/// Runs `suite`.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::List => list(),
        Command::Run(args) => {
            let stop = Arc::new(AtomicBool::new(false));
            crate::run::stop_on_ctrl_c(&stop);
            let lives =
                run_with(&args.tracks, &args.learner, args.seeds, args.jobs, args.smoke, &args.out, &stop)?;
            if stop.load(Ordering::SeqCst) {
                eprintln!("interrupted: the same command goes on from where each life stopped");
                std::process::exit(130);
            }
            println!(
                "{lives} lives in {}; `beanworld suite report {}` compares them",
                args.out.display(),
                args.out.display()
            );
            Ok(())
        }
        Command::Report(args) => report::run(&args).map(|_| ()),
    }
}

/// `suite report DIRS… [--out OUT]`: writes the report and its plots, returns the report's path.
pub fn report(dirs: &[PathBuf], out: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    report::run(&report::Args { dirs: dirs.to_vec(), out })
}

fn list() -> anyhow::Result<()> {
    let names = track::shipped_names().map_err(|e| {
        anyhow::anyhow!("cannot read {} (run from the repository's root): {e}", track::SHIPPED)
    })?;
    let width = names.iter().map(String::len).max().unwrap_or(0);
    for name in &names {
        let t = Track::load(&std::path::Path::new(track::SHIPPED).join(format!("{name}.ron")))?;
        println!(
            "{:<width$}  v{}  {} task(s), {} steps ({} smoke)  {}",
            t.name,
            t.version,
            t.tasks.len(),
            t.full.steps,
            t.smoke.steps,
            t.probes
        );
    }
    Ok(())
}

/// `suite run`: lives each of `learners` (names [`crate::agents`] makes, registered ones
/// included) on each of `tracks` (names of shipped tracks or track files) for seeds
/// `0..seeds`, `jobs` lives at a time, into `out/TRACK/LEARNER/seed-N`, until done or until
/// `stop` is raised (each life then keeps a snapshot to go on from). Returns the number of
/// lives.
pub fn run_with(
    tracks: &[String],
    learners: &[String],
    seeds: u64,
    jobs: u64,
    smoke: bool,
    out: &std::path::Path,
    stop: &AtomicBool,
) -> anyhow::Result<usize> {
    let tracks: Vec<Track> = tracks.iter().map(|t| track::find(t)).collect::<anyhow::Result<_>>()?;
    let mut folders: Vec<(&str, String)> = Vec::with_capacity(learners.len());
    for learner in learners {
        for t in &tracks {
            match crate::agents::make(learner, &t.scenario.config, 1, 0) {
                Ok(Driver::Agent(_)) => {}
                Ok(Driver::Team(team)) => bail!(
                    "{} is a team: its members learn as one, and the suite scores a frozen copy of an agent; name a learner",
                    team.name()
                ),
                Err(e) => bail!("track \"{}\": {e}", t.name),
            }
        }
        let folder: String = learner
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' })
            .collect();
        if let Some((other, _)) = folders.iter().find(|(_, f)| *f == folder) {
            bail!(
                "\"{learner}\" and \"{other}\" would live in the same folder ({folder}): name each learner once"
            );
        }
        folders.push((learner, folder));
    }
    let lives: Vec<Life<'_>> = folders
        .iter()
        .flat_map(|(learner, folder)| {
            tracks.iter().flat_map(move |t| {
                (0..seeds).map(move |seed| Life {
                    track: t,
                    learner,
                    seed,
                    smoke,
                    dir: out
                        .join(&t.name)
                        .join(folder)
                        .join(format!("{}seed-{seed}", if smoke { "smoke-" } else { "" })),
                })
            })
        })
        .collect();
    // Lives side by side share the threads that sample new patches (the machine's, or as set);
    // only the speed depends on it.
    let jobs = jobs.min(lives.len() as u64).max(1);
    let _shared = GenerationThreads::divided(jobs as usize);
    let next = AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    let interrupted = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                while !stop.load(Ordering::SeqCst) {
                    let Some(life) = lives.get(next.fetch_add(1, Ordering::SeqCst)) else { break };
                    eprintln!("{} seed {}: living ({})", life.track.name, life.seed, life.dir.display());
                    match life::live(life, stop) {
                        Ok(Ended::Done) => {
                            eprintln!("{} seed {}: done ({})", life.track.name, life.seed, life.learner)
                        }
                        Ok(Ended::Interrupted) => interrupted.store(true, Ordering::SeqCst),
                        Err(e) => {
                            // The other lives stop too, keeping what they did.
                            stop.store(true, Ordering::SeqCst);
                            let mut failures = failures.lock().unwrap_or_else(|p| p.into_inner());
                            failures.push(format!(
                                "{} seed {} ({}): {e:#}",
                                life.track.name, life.seed, life.learner
                            ));
                        }
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap_or_else(|p| p.into_inner());
    if !failures.is_empty() {
        bail!("{}", failures.join("\n"));
    }
    if interrupted.load(Ordering::SeqCst) {
        stop.store(true, Ordering::SeqCst);
    }
    Ok(lives.len())
}

/// The threads new patches are sampled on, divided among `jobs` lives for as long as it lives,
/// then as they were (also when a life panics).
struct GenerationThreads(usize);

impl GenerationThreads {
    fn divided(jobs: usize) -> Self {
        let threads = beanworld_sim::default_generation_threads();
        beanworld_sim::set_default_generation_threads((threads / jobs.max(1)).max(1));
        GenerationThreads(threads)
    }
}

impl Drop for GenerationThreads {
    fn drop(&mut self) {
        beanworld_sim::set_default_generation_threads(self.0);
    }
}
