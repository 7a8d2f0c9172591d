//! [`BatchedPpo`]: one PPO [`Learner`] acting for many streams at once — every agent of N worlds
//! of a [`VecEnv`], each world its own seed — with one forward pass per step for all of them.
//! Each stream keeps its own rollout (advantages never mix streams' futures); every `rollout`
//! steps one update learns from all of them (`N·agents·rollout` samples, in minibatches of
//! `minibatch`). The worlds step on the [`VecEnv`]'s threads while the learner waits; they are
//! independent, so the result does not depend on the number of threads.
//!
//! This is the throughput setting: many short lives learning as one. The never-ending setting is
//! one stream — one agent, one life — as [`Ppo`](super::Ppo) learns over the step channel.

use std::time::{Duration, Instant};

use beanworld_agents::vec_env::VecStepError;
use beanworld_agents::{AgentError, Observation, VecEnv};
use beanworld_sim::Scenario;
use beanworld_sim::action::Action;

use super::checkpoint::{self, About, FORMAT};
use super::{Learner, Rollout, Settings};
use crate::net::{Inputs, Senses};

/// A PPO learner over every agent of many worlds.
pub struct BatchedPpo {
    learner: Learner,
    env: VecEnv,
    /// One rollout per stream (world-major, then agent).
    rollouts: Vec<Rollout>,
    /// Scratch, per step: the streams' inputs, recurrent states, probabilities, values and
    /// actions, and a world's task.
    inputs: Inputs,
    memory: Vec<f32>,
    probs: Vec<f32>,
    values: Vec<f32>,
    actions: Vec<Action>,
    task: Vec<f32>,
    inventory: Vec<u32>,
    /// Steps taken (each one step of every stream).
    steps: u64,
    /// Steps trained before, by the runs that led to the checkpoint it started from.
    trained: u64,
    time: Timing,
}

/// What [`BatchedPpo::load_checkpoint`] took from a checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loaded {
    /// Whether the learner's whole state (Adam's moments, its random stream, its update count)
    /// came with the weights: only from a checkpoint of the same learner and settings.
    pub state: bool,
    /// Whether the rollouts in progress came too: only with the state, and as many streams.
    pub rollouts: bool,
    /// Steps the checkpoint had trained for.
    pub steps: u64,
}

/// Where a batched learner's time went.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Timing {
    /// Stepping and observing the worlds.
    pub env: Duration,
    /// Reading observations into inputs, the forward pass and drawing actions.
    pub act: Duration,
    /// Updates (advantages, minibatches, forward and backward passes, Adam).
    pub update: Duration,
}

impl BatchedPpo {
    /// A learner named `name` over `seeds.len()` worlds of `scenario` (one per seed), stepped on
    /// `threads` threads, looking with `senses`; its weights and sampling come from a stream
    /// keyed by the first seed.
    pub fn new(
        name: &str,
        scenario: &Scenario,
        senses: Senses,
        settings: Settings,
        seeds: &[u64],
        threads: usize,
    ) -> Result<Self, AgentError> {
        let env = VecEnv::new(scenario, seeds, threads).map_err(|e| AgentError::World(e.to_string()))?;
        BatchedPpo::over(name, senses, settings, env)
    }

    /// A learner named `name` over the worlds of `env`, looking with `senses`; its weights and
    /// sampling come from a stream keyed by the first world's seed (a learner resumed with
    /// [`BatchedPpo::resume`] takes both from its checkpoint instead).
    pub fn over(name: &str, senses: Senses, settings: Settings, env: VecEnv) -> Result<Self, AgentError> {
        let Some(first) = env.worlds().first() else {
            return Err(AgentError::Invalid("a batched learner needs at least one world".into()));
        };
        let learner = Learner::new(name, first.config(), senses, settings, 0, first.scenario().seed)?;
        let streams = env.len() * env.agents_per_world();
        if streams == 0 {
            return Err(AgentError::World("the scenario has no agent to learn".into()));
        }
        Ok(BatchedPpo {
            rollouts: vec![Rollout::default(); streams],
            inputs: Inputs::default(),
            memory: Vec::new(),
            probs: Vec::new(),
            values: Vec::new(),
            actions: vec![Action::NoOp; streams],
            task: vec![0.0; first.task_len()],
            inventory: Vec::new(),
            learner,
            env,
            steps: 0,
            trained: 0,
            time: Timing::default(),
        })
    }

