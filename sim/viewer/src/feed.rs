//! What passes between a run and the viewer. The run's thread publishes a [`View`] — the world
//! as the viewer needs it — into a latest-wins slot (an atomic pointer swap: the run never waits
//! for the viewer and never takes a lock); the viewer reads the newest one when it draws. The
//! other way, the viewer sets [`Controls`] (atomics): pause, single steps, speed, what region and
//! overlays it wants. None of it touches the simulation's state or random streams, so a run
//! watched has the same trajectory as one not watched; publishing only reads the world.

use std::ops::RangeInclusive;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use beanworld_agents::Runner;
use beanworld_agents::metrics::Record;
use beanworld_render::frame::{CellImage, Overlays, rgba};
use beanworld_sim::task::Reward;
use beanworld_sim::{Cell, PatchCoord, Region, Simulation};
use rustc_hash::FxHashMap;

/// Views published per second at most while the run goes (each costs a copy of the changed
/// patches' colours and of the agents).
const VIEWS_PER_SEC: f64 = 60.0;
/// The most patches a view carries (a 32 × 32-patch window; the viewer asks for what it shows).
const MAX_PATCHES: i64 = 32;
/// The overlays (scent, visual field) cover at most this many cells around the view's centre.
const OVERLAY_HALF: i64 = 40;

/// The viewer's wishes, read by the run's thread between steps.
#[derive(Debug)]
pub struct Controls {
    /// Hold the run after the current step.
    pub paused: AtomicBool,
    /// Steps still to take while paused (single-stepping).
    pub single_steps: AtomicU64,
    /// Steps per second to aim at; 0: as fast as it goes.
    pub speed: AtomicU64,
    /// End the run (after the current step, saving everything as Ctrl-C does).
    pub stop: Arc<AtomicBool>,
    /// The cells shown: min x, min y, max x, max y.
    region: [AtomicI64; 4],
    /// The followed agent's id (0: none).
    pub follow: AtomicU32,
    /// Scent overlay: 0 off, 1 all channels, 2 + k channel k alone.
    pub scent: AtomicU32,
    /// Draw the followed agent's visual field over the world.
    pub visual_field: AtomicBool,
}

impl Controls {
    /// Asks for the cells of `region`.
    pub fn want(&self, region: Region) {
        for (slot, v) in self.region.iter().zip([region.min.x, region.min.y, region.max.x, region.max.y]) {
            slot.store(v, Ordering::Relaxed);
        }
    }

    /// The region asked for.
    pub fn wanted(&self) -> Region {
        let [x0, y0, x1, y1] = self.region.each_ref().map(|v| v.load(Ordering::Relaxed));
        Region::new(Cell::new(x0, y0), Cell::new(x1, y1))
    }
}

/// The latest-wins slot for views and the controls, shared by the run and the viewer.
#[derive(Debug)]
pub struct Feed {
    latest: ArcSwapOption<View>,
    /// Viewers looking now (a window, attached viewers); with none, nothing is published.
    pub watchers: AtomicUsize,
    /// The viewer's wishes.
    pub controls: Controls,
    /// How many times the world behind the feed was replaced ([`Feed::renew`]).
    generation: AtomicU64,
}

impl Feed {
    /// A feed whose run stops when `stop` is raised (shared with a Ctrl-C handler, say).
    pub fn new(stop: Arc<AtomicBool>) -> Arc<Self> {
        Arc::new(Feed {
            latest: ArcSwapOption::empty(),
            watchers: AtomicUsize::new(0),
            controls: Controls {
                paused: AtomicBool::new(false),
                single_steps: AtomicU64::new(0),
                speed: AtomicU64::new(0),
                stop,
                region: [-32, -32, 32, 32].map(AtomicI64::new),
                follow: AtomicU32::new(0),
                scent: AtomicU32::new(0),
                visual_field: AtomicBool::new(false),
            },
            generation: AtomicU64::new(0),
        })
    }

