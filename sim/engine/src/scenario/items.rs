//! The `items: […]` section: the item types, in type order, each naming others by name (what
//! collecting it requires and costs, how it interacts with them). Resolving it checks names
//! (present, unique, known), that every type has as many scent and colour channels as the
//! first, and that every number is usable; it yields the engine's [`ItemType`]s and the
//! [`ItemNames`] the later sections (task, dynamics, teacher) find types by.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::{Problem, check_finite, problem};
use crate::config::ItemType;
use crate::energy::{Intensity, Interaction};

/// The most item types a scenario may define.
pub const MAX_ITEM_TYPES: usize = 1024;

/// One entry of `items: […]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "Item")]
pub struct ItemSpec {
    /// Unique name, used to refer to the type elsewhere in the file.
    pub name: String,
    /// Scent vector.
    pub scent: Vec<f32>,
    /// Colour vector.
    pub color: Vec<f32>,
    /// Items the agent must hold to collect one, by name (absent = 0).
    #[serde(default)]
    pub required: BTreeMap<String, u32>,
    /// Items removed from the inventory on collection, by name (absent = 0).
    #[serde(default)]
    pub costs: BTreeMap<String, u32>,
    /// Whether agents cannot walk into it.
    #[serde(default)]
    pub blocks_movement: bool,
    /// Darkening of cells behind it.
    #[serde(default)]
    pub visual_occlusion: f32,
    /// Unary energy.
    #[serde(default = "zero_intensity")]
    pub intensity: Intensity,
    /// Pairwise energy with other types, by name (absent = zero).
    #[serde(default)]
    pub interactions: BTreeMap<String, Interaction>,
    /// Relative rate of birth proposals for this type (default 1, as in JBW).
    #[serde(default = "one")]
    pub proposal_weight: f32,
}

fn zero_intensity() -> Intensity {
    Intensity::Zero
}

fn one() -> f32 {
    1.0
}

/// Finds an item type by name for the field at a path (`String`), or says which names exist.
pub(super) type Lookup<'a> = dyn Fn(String, &str) -> Result<usize, Problem> + 'a;

/// The item types of the file by name.
pub(super) struct ItemNames<'a>(BTreeMap<&'a str, usize>);

impl ItemNames<'_> {
    /// The type called `name`, named at `path`; an unknown name lists the known ones in
    /// alphabetical order.
    pub(super) fn lookup(&self, path: String, name: &str) -> Result<usize, Problem> {
        self.0.get(name).copied().ok_or_else(|| {
            let known: Vec<_> = self.0.keys().map(|k| format!("\"{k}\"")).collect();
            problem(path, format!("unknown item \"{name}\"; expected one of {}", known.join(", ")))
        })
    }
}

/// Checks the section: its length and names first, then each type in order.
pub(super) fn resolve(items: &[ItemSpec]) -> Result<(Vec<ItemType>, ItemNames<'_>), Problem> {
    if items.is_empty() {
        return Err(problem("items", "expected at least one item type, found none"));
    }
    if items.len() > MAX_ITEM_TYPES {
        return Err(problem(
            "items",
            format!("expected at most {MAX_ITEM_TYPES} item types, found {}", items.len()),
        ));
    }
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, item) in items.iter().enumerate() {
        if item.name.is_empty() {
            return Err(problem(format!("items[{i}].name"), "expected a non-empty name"));
        }
        if let Some(first) = names.insert(&item.name, i) {
            return Err(problem(
                format!("items[{i}].name"),
                format!("item name \"{}\" is already used by items[{first}]", item.name),
            ));
        }
    }
    let names = ItemNames(names);
    let dimensions = (items[0].scent.len(), items[0].color.len());
    let types = items
        .iter()
        .enumerate()
        .map(|(i, item)| resolve_item(&format!("items[{i}]"), item, items.len(), dimensions, &names))
        .collect::<Result<_, _>>()?;
    Ok((types, names))
}

