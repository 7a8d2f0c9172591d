//! beanworld-python: the engine as a Python extension module (`beanworld._core`, built by
//! maturin). It owns [`Env`], one world whose first agent Python drives while the others follow
//! their scenario's policies. The Gymnasium environment (`beanworld.make`) is Python code over it
//! in `python/beanworld/`; everything that must be fast or exact — stepping, observing, the
//! trajectory hash that `beanworld run` also computes — happens here.

use beanworld_agents::metrics::Record;
use beanworld_render::frame::{CellImage, reference};
use beanworld_sim::action::Action;
use beanworld_sim::task::Reward;
use beanworld_sim::{Cell, Region, Scenario, Simulation};
use numpy::{PyArray1, PyArray2, PyArray3, PyArray4, PyArrayMethods, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// One world stepped from Python: the first agent takes the actions given, the others their
/// scenario's policies; after each step every agent is observed, as `beanworld run` does, so the
/// trajectory hash is the same as that command's for the same actions.
#[pyclass(module = "beanworld._core")]
pub struct Env {
    scenario: Scenario,
    sim: Simulation,
    /// The actions Python may take, by index.
    allowed: Vec<Action>,
    record: Record,
    bytes: Vec<u8>,
    /// Every agent's action of the step being taken, and the scripted ones.
    actions: Vec<Action>,
    scripted: Vec<Option<Action>>,
    /// Observations of every agent after the last step, in agent order.
    scent: Vec<f32>,
    vision: Vec<f32>,
    /// Every agent's last reward and move, in agent order.
    rewards: Vec<f32>,
    moved: Vec<bool>,
}

/// An action in words.
fn in_words(action: Action) -> String {
    use beanworld_sim::action::{Move, Turn};
    match action {
        Action::Move { direction, steps } => {
            let way = match direction {
                Move::Forward => "forward",
                Move::Backward => "backward",
                Move::Left => "step left",
                Move::Right => "step right",
            };
            if steps == 1 { way.to_string() } else { format!("{way} {steps}") }
        }
        Action::Turn(Turn::None) => "turn none".into(),
        Action::Turn(Turn::Reverse) => "turn around".into(),
        Action::Turn(Turn::Left) => "turn left".into(),
        Action::Turn(Turn::Right) => "turn right".into(),
        Action::NoOp => "no-op".into(),
    }
}

/// The parameter at `path` of `scenario`, to be set to `value`; or why not.
fn param_of(scenario: &Scenario, path: &str, value: f32) -> PyResult<beanworld_sim::dynamics::Param> {
    if !value.is_finite() {
        return Err(invalid(format!("{path}: expected a finite value, found {value}")));
    }
    scenario.param(path).map_err(|e| invalid(format!("{path}: {e}")))
}

/// The reward schedule written as `text`, against `scenario`'s items; or why not.
fn schedule_of(scenario: &Scenario, text: &str) -> PyResult<beanworld_sim::task::Schedule> {
    scenario.schedule(text).map_err(|e| invalid(format!("task {text:?}: {e}")))
}

fn invalid(message: impl Into<String>) -> PyErr {
    PyValueError::new_err(message.into())
}

impl Env {
    fn observe_all(&mut self) {
        self.sim.observe_all(&mut self.scent, &mut self.vision);
    }

    /// Action number `a`, or why not (`context` prefixes the message).
    fn action(&self, a: i64, context: &str) -> PyResult<Action> {
        let n = self.allowed.len();
        usize::try_from(a)
            .ok()
            .and_then(|k| self.allowed.get(k))
            .copied()
            .ok_or_else(|| invalid(format!("{context}action {a} is out of range: expected 0 … {}", n - 1)))
    }

    /// Agent `i` in agent order, or why not.
    fn agent(&self, i: usize) -> PyResult<&beanworld_sim::Agent> {
        let agents = self.sim.agents();
        agents
            .get(i)
            .ok_or_else(|| invalid(format!("agent index {i} is out of range: there are {}", agents.len())))
    }

    /// Steps with `self.actions`, observes every agent and folds the step into the hash.
    fn advance(&mut self) -> PyResult<()> {
        let outcome = self.sim.step(&self.actions).map_err(|e| invalid(e.to_string()))?;
        self.rewards.clear();
        self.rewards.extend_from_slice(outcome.rewards);
        self.moved.clear();
        self.moved.extend_from_slice(outcome.moved);
        self.observe_all();
        let step = self.sim.time();
        self.record.hash_step(
            &mut self.bytes,
            step,
            &self.actions,
            &self.rewards,
            &self.moved,
            &self.scent,
            &self.vision,
        );
        Ok(())
    }

    fn start(scenario: &Scenario) -> PyResult<Simulation> {
        if scenario.agents.iter().map(|g| g.count).sum::<u32>() == 0 {
            return Err(invalid("the scenario places no agent to drive"));
        }
        Simulation::new(scenario.clone()).map_err(|e| invalid(format!("scenario \"{}\": {e}", scenario.name)))
    }
}

#[pymethods]
impl Env {
    /// A world from scenario `text` (`file` names it in errors), with top-level fields replaced
    /// by `overrides` (`[(field, RON text)]`).
    #[new]
    #[pyo3(signature = (text, file, overrides = Vec::new()))]
    fn new(text: &str, file: &str, overrides: Vec<(String, String)>) -> PyResult<Self> {
        let pairs: Vec<(&str, &str)> = overrides.iter().map(|(f, v)| (f.as_str(), v.as_str())).collect();
        let scenario = Scenario::parse_with(text, file, &pairs).map_err(|e| invalid(e.to_string()))?;
        let sim = Env::start(&scenario)?;
        let allowed = beanworld_agents::allowed_actions(&scenario.config);
        if allowed.is_empty() {
            return Err(invalid("the scenario allows no action"));
        }
        let mut env = Env {
            scenario,
            sim,
            allowed,
            record: Record::new(1000),
            bytes: Vec::new(),
            actions: Vec::new(),
            scripted: Vec::new(),
            scent: Vec::new(),
            vision: Vec::new(),
            rewards: Vec::new(),
            moved: Vec::new(),
        };
        env.observe_all();
        Ok(env)
    }

    /// Starts the world again, with `seed` if given (else the scenario's, or the last one given).
    #[pyo3(signature = (seed = None))]
    fn reset(&mut self, seed: Option<u64>) -> PyResult<()> {
        if let Some(seed) = seed {
            self.scenario.seed = seed;
        }
        self.sim = Env::start(&self.scenario)?;
        self.record = Record::new(1000);
        self.rewards.clear();
        self.moved.clear();
        self.observe_all();
        Ok(())
    }

    /// Takes one step, the first agent doing action number `action` (the others what their
    /// scenario's policies choose); returns its reward.
    fn step(&mut self, action: i64) -> PyResult<f32> {
        let chosen = self.action(action, "")?;
        self.sim.scripted_actions(&mut self.scripted);
        self.actions.clear();
        for (i, scripted) in self.scripted.iter().enumerate() {
            self.actions.push(if i == 0 { chosen } else { scripted.unwrap_or(Action::NoOp) });
        }
        self.advance()?;
        Ok(self.rewards.first().copied().unwrap_or(0.0))
    }

    /// Takes one step, agent `i` (in agent order) doing action number `actions[i]`; returns every
    /// agent's reward.
    fn step_all(&mut self, actions: PyReadonlyArray1<'_, i64>) -> PyResult<Vec<f32>> {
        let given = actions.as_slice().map_err(|e| invalid(e.to_string()))?;
        let n = self.sim.agents().len();
        if given.len() != n {
            return Err(invalid(format!("expected {n} actions, one per agent, found {}", given.len())));
        }
        self.actions.clear();
        for (i, &a) in given.iter().enumerate() {
            let action = self.action(a, &format!("agent {}: ", self.sim.agents()[i].id))?;
            self.actions.push(action);
        }
        self.sim.scripted_actions(&mut self.scripted);
        self.advance()?;
        Ok(self.rewards.clone())
    }

    /// The ids of the agents, in agent order.
    fn agent_ids(&self) -> Vec<u32> {
        self.sim.agents().iter().map(|a| a.id).collect()
    }

    /// Whether the scenario adds or removes agents while it runs.
    fn changes_agents(&self) -> bool {
        use beanworld_sim::dynamics::EventAction;
        self.scenario
            .dynamics
            .events
            .iter()
            .any(|e| matches!(e.action, EventAction::AddAgents(_) | EventAction::RemoveAgent(_)))
    }

    /// Agent `i`'s vision (agent order), `(2R+1, 2R+1, C)`: `[right][forward][channel]`.
    #[pyo3(signature = (i = 0))]
    fn vision<'py>(&self, py: Python<'py>, i: usize) -> PyResult<Bound<'py, PyArray3<f32>>> {
        self.agent(i)?;
        let v = self.sim.vision_len();
        let side = 2 * self.sim.config().vision.range as usize + 1;
        let c = self.sim.config().vision.color_dimension;
        PyArray1::from_slice(py, &self.vision[i * v..(i + 1) * v]).reshape([side, side, c])
    }

    /// Agent `i`'s scent, `(S,)`.
    #[pyo3(signature = (i = 0))]
    fn scent<'py>(&self, py: Python<'py>, i: usize) -> PyResult<Bound<'py, PyArray1<f32>>> {
        self.agent(i)?;
        let s = self.sim.scent_len();
        Ok(PyArray1::from_slice(py, &self.scent[i * s..(i + 1) * s]))
    }

    /// Agent `i`'s inventory, per item type.
    #[pyo3(signature = (i = 0))]
    fn inventory<'py>(&self, py: Python<'py>, i: usize) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let held: Vec<i64> = self.agent(i)?.inventory.iter().map(|&n| i64::from(n)).collect();
        Ok(PyArray1::from_vec(py, held))
    }

    /// The reward function that will score the next action, as its coefficients (per item type,
    /// then per step, then for exploring): what a reward-aware learner reads. The same for every
    /// agent.
    fn task<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f32>> {
        let mut task = vec![0.0; self.sim.task_len()];
        self.sim.observe_task(&mut task);
        PyArray1::from_vec(py, task)
    }

    /// Whether agent `i`'s last step moved it.
    #[pyo3(signature = (i = 0))]
    fn moved_of(&self, i: usize) -> PyResult<bool> {
        self.agent(i)?;
        Ok(self.moved.get(i).copied().unwrap_or(false))
    }

    /// Whether the first agent's last step moved it.
    #[getter]
    fn moved(&self) -> bool {
        self.moved.first().copied().unwrap_or(false)
    }

    /// Sets the world parameter at `path` (`"jellybean.intensity"`, …) to `value` from the next
    /// step on, ending any drift of it — what a curriculum teacher turns.
    fn set_param(&mut self, path: &str, value: f32) -> PyResult<()> {
        self.sim.set_param(param_of(&self.scenario, path, value)?, value);
        Ok(())
    }

    /// Switches the reward schedule from the next step on, written as a scenario's `task`.
    fn set_task(&mut self, text: &str) -> PyResult<()> {
        self.sim.set_task(schedule_of(&self.scenario, text)?);
        Ok(())
    }

    /// Writes a snapshot of the world (and the trajectory hash) to `path`.
    fn save(&self, path: &str) -> PyResult<()> {
        beanworld_sim::snapshot::save(&self.sim, &self.record, std::path::Path::new(path))
            .map_err(|e| invalid(e.to_string()))
    }

    /// Continues from the snapshot at `path`, taken of a world of this scenario.
    fn load(&mut self, path: &str) -> PyResult<()> {
        let (sim, record): (Simulation, Record) =
            beanworld_sim::snapshot::load(std::path::Path::new(path), &self.scenario)
                .map_err(|e| invalid(e.to_string()))?;
        (self.sim, self.record) = (sim, record);
        self.rewards.clear();
        self.moved.clear();
        self.observe_all();
        Ok(())
    }

    /// Steps taken.
    #[getter]
    fn time(&self) -> u64 {
        self.sim.time()
    }

    /// The running hash of the whole trajectory, as `beanworld run` reports it.
    #[getter]
    fn trajectory_hash(&self) -> String {
        format!("{:032x}", self.record.trajectory)
    }

    /// The world seed.
    #[getter]
    fn seed(&self) -> u64 {
        self.scenario.seed
    }

    /// The scenario's name.
    #[getter]
    fn name(&self) -> String {
        self.scenario.name.clone()
    }

    /// The actions, by number, in words (`"forward"`, `"turn left"`, `"no-op"`, …).
    #[getter]
    fn actions(&self) -> Vec<String> {
        self.allowed.iter().map(|a| in_words(*a)).collect()
    }

    /// The item types' names, in type order.
    #[getter]
    fn items(&self) -> Vec<String> {
        self.sim.config().items.iter().map(|t| t.name.clone()).collect()
    }

    /// `(side, side, C)` of the vision window.
    #[getter]
    fn vision_shape(&self) -> (usize, usize, usize) {
        let side = 2 * self.sim.config().vision.range as usize + 1;
        (side, side, self.sim.config().vision.color_dimension)
    }

    /// `S`, the scent channels.
    #[getter]
    fn scent_len(&self) -> usize {
        self.sim.scent_len()
    }

    /// How many coefficients describe a task ([`Env::task`]).
    #[getter]
    fn task_len(&self) -> usize {
        self.sim.task_len()
    }

    /// The number of the action the first agent's scenario policy would take now (what
    /// `beanworld run` gives it), or `None` if it is driven from outside or that action is not
    /// one of [`Env::actions`]. Asking does not change the world.
    fn policy_action(&self) -> Option<usize> {
        let mut sim = self.sim.clone();
        let mut scripted = Vec::new();
        sim.scripted_actions(&mut scripted);
        let action = scripted.first().copied().flatten()?;
        self.allowed.iter().position(|a| *a == action)
    }

    /// A picture of the `width × height` cells around the first agent, `pixels` a cell:
    /// `(rows, columns, 3)` bytes, north up, drawn on the CPU by the rules of `record`'s frames.
    #[pyo3(signature = (width = 32, height = 32, pixels = 8))]
    fn render<'py>(
        &self,
        py: Python<'py>,
        width: u32,
        height: u32,
        pixels: u32,
    ) -> PyResult<Bound<'py, PyArray3<u8>>> {
        if !(1..=1024).contains(&width) || !(1..=1024).contains(&height) || !(1..=64).contains(&pixels) {
            return Err(invalid("render: width and height must be 1 … 1024 cells, pixels 1 … 64"));
        }
        let at = self.sim.agents()[0].position;
        let (w, h) = (i64::from(width), i64::from(height));
        let min = Cell::new(at.x - w / 2, at.y - h / 2);
        let region = Region::new(min, Cell::new(min.x + w - 1, min.y + h - 1));
        let image = CellImage::of(&self.sim, region);
        let rgba = reference(&image, pixels);
        let rgb: Vec<u8> = rgba.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
        let (rows, columns) = ((height * pixels) as usize, (width * pixels) as usize);
        PyArray1::from_vec(py, rgb).reshape([rows, columns, 3])
    }
}

