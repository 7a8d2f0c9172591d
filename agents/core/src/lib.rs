//! beanworld-agents: the plug through which learners meet the world. It owns the [`Agent`]
//! trait, the [`Runner`] that steps a simulation on one thread while agents act on others
//! (observations out in preallocated batches, actions back through lock-free queues), the
//! vectorized [`VecEnv`] over many worlds, the [`Registry`] of agents by name that the agent
//! families fill, and the metrics every run records (reward, reward rate, items collected, a
//! running trajectory hash). It does not know any particular learner: those live in their own
//! crates under `agents/`; nor does it draw (the `beanworld` command plots the metrics files it
//! writes).

pub mod agent;
mod backoff;
#[allow(unsafe_code)]
mod crew;
mod error;
pub mod metrics;
mod perceivers;
pub mod registry;
pub mod replay;
pub mod runner;
pub mod session;
pub mod vec_env;

pub use agent::{
    Agent, Driver, Frozen, Members, Needs, Observation, Teacher, Team, agent_rng, allowed_actions,
};
pub use error::AgentError;
pub use perceivers::Perceivers;
pub use registry::Registry;
pub use runner::{Control, RunError, Runner};
pub use vec_env::VecEnv;
