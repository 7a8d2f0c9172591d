//! The bevy window: patches as textures (one texel per cell, nearest filtering), agents as
//! arrows, overlays, a HUD, and the keys and mouse that steer it. It only reads [`View`]s and
//! sets [`Controls`](crate::feed::Controls); it never touches the simulation.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use beanworld_sim::{Cell, PatchCoord, Region};
use bevy::asset::RenderAssetUsages;
use bevy::image::ImageSampler;
use bevy::input::mouse::{AccumulatedMouseMotion, AccumulatedMouseScroll, MouseScrollUnit};
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, PipelineCache, TextureDimension, TextureFormat};
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};
use bevy::render::{Render, RenderApp, RenderSystems};
use bevy::window::{PrimaryWindow, WindowResolution};
use bevy::winit::WinitPlugin;
use rustc_hash::FxHashMap;

use crate::feed::{Feed, View};

/// How `watch` opens its window.
#[derive(Clone, Debug)]
pub struct WatchOptions {
    /// Window size in pixels.
    pub size: (u32, u32),
    /// Pixels per cell to start with.
    pub pixels_per_cell: f32,
    /// The agent to follow first (by id); the first agent when `None`.
    pub follow: Option<u32>,
    /// Once the run has ended, save a screenshot here.
    pub screenshot: Option<PathBuf>,
    /// Close the window once the run has ended (after the screenshot, if one is asked for).
    pub exit: bool,
    /// Where P saves screenshots.
    pub screenshot_dir: PathBuf,
    /// The window's title.
    pub title: String,
    /// Showing a run in another process (`--attach`): pause and speed are that run's own, and
    /// the screenshot and exit come once the view is on screen, not at the run's end.
    pub attached: bool,
}

/// Speeds that `[` and `]` step through (steps per second; 0: as fast as it goes).
const SPEEDS: [u64; 11] = [1, 2, 5, 10, 30, 100, 300, 1_000, 3_000, 10_000, 0];
/// Plot width in samples (and pixels) and height in pixels.
const PLOT: (usize, usize) = (240, 80);
/// Shown by H.
const HELP: &str = "\
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

/// Opens the window and runs until it is closed (or, with `options.exit`, until the run has
/// ended). Closing the window stops the run.
pub fn watch(feed: Arc<Feed>, options: WatchOptions) -> AppExit {
    let (w, h) = options.size;
    let stop = Arc::clone(&feed.controls.stop);
    feed.watchers.fetch_add(1, Ordering::SeqCst);
    // (Read after the window closes: `App::run` hands the app to the event loop and keeps none.)
    let times = Arc::new(std::sync::Mutex::new(FrameStats::default()));
    let mut app = App::new();
    app.add_plugins(
        DefaultPlugins
            .set(WindowPlugin {
                primary_window: Some(Window {
                    title: options.title.clone(),
                    resolution: WindowResolution::new(w, h).with_scale_factor_override(1.0),
                    resizable: true,
                    ..default()
                }),
                ..default()
            })
            .set(WinitPlugin { run_on_any_thread: true })
            .set(ImagePlugin::default_nearest())
            .set(bevy::log::LogPlugin { filter: "warn,wgpu=error,naga=error".into(), ..default() }),
    )
    .insert_resource(ClearColor(Color::srgb_u8(40, 40, 46)))
    .insert_resource(Shared { feed: Arc::clone(&feed), options: options.clone() })
    .insert_resource(State::new(&options))
    .add_systems(Startup, setup)
    .insert_resource(FrameTimes(Arc::clone(&times)))
    .add_systems(Update, (input, receive, place_camera, hud, screenshots, exit_on_stop, time_frames).chain());
    let ready = PipelinesReady(Arc::new(AtomicBool::new(false)));
    match app.get_sub_app_mut(RenderApp) {
        Some(render) => {
            render
                .insert_resource(ready.clone())
                .add_systems(Render, note_pipelines.in_set(RenderSystems::Cleanup));
        }
        None => ready.0.store(true, Ordering::Relaxed),
    }
    app.insert_resource(ready);
    let exit = app.run();
    stop.store(true, Ordering::SeqCst);
    if let Ok(times) = times.lock() {
        times.report();
    }
    exit
}

