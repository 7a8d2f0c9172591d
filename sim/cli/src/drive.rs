//! Driving a simulation with its scripted policies: the loop `run` and `bench` share. Buffers
//! are allocated once; a step allocates nothing.

use anyhow::bail;
use beanworld_sim::Simulation;
use beanworld_sim::action::Action;

/// Observation and action buffers for every agent of one simulation.
pub struct Driver {
    /// The scripted policies' choices.
    choices: Vec<Option<Action>>,
    /// The actions of the step, one per agent.
    pub actions: Vec<Action>,
    /// Scent of every agent, `S` floats each.
    pub scent: Vec<f32>,
    /// Vision of every agent, `(2R+1)²·C` floats each.
    pub vision: Vec<f32>,
}

impl Driver {
    /// Buffers for `sim`; refuses agents that no built-in policy drives.
    pub fn new(sim: &Simulation) -> anyhow::Result<Self> {
        if let Some(a) = sim.agents().iter().find(|a| a.policy.kind.is_external()) {
            bail!(
                "agent {} is driven externally (policy: External); the command line drives only the \
                 built-in policies (Walk, Turn)",
                a.id
            );
        }
        let n = sim.agents().len();
        Ok(Driver {
            choices: Vec::with_capacity(n),
            actions: Vec::with_capacity(n),
            scent: vec![0.0; n * sim.scent_len()],
            vision: vec![0.0; n * sim.vision_len()],
        })
    }

    /// Asks the policies for actions, steps, and observes every agent. Passes the ids, rewards
    /// and moves of the agents that took part in the step to `record`.
    pub fn step(
        &mut self,
        sim: &mut Simulation,
        mut record: impl FnMut(&[u32], &[f32], &[bool]),
    ) -> anyhow::Result<()> {
        sim.scripted_actions(&mut self.choices);
        self.actions.clear();
        self.actions.extend(self.choices.iter().map(|c| c.unwrap_or(Action::NoOp)));
        let outcome = sim.step(&self.actions)?;
        record(outcome.ids, outcome.rewards, outcome.moved);
        let (s, v, n) = (sim.scent_len(), sim.vision_len(), sim.agents().len());
        // Events may have added or removed agents.
        self.scent.resize(n * s, 0.0);
        self.vision.resize(n * v, 0.0);
        for i in 0..n {
            sim.observe(i, &mut self.scent[i * s..(i + 1) * s], &mut self.vision[i * v..(i + 1) * v]);
        }
        Ok(())
    }
}
