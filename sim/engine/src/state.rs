//! The state of a simulation: everything that changes as it runs, and nothing else, in one serde
//! struct. A snapshot is a header and this state ([`crate::snapshot`]); the state digest hashes
//! the same bytes ([`State::digest`]), so a field added here is saved, restored and compared
//! without another edit anywhere.
//!
//! What is not here is rebuilt: the tables (sampler, scent response, vision) and the parameters
//! in force come from the scenario, the clock and the overrides; per-step buffers and
//! observation caches are scratch (see `simulation.rs`).

use serde::{Deserialize, Serialize};

use crate::dynamics::Param;
use crate::geometry::{Cell, Direction};
use crate::policy::Scripted;
use crate::task::Schedule;
use crate::world::World;

/// One agent's state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    /// Identifier, from 1 in placement order; agents are processed in this order.
    pub id: u32,
    /// Current cell.
    pub position: Cell,
    /// Current facing.
    pub facing: Direction,
    /// Where it was placed (the origin of the `Explore` reward).
    pub spawn: Cell,
    /// Items held, per type: collected, less costs paid.
    pub inventory: Vec<u32>,
    /// Items collected so far, per type.
    pub collected: Vec<u64>,
    /// Reward received so far.
    pub reward: f64,
    /// What drives it, with its random stream.
    pub policy: Scripted,
}

/// Everything about a simulation that changes while it runs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct State {
    /// Steps taken so far.
    pub(crate) time: u64,
    /// The agents, in id order.
    pub(crate) agents: Vec<Agent>,
    /// The patches in memory and the records of evicted changed ones.
    pub(crate) world: World,
    /// Parameters fixed by `Set` events and control messages, in the order first set.
    pub(crate) overrides: Vec<(Param, f32)>,
    /// The reward schedule in force.
    pub(crate) task: Schedule,
    /// Index of the next scripted event to happen.
    pub(crate) next_event: usize,
    /// The id the next added agent gets.
    pub(crate) next_id: u32,
    /// Whether an event asked for a snapshot that the front end has not taken yet.
    pub(crate) snapshot_requested: bool,
}

impl State {
    /// A BLAKE3 digest (hex) of the state's serialization: equal states, equal digests. It covers
    /// every patch in memory, so two runs compare equal when they took the same steps (whatever
    /// their thread counts or batching) and a resumed run equals the one that never stopped.
    ///
    /// Only a failing store of evicted patches can keep it from reading the whole state: the
    /// digest then reads `unavailable: ` and the reason, which equals no digest.
    pub fn digest(&self) -> String {
        let mut hasher = blake3::Hasher::new();
        // Writing into a hasher cannot fail, and the state holds nothing else serde cannot
        // encode.
        match postcard::to_io(self, &mut hasher) {
            Ok(_) => hasher.finalize().to_hex().to_string(),
            Err(e) => match self.world.fault() {
                Some(cause) => format!("unavailable: {cause}"),
                None => unreachable!("a state always encodes: {e}"),
            },
        }
    }
}
