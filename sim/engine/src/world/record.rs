//! Records: changed patches out of memory, kept compactly (about 4 bytes an item) until an agent
//! comes back and they are restored exactly.

use serde::{Deserialize, Serialize};

use super::patch::Patch;
use crate::geometry::Cell;
use crate::item::Item;

/// A changed patch out of memory: its items in order, each as `cell << 16 | type` (cell
/// index within the patch), with the creation and deletion times of those whose scent still
/// changes with time (an item created long enough ago smells exactly like one that has always
/// been there, so its creation time is not kept).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub(super) cells: Box<[u32]>,
    pub(super) times: Box<[(u32, u64, u64)]>,
}

impl Record {
    pub(super) fn of(patch: &Patch, origin: Cell, n: usize, now: u64, lifetime: u64) -> Self {
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

    /// How many items it holds.
    pub(super) fn len(&self) -> usize {
        self.cells.len()
    }

    /// The bytes it takes in memory (its items and their times, not the allocator's overhead).
    pub(super) fn bytes(&self) -> usize {
        size_of::<Self>() + size_of_val(&*self.cells) + size_of_val(&*self.times)
    }

    /// Its items, in order.
    pub(super) fn items(&self, origin: Cell, n: usize) -> impl Iterator<Item = Item> + '_ {
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

    /// Whether the record fits a patch of side `n` in a world of `kinds` item types: its cells
    /// inside, its types known, at most one live item a cell, its times naming its items in order.
    pub(super) fn check(&self, n: usize, kinds: usize) -> Result<(), String> {
        let mut times = self.times.iter().peekable();
        let mut taken = vec![false; n * n];
        let mut last = None;
        for &(index, _, _) in self.times.iter() {
            if index as usize >= self.cells.len() || last.is_some_and(|l| l >= index) {
                return Err(format!("a record names item {index} of {}", self.cells.len()));
            }
            last = Some(index);
        }
        for (i, &v) in self.cells.iter().enumerate() {
            let (cell, kind) = ((v >> 16) as usize, (v & 0xffff) as usize);
            if cell >= n * n || kind >= kinds {
                return Err(format!(
                    "a record holds an item of type {kind} at cell {cell} of a patch of {n} × {n}"
                ));
            }
            let deleted =
                times.next_if(|(index, _, _)| *index as usize == i).is_some_and(|&(_, _, d)| d != 0);
            if !deleted && std::mem::replace(&mut taken[cell], true) {
                return Err(format!("a record holds two items in cell {cell}"));
            }
        }
        Ok(())
    }

    pub(super) fn restore(&self, origin: Cell, n: usize, lifetime: u64) -> Patch {
        let items: Vec<Item> = self.items(origin, n).collect();
        let mut patch = Patch::new(items, origin, n, lifetime);
        patch.changed = true;
        patch
    }
}
