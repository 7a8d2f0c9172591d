//! beanworld-rl: learners that keep learning for as long as a run lasts, as [`Agent`]s any
//! scenario can run (`beanworld run SCENARIO --agent ppo`, or `policy: Agent("dqn")`): PPO
//! ([`ppo`]) and DQN ([`dqn`]) over the paper's network ([`net`]).
//!
//! The tensors, automatic differentiation, convolutions and Adam are burn's, on its Flex backend
//! (pure Rust on the CPU, nothing downloaded at run time); see README "Learners" for why burn and
//! not candle, with the build times and throughputs measured here.

pub mod dqn;
pub mod net;
pub mod ppo;

use beanworld_agents::Agent;
use beanworld_sim::Config;

use crate::net::Senses;

/// The names [`make`] knows: PPO and DQN, each on vision and scent, on vision alone, on scent
/// alone.
pub const NAMES: [&str; 6] = ["ppo", "ppo-vision", "ppo-scent", "dqn", "dqn-vision", "dqn-scent"];

/// The learner called `name` for agent `id` in a world of `config` whose seed is `seed`, or
/// `None` if no learner has that name.
pub fn make(name: &str, config: &Config, id: u32, seed: u64) -> Option<Result<Box<dyn Agent>, String>> {
    let (algorithm, senses) = name.split_once('-').unwrap_or((name, ""));
    let senses = match senses {
        "" => Senses::Both,
        "vision" => Senses::Vision,
        "scent" => Senses::Scent,
        _ => return None,
    };
    Some(match algorithm {
        "ppo" => ppo::Ppo::new(name, config, senses, ppo::Settings::default(), id, seed)
            .map(|a| Box::new(a) as Box<dyn Agent>),
        "dqn" => dqn::Dqn::new(name, config, senses, dqn::Settings::default(), id, seed)
            .map(|a| Box::new(a) as Box<dyn Agent>),
        _ => return None,
    })
}
