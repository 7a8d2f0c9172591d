//! [`Learner`]: a Rust PPO learner over many worlds ([`BatchedPpo`]) driven from Python — to
//! train as `beanworld run --worlds` does, or to be one replica of a data-parallel learner
//! (`beanworld.ray`): it collects rollouts, hands out each minibatch's gradients as named numpy
//! arrays, and applies gradients and weights it is given. The GIL is released while it works.

use beanworld_rl::ppo::checkpoint::{self, NamedTensor};
use beanworld_rl::ppo::{BatchedPpo, Update};
use beanworld_sim::Scenario;
use beanworld_sim::policy::PolicyKind;
use numpy::{PyArray1, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::invalid;

/// A PPO learner (`ppo`, `ppo-vision`, `ppo-scent`, with settings in RON after the name) over
/// every agent of one world per seed, stepped on `threads` threads.
#[pyclass(module = "beanworld._core")]
pub struct Learner {
    /// Boxed: it holds values aligned to 64 bytes, more than Python allocates objects at.
    inner: Box<BatchedPpo>,
    /// The update whose gradients are being handed out, one minibatch at a time.
    update: Option<Update>,
}

fn refused(e: impl std::fmt::Display) -> PyErr {
    invalid(e.to_string())
}

/// `tensors` as a dict of numpy arrays by name.
fn to_dict(py: Python<'_>, tensors: Vec<NamedTensor>) -> PyResult<Bound<'_, PyDict>> {
    let dict = PyDict::new(py);
    for t in tensors {
        let (name, shape, values) = checkpoint::values(t).map_err(refused)?;
        dict.set_item(name, PyArray1::from_vec(py, values).reshape(shape)?)?;
    }
    Ok(dict)
}

/// A dict of float32 numpy arrays by name (`what` says what they are, for errors) as named
/// tensors.
fn from_dict(what: &str, dict: &Bound<'_, PyDict>) -> PyResult<Vec<NamedTensor>> {
    let mut tensors = Vec::with_capacity(dict.len());
    for (name, array) in dict.iter() {
        let name: String = name.extract().map_err(|_| invalid(format!("{what}: every key must be a str")))?;
        let array = array.cast::<PyArrayDyn<f32>>().map_err(|_| {
            invalid(format!(
                "{what} {name}: expected a numpy array of float32, found {}",
                array.repr().map_or_else(|_| "?".into(), |r| r.to_string())
            ))
        })?;
        let array: PyReadonlyArrayDyn<'_, f32> = array.readonly();
        let shape = array.shape().to_vec();
        // Row-major whatever the array's layout (`as_slice` would give a Fortran-ordered array's
        // memory as it lies, transposed).
        let values: Vec<f32> = match array.as_slice() {
            Ok(slice) if array.is_c_contiguous() => slice.to_vec(),
            _ => array.as_array().iter().copied().collect(),
        };
        tensors.push(checkpoint::named(&name, shape, values).map_err(refused)?);
    }
    Ok(tensors)
}

impl Learner {
    /// Refuses what cannot be done (`what`) while an update taken apart is under way: its steps
    /// are neither in the rollouts nor learned from yet.
    fn idle(&self, what: &str) -> PyResult<()> {
        match self.update {
            Some(_) => Err(invalid(format!(
                "an update is under way: take its gradients until gradients() returns None before {what}"
            ))),
            None => Ok(()),
        }
    }
}

/// Scenario `text` (read from `file`, named in errors) with `overrides`, every agent driven from
/// outside; refused with a teacher.
fn learners_scenario(text: &str, file: &str, overrides: &[(String, String)]) -> PyResult<Scenario> {
    let pairs: Vec<(&str, &str)> = overrides.iter().map(|(f, v)| (f.as_str(), v.as_str())).collect();
    let mut scenario: Scenario = Scenario::parse_with(text, file, &pairs).map_err(refused)?;
    if scenario.teacher.is_some() {
        return Err(invalid(format!(
            "scenario \"{}\" has a teacher, which sets one world's parameters as its agent learns; a learner over many worlds runs none (remove the teacher to train without it)",
            scenario.name
        )));
    }
    for group in &mut scenario.agents {
        group.policy = PolicyKind::External;
    }
    Ok(scenario)
}

#[pymethods]
impl Learner {
    /// The learner `name` over one world of scenario `text` (read from `file`, named in errors)
    /// per seed in `seeds`; every agent of every world is one of its streams.
    #[new]
    #[pyo3(signature = (name, text, file, seeds, threads = 1, overrides = Vec::new()))]
    fn new(
        name: &str,
        text: &str,
        file: &str,
        seeds: Vec<u64>,
        threads: usize,
        overrides: Vec<(String, String)>,
    ) -> PyResult<Self> {
        let scenario = learners_scenario(text, file, &overrides)?;
        let inner = beanworld_rl::batched(name, &scenario, &seeds, threads.max(1)).map_err(refused)?;
        Ok(Learner { inner: Box::new(inner), update: None })
    }

    /// The learner `name` over the worlds of scenario `text` saved in the folder `path` (by
    /// `snapshot`, or a `beanworld run --worlds` snapshot), as they stood: it goes on as if it
    /// had not stopped.
    #[staticmethod]
    #[pyo3(signature = (name, text, file, path, threads = 1, overrides = Vec::new()))]
    fn resume(
        py: Python<'_>,
        name: &str,
        text: &str,
        file: &str,
        path: &str,
        threads: usize,
        overrides: Vec<(String, String)>,
    ) -> PyResult<Self> {
        let scenario = learners_scenario(text, file, &overrides)?;
        let dir = std::path::Path::new(path);
        let inner = py
            .detach(|| beanworld_cli::load_worlds(dir, &scenario, name, threads.max(1)))
            .map_err(|e| invalid(format!("{e:#}")))?;
        Ok(Learner { inner: Box::new(inner), update: None })
    }

    /// Writes every world and the learner (with its rollouts in progress) into the folder
    /// `path`, made if it is not there, for `resume`; refused while an update is under way.
    fn snapshot(&self, py: Python<'_>, path: &str) -> PyResult<()> {
        self.idle("a snapshot")?;
        let (inner, dir) = (&self.inner, std::path::Path::new(path));
        let written = py.detach(|| match std::fs::create_dir_all(dir) {
            Ok(()) => beanworld_cli::save_worlds(inner, dir).map_err(|e| format!("{e:#}")),
            Err(e) => Err(e.to_string()),
        });
        written.map_err(|e| invalid(format!("cannot write the snapshot {path}: {e}")))
    }

    /// Steps every stream `steps` times, acting and recording, without learning; the reward of
    /// all streams over them.
    fn collect(&mut self, py: Python<'_>, steps: u64) -> PyResult<f64> {
        self.idle("collecting more")?;
        let inner = &mut self.inner;
        py.detach(|| inner.collect(steps)).map_err(refused)
    }

    /// One update over what was collected: what it did, as JSON; `None` if nothing was.
    fn update(&mut self, py: Python<'_>) -> PyResult<Option<String>> {
        self.idle("another update")?;
        let inner = &mut self.inner;
        Ok(py.detach(|| inner.update().then(|| inner.learner_mut().take_update_json()).flatten()))
    }

    /// The gradients of the next minibatch of the update under way (one is begun over what was
    /// collected if none is), at the current weights, as float32 arrays by weight name; `None`
    /// once its passes are done (the update is then finished: see `last_update`) or if nothing
    /// was collected.
    fn gradients<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let (inner, update) = (&mut self.inner, &mut self.update);
        let named = py.detach(|| {
            if update.is_none() {
                *update = inner.begin_update();
            }
            let u = update.as_mut()?;
            let learner = inner.learner_mut();
            match learner.next_gradients(u) {
                Some(g) => Some(learner.gradient_tensors(&g)),
                None => {
                    if let Some(done) = update.take() {
                        learner.finish_update(done);
                    }
                    None
                }
            }
        });
        named.map(|n| to_dict(py, n)).transpose()
    }

    /// One Adam step with `gradients` (float32 arrays by weight name, as `gradients()` gives
    /// them); refuses, changing nothing, arrays that are not one per weight of this network.
    fn apply(&mut self, py: Python<'_>, gradients: &Bound<'_, PyDict>) -> PyResult<()> {
        let tensors = from_dict("gradient", gradients)?;
        let learner = self.inner.learner_mut();
        let gradients = learner.gradients_from(tensors).map_err(refused)?;
        py.detach(|| learner.apply(gradients));
        Ok(())
    }

    /// Counts an update whose gradients were applied here with `apply` (the driver of a
    /// data-parallel learner), over `steps` steps of its replicas' streams: the acting network
    /// takes the weights, and its checkpoints count the steps as trained.
    fn end_update(&mut self, steps: u64) {
        self.inner.learner_mut().finish_remote_update();
        self.inner.count_trained(steps);
    }

    /// Every weight, as float32 arrays by name (a linear layer's weight is `[inputs, outputs]`).
    fn get_weights<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        to_dict(py, self.inner.learner().weight_tensors())
    }

    /// Replaces the weights (keeping Adam's moments); with `initial`, they also become the
    /// weights it started from (which L2-init pulls toward). Refuses, changing nothing, arrays
    /// that are not one per weight of this network.
    #[pyo3(signature = (weights, initial = false))]
    fn set_weights(&mut self, weights: &Bound<'_, PyDict>, initial: bool) -> PyResult<()> {
        let tensors = from_dict("weight", weights)?;
        let learner = self.inner.learner_mut();
        if initial { learner.set_initial_weights(tensors) } else { learner.set_weights(tensors) }
            .map_err(refused)
    }

    /// XXH3-128 of the weights (as a run's `summary.json` has it).
    fn weights_hash(&self) -> String {
        checkpoint::weights_hash(&self.inner.learner().weights())
    }

    /// What the last update did, as JSON, if one was taken since the last call.
    fn last_update(&mut self) -> Option<String> {
        self.inner.learner_mut().take_update_json()
    }

    /// Writes a portable checkpoint (safetensors) to `path`; refused while an update is under way
    /// (its steps are neither in the rollouts nor learned from yet).
    fn save(&self, path: &str) -> PyResult<()> {
        self.idle("saving")?;
        let bytes = self.inner.checkpoint().map_err(refused)?;
        std::fs::write(path, bytes).map_err(|e| invalid(format!("cannot write {path}: {e}")))
    }

    /// Starts from the checkpoint at `path`: (whole state taken, rollouts taken, steps it had
    /// trained for).
    fn load(&mut self, path: &str) -> PyResult<(bool, bool, u64)> {
        self.idle("loading")?;
        let bytes = std::fs::read(path).map_err(|e| invalid(format!("cannot read {path}: {e}")))?;
        let loaded = self.inner.load_checkpoint(&bytes).map_err(|e| invalid(format!("{path}: {e}")))?;
        Ok((loaded.state, loaded.rollouts, loaded.steps))
    }

    /// Steps taken (each a step of every stream).
    #[getter]
    fn steps(&self) -> u64 {
        self.inner.steps()
    }

    /// Streams: agents over all worlds.
    #[getter]
    fn streams(&self) -> usize {
        self.inner.streams()
    }

    /// Worlds.
    #[getter]
    fn worlds(&self) -> usize {
        self.inner.env().len()
    }

    /// Each world's seed.
    #[getter]
    fn seeds(&self) -> Vec<u64> {
        self.inner.env().seeds()
    }

    /// Updates taken.
    #[getter]
    fn updates(&self) -> u64 {
        self.inner.learner().updates()
    }

    /// Its name, settings included.
    #[getter]
    fn name(&self) -> String {
        self.inner.learner().name().to_string()
    }

    /// Its settings, every field, as a JSON object.
    #[getter]
    fn settings(&self) -> PyResult<String> {
        serde_json::to_string(self.inner.learner().settings()).map_err(refused)
    }

    /// Seconds spent (stepping the worlds, acting, updating).
    fn timing(&self) -> (f64, f64, f64) {
        let t = self.inner.timing();
        (t.env.as_secs_f64(), t.act.as_secs_f64(), t.update.as_secs_f64())
    }
}
