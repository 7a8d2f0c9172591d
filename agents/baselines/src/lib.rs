//! beanworld-baselines: the reference agents of spec §10 — random, the paper's greedy visual
//! agent (§10.1) and the greedy scent agent (§10.2) — each an [`Agent`](beanworld_agents::Agent) that any scenario can run
//! (`beanworld run SCENARIO --agent NAME`). They are yardsticks for learners: what a learner must
//! beat, measured in the same world.

pub mod greedy_scent;
pub mod greedy_visual;
pub mod random;
pub mod upper_bound;

use beanworld_agents::registry::{Context, Entry};
use beanworld_agents::{AgentError, Driver};

/// The names this crate answers to, for a front end's [`Registry`](beanworld_agents::Registry):
/// `random`, `greedy-visual`, `greedy-scent`. They take no settings.
pub const ENTRIES: &[Entry] = &[
    Entry { name: "random", settings: false, make: random_agent },
    Entry { name: "greedy-visual", settings: false, make: greedy_visual_agent },
    Entry { name: "greedy-scent", settings: false, make: greedy_scent_agent },
];

fn random_agent(_: &str, c: &Context<'_>) -> Result<Driver, AgentError> {
    Ok(Driver::Agent(Box::new(random::Random::new(c.config, c.id, c.seed))))
}

fn greedy_visual_agent(_: &str, c: &Context<'_>) -> Result<Driver, AgentError> {
    Ok(Driver::Agent(Box::new(greedy_visual::GreedyVisual::new(c.config, c.id, c.seed)?)))
}

fn greedy_scent_agent(_: &str, c: &Context<'_>) -> Result<Driver, AgentError> {
    Ok(Driver::Agent(Box::new(greedy_scent::GreedyScent::new(c.config, c.id, c.seed)?)))
}

// The actions a scenario allows and an agent's random stream are every agent family's
// business, so they live in `beanworld-agents`; re-exported here for the baselines' users.
pub use beanworld_agents::{agent_rng, allowed_actions};
