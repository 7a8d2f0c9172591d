//! Scenario files: the RON format users write, and its checked conversion into a [`Scenario`].
//!
//! Every setting of JBW's configuration (spec §8.1) can be written; anything left out takes
//! JBW's default. Unknown fields, wrong types and syntax errors are refused by the parser
//! (`file.rs`); impossible settings (an unknown item name, `|λ| + 4|α| ≥ 1`, a vision range the
//! engine cannot serve, …) by each section's checks — always as `FILE:LINE:COL: what is wrong`,
//! never a panic. One module per section owns its type as written and its resolution, in the
//! order [`Scenario::parse`] checks them: `world.rs`, `items.rs`, `scent.rs`, `vision.rs`,
//! `actions.rs`, `agents.rs`, `task.rs`, `dynamics.rs`, `teacher.rs`. Every check reports the one
//! problem type of `error.rs`, a field path that `locate.rs` turns into a line and column.

mod actions;
mod agents;
pub mod dynamics;
mod error;
mod file;
mod items;
pub mod locate;
mod scent;
mod task;
pub mod teacher;
mod vision;
mod world;

use std::path::Path;

use serde::{Deserialize, Serialize};

pub use self::actions::{ActionSection, MovePolicies, TurnPolicies};
pub use self::agents::MAX_AGENTS;
pub use self::error::ScenarioError;
pub use self::file::ScenarioFile;
pub use self::items::{ItemSpec, MAX_ITEM_TYPES};
pub use self::scent::{MAX_SCENT_TABLE_BYTES, ScentSection};
pub use self::task::{RewardSpec, ScheduleSpec};
pub use self::vision::VisionSection;
pub use self::world::{MAX_PATCH_SIZE, WorldSection};
use crate::config::Config;
pub use crate::group::AgentGroup;
use crate::task::Schedule;
use error::{Problem, problem};
use file::{ron_error, ron_options};

/// The most worlds a run trains over at once (as `beanworld run --worlds` allows).
pub const MAX_WORLDS: u64 = 4096;

/// A scenario that has been read and checked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    /// Short name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// World seed.
    pub seed: u64,
    /// The world and its rules.
    pub config: Config,
    /// The agents placed at the start.
    pub agents: Vec<AgentGroup>,
    /// The reward schedule.
    pub task: Schedule,
    /// Regrowth, drift, events and eviction.
    pub dynamics: crate::dynamics::Dynamics,
    /// The curriculum teacher, if any.
    pub teacher: Option<crate::teacher::Teacher>,
    /// Steps per row of a run's metrics (a front end's concern: not part of the simulation's
    /// state or of what a snapshot must match).
    pub metrics_every: u64,
    /// Worlds a run trains its learner over at once (1: one agent's one life; a front end's
    /// concern, like `metrics_every`).
    pub worlds: u64,
}

impl Scenario {
    /// Reads and checks a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|cause| ScenarioError::Io { file: file.clone(), cause })?;
        Scenario::parse(&text, &file)
    }

    /// Parses scenario text, replaces top-level fields by `overrides` — `(field, RON text of its
    /// value)`, such as `("task", "Fixed(Collect(item: \"banana\", value: 1))")` or
    /// `("seed", "7")` — and checks the result. A bad override is refused naming the field, with
    /// the line and column within its text; the checks that follow (unknown item names and the
    /// like) point into the file.
    pub fn parse_with(text: &str, file: &str, overrides: &[(&str, &str)]) -> Result<Scenario, ScenarioError> {
        if overrides.is_empty() {
            return Scenario::parse(text, file);
        }
        let mut parsed = ScenarioFile::read(text, file)?;
        for (field, value) in overrides {
            parsed.set(field, value).map_err(|(pos, message)| {
                ScenarioError::invalid(&format!("override `{field}`"), pos, message)
            })?;
        }
        parsed.resolve().map_err(|p| p.locate(text, file, " (after the overrides)"))
    }

    /// Parses and checks scenario text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
        ScenarioFile::read(text, file)?.resolve().map_err(|p| p.locate(text, file, ""))
    }

    /// Finds an item type by name, for resolving paths against this scenario; an unknown name
    /// lists the known ones in type order.
    fn item(&self, path: String, name: &str) -> Result<usize, Problem> {
        self.config.items.iter().position(|t| t.name == name).ok_or_else(|| {
            let known: Vec<_> = self.config.items.iter().map(|t| format!("\"{}\"", t.name)).collect();
            problem(path, format!("unknown item \"{name}\"; expected one of {}", known.join(", ")))
        })
    }

    /// The world parameter at `path` (`"jellybean.intensity"`, `"banana.interactions.tree.c2"`,
    /// `"onion.color[1]"`), as `Drift` and teachers name them; or why there is none.
    pub fn param(&self, path: &str) -> Result<crate::dynamics::Param, String> {
        dynamics::resolve_param("param", path, &self.config, &|p: String, name: &str| self.item(p, name))
            .map_err(|p| p.message)
    }

    /// A reward schedule written in RON as a scenario's `task` field
    /// (`Fixed(Collect(item: "banana", value: 1))`); or why it is not one.
    pub fn schedule(&self, text: &str) -> Result<Schedule, String> {
        let spec: ScheduleSpec = ron_options().from_str(text).map_err(|e| {
            let (pos, what) = ron_error(&e);
            format!("{}:{}: {what}", pos.line, pos.col)
        })?;
        spec.resolve("task", &|p: String, name: &str| self.item(p, name)).map_err(|p| p.message)
    }

    /// A reward function as written, its item names resolved against this scenario's items;
    /// or why it cannot be (an unknown item, a value that is not finite).
    pub fn reward(&self, spec: &RewardSpec) -> Result<crate::task::Reward, String> {
        spec.resolve("reward", &|p: String, name: &str| self.item(p, name)).map_err(|p| p.message)
    }
}

