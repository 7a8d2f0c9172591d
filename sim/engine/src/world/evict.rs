//! Eviction: patches far from every agent leave memory. Unchanged ones are dropped (they
//! regenerate identically); changed ones become [`Record`]s, restored exactly when an agent comes
//! back. What either was generated with stays in a bounded cache, so that coming back seldom
//! samples anything again.

use super::record::cell_of;
use super::{MAX_CACHED_ITEMS, Record, World};
use crate::geometry::PatchCoord;
use crate::sampler::Sampler;

impl World {
    /// Number of evicted changed patches kept as records, in memory and in the store's file.
    pub fn record_count(&self) -> usize {
        self.records.len()
    }

    /// Keeps what evicted patch `c` was generated with in the bounded cache, dropping the oldest
    /// entries beyond [`MAX_CACHED_ITEMS`].
    pub(super) fn cache_generated(&mut self, c: PatchCoord, cells: Box<[u32]>) {
        self.evicted_items += cells.len();
        self.evicted_index.insert(c, self.evicted_base + self.evicted.len());
        self.evicted.push_back((c, cells));
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

    /// Removes from memory every patch for which `far` holds: unchanged ones are dropped (they
    /// regenerate identically), changed ones become compact records (collected items whose scent
    /// has faded by `now` are forgotten first; beyond the cap in memory the least recently
    /// evicted records spill to the store's file, see `store.rs`). Patches that lose a neighbour
    /// stop being fixed. A changed patch that does not know what it was generated with (it came
    /// from a snapshot, or from a record of all its items) is sampled again to learn it, so that
    /// its record is the same whatever its past (`record.rs`).
    pub fn evict(&mut self, now: u64, sampler: &mut Sampler, far: impl Fn(PatchCoord) -> bool) {
        let n = self.config.patch_size;
        let lifetime = self.lifetime();
        let mut gone: Vec<PatchCoord> = self.patches.keys().copied().filter(|&c| far(c)).collect();
        gone.sort_unstable_by_key(|c| (c.y, c.x));
        if !gone.is_empty() {
            // A patch sampled ahead holds while its neighbours in memory stay as they are.
            self.forget_ahead();
        }
        for &c in &gone {
            if self.patches.get(&c).is_some_and(|p| p.changed && p.generated.is_none()) {
                let cells = self.generated_cells(c, sampler);
                if let Some(p) = self.patches.get_mut(&c) {
                    p.generated = Some(cells);
                }
            }
            let Some(mut patch) = self.patches.remove(&c) else { continue };
            let origin = c.origin(n);
            let generated = if patch.changed {
                patch.items.retain(|i| i.is_live() || now < i.deleted + lifetime);
                self.records.insert(c, Record::of(&patch, origin, n, now, lifetime));
                patch.generated.take()
            } else {
                Some(patch.items.iter().map(|i| cell_of(i, origin, n)).collect())
            };
            if let Some(cells) = generated {
                self.cache_generated(c, cells);
            }
        }
        for c in gone {
            for nb in c.neighbours() {
                if let Some(p) = self.patches.get_mut(&nb) {
                    p.fixed = false;
                }
            }
        }
        self.records.settle();
    }
}
