//! Vectorized stepping: many independent worlds of one scenario, each with its own seed, stepped
//! together across a pool of threads, writing observations, rewards and flags into contiguous
//! batches (world-major, then agent). Gymnasium semantics where they apply: `reset` with a seed;
//! a never-ending world never terminates, but an episodic user may ask for truncation into
//! segments of a fixed number of steps. Worlds never share state, so the results do not depend on
//! the number of threads.
//!
//! On several threads, each world samples its new patches on the thread that steps it, and a
//! step of every world (a learner's) waits for its slowest world, most often one that walked into
//! new ground. Meanwhile the threads with no world left to step sample ahead the ground the other
//! worlds' agents are heading for ([`Simulation::sample_ahead`]), which their next steps take
//! instead of sampling it; only the speed depends on it.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Mutex, PoisonError};

use beanworld_sim::action::Action;
use beanworld_sim::{AHEAD_PASSES, Scenario, SimError, Simulation, StepError};

use crate::crew::{Crew, Parts};

/// Marks a world of [`VecEnv::stepped`] that a thread is sampling ahead for.
const SAMPLING: u64 = 1 << 63;

/// Many worlds stepped as one.
pub struct VecEnv {
    scenario: Scenario,
    worlds: Vec<Simulation>,
    /// The threads beside the caller's that step the worlds.
    crew: Crew,
    agents: usize,
    scent_len: usize,
    vision_len: usize,
    scent: Vec<f32>,
    vision: Vec<f32>,
    rewards: Vec<f32>,
    moved: Vec<bool>,
    truncated: Vec<bool>,
    segment: Option<u64>,
    /// Per world: its built-in policies' choices and the actions of the step (reused buffers).
    buffers: Vec<(Vec<Option<Action>>, Vec<Action>)>,
    /// Batches handed to the crew so far, and per world the last one whose step it has done (with
    /// [`SAMPLING`] while a thread samples ahead for it): a world whose step is done is left
    /// alone until the batch ends, so a thread waiting for the others may sample ahead for it
    /// ([`Simulation::sample_ahead`]).
    batches: u64,
    stepped: Vec<AtomicU64>,
    /// The threads each world samples its new patches on when its thread does not share the
    /// cores with others (as the worlds were made), and whether they now sample on the thread
    /// that steps them alone: while the crew shares out the worlds, its threads keep the cores
    /// busy (and sample ahead for the others while they wait), and a world that spread its
    /// patches over threads of its own would take cores from them. Only the speed depends on it.
    generation_threads: usize,
    alone: bool,
}

/// Why [`VecEnv::from_worlds`] refused its worlds.
#[derive(Debug, thiserror::Error)]
pub enum MismatchedWorlds {
    /// A world has another number of agents than the first.
    #[error("world {world} has {agents} agents, world 0 has {first}")]
    Agents {
        /// The world.
        world: usize,
        /// Its agents.
        agents: usize,
        /// The first world's.
        first: usize,
    },
    /// The flags of whether each agent moved are not one per agent.
    #[error("{flags} flags of whether an agent moved, for {agents} agents")]
    Moved {
        /// Flags given.
        flags: usize,
        /// Agents of all worlds.
        agents: usize,
    },
}

/// Why a batch step failed: the world and its error.
#[derive(Debug, thiserror::Error)]
#[error("world {world}: {cause}")]
pub struct VecStepError {
    /// Index of the world.
    pub world: usize,
    /// What went wrong (written in the message, so not an error source: a chain
    /// printed with `{:#}` shows it once).
    pub cause: StepError,
}

impl VecEnv {
    /// `seeds.len()` worlds of `scenario`, one per seed, stepped on `threads` threads.
    pub fn new(scenario: &Scenario, seeds: &[u64], threads: usize) -> Result<Self, SimError> {
        let worlds: Vec<Simulation> = seeds
            .iter()
            .map(|&seed| {
                let mut s = scenario.clone();
                s.seed = seed;
                Simulation::new(s)
            })
            .collect::<Result<_, _>>()?;
        Ok(VecEnv::assemble(scenario, worlds, None, threads))
    }

    /// The worlds `worlds` of `scenario` as they stood after a step (restored from snapshots,
    /// say) in which each agent moved or not as `moved` says (world-major, then agent), stepped
    /// on `threads` threads; refused unless every world has as many agents as the first and
    /// `moved` has a flag for each.
    pub fn from_worlds(
        scenario: &Scenario,
        worlds: Vec<Simulation>,
        moved: Vec<bool>,
        threads: usize,
    ) -> Result<Self, MismatchedWorlds> {
        let agents = worlds.first().map_or(0, |w| w.agents().len());
        if let Some(world) = worlds.iter().position(|w| w.agents().len() != agents) {
            let agents_there = worlds[world].agents().len();
            return Err(MismatchedWorlds::Agents { world, agents: agents_there, first: agents });
        }
        if moved.len() != worlds.len() * agents {
            return Err(MismatchedWorlds::Moved { flags: moved.len(), agents: worlds.len() * agents });
        }
        Ok(VecEnv::assemble(scenario, worlds, Some(moved), threads))
    }

