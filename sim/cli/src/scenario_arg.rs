//! Reading the SCENARIO argument: a file, or the scenario embedded in the binary when absent.

use std::path::Path;

use beanworld_sim::Scenario;

/// The scenario used when none is named: JBW's classic world (`scenarios/jbw-v0.ron`).
pub const DEFAULT_SCENARIO: &str = include_str!("../../../scenarios/jbw-v0.ron");
/// How the embedded scenario is named in messages.
pub const DEFAULT_SCENARIO_NAME: &str = "<embedded jbw-v0.ron>";

/// Loads the named scenario file, or the embedded default.
pub fn load(path: Option<&Path>) -> anyhow::Result<Scenario> {
    Ok(match path {
        Some(path) => Scenario::load(path)?,
        None => Scenario::parse(DEFAULT_SCENARIO, DEFAULT_SCENARIO_NAME)?,
    })
}
