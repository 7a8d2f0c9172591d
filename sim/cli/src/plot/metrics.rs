//! Reading a run's `metrics.csv` back a row at a time, so that a file of any length is read in
//! bounded memory: callers keep what they aggregate, never the rows. The layout is the one
//! `beanworld_agents::metrics::Metrics` writes: `step,agent,steps,reward,reward_rate,
//! window_rate,<collected by type>,steps_per_sec`, a row per agent and interval and one `all`
//! row closing each interval. A batched run's (`run --worlds`, and `python -m beanworld.ray`),
//! `step,streams,reward,reward_rate,env_steps_per_sec`, reads as its `all` rows alone.

use std::fs::File;
use std::io::{BufRead, BufReader, Lines};
use std::path::{Path, PathBuf};

use super::PlotError;

/// The columns before the item types.
const COLUMNS: [&str; 6] = ["step", "agent", "steps", "reward", "reward_rate", "window_rate"];
// The header of a batched run's metrics.
use crate::train::METRICS_HEADER as BATCHED;

/// One row.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Row {
    /// The interval's last step.
    pub step: u64,
    /// The agent's id; `None` on the `all` row that closes an interval.
    pub agent: Option<u32>,
    /// Steps (agent-steps on the `all` row) in the interval.
    pub steps: u64,
    /// Reward summed over them.
    pub reward: f64,
    /// Items collected in the interval, by type.
    pub collected: Vec<f64>,
}

/// An open metrics file: its item types, then its rows as an iterator.
pub(crate) struct MetricsFile {
    path: PathBuf,
    types: Vec<String>,
    lines: Lines<BufReader<File>>,
    number: usize,
    /// A batched run's file, and the step of its last row read.
    batched: bool,
    last_step: u64,
}

impl MetricsFile {
    /// Opens `DIR/metrics.csv` and checks its header.
    pub(crate) fn open(dir: &Path) -> Result<Self, PlotError> {
        let path = dir.join("metrics.csv");
        let io = |e: std::io::Error| PlotError(format!("cannot read {}: {e}", path.display()));
        let mut lines = BufReader::new(File::open(&path).map_err(io)?).lines();
        let header = lines.next().transpose().map_err(io)?.unwrap_or_default();
        if header == BATCHED {
            return Ok(MetricsFile {
                path,
                types: Vec::new(),
                lines,
                number: 1,
                batched: true,
                last_step: 0,
            });
        }
        let columns: Vec<&str> = header.split(',').collect();
        if columns.len() < COLUMNS.len() + 1
            || columns[..COLUMNS.len()] != COLUMNS
            || columns.last() != Some(&"steps_per_sec")
        {
            let hint = if header.starts_with("step,agent,reward,") {
                " — a row per step as an older build wrote them; run it again to read it"
            } else {
                ""
            };
            return Err(PlotError(format!(
                "{}: not a beanworld metrics file (header `{header}`){hint}",
                path.display()
            )));
        }
        let types = columns[COLUMNS.len()..columns.len() - 1].iter().map(|s| s.to_string()).collect();
        Ok(MetricsFile { path, types, lines, number: 1, batched: false, last_step: 0 })
    }

    /// The item types, in the order of [`Row::collected`].
    pub(crate) fn types(&self) -> &[String] {
        &self.types
    }

    fn parse(&mut self, line: &str) -> Option<Row> {
        let mut fields = line.split(',');
        if self.batched {
            // Every stream took every step since the last row.
            let step: u64 = fields.next()?.parse().ok()?;
            let streams: u64 = fields.next()?.parse().ok()?;
            let reward = fields.next()?.parse().ok()?;
            let steps = streams * step.checked_sub(self.last_step)?;
            self.last_step = step;
            return Some(Row { step, agent: None, steps, reward, collected: Vec::new() });
        }
        let step = fields.next()?.parse().ok()?;
        let agent = match fields.next()? {
            "all" => None,
            id => Some(id.parse().ok()?),
        };
        let steps = fields.next()?.parse().ok()?;
        let reward = fields.next()?.parse().ok()?;
        let collected =
            fields.skip(2).take(self.types.len()).map(|f| f.parse().ok()).collect::<Option<Vec<_>>>()?;
        (collected.len() == self.types.len()).then_some(Row { step, agent, steps, reward, collected })
    }
}

impl Iterator for MetricsFile {
    type Item = Result<Row, PlotError>;

    fn next(&mut self) -> Option<Self::Item> {
        let line = self.lines.next()?;
        self.number += 1;
        Some(match line {
            Err(e) => Err(PlotError(format!("cannot read {}: {e}", self.path.display()))),
            Ok(line) => self.parse(&line).ok_or_else(|| {
                PlotError(format!("{}:{}: malformed row `{line}`", self.path.display(), self.number))
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_read_and_bad_ones_named_by_line() {
        let dir = std::env::temp_dir().join(format!("beanworld-metrics-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let header = "step,agent,steps,reward,reward_rate,window_rate,banana,onion,steps_per_sec";
        let text = format!(
            "{header}\n1000,3,1000,12,0.012,0.011,4,0,\n1000,all,1000,12,0.012,0.011,4,0,5000\n2000,all,x\n"
        );
        std::fs::write(dir.join("metrics.csv"), text).expect("write");
        let mut file = MetricsFile::open(&dir).expect("a metrics file");
        assert_eq!(file.types(), ["banana", "onion"]);
        let row = file.next().expect("a row").expect("well formed");
        assert_eq!(
            row,
            Row { step: 1000, agent: Some(3), steps: 1000, reward: 12.0, collected: vec![4.0, 0.0] }
        );
        assert_eq!(file.next().expect("a row").expect("well formed").agent, None);
        let e = file.next().expect("a row").expect_err("malformed");
        assert!(e.to_string().ends_with("metrics.csv:4: malformed row `2000,all,x`"), "{e}");
        // A batched run's rows are intervals of every stream.
        let text = format!("{BATCHED}\n64,4,3.0,0.0117,5090\n192,4,8.0,0.0156,5112\n");
        std::fs::write(dir.join("metrics.csv"), text).expect("write");
        let rows: Vec<Row> =
            MetricsFile::open(&dir).expect("a batched file").map(|r| r.expect("a row")).collect();
        assert_eq!(rows[1], Row { step: 192, agent: None, steps: 512, reward: 8.0, collected: Vec::new() });
        assert_eq!(rows[0].steps, 256);
        std::fs::write(dir.join("metrics.csv"), "step,agent,reward,reward_rate,banana\n").expect("write");
        let e = MetricsFile::open(&dir).err().expect("refused");
        assert!(e.to_string().contains("an older build"), "{e}");
        std::fs::remove_dir_all(dir).ok();
    }
}
