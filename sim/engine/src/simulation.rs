//! The simulation: a world with agents in it, advanced one synchronous step at a time.
//!
//! Its parts follow rapier's split: the scenario it was built from; the [`State`], everything
//! that changes (saved by snapshots, compared by digests); the tables, rebuilt from the scenario
//! (sampler, scent response, vision, and the parameters in force, which follow from the
//! scenario, the clock and the overrides); and the scratch, buffers and observation caches reused
//! every step and never saved. The step itself, phase by phase, is in `step/`; placing agents in
//! `placement.rs`.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::action::Action;
use crate::config::Config;
use crate::dynamics::Param;
use crate::geometry::{Cell, Direction, PatchCoord};
use crate::sampler::Sampler;
use crate::scenario::Scenario;
use crate::scent::ScentTable;
use crate::state::{Agent, State};
use crate::step::StepError;
use crate::step::buckets::Buckets;
use crate::step::perceive::Perceived;
use crate::task::{Reward, Schedule};
use crate::vision::VisionTables;
use crate::world::World;

/// Why a simulation could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The free-cell rule found no cell for an agent.
    #[error(
        "agents[{group}]: cannot place agent {index} of {count} within {spread} cells of {position}: \
         every cell there holds another agent or a blocking item; raise `spread` or move the group"
    )]
    Placement {
        /// Index of the agent group in the scenario.
        group: usize,
        /// Which agent of the group (from 1).
        index: u32,
        /// Agents in the group.
        count: u32,
        /// The requested position.
        position: Cell,
        /// The search radius.
        spread: u32,
    },
}

/// Passes of [`Simulation::sample_ahead`], each reaching farther than the last.
pub const AHEAD_PASSES: usize = 3;

/// What is rebuilt from the scenario (and, for the parameters in force, from the state's clock
/// and overrides): never saved, identical however often it is rebuilt.
#[derive(Clone, Debug)]
pub(crate) struct Tables {
    /// The sampler that generates patches.
    pub(crate) sampler: Sampler,
    /// The sampler of regrowth rounds, tuned to the current energies.
    pub(crate) regrower: Sampler,
    pub(crate) scent: Arc<ScentTable>,
    pub(crate) vision: Arc<VisionTables>,
    /// The configuration in force: the scenario's, with drift and overrides applied.
    pub(crate) current: Config,
    /// Per item type, its scent vector in f64 (of `current`).
    pub(crate) item_scent: Vec<f64>,
    /// Incremented whenever what agents perceive of `current` changes (a cache key).
    pub(crate) params_version: u64,
}

/// Buffers reused by every step, and what observers cache between steps. Never saved.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scratch {
    pub(crate) destination: Vec<Cell>,
    pub(crate) facing: Vec<Direction>,
    pub(crate) moving: Vec<bool>,
    pub(crate) claims: FxHashMap<Cell, usize>,
    pub(crate) contest: Vec<(Cell, usize)>,
    pub(crate) stuck: Vec<Cell>,
    pub(crate) before: Vec<u32>,
    pub(crate) distance_before: Vec<u128>,
    pub(crate) rewards: Vec<f32>,
    pub(crate) moved: Vec<bool>,
    pub(crate) ids: Vec<u32>,
    pub(crate) zone: Vec<PatchCoord>,
    pub(crate) centres: Vec<PatchCoord>,
    /// Incremented by every step in which an agent changed cell, and when agents come or go
    /// (a cache key of observations and buckets).
    pub(crate) moves: u64,
    pub(crate) perceived: Vec<Perceived>,
    pub(crate) buckets: Buckets,
}

/// A world with agents, its clock and its task.
#[derive(Clone, Debug)]
pub struct Simulation {
    pub(crate) scenario: Arc<Scenario>,
    pub(crate) state: State,
    pub(crate) tables: Tables,
    pub(crate) scratch: Scratch,
}

impl Simulation {
    /// Builds the world of `scenario` and places its agents.
    pub fn new(scenario: Scenario) -> Result<Self, SimError> {
        let scenario = Arc::new(scenario);
        let state = State {
            time: 0,
            agents: Vec::new(),
            world: World::new(Arc::new(scenario.config.clone()), scenario.seed),
            overrides: Vec::new(),
            task: scenario.task.clone(),
            next_event: 0,
            next_id: 1,
            snapshot_requested: false,
        };
        let mut sim = Simulation::assemble(Arc::clone(&scenario), state);
        for (g, group) in scenario.agents.iter().enumerate() {
            sim.place_group(g, group)?;
        }
        // The events of step 0 happen once the agents are placed.
        sim.run_events().map_err(|e| match e {
            StepError::Event { cause, .. } => cause,
            StepError::Action(_) | StepError::Store { .. } => {
                unreachable!("events take no actions, and a new world has no store")
            }
        })?;
        Ok(sim)
    }

    /// Reassembles a simulation of `scenario` from a saved state (see `snapshot.rs`, which checks
    /// that the state was made from this scenario).
    pub(crate) fn from_state(scenario: Arc<Scenario>, mut state: State) -> Result<Self, String> {
        state.world.check(&scenario.config)?;
        state.world.attach(Arc::new(scenario.config.clone()), scenario.seed);
        let mut sim = Simulation::assemble(scenario, state);
        sim.state.world.regenerate(&mut sim.tables.sampler);
        Ok(sim)
    }

