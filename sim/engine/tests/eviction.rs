//! Eviction is exact: a walk that leaves changed ground and comes back sees the same world with
//! eviction on or off, with every record in memory or spilled to the store's file, with patches
//! sampled ahead of need or not, and across a snapshot taken while records are spilled; a store
//! that fails stops the run with its reason.

use beanworld_sim::action::{Action, Move, Turn};
use beanworld_sim::{AHEAD_PASSES, Scenario, Simulation, StepError, snapshot};

/// A small world that keeps changing around its one agent (regrowth) and evicts close to it.
fn scenario(eviction: bool) -> Scenario {
    let eviction = if eviction { ", eviction: (radius: 2)" } else { "" };
    let text = format!(
        r#"Scenario(
            seed: 9,
            world: (patch_size: 16, mcmc_iterations: 1500),
            items: [
                Item(name: "bean", scent: [1, 0], color: [1, 0], intensity: Constant(-2.5),
                     interactions: {{"bean": PiecewiseBox(l1: 2, l2: 8, c1: -2, c2: 0.5)}}),
                Item(name: "stone", scent: [0, 1], color: [0, 1], intensity: Constant(-3),
                     required: {{"stone": 1}}),
            ],
            scent: (decay: 0.4, diffusion: 0.14, deleted_item_lifetime: 300),
            vision: (range: 3, agent_color: [0, 0]),
            actions: (turns: (none: Allowed, reverse: Allowed, left: Allowed, right: Allowed)),
            agents: [Agents(count: 1, policy: External)],
            task: Fixed(Collect(item: "bean", value: 1)),
            dynamics: (regrowth: (radius: 1, interval: 40, proposals: 300){eviction}),
        )"#
    );
    Scenario::parse(&text, "walk.ron").unwrap_or_else(|e| panic!("{e}"))
}

/// Step `t` of a walk that goes 300 cells out and back along one axis, then along another,
/// so every stretch of ground is left (and evicted) and then walked again.
fn walk(t: u64) -> Action {
    let forward = Action::Move { direction: Move::Forward, steps: 1 };
    match t % 1_204 {
        300 | 602 | 904 | 1_203 => Action::Turn(Turn::Reverse),
        601 => Action::Turn(Turn::Left),
        _ => forward,
    }
}

/// Rewards, scent and vision of every step from the simulation's time up to `until`, as bits.
fn trajectory(sim: &mut Simulation, until: u64) -> Result<Vec<u32>, StepError> {
    let mut out = Vec::new();
    let (mut scent, mut vision) = (vec![0.0; sim.scent_len()], vec![0.0; sim.vision_len()]);
    while sim.time() < until {
        let step = sim.step(&[walk(sim.time())])?;
        out.extend(step.rewards.iter().map(|r| r.to_bits()));
        sim.observe(0, &mut scent, &mut vision);
        out.extend(scent.iter().chain(&vision).map(|v| v.to_bits()));
    }
    Ok(out)
}

const STEPS: u64 = 3_000;

#[test]
fn a_walk_over_old_ground_is_the_same_with_eviction_on_or_off_and_records_spilled() {
    let mut kept = Simulation::new(scenario(false)).expect("placed");
    let want = trajectory(&mut kept, STEPS).expect("steps");

    let mut evicting = Simulation::new(scenario(true)).expect("placed");
    assert!(want == trajectory(&mut evicting, STEPS).expect("steps"), "eviction with records in memory");
    assert!(evicting.world().record_count() > 10, "records: {}", evicting.world().record_count());
    assert!(kept.world().patch_count() > 3 * evicting.world().patch_count());

    // Every record spills at every eviction, and the walk reads them back from the file.
    let mut spilling = Simulation::new(scenario(true)).expect("placed");
    spilling.set_record_memory(1);
    let mut got = Vec::new();
    let mut read_back = false;
    while spilling.time() < STEPS {
        let before = spilling.world().record_count();
        let until = (spilling.time() + 64).min(STEPS);
        got.extend(trajectory(&mut spilling, until).expect("steps"));
        read_back |= spilling.world().record_count() < before;
        assert_eq!(spilling.world().records_in_memory(), 0, "step {}", spilling.time());
    }
    assert!(read_back, "the walk came back to spilled ground");
    assert!(spilling.world().store_bytes() > 0);
    assert!(want == got, "eviction with every record spilled");
    assert_eq!(spilling.state_digest(), evicting.state_digest(), "the same state, wherever records are");
}

