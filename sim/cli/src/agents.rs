//! Agents by name, for `--agent NAME` and `policy: Agent("NAME")`: one [`Registry`] of the
//! baselines of `beanworld-baselines` and the learners and parameter-sharing teams of
//! `beanworld-rl`, in that order (the order an unknown name's message lists them in), and the
//! agents a host registers while it runs ([`register`]: a Python learner, from the binding).

use std::path::Path;
use std::sync::{Arc, OnceLock, RwLock};

use anyhow::bail;
use beanworld_agents::{AgentError, Driver, Registry};
use beanworld_sim::dynamics::EventAction;
use beanworld_sim::policy::PolicyKind;
use beanworld_sim::{Config, Scenario};

/// Every agent the command knows.
fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut registry = Registry::new();
        registry.add(beanworld_baselines::ENTRIES).add(beanworld_rl::ENTRIES);
        registry
    })
}

/// Makes the agent of an id in a world of a config whose seed is given, as `make` does (the agents by name).
pub type Maker = Arc<dyn Fn(&Config, u32, u64) -> Result<Driver, AgentError> + Send + Sync>;

/// The agents registered by the host, by name: read when an agent is made, never per step.
static REGISTERED: RwLock<Vec<(String, Maker)>> = RwLock::new(Vec::new());

/// Makes `name` (taken whole, with no settings) an agent of this process, made by `maker`,
/// in place of one registered before under that name. A built-in agent's name is refused.
pub fn register(name: &str, maker: Maker) -> anyhow::Result<()> {
    if name.is_empty() || name.contains(['(', ')', ' ']) {
        bail!("\"{name}\" cannot name an agent: a word without spaces or brackets, such as \"my-learner\"");
    }
    if registry().names().contains(&name) {
        bail!("\"{name}\" is a built-in agent's name; register the learner under another");
    }
    let mut registered = REGISTERED.write().unwrap_or_else(|p| p.into_inner());
    registered.retain(|(n, _)| n != name);
    registered.push((name.into(), maker));
    Ok(())
}

/// Forgets the agent registered under `name`, if any.
pub fn unregister(name: &str) {
    REGISTERED.write().unwrap_or_else(|p| p.into_inner()).retain(|(n, _)| n != name);
}

/// What drives agent `id` when its policy names `name`, in a world of `config` whose seed is
/// `seed`: an agent of its own, or (for a team) the team that the later agents of that policy join.
pub(crate) fn make(name: &str, config: &Config, id: u32, seed: u64) -> Result<Driver, AgentError> {
    let registered = REGISTERED.read().unwrap_or_else(|p| p.into_inner());
    if let Some((_, maker)) = registered.iter().find(|(n, _)| n == name) {
        let maker = Arc::clone(maker);
        drop(registered);
        return maker(config, id, seed);
    }
    drop(registered);
    registry().make(name, config, id, seed)
}

/// Checks that every agent the policies of `scenario` name — at the start, or added later by
/// events — can be made for its world. A problem in settings written in the scenario file
/// `file` is reported at the line and column of the file where it is, like any other problem
/// of a scenario file.
pub(crate) fn check_named(scenario: &Scenario, file: Option<&Path>) -> anyhow::Result<()> {
    let added = scenario.dynamics.events.iter().filter_map(|e| match &e.action {
        EventAction::AddAgents(g) => Some(g),
        _ => None,
    });
    let mut text = None;
    for group in scenario.agents.iter().chain(added) {
        let PolicyKind::Agent(name) = &group.policy else { continue };
        let Err(e) = make(name, &scenario.config, 1, scenario.seed) else { continue };
        let Some(file) = file else { bail!("{e}") };
        let text = match &mut text {
            Some(text) => text,
            None => text.insert(std::fs::read_to_string(file).unwrap_or_default()),
        };
        match (&e, locate(&e, text)) {
            (AgentError::Settings { name, message, .. }, Some((line, col))) => {
                bail!("{}:{line}:{col}: the settings of agent \"{name}\": {message}", file.display())
            }
            _ => bail!("{}: agent \"{name}\": {e}", file.display()),
        }
    }
    Ok(())
}

/// The line and column (from 1) in a scenario file's `text` where the problem of a settings
/// error starts: its settings are written in the file as they are read, so they are found there
/// and the position within them moved by where they start.
fn locate(e: &AgentError, text: &str) -> Option<(usize, usize)> {
    let AgentError::Settings { settings, at: (line, col), .. } = e else { return None };
    let start = text.find(settings.as_str())?;
    let before = &text[..start];
    let start_line = before.matches('\n').count() + 1;
    let start_col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    Some(if *line <= 1 { (start_line, start_col + col - 1) } else { (start_line + line - 1, *col) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_problems_are_placed_in_the_file() {
        let text = "Scenario(\n  agents: [Agents(policy: Agent(name: \"ppo\", settings: (lstm: true,\n    rolout: 4)))],\n)";
        let e = |at| AgentError::Settings {
            name: "ppo".into(),
            settings: "(lstm: true,\n    rolout: 4)".into(),
            at,
            message: "no such field".into(),
        };
        // `(` is at line 2, column 56; `rolout` at line 3, column 5.
        assert_eq!(locate(&e((1, 1)), text), Some((2, 56)));
        assert_eq!(locate(&e((1, 3)), text), Some((2, 58)));
        assert_eq!(locate(&e((2, 5)), text), Some((3, 5)));
        assert_eq!(locate(&AgentError::Invalid("x".into()), text), None);
    }
}