/// Copies `from` into `out`, or says why not (`name` names the array).
fn fill<T: Copy>(name: &str, out: &mut [T], from: &[T]) -> PyResult<()> {
    if out.len() != from.len() {
        return Err(invalid(format!(
            "{name}: expected {} values, the array holds {}",
            from.len(),
            out.len()
        )));
    }
    out.copy_from_slice(from);
    Ok(())
}

fn not_contiguous(e: numpy::AsSliceError) -> PyErr {
    invalid(e.to_string())
}

/// Many worlds of one scenario stepped as one batch across threads (the Rust [`VecEnv`]), one
/// agent each. Python's arrays are filled in place, with the GIL released while the worlds step.
///
/// [`VecEnv`]: beanworld_agents::VecEnv
#[pyclass(module = "beanworld._core")]
pub struct Worlds {
    scenario: Scenario,
    inner: beanworld_agents::VecEnv,
    allowed: Vec<Action>,
    actions: Vec<Action>,
}

#[pymethods]
impl Worlds {
    /// One world of scenario `text` per seed in `seeds`, stepped on `threads` threads;
    /// `segment`, if given, truncates every world's stream into segments of that many steps.
    #[new]
    #[pyo3(signature = (text, file, seeds, threads, overrides = Vec::new(), segment = None))]
    fn new(
        text: &str,
        file: &str,
        seeds: Vec<u64>,
        threads: usize,
        overrides: Vec<(String, String)>,
        segment: Option<u64>,
    ) -> PyResult<Self> {
        let pairs: Vec<(&str, &str)> = overrides.iter().map(|(f, v)| (f.as_str(), v.as_str())).collect();
        let scenario = Scenario::parse_with(text, file, &pairs).map_err(|e| invalid(e.to_string()))?;
        if seeds.is_empty() {
            return Err(invalid("a vector environment needs at least one world"));
        }
        let agents: u32 = scenario.agents.iter().map(|g| g.count).sum();
        if agents != 1 {
            return Err(invalid(format!(
                "the vector environment drives one agent per world; \"{}\" places {agents} (use parallel_env)",
                scenario.name
            )));
        }
        let allowed = beanworld_agents::allowed_actions(&scenario.config);
        if allowed.is_empty() {
            return Err(invalid("the scenario allows no action"));
        }
        let mut inner = beanworld_agents::VecEnv::new(&scenario, &seeds, threads.max(1))
            .map_err(|e| invalid(format!("scenario \"{}\": {e}", scenario.name)))?;
        inner.set_segment(segment);
        Ok(Worlds { scenario, inner, allowed, actions: Vec::new() })
    }

