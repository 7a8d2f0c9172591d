//! The world: patches of items on an unbounded grid, generated on demand.
//!
//! Generation is deterministic and order-independent (DESIGN.md "Generation"; JBW differs).
//! A patch's initial contents are a pure function of the world seed and its coordinate:
//! patches are sampled in four phases by the parity of their coordinates (`PatchCoord::phase`),
//! and a patch of phase k is sampled conditioned only on its neighbours of phases below k, which
//! are generated first when missing. Neighbours of equal phase are never adjacent, and every
//! pair of adjacent patches is coupled exactly once (by the later phase), so whatever order
//! regions are asked for in, each patch sees the same inputs and the same random stream.
//!
//! Invariant: a patch is *fixed* (may be changed by agents or dynamics) only once all eight of
//! its neighbours exist, so every patch that conditions on it has already been sampled from its
//! initial contents.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::geometry::{Cell, PatchCoord, Region};
use crate::rng::{Purpose, stream};
use crate::sampler::Sampler;

/// One item on the grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// Item type index.
    pub kind: u16,
    /// Where it is.
    pub pos: Cell,
    /// Step it appeared at; 0 means "has always existed" (spec §4.3).
    pub created: u64,
    /// Step it was collected at; 0 while it is live.
    pub deleted: u64,
}

impl Item {
    /// An item of the initial world.
    pub fn initial(kind: u16, pos: Cell) -> Self {
        Item { kind, pos, created: 0, deleted: 0 }
    }

    /// Whether it is still in the world (not collected).
    pub fn is_live(&self) -> bool {
        self.deleted == 0
    }

    /// The step from which its scent no longer changes with time alone (spec §4.3).
    pub fn settles_at(&self, lifetime: u64) -> u64 {
        let created = if self.created == 0 { 0 } else { self.created + lifetime - 1 };
        let deleted = if self.deleted == 0 { 0 } else { self.deleted + lifetime };
        created.max(deleted)
    }
}

/// `n × n` cells and the items on them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Patch {
    /// Items, live and recently collected (kept for scent, spec §4.4), sorted by row then
    /// column, so that the items of a band of rows can be found by binary search.
    pub items: Vec<Item>,
    /// Whether all eight neighbours exist, so agents may change it.
    pub fixed: bool,
    /// Whether anything has changed it since it was generated (then it cannot be regenerated).
    pub changed: bool,
    /// Per cell, row by row: type + 1 of the live item there, or 0. Derived from `items`.
    #[serde(skip)]
    occupancy: Vec<u16>,
    /// The earliest step at which a collected item's scent memory runs out (`u64::MAX`: none).
    #[serde(skip)]
    next_purge: u64,
    /// From this step on, no item's scent here changes with time alone. Derived from `items`.
    #[serde(skip)]
    settles_at: u64,
    /// Changes whenever its items change (see [`World::version`]).
    #[serde(skip)]
    version: u64,
}

impl Patch {
    fn new(mut items: Vec<Item>, origin: Cell, n: usize, lifetime: u64) -> Self {
        items.sort_by_key(|i| (i.pos.y, i.pos.x));
        let mut patch = Patch {
            items,
            fixed: false,
            changed: false,
            occupancy: Vec::new(),
            next_purge: u64::MAX,
            settles_at: 0,
            version: 0,
        };
        patch.rebuild_derived(origin, n, lifetime);
        patch
    }

    /// Recomputes the occupancy grid and the scent bookkeeping from the items.
    fn rebuild_derived(&mut self, origin: Cell, n: usize, lifetime: u64) {
        self.occupancy.clear();
        self.occupancy.resize(n * n, 0);
        self.next_purge = u64::MAX;
        self.settles_at = 0;
        for item in &self.items {
            if item.is_live() {
                let i = ((item.pos.y - origin.y) as usize) * n + (item.pos.x - origin.x) as usize;
                debug_assert_eq!(self.occupancy[i], 0, "two items in one cell");
                self.occupancy[i] = item.kind + 1;
            } else {
                self.next_purge = self.next_purge.min(item.deleted + lifetime);
            }
            self.settles_at = self.settles_at.max(item.settles_at(lifetime));
        }
    }

