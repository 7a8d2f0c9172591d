//! Where the records of evicted changed patches are kept: in memory up to
//! [`MAX_RECORD_BYTES`], and beyond that the least recently evicted of them in an embedded
//! database file (redb), so that a never-ending run holds flat memory however much of the world
//! its agents have changed (DESIGN.md "Never-ending means bounded").
//!
//! The file is scratch space, never state: a snapshot writes every record into itself (in
//! coordinate order, whichever side of the cap each one is on, so the bytes and the state digest
//! do not depend on the cap or on what spilled), and a resumed run starts a fresh file. It is
//! opened at the first spill: `world.redb` in the folder the front end named
//! ([`World::keep_records_in`]; `beanworld run` names its output folder), else a file in the
//! system's temporary folder (which may be memory, hence the folder), removed as soon as it is
//! open. Either way it is removed when the world is dropped.
//!
//! Invariant: a coordinate has at most one live record, either in memory or in the file. A
//! record read back from the file (an agent came back) is only marked dead there; dead entries
//! are deleted with the next spill, in the same transaction, and the file is compacted (pages
//! packed full) when it is over twice the size of its live entries. Every entry carries a
//! checksum, so a damaged file is reported as such rather than restoring something else.
//!
//! An entry is small (a patch an agent walked through is a collected item or two: about 10 bytes
//! of changes), so what the file spends on each counts: the key is the coordinate packed into 8
//! bytes (which holds any patch within 2³¹ patches of the origin; a record farther out stays in
//! memory) and the checksum takes 4.
//!
//! A clone of a world keeps all its records in memory and has no file until it spills on its own
//! (in the temporary folder): two worlds never share a file, and cloning a world that spilled
//! costs the records' memory. (Nothing clones a world in a long run.)
//!
//! Failures of the file (disk full, a folder gone, damage) never panic and never lose a record,
//! and make the world faulty ([`World::fault`]): every step from the one that met it fails with
//! the reason. A failed spill keeps the records in memory, so the state stays exact and can be
//! saved. A failed read leaves the patch out of memory rather than restore anything else; the
//! world is then inexact, and a snapshot or digest of it is refused.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use redb::{CompactionMode, Database, ReadableDatabase, ReadableTable, TableDefinition};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::ser::{Error as _, SerializeSeq};
use serde::{Serialize, Serializer};

use super::{Record, World};
use crate::geometry::PatchCoord;

/// The most bytes the records of evicted changed patches take in memory before the least
/// recently evicted of them spill to the store's file. A spill takes them down to three quarters
/// of this, so the file is written in batches.
pub const MAX_RECORD_BYTES: usize = 2 << 20;

/// What a record costs in memory besides its items: its entries in the map and the eviction
/// order, and the allocator's rounding, roughly.
const ENTRY_BYTES: usize = 128;

/// What a coordinate marked dead in the file costs in memory.
const DEAD_BYTES: usize = 32;

/// The cache the store's file gets in memory (none in unit tests, so that they read the file).
const CACHE_BYTES: usize = if cfg!(test) { 0 } else { 1 << 20 };

/// Below this size the file is never compacted (smaller in unit tests).
const COMPACT_FLOOR: u64 = if cfg!(test) { 64 << 10 } else { 16 << 20 };

/// The file's name in the folder given to [`World::keep_records_in`].
pub const STORE_FILE: &str = "world.redb";

/// Records by [`key`], so that the file iterates in the order snapshots write them.
const TABLE: TableDefinition<u64, &[u8]> = TableDefinition::new("records");

/// Bytes of an entry's checksum.
const CHECKSUM: usize = 4;

/// What the file spends on an entry besides its value, once packed: its key and its place in the
/// page (a little more than redb's 8-byte key and 4-byte offset).
const PACKED_ENTRY: u64 = 16;

/// Why the store of evicted patches failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The file could not be created, written or read.
    #[error("{file}: the store of evicted patches failed: {why}")]
    Io {
        /// The file.
        file: String,
        /// What failed.
        why: String,
    },
    /// An entry does not match its checksum or does not decode.
    #[error("{file}: the store of evicted patches is damaged: the record of patch {coord} {why}")]
    Damaged {
        /// The file.
        file: String,
        /// The patch whose record is damaged.
        coord: PatchCoord,
        /// What is wrong with it.
        why: String,
    },
}

