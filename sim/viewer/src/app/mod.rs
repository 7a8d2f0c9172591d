//! The bevy window: patches as textures (one texel per cell, nearest filtering), agents as
//! arrows, overlays, a HUD, and the keys and mouse that steer it. It only reads [`View`]s and
//! sets [`Controls`]; it never touches the simulation.
//!
//! This module opens the window and fixes the order of a frame, top to bottom in [`watch`]: the
//! keys and mouse (`input`), then the newest view onto the screen (`draw`), the camera on the
//! followed agent (`camera`), the HUD (`hud`), the final screenshot and closing (`screenshot`),
//! and the frame's time (`frame_times`). Each of those modules owns the resource it keeps.
//!
//! [`View`]: crate::feed::View
//! [`Controls`]: crate::feed::Controls

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bevy::app::PluginGroupBuilder;
use bevy::prelude::*;
use bevy::window::WindowResolution;
use bevy::winit::WinitPlugin;

use crate::feed::Feed;

mod camera;
mod draw;
mod frame_times;
mod hud;
mod input;
mod screenshot;
mod texture;

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

/// The feed and the options, for every system.
#[derive(Resource)]
struct Shared {
    feed: Arc<Feed>,
    options: WatchOptions,
}

/// Opens the window and runs until it is closed (or, with `options.exit`, until the run has
/// ended). Closing the window stops the run.
pub fn watch(feed: Arc<Feed>, options: WatchOptions) -> AppExit {
    let stop = Arc::clone(&feed.controls.stop);
    feed.watchers.fetch_add(1, Ordering::SeqCst);
    // (Read after the window closes: `App::run` hands the app to the event loop and keeps none.)
    let times = frame_times::FrameTimes::default();
    let mut app = App::new();
    app.add_plugins(plugins(&options))
        .insert_resource(ClearColor(Color::srgb_u8(40, 40, 46)))
        .insert_resource(camera::Framing::new(&options))
        .insert_resource(Shared { feed, options })
        .insert_resource(times.clone())
        .init_resource::<input::Toggles>()
        .init_resource::<draw::Incoming>()
        .init_resource::<screenshot::Ending>()
        .add_systems(Startup, (camera::spawn, draw::setup, hud::spawn).chain())
        .add_systems(
            Update,
            (
                (input::pan, input::zoom, input::follow, input::steer_run, input::toggle_overlays).chain(),
                input::screenshot_on_p,
                screenshot::count_end_frames,
                (draw::receive, draw::patches, draw::overlay, draw::agents).chain(),
                (hud::sight, hud::sample_rates).chain(),
                camera::place,
                (hud::help, hud::text).chain(),
                (screenshot::at_end, screenshot::exit_on_stop).chain(),
                frame_times::record,
            )
                .chain(),
        );
    screenshot::watch_pipelines(&mut app);
    let exit = app.run();
    stop.store(true, Ordering::SeqCst);
    times.report();
    exit
}

/// bevy's default plugins with the window asked for, nearest filtering, and quiet logs.
fn plugins(options: &WatchOptions) -> PluginGroupBuilder {
    let (w, h) = options.size;
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
        .set(bevy::log::LogPlugin { filter: "warn,wgpu=error,naga=error".into(), ..default() })
}
