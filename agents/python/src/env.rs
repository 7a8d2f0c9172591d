//! [`Env`]: one world stepped from Python, its first agent driven by the caller and the others by
//! their scenario's policies, observed after every step as `beanworld run` observes.

use beanworld_agents::metrics::Record;
use beanworld_render::frame::{CellImage, reference};
use beanworld_sim::action::Action;
use beanworld_sim::action_log::LogWriter;
use beanworld_sim::{Cell, Region, Scenario, Simulation};
use numpy::{PyArray1, PyArray3, PyArrayMethods, PyReadonlyArray1};
use pyo3::prelude::*;

use crate::{in_words, invalid, param_of, schedule_of};

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
    /// The action log being recorded, if any.
    log: Option<LogWriter>,
    /// Views served to `beanworld watch --attach`, if asked for.
    served: Option<Served>,
    /// The threads that take the observations.
    perceivers: beanworld_agents::Perceivers,
}

/// A world served to viewers: views published after steps, the server's thread stopped when
/// the environment goes.
struct Served {
    publisher: beanworld_viewer::Publisher,
    feed: std::sync::Arc<beanworld_viewer::Feed>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    addr: std::net::SocketAddr,
    /// Every agent's id, in agent order (refilled each step).
    ids: Vec<u32>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Steps of the rate window the viewer's reward rates are over.
const VIEWED_RATE_WINDOW: u64 = 1000;

impl Env {
    fn observe_all(&mut self) {
        self.perceivers.observe_all(&mut self.sim, &mut self.scent, &mut self.vision);
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
        if let Some(log) = &mut self.log {
            log.step(&self.actions).map_err(|e| invalid(e.to_string()))?;
        }
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
        if let Some(s) = &mut self.served {
            s.ids.clear();
            s.ids.extend(self.sim.agents().iter().map(|a| a.id));
            s.publisher.after_rewards(&mut self.sim, &s.ids, &self.rewards);
        }
        Ok(())
    }

    /// After the world was replaced (a reset, a snapshot loaded): views start afresh.
    fn restart_views(&mut self) {
        if let Some(s) = &mut self.served {
            s.feed.renew();
            let feed = std::sync::Arc::clone(&s.feed);
            s.publisher = beanworld_viewer::Publisher::new(feed, u64::MAX, VIEWED_RATE_WINDOW);
        }
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
            log: None,
            served: None,
            perceivers: beanworld_agents::Perceivers::default(),
        };
        env.observe_all();
        Ok(env)
    }

    /// Takes every agent's observations on `threads` threads (at least 1) from the next step on:
    /// for many agents. The observations are the same whatever the number.
    fn set_perception_threads(&mut self, threads: usize) {
        self.perceivers = beanworld_agents::Perceivers::new(threads);
    }

    /// The threads that take the observations.
    #[getter]
    fn perception_threads(&self) -> usize {
        self.perceivers.threads()
    }

    /// Starts the world again, with `seed` if given (else the scenario's, or the last one given).
    #[pyo3(signature = (seed = None))]
    fn reset(&mut self, seed: Option<u64>) -> PyResult<()> {
        if let Some(seed) = seed {
            self.scenario.seed = seed;
        }
        self.stop_recording()?;
        self.sim = Env::start(&self.scenario)?;
        self.record = Record::new(1000);
        self.restart_views();
        self.rewards.clear();
        self.moved.clear();
        self.observe_all();
        Ok(())
    }

    /// Serves views of this world on `addr` (`PORT` on loopback, or `HOST:PORT`; port 0 picks
    /// one) to `beanworld watch --attach`, published after every step from now on; returns the
    /// address bound. After a reset or a snapshot loaded, attached viewers are sent the new world.
    fn serve(&mut self, addr: &str) -> PyResult<String> {
        if let Some(s) = &self.served {
            return Err(invalid(format!("this environment already serves views on {}", s.addr)));
        }
        let addr = beanworld_viewer::remote::parse_addr(addr).map_err(invalid)?;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let feed = beanworld_viewer::Feed::new(std::sync::Arc::clone(&stop));
        let bound = beanworld_viewer::remote::serve(std::sync::Arc::clone(&feed), addr)
            .map_err(|e| invalid(format!("cannot serve views on {addr}: {e}")))?;
        let publisher =
            beanworld_viewer::Publisher::new(std::sync::Arc::clone(&feed), u64::MAX, VIEWED_RATE_WINDOW);
        self.served = Some(Served { publisher, feed, stop, addr: bound, ids: Vec::new() });
        Ok(bound.to_string())
    }

    /// Stops serving views (if it was): attached viewers are let go and the port is closed.
    fn stop_serving(&mut self) {
        self.served = None;
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
        let param = param_of(&self.scenario, path, value)?;
        if let Some(log) = &mut self.log {
            log.param(&param, value).map_err(|e| invalid(e.to_string()))?;
        }
        self.sim.set_param(param, value);
        Ok(())
    }

    /// Switches the reward schedule from the next step on, written as a scenario's `task`.
    fn set_task(&mut self, text: &str) -> PyResult<()> {
        let task = schedule_of(&self.scenario, text)?;
        if let Some(log) = &mut self.log {
            log.task(&task).map_err(|e| invalid(e.to_string()))?;
        }
        self.sim.set_task(task);
        Ok(())
    }

    /// Records every step's actions and every parameter or task set from now on into the action
    /// log at `path`, which `beanworld replay` re-runs; the world must be at its start (just made
    /// or reset). The log is written as it goes and completed by `stop_recording`, a reset, or
    /// when the world is dropped.
    fn record_actions(&mut self, path: &str) -> PyResult<()> {
        if self.sim.time() > 0 {
            return Err(invalid(format!(
                "an action log starts with the world: record after reset, not at step {}",
                self.sim.time()
            )));
        }
        self.stop_recording()?;
        let log = LogWriter::create(std::path::Path::new(path), self.sim.scenario())
            .map_err(|e| invalid(e.to_string()))?;
        self.log = Some(log);
        Ok(())
    }

    /// Completes the action log being recorded, if any.
    fn stop_recording(&mut self) -> PyResult<()> {
        match self.log.take() {
            Some(mut log) => log.flush().map_err(|e| invalid(e.to_string())),
            None => Ok(()),
        }
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
        self.restart_views();
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
        // A copy of the policy and its random stream, not of the world: asking changes nothing.
        let action = self.sim.agents().first()?.policy.clone().act()?;
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