    /// The batches and threads around `worlds`, which agree with each other and `moved` (all
    /// false if `None`: no agent has moved yet).
    fn assemble(
        scenario: &Scenario,
        worlds: Vec<Simulation>,
        moved: Option<Vec<bool>>,
        threads: usize,
    ) -> Self {
        let agents = worlds.first().map_or(0, |w| w.agents().len());
        let (scent_len, vision_len) = worlds.first().map_or((0, 0), |w| (w.scent_len(), w.vision_len()));
        let n = worlds.len() * agents;
        let generation_threads = worlds.first().map_or(1, Simulation::generation_threads);
        let mut env = VecEnv {
            scenario: scenario.clone(),
            buffers: vec![(Vec::new(), Vec::new()); worlds.len()],
            batches: 0,
            stepped: worlds.iter().map(|_| AtomicU64::new(0)).collect(),
            worlds,
            crew: Crew::new(threads.max(1) - 1, "worlds"),
            generation_threads,
            alone: false,
            agents,
            scent_len,
            vision_len,
            scent: vec![0.0; n * scent_len],
            vision: vec![0.0; n * vision_len],
            rewards: vec![0.0; n],
            moved: moved.unwrap_or_else(|| vec![false; n]),
            truncated: vec![false; n],
            segment: None,
        };
        env.observe_all();
        env
    }

    /// Truncates every world's stream into segments of `steps` steps (the `truncated` flag is set
    /// on each segment's last step); `None`, the default, never truncates.
    pub fn set_segment(&mut self, steps: Option<u64>) {
        self.segment = steps.filter(|&s| s > 0);
    }

    /// Number of worlds.
    pub fn len(&self) -> usize {
        self.worlds.len()
    }

    /// Whether there are no worlds.
    pub fn is_empty(&self) -> bool {
        self.worlds.is_empty()
    }

    /// Agents per world.
    pub fn agents_per_world(&self) -> usize {
        self.agents
    }

    /// The worlds.
    pub fn worlds(&self) -> &[Simulation] {
        &self.worlds
    }

    /// Sets a world parameter in every world from the next step on (as `Control::SetParam`).
    pub fn set_param(&mut self, param: beanworld_sim::dynamics::Param, value: f32) {
        for world in &mut self.worlds {
            world.set_param(param.clone(), value);
        }
    }

    /// Switches every world's reward schedule from the next step on (as `Control::SetTask`).
    pub fn set_task(&mut self, task: &beanworld_sim::task::Schedule) {
        for world in &mut self.worlds {
            world.set_task(task.clone());
        }
    }

    /// Starts world `i` again from the scenario with `seed`.
    pub fn reset(&mut self, i: usize, seed: u64) -> Result<(), SimError> {
        let mut s = self.scenario.clone();
        s.seed = seed;
        self.worlds[i] = Simulation::new(s)?;
        if self.alone {
            self.worlds[i].set_generation_threads(1);
        }
        let (a, sl, vl) = (self.agents, self.scent_len, self.vision_len);
        observe(
            &mut self.worlds[i],
            &mut self.scent[i * a * sl..(i + 1) * a * sl],
            &mut self.vision[i * a * vl..(i + 1) * a * vl],
        );
        let agents = i * a..(i + 1) * a;
        self.rewards[agents.clone()].fill(0.0);
        self.moved[agents.clone()].fill(false);
        self.truncated[agents].fill(false);
        Ok(())
    }

    fn observe_all(&mut self) {
        let observed = self.each_world(None, false, |_, world, slot, _| {
            observe(world, slot.scent, slot.vision);
            Ok(())
        });
        debug_assert!(observed.is_ok(), "observing cannot fail");
    }

    /// Steps every world with `actions` (world-major, one per agent), then observes every agent.
    pub fn step(&mut self, actions: &[Action]) -> Result<(), VecStepError> {
        self.step_with(Some(actions))
    }

    /// Steps every world with its agents' built-in policies (walk, turn).
    pub fn step_scripted(&mut self) -> Result<(), VecStepError> {
        self.step_with(None)
    }

