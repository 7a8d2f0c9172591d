//! A group of agents as a scenario places them: how many, where, facing which way and driven by
//! what. This is plain data shared by the scenario (`agents: […]`), the dynamics (an event that
//! adds agents) and placement; it imports nothing from them, so none of them depends on another
//! through it. Checking a group against the placement limits is the scenario's job
//! (`scenario/agents.rs`); placing it is `placement.rs`'s.

use serde::{Deserialize, Serialize};

use crate::geometry::{Cell, Direction};
use crate::policy::PolicyKind;

/// `agents: [Agents(…), …]`: `count` agents placed as near `position` as the free-cell rule
/// allows (the nearest cells without another agent or a blocking item, ring by ring, at most
/// `spread` cells away), all facing `facing` and driven by `policy`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default, rename = "Agents")]
pub struct AgentGroup {
    /// How many agents.
    pub count: u32,
    /// Where they start (JBW: the origin).
    pub position: (i64, i64),
    /// Their facing (JBW: up).
    pub facing: Direction,
    /// What drives them.
    pub policy: PolicyKind,
    /// How far from `position` (Chebyshev distance) an agent may be placed.
    pub spread: u32,
}

impl Default for AgentGroup {
    fn default() -> Self {
        AgentGroup { count: 1, position: (0, 0), facing: Direction::Up, policy: PolicyKind::Walk, spread: 8 }
    }
}

impl AgentGroup {
    /// The requested start cell.
    pub fn cell(&self) -> Cell {
        Cell::new(self.position.0, self.position.1)
    }
}
