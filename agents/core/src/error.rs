//! [`AgentError`]: why an agent could not be made for a world, or could not restore a saved
//! state. Every agent family returns it, so that the front ends (the `beanworld` command, the
//! Python binding) report any agent's failure the same way; its messages are the ones users see,
//! complete sentences without a prefix (the front end adds where it happened).

/// Why an agent could not be made, or its state restored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    /// No agent has this name (or this agent takes no settings after its name).
    #[error("unknown agent \"{name}\"; expected one of {}", .expected.join(", "))]
    UnknownAgent {
        /// The name as given, settings included.
        name: String,
        /// Every name known, in the order the agent families listed them.
        expected: Vec<&'static str>,
    },
    /// The settings written after the name (`ppo(rollout: 256)`) do not parse.
    #[error("the settings of \"{name}\" {settings}: {}:{}: {message}", .at.0, .at.1)]
    Settings {
        /// The agent's name, without its settings.
        name: String,
        /// The settings as written, parentheses included.
        settings: String,
        /// Where in `settings` the problem starts: line and column, from 1.
        at: (usize, usize),
        /// What is wrong with them.
        message: String,
    },
    /// The settings parse, but a value is out of range (`explore must be at least 0 …`).
    #[error("{0}")]
    Invalid(String),
    /// The agent cannot live in this world (it allows no action, its vision is too short, it has
    /// no item type the agent looks for).
    #[error("{0}")]
    World(String),
    /// A saved state cannot be restored: another agent's, or not a state at all.
    #[error("{0}")]
    State(String),
}
