//! The newest view onto the screen. [`receive`] takes the feed's latest view when it is one not
//! drawn yet (each publication is a new view: a paused run republishes as the region or the
//! overlays change), and the systems after it draw it: patches as sprites of one texel per cell,
//! redrawn only when their version (or the borders setting) changes; the overlay as one image over
//! its region; agents as arrows, the followed one larger and red. Sprites are kept from view to
//! view and changed in place; patches that leave the view are despawned with their images.

use std::sync::Arc;

use beanworld_sim::{PatchCoord, Region};
use bevy::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};

use super::Shared;
use super::camera::{Framing, middle};
use super::input::Toggles;
use super::texture::{arrow, fill, image};
use crate::feed::{AgentView, OverlayView, PatchView, View};

/// The view to draw this frame, if the feed has one not drawn yet.
#[derive(Resource, Default)]
pub(super) struct Incoming {
    pub(super) view: Option<Arc<View>>,
    /// Whether its step is another than the last drawn (the plot takes one sample a step).
    pub(super) new_step: bool,
}

/// What is on screen.
#[derive(Resource)]
pub(super) struct Drawn {
    /// The view drawn last, with the borders setting it was drawn with, and its step.
    view: Option<(Arc<View>, bool)>,
    step: Option<u64>,
    patches: FxHashMap<PatchCoord, PatchSprite>,
    /// The overlay's sprite and its image.
    overlay: Option<(Entity, Handle<Image>)>,
    /// One arrow per agent of the most agents a view had so far (those beyond hidden).
    arrows: Vec<Entity>,
    arrow: Handle<Image>,
}

impl Drawn {
    /// Patches on screen.
    pub(super) fn patch_count(&self) -> usize {
        self.patches.len()
    }
}

/// One patch on screen: its sprite, its image, and the version and borders setting drawn.
struct PatchSprite {
    entity: Entity,
    image: Handle<Image>,
    version: u64,
    borders: bool,
}

pub(super) fn setup(mut commands: Commands, mut images: ResMut<Assets<Image>>) {
    commands.insert_resource(Drawn {
        view: None,
        step: None,
        patches: FxHashMap::default(),
        overlay: None,
        arrows: Vec::new(),
        arrow: images.add(arrow()),
    });
}

/// Takes the latest view if it has not been drawn (with the borders as they are now); picks the
/// first agent to follow once one is there, unless one was asked for.
pub(super) fn receive(
    shared: Res<Shared>,
    toggles: Res<Toggles>,
    mut framing: ResMut<Framing>,
    mut drawn: ResMut<Drawn>,
    mut incoming: ResMut<Incoming>,
) {
    *incoming = Incoming::default();
    let Some(view) = shared.feed.latest() else { return };
    if drawn.view.as_ref().is_some_and(|(v, b)| Arc::ptr_eq(v, &view) && *b == toggles.borders) {
        return;
    }
    drawn.view = Some((Arc::clone(&view), toggles.borders));
    if !framing.follow_chosen {
        framing.follow = view.agents.first().map(|a| a.id);
        framing.follow_chosen = true;
    }
    incoming.new_step = drawn.step != Some(view.step);
    drawn.step = Some(view.step);
    incoming.view = Some(view);
}

/// Patch sprites: new ones spawned, changed ones refilled, those out of the view despawned.
pub(super) fn patches(
    incoming: Res<Incoming>,
    toggles: Res<Toggles>,
    mut drawn: ResMut<Drawn>,
    mut commands: Commands,
    mut images: ResMut<Assets<Image>>,
) {
    let Some(view) = &incoming.view else { return };
    let (borders, edge) = (toggles.borders, view.patch_size);
    for patch in &view.patches {
        let texels = texels(&patch.cells, edge, borders);
        match drawn.patches.get_mut(&patch.coord) {
            Some(sprite) => {
                if sprite.version != patch.version || sprite.borders != borders {
                    if let Some(mut img) = images.get_mut(&sprite.image) {
                        fill(&mut img, texels);
                    }
                    (sprite.version, sprite.borders) = (patch.version, borders);
                }
            }
            None => {
                let sprite = spawn_patch(&mut commands, &mut images, patch, edge, texels, borders);
                drawn.patches.insert(patch.coord, sprite);
            }
        }
    }
    let shown: FxHashSet<PatchCoord> = view.patches.iter().map(|p| p.coord).collect();
    drawn.patches.retain(|coord, sprite| {
        let keep = shown.contains(coord);
        if !keep {
            commands.entity(sprite.entity).despawn();
            images.remove(&sprite.image);
        }
        keep
    });
}

/// A sprite for `patch`, `edge` cells a side, showing `texels`.
fn spawn_patch(
    commands: &mut Commands,
    images: &mut Assets<Image>,
    patch: &PatchView,
    edge: usize,
    texels: impl Iterator<Item = u32>,
    borders: bool,
) -> PatchSprite {
    let mut img = image(edge as u32, edge as u32, [0, 0, 0, 255]);
    fill(&mut img, texels);
    let image = images.add(img);
    let (origin, n) = (patch.coord.origin(edge), edge as f32);
    let entity = commands
        .spawn((
            Sprite { image: image.clone(), custom_size: Some(Vec2::splat(n)), ..default() },
            Transform::from_xyz(origin.x as f32 + n / 2.0, origin.y as f32 + n / 2.0, 0.0),
        ))
        .id();
    PatchSprite { entity, image, version: patch.version, borders }
}