    /// The world behind the feed was replaced by another (a Python environment reset or
    /// loaded): no view of the old one is sent again, and every viewer is sent every patch's
    /// cells anew, since the new world numbers its patches' versions from the start again.
    pub fn renew(&self) {
        self.latest.store(None);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The number of [`Feed::renew`]s so far: what views made now carry.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Replaces the latest view.
    pub fn publish(&self, view: View) {
        self.latest.store(Some(Arc::new(view)));
    }

    /// The latest view, if any was published.
    pub fn latest(&self) -> Option<Arc<View>> {
        self.latest.load_full()
    }
}

/// One agent as drawn.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentView {
    /// Its id.
    pub id: u32,
    /// Its cell.
    pub position: Cell,
    /// Its facing (`Direction as u8`: up, down, left, right).
    pub facing: u8,
    /// Its reward rate over the last `window` steps.
    pub reward_rate: f64,
    /// Items collected so far, by type.
    pub collected: Vec<u64>,
}

/// One generated patch's cells as colours.
#[derive(Clone, Debug)]
pub struct PatchView {
    /// Which patch.
    pub coord: PatchCoord,
    /// Its version ([`beanworld_sim::World::version`]): the viewer redraws it when it changes.
    pub version: u64,
    /// Packed RGBA8 per cell, rows from the top (the palette of `beanworld-render` frames).
    pub cells: Arc<Vec<u32>>,
}

/// A rectangle of cells drawn with overlays (scent, visual field), over the patches.
#[derive(Clone, Debug)]
pub struct OverlayView {
    /// The cells covered.
    pub region: Region,
    /// Packed RGBA8 per cell, rows from the top.
    pub cells: Vec<u32>,
}

/// The world at one step, as the viewer draws it.
#[derive(Clone, Debug)]
pub struct View {
    /// The step.
    pub step: u64,
    /// The run ends at this step.
    pub until: u64,
    /// Whether the run has ended (no later view will come).
    pub finished: bool,
    /// Steps per second lately.
    pub steps_per_sec: f64,
    /// Cells per patch side.
    pub patch_size: usize,
    /// Item type names and display colours.
    pub items: Vec<(String, [u8; 4])>,
    /// Scent channels `S`.
    pub scent_channels: usize,
    /// The reward function in force, in words, with its phase (`2/3`) if the schedule has more.
    pub phase: String,
    /// The agents, in id order.
    pub agents: Vec<AgentView>,
    /// The region the viewer asked for when this view was made.
    pub region: Region,
    /// The generated patches in that region.
    pub patches: Vec<PatchView>,
    /// The overlays asked for, around the region's centre.
    pub overlay: Option<OverlayView>,
    /// What the followed agent sees: `side × side` packed RGBA8 colours, forward up, its right to
    /// the right.
    pub sight: Option<(u32, Vec<u32>)>,
    /// The feed's generation when it was made ([`Feed::renew`]); 0 on a viewer's side.
    pub generation: u64,
}

/// The run's side: builds views after steps and holds the run as the controls say.
pub struct Publisher {
    feed: Arc<Feed>,
    until: u64,
    /// Colours of patches published before, by coordinate, with their version.
    patches: FxHashMap<PatchCoord, (u64, Arc<Vec<u32>>)>,
    /// Reward rates.
    record: Record,
    last_view: Option<Instant>,
    /// Steps per second: steps since `since`.
    since: Instant,
    steps_since: u64,
    steps_per_sec: f64,
    /// When the next step is due, at a set speed.
    next_step: Instant,
}

impl Publisher {
    /// A publisher for a run that ends at step `until`, with reward rates over `window` steps.
    pub fn new(feed: Arc<Feed>, until: u64, window: u64) -> Self {
        let now = Instant::now();
        Publisher {
            feed,
            until,
            patches: FxHashMap::default(),
            record: Record::new(window),
            last_view: None,
            since: now,
            steps_since: 0,
            steps_per_sec: 0.0,
            next_step: now,
        }
    }