    /// Sets the world parameter at `path` to `value` in every world from the next step on.
    fn set_param(&mut self, path: &str, value: f32) -> PyResult<()> {
        self.inner.set_param(param_of(&self.scenario, path, value)?, value);
        Ok(())
    }

    /// Switches every world's reward schedule from the next step on.
    fn set_task(&mut self, text: &str) -> PyResult<()> {
        self.inner.set_task(&schedule_of(&self.scenario, text)?);
        Ok(())
    }

    /// Starts world `i` again with `seed`.
    fn reset(&mut self, i: usize, seed: u64) -> PyResult<()> {
        if i >= self.inner.len() {
            return Err(invalid(format!("world {i} does not exist: there are {}", self.inner.len())));
        }
        self.inner.reset(i, seed).map_err(|e| invalid(e.to_string()))
    }

    /// Steps every world, world `i` taking action number `actions[i]`, with the GIL released;
    /// then writes the observations, rewards and flags into the arrays given (one row per world).
    #[allow(clippy::too_many_arguments)]
    fn step(
        &mut self,
        py: Python<'_>,
        actions: PyReadonlyArray1<'_, i64>,
        vision: &Bound<'_, PyArray4<f32>>,
        scent: &Bound<'_, PyArray2<f32>>,
        moved: &Bound<'_, PyArray1<i64>>,
        inventory: &Bound<'_, PyArray2<i64>>,
        task: &Bound<'_, PyArray2<f32>>,
        rewards: &Bound<'_, PyArray1<f32>>,
        truncated: &Bound<'_, PyArray1<bool>>,
    ) -> PyResult<()> {
        let given = actions.as_slice().map_err(|e| invalid(e.to_string()))?;
        let n = self.inner.len();
        if given.len() != n {
            return Err(invalid(format!("expected {n} actions, one per world, found {}", given.len())));
        }
        self.actions.clear();
        for (i, &a) in given.iter().enumerate() {
            let Some(&action) = usize::try_from(a).ok().and_then(|a| self.allowed.get(a)) else {
                return Err(invalid(format!(
                    "world {i}: action {a} is out of range: expected 0 … {}",
                    self.allowed.len() - 1
                )));
            };
            self.actions.push(action);
        }
        // The engine writes the observations straight into the NumPy arrays, with the GIL
        // released while the worlds step.
        let (mut vision_out, mut scent_out) = (vision.readwrite(), scent.readwrite());
        let v = vision_out.as_slice_mut().map_err(not_contiguous)?;
        let s = scent_out.as_slice_mut().map_err(not_contiguous)?;
        let (scent_len, vision_len) = (self.inner.observations().0.len(), self.inner.observations().1.len());
        if v.len() != vision_len || s.len() != scent_len {
            return Err(invalid(format!(
                "expected arrays of {vision_len} vision and {scent_len} scent values, found {} and {}",
                v.len(),
                s.len()
            )));
        }
        let (inner, chosen) = (&mut self.inner, &self.actions);
        py.detach(|| inner.step_into(chosen, s, v)).map_err(|e| invalid(e.to_string()))?;
        self.flags(moved, inventory, task, rewards, truncated)
    }

