//! [`Perceivers`]: the threads that take a simulation's observations with the caller — every
//! agent's scent and vision after a step, which is most of a step with many agents. Each agent
//! is perceived from the shared world into its own buffers (`Simulation::observers`), so the
//! observations are the same whatever the number of threads.

use beanworld_sim::Simulation;

use crate::crew::{Crew, Parts};

/// The most threads that perceive.
const MAX_THREADS: usize = 256;

/// The caller and the threads that perceive with it.
pub struct Perceivers {
    /// None with one thread: then the caller perceives alone, directly (timing a crew's batch
    /// showed in a turning step, about 150 ns).
    crew: Option<Crew>,
}

impl Perceivers {
    /// `threads` threads in all (at least 1): the caller and `threads − 1` more.
    pub fn new(threads: usize) -> Self {
        let members = threads.clamp(1, MAX_THREADS) - 1;
        Perceivers { crew: (members > 0).then(|| Crew::new(members, "perceive")) }
    }

    /// The threads in all.
    pub fn threads(&self) -> usize {
        self.crew.as_ref().map_or(1, |c| c.members() + 1)
    }

    /// Writes every agent's observation of `sim`, in agent order, into `scent` and `vision`, as
    /// [`Simulation::observe_all`] does, the agents spread over the threads.
    #[allow(unsafe_code)]
    pub fn observe_all(&mut self, sim: &mut Simulation, scent: &mut Vec<f32>, vision: &mut Vec<f32>) {
        let Some(crew) = self.crew.as_mut() else {
            sim.observe_all(scent, vision);
            return;
        };
        let (s, v) = (sim.scent_len(), sim.vision_len());
        let (observers, perceived) = sim.observers();
        let n = perceived.len();
        scent.resize(n * s, 0.0);
        vision.resize(n * v, 0.0);
        let perceived = Parts::new(perceived, 1);
        let (scent, vision) = (Parts::new(scent, s), Parts::new(vision, v));
        crew.run(n, &|i| {
            // SAFETY: the crew runs item i once, and only it takes agent i's parts.
            let (p, scent, vision) = unsafe { (&mut perceived.get(i)[0], scent.get(i), vision.get(i)) };
            observers.observe(i, p, scent, vision);
        });
    }
}

impl Default for Perceivers {
    fn default() -> Self {
        Perceivers::new(1)
    }
}