    /// Called after every step of a runner: keeps the reward rates, publishes a view when one is
    /// due, then waits as the controls say (paused, or a set speed).
    pub fn after_step(&mut self, runner: &mut Runner) {
        let report = runner.report();
        for (&id, &reward) in report.ids.iter().zip(&report.rewards) {
            self.record.rate(id, reward);
        }
        self.after(runner.sim_mut());
    }

    /// As [`Publisher::after_step`], for a simulation stepped without a runner (a replay), whose
    /// agents `ids` got `rewards`.
    pub fn after_rewards(&mut self, sim: &mut Simulation, ids: &[u32], rewards: &[f32]) {
        for (&id, &reward) in ids.iter().zip(rewards) {
            self.record.rate(id, reward);
        }
        self.after(sim);
    }

    /// Publishes a view when one is due, then waits as the controls say (paused, or a set
    /// speed).
    fn after(&mut self, sim: &mut Simulation) {
        let now = Instant::now();
        let finished = sim.time() >= self.until;
        if self.steps_since == 0 && self.steps_per_sec == 0.0 && self.last_view.is_none() {
            // The first step: the clock starts after the world was set up.
            self.since = now;
        } else {
            self.steps_since += 1;
            let elapsed = now.duration_since(self.since).as_secs_f64();
            if elapsed >= 0.5 || (finished && self.steps_per_sec == 0.0) {
                self.steps_per_sec = self.steps_since as f64 / elapsed.max(1e-9);
                (self.since, self.steps_since) = (now, 0);
            }
        }
        let watched = self.feed.watchers.load(Ordering::Relaxed) > 0;
        let due = self.last_view.is_none_or(|t| now.duration_since(t).as_secs_f64() >= 1.0 / VIEWS_PER_SEC);
        if watched && (due || finished) {
            self.publish(sim, finished);
        }
        self.hold(sim);
    }

    /// Waits while paused (publishing now and then, so overlays and the region follow the
    /// viewer) and, at a set speed, until the next step is due.
    fn hold(&mut self, sim: &mut Simulation) {
        let feed = Arc::clone(&self.feed);
        let c = &feed.controls;
        let finished = sim.time() >= self.until;
        while c.paused.load(Ordering::Relaxed) && !c.stop.load(Ordering::Relaxed) && !finished {
            if c.single_steps.load(Ordering::Relaxed) > 0 {
                c.single_steps.fetch_sub(1, Ordering::Relaxed);
                break;
            }
            std::thread::sleep(Duration::from_millis(15));
            self.publish(sim, false);
        }
        let speed = c.speed.load(Ordering::Relaxed);
        if speed > 0 && !finished {
            self.next_step += Duration::from_secs_f64(1.0 / speed as f64);
            let now = Instant::now();
            if self.next_step > now {
                std::thread::sleep(self.next_step - now);
            } else {
                // Behind (or the speed was just set): no catching up in a burst.
                self.next_step = now;
            }
        } else {
            self.next_step = Instant::now();
        }
    }

