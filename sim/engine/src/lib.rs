//! beanworld-sim: the beanworld engine. It owns the world — an unbounded grid of patches filled
//! with items by a Gibbs point process (spec §1–3) — its deterministic, order-independent
//! generation, and the scenario files that configure it. Pure Rust: no GPU, no window, no
//! threads of its own. Randomness comes only from `rand_chacha` streams keyed by the world seed
//! and a purpose (`rng.rs`), so the same seed gives the same world in any exploration order.

pub mod action;
pub mod config;
pub mod dynamics;
pub mod energy;
pub mod geometry;
pub mod policy;
pub mod rng;
pub mod sampler;
pub mod scenario;
pub mod scent;
pub mod simulation;
pub mod snapshot;
pub mod task;
pub mod teacher;
pub mod vision;
pub mod world;

pub use config::Config;
pub use geometry::{Cell, PatchCoord, Region};
pub use scenario::{Scenario, ScenarioError};
pub use simulation::{Agent, SimError, Simulation, StepError};
pub use world::World;
