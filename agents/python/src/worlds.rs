//! [`Worlds`]: many worlds of one scenario stepped as one batch (the Rust `VecEnv`), their
//! observations written in place into Python's arrays.

use beanworld_sim::Scenario;
use beanworld_sim::action::Action;
use beanworld_sim::task::Reward;
use numpy::{PyArray1, PyArray2, PyArray4, PyArrayMethods, PyReadonlyArray1};
use pyo3::prelude::*;

use crate::{fill, in_words, invalid, not_contiguous, param_of, schedule_of};

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