    /// Steps every world `steps` times with its agents' built-in policies. Worlds are
    /// independent, so the thread that takes a world runs all its steps without meeting the
    /// others; the batch holds the observations after the last step. (A caller that
    /// supplies actions every step meets at every step instead: see [`VecEnv::step`].)
    pub fn run_scripted(&mut self, steps: u64) -> Result<(), VecStepError> {
        self.each_world(None, false, |i, world: &mut Simulation, slot: Slot<'_>, segment| {
            advance(i, world, slot, None, steps, segment)
        })
    }

    fn step_with(&mut self, given: Option<&[Action]>) -> Result<(), VecStepError> {
        self.each_world(None, true, |i, world, slot, segment| advance(i, world, slot, given, 1, segment))
    }

    /// Steps every world with `actions` (world-major, one per agent) as [`VecEnv::step`] does,
    /// but writes the observations straight into `scent` and `vision` (laid out as
    /// [`VecEnv::observations`]) instead of the batch it owns, which this step leaves as it was:
    /// a caller's arrays (NumPy's, say) are filled with no copy in between.
    pub fn step_into(
        &mut self,
        actions: &[Action],
        scent: &mut [f32],
        vision: &mut [f32],
    ) -> Result<(), VecStepError> {
        assert_eq!(
            (scent.len(), vision.len()),
            (self.scent.len(), self.vision.len()),
            "step_into: the output buffers must hold every agent's observations"
        );
        self.each_world(Some((scent, vision)), true, |i, world, slot, segment| {
            advance(i, world, slot, Some(actions), 1, segment)
        })
    }

    /// Runs `f` on every world with its share of the batches (the observations going to `out`
    /// when given, else to the batch it owns), on the crew and the caller's thread (with one
    /// thread, in order on the caller's). Every world is stepped even when one fails; the error
    /// is the failing world with the lowest index.
    ///
    /// With `ahead` (a step of every world, which waits for the slowest), a thread that has no
    /// world left to step samples ahead for those already stepped
    /// ([`Simulation::sample_ahead`]) until the last is done: a world that walks into new ground
    /// then often finds it sampled. Only the time depends on it.
    #[allow(unsafe_code)]
    fn each_world(
        &mut self,
        out: Option<(&mut [f32], &mut [f32])>,
        ahead: bool,
        f: impl Fn(usize, &mut Simulation, Slot<'_>, Option<u64>) -> Result<(), VecStepError> + Sync,
    ) -> Result<(), VecStepError> {
        let alone = self.crew.hands_out();
        if alone != self.alone {
            let threads = if alone { 1 } else { self.generation_threads };
            self.worlds.iter_mut().for_each(|w| w.set_generation_threads(threads));
            self.alone = alone;
        }
        let (a, sl, vl) = (self.agents, self.scent_len, self.vision_len);
        let (scent, vision): (&mut [f32], &mut [f32]) = match out {
            Some(out) => out,
            None => (&mut self.scent, &mut self.vision),
        };
        let segment = self.segment;
        let n = self.worlds.len();
        let (worlds, buffers) = (Parts::new(&mut self.worlds, 1), Parts::new(&mut self.buffers, 1));
        let (scent, vision) = (Parts::new(scent, a * sl), Parts::new(vision, a * vl));
        let rewards = Parts::new(&mut self.rewards, a);
        let (moved, truncated) = (Parts::new(&mut self.moved, a), Parts::new(&mut self.truncated, a));
        let failed: Mutex<Option<VecStepError>> = Mutex::new(None);
        self.batches += 1;
        let (batch, stepped) = (self.batches, &self.stepped);
        let job = |i| {
            // SAFETY: the crew runs item i once, and only it takes world i's parts.
            let (world, slot) = unsafe {
                let (choices, acts) = &mut buffers.get(i)[0];
                let slot = Slot {
                    choices,
                    acts,
                    scent: scent.get(i),
                    vision: vision.get(i),
                    rewards: rewards.get(i),
                    moved: moved.get(i),
                    truncated: truncated.get(i),
                };
                (&mut worlds.get(i)[0], slot)
            };
            if let Err(e) = f(i, world, slot, segment) {
                let mut failed = failed.lock().unwrap_or_else(PoisonError::into_inner);
                if failed.as_ref().is_none_or(|first| e.world < first.world) {
                    *failed = Some(e);
                }
            }
            stepped[i].store(batch, Release);
        };
        // Each world once a pass, every world's nearest patches first, from a place that moves
        // on every batch, so that short idle times do not favour the first worlds.
        let next = AtomicUsize::new(0);
        let first = (batch % n.max(1) as u64) as usize;
        let idle = |stop: &dyn Fn() -> bool| {
            while !stop() {
                let k = next.fetch_add(1, SeqCst);
                if k >= n * AHEAD_PASSES {
                    return;
                }
                let i = (first + k % n) % n;
                // Claimed while sampled: a thread may still be at world i from the last pass.
                if stepped[i].compare_exchange(batch, batch | SAMPLING, Acquire, Relaxed).is_ok() {
                    // SAFETY: world i has been stepped in this batch, so its item no longer holds
                    // it, and this thread has claimed it: nothing else takes world i until the
                    // claim is let go, and the batch does not end before (it waits for this call).
                    unsafe { &mut worlds.get(i)[0] }.sample_ahead(k / n, stop);
                    stepped[i].store(batch, Release);
                }
            }
        };
        if ahead {
            self.crew.run_idle(n, &job, &idle);
        } else {
            self.crew.run(n, &job);
        }
        failed.into_inner().unwrap_or_else(PoisonError::into_inner).map_or(Ok(()), Err)
    }

    /// Observations after the last step: scent (`S` per agent) and vision (`(2R+1)²·C` per agent).
    pub fn observations(&self) -> (&[f32], &[f32]) {
        (&self.scent, &self.vision)
    }

    /// Rewards of the last step, one per agent.
    pub fn rewards(&self) -> &[f32] {
        &self.rewards
    }

    /// Patches sampled ahead of need while the threads waited for each other, and how many of
    /// them the worlds have taken, summed over the worlds ([`Simulation::sampled_ahead`]).
    pub fn sampled_ahead(&self) -> (u64, u64) {
        self.worlds.iter().map(Simulation::sampled_ahead).fold((0, 0), |(s, t), (a, b)| (s + a, t + b))
    }

    /// Each world's seed.
    pub fn seeds(&self) -> Vec<u64> {
        self.worlds.iter().map(|w| w.scenario().seed).collect()
    }

    /// Whether each agent moved in the last step.
    pub fn moved(&self) -> &[bool] {
        &self.moved
    }

    /// Whether each agent's segment ended with the last step (never, unless segments are set).
    pub fn truncated(&self) -> &[bool] {
        &self.truncated
    }

    /// Whether each agent's episode terminated: never — the worlds do not end.
    pub fn terminated(&self) -> impl Iterator<Item = bool> + '_ {
        self.rewards.iter().map(|_| false)
    }
}

