//! Where the window looks: its centre in cells, the zoom in pixels per cell, and the agent
//! followed, whom the camera keeps in the middle. Each frame the camera tells the run which cells
//! are on screen, so that the views it publishes carry those (and, at most, a few more).

use beanworld_sim::{Cell, Region};
use bevy::prelude::*;
use bevy::window::PrimaryWindow;

use super::{Shared, WatchOptions};

/// What the window shows and how close.
#[derive(Resource)]
pub(super) struct Framing {
    /// World position of the window's centre, in cells.
    pub(super) centre: Vec2,
    pub(super) pixels_per_cell: f32,
    /// The agent followed, by id.
    pub(super) follow: Option<u32>,
    /// Whether a first agent to follow has been chosen (the one asked for, or the first).
    pub(super) follow_chosen: bool,
}

impl Framing {
    pub(super) fn new(options: &WatchOptions) -> Self {
        Framing {
            centre: Vec2::ZERO,
            pixels_per_cell: options.pixels_per_cell,
            follow: options.follow,
            follow_chosen: options.follow.is_some(),
        }
    }
}

/// The middle of `cell`, in world units (one a cell, y up).
pub(super) fn middle(cell: Cell) -> Vec2 {
    Vec2::new(cell.x as f32 + 0.5, cell.y as f32 + 0.5)
}

pub(super) fn spawn(mut commands: Commands) {
    commands.spawn(Camera2d);
}

/// Centres the camera (on the followed agent, if any), sets its zoom, and tells the run which
/// cells are on screen.
pub(super) fn place(
    shared: Res<Shared>,
    mut framing: ResMut<Framing>,
    window: Query<&Window, With<PrimaryWindow>>,
    mut camera: Query<(&mut Transform, &mut Projection), With<Camera2d>>,
) {
    if let (Some(id), Some(view)) = (framing.follow, shared.feed.latest())
        && let Some(agent) = view.agents.iter().find(|a| a.id == id)
    {
        framing.centre = middle(agent.position);
    }
    let Ok((mut transform, mut projection)) = camera.single_mut() else { return };
    transform.translation = framing.centre.extend(transform.translation.z);
    if let Projection::Orthographic(o) = &mut *projection {
        o.scale = 1.0 / framing.pixels_per_cell;
    }
    let Ok(window) = window.single() else { return };
    let size = Vec2::new(window.width(), window.height());
    shared.feed.controls.want(on_screen(framing.centre, framing.pixels_per_cell, size));
}

/// The cells that a window of `size` pixels centred on `centre` shows at `pixels_per_cell`
/// (every cell any part of which is on screen).
fn on_screen(centre: Vec2, pixels_per_cell: f32, size: Vec2) -> Region {
    let half = size / (2.0 * pixels_per_cell);
    let (lo, hi) = (centre - half, centre + half);
    Region::new(
        Cell::new(lo.x.floor() as i64, lo.y.floor() as i64),
        Cell::new(hi.x.ceil() as i64, hi.y.ceil() as i64),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_region_on_screen_covers_every_cell_partly_shown() {
        // 800 × 600 pixels at 16 a cell: 50 × 37.5 cells around the middle of cell (0, 0).
        let region = on_screen(middle(Cell::new(0, 0)), 16.0, Vec2::new(800.0, 600.0));
        assert_eq!(region, Region::new(Cell::new(-25, -19), Cell::new(26, 20)));
    }

    #[test]
    fn the_middle_of_a_cell_is_half_a_cell_in() {
        assert_eq!(middle(Cell::new(-3, 4)), Vec2::new(-2.5, 4.5));
    }
}
