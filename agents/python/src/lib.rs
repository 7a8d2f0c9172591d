//! beanworld-python: the engine as a Python extension module (`beanworld._core`, built by
//! maturin). It owns [`Env`], one world whose first agent Python drives while the others follow
//! their scenario's policies. The Gymnasium environment (`beanworld.make`) is Python code over it
//! in `python/beanworld/`; everything that must be fast or exact — stepping, observing, the
//! trajectory hash that `beanworld run` also computes — happens here.
//!
//! [`Env`] is in `env.rs`, the batched [`Worlds`] in `worlds.rs`; here are what they share and
//! the module itself.

/// The allocator of everything Rust allocates here, as in the `beanworld` command: the learners'
/// tensors are allocated and freed many times per update, and the system allocator gives those
/// blocks back to the kernel and faults them in again each time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod env;
mod learner;
mod suite;
mod worlds;

use beanworld_sim::Scenario;
use beanworld_sim::action::Action;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

pub use env::Env;
pub use learner::Learner;
pub use worlds::Worlds;

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

/// The scenarios shipped with beanworld, by name (the file name without `.ron`).
const SHIPPED: [(&str, &str); 20] = [
    ("jbw-v0", include_str!("../../../scenarios/jbw-v0.ron")),
    ("jbw-v1", include_str!("../../../scenarios/jbw-v1.ron")),
    ("jbw-paper", include_str!("../../../scenarios/jbw-paper.ron")),
    ("crowd", include_str!("../../../scenarios/crowd.ron")),
    ("cyclical", include_str!("../../../scenarios/cyclical.ron")),
    ("regrowth", include_str!("../../../scenarios/regrowth.ron")),
    ("seasons", include_str!("../../../scenarios/seasons.ron")),
    ("spread", include_str!("../../../scenarios/spread.ron")),
    ("story", include_str!("../../../scenarios/story.ron")),
    ("story-life", include_str!("../../../scenarios/story-life.ron")),
    ("relearning", include_str!("../../../scenarios/relearning.ron")),
    ("unending", include_str!("../../../scenarios/unending.ron")),
    ("experiments/paper-vision", include_str!("../../../scenarios/experiments/paper-vision.ron")),
    ("experiments/paper-scent", include_str!("../../../scenarios/experiments/paper-scent.ron")),
    ("experiments/paper-vision-scent", include_str!("../../../scenarios/experiments/paper-vision-scent.ron")),
    ("experiments/cyclical", include_str!("../../../scenarios/experiments/cyclical.ron")),
    ("experiments/crowd-shared", include_str!("../../../scenarios/experiments/crowd-shared.ron")),
    ("experiments/paper-fov", include_str!("../../../scenarios/experiments/paper-fov.ron")),
    ("experiments/paper-no-occlusion", include_str!("../../../scenarios/experiments/paper-no-occlusion.ron")),
    ("experiments/seasons-taught", include_str!("../../../scenarios/experiments/seasons-taught.ron")),
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

/// Sets how many threads the worlds made from now on sample a step's new patches on, where they
/// do not depend on each other (1: on the stepping thread alone; 0: the machine's, the default).
/// Results are the same whatever the number.
#[pyfunction]
fn set_generation_threads(threads: usize) {
    beanworld_sim::set_default_generation_threads(threads);
}

/// The threads the worlds made now sample new patches on.
#[pyfunction]
fn generation_threads() -> usize {
    beanworld_sim::default_generation_threads()
}

/// The module `beanworld._core`.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Env>()?;
    m.add_class::<Worlds>()?;
    m.add_class::<Learner>()?;
    m.add_function(wrap_pyfunction!(shipped, m)?)?;
    m.add_function(wrap_pyfunction!(shipped_names, m)?)?;
    m.add_function(wrap_pyfunction!(set_generation_threads, m)?)?;
    m.add_function(wrap_pyfunction!(generation_threads, m)?)?;
    m.add_function(wrap_pyfunction!(suite::suite_run, m)?)?;
    m.add_function(wrap_pyfunction!(suite::suite_report, m)?)?;
    Ok(())
}
