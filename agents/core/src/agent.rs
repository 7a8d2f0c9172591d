//! The [`Agent`] trait: what a learner or a baseline implements to live in a beanworld; and the
//! [`Team`] trait, for one object that drives many agents at once (a learner whose members share
//! one network and are evaluated in one batch).

use beanworld_sim::Config;
use beanworld_sim::action::{Action, Move, Turn};
use beanworld_sim::config::ActionPolicy;

use crate::AgentError;

/// What an agent perceives after a step.
#[derive(Clone, Copy, Debug)]
pub struct Observation<'a> {
    /// The agent's id.
    pub id: u32,
    /// The simulation time (steps taken so far).
    pub step: u64,
    /// Scent at the agent's cell (`S` floats); empty if the agent does not need it.
    pub scent: &'a [f32],
    /// Vision, `(2R+1) × (2R+1) × C`, `[right][forward][channel]` (spec §5.1); empty if the agent
    /// does not need it.
    pub vision: &'a [f32],
    /// Whether the last step moved the agent.
    pub moved: bool,
    /// Items held, per type.
    pub inventory: &'a [u32],
    /// The reward of the last step (0 before the first).
    pub reward: f32,
    /// The reward function that will score the action chosen now, as its coefficients
    /// ([`beanworld_sim::task::Reward::coefficients`]: per item type, then per step, then for
    /// exploring). What a reward-aware learner reads to know the task; it changes when a
    /// schedule switches or a teacher sets the task.
    pub task: &'a [f32],
}

/// Which parts of the observation an agent uses (an agent that needs no vision does not pay for
/// copying it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Needs {
    /// The vision window.
    pub vision: bool,
    /// The scent vector.
    pub scent: bool,
}

impl Needs {
    /// Everything.
    pub const ALL: Needs = Needs { vision: true, scent: true };
}

/// A learner or a scripted agent. It is moved to an agent thread, so it must be `Send`.
pub trait Agent: Send {
    /// A short name for messages.
    fn name(&self) -> &str;

    /// The observation parts it uses.
    fn needs(&self) -> Needs {
        Needs::ALL
    }

    /// Chooses the action of the next step.
    fn act(&mut self, observation: &Observation<'_>) -> Action;

    /// Learns from the transition that the last action led to: `observation` carries its reward.
    /// Called before [`Agent::act`] on every step but the first.
    fn learn(&mut self, _previous: Action, _observation: &Observation<'_>) {}

    /// Its own state, saved beside world snapshots.
    fn save(&self) -> Vec<u8> {
        Vec::new()
    }

    /// Restores the state [`Agent::save`] returned.
    fn load(&mut self, _state: &[u8]) -> Result<(), AgentError> {
        Ok(())
    }

    /// What it has to tell since it was last asked — a learner's last update, say — as one
    /// JSON object (`{"policy_loss": 0.01, …}`), or `None`. Asked after every step it acts in;
    /// a front end writes it down (`beanworld run`: learner.jsonl).
    fn take_report(&mut self) -> Option<String> {
        None
    }

    /// Stops learning for good: from now on [`Agent::learn`] only tells the agent what its last
    /// action led to (a recurrent learner's memory goes on), and nothing is trained. Returns
    /// whether the agent can; one that cannot ([`Frozen`] then never calls its `learn`) keeps the
    /// default, which returns false.
    fn freeze(&mut self) -> bool {
        false
    }
}

/// An agent that acts as the one it wraps and learns nothing: a frozen copy of a learner,
/// scored without changing it (the suite's evaluations). Its random stream is the learner's
/// own, so a copy restored from the same state acts the same.
pub struct Frozen {
    agent: Box<dyn Agent>,
    /// Whether the agent froze itself ([`Agent::freeze`]) and is told what its actions led to.
    told: bool,
}

impl Frozen {
    /// `agent`, frozen.
    pub fn new(mut agent: Box<dyn Agent>) -> Self {
        let told = agent.freeze();
        Frozen { agent, told }
    }
}

impl Agent for Frozen {
    fn name(&self) -> &str {
        self.agent.name()
    }

    fn needs(&self) -> Needs {
        self.agent.needs()
    }

    fn act(&mut self, observation: &Observation<'_>) -> Action {
        self.agent.act(observation)
    }

    fn learn(&mut self, previous: Action, observation: &Observation<'_>) {
        if self.told {
            self.agent.learn(previous, observation);
        }
    }

    fn save(&self) -> Vec<u8> {
        self.agent.save()
    }

    fn load(&mut self, state: &[u8]) -> Result<(), AgentError> {
        self.agent.load(state)
    }

    fn freeze(&mut self) -> bool {
        true
    }
}

/// The members of a [`Team`] present at a step, in id order, and what each perceives.
#[derive(Clone, Copy, Debug)]
pub struct Members<'a> {
    pub(crate) step: u64,
    pub(crate) rows: &'a [usize],
    pub(crate) ids: &'a [u32],
    pub(crate) moved: &'a [bool],
    pub(crate) rewards: &'a [f32],
    pub(crate) previous: &'a [Option<Action>],
    pub(crate) scent: &'a [f32],
    pub(crate) vision: &'a [f32],
    pub(crate) inventory: &'a [u32],
    pub(crate) task: &'a [f32],
    pub(crate) lens: (usize, usize, usize),
    pub(crate) needs: Needs,
}

impl<'a> Members<'a> {
    /// How many members act at this step.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether none does.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The id of member `k`.
    pub fn id(&self, k: usize) -> u32 {
        self.ids[self.rows[k]]
    }

