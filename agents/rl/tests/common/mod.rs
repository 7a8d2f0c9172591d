//! What the learners' test files share: the world they learn in and learners made by name.

use std::path::PathBuf;

use beanworld_agents::{Agent, AgentError, Driver, Registry};
use beanworld_sim::{Config, Scenario};

/// The classic world (JBW-v0).
pub fn config() -> Config {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/jbw-v0.ron");
    Scenario::load(&path).unwrap_or_else(|e| panic!("{e}")).config
}

/// The learner called `name` (settings included), made as a front end makes it.
pub fn learner(name: &str, config: &Config, id: u32, seed: u64) -> Result<Box<dyn Agent>, AgentError> {
    match Registry::new().add(beanworld_rl::ENTRIES).make(name, config, id, seed)? {
        Driver::Agent(agent) => Ok(agent),
        Driver::Team(team) => panic!("{name}: a team ({}), not an agent", team.name()),
    }
}
