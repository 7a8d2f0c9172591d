//! Action logs: everything that came into a run from outside the engine — each step, every
//! agent's action (those the engine's own policies chose too: a front end may override them),
//! and any parameter or task set between steps — so that the run can be replayed exactly without
//! its agents (a learner, a Python script, a person). The scenario as it was run travels in the
//! log, so a log is all a replay needs.
//!
//! File layout: the magic `BEANACTS`, the format version (`u32` LE), then frames. A frame is its
//! payload's length (`u32` LE), a checksum (the first 16 bytes of BLAKE3 over the frame's index,
//! the length and the payload) and the payload, raw DEFLATE of postcard values: frame 0 holds the
//! [`Header`], every later one a run of [`Entry`]s. The index in the checksum means frames cannot
//! be dropped, repeated or reordered unnoticed; a frame's length is checked against what is left
//! of the file, so a truncated or extended log is refused, and nothing in a damaged file can make
//! the reader allocate more than [`MAX_FRAME`] bytes. Entries are written in frames of about
//! 64 KiB before compression, so a log takes a byte or less per action and memory of one frame,
//! however long the run; frames are flushed when the writer is, so a run stopped by an
//! error or Ctrl-C keeps its log up to its last step.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use serde::{Deserialize, Serialize};

use crate::action::Action;
use crate::dynamics::Param;
use crate::scenario::Scenario;
use crate::task::Schedule;

const MAGIC: &[u8; 8] = b"BEANACTS";
/// The action log format this build writes and reads.
pub const LOG_VERSION: u32 = 1;
/// Entries are compressed into a frame once they take this many bytes.
const FRAME_ENTRIES: usize = 1 << 16;
/// The most bytes a frame may take, compressed or not.
pub const MAX_FRAME: usize = 1 << 24;

/// What a log says about itself: the scenario as it was run (agents the run drove from outside
/// have policy `External` or `Agent`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Header {
    /// The scenario.
    pub scenario: Scenario,
}

/// One thing that came into the run from outside.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Entry {
    /// A step: every agent's action, in agent order.
    Step(Vec<Action>),
    /// A world parameter set before the next step.
    Param(Param, f32),
    /// The reward schedule replaced before the next step.
    Task(Schedule),
}

/// [`Entry`] by reference, encoded the same way.
#[derive(Serialize)]
enum EntryRef<'a> {
    Step(&'a [Action]),
    Param(&'a Param, f32),
    Task(&'a Schedule),
}

/// Why a log could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The file could not be read or written.
    #[error("{file}: {cause}")]
    Io {
        /// The file.
        file: String,
        /// The cause (in the message, so not an error source).
        cause: std::io::Error,
    },
    /// The file does not start like an action log.
    #[error("{file}: not a beanworld action log")]
    NotALog {
        /// The file.
        file: String,
    },
    /// Another format version.
    #[error("{file}: action log format version {found}, but this build reads version {LOG_VERSION}")]
    Version {
        /// The file.
        file: String,
        /// The version in the file.
        found: u32,
    },
    /// A frame is cut short, fails its checksum or does not decode.
    #[error("{file}: the action log is damaged in frame {frame} ({why})")]
    Damaged {
        /// The file.
        file: String,
        /// The frame (0: the header).
        frame: u64,
        /// What failed.
        why: String,
    },
}

fn checksum(index: u64, payload: &[u8]) -> [u8; 16] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&index.to_le_bytes()).update(&(payload.len() as u32).to_le_bytes()).update(payload);
    let mut out = [0; 16];
    out.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
    out
}

/// Writes a log as a run goes.
pub struct LogWriter {
    file: String,
    out: BufWriter<File>,
    /// Encoded entries not yet in a frame.
    entries: Vec<u8>,
    /// Frames written so far, the header's included.
    frames: u64,
}

