//! A scenario file as written: [`ScenarioFile`], one field per section, each section's type
//! living with its checks (`world.rs`, `items.rs`, …). This module reads RON into it — syntax,
//! types, unknown fields and defaults, never meaning — and replaces top-level fields for
//! overrides. Syntax errors get the line and column ron reports, and the field they fall in.

use serde::{Deserialize, Serialize};

use super::actions::ActionSection;
use super::dynamics::DynamicsSection;
use super::error::ScenarioError;
use super::items::ItemSpec;
use super::locate::{Pos, SourceIndex};
use super::scent::ScentSection;
use super::task::{RewardSpec, ScheduleSpec};
use super::teacher::TeacherSpec;
use super::vision::VisionSection;
use super::world::WorldSection;
use crate::group::AgentGroup;

/// A scenario as written in a `.ron` file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "Scenario")]
pub struct ScenarioFile {
    /// Short name.
    #[serde(default)]
    pub name: String,
    /// What the scenario is for.
    #[serde(default)]
    pub description: String,
    /// World seed (JBW's default is 0).
    #[serde(default)]
    pub seed: u64,
    /// Patch size and sampler effort.
    #[serde(default)]
    pub world: WorldSection,
    /// The item types, in type order.
    pub items: Vec<ItemSpec>,
    /// Scent diffusion.
    #[serde(default)]
    pub scent: ScentSection,
    /// Vision.
    #[serde(default)]
    pub vision: VisionSection,
    /// Actions and collisions.
    #[serde(default)]
    pub actions: ActionSection,
    /// Groups of agents placed at the start (default: one walker at the origin facing up).
    #[serde(default = "default_agents")]
    pub agents: Vec<AgentGroup>,
    /// The reward schedule (default: no reward).
    #[serde(default = "no_task")]
    pub task: ScheduleSpec,
    /// Regrowth, drift, events and eviction (default: none; the world stays as generated).
    #[serde(default)]
    pub dynamics: DynamicsSection,
    /// A curriculum teacher that turns world parameters while the agents learn (default: none).
    #[serde(default)]
    pub teacher: Option<TeacherSpec>,
    /// Steps per row of a run's metrics (default 1,000; 1 for a row per step).
    #[serde(default = "default_metrics_every")]
    pub metrics_every: u64,
    /// Worlds a `beanworld run` trains its learner over at once, one forward pass for all of them
    /// (default 1: one agent's one life, through the step channel).
    #[serde(default = "one_world")]
    pub worlds: u64,
}

fn one_world() -> u64 {
    1
}

fn default_metrics_every() -> u64 {
    1000
}

fn default_agents() -> Vec<AgentGroup> {
    vec![AgentGroup::default()]
}

fn no_task() -> ScheduleSpec {
    ScheduleSpec::Fixed(RewardSpec::Zero)
}

/// RON as scenario files are read: `Some(…)` may be left out.
pub(super) fn ron_options() -> ron::Options {
    ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
}

/// A RON error's message, with its span's start.
pub(super) fn ron_error(e: &ron::error::SpannedError) -> (Pos, String) {
    let pos = Pos { line: e.span.start.line, col: e.span.start.col };
    let what = match &e.code {
        ron::Error::IntegerOutOfBounds => {
            "integer out of range here (negative where only counts are allowed, or too large)".to_string()
        }
        code => code.to_string(),
    };
    (pos, what)
}

impl ScenarioFile {
    /// The top-level fields `ScenarioFile::set` takes.
    pub const FIELDS: [&'static str; 14] = [
        "name",
        "description",
        "seed",
        "world",
        "items",
        "scent",
        "vision",
        "actions",
        "agents",
        "task",
        "dynamics",
        "teacher",
        "metrics_every",
        "worlds",
    ];

    /// The file as written, before any check beyond its syntax and types; `file` names it in
    /// errors.
    pub(super) fn read(text: &str, file: &str) -> Result<ScenarioFile, ScenarioError> {
        ron_options().from_str(text).map_err(|e| {
            let (pos, what) = ron_error(&e);
            let message = match SourceIndex::build(text).path_at(pos) {
                Some(path) => format!("in `{path}`: {what}"),
                None => what,
            };
            ScenarioError::invalid(file, pos, message)
        })
    }

    /// Replaces the top-level field `field` by the value written in RON as `value`; on failure,
    /// where in `value` and why.
    pub(super) fn set(&mut self, field: &str, value: &str) -> Result<(), (Pos, String)> {
        fn read<T: serde::de::DeserializeOwned>(value: &str) -> Result<T, (Pos, String)> {
            ron_options().from_str(value).map_err(|e| ron_error(&e))
        }
        match field {
            "name" => self.name = read(value)?,
            "description" => self.description = read(value)?,
            "seed" => self.seed = read(value)?,
            "world" => self.world = read(value)?,
            "items" => self.items = read(value)?,
            "scent" => self.scent = read(value)?,
            "vision" => self.vision = read(value)?,
            "actions" => self.actions = read(value)?,
            "agents" => self.agents = read(value)?,
            "task" => self.task = read(value)?,
            "dynamics" => self.dynamics = read(value)?,
            "teacher" => self.teacher = read(value)?,
            "metrics_every" => self.metrics_every = read(value)?,
            "worlds" => self.worlds = read(value)?,
            other => {
                return Err((
                    Pos { line: 1, col: 1 },
                    format!("unknown scenario field `{other}`; expected one of {}", Self::FIELDS.join(", ")),
                ));
            }
        }
        Ok(())
    }
}
