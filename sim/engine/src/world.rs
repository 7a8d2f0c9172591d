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
    /// Items, live and recently collected (kept for scent, spec §4.4), sorted by row then
    /// column, so that the items of a band of rows can be found by binary search.
    pub items: Vec<Item>,
    /// Per cell, row by row: type + 1 of the live item there, or 0. Derived from `items`.
    #[serde(skip)]
    occupancy: Vec<u16>,
    /// Whether all eight neighbours exist, so agents may change it.
    pub fixed: bool,
    /// The earliest step at which a collected item's scent memory runs out (`u64::MAX`: none).
    next_purge: u64,
    /// Changes whenever an item is collected or forgotten (see [`World::version`]).
    #[serde(skip)]
    version: u64,
}

impl Patch {
    fn new(mut items: Vec<Item>, origin: Cell, n: usize) -> Self {
        items.sort_unstable_by_key(|i| (i.pos.y, i.pos.x));
        let mut patch =
            Patch { items, occupancy: Vec::new(), fixed: false, next_purge: u64::MAX, version: 0 };
        patch.rebuild_occupancy(origin, n);
        patch
    }

    /// Recomputes the occupancy grid from the live items.
    fn rebuild_occupancy(&mut self, origin: Cell, n: usize) {
        self.occupancy.clear();
        self.occupancy.resize(n * n, 0);
        for item in self.items.iter().filter(|i| i.is_live()) {
            let i = ((item.pos.y - origin.y) as usize) * n + (item.pos.x - origin.x) as usize;
            debug_assert_eq!(self.occupancy[i], 0, "two items in one cell");
            self.occupancy[i] = item.kind + 1;
        }
    }

    /// The items in rows `y0..=y1`.
    pub fn items_in_rows(&self, y0: i64, y1: i64) -> &[Item] {
        let lo = self.items.partition_point(|i| i.pos.y < y0);
        let hi = self.items.partition_point(|i| i.pos.y <= y1);
        &self.items[lo..hi.max(lo)]
    }

    /// Whether it holds collected items whose scent is still fading (so its scent field changes
    /// from step to step).
    pub fn has_fading(&self) -> bool {
        self.next_purge != u64::MAX
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
    /// Counts changes to patches; a changed patch takes the new count as its version.
    changes: u64,
}

impl World {
    /// An empty world; patches appear as they are asked for.
    pub fn new(config: Arc<Config>, seed: u64) -> Self {
        World { config, seed, patches: FxHashMap::default(), changes: 0 }
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
        patch.next_purge = patch.next_purge.min(now + lifetime);
        self.changes += 1;
        patch.version = self.changes;
        Some(usize::from(item.kind))
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
        self.changes += 1;
        patch.version = self.changes;
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

    /// Rebuilds a world from saved patches (derived data is recomputed).
    pub fn from_patches(config: Arc<Config>, seed: u64, patches: Vec<(PatchCoord, Patch)>) -> Self {
        let n = config.patch_size;
        let patches = patches
            .into_iter()
            .map(|(c, mut p)| {
                p.rebuild_occupancy(c.origin(n), n);
                (c, p)
            })
            .collect();
        World { config, seed, patches, changes: 0 }
    }

    /// A number that changes whenever the items of patch `c` change (0 if it does not exist).
    /// Observers use it to skip recomputing what cannot have changed.
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
