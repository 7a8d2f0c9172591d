//! Scenario files: the RON format users write, and its checked conversion into a [`Config`].
//!
//! Every setting of JBW's configuration (spec §8.1) can be written; anything left out takes
//! JBW's default. Unknown fields, wrong types and syntax errors are refused by the parser;
//! impossible settings (an unknown item name, `|λ| + 4|α| ≥ 1`, a vision range the engine
//! cannot serve, …) by [`Scenario::parse`] — always as `FILE:LINE:COL: what is wrong`, never a
//! panic. `locate.rs` finds the line and column of a field for the semantic checks.

pub mod dynamics;
pub mod locate;
pub mod teacher;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::{
    ActionConfig, ActionPolicy, CollisionPolicy, Config, ItemType, ScentConfig, VisionConfig,
};
use crate::energy::{Intensity, Interaction};
pub use crate::group::AgentGroup;
use crate::task::{Reward, Schedule};
use locate::{Pos, SourceIndex};

/// The largest patch side the engine supports (cells of a patch are indexed by `u16`).
pub const MAX_PATCH_SIZE: u32 = 256;
/// The most item types a scenario may define.
pub const MAX_ITEM_TYPES: usize = 1024;
/// The largest scent response table accepted, in bytes (spec §4.2: `L · r(r+1)/2` doubles).
pub const MAX_SCENT_TABLE_BYTES: u64 = 1 << 30;
/// The most agents a scenario may place.
pub const MAX_AGENTS: u64 = 1 << 20;

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
    pub dynamics: dynamics::DynamicsSection,
    /// A curriculum teacher that turns world parameters while the agents learn (default: none).
    #[serde(default)]
    pub teacher: Option<teacher::TeacherSpec>,
}

fn default_agents() -> Vec<AgentGroup> {
    vec![AgentGroup::default()]
}

fn no_task() -> ScheduleSpec {
    ScheduleSpec::Fixed(RewardSpec::Zero)
}

/// A reward function as written, with item types by name (see [`Reward`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum RewardSpec {
    /// Always 0.
    Zero,
    /// `value` on every step.
    Action(f32),
    /// `value` per item of the type collected.
    Collect {
        /// Item name.
        item: String,
        /// Reward per item.
        value: f32,
    },
    /// `−value` per item of the type collected.
    Avoid {
        /// Item name.
        item: String,
        /// Penalty per item.
        value: f32,
    },
    /// `value` when the distance from the start grew.
    Explore(f32),
    /// The sum of the parts.
    Sum(Vec<RewardSpec>),
}

/// A schedule as written (see [`Schedule`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ScheduleSpec {
    /// One function throughout.
    Fixed(RewardSpec),
    /// `[(function, steps), …]`, repeating.
    Cyclical(Vec<(RewardSpec, u64)>),
    /// `[(start step, function), …]`, starts ascending from 0.
    Piecewise(Vec<(u64, RewardSpec)>),
}

/// `world: (…)`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorldSection {
    /// `n`, the side of a patch in cells.
    pub patch_size: u32,
    /// Sampler effort: Metropolis–Hastings proposals per patch.
    pub mcmc_iterations: u32,
}

impl Default for WorldSection {
    fn default() -> Self {
        WorldSection { patch_size: 32, mcmc_iterations: 4000 }
    }
}

/// One entry of `items: […]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "Item")]
pub struct ItemSpec {
    /// Unique name, used to refer to the type elsewhere in the file.
    pub name: String,
    /// Scent vector.
    pub scent: Vec<f32>,
    /// Colour vector.
    pub color: Vec<f32>,
    /// Items the agent must hold to collect one, by name (absent = 0).
    #[serde(default)]
    pub required: BTreeMap<String, u32>,
    /// Items removed from the inventory on collection, by name (absent = 0).
    #[serde(default)]
    pub costs: BTreeMap<String, u32>,
    /// Whether agents cannot walk into it.
    #[serde(default)]
    pub blocks_movement: bool,
    /// Darkening of cells behind it.
    #[serde(default)]
    pub visual_occlusion: f32,
    /// Unary energy.
    #[serde(default = "zero_intensity")]
    pub intensity: Intensity,
    /// Pairwise energy with other types, by name (absent = zero).
    #[serde(default)]
    pub interactions: BTreeMap<String, Interaction>,
    /// Relative rate of birth proposals for this type (default 1, as in JBW).
    #[serde(default = "one")]
    pub proposal_weight: f32,
}

