//! Vision (spec §5): what an agent sees, as a `(2R+1) × (2R+1) × C` array in its own frame
//! (`[right][forward][channel]`, spec §5.1). The simulation gathers colour sums in the *world*
//! frame around the agent; this module applies the field-of-view mask (§5.3) and occlusion (§5.4)
//! and rotates the result into the agent's frame. Every angle, arc overlap and rotation is
//! precomputed per offset and facing, so a step does no trigonometry, and the occlusion pass is
//! skipped entirely when no item type occludes.

use std::f64::consts::TAU;

use crate::config::{ItemType, VisionConfig};
use crate::geometry::Direction;

/// The field of view is off (360°) at or above `2π − 0.001` radians (spec §5.3).
pub const FULL_VIEW: f64 = TAU - 0.001;

/// The angular interval `[right, left]` (counter-clockwise) a unit disc at offset `(dx, dy)`
/// covers, as seen from the origin (spec §5.3). Not defined for the origin.
pub fn cell_arc(dx: i64, dy: i64) -> (f64, f64) {
    let (x, y) = (dx as f64, dy as f64);
    let centre = y.atan2(x);
    let half = (0.5 / (x * x + y * y).sqrt()).asin();
    (centre - half, centre + half)
}

/// An arc as non-wrapping pieces in `[0, 2π]`: negative ends move up by 2π, and an arc that
/// then wraps (left < right) splits in two.
fn pieces((right, left): (f64, f64)) -> [(f64, f64); 2] {
    let wrap = |a: f64| if a < 0.0 { a + TAU } else { a };
    let (r, l) = (wrap(right), wrap(left));
    if l < r { [(r, TAU), (0.0, l)] } else { [(r, l), (0.0, 0.0)] }
}

/// The length of the intersection of two counter-clockwise arcs given as `(right, left)`.
pub fn arc_overlap(a: (f64, f64), b: (f64, f64)) -> f64 {
    let mut total = 0.0;
    for (ra, la) in pieces(a) {
        for (rb, lb) in pieces(b) {
            total += (la.min(lb) - ra.max(rb)).max(0.0);
        }
    }
    total
}

/// How much of the cell at world offset `(dx, dy)` an agent facing `facing` with field of view
/// `fov` radians sees, in `[0, 1]` (spec §5.3).
pub fn fov_keep(facing: Direction, fov: f64, dx: i64, dy: i64) -> f64 {
    if fov >= FULL_VIEW || (dx == 0 && dy == 0) {
        return 1.0;
    }
    let theta = facing.angle();
    let cell = cell_arc(dx, dy);
    (arc_overlap((theta - fov / 2.0, theta + fov / 2.0), cell) / (cell.1 - cell.0)).min(1.0)
}

/// The vision tables laid out for a kernel that computes one output cell at a time (the GPU
/// path): for world offset `c`, its casters are `cast_from[cast_start[c]..cast_start[c + 1]]`
/// (occluder offsets, ascending) with the fractions of `c`'s arc they cover. Given the same
/// window, `keep · (1 − min(Σ occlusion · fraction, 1)) · colour` over these lists is the same
/// arithmetic, in the same order, as [`VisionTables::finish`].
#[derive(Clone, Debug)]
pub struct VisionLayout {
    /// `2R + 1`.
    pub side: usize,
    /// Colour channels `C`.
    pub channels: usize,
    /// Per facing, per world offset: the field-of-view weight.
    pub keep: [Vec<f32>; 4],
    /// Per facing, per world offset: the pixel in the agent's frame.
    pub ego: [Vec<u32>; 4],
    /// Per world offset, where its casters start in `cast_from` (one more entry at the end).
    pub cast_start: Vec<u32>,
    /// The occluder offsets that can shade each cell, ascending per cell.
    pub cast_from: Vec<u32>,
    /// The fraction of the cell's arc each caster covers.
    pub cast_fraction: Vec<f32>,
    /// Per item type: its occlusion; `None` when nothing occludes (no shading at all).
    pub occlusion: Option<Vec<f32>>,
}

