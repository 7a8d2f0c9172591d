//! Agents by name, for `--agent NAME` and `policy: Agent("NAME")`: one [`Registry`] of the
//! baselines of `beanworld-baselines` and the learners and parameter-sharing teams of
//! `beanworld-rl`, in that order (the order an unknown name's message lists them in).

use std::sync::OnceLock;

use beanworld_agents::{AgentError, Driver, Registry};
use beanworld_sim::Config;

/// Every agent the command knows.
fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut registry = Registry::new();
        registry.add(beanworld_baselines::ENTRIES).add(beanworld_rl::ENTRIES);
        registry
    })
}

/// What drives agent `id` when its policy names `name`, in a world of `config` whose seed is
/// `seed`: an agent of its own, or (for a team) the team that the later agents of that policy join.
pub(crate) fn make(name: &str, config: &Config, id: u32, seed: u64) -> Result<Driver, AgentError> {
    registry().make(name, config, id, seed)
}
