//! Agents in the world (spec §4–6, checks of §12.6): orientation, field of view and occlusion
//! against the formulas, scent against the reference table, conflicts, collection, generation
//! invariants, determinism and snapshots.

mod common;

use beanworld_sim::ScentTable;
use beanworld_sim::action::{Action, Move, Turn};
use beanworld_sim::geometry::Direction;
use beanworld_sim::{Cell, Scenario, Simulation, snapshot};
use common::shipped;

const BEAN: usize = 0;
const WALL: usize = 1;
const TREE: usize = 2;
const KEY: usize = 3;
const DOOR: usize = 4;

/// An empty world (no sampling) with five item types, and `agents` / `extra` settings.
fn scenario(agents: &str, vision: &str, occlusion: f32, collisions: &str) -> Scenario {
    let text = format!(
        r#"Scenario(
            world: (patch_size: 32, mcmc_iterations: 0),
            items: [
                Item(name: "bean", scent: [1, 0], color: [0, 0, 1]),
                Item(name: "wall", scent: [0, 0], color: [0.5, 0.5, 0.5], required: {{"wall": 1}},
                     blocks_movement: true, visual_occlusion: {occlusion}),
                Item(name: "tree", scent: [0, 1], color: [0, 1, 0], required: {{"tree": 1}},
                     visual_occlusion: {half}),
                Item(name: "key", scent: [0.5, 0.5], color: [1, 0, 0]),
                Item(name: "door", scent: [0, 0], color: [1, 1, 0], required: {{"key": 1}}, costs: {{"key": 1}}),
            ],
            vision: ({vision}),
            actions: (
                moves: (forward: Allowed, backward: Allowed, left: Allowed, right: Allowed),
                turns: (none: Allowed, reverse: Allowed, left: Allowed, right: Allowed),
                no_op_allowed: true,
                collision_policy: {collisions},
            ),
            agents: [{agents}],
            task: Fixed(Sum([Collect(item: "bean", value: 1), Avoid(item: "door", value: 0.5)])),
        )"#,
        half = occlusion / 2.0
    );
    Scenario::parse(&text, "test.ron").unwrap_or_else(|e| panic!("{e}"))
}

fn agent_at(x: i64, y: i64, facing: &str) -> String {
    format!("Agents(position: ({x}, {y}), facing: {facing}, policy: External, spread: 0)")
}