fn zero_intensity() -> Intensity {
    Intensity::Zero
}

fn one() -> f32 {
    1.0
}

/// `scent: (…)`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScentSection {
    /// `λ`.
    pub decay: f32,
    /// `α`.
    pub diffusion: f32,
    /// `L`.
    pub deleted_item_lifetime: u32,
}

impl Default for ScentSection {
    fn default() -> Self {
        ScentSection { decay: 0.4, diffusion: 0.14, deleted_item_lifetime: 2000 }
    }
}

/// `vision: (…)`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VisionSection {
    /// `R`.
    pub range: u32,
    /// Field of view in degrees; 360 sees all around.
    pub field_of_view_degrees: f32,
    /// Colour of agents.
    pub agent_color: Vec<f32>,
}

impl Default for VisionSection {
    fn default() -> Self {
        VisionSection { range: 5, field_of_view_degrees: 360.0, agent_color: vec![0.0, 0.0, 1.0] }
    }
}

/// `actions: (…)`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActionSection {
    /// Largest `k` of a `k`-cell move.
    pub max_steps_per_movement: u32,
    /// Move policies by relative direction.
    pub moves: MovePolicies,
    /// Turn policies.
    pub turns: TurnPolicies,
    /// Whether doing nothing is legal.
    pub no_op_allowed: bool,
    /// How contested cells are resolved.
    pub collision_policy: CollisionPolicy,
}

impl Default for ActionSection {
    fn default() -> Self {
        ActionSection {
            max_steps_per_movement: 1,
            moves: MovePolicies::default(),
            turns: TurnPolicies::default(),
            no_op_allowed: false,
            collision_policy: CollisionPolicy::FirstComeFirstServed,
        }
    }
}

/// `moves: (forward: …, backward: …, left: …, right: …)`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MovePolicies {
    /// Step forward.
    pub forward: ActionPolicy,
    /// Step backward.
    pub backward: ActionPolicy,
    /// Strafe left.
    pub left: ActionPolicy,
    /// Strafe right.
    pub right: ActionPolicy,
}

impl Default for MovePolicies {
    fn default() -> Self {
        MovePolicies {
            forward: ActionPolicy::Allowed,
            backward: ActionPolicy::Disallowed,
            left: ActionPolicy::Disallowed,
            right: ActionPolicy::Disallowed,
        }
    }
}

/// `turns: (none: …, reverse: …, left: …, right: …)`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TurnPolicies {
    /// Turn by 0°.
    pub none: ActionPolicy,
    /// Turn by 180°.
    pub reverse: ActionPolicy,
    /// Turn 90° counter-clockwise.
    pub left: ActionPolicy,
    /// Turn 90° clockwise.
    pub right: ActionPolicy,
}

impl Default for TurnPolicies {
    fn default() -> Self {
        TurnPolicies {
            none: ActionPolicy::Disallowed,
            reverse: ActionPolicy::Disallowed,
            left: ActionPolicy::Allowed,
            right: ActionPolicy::Allowed,
        }
    }
}

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
}

/// Why a scenario was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{file}: cannot read the scenario: {source}")]
    Io {
        /// The file.
        file: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The text is not a valid scenario.
    #[error("{file}:{line}:{col}: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// Line, from 1.
        line: usize,
        /// Column, from 1.
        col: usize,
        /// What is wrong and what was expected.
        message: String,
    },
}

/// A semantic problem at a field path, before it is given a position.
struct Problem {
    path: String,
    message: String,
}

fn problem(path: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem { path: path.into(), message: message.into() }
}

