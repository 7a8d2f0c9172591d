//! beanworld-baselines: the reference agents of spec §10 — random, the paper's greedy visual
//! agent (§10.1) and the greedy scent agent (§10.2) — each an [`Agent`] that any scenario can run
//! (`beanworld run SCENARIO --agent NAME`). They are yardsticks for learners: what a learner must
//! beat, measured in the same world.

pub mod greedy_scent;
pub mod greedy_visual;
pub mod random;
pub mod upper_bound;

use beanworld_agents::{Agent, AgentError};
use beanworld_sim::Config;

/// The names [`make`] knows.
pub const NAMES: [&str; 3] = ["random", "greedy-visual", "greedy-scent"];

/// The baseline called `name` for agent `id` in a world of `config` whose seed is `seed`.
pub fn make(name: &str, config: &Config, id: u32, seed: u64) -> Result<Box<dyn Agent>, AgentError> {
    Ok(match name {
        "random" => Box::new(random::Random::new(config, id, seed)),
        "greedy-visual" => Box::new(greedy_visual::GreedyVisual::new(config, id, seed)?),
        "greedy-scent" => Box::new(greedy_scent::GreedyScent::new(config, id, seed)?),
        other => return Err(AgentError::UnknownAgent { name: other.to_string(), expected: NAMES.to_vec() }),
    })
}

// The actions a scenario allows and an agent's random stream are every agent family's
// business, so they live in `beanworld-agents`; re-exported here for the baselines' users.
pub use beanworld_agents::{agent_rng, allowed_actions};
