//! The simulation: a world with agents in it, advanced one synchronous step at a time.
//!
//! A step reads like spec §6.6: check every agent's action, generate the world around the cells
//! agents head for, resolve who may move (conflicts and blocking items), advance the clock, move,
//! collect, forget faded scent, and reward each agent by the task in force. Observations (scent
//! and vision, spec §4–5) are written on request into buffers the caller owns.
//!
//! The state (world, agents, clock) is kept apart from what can be rebuilt from the scenario
//! (sampler, scent and vision tables) and from per-step scratch, which is reused every step: a
//! step allocates nothing once the scratch has grown to the number of agents.
//!
//! Differences from JBW, on purpose: "first come, first served" means lowest agent id first
//! (JBW: whichever thread submits first); RANDOM draws from a seeded stream per step; an agent
//! that does not move — blocked, or beaten to a cell — keeps its cell, so nobody moves into it
//! (JBW lets them, spec §11 #1); blocking items block under NO_COLLISIONS too (JBW walks
//! through walls, §11 #2); agents may start anywhere, placed by a free-cell rule (§11 #4).

use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

use crate::action::{self, Action, ActionError};
use crate::config::{CollisionPolicy, Config};
use crate::dynamics::{EventAction, Param, Regrowth};
use crate::geometry::PatchCoord;
use crate::geometry::{Cell, Direction};
use crate::policy::Scripted;
use crate::rng::{Purpose, Rng, below, stream};
use crate::sampler::Sampler;
use crate::scenario::{AgentGroup, Scenario};
use crate::scent::ScentTable;
use crate::task::{Reward, Schedule, Transition};
use crate::vision::VisionTables;
use crate::world::World;

/// One agent's state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    /// Identifier, from 1 in placement order; agents are processed in this order.
    pub id: u32,
    /// Current cell.
    pub position: Cell,
    /// Current facing.
    pub facing: Direction,
    /// Where it was placed (the origin of the `Explore` reward).
    pub spawn: Cell,
    /// Items held, per type: collected, less costs paid.
    pub inventory: Vec<u32>,
    /// Items collected so far, per type.
    pub collected: Vec<u64>,
    /// Reward received so far.
    pub reward: f64,
    /// What drives it.
    pub policy: Scripted,
}

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

/// What an agent last perceived, and of what: reused while nothing it depends on has changed.
#[derive(Clone, Debug, Default)]
struct Perceived {
    /// Position, versions of the four block patches, the agents' movement count and the
    /// parameters' version it was computed for; `None` until first computed.
    key: Option<(Cell, [u64; 4], u64, u64)>,
    /// Whether the scent can change with time alone (collected items still fading nearby).
    scent_fades: bool,
    scent: Vec<f32>,
    /// World-frame colour sums and occluders (see `VisionTables::finish`).
    window: Vec<f32>,
    occluders: Vec<(u32, f32)>,
    /// The finished vision for each facing, once computed for this key (an agent that turns in
    /// place sees the same window rotated).
    finished: [Vec<f32>; 4],
    finished_valid: [bool; 4],
}

/// Why a step could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// An action was refused; nothing happened.
    #[error(transparent)]
    Action(#[from] ActionError),
    /// A scripted event could not place its agents (the step itself happened).
    #[error("event at step {at}: {source}")]
    Event {
        /// The step of the event.
        at: u64,
        /// What failed.
        source: SimError,
    },
}

/// How often (in steps) far patches are evicted.
pub const EVICT_EVERY: u64 = 256;

/// Buffers reused by every step.
#[derive(Clone, Debug, Default)]
struct Scratch {
    destination: Vec<Cell>,
    facing: Vec<Direction>,
    moving: Vec<bool>,
    claims: FxHashMap<Cell, usize>,
    contest: Vec<(Cell, usize)>,
    stuck: Vec<Cell>,
    before: Vec<u32>,
    distance_before: Vec<u128>,
    rewards: Vec<f32>,
    moved: Vec<bool>,
    shade: Vec<f32>,
    scent: Vec<f64>,
    perceived: Vec<Perceived>,
    ids: Vec<u32>,
    zone: Vec<PatchCoord>,
    /// Agents sorted by vision bucket (`(2R+1)`-cell squares), for finding the agents in a
    /// window without scanning them all; valid for the agents' movement count in `buckets_for`.
    buckets: Vec<((i64, i64), u32)>,
    buckets_for: Option<u64>,
}