impl LogWriter {
    /// Starts the log at `path` for a run of `scenario` from its first step.
    pub fn create(path: &Path, scenario: &Scenario) -> Result<Self, LogError> {
        let file = path.display().to_string();
        let io = |cause| LogError::Io { file: file.clone(), cause };
        let mut out = BufWriter::new(File::create(path).map_err(io)?);
        out.write_all(MAGIC).map_err(io)?;
        out.write_all(&LOG_VERSION.to_le_bytes()).map_err(io)?;
        let mut writer = LogWriter { file, out, entries: Vec::new(), frames: 0 };
        let header = postcard::to_stdvec(&Header { scenario: scenario.clone() })
            .map_err(|e| writer.damaged(format!("cannot encode the header: {e}")))?;
        writer.entries = header;
        writer.write_frame()?;
        Ok(writer)
    }

    /// Continues the log at `path` (of a run of `scenario`) after its last step, which must be
    /// step `at`: a run resumed from a snapshot of step `at` goes on recording where it left off.
    pub fn append(path: &Path, scenario: &Scenario, at: u64) -> Result<Self, LogError> {
        let mut reader = LogReader::open(path)?;
        let file = path.display().to_string();
        if reader.scenario() != scenario {
            return Err(LogError::Damaged {
                file,
                frame: 0,
                why: "it records another scenario than the run's".into(),
            });
        }
        let mut steps = 0;
        for entry in &mut reader {
            if let Entry::Step(_) = entry? {
                steps += 1;
            }
        }
        if steps != at {
            return Err(LogError::Damaged {
                file,
                frame: reader.frame,
                why: format!("it ends at step {steps}, the run resumes at step {at}"),
            });
        }
        let io = |cause| LogError::Io { file: file.clone(), cause };
        let out = BufWriter::new(std::fs::OpenOptions::new().append(true).open(path).map_err(io)?);
        Ok(LogWriter { file, out, entries: Vec::new(), frames: reader.frame })
    }

    /// Records a step whose actions, in agent order, are `actions`.
    pub fn step(&mut self, actions: &[Action]) -> Result<(), LogError> {
        self.push(&EntryRef::Step(actions))
    }

    /// Records a parameter set before the next step.
    pub fn param(&mut self, param: &Param, value: f32) -> Result<(), LogError> {
        self.push(&EntryRef::Param(param, value))
    }

    /// Records the reward schedule replaced before the next step.
    pub fn task(&mut self, task: &Schedule) -> Result<(), LogError> {
        self.push(&EntryRef::Task(task))
    }

    /// Writes the entries so far into a frame and to the file.
    pub fn flush(&mut self) -> Result<(), LogError> {
        if !self.entries.is_empty() {
            self.write_frame()?;
        }
        self.out.flush().map_err(|cause| LogError::Io { file: self.file.clone(), cause })
    }

    fn push(&mut self, entry: &EntryRef<'_>) -> Result<(), LogError> {
        let entries = std::mem::take(&mut self.entries);
        self.entries =
            postcard::to_extend(entry, entries).map_err(|e| self.damaged(format!("cannot encode: {e}")))?;
        if self.entries.len() >= FRAME_ENTRIES { self.write_frame() } else { Ok(()) }
    }

    fn write_frame(&mut self) -> Result<(), LogError> {
        let io = |cause| LogError::Io { file: self.file.clone(), cause };
        let mut encoder = DeflateEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(&self.entries).map_err(io)?;
        let payload = encoder.finish().map_err(io)?;
        if payload.len() > MAX_FRAME {
            return Err(self.damaged(format!("a frame of {} bytes", payload.len())));
        }
        self.out.write_all(&(payload.len() as u32).to_le_bytes()).map_err(io)?;
        self.out.write_all(&checksum(self.frames, &payload)).map_err(io)?;
        self.out.write_all(&payload).map_err(io)?;
        self.frames += 1;
        self.entries.clear();
        Ok(())
    }

    fn damaged(&self, why: String) -> LogError {
        LogError::Damaged { file: self.file.clone(), frame: self.frames, why }
    }
}

