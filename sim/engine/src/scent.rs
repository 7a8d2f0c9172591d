//! Scent (spec §4). Scent diffuses and decays linearly, so the engine never simulates a scent
//! grid: it superposes precomputed responses of a single unit source. `V(t, d)` is the scent at
//! offset `d` from a source present for steps `0..=t`; an item's contribution at time `t` is its
//! scent vector times `V` at its age (creation term) minus `V` at the time since it was collected
//! (deletion term, spec §4.3).

use crate::item::Item;

/// The response table `V(t, x, y)` for `t ∈ [0, L)` and `|x|, |y| < r`, `r = ⌊n/2⌋ + 1`, kept as
/// the triangle `0 ≤ y ≤ x < r` (it is symmetric in sign and in swapping x and y).
#[derive(Clone, Debug)]
pub struct ScentTable {
    radius: i64,
    lifetime: u64,
    per_step: usize,
    values: Vec<f64>,
    /// `V(L − 1, ·)` (the response to an item that has always existed) over the full square
    /// `[−(r−1), r−1]²`, for the common case without sign folding.
    steady: Vec<f64>,
}

fn triangle(x: usize, y: usize) -> usize {
    x * (x + 1) / 2 + y
}

/// The tables alive in this process, by their parameters (λ and α as bits, `L`, `n`): worlds of
/// one scenario share one, which is most of an idle world's memory otherwise (2.4 MB of 3.1 for
/// JBW's classic world).
type Shared = Vec<((u32, u32, u32, usize), std::sync::Weak<ScentTable>)>;
static SHARED: std::sync::Mutex<Shared> = std::sync::Mutex::new(Vec::new());

impl ScentTable {
    /// The table for decay `λ`, diffusion `α`, lifetime `L` and patch size `n`, shared with every
    /// other world of this process that has it (it is a function of those four alone).
    pub fn shared(decay: f32, diffusion: f32, lifetime: u32, patch_size: usize) -> std::sync::Arc<Self> {
        let key = (decay.to_bits(), diffusion.to_bits(), lifetime, patch_size);
        // A poisoned lock still holds a list of weak references, all valid.
        let mut shared = SHARED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(table) = shared.iter().find(|(k, _)| *k == key).and_then(|(_, t)| t.upgrade()) {
            return table;
        }
        let table = std::sync::Arc::new(ScentTable::new(decay, diffusion, lifetime, patch_size));
        shared.retain(|(k, t)| *k != key && t.strong_count() > 0);
        shared.push((key, std::sync::Arc::downgrade(&table)));
        table
    }

    /// Builds the table for decay `λ`, diffusion `α`, lifetime `L` and patch size `n`.
    pub fn new(decay: f32, diffusion: f32, lifetime: u32, patch_size: usize) -> Self {
        let r = (patch_size / 2 + 1).max(1);
        let (lambda, alpha) = (f64::from(decay), f64::from(diffusion));
        let per_step = r * (r + 1) / 2;
        let lifetime = lifetime.max(1) as usize;
        let mut values = Vec::with_capacity(per_step * lifetime);
        // The full quadrant of the previous step, `w = r + 1` to a row: the last row and column
        // stay 0, the neighbours at |q| ≥ r; a neighbour at −1 is the one at +1.
        let w = r + 1;
        let mut prev = vec![0.0f64; w * w];
        let mut next = vec![0.0f64; w * w];
        prev[0] = 1.0;
        for t in 0..lifetime {
            if t > 0 {
                for x in 0..r {
                    let (row, left, right) = (x * w, x.abs_diff(1) * w, (x + 1) * w);
                    for y in 0..r {
                        let around =
                            prev[left + y] + prev[right + y] + prev[row + y.abs_diff(1)] + prev[row + y + 1];
                        let source = if x == 0 && y == 0 { 1.0 } else { 0.0 };
                        next[row + y] = lambda * prev[row + y] + source + alpha * around;
                    }
                }
                std::mem::swap(&mut prev, &mut next);
            }
            for x in 0..r {
                values.extend_from_slice(&prev[x * w..x * w + x + 1]);
            }
        }
        let mut table =
            ScentTable { radius: r as i64, lifetime: lifetime as u64, per_step, values, steady: Vec::new() };
        let reach = r as i64 - 1;
        table.steady = (-reach..=reach)
            .flat_map(|dy| (-reach..=reach).map(move |dx| (dx, dy)))
            .map(|(dx, dy)| table.get(table.lifetime - 1, dx, dy))
            .collect();
        table
    }

    /// `V(L − 1, dx, dy)`, the scent an item that has always existed gives at offset `(dx,
    /// dy)`, or `None` when the offset is out of reach.
    #[inline]
    pub fn steady(&self, dx: i64, dy: i64) -> Option<f64> {
        let reach = self.radius - 1;
        let side = (2 * reach + 1) as u64;
        let (x, y) = ((dx + reach) as u64, (dy + reach) as u64);
        (x < side && y < side).then(|| self.steady[(y * side + x) as usize])
    }

    /// `r`: offsets with `|dx|` or `|dy| ≥ r` receive no scent.
    pub fn radius(&self) -> i64 {
        self.radius
    }

    /// `V(t, dx, dy)`; 0 outside the table.
    pub fn get(&self, t: u64, dx: i64, dy: i64) -> f64 {
        let (x, y) = (dx.unsigned_abs() as usize, dy.unsigned_abs() as usize);
        let r = self.radius as usize;
        if t >= self.lifetime || x >= r || y >= r {
            return 0.0;
        }
        let (x, y) = if x >= y { (x, y) } else { (y, x) };
        self.values[t as usize * self.per_step + triangle(x, y)]
    }