/// What one step did to each agent that took part, in agent order. (Events after the step may
/// add or remove agents: the simulation's agent list is then longer or shorter.)
#[derive(Debug)]
pub struct StepOutcome<'a> {
    /// The ids of the agents that took part.
    pub ids: &'a [u32],
    /// The reward of the step.
    pub rewards: &'a [f32],
    /// Whether the agent changed cell.
    pub moved: &'a [bool],
}

/// A world with agents, its clock and its task.
#[derive(Clone, Debug)]
pub struct Simulation {
    scenario: Arc<Scenario>,
    world: World,
    agents: Vec<Agent>,
    time: u64,
    /// Incremented by every step in which an agent changed cell (or agents came or went).
    moves: u64,
    /// The configuration in force: the scenario's, with drift and `Set` events applied.
    current: Config,
    /// Parameters fixed by `Set` events.
    overrides: Vec<(Param, f32)>,
    /// Incremented whenever `current` changes.
    params_version: u64,
    /// The reward schedule in force.
    task: Schedule,
    /// Index of the next event to happen.
    next_event: usize,
    /// The id the next added agent gets.
    next_id: u32,
    /// Whether an event asked for a snapshot since the last [`Simulation::take_snapshot_request`].
    snapshot_requested: bool,
    sampler: Sampler,
    /// The sampler of regrowth rounds, tuned to the current energies.
    regrower: Sampler,
    scent: Arc<ScentTable>,
    vision: Arc<VisionTables>,
    /// Per item type, its scent vector in f64.
    item_scent: Vec<f64>,
    scratch: Scratch,
}

/// The step offset at which patch `c` takes its regrowth turns (spreads rounds over time).
fn patch_phase(seed: u64, c: PatchCoord, interval: u64) -> u64 {
    let mut z = seed
        ^ (c.x as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ (c.y as u64).wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) % interval
}

fn squared_distance(a: Cell, b: Cell) -> u128 {
    let (dx, dy) = (a.x.abs_diff(b.x) as u128, a.y.abs_diff(b.y) as u128);
    dx * dx + dy * dy
}

impl Simulation {
    /// Builds the world of `scenario` and places its agents.
    pub fn new(scenario: Scenario) -> Result<Self, SimError> {
        let config = Arc::new(scenario.config.clone());
        let world = World::new(Arc::clone(&config), scenario.seed);
        let mut sim = Simulation::from_parts(Arc::new(scenario), world, Vec::new(), 0);
        // Nothing has happened yet: the events at step 0 run below, after the agents are placed.
        sim.next_event = 0;
        sim.overrides.clear();
        sim.task = sim.scenario.task.clone();
        sim.current = sim.scenario.config.clone();
        sim.item_scent.clear();
        sim.refresh_params();
        sim.next_id = 1;
        for group in sim.scenario.agents.clone().iter().enumerate() {
            sim.place_group(group.0, group.1)?;
        }
        sim.run_events().map_err(|e| match e {
            StepError::Event { source, .. } => source,
            StepError::Action(_) => unreachable!("events take no actions"),
        })?;
        Ok(sim)
    }

    /// Reassembles a simulation from saved state.
    pub(crate) fn from_parts(scenario: Arc<Scenario>, world: World, agents: Vec<Agent>, time: u64) -> Self {
        let config = &scenario.config;
        let scent = Arc::new(ScentTable::new(
            config.scent.decay,
            config.scent.diffusion,
            config.scent.deleted_item_lifetime,
            config.patch_size,
        ));
        let vision = Arc::new(VisionTables::new(&config.vision, &config.items));
        let sampler = Sampler::new(config);
        let mut sim = Simulation {
            current: config.clone(),
            overrides: Vec::new(),
            params_version: 0,
            task: scenario.task.clone(),
            next_event: 0,
            next_id: scenario.agents.iter().map(|g| g.count).sum::<u32>() + 1,
            snapshot_requested: false,
            regrower: sampler.clone(),
            scenario,
            world,
            agents,
            time,
            moves: 0,
            sampler,
            scent,
            vision,
            item_scent: Vec::new(),
            scratch: Scratch::default(),
        };
        // Events up to `time` have happened: their effects on agents and items are in the state;
        // what they did to parameters, the task and agent ids is replayed here.
        let events = sim.scenario.dynamics.events.clone();
        while sim.next_event < events.len() && events[sim.next_event].at <= time {
            match &events[sim.next_event].action {
                EventAction::Set(p, v) => sim.set_override(p.clone(), *v),
                EventAction::SetTask(t) => sim.task = t.clone(),
                EventAction::AddAgents(g) => sim.next_id += g.count,
                _ => {}
            }
            sim.next_event += 1;
        }
        sim.refresh_params();
        sim.size_scratch();
        sim
    }

