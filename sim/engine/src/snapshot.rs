//! Snapshots: a header and the simulation's [`State`], so that loading and continuing is
//! bit-identical to never having stopped. Front ends may add their own state (a running
//! trajectory hash, metric windows, learners) as `extra`. The tables are not saved: they are
//! rebuilt from the scenario the snapshot is loaded with, which must be the one it was made from.
//!
//! File layout: the magic `BEANSNAP`; the format version (`u32` LE); the header's length (`u32`
//! LE) and the [`Header`] (postcard); the payload's length (`u64` LE); a BLAKE3 checksum of the
//! header, the payload and the payload's length (32 bytes); then the payload, `(State, extra)`
//! in postcard. A file that is not a snapshot, of another format version, truncated, longer than
//! it says, damaged, or made from another scenario is refused with a message that says which.
//!
//! Format 5 (this one) is format 4 with the sums of the metrics interval under way in the extra
//! of `beanworld run`; format 4 saved the [`State`] as 5 does; format 3 saved the scenario and the
//! parts of the simulation listed one by one. Older formats are refused with both versions named.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::scenario::Scenario;
use crate::simulation::Simulation;
use crate::state::State;

const MAGIC: &[u8; 8] = b"BEANSNAP";
/// The snapshot format this build writes and reads.
pub const FORMAT_VERSION: u32 = 6;
/// The most bytes a header may take (a scenario name and a few digests need far fewer).
const MAX_HEADER: u32 = 1 << 16;

/// What a snapshot says about itself before its state: where it comes from and when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// The name of the scenario it was made from.
    pub scenario: String,
    /// The world seed.
    pub seed: u64,
    /// The step it was taken after.
    pub time: u64,
    /// BLAKE3 digests of the scenario's parts, to name what differs when another scenario is
    /// given: world (configuration and items), agents, task, dynamics, teacher.
    pub parts: [[u8; 32]; 5],
    /// The item types' names, in type order, and the agents placed at the start: to say how the
    /// items and agents of another scenario differ.
    pub items: Vec<String>,
    /// The number of agents placed at the start.
    pub agents: u64,
}

/// The names of [`Header::parts`], in order.
const PARTS: [&str; 5] = ["world", "agents", "task", "dynamics", "teacher"];

impl Header {
    fn of(scenario: &Scenario, time: u64) -> Self {
        fn digest<T: Serialize>(part: &T) -> [u8; 32] {
            let mut hasher = blake3::Hasher::new();
            // Hashing cannot fail, and every scenario part encodes.
            postcard::to_io(part, &mut hasher).ok();
            *hasher.finalize().as_bytes()
        }
        Header {
            scenario: scenario.name.clone(),
            seed: scenario.seed,
            time,
            parts: [
                digest(&scenario.config),
                digest(&scenario.agents),
                digest(&scenario.task),
                digest(&scenario.dynamics),
                digest(&scenario.teacher),
            ],
            items: scenario.config.items.iter().map(|t| t.name.clone()).collect(),
            agents: scenario.agents.iter().map(|g| u64::from(g.count)).sum(),
        }
    }

    /// What differs between the scenario this header was made from and `other`'s, in words;
    /// empty if nothing does.
    fn differences(&self, other: &Header) -> Vec<String> {
        let mut out: Vec<String> = PARTS
            .iter()
            .zip(self.parts.iter().zip(&other.parts))
            .filter(|(_, (a, b))| a != b)
            .map(|(&part, _)| match part {
                "world" if self.items != other.items => format!(
                    "world (items {} in the snapshot, {} here)",
                    self.items.join(", "),
                    other.items.join(", ")
                ),
                "agents" if self.agents != other.agents => {
                    format!("agents ({} in the snapshot, {} here)", self.agents, other.agents)
                }
                "agents" => "agents (their places or policies)".to_string(),
                "world" => "world (its configuration)".to_string(),
                _ => part.to_string(),
            })
            .collect();
        if self.seed != other.seed {
            out.push(format!("seed ({} in the snapshot, {} here)", self.seed, other.seed));
        }
        out
    }
}

/// Why a snapshot could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The file could not be read or written.
    #[error("{file}: {cause}")]
    Io {
        /// The file.
        file: String,
        /// The cause (written in the message, so not an error source: a chain
        /// printed with `{:#}` shows it once).
        cause: std::io::Error,
    },
    /// The file does not start like a snapshot.
    #[error("{file}: not a beanworld snapshot")]
    NotASnapshot {
        /// The file.
        file: String,
    },
    /// Another format version.
    #[error("{file}: snapshot format version {found}, but this build reads version {FORMAT_VERSION}")]
    Version {
        /// The file.
        file: String,
        /// The version in the file.
        found: u32,
    },
    /// Shorter than its header says.
    #[error("{file}: the snapshot is truncated ({found} of {expected} bytes)")]
    Truncated {
        /// The file.
        file: String,
        /// Bytes present.
        found: u64,
        /// Bytes expected.
        expected: u64,
    },
    /// The payload does not match its checksum, or does not decode.
    #[error("{file}: the snapshot is damaged ({why})")]
    Damaged {
        /// The file.
        file: String,
        /// What failed.
        why: String,
    },
    /// Made from another scenario (or seed).
    #[error(
        "{file}: the snapshot was made from scenario \"{found}\" with other settings than \"{expected}\" \
         ({} differ); resume with the scenario it was made from", differences.join(", ")
    )]
    OtherScenario {
        /// The file.
        file: String,
        /// The scenario named in the snapshot.
        found: String,
        /// The scenario given.
        expected: String,
        /// The parts that differ (world, agents, task, dynamics, teacher, seed).
        differences: Vec<String>,
    },
}

