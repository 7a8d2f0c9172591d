//! A batched PPO learner over many worlds: its result does not depend on the threads stepping
//! the worlds, and it learns from every stream.

use std::path::PathBuf;

use beanworld_rl::ppo::BatchedPpo;
use beanworld_sim::Scenario;

fn scenario(name: &str) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios").join(name);
    let mut s = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    for group in &mut s.agents {
        group.policy = beanworld_sim::policy::PolicyKind::External;
    }
    s
}

fn trained(name: &str, threads: usize, steps: usize) -> BatchedPpo {
    let scenario = scenario("jbw-v0.ron");
    let mut ppo =
        beanworld_rl::batched(name, &scenario, &[5, 6, 7], threads).unwrap_or_else(|e| panic!("{e}"));
    for _ in 0..steps {
        ppo.step().unwrap_or_else(|e| panic!("{e}"));
    }
    ppo
}

#[test]
fn the_same_seeds_train_the_same_weights_whatever_the_threads() {
    for name in [
        "ppo-scent(hidden: 16, rollout: 32, minibatch: 24)",
        "ppo(hidden: 8, rollout: 16, minibatch: 48, epochs: 1)",
    ] {
        let one = trained(name, 1, 70);
        let two = trained(name, 2, 70);
        assert_eq!(one.streams(), 3);
        assert!(one.learner().updates() >= 2, "{name}: {} updates", one.learner().updates());
        assert_eq!(one.learner().updates(), two.learner().updates());
        let weights = one.learner().weights();
        assert!(weights == two.learner().weights(), "{name}: the weights differ with 2 threads");
        assert!(trained(name, 1, 70).learner().weights() == weights, "{name}: not reproducible");
        let first = trained(name, 1, 1).learner().weights();
        assert!(first != weights && first.len() == weights.len(), "{name}: the updates changed nothing");
    }
}

#[test]
fn each_world_is_a_stream_of_its_own_and_unknown_learners_are_refused() {
    let ppo = trained("ppo-scent(hidden: 8)", 1, 1);
    let worlds = ppo.env().worlds();
    assert_ne!(worlds[0].state_digest(), worlds[1].state_digest(), "each world has its own seed");
    let e = beanworld_rl::batched("dqn", &scenario("jbw-v0.ron"), &[1], 1).err().expect("refused");
    assert!(e.to_string().contains("ppo-scent"), "{e}");
    let e = beanworld_rl::batched("ppo(rollout: \"x\")", &scenario("jbw-v0.ron"), &[1], 1)
        .err()
        .expect("refused");
    assert!(e.to_string().contains("rollout") || e.to_string().contains("1:"), "{e}");
    let e = beanworld_rl::batched("ppo", &scenario("jbw-v0.ron"), &[], 1).err().expect("refused");
    assert!(e.to_string().contains("at least one world"), "{e}");
}

/// The classic world with jelly beans dense (intensity −2, no repulsion between them): a
/// learner that follows their scent collects several times what a random walk does.
fn dense() -> Scenario {
    worth(1)
}

/// [`dense`] with a jelly bean worth `value`.
fn worth(value: u32) -> Scenario {
    let mut text =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/jbw-v0.ron"))
            .expect("readable");
    let at = text.find("name: \"jellybean\"").expect("a jellybean");
    let rest = text[at..].replacen("intensity: Constant(-5.3)", "intensity: Constant(-2.0)", 1).replacen(
        "\"jellybean\": PiecewiseBox(l1: 10, l2: 200, c1: 0, c2: -6)",
        "\"jellybean\": PiecewiseBox(l1: 10, l2: 200, c1: 0, c2: 0)",
        1,
    );
    text.replace_range(at.., &rest);
    let task = "task: Fixed(Collect(item: \"jellybean\", value: 1))";
    assert!(text.contains(task), "v0's task");
    text = text.replace(task, &format!("task: Fixed(Collect(item: \"jellybean\", value: {value}))"));
    let mut s = Scenario::parse(&text, "dense.ron").unwrap_or_else(|e| panic!("{e}"));
    for group in &mut s.agents {
        group.policy = beanworld_sim::policy::PolicyKind::External;
    }
    s
}

