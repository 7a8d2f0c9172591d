//! A patch: `n × n` cells and the items on them, with the dense occupancy grid and the scent
//! bookkeeping derived from its items (never saved: rebuilt when a patch is loaded or restored).

use serde::{Deserialize, Serialize};

use super::next_version;
use super::record::cell_of;
use crate::geometry::Cell;
use crate::item::Item;

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
    /// Once it has changed, the items it was generated with as `cell << 16 | type`, if known (kept
    /// just before its first change, or when restored from a record of its changes), so that,
    /// evicted, it can be recorded as its changes (`record.rs`).
    #[serde(skip)]
    pub(super) generated: Option<Box<[u32]>>,
    /// Per cell, row by row: type + 1 of the live item there, or 0. Derived from `items`.
    #[serde(skip)]
    pub(super) occupancy: Vec<u16>,
    /// The earliest step at which a collected item's scent memory runs out (`u64::MAX`: none).
    #[serde(skip)]
    pub(super) next_purge: u64,
    /// From this step on, no item's scent here changes with time alone. Derived from `items`.
    #[serde(skip)]
    pub(super) settles_at: u64,
    /// Changes whenever its items change (see [`World::version`]).
    #[serde(skip)]
    pub(super) version: u64,
}

impl Patch {
    pub(super) fn new(mut items: Vec<Item>, origin: Cell, n: usize, lifetime: u64) -> Self {
        items.sort_by_key(|i| (i.pos.y, i.pos.x));
        let mut patch = Patch {
            items,
            fixed: false,
            changed: false,
            generated: None,
            occupancy: Vec::new(),
            next_purge: u64::MAX,
            settles_at: 0,
            version: 0,
        };
        patch.rebuild_derived(origin, n, lifetime);
        patch
    }

    /// Recomputes the occupancy grid and the scent bookkeeping from the items.
    pub(super) fn rebuild_derived(&mut self, origin: Cell, n: usize, lifetime: u64) {
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

    /// Keeps the items it was generated with, if it is about to change for the first time.
    pub(super) fn before_change(&mut self, origin: Cell, n: usize) {
        if !self.changed && self.generated.is_none() {
            self.generated = Some(self.items.iter().map(|i| cell_of(i, origin, n)).collect());
        }
    }

    /// Records a change at step `now` (after [`Patch::before_change`]).
    pub(super) fn touch(&mut self, now: u64, lifetime: u64) {
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