/// Frame times while patches were on screen, reported when the window closes.
#[derive(Resource)]
struct FrameTimes(Arc<std::sync::Mutex<FrameStats>>);

#[derive(Default)]
struct FrameStats {
    /// Seconds per frame, after the first few.
    seconds: Vec<f32>,
    most_patches: usize,
    frames: u64,
}

impl FrameStats {
    fn report(&self) {
        let mut s = self.seconds.clone();
        if s.is_empty() {
            eprintln!("viewer: {} frames, none timed with patches on screen", self.frames);
            return;
        }
        s.sort_by(f32::total_cmp);
        let at = |q: f64| s[((s.len() - 1) as f64 * q).round() as usize] * 1000.0;
        eprintln!(
            "viewer: {} frames timed, frame time median {:.1} ms, 95th percentile {:.1} ms, up to {} patches on screen",
            s.len(),
            at(0.5),
            at(0.95),
            self.most_patches
        );
    }
}

fn time_frames(time: Res<Time>, state: Res<State>, times: Res<FrameTimes>) {
    let Ok(mut times) = times.0.lock() else { return };
    times.frames += 1;
    // The first frames set the window and the pipelines up.
    if times.frames > 10 && !state.patches.is_empty() {
        times.seconds.push(time.delta_secs());
        times.most_patches = times.most_patches.max(state.patches.len());
    }
}

#[derive(Resource)]
struct Shared {
    feed: Arc<Feed>,
    options: WatchOptions,
}

/// What the viewer shows and how.
#[derive(Resource)]
struct State {
    /// World position of the window's centre, in cells.
    centre: Vec2,
    pixels_per_cell: f32,
    follow: Option<u32>,
    /// Whether a first agent to follow has been chosen (the one asked for, or the first).
    follow_chosen: bool,
    /// Index into `SPEEDS`.
    speed: usize,
    borders: bool,
    help: bool,
    /// The view drawn last (with the borders setting it was drawn with), and its step.
    drawn_view: Option<(Arc<View>, bool)>,
    drawn: Option<u64>,
    /// The patches drawn: entity, image, version, borders.
    patches: FxHashMap<PatchCoord, (Entity, Handle<Image>, u64, bool)>,
    agents: Vec<Entity>,
    overlay: Option<(Entity, Handle<Image>)>,
    /// Reward rates of the followed agent and the mean over agents, one sample per drawn step.
    rates: std::collections::VecDeque<(f64, f64)>,
    /// Frames drawn since the run ended (for the final screenshot).
    frames_after_end: u32,
    screenshot_taken: bool,
    arrow: Handle<Image>,
    sight: Handle<Image>,
    plot: Handle<Image>,
}

impl State {
    fn new(options: &WatchOptions) -> Self {
        State {
            centre: Vec2::ZERO,
            pixels_per_cell: options.pixels_per_cell,
            follow: options.follow,
            follow_chosen: options.follow.is_some(),
            speed: SPEEDS.len() - 1,
            borders: false,
            help: false,
            drawn_view: None,
            drawn: None,
            patches: FxHashMap::default(),
            agents: Vec::new(),
            overlay: None,
            rates: Default::default(),
            frames_after_end: 0,
            screenshot_taken: false,
            arrow: Handle::default(),
            sight: Handle::default(),
            plot: Handle::default(),
        }
    }
}

#[derive(Component)]
struct HudText;
#[derive(Component)]
struct HelpText;
#[derive(Component)]
struct SightInset;

/// An RGBA8 image of `w × h` texels filled with `pixel`, drawn with nearest filtering.
fn image(w: u32, h: u32, pixel: [u8; 4]) -> Image {
    let mut image = Image::new_fill(
        Extent3d { width: w.max(1), height: h.max(1), depth_or_array_layers: 1 },
        TextureDimension::D2,
        &pixel,
        TextureFormat::Rgba8UnormSrgb,
        RenderAssetUsages::MAIN_WORLD | RenderAssetUsages::RENDER_WORLD,
    );
    image.sampler = ImageSampler::nearest();
    image
}