impl Scenario {
    /// Reads and checks a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|source| ScenarioError::Io { file: file.clone(), source })?;
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
        let mut parsed = Scenario::syntax(text, file)?;
        for (field, value) in overrides {
            parsed.set(field, value).map_err(|(pos, message)| ScenarioError::Invalid {
                file: format!("override `{field}`"),
                line: pos.line,
                col: pos.col,
                message,
            })?;
        }
        parsed.resolve().map_err(|p| {
            let index = SourceIndex::build(text);
            let pos = index.find_or_parent(&p.path).unwrap_or(Pos { line: 1, col: 1 });
            ScenarioError::Invalid {
                file: file.to_string(),
                line: pos.line,
                col: pos.col,
                message: format!("`{}`: {} (after the overrides)", p.path, p.message),
            }
        })
    }

    /// Parses and checks scenario text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
        let invalid = |pos: Pos, message: String| ScenarioError::Invalid {
            file: file.to_string(),
            line: pos.line,
            col: pos.col,
            message,
        };
        let parsed = Scenario::syntax(text, file)?;
        parsed.resolve().map_err(|p| {
            let index = SourceIndex::build(text);
            let pos = index.find_or_parent(&p.path).unwrap_or(Pos { line: 1, col: 1 });
            invalid(pos, format!("`{}`: {}", p.path, p.message))
        })
    }
}

/// RON as scenario files are read: `Some(…)` may be left out.
fn ron_options() -> ron::Options {
    ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
}

/// A RON error's message, with its span's start.
fn ron_error(e: &ron::error::SpannedError) -> (Pos, String) {
    let pos = Pos { line: e.span.start.line, col: e.span.start.col };
    let what = match &e.code {
        ron::Error::IntegerOutOfBounds => {
            "integer out of range here (negative where only counts are allowed, or too large)".to_string()
        }
        code => code.to_string(),
    };
    (pos, what)
}

impl Scenario {
    /// The file as written, before any check beyond its syntax and types.
    fn syntax(text: &str, file: &str) -> Result<ScenarioFile, ScenarioError> {
        ron_options().from_str(text).map_err(|e| {
            let (pos, what) = ron_error(&e);
            let message = match SourceIndex::build(text).path_at(pos) {
                Some(path) => format!("in `{path}`: {what}"),
                None => what,
            };
            ScenarioError::Invalid { file: file.to_string(), line: pos.line, col: pos.col, message }
        })
    }
}

impl Scenario {
    /// Finds an item type by name, for resolving paths against this scenario.
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
        resolve_schedule(&spec, "task", &|p: String, name: &str| self.item(p, name)).map_err(|p| p.message)
    }
}

impl ScenarioFile {
    /// The top-level fields `ScenarioFile::set` takes.
    pub const FIELDS: [&'static str; 12] = [
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
    ];

    /// Replaces the top-level field `field` by the value written in RON as `value`; on failure,
    /// where in `value` and why.
    fn set(&mut self, field: &str, value: &str) -> Result<(), (Pos, String)> {
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

fn check_finite(path: &str, values: &[f32]) -> Result<(), Problem> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(problem(path, format!("expected finite numbers, found {} at index {i}", values[i]))),
        None => Ok(()),
    }
}

