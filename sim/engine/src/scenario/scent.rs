//! The `scent: (…)` section: decay, diffusion and how long a removed item's scent lingers
//! (spec §4). It refuses settings under which scent would not converge (`|λ| + 4|α| ≥ 1`) and a
//! response table (spec §4.2) too large to build.

use serde::{Deserialize, Serialize};

use super::error::{Problem, problem};
use crate::config::ScentConfig;

/// The largest scent response table accepted, in bytes (spec §4.2: `L · r(r+1)/2` doubles).
pub const MAX_SCENT_TABLE_BYTES: u64 = 1 << 30;

/// `scent: (…)`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScentSection {
    /// `λ`.
    pub decay: f32,
    /// `α`.
    pub diffusion: f32,
    /// `L`.
    pub deleted_item_lifetime: u32,
}

impl Default for ScentSection {
    fn default() -> Self {
        ScentSection { decay: 0.4, diffusion: 0.14, deleted_item_lifetime: 2000 }
    }
}

impl ScentSection {
    /// Checks the section for patches of side `n` and items with `dimension` scent channels.
    pub(super) fn resolve(&self, n: usize, dimension: usize) -> Result<ScentConfig, Problem> {
        let (decay, diffusion) = (self.decay, self.diffusion);
        if !(decay.is_finite() && diffusion.is_finite()) {
            return Err(problem("scent", "expected finite `decay` and `diffusion`"));
        }
        let sum = f64::from(decay).abs() + 4.0 * f64::from(diffusion).abs();
        if sum >= 1.0 {
            return Err(problem(
                "scent.diffusion",
                format!(
                    "scent would not converge: |decay| + 4·|diffusion| = {sum:.4} must be below 1 \
                     (decay {decay}, diffusion {diffusion})"
                ),
            ));
        }
        if self.deleted_item_lifetime == 0 {
            return Err(problem("scent.deleted_item_lifetime", "expected at least 1 step, found 0"));
        }
        let r = (n / 2 + 1) as u64;
        let table_bytes = u64::from(self.deleted_item_lifetime) * (r * (r + 1) / 2) * 8;
        if table_bytes > MAX_SCENT_TABLE_BYTES {
            return Err(problem(
                "scent.deleted_item_lifetime",
                format!(
                    "the scent response table for this lifetime and patch size would take {} MiB \
                     (at most {} MiB); shorten the lifetime or the patch size",
                    table_bytes >> 20,
                    MAX_SCENT_TABLE_BYTES >> 20
                ),
            ));
        }
        Ok(ScentConfig { dimension, decay, diffusion, deleted_item_lifetime: self.deleted_item_lifetime })
    }
}
