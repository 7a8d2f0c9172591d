//! The `agents: […]` section: the groups of agents placed at the start ([`AgentGroup`], defined
//! in `group.rs` because dynamics events add groups too). Resolving it checks that each group
//! fits within its spread — the same check an `AddAgents` event gets — and that the scenario
//! places at most [`MAX_AGENTS`].

use super::error::{Problem, problem};
use crate::group::AgentGroup;

/// The most agents a scenario may place, and the most its events may have alive at once.
pub const MAX_AGENTS: u64 = 1 << 20;

/// Checks the section; the number of agents placed at the start.
pub(super) fn resolve(agents: &[AgentGroup]) -> Result<u64, Problem> {
    let mut total_agents = 0u64;
    for (i, group) in agents.iter().enumerate() {
        check_group(group, &format!("agents[{i}]"))?;
        total_agents += u64::from(group.count);
    }
    if total_agents > MAX_AGENTS {
        return Err(problem("agents", format!("expected at most {MAX_AGENTS} agents, found {total_agents}")));
    }
    Ok(total_agents)
}

/// Checks that the group written at `path` has room for its agents within its spread.
pub(super) fn check_group(group: &AgentGroup, path: &str) -> Result<(), Problem> {
    // Saturating: a spread past 2^31 leaves room for any count (and overflows u64 when squared).
    let room = (2 * u64::from(group.spread) + 1).saturating_pow(2);
    if u64::from(group.count) > room {
        return Err(problem(
            format!("{path}.count"),
            format!(
                "cannot place {} agents within {} cells of {}: there are only {room} cells; raise `spread`",
                group.count,
                group.spread,
                group.cell()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::scenario::Scenario;

    #[test]
    fn the_widest_spread_has_room_for_any_group() {
        let text = r#"Scenario(items: [Item(name: "a", scent: [0], color: [0])], vision: (agent_color: [0]),
            agents: [Agents(count: 3, spread: 4294967295)])"#;
        let scenario = Scenario::parse(text, "wide.ron").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(scenario.agents[0].spread, u32::MAX);
    }
}
