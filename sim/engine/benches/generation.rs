//! Generation cost: one patch (a phase-3 patch, conditioned on all eight neighbours, which are
//! generated beforehand and not timed) and a 16 × 16-patch region from an empty world, sampled
//! in rounds on the machine's threads and on one, for the classic (v0), v1 and paper
//! configurations. Run with `cargo bench -p beanworld-sim`.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;

use beanworld_sim::Sampler;
use beanworld_sim::{Cell, PatchCoord, Region, Scenario, World};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

fn scenario(name: &str) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios").join(name);
    Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn generation(c: &mut Criterion) {
    for name in ["jbw-v0.ron", "jbw-v1.ron", "jbw-paper.ron"] {
        let scenario = scenario(name);
        let config = Arc::new(scenario.config);
        let n = config.patch_size as i64;
        let centre = PatchCoord::new(1, 1);
        let mut sampler = Sampler::new(&config);
        let mut around = World::new(Arc::clone(&config), 7);
        for nb in centre.neighbours() {
            around.generate(nb, &mut sampler);
        }
        let mut group = c.benchmark_group(name.trim_end_matches(".ron"));
        group.sample_size(20);
        group.bench_function("one patch", |b| {
            b.iter_batched(
                || around.clone(),
                |mut world| {
                    world.generate(centre, &mut sampler);
                    black_box(world.patch_count())
                },
                BatchSize::LargeInput,
            )
        });
        group.sample_size(10);
        let region = Region::new(Cell::new(0, 0), Cell::new(16 * n - 1, 16 * n - 1));
        let machine = sampler.threads();
        for threads in if machine > 1 { vec![machine, 1] } else { vec![1] } {
            let mut sampler = sampler.clone();
            sampler.set_threads(threads);
            group.bench_function(format!("16x16 patches, {threads} threads"), |b| {
                b.iter(|| {
                    let mut world = World::new(Arc::clone(&config), 7);
                    world.generate_region(region, &mut sampler);
                    black_box(world.patch_count())
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, generation);
criterion_main!(benches);
