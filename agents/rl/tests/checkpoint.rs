//! Portable checkpoints of a batched PPO learner: saved and loaded, a run goes on bit-exactly;
//! the weights are plain named f32 tensors that can be read, changed and loaded back; a network
//! of another shape, and a damaged file, are refused with the reason.

use std::path::PathBuf;

use beanworld_rl::ppo::checkpoint::{self, FORMAT};
use beanworld_rl::ppo::{BatchedPpo, Loaded};
use beanworld_sim::Scenario;
use burn::store::burn_pack::Tensor as PackTensor;
use burn::tensor::{Bytes, DType};

const NAME: &str = "ppo-scent(hidden: 16, rollout: 32, minibatch: 24)";

fn learner(name: &str, seeds: &[u64]) -> BatchedPpo {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/jbw-v0.ron");
    let mut s = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    for group in &mut s.agents {
        group.policy = beanworld_sim::policy::PolicyKind::External;
    }
    beanworld_rl::batched(name, &s, seeds, 1).unwrap_or_else(|e| panic!("{e}"))
}

fn steps(ppo: &mut BatchedPpo, n: usize) {
    for _ in 0..n {
        ppo.step().unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn a_checkpoint_continues_a_run_bit_exactly() {
    // 50 steps: one update at 33, and a rollout half full when saved.
    let mut whole = learner(NAME, &[5, 6]);
    steps(&mut whole, 50);
    let saved = whole.checkpoint().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(saved, whole.checkpoint().expect("saved twice"), "the same learner, the same bytes");
    let read = checkpoint::read(&saved).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read.about.format, FORMAT);
    assert_eq!((read.about.steps, read.about.streams, read.about.updates), (50, 2, 1));
    assert!(read.weights.iter().any(|t| t.name == "policy.weight"), "named weights");

    // A checkpoint holds the learner, not its worlds, which start afresh: two runs from it are
    // the same run.
    let mut continued = learner(NAME, &[5, 6]);
    let loaded = continued.load_checkpoint(&saved).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded, Loaded { state: true, rollouts: true, steps: 50 });
    assert!(continued.learner().weights() == whole.learner().weights());
    let mut again = learner(NAME, &[5, 6]);
    again.load_checkpoint(&saved).unwrap_or_else(|e| panic!("{e}"));
    steps(&mut continued, 20);
    steps(&mut again, 20);
    // The half-full rollout came along: 20 more steps fill it.
    assert_eq!(continued.learner().updates(), 2);
    assert!(continued.learner().weights() == again.learner().weights(), "loading is deterministic");
    assert!(continued.learner().weights() != whole.learner().weights(), "it trained on");
    let later = checkpoint::read(&continued.checkpoint().expect("saved")).expect("read");
    assert_eq!(later.about.steps, 70, "steps count over runs");

    // Another number of streams takes the state but not the rollouts.
    let mut one = learner(NAME, &[9]);
    assert_eq!(
        one.load_checkpoint(&saved).expect("loaded"),
        Loaded { state: true, rollouts: false, steps: 50 }
    );
    // Other settings of the same shape take the weights only.
    let mut other =
        learner("ppo-scent(hidden: 16, rollout: 32, minibatch: 24, learning_rate: 0.001)", &[5, 6]);
    assert_eq!(
        other.load_checkpoint(&saved).expect("loaded"),
        Loaded { state: false, rollouts: false, steps: 50 }
    );
    assert!(other.learner().weights() == whole.learner().weights());

    // Settings are compared as settings: a checkpoint written before a setting existed (its
    // settings without `anneal`) is the same learner's, its missing setting at the default.
    let c = checkpoint::read(&saved).expect("read");
    let mut about = c.about.clone();
    let before = about.settings.clone();
    about.settings = before.replacen("anneal:(updates:0,to:0.0),", "", 1);
    assert_ne!(about.settings, before, "the settings name anneal: {before}");
    let older = checkpoint::write(&about, c.weights, c.state.as_deref().expect("a state")).expect("written");
    let mut resumed = learner(NAME, &[5, 6]);
    assert_eq!(
        resumed.load_checkpoint(&older).expect("loaded"),
        Loaded { state: true, rollouts: true, steps: 50 }
    );

    // A checkpoint of the format before (whose state held its settings in an earlier layout)
    // still gives its weights; its state is left, and Adam and the random stream start afresh.
    let c = checkpoint::read(&saved).expect("read");
    let mut about = c.about.clone();
    about.format = "beanworld-ppo-checkpoint-1".into();
    let earlier = checkpoint::write(&about, c.weights, b"an earlier layout").expect("written");
    let mut fresh = learner(NAME, &[5, 6]);
    assert_eq!(
        fresh.load_checkpoint(&earlier).expect("loaded"),
        Loaded { state: false, rollouts: false, steps: 50 }
    );
    assert!(fresh.learner().weights() == whole.learner().weights());
    about.format = "beanworld-ppo-checkpoint-0".into();
    let unknown = checkpoint::write(&about, Vec::new(), &[]).expect("written");
    let e = fresh.load_checkpoint(&unknown).expect_err("refused").to_string();
    assert!(e.contains("of format \"beanworld-ppo-checkpoint-0\""), "{e}");
}