    /// Goes on from the checkpoint `bytes` that this learner wrote (its whole state and every
    /// stream's rollout) after `steps` steps of its worlds, whose snapshots it is now over: the
    /// same steps as if it had never stopped. Refused unless the checkpoint is of this learner,
    /// with these settings and streams, and trained at least `steps` steps.
    pub fn resume(&mut self, bytes: &[u8], steps: u64) -> Result<(), AgentError> {
        let loaded = self.load_checkpoint(bytes)?;
        if !loaded.state || !loaded.rollouts {
            let earlier = checkpoint::read(bytes).is_ok_and(|c| c.about.format != FORMAT);
            return Err(AgentError::State(if earlier {
                "the checkpoint was written by an earlier build, whose learner state this one cannot \
                 read: it gives its weights only (--load-learner), not a run to go on with"
                    .to_string()
            } else {
                format!(
                    "the checkpoint is not of this learner ({}) with these settings and {} streams",
                    self.learner.name(),
                    self.streams()
                )
            }));
        }
        let Some(before) = loaded.steps.checked_sub(steps) else {
            return Err(AgentError::State(format!(
                "the checkpoint trained {} steps, fewer than the {steps} of its worlds",
                loaded.steps
            )));
        };
        self.trained = before;
        self.steps = steps;
        Ok(())
    }

    /// The learner.
    pub fn learner(&self) -> &Learner {
        &self.learner
    }

    /// The learner, to change (its weights, say).
    pub fn learner_mut(&mut self) -> &mut Learner {
        &mut self.learner
    }

    /// The worlds.
    pub fn env(&self) -> &VecEnv {
        &self.env
    }

    /// Streams: agents over all worlds.
    pub fn streams(&self) -> usize {
        self.rollouts.len()
    }

    /// Steps taken (each a step of every stream).
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Counts `steps` steps of every stream as trained, though not taken here: those of the
    /// replicas of a data-parallel learner whose updates this one applies.
    pub fn count_trained(&mut self, steps: u64) {
        self.trained += steps;
    }

    /// Where the time went so far.
    pub fn timing(&self) -> Timing {
        self.time
    }

    /// The learner's state with every stream's rollout, as bytes (as an agent's snapshot state;
    /// the worlds are not in it).
    pub fn save(&self) -> Vec<u8> {
        self.learner.save(&self.rollouts)
    }

    /// Restores what [`BatchedPpo::save`] wrote: the learner and every stream's rollout (the
    /// state must be of this learner, its name, settings and shapes, with as many streams).
    pub fn load(&mut self, bytes: &[u8]) -> Result<(), AgentError> {
        let rollouts: Vec<Rollout> = self.learner.load(bytes)?;
        if rollouts.len() != self.rollouts.len() {
            return Err(AgentError::State(format!(
                "the saved learner has {} streams, this one {}",
                rollouts.len(),
                self.rollouts.len()
            )));
        }
        self.rollouts = rollouts;
        Ok(())
    }

    /// A portable checkpoint of the learner (see [`checkpoint`](super::checkpoint)).
    pub fn checkpoint(&self) -> Result<Vec<u8>, AgentError> {
        let state = self.save();
        if state.is_empty() {
            return Err(AgentError::State(format!("cannot save the state of {}", self.learner.name())));
        }
        let settings = ron::to_string(self.learner.settings())
            .map_err(|e| AgentError::State(format!("cannot write the settings: {e}")))?;
        let about = About {
            format: FORMAT.to_string(),
            learner: self.learner.name().to_string(),
            settings,
            shape: *self.learner.shape(),
            streams: self.streams(),
            steps: self.trained + self.steps,
            updates: self.learner.updates(),
        };
        checkpoint::write(&about, self.learner.weight_tensors(), &state)
    }

    /// Starts from a checkpoint: its weights, refused if they are not of this network (every
    /// tensor that differs is named); and, if it was saved by this learner with these settings,
    /// its whole state (and its rollouts, if it had as many streams). Otherwise Adam and the
    /// random stream start afresh from the weights: a checkpoint trained with other settings, or
    /// weights written from numpy.
    pub fn load_checkpoint(&mut self, bytes: &[u8]) -> Result<Loaded, AgentError> {
        let c = checkpoint::read(bytes)?;
        if let Some(why) = checkpoint::misfit(&self.learner.weight_tensors(), &c.weights) {
            return Err(AgentError::State(format!(
                "the checkpoint's network ({}) is not of the shape of this one ({}): {why}",
                c.about.learner,
                self.learner.name()
            )));
        }
        let mut loaded = Loaded { state: false, rollouts: false, steps: c.about.steps };
        // Compared as settings, not as text: one added since the checkpoint reads as its default.
        let same = ron::from_str::<Settings>(&c.about.settings).is_ok_and(|s| &s == self.learner.settings())
            && c.about.learner == self.learner.name();
        if let (true, Some(state)) = (same, &c.state) {
            let rollouts: Vec<Rollout> = self.learner.load(state)?;
            loaded.state = true;
            if rollouts.len() == self.rollouts.len() {
                self.rollouts = rollouts;
                loaded.rollouts = true;
            }
        }
        self.learner.set_weights(c.weights)?;
        self.trained = c.about.steps;
        Ok(loaded)
    }

