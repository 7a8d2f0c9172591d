//! How fast the window draws: the time of each frame while patches are on screen (after the
//! first few, which set the window and the pipelines up), reported on stderr when the window
//! closes as the median and the 95th percentile.

use std::sync::{Arc, Mutex};

use bevy::prelude::*;

use super::draw::Drawn;

/// The frame times, shared with [`super::watch`], which reports them after the app has gone.
#[derive(Resource, Clone, Default)]
pub(super) struct FrameTimes(Arc<Mutex<FrameStats>>);

#[derive(Default)]
pub(super) struct FrameStats {
    /// Seconds per frame, after the first few.
    seconds: Vec<f32>,
    most_patches: usize,
    frames: u64,
}

impl FrameTimes {
    /// Says on stderr how fast frames were drawn.
    pub(super) fn report(&self) {
        if let Ok(stats) = self.0.lock() {
            eprintln!("{}", stats.summary());
        }
    }
}

impl FrameStats {
    fn summary(&self) -> String {
        let mut s = self.seconds.clone();
        if s.is_empty() {
            return format!("viewer: {} frames, none timed with patches on screen", self.frames);
        }
        s.sort_by(f32::total_cmp);
        let at = |q: f64| s[((s.len() - 1) as f64 * q).round() as usize] * 1000.0;
        format!(
            "viewer: {} frames timed, frame time median {:.1} ms, 95th percentile {:.1} ms, up to {} patches on screen",
            s.len(),
            at(0.5),
            at(0.95),
            self.most_patches
        )
    }
}

/// Times this frame.
pub(super) fn record(time: Res<Time>, drawn: Res<Drawn>, times: Res<FrameTimes>) {
    let Ok(mut times) = times.0.lock() else { return };
    times.frames += 1;
    if times.frames > 10 && drawn.patch_count() > 0 {
        times.seconds.push(time.delta_secs());
        times.most_patches = times.most_patches.max(drawn.patch_count());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_gives_the_median_and_the_95th_percentile() {
        let none = FrameStats { seconds: vec![], most_patches: 0, frames: 7 };
        assert_eq!(none.summary(), "viewer: 7 frames, none timed with patches on screen");
        let seconds = (1..=100).rev().map(|ms| ms as f32 / 1000.0).collect();
        let timed = FrameStats { seconds, most_patches: 12, frames: 110 };
        assert_eq!(
            timed.summary(),
            "viewer: 100 frames timed, frame time median 51.0 ms, 95th percentile 95.0 ms, up to 12 \
             patches on screen"
        );
    }
}
