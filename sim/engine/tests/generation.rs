//! World generation across the engine's public API: order independence, determinism, and the
//! item statistics of the shipped JBW configurations against JBW's own (spec §12.3).

mod common;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use beanworld_sim::Sampler;
use beanworld_sim::{Cell, Region, World};
use common::shipped;
use proptest::prelude::*;

fn world(name: &str, seed: u64) -> (World, Sampler) {
    let config = Arc::new(shipped(name).config);
    let sampler = Sampler::new(&config);
    (World::new(config, seed), sampler)
}

/// Densities (items per cell, in %) of each type over `region`.
fn densities(world: &World, region: Region) -> BTreeMap<String, f64> {
    let mut counts: BTreeMap<String, f64> =
        world.config().items.iter().map(|t| (t.name.clone(), 0.0)).collect();
    for (_, kind) in world.items_in(region) {
        *counts.get_mut(&world.config().items[kind].name).expect("known type") += 1.0;
    }
    counts.values_mut().for_each(|c| *c *= 100.0 / region.cells() as f64);
    counts
}

fn square(side: i64) -> Region {
    Region::new(Cell::new(0, 0), Cell::new(side - 1, side - 1))
}

/// Asserts `value` lies within ±15% of the JBW range `[lo, hi]`.
fn assert_near(what: &str, value: f64, lo: f64, hi: f64) {
    assert!(
        value >= lo * 0.85 && value <= hi * 1.15,
        "{what}: {value:.3}% is not within ±15% of JBW's {lo}–{hi}%"
    );
}

#[test]
fn classic_densities_match_jbw() {
    for seed in [0, 1] {
        let (mut w, mut sampler) = world("jbw-v0.ron", seed);
        w.generate_region(square(512), &mut sampler);
        let d = densities(&w, square(512));
        assert_near("banana", d["banana"], 1.07, 1.07);
        assert_near("jellybean", d["jellybean"], 1.07, 1.07);
        assert_near("wall", d["wall"], 2.9, 2.9);
        assert!(d["onion"] < 0.02, "onions should be practically absent: {:.4}%", d["onion"]);
    }
}

#[test]
fn paper_densities_match_jbw() {
    for seed in [0, 1] {
        let (mut w, mut sampler) = world("jbw-paper.ron", seed);
        w.generate_region(square(512), &mut sampler);
        let d = densities(&w, square(512));
        assert_near("banana", d["banana"], 1.5, 1.5);
        assert_near("onion", d["onion"], 4.3, 4.3);
        assert_near("jellybean", d["jellybean"], 1.5, 1.5);
        assert_near("tree", d["tree"], 3.9, 4.4);
        assert_near("truffle", d["truffle"], 0.5, 0.5);
        assert_near("wall", d["wall"], 0.23, 0.31);
    }
}

#[test]
fn classic_walls_form_straight_lines() {
    let (mut w, mut sampler) = world("jbw-v0.ron", 2);
    w.generate_region(square(512), &mut sampler);
    let wall = w.config().item_index("wall").expect("wall");
    let walls: HashSet<(i64, i64)> =
        w.items_in(square(512)).into_iter().filter(|&(_, k)| k == wall).map(|(p, _)| (p.x, p.y)).collect();
    let has = |x, y| walls.contains(&(x, y));
    let beside =
        walls.iter().filter(|&&(x, y)| has(x + 1, y) || has(x - 1, y) || has(x, y + 1) || has(x, y - 1));
    let between =
        walls.iter().filter(|&&(x, y)| (has(x + 1, y) && has(x - 1, y)) || (has(x, y + 1) && has(x, y - 1)));
    let diagonal_only = walls
        .iter()
        .filter(|&&(x, y)| !(has(x + 1, y) || has(x - 1, y) || has(x, y + 1) || has(x, y - 1)))
        .filter(|&&(x, y)| has(x + 1, y + 1) || has(x - 1, y - 1) || has(x + 1, y - 1) || has(x - 1, y + 1));
    let n = walls.len() as f64;
    // JBW: 93% of walls have a wall directly beside them, 61% on both opposite sides.
    assert!(beside.count() as f64 / n > 0.85, "walls are not in lines");
    assert!(between.count() as f64 / n > 0.5, "walls are not in straight runs");
    assert!((diagonal_only.count() as f64) / n < 0.02, "walls touch diagonally");
}

#[test]
fn bananas_and_jelly_beans_cluster_together() {
    // JBW: pair correlation g(1) banana–jelly bean ≈ 27, and 0 from distance 5 to 14.
    let (mut w, mut sampler) = world("jbw-v0.ron", 3);
    w.generate_region(square(512), &mut sampler);
    let banana = w.config().item_index("banana").expect("banana");
    let items = w.items_in(square(512));
    let jelly: HashSet<(i64, i64)> = items
        .iter()
        .filter(|&&(_, k)| k != banana && w.config().items[k].name == "jellybean")
        .map(|(p, _)| (p.x, p.y))
        .collect();
    let bananas: Vec<Cell> = items.iter().filter(|&&(_, k)| k == banana).map(|&(p, _)| p).collect();
    let near = |p: &Cell, d: i64| {
        [(d, 0), (-d, 0), (0, d), (0, -d)]
            .iter()
            .filter(|(dx, dy)| jelly.contains(&(p.x + dx, p.y + dy)))
            .count()
    };
    let density = jelly.len() as f64 / (512.0 * 512.0);
    let g1 =
        bananas.iter().map(|p| near(p, 1)).sum::<usize>() as f64 / (4.0 * bananas.len() as f64 * density);
    let far: usize = (5..=9).map(|d| bananas.iter().map(|p| near(p, d)).sum::<usize>()).sum();
    assert!(g1 > 10.0, "banana–jelly bean g(1) = {g1:.1}");
    assert!((far as f64) < 0.01 * bananas.len() as f64, "{far} jelly beans at distance 5–9 from bananas");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, .. ProptestConfig::default() })]

    /// Generating other regions first, in any order, never changes a region's items.
    #[test]
    fn generation_does_not_depend_on_order(
        detours in prop::collection::vec((-160i64..160, -160i64..160, 0i64..70, 0i64..70), 0..5),
        seed in 0u64..4,
    ) {
        let target = Region::new(Cell::new(-40, -40), Cell::new(40, 40));
        let (mut direct, mut sampler) = world("jbw-v0.ron", seed);
        direct.generate_region(target, &mut sampler);

        let (mut roundabout, _) = world("jbw-v0.ron", seed);
        for &(x, y, w, h) in &detours {
            roundabout.generate_region(Region::new(Cell::new(x, y), Cell::new(x + w, y + h)), &mut sampler);
        }
        roundabout.generate_region(target, &mut sampler);
        prop_assert_eq!(direct.region_digest(target), roundabout.region_digest(target));
        // Every patch both worlds hold is the same, not only the target region.
        for c in direct.patch_coords() {
            prop_assert_eq!(direct.patch(c), roundabout.patch(c));
        }
    }
}
