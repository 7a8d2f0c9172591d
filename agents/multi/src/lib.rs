//! beanworld-multi: many agents learning at once. Independent learners need nothing from here —
//! give every agent its own learner (`policy: Agent("ppo")`). Parameter sharing is here: a
//! [`SharedPpo`] team owns one PPO network that every agent of its policy uses, evaluates all of
//! them in one batch each step, and trains on all their experience together
//! (`policy: Agent("ppo-shared")`). The runner puts a team's members on one agent thread.
//!
//! It builds on `beanworld-rl`'s PPO [`Learner`](beanworld_rl::ppo::Learner) rather than a
//! network of its own: the algorithm is the same, only who feeds it differs.

pub mod shared;

use beanworld_agents::Team;
use beanworld_rl::net::Senses;
use beanworld_sim::Config;

pub use shared::SharedPpo;

/// The names [`make`] knows: PPO shared by all agents of a policy, on vision and scent, on
/// vision alone, on scent alone.
pub const NAMES: [&str; 3] = ["ppo-shared", "ppo-shared-vision", "ppo-shared-scent"];

/// The team called `name` (optionally with PPO settings after it, as `beanworld_rl::NAMES`
/// describes: `ppo-shared(rollout: 256)`) in a world of `config` whose seed is `seed`, or `None`
/// if no team has that name.
pub fn make(name: &str, config: &Config, seed: u64) -> Option<Result<Box<dyn Team>, String>> {
    let (base, settings) = beanworld_rl::settings::<beanworld_rl::ppo::Settings>(name);
    let senses = match base {
        "ppo-shared" => Senses::Both,
        "ppo-shared-vision" => Senses::Vision,
        "ppo-shared-scent" => Senses::Scent,
        _ => return None,
    };
    Some(
        settings.and_then(|s| {
            SharedPpo::new(name, config, senses, s, seed).map(|t| Box::new(t) as Box<dyn Team>)
        }),
    )
}