/// The records of evicted changed patches (see the module docs).
#[derive(Debug)]
pub(super) struct Records {
    /// Records in memory, with their place in `order`.
    memory: FxHashMap<PatchCoord, (u64, Record)>,
    /// The records in memory, least recently evicted first.
    order: BTreeMap<u64, PatchCoord>,
    next: u64,
    /// Bytes of `memory` (and of `dead` in the file), as counted against `cap`.
    bytes: usize,
    /// The most bytes kept in memory ([`MAX_RECORD_BYTES`] unless a front end says otherwise).
    cap: usize,
    /// Where the file goes (`None`: the temporary folder).
    dir: Option<PathBuf>,
    file: Option<Spill>,
    /// The first failure of the file, if any (set once; also while a snapshot reads the file).
    fault: OnceLock<StoreError>,
    /// Whether a record that was needed could not be read: the world is then no longer what it
    /// would have been, and is not saved.
    inexact: bool,
}

impl Default for Records {
    fn default() -> Self {
        Records {
            memory: FxHashMap::default(),
            order: BTreeMap::new(),
            next: 0,
            bytes: 0,
            cap: MAX_RECORD_BYTES,
            dir: None,
            file: None,
            fault: OnceLock::new(),
            inexact: false,
        }
    }
}

/// The open file.
#[derive(Debug)]
struct Spill {
    db: Database,
    /// The same file, to learn its length.
    handle: File,
    /// Its path, for messages and removal.
    path: PathBuf,
    /// Whether the path still names it (and it is to be removed on drop).
    named: bool,
    /// Live entries.
    live: usize,
    /// Bytes of the live entries' values.
    live_bytes: u64,
    /// Entries read back, deleted with the next spill.
    dead: FxHashSet<PatchCoord>,
}