/// Writes packed RGBA8 `cells` into `image`'s texels.
fn fill(image: &mut Image, cells: impl Iterator<Item = u32>) {
    if let Some(data) = image.data.as_mut() {
        for (texel, c) in data.chunks_exact_mut(4).zip(cells) {
            texel.copy_from_slice(&c.to_le_bytes());
        }
    }
}

/// An arrow pointing up (white, to be tinted), 16 × 16.
fn arrow() -> Image {
    let mut img = image(16, 16, [0, 0, 0, 0]);
    if let Some(data) = img.data.as_mut() {
        for row in 0..16usize {
            // Row 0 is the top: the tip.
            let half = (row as f32 + 1.0) * 0.45;
            for col in 0..16usize {
                let x = (col as f32 + 0.5 - 8.0).abs();
                if (1..=14).contains(&row) && x <= half {
                    data[(row * 16 + col) * 4..][..4].copy_from_slice(&[255, 255, 255, 255]);
                }
            }
        }
    }
    img
}

fn setup(mut commands: Commands, mut images: ResMut<Assets<Image>>, mut state: ResMut<State>) {
    commands.spawn(Camera2d);
    state.arrow = images.add(arrow());
    state.sight = images.add(image(1, 1, [0, 0, 0, 255]));
    state.plot = images.add(image(PLOT.0 as u32, PLOT.1 as u32, [20, 20, 24, 200]));
    let panel = BackgroundColor(Color::srgba(0.0, 0.0, 0.0, 0.6));
    commands.spawn((
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
        panel,
    ));
    commands.spawn((
        ImageNode::new(state.plot.clone()),
        Node {
            position_type: PositionType::Absolute,
            left: px(8.0),
            bottom: px(8.0),
            width: px(PLOT.0 as f32),
            height: px(PLOT.1 as f32),
            ..default()
        },
    ));
    commands.spawn((
        SightInset,
        ImageNode::new(state.sight.clone()),
        Node {
            position_type: PositionType::Absolute,
            right: px(8.0),
            top: px(8.0),
            width: px(132.0),
            height: px(132.0),
            ..default()
        },
        Visibility::Hidden,
    ));
    commands.spawn((
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
    ));
}

fn px(v: f32) -> Val {
    Val::Px(v)
}