impl Drop for LogWriter {
    /// Writes what is left, so that a log dropped without [`LogWriter::flush`] (a Python world
    /// collected, a front end unwinding) is still complete up to its last step.
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// Reads a log back, an entry at a time, a frame in memory.
pub struct LogReader {
    file: String,
    input: BufReader<File>,
    header: Header,
    /// The decompressed entries of the current frame, and how far they have been read.
    entries: Vec<u8>,
    at: usize,
    /// The index of the next frame.
    frame: u64,
}

impl LogReader {
    /// Opens the log at `path` and reads its header.
    pub fn open(path: &Path) -> Result<Self, LogError> {
        let file = path.display().to_string();
        let io = |cause| LogError::Io { file: file.clone(), cause };
        let mut input = BufReader::new(File::open(path).map_err(io)?);
        let mut start = [0u8; 12];
        let mut read = 0;
        while read < start.len() {
            match input.read(&mut start[read..]).map_err(io)? {
                0 => break,
                n => read += n,
            }
        }
        if read < 8 || &start[..8] != MAGIC {
            return Err(LogError::NotALog { file });
        }
        let version = u32::from_le_bytes(start[8..12].try_into().unwrap_or_default());
        if read < 12 || version != LOG_VERSION {
            return Err(LogError::Version { file, found: if read < 12 { 0 } else { version } });
        }
        let mut reader = LogReader {
            file,
            input,
            header: Header { scenario: placeholder() },
            entries: Vec::new(),
            at: 0,
            frame: 0,
        };
        if !reader.next_frame()? {
            return Err(reader.damaged("no header".into()));
        }
        let header: Header = postcard::from_bytes(&reader.entries)
            .map_err(|e| reader.damaged(format!("cannot decode the header: {e}")))?;
        reader.header = header;
        reader.entries.clear();
        Ok(reader)
    }

    /// The scenario the log records a run of.
    pub fn scenario(&self) -> &Scenario {
        &self.header.scenario
    }

    /// Reads the next frame into `entries`; false at the end of the file.
    fn next_frame(&mut self) -> Result<bool, LogError> {
        let mut len = [0u8; 4];
        match self.input.read(&mut len[..1]) {
            Ok(0) => return Ok(false),
            Ok(_) => {}
            Err(cause) => return Err(LogError::Io { file: self.file.clone(), cause }),
        }
        self.input.read_exact(&mut len[1..]).map_err(|_| self.damaged("cut short".into()))?;
        let len = u32::from_le_bytes(len) as usize;
        if len > MAX_FRAME {
            return Err(self.damaged(format!("a frame of {len} bytes")));
        }
        let mut sum = [0u8; 16];
        self.input.read_exact(&mut sum).map_err(|_| self.damaged("cut short".into()))?;
        let mut payload = Vec::new();
        (&mut self.input)
            .take(len as u64)
            .read_to_end(&mut payload)
            .map_err(|_| self.damaged("cut short".into()))?;
        if payload.len() < len {
            return Err(self.damaged("cut short".into()));
        }
        if checksum(self.frame, &payload) != sum {
            return Err(self.damaged("checksum mismatch".into()));
        }
        self.entries.clear();
        DeflateDecoder::new(payload.as_slice())
            .take(MAX_FRAME as u64 + 1)
            .read_to_end(&mut self.entries)
            .map_err(|e| self.damaged(format!("cannot decompress: {e}")))?;
        if self.entries.len() > MAX_FRAME {
            return Err(self.damaged("a frame too large once decompressed".into()));
        }
        self.at = 0;
        self.frame += 1;
        Ok(true)
    }

    fn damaged(&self, why: String) -> LogError {
        LogError::Damaged { file: self.file.clone(), frame: self.frame, why }
    }
}

impl Iterator for LogReader {
    type Item = Result<Entry, LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.at >= self.entries.len() {
            match self.next_frame() {
                Ok(true) if self.entries.is_empty() => {
                    return Some(Err(LogError::Damaged {
                        file: self.file.clone(),
                        frame: self.frame - 1,
                        why: "an empty frame".into(),
                    }));
                }
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => return Some(Err(e)),
            }
        }
        Some(match postcard::take_from_bytes::<Entry>(&self.entries[self.at..]) {
            Ok((entry, rest)) => {
                self.at = self.entries.len() - rest.len();
                Ok(entry)
            }
            Err(e) => {
                self.at = self.entries.len();
                Err(LogError::Damaged {
                    file: self.file.clone(),
                    frame: self.frame - 1,
                    why: format!("cannot decode an entry: {e}"),
                })
            }
        })
    }
}