    /// Adds to `out` the scent that `item` of scent vector `scent` gives at offset `(dx, dy)`
    /// from it (`d = item − position`) at time `now` (spec §4.3).
    #[inline]
    pub fn add_item(&self, out: &mut [f64], scent: &[f32], item: &Item, dx: i64, dy: i64, now: u64) {
        let last = self.lifetime - 1;
        if item.deleted > 0 && now.saturating_sub(item.deleted) >= last {
            // Faded completely (and forgotten at `deleted + L`).
            return;
        }
        let age = if item.created == 0 { last } else { now.saturating_sub(item.created).min(last) };
        let mut v = self.get(age, dx, dy);
        if item.deleted > 0 {
            v -= self.get(now.saturating_sub(item.deleted), dx, dy);
        }
        if v != 0.0 {
            for (o, s) in out.iter_mut().zip(scent) {
                *o += v * f64::from(*s);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_close(got: f64, want: f64, tolerance: f64) {
        assert!((got - want).abs() <= tolerance, "got {got}, want {want}");
    }

    #[test]
    fn worlds_with_the_same_scent_share_one_table_while_it_lives() {
        let a = ScentTable::shared(0.4, 0.14, 97, 14);
        let b = ScentTable::shared(0.4, 0.14, 97, 14);
        assert!(std::sync::Arc::ptr_eq(&a, &b));
        let other = ScentTable::shared(0.4, 0.14, 98, 14);
        assert!(!std::sync::Arc::ptr_eq(&a, &other));
        let built = ScentTable::new(0.4, 0.14, 97, 14);
        assert_eq!(a.values, built.values);
        assert_eq!(a.steady, built.steady);
        drop((a, b));
        // Gone when the last world that held it is: the next is built afresh.
        let again = ScentTable::shared(0.4, 0.14, 97, 14);
        assert_eq!(std::sync::Arc::strong_count(&again), 1);
    }

    #[test]
    fn response_table_matches_the_reference_values() {
        // spec §12.1: columns V(0,0), V(1,0), V(1,1), V(2,0), V(5,0), V(10,0).
        let rows: [(u64, [f64; 6]); 7] = [
            (0, [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
            (1, [1.4, 0.14, 0.0, 0.0, 0.0, 0.0]),
            (2, [1.6384, 0.252, 0.0392, 0.0196, 0.0, 0.0]),
            (3, [1.79648, 0.343896, 0.08624, 0.04312, 0.0, 0.0]),
            (5, [1.999249, 0.482061, 0.176620, 0.092920, 5.37824e-5, 0.0]),
            (10, [2.253629, 0.684857, 0.337164, 0.199227, 1.91363e-3, 2.89e-9]),
            (100, [2.607612, 1.008312, 0.632952, 0.448433, 0.0581515, 2.585e-3]),
        ];
        for n in [32, 64] {
            let table = ScentTable::new(0.4, 0.14, 2000, n);
            for (t, want) in rows {
                let got = [
                    table.get(t, 0, 0),
                    table.get(t, 1, 0),
                    table.get(t, 1, 1),
                    table.get(t, 2, 0),
                    table.get(t, 5, 0),
                    table.get(t, 10, 0),
                ];
                for (g, w) in got.iter().zip(want) {
                    // The reference values are printed to 6–7 significant digits, the small
                    // ones to 3–6.
                    let relative = if w < 0.01 { 2e-4 } else { 5e-6 };
                    assert_close(*g, w, (relative * w).max(5e-12));
                }
            }
            assert_close(table.get(1999, 0, 0), 2.609431, 1e-6);
            assert_close(table.get(1999, 1, 0), 1.010105, 1e-6);
            assert_close(table.get(1999, 0, -1), 1.010105, 1e-6);
            assert_close(table.get(1999, -1, 1), 0.634720, 1e-6);
            assert_close(table.get(1999, 2, 0), 0.450151, 1e-6);
            assert_close(table.get(1999, 5, 0), 0.0594211, 2e-7);
        }
        let small = ScentTable::new(0.4, 0.14, 2000, 32);
        assert_close(small.get(1999, 10, 0), 3.023e-3, 1e-6);
        assert_close(small.get(1999, 16, 0), 6.78e-5, 1e-7);
        assert_eq!(small.get(1999, 17, 0), 0.0, "outside the absorbing boundary");
        let large = ScentTable::new(0.4, 0.14, 2000, 64);
        assert_close(large.get(1999, 10, 0), 3.024e-3, 1e-6);
        assert_close(large.get(1999, 32, 0), 1.0e-8, 1e-9);
    }

    #[test]
    fn collected_items_fade_to_exactly_zero() {
        let table = ScentTable::new(0.4, 0.14, 2000, 32);
        let mut item = Item::initial(0, crate::Cell::new(0, 0));
        item.deleted = 100;
        let mut out = [0.0];
        table.add_item(&mut out, &[1.0], &item, 0, 0, 100);
        assert_close(out[0], table.get(1999, 0, 0) - 1.0, 1e-12);
        let mut out = [0.0];
        table.add_item(&mut out, &[1.0], &item, 0, 0, 100 + 1999);
        assert_eq!(out[0], 0.0);
    }
}