/// Precomputed field-of-view weights, shadows and rotations for one configuration.
#[derive(Clone, Debug)]
pub struct VisionTables {
    range: i64,
    side: usize,
    channels: usize,
    /// Per facing, per world offset: the field-of-view weight.
    keep: [Vec<f32>; 4],
    /// Per facing, per world offset: the pixel in the agent's frame.
    ego: [Vec<u32>; 4],
    /// Per world offset `q`: the cells `c` an occluder at `q` shades, and by what fraction of
    /// `c`'s arc (only cells strictly farther away: `‖q‖² + 1 ≤ ‖c‖²`).
    shadows: Vec<Vec<(u32, f32)>>,
    /// Per item type: its occlusion, if any item type occludes at all.
    occlusion: Option<Vec<f32>>,
}

impl VisionTables {
    /// Builds the tables for a vision configuration and its item types.
    pub fn new(vision: &VisionConfig, items: &[ItemType]) -> Self {
        let r = i64::from(vision.range);
        let side = (2 * r + 1) as usize;
        let offsets: Vec<(i64, i64)> = (-r..=r).flat_map(|dy| (-r..=r).map(move |dx| (dx, dy))).collect();
        let fov = f64::from(vision.field_of_view);
        let keep =
            Direction::ALL.map(|d| offsets.iter().map(|&(dx, dy)| fov_keep(d, fov, dx, dy) as f32).collect());
        let ego = Direction::ALL.map(|d| {
            offsets
                .iter()
                .map(|&(dx, dy)| {
                    let (right, forward) = d.to_egocentric(dx, dy);
                    ((right + r) as usize * side + (forward + r) as usize) as u32
                })
                .collect()
        });
        let any_occluder = items.iter().any(|t| t.visual_occlusion > 0.0);
        let shadows = if any_occluder {
            offsets
                .iter()
                .map(|&(qx, qy)| {
                    if (qx, qy) == (0, 0) {
                        return Vec::new();
                    }
                    let q = cell_arc(qx, qy);
                    let q_dist = qx * qx + qy * qy;
                    offsets
                        .iter()
                        .enumerate()
                        .filter(|&(_, &(cx, cy))| q_dist < cx * cx + cy * cy)
                        .filter_map(|(k, &(cx, cy))| {
                            let c = cell_arc(cx, cy);
                            let f = (arc_overlap(q, c) / (c.1 - c.0)).clamp(0.0, 1.0);
                            (f > 0.0).then_some((k as u32, f as f32))
                        })
                        .collect()
                })
                .collect()
        } else {
            Vec::new()
        };
        let occlusion = any_occluder.then(|| items.iter().map(|t| t.visual_occlusion).collect());
        VisionTables { range: r, side, channels: vision.color_dimension, keep, ego, shadows, occlusion }
    }

    /// The tables in the form a GPU kernel reads them (see `VisionLayout`).
    pub fn layout(&self) -> VisionLayout {
        let cells = self.side * self.side;
        let mut cast: Vec<Vec<(u32, f32)>> = vec![Vec::new(); cells];
        // Shadows are listed per occluder `q` in ascending `q`, so each cell's casters come out
        // in ascending `q` too: the order `finish` adds them in.
        for (q, shadow) in self.shadows.iter().enumerate() {
            for &(cell, fraction) in shadow {
                cast[cell as usize].push((q as u32, fraction));
            }
        }
        let mut cast_start = Vec::with_capacity(cells + 1);
        let (mut cast_from, mut cast_fraction) = (Vec::new(), Vec::new());
        for casters in cast {
            cast_start.push(cast_from.len() as u32);
            for (q, f) in casters {
                cast_from.push(q);
                cast_fraction.push(f);
            }
        }
        cast_start.push(cast_from.len() as u32);
        VisionLayout {
            side: self.side,
            channels: self.channels,
            keep: self.keep.clone(),
            ego: self.ego.clone(),
            cast_start,
            cast_from,
            cast_fraction,
            occlusion: self.occlusion.clone(),
        }
    }