/// A scenario to hold the place of the header's until it is read.
fn placeholder() -> Scenario {
    let text = r#"Scenario(items: [Item(name: "none", scent: [0], color: [0])], vision: (agent_color: [0]))"#;
    match Scenario::parse(text, "placeholder") {
        Ok(s) => s,
        Err(e) => unreachable!("a fixed, valid scenario: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::{Move, Turn};

    fn scenario() -> Scenario {
        let text = r#"Scenario(
            world: (patch_size: 8, mcmc_iterations: 100),
            items: [Item(name: "bean", scent: [1], color: [1], intensity: Constant(-2))],
            vision: (range: 2, agent_color: [0]),
            agents: [Agents(count: 2, policy: External)],
        )"#;
        Scenario::parse(text, "tiny.ron").expect("valid")
    }

    fn path(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("beanworld-log-{}-{name}.actions", std::process::id()))
    }

    /// Writes `steps` steps (alternating actions, a parameter set at step 3) and returns the
    /// entries written.
    fn written(path: &Path, steps: usize) -> Vec<Entry> {
        let s = scenario();
        let mut log = LogWriter::create(path, &s).expect("created");
        let mut out = Vec::new();
        let forward = Action::Move { direction: Move::Forward, steps: 1 };
        for t in 0..steps {
            if t == 3 {
                let p = Param::Intensity { item: 0, arg: 0 };
                log.param(&p, -1.5).expect("param");
                out.push(Entry::Param(p, -1.5));
            }
            let actions = [forward, Action::Turn(if t % 2 == 0 { Turn::Left } else { Turn::Right })];
            log.step(&actions).expect("step");
            out.push(Entry::Step(actions.to_vec()));
        }
        log.flush().expect("flushed");
        out
    }

    #[test]
    fn a_log_reads_back_what_was_written_and_can_be_continued() {
        let p = path("round");
        // Enough steps for several frames.
        let mut expected = written(&p, 30_000);
        let reader = LogReader::open(&p).expect("a log");
        assert_eq!(reader.scenario(), &scenario());
        let read: Vec<Entry> = reader.collect::<Result<_, _>>().expect("entries");
        assert!(read == expected, "the same entries");
        assert!(std::fs::metadata(&p).expect("file").len() < 60_000, "a byte an action or less");
        let mut log = LogWriter::append(&p, &scenario(), 30_000).expect("continued");
        log.step(&[Action::NoOp, Action::NoOp]).expect("step");
        log.flush().expect("flushed");
        expected.push(Entry::Step(vec![Action::NoOp, Action::NoOp]));
        let read: Vec<Entry> =
            LogReader::open(&p).expect("a log").collect::<Result<_, _>>().expect("entries");
        assert!(read == expected, "and the step after");
        let e = LogWriter::append(&p, &scenario(), 10).err().expect("refused").to_string();
        assert!(e.contains("it ends at step 30001, the run resumes at step 10"), "{e}");
        std::fs::remove_file(p).ok();
    }

    #[test]
    fn any_byte_added_flipped_or_removed_is_refused() {
        let p = path("bytes");
        written(&p, 100);
        let bytes = std::fs::read(&p).expect("read");
        let refuse = |b: &[u8]| -> String {
            std::fs::write(&p, b).expect("write");
            match LogReader::open(&p) {
                Err(e) => e.to_string(),
                Ok(reader) => {
                    reader.filter_map(Result::err).map(|e| e.to_string()).next().unwrap_or_default()
                }
            }
        };
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(refuse(&longer).contains("damaged"), "{}", refuse(&longer));
        for cut in [bytes.len() - 1, bytes.len() / 2, 20, 10] {
            assert!(!refuse(&bytes[..cut]).is_empty(), "cut at {cut} is refused");
        }
        for at in (12..bytes.len()).step_by(7) {
            let mut flipped = bytes.clone();
            flipped[at] ^= 0x10;
            assert!(refuse(&flipped).contains("damaged"), "a flipped byte at {at} is refused");
        }
        assert!(refuse(b"BEANSNAP\x01\0\0\0").contains("not a beanworld action log"));
        let mut other = bytes.clone();
        other[8..12].copy_from_slice(&9u32.to_le_bytes());
        assert!(refuse(&other).contains("format version 9, but this build reads version 1"));
        std::fs::remove_file(p).ok();
    }
}