    /// Records a change at step `now`.
    fn touch(&mut self, now: u64, lifetime: u64) {
        self.version = next_version();
        self.changed = true;
        self.settles_at = self.settles_at.max(now + lifetime);
    }

    /// The items in rows `y0..=y1`.
    pub fn items_in_rows(&self, y0: i64, y1: i64) -> &[Item] {
        let lo = self.items.partition_point(|i| i.pos.y < y0);
        let hi = self.items.partition_point(|i| i.pos.y <= y1);
        &self.items[lo..hi.max(lo)]
    }

    /// Whether, at step `now`, some item's scent here still changes with time alone (a
    /// collected item fading, a new one building up).
    pub fn scent_changes(&self, now: u64) -> bool {
        now < self.settles_at
    }

    /// The occupancy grid, row by row from the bottom: type + 1 of the live item, or 0.
    pub fn occupancy(&self) -> &[u16] {
        &self.occupancy
    }

    /// Type of the live item at patch-local `(ox, oy)`, if any.
    pub fn item_type_at(&self, ox: usize, oy: usize, n: usize) -> Option<usize> {
        match self.occupancy[oy * n + ox] {
            0 => None,
            t => Some(usize::from(t - 1)),
        }
    }
}

/// The world state: configuration, seed and every patch generated so far.
#[derive(Clone, Debug)]
pub struct World {
    config: Arc<Config>,
    seed: u64,
    patches: FxHashMap<PatchCoord, Patch>,
    /// Changed patches that were evicted, kept compactly until they are needed again.
    records: FxHashMap<PatchCoord, Record>,
    /// Records holding items whose scent still changes, by the step from which it no longer
    /// does (they are compacted then).
    unsettled: std::collections::VecDeque<(u64, PatchCoord)>,
    /// Unchanged patches recently evicted, kept compactly (oldest first) so that an agent coming
    /// back does not pay for sampling them again; bounded by [`MAX_CACHED_ITEMS`]. A cache only:
    /// what comes out of it is exactly what sampling would give.
    evicted: std::collections::VecDeque<(PatchCoord, Box<[u32]>)>,
    evicted_index: FxHashMap<PatchCoord, usize>,
    evicted_base: usize,
    evicted_items: usize,
}

/// Patch versions, unique in the process: a changed patch (or one restored from a record or
/// snapshot) takes a new one, so two patches with the same coordinate, version and world seed
/// have the same items whichever world or clone of one they are in (version 0: as generated).
/// Caches outside the world, such as the GPU's resident patches, rely on this.
static VERSIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn next_version() -> u64 {
    VERSIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1
}

/// The most items the cache of evicted unchanged patches holds (4 bytes each).
pub const MAX_CACHED_ITEMS: usize = 1 << 20;

/// A changed patch out of memory: its items in order, each as `cell << 16 | type` (cell
/// index within the patch), with the creation and deletion times of those whose scent still
/// changes with time (an item created long enough ago smells exactly like one that has always
/// been there, so its creation time is not kept).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    cells: Box<[u32]>,
    times: Box<[(u32, u64, u64)]>,
}