/// One world's share of the batches.
struct Slot<'a> {
    choices: &'a mut Vec<Option<Action>>,
    acts: &'a mut Vec<Action>,
    scent: &'a mut [f32],
    vision: &'a mut [f32],
    rewards: &'a mut [f32],
    moved: &'a mut [bool],
    truncated: &'a mut [bool],
}

/// Writes the observations of every agent of `world` into `scent` and `vision` (agent by agent).
fn observe(world: &mut Simulation, scent: &mut [f32], vision: &mut [f32]) {
    let a = world.agents().len().max(1);
    let (sl, vl) = (scent.len() / a, vision.len() / a);
    // What perceiving reads is taken once for all the world's agents.
    let (observers, perceived) = world.observers();
    for (k, p) in perceived.iter_mut().enumerate() {
        observers.observe(k, p, &mut scent[k * sl..(k + 1) * sl], &mut vision[k * vl..(k + 1) * vl]);
    }
}

/// Steps world `i` `steps` times — with `given` actions (all worlds', world-major) or its
/// built-in policies — observing after every step into its share of the batches.
fn advance(
    i: usize,
    world: &mut Simulation,
    slot: Slot<'_>,
    given: Option<&[Action]>,
    steps: u64,
    segment: Option<u64>,
) -> Result<(), VecStepError> {
    let a = slot.rewards.len();
    for step in 1..=steps {
        slot.acts.clear();
        match given {
            Some(all) => slot.acts.extend_from_slice(&all[i * a..(i + 1) * a]),
            None => {
                world.scripted_actions(slot.choices);
                slot.acts.extend(slot.choices.iter().map(|c| c.unwrap_or(Action::NoOp)));
            }
        }
        let out = world.step(slot.acts).map_err(|cause| VecStepError { world: i, cause })?;
        // The per-world results are written once, for the last step: neighbouring worlds' flags
        // share cache lines with worlds another thread is stepping, and writing them every step
        // of a multi-step run made the threads fight over those lines (2 threads ran at 1.16×).
        if step == steps {
            slot.rewards.copy_from_slice(&out.rewards[..a]);
            slot.moved.copy_from_slice(&out.moved[..a]);
            let truncated = segment.is_some_and(|s| world.time().is_multiple_of(s));
            slot.truncated.fill(truncated);
        }
        // Every step is observed, as a learner would need it.
        observe(world, slot.scent, slot.vision);
    }
    Ok(())
}