impl Drop for Spill {
    fn drop(&mut self) {
        if self.named {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The order records are written in: by row, then column.
fn order(c: PatchCoord) -> (i64, i64) {
    (c.y, c.x)
}

/// `c`'s key in the file, which sorts as [`order`] does: row and column as 32-bit integers with
/// their sign bits flipped. `None` for a patch too far out to have one (it stays in memory).
fn key(c: PatchCoord) -> Option<u64> {
    let flip = |v: i64| i32::try_from(v).ok().map(|v| u64::from(v as u32 ^ 0x8000_0000));
    Some(flip(c.y)? << 32 | flip(c.x)?)
}

/// The coordinate of a key.
fn coord(k: u64) -> PatchCoord {
    let unflip = |v: u64| i64::from((v as u32 ^ 0x8000_0000) as i32);
    PatchCoord::new(unflip(k), unflip(k >> 32))
}

fn cost(record: &Record) -> usize {
    record.bytes() + ENTRY_BYTES
}

/// A record as the file keeps it: postcard, then the first [`CHECKSUM`] bytes of its BLAKE3
/// hash.
fn encode(record: &Record) -> Vec<u8> {
    let mut bytes = match postcard::to_allocvec(record) {
        Ok(b) => b,
        Err(e) => unreachable!("a record always encodes: {e}"),
    };
    let sum = blake3::hash(&bytes);
    bytes.extend_from_slice(&sum.as_bytes()[..CHECKSUM]);
    bytes
}

impl Spill {
    fn name(&self) -> String {
        self.path.display().to_string()
    }

    fn io(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError::Io { file: self.name(), why: e.to_string() }
    }

    fn decode(&self, c: PatchCoord, bytes: &[u8]) -> Result<Record, StoreError> {
        let damaged = |why: &str| StoreError::Damaged { file: self.name(), coord: c, why: why.into() };
        let Some(split) = bytes.len().checked_sub(CHECKSUM) else { return Err(damaged("is truncated")) };
        let (body, sum) = bytes.split_at(split);
        if &blake3::hash(body).as_bytes()[..CHECKSUM] != sum {
            return Err(damaged("does not match its checksum"));
        }
        postcard::from_bytes(body).map_err(|e| damaged(&format!("does not decode: {e}")))
    }

    /// The live record of `c` in the file, if any, left there.
    fn get(&self, c: PatchCoord) -> Result<Option<Record>, StoreError> {
        let Some(k) = key(c).filter(|_| !self.dead.contains(&c)) else { return Ok(None) };
        let txn = self.db.begin_read().map_err(|e| self.io(e))?;
        let table = txn.open_table(TABLE).map_err(|e| self.io(e))?;
        match table.get(k).map_err(|e| self.io(e))? {
            Some(v) => self.decode(c, v.value()).map(Some),
            None => Ok(None),
        }
    }

    /// Whether the file holds a live record of `c`.
    fn contains(&self, c: PatchCoord) -> Result<bool, StoreError> {
        let Some(k) = key(c).filter(|_| self.live > 0 && !self.dead.contains(&c)) else { return Ok(false) };
        let txn = self.db.begin_read().map_err(|e| self.io(e))?;
        let table = txn.open_table(TABLE).map_err(|e| self.io(e))?;
        Ok(table.get(k).map_err(|e| self.io(e))?.is_some())
    }

    /// Deletes the dead entries and writes `out` (by key), in one transaction.
    fn write(&mut self, out: &[(u64, Vec<u8>)]) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(|e| self.io(e))?;
        let mut freed = 0;
        {
            let mut table = txn.open_table(TABLE).map_err(|e| self.io(e))?;
            // (A dead entry was read from the file, so it has a key.)
            let mut dead: Vec<u64> = self.dead.iter().filter_map(|&c| key(c)).collect();
            dead.sort_unstable();
            for k in dead {
                if let Some(v) = table.remove(k).map_err(|e| self.io(e))? {
                    freed += v.value().len() as u64;
                }
            }
            for (k, bytes) in out {
                table.insert(k, bytes.as_slice()).map_err(|e| self.io(e))?;
            }
        }
        txn.commit().map_err(|e| self.io(e))?;
        self.dead.clear();
        self.live += out.len();
        self.live_bytes = self.live_bytes - freed + out.iter().map(|(_, b)| b.len() as u64).sum::<u64>();
        Ok(())
    }

    /// Compacts the file, packing its pages full, if it is over twice the size of its live
    /// entries packed.
    fn compact_if_sparse(&mut self) -> Result<(), StoreError> {
        let len = self.handle.metadata().map_err(|e| self.io(e))?.len();
        let packed = self.live_bytes + self.live as u64 * PACKED_ENTRY;
        if len > COMPACT_FLOOR && len > 2 * packed {
            self.db.compact(CompactionMode::Maximum).map_err(|e| self.io(e))?;
        }
        Ok(())
    }
}

impl Records {
    /// How many records there are, in memory and in the file.
    pub(super) fn len(&self) -> usize {
        self.memory.len() + self.file.as_ref().map_or(0, |f| f.live)
    }

    /// How many of them are in memory.
    pub(super) fn in_memory(&self) -> usize {
        self.memory.len()
    }

    /// What they cost in memory, as counted against [`MAX_RECORD_BYTES`].
    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Items in the records in memory.
    pub(super) fn items_in_memory(&self) -> usize {
        self.memory.values().map(|(_, r)| r.len()).sum()
    }

    /// The length of the file (0 if none is open).
    pub(super) fn file_bytes(&self) -> u64 {
        self.file.as_ref().and_then(|f| f.handle.metadata().ok()).map_or(0, |m| m.len())
    }

    #[cfg(test)]
    fn store_path_is_temporary(&self) -> bool {
        self.file.as_ref().is_some_and(|f| !f.named && !f.path.exists())
    }

    /// The file's path, if one is open and still named.
    pub(super) fn file_path(&self) -> Option<&Path> {
        self.file.as_ref().filter(|f| f.named).map(|f| f.path.as_path())
    }

    pub(super) fn fault(&self) -> Option<&StoreError> {
        self.fault.get()
    }

    /// Keeps the first failure.
    fn fail(&self, e: StoreError) {
        let _ = self.fault.set(e);
    }

    /// Sets the most bytes kept in memory; the excess spills at the next eviction.
    pub(super) fn set_cap(&mut self, bytes: usize) {
        self.cap = bytes;
    }

    /// Whether some records have spilled to the file.
    pub(super) fn spills(&self) -> bool {
        self.file.is_some()
    }

    /// Whether `c` has a record in memory (the file not asked).
    pub(super) fn has_in_memory(&self, c: PatchCoord) -> bool {
        self.memory.contains_key(&c)
    }

    /// Whether `c` has a record (if the file cannot tell, it is taken to have one: the caller
    /// then samples what `c` was, which is right either way).
    pub(super) fn contains(&mut self, c: PatchCoord) -> bool {
        if self.memory.contains_key(&c) {
            return true;
        }
        let Some(file) = &self.file else { return false };
        match file.contains(c) {
            Ok(found) => found,
            Err(e) => {
                self.fail(e);
                true
            }
        }
    }

    /// Takes the record of `c` out of the store.
    pub(super) fn take(&mut self, c: PatchCoord) -> Result<Option<Record>, StoreError> {
        if let Some((seq, record)) = self.memory.remove(&c) {
            self.order.remove(&seq);
            self.bytes -= cost(&record);
            return Ok(Some(record));
        }
        let Some(file) = &mut self.file else { return Ok(None) };
        let found = file.get(c);
        if let Ok(Some(_)) = &found {
            file.dead.insert(c);
            file.live -= 1;
            self.bytes += DEAD_BYTES;
        }
        found.inspect_err(|e| {
            self.inexact = true;
            self.fail(e.clone());
        })
    }

    /// Marks the record of `c`, just taken, as not fitting the patch it records: the world is
    /// faulty and inexact, as when a record cannot be read.
    pub(super) fn refuse(&mut self, c: PatchCoord, why: String) {
        let file = self.file.as_ref().map_or_else(|| "memory".to_string(), Spill::name);
        self.inexact = true;
        self.fail(StoreError::Damaged { file, coord: c, why });
    }

    /// Keeps `record` as the record of `c` (which has none).
    pub(super) fn insert(&mut self, c: PatchCoord, record: Record) {
        self.bytes += cost(&record);
        self.order.insert(self.next, c);
        if let Some((old, replaced)) = self.memory.insert(c, (self.next, record)) {
            // Not expected (a patch in memory has no record), but the accounting stays right.
            self.order.remove(&old);
            self.bytes -= cost(&replaced);
        }
        self.next += 1;
    }

    /// Spills the least recently evicted records to the file while memory is over the cap.
    pub(super) fn settle(&mut self) {
        if self.bytes <= self.cap || self.fault().is_some() {
            return;
        }
        if let Err(e) = self.spill() {
            self.fail(e);
        }
    }

    fn spill(&mut self) -> Result<(), StoreError> {
        if self.file.is_none() {
            self.file = Some(open(self.dir.as_deref())?);
        }
        let target = self.cap / 4 * 3;
        let dead = self.file.as_ref().map_or(0, |f| f.dead.len());
        let mut bytes = self.bytes - dead * DEAD_BYTES;
        let mut out = Vec::new();
        for (_, &c) in self.order.iter() {
            if bytes <= target {
                break;
            }
            let Some(k) = key(c) else { continue };
            let (_, record) = &self.memory[&c];
            bytes -= cost(record);
            out.push((k, encode(record)));
        }
        let Some(file) = &mut self.file else { return Ok(()) };
        file.write(&out)?;
        for &(k, _) in &out {
            if let Some((seq, _)) = self.memory.remove(&coord(k)) {
                self.order.remove(&seq);
            }
        }
        self.bytes = bytes;
        file.compact_if_sparse()
    }

    /// Where the file goes from now on: `dir/world.redb`. An open file moves there with its
    /// records.
    pub(super) fn keep_in(&mut self, dir: &Path) -> Result<(), StoreError> {
        self.dir = Some(dir.to_path_buf());
        let Some(old) = self.file.take() else { return Ok(()) };
        let mut new = open(Some(dir))?;
        let copied = (|| -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
            let txn = old.db.begin_read().map_err(|e| old.io(e))?;
            let table = txn.open_table(TABLE).map_err(|e| old.io(e))?;
            let mut out = Vec::new();
            for entry in table.range(..).map_err(|e| old.io(e))? {
                let (k, v) = entry.map_err(|e| old.io(e))?;
                if !old.dead.contains(&coord(k.value())) {
                    out.push((k.value(), v.value().to_vec()));
                }
            }
            Ok(out)
        })();
        let copied = match copied {
            Ok(c) => c,
            Err(e) => {
                self.file = Some(old);
                return Err(e);
            }
        };
        self.bytes -= old.dead.len() * DEAD_BYTES;
        new.write(&copied)?;
        self.file = Some(new);
        Ok(())
    }

    /// Every record, in coordinate order, as snapshots write them.
    pub(super) fn sorted(&self) -> SortedRecords<'_> {
        SortedRecords(self)
    }