impl ScenarioFile {
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
            dynamics: dynamics_section,
            teacher,
        } = self;

        if !(2..=MAX_PATCH_SIZE).contains(&world.patch_size) {
            return Err(problem(
                "world.patch_size",
                format!(
                    "expected a patch size between 2 and {MAX_PATCH_SIZE} cells, found {}",
                    world.patch_size
                ),
            ));
        }
        let n = world.patch_size as usize;

        if items.is_empty() {
            return Err(problem("items", "expected at least one item type, found none"));
        }
        if items.len() > MAX_ITEM_TYPES {
            return Err(problem(
                "items",
                format!("expected at most {MAX_ITEM_TYPES} item types, found {}", items.len()),
            ));
        }
        let mut names: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, item) in items.iter().enumerate() {
            if item.name.is_empty() {
                return Err(problem(format!("items[{i}].name"), "expected a non-empty name"));
            }
            if let Some(first) = names.insert(&item.name, i) {
                return Err(problem(
                    format!("items[{i}].name"),
                    format!("item name \"{}\" is already used by items[{first}]", item.name),
                ));
            }
        }
        let lookup = |path: String, name: &str| -> Result<usize, Problem> {
            names.get(name).copied().ok_or_else(|| {
                let known: Vec<_> = names.keys().map(|k| format!("\"{k}\"")).collect();
                problem(path, format!("unknown item \"{name}\"; expected one of {}", known.join(", ")))
            })
        };

        let scent_dimension = items[0].scent.len();
        let color_dimension = items[0].color.len();
        let mut resolved = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let at = format!("items[{i}]");
            if item.scent.len() != scent_dimension {
                return Err(problem(
                    format!("{at}.scent"),
                    format!(
                        "expected {scent_dimension} scent values (as items[0] has), found {}",
                        item.scent.len()
                    ),
                ));
            }
            if item.color.len() != color_dimension {
                return Err(problem(
                    format!("{at}.color"),
                    format!(
                        "expected {color_dimension} colour values (as items[0] has), found {}",
                        item.color.len()
                    ),
                ));
            }
            check_finite(&format!("{at}.scent"), &item.scent)?;
            check_finite(&format!("{at}.color"), &item.color)?;
            if !(item.visual_occlusion.is_finite() && item.visual_occlusion >= 0.0) {
                return Err(problem(
                    format!("{at}.visual_occlusion"),
                    format!("expected a finite number ≥ 0, found {}", item.visual_occlusion),
                ));
            }
            check_intensity(&format!("{at}.intensity"), &item.intensity)?;
            if !(item.proposal_weight.is_finite() && item.proposal_weight > 0.0) {
                return Err(problem(
                    format!("{at}.proposal_weight"),
                    format!("expected a finite number > 0, found {}", item.proposal_weight),
                ));
            }

            let mut required_counts = vec![0; items.len()];
            for (other, &count) in &item.required {
                required_counts[lookup(format!("{at}.required[{other:?}]"), other)?] = count;
            }
            let mut required_costs = vec![0; items.len()];
            for (other, &count) in &item.costs {
                required_costs[lookup(format!("{at}.costs[{other:?}]"), other)?] = count;
            }
            let mut interactions = vec![Interaction::Zero; items.len()];
            for (other, g) in &item.interactions {
                let path = format!("{at}.interactions[{other:?}]");
                let j = lookup(path.clone(), other)?;
                check_interaction(&path, g)?;
                interactions[j] = g.clone();
            }
            resolved.push(ItemType {
                name: item.name.clone(),
                scent: item.scent.clone(),
                color: item.color.clone(),
                required_counts,
                required_costs,
                blocks_movement: item.blocks_movement,
                visual_occlusion: item.visual_occlusion,
                intensity: item.intensity.clone(),
                interactions,
                proposal_weight: item.proposal_weight,
            });
        }

        let (decay, diffusion) = (scent.decay, scent.diffusion);
        if !(decay.is_finite() && diffusion.is_finite()) {
            return Err(problem("scent", "expected finite `decay` and `diffusion`"));
        }
        let sum = f64::from(decay).abs() + 4.0 * f64::from(diffusion).abs();
        if sum >= 1.0 {
            return Err(problem(
                "scent.diffusion",
                format!(
                    "scent would not converge: |decay| + 4·|diffusion| = {sum:.4} must be below 1 \
                     (decay {decay}, diffusion {diffusion})"
                ),
            ));
        }
        if scent.deleted_item_lifetime == 0 {
            return Err(problem("scent.deleted_item_lifetime", "expected at least 1 step, found 0"));
        }
        let r = (n / 2 + 1) as u64;
        let table_bytes = u64::from(scent.deleted_item_lifetime) * (r * (r + 1) / 2) * 8;
        if table_bytes > MAX_SCENT_TABLE_BYTES {
            return Err(problem(
                "scent.deleted_item_lifetime",
                format!(
                    "the scent response table for this lifetime and patch size would take {} MiB \
                     (at most {} MiB); shorten the lifetime or the patch size",
                    table_bytes >> 20,
                    MAX_SCENT_TABLE_BYTES >> 20
                ),
            ));
        }

        if vision.range as usize > n / 2 {
            return Err(problem(
                "vision.range",
                format!(
                    "vision range {} is larger than half the patch size ({}), the most the engine \
                     can see; raise `world.patch_size` or lower the range",
                    vision.range,
                    n / 2
                ),
            ));
        }
        let fov = vision.field_of_view_degrees;
        if !(fov.is_finite() && fov > 0.0 && fov <= 360.0) {
            return Err(problem(
                "vision.field_of_view_degrees",
                format!("expected an angle in (0, 360] degrees, found {fov}"),
            ));
        }
        if vision.agent_color.len() != color_dimension {
            return Err(problem(
                "vision.agent_color",
                format!(
                    "expected {color_dimension} colour values (as the items have), found {}",
                    vision.agent_color.len()
                ),
            ));
        }
        check_finite("vision.agent_color", &vision.agent_color)?;

        let mut total_agents = 0u64;
        for (i, group) in agents.iter().enumerate() {
            check_group(group, &format!("agents[{i}]"))?;
            total_agents += u64::from(group.count);
        }
        if total_agents > MAX_AGENTS {
            return Err(problem(
                "agents",
                format!("expected at most {MAX_AGENTS} agents, found {total_agents}"),
            ));
        }
        let task = resolve_schedule(&task, "task", &|path: String, name: &str| lookup(path, name))?;

        let config = Config {
            patch_size: n,
            mcmc_iterations: world.mcmc_iterations,
            items: resolved,
            scent: ScentConfig {
                dimension: scent_dimension,
                decay,
                diffusion,
                deleted_item_lifetime: scent.deleted_item_lifetime,
            },
            vision: VisionConfig {
                color_dimension,
                range: vision.range,
                field_of_view: (f64::from(fov).to_radians()) as f32,
                agent_color: vision.agent_color,
            },
            actions: ActionConfig {
                max_steps_per_movement: actions.max_steps_per_movement,
                moves: [
                    actions.moves.forward,
                    actions.moves.backward,
                    actions.moves.left,
                    actions.moves.right,
                ],
                turns: [actions.turns.none, actions.turns.reverse, actions.turns.left, actions.turns.right],
                no_op_allowed: actions.no_op_allowed,
                collision_policy: actions.collision_policy,
            },
        };
        let dynamics = dynamics_section.resolve(
            &config,
            total_agents,
            &|path: String, name: &str| lookup(path, name),
            &|spec, path| resolve_schedule(spec, path, &|p: String, name: &str| lookup(p, name)),
            &check_group,
        )?;
        let drifting: Vec<_> = dynamics.drift.iter().map(|(p, _)| p.clone()).collect();
        let switches_task =
            dynamics.events.iter().any(|e| matches!(e.action, crate::dynamics::EventAction::SetTask(_)));
        let teacher = teacher
            .map(|t| {
                t.resolve(&config, &|path: String, name: &str| lookup(path, name), &drifting, switches_task)
            })
            .transpose()?;
        Ok(Scenario { name, description, seed, config, agents, task, dynamics, teacher })
    }
}

