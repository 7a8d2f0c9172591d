//! beanworld-baselines: the reference agents of spec §10 — random, the paper's greedy visual
//! agent (§10.1) and the greedy scent agent (§10.2) — each an [`Agent`] that any scenario can run
//! (`beanworld run SCENARIO --agent NAME`). They are yardsticks for learners: what a learner must
//! beat, measured in the same world.

pub mod greedy_scent;
pub mod greedy_visual;
pub mod random;
pub mod upper_bound;

use beanworld_agents::Agent;
use beanworld_sim::Config;
use beanworld_sim::action::{Action, Move, Turn};
use beanworld_sim::config::ActionPolicy;

/// The names [`make`] knows.
pub const NAMES: [&str; 3] = ["random", "greedy-visual", "greedy-scent"];

/// The baseline called `name` for agent `id` in a world of `config` whose seed is `seed`.
pub fn make(name: &str, config: &Config, id: u32, seed: u64) -> Result<Box<dyn Agent>, String> {
    Ok(match name {
        "random" => Box::new(random::Random::new(config, id, seed)),
        "greedy-visual" => Box::new(greedy_visual::GreedyVisual::new(config, id, seed)?),
        "greedy-scent" => Box::new(greedy_scent::GreedyScent::new(config, id, seed)?),
        other => return Err(format!("unknown agent \"{other}\"; expected one of {}", NAMES.join(", "))),
    })
}

/// The one-cell moves, turns and no-op that the scenario allows (ignored ones included: they
/// are legal), in a fixed order.
pub fn allowed_actions(config: &Config) -> Vec<Action> {
    let rules = &config.actions;
    let legal = |p: ActionPolicy| p != ActionPolicy::Disallowed;
    let mut out = Vec::new();
    for (m, p) in [Move::Forward, Move::Backward, Move::Left, Move::Right].into_iter().zip(rules.moves) {
        if legal(p) && rules.max_steps_per_movement >= 1 {
            out.push(Action::Move { direction: m, steps: 1 });
        }
    }
    for (t, p) in [Turn::None, Turn::Reverse, Turn::Left, Turn::Right].into_iter().zip(rules.turns) {
        if legal(p) {
            out.push(Action::Turn(t));
        }
    }
    if rules.no_op_allowed {
        out.push(Action::NoOp);
    }
    out
}

/// The random stream of agent `id` in a world with `seed`, for an agent named `what` (learners
/// use it too).
pub fn agent_rng(seed: u64, id: u32, what: &str) -> rand_chacha::ChaCha8Rng {
    use rand_chacha::rand_core::SeedableRng;
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..12].copy_from_slice(&id.to_le_bytes());
    for (k, b) in key[12..].iter_mut().zip(what.bytes()) {
        *k = b;
    }
    rand_chacha::ChaCha8Rng::from_seed(key)
}
