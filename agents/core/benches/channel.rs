//! The step channel's cost: the same agents stepping the same world directly and through the
//! runner (agents on the simulation's thread, as a runner with one agent thread drives them, and
//! through the channel on two threads). Run with `cargo bench -p beanworld-agents`.

use std::hint::black_box;
use std::path::PathBuf;

use beanworld_agents::{Agent, Observation, Runner};
use beanworld_sim::action::{Action, Move, Turn};
use beanworld_sim::policy::PolicyKind;
use beanworld_sim::{Scenario, Simulation};
use criterion::{Criterion, criterion_group, criterion_main};

/// Forward, left, right in turn: cheap and deterministic, so the channel dominates.
struct Cycle(u32);

impl Agent for Cycle {
    fn name(&self) -> &str {
        "cycle"
    }

    fn act(&mut self, _: &Observation<'_>) -> Action {
        self.0 += 1;
        match self.0 % 3 {
            0 => Action::Move { direction: Move::Forward, steps: 1 },
            1 => Action::Turn(Turn::Left),
            _ => Action::Turn(Turn::Right),
        }
    }
}

fn scenario(name: &str) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios").join(name);
    let mut s = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    for g in &mut s.agents {
        g.policy = PolicyKind::External;
    }
    s
}

fn channel(c: &mut Criterion) {
    for name in ["jbw-v0.ron", "crowd.ron"] {
        let sim = Simulation::new(scenario(name)).unwrap_or_else(|e| panic!("{e}"));
        let n = sim.agents().len();
        let mut group = c.benchmark_group(format!("step {}", name.trim_end_matches(".ron")));
        group.bench_function("direct", |b| {
            let mut sim = sim.clone();
            let mut agents: Vec<Cycle> = (0..n).map(|_| Cycle(0)).collect();
            let (s, v) = (sim.scent_len(), sim.vision_len());
            let (mut scent, mut vision) = (vec![0.0; n * s], vec![0.0; n * v]);
            let mut actions = Vec::with_capacity(n);
            b.iter(|| {
                actions.clear();
                for (i, agent) in agents.iter_mut().enumerate() {
                    let a = &sim.agents()[i];
                    actions.push(agent.act(&Observation {
                        id: a.id,
                        step: sim.time(),
                        scent: &scent[i * s..(i + 1) * s],
                        vision: &vision[i * v..(i + 1) * v],
                        moved: false,
                        inventory: &a.inventory,
                        reward: 0.0,
                        task: &[],
                    }));
                }
                black_box(sim.step(&actions).map(|o| o.rewards.len()).unwrap_or(0));
                for i in 0..n {
                    sim.observe(i, &mut scent[i * s..(i + 1) * s], &mut vision[i * v..(i + 1) * v]);
                }
            })
        });
        for threads in [1, 2] {
            let label = if threads == 1 {
                "runner, agents on its thread".to_string()
            } else {
                format!("channel, {threads} agent threads")
            };
            group.bench_function(label, |b| {
                let agents: Vec<(u32, Box<dyn Agent>)> =
                    sim.agents().iter().map(|a| (a.id, Box::new(Cycle(0)) as Box<dyn Agent>)).collect();
                let mut runner = Runner::new(
                    sim.clone(),
                    agents,
                    threads,
                    Box::new(|_, _| beanworld_agents::Driver::Agent(Box::new(Cycle(0)))),
                );
                b.iter(|| black_box(runner.step().unwrap_or(false)))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, channel);
criterion_main!(benches);
