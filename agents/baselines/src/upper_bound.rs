//! The reward upper bound (spec §10.3): the best jelly-bean rate an agent that must keep moving
//! upward could reach, found exactly on random boxes of the world.
//!
//! In the box `[0, S] × [0, S]` the agent starts at `(S/2, 0)` facing up; moving forward costs 1
//! (inside the box, not into a blocking item) and so does a 90° turn. A plan visits some beans,
//! each at most once, and ends on the top row; its rate is `beans / (cost + 1)` (the +1 enters
//! the next box). The best plan is found by Dinkelbach's method: for a rate `λ`, a depth-first
//! branch and bound finds the plan maximising `beans − λ · (cost + 1)`; while that is positive,
//! its own rate is better and becomes the next `λ`. The bound of a partial plan adds, for every
//! bean not yet taken, `1 − λ ·` (its cheapest way in, from the plan's end or any other bean)
//! where positive, and pays `λ ·` the cheapest way to the top row; partial plans that reach the
//! same bean, facing and set of beans at a higher cost are dropped.

use std::collections::VecDeque;

use beanworld_sim::geometry::Direction;
use beanworld_sim::{Cell, Region, Simulation};
use rustc_hash::FxHashMap;

/// The best plan of one box.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// `beans / (cost + 1)`.
    pub rate: f64,
    /// Beans in the box.
    pub beans_in_box: usize,
    /// Beans the plan takes.
    pub beans: usize,
    /// Moves and turns.
    pub cost: u32,
    /// Partial plans examined (all rounds).
    pub nodes: u64,
    /// Whether the top row can be reached at all (the start is free and not walled in); a
    /// blocked box has rate 0 and no plan.
    pub open: bool,
}

const FAR: u32 = u32::MAX / 4;
/// Partial plans remembered for dropping costlier repeats (~20 bytes each with the table's
/// slack); past this no more are remembered (the search stays exact, it only prunes less).
const REMEMBERED: usize = 24_000_000;
/// Beans a box may hold: a partial plan is remembered as one `u64`, the set of beans taken in
/// the low bits and where it ends above them.
pub const MAX_BEANS: usize = 54;

/// Solves the box `[0, side] × [0, side]` of `sim`'s world for items of type `bean`, with
/// items that block movement as obstacles. `node_limit` caps the partial plans examined per
/// round; `None` is returned when a round reaches it, or when the box holds more than
/// [`MAX_BEANS`] beans (the box is not solved).
pub fn solve(sim: &mut Simulation, bean: usize, side: i64, node_limit: u64) -> Option<Plan> {
    let region = Region::new(Cell::new(0, 0), Cell::new(side, side));
    sim.generate(region);
    let w = (side + 1) as usize;
    let blocks: Vec<bool> = sim.config().items.iter().map(|t| t.blocks_movement).collect();
    let mut wall = vec![false; w * w];
    let mut beans = Vec::new();
    for y in 0..=side {
        for x in 0..=side {
            match sim.world().item_type_at(Cell::new(x, y)) {
                Some(k) if k == bean => beans.push((x as usize, y as usize)),
                Some(k) if blocks[k] => wall[y as usize * w + x as usize] = true,
                _ => {}
            }
        }
    }
    let grid = Grid { w, wall };
    let start = (side as usize / 2, 0usize, Direction::Up);
    let blocked = Plan { rate: 0.0, beans_in_box: beans.len(), beans: 0, cost: 0, nodes: 0, open: false };
    if grid.wall[start.0] {
        return Some(blocked);
    }
    let g = beans.len();
    if g > MAX_BEANS {
        return None;
    }
    let (to_bean, to_top) = grid.costs(start, &beans);
    if to_top[0] >= FAR {
        return Some(blocked);
    }
    let search = Search::new(g, to_bean, to_top, node_limit);
    search.solve().map(|(rate, taken, cost, nodes)| Plan {
        rate,
        beans_in_box: g,
        beans: taken,
        cost,
        nodes,
        open: true,
    })
}

struct Grid {
    w: usize,
    wall: Vec<bool>,
}

