//! Agents by name, for `--agent NAME` and `policy: Agent("NAME")`: the learners and
//! parameter-sharing teams of `beanworld-rl` and the baselines of `beanworld-baselines`.

use beanworld_agents::{AgentError, Driver};
use beanworld_sim::Config;

/// Every name [`make`] knows.
pub(crate) fn names() -> Vec<&'static str> {
    beanworld_baselines::NAMES
        .iter()
        .chain(&beanworld_rl::NAMES)
        .chain(&beanworld_rl::TEAM_NAMES)
        .copied()
        .collect()
}

/// What drives agent `id` when its policy names `name`, in a world of `config` whose seed is
/// `seed`: an agent of its own, or (for a team) the team that the later agents of that policy join.
pub(crate) fn make(name: &str, config: &Config, id: u32, seed: u64) -> Result<Driver, AgentError> {
    if let Some(team) = beanworld_rl::make_team(name, config, seed) {
        return team.map(Driver::Team);
    }
    if let Some(learner) = beanworld_rl::make(name, config, id, seed) {
        return learner.map(Driver::Agent);
    }
    beanworld_baselines::make(name, config, id, seed)
        .map(Driver::Agent)
        .map_err(|_| AgentError::UnknownAgent { name: name.to_string(), expected: names() })
}