impl Record {
    fn of(patch: &Patch, origin: Cell, n: usize, now: u64, lifetime: u64) -> Self {
        let mut times = Vec::new();
        let cells = patch
            .items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                if item.deleted != 0 || (item.created != 0 && now < item.settles_at(lifetime)) {
                    times.push((i as u32, item.created, item.deleted));
                }
                let cell = ((item.pos.y - origin.y) as usize * n + (item.pos.x - origin.x) as usize) as u32;
                cell << 16 | u32::from(item.kind)
            })
            .collect();
        Record { cells, times: times.into() }
    }

    /// When the last of its items' scent stops changing, if any still does.
    fn settles_at(&self, lifetime: u64) -> Option<u64> {
        self.times
            .iter()
            .map(|&(_, created, deleted)| {
                Item { kind: 0, pos: Cell::new(0, 0), created, deleted }.settles_at(lifetime)
            })
            .max()
    }

    /// Its items, in order.
    fn items(&self, origin: Cell, n: usize) -> impl Iterator<Item = Item> + '_ {
        let mut times = self.times.iter().peekable();
        self.cells.iter().enumerate().map(move |(i, &v)| {
            let cell = (v >> 16) as usize;
            let at = Cell::new(origin.x + (cell % n) as i64, origin.y + (cell / n) as i64);
            let mut item = Item::initial((v & 0xffff) as u16, at);
            if let Some(&(_, created, deleted)) = times.next_if(|(index, _, _)| *index as usize == i) {
                item.created = created;
                item.deleted = deleted;
            }
            item
        })
    }

    fn restore(&self, origin: Cell, n: usize, lifetime: u64) -> Patch {
        let items: Vec<Item> = self.items(origin, n).collect();
        let mut patch = Patch::new(items, origin, n, lifetime);
        patch.changed = true;
        patch
    }
}