type Lookup<'a> = dyn Fn(String, &str) -> Result<usize, Problem> + 'a;

fn resolve_reward(path: &str, spec: &RewardSpec, lookup: &Lookup<'_>) -> Result<Reward, Problem> {
    Ok(match spec {
        RewardSpec::Zero => Reward::Zero,
        RewardSpec::Action(v) => {
            check_finite(&format!("{path}[0]"), &[*v])?;
            Reward::Action(*v)
        }
        RewardSpec::Explore(v) => {
            check_finite(&format!("{path}[0]"), &[*v])?;
            Reward::Explore(*v)
        }
        RewardSpec::Collect { item, value } => {
            check_finite(&format!("{path}.value"), &[*value])?;
            Reward::Collect { item: lookup(format!("{path}.item"), item)?, value: *value }
        }
        RewardSpec::Avoid { item, value } => {
            check_finite(&format!("{path}.value"), &[*value])?;
            Reward::Avoid { item: lookup(format!("{path}.item"), item)?, value: *value }
        }
        RewardSpec::Sum(parts) => Reward::Sum(
            parts
                .iter()
                .enumerate()
                .map(|(i, r)| resolve_reward(&format!("{path}[0][{i}]"), r, lookup))
                .collect::<Result<_, _>>()?,
        ),
    })
}