    /// What member `k` perceives (only the parts the team [`Team::needs`]).
    pub fn observation(&self, k: usize) -> Observation<'a> {
        let (row, (s, v, kinds)) = (self.rows[k], self.lens);
        Observation {
            id: self.ids[row],
            step: self.step,
            scent: if self.needs.scent { &self.scent[row * s..(row + 1) * s] } else { &[] },
            vision: if self.needs.vision { &self.vision[row * v..(row + 1) * v] } else { &[] },
            moved: self.moved[row],
            inventory: &self.inventory[row * kinds..(row + 1) * kinds],
            reward: self.rewards[row],
            task: self.task,
        }
    }

    /// The action whose reward member `k`'s observation carries (`None` at its first step).
    pub fn previous(&self, k: usize) -> Option<Action> {
        self.previous[self.rows[k]]
    }
}

/// One object driving many agents: every member of the same policy joins it, and each step it
/// learns from all its members' last transitions and chooses all their actions at once. This is
/// how parameter sharing works: one network, batched inference across the members. Its members
/// live on one agent thread.
pub trait Team: Send {
    /// A short name for messages.
    fn name(&self) -> &str;

    /// The observation parts it uses.
    fn needs(&self) -> Needs {
        Needs::ALL
    }

    /// Agent `id` joins (before its first step).
    fn join(&mut self, id: u32);

    /// Agent `id` has left the world.
    fn leave(&mut self, _id: u32) {}

    /// Learns from each present member's last transition, then writes each member's next action
    /// into `actions` (as many as `members`, in the same order).
    fn step(&mut self, members: &Members<'_>, actions: &mut [Action]);

    /// Its state, saved beside world snapshots (under the id of its first member).
    fn save(&self) -> Vec<u8> {
        Vec::new()
    }

    /// Restores the state [`Team::save`] returned.
    fn load(&mut self, _state: &[u8]) -> Result<(), AgentError> {
        Ok(())
    }

    /// What it has to tell since it was last asked — a learner's last update, say — as one
    /// JSON object (`{"policy_loss": 0.01, …}`), or `None`. Asked after every step its members act in;
    /// a front end writes it down (`beanworld run`: learner.jsonl).
    fn take_report(&mut self) -> Option<String> {
        None
    }
}

/// What drives an externally driven agent: an agent of its own, or a team it joins.
pub enum Driver {
    /// One agent, one object.
    Agent(Box<dyn Agent>),
    /// A team; later agents of the same policy join it.
    Team(Box<dyn Team>),
}

impl Driver {
    /// The name of the agent or team.
    pub fn name(&self) -> &str {
        match self {
            Driver::Agent(a) => a.name(),
            Driver::Team(t) => t.name(),
        }
    }

    /// What the agent or team has to tell ([`Agent::take_report`]).
    pub fn take_report(&mut self) -> Option<String> {
        match self {
            Driver::Agent(a) => a.take_report(),
            Driver::Team(t) => t.take_report(),
        }
    }
}

impl From<Box<dyn Agent>> for Driver {
    fn from(agent: Box<dyn Agent>) -> Self {
        Driver::Agent(agent)
    }
}

/// Watches a run and changes the task while agents learn (a curriculum teacher): after every
/// step it sees what happened and may send control messages, which take effect at the next step
/// boundary. Its state travels in snapshots beside the agents'.
pub trait Teacher: Send {
    /// Called after every step, with the runner (its report, simulation and controller).
    fn after_step(&mut self, runner: &crate::Runner);

    /// Its state.
    fn save(&self) -> Vec<u8>;

    /// Restores the state [`Teacher::save`] returned.
    fn load(&mut self, state: &[u8]) -> Result<(), AgentError>;
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