    /// Builds the tables and scratch around a state.
    fn assemble(scenario: Arc<Scenario>, state: State) -> Self {
        let config = &scenario.config;
        let scent = ScentTable::shared(
            config.scent.decay,
            config.scent.diffusion,
            config.scent.deleted_item_lifetime,
            config.patch_size,
        );
        let sampler = Sampler::new(config);
        let tables = Tables {
            regrower: sampler.clone(),
            sampler,
            scent,
            vision: Arc::new(VisionTables::new(&config.vision, &config.items)),
            current: config.clone(),
            item_scent: Vec::new(),
            params_version: 0,
        };
        let mut sim = Simulation { scenario, state, tables, scratch: Scratch::default() };
        sim.refresh_params();
        sim.size_scratch();
        sim
    }

    /// Brings the parameters in force to the present: drift at the current time, then the
    /// overrides. Only a change to what agents perceive (a colour or scent) invalidates their
    /// observations; the energies are read by each regrowth round.
    pub(crate) fn refresh_params(&mut self) {
        let t = &mut self.tables;
        let mut changed = t.item_scent.is_empty();
        let drift = self.scenario.dynamics.drift.iter().map(|(p, f)| (p, f.at(self.state.time)));
        let overrides = self.state.overrides.iter().map(|(p, v)| (p, *v));
        for (param, value) in drift.chain(overrides) {
            if let Some(slot) = param.slot(&mut t.current)
                && *slot != value
            {
                *slot = value;
                changed |= !param.is_energy();
            }
        }
        if changed {
            t.params_version += 1;
            t.item_scent.clear();
            t.item_scent.extend(t.current.items.iter().flat_map(|i| i.scent.iter().map(|&v| f64::from(v))));
        }
    }

    /// Fixes `param` at `value` from now on, ending any drift of it.
    pub(crate) fn set_override(&mut self, param: Param, value: f32) {
        let overrides = &mut self.state.overrides;
        match overrides.iter_mut().find(|(p, _)| *p == param) {
            Some(slot) => slot.1 = value,
            None => overrides.push((param, value)),
        }
        self.refresh_params();
    }

    /// Grows the per-agent scratch to the number of agents (never shrinks it: a step's outcome
    /// still describes the agents an event removed right after it).
    pub(crate) fn size_scratch(&mut self) {
        let (a, k) = (self.state.agents.len(), self.config().items.len());
        let s = &mut self.scratch;
        fn grow<T: Clone>(v: &mut Vec<T>, len: usize, fill: T) {
            if v.len() < len {
                v.resize(len, fill);
            }
        }
        grow(&mut s.destination, a, Cell::new(0, 0));
        grow(&mut s.facing, a, Direction::Up);
        grow(&mut s.moving, a, false);
        grow(&mut s.before, a * k, 0);
        grow(&mut s.distance_before, a, 0);
        grow(&mut s.rewards, a, 0.0);
        grow(&mut s.moved, a, false);
        grow(&mut s.perceived, a, Perceived::default());
        grow(&mut s.ids, a, 0);
    }

    /// Sets a parameter from now on (as a `Set` event would), ending any drift of it.
    pub fn set_param(&mut self, param: Param, value: f32) {
        self.set_override(param, value);
    }

    /// Switches the reward schedule from the next step on.
    pub fn set_task(&mut self, task: Schedule) {
        self.state.task = task;
    }

    /// Parameters fixed by `Set` events and [`Simulation::set_param`], in the order first set.
    pub fn overrides(&self) -> &[(Param, f32)] {
        &self.state.overrides
    }

    /// Whether an event asked for a snapshot since the last call (and forgets the request).
    pub fn take_snapshot_request(&mut self) -> bool {
        std::mem::take(&mut self.state.snapshot_requested)
    }

    /// The configuration in force now (the scenario's, with drift and `Set` events applied).
    pub fn current_config(&self) -> &Config {
        &self.tables.current
    }

    /// The reward schedule in force now.
    pub fn task(&self) -> &Schedule {
        &self.state.task
    }

    /// How many numbers describe a task in this world ([`Reward::coefficients_len`]).
    pub fn task_len(&self) -> usize {
        Reward::coefficients_len(self.tables.current.items.len())
    }

    /// Writes the reward function that will score the next step — the one in force at time
    /// `time() + 1` — as its coefficients into `out` ([`Simulation::task_len`] of them): what a
    /// reward-aware agent observes of its task.
    pub fn observe_task(&self, out: &mut [f32]) {
        self.state.task.at(self.state.time + 1).coefficients(out);
    }

