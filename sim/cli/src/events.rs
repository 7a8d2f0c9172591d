//! TensorBoard event files beside `learner.jsonl`: every number of every line a learner reports
//! becomes a scalar of that step (`agent_1/policy_loss`, `agent_1/dormant_by_layer/c1`, …) in
//! `DIR/events.out.tfevents.beanworld`, which TensorBoard reads (`tensorboard --logdir DIR`).
//!
//! The file is TensorFlow's record format: each record is its length (u64, little-endian), the
//! masked CRC-32C of those 8 bytes, the bytes of one `tensorflow.Event` protocol buffer, and
//! their masked CRC-32C. The first event names the format (`brain.Event:2`); each later one
//! holds a `Summary` of scalars. The messages are the few fields of TensorFlow's `event.proto`
//! and `summary.proto` written here, encoded by prost. Wall times are the clock's: like
//! `steps_per_sec`, they are the one thing two runs do not share.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use prost::Message;

/// The file's name (TensorBoard reads files whose names start `events.out.tfevents`).
pub(crate) const FILE: &str = "events.out.tfevents.beanworld";

/// `tensorflow.Event`, the fields used.
#[derive(Clone, PartialEq, prost::Message)]
struct Event {
    #[prost(double, tag = "1")]
    wall_time: f64,
    #[prost(int64, tag = "2")]
    step: i64,
    #[prost(string, optional, tag = "3")]
    file_version: Option<String>,
    #[prost(message, optional, tag = "5")]
    summary: Option<Summary>,
}

/// `tensorflow.Summary`.
#[derive(Clone, PartialEq, prost::Message)]
struct Summary {
    #[prost(message, repeated, tag = "1")]
    value: Vec<Value>,
}

/// `tensorflow.Summary.Value`, a scalar.
#[derive(Clone, PartialEq, prost::Message)]
struct Value {
    #[prost(string, tag = "1")]
    tag: String,
    #[prost(float, optional, tag = "2")]
    simple_value: Option<f32>,
}

/// An event file being written.
pub(crate) struct Events {
    path: PathBuf,
    file: BufWriter<File>,
}

impl Events {
    /// Opens `DIR/FILE`: anew, or, for a run resumed from step `resumed` into its folder, kept up
    /// to that step's events (the later ones are the steps about to be taken again).
    pub(crate) fn open(dir: &Path, resumed: Option<u64>) -> std::io::Result<Events> {
        let path = dir.join(FILE);
        let kept = match resumed {
            Some(step) if path.is_file() => {
                keep_until(&path, step)?;
                // Cut to nothing (killed before its first record reached the disk): begun anew.
                std::fs::metadata(&path)?.len() > 0
            }
            _ => false,
        };
        let file = match kept {
            true => OpenOptions::new().append(true).open(&path)?,
            false => {
                let mut file = File::create(&path)?;
                let first = Event {
                    wall_time: now(),
                    file_version: Some("brain.Event:2".into()),
                    ..Event::default()
                };
                file.write_all(&record(&first.encode_to_vec()))?;
                file
            }
        };
        Ok(Events { path, file: BufWriter::new(file) })
    }

    /// Writes every number of the JSON object `line` (nested objects' by their path) as a
    /// scalar of `step`, its tag prefixed with `prefix/`; "step" and "agent" are left out.
    pub(crate) fn scalars(&mut self, step: u64, prefix: &str, line: &str) -> std::io::Result<()> {
        let Ok(serde_json::Value::Object(fields)) = serde_json::from_str::<serde_json::Value>(line) else {
            return Ok(());
        };
        let mut value = Vec::new();
        for (name, v) in &fields {
            if name != "step" && name != "agent" {
                numbers(&format!("{prefix}/{name}"), v, &mut value);
            }
        }
        if value.is_empty() {
            return Ok(());
        }
        let event = Event {
            wall_time: now(),
            step: i64::try_from(step).unwrap_or(i64::MAX),
            file_version: None,
            summary: Some(Summary { value }),
        };
        self.file.write_all(&record(&event.encode_to_vec()))
    }

