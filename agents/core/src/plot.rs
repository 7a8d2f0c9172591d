//! Plots of run metrics: the reward rate (mean over agents) above, items collected per 1,000
//! steps by type below, for one or more runs overlaid, with the steps where the reward schedule
//! switched marked (from `switches.csv` beside `metrics.csv`). The font is embedded; no system
//! font is needed.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter};
use std::path::{Path, PathBuf};

use plotters::prelude::*;
use plotters::style::FontStyle;

const FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
const WIDTH: u32 = 1200;
const HEIGHT: u32 = 800;

/// Why a plot could not be made.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PlotError(String);

fn fail(message: impl Into<String>) -> PlotError {
    PlotError(message.into())
}

/// One run's metrics, binned.
struct Series {
    name: String,
    types: Vec<String>,
    /// Step at the end of each bin.
    steps: Vec<f64>,
    /// Mean reward rate over agents at the end of each bin.
    rate: Vec<f64>,
    /// Per type, items collected per 1,000 steps within each bin.
    collected: Vec<Vec<f64>>,
    /// Steps where the reward schedule switched.
    switches: Vec<f64>,
}

fn read(dir: &Path, points: u64) -> Result<Series, PlotError> {
    let path = dir.join("metrics.csv");
    let io = |e: std::io::Error| fail(format!("cannot read {}: {e}", path.display()));
    let file = File::open(&path).map_err(io)?;
    let mut lines = BufReader::new(file).lines();
    let header = lines.next().transpose().map_err(io)?.unwrap_or_default();
    let columns: Vec<String> = header.split(',').map(str::to_string).collect();
    if columns.len() < 4 || columns[..4] != ["step", "agent", "reward", "reward_rate"] {
        return Err(fail(format!("{}: not a beanworld metrics file (header `{header}`)", path.display())));
    }
    let types = columns[4..].to_vec();
    // Per step: the mean rate and the collected totals over agents.
    let mut per_step: Vec<(u64, f64, Vec<f64>)> = Vec::new();
    let mut agents_in_step = 0usize;
    for (number, line) in lines.enumerate() {
        let line = line.map_err(io)?;
        let fields: Vec<&str> = line.split(',').collect();
        let bad = || fail(format!("{}:{}: malformed row `{line}`", path.display(), number + 2));
        let step: u64 = fields.first().and_then(|f| f.parse().ok()).ok_or_else(bad)?;
        let rate: f64 = fields.get(3).and_then(|f| f.parse().ok()).ok_or_else(bad)?;
        if per_step.last().is_none_or(|(s, _, _)| *s != step) {
            if let Some(last) = per_step.last_mut() {
                last.1 /= agents_in_step.max(1) as f64;
            }
            per_step.push((step, 0.0, vec![0.0; types.len()]));
            agents_in_step = 0;
        }
        let last = per_step.last_mut().ok_or_else(bad)?;
        last.1 += rate;
        agents_in_step += 1;
        for (total, field) in last.2.iter_mut().zip(&fields[4..]) {
            *total += field.parse::<f64>().unwrap_or(0.0);
        }
    }
    if let Some(last) = per_step.last_mut() {
        last.1 /= agents_in_step.max(1) as f64;
    }
    if per_step.len() < 2 {
        return Err(fail(format!("{}: fewer than two steps to plot", path.display())));
    }
    let bin = (per_step.len() as u64).div_ceil(points).max(1) as usize;
    let mut series = Series {
        name: dir.display().to_string(),
        collected: vec![Vec::new(); types.len()],
        types,
        steps: Vec::new(),
        rate: Vec::new(),
        switches: std::fs::read_to_string(dir.join("switches.csv"))
            .map(|text| text.lines().skip(1).filter_map(|l| l.split(',').next()?.parse().ok()).collect())
            .unwrap_or_default(),
    };
    let mut previous = &per_step[0];
    for chunk in per_step[1..].chunks(bin) {
        let end = &chunk[chunk.len() - 1];
        let span = (end.0 - previous.0).max(1) as f64;
        series.steps.push(end.0 as f64);
        series.rate.push(end.1);
        for (k, out) in series.collected.iter_mut().enumerate() {
            out.push(((end.2[k] - previous.2[k]) * 1000.0 / span).max(0.0));
        }
        previous = end;
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
    let io = |e: std::io::Error| fail(format!("cannot write {}: {e}", out.display()));
    let file = File::create(out).map_err(io)?;
    let mut encoder = png::Encoder::new(BufWriter::new(file), WIDTH, HEIGHT);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let encoding = |e: png::EncodingError| fail(format!("cannot write {}: {e}", out.display()));
    let mut writer = encoder.write_header().map_err(encoding)?;
    writer.write_image_data(&pixels).map_err(encoding)?;
    writer.finish().map_err(encoding)?;
    Ok(())
}

fn colour(i: usize) -> RGBColor {
    const PALETTE: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
        RGBColor(255, 127, 14),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
    ];
    PALETTE[i % PALETTE.len()]
}

fn draw(runs: &[Series], pixels: &mut [u8]) -> Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::with_buffer(pixels, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(HEIGHT / 2);
    let max_step = runs.iter().flat_map(|r| r.steps.last()).fold(1.0f64, |a, &b| a.max(b));
    let max_rate = runs.iter().flat_map(|r| r.rate.iter()).fold(1e-6f64, |a, &b| a.max(b.abs()));
    let min_rate = runs.iter().flat_map(|r| r.rate.iter()).fold(0.0f64, |a, &b| a.min(b));
    let several = runs.len() > 1;

    let mut chart = ChartBuilder::on(&top)
        .caption("reward rate (mean over agents)", ("sans-serif", 20))
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
    for (i, run) in runs.iter().enumerate() {
        chart
            .draw_series(LineSeries::new(run.steps.iter().copied().zip(run.rate.iter().copied()), colour(i)))?
            .label(run.name.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour(i)));
    }
    if several {
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    }

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
