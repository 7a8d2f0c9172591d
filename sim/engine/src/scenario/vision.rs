//! The `vision: (…)` section: range, field of view and the colour agents are seen in (spec §5).
//! It refuses a range the engine cannot serve (more than half a patch) and an agent colour with
//! another number of channels than the items'.

use serde::{Deserialize, Serialize};

use super::error::{Problem, check_finite, problem};
use crate::config::VisionConfig;

/// `vision: (…)`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VisionSection {
    /// `R`.
    pub range: u32,
    /// Field of view in degrees; 360 sees all around.
    pub field_of_view_degrees: f32,
    /// Colour of agents.
    pub agent_color: Vec<f32>,
}

impl Default for VisionSection {
    fn default() -> Self {
        VisionSection { range: 5, field_of_view_degrees: 360.0, agent_color: vec![0.0, 0.0, 1.0] }
    }
}

impl VisionSection {
    /// Checks the section for patches of side `n` and items with `color_dimension` colour
    /// channels.
    pub(super) fn resolve(self, n: usize, color_dimension: usize) -> Result<VisionConfig, Problem> {
        if self.range as usize > n / 2 {
            return Err(problem(
                "vision.range",
                format!(
                    "vision range {} is larger than half the patch size ({}), the most the engine \
                     can see; raise `world.patch_size` or lower the range",
                    self.range,
                    n / 2
                ),
            ));
        }
        let fov = self.field_of_view_degrees;
        if !(fov.is_finite() && fov > 0.0 && fov <= 360.0) {
            return Err(problem(
                "vision.field_of_view_degrees",
                format!("expected an angle in (0, 360] degrees, found {fov}"),
            ));
        }
        if self.agent_color.len() != color_dimension {
            return Err(problem(
                "vision.agent_color",
                format!(
                    "expected {color_dimension} colour values (as the items have), found {}",
                    self.agent_color.len()
                ),
            ));
        }
        check_finite("vision.agent_color", &self.agent_color)?;
        Ok(VisionConfig {
            color_dimension,
            range: self.range,
            field_of_view: (f64::from(fov).to_radians()) as f32,
            agent_color: self.agent_color,
        })
    }
}