fn sim(agents: &[String], vision: &str, occlusion: f32, collisions: &str) -> Simulation {
    Simulation::new(scenario(&agents.join(", "), vision, occlusion, collisions))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn observe(sim: &mut Simulation, i: usize) -> (Vec<f32>, Vec<f32>) {
    let (mut scent, mut vision) = (vec![0.0; sim.scent_len()], vec![0.0; sim.vision_len()]);
    sim.observe(i, &mut scent, &mut vision);
    (scent, vision)
}

const FORWARD: Action = Action::Move { direction: Move::Forward, steps: 1 };
const STAY: Action = Action::NoOp;

/// Pixel `(right, forward)` of an observation with range `r` and 3 channels.
fn pixel(vision: &[f32], r: i64, right: i64, forward: i64) -> [f32; 3] {
    let side = 2 * r + 1;
    let at = (((right + r) * side + (forward + r)) * 3) as usize;
    [vision[at], vision[at + 1], vision[at + 2]]
}

#[test]
fn items_appear_where_the_spec_says_for_every_facing() {
    // spec §5.1: (dx, dy) → (x', y') per facing.
    for (facing, map) in [
        ("Up", [(2, 3), (-1, 4)]),
        ("Down", [(-2, -3), (1, -4)]),
        ("Left", [(3, -2), (4, 1)]),
        ("Right", [(-3, 2), (-4, -1)]),
    ] {
        let mut s =
            sim(&[agent_at(0, 0, facing)], "range: 5, agent_color: [0, 0, 1]", 0.0, "FirstComeFirstServed");
        assert!(s.place_item(Cell::new(2, 3), BEAN));
        assert!(s.place_item(Cell::new(-1, 4), KEY));
        let (_, v) = observe(&mut s, 0);
        assert_eq!(pixel(&v, 5, map[0].0, map[0].1), [0.0, 0.0, 1.0], "{facing}: bean");
        assert_eq!(pixel(&v, 5, map[1].0, map[1].1), [1.0, 0.0, 0.0], "{facing}: key");
        assert_eq!(pixel(&v, 5, 0, 0), [0.0, 0.0, 1.0], "{facing}: the agent itself");
        let lit = v.chunks(3).filter(|p| p.iter().any(|&c| c != 0.0)).count();
        assert_eq!(lit, 3, "{facing}: nothing else is visible");
    }
}

// ---- An independent oracle for spec §5.3–5.4, written from the formulas ----

fn arc(i: f64, j: f64) -> (f64, f64) {
    let beta = j.atan2(i);
    let a = (0.5 / (i * i + j * j).sqrt()).asin();
    (beta - a, beta + a)
}

fn overlap(a: (f64, f64), b: (f64, f64)) -> f64 {
    let tau = std::f64::consts::TAU;
    let split = |(r, l): (f64, f64)| -> Vec<(f64, f64)> {
        let r = if r < 0.0 { r + tau } else { r };
        let l = if l < 0.0 { l + tau } else { l };
        if l < r { vec![(r, tau), (0.0, l)] } else { vec![(r, l)] }
    };
    let mut sum = 0.0;
    for (ra, la) in split(a) {
        for (rb, lb) in split(b) {
            sum += (la.min(lb) - ra.max(rb)).max(0.0);
        }
    }
    sum
}

/// A tiny deterministic generator for test layouts.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[test]
#[allow(clippy::int_plus_one)] // the oracle writes `‖q‖² + 1 ≤ ‖c‖²` as spec §5.4 does
fn field_of_view_and_occlusion_match_the_formulas() {
    let colors: [[f64; 3]; 5] = [[0., 0., 1.], [0.5, 0.5, 0.5], [0., 1., 0.], [1., 0., 0.], [1., 1., 0.]];
    let agent_color = [0.2, 0.1, 0.7];
    let r = 5i64;
    let mut checked = 0;
    for fov_deg in [90.0f64, 172.0, 270.0] {
        for wall_occlusion in [0.5f32, 1.0] {
            for (f, facing) in ["Up", "Down", "Left", "Right"].into_iter().enumerate() {
                let vision =
                    format!("range: 5, field_of_view_degrees: {fov_deg}, agent_color: [0.2, 0.1, 0.7]");
                let agents = [agent_at(0, 0, facing), agent_at(2, -1, "Up")];
                let mut s = sim(&agents, &vision, wall_occlusion, "FirstComeFirstServed");
                let mut rng = Lcg(17 + f as u64 + (fov_deg as u64) * 7);
                let mut items: Vec<((i64, i64), usize)> = Vec::new();
                for _ in 0..40 {
                    let (dx, dy) = (rng.next(11) as i64 - 5, rng.next(11) as i64 - 5);
                    let kind = [BEAN, WALL, TREE, KEY, WALL][rng.next(5) as usize];
                    if (dx, dy) != (0, 0) && (dx, dy) != (2, -1) && s.place_item(Cell::new(dx, dy), kind) {
                        items.push(((dx, dy), kind));
                    }
                }
                let (_, v) = observe(&mut s, 0);
                let dir = Direction::ALL[f];
                let theta = dir.angle();
                let fov = fov_deg.to_radians();
                let occ_of = |k: usize| match k {
                    WALL => f64::from(wall_occlusion),
                    TREE => f64::from(wall_occlusion) / 2.0,
                    _ => 0.0,
                };
                for dy in -r..=r {
                    for dx in -r..=r {
                        let mut color = [0.0f64; 3];
                        for &((x, y), k) in &items {
                            if (x, y) == (dx, dy) {
                                (0..3).for_each(|c| color[c] += colors[k][c]);
                            }
                        }
                        for (x, y) in [(0, 0), (2, -1)] {
                            if (x, y) == (dx, dy) {
                                (0..3).for_each(|c| color[c] += agent_color[c]);
                            }
                        }
                        let mut factor = 1.0;
                        if (dx, dy) != (0, 0) {
                            let cell = arc(dx as f64, dy as f64);
                            let width = cell.1 - cell.0;
                            let keep =
                                (overlap((theta - fov / 2.0, theta + fov / 2.0), cell) / width).min(1.0);
                            let mut occ = 0.0;
                            for &((x, y), k) in &items {
                                if occ_of(k) > 0.0 && x * x + y * y + 1 <= dx * dx + dy * dy {
                                    occ += occ_of(k)
                                        * (overlap(arc(x as f64, y as f64), cell) / width).clamp(0.0, 1.0);
                                }
                            }
                            factor = keep;
                            if keep > 0.0 && occ > 0.0 {
                                factor *= 1.0 - occ.min(1.0);
                            }
                        }
                        let (right, forward) = dir.to_egocentric(dx, dy);
                        let got = pixel(&v, r, right, forward);
                        for c in 0..3 {
                            let want = color[c] * factor;
                            assert!(
                                (f64::from(got[c]) - want).abs() <= 1e-6,
                                "fov {fov_deg}, occlusion {wall_occlusion}, {facing}: offset ({dx},{dy}) channel {c}: {} vs {want}",
                                got[c]
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
    }
    assert_eq!(checked, 3 * 2 * 4 * 121 * 3);
}

#[test]
fn scent_is_the_superposition_of_the_reference_responses() {
    let mut s = sim(&[agent_at(0, 0, "Up")], "range: 5, agent_color: [0, 0, 1]", 0.0, "FirstComeFirstServed");
    // Beans scent [1, 0]; trees [0, 1]; keys [0.5, 0.5]. Values from spec §12.1 (n = 32, t = 1999).
    assert!(s.place_item(Cell::new(1, 0), BEAN)); // V(1,0) = 1.010105
    assert!(s.place_item(Cell::new(0, 1), BEAN)); // (will be collected)
    assert!(s.place_item(Cell::new(-1, -1), TREE)); // V(1,1) = 0.634720
    assert!(s.place_item(Cell::new(0, 11), TREE)); // V(10,0) from (0,1) = 3.023e-3
    assert!(s.place_item(Cell::new(-5, 0), KEY)); // V(5,0) = 0.0594211
    assert!(s.place_item(Cell::new(0, -17), BEAN)); // out of reach: no scent
    let (scent, _) = observe(&mut s, 0);
    // The tree at (0, 11) is 11 cells away: V(11, 0) is not in the spec's table, so it comes
    // from the response table (itself checked against the spec in the engine's unit tests).
    let table = ScentTable::new(0.4, 0.14, 2000, 32);
    let want = [1.010105 + 1.010105 + 0.5 * 0.0594211, 0.634720 + 0.5 * 0.0594211 + table.get(1999, 0, 11)];
    for c in 0..2 {
        assert!((f64::from(scent[c]) - want[c]).abs() < 2e-6, "{scent:?} vs {want:?}");
    }

    // Step onto the bean at (0, 1): it is collected at time 1 and its scent fades from there.
    s.step(&[FORWARD]).expect("allowed");
    assert_eq!(s.agents()[0].collected[BEAN], 1);
    // The live items as seen from (0, 1): the bean at offset (1, −1), V(1,1) = 0.634720; the
    // trees at (−1, −2) and (0, 10), V(10,0) = 3.023e-3; the key at (−5, −1).
    let steady_here = [
        0.634720 + 0.5 * table.get(1999, 5, 1),
        table.get(1999, 1, 2) + 3.023e-3 + 0.5 * table.get(1999, 5, 1),
    ];
    // V(t, 0, 0) for the times since collection, from spec §12.1.
    for (since, v_t) in
        [(0u64, 1.0), (1, 1.4), (2, 1.6384), (3, 1.79648), (5, 1.999249), (10, 2.253629), (100, 2.607612)]
    {
        while s.time() < 1 + since {
            s.step(&[Action::Turn(Turn::Left)]).expect("allowed");
        }
        let (scent, _) = observe(&mut s, 0);
        let base = steady_here;
        let fading = 2.609431 - v_t;
        assert!(
            (f64::from(scent[0]) - (base[0] + fading)).abs() < 3e-6,
            "{since} steps after: {} vs {}",
            scent[0],
            base[0] + fading
        );
        assert!((f64::from(scent[1]) - base[1]).abs() < 3e-6);
    }
    // After L − 1 steps the collected bean's scent is exactly gone.
    while s.time() < 2000 {
        s.step(&[Action::Turn(Turn::Left)]).expect("allowed");
    }
    let (scent, _) = observe(&mut s, 0);
    assert!((f64::from(scent[0]) - steady_here[0]).abs() < 2e-6, "{scent:?}");
}

fn positions(s: &Simulation) -> Vec<(i64, i64)> {
    s.agents().iter().map(|a| (a.position.x, a.position.y)).collect()
}

fn assert_one_agent_per_cell(s: &Simulation) {
    let mut cells = positions(s);
    cells.sort_unstable();
    cells.dedup();
    assert_eq!(cells.len(), s.agents().len(), "two agents share a cell: {:?}", positions(s));
}

#[test]
fn first_come_first_served_goes_to_the_lowest_id() {
    let mut s = sim(
        &[agent_at(0, 0, "Up"), agent_at(1, 1, "Left")],
        "range: 5, agent_color: [0, 0, 1]",
        0.0,
        "FirstComeFirstServed",
    );
    s.step(&[FORWARD, FORWARD]).expect("allowed");
    assert_eq!(positions(&s), [(0, 1), (1, 1)]);
    assert_one_agent_per_cell(&s);
}

#[test]
fn an_agent_staying_put_keeps_its_cell() {
    for (a, b) in [(0, 1), (1, 0)] {
        // Whatever the ids, the agent turning in place holds its cell against the mover.
        let mut agents = vec![agent_at(0, 0, "Up"), agent_at(0, 1, "Up")];
        if a == 1 {
            agents.swap(0, 1);
        }
        let mut s = sim(&agents, "range: 5, agent_color: [0, 0, 1]", 0.0, "FirstComeFirstServed");
        let mut actions = [STAY; 2];
        actions[if a == 0 { 0 } else { 1 }] = FORWARD;
        actions[if b == 0 { 0 } else { 1 }] = Action::Turn(Turn::Left);
        s.step(&actions).expect("allowed");
        assert_eq!(s.agents().iter().filter(|g| g.position == Cell::new(0, 1)).count(), 1);
        assert!(s.agents().iter().any(|g| g.position == Cell::new(0, 0)), "the mover stayed");
    }
}

#[test]
fn walls_block_and_blocked_agents_block_those_behind_them() {
    let agents = [agent_at(0, 1, "Up"), agent_at(0, 0, "Up"), agent_at(0, -1, "Up")];
    let mut s = sim(&agents, "range: 5, agent_color: [0, 0, 1]", 0.0, "FirstComeFirstServed");
    assert!(s.place_item(Cell::new(0, 2), WALL));
    s.step(&[FORWARD, FORWARD, FORWARD]).expect("allowed");
    assert_eq!(positions(&s), [(0, 1), (0, 0), (0, -1)]);
    // Without the wall the column moves up together.
    let mut s = sim(&agents, "range: 5, agent_color: [0, 0, 1]", 0.0, "FirstComeFirstServed");
    s.step(&[FORWARD, FORWARD, FORWARD]).expect("allowed");
    assert_eq!(positions(&s), [(0, 2), (0, 1), (0, 0)]);
}

#[test]
fn losers_of_a_conflict_keep_their_cell() {
    // Agent 2 loses (0, 1) to agent 1, so it stays at (1, 1), and agent 3 must not move into it
    // (JBW lets it, leaving two agents in one cell: spec §11 #1).
    let agents = [agent_at(0, 0, "Up"), agent_at(1, 1, "Left"), agent_at(2, 1, "Left")];
    let mut s = sim(&agents, "range: 5, agent_color: [0, 0, 1]", 0.0, "FirstComeFirstServed");
    s.step(&[FORWARD, FORWARD, FORWARD]).expect("allowed");
    assert_eq!(positions(&s), [(0, 1), (1, 1), (2, 1)]);
    assert_one_agent_per_cell(&s);
}

#[test]
fn random_conflicts_are_seeded() {
    let mut winners = [0; 2];
    for seed in 0..40 {
        let agents = [agent_at(0, 0, "Up"), agent_at(1, 1, "Left")];
        let mut scenario = scenario(&agents.join(", "), "range: 5, agent_color: [0, 0, 1]", 0.0, "Random");
        scenario.seed = seed;
        let run = |scenario: &Scenario| {
            let mut s = Simulation::new(scenario.clone()).expect("placed");
            s.step(&[FORWARD, FORWARD]).expect("allowed");
            assert_one_agent_per_cell(&s);
            positions(&s)
        };
        let first = run(&scenario);
        assert_eq!(first, run(&scenario), "the same seed, the same winner");
        winners[usize::from(first[0] != (0, 1))] += 1;
    }
    assert!(winners[0] > 5 && winners[1] > 5, "both agents win sometimes: {winners:?}");
}

#[test]
fn without_collisions_agents_share_cells_but_not_walls() {
    let agents = [agent_at(0, 0, "Up"), agent_at(1, 1, "Left"), agent_at(5, 5, "Up")];
    let mut s = sim(&agents, "range: 5, agent_color: [0, 0, 1]", 0.0, "NoCollisions");
    assert!(s.place_item(Cell::new(5, 6), WALL));
    s.step(&[FORWARD, FORWARD, FORWARD]).expect("allowed");
    assert_eq!(positions(&s), [(0, 1), (0, 1), (5, 5)]);
}

#[test]
fn collection_follows_requirements_and_costs() {
    let mut s = sim(&[agent_at(0, 0, "Up")], "range: 5, agent_color: [0, 0, 1]", 0.0, "FirstComeFirstServed");
    assert!(s.place_item(Cell::new(0, 0), BEAN)); // under the agent
    assert!(s.place_item(Cell::new(0, 1), TREE)); // never collectable
    assert!(s.place_item(Cell::new(0, 2), DOOR)); // needs a key, costs it
    assert!(s.place_item(Cell::new(0, 3), KEY));
    // The item under a new agent is collected by its first action, even a turn (spec §11 #5).
    let out = s.step(&[Action::Turn(Turn::None)]).expect("allowed");
    assert_eq!(out.rewards, [1.0]);
    assert_eq!(s.agents()[0].collected[BEAN], 1);
    let (_, v) = observe(&mut s, 0);
    assert_eq!(pixel(&v, 5, 0, 0), [0.0, 0.0, 1.0], "the bean vanished at once; only the agent is left");
    // Onto the tree: it stays, and the agent shares its cell.
    s.step(&[FORWARD]).expect("allowed");
    let (_, v) = observe(&mut s, 0);
    assert_eq!(pixel(&v, 5, 0, 0), [0.0, 1.0, 1.0], "agent colour + tree colour");
    assert_eq!(s.agents()[0].collected[TREE], 0);
    // Onto the door without a key: it stays.
    s.step(&[FORWARD]).expect("allowed");
    assert_eq!(s.agents()[0].collected[DOOR], 0);
    // Fetch the key, come back: the door is collected and the key is spent.
    s.step(&[FORWARD]).expect("allowed");
    assert_eq!(s.agents()[0].inventory[KEY], 1);
    let out = s.step(&[Action::Move { direction: Move::Backward, steps: 1 }]).expect("allowed");
    assert_eq!(out.rewards, [-0.5], "Avoid(door, 0.5)");
    assert_eq!((s.agents()[0].inventory[KEY], s.agents()[0].inventory[DOOR]), (0, 1));
    assert_eq!(s.agents()[0].collected[KEY], 1);
}

#[test]
fn disallowed_actions_are_refused_without_a_step() {
    let mut s = Simulation::new(shipped("jbw-v0.ron")).expect("placed");
    let e = s
        .step(&[Action::Move { direction: Move::Backward, steps: 1 }])
        .expect_err("JBW allows only forward moves");
    assert!(e.to_string().contains("not allowed"), "{e}");
    let e = s.step(&[Action::Move { direction: Move::Forward, steps: 2 }]).expect_err("max 1 cell");
    assert!(e.to_string().contains("exceeds"), "{e}");
    assert!(s.step(&[]).is_err());
    assert_eq!(s.time(), 0);
    s.step(&[FORWARD]).expect("allowed");
    assert_eq!(s.time(), 1);
}

#[test]
fn agents_take_the_nearest_free_cells_ring_by_ring() {
    // v0 has walls; 300 agents in two groups around nearby centres, the second group's rings
    // crossing the first's cells.
    let mut scenario = shipped("jbw-v0.ron");
    scenario.agents = vec![
        ron::from_str("Agents(count: 200, position: (3, -2), spread: 12)").unwrap_or_else(|e| panic!("{e}")),
        ron::from_str("Agents(count: 100, position: (10, 4), spread: 12)").unwrap_or_else(|e| panic!("{e}")),
    ];
    let sim = Simulation::new(scenario.clone()).unwrap_or_else(|e| panic!("{e}"));
    let blocking: Vec<bool> = sim.config().items.iter().map(|t| t.blocks_movement).collect();
    let blocked = |c: Cell| sim.world().item_type_at(c).is_some_and(|k| blocking[k]);
    // The rule, searched from the centre for every agent.
    let mut expected: Vec<Cell> = Vec::new();
    let mut walls_skipped = 0;
    for group in &scenario.agents {
        let centre = group.cell();
        for _ in 0..group.count {
            let spread = i64::from(group.spread);
            let cell = (0..=spread)
                .flat_map(|r| (-r..=r).flat_map(move |dy| (-r..=r).map(move |dx| (r, dx, dy))))
                .filter(|&(r, dx, dy)| dx.abs().max(dy.abs()) == r)
                .map(|(_, dx, dy)| Cell::new(centre.x + dx, centre.y + dy))
                .filter(|c| !expected.contains(c))
                .find(|&c| {
                    walls_skipped += usize::from(blocked(c));
                    !blocked(c)
                })
                .unwrap_or_else(|| panic!("room for every agent"));
            expected.push(cell);
        }
    }
    let placed: Vec<Cell> = sim.agents().iter().map(|a| a.position).collect();
    assert_eq!(placed, expected);
    assert!(walls_skipped > 0, "some wall was in the way");
    // No room: a clear error, not a search without end.
    scenario.agents = vec![
        ron::from_str("Agents(count: 30, position: (0, 0), spread: 2)").unwrap_or_else(|e| panic!("{e}")),
    ];
    let err = Simulation::new(scenario).err().unwrap_or_else(|| panic!("25 cells cannot take 30 agents"));
    assert!(err.to_string().contains("within 2 cells of"), "{err}");
}

#[test]
fn the_world_around_every_agent_is_fixed_and_surrounded() {
    let mut scenario = shipped("crowd.ron");
    scenario.agents[0].count = 8;
    let mut s = Simulation::new(scenario).expect("placed");
    let mut actions = Vec::new();
    for _ in 0..1500 {
        s.scripted_actions(&mut actions);
        let acts: Vec<Action> = actions.iter().map(|a| a.expect("scripted")).collect();
        s.step(&acts).expect("allowed");
        assert_one_agent_per_cell(&s);
        for agent in s.agents() {
            assert!(s.world().block_is_fixed(agent.position), "agent {} at {}", agent.id, agent.position);
        }
    }
    for (c, patch) in s.world().patches_sorted() {
        if patch.fixed {
            for nb in c.neighbours() {
                assert!(s.world().patch(nb).is_some(), "fixed {c} lacks neighbour {nb}");
            }
        }
    }
}

/// Steps a simulation `steps` times with its scripted policies, observing every agent, and
/// returns a record of everything it saw.
fn run(s: &mut Simulation, steps: u64) -> Vec<u32> {
    let mut record = Vec::new();
    let mut choices = Vec::new();
    for _ in 0..steps {
        s.scripted_actions(&mut choices);
        let acts: Vec<Action> = choices.iter().map(|a| a.expect("scripted")).collect();
        let rewards = s.step(&acts).expect("allowed").rewards.to_vec();
        record.extend(rewards.iter().map(|r| r.to_bits()));
        for i in 0..s.agents().len() {
            let (scent, vision) = observe(s, i);
            record.extend(scent.iter().chain(&vision).map(|v| v.to_bits()));
        }
    }
    record
}

#[test]
fn runs_repeat_exactly_and_resume_from_snapshots_exactly() {
    for name in ["jbw-v0.ron", "crowd.ron", "jbw-paper.ron"] {
        let scenario = shipped(name);
        let steps = if name == "jbw-paper.ron" { 600 } else { 1500 };
        let mut a = Simulation::new(scenario.clone()).expect("placed");
        let whole = run(&mut a, steps);
        let mut b = Simulation::new(scenario.clone()).expect("placed");
        let mut first = run(&mut b, steps / 2);
        let path = std::env::temp_dir().join(format!("beanworld-test-{}-{name}.snap", std::process::id()));
        snapshot::save(&b, &42u32, &path).expect("saved");
        let (mut c, extra): (Simulation, u32) = snapshot::load(&path, &scenario).expect("loaded");
        assert_eq!(extra, 42);
        first.extend(run(&mut c, steps - steps / 2));
        assert!(whole == first, "{name}: resumed run differs");
        assert_eq!(a.state_digest(), c.state_digest(), "{name}");
        // The snapshot refuses another scenario.
        let mut other = scenario.clone();
        other.seed += 1;
        let e = snapshot::load::<u32>(&path, &other).expect_err("another seed");
        assert!(e.to_string().contains("made from scenario"), "{e}");
        std::fs::remove_file(path).ok();
    }
}
