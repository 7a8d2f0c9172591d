//! The HUD, over the world: the text panel (step, speed, the reward function, reward rates, items
//! collected, zoom and overlays) at the top left, the reward-rate plot (one sample a step: the
//! followed agent and the mean over agents) at the bottom left, the inset with what the followed
//! agent sees at the top right, and the help panel that H shows.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;

use bevy::prelude::*;

use super::Shared;
use super::camera::Framing;
use super::draw::Incoming;
use super::input::{HELP, SPEEDS, Toggles};
use super::texture::{fill, image};
use crate::feed::{AgentView, Controls, View};

/// Plot width in samples (and pixels) and height in pixels.
const PLOT: (usize, usize) = (240, 80);

#[derive(Component)]
pub(super) struct HudText;
#[derive(Component)]
pub(super) struct HelpText;
#[derive(Component)]
pub(super) struct SightInset;

/// Reward rates of the followed agent and the mean over agents, one sample per step drawn, and
/// the image they are plotted into.
#[derive(Resource)]
pub(super) struct Plot {
    rates: VecDeque<(f64, f64)>,
    image: Handle<Image>,
}

/// The image of what the followed agent sees.
#[derive(Resource)]
pub(super) struct Sight(Handle<Image>);

/// Spawns the text panel, the plot, the inset and the help panel (in this order, which is also
/// the order they stack in).
pub(super) fn spawn(mut commands: Commands, mut images: ResMut<Assets<Image>>) {
    let sight = images.add(image(1, 1, [0, 0, 0, 255]));
    let plot = images.add(image(PLOT.0 as u32, PLOT.1 as u32, [20, 20, 24, 200]));
    commands.spawn(text_panel());
    commands.spawn(plot_node(plot.clone()));
    commands.spawn(inset_node(sight.clone()));
    commands.spawn(help_panel());
    commands.insert_resource(Plot { rates: VecDeque::new(), image: plot });
    commands.insert_resource(Sight(sight));
}

fn text_panel() -> impl Bundle {
    (
        HudText,
        Text::new("waiting for the run…"),
        TextFont::from_font_size(14.0),
        TextColor(Color::WHITE),
        Node {
            position_type: PositionType::Absolute,
            left: px(8.0),
            top: px(8.0),
            padding: UiRect::all(px(6.0)),
            ..default()
        },
        BackgroundColor(Color::srgba(0.0, 0.0, 0.0, 0.6)),
    )
}

fn plot_node(plot: Handle<Image>) -> impl Bundle {
    (
        ImageNode::new(plot),
        Node {
            position_type: PositionType::Absolute,
            left: px(8.0),
            bottom: px(8.0),
            width: px(PLOT.0 as f32),
            height: px(PLOT.1 as f32),
            ..default()
        },
    )
}

fn inset_node(sight: Handle<Image>) -> impl Bundle {
    (
        SightInset,
        ImageNode::new(sight),
        Node {
            position_type: PositionType::Absolute,
            right: px(8.0),
            top: px(8.0),
            width: px(132.0),
            height: px(132.0),
            ..default()
        },
        Visibility::Hidden,
    )
}

fn help_panel() -> impl Bundle {
    (
        HelpText,
        Text::new(HELP),
        TextFont::from_font_size(14.0),
        TextColor(Color::WHITE),
        Node {
            position_type: PositionType::Absolute,
            left: px(160.0),
            top: px(120.0),
            padding: UiRect::all(px(10.0)),
            ..default()
        },
        BackgroundColor(Color::srgba(0.0, 0.0, 0.0, 0.8)),
        Visibility::Hidden,
    )
}

/// The inset: shown while the view has what the followed agent sees, and redrawn with it.
pub(super) fn sight(
    incoming: Res<Incoming>,
    sight: Res<Sight>,
    mut images: ResMut<Assets<Image>>,
    mut inset: Query<&mut Visibility, With<SightInset>>,
) {
    let Some(view) = &incoming.view else { return };
    if let Ok(mut vis) = inset.single_mut() {
        *vis = if view.sight.is_some() { Visibility::Visible } else { Visibility::Hidden };
    }
    if let Some((side, cells)) = &view.sight {
        let mut img = image(*side, *side, [0, 0, 0, 255]);
        fill(&mut img, cells.iter().copied());
        let _ = images.insert(&sight.0, img);
    }
}