    fn set_override(&mut self, param: Param, value: f32) {
        match self.overrides.iter_mut().find(|(p, _)| *p == param) {
            Some(slot) => slot.1 = value,
            None => self.overrides.push((param, value)),
        }
    }

    /// Brings `current` to the present: drift at the current time, then `Set` overrides. Only a
    /// change to what agents perceive (a colour or scent) invalidates their observations; the
    /// energies are read by each regrowth round.
    fn refresh_params(&mut self) {
        let mut changed = self.item_scent.is_empty();
        let drift = self.scenario.dynamics.drift.iter().map(|(p, f)| (p, f.at(self.time)));
        let overrides = self.overrides.iter().map(|(p, v)| (p, *v));
        for (param, value) in drift.chain(overrides) {
            if let Some(slot) = param.slot(&mut self.current)
                && *slot != value
            {
                *slot = value;
                changed |= !param.is_energy();
            }
        }
        if changed {
            self.params_version += 1;
            self.item_scent.clear();
            self.item_scent
                .extend(self.current.items.iter().flat_map(|t| t.scent.iter().map(|&v| f64::from(v))));
        }
    }

    /// Grows the per-agent scratch to the number of agents (never shrinks it: a step's outcome
    /// still describes the agents an event removed right after it).
    fn size_scratch(&mut self) {
        let (a, k) = (self.agents.len(), self.config().items.len());
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
        s.shade.resize(self.vision.side() * self.vision.side(), 0.0);
        s.scent.resize(self.scenario.config.scent.dimension, 0.0);
    }

    /// Places one group of agents by the free-cell rule: for each agent, the nearest cell to the
    /// group's position (ring by ring, each ring in row-major order from the bottom left) that
    /// holds neither another agent nor a blocking item. New agents get the next ids. Cells only
    /// fill up while a group is placed, so each agent's search goes on from where the last one's
    /// ended (one pass over the rings for the whole group).
    fn place_group(&mut self, g: usize, group: &AgentGroup) -> Result<(), SimError> {
        let k = self.config().items.len();
        let mut taken: FxHashSet<Cell> = self.agents.iter().map(|a| a.position).collect();
        let centre = group.cell();
        let mut candidates = ring_order(centre, i64::from(group.spread));
        for index in 1..=group.count {
            let mut placed = None;
            for cell in candidates.by_ref() {
                if taken.contains(&cell) {
                    continue;
                }
                self.world.fix_block(cell, &mut self.sampler);
                if !self.blocks(cell) {
                    placed = Some(cell);
                    break;
                }
            }
            let Some(cell) = placed else {
                return Err(SimError::Placement {
                    group: g,
                    index,
                    count: group.count,
                    position: centre,
                    spread: group.spread,
                });
            };
            taken.insert(cell);
            let id = self.next_id;
            self.next_id += 1;
            let rng = stream(self.scenario.seed, Purpose::Policy(id));
            self.agents.push(Agent {
                id,
                position: cell,
                facing: group.facing,
                spawn: cell,
                inventory: vec![0; k],
                collected: vec![0; k],
                reward: 0.0,
                policy: Scripted::new(group.policy.clone(), rng),
            });
        }
        self.moves += 1;
        self.size_scratch();
        Ok(())
    }

    /// Carries out the events due at the current time, in order.
    fn run_events(&mut self) -> Result<(), StepError> {
        let now = self.time;
        while let Some(event) = self.scenario.dynamics.events.get(self.next_event).filter(|e| e.at <= now) {
            let action = event.action.clone();
            self.next_event += 1;
            let n = self.current.patch_size;
            match action {
                EventAction::Set(param, value) => {
                    self.set_override(param, value);
                    self.refresh_params();
                }
                EventAction::Place(kind, region) => {
                    for c in region.patches(n) {
                        self.world.fix(c, &mut self.sampler);
                    }
                    let agents: FxHashSet<Cell> = self.agents.iter().map(|a| a.position).collect();
                    for y in region.min.y..=region.max.y {
                        for x in region.min.x..=region.max.x {
                            let cell = Cell::new(x, y);
                            if !agents.contains(&cell) {
                                self.world.place(cell, kind, now);
                            }
                        }
                    }
                }
                EventAction::Clear(kinds, region) => {
                    for c in region.patches(n) {
                        self.world.fix(c, &mut self.sampler);
                    }
                    self.world.clear(region, &kinds, now);
                }
                EventAction::AddAgents(group) => {
                    let g = self.scenario.agents.len();
                    self.place_group(g, &group).map_err(|source| StepError::Event { at: now, source })?;
                }
                EventAction::RemoveAgent(id) => {
                    self.agents.retain(|a| a.id != id);
                    self.moves += 1;
                    self.size_scratch();
                }
                EventAction::SetTask(task) => self.task = task,
                EventAction::Snapshot => self.snapshot_requested = true,
            }
        }
        Ok(())
    }

