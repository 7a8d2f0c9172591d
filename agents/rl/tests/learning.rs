//! PPO and DQN learn what is rewarded, and their states round-trip exactly.

mod common;

use beanworld_agents::{Agent, AgentError, Driver, Frozen, Observation, Registry};
use beanworld_rl::dqn::{self, Dqn};
use beanworld_rl::mitigate::{ContinualBackprop, Redo, ShrinkPerturb};
use beanworld_rl::net::Senses;
use beanworld_sim::Config;
use beanworld_sim::action::{Action, Move};
use common::{config, learner};

/// Steps `agent` `steps` times in a bandit: the observation is fixed (`vision`, `scent`) and
/// moving forward pays 1. `previous` is the action before the first step (whose reward comes
/// first), and the last one after. Returns the actions taken.
fn bandit(
    agent: &mut dyn Agent,
    steps: usize,
    vision: &[f32],
    scent: &[f32],
    previous: &mut Option<Action>,
) -> Vec<Action> {
    let inventory = [0u32; 4];
    let mut taken = Vec::with_capacity(steps);
    for step in 0..steps {
        let reward = match previous {
            Some(Action::Move { direction: Move::Forward, .. }) => 1.0,
            _ => 0.0,
        };
        let observation = Observation {
            id: 1,
            step: step as u64,
            scent,
            vision,
            moved: true,
            inventory: &inventory,
            reward,
            task: &[],
        };
        if let Some(p) = *previous {
            agent.learn(p, &observation);
        }
        let action = agent.act(&observation);
        taken.push(action);
        *previous = Some(action);
    }
    taken
}

fn forward_share(actions: &[Action]) -> f64 {
    let forward =
        actions.iter().filter(|a| matches!(a, Action::Move { direction: Move::Forward, .. })).count();
    forward as f64 / actions.len() as f64
}

#[test]
fn ppo_learns_to_take_the_rewarded_action() {
    let config = config();
    let vision = vec![0.25; 11 * 11 * 3];
    let scent = vec![0.5; 3];
    for name in ["ppo", "ppo-vision", "ppo-scent", "ppo(lstm: true)"] {
        let mut agent = learner(name, &config, 1, 7).expect("made");
        let actions = bandit(agent.as_mut(), 16 * 512, &vision, &scent, &mut None);
        // v0 allows forward, left and right: a third each at first.
        let (first, last) = (forward_share(&actions[..512]), forward_share(&actions[15 * 512..]));
        assert!(first < 0.5, "{name}: at first forward is one choice of three ({first})");
        assert!(
            last > 0.9,
            "{name}: after fifteen updates forward is nearly always chosen ({first} → {last})"
        );
    }
}

/// Steps `agent` through `phases` phases of `length` steps in which moving forward pays +1 and
/// −1 in turn (turning pays 0), the observation fixed but for the task's coefficients, which say
/// what forward pays. Returns each phase's share of forward moves over its second half.
fn switching_bandit(agent: &mut dyn Agent, phases: usize, length: usize) -> Vec<f64> {
    let (vision, scent, inventory) = (vec![0.25; 11 * 11 * 3], vec![0.5; 3], [0u32; 4]);
    let mut task = vec![0.0; beanworld_sim::task::Reward::coefficients_len(4)];
    let mut previous = None;
    let mut taken = Vec::with_capacity(length);
    (0..phases)
        .map(|phase| {
            let pays = if phase % 2 == 0 { 1.0 } else { -1.0 };
            task[0] = pays;
            taken.clear();
            for step in 0..length {
                // The first reward of a phase is for the last action of the one before.
                let reward = match previous {
                    Some(Action::Move { direction: Move::Forward, .. }) if step > 0 => pays,
                    Some(Action::Move { direction: Move::Forward, .. }) => -pays,
                    _ => 0.0,
                };
                let observation = Observation {
                    id: 1,
                    step: (phase * length + step) as u64,
                    scent: &scent,
                    vision: &vision,
                    moved: true,
                    inventory: &inventory,
                    reward,
                    task: &task,
                };
                if let Some(p) = previous {
                    agent.learn(p, &observation);
                }
                let action = agent.act(&observation);
                taken.push(action);
                previous = Some(action);
            }
            forward_share(&taken[length / 2..])
        })
        .collect()
}