/// A sample for the plot at each new step, and the plot redrawn.
pub(super) fn sample_rates(
    incoming: Res<Incoming>,
    framing: Res<Framing>,
    mut plot: ResMut<Plot>,
    mut images: ResMut<Assets<Image>>,
) {
    let Some(view) = incoming.view.as_ref().filter(|_| incoming.new_step) else { return };
    let mean = mean_rate(view);
    let followed = followed(view, framing.follow).map_or(mean, |a| a.reward_rate);
    plot.rates.push_back((followed, mean));
    while plot.rates.len() > PLOT.0 {
        plot.rates.pop_front();
    }
    let _ = images.insert(&plot.image, draw_plot(&plot.rates));
}

/// The mean reward rate over `view`'s agents (0 with none).
fn mean_rate(view: &View) -> f64 {
    view.agents.iter().map(|a| a.reward_rate).sum::<f64>() / view.agents.len().max(1) as f64
}

/// The followed agent, if it is in `view`.
fn followed(view: &View, follow: Option<u32>) -> Option<&AgentView> {
    follow.and_then(|id| view.agents.iter().find(|a| a.id == id))
}

/// The reward-rate plot: the followed agent in orange, the mean over agents in light blue, both
/// scaled to the highest rate plotted.
fn draw_plot(rates: &VecDeque<(f64, f64)>) -> Image {
    let (w, h) = PLOT;
    let mut img = image(w as u32, h as u32, [20, 20, 24, 220]);
    let top = rates.iter().fold(1e-6f64, |m, &(a, b)| m.max(a).max(b));
    if let Some(data) = img.data.as_mut() {
        let row = |v: f64| ((1.0 - v / top) * (h - 1) as f64).round().clamp(0.0, (h - 1) as f64) as usize;
        // Each sample joined to the one before by a vertical run, so the curve reads as a line.
        let mut line = |x: usize, from: usize, to: usize, colour: [u8; 4]| {
            for y in from.min(to)..=from.max(to) {
                data[(y * w + x) * 4..][..4].copy_from_slice(&colour);
            }
        };
        let mut last: Option<(usize, usize)> = None;
        for (x, &(followed, mean)) in rates.iter().enumerate() {
            let (f, m) = (row(followed), row(mean));
            let (lf, lm) = last.unwrap_or((f, m));
            line(x, lm, m, [120, 180, 255, 255]);
            line(x, lf, f, [255, 150, 40, 255]);
            last = Some((f, m));
        }
    }
    img
}

/// The help panel, shown while H has it on.
pub(super) fn help(toggles: Res<Toggles>, mut help: Query<&mut Visibility, With<HelpText>>) {
    if let Ok(mut vis) = help.single_mut() {
        *vis = if toggles.help { Visibility::Visible } else { Visibility::Hidden };
    }
}

/// The text panel, from the latest view.
pub(super) fn text(
    shared: Res<Shared>,
    framing: Res<Framing>,
    toggles: Res<Toggles>,
    mut text: Query<&mut Text, With<HudText>>,
) {
    let Some(view) = shared.feed.latest() else { return };
    let Ok(mut text) = text.single_mut() else { return };
    let speed = SPEEDS[toggles.speed];
    let s = hud_text(&view, &shared.feed.controls, shared.options.attached, speed, &framing);
    if text.0 != s {
        text.0 = s;
    }
}

