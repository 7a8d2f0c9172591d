//! The suite with a Python learner (`beanworld.suite.run`): the learner, a Python object, drives
//! agents through [`PyAgent`], an [`Agent`] whose every call takes the GIL and calls the object;
//! the lives, evaluations, forward transfer and results are the `beanworld suite` command's own
//! code ([`beanworld_cli::suite`]), so a Python learner lands in the same `result.json` and the
//! same report as ours.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use beanworld_agents::agent::{Needs, Observation, allowed_actions};
use beanworld_agents::{Agent, AgentError, Driver};
use beanworld_sim::action::Action;
use numpy::{PyArray1, PyArrayMethods};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};

use crate::{in_words, invalid};

/// An agent driven by a Python object with `act(observation) -> int` and
/// `learn(previous, observation)`, `save() -> bytes`, `load(bytes)`, and optionally
/// `freeze() -> bool`. A Python exception stops the run (a panic on the agent thread, which the
/// runner turns into an error naming the agent, after writing a snapshot).
struct PyAgent {
    name: String,
    object: Py<PyAny>,
    /// The actions, by the index the object answers with.
    allowed: Vec<Action>,
    /// The vision window's shape, `(2R+1, 2R+1, C)`.
    shape: [usize; 3],
    /// Why `save()` failed, if it did: the runner does not stop a run for an agent that cannot
    /// save, so the next `act` stops it (nothing scores or resumes a learner without its state).
    unsaved: std::sync::Mutex<Option<String>>,
}

impl PyAgent {
    /// Calls `method` with `args` and gives its result to `then`; panics on a Python error.
    fn call<T>(
        &self,
        method: &str,
        args: impl for<'py> FnOnce(Python<'py>) -> PyResult<Bound<'py, PyTuple>>,
        then: impl for<'py> FnOnce(Bound<'py, PyAny>) -> PyResult<T>,
    ) -> T {
        Python::attach(|py| {
            let result =
                args(py).and_then(|args| self.object.bind(py).call_method1(method, args)).and_then(then);
            match result {
                Ok(value) => value,
                Err(e) => {
                    let shown = e.to_string();
                    e.print(py);
                    panic!("the Python learner {:?} failed in {method}(): {shown}", self.name)
                }
            }
        })
    }

    /// The observation as the Gymnasium environment gives it, with the reward of the last step.
    fn observation<'py>(&self, py: Python<'py>, o: &Observation<'_>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("vision", PyArray1::from_slice(py, o.vision).reshape(self.shape)?)?;
        d.set_item("scent", PyArray1::from_slice(py, o.scent))?;
        d.set_item("moved", i64::from(o.moved))?;
        let inventory: Vec<i64> = o.inventory.iter().map(|&n| i64::from(n)).collect();
        d.set_item("inventory", PyArray1::from_vec(py, inventory))?;
        d.set_item("task", PyArray1::from_slice(py, o.task))?;
        d.set_item("reward", o.reward)?;
        d.set_item("step", o.step)?;
        d.set_item("id", o.id)?;
        Ok(d)
    }
}

impl Agent for PyAgent {
    fn name(&self) -> &str {
        &self.name
    }

    fn needs(&self) -> Needs {
        Needs::ALL
    }

    fn act(&mut self, observation: &Observation<'_>) -> Action {
        if let Some(why) = self.unsaved.get_mut().unwrap_or_else(|p| p.into_inner()).take() {
            panic!("the Python learner {:?} failed in save(): {why}", self.name);
        }
        let n = self.allowed.len();
        let k: usize = self.call(
            "act",
            |py| PyTuple::new(py, [self.observation(py, observation)?]),
            |r| {
                let k: i64 = r.extract()?;
                usize::try_from(k)
                    .ok()
                    .filter(|&k| k < n)
                    .ok_or_else(|| invalid(format!("act() returned {k}: expected an action 0 … {}", n - 1)))
            },
        );
        self.allowed[k]
    }

    fn learn(&mut self, previous: Action, observation: &Observation<'_>) {
        let index = self.allowed.iter().position(|&a| a == previous).unwrap_or(0);
        self.call(
            "learn",
            |py| {
                PyTuple::new(
                    py,
                    [index.into_pyobject(py)?.into_any(), self.observation(py, observation)?.into_any()],
                )
            },
            |_| Ok(()),
        );
    }

    fn save(&self) -> Vec<u8> {
        Python::attach(|py| {
            let saved = self.object.bind(py).call_method0("save").and_then(|r| {
                r.extract::<Vec<u8>>()
                    .map_err(|_| invalid(format!("save() returned {}, not bytes", r.get_type())))
            });
            saved.unwrap_or_else(|e| {
                let why = e.to_string();
                e.print(py);
                *self.unsaved.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
                Vec::new()
            })
        })
    }

