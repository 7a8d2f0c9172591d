//! Snapshots: the whole state of a simulation — scenario, clock, agents with their random
//! streams, every patch — in one file, so that loading and continuing is bit-identical to never
//! having stopped. Front ends may add their own state (a running trajectory hash, metric windows)
//! as `extra`.
//!
//! File layout: the magic `BEANSNAP`, the format version (`u32` LE), the payload length (`u64`
//! LE), the BLAKE3 hash of the payload (32 bytes), then the payload (postcard). A file that is
//! not a snapshot, of another format version, truncated, damaged, or made from another scenario is
//! refused with a message that says which.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::dynamics::Param;
use crate::geometry::PatchCoord;
use crate::scenario::Scenario;
use crate::simulation::{Agent, Simulation};
use crate::task::Schedule;
use crate::world::{Patch, Record, World};

const MAGIC: &[u8; 8] = b"BEANSNAP";
/// The snapshot format this build writes and reads.
pub const FORMAT_VERSION: u32 = 3;
const HEADER: usize = 8 + 4 + 8 + 32;

#[derive(Serialize, serde::Deserialize)]
struct Payload<E> {
    scenario: Scenario,
    time: u64,
    agents: Vec<Agent>,
    patches: Vec<(PatchCoord, Patch)>,
    records: Vec<(PatchCoord, Record)>,
    overrides: Vec<(Param, f32)>,
    task: Schedule,
    extra: E,
}

#[derive(Serialize)]
struct PayloadRef<'a, E> {
    scenario: &'a Scenario,
    time: u64,
    agents: &'a [Agent],
    patches: Vec<(PatchCoord, &'a Patch)>,
    records: Vec<(PatchCoord, &'a Record)>,
    overrides: &'a [(Param, f32)],
    task: &'a Schedule,
    extra: &'a E,
}

/// Why a snapshot could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The file could not be read or written.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// The cause.
        source: std::io::Error,
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
        found: usize,
        /// Bytes expected.
        expected: usize,
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
         (world, agents, task or seed differ); resume with the scenario it was made from"
    )]
    OtherScenario {
        /// The file.
        file: String,
        /// The scenario named in the snapshot.
        found: String,
        /// The scenario given.
        expected: String,
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
    let io = |source| SnapshotError::Io { file: file.clone(), source };
    let payload = PayloadRef {
        scenario: sim.scenario(),
        time: sim.time(),
        agents: sim.agents(),
        patches: sim.world().patches_sorted(),
        records: sim.world().records_sorted(),
        overrides: sim.overrides(),
        task: sim.task(),
        extra,
    };
    let tmp = path.with_extension("snap.partial");
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    f.write_all(&[0; HEADER]).map_err(io)?;
    let mut out = Hashing { inner: std::io::BufWriter::new(&mut f), hasher: blake3::Hasher::new(), len: 0 };
    postcard::to_io(&payload, &mut out)
        .map_err(|e| SnapshotError::Damaged { file: file.clone(), why: format!("cannot encode: {e}") })?;
    out.flush().map_err(io)?;
    let (hash, len) = (out.hasher.finalize(), out.len);
    drop(out);
    let mut header = Vec::with_capacity(HEADER);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    header.extend_from_slice(&len.to_le_bytes());
    header.extend_from_slice(hash.as_bytes());
    f.seek(SeekFrom::Start(0)).map_err(io)?;
    f.write_all(&header).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// Reads a snapshot made from `scenario` (same world, agents, task and seed) and returns the
/// simulation and the front end's `extra`.
pub fn load<E: DeserializeOwned>(path: &Path, scenario: &Scenario) -> Result<(Simulation, E), SnapshotError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| SnapshotError::Io { file: file.clone(), source })?;
    if bytes.len() < 8 || &bytes[..8] != MAGIC {
        return Err(SnapshotError::NotASnapshot { file });
    }
    if bytes.len() < HEADER {
        return Err(SnapshotError::Truncated { file, found: bytes.len(), expected: HEADER });
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().unwrap_or_default());
    if version != FORMAT_VERSION {
        return Err(SnapshotError::Version { file, found: version });
    }
    let len = u64::from_le_bytes(bytes[12..20].try_into().unwrap_or_default());
    let expected = usize::try_from(len).ok().and_then(|l| l.checked_add(HEADER)).unwrap_or(usize::MAX);
    if bytes.len() < expected {
        return Err(SnapshotError::Truncated { file, found: bytes.len(), expected });
    }
    let payload = &bytes[HEADER..expected];
    if blake3::hash(payload).as_bytes() != &bytes[20..52] {
        return Err(SnapshotError::Damaged { file, why: "checksum mismatch".into() });
    }
    let p: Payload<E> = postcard::from_bytes(payload)
        .map_err(|e| SnapshotError::Damaged { file: file.clone(), why: format!("cannot decode: {e}") })?;
    if p.scenario.config != scenario.config
        || p.scenario.seed != scenario.seed
        || p.scenario.task != scenario.task
        || p.scenario.agents != scenario.agents
        || p.scenario.dynamics != scenario.dynamics
        || p.scenario.teacher != scenario.teacher
    {
        return Err(SnapshotError::OtherScenario {
            file,
            found: p.scenario.name,
            expected: scenario.name.clone(),
        });
    }
    let config = Arc::new(p.scenario.config.clone());
    let world = World::from_parts(config, p.scenario.seed, p.patches, p.records);
    let mut sim = Simulation::from_parts(Arc::new(p.scenario), world, p.agents, p.time);
    sim.restore_controls(p.overrides, p.task);
    Ok((sim, p.extra))
}