#[test]
fn weights_changed_outside_are_what_the_learner_acts_on() {
    let mut ppo = learner(NAME, &[5]);
    steps(&mut ppo, 40);
    let read = checkpoint::read(&ppo.checkpoint().expect("saved")).expect("read");
    // Zero the policy head and write the weights back without the state, as numpy would.
    let weights: Vec<PackTensor> = read
        .weights
        .into_iter()
        .map(|t| {
            let zero = t.name.starts_with("policy.");
            let (name, dtype, shape, _, bytes) = t.into_parts().expect("bytes");
            let bytes = if zero { Bytes::from_bytes_vec(vec![0; bytes.len()]) } else { bytes };
            PackTensor::new(name, dtype, shape, None, bytes)
        })
        .collect();
    let mut fresh = learner(NAME, &[5]);
    let before = fresh.learner().weights();
    fresh.learner_mut().set_weights(weights.clone()).unwrap_or_else(|e| panic!("{e}"));
    let after = fresh.learner().weights();
    assert!(after != before);
    let zeros = after.iter().filter(|w| **w == 0.0).count();
    assert!(zeros >= 16 * 3 + 3, "the policy head is zero: {zeros} zeros");

    // A tensor of another shape, a missing one and an unknown one are all named.
    let mut wrong: Vec<PackTensor> = weights.into_iter().filter(|t| t.name != "value.bias").collect();
    wrong.push(PackTensor::new(
        "extra.weight".into(),
        DType::F32,
        vec![1],
        None,
        Bytes::from_bytes_vec(vec![0; 4]),
    ));
    let e = fresh.learner_mut().set_weights(wrong).expect_err("refused").to_string();
    assert!(e.contains("value.bias [1] is missing") && e.contains("extra.weight is not a weight"), "{e}");
    assert!(fresh.learner().weights() == after, "a refused load changes nothing");
}

#[test]
fn another_network_and_damaged_files_are_refused() {
    let mut ppo = learner(NAME, &[5]);
    steps(&mut ppo, 2);
    let saved = ppo.checkpoint().expect("saved");
    let mut wider = learner("ppo-scent(hidden: 32, rollout: 32, minibatch: 24)", &[5]);
    let e = wider.load_checkpoint(&saved).expect_err("refused").to_string();
    assert!(e.contains("policy.weight is [") && e.contains("in the checkpoint"), "{e}");
    let mut seeing = learner("ppo(hidden: 16)", &[5]);
    let e = seeing.load_checkpoint(&saved).expect_err("refused").to_string();
    assert!(e.contains("is missing"), "{e}");
    for (bytes, why) in [
        (saved[..saved.len() / 2].to_vec(), "not a safetensors file"),
        (b"not a checkpoint at all".to_vec(), "not a safetensors file"),
        (Vec::new(), "not a safetensors file"),
    ] {
        let e = ppo.load_checkpoint(&bytes).expect_err("refused").to_string();
        assert!(e.contains(why), "{e}");
    }
    // A safetensors file without the metadata is not a checkpoint.
    let plain = safetensors::serialize(
        [(
            "w",
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![1], &[0u8; 4]).expect("view"),
        )],
        None,
    )
    .expect("written");
    let e = ppo.load_checkpoint(&plain).expect_err("refused").to_string();
    assert!(e.contains("not a learner checkpoint"), "{e}");
}
