//! The `dynamics: (…)` section of a scenario file and its resolution into [`Dynamics`]:
//! parameters by path (`"jellybean.intensity"`, `"banana.interactions.tree.c2"`,
//! `"onion.color[1]"`), items by name, events checked against the agents that will exist.

use serde::{Deserialize, Serialize};

use super::agents::{MAX_AGENTS, check_group};
use super::error::{Problem, check_finite, problem};
use super::items::Lookup;
use super::task::ScheduleSpec;
use crate::config::Config;
use crate::dynamics::{
    Dynamics, Event, EventAction, Eviction, Param, Regrowth, TimeFn, intensity_args, interaction_args,
};
use crate::geometry::{Cell, Region};
use crate::group::AgentGroup;

/// The most cells one `Place` or `Clear` event may cover.
pub const MAX_EVENT_CELLS: u64 = 1 << 22;
/// The largest regrowth radius, in patches.
pub const MAX_REGROWTH_RADIUS: u32 = 16;

/// `dynamics: (…)`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DynamicsSection {
    /// `regrowth: (radius: …, interval: …, proposals: …)`.
    pub regrowth: Option<Regrowth>,
    /// `drift: [Drift(param: "…", value: …), …]`.
    pub drift: Vec<DriftSpec>,
    /// `events: [Event(at: …, action: …), …]`.
    pub events: Vec<EventSpec>,
    /// `eviction: (radius: …)`.
    pub eviction: Option<Eviction>,
}

/// `Drift(param: "jellybean.intensity", value: Cycle(…))`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "Drift")]
pub struct DriftSpec {
    /// The parameter's path.
    pub param: String,
    /// Its value over time.
    pub value: TimeFn,
}

/// `Event(at: 1000, action: …)`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "Event")]
pub struct EventSpec {
    /// After which step (0: before the first).
    pub at: u64,
    /// What happens.
    pub action: ActionSpec,
}

/// An event's action as written.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum ActionSpec {
    /// `Set(param: "…", value: v)`.
    Set {
        /// The parameter's path.
        param: String,
        /// The new value.
        value: f32,
    },
    /// `Place(item: "wall", region: (x0, y0, x1, y1))`.
    Place {
        /// Item name.
        item: String,
        /// Corners, included.
        region: (i64, i64, i64, i64),
    },
    /// `Clear(items: ["jellybean"], region: (…))` (no names: every type).
    Clear {
        /// Item names.
        #[serde(default)]
        items: Vec<String>,
        /// Corners, included.
        region: (i64, i64, i64, i64),
    },
    /// `AddAgents(Agents(…))`.
    AddAgents(AgentGroup),
    /// `RemoveAgent(id)`.
    RemoveAgent(u32),
    /// `SetTask(Fixed(…))`.
    SetTask(ScheduleSpec),
    /// `Snapshot`.
    Snapshot,
}