    /// The scenario.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.scenario.config
    }

    /// Everything that changes: what a snapshot saves.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The world.
    pub fn world(&self) -> &World {
        &self.state.world
    }

    /// The agents, in id order.
    pub fn agents(&self) -> &[Agent] {
        &self.state.agents
    }

    /// Steps taken so far.
    pub fn time(&self) -> u64 {
        self.state.time
    }

    /// Floats in one agent's scent observation (`S`).
    pub fn scent_len(&self) -> usize {
        self.config().scent.dimension
    }

    /// Floats in one agent's vision observation (`(2R+1)² · C`).
    pub fn vision_len(&self) -> usize {
        self.tables.vision.len()
    }

    /// The vision tables of the configuration.
    pub fn vision_tables(&self) -> &VisionTables {
        &self.tables.vision
    }

    /// The actions of the scripted policies for the next step, one per agent, into `out`
    /// (`None` for externally driven agents).
    pub fn scripted_actions(&mut self, out: &mut Vec<Option<Action>>) {
        out.clear();
        out.extend(self.state.agents.iter_mut().map(|a| a.policy.act()));
    }

    /// The most threads new patches are sampled on, this one among them: when a step needs
    /// several that do not depend on each other, they are sampled together (see
    /// `World::generate_all`). The machine's by default; only the speed depends on it.
    pub fn generation_threads(&self) -> usize {
        self.tables.sampler.threads()
    }

    /// Sets [`Simulation::generation_threads`] (at least 1).
    pub fn set_generation_threads(&mut self, threads: usize) {
        self.tables.sampler.set_threads(threads);
    }

    /// Samples ahead of need the patches that the cells its agents may soon step to would need,
    /// nearest first, so that the step that goes there finds them sampled; stops when `stop`
    /// says so. Pass 0 looks one cell on, left and right and two on; each later pass (up to
    /// [`AHEAD_PASSES`]) farther, to twelve cells on. For time otherwise spent waiting: `VecEnv`
    /// (in `beanworld-agents`) gives it the time its threads would wait for the slowest world of
    /// a step, every world's pass 0 before any world's pass 1. Changes nothing an agent can
    /// observe and no hash (see `World::sample_ahead`). Returns the patches sampled.
    pub fn sample_ahead(&mut self, pass: usize, stop: &dyn Fn() -> bool) -> usize {
        /// Where an agent may head: which way (0 on, 1 left, 2 right, 3 behind), how far; pass
        /// `p` looks at the first `4 (p + 1)`. (Reaching farther gained nothing for 64 walkers
        /// in the classic world: `docs/src/performance.md`.)
        const REACH: [(u8, i64); 4 * AHEAD_PASSES] =
            [(0, 1), (1, 1), (2, 1), (0, 2), (0, 3), (3, 1), (0, 5), (1, 3), (2, 3), (0, 8), (3, 3), (0, 12)];
        let way = |f: Direction, side| match side {
            0 => f,
            1 => f.left(),
            2 => f.right(),
            _ => f.reverse(),
        };
        let agents = &self.state.agents;
        let reach = &REACH[..(4 * (pass + 1)).min(REACH.len())];
        let cells = reach
            .iter()
            .flat_map(|&(side, k)| agents.iter().map(move |a| a.position.step(way(a.facing, side), k)));
        self.state.world.sample_ahead(cells, &mut self.tables.sampler, stop)
    }

    /// Patches sampled ahead of need ([`Simulation::sample_ahead`]) since the world was made,
    /// and how many of them the world's generation has taken.
    pub fn sampled_ahead(&self) -> (u64, u64) {
        self.state.world.sampled_ahead()
    }

    /// Generates every patch of `region` (for drawing or inspection: generation is a pure
    /// function of seed and place, so this changes nothing an agent can observe).
    pub fn generate(&mut self, region: crate::Region) {
        self.state.world.generate_region(region, &mut self.tables.sampler);
    }

    /// Puts an item of type `kind` on the empty cell `cell` now (generating and fixing the world
    /// around it first). Returns whether it was placed (false if the cell already holds one).
    pub fn place_item(&mut self, cell: Cell, kind: usize) -> bool {
        self.state.world.fix_block(cell, &mut self.tables.sampler);
        self.state.world.place(cell, kind, self.state.time)
    }

    /// Whether `cell` holds an item that blocks movement.
    pub(crate) fn blocks(&self, cell: Cell) -> bool {
        self.state.world.item_type_at(cell).is_some_and(|k| self.config().items[k].blocks_movement)
    }

    /// Keeps the store of evicted changed patches in `dir` (as [`STORE_FILE`](crate::STORE_FILE))
    /// rather than in the temporary folder, which may be memory (tmpfs); a front end with an
    /// output folder names it. It changes where records are kept, never what the world is.
    pub fn keep_records_in(&mut self, dir: &std::path::Path) -> Result<(), crate::StoreError> {
        self.state.world.keep_records_in(dir)
    }

    /// Sets the most bytes the records of evicted changed patches take in memory before they
    /// spill to the store ([`MAX_RECORD_BYTES`](crate::MAX_RECORD_BYTES) by default). It changes
    /// where records are kept, never what the world is.
    pub fn set_record_memory(&mut self, bytes: usize) {
        self.state.world.set_record_memory(bytes);
    }

    /// A BLAKE3 digest (hex) of the whole state ([`State::digest`]).
    pub fn state_digest(&self) -> String {
        self.state.digest()
    }
}
