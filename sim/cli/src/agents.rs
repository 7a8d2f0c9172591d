//! Agents by name, for `--agent NAME` and `policy: Agent("NAME")`: the learners of
//! `beanworld-rl` and the baselines of `beanworld-baselines`.

use beanworld_agents::Agent;
use beanworld_sim::Config;

/// The agent called `name` for agent `id` in a world of `config` whose seed is `seed`.
pub(crate) fn make(name: &str, config: &Config, id: u32, seed: u64) -> Result<Box<dyn Agent>, String> {
    if let Some(learner) = beanworld_rl::make(name, config, id, seed) {
        return learner;
    }
    beanworld_baselines::make(name, config, id, seed).map_err(|_| {
        let names: Vec<&str> =
            beanworld_baselines::NAMES.iter().chain(&beanworld_rl::NAMES).copied().collect();
        format!("unknown agent \"{name}\"; expected one of {}", names.join(", "))
    })
}
