//! The `actions: (…)` section: which moves and turns are legal, how far one move goes, whether
//! doing nothing is allowed and how contested cells are resolved (spec §6). Every value the
//! types admit is valid, so resolving it only rearranges it into an [`ActionConfig`].

use serde::{Deserialize, Serialize};

use crate::config::{ActionConfig, ActionPolicy, CollisionPolicy};

/// `actions: (…)`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActionSection {
    /// Largest `k` of a `k`-cell move.
    pub max_steps_per_movement: u32,
    /// Move policies by relative direction.
    pub moves: MovePolicies,
    /// Turn policies.
    pub turns: TurnPolicies,
    /// Whether doing nothing is legal.
    pub no_op_allowed: bool,
    /// How contested cells are resolved.
    pub collision_policy: CollisionPolicy,
}

impl Default for ActionSection {
    fn default() -> Self {
        ActionSection {
            max_steps_per_movement: 1,
            moves: MovePolicies::default(),
            turns: TurnPolicies::default(),
            no_op_allowed: false,
            collision_policy: CollisionPolicy::FirstComeFirstServed,
        }
    }
}

/// `moves: (forward: …, backward: …, left: …, right: …)`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MovePolicies {
    /// Step forward.
    pub forward: ActionPolicy,
    /// Step backward.
    pub backward: ActionPolicy,
    /// Strafe left.
    pub left: ActionPolicy,
    /// Strafe right.
    pub right: ActionPolicy,
}

impl Default for MovePolicies {
    fn default() -> Self {
        MovePolicies {
            forward: ActionPolicy::Allowed,
            backward: ActionPolicy::Disallowed,
            left: ActionPolicy::Disallowed,
            right: ActionPolicy::Disallowed,
        }
    }
}

/// `turns: (none: …, reverse: …, left: …, right: …)`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TurnPolicies {
    /// Turn by 0°.
    pub none: ActionPolicy,
    /// Turn by 180°.
    pub reverse: ActionPolicy,
    /// Turn 90° counter-clockwise.
    pub left: ActionPolicy,
    /// Turn 90° clockwise.
    pub right: ActionPolicy,
}

impl Default for TurnPolicies {
    fn default() -> Self {
        TurnPolicies {
            none: ActionPolicy::Disallowed,
            reverse: ActionPolicy::Disallowed,
            left: ActionPolicy::Allowed,
            right: ActionPolicy::Allowed,
        }
    }
}

impl ActionSection {
    /// The section as the engine's action rules take it, moves and turns in relative-direction
    /// order.
    pub(super) fn resolve(self) -> ActionConfig {
        let ActionSection { max_steps_per_movement, moves, turns, no_op_allowed, collision_policy } = self;
        ActionConfig {
            max_steps_per_movement,
            moves: [moves.forward, moves.backward, moves.left, moves.right],
            turns: [turns.none, turns.reverse, turns.left, turns.right],
            no_op_allowed,
            collision_policy,
        }
    }
}