    /// The records in memory (after a snapshot is read: all of them), in no order.
    pub(super) fn in_memory_iter(&self) -> impl Iterator<Item = (&PatchCoord, &Record)> {
        self.memory.iter().map(|(c, (_, r))| (c, r))
    }

    /// Records read from a snapshot, all in memory until the next spill.
    pub(super) fn from_saved(saved: Vec<(PatchCoord, Record)>) -> Self {
        let mut records = Records::default();
        for (c, r) in saved {
            records.insert(c, r);
        }
        records
    }
}

/// Opens a new file in `dir` (or the temporary folder).
fn open(dir: Option<&Path>) -> Result<Spill, StoreError> {
    static FILES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let path = match dir {
        Some(dir) => dir.join(STORE_FILE),
        None => std::env::temp_dir().join(format!(
            "beanworld-records-{}-{}.redb",
            std::process::id(),
            FILES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        )),
    };
    let io =
        |e: &dyn std::fmt::Display| StoreError::Io { file: path.display().to_string(), why: e.to_string() };
    // A file left by a run that did not end cleanly holds nothing needed: its records are in
    // that run's snapshots.
    if dir.is_some() {
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&e)),
            _ => {}
        }
    }
    let file = File::options().read(true).write(true).create_new(true).open(&path).map_err(|e| io(&e))?;
    let handle = file.try_clone().map_err(|e| io(&e))?;
    let db = Database::builder()
        .set_cache_size(CACHE_BYTES)
        .create_with_backend(redb::backends::FileBackend::new(file))
        .map_err(|e| io(&e))?;
    let txn = db.begin_write().map_err(|e| io(&e))?;
    txn.open_table(TABLE).map_err(|e| io(&e))?;
    txn.commit().map_err(|e| io(&e))?;
    // A temporary file needs no name once open (where the system allows removing open files),
    // so nothing is left behind even if the process is killed.
    let named = dir.is_some() || std::fs::remove_file(&path).is_err();
    Ok(Spill { db, handle, path, named, live: 0, live_bytes: 0, dead: FxHashSet::default() })
}