#[test]
fn frozen_learners_learn_nothing() {
    let config = config();
    let (vision, scent) = (vec![0.25; 11 * 11 * 3], vec![0.5; 3]);
    for name in ["ppo", "ppo(lstm: true)", "dqn(warmup: 256, epsilon_steps: 1500, target_every: 250)"] {
        let mut frozen = Frozen::new(learner(name, &config, 1, 7).expect("made"));
        let actions = bandit(&mut frozen, 6000, &vision, &scent, &mut None);
        let last = forward_share(&actions[4000..]);
        assert!(last < 0.5, "{name}: frozen, forward stays one choice of three ({last})");
    }
}

#[test]
fn a_reward_aware_learner_recovers_faster_in_later_cycles() {
    let config = config();
    let made = |name: &str| learner(name, &config, 1, 3).expect("made");
    let mut aware = made("ppo-scent(reward_aware: true, rollout: 256)");
    let shares = switching_bandit(aware.as_mut(), 10, 8192);
    let (paid, penalised) = (shares[8], shares[9]);
    assert!(paid > 0.9 && penalised < 0.1, "forward when it pays, not when it costs: {shares:?}");
    assert!(shares[1] > 3.0 * penalised, "the first switch takes longest to learn: {shares:?}");
    // Without the task it cannot tell the phases apart: what one phase teaches the next unteaches.
    let mut plain = made("ppo-scent(rollout: 256)");
    let shares = switching_bandit(plain.as_mut(), 10, 8192);
    assert!(shares[8] - shares[9] < 0.5, "a plain learner tells the phases apart? {shares:?}");
    // DQN the same way: reward-aware, it takes up each phase's policy at once from the second
    // cycle on; plain, the penalties teach it to stop moving forward for good.
    let quick = |reward_aware| dqn::Settings {
        warmup: 256,
        epsilon_steps: 1500,
        target_every: 250,
        reward_aware,
        ..dqn::Settings::default()
    };
    let mut aware =
        Dqn::new("dqn", &config, Senses::Scent, quick(true), 1, 5).unwrap_or_else(|e| panic!("{e}"));
    let shares = switching_bandit(&mut aware, 6, 4096);
    assert!(shares[4] > 0.9 && shares[5] < 0.1, "DQN, reward-aware: {shares:?}");
    let mut plain =
        Dqn::new("dqn", &config, Senses::Scent, quick(false), 1, 5).unwrap_or_else(|e| panic!("{e}"));
    let shares = switching_bandit(&mut plain, 6, 4096);
    assert!(shares[4] < 0.5, "DQN, plain, moves forward again? {shares:?}");
}

#[test]
fn exploration_keeps_every_action_in_play() {
    let config = config();
    let (vision, scent) = (vec![0.25; 11 * 11 * 3], vec![0.5; 3]);
    let mut agent = learner("ppo-scent(explore: 0.3)", &config, 1, 7).expect("made");
    let actions = bandit(agent.as_mut(), 16 * 512, &vision, &scent, &mut None);
    let last = forward_share(&actions[15 * 512..]);
    // Forward is learnt, but a tenth of the steps still go to each turn (0.3 / 3 actions).
    assert!(last > 0.75 && last < 0.85, "forward at most 1 − 0.2 of the time, give or take: {last}");
    let err = learner("ppo(explore: 1.0)", &config, 1, 7).err().expect("refused");
    assert!(err.to_string().contains("explore must be at least 0 and below 1"), "{err}");
}

#[test]
fn a_schedule_that_would_reverse_or_raise_the_learning_rate_is_refused() {
    let config = config();
    for to in ["-0.5", "1.5"] {
        let err =
            learner(&format!("ppo(anneal: (updates: 10, to: {to}))"), &config, 1, 7).err().expect("refused");
        assert!(err.to_string().contains("anneal's to"), "{err}");
    }
    assert!(learner("ppo(anneal: (updates: 10, to: 0.1))", &config, 1, 7).is_ok());
}

