//! Plots of run metrics: the reward rate above (a line per agent for a run with a few agents,
//! else the mean over agents), items collected per 1,000 steps by type below, for one or more
//! runs overlaid, with the steps where the reward schedule
//! switched marked (from `switches.csv` beside `metrics.csv`); and the line charts of derived
//! measures (`recovery`). The font is embedded; no system font is needed. It reads the metrics
//! files that `beanworld-agents` writes and owns nothing else: drawing is the front end's
//! business, not the agent runtime's.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::PlotError;
use super::metrics::MetricsFile;

const FONT: &[u8] = include_bytes!("../../../../assets/fonts/DejaVuSans.ttf");
const WIDTH: u32 = 1200;
const HEIGHT: u32 = 800;

fn fail(message: impl Into<String>) -> PlotError {
    PlotError(message.into())
}

/// One run's metrics, binned.
struct Series {
    name: String,
    types: Vec<String>,
    /// Step at the end of each bin.
    steps: Vec<f64>,
    /// Reward per agent-step within each bin.
    rate: Vec<f64>,
    /// Per type, items collected per 1,000 steps within each bin.
    collected: Vec<Vec<f64>>,
    /// With few agents: each agent's reward per step within each bin (NaN while absent).
    agents: Vec<(u32, Vec<f64>)>,
    /// Steps where the reward schedule switched.
    switches: Vec<f64>,
}

/// At most this many agents get a line each; more are drawn as their mean.
const MAX_AGENT_LINES: usize = 8;

/// Sums over the intervals of one bin of points: steps and reward over all agents, items
/// collected by type, and steps and reward per agent drawn.
#[derive(Clone, Default)]
struct Bin {
    steps: u64,
    reward: f64,
    collected: Vec<f64>,
    agents: Vec<(u64, f64)>,
}

/// Reward per step of `(steps, reward)`; NaN (not drawn) without steps.
fn rate((steps, reward): (u64, f64)) -> f64 {
    if steps == 0 { f64::NAN } else { reward / steps as f64 }
}

/// Reads a run's metrics (in two streaming passes, the first counting intervals and agents) into
/// at most `points` points: per bin of intervals, the reward per agent-step (and per step of
/// each agent drawn), and the items collected per 1,000 steps.
fn read(dir: &Path, points: u64) -> Result<Series, PlotError> {
    let (mut intervals, mut agents) = (0u64, std::collections::BTreeSet::new());
    for row in MetricsFile::open(dir)? {
        match row?.agent {
            None => intervals += 1,
            Some(id) => {
                agents.insert(id);
            }
        }
    }
    if intervals < 2 {
        return Err(fail(format!("{}: fewer than two intervals to plot", dir.join("metrics.csv").display())));
    }
    let file = MetricsFile::open(dir)?;
    let agents: Vec<u32> =
        if agents.len() <= MAX_AGENT_LINES { agents.into_iter().collect() } else { Vec::new() };
    let bin_size = intervals.div_ceil(points).max(1);
    let mut series = Series {
        name: dir.display().to_string(),
        collected: vec![Vec::new(); file.types().len()],
        types: file.types().to_vec(),
        steps: Vec::new(),
        rate: Vec::new(),
        agents: agents.iter().map(|&id| (id, Vec::new())).collect(),
        switches: std::fs::read_to_string(dir.join("switches.csv"))
            .map(|text| text.lines().skip(1).filter_map(|l| l.split(',').next()?.parse().ok()).collect())
            .unwrap_or_default(),
    };
    let empty = Bin {
        collected: vec![0.0; series.types.len()],
        agents: vec![(0, 0.0); agents.len()],
        ..Bin::default()
    };
    let (mut bin, mut index, mut last_step) = (empty.clone(), 0u64, 0u64);
    for row in file {
        let row = row?;
        if let Some(id) = row.agent {
            if let Ok(k) = agents.binary_search(&id) {
                bin.agents[k].0 += row.steps;
                bin.agents[k].1 += row.reward;
            }
            continue;
        }
        // The `all` row closes an interval.
        bin.steps += row.steps;
        bin.reward += row.reward;
        bin.collected.iter_mut().zip(&row.collected).for_each(|(sum, c)| *sum += c);
        index += 1;
        if index.is_multiple_of(bin_size) || index == intervals {
            let span = row.step.saturating_sub(last_step).max(1) as f64;
            series.steps.push(row.step as f64);
            series.rate.push(rate((bin.steps, bin.reward)));
            for (out, c) in series.collected.iter_mut().zip(&bin.collected) {
                out.push(c * 1000.0 / span);
            }
            for ((_, line), &sums) in series.agents.iter_mut().zip(&bin.agents) {
                line.push(rate(sums));
            }
            (bin, last_step) = (empty.clone(), row.step);
        }
    }
    Ok(series)
}