fn check_group(group: &AgentGroup, path: &str) -> Result<(), Problem> {
    let room = (2 * u64::from(group.spread) + 1).pow(2);
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

fn resolve_schedule(spec: &ScheduleSpec, at: &str, lookup: &Lookup<'_>) -> Result<Schedule, Problem> {
    Ok(match spec {
        ScheduleSpec::Fixed(r) => Schedule::Fixed(resolve_reward(&format!("{at}[0]"), r, lookup)?),
        ScheduleSpec::Cyclical(parts) => {
            if parts.is_empty() {
                return Err(problem(at, "a cyclical schedule needs at least one (reward, steps) entry"));
            }
            let mut period = 0u64;
            let mut out = Vec::with_capacity(parts.len());
            for (i, (r, steps)) in parts.iter().enumerate() {
                if *steps == 0 {
                    return Err(problem(
                        format!("task[0][{i}][1]"),
                        "expected a duration of at least 1 step",
                    ));
                }
                period = period.checked_add(*steps).ok_or_else(|| {
                    problem(format!("task[0][{i}][1]"), "the durations add up to more than 2^64 steps")
                })?;
                out.push((resolve_reward(&format!("task[0][{i}][0]"), r, lookup)?, *steps));
            }
            Schedule::Cyclical(out)
        }
        ScheduleSpec::Piecewise(parts) => {
            if parts.first().is_none_or(|(start, _)| *start != 0) {
                return Err(problem(at, "a piecewise schedule must start with an entry at step 0"));
            }
            let mut out = Vec::with_capacity(parts.len());
            for (i, (start, r)) in parts.iter().enumerate() {
                if i > 0 && *start <= parts[i - 1].0 {
                    return Err(problem(
                        format!("{at}[0][{i}][0]"),
                        format!(
                            "expected start steps in increasing order, found {start} after {}",
                            parts[i - 1].0
                        ),
                    ));
                }
                out.push((*start, resolve_reward(&format!("{at}[0][{i}][1]"), r, lookup)?));
            }
            Schedule::Piecewise(out)
        }
    })
}

fn check_intensity(path: &str, f: &Intensity) -> Result<(), Problem> {
    match *f {
        Intensity::Zero => Ok(()),
        Intensity::Constant(c) => check_finite(&format!("{path}[0]"), &[c]),
        Intensity::RadialHash { shift, scale, c, k } => {
            check_finite(path, &[shift, scale, c, k])?;
            if scale < 1.0 {
                return Err(problem(
                    format!("{path}.scale"),
                    format!("expected a period ≥ 1 cell, found {scale}"),
                ));
            }
            Ok(())
        }
    }
}

fn check_interaction(path: &str, g: &Interaction) -> Result<(), Problem> {
    match *g {
        Interaction::Zero => Ok(()),
        Interaction::PiecewiseBox { l1, l2, c1, c2 } => check_finite(path, &[l1, l2, c1, c2]),
        Interaction::Cross { d1, d2, near_aligned, far_aligned, near_off_axis, far_off_axis } => {
            check_finite(path, &[d1, d2, near_aligned, far_aligned, near_off_axis, far_off_axis])
        }
        Interaction::CrossHash { s, c, k, delta, near_aligned, far_aligned, near_off_axis, far_off_axis } => {
            check_finite(path, &[s, c, k, delta, near_aligned, far_aligned, near_off_axis, far_off_axis])?;
            if s < 1.0 {
                return Err(problem(format!("{path}.s"), format!("expected a period ≥ 1 cell, found {s}")));
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