    fn load(&mut self, state: &[u8]) -> Result<(), AgentError> {
        Python::attach(|py| {
            self.object.bind(py).call_method1("load", (PyBytes::new(py, state),)).map(|_| ()).map_err(|e| {
                AgentError::State(format!("the Python learner {:?} cannot load its state: {e}", self.name))
            })
        })
    }

    fn freeze(&mut self) -> bool {
        Python::attach(|py| {
            let object = self.object.bind(py);
            match object.hasattr("freeze") {
                Ok(true) => self.call("freeze", |py| Ok(PyTuple::empty(py)), |r| r.extract()),
                _ => false,
            }
        })
    }
}

/// Lives the learner `make(seed, agent_id, actions) -> object` makes, registered as `name`, on
/// `tracks` for seeds `0..seeds` into `out`, as `beanworld suite run` does (resuming lives
/// left unfinished there). Ctrl-C stops every life with a snapshot to go on from, then raises
/// `KeyboardInterrupt`. Returns the number of lives.
#[pyfunction]
#[pyo3(signature = (tracks, name, make, out, seeds = 5, jobs = 1, smoke = false))]
#[allow(clippy::too_many_arguments)]
pub fn suite_run(
    py: Python<'_>,
    tracks: Vec<String>,
    name: String,
    make: Py<PyAny>,
    out: PathBuf,
    seeds: u64,
    jobs: u64,
    smoke: bool,
) -> PyResult<usize> {
    let learner = name.clone();
    let make = Arc::new(make);
    let maker: beanworld_cli::agents::Maker = Arc::new(move |config, id, seed| {
        let allowed = allowed_actions(config);
        let side = 2 * config.vision.range as usize + 1;
        let shape = [side, side, config.vision.color_dimension];
        let words: Vec<String> = allowed.iter().map(|&a| in_words(a)).collect();
        Python::attach(|py| {
            let object = make.bind(py).call1((seed, id, words)).map_err(|e| {
                AgentError::Invalid(format!(
                    "the Python learner {learner:?}: make(seed, agent_id, actions) failed: {e}"
                ))
            })?;
            for method in ["act", "learn", "save", "load"] {
                if !object.hasattr(method).unwrap_or(false) {
                    return Err(AgentError::Invalid(format!(
                        "the Python learner {learner:?} has no {method}(): it needs act, learn, save and load (and may have freeze)"
                    )));
                }
            }
            let agent = PyAgent {
                name: learner.clone(),
                object: object.unbind(),
                allowed,
                shape,
                unsaved: Default::default(),
            };
            Ok(Driver::Agent(Box::new(agent)))
        })
    });
    beanworld_cli::agents::register(&name, maker).map_err(|e| invalid(e.to_string()))?;
    let stop = Arc::new(AtomicBool::new(false));
    let lives = {
        let (stop, name) = (Arc::clone(&stop), name.clone());
        std::thread::spawn(move || {
            beanworld_cli::suite::run_with(&tracks, &[name], seeds, jobs.max(1), smoke, &out, &stop)
        })
    };
    // The lives run on their own threads, taking the GIL for each call of the learner; this
    // thread waits without it, looking for Ctrl-C now and then.
    let mut interrupted = None;
    while !lives.is_finished() {
        py.detach(|| std::thread::sleep(std::time::Duration::from_millis(20)));
        if let Err(e) = py.check_signals()
            && interrupted.is_none()
        {
            stop.store(true, Ordering::SeqCst);
            interrupted = Some(e);
        }
    }
    beanworld_cli::agents::unregister(&name);
    let result = lives.join().map_err(|_| PyRuntimeError::new_err("the suite's thread panicked"))?;
    if let Some(e) = interrupted {
        return Err(e);
    }
    let lives = result.map_err(|e| PyRuntimeError::new_err(format!("{e:#}")))?;
    if stop.load(Ordering::SeqCst) {
        return Err(PyRuntimeError::new_err(
            "the suite stopped before its end; the same call goes on from there",
        ));
    }
    Ok(lives)
}

/// `beanworld suite report DIRS… [--out OUT]`: writes `report.md` and the plots of every life
/// below `dirs`; returns the report's path.
#[pyfunction]
#[pyo3(signature = (dirs, out = None))]
pub fn suite_report(py: Python<'_>, dirs: Vec<PathBuf>, out: Option<PathBuf>) -> PyResult<PathBuf> {
    py.detach(|| beanworld_cli::suite::report(&dirs, out))
        .map_err(|e| PyRuntimeError::new_err(format!("{e:#}")))
}