impl ScenarioFile {
    /// Checks and resolves the sections in order; the first problem found stops it.
    fn resolve(self) -> Result<Scenario, Problem> {
        let ScenarioFile {
            name,
            description,
            seed,
            world,
            items,
            scent,
            vision,
            actions,
            agents,
            task,
            dynamics,
            teacher,
            metrics_every,
            worlds,
        } = self;
        let n = world.resolve()?;
        let (types, names) = items::resolve(&items)?;
        let lookup = |path: String, name: &str| names.lookup(path, name);
        let scent = scent.resolve(n, types[0].scent.len())?;
        let vision = vision.resolve(n, types[0].color.len())?;
        let total_agents = agents::resolve(&agents)?;
        let task = task.resolve("task", &lookup)?;
        let config = Config {
            patch_size: n,
            mcmc_iterations: world.mcmc_iterations,
            items: types,
            scent,
            vision,
            actions: actions.resolve(),
        };
        let dynamics = dynamics.resolve(&config, total_agents, &lookup)?;
        let teacher = teacher.map(|t| t.resolve(&config, &dynamics, &lookup)).transpose()?;
        if metrics_every == 0 {
            return Err(problem("metrics_every", "must be at least 1 (1 writes a row per step)"));
        }
        if !(1..=MAX_WORLDS).contains(&worlds) {
            return Err(problem("worlds", format!("must be 1 to {MAX_WORLDS}, not {worlds}")));
        }
        Ok(Scenario {
            name,
            description,
            seed,
            config,
            agents,
            task,
            dynamics,
            teacher,
            metrics_every,
            worlds,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ActionPolicy, CollisionPolicy};
    use crate::energy::Intensity;

    const MINIMAL: &str = r#"Scenario(items: [Item(name: "banana", scent: [1, 0], color: [1, 1, 0])])"#;

    #[test]
    fn a_minimal_scenario_takes_jbw_defaults() {
        let s = Scenario::parse(MINIMAL, "m.ron").expect("valid");
        let c = &s.config;
        assert_eq!(s.seed, 0);
        assert_eq!(c.patch_size, 32);
        assert_eq!(c.mcmc_iterations, 4000);
        assert_eq!(c.scent.dimension, 2);
        assert_eq!(c.vision.color_dimension, 3);
        assert_eq!(c.vision.range, 5);
        assert!((c.vision.field_of_view - std::f32::consts::TAU).abs() < 1e-6);
        assert_eq!(c.actions.moves[0], ActionPolicy::Allowed);
        assert_eq!(c.actions.turns[2], ActionPolicy::Allowed);
        assert_eq!(c.actions.collision_policy, CollisionPolicy::FirstComeFirstServed);
        assert_eq!((c.scent.decay, c.scent.diffusion, c.scent.deleted_item_lifetime), (0.4, 0.14, 2000));
        assert_eq!(c.items[0].intensity, Intensity::Zero);
    }

    fn error_of(text: &str) -> (usize, usize, String) {
        match Scenario::parse(text, "bad.ron") {
            Err(ScenarioError::Invalid { line, col, message, .. }) => (line, col, message),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn names_are_resolved_to_indices() {
        let text = r#"Scenario(items: [
            Item(name: "a", scent: [0], color: [0], required: {"a": 1}, interactions: {"b": Cross(d1: 1, d2: 2, near_aligned: 1, far_aligned: 0, near_off_axis: 0, far_off_axis: 0)}),
            Item(name: "b", scent: [0], color: [0], costs: {"a": 2}),
        ], vision: (agent_color: [0]))"#;
        let s = Scenario::parse(text, "x.ron").expect("valid");
        assert_eq!(s.config.items[0].required_counts, vec![1, 0]);
        assert_eq!(s.config.items[1].required_costs, vec![2, 0]);
        assert!(s.config.items[0].interactions[0].is_zero());
        assert!(!s.config.items[0].interactions[1].is_zero());
    }

    #[test]
    fn unknown_interaction_partner_points_at_its_key() {
        let text = "Scenario(items: [\n  Item(name: \"a\", scent: [0], color: [0, 0, 1],\n    interactions: {\"onoin\": Zero}),\n])";
        let (line, col, message) = error_of(text);
        assert_eq!((line, col), (3, 20), "{message}");
        assert!(message.contains("unknown item \"onoin\""), "{message}");
    }
}