    /// The rewards of the last step, one per stream.
    pub fn rewards(&self) -> &[f32] {
        self.env.rewards()
    }

    /// One step of every stream: the streams' observations in one forward pass, an update first
    /// when the rollouts are full, each stream's action drawn from its row, the worlds stepped.
    pub fn step(&mut self) -> Result<(), VecStepError> {
        let started = Instant::now();
        self.read();
        self.evaluate();
        let mut updating = Duration::ZERO;
        if self.rollouts[0].len() >= self.learner.settings().rollout {
            let update_started = Instant::now();
            self.learn();
            updating = update_started.elapsed();
            self.time.update += updating;
            self.evaluate();
        }
        self.act(started, updating)
    }

    /// `steps` steps of every stream that only act: the rollouts grow, however long, until an
    /// update ([`BatchedPpo::update`], or one taken apart by [`BatchedPpo::begin_update`]) learns
    /// from them. The reward of every stream over them.
    pub fn collect(&mut self, steps: u64) -> Result<f64, VecStepError> {
        let mut reward = 0.0;
        for _ in 0..steps {
            let started = Instant::now();
            self.read();
            self.evaluate();
            self.act(started, Duration::ZERO)?;
            reward += self.env.rewards().iter().map(|&r| f64::from(r)).sum::<f64>();
        }
        Ok(reward)
    }

    /// One update over the rollouts collected, bootstrapped from the value of where each stream
    /// stands; whether there was a step to learn from. Collecting `rollout` steps and updating,
    /// again and again, is what [`BatchedPpo::step`] does.
    pub fn update(&mut self) -> bool {
        let started = Instant::now();
        self.read();
        self.evaluate();
        let learned = self.learn();
        self.time.update += started.elapsed();
        learned
    }

    /// Starts an update over the rollouts collected, bootstrapped from the value of where each
    /// stream stands, for its gradients to be taken one minibatch at a time
    /// ([`Learner::next_gradients`]) and combined with other replicas' before they are applied;
    /// `None` if nothing was collected.
    pub fn begin_update(&mut self) -> Option<super::Update> {
        self.read();
        self.evaluate();
        let mut all: Vec<&mut Rollout> = self.rollouts.iter_mut().collect();
        self.learner.begin_update(&mut all, &self.values)
    }

    /// An update from the values of `evaluate`; whether there was a step.
    fn learn(&mut self) -> bool {
        let mut all: Vec<&mut Rollout> = self.rollouts.iter_mut().collect();
        self.learner.update(&mut all, &self.values)
    }

    /// Draws each stream's action from its row of the last evaluation, records it, and steps the
    /// worlds; the time since `started`, less `updating`, was spent acting.
    fn act(&mut self, started: Instant, updating: Duration) -> Result<(), VecStepError> {
        let (a, m) = (self.learner.shape().actions, self.learner.shape().memory_len());
        for (k, rollout) in self.rollouts.iter_mut().enumerate() {
            self.actions[k] = self.learner.choose(
                &self.probs[k * a..(k + 1) * a],
                self.values[k],
                &self.inputs,
                k,
                &self.memory[k * m..(k + 1) * m],
                rollout,
            );
        }
        let stepping = Instant::now();
        self.time.act += (stepping - started).saturating_sub(updating);
        let stepped = self.env.step(&self.actions);
        self.time.env += stepping.elapsed();
        stepped?;
        for (rollout, &reward) in self.rollouts.iter_mut().zip(self.env.rewards()) {
            rollout.reward(reward);
        }
        self.steps += 1;
        Ok(())
    }

    /// Reads every stream's observation into `inputs`.
    fn read(&mut self) {
        let shape = *self.learner.shape();
        let agents = self.env.agents_per_world();
        let (scent, vision) = self.env.observations();
        let (sl, vl) = (scent.len() / self.rollouts.len(), vision.len() / self.rollouts.len());
        self.inputs.clear();
        for k in 0..self.rollouts.len() {
            let world = &self.env.worlds()[k / agents];
            if shape.task > 0 {
                world.observe_task(&mut self.task);
            }
            let observation = Observation {
                id: (k % agents) as u32,
                step: world.time(),
                scent: &scent[k * sl..(k + 1) * sl],
                vision: &vision[k * vl..(k + 1) * vl],
                moved: self.env.moved()[k],
                inventory: &self.inventory,
                reward: self.env.rewards()[k],
                task: &self.task,
            };
            self.inputs.push(&shape, &observation);
        }
    }

    /// Every stream's probabilities and values (and recurrent state after the step) from
    /// `inputs`, in one forward pass.
    fn evaluate(&mut self) {
        self.memory.clear();
        for rollout in &self.rollouts {
            self.learner.push_memory(rollout, &mut self.memory);
        }
        self.learner.evaluate(&self.inputs, &mut self.memory, &mut self.probs, &mut self.values);
    }
}
