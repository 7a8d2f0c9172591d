//! What of the world a snapshot saves, and how it comes back.
//!
//! Saved: every changed patch in memory (items, and whether it is fixed), the coordinates of the
//! unchanged fixed patches, and the records of evicted changed patches — those in memory and
//! those spilled to the store's file alike, so a snapshot stands alone — each list in coordinate
//! order. Not saved: unchanged patches that are not fixed (a pure function of seed and place,
//! regenerated when asked for) and the cache of evicted unchanged ones. So two runs that took the
//! same steps serialize to the same bytes — whichever of them was resumed, and whatever their
//! caches held — and the state digest can hash exactly what a snapshot saves.
//!
//! Restored ([`World::attach`], [`World::regenerate`]): the unchanged fixed patches are sampled
//! again and every fixed patch gets its eight neighbours back, so the invariant of `world` holds
//! and the agents find their surroundings where they left them.

use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::store::{Records, SortedRecords};
use super::{Patch, Record, World, next_version};
use crate::config::Config;
use crate::geometry::PatchCoord;
use crate::sampler::Sampler;

#[derive(Serialize)]
struct SavedRef<'a> {
    changed: Vec<(PatchCoord, &'a Patch)>,
    fixed: Vec<PatchCoord>,
    records: SortedRecords<'a>,
}

#[derive(Deserialize)]
struct Saved {
    changed: Vec<(PatchCoord, Patch)>,
    fixed: Vec<PatchCoord>,
    records: Vec<(PatchCoord, Record)>,
}

fn by_coordinate<T>(mut v: Vec<(PatchCoord, T)>) -> Vec<(PatchCoord, T)> {
    v.sort_unstable_by_key(|(c, _)| (c.y, c.x));
    v
}

impl Serialize for World {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let changed = self.patches.iter().filter(|(_, p)| p.changed).map(|(c, p)| (*c, p)).collect();
        let mut fixed: Vec<PatchCoord> =
            self.patches.iter().filter(|(_, p)| !p.changed && p.fixed).map(|(c, _)| *c).collect();
        fixed.sort_unstable_by_key(|c| (c.y, c.x));
        SavedRef { changed: by_coordinate(changed), fixed, records: self.records.sorted() }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for World {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let saved = Saved::deserialize(d)?;
        let mut world = World::new(unattached(), 0);
        world.patches = saved.changed.into_iter().collect();
        world.records = Records::from_saved(saved.records);
        world.unsampled = saved.fixed;
        Ok(world)
    }
}

/// The configuration of a world read from a snapshot until [`World::attach`] gives it its own.
fn unattached() -> Arc<Config> {
    static NONE: std::sync::LazyLock<Arc<Config>> =
        std::sync::LazyLock::new(|| Arc::new(Config::unattached()));
    Arc::clone(&NONE)
}

impl World {
    /// Gives a world read from a snapshot its configuration and seed, and rebuilds what is
    /// derived from its patches (occupancy grids, scent bookkeeping, versions).
    /// Whether every saved patch fits a world of `config`: its items inside it, of known types,
    /// at most one live item a cell. A snapshot's checksum catches damage, not a state made up to
    /// match it; this is checked before the world is attached to such a state.
    pub(crate) fn check(&self, config: &Config) -> Result<(), String> {
        let n = config.patch_size;
        let kinds = config.items.len();
        for (c, p) in &self.patches {
            let origin = c.origin(n);
            let mut taken = vec![false; n * n];
            for item in &p.items {
                let (dx, dy) = (item.pos.x.wrapping_sub(origin.x), item.pos.y.wrapping_sub(origin.y));
                if !(0..n as i64).contains(&dx) || !(0..n as i64).contains(&dy) {
                    return Err(format!("an item at {:?} lies outside its patch {c:?}", item.pos));
                }
                if usize::from(item.kind) >= kinds {
                    return Err(format!("an item of type {} in a world of {kinds} types", item.kind));
                }
                let cell = dy as usize * n + dx as usize;
                if item.is_live() && std::mem::replace(&mut taken[cell], true) {
                    return Err(format!("two items at {:?}", item.pos));
                }
            }
        }
        for (c, record) in self.records.in_memory_iter() {
            record.check(n, kinds).map_err(|e| format!("{e} (patch {c:?})"))?;
        }
        Ok(())
    }

    pub(crate) fn attach(&mut self, config: Arc<Config>, seed: u64) {
        let n = config.patch_size;
        let lifetime = u64::from(config.scent.deleted_item_lifetime);
        for (c, p) in self.patches.iter_mut() {
            p.rebuild_derived(c.origin(n), n, lifetime);
            p.version = next_version();
        }
        self.config = config;
        self.seed = seed;
    }

    /// Samples again the unchanged fixed patches of a world read from a snapshot, and the
    /// neighbours of every fixed patch (after [`World::attach`]).
    pub(crate) fn regenerate(&mut self, sampler: &mut Sampler) {
        let unsampled = std::mem::take(&mut self.unsampled);
        self.generate_all(&unsampled, sampler);
        for c in unsampled {
            if let Some(p) = self.patches.get_mut(&c) {
                p.fixed = true;
            }
        }
        let mut fixed: Vec<PatchCoord> =
            self.patches.iter().filter(|(_, p)| p.fixed).map(|(c, _)| *c).collect();
        fixed.sort_unstable_by_key(|c| (c.y, c.x));
        let neighbours: Vec<PatchCoord> = fixed.iter().flat_map(|c| c.neighbours()).collect();
        self.generate_all(&neighbours, sampler);
    }
}
