//! An item on the grid: its type, cell, and when it appeared and was collected (spec §2, §4.3).
//! A leaf: the world, the sampler and the scent table all speak of items, and none of them
//! needs the others to do so.

use serde::{Deserialize, Serialize};

use crate::geometry::Cell;

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