#[test]
fn patches_sampled_ahead_at_every_step_change_nothing_on_changing_and_evicted_ground() {
    let mut plain = Simulation::new(scenario(true)).expect("placed");
    let want = trajectory(&mut plain, STEPS).expect("steps");
    let mut ahead = Simulation::new(scenario(true)).expect("placed");
    let mut got = Vec::new();
    while ahead.time() < STEPS {
        for pass in 0..AHEAD_PASSES {
            ahead.sample_ahead(pass, &|| false);
        }
        let next = ahead.time() + 1;
        got.extend(trajectory(&mut ahead, next).expect("steps"));
    }
    assert!(want == got, "the same rewards and observations");
    assert_eq!(ahead.state_digest(), plain.state_digest(), "the same state");
    assert_eq!(ahead.world().patch_count(), plain.world().patch_count());
    let (sampled, taken) = ahead.sampled_ahead();
    assert!(taken > 100 && sampled >= taken, "sampled {sampled}, taken {taken}");
    assert!(ahead.world().record_count() > 10, "over recorded ground: {}", ahead.world().record_count());
}

#[test]
fn a_run_resumed_from_a_snapshot_with_spilled_records_equals_the_one_that_never_stopped() {
    let mut whole = Simulation::new(scenario(true)).expect("placed");
    whole.set_record_memory(1);
    let want = trajectory(&mut whole, STEPS).expect("steps");
    for cut in [700, 1_500] {
        let mut first = Simulation::new(scenario(true)).expect("placed");
        first.set_record_memory(1);
        let mut got = trajectory(&mut first, cut).expect("steps");
        assert!(first.world().record_count() > 0 && first.world().records_in_memory() == 0);
        let path = std::env::temp_dir().join(format!("beanworld-spill-{}-{cut}.snap", std::process::id()));
        snapshot::save(&first, &(), &path).expect("saved");
        drop(first);
        let (mut resumed, ()) = snapshot::load(&path, &scenario(true)).expect("loaded");
        std::fs::remove_file(&path).ok();
        resumed.set_record_memory(1);
        got.extend(trajectory(&mut resumed, STEPS).expect("steps"));
        assert!(want == got, "resumed at {cut}");
        assert_eq!(resumed.state_digest(), whole.state_digest(), "resumed at {cut}");
    }
}

#[test]
fn a_store_that_cannot_be_written_stops_the_run_with_its_reason_and_loses_nothing() {
    let mut healthy = Simulation::new(scenario(true)).expect("placed");
    let mut failing = Simulation::new(scenario(true)).expect("placed");
    let gone = std::env::temp_dir().join(format!("beanworld-gone-{}", std::process::id()));
    failing.keep_records_in(&gone).expect("nothing to move yet");
    failing.set_record_memory(1);
    let e = trajectory(&mut failing, STEPS).expect_err("the first spill fails");
    let message = e.to_string();
    assert!(matches!(e, StepError::Store { .. }), "{message}");
    assert!(message.contains(&gone.join("world.redb").display().to_string()), "{message}");
    assert!(failing.world().record_count() > 0 && failing.world().records_in_memory() > 0);

    // The records stayed in memory: the state is exact, saved and resumed like any other.
    let at = failing.time();
    trajectory(&mut healthy, at).expect("steps");
    assert_eq!(failing.state_digest(), healthy.state_digest());
    let path = std::env::temp_dir().join(format!("beanworld-failed-{}.snap", std::process::id()));
    snapshot::save(&failing, &(), &path).expect("saved");
    let (mut resumed, ()) = snapshot::load(&path, &scenario(true)).expect("loaded");
    std::fs::remove_file(&path).ok();
    let want = trajectory(&mut healthy, STEPS).expect("steps");
    assert!(want == trajectory(&mut resumed, STEPS).expect("steps"));
}

#[test]
fn a_named_store_lives_in_its_folder_and_goes_with_its_world() {
    let dir = std::env::temp_dir().join(format!("beanworld-named-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("created");
    let mut plain = Simulation::new(scenario(true)).expect("placed");
    let want = trajectory(&mut plain, STEPS).expect("steps");
    let mut sim = Simulation::new(scenario(true)).expect("placed");
    sim.set_record_memory(1);
    let mut got = trajectory(&mut sim, 1_000).expect("steps");
    assert!(sim.world().store_bytes() > 0);
    assert_eq!(sim.world().store_path(), None, "a temporary store has no name");
    sim.keep_records_in(&dir).expect("moved");
    let path = dir.join("world.redb");
    assert_eq!(sim.world().store_path(), Some(path.as_path()));
    got.extend(trajectory(&mut sim, STEPS).expect("steps"));
    assert!(want == got, "the records moved with the store");
    assert_eq!(sim.state_digest(), plain.state_digest());
    drop(sim);
    assert!(!path.exists(), "removed with its world");
    std::fs::remove_dir_all(dir).ok();
}
