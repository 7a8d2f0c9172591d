//! Perception, written on request between steps: each agent's scent (spec §4.3, the sum of
//! every nearby item's response) and vision (spec §5: colour sums in a window around it, the
//! field of view and occlusion applied for its facing). What an agent perceived is cached in the
//! scratch and reused while nothing it depends on has changed.

use super::buckets::Buckets;
use crate::geometry::{Cell, PatchCoord};
use crate::simulation::{Simulation, Tables};
use crate::state::State;

/// What an agent last perceived, and of what: reused while nothing it depends on has changed.
/// With its own buffers for summing scent and shading vision, an agent is perceived without
/// touching anything but its own `Perceived` (see [`Observers`]).
#[derive(Clone, Debug, Default)]
pub struct Perceived {
    /// Position, versions of the four block patches, the agents' movement count and the
    /// parameters' version it was computed for; `None` until first computed.
    key: Option<(Cell, [u64; 4], u64, u64)>,
    /// Whether the scent can change with time alone (collected items still fading nearby).
    scent_fades: bool,
    scent: Vec<f32>,
    /// World-frame colour sums and occluders (see `VisionTables::finish`).
    window: Vec<f32>,
    occluders: Vec<(u32, f32)>,
    /// The finished vision for each facing, once computed for this key (an agent that turns in
    /// place sees the same window rotated).
    finished: [Vec<f32>; 4],
    finished_valid: [bool; 4],
    /// Scratch: the scent being summed, and vision's shading.
    sum: Vec<f64>,
    shade: Vec<f32>,
}

/// What perceiving reads — the world and its agents, the tables, the agents sorted into vision
/// buckets — shared by every thread that perceives: [`Simulation::observers`]. Each agent's
/// observation needs only this and its own [`Perceived`], so agents can be perceived on many
/// threads at once, each the same whatever the thread.
pub struct Observers<'a> {
    state: &'a State,
    tables: &'a Tables,
    buckets: &'a Buckets,
    moves: u64,
}

impl Simulation {
    /// Writes every agent's observation, in agent order, into `scent` (`S` floats each) and
    /// `vision` (`(2R+1)²·C` each), resizing them to fit (they allocate only when agents come).
    pub fn observe_all(&mut self, scent: &mut Vec<f32>, vision: &mut Vec<f32>) {
        let (s, v, n) = (self.scent_len(), self.vision_len(), self.state.agents.len());
        scent.resize(n * s, 0.0);
        vision.resize(n * v, 0.0);
        let (observers, perceived) = self.observers();
        for (i, p) in perceived.iter_mut().enumerate() {
            observers.observe(i, p, &mut scent[i * s..(i + 1) * s], &mut vision[i * v..(i + 1) * v]);
        }
    }

    /// Writes agent `i`'s observation: its scent (`S` floats) and vision (`(2R+1)²·C` floats,
    /// spec §5.1 layout) at the current time. What cannot have changed since the agent's last
    /// observation (same cell, same items around, no agent moved, no scent fading) is reused.
    pub fn observe(&mut self, i: usize, scent: &mut [f32], vision: &mut [f32]) {
        let (observers, perceived) = self.observers();
        observers.observe(i, &mut perceived[i], scent, vision);
    }

    /// What perceiving reads, and every agent's [`Perceived`] (in agent order), for observing
    /// agents on threads of the caller's: agent `i`'s observation is
    /// `observers.observe(i, &mut perceived[i], …)`.
    pub fn observers(&mut self) -> (Observers<'_>, &mut [Perceived]) {
        let side = 2 * self.tables.vision.range() + 1;
        self.scratch.buckets.refresh(&self.state.agents, side, self.scratch.moves);
        let n = self.state.agents.len();
        let observers = Observers {
            state: &self.state,
            tables: &self.tables,
            buckets: &self.scratch.buckets,
            moves: self.scratch.moves,
        };
        (observers, &mut self.scratch.perceived[..n])
    }
    /// The scent at any cell (spec §4.3, as an agent there would smell it), from the generated
    /// patches of its block; `out` has `S` values.
    pub fn scent_at(&self, cell: Cell, out: &mut [f32]) {
        let mut acc = [0.0f64; 16];
        let mut wide = Vec::new();
        let acc: &mut [f64] = if out.len() <= acc.len() {
            &mut acc[..out.len()]
        } else {
            wide.resize(out.len(), 0.0);
            &mut wide
        };
        for pc in self.state.world.block(cell) {
            let Some(patch) = self.state.world.patch(pc) else { continue };
            for item in &patch.items {
                let scent = &self.tables.current.items[usize::from(item.kind)].scent;
                self.tables.scent.add_item(
                    acc,
                    scent,
                    item,
                    item.pos.x - cell.x,
                    item.pos.y - cell.y,
                    self.state.time,
                );
            }
        }
        for (o, a) in out.iter_mut().zip(acc.iter()) {
            *o = *a as f32;
        }
    }
}

