//! The validated, resolved configuration of a world, as the engine uses it: item types refer
//! to each other by index, every list has one entry per item type, and every setting has been
//! checked (see `scenario.rs`, which builds it from a file). Spec §8.1 lists the meaning of
//! each field; names follow JBW's.

use serde::{Deserialize, Serialize};

use crate::energy::{Intensity, Interaction};

/// One kind of item (spec §2.1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemType {
    /// Identifier, unique in the scenario.
    pub name: String,
    /// Scent emitted by each item (length = scent dimension).
    pub scent: Vec<f32>,
    /// Colour added to the item's vision pixel (length = colour dimension).
    pub color: Vec<f32>,
    /// Items of each type the agent must hold to collect one of these (length K).
    pub required_counts: Vec<u32>,
    /// Items of each type removed from the inventory on collection (length K).
    pub required_costs: Vec<u32>,
    /// Whether agents cannot enter a cell holding one.
    pub blocks_movement: bool,
    /// How much it darkens cells behind it (spec §5.4).
    pub visual_occlusion: f32,
    /// Unary energy `f_t`.
    pub intensity: Intensity,
    /// Pairwise energy `g_{t,u}` with each type `u` (length K).
    pub interactions: Vec<Interaction>,
    /// Relative rate at which the sampler proposes births of this type (JBW: all equal). The
    /// Hastings ratio accounts for it, so it changes how fast the type approaches the target
    /// distribution, never the target itself.
    pub proposal_weight: f32,
}

/// What happens to an action of one kind (spec §6.9: ALLOWED=0, DISALLOWED=1, IGNORED=2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActionPolicy {
    /// The action is carried out.
    Allowed,
    /// The action is refused with a permission error.
    Disallowed,
    /// The action is accepted and does nothing.
    Ignored,
}

/// How simultaneous moves into one cell are resolved (spec §6.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CollisionPolicy {
    /// Everyone moves; blocking items are ignored (JBW behaviour, spec §11 #2).
    NoCollisions,
    /// The agent with the lowest id wins a contested cell (JBW: the first to submit).
    FirstComeFirstServed,
    /// A seeded random requester wins.
    Random,
}

/// Scent diffusion (spec §4).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScentConfig {
    /// Scent vector length `S`.
    pub dimension: usize,
    /// `λ`: scent retained per step.
    pub decay: f32,
    /// `α`: scent diffusing to each 4-neighbour per step.
    pub diffusion: f32,
    /// `L`: steps a collected item's scent is remembered; also the response table length.
    pub deleted_item_lifetime: u32,
}

/// Vision (spec §5).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VisionConfig {
    /// Colour vector length `C`.
    pub color_dimension: usize,
    /// `R`: half-width of the square window.
    pub range: u32,
    /// Field of view in radians (`≥ 2π − 0.001` disables masking).
    pub field_of_view: f32,
    /// Colour drawn for agents.
    pub agent_color: Vec<f32>,
}

/// Which actions exist and how moves collide (spec §6).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionConfig {
    /// Largest `k` in a `k`-cell move.
    pub max_steps_per_movement: u32,
    /// Policies for moving forward, backward, left, right.
    pub moves: [ActionPolicy; 4],
    /// Policies for turning none, reverse, left, right.
    pub turns: [ActionPolicy; 4],
    /// Whether doing nothing is a legal action.
    pub no_op_allowed: bool,
    /// How contested cells are resolved.
    pub collision_policy: CollisionPolicy,
}

/// Everything that defines a world and how agents act in it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// `n`: side of a patch in cells.
    pub patch_size: usize,
    /// Sampler effort: Metropolis–Hastings proposals per patch when it is generated.
    pub mcmc_iterations: u32,
    /// The `K` item types.
    pub items: Vec<ItemType>,
    /// Scent.
    pub scent: ScentConfig,
    /// Vision.
    pub vision: VisionConfig,
    /// Actions.
    pub actions: ActionConfig,
}

impl Config {
    /// A configuration of no world: what a [`World`](crate::World) read from a snapshot holds
    /// until it is attached to its scenario's.
    pub(crate) fn unattached() -> Self {
        Config {
            patch_size: 0,
            mcmc_iterations: 0,
            items: Vec::new(),
            scent: ScentConfig { dimension: 0, decay: 0.0, diffusion: 0.0, deleted_item_lifetime: 0 },
            vision: VisionConfig {
                color_dimension: 0,
                range: 0,
                field_of_view: 0.0,
                agent_color: Vec::new(),
            },
            actions: ActionConfig {
                max_steps_per_movement: 0,
                moves: [ActionPolicy::Disallowed; 4],
                turns: [ActionPolicy::Disallowed; 4],
                no_op_allowed: false,
                collision_policy: CollisionPolicy::FirstComeFirstServed,
            },
        }
    }

    /// Index of the item type with this name.
    pub fn item_index(&self, name: &str) -> Option<usize> {
        self.items.iter().position(|t| t.name == name)
    }
}
