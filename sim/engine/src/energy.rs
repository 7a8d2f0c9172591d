//! Energy functions of the item distribution (spec §2.2–2.3): per-type intensities `f_t(x)` and
//! pairwise interactions `g_{t,u}(x, y)`, evaluated bit-for-bit as JBW does (test vectors of
//! spec §12.2). This module only evaluates; tabulation for the sampler lives in `sampler.rs`.

use serde::{Deserialize, Serialize};

use crate::geometry::Cell;

/// JBW's 32-bit integer mixer `M` (a MurmurHash3-style finalizer, spec §2.2).
pub fn mix32(mut z: u32) -> u32 {
    z ^= z >> 16;
    z = z.wrapping_mul(0x45d9f3b);
    z ^= z >> 16;
    z = z.wrapping_mul(0x45d9f3b);
    z ^= z >> 16;
    z
}

/// `M(v) / (2³² − 1)`: a pseudo-random value in `[0, 1]`.
fn unit_hash(v: u32) -> f64 {
    f64::from(mix32(v)) / f64::from(u32::MAX)
}

/// Unary energy `f_t(x)` of an item of one type at a cell (spec §2.2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Intensity {
    /// `f = 0`.
    Zero,
    /// `f = c`: a per-cell log-weight.
    Constant(f32),
    /// JBW's RADIAL_HASH with its argument order `[shift, scale, c, k]` (spec §2.2, §11 #25):
    /// `c` minus a pseudo-random amount in `[0, k]` that varies piecewise-linearly with the
    /// distance from the origin, with period `scale` cells.
    RadialHash {
        /// `a0`: added to the distance (and, as in JBW, once more inside the hash).
        shift: f32,
        /// `a1`: period of the variation in cells.
        scale: f32,
        /// `a2`: the base value.
        c: f32,
        /// `a3`: the depth of the variation.
        k: f32,
    },
}

impl Intensity {
    /// Whether the value is the same at every cell.
    pub fn is_stationary(&self) -> bool {
        !matches!(self, Intensity::RadialHash { .. })
    }

    /// `f(x)` at a cell.
    pub fn eval(&self, x: Cell) -> f32 {
        match *self {
            Intensity::Zero => 0.0,
            Intensity::Constant(c) => c,
            Intensity::RadialHash { shift, scale, c, k } => {
                let shift = shift as u32;
                let scale = scale as u32;
                if scale == 0 {
                    // Refused at load; keep evaluation total anyway.
                    return c;
                }
                let (dx, dy) = (x.x as f64, x.y as f64);
                let s = ((dx * dx + dy * dy).sqrt().floor() as u32).wrapping_add(shift);
                let h = |v: u32| unit_hash(v.wrapping_add(shift) / scale);
                let u0 = h(s);
                let u1 = h(s.wrapping_add(scale));
                let tau = f64::from(s % scale) / f64::from(scale);
                (f64::from(c) - f64::from(k) * (u0 * (1.0 - tau) + u1 * tau)) as f32
            }
        }
    }
}

/// Pairwise energy `g_{t,u}(x, y)` between an item of type `t` at `x` and one of type `u` at
/// `y` (spec §2.3). Any interaction at two identical positions is 0.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Interaction {
    /// `g = 0`.
    Zero,
    /// `c1` if `‖x − y‖² < l1`, else `c2` if `‖x − y‖² < l2`, else 0 (squared Euclidean
    /// distance, strict comparisons).
    PiecewiseBox {
        /// First squared-distance cutoff.
        l1: f32,
        /// Second squared-distance cutoff.
        l2: f32,
        /// Value inside the first cutoff.
        c1: f32,
        /// Value between the cutoffs.
        c2: f32,
    },
    /// By Chebyshev distance `m` and whether the two share a row or column: within `d1` the
    /// `near_*` value, within `d2` the `far_*` value, else 0.
    Cross {
        /// Near cutoff (`m ≤ d1`).
        d1: f32,
        /// Far cutoff (`m ≤ d2`).
        d2: f32,
        /// Near and in the same row or column.
        near_aligned: f32,
        /// Far and in the same row or column.
        far_aligned: f32,
        /// Near and off-axis.
        near_off_axis: f32,
        /// Far and off-axis.
        far_off_axis: f32,
    },
    /// Like `Cross`, with cutoffs that vary along x with the first position's x coordinate:
    /// `d1 = k·h(x) + c`, `d2 = d1 + delta`, `h` piecewise-linear hash noise of period `s`.
    CrossHash {
        /// Period of the cutoff variation in cells.
        s: f32,
        /// Base near cutoff.
        c: f32,
        /// Depth of the cutoff variation.
        k: f32,
        /// Far cutoff minus near cutoff.
        delta: f32,
        /// Near and in the same row or column.
        near_aligned: f32,
        /// Far and in the same row or column.
        far_aligned: f32,
        /// Near and off-axis.
        near_off_axis: f32,
        /// Far and off-axis.
        far_off_axis: f32,
    },
}

