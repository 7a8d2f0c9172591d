//! GPU vision equals CPU vision exactly: thousands of agent placements in v0, v1 and the paper
//! configuration, each with a narrow field of view and occluding items, stepped so agents meet
//! walls, items, each other and the patch seams of their windows.

use std::path::PathBuf;

use beanworld_render::GpuVision;
use beanworld_sim::{Scenario, Simulation};

/// `name` with a 100° field of view, every item type occluding (0.35 … 1.0), and 120 walking
/// agents spread over a 60-cell square.
fn world(name: &str, seed: u64) -> Simulation {
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
    scenario.seed = seed;
    Simulation::new(scenario).unwrap_or_else(|e| panic!("{e}"))
}

/// Steps `worlds` 25 times; after every step the GPU observes all their agents in one call and
/// every observation must equal the CPU's bit for bit.
fn gpu_equals_cpu(name: &str, worlds: &mut [Simulation], per_dispatch: Option<usize>) {
    let mut gpu = GpuVision::new(&worlds[0]).unwrap_or_else(|e| panic!("{e}"));
    if let Some(n) = per_dispatch {
        gpu.limit_agents_per_dispatch(n);
    }
    let ol = gpu.observation_len();
    assert_eq!(ol, worlds[0].vision_len());
    let agents: usize = worlds.iter().map(|w| w.agents().len()).sum();
    let (mut cpu, mut out) = (vec![0.0; agents * ol], vec![0.0; agents * ol]);
    let mut scent = vec![0.0; worlds[0].scent_len()];
    let (mut shaded, mut seen) = (0usize, 0usize);
    let mut choices = Vec::new();
    for step in 0..25 {
        let mut i = 0;
        for sim in worlds.iter_mut() {
            for a in 0..sim.agents().len() {
                sim.observe(a, &mut scent, &mut cpu[i * ol..(i + 1) * ol]);
                i += 1;
            }
        }
        let refs: Vec<&Simulation> = worlds.iter().collect();
        gpu.observe(&refs, &mut out).unwrap_or_else(|e| panic!("{e}"));
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
        for sim in worlds.iter_mut() {
            sim.scripted_actions(&mut choices);
            let actions: Vec<_> =
                choices.iter().map(|c| c.unwrap_or(beanworld_sim::action::Action::NoOp)).collect();
            sim.step(&actions).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    assert!(seen > 10_000, "{name}: the agents saw things ({seen} values)");
    assert!(shaded > 1_000, "{name}: shadows and the field of view's edge were exercised ({shaded})");
}

#[test]
fn gpu_vision_equals_cpu_vision_in_v0() {
    gpu_equals_cpu("jbw-v0", &mut [world("jbw-v0", 1)], None);
}

#[test]
fn gpu_vision_equals_cpu_vision_in_v1() {
    gpu_equals_cpu("jbw-v1", &mut [world("jbw-v1", 1)], None);
}

#[test]
fn gpu_vision_equals_cpu_vision_in_the_paper_world() {
    // (In dispatches of 50 agents: 120 agents take three, the last one short.)
    gpu_equals_cpu("jbw-paper", &mut [world("jbw-paper", 1)], Some(50));
}

#[test]
fn gpu_vision_of_several_worlds_in_one_call_equals_cpu_vision() {
    // Two seeds and a second world of the first seed: the same patches as generated, different
    // ones once agents collect items, and agents counted per world.
    let mut worlds = [world("jbw-v0", 1), world("jbw-v0", 2), world("jbw-v0", 1)];
    gpu_equals_cpu("three v0 worlds", &mut worlds, Some(100));
}

#[test]
fn another_world_in_the_same_place_is_uploaded_afresh() {
    let (mut a, b) = (world("jbw-v0", 3), world("jbw-v0", 4));
    let mut gpu = GpuVision::new(&a).unwrap_or_else(|e| panic!("{e}"));
    let ol = gpu.observation_len();
    let (mut cpu, mut out) = (vec![0.0; 120 * ol], vec![0.0; 120 * ol]);
    let mut scent = vec![0.0; a.scent_len()];
    gpu.observe(&[&a], &mut out).unwrap_or_else(|e| panic!("{e}"));
    let mut b = b;
    for (i, obs) in cpu.chunks_exact_mut(ol).enumerate() {
        b.observe(i, &mut scent, obs);
    }
    gpu.observe(&[&b], &mut out).unwrap_or_else(|e| panic!("{e}"));
    assert!(cpu == out, "world 0 replaced by another seed: its patches are uploaded again");
    for (i, obs) in cpu.chunks_exact_mut(ol).enumerate() {
        a.observe(i, &mut scent, obs);
    }
    gpu.observe(&[&a], &mut out).unwrap_or_else(|e| panic!("{e}"));
    assert!(cpu == out, "and back");
}

#[test]
fn other_vision_settings_are_refused() {
    let a = world("jbw-v0", 1);
    let mut gpu = GpuVision::new(&a).unwrap_or_else(|e| panic!("{e}"));
    let b = world("jbw-paper", 1);
    let err = gpu.compute(&[&a, &b]).expect_err("the paper world sees differently");
    assert!(err.to_string().contains("world 1's vision settings"), "{err}");
}