    /// After the run has ended: keeps publishing its last state (so that the viewer can still
    /// move, follow and switch overlays) until the run's stop flag is raised.
    pub fn linger(&mut self, sim: &mut Simulation) {
        let stop = Arc::clone(&self.feed.controls.stop);
        while !stop.load(Ordering::Relaxed) {
            if self.feed.watchers.load(Ordering::Relaxed) > 0 {
                self.publish(sim, true);
            }
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    /// Builds and publishes the view of `sim` now.
    pub fn publish(&mut self, sim: &mut Simulation, finished: bool) {
        self.last_view = Some(Instant::now());
        let feed = Arc::clone(&self.feed);
        let c = &feed.controls;
        let wanted = c.wanted();
        let patches = self.patches(sim, wanted);
        let follow = c.follow.load(Ordering::Relaxed);
        let followed = sim.agents().iter().position(|a| a.id == follow);
        let overlay = overlays(c, followed.map(|_| follow)).map(|overlays| {
            let region = overlay_region(wanted);
            OverlayView { region, cells: CellImage::with(sim, region, overlays).cells }
        });
        let sight = followed.map(|i| sight(sim, i));
        let config = sim.current_config();
        self.feed.publish(View {
            step: sim.time(),
            until: self.until,
            finished,
            steps_per_sec: self.steps_per_sec,
            patch_size: sim.config().patch_size,
            items: config.items.iter().map(|t| (t.name.clone(), rgba(&t.color))).collect(),
            scent_channels: config.scent.dimension,
            phase: phase(sim),
            agents: self.agents(sim),
            region: wanted,
            patches,
            overlay,
            sight,
            generation: self.feed.generation(),
        });
    }

    /// The generated patches in `wanted` (at most [`MAX_PATCHES`] + 1 a side, around its
    /// centre), their colours redrawn only for patches whose version changed.
    fn patches(&mut self, sim: &Simulation, wanted: Region) -> Vec<PatchView> {
        let n = sim.config().patch_size;
        let (xs, ys) = patch_span(wanted, n);
        let mut patches = Vec::new();
        for y in ys.clone() {
            for x in xs.clone() {
                let coord = PatchCoord::new(x, y);
                if sim.world().patch(coord).is_none() {
                    continue;
                }
                let version = sim.world().version(coord);
                let entry = self.patches.entry(coord).or_insert_with(|| (u64::MAX, Arc::default()));
                if entry.0 != version {
                    let origin = coord.origin(n);
                    let far = Cell::new(origin.x + n as i64 - 1, origin.y + n as i64 - 1);
                    *entry = (version, Arc::new(CellImage::of(sim, Region::new(origin, far)).cells));
                }
                patches.push(PatchView { coord, version, cells: Arc::clone(&entry.1) });
            }
        }
        // Forget patches far out of sight, so the cache stays the size of the screen.
        if self.patches.len() > 4 * patches.len() + 256 {
            let near = |p: &PatchCoord| {
                (xs.start() - 8..=xs.end() + 8).contains(&p.x)
                    && (ys.start() - 8..=ys.end() + 8).contains(&p.y)
            };
            self.patches.retain(|p, _| near(p));
        }
        patches
    }

    /// The agents as drawn, with their reward rates.
    fn agents(&self, sim: &Simulation) -> Vec<AgentView> {
        let agent = |a: &beanworld_sim::Agent| AgentView {
            id: a.id,
            position: a.position,
            facing: a.facing as u8,
            reward_rate: self.record.current(a.id),
            collected: a.collected.clone(),
        };
        sim.agents().iter().map(agent).collect()
    }
}

/// The patch columns and rows of `wanted` (patches of `n` cells a side), at most
/// [`MAX_PATCHES`] + 1 each way around its centre.
fn patch_span(wanted: Region, n: usize) -> (RangeInclusive<i64>, RangeInclusive<i64>) {
    let (lo, hi) = (wanted.min.patch(n), wanted.max.patch(n));
    let centre = PatchCoord::new((lo.x + hi.x) / 2, (lo.y + hi.y) / 2);
    let half = MAX_PATCHES / 2;
    (
        lo.x.max(centre.x - half)..=hi.x.min(centre.x + half),
        lo.y.max(centre.y - half)..=hi.y.min(centre.y + half),
    )
}

/// The overlays the controls ask for; the visual field only of a `followed` agent.
fn overlays(c: &Controls, followed: Option<u32>) -> Option<Overlays> {
    let scent = c.scent.load(Ordering::Relaxed);
    let visual_field = followed.filter(|_| c.visual_field.load(Ordering::Relaxed));
    (scent > 0 || visual_field.is_some()).then(|| Overlays {
        scent: scent > 0,
        scent_channel: (scent >= 2).then(|| scent as usize - 2),
        visual_field,
    })
}

/// The cells the overlays cover: `wanted`, less what lies more than [`OVERLAY_HALF`] cells from
/// its centre.
fn overlay_region(wanted: Region) -> Region {
    let mid = Cell::new((wanted.min.x + wanted.max.x) / 2, (wanted.min.y + wanted.max.y) / 2);
    Region::new(
        Cell::new(wanted.min.x.max(mid.x - OVERLAY_HALF), wanted.min.y.max(mid.y - OVERLAY_HALF)),
        Cell::new(wanted.max.x.min(mid.x + OVERLAY_HALF), wanted.max.y.min(mid.y + OVERLAY_HALF)),
    )
}

/// The reward function in force, in words, with its phase if the schedule has more than one.
fn phase(sim: &Simulation) -> String {
    let (task, items) = (sim.task(), &sim.current_config().items);
    let t = sim.time().max(1);
    let reward = describe(task.at(t), items);
    if task.phases() > 1 {
        format!("{reward} (phase {}/{})", task.phase(t) + 1, task.phases())
    } else {
        reward
    }
}

/// What agent `i` sees, as colours: forward up, its right to the right.
fn sight(sim: &mut Simulation, i: usize) -> (u32, Vec<u32>) {
    let (mut scent, mut vision) = (vec![0.0; sim.scent_len()], vec![0.0; sim.vision_len()]);
    sim.observe(i, &mut scent, &mut vision);
    let side = 2 * sim.config().vision.range as usize + 1;
    let channels = sim.config().vision.color_dimension;
    let mut cells = vec![0; side * side];
    for right in 0..side {
        for forward in 0..side {
            let k = (right * side + forward) * channels;
            let [r, g, b, a] = rgba(&vision[k..k + channels]);
            cells[(side - 1 - forward) * side + right] = u32::from_le_bytes([r, g, b, a]);
        }
    }
    (side as u32, cells)
}

/// A reward function in words.
fn describe(reward: &Reward, items: &[beanworld_sim::config::ItemType]) -> String {
    let name = |k: usize| items.get(k).map_or("?", |t| t.name.as_str());
    match reward {
        Reward::Zero => "no reward".into(),
        Reward::Action(v) => format!("{v:+} per step"),
        Reward::Collect { item, value } => format!("collect {} ({value:+})", name(*item)),
        Reward::Avoid { item, value } => format!("avoid {} ({:+})", name(*item), -value),
        Reward::Explore(v) => format!("explore ({v:+})"),
        Reward::Sum(parts) => parts.iter().map(|p| describe(p, items)).collect::<Vec<_>>().join(" + "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(x0: i64, y0: i64, x1: i64, y1: i64) -> Region {
        Region::new(Cell::new(x0, y0), Cell::new(x1, y1))
    }

    #[test]
    fn a_view_carries_at_most_a_window_of_patches_around_the_centre() {
        // Patches of 32 cells: cells -40..=40 lie in patches -2..=1.
        assert_eq!(patch_span(region(-40, -40, 40, 10), 32), (-2..=1, -2..=0));
        // Far wider: 33 patches across, around the middle one.
        assert_eq!(patch_span(region(-100_000, 0, 100_000, 31), 32), (-16..=16, 0..=0));
    }

    #[test]
    fn overlays_cover_the_region_up_to_a_distance_from_its_centre() {
        assert_eq!(overlay_region(region(-10, -5, 10, 5)), region(-10, -5, 10, 5));
        assert_eq!(overlay_region(region(0, -500, 200, 500)), region(60, -40, 140, 40));
    }

    #[test]
    fn the_visual_field_is_drawn_only_for_a_followed_agent() {
        let feed = Feed::new(Arc::new(AtomicBool::new(false)));
        let c = &feed.controls;
        assert!(overlays(c, Some(3)).is_none(), "nothing asked");
        c.visual_field.store(true, Ordering::Relaxed);
        assert!(overlays(c, None).is_none(), "nobody followed");
        let o = overlays(c, Some(3)).expect("the visual field");
        assert_eq!((o.scent, o.scent_channel, o.visual_field), (false, None, Some(3)));
        c.scent.store(4, Ordering::Relaxed);
        let o = overlays(c, None).expect("scent");
        assert_eq!((o.scent, o.scent_channel, o.visual_field), (true, Some(2), None));
    }
}
