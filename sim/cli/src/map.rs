//! `beanworld map`: generate a region of a scenario's world and report on it — statistics as
//! one JSON line, a digest of its items, a PNG picture, the items as CSV.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use beanworld_sim::Sampler;
use beanworld_sim::{Config, Region, World};
use serde::Serialize;

use crate::scenario_arg;

/// The largest region `map` generates, in cells (a 16384 × 16384 square).
const MAX_REGION_CELLS: u64 = 1 << 28;
/// The largest picture `map` draws, in pixels.
const MAX_PNG_PIXELS: u64 = 1 << 28;

/// Arguments of `map`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The scenario file (RON); the embedded JBW classic scenario when absent.
    scenario: Option<PathBuf>,
    /// The region to report on, X0,Y0,X1,Y1 (corners included).
    #[arg(long, value_name = "X0,Y0,X1,Y1", allow_hyphen_values = true)]
    region: Region,
    /// World seed (overrides the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Generate this region first (repeatable, in the order given).
    #[arg(long, value_name = "X0,Y0,X1,Y1", allow_hyphen_values = true)]
    generate: Vec<Region>,
    /// Print statistics as one JSON line (the default when nothing else is asked for).
    #[arg(long)]
    stats: bool,
    /// Print a hex digest of the region's items (positions and types).
    #[arg(long)]
    hash: bool,
    /// Draw the region into a PNG file.
    #[arg(long, value_name = "FILE")]
    png: Option<PathBuf>,
    /// Pixels per cell in the PNG.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    pixels_per_cell: u32,
    /// Draw patch boundaries in the PNG.
    #[arg(long)]
    grid: bool,
    /// Write the region's items as CSV (`x,y,type`).
    #[arg(long, value_name = "FILE")]
    items: Option<PathBuf>,
}

/// The `--stats` line.
#[derive(Serialize)]
struct Stats {
    cells: u64,
    patches: usize,
    types: BTreeMap<String, TypeStats>,
}

#[derive(Serialize)]
struct TypeStats {
    count: u64,
    density: f64,
}

/// Runs `map`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let scenario = scenario_arg::load(args.scenario.as_deref())?;
    for region in args.generate.iter().chain([&args.region]) {
        if region.cells() > MAX_REGION_CELLS {
            bail!(
                "region {},{},{},{} has {} cells; `map` generates at most {MAX_REGION_CELLS}",
                region.min.x,
                region.min.y,
                region.max.x,
                region.max.y,
                region.cells()
            );
        }
    }
    let config = Arc::new(scenario.config);
    let mut sampler = Sampler::new(&config);
    let mut world = World::new(Arc::clone(&config), args.seed.unwrap_or(scenario.seed));
    for region in &args.generate {
        world.generate_region(*region, &mut sampler);
    }
    world.generate_region(args.region, &mut sampler);

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let nothing_asked = !args.hash && args.png.is_none() && args.items.is_none();
    if args.stats || nothing_asked {
        let stats = stats(&world, args.region);
        writeln!(out, "{}", serde_json::to_string(&stats)?)?;
    }
    if args.hash {
        writeln!(out, "{}", world.region_digest(args.region))?;
    }
    if let Some(path) = &args.png {
        write_png(&world, args.region, args.pixels_per_cell, args.grid, path)
            .with_context(|| format!("cannot write the picture {}", path.display()))?;
    }
    if let Some(path) = &args.items {
        write_items(&world, args.region, path)
            .with_context(|| format!("cannot write the items {}", path.display()))?;
    }
    Ok(())
}

fn stats(world: &World, region: Region) -> Stats {
    let config = world.config();
    let mut counts = vec![0u64; config.items.len()];
    for (_, kind) in world.items_in(region) {
        counts[kind] += 1;
    }
    let cells = region.cells();
    let types = config
        .items
        .iter()
        .zip(counts)
        .map(|(t, count)| (t.name.clone(), TypeStats { count, density: count as f64 / cells as f64 }))
        .collect();
    Stats { cells, patches: world.patch_count(), types }
}

fn write_items(world: &World, region: Region, path: &Path) -> anyhow::Result<()> {
    let mut w = BufWriter::new(File::create(path)?);
    writeln!(w, "x,y,type")?;
    let names = &world.config().items;
    for (pos, kind) in world.items_in(region) {
        writeln!(w, "{},{},{}", pos.x, pos.y, names[kind].name)?;
    }
    w.flush()?;
    Ok(())
}

/// The display colour of an item type: its first three colour channels (fewer are padded
/// with the last one, so a one-channel colour is grey).
fn rgb(config: &Config, kind: usize) -> [u8; 3] {
    let color = &config.items[kind].color;
    let channel = |i: usize| color.get(i).or(color.last()).copied().unwrap_or(0.0);
    [0, 1, 2].map(|i| (channel(i).clamp(0.0, 1.0) * 255.0).round() as u8)
}

fn write_png(world: &World, region: Region, ppc: u32, grid: bool, path: &Path) -> anyhow::Result<()> {
    let (w, h) = (region.width() * u64::from(ppc), region.height() * u64::from(ppc));
    if w * h > MAX_PNG_PIXELS {
        bail!("the picture would have {} pixels (at most {MAX_PNG_PIXELS}); lower --pixels-per-cell", w * h);
    }
    let (w, h, ppc) = (w as usize, h as usize, ppc as usize);
    let mut pixels = vec![255u8; w * h * 3];
    let n = world.config().patch_size as i64;
    let mut paint = |cx: usize, cy: usize, color: [u8; 3], inset: usize| {
        // Row 0 of the picture is the northernmost row of the region.
        let top = (h / ppc - 1 - cy) * ppc;
        for py in top + inset..top + ppc - inset {
            for px in cx * ppc + inset..(cx + 1) * ppc - inset {
                pixels[(py * w + px) * 3..][..3].copy_from_slice(&color);
            }
        }
    };
    if grid {
        for cy in 0..h / ppc {
            for cx in 0..w / ppc {
                let (x, y) = (region.min.x + cx as i64, region.min.y + cy as i64);
                if x.rem_euclid(n) == 0 || y.rem_euclid(n) == 0 {
                    paint(cx, cy, [225, 225, 225], 0);
                }
            }
        }
    }
    for (pos, kind) in world.items_in(region) {
        let (cx, cy) = ((pos.x - region.min.x) as usize, (pos.y - region.min.y) as usize);
        paint(cx, cy, rgb(world.config(), kind), 0);
    }
    let mut encoder = png::Encoder::new(BufWriter::new(File::create(path)?), w as u32, h as u32);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&pixels)?;
    writer.finish()?;
    Ok(())
}