impl Interaction {
    /// Whether the value depends only on `x − y`.
    pub fn is_stationary(&self) -> bool {
        !matches!(self, Interaction::CrossHash { .. })
    }

    /// Whether the function is identically zero.
    pub fn is_zero(&self) -> bool {
        matches!(self, Interaction::Zero)
    }

    /// A Chebyshev distance beyond which the value is always 0.
    pub fn reach(&self) -> u64 {
        match *self {
            Interaction::Zero => 0,
            Interaction::PiecewiseBox { l1, l2, .. } => {
                let l = f64::from(l1.max(l2));
                if l <= 0.0 {
                    0
                } else {
                    // Largest r with r² < l.
                    (l.sqrt().ceil() as u64).saturating_sub(1)
                }
            }
            Interaction::Cross { d1, d2, .. } => f64::from(d1.max(d2)).max(0.0).floor() as u64,
            Interaction::CrossHash { c, k, delta, .. } => {
                let r1 = f64::from(c) + f64::from(k).max(0.0);
                (r1 + f64::from(delta).max(0.0)).max(0.0).floor() as u64
            }
        }
    }

    /// `g(x, y)`.
    pub fn eval(&self, x: Cell, y: Cell) -> f32 {
        if x == y {
            return 0.0;
        }
        let (dx, dy) = (x.x.wrapping_sub(y.x), x.y.wrapping_sub(y.y));
        match *self {
            Interaction::Zero => 0.0,
            Interaction::PiecewiseBox { l1, l2, c1, c2 } => {
                let d2 = (dx as f64) * (dx as f64) + (dy as f64) * (dy as f64);
                if d2 < f64::from(l1) {
                    c1
                } else if d2 < f64::from(l2) {
                    c2
                } else {
                    0.0
                }
            }
            Interaction::Cross { d1, d2, near_aligned, far_aligned, near_off_axis, far_off_axis } => cross(
                dx,
                dy,
                f64::from(d1),
                f64::from(d2),
                [near_aligned, far_aligned, near_off_axis, far_off_axis],
            ),
            Interaction::CrossHash {
                s,
                c,
                k,
                delta,
                near_aligned,
                far_aligned,
                near_off_axis,
                far_off_axis,
            } => {
                let s = s as u32;
                if s == 0 {
                    return 0.0;
                }
                let u = x.x as u32;
                let h = |v: u32| unit_hash(v / s);
                let tau = f64::from(u % s) / f64::from(s);
                let r1 = f64::from(k) * (h(u) * (1.0 - tau) + h(u.wrapping_add(s)) * tau) + f64::from(c);
                let r2 = r1 + f64::from(delta);
                cross(dx, dy, r1, r2, [near_aligned, far_aligned, near_off_axis, far_off_axis])
            }
        }
    }
}

