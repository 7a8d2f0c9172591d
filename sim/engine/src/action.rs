//! Actions an agent can take in one step (spec §6.2), and why an action is refused.

use serde::{Deserialize, Serialize};

use crate::config::{ActionConfig, ActionPolicy};
use crate::geometry::Direction;

/// A move direction relative to the agent's facing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Move {
    /// Ahead.
    Forward = 0,
    /// Behind.
    Backward = 1,
    /// Strafe left.
    Left = 2,
    /// Strafe right.
    Right = 3,
}

/// A turn relative to the agent's facing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Turn {
    /// No change.
    None = 0,
    /// 180°.
    Reverse = 1,
    /// 90° counter-clockwise.
    Left = 2,
    /// 90° clockwise.
    Right = 3,
}

/// One agent's action for one step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Move `steps` cells (teleporting: only the destination is checked, as in JBW).
    Move {
        /// Which way, relative to the facing.
        direction: Move,
        /// How many cells.
        steps: u32,
    },
    /// Turn in place.
    Turn(Turn),
    /// Do nothing.
    NoOp,
}

impl Action {
    /// A small integer code, stable across versions, for hashing trajectories.
    pub fn code(self) -> u32 {
        match self {
            Action::Move { direction, steps } => (direction as u32) << 16 | steps.min(0xffff),
            Action::Turn(t) => 0x10_0000 | t as u32,
            Action::NoOp => 0x20_0000,
        }
    }
}

/// Why an action was refused (JBW's PERMISSION_ERROR, spec §6.2).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// The scenario disallows this kind of action.
    #[error("agent {agent}: {action:?} is not allowed in this scenario")]
    Disallowed {
        /// The agent's id.
        agent: u32,
        /// The refused action.
        action: Action,
    },
    /// The move is longer than `max_steps_per_movement`.
    #[error("agent {agent}: a move of {steps} cells exceeds the scenario's maximum of {max}")]
    TooFar {
        /// The agent's id.
        agent: u32,
        /// Cells asked for.
        steps: u32,
        /// The most allowed.
        max: u32,
    },
    /// The number of actions does not match the number of agents.
    #[error("expected one action per agent ({agents}), got {actions}")]
    Count {
        /// Agents in the world.
        agents: usize,
        /// Actions given.
        actions: usize,
    },
}

/// What an allowed action asks for: a number of cells along a direction, and a new facing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// Direction and length of the displacement (0 cells: stay).
    pub displacement: (Direction, i64),
    /// The facing after the step.
    pub facing: Direction,
}

/// Checks `action` against the scenario's policies and says what it asks for an agent facing
/// `facing` (spec §6.2). An ignored action asks for nothing.
pub fn request(
    rules: &ActionConfig,
    agent: u32,
    facing: Direction,
    action: Action,
) -> Result<Request, ActionError> {
    let stay = Request { displacement: (facing, 0), facing };
    match action {
        Action::Move { direction, steps } => {
            if steps > rules.max_steps_per_movement {
                return Err(ActionError::TooFar { agent, steps, max: rules.max_steps_per_movement });
            }
            match rules.moves[direction as usize] {
                ActionPolicy::Disallowed => Err(ActionError::Disallowed { agent, action }),
                ActionPolicy::Ignored => Ok(stay),
                ActionPolicy::Allowed => {
                    let way = match direction {
                        Move::Forward => facing,
                        Move::Backward => facing.reverse(),
                        Move::Left => facing.left(),
                        Move::Right => facing.right(),
                    };
                    Ok(Request { displacement: (way, i64::from(steps)), facing })
                }
            }
        }
        Action::Turn(turn) => match rules.turns[turn as usize] {
            ActionPolicy::Disallowed => Err(ActionError::Disallowed { agent, action }),
            ActionPolicy::Ignored => Ok(stay),
            ActionPolicy::Allowed => {
                let facing = match turn {
                    Turn::None => facing,
                    Turn::Reverse => facing.reverse(),
                    Turn::Left => facing.left(),
                    Turn::Right => facing.right(),
                };
                Ok(Request { displacement: (facing, 0), facing })
            }
        },
        Action::NoOp => {
            if rules.no_op_allowed {
                Ok(stay)
            } else {
                Err(ActionError::Disallowed { agent, action })
            }
        }
    }
}
