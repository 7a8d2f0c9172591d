//! Screenshots and closing: the PNGs that P asks for, the final screenshot (`--screenshot`) once
//! the end is on screen, closing the window after it (`--exit`) or when the run stops, and the
//! watch on the renderer's pipelines that says when the end can be on screen at all.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bevy::prelude::*;
use bevy::render::render_resource::PipelineCache;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};
use bevy::render::{Render, RenderApp, RenderSystems};

use super::Shared;
use super::camera::Framing;

/// Frames drawn since the end came into view (for the final screenshot), and whether it was
/// taken.
#[derive(Resource, Default)]
pub(super) struct Ending {
    frames: u32,
    taken: bool,
}

/// Whether the renderer has built every pipeline asked of it, as of its last frame. bevy builds
/// them in the background, and draws nothing that needs one still being built: on a busy machine
/// the first frames of a run can show the HUD without the world.
#[derive(Resource, Clone)]
pub(super) struct PipelinesReady(Arc<AtomicBool>);

/// Has the render world report, after each frame it draws, whether its pipelines are all built
/// (without a render world, they count as built).
pub(super) fn watch_pipelines(app: &mut App) {
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
}

/// In the render world, after its frame is drawn.
fn note_pipelines(cache: Res<PipelineCache>, ready: Res<PipelinesReady>) {
    ready.0.store(cache.waiting_pipelines().next().is_none(), Ordering::Relaxed);
}

/// Counts the frames that show the end as the camera now wants it (the region and the followed
/// agent); attached to a live run, whose region moves with the followed agent, any view with
/// patches.
pub(super) fn count_end_frames(shared: Res<Shared>, framing: Res<Framing>, mut ending: ResMut<Ending>) {
    let Some(view) = shared.feed.latest() else { return };
    let c = &shared.feed.controls;
    let follows = c.follow.load(Ordering::Relaxed) == framing.follow.unwrap_or(0);
    let current = if shared.options.attached {
        follows && !view.patches.is_empty()
    } else {
        follows && view.finished && view.region == c.wanted()
    };
    if current {
        ending.frames += 1;
    }
}

/// The final screenshot and the exit, when asked for.
pub(super) fn at_end(
    shared: Res<Shared>,
    ready: Res<PipelinesReady>,
    mut ending: ResMut<Ending>,
    mut commands: Commands,
    mut exit: MessageWriter<AppExit>,
) {
    let o = &shared.options;
    // A few frames after the last view arrived, so that it is on screen, and once everything it
    // needs can be drawn (or, should a pipeline never be built, after a few hundred frames
    // rather than never).
    let ready = ready.0.load(Ordering::Relaxed) || ending.frames >= 300;
    if ending.frames < 5 || !ready {
        return;
    }
    match (&o.screenshot, ending.taken) {
        (Some(path), false) => {
            ending.taken = true;
            take(&mut commands, path.clone(), o.exit);
        }
        (None, _) if o.exit => {
            exit.write(AppExit::Success);
        }
        _ => {}
    }
}

/// Closes the window when the run was stopped (Ctrl-C) or ended on an error.
pub(super) fn exit_on_stop(shared: Res<Shared>, mut exit: MessageWriter<AppExit>) {
    if shared.feed.controls.stop.load(Ordering::Relaxed) {
        exit.write(AppExit::Success);
    }
}

/// Takes a screenshot of the window and saves it to `path` as PNG; with `then_exit`, closes the
/// app after.
pub(super) fn take(commands: &mut Commands, path: PathBuf, then_exit: bool) {
    commands.spawn(Screenshot::primary_window()).observe(save(path, then_exit));
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
