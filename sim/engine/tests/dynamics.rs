//! Non-stationary dynamics: regrowth toward the equilibrium after a clearing, a step change of an
//! intensity, exact scent with items born and removed at any time, scripted events, and
//! determinism across runs, snapshots and eviction.

mod common;

use beanworld_sim::ScentTable;
use beanworld_sim::action::Action;
use beanworld_sim::{Cell, Region, Scenario, Simulation, World, snapshot};
use common::{scenarios_dir, shipped};

/// The classic world with `dynamics` and one agent driven by `policy` at the origin.
fn classic(policy: &str, dynamics: &str) -> Scenario {
    let text = std::fs::read_to_string(scenarios_dir().join("jbw-v0.ron")).expect("readable");
    let text = text.replace(
        "agents: [Agents(count: 1, position: (0, 0), facing: Up, policy: Walk)],",
        &format!("agents: [Agents(count: 1, position: (0, 0), facing: Up, policy: {policy})],\n    dynamics: ({dynamics}),"),
    );
    Scenario::parse(&text, "classic-dynamic.ron").unwrap_or_else(|e| panic!("{e}"))
}

/// Items per cell (%) of `kind` in `region`.
fn density(world: &World, region: Region, kind: usize) -> f64 {
    let count = world.items_in(region).iter().filter(|&&(_, k)| k == kind).count();
    100.0 * count as f64 / region.cells() as f64
}

/// The region a turning agent at the origin keeps regrowing (3 × 3 patches).
const ZONE: (i64, i64, i64, i64) = (-32, -32, 63, 63);

fn zone() -> Region {
    Region::new(Cell::new(ZONE.0, ZONE.1), Cell::new(ZONE.2, ZONE.3))
}

/// The equilibrium of the regrowth dynamics: the mean density (%) of each type in the zone of
/// an agent that turns in place, over steps 20,000–30,000 of a run of `scenario` (whose
/// regrowth must be fast).
fn equilibrium(scenario: &Scenario) -> Vec<f64> {
    let mut sim = Simulation::new(scenario.clone()).expect("placed");
    steps(&mut sim, 20_000);
    let k = scenario.config.items.len();
    let mut mean = vec![0.0; k];
    for _ in 0..10 {
        steps(&mut sim, 1_000);
        for (kind, m) in mean.iter_mut().enumerate() {
            *m += density(sim.world(), zone(), kind) / 10.0;
        }
    }
    mean
}

fn steps(sim: &mut Simulation, n: u64) {
    let mut choices = Vec::new();
    for _ in 0..n {
        sim.scripted_actions(&mut choices);
        let actions: Vec<Action> = choices.iter().map(|c| c.expect("scripted")).collect();
        sim.step(&actions).expect("step");
    }
}

const BANANA: usize = 0;
const JELLYBEAN: usize = 2;
const WALL: usize = 3;

#[test]
fn a_cleared_region_regrows_to_the_equilibrium() {
    // The agent turns in place; the 3 × 3 patches around it are emptied before the first step
    // and then get a regrowth round of 4,000 proposals every 100 steps.
    let regrowth = "regrowth: (radius: 1, interval: 100, proposals: 4000)";
    let want = equilibrium(&classic("Turn", regrowth));
    let scenario =
        classic("Turn", &format!("{regrowth}, events: [Event(at: 0, action: Clear(region: {ZONE:?}))]"));
    let mut sim = Simulation::new(scenario).expect("placed");
    let region = zone();
    let total = |sim: &Simulation| {
        [BANANA, JELLYBEAN, WALL].iter().map(|&k| density(sim.world(), region, k)).sum::<f64>()
    };
    assert_eq!(total(&sim), 0.0, "the clearing is empty");
    // One sample per round (100 steps) for 6,000 steps, then one per 1,000 steps.
    let mut curve = Vec::new();
    for _ in 0..60 {
        steps(&mut sim, 100);
        curve.push(total(&sim));
    }
    let mut late = Vec::new();
    for _ in 0..24 {
        steps(&mut sim, 1_000);
        late.push(total(&sim));
    }
    let plateau = late[12..].iter().sum::<f64>() / 12.0;
    for (kind, name) in [(BANANA, "banana"), (JELLYBEAN, "jellybean"), (WALL, "wall")] {
        let got = density(sim.world(), region, kind);
        assert!(
            (got - want[kind]).abs() <= 0.15 * want[kind],
            "{name}: {got:.3}% after 30,000 steps, equilibrium {:.3}%",
            want[kind]
        );
    }
    // Time constant: the first round after which the density reaches 1 − 1/e of the plateau; and
    // the half-way point.
    let reach = |f: f64| curve.iter().position(|&d| d >= f * plateau).expect("reached") as u64 + 1;
    let (tau, half) = (reach(1.0 - (-1.0f64).exp()), reach(0.5));
    println!(
        "plateau {plateau:.3}% (equilibrium {:.3}%); half-way after {half} rounds, 1 − 1/e after {tau} rounds; \
         curve {:?}",
        want[BANANA] + want[JELLYBEAN] + want[WALL],
        curve.iter().take(12).map(|d| (d * 100.0).round() / 100.0).collect::<Vec<_>>()
    );
    assert!((2..=20).contains(&tau), "time constant {tau} rounds");
    assert!(curve[0] < 0.5 * plateau, "recovery is gradual: {:.3}% after one round", curve[0]);
}

