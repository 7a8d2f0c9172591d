//! A task whose answer is known and needs credit carried over several steps: a corridor.
//!
//! The agent stands on one of `LENGTH` cells and sees which (its scent is the position, its
//! vision a lit pixel there). Forward moves it a cell on, left a cell back (not past the
//! start), right leaves it where it is and pays a little (`BAIT`). Stepping forward off the last
//! cell pays 1 and puts it back at the start. Always forward is optimal and collects
//! `1/LENGTH` per step, four times the bait; but until the last cell forward pays nothing, so a
//! learner must carry the reward back through the discount to the first cells. A learner that
//! looks one step ahead (discount 0) takes the bait where it starts and stays there.

mod common;

use beanworld_agents::{Agent, Observation};
use beanworld_sim::action::{Action, Move, Turn};

const LENGTH: usize = 5;
const OPTIMAL: f64 = 1.0 / LENGTH as f64;
const BAIT: f32 = 0.05;

fn learner(name: &str, seed: u64) -> Box<dyn Agent> {
    common::learner(name, &common::config(), 1, seed).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Walks `agent` through the corridor for `steps` steps; returns the reward per step over the
/// last quarter and the share of forward moves there on each cell.
fn walk(agent: &mut dyn Agent, steps: usize) -> (f64, [f64; LENGTH]) {
    let inventory = [0u32; 4];
    let mut vision = vec![0.0f32; 11 * 11 * 3];
    let (mut cell, mut previous) = (0usize, None::<Action>);
    let (mut reward_sum, mut forward, mut visits) = (0.0, [0usize; LENGTH], [0usize; LENGTH]);
    for step in 0..steps {
        let reward = match previous {
            Some(Action::Move { direction: Move::Forward, .. }) if cell == LENGTH => {
                cell = 0;
                1.0
            }
            Some(Action::Turn(Turn::Right)) => BAIT,
            _ => 0.0,
        };
        let position = cell as f32 / (LENGTH - 1) as f32;
        let scent = [position, 1.0 - position, 0.0];
        vision.fill(0.0);
        vision[cell * 3] = 1.0;
        let observation = Observation {
            id: 1,
            step: step as u64,
            scent: &scent,
            vision: &vision,
            moved: true,
            inventory: &inventory,
            reward,
            task: &[],
        };
        if let Some(p) = previous {
            agent.learn(p, &observation);
        }
        let action = agent.act(&observation);
        let measured = step >= steps * 3 / 4;
        if measured {
            reward_sum += f64::from(reward);
            visits[cell] += 1;
        }
        match action {
            Action::Move { direction: Move::Forward, .. } => {
                forward[cell] += usize::from(measured);
                cell += 1;
            }
            Action::Turn(Turn::Left) => cell = cell.saturating_sub(1),
            _ => {}
        }
        previous = Some(action);
    }
    let shares = std::array::from_fn(|c| forward[c] as f64 / visits[c].max(1) as f64);
    (reward_sum / (steps - steps * 3 / 4) as f64, shares)
}

#[test]
fn ppo_carries_the_reward_back_down_the_corridor() {
    for name in ["ppo-scent(rollout: 256)", "ppo-vision(rollout: 256)"] {
        let (rate, shares) = walk(learner(name, 3).as_mut(), 64 * 256);
        assert!(
            rate > 0.9 * OPTIMAL,
            "{name}: {rate:.3} per step against the optimal {OPTIMAL:.3} (forward per cell {shares:.2?})"
        );
        assert!(shares.iter().all(|&s| s > 0.9), "{name}: forward on every cell ({shares:.2?})");
    }
    // Without a discount the bait is worth more than the first step forward.
    let (rate, shares) = walk(learner("ppo-scent(rollout: 256, discount: 0.0)", 3).as_mut(), 64 * 256);
    assert!(rate < 0.5 * OPTIMAL, "a myopic learner takes the bait: {rate:.3} ({shares:.2?})");
    assert!(shares[0] < 0.1, "it stays at the start ({shares:.2?})");
}

#[test]
fn dqn_carries_the_reward_back_down_the_corridor() {
    let name = "dqn-scent(warmup: 256, epsilon_steps: 3000, target_every: 250)";
    let (rate, shares) = walk(learner(name, 3).as_mut(), 8000);
    // ε is 0.05 by the last quarter: one random move in twenty, a third of them forward.
    assert!(
        rate > 0.8 * OPTIMAL,
        "{name}: {rate:.3} per step against the optimal {OPTIMAL:.3} (forward per cell {shares:.2?})"
    );
}