#[test]
fn a_restored_learner_goes_on_exactly_as_the_original() {
    let config = config();
    let vision: Vec<f32> = (0..11 * 11 * 3).map(|i| (i % 7) as f32 / 7.0).collect();
    let scent = vec![0.1, 0.2, 0.3];
    // With an LSTM the state also holds the agent's memory and the memories of its rollout.
    for name in ["ppo", "ppo(lstm: true, sequence: 8)"] {
        let mut original = learner(name, &config, 3, 11).expect("made");
        // Mid-rollout, after one update; the last action's reward is still to come.
        let mut last = None;
        bandit(original.as_mut(), 700, &vision, &scent, &mut last);
        let state = original.save();
        // A second learner made and trained alike saves the same bytes (burn's own parameter ids,
        // which its records name Adam's moments by, differ from one network to the next).
        let mut twin = learner(name, &config, 3, 11).expect("made");
        bandit(twin.as_mut(), 700, &vision, &scent, &mut None);
        assert!(twin.save() == state, "{name}: a twin's state is the same bytes");
        let mut restored = learner(name, &config, 3, 11).expect("made");
        restored.load(&state).unwrap_or_else(|e| panic!("{e}"));
        let a = bandit(original.as_mut(), 1200, &vision, &scent, &mut last.clone());
        let b = bandit(restored.as_mut(), 1200, &vision, &scent, &mut last);
        assert!(a == b, "{name}: the same actions through two more updates");
    }
    let mut original = learner("ppo", &config, 3, 11).expect("made");
    bandit(original.as_mut(), 700, &vision, &scent, &mut None);
    let state = original.save();
    // Someone else's state is refused with a reason.
    let mut other = learner("ppo-scent", &config, 3, 11).expect("made");
    let err = other.load(&state).expect_err("another learner's state");
    assert!(err.to_string().contains("is not this one"), "{err}");
    assert!(
        other.load(b"garbage").expect_err("garbage").to_string().contains("not a ppo-scent learner's state")
    );
}

/// DQN with a short exploration schedule, as the bandit needs.
fn quick_dqn(config: &Config, senses: Senses, id: u32) -> Dqn {
    quick_dqn_with(config, senses, id, |_| {})
}