impl Grid {
    /// Costs from each source — the start, then every bean in every facing (source
    /// `1 + b * 4 + f`) — to every bean in every facing (`to_bean[source][b * 4 + f]`) and to the
    /// top row (`to_top[source]`).
    fn costs(&self, start: (usize, usize, Direction), beans: &[(usize, usize)]) -> (Vec<Vec<u32>>, Vec<u32>) {
        let mut sources = vec![start];
        for &(x, y) in beans {
            sources.extend(Direction::ALL.map(|d| (x, y, d)));
        }
        let top = self.w - 1;
        sources
            .iter()
            .map(|&s| {
                let dist = self.distances(s);
                let to_bean = beans
                    .iter()
                    .flat_map(|&(x, y)| Direction::ALL.map(|d| dist[self.state(x, y, d)]))
                    .collect();
                let to_top = (0..self.w)
                    .flat_map(|x| Direction::ALL.map(|d| dist[self.state(x, top, d)]))
                    .min()
                    .unwrap_or(FAR);
                (to_bean, to_top)
            })
            .unzip()
    }

    fn state(&self, x: usize, y: usize, d: Direction) -> usize {
        (y * self.w + x) * 4 + d as usize
    }

    /// Breadth-first costs from `(x, y, d)` to every state (all moves cost 1).
    fn distances(&self, (x, y, d): (usize, usize, Direction)) -> Vec<u32> {
        let mut dist = vec![FAR; self.w * self.w * 4];
        let mut queue = VecDeque::new();
        dist[self.state(x, y, d)] = 0;
        queue.push_back((x, y, d));
        while let Some((x, y, d)) = queue.pop_front() {
            let here = dist[self.state(x, y, d)];
            let (dx, dy) = d.unit();
            let (nx, ny) = (x as i64 + dx, y as i64 + dy);
            let forward = (0..self.w as i64).contains(&nx)
                && (0..self.w as i64).contains(&ny)
                && !self.wall[ny as usize * self.w + nx as usize];
            let mut next = vec![(x, y, d.left()), (x, y, d.right())];
            if forward {
                next.push((nx as usize, ny as usize, d));
            }
            for n in next {
                let s = self.state(n.0, n.1, n.2);
                if dist[s] == FAR {
                    dist[s] = here + 1;
                    queue.push_back(n);
                }
            }
        }
        dist
    }
}

/// The plan search over bean states `b * 4 + facing` (source `1 + b * 4 + f`; source 0 is the
/// start).
struct Search {
    g: usize,
    to_bean: Vec<Vec<u32>>,
    to_top: Vec<u32>,
    /// Per bean: the ways in from the other beans (cheapest over facings), cheapest first.
    ways_in: Vec<Vec<(u32, usize)>>,
    /// Per bean: the ways out to the other beans (cheapest over facings), cheapest first.
    ways_out: Vec<Vec<(u32, usize)>>,
    /// Per bean: its cheapest way to the top row (over facings).
    bean_top: Vec<u32>,
    /// The cheapest way to the top row from any bean state.
    cheapest_top: u32,
    node_limit: u64,
}

/// The best plan found in one round: value, beans, cost.
#[derive(Clone, Copy)]
struct Best {
    value: f64,
    beans: usize,
    cost: u32,
}

impl Search {
    fn new(g: usize, to_bean: Vec<Vec<u32>>, to_top: Vec<u32>, node_limit: u64) -> Self {
        let ways_in: Vec<Vec<(u32, usize)>> = (0..g)
            .map(|b| {
                let mut ways: Vec<(u32, usize)> = (0..g)
                    .filter(|&o| o != b)
                    .map(|o| {
                        let cost = (0..4)
                            .flat_map(|from| (0..4).map(move |to| (from, to)))
                            .map(|(from, to)| to_bean[1 + o * 4 + from][b * 4 + to])
                            .min()
                            .unwrap_or(FAR);
                        (cost, o)
                    })
                    .collect();
                ways.sort_unstable();
                ways
            })
            .collect();
        let mut ways_out: Vec<Vec<(u32, usize)>> = vec![Vec::new(); g];
        for (b, ways) in ways_in.iter().enumerate() {
            for &(c, o) in ways {
                ways_out[o].push((c, b));
            }
        }
        for ways in &mut ways_out {
            ways.sort_unstable();
        }
        let bean_top = (0..g).map(|b| (0..4).map(|f| to_top[1 + b * 4 + f]).min().unwrap_or(FAR)).collect();
        let cheapest_top = to_top[1..].iter().copied().min().unwrap_or(FAR);
        Search { g, to_bean, to_top, ways_in, ways_out, bean_top, cheapest_top, node_limit }
    }

