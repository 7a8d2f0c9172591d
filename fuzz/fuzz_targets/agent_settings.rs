//! Agent names with settings, `NAME(SETTINGS)`, as `--agent` and `policy: Agent("…")` give them:
//! made by the registry of every agent the command line knows (the baselines', then the
//! learners'), in a world that allows no action. Every learner parses and checks its settings
//! before it looks at the world, which then refuses it, so no network is built per input:
//! parsing and checking the settings is what is fuzzed. Any name must give an agent or an error,
//! never a panic.

#![no_main]

use std::sync::LazyLock;

use beanworld_agents::Registry;
use beanworld_sim::{Config, Scenario};
use libfuzzer_sys::fuzz_target;

/// The shipped JBW classic world, with every move and turn disallowed.
static WORLD: LazyLock<(Registry, Config)> = LazyLock::new(|| {
    let text = include_str!("../../scenarios/jbw-v0.ron");
    let still = "(max_steps_per_movement: 0, turns: (left: Disallowed, right: Disallowed))";
    let scenario = Scenario::parse_with(text, "jbw-v0.ron", &[("actions", still)]).expect("valid");
    let mut registry = Registry::new();
    registry.add(beanworld_baselines::ENTRIES).add(beanworld_rl::ENTRIES);
    (registry, scenario.config)
});

fuzz_target!(|data: &[u8]| {
    let Ok(name) = std::str::from_utf8(data) else { return };
    let (registry, config) = &*WORLD;
    match registry.make(name, config, 1, 0) {
        Ok(driver) => {
            std::hint::black_box(driver);
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
