//! The greedy visual agent of JBW's paper (spec §10.1): it plans, within its visual window, the
//! shortest sequence of moves and turns to the nearest cell that looks like a jelly bean, avoiding
//! cells that look like walls, keeps a plan unless a strictly shorter one appears, and otherwise
//! walks forward (turning at random at walls). It sees only colours, in its own frame.

use std::collections::VecDeque;

use beanworld_agents::{Agent, AgentError, Needs, Observation};
use beanworld_sim::Config;
use beanworld_sim::action::{Action, Move, Turn};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::Rng;

const FORWARD: Action = Action::Move { direction: Move::Forward, steps: 1 };
const LEFT: Action = Action::Turn(Turn::Left);
const RIGHT: Action = Action::Turn(Turn::Right);

/// Unit steps of the four facings in the agent's frame, counter-clockwise from forward (+y).
const FACINGS: [(i64, i64); 4] = [(0, 1), (-1, 0), (0, -1), (1, 0)];

/// Whether two colours match: equal after L2 normalisation, every component within 1e-5; a zero
/// colour matches only zero (spec §10.1).
pub fn colour_match(pixel: &[f32], colour: &[f32]) -> bool {
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x) * f64::from(*x)).sum::<f64>().sqrt();
    let (np, nc) = (norm(pixel), norm(colour));
    if np == 0.0 || nc == 0.0 {
        return np == 0.0 && nc == 0.0;
    }
    pixel.iter().zip(colour).all(|(p, c)| (f64::from(*p) / np - f64::from(*c) / nc).abs() <= 1e-5)
}

/// The paper's greedy visual baseline.
pub struct GreedyVisual {
    range: i64,
    channels: usize,
    fov: f64,
    target: Vec<f32>,
    walls: Vec<Vec<f32>>,
    rng: ChaCha8Rng,
    /// The committed plan, and how many of its actions were issued.
    plan: Vec<Action>,
    taken: usize,
    // Search scratch, reused every step.
    best: Vec<u32>,
    parent: Vec<(u32, Action)>,
    queue: VecDeque<(i64, i64, usize, u32)>,
    path: Vec<Action>,
}

impl GreedyVisual {
    /// A greedy agent for `config`: it seeks the colour of the item type named "jellybean" and
    /// avoids the colours of blocking types.
    pub fn new(config: &Config, id: u32, seed: u64) -> Result<Self, AgentError> {
        let target = config
            .items
            .iter()
            .find(|t| t.name == "jellybean")
            .map(|t| t.color.clone())
            .ok_or_else(|| {
                AgentError::World("the greedy visual agent looks for an item type named \"jellybean\"".into())
            })?;
        let walls = config.items.iter().filter(|t| t.blocks_movement).map(|t| t.color.clone()).collect();
        let range = i64::from(config.vision.range);
        let side = (2 * range + 1) as usize;
        Ok(GreedyVisual {
            range,
            channels: config.vision.color_dimension,
            fov: f64::from(config.vision.field_of_view),
            target,
            walls,
            rng: crate::agent_rng(seed, id, "greedy-visual"),
            plan: Vec::new(),
            taken: 0,
            best: vec![u32::MAX; side * side * 4],
            parent: vec![(u32::MAX, Action::NoOp); side * side * 4],
            queue: VecDeque::with_capacity(side * side * 4),
            path: Vec::new(),
        })
    }