/// A clone keeps every record in memory and opens no file until it spills itself: two worlds
/// never share a file. If the file cannot be read, the clone has the records it could read and
/// the fault.
impl Clone for Records {
    fn clone(&self) -> Self {
        let mut copy =
            Records { cap: self.cap, fault: self.fault.clone(), inexact: self.inexact, ..Records::default() };
        for &c in self.order.values() {
            copy.insert(c, self.memory[&c].1.clone());
        }
        if let Some(file) = &self.file
            && let Err(e) = each_in_file(file, |c, r| copy.insert(c, r))
        {
            copy.fail(e);
        }
        copy
    }
}

/// Calls `f` with every live record of the file, in coordinate order.
fn each_in_file(file: &Spill, mut f: impl FnMut(PatchCoord, Record)) -> Result<(), StoreError> {
    if file.live == 0 {
        return Ok(());
    }
    let txn = file.db.begin_read().map_err(|e| file.io(e))?;
    let table = txn.open_table(TABLE).map_err(|e| file.io(e))?;
    for entry in table.range(..).map_err(|e| file.io(e))? {
        let (k, v) = entry.map_err(|e| file.io(e))?;
        let c = coord(k.value());
        if !file.dead.contains(&c) {
            f(c, file.decode(c, v.value())?);
        }
    }
    Ok(())
}