/// [`quick_dqn`] with its settings changed by `change`.
fn quick_dqn_with(config: &Config, senses: Senses, id: u32, change: impl FnOnce(&mut dqn::Settings)) -> Dqn {
    let mut settings =
        dqn::Settings { warmup: 256, epsilon_steps: 1500, target_every: 250, ..dqn::Settings::default() };
    change(&mut settings);
    Dqn::new("dqn", config, senses, settings, id, 5).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn dqn_learns_to_take_the_rewarded_action() {
    let config = config();
    let vision = vec![0.25; 11 * 11 * 3];
    let scent = vec![0.5; 3];
    for senses in [Senses::Both, Senses::Vision, Senses::Scent] {
        let mut agent = quick_dqn(&config, senses, 2);
        let actions = bandit(&mut agent, 3000, &vision, &scent, &mut None);
        let (first, last) = (forward_share(&actions[..300]), forward_share(&actions[2500..]));
        assert!(first < 0.5, "{senses:?}: while exploring, forward is one choice of three ({first})");
        // ε is 0.05 by then: greedy forward plus a third of the random choices.
        assert!(last > 0.9, "{senses:?}: once trained, forward is nearly always chosen ({first} → {last})");
        assert!(agent.updates() > 600, "{senses:?}: it trained every 4 steps after the warm-up");
    }
}

/// [`bandit`] a step at a time, with what the agent reports after each (its index among the
/// steps, and the report).
fn reporting_bandit(
    agent: &mut dyn Agent,
    steps: usize,
    vision: &[f32],
    scent: &[f32],
    previous: &mut Option<Action>,
) -> (Vec<Action>, Vec<(usize, String)>) {
    let (mut actions, mut reports) = (Vec::with_capacity(steps), Vec::new());
    for step in 0..steps {
        actions.extend(bandit(agent, 1, vision, scent, previous));
        reports.extend(agent.take_report().map(|r| (step, r)));
    }
    (actions, reports)
}

#[test]
fn dqn_reports_each_refresh_of_its_target_network() {
    let config = config();
    let (vision, scent) = (vec![0.25; 11 * 11 * 3], vec![0.5; 3]);
    let mut agent = quick_dqn(&config, Senses::Both, 2);
    let (_, reports) = reporting_bandit(&mut agent, 1000, &vision, &scent, &mut None);
    // Refreshes after 250, 500 and 750 rewards (the first reward comes with the second step);
    // the first is in the warm-up (256 steps), before any Adam step, and says nothing.
    let at: Vec<usize> = reports.iter().map(|(step, _)| *step).collect();
    assert_eq!(at, [500, 750]);
    let mut updates = 0;
    for (_, report) in &reports {
        let line: serde_json::Value = serde_json::from_str(report).expect("a JSON object");
        let adam_steps = line["adam_steps"].as_u64().expect("adam_steps");
        updates += adam_steps;
        assert!(adam_steps > 60, "{report}");
        assert_eq!(line["updates"].as_u64(), Some(updates), "{report}");
        let (loss, target) = (line["loss"].as_f64().expect("loss"), line["target"].as_f64().expect("target"));
        assert!(loss > 0.0 && loss.is_finite() && target.is_finite(), "{report}");
        assert_eq!(line["learning_rate"].as_f64(), Some(2.5e-4), "{report}");
        // The plasticity diagnostics, on the newest 256 steps of the replay ring.
        assert_eq!(line["probe_rows"].as_u64(), Some(256), "{report}");
        assert!(line["srank"].as_u64().is_some_and(|r| r >= 1) && line["init_distance"].as_f64() > Some(0.0));
        assert!(line["dormant_by_layer"]["c1"].is_f64() && line["dormant_0.1"].is_f64(), "{report}");
    }
    let epsilon = |k: usize| {
        serde_json::from_str::<serde_json::Value>(&reports[k].1).expect("JSON")["epsilon"].as_f64()
    };
    assert!(epsilon(1) < epsilon(0), "ε falls");
}

#[test]
fn a_restored_dqn_learner_goes_on_exactly_as_the_original() {
    let config = config();
    let vision: Vec<f32> = (0..11 * 11 * 3).map(|i| (i % 5) as f32 / 5.0).collect();
    let scent = vec![0.3, 0.2, 0.1];
    // Plain, and with the mitigations that keep state or draw fresh weights (continual
    // backprop's record of its units, ReDo's and shrink-and-perturb's fresh networks).
    let mitigations: [fn(&mut dqn::Settings); 3] = [
        |_| {},
        |s| {
            s.continual_backprop =
                ContinualBackprop { replacement_rate: 0.01, maturity: 20, ..Default::default() }
        },
        |s| {
            s.redo = Redo { every: 16, tau: 0.5 };
            s.shrink_perturb = ShrinkPerturb { every: 40, ..Default::default() };
        },
    ];
    for mitigation in mitigations {
        let mut original = quick_dqn_with(&config, Senses::Both, 4, mitigation);
        // Past the warm-up and a target refresh, with the last reward still to come.
        let mut last = None;
        bandit(&mut original, 601, &vision, &scent, &mut last);
        let state = original.save();
        let mut twin = quick_dqn_with(&config, Senses::Both, 4, mitigation);
        bandit(&mut twin, 601, &vision, &scent, &mut None);
        assert!(twin.save() == state, "a twin's state is the same bytes");
        let mut restored = quick_dqn_with(&config, Senses::Both, 4, mitigation);
        restored.load(&state).unwrap_or_else(|e| panic!("{e}"));
        let a = reporting_bandit(&mut original, 1000, &vision, &scent, &mut last.clone());
        let b = reporting_bandit(&mut restored, 1000, &vision, &scent, &mut last);
        assert!(a == b, "the same actions and reports through 250 more Adam steps and four target refreshes");
        // The refreshes after 750, 1000, 1250 and 1500 rewards, and first the one after 500,
        // which nothing had taken a report of before the save.
        let at: Vec<usize> = a.1.iter().map(|(step, _)| *step).collect();
        assert_eq!(at, [0, 149, 399, 649, 899]);
        assert_eq!(original.updates(), restored.updates());
        assert!(original.weights() == restored.weights());
    }
    let original = quick_dqn(&config, Senses::Both, 4);
    let state = original.save();
    let mut other = quick_dqn(&config, Senses::Scent, 4);
    assert!(other.load(&state).expect_err("another learner's state").to_string().contains("is not this one"));
    assert!(other.load(b"garbage").expect_err("garbage").to_string().contains("not a DQN learner's state"));
}

/// The last report of `agent` after `steps` steps of the bandit, as JSON.
fn last_report(agent: &mut dyn Agent, steps: usize) -> serde_json::Value {
    let (vision, scent) = (vec![0.25; 11 * 11 * 3], vec![0.5; 3]);
    let (_, reports) = reporting_bandit(agent, steps, &vision, &scent, &mut None);
    let (_, last) = reports.last().expect("a report");
    serde_json::from_str(last).expect("a JSON object")
}

#[test]
fn dqn_takes_the_plasticity_mitigations() {
    let config = config();
    let (vision, scent) = (vec![0.25; 11 * 11 * 3], vec![0.5; 3]);
    // Shrink-and-perturb after each Adam step, shrinking by half and perturbing by nothing:
    // after the first, exactly half the weights of the same Adam step without it.
    let first_adam_step = |agent: &mut Dqn| {
        let mut previous = None;
        while agent.updates() == 0 {
            bandit(agent, 1, &vision, &scent, &mut previous);
        }
        agent.weights()
    };
    let plain = first_adam_step(&mut quick_dqn(&config, Senses::Both, 2));
    let halved = first_adam_step(&mut quick_dqn_with(&config, Senses::Both, 2, |s| {
        s.shrink_perturb = ShrinkPerturb { every: 1, shrink: 0.5, perturb: 0.0 };
    }));
    assert!(halved.iter().zip(&plain).all(|(h, w)| *h == 0.5 * w), "halved");
    // L2-init keeps the weights nearer where they started.
    let distance = |change: fn(&mut dqn::Settings)| {
        let report = last_report(&mut quick_dqn_with(&config, Senses::Both, 2, change), 1000);
        report["init_distance"].as_f64().expect("init_distance")
    };
    let (free, held) = (distance(|_| {}), distance(|s| s.l2_init = 1.0));
    assert!(held < 0.8 * free, "{held} from the start with L2-init, {free} without");
    // ReDo and continual backprop say in each report how many units they renewed; the
    // reports without them say nothing of it.
    let report = last_report(&mut quick_dqn(&config, Senses::Both, 2), 1000);
    assert!(report.get("recycled").is_none() && report.get("replaced").is_none(), "{report}");
    let mut redo = quick_dqn_with(&config, Senses::Both, 2, |s| s.redo = Redo { every: 10, tau: 0.5 });
    let report = last_report(&mut redo, 1000);
    assert!(report["recycled"].as_u64().is_some_and(|n| n > 0), "{report}");
    // Every unit is mature after 20 Adam steps, and a layer owes 1% of its units per step.
    let mut cbp = quick_dqn_with(&config, Senses::Both, 2, |s| {
        s.continual_backprop =
            ContinualBackprop { replacement_rate: 0.01, maturity: 20, ..Default::default() };
    });
    let report = last_report(&mut cbp, 1000);
    assert!(report["replaced"].as_u64().is_some_and(|n| n > 0), "{report}");
    // LayerNorm adds a gain and a bias per hidden unit, and the network still learns.
    let mut normed = quick_dqn_with(&config, Senses::Both, 2, |s| s.layer_norm = true);
    assert!(normed.weights().len() > plain.len());
    let actions = bandit(&mut normed, 3000, &vision, &scent, &mut None);
    assert!(forward_share(&actions[2500..]) > 0.9, "it learns with LayerNorm");
    // Refused where they cannot work.
    let made = |name: &str| learner(name, &config, 1, 0).err().map(|e| e.to_string());
    let why = made("dqn(layer_norm: true, redo: (every: 100))");
    assert!(why.is_some_and(|e| e.contains("cannot be combined")));
    let why = made("dqn-scent(redo: (every: 1), continual_backprop: (replacement_rate: 1e-4))");
    assert!(why.is_some_and(|e| e.contains("cannot be combined")));
    assert!(learner("dqn-scent(l2_init: 0.001, shrink_perturb: (every: 1000))", &config, 1, 0).is_ok());
}

#[test]
fn learners_take_settings_after_their_names() {
    let config = config();
    let made = |name: &str| learner(name, &config, 1, 0);
    assert!(made("ppo-scent(entropy_weight: 0.05, rollout: 64)").is_ok());
    assert!(made("dqn(n_step: 5)").is_ok());
    assert!(made("dqn-scent(reward_aware: true)").is_ok());
    assert!(made("ppo(lstm: true, sequence: 32, reward_aware: true)").is_ok());
    let err = made("ppo(lstm: true, sequence: 0)").err().expect("no steps to backpropagate through");
    assert!(err.to_string().contains("sequence must be at least 1"), "{err}");
    let err = made("ppo(entropy: 0.05)").err().expect("an unknown field");
    assert!(err.to_string().contains("Unexpected field named `entropy`"), "{err}");
    let err = made("dqn(replay: 2, n_step: 3)").err().expect("a replay buffer too small");
    assert!(err.to_string().contains("must hold more than n_step steps"), "{err}");
    let err = made("ppo-smell").err().expect("not a learner's name");
    assert!(matches!(err, AgentError::UnknownAgent { .. }), "{err}");
    // A learner with other settings is another learner: its state is refused.
    let a = made("ppo(rollout: 64)").expect("made");
    let mut b = made("ppo(rollout: 65)").expect("made");
    assert!(b.load(&a.save()).is_err());
}

#[test]
fn shared_names_make_teams_that_take_settings() {
    let config = config();
    let mut registry = Registry::new();
    registry.add(beanworld_rl::ENTRIES);
    for name in ["ppo-shared", "ppo-shared-vision", "ppo-shared-scent(rollout: 64, lstm: true)"] {
        match registry.make(name, &config, 3, 11) {
            Ok(Driver::Team(team)) => assert_eq!(team.name(), name),
            Ok(Driver::Agent(_)) => panic!("{name}: an agent, not a team"),
            Err(e) => panic!("{name}: {e}"),
        }
    }
    let err = registry.make("ppo-shared(rollout: 0)", &config, 3, 11).err().expect("no rollout");
    assert_eq!(err.to_string(), "rollout, minibatch, epochs and shards must be at least 1");
    let err = registry.make("ppo-shared(rollout: -1)", &config, 3, 11).err().expect("not a size");
    assert!(err.to_string().starts_with("the settings of \"ppo-shared\" (rollout: -1): "), "{err}");
}

/// Steps `agent` through `steps` steps in which every 8th observation shows a cue — a scent of
/// +1 or −1, drawn at random — and the other seven show nothing; on those seven, moving forward
/// pays the cue (turning pays 0). Returns the share of forward moves on the blank steps after a
/// +1 cue and after a −1 cue, over the last quarter of the steps.
fn remember_the_cue(agent: &mut dyn Agent, steps: usize) -> (f64, f64) {
    let (vision, inventory) = (vec![0.0; 11 * 11 * 3], [0u32; 4]);
    let mut previous: Option<Action> = None;
    let (mut cue, mut last_cue) = (1.0f32, 1.0f32);
    let mut counts = [[0usize; 2]; 2]; // [after +1, after −1][forward, all]
    let mut draws = 0x2545_f491_4f6c_dd1du64;
    for step in 0..steps {
        let blank = step % 8 != 0;
        // The reward for the last action, taken at step − 1.
        let reward = match previous {
            Some(Action::Move { direction: Move::Forward, .. }) if (step - 1) % 8 != 0 => last_cue,
            _ => 0.0,
        };
        if !blank {
            draws ^= draws << 13;
            draws ^= draws >> 7;
            draws ^= draws << 17;
            cue = if draws & 1 == 0 { 1.0 } else { -1.0 };
        }
        let scent = if blank { [0.0, 0.0, 0.0] } else { [cue, 0.0, 0.0] };
        let observation = Observation {
            id: 1,
            step: step as u64,
            scent: &scent,
            vision: &vision,
            moved: false,
            inventory: &inventory,
            reward,
            task: &[],
        };
        if let Some(p) = previous {
            agent.learn(p, &observation);
        }
        let action = agent.act(&observation);
        if blank && step >= steps * 3 / 4 {
            let row = usize::from(cue < 0.0);
            counts[row][0] += usize::from(matches!(action, Action::Move { direction: Move::Forward, .. }));
            counts[row][1] += 1;
        }
        last_cue = cue;
        previous = Some(action);
    }
    let share = |row: [usize; 2]| row[0] as f64 / row[1].max(1) as f64;
    (share(counts[0]), share(counts[1]))
}

#[test]
fn an_lstm_learner_remembers_what_it_saw() {
    let config = config();
    let made = |name: &str| learner(name, &config, 1, 5).expect("made");
    let mut lstm = made("ppo-scent(lstm: true, rollout: 256)");
    let (after_good, after_bad) = remember_the_cue(lstm.as_mut(), 60_000);
    assert!(
        after_good - after_bad > 0.4,
        "forward after a good cue ({after_good}), not after a bad one ({after_bad})"
    );
    // Without a memory the blank steps all look alike.
    let mut plain = made("ppo-scent(rollout: 256)");
    let (after_good, after_bad) = remember_the_cue(plain.as_mut(), 60_000);
    assert!((after_good - after_bad).abs() < 0.15, "a plain learner remembers? {after_good} vs {after_bad}");
}