/// Resolves a parameter path against the configuration.
pub(super) fn resolve_param(
    path: &str,
    text: &str,
    config: &Config,
    lookup: &Lookup<'_>,
) -> Result<Param, Problem> {
    let bad = |why: String| problem(path, why);
    let (item_name, rest) = text.split_once('.').ok_or_else(|| {
        bad(format!(
            "expected a parameter such as \"jellybean.intensity\", \"banana.interactions.tree.c2\" or \
             \"onion.color[0]\", found \"{text}\""
        ))
    })?;
    let item = lookup(path.to_string(), item_name)?;
    let t = &config.items[item];
    let channel = |rest: &str, field: &str, len: usize| -> Result<usize, Problem> {
        let inner =
            rest.strip_prefix(field).and_then(|r| r.strip_prefix('[')).and_then(|r| r.strip_suffix(']'));
        let c: usize = inner.and_then(|c| c.parse().ok()).ok_or_else(|| {
            bad(format!("expected `{field}[CHANNEL]` after the item name, found \"{rest}\""))
        })?;
        if c >= len {
            return Err(bad(format!("{item_name} has {len} {field} channels; channel {c} does not exist")));
        }
        Ok(c)
    };
    if rest.starts_with("color") {
        return Ok(Param::Color { item, channel: channel(rest, "color", t.color.len())? });
    }
    if rest.starts_with("scent") {
        return Ok(Param::Scent { item, channel: channel(rest, "scent", t.scent.len())? });
    }
    if let Some(arg) = rest.strip_prefix("intensity") {
        let names = intensity_args(&t.intensity);
        if names.is_empty() {
            return Err(bad(format!(
                "{item_name}'s intensity is Zero, which has no arguments; give it a function first"
            )));
        }
        let arg = match arg.strip_prefix('.') {
            None if arg.is_empty() && names == ["value"] => 0,
            Some(name) => names.iter().position(|n| *n == name).ok_or_else(|| {
                bad(format!(
                    "{item_name}'s intensity {:?} has no argument \"{name}\"; it has {names:?}",
                    t.intensity
                ))
            })?,
            _ => {
                return Err(bad(format!(
                    "{item_name}'s intensity is {:?}; name one of its arguments {names:?} (\"{item_name}.intensity.ARG\")",
                    t.intensity
                )));
            }
        };
        return Ok(Param::Intensity { item, arg });
    }
    if let Some(rest) = rest.strip_prefix("interactions.") {
        let (other_name, arg_name) = rest.split_once('.').ok_or_else(|| {
            bad(format!("expected \"{item_name}.interactions.OTHER.ARG\", found \"{text}\""))
        })?;
        let other = lookup(path.to_string(), other_name)?;
        let g = &t.interactions[other];
        let names = interaction_args(g);
        if names.is_empty() {
            return Err(bad(format!(
                "{item_name} has no interaction with {other_name} (Zero, no arguments); give it a function first"
            )));
        }
        let arg = names.iter().position(|n| *n == arg_name).ok_or_else(|| {
            bad(format!(
                "the interaction of {item_name} with {other_name} ({g:?}) has no argument \"{arg_name}\"; it has {names:?}"
            ))
        })?;
        return Ok(Param::Interaction { item, other, arg });
    }
    Err(bad(format!(
        "expected intensity, interactions, color or scent after \"{item_name}.\", found \"{rest}\""
    )))
}

fn check_time_fn(path: &str, f: &TimeFn) -> Result<(), Problem> {
    match f {
        TimeFn::Constant(v) => check_finite(path, &[*v]),
        TimeFn::Steps { initial, changes } => {
            check_finite(path, &[*initial])?;
            for (i, (at, v)) in changes.iter().enumerate() {
                check_finite(path, &[*v])?;
                if i > 0 && *at <= changes[i - 1].0 {
                    return Err(problem(path, "expected the steps of `changes` in increasing order"));
                }
            }
            Ok(())
        }
        TimeFn::Ramp { start, end, from, to } => {
            check_finite(path, &[*from, *to])?;
            if end <= start {
                return Err(problem(path, format!("expected `end` after `start`, found {start}..{end}")));
            }
            Ok(())
        }
        TimeFn::Cycle { mean, amplitude, period, .. } => {
            check_finite(path, &[*mean, *amplitude])?;
            if *period == 0 {
                return Err(problem(path, "expected a period of at least 1 step"));
            }
            Ok(())
        }
    }
}

fn region(path: &str, (x0, y0, x1, y1): (i64, i64, i64, i64)) -> Result<Region, Problem> {
    let r = Region::new(Cell::new(x0, y0), Cell::new(x1, y1));
    if r.cells() > MAX_EVENT_CELLS {
        return Err(problem(
            path,
            format!("the region has {} cells; an event covers at most {MAX_EVENT_CELLS}", r.cells()),
        ));
    }
    Ok(r)
}

impl DynamicsSection {
    /// Checks and resolves the section; `agents` is the number of agents placed at the start.
    pub(super) fn resolve(
        &self,
        config: &Config,
        agents: u64,
        lookup: &Lookup<'_>,
    ) -> Result<Dynamics, Problem> {
        self.check_rounds()?;
        let mut drift = Vec::with_capacity(self.drift.len());
        for (i, d) in self.drift.iter().enumerate() {
            let path = format!("dynamics.drift[{i}]");
            let param = resolve_param(&format!("{path}.param"), &d.param, config, lookup)?;
            if drift.iter().any(|(p, _)| *p == param) {
                return Err(problem(format!("{path}.param"), format!("\"{}\" already drifts", d.param)));
            }
            check_time_fn(&format!("{path}.value"), &d.value)?;
            drift.push((param, d.value.clone()));
        }
        let events = self.resolve_events(config, agents, lookup)?;
        Ok(Dynamics { regrowth: self.regrowth.clone(), drift, events, eviction: self.eviction.clone() })
    }