    /// Flushes what was written.
    pub(crate) fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }

    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

/// The scalars of `v` (a number, or an object of them) under `tag`.
fn numbers(tag: &str, v: &serde_json::Value, out: &mut Vec<Value>) {
    match v {
        serde_json::Value::Number(n) => {
            if let Some(x) = n.as_f64() {
                out.push(Value { tag: tag.to_string(), simple_value: Some(x as f32) });
            }
        }
        serde_json::Value::Object(fields) => {
            for (name, v) in fields {
                numbers(&format!("{tag}/{name}"), v, out);
            }
        }
        _ => {}
    }
}

fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// CRC-32C as the record format masks it.
fn masked(bytes: &[u8]) -> u32 {
    let crc = crc32c::crc32c(bytes);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// `data` as one record.
fn record(data: &[u8]) -> Vec<u8> {
    let length = (data.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(data.len() + 16);
    out.extend_from_slice(&length);
    out.extend_from_slice(&masked(&length).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked(data).to_le_bytes());
    out
}

/// The events of `bytes`, a record at a time, up to the first damaged or cut one.
fn read_records(bytes: &[u8]) -> Vec<(usize, Event)> {
    let mut out = Vec::new();
    let mut at = 0;
    while bytes.len() >= at + 12 {
        let head = &bytes[at..at + 8];
        let crc = |from: usize| {
            bytes.get(from..from + 4).map(|b| u32::from_le_bytes(b.try_into().unwrap_or_default()))
        };
        if crc(at + 8) != Some(masked(head)) {
            break;
        }
        // A length whose check passed, but still one the file may not hold.
        let length =
            usize::try_from(u64::from_le_bytes(head.try_into().unwrap_or_default())).unwrap_or(usize::MAX);
        let Some(end) = (at + 16).checked_add(length).filter(|&end| end <= bytes.len()) else { break };
        let data = &bytes[at + 12..at + 12 + length];
        let (Some(check), Ok(event)) = (crc(at + 12 + length), Event::decode(data)) else { break };
        if check != masked(data) {
            break;
        }
        out.push((end, event));
        at = end;
    }
    out
}

/// Cuts the event file at `path` after its last whole event of a step up to `step`.
pub(crate) fn keep_until(path: &Path, step: u64) -> std::io::Result<()> {
    let mut bytes = Vec::new();
    File::open(path)?.read_to_end(&mut bytes)?;
    let keep = read_records(&bytes)
        .into_iter()
        .take_while(|(_, e)| e.summary.is_none() || u64::try_from(e.step).is_ok_and(|s| s <= step))
        .last()
        .map_or(0, |(end, _)| end);
    OpenOptions::new().write(true).open(path)?.set_len(keep as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_framed_as_tensorflow_frames_them() {
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283, "CRC-32C (Castagnoli)");
        let r = record(b"abc");
        assert_eq!(r.len(), 8 + 4 + 3 + 4);
        assert_eq!(&r[..8], &3u64.to_le_bytes());
        assert_eq!(&r[12..15], b"abc");
    }

    #[test]
    fn a_resumed_file_keeps_the_events_up_to_its_step() {
        let dir = std::env::temp_dir().join(format!("beanworld-events-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let mut events = Events::open(&dir, None).expect("open");
        for step in [10, 20, 30] {
            events.scalars(step, "agent_1", r#"{"step":1,"loss":0.5,"by":{"a":1}}"#).expect("write");
        }
        events.flush().expect("flush");
        drop(events);
        let read = |dir: &Path| read_records(&std::fs::read(dir.join(FILE)).expect("read"));
        let all = read(&dir);
        assert_eq!(all.len(), 4);
        let tags: Vec<&str> =
            all[1].1.summary.as_ref().expect("scalars").value.iter().map(|v| v.tag.as_str()).collect();
        assert_eq!(tags, ["agent_1/by/a", "agent_1/loss"]);
        Events::open(&dir, Some(20)).expect("resumed");
        let kept: Vec<i64> = read(&dir).iter().map(|(_, e)| e.step).collect();
        assert_eq!(kept, [0, 10, 20]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