impl World {
    /// An empty world; patches appear as they are asked for.
    pub fn new(config: Arc<Config>, seed: u64) -> Self {
        World {
            config,
            seed,
            patches: FxHashMap::default(),
            records: FxHashMap::default(),
            unsettled: Default::default(),
            evicted: Default::default(),
            evicted_index: FxHashMap::default(),
            evicted_base: 0,
            evicted_items: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The world seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Number of patches generated.
    pub fn patch_count(&self) -> usize {
        self.patches.len()
    }

    /// The coordinates of every generated patch, sorted (row, then column).
    pub fn patch_coords(&self) -> Vec<PatchCoord> {
        let mut coords: Vec<PatchCoord> = self.patches.keys().copied().collect();
        coords.sort_unstable_by_key(|c| (c.y, c.x));
        coords
    }

    /// The patch at `c`, if it has been generated.
    pub fn patch(&self, c: PatchCoord) -> Option<&Patch> {
        self.patches.get(&c)
    }

    /// Generates the patch at `c` (and the lower-phase neighbours it depends on) if missing.
    pub fn generate(&mut self, c: PatchCoord, sampler: &mut Sampler) {
        if self.patches.contains_key(&c) {
            return;
        }
        let (n, lifetime) = (self.config.patch_size, self.lifetime());
        if let Some(record) = self.records.remove(&c) {
            let mut patch = record.restore(c.origin(n), n, lifetime);
            patch.version = next_version();
            self.patches.insert(c, patch);
            return;
        }
        if let Some(slot) = self.evicted_index.remove(&c) {
            let cells = std::mem::take(&mut self.evicted[slot - self.evicted_base].1);
            self.evicted_items -= cells.len();
            let record = Record { cells, times: Box::new([]) };
            let mut patch = record.restore(c.origin(n), n, lifetime);
            patch.changed = false;
            self.patches.insert(c, patch);
            return;
        }
        let phase = c.phase();
        let lower = c.neighbours().into_iter().filter(|nb| nb.phase() < phase);
        for nb in lower.clone() {
            self.generate(nb, sampler);
        }
        let items = if lower.clone().all(|nb| !self.patches[&nb].changed) {
            let neighbours = lower.map(|nb| self.patches[&nb].items.as_slice());
            sampler.sample(&self.config, c, neighbours, &mut stream(self.seed, Purpose::Generation(c)))
        } else {
            // A neighbour changed since it was generated (possible only after eviction): sample
            // from what it was then, which is what it was when this patch was first made.
            let mut memo = FxHashMap::default();
            self.pristine(c, sampler, &mut memo)
        };
        self.patches.insert(c, Patch::new(items, c.origin(n), n, lifetime));
    }

    /// The items patch `c` was generated with, without changing the world.
    fn pristine(
        &self,
        c: PatchCoord,
        sampler: &mut Sampler,
        memo: &mut FxHashMap<PatchCoord, Vec<Item>>,
    ) -> Vec<Item> {
        if let Some(p) = self.patches.get(&c).filter(|p| !p.changed) {
            return p.items.clone();
        }
        if let Some(items) = memo.get(&c) {
            return items.clone();
        }
        let phase = c.phase();
        let neighbours: Vec<Vec<Item>> = c
            .neighbours()
            .into_iter()
            .filter(|nb| nb.phase() < phase)
            .map(|nb| self.pristine(nb, sampler, memo))
            .collect();
        let mut items = sampler.sample(
            &self.config,
            c,
            neighbours.iter().map(Vec::as_slice),
            &mut stream(self.seed, Purpose::Generation(c)),
        );
        items.sort_by_key(|i| (i.pos.y, i.pos.x));
        memo.insert(c, items.clone());
        items
    }

    fn lifetime(&self) -> u64 {
        u64::from(self.config.scent.deleted_item_lifetime)
    }

    /// Generates every patch that intersects `region`.
    pub fn generate_region(&mut self, region: Region, sampler: &mut Sampler) {
        for c in region.patches(self.config.patch_size) {
            self.generate(c, sampler);
        }
    }

    /// Generates `c` and its eight neighbours and marks `c` fixed, so it may change.
    pub fn fix(&mut self, c: PatchCoord, sampler: &mut Sampler) {
        if self.patches.get(&c).is_some_and(|p| p.fixed) {
            return;
        }
        self.generate(c, sampler);
        for nb in c.neighbours() {
            self.generate(nb, sampler);
        }
        if let Some(patch) = self.patches.get_mut(&c) {
            patch.fixed = true;
        }
    }

    /// The 2 × 2 block of patches around `cell` (spec §1.3): the patch holding it and the three
    /// towards the quadrant of the patch it sits in, bottom-left first. Together they hold every
    /// cell within `⌊n/2⌋` of `cell`; agents see and smell only these.
    pub fn block(&self, cell: Cell) -> [PatchCoord; 4] {
        let n = self.config.patch_size;
        let p = cell.patch(n);
        let origin = p.origin(n);
        let half = (n / 2) as i64;
        let x0 = if cell.x - origin.x < half { p.x - 1 } else { p.x };
        let y0 = if cell.y - origin.y < half { p.y - 1 } else { p.y };
        [
            PatchCoord::new(x0, y0),
            PatchCoord::new(x0 + 1, y0),
            PatchCoord::new(x0, y0 + 1),
            PatchCoord::new(x0 + 1, y0 + 1),
        ]
    }

    /// Fixes the four patches of `cell`'s block (generating whatever they need).
    pub fn fix_block(&mut self, cell: Cell, sampler: &mut Sampler) {
        for c in self.block(cell) {
            self.fix(c, sampler);
        }
    }

    /// Whether every patch of `cell`'s block is fixed.
    pub fn block_is_fixed(&self, cell: Cell) -> bool {
        self.block(cell).iter().all(|c| self.patches.get(c).is_some_and(|p| p.fixed))
    }

    /// Marks the live item at `cell` collected at step `now` and returns its type. The cell's
    /// patch must be fixed (agents only change fixed patches).
    pub fn collect(&mut self, cell: Cell, now: u64) -> Option<usize> {
        let n = self.config.patch_size;
        let lifetime = u64::from(self.config.scent.deleted_item_lifetime);
        let c = cell.patch(n);
        let origin = c.origin(n);
        let patch = self.patches.get_mut(&c)?;
        debug_assert!(patch.fixed, "items are only collected from fixed patches");
        let at = ((cell.y - origin.y) as usize) * n + (cell.x - origin.x) as usize;
        if patch.occupancy[at] == 0 {
            return None;
        }
        patch.occupancy[at] = 0;
        let item = patch.items.iter_mut().find(|i| i.pos == cell && i.is_live())?;
        item.deleted = now;
        let kind = usize::from(item.kind);
        patch.next_purge = patch.next_purge.min(now + lifetime);
        patch.touch(now, lifetime);
        Some(kind)
    }

    /// Puts an item of type `kind` on the empty cell `cell` at step `now` (0: as if it had always
    /// been there, so its scent is at full strength at once). The cell's patch must be fixed.
    /// Returns whether the item was placed (false if the cell holds an item, or its patch is not
    /// fixed).
    pub fn place(&mut self, cell: Cell, kind: usize, now: u64) -> bool {
        let n = self.config.patch_size;
        let c = cell.patch(n);
        let origin = c.origin(n);
        let Some(patch) = self.patches.get_mut(&c).filter(|p| p.fixed) else { return false };
        let at = ((cell.y - origin.y) as usize) * n + (cell.x - origin.x) as usize;
        if patch.occupancy[at] != 0 || kind >= self.config.items.len() {
            return false;
        }
        patch.occupancy[at] = kind as u16 + 1;
        let slot = patch.items.partition_point(|i| (i.pos.y, i.pos.x) <= (cell.y, cell.x));
        patch.items.insert(slot, Item { kind: kind as u16, pos: cell, created: now, deleted: 0 });
        let lifetime = u64::from(self.config.scent.deleted_item_lifetime);
        patch.touch(now, lifetime);
        true
    }

    /// Forgets collected items of patch `c` whose scent has fully faded by step `now`
    /// (`now ≥ deleted + L`, spec §4.4).
    pub fn purge(&mut self, c: PatchCoord, now: u64) {
        let lifetime = u64::from(self.config.scent.deleted_item_lifetime);
        let Some(patch) = self.patches.get_mut(&c) else { return };
        if now < patch.next_purge {
            return;
        }
        patch.items.retain(|i| i.is_live() || now < i.deleted + lifetime);
        patch.next_purge = patch
            .items
            .iter()
            .filter(|i| !i.is_live())
            .map(|i| i.deleted + lifetime)
            .min()
            .unwrap_or(u64::MAX);
    }

    /// Every generated patch, sorted (row, then column), for snapshots and digests.
    pub fn patches_sorted(&self) -> Vec<(PatchCoord, &Patch)> {
        self.patch_coords().into_iter().map(|c| (c, &self.patches[&c])).collect()
    }

    /// Rebuilds a world from saved patches and records (derived data is recomputed).
    pub fn from_parts(
        config: Arc<Config>,
        seed: u64,
        patches: Vec<(PatchCoord, Patch)>,
        records: Vec<(PatchCoord, Record)>,
    ) -> Self {
        let n = config.patch_size;
        let lifetime = u64::from(config.scent.deleted_item_lifetime);
        let patches = patches
            .into_iter()
            .map(|(c, mut p)| {
                p.rebuild_derived(c.origin(n), n, lifetime);
                if p.changed {
                    p.version = next_version();
                }
                (c, p)
            })
            .collect();
        let mut unsettled: Vec<(u64, PatchCoord)> =
            records.iter().filter_map(|(c, r)| r.settles_at(lifetime).map(|due| (due, *c))).collect();
        unsettled.sort_unstable_by_key(|&(due, c)| (due, c.y, c.x));
        World {
            config,
            seed,
            patches,
            records: records.into_iter().collect(),
            unsettled: unsettled.into(),
            evicted: Default::default(),
            evicted_index: FxHashMap::default(),
            evicted_base: 0,
            evicted_items: 0,
        }
    }

    /// Visits every patch that has changed since it was generated, in memory or recorded, in
    /// coordinate order, with its items as they matter at step `now`: collected items whose scent
    /// has faded are left out, and an item created long enough ago counts as always there. The
    /// same world gives the same content whatever was evicted, cached or compacted when. One
    /// patch's items are in memory at a time.
    pub fn for_each_changed(&self, now: u64, mut visit: impl FnMut(PatchCoord, &[Item])) {
        let n = self.config.patch_size;
        let lifetime = self.lifetime();
        let mut coords: Vec<PatchCoord> = self
            .patches
            .iter()
            .filter(|(_, p)| p.changed)
            .map(|(c, _)| *c)
            .chain(self.records.keys().copied())
            .collect();
        coords.sort_unstable_by_key(|c| (c.y, c.x));
        let mut items = Vec::new();
        for c in coords {
            items.clear();
            match self.patches.get(&c) {
                Some(p) => items.extend_from_slice(&p.items),
                None => items.extend(self.records[&c].items(c.origin(n), n)),
            }
            items.retain(|i| i.is_live() || now < i.deleted + lifetime);
            for i in items.iter_mut() {
                if i.is_live() && now >= i.settles_at(lifetime) {
                    i.created = 0;
                }
            }
            visit(c, &items);
        }
    }

    /// The records of evicted changed patches, sorted by coordinate.
    pub fn records_sorted(&self) -> Vec<(PatchCoord, &Record)> {
        let mut out: Vec<_> = self.records.iter().map(|(c, r)| (*c, r)).collect();
        out.sort_unstable_by_key(|(c, _)| (c.y, c.x));
        out
    }

    /// Number of evicted changed patches kept as records.
    pub fn record_count(&self) -> usize {
        self.records.len()
    }

    /// Removes from memory every patch for which `far` holds: unchanged ones are dropped (they
    /// regenerate identically), changed ones become compact records (collected items whose scent
    /// has faded by `now` are forgotten first). Patches that lose a neighbour stop being fixed.
    pub fn evict(&mut self, now: u64, far: impl Fn(PatchCoord) -> bool) {
        let n = self.config.patch_size;
        let lifetime = self.lifetime();
        let mut gone: Vec<PatchCoord> = self.patches.keys().copied().filter(|&c| far(c)).collect();
        gone.sort_unstable_by_key(|c| (c.y, c.x));
        for &c in &gone {
            let Some(mut patch) = self.patches.remove(&c) else { continue };
            if patch.changed {
                patch.items.retain(|i| i.is_live() || now < i.deleted + lifetime);
                let record = Record::of(&patch, c.origin(n), n, now, lifetime);
                if let Some(due) = record.settles_at(lifetime) {
                    self.unsettled.push_back((due, c));
                }
                self.records.insert(c, record);
            } else {
                let record = Record::of(&patch, c.origin(n), n, now, lifetime);
                self.evicted_items += record.cells.len();
                self.evicted_index.insert(c, self.evicted_base + self.evicted.len());
                self.evicted.push_back((c, record.cells));
                while self.evicted_items > MAX_CACHED_ITEMS
                    && let Some((old, cells)) = self.evicted.pop_front()
                {
                    self.evicted_base += 1;
                    self.evicted_items -= cells.len();
                    if self.evicted_index.get(&old) == Some(&(self.evicted_base - 1)) {
                        self.evicted_index.remove(&old);
                    }
                }
            }
        }
        for c in gone {
            for nb in c.neighbours() {
                if let Some(p) = self.patches.get_mut(&nb) {
                    p.fixed = false;
                }
            }
        }
    }

    /// Rewrites the records whose items have all settled by `now` without the times and the
    /// faded items that no longer matter, so that a record costs about 4 bytes per item.
    pub fn compact_records(&mut self, now: u64) {
        let n = self.config.patch_size;
        let lifetime = self.lifetime();
        while let Some(&(due, c)) = self.unsettled.front() {
            if due > now {
                break;
            }
            self.unsettled.pop_front();
            if let Some(record) = self.records.get_mut(&c) {
                let mut patch = record.restore(c.origin(n), n, lifetime);
                patch.items.retain(|i| i.is_live());
                *record = Record::of(&patch, c.origin(n), n, now, lifetime);
            }
        }
    }

    /// Applies a regrowth round's changes to patch `c` at step `now`: the items of `died` (by
    /// index) are collected by nobody, the `born` ones appear.
    pub fn apply_changes(&mut self, c: PatchCoord, changes: &crate::sampler::Changes, now: u64) {
        if changes.born.is_empty() && changes.died.is_empty() {
            return;
        }
        let n = self.config.patch_size;
        let lifetime = self.lifetime();
        let origin = c.origin(n);
        let Some(patch) = self.patches.get_mut(&c) else { return };
        for &i in &changes.died {
            let item = &mut patch.items[i];
            item.deleted = now;
            let at = ((item.pos.y - origin.y) as usize) * n + (item.pos.x - origin.x) as usize;
            patch.occupancy[at] = 0;
            patch.next_purge = patch.next_purge.min(now + lifetime);
        }
        for &(kind, cell) in &changes.born {
            let at = ((cell.y - origin.y) as usize) * n + (cell.x - origin.x) as usize;
            patch.occupancy[at] = kind + 1;
            let slot = patch.items.partition_point(|i| (i.pos.y, i.pos.x) <= (cell.y, cell.x));
            patch.items.insert(slot, Item { kind, pos: cell, created: now, deleted: 0 });
        }
        patch.touch(now, lifetime);
    }

    /// Removes the live items in `region` whose type is in `kinds` (every type if empty) at step
    /// `now`, as if collected by nobody. Their patches must be fixed.
    pub fn clear(&mut self, region: Region, kinds: &[usize], now: u64) {
        let n = self.config.patch_size;
        let lifetime = self.lifetime();
        for c in region.patches(n) {
            let origin = c.origin(n);
            let Some(patch) = self.patches.get_mut(&c) else { continue };
            let doomed = |item: &Item| {
                item.is_live()
                    && region.contains(item.pos)
                    && (kinds.is_empty() || kinds.contains(&usize::from(item.kind)))
            };
            if !patch.items.iter().any(doomed) {
                continue;
            }
            if now == 0 {
                // Before the first step: the world simply starts without them (no scent memory).
                patch.items.retain(|i| !doomed(i));
                patch.rebuild_derived(origin, n, lifetime);
            } else {
                for item in patch.items.iter_mut().filter(|i| doomed(i)) {
                    item.deleted = now;
                    let at = ((item.pos.y - origin.y) as usize) * n + (item.pos.x - origin.x) as usize;
                    patch.occupancy[at] = 0;
                    patch.next_purge = patch.next_purge.min(now + lifetime);
                }
            }
            patch.touch(now, lifetime);
        }
    }

    /// A number that changes whenever the items of patch `c` change (0 if it does not exist or
    /// is as generated); unique in the process (see [`VERSIONS`]). Observers use it to skip
    /// recomputing what cannot have changed.
    pub fn version(&self, c: PatchCoord) -> u64 {
        self.patches.get(&c).map_or(0, |p| p.version)
    }

    /// Type of the live item at `cell`, or `None` if the cell is empty or not generated.
    pub fn item_type_at(&self, cell: Cell) -> Option<usize> {
        let n = self.config.patch_size;
        let c = cell.patch(n);
        let origin = c.origin(n);
        self.patches.get(&c)?.item_type_at((cell.x - origin.x) as usize, (cell.y - origin.y) as usize, n)
    }

    /// The live items inside `region` (only from generated patches), sorted by row then column.
    pub fn items_in(&self, region: Region) -> Vec<(Cell, usize)> {
        let mut out: Vec<(Cell, usize)> = region
            .patches(self.config.patch_size)
            .filter_map(|c| self.patches.get(&c))
            .flat_map(|p| p.items.iter())
            .filter(|item| item.is_live() && region.contains(item.pos))
            .map(|item| (item.pos, usize::from(item.kind)))
            .collect();
        out.sort_unstable_by_key(|&(pos, _)| (pos.y, pos.x));
        out
    }

    /// A BLAKE3 digest (hex) of the live items in `region`: their positions and types, in
    /// row-major order. It depends on nothing else.
    pub fn region_digest(&self, region: Region) -> String {
        let mut hasher = blake3::Hasher::new();
        for (pos, kind) in self.items_in(region) {
            hasher.update(&pos.x.to_le_bytes());
            hasher.update(&pos.y.to_le_bytes());
            hasher.update(&(kind as u32).to_le_bytes());
        }
        hasher.finalize().to_hex().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scenario;

    fn tiny_world(seed: u64) -> (World, Sampler) {
        let text = r#"Scenario(
            world: (patch_size: 8, mcmc_iterations: 3000),
            items: [
                Item(name: "a", scent: [1], color: [1], intensity: Constant(-1),
                     interactions: {"a": PiecewiseBox(l1: 3, l2: 30, c1: 1, c2: -2), "b": Cross(d1: 2, d2: 6, near_aligned: 1, far_aligned: -1, near_off_axis: -1, far_off_axis: 0.5)}),
                Item(name: "b", scent: [0], color: [0], intensity: RadialHash(shift: 3, scale: 8, c: 0, k: 2),
                     interactions: {"b": CrossHash(s: 16, c: 2, k: 6, delta: 3, near_aligned: 1, far_aligned: -1, near_off_axis: -2, far_off_axis: 0.5)}),
            ],
            vision: (range: 2, agent_color: [0]),
        )"#;
        let config = Arc::new(Scenario::parse(text, "tiny.ron").expect("valid").config);
        let sampler = Sampler::new(&config);
        (World::new(config, seed), sampler)
    }

    #[test]
    fn no_two_items_share_a_cell_and_occupancy_matches_items() {
        let (mut world, mut sampler) = tiny_world(3);
        world.generate_region(Region::new(Cell::new(-20, -20), Cell::new(20, 20)), &mut sampler);
        for c in world.patch_coords() {
            let patch = &world.patches[&c];
            let origin = c.origin(8);
            let mut seen = std::collections::HashSet::new();
            for item in &patch.items {
                assert!(seen.insert(item.pos), "two items at {}", item.pos);
                assert_eq!(item.pos.patch(8), c, "item {} outside its patch", item.pos);
                let (ox, oy) = ((item.pos.x - origin.x) as usize, (item.pos.y - origin.y) as usize);
                assert_eq!(patch.item_type_at(ox, oy, 8), Some(usize::from(item.kind)));
            }
            let occupied = (0..64).filter(|i| patch.item_type_at(i % 8, i / 8, 8).is_some()).count();
            assert_eq!(occupied, patch.items.len());
        }
        assert!(world.items_in(Region::new(Cell::new(-20, -20), Cell::new(20, 20))).len() > 50);
    }

    #[test]
    fn a_patch_depends_on_nothing_but_seed_and_place_even_with_hash_energies() {
        let target = PatchCoord::new(1, 1); // phase 3: conditioned on all eight neighbours
        let (mut a, mut sampler) = tiny_world(11);
        a.generate(target, &mut sampler);
        let (mut b, _) = tiny_world(11);
        b.generate_region(Region::new(Cell::new(-40, 30), Cell::new(60, 50)), &mut sampler);
        b.generate(PatchCoord::new(2, 1), &mut sampler);
        b.generate(target, &mut sampler);
        assert_eq!(a.patch(target), b.patch(target));
        let (mut c, _) = tiny_world(12);
        c.generate(target, &mut sampler);
        assert_ne!(a.patch(target), c.patch(target), "another seed gives another world");
    }

    #[test]
    fn fixing_a_patch_generates_its_eight_neighbours() {
        let (mut world, mut sampler) = tiny_world(5);
        world.fix(PatchCoord::new(-3, 2), &mut sampler);
        assert!(world.patch(PatchCoord::new(-3, 2)).is_some_and(|p| p.fixed));
        for nb in PatchCoord::new(-3, 2).neighbours() {
            assert!(world.patch(nb).is_some_and(|p| !p.fixed), "{nb}");
        }
    }
}