    /// Checks the regrowth and eviction settings.
    fn check_rounds(&self) -> Result<(), Problem> {
        if let Some(r) = &self.regrowth {
            if r.interval == 0 {
                return Err(problem("dynamics.regrowth.interval", "expected at least 1 step between rounds"));
            }
            if r.radius > MAX_REGROWTH_RADIUS {
                return Err(problem(
                    "dynamics.regrowth.radius",
                    format!("expected at most {MAX_REGROWTH_RADIUS} patches, found {}", r.radius),
                ));
            }
        }
        if let Some(e) = &self.eviction {
            let needed = self.regrowth.as_ref().map_or(2, |r| (r.radius + 1).max(2));
            if e.radius < needed {
                return Err(problem(
                    "dynamics.eviction.radius",
                    format!(
                        "expected at least {needed} patches: agents need the patches around them{}",
                        if self.regrowth.is_some() {
                            ", and regrowth the ring beyond its radius"
                        } else {
                            ""
                        }
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Checks and resolves the events in the order they happen (by step, then as written),
    /// following which agents exist at each: `agents` are placed at the start.
    fn resolve_events(
        &self,
        config: &Config,
        agents: u64,
        lookup: &Lookup<'_>,
    ) -> Result<Vec<Event>, Problem> {
        let mut events = Vec::with_capacity(self.events.len());
        let mut order: Vec<usize> = (0..self.events.len()).collect();
        order.sort_by_key(|&i| self.events[i].at);
        // Agent ids alive at each event, to refuse removing one that does not exist.
        let mut next_id = agents + 1;
        let mut alive: Vec<u64> = (1..next_id).collect();
        for i in order {
            let e = &self.events[i];
            let path = format!("dynamics.events[{i}].action");
            let action = match &e.action {
                ActionSpec::Set { param, value } => {
                    check_finite(&format!("{path}[0].value"), &[*value])?;
                    let p = resolve_param(&format!("{path}.param"), param, config, lookup)?;
                    EventAction::Set(p, *value)
                }
                ActionSpec::Place { item, region: r } => EventAction::Place(
                    lookup(format!("{path}.item"), item)?,
                    region(&format!("{path}.region"), *r)?,
                ),
                ActionSpec::Clear { items, region: r } => {
                    let kinds = items
                        .iter()
                        .enumerate()
                        .map(|(k, name)| lookup(format!("{path}.items[{k}]"), name))
                        .collect::<Result<Vec<_>, _>>()?;
                    EventAction::Clear(kinds, region(&format!("{path}.region"), *r)?)
                }
                ActionSpec::AddAgents(g) => {
                    check_group(g, &format!("{path}[0]"))?;
                    let after = alive.len() as u64 + u64::from(g.count);
                    if after > MAX_AGENTS {
                        return Err(problem(
                            format!("{path}[0].count"),
                            format!(
                                "expected at most {MAX_AGENTS} agents at once, found {after} after step {}",
                                e.at
                            ),
                        ));
                    }
                    alive.extend(next_id..next_id + u64::from(g.count));
                    next_id += u64::from(g.count);
                    EventAction::AddAgents(g.clone())
                }
                ActionSpec::RemoveAgent(id) => {
                    let Some(k) = alive.iter().position(|a| *a == u64::from(*id)) else {
                        return Err(problem(
                            format!("{path}[0]"),
                            format!("no agent {id} exists at step {} (agents then: {alive:?})", e.at),
                        ));
                    };
                    alive.remove(k);
                    EventAction::RemoveAgent(*id)
                }
                ActionSpec::SetTask(s) => EventAction::SetTask(s.resolve(&format!("{path}[0]"), lookup)?),
                ActionSpec::Snapshot => EventAction::Snapshot,
            };
            events.push(Event { at: e.at, action });
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::{Scenario, ScenarioError};

    fn message(dynamics: &str) -> String {
        let text = format!(
            r#"Scenario(items: [Item(name: "a", scent: [0], color: [0])], vision: (agent_color: [0]),
                dynamics: {dynamics})"#
        );
        match Scenario::parse(&text, "events.ron") {
            Err(ScenarioError::Invalid { message, .. }) => message,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn adding_more_agents_than_a_scenario_may_place_is_refused() {
        let m =
            message("(events: [Event(at: 5, action: AddAgents(Agents(count: 4294967295, spread: 65535)))])");
        assert!(m.contains("at most 1048576 agents at once, found 4294967296 after step 5"), "{m}");
    }
}
