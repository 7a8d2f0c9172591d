//! Why a run stopped: [`RunError`], what [`Runner::step`](super::Runner::step) and the calls that
//! talk to the agent threads return. An agent's panic or refusal is reported with its id and name
//! so that a front end can say which agent failed and still save the others.

use beanworld_sim::StepError;

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// An agent panicked while acting or learning.
    #[error("agent {id} ({name}) panicked: {message}")]
    AgentPanicked {
        /// Its id.
        id: u32,
        /// Its name.
        name: String,
        /// The panic message.
        message: String,
    },
    /// A saved state could not be restored.
    #[error("agent {id} ({name}): {message}")]
    Restore {
        /// Its id (a team's first member).
        id: u32,
        /// Its name.
        name: String,
        /// Why.
        message: String,
    },
    /// The simulation refused a step.
    #[error(transparent)]
    Step(#[from] StepError),
    /// The action log could not be written.
    #[error(transparent)]
    ActionLog(#[from] beanworld_sim::action_log::LogError),
    /// A group of agents can no longer answer: its agent thread is gone, or (with the agents on
    /// the runner's thread) something outside an agent's act panicked.
    #[error(
        "the agents of group {0} stopped answering (their thread stopped, or a panic outside an agent's act)"
    )]
    ThreadGone(usize),
}
