//! The `world: (…)` section: the side of a patch and the sampler's effort per patch. It owns
//! the patch-size limit; the other sections that depend on the patch size (scent, vision) are
//! checked against the size resolved here.

use serde::{Deserialize, Serialize};

use super::error::{Problem, problem};

/// The largest patch side the engine supports (cells of a patch are indexed by `u16`).
pub const MAX_PATCH_SIZE: u32 = 256;

/// `world: (…)`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorldSection {
    /// `n`, the side of a patch in cells.
    pub patch_size: u32,
    /// Sampler effort: Metropolis–Hastings proposals per patch.
    pub mcmc_iterations: u32,
}

impl Default for WorldSection {
    fn default() -> Self {
        WorldSection { patch_size: 32, mcmc_iterations: 4000 }
    }
}

impl WorldSection {
    /// Checks the section; the patch side `n` in cells.
    pub(super) fn resolve(&self) -> Result<usize, Problem> {
        if !(2..=MAX_PATCH_SIZE).contains(&self.patch_size) {
            return Err(problem(
                "world.patch_size",
                format!(
                    "expected a patch size between 2 and {MAX_PATCH_SIZE} cells, found {}",
                    self.patch_size
                ),
            ));
        }
        Ok(self.patch_size as usize)
    }
}
