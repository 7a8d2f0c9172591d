//! The cyclical teacher alternates easy and hard phases on schedule, through control messages
//! that take effect at the next step.

use std::path::PathBuf;

use beanworld_agents::{Runner, Teacher};
use beanworld_curriculum::Curriculum;
use beanworld_sim::task::{Reward, Schedule};
use beanworld_sim::{Scenario, Simulation};

/// JBW's classic world with `teacher` (RON) as its teacher.
fn taught(teacher: &str) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/jbw-v0.ron");
    let text = std::fs::read_to_string(&path).expect("readable");
    Scenario::parse_with(&text, "jbw-v0.ron", &[("teacher", teacher)]).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_cyclical_teacher_alternates_phases_and_stops_at_until() {
    let scenario = taught(
        "Cyclical(easy: 3, hard: 2, until: 12, knobs: [Knob(param: \"jellybean.intensity\", easy: -1.0, hard: 1.5)])",
    );
    let spec = scenario.teacher.clone().expect("a teacher");
    let sim = Simulation::new(scenario).expect("placed");
    let mut runner =
        Runner::new(sim, Vec::new(), 1, Box::new(|id, _| unreachable!("agent {id}: no agent joins")));
    let mut teacher = Curriculum::new(spec);
    teacher.start(&runner);
    let mut seen = Vec::new();
    for _ in 0..16 {
        assert!(runner.step().expect("a step"));
        // The value the step just taken ran under.
        let value = runner.sim().overrides().first().map(|(_, v)| *v).expect("set");
        seen.push(value);
        teacher.after_step(&runner);
    }
    let (e, h) = (-1.0, 1.5);
    // Steps 1–3 easy, 4–5 hard, 6–8 easy, 9–10 hard, 11 easy; from 12 on the full task.
    assert_eq!(seen, [e, e, e, h, h, e, e, e, h, h, e, h, h, h, h, h]);
    assert_eq!(teacher.history(), [(1, 0.0), (4, 1.0), (6, 0.0), (9, 1.0), (11, 0.0), (12, 1.0)]);
    // Its state round-trips.
    let mut other = Curriculum::new(runner.sim().scenario().teacher.clone().expect("a teacher"));
    other.load(&teacher.save()).expect("restored");
    assert_eq!(other.history(), teacher.history());
    assert!(other.load(b"\xff\xff").is_err());
}

#[test]
fn a_reward_knob_adds_a_bonus_while_it_is_easy() {
    let scenario =
        taught("Cyclical(easy: 2, hard: 2, knobs: [Knob(param: \"reward.banana\", easy: 0.5, hard: 0.0)])");
    let base = scenario.task.clone();
    let spec = scenario.teacher.clone().expect("a teacher");
    let sim = Simulation::new(scenario).expect("placed");
    let mut runner =
        Runner::new(sim, Vec::new(), 1, Box::new(|id, _| unreachable!("agent {id}: no agent joins")));
    let mut teacher = Curriculum::new(spec);
    teacher.start(&runner);
    let banana = Reward::Collect { item: 0, value: 0.5 };
    let easy = Schedule::Fixed(Reward::Sum(vec![base.at(0).clone(), banana]));
    let mut seen = Vec::new();
    for _ in 0..6 {
        assert!(runner.step().expect("a step"));
        seen.push(runner.sim().task().clone());
        teacher.after_step(&runner);
    }
    assert_eq!(seen, [easy.clone(), easy.clone(), base.clone(), base.clone(), easy.clone(), easy]);
}