/// A patch's texels: its cells, rows from the top; with `borders`, the top row and the left
/// column at half brightness (and opaque), so that each patch shows its edges once.
fn texels(cells: &[u32], edge: usize, borders: bool) -> impl Iterator<Item = u32> + '_ {
    cells.iter().enumerate().map(move |(i, &c)| {
        let (row, col) = (i / edge, i % edge);
        if borders && (row == 0 || col == 0) { (c >> 1) & 0x007f_7f7f | 0xff00_0000 } else { c }
    })
}

/// The overlay's sprite: spawned, refilled and moved, or despawned, as the view has one or not.
pub(super) fn overlay(
    incoming: Res<Incoming>,
    mut drawn: ResMut<Drawn>,
    mut commands: Commands,
    mut images: ResMut<Assets<Image>>,
    mut sprites: Query<(&mut Transform, &mut Sprite)>,
) {
    let Some(view) = &incoming.view else { return };
    match (&view.overlay, drawn.overlay.clone()) {
        (Some(o), Some((entity, handle))) => {
            let (centre, size) = placement(o.region);
            let _ = images.insert(&handle, overlay_image(o));
            if let Ok((mut t, mut s)) = sprites.get_mut(entity) {
                t.translation = centre;
                s.custom_size = Some(size);
            }
        }
        (Some(o), None) => {
            let (centre, size) = placement(o.region);
            let handle = images.add(overlay_image(o));
            let entity = commands
                .spawn((
                    Sprite { image: handle.clone(), custom_size: Some(size), ..default() },
                    Transform::from_translation(centre),
                ))
                .id();
            drawn.overlay = Some((entity, handle));
        }
        (None, Some((entity, handle))) => {
            commands.entity(entity).despawn();
            images.remove(&handle);
            drawn.overlay = None;
        }
        (None, None) => {}
    }
}

fn overlay_image(o: &OverlayView) -> Image {
    let mut img = image(o.region.width() as u32, o.region.height() as u32, [0, 0, 0, 255]);
    fill(&mut img, o.cells.iter().copied());
    img
}

/// Where a sprite covering `region` goes (above the patches) and its size, in cells.
fn placement(region: Region) -> (Vec3, Vec2) {
    let size = Vec2::new(region.width() as f32, region.height() as f32);
    let min = Vec2::new(region.min.x as f32, region.min.y as f32);
    ((min + size / 2.0).extend(1.0), size)
}

/// The agents' arrows: as many as there are agents (more spawned as needed, those left over
/// hidden), each on its cell and facing its way, above the overlay.
pub(super) fn agents(
    incoming: Res<Incoming>,
    framing: Res<Framing>,
    mut drawn: ResMut<Drawn>,
    mut commands: Commands,
    mut sprites: Query<(&mut Transform, &mut Sprite, &mut Visibility)>,
) {
    let Some(view) = &incoming.view else { return };
    while drawn.arrows.len() < view.agents.len() {
        let arrow = drawn.arrow.clone();
        // Hidden until the next view places it (the spawn lands after this system).
        let entity = commands.spawn((Sprite { image: arrow, ..default() }, Visibility::Hidden)).id();
        drawn.arrows.push(entity);
    }
    for (i, &entity) in drawn.arrows.iter().enumerate() {
        let Ok((mut t, mut s, mut vis)) = sprites.get_mut(entity) else { continue };
        let Some(agent) = view.agents.get(i) else {
            *vis = Visibility::Hidden;
            continue;
        };
        *vis = Visibility::Visible;
        let followed = framing.follow == Some(agent.id);
        t.translation = middle(agent.position).extend(2.0);
        t.rotation = Quat::from_rotation_z(facing_angle(agent));
        s.custom_size = Some(Vec2::splat(if followed { 1.3 } else { 0.9 }));
        s.color = if followed { Color::srgb_u8(230, 40, 40) } else { Color::srgb_u8(20, 20, 20) };
    }
}

/// How far an up-pointing arrow turns (anticlockwise) to point the way `agent` faces.
fn facing_angle(agent: &AgentView) -> f32 {
    use std::f32::consts::{FRAC_PI_2, PI};
    match agent.facing {
        0 => 0.0,
        1 => PI,
        2 => FRAC_PI_2,
        _ => -FRAC_PI_2,
    }
}

#[cfg(test)]
mod tests {
    use beanworld_sim::Cell;

    use super::*;

    #[test]
    fn borders_darken_the_top_row_and_left_column_only() {
        let cells = vec![0x80ff_ffffu32; 9];
        let drawn: Vec<u32> = texels(&cells, 3, true).collect();
        let dark = 0xff7f_7f7f;
        assert_eq!(drawn, [dark, dark, dark, dark, cells[4], cells[5], dark, cells[7], cells[8]]);
        assert!(texels(&cells, 3, false).eq(cells.iter().copied()));
    }

    #[test]
    fn an_overlay_sprite_covers_its_region() {
        let region = Region::new(Cell::new(-2, 3), Cell::new(5, 4));
        let (centre, size) = placement(region);
        assert_eq!(size, Vec2::new(region.width() as f32, region.height() as f32));
        assert_eq!(centre, Vec3::new(-2.0 + size.x / 2.0, 3.0 + size.y / 2.0, 1.0));
    }

    #[test]
    fn arrows_turn_to_face_up_down_left_right() {
        let agent = |facing| AgentView {
            id: 1,
            position: Cell::new(0, 0),
            facing,
            reward_rate: 0.0,
            collected: vec![],
        };
        let up = Vec2::Y;
        let turned = |f| Vec2::from_angle(facing_angle(&agent(f))).rotate(up);
        for (facing, expected) in [(0, Vec2::Y), (1, Vec2::NEG_Y), (2, Vec2::NEG_X), (3, Vec2::X)] {
            assert!(turned(facing).distance(expected) < 1e-6, "facing {facing}: {:?}", turned(facing));
        }
    }
}