/// Passes bytes on to a file while hashing and counting them.
struct Hashing<W: Write> {
    inner: W,
    hasher: blake3::Hasher,
    len: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Writes `sim` and `extra` to `path` (through a temporary file, so a crash never leaves half a
/// snapshot under the final name). The payload streams to the file: a snapshot never needs a
/// copy of itself in memory.
pub fn save<E: Serialize>(sim: &Simulation, extra: &E, path: &Path) -> Result<(), SnapshotError> {
    let file = path.display().to_string();
    let io = |cause| SnapshotError::Io { file: file.clone(), cause };
    let encode = |e: postcard::Error| SnapshotError::Damaged {
        file: file.clone(),
        why: format!("cannot encode: {e}"),
    };
    let header = postcard::to_stdvec(&Header::of(sim.scenario(), sim.time())).map_err(encode)?;
    let tmp = path.with_extension("snap.partial");
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    f.write_all(MAGIC).map_err(io)?;
    f.write_all(&FORMAT_VERSION.to_le_bytes()).map_err(io)?;
    f.write_all(&(header.len() as u32).to_le_bytes()).map_err(io)?;
    f.write_all(&header).map_err(io)?;
    let lengths_at = f.stream_position().map_err(io)?;
    f.write_all(&[0; 8 + 32]).map_err(io)?;
    let mut hasher = blake3::Hasher::new();
    hasher.update(&header);
    let mut out = Hashing { inner: std::io::BufWriter::new(&mut f), hasher, len: 0 };
    postcard::to_io(&(sim.state(), extra), &mut out).map_err(encode)?;
    out.flush().map_err(io)?;
    let len = out.len;
    let hash = out.hasher.update(&len.to_le_bytes()).finalize();
    drop(out);
    f.seek(SeekFrom::Start(lengths_at)).map_err(io)?;
    f.write_all(&len.to_le_bytes()).map_err(io)?;
    f.write_all(hash.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// The parts of a snapshot file, checked against each other but not yet decoded.
struct Parts<'a> {
    header: Header,
    payload: &'a [u8],
}

/// Checks the layout and checksum of a snapshot's bytes.
fn split<'a>(file: &str, bytes: &'a [u8]) -> Result<Parts<'a>, SnapshotError> {
    let file = file.to_string();
    let damaged = |why: String| SnapshotError::Damaged { file: file.clone(), why };
    if bytes.len() < 8 || &bytes[..8] != MAGIC {
        return Err(SnapshotError::NotASnapshot { file });
    }
    let truncated =
        |expected: u64| SnapshotError::Truncated { file: file.clone(), found: bytes.len() as u64, expected };
    let word = |at: usize, len: usize| bytes.get(at..at + len).ok_or_else(|| truncated((at + len) as u64));
    let version = u32::from_le_bytes(word(8, 4)?.try_into().unwrap_or_default());
    if version != FORMAT_VERSION {
        return Err(SnapshotError::Version { file, found: version });
    }
    let header_len = u32::from_le_bytes(word(12, 4)?.try_into().unwrap_or_default());
    if header_len > MAX_HEADER {
        return Err(damaged(format!("a header of {header_len} bytes")));
    }
    let header_bytes = word(16, header_len as usize)?;
    let at = 16 + header_len as usize;
    let payload_len = u64::from_le_bytes(word(at, 8)?.try_into().unwrap_or_default());
    let checksum = word(at + 8, 32)?;
    let start = (at + 40) as u64;
    let expected =
        start.checked_add(payload_len).ok_or_else(|| damaged(format!("a payload of {payload_len} bytes")))?;
    let found = bytes.len() as u64;
    if found < expected {
        return Err(truncated(expected));
    }
    if found > expected {
        return Err(damaged(format!("{} bytes after its end", found - expected)));
    }
    let payload = &bytes[start as usize..];
    let mut hasher = blake3::Hasher::new();
    hasher.update(header_bytes).update(payload).update(&payload_len.to_le_bytes());
    if hasher.finalize().as_bytes() != checksum {
        return Err(damaged("checksum mismatch".into()));
    }
    let header =
        postcard::from_bytes(header_bytes).map_err(|e| damaged(format!("cannot decode its header: {e}")))?;
    Ok(Parts { header, payload })
}

/// Reads a snapshot's header (after checking the whole file), e.g. to learn its seed.
pub fn header(path: &Path) -> Result<Header, SnapshotError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|cause| SnapshotError::Io { file: file.clone(), cause })?;
    Ok(split(&file, &bytes)?.header)
}

