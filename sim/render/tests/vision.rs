//! GPU vision equals CPU vision exactly: thousands of agent placements in v0, v1 and the paper
//! configuration, each with a narrow field of view and occluding items, stepped so agents meet
//! walls, items, each other and the patch seams of their windows.

use std::path::PathBuf;

use beanworld_render::GpuVision;
use beanworld_sim::{Scenario, Simulation};

/// `name` with a 100° field of view, every item type occluding (0.35 … 1.0), and 120 walking
/// agents spread over a 60-cell square.
fn world(name: &str) -> Simulation {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../scenarios/{name}.ron"));
    let mut scenario = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    scenario.config.vision.field_of_view = 100f32.to_radians();
    let types = scenario.config.items.len();
    for (k, item) in scenario.config.items.iter_mut().enumerate() {
        item.visual_occlusion = 0.35 + 0.65 * k as f32 / (types - 1).max(1) as f32;
    }
    scenario.agents = vec![
        ron::from_str("Agents(count: 120, position: (0, 0), facing: Up, policy: Walk, spread: 30)")
            .unwrap_or_else(|e| panic!("{e}")),
    ];
    Simulation::new(scenario).unwrap_or_else(|e| panic!("{e}"))
}

fn gpu_equals_cpu(name: &str, per_dispatch: Option<usize>) {
    let mut sim = world(name);
    let mut gpu = GpuVision::new(&sim).unwrap_or_else(|e| panic!("{e}"));
    if let Some(n) = per_dispatch {
        gpu.limit_agents_per_dispatch(n);
    }
    let agents = sim.agents().len();
    let (cl, ol) = (gpu.codes_len(), gpu.observation_len());
    assert_eq!(ol, sim.vision_len());
    let mut codes = vec![0; agents * cl];
    let (mut cpu, mut out) = (vec![0.0; agents * ol], vec![0.0; agents * ol]);
    let mut scent = vec![0.0; sim.scent_len()];
    let (mut shaded, mut seen) = (0usize, 0usize);
    let mut choices = Vec::new();
    for step in 0..25 {
        sim.vision_codes_all(&mut codes);
        let mut one = vec![0; cl];
        for i in 0..agents {
            sim.vision_codes(i, &mut one);
            assert_eq!(
                one,
                codes[i * cl..(i + 1) * cl],
                "{name}, step {step}: agent {i}'s codes alone and in the batch"
            );
            sim.observe(i, &mut scent, &mut cpu[i * ol..(i + 1) * ol]);
        }
        gpu.observe(&codes, &mut out).unwrap_or_else(|e| panic!("{e}"));
        for i in 0..agents {
            let (c, g) = (&cpu[i * ol..(i + 1) * ol], &out[i * ol..(i + 1) * ol]);
            let differ = c.iter().zip(g).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
            assert_eq!(
                differ, 0,
                "{name}, step {step}, agent {i}: {differ} values differ on {}",
                gpu.adapter
            );
            seen += c.iter().filter(|v| **v != 0.0).count();
            // A value strictly between 0 and its colour's full value is a partly shaded or
            // partly visible cell.
            shaded += c.iter().filter(|v| v.fract() != 0.0).count();
        }
        sim.scripted_actions(&mut choices);
        let actions: Vec<_> =
            choices.iter().map(|c| c.unwrap_or(beanworld_sim::action::Action::NoOp)).collect();
        sim.step(&actions).unwrap_or_else(|e| panic!("{e}"));
    }
    assert!(seen > 10_000, "{name}: the agents saw things ({seen} values)");
    assert!(shaded > 1_000, "{name}: shadows and the field of view's edge were exercised ({shaded})");
}

#[test]
fn gpu_vision_equals_cpu_vision_in_v0() {
    gpu_equals_cpu("jbw-v0", None);
}

#[test]
fn gpu_vision_equals_cpu_vision_in_v1() {
    gpu_equals_cpu("jbw-v1", None);
}

#[test]
fn gpu_vision_equals_cpu_vision_in_the_paper_world() {
    // (In dispatches of 50 agents: 120 agents take three, the last one short.)
    gpu_equals_cpu("jbw-paper", Some(50));
}