#[test]
fn a_step_change_of_intensity_moves_the_density_to_the_new_equilibrium() {
    // Jelly beans become much more likely from step 1,000 on (−5.3 → 0).
    let dynamics = "regrowth: (radius: 1, interval: 100, proposals: 4000), \
                    drift: [Drift(param: \"jellybean.intensity\", value: Steps(initial: -5.3, changes: [(1000, 0.0)]))]";
    let scenario = classic("Turn", dynamics);
    let regrowth = "regrowth: (radius: 1, interval: 100, proposals: 4000)";
    let before_eq = equilibrium(&classic("Turn", regrowth));
    let after_eq = equilibrium(&classic(
        "Turn",
        &format!("{regrowth}, drift: [Drift(param: \"jellybean.intensity\", value: Constant(0.0))]"),
    ));
    // Jelly beans are held back mostly by their own repulsion, so even a large change of
    // intensity moves their equilibrium by about a quarter.
    assert!(
        after_eq[JELLYBEAN] > 1.2 * before_eq[JELLYBEAN],
        "the change matters: {before_eq:?} → {after_eq:?}"
    );
    let mut sim = Simulation::new(scenario).expect("placed");
    let region = zone();
    steps(&mut sim, 1_000);
    let early = density(sim.world(), region, JELLYBEAN);
    steps(&mut sim, 20_000);
    let mut late = 0.0;
    for _ in 0..10 {
        steps(&mut sim, 1_000);
        late += density(sim.world(), region, JELLYBEAN) / 10.0;
    }
    assert!(
        (early - before_eq[JELLYBEAN]).abs() > 0.15 * after_eq[JELLYBEAN] || early < late,
        "the density moved"
    );
    assert!(
        (late - after_eq[JELLYBEAN]).abs() <= 0.15 * after_eq[JELLYBEAN],
        "jelly beans: {early:.3}% at the change, {late:.3}% over steps 21,000–31,000; new equilibrium {:.3}%",
        after_eq[JELLYBEAN]
    );
}

#[test]
fn scent_stays_exact_with_items_born_and_removed_at_any_time() {
    let scenario = classic("Walk", "regrowth: (radius: 1, interval: 50, proposals: 3000)");
    let c = &scenario.config;
    let table =
        ScentTable::new(c.scent.decay, c.scent.diffusion, c.scent.deleted_item_lifetime, c.patch_size);
    let lifetime = u64::from(c.scent.deleted_item_lifetime);
    let mut sim = Simulation::new(scenario.clone()).expect("placed");
    let (mut scent, mut vision) = (vec![0.0; sim.scent_len()], vec![0.0; sim.vision_len()]);
    let (mut born_seen, mut gone_seen) = (0, 0);
    for round in 0..40 {
        steps(&mut sim, 137);
        sim.observe(0, &mut scent, &mut vision);
        let now = sim.time();
        let pos = sim.agents()[0].position;
        // spec §4.3, written out: every item of the block, live or collected, within reach.
        let mut want = vec![0.0f64; scent.len()];
        for pc in sim.world().block(pos) {
            for item in &sim.world().patch(pc).expect("generated").items {
                let (dx, dy) = (item.pos.x - pos.x, item.pos.y - pos.y);
                let age =
                    if item.created == 0 { lifetime - 1 } else { (now - item.created).min(lifetime - 1) };
                let mut v = table.get(age, dx, dy);
                if item.deleted > 0 {
                    v -=
                        if now - item.deleted < lifetime { table.get(now - item.deleted, dx, dy) } else { v };
                }
                for (w, s) in want.iter_mut().zip(&c.items[usize::from(item.kind)].scent) {
                    *w += v * f64::from(*s);
                }
                born_seen += usize::from(item.created > 0 && now - item.created < lifetime - 1 && v != 0.0);
                gone_seen += usize::from(item.deleted > 0 && v != 0.0);
            }
        }
        for (got, want) in scent.iter().zip(&want) {
            assert!(
                (f64::from(*got) - want).abs() <= 1e-5 * want.abs().max(1.0),
                "round {round}: {scent:?} vs {want:?}"
            );
        }
    }
    assert!(
        born_seen > 100 && gone_seen > 100,
        "items still ramping up ({born_seen}) and fading ({gone_seen}) were checked"
    );
}