/// Every record, memory and file merged in coordinate order (see [`Records::sorted`]).
pub(super) struct SortedRecords<'a>(&'a Records);

impl Serialize for SortedRecords<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let records = self.0;
        if let Some(e) = records.fault().filter(|_| records.inexact) {
            return Err(S::Error::custom(e));
        }
        let mut memory: Vec<(PatchCoord, &Record)> =
            records.memory.iter().map(|(c, (_, r))| (*c, r)).collect();
        memory.sort_unstable_by_key(|(c, _)| order(*c));
        let mut seq = s.serialize_seq(Some(records.len()))?;
        let mut memory = memory.into_iter().peekable();
        let mut written = 0;
        if let Some(file) = &records.file {
            let mut failed = None;
            let result = each_in_file(file, |c, r| {
                if failed.is_some() {
                    return;
                }
                while let Some((m, rec)) = memory.next_if(|(m, _)| order(*m) < order(c)) {
                    written += 1;
                    if let Err(e) = seq.serialize_element(&(m, rec)) {
                        failed = Some(e);
                        return;
                    }
                }
                written += 1;
                if let Err(e) = seq.serialize_element(&(c, &r)) {
                    failed = Some(e);
                }
            });
            if let Some(e) = failed {
                return Err(e);
            }
            if let Err(e) = result {
                records.fail(e.clone());
                return Err(S::Error::custom(e));
            }
        }
        for element in memory {
            written += 1;
            seq.serialize_element(&element)?;
        }
        if written != records.len() {
            // Never expected: the file and the count disagree, and a snapshot would not decode.
            return Err(S::Error::custom(format!("{written} records found, {} counted", records.len())));
        }
        seq.end()
    }
}

impl World {
    /// Keeps the store of evicted changed patches in `dir` (as `world.redb`) from now on, rather
    /// than in the temporary folder; a store already open moves there. `dir` must exist.
    pub fn keep_records_in(&mut self, dir: &Path) -> Result<(), StoreError> {
        self.records.keep_in(dir)
    }

    /// The first failure of the store of evicted patches, if any: the world is then no longer
    /// exact, and every step says so.
    pub fn fault(&self) -> Option<&StoreError> {
        self.records.fault()
    }

    /// How many records of evicted changed patches are in memory (the rest are in the store's
    /// file).
    pub fn records_in_memory(&self) -> usize {
        self.records.in_memory()
    }

    /// Sets the most bytes the records of evicted changed patches may take in memory
    /// ([`MAX_RECORD_BYTES`] by default); beyond it they spill to the store's file at the next
    /// eviction. It changes where records are kept, never what the world is.
    pub fn set_record_memory(&mut self, bytes: usize) {
        self.records.set_cap(bytes);
    }

    /// Bytes the records in memory take, as counted against the cap.
    pub fn record_bytes(&self) -> usize {
        self.records.bytes()
    }

    /// Items in the records in memory.
    pub fn record_items(&self) -> usize {
        self.records.items_in_memory()
    }

    /// Bytes of the store's file (0 while nothing has spilled).
    pub fn store_bytes(&self) -> u64 {
        self.records.file_bytes()
    }

