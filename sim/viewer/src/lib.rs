//! beanworld-viewer: `beanworld watch`, a bevy window on a live run. The viewer does not own the
//! simulation: the run's thread publishes what there is to see into a latest-wins slot
//! ([`feed`]) and the window ([`app`]) draws the newest view, so watching never slows a run down
//! beyond a copy of what changed on screen, and never changes it. The window is the cargo
//! feature `window` (on by default); without it the crate is the feed and the protocol of
//! [`remote`] only, and bevy is not built.

#[cfg(feature = "window")]
pub mod app;
pub mod feed;
pub mod remote;

#[cfg(feature = "window")]
pub use app::{WatchOptions, watch};
pub use feed::{Feed, Publisher, View};