    /// Sets a parameter from now on (as a `Set` event would), ending any drift of it.
    pub fn set_param(&mut self, param: Param, value: f32) {
        self.set_override(param, value);
        self.refresh_params();
    }

    /// Switches the reward schedule from the next step on.
    pub fn set_task(&mut self, task: Schedule) {
        self.task = task;
    }

    /// Parameters fixed by `Set` events and [`Simulation::set_param`], in the order first set.
    pub fn overrides(&self) -> &[(Param, f32)] {
        &self.overrides
    }

    /// Restores overrides and the task saved in a snapshot (they supersede the replay of events,
    /// since control messages may have changed them too).
    pub(crate) fn restore_controls(&mut self, overrides: Vec<(Param, f32)>, task: Schedule) {
        self.overrides = overrides;
        self.task = task;
        self.refresh_params();
    }

    /// Whether an event asked for a snapshot since the last call (and forgets the request).
    pub fn take_snapshot_request(&mut self) -> bool {
        std::mem::take(&mut self.snapshot_requested)
    }

    /// The configuration in force now (the scenario's, with drift and `Set` events applied).
    pub fn current_config(&self) -> &Config {
        &self.current
    }

    /// The reward schedule in force now.
    pub fn task(&self) -> &Schedule {
        &self.task
    }

    /// How many numbers describe a task in this world ([`Reward::coefficients_len`]).
    pub fn task_len(&self) -> usize {
        Reward::coefficients_len(self.current.items.len())
    }

    /// Writes the reward function that will score the next step — the one in force at time
    /// `time() + 1` — as its coefficients into `out` ([`Simulation::task_len`] of them): what a
    /// reward-aware agent observes of its task.
    pub fn observe_task(&self, out: &mut [f32]) {
        self.task.at(self.time + 1).coefficients(out);
    }

    /// One regrowth round for every patch near an agent whose turn it is (see `dynamics.rs`).
    fn regrow(&mut self, r: &Regrowth) {
        let n = self.current.patch_size;
        let radius = i64::from(r.radius);
        let zone = &mut self.scratch.zone;
        zone.clear();
        for agent in &self.agents {
            let p = agent.position.patch(n);
            for dy in -radius..=radius {
                for dx in -radius..=radius {
                    zone.push(p.offset(dx, dy));
                }
            }
        }
        zone.sort_unstable_by_key(|c| (c.y, c.x));
        zone.dedup();
        for i in 0..self.scratch.zone.len() {
            let c = self.scratch.zone[i];
            let turn = self.time + patch_phase(self.scenario.seed, c, r.interval);
            if !turn.is_multiple_of(r.interval) {
                continue;
            }
            self.world.fix(c, &mut self.sampler);
            self.world.purge(c, self.time);
            let own = self.world.patch(c).map_or(&[][..], |p| p.items.as_slice());
            let neighbours =
                c.neighbours().map(|nb| self.world.patch(nb).map_or(&[][..], |p| p.items.as_slice()));
            let mut rng = stream(self.scenario.seed, Purpose::Regrowth(c, turn / r.interval));
            let changes = self.regrower.regrow(
                &self.current,
                c,
                own,
                neighbours,
                self.agents.iter().map(|a| a.position),
                r.proposals,
                &mut rng,
            );
            self.world.apply_changes(c, &changes, self.time);
        }
    }

