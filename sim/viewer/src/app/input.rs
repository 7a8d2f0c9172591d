//! The keys and the mouse, listed for the user in [`HELP`]: dragging, the arrows and WASD pan,
//! the wheel and + / − zoom (both move the camera); F and Tab choose whom to follow; Space, N and
//! `[` `]` steer the run through the feed's controls; M, V, B and H switch what is drawn; P takes
//! a screenshot. One system each, run in this file's order at the start of a frame. What the keys
//! set that the feed's controls do not hold is [`Toggles`].

use std::sync::atomic::Ordering;

use bevy::input::mouse::{AccumulatedMouseMotion, AccumulatedMouseScroll, MouseScrollUnit};
use bevy::prelude::*;

use super::camera::{Framing, middle};
use super::{Shared, screenshot};
use crate::feed::AgentView;

/// Speeds that `[` and `]` step through (steps per second; 0: as fast as it goes).
pub(super) const SPEEDS: [u64; 11] = [1, 2, 5, 10, 30, 100, 300, 1_000, 3_000, 10_000, 0];
/// Shown by H.
pub(super) const HELP: &str = "\
drag, arrows, WASD   pan
wheel, + / -         zoom
F                    follow the nearest agent / stop following
Tab                  follow the next agent
Space                pause / resume
N                    one step (when paused)
[ ]                  slower / faster
M                    scent overlay: off, all channels, each channel
V                    visual field of the followed agent
B                    patch borders
P                    screenshot (next to the run's output)
H                    this help";

/// What the keys set besides the camera and the feed's controls.
#[derive(Resource)]
pub(super) struct Toggles {
    /// Index into [`SPEEDS`].
    pub(super) speed: usize,
    /// Patch borders drawn (B).
    pub(super) borders: bool,
    /// The help panel shown (H).
    pub(super) help: bool,
}

impl Default for Toggles {
    fn default() -> Self {
        Toggles { speed: SPEEDS.len() - 1, borders: false, help: false }
    }
}

/// Panning: the keys move the centre 400 pixels' worth a second, dragging moves it with the
/// mouse. Either stops following.
pub(super) fn pan(
    keys: Res<ButtonInput<KeyCode>>,
    buttons: Res<ButtonInput<MouseButton>>,
    motion: Res<AccumulatedMouseMotion>,
    time: Res<Time>,
    mut framing: ResMut<Framing>,
) {
    let ppc = framing.pixels_per_cell;
    let direction = pan_direction(&keys);
    if direction != Vec2::ZERO {
        framing.follow = None;
        framing.centre += direction * 400.0 / ppc * time.delta_secs();
    }
    if buttons.pressed(MouseButton::Left) && motion.delta != Vec2::ZERO {
        framing.follow = None;
        framing.centre += Vec2::new(-motion.delta.x, motion.delta.y) / ppc;
    }
}

/// The sum of the directions whose keys are held (y up).
fn pan_direction(keys: &ButtonInput<KeyCode>) -> Vec2 {
    [
        ([KeyCode::ArrowLeft, KeyCode::KeyA], Vec2::NEG_X),
        ([KeyCode::ArrowRight, KeyCode::KeyD], Vec2::X),
        ([KeyCode::ArrowUp, KeyCode::KeyW], Vec2::Y),
        ([KeyCode::ArrowDown, KeyCode::KeyS], Vec2::NEG_Y),
    ]
    .into_iter()
    .filter(|(keys_for, _)| keys.any_pressed(*keys_for))
    .map(|(_, direction)| direction)
    .sum()
}

/// Zooming: each wheel notch (or 40 pixels of a touchpad's scroll) and each + or − press is a
/// factor of 1.25.
pub(super) fn zoom(
    keys: Res<ButtonInput<KeyCode>>,
    scroll: Res<AccumulatedMouseScroll>,
    mut framing: ResMut<Framing>,
) {
    let mut steps = match scroll.unit {
        MouseScrollUnit::Line => scroll.delta.y,
        MouseScrollUnit::Pixel => scroll.delta.y / 40.0,
    };
    if keys.any_just_pressed([KeyCode::Equal, KeyCode::NumpadAdd]) {
        steps += 1.0;
    }
    if keys.any_just_pressed([KeyCode::Minus, KeyCode::NumpadSubtract]) {
        steps -= 1.0;
    }
    if steps != 0.0 {
        framing.pixels_per_cell = zoomed(framing.pixels_per_cell, steps);
    }
}

/// `pixels_per_cell` zoomed in by `steps` (out, when negative), within 0.5 to 64.
fn zoomed(pixels_per_cell: f32, steps: f32) -> f32 {
    (pixels_per_cell * 1.25f32.powf(steps)).clamp(0.5, 64.0)
}

/// F follows the agent nearest the centre (or stops following), Tab the next agent; the run is
/// told whom the viewer follows.
pub(super) fn follow(keys: Res<ButtonInput<KeyCode>>, shared: Res<Shared>, mut framing: ResMut<Framing>) {
    if let Some(view) = shared.feed.latest() {
        if keys.just_pressed(KeyCode::KeyF) {
            framing.follow = match framing.follow {
                Some(_) => None,
                None => nearest(&view.agents, framing.centre),
            };
        }
        if keys.just_pressed(KeyCode::Tab) && !view.agents.is_empty() {
            framing.follow = next(&view.agents, framing.follow);
        }
    }
    shared.feed.controls.follow.store(framing.follow.unwrap_or(0), Ordering::Relaxed);
}

/// The agent nearest `centre` (the first of those equally near).
fn nearest(agents: &[AgentView], centre: Vec2) -> Option<u32> {
    let distance = |a: &AgentView| middle(a.position).distance(centre);
    agents.iter().min_by(|a, b| distance(a).total_cmp(&distance(b))).map(|a| a.id)
}

/// The agent after `follow` in id order, around to the first; the first when `follow` is none of
/// them.
fn next(agents: &[AgentView], follow: Option<u32>) -> Option<u32> {
    let i = match follow.and_then(|id| agents.iter().position(|a| a.id == id)) {
        Some(i) => (i + 1) % agents.len(),
        None => 0,
    };
    agents.get(i).map(|a| a.id)
}

/// Space pauses and resumes, N takes one step (pausing first), `[` and `]` step through
/// [`SPEEDS`].
pub(super) fn steer_run(keys: Res<ButtonInput<KeyCode>>, shared: Res<Shared>, mut toggles: ResMut<Toggles>) {
    let c = &shared.feed.controls;
    if keys.just_pressed(KeyCode::Space) {
        c.paused.fetch_xor(true, Ordering::Relaxed);
    }
    if keys.just_pressed(KeyCode::KeyN) {
        c.paused.store(true, Ordering::Relaxed);
        c.single_steps.fetch_add(1, Ordering::Relaxed);
    }
    if keys.just_pressed(KeyCode::BracketRight) {
        toggles.speed = (toggles.speed + 1).min(SPEEDS.len() - 1);
    }
    if keys.just_pressed(KeyCode::BracketLeft) {
        toggles.speed = toggles.speed.saturating_sub(1);
    }
    c.speed.store(SPEEDS[toggles.speed], Ordering::Relaxed);
}

/// M steps through the scent overlays, V switches the visual field, B the patch borders, H the
/// help.
pub(super) fn toggle_overlays(
    keys: Res<ButtonInput<KeyCode>>,
    shared: Res<Shared>,
    mut toggles: ResMut<Toggles>,
) {
    let c = &shared.feed.controls;
    if keys.just_pressed(KeyCode::KeyM) {
        let channels = shared.feed.latest().map_or(0, |v| v.scent_channels) as u32;
        c.scent.store(next_scent(c.scent.load(Ordering::Relaxed), channels), Ordering::Relaxed);
    }
    if keys.just_pressed(KeyCode::KeyV) {
        c.visual_field.fetch_xor(true, Ordering::Relaxed);
    }
    if keys.just_pressed(KeyCode::KeyB) {
        toggles.borders = !toggles.borders;
    }
    if keys.just_pressed(KeyCode::KeyH) {
        toggles.help = !toggles.help;
    }
}

/// The scent overlay after `scent` (0 off, 1 all channels, 2 + k channel k alone) for a world of
/// `channels` scent channels.
fn next_scent(scent: u32, channels: u32) -> u32 {
    let next = scent + 1;
    if next >= 2 + channels { 0 } else { next }
}

/// P saves `screenshot-<step>.png` into the run's output folder.
pub(super) fn screenshot_on_p(keys: Res<ButtonInput<KeyCode>>, shared: Res<Shared>, mut commands: Commands) {
    if keys.just_pressed(KeyCode::KeyP) {
        let step = shared.feed.latest().map_or(0, |v| v.step);
        let path = shared.options.screenshot_dir.join(format!("screenshot-{step}.png"));
        screenshot::take(&mut commands, path, false);
    }
}

#[cfg(test)]
mod tests {
    use beanworld_sim::Cell;

    use super::*;

    fn agents(cells: &[(u32, i64, i64)]) -> Vec<AgentView> {
        let agent = |&(id, x, y): &(u32, i64, i64)| AgentView {
            id,
            position: Cell::new(x, y),
            facing: 0,
            reward_rate: 0.0,
            collected: Vec::new(),
        };
        cells.iter().map(agent).collect()
    }

    #[test]
    fn f_follows_the_agent_nearest_the_centre() {
        let a = agents(&[(1, 10, 10), (2, -2, 1), (3, 5, 0)]);
        assert_eq!(nearest(&a, Vec2::new(0.0, 0.0)), Some(2));
        assert_eq!(nearest(&a, Vec2::new(9.0, 9.0)), Some(1));
        assert_eq!(nearest(&[], Vec2::ZERO), None);
    }

    #[test]
    fn tab_goes_round_the_agents_in_order() {
        let a = agents(&[(4, 0, 0), (7, 1, 0), (9, 2, 0)]);
        assert_eq!(next(&a, Some(4)), Some(7));
        assert_eq!(next(&a, Some(9)), Some(4));
        assert_eq!(next(&a, None), Some(4));
        assert_eq!(next(&a, Some(5)), Some(4), "an agent no longer there: the first");
    }

    #[test]
    fn m_cycles_off_all_channels_then_each_channel() {
        let mut seen = vec![0];
        for _ in 0..5 {
            seen.push(next_scent(*seen.last().unwrap_or(&0), 3));
        }
        assert_eq!(seen, [0, 1, 2, 3, 4, 0]);
    }

    #[test]
    fn zoom_is_a_factor_of_one_and_a_quarter_a_step_within_bounds() {
        assert_eq!(zoomed(16.0, 1.0), 20.0);
        assert!((zoomed(16.0, -2.0) - 10.24).abs() < 1e-4);
        assert_eq!(zoomed(60.0, 1.0), 64.0);
        assert_eq!(zoomed(0.6, -1.0), 0.5);
    }

    #[test]
    fn opposite_pan_keys_cancel() {
        let mut keys = ButtonInput::<KeyCode>::default();
        keys.press(KeyCode::KeyA);
        keys.press(KeyCode::ArrowUp);
        assert_eq!(pan_direction(&keys), Vec2::new(-1.0, 1.0));
        keys.press(KeyCode::KeyD);
        assert_eq!(pan_direction(&keys), Vec2::Y);
    }
}