    /// Writes the observations after the last reset into the arrays given, then the flags.
    #[allow(clippy::too_many_arguments)]
    fn observe(
        &self,
        vision: &Bound<'_, PyArray4<f32>>,
        scent: &Bound<'_, PyArray2<f32>>,
        moved: &Bound<'_, PyArray1<i64>>,
        inventory: &Bound<'_, PyArray2<i64>>,
        task: &Bound<'_, PyArray2<f32>>,
        rewards: &Bound<'_, PyArray1<f32>>,
        truncated: &Bound<'_, PyArray1<bool>>,
    ) -> PyResult<()> {
        let (s, v) = self.inner.observations();
        fill("vision", vision.readwrite().as_slice_mut().map_err(not_contiguous)?, v)?;
        fill("scent", scent.readwrite().as_slice_mut().map_err(not_contiguous)?, s)?;
        self.flags(moved, inventory, task, rewards, truncated)
    }

    /// Writes the rewards, moves, inventories, tasks (the reward function that will score each
    /// world's next action, as coefficients) and truncation flags of the last step.
    fn flags(
        &self,
        moved: &Bound<'_, PyArray1<i64>>,
        inventory: &Bound<'_, PyArray2<i64>>,
        task: &Bound<'_, PyArray2<f32>>,
        rewards: &Bound<'_, PyArray1<f32>>,
        truncated: &Bound<'_, PyArray1<bool>>,
    ) -> PyResult<()> {
        let n = self.inner.len();
        let kinds = self.inner.worlds().first().map_or(0, |w| w.config().items.len());
        fill("rewards", rewards.readwrite().as_slice_mut().map_err(not_contiguous)?, self.inner.rewards())?;
        fill(
            "truncated",
            truncated.readwrite().as_slice_mut().map_err(not_contiguous)?,
            self.inner.truncated(),
        )?;
        let mut moved = moved.readwrite();
        let moved = moved.as_slice_mut().map_err(not_contiguous)?;
        let mut inventory = inventory.readwrite();
        let held = inventory.as_slice_mut().map_err(not_contiguous)?;
        if moved.len() != n || held.len() != n * kinds {
            return Err(invalid(format!(
                "expected `moved` for {n} worlds and `inventory` for {n} × {kinds} items"
            )));
        }
        for (out, m) in moved.iter_mut().zip(self.inner.moved()) {
            *out = i64::from(*m);
        }
        for (row, world) in held.chunks_mut(kinds.max(1)).zip(self.inner.worlds()) {
            for (out, n) in row.iter_mut().zip(&world.agents()[0].inventory) {
                *out = i64::from(*n);
            }
        }
        let mut task = task.readwrite();
        let task = task.as_slice_mut().map_err(not_contiguous)?;
        let t = Reward::coefficients_len(kinds);
        if task.len() != n * t {
            return Err(invalid(format!("expected `task` for {n} worlds × {t} coefficients")));
        }
        for (row, world) in task.chunks_mut(t).zip(self.inner.worlds()) {
            world.observe_task(row);
        }
        Ok(())
    }