    /// `R`.
    pub fn range(&self) -> i64 {
        self.range
    }

    /// `2R + 1`.
    pub fn side(&self) -> usize {
        self.side
    }

    /// Floats in one observation: `(2R+1)² · C`.
    pub fn len(&self) -> usize {
        self.side * self.side * self.channels
    }

    /// Whether an observation is empty (a zero-channel colour space).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The occlusion of an item type, or `None` if it casts no shadow.
    pub fn occluder(&self, kind: usize) -> Option<f32> {
        self.occlusion.as_ref().map(|o| o[kind]).filter(|&o| o > 0.0)
    }

    /// Index of world offset `(dx, dy)` (both within `±R`) in world-frame buffers.
    #[inline]
    pub fn offset_index(&self, dx: i64, dy: i64) -> usize {
        (dy + self.range) as usize * self.side + (dx + self.range) as usize
    }

    /// Turns world-frame colour sums `window` (`side² × C`, indexed by
    /// [`VisionTables::offset_index`]) into the observation `out` of an agent facing `facing`:
    /// field of view, then the shadows of `occluders` (world offset index and occlusion, in
    /// ascending offset index: every cell then sums its shade in one fixed order, which the GPU
    /// kernel repeats), then rotation. `shade` is scratch of `side²` floats.
    pub fn finish(
        &self,
        facing: Direction,
        window: &[f32],
        occluders: &[(u32, f32)],
        shade: &mut [f32],
        out: &mut [f32],
    ) {
        let d = facing as usize;
        let c = self.channels;
        let shaded = !occluders.is_empty();
        if shaded {
            shade.fill(0.0);
            for &(q, occlusion) in occluders {
                for &(cell, fraction) in &self.shadows[q as usize] {
                    shade[cell as usize] += occlusion * fraction;
                }
            }
        }
        for (k, (&keep, &ego)) in self.keep[d].iter().zip(&self.ego[d]).enumerate() {
            let mut factor = keep;
            if shaded && factor > 0.0 && shade[k] > 0.0 {
                factor *= 1.0 - shade[k].min(1.0);
            }
            let (src, dst) =
                (&window[k * c..(k + 1) * c], &mut out[ego as usize * c..(ego as usize + 1) * c]);
            for (o, w) in dst.iter_mut().zip(src) {
                *o = w * factor;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    #[test]
    fn arcs_overlap_across_the_wrap() {
        assert!((arc_overlap((0.0, 1.0), (0.5, 2.0)) - 0.5).abs() < 1e-12);
        // Both arcs wrap through angle 0: [−0.2, 0.2] ∩ [−0.28, 0.1] = [−0.2, 0.1].
        let wrapped = arc_overlap((-0.2, 0.2), (-0.28, 0.1));
        assert!((wrapped - 0.3).abs() < 1e-9, "{wrapped}");
        // An arc just past −π lands near +π.
        assert!((arc_overlap((3.0, 3.5), (-PI - 0.1, -3.0)) - (PI - 2.9)).abs() < 1e-9);
        assert_eq!(arc_overlap((0.0, 1.0), (2.0, 3.0)), 0.0);
    }

    #[test]
    fn field_of_view_keeps_the_front_and_drops_the_back() {
        let fov = PI / 2.0;
        assert_eq!(fov_keep(Direction::Up, fov, 0, 3), 1.0);
        assert_eq!(fov_keep(Direction::Up, fov, 0, -3), 0.0);
        assert_eq!(fov_keep(Direction::Left, fov, -3, 0), 1.0);
        assert_eq!(fov_keep(Direction::Left, fov, 3, 0), 0.0);
        // The diagonal sits on the edge of a 90° view: half of it is seen.
        assert!((fov_keep(Direction::Up, fov, 2, 2) - 0.5).abs() < 1e-9);
        assert_eq!(fov_keep(Direction::Down, TAU, 0, 3), 1.0);
    }
}