/// Keys and mouse. (A bevy system takes what it reads as parameters.)
#[allow(clippy::too_many_arguments)]
fn input(
    keys: Res<ButtonInput<KeyCode>>,
    buttons: Res<ButtonInput<MouseButton>>,
    motion: Res<AccumulatedMouseMotion>,
    scroll: Res<AccumulatedMouseScroll>,
    time: Res<Time>,
    shared: Res<Shared>,
    mut state: ResMut<State>,
    mut commands: Commands,
) {
    let c = &shared.feed.controls;
    let view = shared.feed.latest();
    // Pan: the keys move the centre half a screen a second; dragging moves it with the mouse.
    let mut pan = Vec2::ZERO;
    for (keys_for, dir) in [
        ([KeyCode::ArrowLeft, KeyCode::KeyA], Vec2::NEG_X),
        ([KeyCode::ArrowRight, KeyCode::KeyD], Vec2::X),
        ([KeyCode::ArrowUp, KeyCode::KeyW], Vec2::Y),
        ([KeyCode::ArrowDown, KeyCode::KeyS], Vec2::NEG_Y),
    ] {
        if keys.any_pressed(keys_for) {
            pan += dir;
        }
    }
    let ppc = state.pixels_per_cell;
    if pan != Vec2::ZERO {
        state.follow = None;
        state.centre += pan * 400.0 / ppc * time.delta_secs();
    }
    if buttons.pressed(MouseButton::Left) && motion.delta != Vec2::ZERO {
        state.follow = None;
        state.centre += Vec2::new(-motion.delta.x, motion.delta.y) / ppc;
    }
    // Zoom.
    let mut zoom = 0.0;
    if scroll.delta.y != 0.0 {
        zoom += match scroll.unit {
            MouseScrollUnit::Line => scroll.delta.y,
            MouseScrollUnit::Pixel => scroll.delta.y / 40.0,
        };
    }
    if keys.just_pressed(KeyCode::Equal) || keys.just_pressed(KeyCode::NumpadAdd) {
        zoom += 1.0;
    }
    if keys.just_pressed(KeyCode::Minus) || keys.just_pressed(KeyCode::NumpadSubtract) {
        zoom -= 1.0;
    }
    if zoom != 0.0 {
        state.pixels_per_cell = (ppc * 1.25f32.powf(zoom)).clamp(0.5, 64.0);
    }
    // Follow.
    if let Some(view) = &view {
        if keys.just_pressed(KeyCode::KeyF) {
            state.follow = match state.follow {
                Some(_) => None,
                None => view
                    .agents
                    .iter()
                    .min_by(|a, b| {
                        let d =
                            |p: Cell| Vec2::new(p.x as f32 + 0.5, p.y as f32 + 0.5).distance(state.centre);
                        d(a.position).total_cmp(&d(b.position))
                    })
                    .map(|a| a.id),
            };
        }
        if keys.just_pressed(KeyCode::Tab) && !view.agents.is_empty() {
            let next = match state.follow.and_then(|id| view.agents.iter().position(|a| a.id == id)) {
                Some(i) => (i + 1) % view.agents.len(),
                None => 0,
            };
            state.follow = Some(view.agents[next].id);
        }
    }
    // The run.
    if keys.just_pressed(KeyCode::Space) {
        c.paused.fetch_xor(true, Ordering::Relaxed);
    }
    if keys.just_pressed(KeyCode::KeyN) {
        c.paused.store(true, Ordering::Relaxed);
        c.single_steps.fetch_add(1, Ordering::Relaxed);
    }
    if keys.just_pressed(KeyCode::BracketRight) {
        state.speed = (state.speed + 1).min(SPEEDS.len() - 1);
    }
    if keys.just_pressed(KeyCode::BracketLeft) {
        state.speed = state.speed.saturating_sub(1);
    }
    c.speed.store(SPEEDS[state.speed], Ordering::Relaxed);
    // Overlays.
    if keys.just_pressed(KeyCode::KeyM) {
        let channels = view.as_ref().map_or(0, |v| v.scent_channels) as u32;
        let next = c.scent.load(Ordering::Relaxed) + 1;
        c.scent.store(if next >= 2 + channels { 0 } else { next }, Ordering::Relaxed);
    }
    if keys.just_pressed(KeyCode::KeyV) {
        c.visual_field.fetch_xor(true, Ordering::Relaxed);
    }
    if keys.just_pressed(KeyCode::KeyB) {
        state.borders = !state.borders;
    }
    if keys.just_pressed(KeyCode::KeyH) {
        state.help = !state.help;
    }
    if keys.just_pressed(KeyCode::KeyP) {
        let step = view.as_ref().map_or(0, |v| v.step);
        let path = shared.options.screenshot_dir.join(format!("screenshot-{step}.png"));
        commands.spawn(Screenshot::primary_window()).observe(save(path, false));
    }
    c.follow.store(state.follow.unwrap_or(0), Ordering::Relaxed);
}

