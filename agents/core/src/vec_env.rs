//! Vectorized stepping: many independent worlds of one scenario, each with its own seed, stepped
//! together across a pool of threads, writing observations, rewards and flags into contiguous
//! batches (world-major, then agent). Gymnasium semantics where they apply: `reset` with a seed;
//! a never-ending world never terminates, but an episodic user may ask for truncation into
//! segments of a fixed number of steps. Worlds never share state, so the results do not depend on
//! the number of threads.

use beanworld_sim::action::Action;
use beanworld_sim::{Scenario, SimError, Simulation, StepError};
use rayon::prelude::*;

/// Many worlds stepped as one.
pub struct VecEnv {
    scenario: Scenario,
    worlds: Vec<Simulation>,
    pool: std::sync::Arc<rayon::ThreadPool>,
    agents: usize,
    scent_len: usize,
    vision_len: usize,
    scent: Vec<f32>,
    vision: Vec<f32>,
    rewards: Vec<f32>,
    moved: Vec<bool>,
    truncated: Vec<bool>,
    segment: Option<u64>,
    threads: usize,
    /// Per world: its built-in policies' choices and the actions of the step (reused buffers).
    buffers: Vec<(Vec<Option<Action>>, Vec<Action>)>,
}

/// Why a batch step failed: the world and its error.
#[derive(Debug, thiserror::Error)]
#[error("world {world}: {source}")]
pub struct VecStepError {
    /// Index of the world.
    pub world: usize,
    /// What went wrong.
    pub source: StepError,
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
        let agents = worlds.first().map_or(0, |w| w.agents().len());
        let (scent_len, vision_len) = worlds.first().map_or((0, 0), |w| (w.scent_len(), w.vision_len()));
        let pool = std::sync::Arc::new(
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads.max(1))
                .thread_name(|i| format!("worlds-{i}"))
                .build()
                .unwrap_or_else(|e| panic!("cannot start the world threads: {e}")),
        );
        let n = worlds.len() * agents;
        let mut env = VecEnv {
            scenario: scenario.clone(),
            buffers: vec![(Vec::new(), Vec::new()); worlds.len()],
            worlds,
            pool,
            agents,
            scent_len,
            vision_len,
            scent: vec![0.0; n * scent_len],
            vision: vec![0.0; n * vision_len],
            rewards: vec![0.0; n],
            moved: vec![false; n],
            truncated: vec![false; n],
            segment: None,
            threads: threads.max(1),
        };
        env.observe_all();
        Ok(env)
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

    /// Starts world `i` again from the scenario with `seed`.
    pub fn reset(&mut self, i: usize, seed: u64) -> Result<(), SimError> {
        let mut s = self.scenario.clone();
        s.seed = seed;
        self.worlds[i] = Simulation::new(s)?;
        let (a, sl, vl) = (self.agents, self.scent_len, self.vision_len);
        let world = &mut self.worlds[i];
        for k in 0..a {
            let at = i * a + k;
            world.observe(
                k,
                &mut self.scent[at * sl..(at + 1) * sl],
                &mut self.vision[at * vl..(at + 1) * vl],
            );
            self.rewards[at] = 0.0;
            self.moved[at] = false;
            self.truncated[at] = false;
        }
        Ok(())
    }

    fn observe_all(&mut self) {
        let (a, sl, vl) = (self.agents, self.scent_len, self.vision_len);
        let pool = std::sync::Arc::clone(&self.pool);
        pool.install(|| {
            self.worlds
                .par_iter_mut()
                .zip(self.scent.par_chunks_mut((a * sl).max(1)))
                .zip(self.vision.par_chunks_mut((a * vl).max(1)))
                .for_each(|((world, scent), vision)| {
                    for k in 0..a {
                        world.observe(k, &mut scent[k * sl..(k + 1) * sl], &mut vision[k * vl..(k + 1) * vl]);
                    }
                });
        });
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
    /// independent, so each thread takes a share of the worlds and runs all their steps without
    /// meeting the others; the batch holds the observations after the last step. (A caller that
    /// supplies actions every step meets at every step instead: see [`VecEnv::step`].)
    pub fn run_scripted(&mut self, steps: u64) -> Result<(), VecStepError> {
        if self.threads <= 1 {
            return (0..steps).try_for_each(|_| self.step_sequential(None));
        }
        let (a, sl, vl) = (self.agents, self.scent_len, self.vision_len);
        let segment = self.segment;
        let pool = std::sync::Arc::clone(&self.pool);
        pool.install(|| {
            self.worlds
                .par_iter_mut()
                .enumerate()
                .zip(self.buffers.par_iter_mut())
                .zip(self.scent.par_chunks_mut((a * sl).max(1)))
                .zip(self.vision.par_chunks_mut((a * vl).max(1)))
                .zip(self.rewards.par_chunks_mut(a.max(1)))
                .zip(self.moved.par_chunks_mut(a.max(1)))
                .zip(self.truncated.par_chunks_mut(a.max(1)))
                .try_for_each(
                    |(((((((i, world), (choices, acts)), scent), vision), rewards), moved), truncated)| {
                        for _ in 0..steps {
                            world.scripted_actions(choices);
                            acts.clear();
                            acts.extend(choices.iter().map(|c| c.unwrap_or(Action::NoOp)));
                            let out = world.step(acts).map_err(|source| VecStepError { world: i, source })?;
                            rewards.copy_from_slice(&out.rewards[..a]);
                            moved.copy_from_slice(&out.moved[..a]);
                            for k in 0..a {
                                world.observe(
                                    k,
                                    &mut scent[k * sl..(k + 1) * sl],
                                    &mut vision[k * vl..(k + 1) * vl],
                                );
                                truncated[k] = segment.is_some_and(|s| world.time().is_multiple_of(s));
                            }
                        }
                        Ok(())
                    },
                )
        })
    }

    fn step_with(&mut self, given: Option<&[Action]>) -> Result<(), VecStepError> {
        if self.threads <= 1 {
            // One thread: no pool, no hand-over.
            return self.step_sequential(given);
        }
        let pool = std::sync::Arc::clone(&self.pool);
        pool.install(|| self.step_parallel(given))
    }

    /// One step of every world, in parallel on the pool this is called from.
    fn step_parallel(&mut self, given: Option<&[Action]>) -> Result<(), VecStepError> {
        let (a, sl, vl) = (self.agents, self.scent_len, self.vision_len);
        let segment = self.segment;
        self.worlds
            .par_iter_mut()
            .enumerate()
            .zip(self.buffers.par_iter_mut())
            .zip(self.scent.par_chunks_mut((a * sl).max(1)))
            .zip(self.vision.par_chunks_mut((a * vl).max(1)))
            .zip(self.rewards.par_chunks_mut(a.max(1)))
            .zip(self.moved.par_chunks_mut(a.max(1)))
            .zip(self.truncated.par_chunks_mut(a.max(1)))
            .try_for_each(
                |(((((((i, world), (choices, acts)), scent), vision), rewards), moved), truncated)| {
                    acts.clear();
                    match given {
                        Some(all) => acts.extend_from_slice(&all[i * a..(i + 1) * a]),
                        None => {
                            world.scripted_actions(choices);
                            acts.extend(choices.iter().map(|c| c.unwrap_or(Action::NoOp)));
                        }
                    }
                    match world.step(acts) {
                        Ok(out) => {
                            rewards.copy_from_slice(&out.rewards[..a]);
                            moved.copy_from_slice(&out.moved[..a]);
                        }
                        Err(source) => return Err(VecStepError { world: i, source }),
                    }
                    for k in 0..a {
                        world.observe(k, &mut scent[k * sl..(k + 1) * sl], &mut vision[k * vl..(k + 1) * vl]);
                        truncated[k] = segment.is_some_and(|s| world.time().is_multiple_of(s));
                    }
                    Ok(())
                },
            )
    }

    fn step_sequential(&mut self, given: Option<&[Action]>) -> Result<(), VecStepError> {
        let (a, sl, vl) = (self.agents, self.scent_len, self.vision_len);
        for (i, world) in self.worlds.iter_mut().enumerate() {
            let (choices, acts) = &mut self.buffers[i];
            acts.clear();
            match given {
                Some(all) => acts.extend_from_slice(&all[i * a..(i + 1) * a]),
                None => {
                    world.scripted_actions(choices);
                    acts.extend(choices.iter().map(|c| c.unwrap_or(Action::NoOp)));
                }
            }
            let out = world.step(acts).map_err(|source| VecStepError { world: i, source })?;
            self.rewards[i * a..(i + 1) * a].copy_from_slice(&out.rewards[..a]);
            self.moved[i * a..(i + 1) * a].copy_from_slice(&out.moved[..a]);
            for k in 0..a {
                let at = i * a + k;
                world.observe(
                    k,
                    &mut self.scent[at * sl..(at + 1) * sl],
                    &mut self.vision[at * vl..(at + 1) * vl],
                );
                self.truncated[at] = self.segment.is_some_and(|s| world.time().is_multiple_of(s));
            }
        }
        Ok(())
    }

    /// Observations after the last step: scent (`S` per agent) and vision (`(2R+1)²·C` per agent).
    pub fn observations(&self) -> (&[f32], &[f32]) {
        (&self.scent, &self.vision)
    }

    /// Rewards of the last step, one per agent.
    pub fn rewards(&self) -> &[f32] {
        &self.rewards
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