/// Draws the metrics of the runs in `dirs` into the PNG `out`, with at most `points` points per
/// line.
pub fn plot_runs(dirs: &[PathBuf], out: &Path, points: u64) -> Result<(), PlotError> {
    let runs: Vec<Series> = dirs.iter().map(|d| read(d, points)).collect::<Result<_, _>>()?;
    let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    let mut pixels = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
    draw(&runs, &mut pixels).map_err(|e| fail(format!("cannot draw the plot: {e}")))?;
    write_png(&pixels, (WIDTH, HEIGHT), out)
}

fn write_png(pixels: &[u8], (width, height): (u32, u32), out: &Path) -> Result<(), PlotError> {
    let io = |e: std::io::Error| fail(format!("cannot write {}: {e}", out.display()));
    let file = File::create(out).map_err(io)?;
    let mut encoder = png::Encoder::new(BufWriter::new(file), width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let encoding = |e: png::EncodingError| fail(format!("cannot write {}: {e}", out.display()));
    let mut writer = encoder.write_header().map_err(encoding)?;
    writer.write_image_data(pixels).map_err(encoding)?;
    writer.finish().map_err(encoding)?;
    Ok(())
}

/// One series of [`plot_points`].
pub struct Line {
    /// Its name in the legend.
    pub name: String,
    /// Its `(x, y)` points.
    pub points: Vec<(f64, f64)>,
    /// Its colour, by index into the palette (lines of one run share one).
    pub colour: usize,
    /// Drawn dashed rather than solid.
    pub dashed: bool,
}

/// A line with markers per series, titled `title`, axes named by `axes` (x, y), into the PNG
/// `out` (a 1000 × 600 chart, its legend under it).
pub fn plot_points(title: &str, axes: (&str, &str), lines: &[Line], out: &Path) -> Result<(), PlotError> {
    let points = || lines.iter().flat_map(|l| l.points.iter());
    let (x0, x1) = points().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (y0, y1) = points().fold((0.0f64, 0.0f64), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let (x0, x1) = if x0.is_finite() { (x0 - 0.5, x1 + 0.5) } else { (0.0, 1.0) };
    let y = y0 * 1.1..(y1 * 1.1).max(y0 * 1.1 + 1e-9);
    let keys: Vec<Key> = lines
        .iter()
        .map(|l| Key { name: l.name.clone(), colour: colour(l.colour), dashed: l.dashed })
        .collect();
    chart_png(title, axes, (x0..x1, y, decimals(y0, y1)), &keys, out, |chart| {
        for line in lines {
            let c = colour(line.colour);
            let points = line.points.iter().copied();
            if line.dashed {
                chart.draw_series(DashedLineSeries::new(points, 8, 6, c.stroke_width(2)))?;
            } else {
                chart.draw_series(LineSeries::new(points, c.stroke_width(2)))?;
            }
            chart.draw_series(line.points.iter().map(|&p| Circle::new(p, 4, c.filled())))?;
        }
        Ok(())
    })
}

/// Enough decimals for labels of values from `y0` to `y1` to tell apart.
fn decimals(y0: f64, y1: f64) -> usize {
    (1.0 - (y1 - y0).max(1e-9).log10().floor()).clamp(0.0, 9.0) as usize
}

type Drawn = Result<(), Box<dyn std::error::Error>>;

/// An entry of a chart's legend: a line's name, colour and whether it is dashed.
struct Key {
    name: String,
    colour: RGBColor,
    dashed: bool,
}

/// Height of a legend's row, in pixels.
const KEY_ROW: u32 = 20;

/// A 1000 × 600 chart titled `title`, its axes named by `axes` and spanning `(x, y)` (y's
/// labels with `decimals`), its series drawn by `series`, and under it a legend of `keys`, one
/// a row (so that it covers nothing, however many lines there are), into the PNG `out`.
fn chart_png(
    title: &str,
    axes: (&str, &str),
    (x, y, decimals): (std::ops::Range<f64>, std::ops::Range<f64>, usize),
    keys: &[Key],
    out: &Path,
    series: impl FnOnce(
        &mut ChartContext<'_, BitMapBackend<'_>, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    ) -> Drawn,
) -> Result<(), PlotError> {
    let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    let legend = if keys.is_empty() { 0 } else { 10 + KEY_ROW * keys.len() as u32 };
    let size = (1000u32, 600 + legend);
    let mut pixels = vec![255u8; (size.0 * size.1 * 3) as usize];
    let drawn = (|| -> Drawn {
        let root = BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area();
        root.fill(&WHITE)?;
        let (top, bottom) = root.split_vertically(600);
        let mut chart = ChartBuilder::on(&top)
            .caption(title, ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(x, y)?;
        chart
            .configure_mesh()
            .x_desc(axes.0)
            .y_desc(axes.1)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.decimals$}"))
            .draw()?;
        series(&mut chart)?;
        for (row, key) in keys.iter().enumerate() {
            let y = (row as u32 * KEY_ROW + KEY_ROW / 2) as i32;
            let style = key.colour.stroke_width(2);
            if key.dashed {
                bottom.draw(&PathElement::new(vec![(85, y), (93, y)], style))?;
                bottom.draw(&PathElement::new(vec![(99, y), (107, y)], style))?;
            } else {
                bottom.draw(&PathElement::new(vec![(85, y), (107, y)], style))?;
            }
            bottom.draw(&Text::new(key.name.clone(), (115, y - 8), ("sans-serif", 15).into_font()))?;
        }
        root.present()?;
        Ok(())
    })();
    drawn.map_err(|e| fail(format!("cannot draw the plot: {e}")))?;
    write_png(&pixels, size, out)
}

/// One series of [`plot_bands`]: a mean with a band around it.
pub struct Band {
    /// Its name in the legend.
    pub name: String,
    /// Its colour, by index into the palette.
    pub colour: usize,
    /// `(x, mean, low, high)`, x rising.
    pub points: Vec<(f64, f64, f64, f64)>,
}

/// Mean lines with shaded bands (a confidence interval, say), dashed dark verticals at
/// `markers` (where the task changed, "task changes" in the legend), titled `title`, axes named
/// by `axes`, into the PNG `out` (a 1000 × 600 chart, its legend under it).
pub fn plot_bands(
    title: &str,
    axes: (&str, &str),
    bands: &[Band],
    markers: &[f64],
    out: &Path,
) -> Result<(), PlotError> {
    let points = || bands.iter().flat_map(|b| b.points.iter());
    let x1 = points().fold(1.0f64, |a, p| a.max(p.0));
    let (y0, y1) = points().fold((0.0f64, 0.0f64), |(a, b), p| (a.min(p.2), b.max(p.3)));
    let y1 = (y1 * 1.1).max(y0 + 1e-9);
    // Darker and wider than the grid, whose lines they often fall on (a task changes at a round
    // step), and named in the legend.
    let changes = RGBColor(70, 70, 70);
    let keys: Vec<Key> = (!markers.is_empty())
        .then(|| Key { name: "task changes".into(), colour: changes, dashed: true })
        .into_iter()
        .chain(bands.iter().map(|b| Key { name: b.name.clone(), colour: colour(b.colour), dashed: false }))
        .collect();
    chart_png(title, axes, (0.0..x1, y0..y1, decimals(y0, y1)), &keys, out, |chart| {
        for &m in markers {
            chart.draw_series(DashedLineSeries::new([(m, y0), (m, y1)], 7, 5, changes.stroke_width(2)))?;
        }
        for band in bands {
            let c = colour(band.colour);
            let outline: Vec<(f64, f64)> = band
                .points
                .iter()
                .map(|p| (p.0, p.3))
                .chain(band.points.iter().rev().map(|p| (p.0, p.2)))
                .collect();
            chart.draw_series(std::iter::once(Polygon::new(outline, c.mix(0.2).filled())))?;
            chart.draw_series(LineSeries::new(band.points.iter().map(|p| (p.0, p.1)), c.stroke_width(2)))?;
        }
        Ok(())
    })
}

fn colour(i: usize) -> RGBColor {
    // Twenty, so that every learner of a track has its own: scripts/suite-results.sh puts
    // fourteen on `cyclical` (the baselines, and PPO and DQN with and without each mitigation).
    // The first twelve came first and stay in their places, so plots of up to twelve lines keep
    // their colours.
    const PALETTE: [RGBColor; 20] = [
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
        RGBColor(255, 127, 14),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
        RGBColor(23, 190, 207),
        RGBColor(0, 0, 0),
        RGBColor(152, 223, 138),
        RGBColor(174, 199, 232),
        RGBColor(255, 152, 150),
        RGBColor(255, 187, 120),
        RGBColor(197, 176, 213),
        RGBColor(196, 156, 148),
        RGBColor(247, 182, 210),
        RGBColor(219, 219, 141),
        RGBColor(158, 218, 229),
    ];
    PALETTE[i % PALETTE.len()]
}

fn draw(runs: &[Series], pixels: &mut [u8]) -> Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::with_buffer(pixels, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    // Items collected below, where a run counts them (a batched run's metrics do not).
    let itemised = runs.iter().any(|r| !r.types.is_empty());
    let (top, bottom) = if itemised {
        let (top, bottom) = root.split_vertically(HEIGHT / 2);
        (top, Some(bottom))
    } else {
        (root.clone(), None)
    };
    let max_step = runs.iter().flat_map(|r| r.steps.last()).fold(1.0f64, |a, &b| a.max(b));
    let all_rates = || {
        runs.iter()
            .flat_map(|r| r.rate.iter().chain(r.agents.iter().flat_map(|(_, v)| v.iter())))
            .filter(|v| v.is_finite())
    };
    let max_rate = all_rates().fold(1e-6f64, |a, &b| a.max(b.abs()));
    let min_rate = all_rates().fold(0.0f64, |a, &b| a.min(b));
    let several = runs.len() > 1;

    let mut chart = ChartBuilder::on(&top)
        .caption("reward rate", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max_step, (min_rate * 1.1)..(max_rate * 1.1))?;
    chart
        .configure_mesh()
        .x_desc("step")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    let (low, high) = (min_rate * 1.1, max_rate * 1.1);
    for run in runs {
        for &at in &run.switches {
            chart.draw_series(LineSeries::new([(at, low), (at, high)], BLACK.mix(0.35)))?;
        }
    }
    let mut line = 0;
    for run in runs {
        if !several && run.agents.len() > 1 {
            // One run with a few agents: a line each.
            for (id, rates) in &run.agents {
                let c = colour(line);
                line += 1;
                let points =
                    run.steps.iter().copied().zip(rates.iter().copied()).filter(|(_, r)| r.is_finite());
                chart
                    .draw_series(LineSeries::new(points, c))?
                    .label(format!("agent {id}"))
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], c));
            }
        } else {
            let c = colour(line);
            line += 1;
            let label = if run.agents.len() > 1 || run.agents.is_empty() {
                format!("{} (mean over agents)", run.name)
            } else {
                run.name.clone()
            };
            chart
                .draw_series(LineSeries::new(run.steps.iter().copied().zip(run.rate.iter().copied()), c))?
                .label(label)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], c));
        }
    }
    if several || line > 1 {
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    }

    let Some(bottom) = bottom else {
        root.present()?;
        return Ok(());
    };
    let max_collected =
        runs.iter().flat_map(|r| r.collected.iter().flatten()).fold(1e-6f64, |a, &b| a.max(b));
    let mut chart = ChartBuilder::on(&bottom)
        .caption("items collected per 1,000 steps", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max_step, 0.0..max_collected * 1.1)?;
    chart
        .configure_mesh()
        .x_desc("step")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    let mut line = 0;
    for run in runs {
        for (k, name) in run.types.iter().enumerate() {
            if run.collected[k].iter().all(|&v| v == 0.0) {
                continue;
            }
            let c = colour(line);
            line += 1;
            let label = if several { format!("{} {name}", run.name) } else { name.clone() };
            chart
                .draw_series(LineSeries::new(
                    run.steps.iter().copied().zip(run.collected[k].iter().copied()),
                    c,
                ))?
                .label(label)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], c));
        }
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}