    fn pixel<'v>(&self, vision: &'v [f32], x: i64, y: i64) -> &'v [f32] {
        let side = 2 * self.range + 1;
        let at = (((x + self.range) * side + (y + self.range)) as usize) * self.channels;
        &vision[at..at + self.channels]
    }

    fn is_wall(&self, vision: &[f32], x: i64, y: i64) -> bool {
        let p = self.pixel(vision, x, y);
        self.walls.iter().any(|w| colour_match(p, w))
    }

    /// Uniform-cost search from `(0, 0, forward)` to the nearest cell showing the target colour;
    /// leaves the plan in `self.path` and returns whether one was found.
    fn search(&mut self, vision: &[f32]) -> bool {
        let r = self.range;
        let side = 2 * r + 1;
        let index = |x: i64, y: i64, f: usize| ((((x + r) * side) + (y + r)) as usize) * 4 + f;
        self.best.fill(u32::MAX);
        self.queue.clear();
        self.best[index(0, 0, 0)] = 0;
        self.queue.push_back((0, 0, 0, 0));
        while let Some((x, y, f, cost)) = self.queue.pop_front() {
            if cost > self.best[index(x, y, f)] {
                continue;
            }
            if (x, y) != (0, 0) && colour_match(self.pixel(vision, x, y), &self.target) {
                self.path.clear();
                let mut at = index(x, y, f) as u32;
                while at != index(0, 0, 0) as u32 {
                    let (prev, action) = self.parent[at as usize];
                    self.path.push(action);
                    at = prev;
                }
                self.path.reverse();
                return true;
            }
            let here = index(x, y, f) as u32;
            let (dx, dy) = FACINGS[f];
            let (nx, ny) = (x + dx, y + dy);
            let mut successors = [(0, 0, 0, Action::NoOp); 3];
            let mut count = 0;
            let inside = nx.abs() <= r && ny.abs() <= r;
            // 2·angle ≤ FOV, the angle measured from the forward axis.
            if inside && 2.0 * (nx as f64).atan2(ny as f64).abs() <= self.fov && !self.is_wall(vision, nx, ny)
            {
                successors[count] = (nx, ny, f, FORWARD);
                count += 1;
            }
            successors[count] = (x, y, (f + 1) % 4, LEFT);
            successors[count + 1] = (x, y, (f + 3) % 4, RIGHT);
            count += 2;
            for &(sx, sy, sf, action) in &successors[..count] {
                let at = index(sx, sy, sf);
                if cost + 1 < self.best[at] {
                    self.best[at] = cost + 1;
                    self.parent[at] = (here, action);
                    self.queue.push_back((sx, sy, sf, cost + 1));
                }
            }
        }
        false
    }
}

impl Agent for GreedyVisual {
    fn name(&self) -> &str {
        "greedy-visual"
    }

    fn needs(&self) -> Needs {
        Needs { vision: true, scent: false }
    }

    fn act(&mut self, observation: &Observation<'_>) -> Action {
        let vision = observation.vision;
        if self.search(vision) {
            let remaining = self.plan.len() - self.taken;
            if self.plan.is_empty() || self.path.len() < remaining {
                std::mem::swap(&mut self.plan, &mut self.path);
                self.taken = 0;
            }
        }
        if self.taken < self.plan.len() {
            let action = self.plan[self.taken];
            self.taken += 1;
            if self.taken == self.plan.len() {
                self.plan.clear();
                self.taken = 0;
            }
            return action;
        }
        if !self.is_wall(vision, 0, 1) {
            FORWARD
        } else if self.rng.next_u32() >> 31 == 0 {
            LEFT
        } else {
            RIGHT
        }
    }

    fn save(&self) -> Vec<u8> {
        let plan: Vec<u8> =
            self.plan.iter().map(|a| u8::from(*a == LEFT) + 2 * u8::from(*a == RIGHT)).collect();
        let mut out = self.rng.get_word_pos().to_le_bytes().to_vec();
        out.extend_from_slice(&(self.taken as u32).to_le_bytes());
        out.extend_from_slice(&plan);
        out
    }

    fn load(&mut self, state: &[u8]) -> Result<(), AgentError> {
        let short = || AgentError::State("a greedy visual agent's state is at least 20 bytes".into());
        let word: [u8; 16] = state.get(..16).and_then(|w| w.try_into().ok()).ok_or_else(short)?;
        let taken: [u8; 4] = state.get(16..20).and_then(|t| t.try_into().ok()).ok_or_else(short)?;
        self.rng.set_word_pos(u128::from_le_bytes(word));
        self.taken = u32::from_le_bytes(taken) as usize;
        self.plan = state[20..].iter().map(|b| [FORWARD, LEFT, RIGHT][usize::from(*b).min(2)]).collect();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_match_after_normalisation_only() {
        assert!(colour_match(&[0.41, 0.135, 0.1], &[0.82, 0.27, 0.2]), "a dimmed jelly bean");
        assert!(!colour_match(&[0.82, 0.27, 0.2 + 0.001], &[0.82, 0.27, 0.2]));
        assert!(!colour_match(&[0.82, 0.27, 1.2], &[0.82, 0.27, 0.2]), "agent on a jelly bean");
        assert!(colour_match(&[0.0; 3], &[0.0; 3]));
        assert!(!colour_match(&[0.0; 3], &[0.1, 0.0, 0.0]));
    }
}