/// Checks one type, written at `at`, of `count`, and resolves the names it refers to.
fn resolve_item(
    at: &str,
    item: &ItemSpec,
    count: usize,
    dimensions: (usize, usize),
    names: &ItemNames<'_>,
) -> Result<ItemType, Problem> {
    check_values(at, item, dimensions)?;
    let mut required_counts = vec![0; count];
    for (other, &n) in &item.required {
        required_counts[names.lookup(format!("{at}.required[{other:?}]"), other)?] = n;
    }
    let mut required_costs = vec![0; count];
    for (other, &n) in &item.costs {
        required_costs[names.lookup(format!("{at}.costs[{other:?}]"), other)?] = n;
    }
    let mut interactions = vec![Interaction::Zero; count];
    for (other, g) in &item.interactions {
        let path = format!("{at}.interactions[{other:?}]");
        let j = names.lookup(path.clone(), other)?;
        check_interaction(&path, g)?;
        interactions[j] = g.clone();
    }
    Ok(ItemType {
        name: item.name.clone(),
        scent: item.scent.clone(),
        color: item.color.clone(),
        required_counts,
        required_costs,
        blocks_movement: item.blocks_movement,
        visual_occlusion: item.visual_occlusion,
        intensity: item.intensity.clone(),
        interactions,
        proposal_weight: item.proposal_weight,
    })
}

/// Checks the numbers of one type: as many `(scent, colour)` channels as `dimensions` (those
/// of `items[0]`), all finite, and occlusion, intensity and proposal weight in range.
fn check_values(
    at: &str,
    item: &ItemSpec,
    (scent_dimension, color_dimension): (usize, usize),
) -> Result<(), Problem> {
    if item.scent.len() != scent_dimension {
        return Err(problem(
            format!("{at}.scent"),
            format!("expected {scent_dimension} scent values (as items[0] has), found {}", item.scent.len()),
        ));
    }
    if item.color.len() != color_dimension {
        return Err(problem(
            format!("{at}.color"),
            format!("expected {color_dimension} colour values (as items[0] has), found {}", item.color.len()),
        ));
    }
    check_finite(&format!("{at}.scent"), &item.scent)?;
    check_finite(&format!("{at}.color"), &item.color)?;
    if !(item.visual_occlusion.is_finite() && item.visual_occlusion >= 0.0) {
        return Err(problem(
            format!("{at}.visual_occlusion"),
            format!("expected a finite number ≥ 0, found {}", item.visual_occlusion),
        ));
    }
    check_intensity(&format!("{at}.intensity"), &item.intensity)?;
    if !(item.proposal_weight.is_finite() && item.proposal_weight > 0.0) {
        return Err(problem(
            format!("{at}.proposal_weight"),
            format!("expected a finite number > 0, found {}", item.proposal_weight),
        ));
    }
    Ok(())
}

fn check_intensity(path: &str, f: &Intensity) -> Result<(), Problem> {
    match *f {
        Intensity::Zero => Ok(()),
        Intensity::Constant(c) => check_finite(&format!("{path}[0]"), &[c]),
        Intensity::RadialHash { shift, scale, c, k } => {
            check_finite(path, &[shift, scale, c, k])?;
            if scale < 1.0 {
                return Err(problem(
                    format!("{path}.scale"),
                    format!("expected a period ≥ 1 cell, found {scale}"),
                ));
            }
            Ok(())
        }
    }
}

fn check_interaction(path: &str, g: &Interaction) -> Result<(), Problem> {
    match *g {
        Interaction::Zero => Ok(()),
        Interaction::PiecewiseBox { l1, l2, c1, c2 } => check_finite(path, &[l1, l2, c1, c2]),
        Interaction::Cross { d1, d2, near_aligned, far_aligned, near_off_axis, far_off_axis } => {
            check_finite(path, &[d1, d2, near_aligned, far_aligned, near_off_axis, far_off_axis])
        }
        Interaction::CrossHash { s, c, k, delta, near_aligned, far_aligned, near_off_axis, far_off_axis } => {
            check_finite(path, &[s, c, k, delta, near_aligned, far_aligned, near_off_axis, far_off_axis])?;
            if s < 1.0 {
                return Err(problem(format!("{path}.s"), format!("expected a period ≥ 1 cell, found {s}")));
            }
            Ok(())
        }
    }
}
