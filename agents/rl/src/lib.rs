//! beanworld-rl: learners that keep learning for as long as a run lasts, as [`Agent`]s any
//! scenario can run (`beanworld run SCENARIO --agent ppo`, or `policy: Agent("dqn")`): PPO
//! ([`ppo`]) and DQN ([`dqn`]) over the paper's network ([`net`]); and many agents learning as
//! one, a [`Team`] sharing one PPO network ([`ppo::SharedPpo`], `policy: Agent("ppo-shared")`).
//!
//! The tensors, automatic differentiation, convolutions and Adam are burn's, on its Flex backend
//! (pure Rust on the CPU, nothing downloaded at run time); see README "Learners" for why burn and
//! not candle, with the build times and throughputs measured here.

pub mod dqn;
pub mod net;
pub mod ppo;

use beanworld_agents::{Agent, AgentError, Team};
use beanworld_sim::Config;

use crate::net::Senses;

/// The names [`make`] knows: PPO and DQN, each on vision and scent, on vision alone, on scent
/// alone. Each name may carry settings in RON after it, fields not given keeping their defaults:
/// `ppo-scent(entropy_weight: 0.05, rollout: 1024)`, `dqn(n_step: 5)` (the fields of
/// [`ppo::Settings`] and [`dqn::Settings`]).
pub const NAMES: [&str; 6] = ["ppo", "ppo-vision", "ppo-scent", "dqn", "dqn-vision", "dqn-scent"];

/// Splits `name(settings)` into the name and its settings (defaults when absent), or why the
/// settings do not parse.
pub fn settings<S: serde::de::DeserializeOwned + Default>(name: &str) -> (&str, Result<S, AgentError>) {
    let Some(open) = name.find('(') else { return (name, Ok(S::default())) };
    let (base, text) = name.split_at(open);
    let parsed = ron::from_str::<S>(text).map_err(|e| AgentError::Settings {
        name: base.to_string(),
        settings: text.to_string(),
        message: e.to_string(),
    });
    (base, parsed)
}

/// The learner called `name` (with optional settings, see [`NAMES`]) for agent `id` in a world
/// of `config` whose seed is `seed`, or `None` if no learner has that name.
pub fn make(name: &str, config: &Config, id: u32, seed: u64) -> Option<Result<Box<dyn Agent>, AgentError>> {
    let base = name.split('(').next().unwrap_or(name);
    let (algorithm, senses) = base.split_once('-').unwrap_or((base, ""));
    let senses = match senses {
        "" => Senses::Both,
        "vision" => Senses::Vision,
        "scent" => Senses::Scent,
        _ => return None,
    };
    Some(match algorithm {
        "ppo" => settings::<ppo::Settings>(name).1.and_then(|s| {
            ppo::Ppo::new(name, config, senses, s, id, seed).map(|a| Box::new(a) as Box<dyn Agent>)
        }),
        "dqn" => settings::<dqn::Settings>(name).1.and_then(|s| {
            dqn::Dqn::new(name, config, senses, s, id, seed).map(|a| Box::new(a) as Box<dyn Agent>)
        }),
        _ => return None,
    })
}

/// The names [`make_team`] knows: PPO shared by all agents of a policy, on vision and scent, on
/// vision alone, on scent alone.
pub const TEAM_NAMES: [&str; 3] = ["ppo-shared", "ppo-shared-vision", "ppo-shared-scent"];

/// The team called `name` (optionally with PPO settings after it, as [`NAMES`] describes:
/// `ppo-shared(rollout: 256)`) in a world of `config` whose seed is `seed`, or `None` if no team
/// has that name.
pub fn make_team(name: &str, config: &Config, seed: u64) -> Option<Result<Box<dyn Team>, AgentError>> {
    let (base, settings) = settings::<ppo::Settings>(name);
    let senses = match base {
        "ppo-shared" => Senses::Both,
        "ppo-shared-vision" => Senses::Vision,
        "ppo-shared-scent" => Senses::Scent,
        _ => return None,
    };
    Some(settings.and_then(|s| {
        ppo::SharedPpo::new(name, config, senses, s, seed).map(|t| Box::new(t) as Box<dyn Team>)
    }))
}