/// Draws the latest view if it is new: patch textures, agents, the overlay, the inset.
fn receive(
    shared: Res<Shared>,
    mut state: ResMut<State>,
    mut commands: Commands,
    mut images: ResMut<Assets<Image>>,
    mut sprites: Query<(&mut Transform, &mut Sprite, &mut Visibility), Without<SightInset>>,
    mut inset: Query<&mut Visibility, With<SightInset>>,
) {
    let Some(view) = shared.feed.latest() else { return };
    // Frames showing the end as the camera now wants it (the region and the followed agent);
    // attached to a live run, whose region moves with the followed agent, any view with patches.
    let c = &shared.feed.controls;
    let follows = c.follow.load(Ordering::Relaxed) == state.follow.unwrap_or(0);
    let current = if shared.options.attached {
        follows && !view.patches.is_empty()
    } else {
        follows && view.finished && view.region == c.wanted()
    };
    if current {
        state.frames_after_end += 1;
    }
    // Each publication is a new view (paused runs republish as the region or overlays change).
    if state.drawn_view.as_ref().is_some_and(|(v, b)| Arc::ptr_eq(v, &view) && *b == state.borders) {
        return;
    }
    state.drawn_view = Some((Arc::clone(&view), state.borders));
    if !state.follow_chosen {
        state.follow = view.agents.first().map(|a| a.id);
        state.follow_chosen = true;
    }
    let new_step = state.drawn != Some(view.step);
    state.drawn = Some(view.step);
    let n = view.patch_size as f32;
    // Patches.
    let borders = state.borders;
    let mut seen: Vec<PatchCoord> = Vec::with_capacity(view.patches.len());
    for patch in &view.patches {
        seen.push(patch.coord);
        let edge = view.patch_size;
        let texels = || {
            patch.cells.iter().enumerate().map(move |(i, &c)| {
                let (row, col) = (i / edge, i % edge);
                if borders && (row == 0 || col == 0) { (c >> 1) & 0x007f_7f7f | 0xff00_0000 } else { c }
            })
        };
        match state.patches.get_mut(&patch.coord) {
            Some((_, handle, version, drawn_borders)) => {
                if *version != patch.version || *drawn_borders != borders {
                    if let Some(mut img) = images.get_mut(&*handle) {
                        fill(&mut img, texels());
                    }
                    (*version, *drawn_borders) = (patch.version, borders);
                }
            }
            None => {
                let mut img = image(edge as u32, edge as u32, [0, 0, 0, 255]);
                fill(&mut img, texels());
                let handle = images.add(img);
                let origin = patch.coord.origin(view.patch_size);
                let entity = commands
                    .spawn((
                        Sprite { image: handle.clone(), custom_size: Some(Vec2::splat(n)), ..default() },
                        Transform::from_xyz(origin.x as f32 + n / 2.0, origin.y as f32 + n / 2.0, 0.0),
                    ))
                    .id();
                state.patches.insert(patch.coord, (entity, handle, patch.version, borders));
            }
        }
    }
    let gone: Vec<PatchCoord> = state.patches.keys().filter(|c| !seen.contains(c)).copied().collect();
    for c in gone {
        if let Some((entity, handle, _, _)) = state.patches.remove(&c) {
            commands.entity(entity).despawn();
            images.remove(&handle);
        }
    }
    // The overlay: one image over its region.
    match (&view.overlay, state.overlay.clone()) {
        (Some(o), existing) => {
            let (w, h) = (o.region.width() as u32, o.region.height() as u32);
            let centre = Vec3::new(
                o.region.min.x as f32 + w as f32 / 2.0,
                o.region.min.y as f32 + h as f32 / 2.0,
                1.0,
            );
            let mut img = image(w, h, [0, 0, 0, 255]);
            fill(&mut img, o.cells.iter().copied());
            match existing {
                Some((entity, handle)) => {
                    let _ = images.insert(&handle, img);
                    if let Ok((mut t, mut s, _)) = sprites.get_mut(entity) {
                        t.translation = centre;
                        s.custom_size = Some(Vec2::new(w as f32, h as f32));
                    }
                }
                None => {
                    let handle = images.add(img);
                    let entity = commands
                        .spawn((
                            Sprite {
                                image: handle.clone(),
                                custom_size: Some(Vec2::new(w as f32, h as f32)),
                                ..default()
                            },
                            Transform::from_translation(centre),
                        ))
                        .id();
                    state.overlay = Some((entity, handle));
                }
            }
        }
        (None, Some((entity, handle))) => {
            commands.entity(entity).despawn();
            images.remove(&handle);
            state.overlay = None;
        }
        (None, None) => {}
    }
    // Agents: a pool of arrows.
    while state.agents.len() < view.agents.len() {
        let arrow = state.arrow.clone();
        let entity = commands.spawn((Sprite { image: arrow, ..default() }, Transform::default())).id();
        state.agents.push(entity);
    }
    for (i, &entity) in state.agents.iter().enumerate() {
        let Ok((mut t, mut s, mut vis)) = sprites.get_mut(entity) else { continue };
        let Some(agent) = view.agents.get(i) else {
            *vis = Visibility::Hidden;
            continue;
        };
        *vis = Visibility::Visible;
        let followed = state.follow == Some(agent.id);
        let angle = match agent.facing {
            0 => 0.0,
            1 => std::f32::consts::PI,
            2 => std::f32::consts::FRAC_PI_2,
            _ => -std::f32::consts::FRAC_PI_2,
        };
        t.translation = Vec3::new(agent.position.x as f32 + 0.5, agent.position.y as f32 + 0.5, 2.0);
        t.rotation = Quat::from_rotation_z(angle);
        let size = if followed { 1.3 } else { 0.9 };
        s.custom_size = Some(Vec2::splat(size));
        s.color = if followed { Color::srgb_u8(230, 40, 40) } else { Color::srgb_u8(20, 20, 20) };
    }
    // What the followed agent sees.
    if let Ok(mut vis) = inset.single_mut() {
        *vis = if view.sight.is_some() { Visibility::Visible } else { Visibility::Hidden };
    }
    if let Some((side, cells)) = &view.sight {
        let mut img = image(*side, *side, [0, 0, 0, 255]);
        fill(&mut img, cells.iter().copied());
        let _ = images.insert(&state.sight, img);
    }
    // Reward rates for the plot.
    if new_step {
        let mean = view.agents.iter().map(|a| a.reward_rate).sum::<f64>() / view.agents.len().max(1) as f64;
        let followed = state
            .follow
            .and_then(|id| view.agents.iter().find(|a| a.id == id))
            .map_or(mean, |a| a.reward_rate);
        state.rates.push_back((followed, mean));
        while state.rates.len() > PLOT.0 {
            state.rates.pop_front();
        }
        let plot = draw_plot(&state.rates);
        let _ = images.insert(&state.plot, plot);
    }
}