/// Calls `f(y, x0, cells)` for each row of the vision window around `pos` as it lies in each
/// patch of `block`: the occupancy codes (item type + 1, 0: none) of cells `x0 …` on row `y`.
fn window_rows(
    state: &State,
    tables: &Tables,
    pos: Cell,
    block: [PatchCoord; 4],
    mut f: impl FnMut(i64, i64, &[u16]),
) {
    let n = tables.current.patch_size as i64;
    let range = tables.vision.range();
    for pc in block {
        let Some(patch) = state.world.patch(pc) else { continue };
        let origin = pc.origin(tables.current.patch_size);
        let (x0, x1) = ((pos.x - range).max(origin.x), (pos.x + range).min(origin.x + n - 1));
        let (y0, y1) = ((pos.y - range).max(origin.y), (pos.y + range).min(origin.y + n - 1));
        if x0 > x1 {
            continue;
        }
        let occupancy = patch.occupancy();
        for y in y0..=y1 {
            let row = &occupancy[((y - origin.y) * n) as usize..][..n as usize];
            f(y, x0, &row[(x0 - origin.x) as usize..=(x1 - origin.x) as usize]);
        }
    }
}

impl Observers<'_> {
    /// Writes agent `i`'s observation into `scent` (`S` floats) and `vision` (`(2R+1)²·C`
    /// floats), from what it `perceived` last time where nothing it depends on has changed.
    pub fn observe(&self, i: usize, perceived: &mut Perceived, scent: &mut [f32], vision: &mut [f32]) {
        let (agent, world) = (&self.state.agents[i], &self.state.world);
        let pos = agent.position;
        let block = world.block(pos);
        let key = Some((pos, block.map(|c| world.version(c)), self.moves, self.tables.params_version));
        if perceived.key != key {
            self.gather(pos, block, perceived);
            perceived.key = key;
            perceived.finished_valid = [false; 4];
        } else if perceived.scent_fades {
            self.gather_scent(pos, block, perceived);
        }
        scent.copy_from_slice(&perceived.scent);
        let f = agent.facing as usize;
        if !perceived.finished_valid[f] {
            let Perceived { window, occluders, finished, shade, .. } = perceived;
            finished[f].resize(vision.len(), 0.0);
            shade.resize(self.tables.vision.side() * self.tables.vision.side(), 0.0);
            self.tables.vision.finish(agent.facing, window, occluders, shade, &mut finished[f]);
            perceived.finished_valid[f] = true;
        }
        vision.copy_from_slice(&perceived.finished[f]);
    }

    /// Recomputes an agent's scent at `pos` from the items of its block (spec §4.3).
    fn gather_scent(&self, pos: Cell, block: [PatchCoord; 4], out: &mut Perceived) {
        let (tables, time) = (self.tables, self.state.time);
        let s_dim = tables.current.scent.dimension;
        let acc = &mut out.sum;
        acc.clear();
        acc.resize(s_dim, 0.0);
        let mut fades = false;
        let reach = tables.scent.radius() - 1;
        for pc in block {
            let Some(patch) = self.state.world.patch(pc) else { continue };
            fades |= patch.scent_changes(time);
            for item in patch.items_in_rows(pos.y - reach, pos.y + reach) {
                let (dx, dy) = (item.pos.x - pos.x, item.pos.y - pos.y);
                let kind = usize::from(item.kind);
                if item.created == 0 && item.is_live() {
                    if let Some(v) = tables.scent.steady(dx, dy) {
                        for (a, s) in acc.iter_mut().zip(&tables.item_scent[kind * s_dim..(kind + 1) * s_dim])
                        {
                            *a += v * s;
                        }
                    }
                } else {
                    let scent = &tables.current.items[kind].scent;
                    tables.scent.add_item(acc, scent, item, dx, dy, time);
                }
            }
        }
        out.scent.clear();
        out.scent.extend(out.sum.iter().map(|&v| v as f32));
        out.scent_fades = fades;
    }

    /// Recomputes everything an agent at `pos` perceives: scent, and the world-frame colour sums
    /// and occluders of its vision window.
    fn gather(&self, pos: Cell, block: [PatchCoord; 4], out: &mut Perceived) {
        self.gather_scent(pos, block, out);
        let tables = self.tables;
        let items = &tables.current.items;
        let c = tables.current.vision.color_dimension;
        out.window.clear();
        out.window.resize(tables.vision.len(), 0.0);
        out.occluders.clear();
        window_rows(self.state, tables, pos, block, |y, x0, cells| {
            for (x, &t) in (x0..).zip(cells) {
                if t == 0 {
                    continue;
                }
                let kind = usize::from(t - 1);
                let k = tables.vision.offset_index(x - pos.x, y - pos.y);
                for (w, col) in out.window[k * c..(k + 1) * c].iter_mut().zip(&items[kind].color) {
                    *w += col;
                }
                if let Some(occlusion) = tables.vision.occluder(kind)
                    && (x, y) != (pos.x, pos.y)
                {
                    out.occluders.push((k as u32, occlusion));
                }
            }
        });
        // One fixed order of shading for every cell (ascending offset), whichever patches the
        // window spans.
        out.occluders.sort_unstable_by_key(|&(k, _)| k);
        // Other agents (and the agent itself) in the window; all have one colour, so the order
        // they are added in does not matter.
        let agent_color = &tables.current.vision.agent_color;
        self.buckets.for_each_near(&self.state.agents, &tables.vision, pos, |k| {
            for (w, col) in out.window[k * c..(k + 1) * c].iter_mut().zip(agent_color) {
                *w += col;
            }
        });
    }
}
