//! `beanworld record`: run a scenario headless and write numbered PNG frames drawn on the GPU
//! (or a software adapter), following an agent or looking at the origin.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use beanworld_agents::Runner;
use beanworld_render::frame::{CellImage, Overlays, Renderer, write_png};
use beanworld_sim::{Cell, Region, Simulation};

use crate::scenario_arg;

/// Arguments of `record`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The scenario file (RON); the embedded JBW classic scenario when absent.
    scenario: Option<PathBuf>,
    /// Folder for the frames.
    #[arg(long)]
    out: PathBuf,
    /// Draw a frame every N steps (and at step 0).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    every: u64,
    /// Run until this step.
    #[arg(long, default_value_t = 200)]
    steps: u64,
    /// Frame size in pixels, WxH.
    #[arg(long, default_value = "640x480", value_parser = parse_size)]
    size: (u32, u32),
    /// Pixels per cell.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=64))]
    pixels_per_cell: u32,
    /// Keep this agent (by id) in the middle; the origin when absent.
    #[arg(long)]
    follow: Option<u32>,
    /// World seed (overrides the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Tint empty cells by their scent.
    #[arg(long)]
    scent: bool,
    /// Draw the followed agent's vision over its window.
    #[arg(long, requires = "follow")]
    visual_field: bool,
    /// Also write all frames as one animated PNG (APNG) to this file.
    #[arg(long, value_name = "FILE")]
    apng: Option<PathBuf>,
    /// Frames per second of the animated PNG.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=100))]
    fps: u16,
}

pub(crate) fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(|| format!("expected WxH, found `{s}`"))?;
    let parse = |v: &str| v.trim().parse::<u32>().ok().filter(|&v| (1..=16384).contains(&v));
    match (parse(w), parse(h)) {
        (Some(w), Some(h)) => Ok((w, h)),
        _ => Err(format!("expected WxH with sides from 1 to 16384, found `{s}`")),
    }
}

/// The writer of an animated PNG of `frames` frames of `size` pixels at `fps` frames a second.
fn animated_png(
    path: &std::path::Path,
    size: (u32, u32),
    frames: u32,
    fps: u16,
) -> anyhow::Result<png::Writer<std::io::BufWriter<std::fs::File>>> {
    let file = std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), size.0, size.1);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_animated(frames, 0)?;
    encoder.set_frame_delay(1, fps)?;
    Ok(encoder.write_header()?)
}

/// Runs `record`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let mut scenario = scenario_arg::load(args.scenario.as_deref())?;
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    let renderer = Renderer::new()?;
    let sim = Simulation::new(scenario)?;
    if let Some(id) = args.follow
        && !sim.agents().iter().any(|a| a.id == id)
    {
        bail!(
            "--follow {id}: no agent has this id (agents: {:?})",
            sim.agents().iter().map(|a| a.id).collect::<Vec<_>>()
        );
    }
    if let Some(a) = sim.agents().iter().find(|a| a.policy.kind.is_external()) {
        bail!("agent {} is driven externally; `record` runs only the built-in policies (Walk, Turn)", a.id);
    }
    let mut runner =
        Runner::new(sim, Vec::new(), 1, Box::new(|id, _| unreachable!("agent {id}: no agent joins")));
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let ppc = args.pixels_per_cell;
    let (cols, rows) = (args.size.0.div_ceil(ppc) as i64, args.size.1.div_ceil(ppc) as i64);
    let frames = (args.steps / args.every + 1) as u32;
    let (w, h) = (cols as u32 * ppc, rows as u32 * ppc);
    let mut animation =
        args.apng.as_deref().map(|path| animated_png(path, (w, h), frames, args.fps)).transpose()?;
    let mut written = 0;
    loop {
        let sim = runner.sim_mut();
        if sim.time().is_multiple_of(args.every) {
            let centre = args
                .follow
                .and_then(|id| sim.agents().iter().find(|a| a.id == id))
                .map_or(Cell::new(0, 0), |a| a.position);
            let min = Cell::new(centre.x - cols / 2, centre.y - rows / 2);
            let region = Region::new(min, Cell::new(min.x + cols - 1, min.y + rows - 1));
            sim.generate(region);
            let overlays = Overlays {
                scent: args.scent,
                visual_field: args.follow.filter(|_| args.visual_field),
                ..Overlays::default()
            };
            let image = CellImage::with(sim, region, overlays);
            let pixels = renderer.frame(&image, ppc)?;
            let path = args.out.join(format!("frame_{:07}.png", sim.time()));
            write_png(&path, image.width * ppc, image.height * ppc, &pixels)
                .with_context(|| format!("cannot write {}", path.display()))?;
            if let Some(writer) = animation.as_mut() {
                writer.write_image_data(&pixels).context("cannot write the animated PNG")?;
            }
            written += 1;
        }
        if sim.time() >= args.steps {
            break;
        }
        runner.step()?;
    }
    if let Some(writer) = animation {
        writer.finish().context("cannot finish the animated PNG")?;
    }
    let _ = writeln!(
        std::io::stdout(),
        "{written} frames of {}×{} cells at {ppc} px/cell in {} (drawn on {})",
        cols,
        rows,
        args.out.display(),
        renderer.adapter
    );
    Ok(())
}