/// Reads a snapshot made from `scenario` (same world, agents, task, dynamics, teacher and seed)
/// and returns the simulation and the front end's `extra`.
pub fn load<E: DeserializeOwned>(path: &Path, scenario: &Scenario) -> Result<(Simulation, E), SnapshotError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|cause| SnapshotError::Io { file: file.clone(), cause })?;
    let Parts { header, payload } = split(&file, &bytes)?;
    let differences = header.differences(&Header::of(scenario, header.time));
    if !differences.is_empty() {
        return Err(SnapshotError::OtherScenario {
            file,
            found: header.scenario,
            expected: scenario.name.clone(),
            differences,
        });
    }
    let (state, extra): (State, E) = postcard::from_bytes(payload)
        .map_err(|e| SnapshotError::Damaged { file: file.clone(), why: format!("cannot decode: {e}") })?;
    let sim = Simulation::from_state(Arc::new(scenario.clone()), state).map_err(|why| {
        SnapshotError::Damaged { file, why: format!("its state does not fit the scenario: {why}") }
    })?;
    Ok((sim, extra))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::{Action, Move};

    fn scenario(seed: u64) -> Scenario {
        let text = format!(
            r#"Scenario(
                seed: {seed},
                world: (patch_size: 8, mcmc_iterations: 500),
                items: [Item(name: "bean", scent: [1], color: [1], intensity: Constant(-2))],
                vision: (range: 2, agent_color: [0]),
                agents: [Agents(count: 2, policy: External)],
            )"#
        );
        Scenario::parse(&text, "tiny.ron").expect("valid")
    }

    fn saved(name: &str) -> (std::path::PathBuf, Simulation) {
        let mut sim = Simulation::new(scenario(5)).expect("placed");
        let forward = Action::Move { direction: Move::Forward, steps: 1 };
        for _ in 0..20 {
            sim.step(&[forward, forward]).expect("allowed");
        }
        let path = std::env::temp_dir().join(format!("beanworld-snap-{}-{name}.snap", std::process::id()));
        save(&sim, &7u8, &path).expect("saved");
        (path, sim)
    }

    #[test]
    fn a_snapshot_restores_the_same_state_and_says_where_it_comes_from() {
        let (path, sim) = saved("round");
        let (loaded, extra): (Simulation, u8) = load(&path, sim.scenario()).expect("loaded");
        assert_eq!(extra, 7);
        assert_eq!(loaded.state_digest(), sim.state_digest());
        assert_eq!(loaded.agents(), sim.agents());
        let header = header(&path).expect("header");
        assert_eq!((header.seed, header.time), (5, 20));
        assert_eq!(header.scenario, sim.scenario().name);
        std::fs::remove_file(path).ok();
    }

    #[test]
    fn any_byte_added_flipped_or_removed_is_refused() {
        let (path, sim) = saved("bytes");
        let bytes = std::fs::read(&path).expect("read");
        let refuse = |b: &[u8]| {
            std::fs::write(&path, b).expect("write");
            load::<u8>(&path, sim.scenario()).err().map(|e| e.to_string()).unwrap_or_default()
        };
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(refuse(&longer).contains("1 bytes after its end"), "{}", refuse(&longer));
        assert!(refuse(&bytes[..bytes.len() - 1]).contains("truncated"));
        for at in [20, bytes.len() / 2, bytes.len() - 1] {
            let mut flipped = bytes.clone();
            flipped[at] ^= 1;
            assert!(!refuse(&flipped).is_empty(), "a flipped byte at {at} is refused");
        }
        let mut old = bytes.clone();
        old[8..12].copy_from_slice(&(FORMAT_VERSION - 1).to_le_bytes());
        let e = refuse(&old);
        let (was, is) = (FORMAT_VERSION - 1, FORMAT_VERSION);
        assert!(
            e.contains(&format!("format version {was}")) && e.contains(&format!("reads version {is}")),
            "{e}"
        );
        std::fs::remove_file(path).ok();
    }

    #[test]
    fn another_scenario_is_refused_naming_what_differs() {
        let (path, _) = saved("other");
        let e = load::<u8>(&path, &scenario(6)).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("seed (5 in the snapshot, 6 here) differ"), "{e}");
        let mut fewer = scenario(5);
        fewer.agents[0].count = 1;
        let e = load::<u8>(&path, &fewer).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("(agents (2 in the snapshot, 1 here) differ)"), "{e}");
        let mut renamed = scenario(5);
        renamed.config.items[0].name = "pea".into();
        let e = load::<u8>(&path, &renamed).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("world (items bean in the snapshot, pea here)"), "{e}");
        std::fs::remove_file(path).ok();
    }
}
