//! Agents by name: a [`Registry`] maps the names that `--agent NAME` and `policy: Agent("NAME")`
//! give to constructors. Each agent family lists its own [`Entry`]s (`beanworld_baselines::ENTRIES`,
//! `beanworld_rl::ENTRIES`) and a front end assembles one registry from them, so the families
//! never know of each other and the front end never knows any agent. Every constructor has one
//! signature, [`Make`]: the settings written after the name and a [`Context`] (the world's
//! configuration, the agent's id and the world's seed), returning the [`Driver`] of that agent.
//!
//! A name is `BASE` or `BASE(SETTINGS)`: the base is everything before the first `(`, and the
//! settings (parentheses included, as RON reads them) everything from it on. A base nobody
//! registered, or settings after an agent that takes none, is an unknown agent, and the error
//! lists every name known.

use beanworld_sim::Config;

use crate::{AgentError, Driver};

/// What an agent is made for.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// The name as given, settings included (`ppo(rollout: 256)`). Learners are named by it, so
    /// that a learner with other settings refuses another's saved state.
    pub name: &'a str,
    /// The world's configuration.
    pub config: &'a Config,
    /// The agent's id (for a team, the id of the member that made it).
    pub id: u32,
    /// The world's seed.
    pub seed: u64,
}

/// A constructor: the settings after the name (`"(rollout: 256)"`, or `""` when none are
/// written) and what the agent is made for; its [`Driver`], or why it cannot be made.
pub type Make = fn(settings: &str, context: &Context<'_>) -> Result<Driver, AgentError>;

/// One name an agent family answers to.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    /// The name, without settings (`ppo-scent`).
    pub name: &'static str,
    /// Whether settings may follow the name; without, `NAME(…)` is an unknown agent.
    pub settings: bool,
    /// Makes the agent.
    pub make: Make,
}

/// The names a front end knows, in the order their families were added.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    entries: Vec<Entry>,
}

impl Registry {
    /// A registry of no agent.
    pub fn new() -> Self {
        Registry::default()
    }

    /// Adds a family's entries after those already known (a name already known keeps its first
    /// entry).
    pub fn add(&mut self, entries: &[Entry]) -> &mut Self {
        self.entries.extend_from_slice(entries);
        self
    }

    /// Every name known, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.entries.iter().map(|e| e.name).collect()
    }

    /// The agent called `name` (settings included) for agent `id` in a world of `config` whose
    /// seed is `seed`: an agent of its own, or a team that later agents of the same policy join.
    pub fn make(&self, name: &str, config: &Config, id: u32, seed: u64) -> Result<Driver, AgentError> {
        let (base, settings) = name.split_at(name.find('(').unwrap_or(name.len()));
        match self.entries.iter().find(|e| e.name == base) {
            Some(entry) if entry.settings || settings.is_empty() => {
                (entry.make)(settings, &Context { name, config, id, seed })
            }
            _ => Err(AgentError::UnknownAgent { name: name.to_string(), expected: self.names() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use beanworld_sim::Scenario;
    use beanworld_sim::action::Action;

    use super::*;
    use crate::{Agent, Observation};

    struct Still;

    impl Agent for Still {
        fn name(&self) -> &str {
            "still"
        }

        fn act(&mut self, _: &Observation<'_>) -> Action {
            Action::NoOp
        }
    }

    fn config() -> Config {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/jbw-v0.ron");
        Scenario::load(&path).unwrap_or_else(|e| panic!("{e}")).config
    }

    fn still(_: &str, _: &Context<'_>) -> Result<Driver, AgentError> {
        Ok(Driver::Agent(Box::new(Still)))
    }

    /// Refuses unless it was asked for as `tuned(speed: 2)` by agent 7 in a world of seed 9.
    fn tuned(settings: &str, c: &Context<'_>) -> Result<Driver, AgentError> {
        if (settings, c.name, c.id, c.seed) != ("(speed: 2)", "tuned(speed: 2)", 7, 9) {
            return Err(AgentError::Invalid(format!("{settings} {} {} {}", c.name, c.id, c.seed)));
        }
        still(settings, c)
    }

    fn registry() -> Registry {
        let mut registry = Registry::new();
        registry.add(&[Entry { name: "still", settings: false, make: still }]);
        registry.add(&[Entry { name: "tuned", settings: true, make: tuned }]);
        registry
    }

    #[test]
    fn a_name_with_settings_reaches_its_entry_with_the_settings_and_the_whole_name() {
        let made = registry().make("tuned(speed: 2)", &config(), 7, 9);
        assert_eq!(made.map(|d| d.name().to_string()), Ok("still".to_string()));
    }

    #[test]
    fn an_unknown_name_is_refused_with_every_name_known_in_order() {
        let err = registry().make("clever", &config(), 1, 0).err().expect("unknown");
        assert_eq!(err.to_string(), "unknown agent \"clever\"; expected one of still, tuned");
    }

    #[test]
    fn settings_after_an_agent_that_takes_none_make_an_unknown_name() {
        let err = registry().make("still(speed: 2)", &config(), 1, 0).err().expect("unknown");
        assert_eq!(
            err,
            AgentError::UnknownAgent { name: "still(speed: 2)".into(), expected: vec!["still", "tuned"] }
        );
        assert!(registry().make("still", &config(), 1, 0).is_ok());
    }
}
