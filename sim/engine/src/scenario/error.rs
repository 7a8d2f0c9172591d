//! The errors of reading a scenario. [`ScenarioError`] is what callers get: the file could not
//! be read, or the text is not a valid scenario, always at `FILE:LINE:COL`. Inside, every
//! section's checks report a [`Problem`]: a message and the path of the field it is about
//! (`items[2].intensity`, `dynamics.events[0].action.param`), which is its span in the text;
//! [`Problem::locate`] turns the path into a line and column with `locate.rs` only once a
//! problem is found, so a valid file is never scanned twice.

use super::locate::{Pos, SourceIndex};

/// Why a scenario was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{file}: cannot read the scenario: {cause}")]
    Io {
        /// The file.
        file: String,
        /// The cause (written in the message, so not an error source: a chain
        /// printed with `{:#}` shows it once).
        cause: std::io::Error,
    },
    /// The text is not a valid scenario.
    #[error("{file}:{line}:{col}: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// Line, from 1.
        line: usize,
        /// Column, from 1.
        col: usize,
        /// What is wrong and what was expected.
        message: String,
    },
}

impl ScenarioError {
    /// The text named `file` is invalid at `pos`.
    pub(super) fn invalid(file: &str, pos: Pos, message: String) -> ScenarioError {
        ScenarioError::Invalid { file: file.to_string(), line: pos.line, col: pos.col, message }
    }
}

/// A semantic problem at a field path, before it is given a position; the one error type of
/// every section's checks.
#[derive(Debug)]
pub(super) struct Problem {
    /// The field it is about, as `locate.rs` records paths.
    pub(super) path: String,
    /// What is wrong and what was expected.
    pub(super) message: String,
}

/// A problem with the field at `path`.
pub(super) fn problem(path: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem { path: path.into(), message: message.into() }
}

impl Problem {
    /// The problem as an error of the text `text` named `file`: at its field, or else at the
    /// closest field above it that the text writes (1:1 if none), the message naming the field
    /// and ending with `note`.
    pub(super) fn locate(self, text: &str, file: &str, note: &str) -> ScenarioError {
        let pos = SourceIndex::build(text).find_or_parent(&self.path).unwrap_or(Pos { line: 1, col: 1 });
        ScenarioError::invalid(file, pos, format!("`{}`: {}{note}", self.path, self.message))
    }
}

/// Refuses the first of `values` that is not finite, naming its index.
pub(super) fn check_finite(path: &str, values: &[f32]) -> Result<(), Problem> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(problem(path, format!("expected finite numbers, found {} at index {i}", values[i]))),
        None => Ok(()),
    }
}
