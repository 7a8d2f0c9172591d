//! beanworld-sim: the beanworld engine. It owns the world — an unbounded grid of patches filled
//! with items by a Gibbs point process (spec §1–3) — its deterministic, order-independent
//! generation, the step that agents take in it, their observations, the scenario files that
//! configure it and the snapshots that save it. Pure Rust: no GPU, no window, no threads of its
//! own. Randomness comes only from `rand_chacha` streams keyed by the world seed and a purpose
//! (`rng.rs`), so the same seed gives the same world in any exploration order.
//!
//! Where things live (docs/src/architecture.md has the picture): [`Simulation`] (`simulation.rs`)
//! holds the scenario, the [`State`] (`state.rs`: everything that changes, one serde struct),
//! the tables rebuilt from the scenario and the scratch; `step/` holds the step's phases in spec
//! order; `world/` the patches, their generation, changes and eviction; `placement.rs` the
//! free-cell rule and `group.rs` the groups it places; `scenario/` parsing and resolution, one
//! module per section; `snapshot.rs` the file format.
//!
//! The public modules are the vocabulary front ends speak (actions, configuration, tasks,
//! dynamics, scenarios, snapshots); the rest is re-exported here by name.

pub mod action;
pub mod action_log;
pub mod config;
pub mod dynamics;
pub mod energy;
pub mod geometry;
mod group;
mod item;
mod placement;
pub mod policy;
mod rng;
mod sampler;
pub mod scenario;
mod scent;
mod simulation;
pub mod snapshot;
mod state;
mod step;
pub mod task;
pub mod teacher;
mod vision;
mod world;

pub use config::Config;
pub use geometry::{Cell, PatchCoord, Region};
pub use item::Item;
pub use sampler::{
    Sampler, default_threads as default_generation_threads,
    set_default_threads as set_default_generation_threads,
};
pub use scenario::{Scenario, ScenarioError};
pub use scent::ScentTable;
pub use simulation::{AHEAD_PASSES, SimError, Simulation};
pub use state::{Agent, State};
pub use step::perceive::{Observers, Perceived};
pub use step::{EVICT_EVERY, StepError, StepOutcome};
pub use vision::VisionTables;
pub use world::{MAX_CACHED_ITEMS, MAX_RECORD_BYTES, Patch, STORE_FILE, StoreError, World};