    /// A first plan: from the start, always on to the nearest bean not taken; the best of its
    /// prefixes (each finished by going up).
    fn greedy(&self) -> (usize, u32) {
        let (mut source, mut taken, mut count, mut cost) = (0usize, 0u64, 0usize, 0u32);
        let mut best = (0, self.to_top[0]);
        let rate = |(b, c): (usize, u32)| b as f64 / (f64::from(c) + 1.0);
        loop {
            let next = (0..self.g * 4)
                .filter(|&k| taken & (1 << (k / 4)) == 0 && self.to_bean[source][k] < FAR)
                .min_by_key(|&k| self.to_bean[source][k]);
            let Some(k) = next else { break };
            cost += self.to_bean[source][k];
            count += 1;
            taken |= 1 << (k / 4);
            source = 1 + k;
            let top = self.to_top[source];
            if top < FAR && rate((count, cost + top)) > rate(best) {
                best = (count, cost + top);
            }
        }
        best
    }

    /// Dinkelbach's rounds, from the greedy plan's rate.
    fn solve(&self) -> Option<(f64, usize, u32, u64)> {
        if self.to_top[0] >= FAR {
            return Some((0.0, 0, 0, 0));
        }
        let (mut beans, mut cost) = self.greedy();
        let mut nodes = 0;
        loop {
            let lambda = beans as f64 / (f64::from(cost) + 1.0);
            let mut round = Round {
                search: self,
                lambda,
                best: Best { value: 0.0, beans, cost },
                seen: FxHashMap::default(),
                nodes: 0,
                moves: Vec::new(),
            };
            round.visit(0, 0, 0, 0);
            nodes += round.nodes;
            if round.nodes >= self.node_limit {
                return None;
            }
            let better = round.best;
            // The best plan of this round is strictly better than λ only if its value is
            // positive; it was seeded with the current plan, whose value is 0.
            if better.value <= 1e-12 || (better.beans, better.cost) == (beans, cost) {
                return Some((lambda, beans, cost, nodes));
            }
            (beans, cost) = (better.beans, better.cost);
        }
    }
}

struct Round<'a> {
    search: &'a Search,
    lambda: f64,
    best: Best,
    /// (source, taken beans) packed as `taken | source << MAX_BEANS` → lowest cost seen.
    seen: FxHashMap<u64, u32>,
    nodes: u64,
    /// Per depth (beans taken), the list of next moves, reused from node to node.
    moves: Vec<Vec<(u32, usize, usize)>>,
}