/// The CROSS rule with the values `[near aligned, far aligned, near off-axis, far off-axis]`.
fn cross(dx: i64, dy: i64, d1: f64, d2: f64, values: [f32; 4]) -> f32 {
    let m = dx.unsigned_abs().max(dy.unsigned_abs()) as f64;
    let aligned = dx == 0 || dy == 0;
    if m <= d1 {
        if aligned { values[0] } else { values[2] }
    } else if m <= d2 {
        if aligned { values[1] } else { values[3] }
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(x: i64, y: i64) -> Cell {
        Cell { x, y }
    }

    fn close(a: f32, b: f64) -> bool {
        (f64::from(a) - b).abs() <= 5e-7
    }

    #[test]
    fn mixer_matches_reference_vectors() {
        // spec §12.2
        assert_eq!(mix32(0), 0);
        assert_eq!(mix32(1), 824_515_495);
        assert_eq!(mix32(2), 1_722_258_072);
        assert_eq!(mix32(12345), 1_747_545_881);
        assert_eq!(mix32(4_294_967_295), 539_527_247);
    }

    #[test]
    fn radial_hash_matches_reference_vectors() {
        let f = Intensity::RadialHash { shift: 3.0, scale: 8.0, c: 1.0, k: 2.0 };
        assert!(close(f.eval(c(0, 0)), 0.856_020_6), "{}", f.eval(c(0, 0)));
        assert!(close(f.eval(c(5, 0)), 0.616_055_0), "{}", f.eval(c(5, 0)));
        assert!(close(f.eval(c(3, 4)), 0.616_055_0));
        assert!(close(f.eval(c(-7, 2)), 0.511_544_0), "{}", f.eval(c(-7, 2)));
        assert!(close(f.eval(c(100, -50)), 0.425_891_6), "{}", f.eval(c(100, -50)));
        assert!(!f.is_stationary());
    }

    #[test]
    fn cross_matches_reference_vectors() {
        let g = Interaction::Cross {
            d1: 20.0,
            d2: 40.0,
            near_aligned: 8.0,
            far_aligned: -1000.0,
            near_off_axis: -1000.0,
            far_off_axis: -1.0,
        };
        let o = c(0, 0);
        assert_eq!(g.eval(o, c(0, 20)), 8.0);
        assert_eq!(g.eval(o, c(1, 20)), -1000.0);
        assert_eq!(g.eval(o, c(0, 21)), -1000.0);
        assert_eq!(g.eval(o, c(5, 30)), -1.0);
        assert_eq!(g.eval(o, c(41, 0)), 0.0);
        assert_eq!(g.reach(), 40);
    }

    #[test]
    fn piecewise_box_matches_reference_vectors() {
        let g = Interaction::PiecewiseBox { l1: 10.0, l2: 100.0, c1: 2.0, c2: -100.0 };
        let o = c(0, 0);
        assert_eq!(g.eval(o, c(3, 0)), 2.0);
        assert_eq!(g.eval(o, c(3, 1)), -100.0);
        assert_eq!(g.eval(o, c(9, 4)), -100.0);
        assert_eq!(g.eval(o, c(8, 6)), 0.0);
        assert_eq!(g.reach(), 9);
        // A second band that is empty (l2 ≤ l1) reaches as far as the first.
        let g = Interaction::PiecewiseBox { l1: 200.0, l2: 0.0, c1: -6.0, c2: -6.0 };
        assert_eq!(g.reach(), 14);
        assert_eq!(g.eval(o, c(10, 9)), -6.0);
        assert_eq!(g.eval(o, c(10, 10)), 0.0);
    }

    #[test]
    fn cross_hash_matches_reference_vectors() {
        let g = Interaction::CrossHash {
            s: 16.0,
            c: 2.0,
            k: 6.0,
            delta: 3.0,
            near_aligned: 1.0,
            far_aligned: -1.0,
            near_off_axis: -2.0,
            far_off_axis: 0.5,
        };
        assert_eq!(g.eval(c(0, 0), c(2, 0)), 1.0);
        assert_eq!(g.eval(c(10, 0), c(10, 5)), -1.0);
        assert_eq!(g.eval(c(10, 0), c(13, 5)), 0.5);
        assert_eq!(g.eval(c(-3, 1), c(-3, 9)), 0.0);
        assert_eq!(g.eval(c(40, 40), c(47, 41)), 0.5);
        assert!(!g.is_stationary());
    }

    #[test]
    fn every_interaction_is_zero_at_identical_positions() {
        let g = Interaction::PiecewiseBox { l1: 10.0, l2: 100.0, c1: 2.0, c2: -100.0 };
        assert_eq!(g.eval(c(4, 4), c(4, 4)), 0.0);
        let g = Interaction::Cross {
            d1: 1.0,
            d2: 2.0,
            near_aligned: 5.0,
            far_aligned: 5.0,
            near_off_axis: 5.0,
            far_off_axis: 5.0,
        };
        assert_eq!(g.eval(c(-4, 4), c(-4, 4)), 0.0);
    }

    #[test]
    fn reach_bounds_every_nonzero_value() {
        let fns = [
            Interaction::PiecewiseBox { l1: 10.0, l2: 200.0, c1: 2.0, c2: -100.0 },
            Interaction::PiecewiseBox { l1: 30.0, l2: 1000.0, c1: -0.3, c2: -1.0 },
            Interaction::Cross {
                d1: 10.0,
                d2: 15.0,
                near_aligned: 20.0,
                far_aligned: -200.0,
                near_off_axis: -20.0,
                far_off_axis: 1.0,
            },
            Interaction::CrossHash {
                s: 16.0,
                c: 2.0,
                k: 6.0,
                delta: 3.0,
                near_aligned: 1.0,
                far_aligned: -1.0,
                near_off_axis: -2.0,
                far_off_axis: 0.5,
            },
        ];
        for g in fns {
            let r = g.reach() as i64;
            for x in [-40, 0, 13, 100] {
                for dx in -(r + 3)..=(r + 3) {
                    for dy in -(r + 3)..=(r + 3) {
                        let outside = dx.abs().max(dy.abs()) > r;
                        let v = g.eval(c(x, 7), c(x + dx, 7 + dy));
                        assert!(!outside || v == 0.0, "{g:?} nonzero at ({dx},{dy}) beyond reach {r}");
                    }
                }
            }
        }
    }
}