    /// The store's file, while one is open under a name (one in the temporary folder has none).
    pub fn store_path(&self) -> Option<&Path> {
        self.records.file_path()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record of `len` items with a few timed ones, different for every `seed`.
    fn record(seed: u32, len: u32) -> Record {
        let cells: Vec<u32> = (0..len).map(|i| (((i * 7 + seed) % 1024) << 16) | ((seed + i) % 3)).collect();
        let times: Vec<(u32, u64, u64)> =
            (0..len).step_by(5).map(|i| (i, u64::from(seed), u64::from(seed + i))).collect();
        Record::Items { cells: cells.into(), times: times.into() }
    }

    fn coords(n: i64) -> impl Iterator<Item = PatchCoord> {
        (0..n).map(|i| PatchCoord::new(i % 13 - 6, i / 13 - 4))
    }

    /// What snapshots wrote before records could spill: every record, in coordinate order.
    fn expected(records: &BTreeMap<(i64, i64), (PatchCoord, Record)>) -> Vec<u8> {
        let v: Vec<(PatchCoord, &Record)> = records.values().map(|(c, r)| (*c, r)).collect();
        postcard::to_allocvec(&v).expect("encodes")
    }

    fn saved(records: &Records) -> Vec<u8> {
        postcard::to_allocvec(&records.sorted()).expect("encodes")
    }

    fn scratch_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("beanworld-store-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("created");
        dir
    }

    #[test]
    fn spilled_records_come_back_exactly_and_save_the_same_bytes() {
        let mut records = Records::default();
        records.set_cap(20_000);
        let mut all = BTreeMap::new();
        for (i, c) in coords(120).enumerate() {
            let r = record(i as u32, 20 + (i as u32 % 50));
            all.insert(order(c), (c, r.clone()));
            records.insert(c, r);
            records.settle();
        }
        assert!(records.fault().is_none(), "{:?}", records.fault());
        assert_eq!(records.len(), 120);
        assert!(records.in_memory() < 60, "most spilled: {} in memory", records.in_memory());
        assert!(records.bytes() <= 20_000);
        assert_eq!(saved(&records), expected(&all), "the same bytes as with every record in memory");

        // The first evicted spilled first; both kinds come back as they were, once.
        let (first, last) = (coords(1).last().expect("one"), coords(120).last().expect("many"));
        assert!(records.memory.contains_key(&last) && !records.memory.contains_key(&first));
        for c in [first, last, PatchCoord::new(0, 0)] {
            assert!(records.contains(c));
            let (_, want) = all.remove(&order(c)).expect("kept");
            assert_eq!(records.take(c).expect("readable"), Some(want), "{c}");
            assert!(!records.contains(c) && records.take(c).expect("readable").is_none(), "{c}");
        }
        assert_eq!(records.len(), 117);
        assert_eq!(saved(&records), expected(&all), "records read back are no longer saved");

        // Evicted again: the dead entries go with the next spill, and nothing is counted twice.
        let again = record(999, 40);
        records.insert(first, again.clone());
        all.insert(order(first), (first, again));
        for (i, c) in coords(200).skip(120).enumerate() {
            let r = record(500 + i as u32, 30);
            all.insert(order(c), (c, r.clone()));
            records.insert(c, r);
            records.settle();
        }
        assert!(records.file.as_ref().is_some_and(|f| f.dead.is_empty()));
        assert_eq!(records.len(), all.len());
        assert_eq!(saved(&records), expected(&all));
        assert!(records.store_path_is_temporary(), "no name left behind in the temporary folder");
    }

    #[test]
    fn keys_sort_as_records_are_written_and_patches_too_far_for_one_stay_in_memory() {
        let edge = i64::from(i32::MAX);
        let near = [(-edge - 1, 0), (-3, 5), (0, -1), (0, 0), (2, -edge - 1), (2, edge), (edge, 7)];
        let mut keys: Vec<u64> =
            near.iter().map(|&(y, x)| key(PatchCoord::new(x, y)).expect("near")).collect();
        assert!(keys.is_sorted(), "keys sort by row, then column");
        keys.dedup();
        assert_eq!(keys.len(), near.len());
        for (&(y, x), &k) in near.iter().zip(&keys) {
            assert_eq!(coord(k), PatchCoord::new(x, y));
        }

        let far = [PatchCoord::new(edge + 1, 0), PatchCoord::new(0, -edge - 2)];
        assert!(far.iter().all(|&c| key(c).is_none()));
        let mut records = Records::default();
        records.set_cap(1);
        let mut all = BTreeMap::new();
        for (i, c) in far.into_iter().chain(coords(20)).enumerate() {
            let r = record(i as u32, 10);
            all.insert(order(c), (c, r.clone()));
            records.insert(c, r);
            records.settle();
        }
        assert!(records.fault().is_none(), "{:?}", records.fault());
        assert_eq!((records.in_memory(), records.len()), (2, 22), "the far ones stay in memory");
        assert_eq!(saved(&records), expected(&all));
        for c in far {
            assert_eq!(records.take(c).expect("in memory"), Some(all[&order(c)].1.clone()));
        }
    }

    #[test]
    fn a_clone_keeps_every_record_in_memory_and_shares_no_file() {
        let mut records = Records::default();
        records.set_cap(5_000);
        for (i, c) in coords(60).enumerate() {
            records.insert(c, record(i as u32, 30));
            records.settle();
        }
        assert!(records.file.is_some());
        let mut copy = records.clone();
        assert!(copy.file.is_none() && copy.in_memory() == 60);
        assert_eq!(saved(&copy), saved(&records));
        let c = PatchCoord::new(-6, -4);
        assert_eq!(copy.take(c).expect("in memory"), records.take(c).expect("in the file"));
        copy.settle();
        assert!(copy.file.is_some(), "the clone spills to a file of its own");
        assert_eq!(saved(&copy), saved(&records));
    }

    #[test]
    fn the_file_is_compacted_once_most_of_it_is_free() {
        let mut records = Records::default();
        records.set_cap(1);
        for (i, c) in coords(400).enumerate() {
            records.insert(c, record(i as u32, 200));
        }
        records.settle();
        let full = records.file_bytes();
        assert!(full > 4 * COMPACT_FLOOR, "{full} bytes");
        for c in coords(400).skip(4) {
            assert!(records.take(c).expect("readable").is_some());
        }
        records.insert(PatchCoord::new(100, 100), record(1, 10));
        records.settle();
        let compacted = records.file_bytes();
        assert!(compacted < full / 2, "{full} → {compacted} bytes");
        assert_eq!(records.len(), 5);
        assert!(records.take(PatchCoord::new(-6, -4)).expect("readable").is_some());
    }

    #[test]
    fn a_damaged_or_unwritable_file_is_a_fault_never_a_panic() {
        // Damaged: every record's bytes overwritten in place.
        let dir = scratch_dir("damaged");
        let mut records = Records::default();
        records.keep_in(&dir).expect("a folder");
        records.set_cap(1);
        let marker = record(77, 300);
        records.insert(PatchCoord::new(3, -2), marker.clone());
        records.settle();
        let path = dir.join(STORE_FILE);
        let mut bytes = std::fs::read(&path).expect("named in its folder");
        let body = postcard::to_allocvec(&marker).expect("encodes");
        let at = bytes.windows(body.len()).position(|w| w == body).expect("the record is in the file");
        bytes[at + body.len() / 2] ^= 0xff;
        std::fs::write(&path, &bytes).expect("damaged");
        let e = records.take(PatchCoord::new(3, -2)).expect_err("damage is seen");
        assert!(matches!(e, StoreError::Damaged { .. }), "{e}");
        assert!(e.to_string().contains("world.redb") && e.to_string().contains("(3, -2)"), "{e}");
        assert_eq!(records.fault(), Some(&e));
        assert!(postcard::to_allocvec(&records.sorted()).is_err(), "an inexact world is not saved");
        drop(records);
        assert!(!path.exists(), "the store's file goes with its world");

        // Unwritable: the folder is gone; the records stay in memory and the world stays exact.
        let mut records = Records::default();
        records.keep_in(&dir.join("gone")).expect("nothing to move yet");
        records.set_cap(1);
        records.insert(PatchCoord::new(1, 1), marker.clone());
        records.settle();
        let e = records.fault().expect("a fault").to_string();
        assert!(e.contains("gone") && e.contains("world.redb"), "{e}");
        assert_eq!(records.take(PatchCoord::new(1, 1)).expect("in memory"), Some(marker));
        std::fs::remove_dir_all(dir).ok();
    }
}
