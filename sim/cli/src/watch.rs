//! `beanworld watch`: a run as `beanworld run` makes it (same options, same outputs, same
//! trajectory), shown live in a window. The run goes on its own thread and publishes what there
//! is to see after its steps ([`beanworld_viewer::Publisher`]); the window (bevy, on the main
//! thread) draws the newest view. Closing the window or Ctrl-C ends the run as Ctrl-C ends
//! `run`: metrics, a snapshot and the summary are saved.

use std::path::PathBuf;
#[cfg(feature = "window")]
use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

#[cfg(feature = "window")]
use beanworld_viewer::{Feed, Publisher, WatchOptions};

use crate::run;

/// Arguments of `watch`.
#[derive(clap::Args, Debug)]
#[group(id = "watch")]
pub struct Args {
    #[command(flatten)]
    run: run::Args,
    /// Window size in pixels.
    #[arg(long, value_name = "WxH", default_value = "1280x720", value_parser = crate::record::parse_size)]
    size: (u32, u32),
    /// Pixels per cell to start with (zoom with the wheel or + and −).
    #[arg(long, default_value_t = 16.0)]
    pixels_per_cell: f32,
    /// Follow this agent (by id) from the start; the first agent when absent.
    #[arg(long, value_name = "ID")]
    follow: Option<u32>,
    /// Once the run has ended, save a screenshot of the window here (PNG).
    #[arg(long, value_name = "FILE")]
    screenshot: Option<PathBuf>,
    /// Start with the scent overlay on (all channels; M cycles through them).
    #[arg(long)]
    scent: bool,
    /// Start with the scent overlay of this channel alone.
    #[arg(long, value_name = "K")]
    scent_channel: Option<u32>,
    /// Start with the followed agent's visual field drawn over the world (V toggles it).
    #[arg(long)]
    visual_field: bool,
    /// Show a run served by `beanworld run --serve` instead of running one (PORT or HOST:PORT);
    /// the run's options are not used. Closing the window leaves the run going.
    #[arg(long, value_name = "ADDR", value_parser = beanworld_viewer::remote::parse_addr)]
    attach: Option<std::net::SocketAddr>,
    /// Show the replay of this action log (written by `run --record-actions`) instead of running
    /// the scenario; the run's options are not used.
    #[arg(long, value_name = "LOG", conflicts_with = "attach")]
    replay: Option<PathBuf>,
    /// Close the window once the run has ended (after the screenshot, if one is asked for).
    #[arg(long)]
    exit: bool,
}

/// Runs `watch` (in a build without the window, says so).
#[cfg(not(feature = "window"))]
pub fn run(_: Args) -> anyhow::Result<()> {
    anyhow::bail!(
        "this beanworld was built without the viewer (cargo feature `window`); build it with the default \
         features to watch, or use `run --serve` here and `watch --attach` from a build that has it"
    )
}

/// Runs `watch`.
#[cfg(feature = "window")]
pub fn run(args: Args) -> anyhow::Result<()> {
    if !(0.5..=64.0).contains(&args.pixels_per_cell) {
        anyhow::bail!("--pixels-per-cell must be between 0.5 and 64");
    }
    let stop = Arc::new(AtomicBool::new(false));
    run::stop_on_ctrl_c(&stop);
    let feed = Feed::new(Arc::clone(&stop));
    let scent = match (args.scent_channel, args.scent) {
        (Some(k), _) => k + 2,
        (None, true) => 1,
        (None, false) => 0,
    };
    feed.controls.scent.store(scent, Ordering::Relaxed);
    feed.controls.visual_field.store(args.visual_field, Ordering::Relaxed);
    let options = WatchOptions {
        size: args.size,
        pixels_per_cell: args.pixels_per_cell,
        follow: args.follow,
        screenshot: args.screenshot.clone(),
        exit: args.exit,
        screenshot_dir: args.run.out.clone(),
        title: match (args.attach, &args.replay) {
            (Some(addr), _) => format!("beanworld: attached to {addr}"),
            (None, Some(log)) => format!("beanworld: replay of {}", log.display()),
            (None, None) => format!(
                "beanworld: {}",
                args.run.scenario.as_ref().map_or("JBW classic".into(), |p| p.display().to_string())
            ),
        },
        attached: args.attach.is_some(),
    };
    if let Some(addr) = args.attach {
        let receiving =
            beanworld_viewer::remote::attach(Arc::clone(&feed), addr).map_err(anyhow::Error::msg)?;
        let exit = beanworld_viewer::watch(Arc::clone(&feed), options);
        stop.store(true, Ordering::SeqCst);
        let received = receiving.join().map_err(|_| anyhow::anyhow!("the connection's thread panicked"))?;
        received.map_err(anyhow::Error::msg)?;
        if !exit.is_success() {
            anyhow::bail!("the viewer failed ({exit:?})");
        }
        return Ok(());
    }
    if let Some(log) = args.replay {
        return replay(feed, options, log, args.run.rate_window);
    }
    let (until, window) = (args.run.steps, args.run.rate_window);
    let run_args = Arc::new(args.run);
    let session = {
        let (feed, run_args, stop) = (Arc::clone(&feed), Arc::clone(&run_args), Arc::clone(&stop));
        std::thread::Builder::new().name("run".into()).spawn(move || {
            let mut publisher = Publisher::new(feed, until, window);
            let mut ended = run::session(&run_args, &stop, |runner| publisher.after_step(runner));
            match &mut ended {
                // The results are saved; the end stays on screen until the window closes.
                Ok(e) if e.failure().is_none() => publisher.linger(&mut e.sim),
                // Nothing more to watch: the window closes.
                _ => stop.store(true, Ordering::SeqCst),
            }
            ended
        })?
    };
    let exit = beanworld_viewer::watch(feed, options);
    let ended = session.join().map_err(|_| anyhow::anyhow!("the run's thread panicked"))??;
    if !exit.is_success() && ended.failure().is_none() {
        anyhow::bail!("the viewer failed ({exit:?}); the run's results are in {}", run_args.out.display());
    }
    run::report(&run_args, ended)
}

/// Shows the replay of the action log `log` (reward rates over `window` steps), stepping on its
/// own thread as a run does; the end stays on screen until the window closes.
#[cfg(feature = "window")]
fn replay(feed: Arc<Feed>, options: WatchOptions, log: PathBuf, window: u64) -> anyhow::Result<()> {
    let stop = Arc::clone(&feed.controls.stop);
    let replaying = {
        let feed = Arc::clone(&feed);
        std::thread::Builder::new().name("replay".into()).spawn(move || {
            let mut publisher = Publisher::new(Arc::clone(&feed), u64::MAX, window);
            let replayed = beanworld_agents::replay::replay(&log, None, |sim, ids, rewards| {
                publisher.after_rewards(sim, ids, rewards);
                !feed.controls.stop.load(Ordering::Relaxed)
            });
            match replayed {
                Ok(mut r) => {
                    publisher.linger(&mut r.sim);
                    Ok(r)
                }
                Err(e) => {
                    feed.controls.stop.store(true, Ordering::SeqCst);
                    Err(e)
                }
            }
        })?
    };
    let exit = beanworld_viewer::watch(feed, options);
    stop.store(true, Ordering::SeqCst);
    let replayed = replaying.join().map_err(|_| anyhow::anyhow!("the replay's thread panicked"))??;
    if !exit.is_success() {
        anyhow::bail!("the viewer failed ({exit:?})");
    }
    println!(
        "{} steps replayed; trajectory {:032x}; world {}",
        replayed.sim.time(),
        replayed.record.trajectory,
        replayed.sim.state_digest()
    );
    Ok(())
}
