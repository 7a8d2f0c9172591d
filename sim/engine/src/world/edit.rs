//! Changes to the world: items collected, placed, cleared and regrown, and collected items
//! forgotten once their scent has faded. Only fixed patches change (see the module docs of
//! `world`).

use super::{Item, World};
use crate::geometry::{Cell, PatchCoord, Region};

impl World {
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
        patch.before_change(origin, n);
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
        patch.before_change(origin, n);
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
        patch.before_change(origin, n);
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
            patch.before_change(origin, n);
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
}