/// What the text panel says about `view`, with the run at most `speed` steps a second (0: as fast
/// as it goes), and, when `attached`, the run in another process.
fn hud_text(view: &View, c: &Controls, attached: bool, speed: u64, framing: &Framing) -> String {
    let speed = match speed {
        _ if attached => "the run's own speed".to_string(),
        0 => "full speed".to_string(),
        s => format!("at most {s} steps/s"),
    };
    let status = if view.finished {
        "ended"
    } else if attached {
        "attached"
    } else if c.paused.load(Ordering::Relaxed) {
        "paused"
    } else {
        "running"
    };
    // A stream with no end (a Python environment) has none to show.
    let until = if view.until == u64::MAX { String::new() } else { format!(" / {}", view.until) };
    let mut s = format!(
        "step {}{until}  ({status})\n{:.0} steps/s, {speed}\nreward: {}\n",
        view.step, view.steps_per_sec, view.phase
    );
    s.push_str(&format!("reward rate: mean {:.4}", mean_rate(view)));
    if let Some(a) = followed(view, framing.follow) {
        s.push_str(&format!(", agent {} {:.4} at ({}, {})", a.id, a.reward_rate, a.position.x, a.position.y));
    }
    s.push_str("\ncollected:");
    for (k, (name, _)) in view.items.iter().enumerate() {
        let total: u64 = view.agents.iter().map(|a| a.collected.get(k).copied().unwrap_or(0)).sum();
        s.push_str(&format!(" {name} {total}"));
    }
    let scent = match c.scent.load(Ordering::Relaxed) {
        0 => String::new(),
        1 => "  [scent]".into(),
        k => format!("  [scent {}]", k - 2),
    };
    let fov = if c.visual_field.load(Ordering::Relaxed) { "  [visual field]" } else { "" };
    s.push_str(&format!("\n{:.1} px/cell{scent}{fov}   H: help", framing.pixels_per_cell));
    s
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    use beanworld_sim::{Cell, Region};

    use super::*;
    use crate::feed::Feed;

    fn view() -> View {
        let agent = |id, x, y, reward_rate, collected: Vec<u64>| AgentView {
            id,
            position: Cell::new(x, y),
            facing: 0,
            reward_rate,
            collected,
        };
        View {
            step: 120,
            until: 1000,
            finished: false,
            steps_per_sec: 2345.6,
            patch_size: 32,
            items: vec![("banana".into(), [255, 255, 0, 255]), ("onion".into(), [200, 0, 200, 255])],
            scent_channels: 3,
            phase: "collect banana (+1)".into(),
            agents: vec![agent(1, 3, -4, 0.25, vec![2, 1]), agent(2, 0, 0, 0.05, vec![5])],
            region: Region::new(Cell::new(-10, -10), Cell::new(10, 10)),
            patches: Vec::new(),
            overlay: None,
            sight: None,
            generation: 0,
        }
    }

    fn framing(follow: Option<u32>) -> Framing {
        Framing { centre: Vec2::ZERO, pixels_per_cell: 16.0, follow, follow_chosen: true }
    }

    #[test]
    fn the_hud_says_step_speed_reward_rates_and_what_was_collected() {
        let feed = Feed::new(Arc::new(AtomicBool::new(false)));
        let c = &feed.controls;
        assert_eq!(
            hud_text(&view(), c, false, 0, &framing(Some(1))),
            "step 120 / 1000  (running)\n2346 steps/s, full speed\nreward: collect banana (+1)\n\
             reward rate: mean 0.1500, agent 1 0.2500 at (3, -4)\ncollected: banana 7 onion 1\n\
             16.0 px/cell   H: help"
        );
        c.paused.store(true, Ordering::Relaxed);
        c.scent.store(3, Ordering::Relaxed);
        c.visual_field.store(true, Ordering::Relaxed);
        let paused = hud_text(&view(), c, false, 30, &framing(None));
        assert!(
            paused.starts_with("step 120 / 1000  (paused)\n2346 steps/s, at most 30 steps/s\n"),
            "{paused}"
        );
        assert!(paused.contains("mean 0.1500\n"), "nobody followed: {paused}");
        assert!(paused.ends_with("16.0 px/cell  [scent 1]  [visual field]   H: help"), "{paused}");
        let attached = hud_text(&view(), c, true, 30, &framing(None));
        assert!(attached.starts_with("step 120 / 1000  (attached)\n2346 steps/s, the run's own speed\n"));
        let ended = View { finished: true, ..view() };
        assert!(hud_text(&ended, c, true, 30, &framing(None)).starts_with("step 120 / 1000  (ended)"));
    }

    #[test]
    fn the_plot_draws_both_rates_scaled_to_the_highest() {
        let rates: VecDeque<(f64, f64)> = [(0.0, 0.0), (0.0, 0.5)].into_iter().collect();
        let img = draw_plot(&rates);
        let data = img.data.as_deref().unwrap_or_default();
        let at = |x: usize, y: usize| &data[(y * PLOT.0 + x) * 4..][..4];
        let (orange, blue) = ([255, 150, 40, 255], [120, 180, 255, 255]);
        let bottom = PLOT.1 - 1;
        assert_eq!(at(0, bottom), orange, "both at zero: the followed agent drawn over the mean");
        assert_eq!(at(1, 0), blue, "the highest rate at the top");
        assert_eq!(at(1, bottom / 2), blue, "joined to the sample before by a vertical run");
        assert_eq!(at(1, bottom), orange);
        assert_eq!(at(2, bottom), [20, 20, 24, 220], "no sample there yet");
    }
}