impl Round<'_> {
    /// Extends a partial plan ending at `source` with `taken` beans (as a set) and `count` of
    /// them, at `cost`.
    fn visit(&mut self, source: usize, taken: u64, count: usize, cost: u32) {
        self.nodes += 1;
        if self.nodes >= self.search.node_limit {
            return;
        }
        let s = self.search;
        let lambda = self.lambda;
        let value = count as f64 - lambda * f64::from(cost);
        let top = s.to_top[source];
        if top < FAR {
            let done = value - lambda * (f64::from(top) + 1.0);
            if done > self.best.value {
                self.best = Best { value: done, beans: count, cost: cost + top };
            }
        }
        // Two bounds, both counting every bean not taken only where it pays. (a) Each step of
        // the rest of the plan costs at least the cheapest way into where it arrives: a bean's
        // from the plan's end or a bean not taken, the top row's from anywhere. (b) Each step
        // costs at least the mean of the cheapest way out of where it leaves and the cheapest
        // way into where it arrives.
        let unfinished = |b: usize| taken & (1 << b) == 0;
        let row = &s.to_bean[source];
        let mut out_here = top;
        if self.moves.len() <= count {
            self.moves.resize_with(count + 1, Vec::new);
        }
        let mut next = std::mem::take(&mut self.moves[count]);
        next.clear();
        let (mut gain_in, mut gain_mean) = (0.0, 0.0);
        for b in (0..s.g).filter(|&b| unfinished(b)) {
            let here = (0..4).map(|f| row[b * 4 + f]).min().unwrap_or(FAR);
            out_here = out_here.min(here);
            let from_other = s.ways_in[b].iter().find(|&&(_, o)| unfinished(o)).map_or(FAR, |&(c, _)| c);
            let way_in = f64::from(here.min(from_other));
            let to_other = s.ways_out[b].iter().find(|&&(_, o)| unfinished(o)).map_or(FAR, |&(c, _)| c);
            let way_out = f64::from(to_other.min(s.bean_top[b]));
            gain_in += (1.0 - lambda * way_in).max(0.0);
            gain_mean += (1.0 - lambda * (way_in + way_out) / 2.0).max(0.0);
            for f in 0..4 {
                let c = row[b * 4 + f];
                if c < FAR {
                    next.push((c, b, f));
                }
            }
        }
        let into_top = f64::from(top.min(s.cheapest_top));
        let bound_in = value - lambda * (into_top + 1.0) + gain_in;
        let bound_mean = value - lambda * ((f64::from(out_here) + into_top) / 2.0 + 1.0) + gain_mean;
        if bound_in.min(bound_mean) <= self.best.value + 1e-12 {
            self.moves[count] = next;
            return;
        }
        next.sort_unstable();
        for &(c, b, f) in &next {
            let (source, taken, cost) = (1 + b * 4 + f, taken | (1 << b), cost + c);
            let key = taken | (source as u64) << MAX_BEANS;
            match self.seen.get(&key) {
                Some(&seen) if seen <= cost => continue,
                _ => {
                    if self.seen.len() < REMEMBERED {
                        self.seen.insert(key, cost);
                    }
                }
            }
            self.visit(source, taken, count + 1, cost);
        }
        self.moves[count] = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exhaustive search over every order of every subset, for small boxes.
    fn brute(search: &Search) -> f64 {
        fn go(s: &Search, source: usize, taken: u64, count: usize, cost: u32, best: &mut f64) {
            let top = s.to_top[source];
            if top < FAR {
                *best = best.max(count as f64 / (f64::from(cost + top) + 1.0));
            }
            for b in 0..s.g {
                if taken & (1 << b) == 0 {
                    for f in 0..4 {
                        let c = s.to_bean[source][b * 4 + f];
                        if c < FAR {
                            go(s, 1 + b * 4 + f, taken | (1 << b), count + 1, cost + c, best);
                        }
                    }
                }
            }
        }
        let mut best = 0.0;
        go(search, 0, 0, 0, 0, &mut best);
        best
    }

    #[test]
    fn the_search_finds_what_trying_every_plan_finds() {
        use rand_chacha::rand_core::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut below = |n: usize| ((u64::from(rng.next_u32()) * n as u64) >> 32) as usize;
        for _ in 0..40 {
            let w = 9;
            let wall: Vec<bool> = (0..w * w).map(|_| below(100) < 15).collect();
            let mut grid = Grid { w, wall };
            grid.wall[w / 2] = false;
            let count = below(7);
            let beans: Vec<(usize, usize)> = (0..count)
                .map(|_| (below(w), below(w)))
                .filter(|&(x, y)| !grid.wall[y * w + x])
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let (to_bean, to_top) = grid.costs((w / 2, 0, Direction::Up), &beans);
            let search = Search::new(beans.len(), to_bean, to_top, u64::MAX);
            let (rate, ..) = search.solve().expect("solved");
            let exact = brute(&search);
            assert!((rate - exact).abs() < 1e-12, "{rate} vs {exact} with {} beans", beans.len());
        }
    }
}
