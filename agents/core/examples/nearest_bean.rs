//! A new agent in a page: it looks at its vision window, turns toward the nearest jelly-bean
//! coloured pixel and walks to it, else wanders. Run it with
//! `cargo run -p beanworld-agents --example nearest_bean`.

use beanworld_agents::{Agent, Needs, Observation, Runner};
use beanworld_sim::action::{Action, Move, Turn};
use beanworld_sim::policy::PolicyKind;
use beanworld_sim::{Scenario, Simulation};

struct NearestBean {
    range: i64,
    bean: Vec<f32>,
    step: u64,
}

impl Agent for NearestBean {
    fn name(&self) -> &str {
        "nearest-bean"
    }

    fn needs(&self) -> Needs {
        Needs { vision: true, scent: false }
    }

    fn act(&mut self, o: &Observation<'_>) -> Action {
        self.step += 1;
        let (r, c) = (self.range, self.bean.len());
        let side = 2 * r + 1;
        let pixel = |x: i64, y: i64| &o.vision[(((x + r) * side + (y + r)) as usize) * c..][..c];
        // The nearest cell (not our own) that shows exactly a jelly bean; ahead wins ties, so
        // two beans at the same distance do not keep it turning back and forth.
        let target = (-r..=r)
            .flat_map(|x| (-r..=r).map(move |y| (x, y)))
            .filter(|&(x, y)| (x, y) != (0, 0) && pixel(x, y) == self.bean.as_slice())
            .min_by_key(|&(x, y)| (x.abs() + y.abs(), y <= 0));
        let forward = Action::Move { direction: Move::Forward, steps: 1 };
        match target {
            Some((_, y)) if y > 0 => forward,
            Some((x, _)) if x < 0 => Action::Turn(Turn::Left),
            Some(_) => Action::Turn(Turn::Right),
            None if self.step.is_multiple_of(17) => Action::Turn(Turn::Left),
            None => forward,
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/jbw-paper.ron");
    let mut scenario = Scenario::load(&path)?;
    scenario.agents[0].policy = PolicyKind::External;
    let sim = Simulation::new(scenario)?;
    let make = |sim: &Simulation| NearestBean {
        range: i64::from(sim.config().vision.range),
        bean: sim
            .config()
            .items
            .iter()
            .find(|t| t.name == "jellybean")
            .map(|t| t.color.clone())
            .unwrap_or_default(),
        step: 0,
    };
    let agent = make(&sim);
    let id = sim.agents()[0].id;
    let mut runner = Runner::new(sim, vec![(id, Box::new(agent))], 1, Box::new(|_, _| unreachable!()));
    for _ in 0..5_000 {
        runner.step()?;
    }
    let sim = runner.finish();
    println!("nearest-bean collected {} jelly beans in {} steps", sim.agents()[0].collected[2], sim.time());
    Ok(())
}
