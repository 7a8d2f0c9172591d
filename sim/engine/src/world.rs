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
}

/// `n × n` cells and the items on them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Patch {
    /// Items, live and recently collected (kept for scent, spec §4.4).
    pub items: Vec<Item>,
    /// Per cell, row by row: type + 1 of the live item there, or 0.
    occupancy: Vec<u16>,
    /// Whether all eight neighbours exist, so agents may change it.
    pub fixed: bool,
}

impl Patch {
    fn new(items: Vec<Item>, origin: Cell, n: usize) -> Self {
        let mut occupancy = vec![0; n * n];
        for item in &items {
            let i = ((item.pos.y - origin.y) as usize) * n + (item.pos.x - origin.x) as usize;
            debug_assert_eq!(occupancy[i], 0, "two items in one cell");
            occupancy[i] = item.kind + 1;
        }
        Patch { items, occupancy, fixed: false }
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
}

impl World {
    /// An empty world; patches appear as they are asked for.
    pub fn new(config: Arc<Config>, seed: u64) -> Self {
        World { config, seed, patches: FxHashMap::default() }
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

    /// The patch at `c`, if it has been generated.
    pub fn patch(&self, c: PatchCoord) -> Option<&Patch> {
        self.patches.get(&c)
    }

    /// Generates the patch at `c` (and the lower-phase neighbours it depends on) if missing.
    pub fn generate(&mut self, c: PatchCoord, sampler: &mut Sampler) {
        if self.patches.contains_key(&c) {
            return;
        }
        let phase = c.phase();
        let lower = c.neighbours().into_iter().filter(|nb| nb.phase() < phase);
        for nb in lower.clone() {
            self.generate(nb, sampler);
        }
        let neighbours = lower.map(|nb| {
            let patch = &self.patches[&nb];
            debug_assert!(!patch.fixed, "a fixed patch has all neighbours, so {c} would exist");
            patch.items.as_slice()
        });
        let mut rng = stream(self.seed, Purpose::Generation(c));
        let items = sampler.sample(&self.config, c, neighbours, &mut rng);
        let patch = Patch::new(items, c.origin(self.config.patch_size), self.config.patch_size);
        self.patches.insert(c, patch);
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