    /// The scenario.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.scenario.config
    }

    /// The world.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// The agents, in id order.
    pub fn agents(&self) -> &[Agent] {
        &self.agents
    }

    /// Steps taken so far.
    pub fn time(&self) -> u64 {
        self.time
    }

    /// Floats in one agent's scent observation (`S`).
    pub fn scent_len(&self) -> usize {
        self.config().scent.dimension
    }

    /// Floats in one agent's vision observation (`(2R+1)² · C`).
    pub fn vision_len(&self) -> usize {
        self.vision.len()
    }

    /// The actions of the scripted policies for the next step, one per agent, into `out`
    /// (`None` for externally driven agents).
    pub fn scripted_actions(&mut self, out: &mut Vec<Option<Action>>) {
        out.clear();
        out.extend(self.agents.iter_mut().map(|a| a.policy.act()));
    }

    /// Generates every patch of `region` (for drawing or inspection: generation is a pure
    /// function of seed and place, so this changes nothing an agent can observe).
    pub fn generate(&mut self, region: crate::Region) {
        self.world.generate_region(region, &mut self.sampler);
    }

    /// The scent at any cell (spec §4.3, as an agent there would smell it), from the generated
    /// patches of its block; `out` has `S` values.
    pub fn scent_at(&self, cell: Cell, out: &mut [f32]) {
        let mut acc = [0.0f64; 16];
        let mut wide = Vec::new();
        let acc: &mut [f64] = if out.len() <= acc.len() {
            &mut acc[..out.len()]
        } else {
            wide.resize(out.len(), 0.0);
            &mut wide
        };
        for pc in self.world.block(cell) {
            let Some(patch) = self.world.patch(pc) else { continue };
            for item in &patch.items {
                let scent = &self.current.items[usize::from(item.kind)].scent;
                self.scent.add_item(acc, scent, item, item.pos.x - cell.x, item.pos.y - cell.y, self.time);
            }
        }
        for (o, a) in out.iter_mut().zip(acc.iter()) {
            *o = *a as f32;
        }
    }

    /// Puts an item of type `kind` on the empty cell `cell` now (generating and fixing the world
    /// around it first). Returns whether it was placed (false if the cell already holds one).
    pub fn place_item(&mut self, cell: Cell, kind: usize) -> bool {
        self.world.fix_block(cell, &mut self.sampler);
        self.world.place(cell, kind, self.time)
    }

    fn blocks(&self, cell: Cell) -> bool {
        self.world.item_type_at(cell).is_some_and(|k| self.config().items[k].blocks_movement)
    }

    /// Advances the world by one step with one action per agent (in agent order). If any action
    /// is refused, nothing happens and the error says which.
    pub fn step(&mut self, actions: &[Action]) -> Result<StepOutcome<'_>, StepError> {
        let n_agents = self.agents.len();
        if actions.len() != n_agents {
            return Err(ActionError::Count { agents: n_agents, actions: actions.len() }.into());
        }
        let k = self.config().items.len();
        let n = self.current.patch_size;
        for (i, (agent, &act)) in self.agents.iter().zip(actions).enumerate() {
            let req = action::request(&self.current.actions, agent.id, agent.facing, act)?;
            let (way, cells) = req.displacement;
            self.scratch.destination[i] = agent.position.step(way, cells);
            self.scratch.facing[i] = req.facing;
        }
        for (i, agent) in self.agents.iter().enumerate() {
            self.scratch.before[i * k..(i + 1) * k].copy_from_slice(&agent.inventory);
            self.scratch.distance_before[i] = squared_distance(agent.position, agent.spawn);
        }
        // The world must exist around every cell an agent heads for before blocking is judged.
        for i in 0..n_agents {
            let dest = self.scratch.destination[i];
            if dest != self.agents[i].position && !self.world.block_is_fixed(dest) {
                self.world.fix_block(dest, &mut self.sampler);
            }
        }
        self.resolve_moves();

        self.time += 1;
        let now = self.time;
        for i in 0..n_agents {
            let moving = self.scratch.moving[i];
            let agent = &mut self.agents[i];
            agent.facing = self.scratch.facing[i];
            if moving {
                agent.position = self.scratch.destination[i];
            }
            self.scratch.moved[i] = moving;
            if moving {
                self.moves += 1;
            }
            let cell = agent.position;
            if let Some(kind) = self.world.item_type_at(cell) {
                let item = &self.current.items[kind];
                if agent.inventory.iter().zip(&item.required_counts).all(|(have, need)| have >= need) {
                    self.world.collect(cell, now);
                    agent.inventory[kind] += 1;
                    agent.collected[kind] += 1;
                    for (have, cost) in agent.inventory.iter_mut().zip(&item.required_costs) {
                        *have = have.saturating_sub(*cost);
                    }
                }
            }
        }
        let reward = self.task.at(now);
        for (i, agent) in self.agents.iter_mut().enumerate() {
            let t = Transition {
                before: &self.scratch.before[i * k..(i + 1) * k],
                after: &agent.inventory,
                distance_before: self.scratch.distance_before[i],
                distance_after: squared_distance(agent.position, agent.spawn),
            };
            let r = reward.value(&t);
            agent.reward += f64::from(r);
            self.scratch.rewards[i] = r;
            self.scratch.ids[i] = agent.id;
        }

        // The world's own dynamics at the new time: events, drift, regrowth.
        let event = self.run_events();
        if !self.scenario.dynamics.drift.is_empty() {
            self.refresh_params();
        }
        if let Some(r) = self.scenario.dynamics.regrowth.clone() {
            self.regrow(&r);
        }
        for agent in &self.agents {
            for c in self.world.block(agent.position) {
                self.world.purge(c, now);
            }
        }
        if let Some(e) = &self.scenario.dynamics.eviction
            && now.is_multiple_of(EVICT_EVERY)
        {
            let radius = i64::from(e.radius);
            let centres: Vec<PatchCoord> = self.agents.iter().map(|a| a.position.patch(n)).collect();
            self.world
                .evict(now, |c| centres.iter().all(|a| (c.x - a.x).abs().max((c.y - a.y).abs()) > radius));
        }
        event?;
        Ok(StepOutcome {
            ids: &self.scratch.ids[..n_agents],
            rewards: &self.scratch.rewards[..n_agents],
            moved: &self.scratch.moved[..n_agents],
        })
    }

    /// Decides who moves this step (spec §6.4–6.5, with the fixes named in the module docs).
    fn resolve_moves(&mut self) {
        let policy = self.current.actions.collision_policy;
        let n_agents = self.agents.len();
        for i in 0..n_agents {
            let dest = self.scratch.destination[i];
            self.scratch.moving[i] = dest != self.agents[i].position && !self.blocks(dest);
        }
        if policy == CollisionPolicy::NoCollisions || n_agents < 2 {
            return;
        }
        let s = &mut self.scratch;
        s.claims.clear();
        // An agent staying put holds its own cell against everyone.
        for (i, agent) in self.agents.iter().enumerate() {
            if s.destination[i] == agent.position {
                s.claims.insert(agent.position, i);
            }
        }
        // Otherwise the first requester (lowest id) wins…
        for (i, agent) in self.agents.iter().enumerate() {
            if s.destination[i] != agent.position {
                s.claims.entry(s.destination[i]).or_insert(i);
            }
        }
        // …or, under RANDOM, a uniformly drawn one among the movers asking for a cell nobody holds.
        if policy == CollisionPolicy::Random {
            s.contest.clear();
            s.contest.extend(
                self.agents
                    .iter()
                    .enumerate()
                    .filter(|&(i, a)| s.destination[i] != a.position)
                    .map(|(i, _)| (s.destination[i], i)),
            );
            s.contest.sort_unstable_by_key(|&(c, i)| (c.y, c.x, i));
            let mut rng = stream(self.scenario.seed, Purpose::Conflicts(self.time + 1));
            for run in s.contest.chunk_by(|a, b| a.0 == b.0) {
                let (cell, _) = run[0];
                let held = s.claims.get(&cell).is_some_and(|&w| s.destination[w] == self.agents[w].position);
                if run.len() > 1 && !held {
                    let pick = run[below(rng.next_u32(), run.len() as u32) as usize].1;
                    s.claims.insert(cell, pick);
                }
            }
        }
        for i in 0..n_agents {
            if s.moving[i] && s.claims.get(&s.destination[i]) != Some(&i) {
                s.moving[i] = false;
            }
        }
        // Agents that stay keep their cells: whoever won such a cell cannot enter it, and so
        // keeps its own cell in turn.
        s.stuck.clear();
        s.stuck
            .extend(self.agents.iter().enumerate().filter(|&(i, _)| !s.moving[i]).map(|(_, a)| a.position));
        while let Some(cell) = s.stuck.pop() {
            if let Some(&w) = s.claims.get(&cell)
                && s.moving[w]
                && s.destination[w] == cell
            {
                s.moving[w] = false;
                s.stuck.push(self.agents[w].position);
            }
        }
    }

    /// Writes every agent's observation, in agent order, into `scent` (`S` floats each) and
    /// `vision` (`(2R+1)²·C` each), resizing them to fit (they allocate only when agents come).
    pub fn observe_all(&mut self, scent: &mut Vec<f32>, vision: &mut Vec<f32>) {
        let (s, v, n) = (self.scent_len(), self.vision_len(), self.agents.len());
        scent.resize(n * s, 0.0);
        vision.resize(n * v, 0.0);
        for i in 0..n {
            self.observe(i, &mut scent[i * s..(i + 1) * s], &mut vision[i * v..(i + 1) * v]);
        }
    }

    /// Writes agent `i`'s observation: its scent (`S` floats) and vision (`(2R+1)²·C` floats,
    /// spec §5.1 layout) at the current time. What cannot have changed since the agent's last
    /// observation (same cell, same items around, no agent moved, no scent fading) is reused.
    pub fn observe(&mut self, i: usize, scent: &mut [f32], vision: &mut [f32]) {
        let pos = self.agents[i].position;
        let block = self.world.block(pos);
        let key = Some((pos, block.map(|c| self.world.version(c)), self.moves, self.params_version));
        let mut perceived = std::mem::take(&mut self.scratch.perceived[i]);
        if perceived.key != key {
            self.gather(pos, block, &mut perceived);
            perceived.key = key;
            perceived.finished_valid = [false; 4];
        } else if perceived.scent_fades {
            self.gather_scent(pos, block, &mut perceived);
        }
        scent.copy_from_slice(&perceived.scent);
        let f = self.agents[i].facing as usize;
        if !perceived.finished_valid[f] {
            let Perceived { window, occluders, finished, .. } = &mut perceived;
            finished[f].resize(vision.len(), 0.0);
            self.vision.finish(
                self.agents[i].facing,
                window,
                occluders,
                &mut self.scratch.shade,
                &mut finished[f],
            );
            perceived.finished_valid[f] = true;
        }
        vision.copy_from_slice(&perceived.finished[f]);
        self.scratch.perceived[i] = perceived;
    }

    /// Calls `f(y, x0, cells)` for each row of the vision window around `pos` as it lies in each
    /// patch of `block`: the occupancy codes (item type + 1, 0: none) of cells `x0 …` on row `y`.
    fn window_rows(&self, pos: Cell, block: [PatchCoord; 4], mut f: impl FnMut(i64, i64, &[u16])) {
        let n = self.current.patch_size as i64;
        let range = self.vision.range();
        for pc in block {
            let Some(patch) = self.world.patch(pc) else { continue };
            let origin = pc.origin(self.current.patch_size);
            let (x0, x1) = ((pos.x - range).max(origin.x), (pos.x + range).min(origin.x + n - 1));
            let (y0, y1) = ((pos.y - range).max(origin.y), (pos.y + range).min(origin.y + n - 1));
            if x0 > x1 {
                continue;
            }
            let occupancy = patch.occupancy();
            for y in y0..=y1 {
                let row = &occupancy[((y - origin.y) * n) as usize..][..n as usize];
                f(y, x0, &row[(x0 - origin.x) as usize..=(x1 - origin.x) as usize]);
            }
        }
    }

    /// Re-sorts the agents into vision buckets if any agent moved, came or left since.
    fn refresh_buckets(&mut self) {
        if self.scratch.buckets_for == Some(self.moves) {
            return;
        }
        let side = 2 * self.vision.range() + 1;
        let buckets = &mut self.scratch.buckets;
        buckets.clear();
        buckets
            .extend(self.agents.iter().enumerate().map(|(j, a)| (vision_bucket(a.position, side), j as u32)));
        buckets.sort_unstable();
        self.scratch.buckets_for = Some(self.moves);
    }

    /// Calls `f` with the window offset index of every agent within the vision window around
    /// `pos` (once per agent; agents sharing a cell give the same index). Needs fresh buckets.
    fn for_each_agent_near(&self, pos: Cell, mut f: impl FnMut(usize)) {
        let range = self.vision.range();
        let (bx, by) = vision_bucket(pos, 2 * range + 1);
        let buckets = &self.scratch.buckets;
        for nx in bx - 1..=bx + 1 {
            // Buckets sort by (x, y), so rows by − 1 … by + 1 of column nx are one run.
            let from = buckets.partition_point(|&(b, _)| b < (nx, by - 1));
            for &(_, j) in buckets[from..].iter().take_while(|&&(b, _)| b <= (nx, by + 1)) {
                let other = self.agents[j as usize].position;
                let (dx, dy) = (other.x - pos.x, other.y - pos.y);
                if dx.abs() <= range && dy.abs() <= range {
                    f(self.vision.offset_index(dx, dy));
                }
            }
        }
    }

    /// The vision tables of the current configuration.
    pub fn vision_tables(&self) -> &VisionTables {
        &self.vision
    }

    /// Recomputes an agent's scent at `pos` from the items of its block (spec §4.3).
    fn gather_scent(&mut self, pos: Cell, block: [PatchCoord; 4], out: &mut Perceived) {
        let s_dim = self.current.scent.dimension;
        let acc = &mut self.scratch.scent;
        acc.fill(0.0);
        let mut fades = false;
        let reach = self.scent.radius() - 1;
        for pc in block {
            let Some(patch) = self.world.patch(pc) else { continue };
            fades |= patch.scent_changes(self.time);
            for item in patch.items_in_rows(pos.y - reach, pos.y + reach) {
                let (dx, dy) = (item.pos.x - pos.x, item.pos.y - pos.y);
                let kind = usize::from(item.kind);
                if item.created == 0 && item.is_live() {
                    if let Some(v) = self.scent.steady(dx, dy) {
                        for (a, s) in acc.iter_mut().zip(&self.item_scent[kind * s_dim..(kind + 1) * s_dim]) {
                            *a += v * s;
                        }
                    }
                } else {
                    let scent = &self.current.items[kind].scent;
                    self.scent.add_item(acc, scent, item, dx, dy, self.time);
                }
            }
        }
        out.scent.clear();
        out.scent.extend(acc.iter().map(|&v| v as f32));
        out.scent_fades = fades;
    }

    /// Recomputes everything an agent at `pos` perceives: scent, and the world-frame colour sums
    /// and occluders of its vision window.
    fn gather(&mut self, pos: Cell, block: [PatchCoord; 4], out: &mut Perceived) {
        self.gather_scent(pos, block, out);
        let items = &self.current.items;
        let c = self.current.vision.color_dimension;
        out.window.clear();
        out.window.resize(self.vision.len(), 0.0);
        out.occluders.clear();
        self.window_rows(pos, block, |y, x0, cells| {
            for (x, &t) in (x0..).zip(cells) {
                if t == 0 {
                    continue;
                }
                let kind = usize::from(t - 1);
                let k = self.vision.offset_index(x - pos.x, y - pos.y);
                for (w, col) in out.window[k * c..(k + 1) * c].iter_mut().zip(&items[kind].color) {
                    *w += col;
                }
                if let Some(occlusion) = self.vision.occluder(kind)
                    && (x, y) != (pos.x, pos.y)
                {
                    out.occluders.push((k as u32, occlusion));
                }
            }
        });
        // One fixed order of shading for every cell (ascending offset), whichever patches the
        // window spans.
        out.occluders.sort_unstable_by_key(|&(k, _)| k);
        // Other agents (and the agent itself) in the window; all have one colour, so the order
        // they are added in does not matter.
        self.refresh_buckets();
        let agent_color = &self.current.vision.agent_color;
        self.for_each_agent_near(pos, |k| {
            for (w, col) in out.window[k * c..(k + 1) * c].iter_mut().zip(agent_color) {
                *w += col;
            }
        });
    }

    /// A BLAKE3 digest (hex) of the whole state: clock, agents (with their policies' random
    /// streams) and every patch that differs from how it was generated, with the items that
    /// still matter (see [`World::for_each_changed`]). Unchanged patches are a pure function of the
    /// seed, so which of them happen to be in memory — eviction, caches — does not count.
    pub fn state_digest(&self) -> String {
        let mut hasher = blake3::Hasher::new();
        hasher.update(&self.time.to_le_bytes());
        for agent in &self.agents {
            hasher.update(&agent.id.to_le_bytes());
            hasher.update(&agent.position.x.to_le_bytes());
            hasher.update(&agent.position.y.to_le_bytes());
            hasher.update(&[agent.facing as u8]);
            for count in &agent.inventory {
                hasher.update(&count.to_le_bytes());
            }
            for count in &agent.collected {
                hasher.update(&count.to_le_bytes());
            }
            hasher.update(&agent.reward.to_bits().to_le_bytes());
            hasher.update(&agent.policy.position().to_le_bytes());
        }
        self.world.for_each_changed(self.time, |c, items| {
            hasher.update(&c.x.to_le_bytes());
            hasher.update(&c.y.to_le_bytes());
            hasher.update(&(items.len() as u64).to_le_bytes());
            for item in items {
                hasher.update(&item.kind.to_le_bytes());
                hasher.update(&item.pos.x.to_le_bytes());
                hasher.update(&item.pos.y.to_le_bytes());
                hasher.update(&item.created.to_le_bytes());
                hasher.update(&item.deleted.to_le_bytes());
            }
        });
        hasher.finalize().to_hex().to_string()
    }
}

/// The cells within Chebyshev distance `spread` of `centre`, ring by ring outwards, each ring in
/// row-major order from its bottom-left corner.
fn ring_order(centre: Cell, spread: i64) -> impl Iterator<Item = Cell> {
    (0..=spread).flat_map(move |r| {
        (-r..=r).flat_map(move |dy| {
            // A ring's bottom and top rows are whole; the rows between hold its two ends.
            let step = if dy.abs() == r { 1 } else { 2 * r as usize };
            (-r..=r).step_by(step).map(move |dx| Cell::new(centre.x + dx, centre.y + dy))
        })
    })
}

/// The vision bucket of a cell: the `side`-cell square holding it.
fn vision_bucket(c: Cell, side: i64) -> (i64, i64) {
    (c.x.div_euclid(side), c.y.div_euclid(side))
}
