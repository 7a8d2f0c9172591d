//! What the engine's integration tests share: the shipped scenarios.

use std::path::PathBuf;

use beanworld_sim::Scenario;

/// The repository's `scenarios/` folder.
pub fn scenarios_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
}

/// Loads a shipped scenario by file name, panicking with the loader's message if it fails.
pub fn shipped(name: &str) -> Scenario {
    let path = scenarios_dir().join(name);
    Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}