/// Everything a run shows its agents: rewards and observations, step by step.
fn record(sim: &mut Simulation, n: u64) -> Vec<u32> {
    let mut out = Vec::new();
    let mut choices = Vec::new();
    for _ in 0..n {
        sim.scripted_actions(&mut choices);
        let actions: Vec<Action> = choices.iter().map(|c| c.expect("scripted")).collect();
        let step = sim.step(&actions).expect("step");
        out.extend(step.ids.iter().copied());
        out.extend(step.rewards.iter().map(|r| r.to_bits()));
        for i in 0..sim.agents().len() {
            let (mut scent, mut vision) = (vec![0.0; sim.scent_len()], vec![0.0; sim.vision_len()]);
            sim.observe(i, &mut scent, &mut vision);
            out.extend(scent.iter().chain(&vision).map(|v| v.to_bits()));
        }
    }
    out
}

#[test]
fn dynamic_runs_repeat_resume_and_ignore_eviction() {
    // Seasons at test speed: fast regrowth, a short cycle, eviction close to the agent.
    let text = std::fs::read_to_string(scenarios_dir().join("seasons.ron"))
        .expect("readable")
        .replace(
            "regrowth: (radius: 1, interval: 1250, proposals: 4000)",
            "regrowth: (radius: 1, interval: 97, proposals: 2000)",
        )
        .replace("period: 100000", "period: 3000")
        .replace("phase: 50000", "phase: 1500");
    let evicting = Scenario::parse(&text, "fast-seasons.ron").expect("valid");
    assert!(evicting.dynamics.eviction.is_some());
    let mut keeping = evicting.clone();
    keeping.dynamics.eviction = None;
    let steps = 6_000;

    let mut a = Simulation::new(evicting.clone()).expect("placed");
    let whole = record(&mut a, steps);
    assert!(a.world().record_count() > 0 || a.world().patch_count() < 100, "eviction took place");
    let mut again = Simulation::new(evicting.clone()).expect("placed");
    assert!(whole == record(&mut again, steps), "same scenario, same run");

    for cut in [1, 1_777, 4_096] {
        let mut b = Simulation::new(evicting.clone()).expect("placed");
        let mut resumed = record(&mut b, cut);
        let path = std::env::temp_dir().join(format!("beanworld-dyn-{}-{cut}.snap", std::process::id()));
        snapshot::save(&b, &(), &path).expect("saved");
        let (mut c, ()) = snapshot::load(&path, &evicting).expect("loaded");
        resumed.extend(record(&mut c, steps - cut));
        assert!(whole == resumed, "resumed at {cut}");
        assert_eq!(a.state_digest(), c.state_digest(), "resumed at {cut}");
        std::fs::remove_file(path).ok();
    }

    let mut k = Simulation::new(keeping).expect("placed");
    assert!(whole == record(&mut k, steps), "eviction changes nothing an agent can observe");
    assert!(
        k.world().patch_count() > a.world().patch_count(),
        "without eviction more patches stay in memory"
    );
}

#[test]
fn the_story_unfolds_as_scripted() {
    let mut sim = Simulation::new(shipped("story.ron")).expect("placed");
    let clearing = Region::new(Cell::new(-12, -12), Cell::new(12, 12));
    assert!(sim.world().items_in(clearing).is_empty(), "a clearing before the first step");
    steps(&mut sim, 300);
    let wall = Region::new(Cell::new(-12, 13), Cell::new(12, 13));
    let walls = sim.world().items_in(wall).iter().filter(|&&(_, k)| k == WALL).count();
    assert_eq!(walls, 25, "a wall across the north");
    steps(&mut sim, 300);
    let field = Region::new(Cell::new(4, -1), Cell::new(6, 1));
    assert!(
        sim.world().items_in(field).iter().filter(|&&(_, k)| k == JELLYBEAN).count() >= 7,
        "a sown field"
    );
    assert_eq!(sim.agents().len(), 1);
    steps(&mut sim, 400);
    assert_eq!(
        sim.agents().iter().map(|a| a.id).collect::<Vec<_>>(),
        [1, 2],
        "a second walker at step 1,000"
    );
    steps(&mut sim, 1_000);
    assert!(matches!(sim.task(), beanworld_sim::task::Schedule::Fixed(beanworld_sim::task::Reward::Sum(_))));
    steps(&mut sim, 1_000);
    assert_eq!(sim.current_config().items[JELLYBEAN].color, [1.0, 0.0, 1.0], "purple jelly beans");
    assert!(!sim.take_snapshot_request());
    steps(&mut sim, 1_000);
    assert_eq!(sim.agents().iter().map(|a| a.id).collect::<Vec<_>>(), [2], "the first walker left");
    assert!(sim.take_snapshot_request(), "a snapshot was asked for");
    assert!(!sim.take_snapshot_request());
}

#[test]
fn an_event_region_too_large_to_count_is_refused() {
    let text = std::fs::read_to_string(scenarios_dir().join("jbw-v0.ron")).expect("readable");
    let dynamics = "(events: [Event(at: 0, action: Clear(region: (-12, -12, 1222222222222222222, 12)))])";
    let e = Scenario::parse_with(&text, "jbw-v0.ron", &[("dynamics", dynamics)]).expect_err("too large");
    let message = e.to_string();
    assert!(message.contains("18446744073709551615 cells"), "{message}");
}