/// With reward scaling the update does not see the rewards' unit: a jelly bean worth 10 trains
/// the weights that one worth 1 does (to rounding, which the 10⁻⁸ added to the variance and the
/// sums' order leave), where without it they part at once; and what it divides by is reported.
#[test]
fn reward_scaling_makes_the_update_blind_to_the_rewards_unit() {
    let seeds: Vec<u64> = (0..4).collect();
    let train = |name: &str, value: u32| {
        let mut ppo = beanworld_rl::batched(name, &worth(value), &seeds, 1).unwrap_or_else(|e| panic!("{e}"));
        let mut rewarded = 0.0;
        for _ in 0..200 {
            ppo.step().unwrap_or_else(|e| panic!("{e}"));
            rewarded += ppo.rewards().iter().map(|&r| f64::from(r)).sum::<f64>();
        }
        assert!(rewarded > 0.0, "{name}: no reward to scale");
        let deviation = ppo.learner().last_update().and_then(|u| u.reward_deviation);
        (ppo.learner().weights(), deviation)
    };
    let apart = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    let scaled = "ppo-scent(rollout: 32, reward_scale: true)";
    let ((one, d1), (ten, d10)) = (train(scaled, 1), train(scaled, 10));
    let (d1, d10) = (d1.expect("reported"), d10.expect("reported"));
    assert!((d10 / d1 - 10.0).abs() < 1e-3, "the deviation follows the unit: {d1} and {d10}");
    assert!(apart(&one, &ten) < 1e-5, "scaled, the unit changed the weights by {}", apart(&one, &ten));
    let plain = "ppo-scent(rollout: 32)";
    let ((one, d1), (ten, _)) = (train(plain, 1), train(plain, 10));
    assert_eq!(d1, None, "nothing divided, nothing reported");
    assert!(apart(&one, &ten) > 1e-3, "unscaled, the unit changed the weights by only {}", apart(&one, &ten));
}

/// The learning regression: 16 worlds of the dense world, 2,000 steps. Measured here: a random
/// walk collects 0.016 jelly beans per step, the greedy scent follower 0.059, and this learner
/// 0.025 over its first 500 steps and about 0.07 over its last 500.
#[test]
fn ppo_learns_to_follow_the_scent_in_a_dense_world() {
    let seeds: Vec<u64> = (0..16).collect();
    let mut ppo = beanworld_rl::batched("ppo-scent(rollout: 64)", &dense(), &seeds, 2)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut rates = Vec::new();
    for _ in 0..4 {
        let mut reward = 0.0;
        for _ in 0..500 {
            ppo.step().unwrap_or_else(|e| panic!("{e}"));
            reward += ppo.rewards().iter().map(|&r| f64::from(r)).sum::<f64>();
        }
        rates.push(reward / (500.0 * 16.0));
    }
    assert!(rates[0] < 0.04, "it knew before learning? {rates:?}");
    assert!(rates[3] > 0.05, "it did not learn to follow the scent: {rates:?}");
}

