//! Replaying an action log (`beanworld_sim::action_log`) without the agents that made it: the
//! scenario comes from the log, the engine's own policies draw their actions again (their random
//! streams are state), and the recorded actions, parameters and tasks are applied step by step —
//! so the replay computes the same
//! trajectory hash (over every action, reward, move and observation) as the run that wrote the
//! log, and ends in the same state.

use std::path::Path;

use beanworld_sim::Simulation;
use beanworld_sim::action_log::{Entry, LogError, LogReader};

use crate::metrics::Record;

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The log could not be read.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The log does not fit the scenario it carries, or the engine refused a step of it.
    #[error("{file}: step {step}: {why}")]
    Diverged {
        /// The log.
        file: String,
        /// The step being replayed.
        step: u64,
        /// What went wrong.
        why: String,
    },
}

/// Where a replay ended.
pub struct Replayed {
    /// The simulation after the last step replayed.
    pub sim: Simulation,
    /// The trajectory hash (the reward-rate windows are not used).
    pub record: Record,
}

/// Replays the log at `path` up to step `until` (all of it when `None`), calling `after_step`
/// after every step with the simulation and the ids and rewards of its agents; the replay stops
/// early when it returns false.
pub fn replay(
    path: &Path,
    until: Option<u64>,
    mut after_step: impl FnMut(&mut Simulation, &[u32], &[f32]) -> bool,
) -> Result<Replayed, ReplayError> {
    let file = path.display().to_string();
    let reader = LogReader::open(path)?;
    let diverged = |step: u64, why: String| ReplayError::Diverged { file: file.clone(), step, why };
    let mut sim = Simulation::new(reader.scenario().clone()).map_err(|e| diverged(0, e.to_string()))?;
    let mut record = Record::new(1);
    let (mut scent, mut vision, mut bytes) = (Vec::new(), Vec::new(), Vec::new());
    let mut scripted = Vec::new();
    let (mut ids, mut rewards, mut moved) = (Vec::<u32>::new(), Vec::<f32>::new(), Vec::<bool>::new());
    for entry in reader {
        if until.is_some_and(|u| sim.time() >= u) {
            break;
        }
        let step = sim.time() + 1;
        match entry? {
            Entry::Param(param, value) => sim.set_param(param, value),
            Entry::Task(task) => sim.set_task(task),
            Entry::Step(actions) => {
                sim.scripted_actions(&mut scripted);
                if actions.len() != scripted.len() {
                    let why = format!("the log has {} actions for {} agents", actions.len(), scripted.len());
                    return Err(diverged(step, why));
                }
                let outcome = sim.step(&actions).map_err(|e| diverged(step, e.to_string()))?;
                ids.clear();
                ids.extend_from_slice(outcome.ids);
                rewards.clear();
                rewards.extend_from_slice(outcome.rewards);
                moved.clear();
                moved.extend_from_slice(outcome.moved);
                sim.observe_all(&mut scent, &mut vision);
                record.hash_step(&mut bytes, sim.time(), &actions, &rewards, &moved, &scent, &vision);
                if !after_step(&mut sim, &ids, &rewards) {
                    break;
                }
            }
        }
    }
    Ok(Replayed { sim, record })
}
