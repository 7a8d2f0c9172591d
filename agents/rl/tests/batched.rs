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
