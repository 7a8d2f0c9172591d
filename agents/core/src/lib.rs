//! beanworld-agents: the plug through which learners meet the world. It owns the [`Agent`]
//! trait, the [`Runner`] that steps a simulation on one thread while agents act on others
//! (observations out in preallocated batches, actions back through lock-free queues), the
//! vectorized [`VecEnv`] over many worlds, and the metrics every run records (reward, reward rate,
//! items collected, a running trajectory hash) with their plots. It does not know any particular
//! learner: those live in their own crates under `agents/`.

pub mod agent;
mod backoff;
#[allow(unsafe_code)]
mod crew;
pub mod metrics;
pub mod plot;
pub mod runner;
pub mod session;
pub mod vec_env;

pub use agent::{Agent, Driver, Members, Needs, Observation, Teacher, Team, agent_rng, allowed_actions};
pub use runner::{Control, RunError, Runner};
pub use vec_env::VecEnv;
