//! Frames drawn on the GPU (a software adapter in CI) equal the CPU reference of the same rules,
//! pixel for pixel, for items and agents facing every way.

use std::path::PathBuf;

use beanworld_render::frame::{self, CellImage, Renderer};
use beanworld_sim::{Cell, Region, Scenario, Simulation};

fn world() -> Simulation {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/jbw-paper.ron");
    let mut scenario = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    scenario.agents = ["Up", "Down", "Left", "Right"]
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let text = format!("Agents(position: ({}, 3), facing: {f}, policy: Walk, spread: 2)", 3 * i);
            ron::from_str(&text).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    Simulation::new(scenario).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn gpu_frames_equal_the_cpu_reference() {
    let renderer = match Renderer::new() {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    };
    let sim = world();
    let region = Region::new(Cell::new(-20, -10), Cell::new(39, 29));
    let image = CellImage::of(&sim, region);
    assert_eq!(image.marks.iter().filter(|m| **m != 0).count(), 4, "four agents in view");
    assert!(
        image.cells.iter().filter(|c| **c != u32::from_le_bytes(frame::BACKGROUND)).count() > 50,
        "items in view"
    );
    for ppc in [1, 4, 9, 16] {
        let gpu = renderer.frame(&image, ppc).unwrap_or_else(|e| panic!("{e}"));
        let cpu = frame::reference(&image, ppc);
        assert_eq!(gpu.len(), cpu.len());
        let differ = gpu.chunks(4).zip(cpu.chunks(4)).filter(|(a, b)| a != b).count();
        assert_eq!(differ, 0, "{ppc} pixels per cell on {}: {differ} pixels differ", renderer.adapter);
    }
    // Each facing draws its own triangle: the four agents' cells differ from one another.
    let ppc = 16;
    let pixels = frame::reference(&image, ppc);
    let cell_pixels = |c: Cell| -> Vec<u8> {
        let (x0, y0) = ((c.x - region.min.x) as u32 * ppc, (region.max.y - c.y) as u32 * ppc);
        (0..ppc)
            .flat_map(|y| (0..ppc).map(move |x| (x, y)))
            .map(|(x, y)| pixels[(((y0 + y) * image.width * ppc + x0 + x) * 4) as usize])
            .collect()
    };
    let shapes: Vec<Vec<u8>> = sim.agents().iter().map(|a| cell_pixels(a.position)).collect();
    for i in 0..4 {
        for j in i + 1..4 {
            assert_ne!(shapes[i], shapes[j], "agents {i} and {j} look alike");
        }
    }
}
