//! Built-in scripted policies, for running and benchmarking without a learner: `walk` moves
//! forward 80% of the time and turns left or right 10% each; `turn` turns left or right. Each
//! agent's policy draws from its own seeded stream, which is part of the simulation state.

use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::action::{Action, Move, Turn};
use crate::rng::{Rng, below};

/// What drives an agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Written")]
pub enum PolicyKind {
    /// Forward 80%, turn left 10%, turn right 10%.
    Walk,
    /// Turn left or right, half the time each.
    Turn,
    /// Actions come from outside (a learner the front end supplies); the engine does not choose.
    External,
    /// Actions come from outside, from the agent of this name (a baseline or learner the front
    /// end knows, e.g. "greedy-visual"), its settings, if any, appended as written
    /// ("ppo(lstm: true)"). A scenario file writes `Agent("NAME")`, or
    /// `Learner(name: "NAME", settings: (…))`.
    Agent(String),
}

/// [`PolicyKind`] as written in a scenario file or saved in a snapshot: the same variants in the
/// same order (so that a saved policy reads back as it was), and `Learner`, a name with settings
/// written as RON rather than inside the name's string. They are kept as written, so that the
/// agent that reads them can point into the file.
#[derive(Deserialize)]
#[serde(rename = "PolicyKind", deny_unknown_fields)]
enum Written {
    Walk,
    Turn,
    External,
    Agent(String),
    Learner { name: String, settings: Option<Box<ron::value::RawValue>> },
}

impl TryFrom<Written> for PolicyKind {
    type Error = String;

    fn try_from(w: Written) -> Result<Self, String> {
        Ok(match w {
            Written::Walk => PolicyKind::Walk,
            Written::Turn => PolicyKind::Turn,
            Written::External => PolicyKind::External,
            Written::Agent(name) => PolicyKind::Agent(name),
            Written::Learner { name, settings: None } => PolicyKind::Agent(name),
            Written::Learner { name, settings: Some(settings) } => {
                let settings = settings.get_ron().trim();
                if name.contains('(') {
                    return Err(format!(
                        "the settings of \"{name}\" go in `settings: (…)`, not after its name as well"
                    ));
                }
                if !settings.starts_with('(') {
                    return Err(format!(
                        "an agent's settings are written in parentheses, as in `settings: (lstm: true)`, not `{settings}`"
                    ));
                }
                PolicyKind::Agent(format!("{name}{settings}"))
            }
        })
    }
}

impl PolicyKind {
    /// Whether the engine leaves the choice of actions to the front end.
    pub fn is_external(&self) -> bool {
        matches!(self, PolicyKind::External | PolicyKind::Agent(_))
    }
}

/// A scripted policy and its random stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scripted {
    /// Which policy.
    pub kind: PolicyKind,
    rng: ChaCha8Rng,
}

impl Scripted {
    /// A policy drawing from `rng`.
    pub fn new(kind: PolicyKind, rng: ChaCha8Rng) -> Self {
        Scripted { kind, rng }
    }

    /// How many random words the policy has drawn (its place in its stream).
    pub fn position(&self) -> u128 {
        self.rng.get_word_pos()
    }

    /// The next action, or `None` for an externally driven agent.
    pub fn act(&mut self) -> Option<Action> {
        match self.kind {
            PolicyKind::Walk => Some(match below(self.rng.next_u32(), 10) {
                0..=7 => Action::Move { direction: Move::Forward, steps: 1 },
                8 => Action::Turn(Turn::Left),
                _ => Action::Turn(Turn::Right),
            }),
            PolicyKind::Turn => {
                Some(Action::Turn(if self.rng.next_u32() >> 31 == 0 { Turn::Left } else { Turn::Right }))
            }
            PolicyKind::External | PolicyKind::Agent(_) => None,
        }
    }
}
