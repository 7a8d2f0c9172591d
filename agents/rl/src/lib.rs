//! beanworld-rl: learners that keep learning for as long as a run lasts, as [`Agent`](beanworld_agents::Agent)s any
//! scenario can run (`beanworld run SCENARIO --agent ppo`, or `policy: Agent("dqn")`): PPO
//! ([`ppo`]) and DQN ([`dqn`]) over the paper's network ([`net`]); and many agents learning as
//! one, a [`Team`](beanworld_agents::Team) sharing one PPO network ([`ppo::SharedPpo`], `policy: Agent("ppo-shared")`).
//!
//! The tensors, automatic differentiation, convolutions and Adam are burn's, on its Flex backend
//! (pure Rust on the CPU, nothing downloaded at run time); see docs/src/learners.md ("Learners") for why burn and
//! not candle, with the build times and throughputs measured here. The one operation of our own
//! is the activation, [`gelu`]: burn's GELU fused, giving burn's numbers to the bit in less time.

pub mod diagnose;
pub mod dqn;
pub mod gelu;
pub mod mitigate;
pub mod net;
pub mod ppo;

use beanworld_agents::registry::{Context, Entry};
use beanworld_agents::{AgentError, Driver};

use crate::net::Senses;

/// The names this crate answers to, for a front end's [`Registry`](beanworld_agents::Registry):
/// PPO and DQN, each on vision and scent (`ppo`, `dqn`), on vision alone (`-vision`), on scent
/// alone (`-scent`); and PPO shared by all agents of a policy (`ppo-shared`, with the same
/// suffixes), a [`Team`](beanworld_agents::Team). Each name may carry settings in RON after it,
/// fields not given keeping their defaults: `ppo-scent(entropy_weight: 0.05, rollout: 1024)`,
/// `dqn(n_step: 5)`, `ppo-shared(rollout: 256)` (the fields of [`ppo::Settings`] and
/// [`dqn::Settings`]).
pub const ENTRIES: &[Entry] = &[
    learner("ppo", |s, c| ppo(Senses::Both, s, c)),
    learner("ppo-vision", |s, c| ppo(Senses::Vision, s, c)),
    learner("ppo-scent", |s, c| ppo(Senses::Scent, s, c)),
    learner("dqn", |s, c| dqn(Senses::Both, s, c)),
    learner("dqn-vision", |s, c| dqn(Senses::Vision, s, c)),
    learner("dqn-scent", |s, c| dqn(Senses::Scent, s, c)),
    learner("ppo-shared", |s, c| shared(Senses::Both, s, c)),
    learner("ppo-shared-vision", |s, c| shared(Senses::Vision, s, c)),
    learner("ppo-shared-scent", |s, c| shared(Senses::Scent, s, c)),
];

/// An entry that takes settings.
const fn learner(name: &'static str, make: beanworld_agents::registry::Make) -> Entry {
    Entry { name, settings: true, make }
}

/// The settings written after a name (`"(rollout: 256)"`; defaults when `""`), or why they do
/// not parse.
pub fn settings<S: serde::de::DeserializeOwned + Default>(
    settings: &str,
    context: &Context<'_>,
) -> Result<S, AgentError> {
    if settings.is_empty() {
        return Ok(S::default());
    }
    ron::from_str::<S>(settings).map_err(|e| AgentError::Settings {
        name: context.name.strip_suffix(settings).unwrap_or(context.name).to_string(),
        settings: settings.to_string(),
        at: (e.span.start.line, e.span.start.col),
        message: e.code.to_string(),
    })
}

/// The names a [`ppo::BatchedPpo`] answers to: PPO on vision and scent, on vision, on scent.
pub const BATCHED: &[(&str, Senses)] =
    &[("ppo", Senses::Both), ("ppo-vision", Senses::Vision), ("ppo-scent", Senses::Scent)];

/// A PPO learner named `name` (one of [`BATCHED`], settings in RON after it as for an agent:
/// `ppo-scent(rollout: 128)`) over every agent of `seeds.len()` worlds of `scenario`, stepped on
/// `threads` threads; or why it cannot be made.
pub fn batched(
    name: &str,
    scenario: &beanworld_sim::Scenario,
    seeds: &[u64],
    threads: usize,
) -> Result<ppo::BatchedPpo, AgentError> {
    let (senses, s) = batched_settings(name, scenario)?;
    ppo::BatchedPpo::new(name, scenario, senses, s, seeds, threads)
}

/// [`batched`] over the worlds of `env` (restored from snapshots, say) of `scenario`.
pub fn batched_over(
    name: &str,
    scenario: &beanworld_sim::Scenario,
    env: beanworld_agents::VecEnv,
) -> Result<ppo::BatchedPpo, AgentError> {
    let (senses, s) = batched_settings(name, scenario)?;
    ppo::BatchedPpo::over(name, senses, s, env)
}

/// What the batched learner `name` looks with, and its settings.
fn batched_settings(
    name: &str,
    scenario: &beanworld_sim::Scenario,
) -> Result<(Senses, ppo::Settings), AgentError> {
    let (base, text) = name.find('(').map_or((name, ""), |at| name.split_at(at));
    let Some(&(_, senses)) = BATCHED.iter().find(|(b, _)| *b == base) else {
        let known: Vec<&str> = BATCHED.iter().map(|(b, _)| *b).collect();
        return Err(AgentError::Invalid(format!(
            "no batched learner is called \"{base}\" (known: {})",
            known.join(", ")
        )));
    };
    let context = Context { name, config: &scenario.config, id: 0, seed: scenario.seed };
    Ok((senses, settings(text, &context)?))
}

/// A PPO learner driving one agent.
fn ppo(senses: Senses, text: &str, c: &Context<'_>) -> Result<Driver, AgentError> {
    let s = settings(text, c)?;
    Ok(Driver::Agent(Box::new(ppo::Ppo::new(c.name, c.config, senses, s, c.id, c.seed)?)))
}

/// A DQN learner driving one agent.
fn dqn(senses: Senses, text: &str, c: &Context<'_>) -> Result<Driver, AgentError> {
    let s = settings(text, c)?;
    Ok(Driver::Agent(Box::new(dqn::Dqn::new(c.name, c.config, senses, s, c.id, c.seed)?)))
}

/// A PPO team: its weights and sampling depend on the world seed only, not on which member made
/// it.
fn shared(senses: Senses, text: &str, c: &Context<'_>) -> Result<Driver, AgentError> {
    let s = settings(text, c)?;
    Ok(Driver::Team(Box::new(ppo::SharedPpo::new(c.name, c.config, senses, s, c.seed)?)))
}
