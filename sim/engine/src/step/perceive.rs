//! Perception, written on request between steps: each agent's scent (spec §4.3, the sum of
//! every nearby item's response) and vision (spec §5: colour sums in a window around it, the
//! field of view and occlusion applied for its facing). What an agent perceived is cached in the
//! scratch and reused while nothing it depends on has changed.

use crate::geometry::{Cell, PatchCoord};
use crate::simulation::Simulation;

/// What an agent last perceived, and of what: reused while nothing it depends on has changed.
#[derive(Clone, Debug, Default)]
pub(crate) struct Perceived {
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
}

impl Simulation {
    /// Writes every agent's observation, in agent order, into `scent` (`S` floats each) and
    /// `vision` (`(2R+1)²·C` each), resizing them to fit (they allocate only when agents come).
    pub fn observe_all(&mut self, scent: &mut Vec<f32>, vision: &mut Vec<f32>) {
        let (s, v, n) = (self.scent_len(), self.vision_len(), self.state.agents.len());
        scent.resize(n * s, 0.0);
        vision.resize(n * v, 0.0);
        for i in 0..n {
            self.observe(i, &mut scent[i * s..(i + 1) * s], &mut vision[i * v..(i + 1) * v]);
        }
    }

    /// Writes agent `i`'s observation: its scent (`S` floats) and vision (`(2R+1)²·C` floats,
    /// spec §5.1 layout) at the current time. What cannot have changed since the agent's last
    /// observation (same cell, same items around, no agent moved, no scent fading) is reused.
    pub fn observe(&mut self, i: usize, scent: &mut [f32], vision: &mut [f32]) {
        let pos = self.state.agents[i].position;
        let block = self.state.world.block(pos);
        let key = Some((
            pos,
            block.map(|c| self.state.world.version(c)),
            self.scratch.moves,
            self.tables.params_version,
        ));
        let mut perceived = std::mem::take(&mut self.scratch.perceived[i]);
        if perceived.key != key {
            self.gather(pos, block, &mut perceived);
            perceived.key = key;
            perceived.finished_valid = [false; 4];
        } else if perceived.scent_fades {
            self.gather_scent(pos, block, &mut perceived);
        }
        scent.copy_from_slice(&perceived.scent);
        let f = self.state.agents[i].facing as usize;
        if !perceived.finished_valid[f] {
            let Perceived { window, occluders, finished, .. } = &mut perceived;
            finished[f].resize(vision.len(), 0.0);
            self.tables.vision.finish(
                self.state.agents[i].facing,
                window,
                occluders,
                &mut self.scratch.shade,
                &mut finished[f],
            );
            perceived.finished_valid[f] = true;
        }
        vision.copy_from_slice(&perceived.finished[f]);
        self.scratch.perceived[i] = perceived;
    }

    /// Calls `f(y, x0, cells)` for each row of the vision window around `pos` as it lies in each
    /// patch of `block`: the occupancy codes (item type + 1, 0: none) of cells `x0 …` on row `y`.
    pub(super) fn window_rows(&self, pos: Cell, block: [PatchCoord; 4], mut f: impl FnMut(i64, i64, &[u16])) {
        let n = self.tables.current.patch_size as i64;
        let range = self.tables.vision.range();
        for pc in block {
            let Some(patch) = self.state.world.patch(pc) else { continue };
            let origin = pc.origin(self.tables.current.patch_size);
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

    /// Recomputes an agent's scent at `pos` from the items of its block (spec §4.3).
    pub(super) fn gather_scent(&mut self, pos: Cell, block: [PatchCoord; 4], out: &mut Perceived) {
        let s_dim = self.tables.current.scent.dimension;
        let acc = &mut self.scratch.scent;
        acc.fill(0.0);
        let mut fades = false;
        let reach = self.tables.scent.radius() - 1;
        for pc in block {
            let Some(patch) = self.state.world.patch(pc) else { continue };
            fades |= patch.scent_changes(self.state.time);
            for item in patch.items_in_rows(pos.y - reach, pos.y + reach) {
                let (dx, dy) = (item.pos.x - pos.x, item.pos.y - pos.y);
                let kind = usize::from(item.kind);
                if item.created == 0 && item.is_live() {
                    if let Some(v) = self.tables.scent.steady(dx, dy) {
                        for (a, s) in
                            acc.iter_mut().zip(&self.tables.item_scent[kind * s_dim..(kind + 1) * s_dim])
                        {
                            *a += v * s;
                        }
                    }
                } else {
                    let scent = &self.tables.current.items[kind].scent;
                    self.tables.scent.add_item(acc, scent, item, dx, dy, self.state.time);
                }
            }
        }
        out.scent.clear();
        out.scent.extend(acc.iter().map(|&v| v as f32));
        out.scent_fades = fades;
    }

    /// Recomputes everything an agent at `pos` perceives: scent, and the world-frame colour sums
    /// and occluders of its vision window.
    pub(super) fn gather(&mut self, pos: Cell, block: [PatchCoord; 4], out: &mut Perceived) {
        self.gather_scent(pos, block, out);
        let items = &self.tables.current.items;
        let c = self.tables.current.vision.color_dimension;
        out.window.clear();
        out.window.resize(self.tables.vision.len(), 0.0);
        out.occluders.clear();
        self.window_rows(pos, block, |y, x0, cells| {
            for (x, &t) in (x0..).zip(cells) {
                if t == 0 {
                    continue;
                }
                let kind = usize::from(t - 1);
                let k = self.tables.vision.offset_index(x - pos.x, y - pos.y);
                for (w, col) in out.window[k * c..(k + 1) * c].iter_mut().zip(&items[kind].color) {
                    *w += col;
                }
                if let Some(occlusion) = self.tables.vision.occluder(kind)
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
        let side = 2 * self.tables.vision.range() + 1;
        self.scratch.buckets.refresh(&self.state.agents, side, self.scratch.moves);
        let agent_color = &self.tables.current.vision.agent_color;
        self.scratch.buckets.for_each_near(&self.state.agents, &self.tables.vision, pos, |k| {
            for (w, col) in out.window[k * c..(k + 1) * c].iter_mut().zip(agent_color) {
                *w += col;
            }
        });
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
