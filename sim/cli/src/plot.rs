//! `beanworld plot DIR [DIR...]`: draws the metrics of one or more runs into one PNG — the
//! reward rate (mean over agents) above, items collected per 1,000 steps by type below — so
//! runs can be compared and slow changes (seasons, schedule switches) seen at a glance. The font
//! is embedded; no system font is needed.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use plotters::prelude::*;
use plotters::style::FontStyle;

const FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
const WIDTH: u32 = 1200;
const HEIGHT: u32 = 800;

/// Arguments of `plot`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Run folders (each with a metrics.csv).
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// The picture to write (default: DIR/plot.png for one run, plot.png for several).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Points per line.
    #[arg(long, default_value_t = 400, value_parser = clap::value_parser!(u64).range(2..=100_000))]
    points: u64,
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
}

fn read(dir: &Path, points: u64) -> anyhow::Result<Series> {
    let path = dir.join("metrics.csv");
    let file = File::open(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut lines = BufReader::new(file).lines();
    let header = lines.next().transpose()?.unwrap_or_default();
    let columns: Vec<String> = header.split(',').map(str::to_string).collect();
    if columns.len() < 4 || columns[..4] != ["step", "agent", "reward", "reward_rate"] {
        bail!("{}: not a beanworld metrics file (header `{header}`)", path.display());
    }
    let types = columns[4..].to_vec();
    // Per step: the mean rate and the collected totals over agents.
    let mut per_step: Vec<(u64, f64, Vec<f64>)> = Vec::new();
    let mut agents_in_step = 0usize;
    for (number, line) in lines.enumerate() {
        let line = line?;
        let fields: Vec<&str> = line.split(',').collect();
        let bad = || anyhow::anyhow!("{}:{}: malformed row `{line}`", path.display(), number + 2);
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
        bail!("{}: fewer than two steps to plot", path.display());
    }
    let bin = (per_step.len() as u64).div_ceil(points).max(1) as usize;
    let mut series = Series {
        name: dir.display().to_string(),
        collected: vec![Vec::new(); types.len()],
        types,
        steps: Vec::new(),
        rate: Vec::new(),
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

/// Runs `plot`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let runs: Vec<Series> = args.dirs.iter().map(|d| read(d, args.points)).collect::<anyhow::Result<_>>()?;
    let out = match (&args.out, args.dirs.as_slice()) {
        (Some(out), _) => out.clone(),
        (None, [one]) => one.join("plot.png"),
        (None, _) => PathBuf::from("plot.png"),
    };
    let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    let mut pixels = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
    draw(&runs, &mut pixels).map_err(|e| anyhow::anyhow!("cannot draw the plot: {e}"))?;
    let file = File::create(&out).with_context(|| format!("cannot write {}", out.display()))?;
    let mut encoder = png::Encoder::new(BufWriter::new(file), WIDTH, HEIGHT);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&pixels)?;
    writer.finish()?;
    use std::io::Write as _;
    let _ = writeln!(std::io::stdout(), "{}", out.display());
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