/// The reward-rate plot: the followed agent in orange, the mean over agents in light blue.
fn draw_plot(rates: &std::collections::VecDeque<(f64, f64)>) -> Image {
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

/// Centres the camera (on the followed agent, if any), sets its zoom, and tells the run which
/// cells are on screen.
fn place_camera(
    shared: Res<Shared>,
    mut state: ResMut<State>,
    window: Query<&Window, With<PrimaryWindow>>,
    mut camera: Query<(&mut Transform, &mut Projection), With<Camera2d>>,
) {
    if let (Some(id), Some(view)) = (state.follow, shared.feed.latest())
        && let Some(agent) = view.agents.iter().find(|a| a.id == id)
    {
        state.centre = Vec2::new(agent.position.x as f32 + 0.5, agent.position.y as f32 + 0.5);
    }
    let Ok((mut transform, mut projection)) = camera.single_mut() else { return };
    transform.translation = state.centre.extend(transform.translation.z);
    if let Projection::Orthographic(o) = &mut *projection {
        o.scale = 1.0 / state.pixels_per_cell;
    }
    let Ok(window) = window.single() else { return };
    let half = Vec2::new(window.width(), window.height()) / (2.0 * state.pixels_per_cell);
    let (lo, hi) = (state.centre - half, state.centre + half);
    shared.feed.controls.want(Region::new(
        Cell::new(lo.x.floor() as i64, lo.y.floor() as i64),
        Cell::new(hi.x.ceil() as i64, hi.y.ceil() as i64),
    ));
}

/// The HUD text and the help panel.
fn hud(
    shared: Res<Shared>,
    state: Res<State>,
    mut text: Query<&mut Text, (With<HudText>, Without<HelpText>)>,
    mut help: Query<&mut Visibility, With<HelpText>>,
) {
    if let Ok(mut vis) = help.single_mut() {
        *vis = if state.help { Visibility::Visible } else { Visibility::Hidden };
    }
    let Some(view) = shared.feed.latest() else { return };
    let Ok(mut text) = text.single_mut() else { return };
    let c = &shared.feed.controls;
    let speed = match SPEEDS[state.speed] {
        _ if shared.options.attached => "the run's own speed".to_string(),
        0 => "full speed".to_string(),
        s => format!("at most {s} steps/s"),
    };
    let status = if view.finished {
        "ended"
    } else if shared.options.attached {
        "attached"
    } else if c.paused.load(Ordering::Relaxed) {
        "paused"
    } else {
        "running"
    };
    let mut s = format!(
        "step {} / {}  ({status})\n{:.0} steps/s, {speed}\nreward: {}\n",
        view.step, view.until, view.steps_per_sec, view.phase
    );
    let mean = view.agents.iter().map(|a| a.reward_rate).sum::<f64>() / view.agents.len().max(1) as f64;
    s.push_str(&format!("reward rate: mean {mean:.4}"));
    if let Some(a) = state.follow.and_then(|id| view.agents.iter().find(|a| a.id == id)) {
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
    s.push_str(&format!("\n{:.1} px/cell{scent}{fov}   H: help", state.pixels_per_cell));
    if text.0 != s {
        text.0 = s;
    }
}

/// Whether the renderer has built every pipeline asked of it, as of its last frame. bevy builds
/// them in the background, and draws nothing that needs one still being built: on a busy machine
/// the first frames of a run can show the HUD without the world.
#[derive(Resource, Clone)]
struct PipelinesReady(Arc<AtomicBool>);

/// In the render world, after its frame is drawn.
fn note_pipelines(cache: Res<PipelineCache>, ready: Res<PipelinesReady>) {
    ready.0.store(cache.waiting_pipelines().next().is_none(), Ordering::Relaxed);
}

/// The final screenshot and the exit, when asked for.
fn screenshots(
    shared: Res<Shared>,
    ready: Res<PipelinesReady>,
    mut state: ResMut<State>,
    mut commands: Commands,
    mut exit: MessageWriter<AppExit>,
) {
    let o = &shared.options;
    // A few frames after the last view arrived, so that it is on screen, and once everything it
    // needs can be drawn (or, should a pipeline never be built, after a few hundred frames
    // rather than never).
    let ready = ready.0.load(Ordering::Relaxed) || state.frames_after_end >= 300;
    if state.frames_after_end < 5 || !ready {
        return;
    }
    match (&o.screenshot, state.screenshot_taken) {
        (Some(path), false) => {
            state.screenshot_taken = true;
            commands.spawn(Screenshot::primary_window()).observe(save(path.clone(), o.exit));
        }
        (None, _) if o.exit => {
            exit.write(AppExit::Success);
        }
        _ => {}
    }
}

/// Closes the window when the run was stopped (Ctrl-C) or ended on an error.
fn exit_on_stop(shared: Res<Shared>, mut exit: MessageWriter<AppExit>) {
    if shared.feed.controls.stop.load(Ordering::Relaxed) {
        exit.write(AppExit::Success);
    }
}

/// Saves a captured screenshot as PNG; with `then_exit`, closes the app after.
fn save(path: PathBuf, then_exit: bool) -> impl FnMut(On<ScreenshotCaptured>, MessageWriter<AppExit>) {
    move |captured, mut exit| {
        let result = captured.image.clone().try_into_dynamic().map_err(|e| e.to_string()).and_then(|img| {
            let rgba = img.to_rgba8();
            beanworld_render::frame::write_png(&path, rgba.width(), rgba.height(), rgba.as_raw())
                .map_err(|e| e.to_string())
        });
        match result {
            Ok(()) => eprintln!("screenshot saved to {}", path.display()),
            Err(e) => {
                eprintln!("cannot save the screenshot to {}: {e}", path.display());
                if then_exit {
                    exit.write(AppExit::error());
                    return;
                }
            }
        }
        if then_exit {
            exit.write(AppExit::Success);
        }
    }
}