    /// The actions, by number, in words.
    #[getter]
    fn actions(&self) -> Vec<String> {
        self.allowed.iter().map(|a| in_words(*a)).collect()
    }

    /// The item types' names, in type order.
    #[getter]
    fn items(&self) -> Vec<String> {
        self.scenario.config.items.iter().map(|t| t.name.clone()).collect()
    }

    /// `(side, side, C)` of the vision window.
    #[getter]
    fn vision_shape(&self) -> (usize, usize, usize) {
        let vision = &self.scenario.config.vision;
        let side = 2 * vision.range as usize + 1;
        (side, side, vision.color_dimension)
    }

    /// `S`, the scent channels.
    #[getter]
    fn scent_len(&self) -> usize {
        self.scenario.config.scent.dimension
    }

    /// How many coefficients describe a task.
    #[getter]
    fn task_len(&self) -> usize {
        Reward::coefficients_len(self.scenario.config.items.len())
    }

    /// Number of worlds.
    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// Each world's trajectory-independent state digest (for tests: equal worlds, equal digests).
    fn digests(&self) -> Vec<String> {
        self.inner.worlds().iter().map(|w| w.state_digest()).collect()
    }
}

/// The scenarios shipped with beanworld, by name (the file name without `.ron`).
const SHIPPED: [(&str, &str); 15] = [
    ("jbw-v0", include_str!("../../../scenarios/jbw-v0.ron")),
    ("jbw-v1", include_str!("../../../scenarios/jbw-v1.ron")),
    ("jbw-paper", include_str!("../../../scenarios/jbw-paper.ron")),
    ("crowd", include_str!("../../../scenarios/crowd.ron")),
    ("cyclical", include_str!("../../../scenarios/cyclical.ron")),
    ("regrowth", include_str!("../../../scenarios/regrowth.ron")),
    ("seasons", include_str!("../../../scenarios/seasons.ron")),
    ("spread", include_str!("../../../scenarios/spread.ron")),
    ("story", include_str!("../../../scenarios/story.ron")),
    ("experiments/paper-vision", include_str!("../../../scenarios/experiments/paper-vision.ron")),
    ("experiments/paper-scent", include_str!("../../../scenarios/experiments/paper-scent.ron")),
    ("experiments/paper-vision-scent", include_str!("../../../scenarios/experiments/paper-vision-scent.ron")),
    ("experiments/cyclical", include_str!("../../../scenarios/experiments/cyclical.ron")),
    ("experiments/seasons-taught", include_str!("../../../scenarios/experiments/seasons-taught.ron")),
    ("experiments/crowd-shared", include_str!("../../../scenarios/experiments/crowd-shared.ron")),
];

/// The text of the shipped scenario `name`, if there is one.
#[pyfunction]
fn shipped(name: &str) -> Option<&'static str> {
    SHIPPED.iter().find(|(n, _)| *n == name).map(|(_, text)| *text)
}

/// The names of the shipped scenarios.
#[pyfunction]
fn shipped_names() -> Vec<&'static str> {
    SHIPPED.iter().map(|(n, _)| *n).collect()
}

/// The module `beanworld._core`.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Env>()?;
    m.add_class::<Worlds>()?;
    m.add_function(wrap_pyfunction!(shipped, m)?)?;
    m.add_function(wrap_pyfunction!(shipped_names, m)?)?;
    Ok(())
}