#[test]
fn shrink_and_perturb_moves_the_weights_by_the_stated_amount() {
    let name = |extra: &str| format!("ppo-scent(hidden: 16, rollout: 32, minibatch: 24{extra})");
    // One update (after 32 steps of the three worlds) by step 40.
    let plain = trained(&name(""), 1, 40);
    assert_eq!(plain.learner().updates(), 1);
    let w = plain.learner().weights();
    // Shrunk by half and perturbed by nothing: exactly half the weights of the same update.
    let half = trained(&name(", shrink_perturb: (every: 1, shrink: 0.5, perturb: 0.0)"), 1, 40);
    assert!(half.learner().weights().iter().zip(&w).all(|(h, w)| *h == 0.5 * w), "halved");
    // Kept whole and perturbed by 0.1 of a fresh network: moved by a tenth of a network's norm
    // (a fresh network's weights are drawn as the first ones were).
    let norm = |v: &mut dyn Iterator<Item = f32>| v.map(|x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    let moved = trained(&name(", shrink_perturb: (every: 1, shrink: 1.0, perturb: 0.1)"), 1, 40);
    let distance = norm(&mut moved.learner().weights().iter().zip(&w).map(|(m, w)| m - w));
    let initial = norm(&mut trained(&name(""), 1, 1).learner().weights().into_iter());
    assert!((distance / (0.1 * initial) - 1.0).abs() < 0.15, "moved {distance}, a network's norm {initial}");
    // Off by default, and not before its update comes.
    let later = trained(&name(", shrink_perturb: (every: 2, shrink: 0.5)"), 1, 40);
    assert!(later.learner().weights() == w, "every 2 updates: not yet");
}

#[test]
fn l2_init_keeps_the_weights_near_where_they_started() {
    let name = |extra: &str| format!("ppo-scent(hidden: 16, rollout: 32, minibatch: 24{extra})");
    let distance = |ppo: &BatchedPpo| {
        let d = ppo.learner().last_update().and_then(|u| u.diagnostics.as_ref()).map(|d| d.init_distance);
        d.expect("diagnostics with every update")
    };
    // Six updates; the pull toward the start grows with the distance, so it tells by then.
    let (plain, pulled) = (trained(&name(""), 1, 200), trained(&name(", l2_init: 1.0"), 1, 200));
    assert_eq!(pulled.learner().updates(), 6);
    let (free, held) = (distance(&plain), distance(&pulled));
    assert!(held < 0.8 * free, "{held} from the start with L2-init, {free} without");
}

#[test]
fn continual_backprop_replaces_mature_units_and_a_checkpoint_keeps_their_record() {
    // Three worlds of 32 steps, minibatches of 24: 16 Adam steps an update. Units are mature
    // after 20, so from the second update on each layer owes 0.01 × 16 of its units.
    let name = "ppo-scent(hidden: 16, rollout: 32, minibatch: 24, continual_backprop: (replacement_rate: 0.01, maturity: 20))";
    let replaced = |ppo: &BatchedPpo| ppo.learner().last_update().and_then(|u| u.replaced);
    let mut whole = trained(name, 1, 40);
    assert_eq!(replaced(&whole), Some(0), "not yet mature");
    let saved = whole.checkpoint().unwrap_or_else(|e| panic!("{e}"));
    for _ in 0..40 {
        whole.step().unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(whole.learner().updates(), 2);
    // s1 (32 units) owes 5.12, s2 (16 units) 2.56.
    assert_eq!(replaced(&whole), Some(7));
    // The record of every unit (utility, age, what is owed) is part of the learner: loaded
    // from the checkpoint, its units are as old as they were and are replaced at its next
    // update (a fresh record would make them 16 Adam steps old, not yet mature).
    let mut loaded = trained(name, 1, 0);
    loaded.load_checkpoint(&saved).unwrap_or_else(|e| panic!("{e}"));
    for _ in 0..40 {
        loaded.step().unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(loaded.learner().updates(), 2);
    assert_eq!(replaced(&loaded), Some(7));
    // Off by default.
    let plain = trained("ppo-scent(hidden: 16, rollout: 32, minibatch: 24)", 1, 40);
    assert_eq!(replaced(&plain), None);
    // Refused where it cannot work.
    let refused = |name: &str| beanworld_rl::batched(name, &scenario("jbw-v0.ron"), &[5], 1).err();
    let why = refused("ppo-scent(layer_norm: true, continual_backprop: (replacement_rate: 1e-4))");
    assert!(why.is_some_and(|e| e.to_string().contains("cannot be combined")));
    let why = refused("ppo-scent(redo: (every: 1), continual_backprop: (replacement_rate: 1e-4))");
    assert!(why.is_some_and(|e| e.to_string().contains("cannot be combined")));
    let why = refused("ppo-scent(continual_backprop: (replacement_rate: 1e-4, decay: 1.0))");
    assert!(why.is_some_and(|e| e.to_string().contains("decay")));
}

/// Collecting a rollout's steps and then updating is what stepping does; and an update taken
/// apart — each minibatch's gradients written out as named tensors, read back and applied, as a
/// data-parallel learner's replicas exchange them — gives the same weights bit for bit.
#[test]
fn an_update_taken_apart_through_named_gradients_is_the_same_update() {
    let name = "ppo(hidden: 8, rollout: 16, minibatch: 20, epochs: 2)";
    let stepped = trained(name, 1, 49);
    assert_eq!(stepped.learner().updates(), 3);

    let make = || {
        beanworld_rl::batched(name, &scenario("jbw-v0.ron"), &[5, 6, 7], 1).unwrap_or_else(|e| panic!("{e}"))
    };
    let mut collected = make();
    let mut apart = make();
    for _ in 0..3 {
        collected.collect(16).unwrap_or_else(|e| panic!("{e}"));
        assert!(collected.update());
        apart.collect(16).unwrap_or_else(|e| panic!("{e}"));
        let mut update = apart.begin_update().expect("steps to learn from");
        assert_eq!(update.samples(), 48);
        let mut minibatches = 0;
        while let Some(gradients) = apart.learner_mut().next_gradients(&mut update) {
            let learner = apart.learner_mut();
            let named = learner.gradient_tensors(&gradients);
            assert_eq!(named.len(), learner.weight_tensors().len());
            let back = learner.gradients_from(named).unwrap_or_else(|e| panic!("{e}"));
            learner.apply(back);
            minibatches += 1;
        }
        // 48 samples in minibatches of 20: 3 per pass, 2 passes.
        assert_eq!(minibatches, 6);
        apart.learner_mut().finish_update(update);
    }
    let weights = stepped.learner().weights();
    assert!(collected.learner().weights() == weights, "collect and update differ from stepping");
    assert!(apart.learner().weights() == weights, "the update taken apart differs");
    assert_eq!(apart.learner().updates(), 3);

    // Gradients of another network are refused, naming what differs.
    let other = beanworld_rl::batched("ppo(hidden: 4)", &scenario("jbw-v0.ron"), &[5], 1)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut update = {
        apart.collect(4).unwrap_or_else(|e| panic!("{e}"));
        apart.begin_update().expect("steps to learn from")
    };
    let g = apart.learner_mut().next_gradients(&mut update).expect("a minibatch");
    let named = apart.learner().gradient_tensors(&g);
    let e = other.learner().gradients_from(named).expect_err("refused").to_string();
    assert!(e.contains("do not fit") && e.contains("[8"), "{e}");
}

#[test]
fn an_update_in_parts_is_the_whole_update_to_rounding_and_repeats_exactly() {
    // A vision network, minibatches of 20 steps in 2 and in 3 uneven parts; and a recurrent
    // scent network with L2-init (a penalty added once per minibatch, not once per part) whose
    // rollouts of 16 steps make sequences of 5, 5, 5 and 1 (padded) in minibatches of 3.
    for settings in [
        "hidden: 8, rollout: 16, minibatch: 20, epochs: 2",
        "lstm: true, sequence: 5, l2_init: 0.01, rollout: 16, minibatch: 15",
    ] {
        let name = |shards: usize| {
            let kind = if settings.contains("lstm") { "ppo-scent" } else { "ppo" };
            format!("{kind}({settings}, shards: {shards})")
        };
        let whole = trained(&name(1), 1, 49);
        assert_eq!(whole.learner().updates(), 3);
        let reference = whole.learner().weights();
        for shards in [2, 3] {
            let parts = trained(&name(shards), 1, 49);
            let weights = parts.learner().weights();
            let largest = reference.iter().zip(&weights).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            // Sums in another order round differently (measured: 1.5e-8 for the vision network,
            // 3e-8 for the recurrent one), so the parts were computed and summed.
            assert!(largest > 0.0, "{}: the same bits as in one piece", name(shards));
            assert!(largest < 1e-6, "{}: in parts the weights differ by {largest}", name(shards));
            let again = trained(&name(shards), 2, 49);
            assert!(again.learner().weights() == weights, "{}: not reproducible", name(shards));
            let (a, b) = (whole.learner().last_update(), parts.learner().last_update());
            let (a, b) = (a.expect("an update"), b.expect("an update"));
            assert_eq!((a.samples, a.minibatches), (b.samples, b.minibatches));
            for (x, y) in
                [(a.policy_loss, b.policy_loss), (a.value_loss, b.value_loss), (a.entropy, b.entropy)]
            {
                assert!(
                    (x - y).abs() <= 1e-4 * x.abs().max(1.0),
                    "{}: measured {x} whole, {y} in parts",
                    name(shards)
                );
            }
        }
    }
}
