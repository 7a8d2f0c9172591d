//! Watching a run in another process: `beanworld run --serve ADDR` publishes views on a TCP
//! socket (loopback unless told otherwise) and `beanworld watch --attach ADDR` shows them; a
//! viewer can attach, leave and attach again while the run goes on.
//!
//! The protocol: the server first sends [`HELLO`]; then both sides send frames, each a
//! little-endian `u32` length and that many bytes of a postcard-encoded message (`ToViewer`
//! from the run, `ToRun` from the viewer). A patch's cells travel once per version: later views
//! name the patch and its version and the viewer takes the cells from what it already has.
//! Anything else — another greeting, a frame over [`MAX_FRAME`] bytes, bytes that do not decode —
//! ends that connection with a message on stderr; neither side panics, and the run goes on.

use std::io::{BufReader, BufWriter, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use beanworld_sim::{Cell, PatchCoord, Region};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::feed::{AgentView, Feed, OverlayView, PatchView, View};

/// What the server says first: the protocol and its version.
pub const HELLO: &[u8; 8] = b"BWVIEW01";
/// The largest frame either side accepts (a view of the most patches a view carries, with all
/// their cells, is about 4 MiB).
pub const MAX_FRAME: usize = 64 << 20;
/// Views sent to one viewer per second at most.
const VIEWS_PER_SEC: u64 = 30;

/// A region on the wire: min x, min y, max x, max y.
type Corners = (i64, i64, i64, i64);

/// A view on the wire: patches whose cells the viewer has already come without them.
#[derive(Serialize, Deserialize)]
enum ToViewer {
    /// The run at one step.
    View {
        /// [`View`] less its patches.
        step: u64,
        until: u64,
        finished: bool,
        steps_per_sec: f64,
        patch_size: u32,
        items: Vec<(String, [u8; 4])>,
        scent_channels: u32,
        phase: String,
        agents: Vec<(u32, i64, i64, u8, f64, Vec<u64>)>,
        region: Corners,
        /// Coordinate, version, and the cells if the viewer does not have this version.
        patches: Vec<(i64, i64, u64, Option<Vec<u32>>)>,
        overlay: Option<(Corners, Vec<u32>)>,
        sight: Option<(u32, Vec<u32>)>,
    },
}

/// What the viewer wants to see.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Debug)]
enum ToRun {
    /// The region on screen, the followed agent (0: none) and the overlays.
    Want { region: Corners, follow: u32, scent: u32, visual_field: bool },
}

fn corners(r: Region) -> Corners {
    (r.min.x, r.min.y, r.max.x, r.max.y)
}

/// A region from the wire, its corners kept within ±2⁴⁰ cells (so that no arithmetic on it
/// overflows, whatever a peer sends).
fn region((x0, y0, x1, y1): Corners) -> Region {
    let c = |v: i64| v.clamp(-(1 << 40), 1 << 40);
    Region::new(Cell::new(c(x0), c(y0)), Cell::new(c(x1), c(y1)))
}

fn write_frame(out: &mut impl Write, message: &impl Serialize) -> std::io::Result<()> {
    let bytes = postcard::to_stdvec(message).map_err(std::io::Error::other)?;
    out.write_all(&(bytes.len() as u32).to_le_bytes())?;
    out.write_all(&bytes)?;
    out.flush()
}

/// Reads one frame and decodes it; errors say what was wrong with it.
fn read_frame<T: for<'de> Deserialize<'de>>(input: &mut impl Read, buf: &mut Vec<u8>) -> Result<T, String> {
    let mut len = [0u8; 4];
    input.read_exact(&mut len).map_err(|e| format!("connection closed ({e})"))?;
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(format!("a frame of {len} bytes (at most {MAX_FRAME})"));
    }
    buf.resize(len, 0);
    input.read_exact(buf).map_err(|e| format!("connection closed in a frame ({e})"))?;
    postcard::from_bytes(buf).map_err(|e| format!("a malformed message ({e})"))
}

/// An address to serve on or attach to: `PORT` (loopback) or `HOST:PORT`.
pub fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = s.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    s.parse().map_err(|_| format!("expected PORT or HOST:PORT (such as 127.0.0.1:7878), found `{s}`"))
}

/// Listens on `addr` and serves every viewer that connects, each on its own thread, until the
/// feed's run stops. Returns the address bound (with the port chosen, for port 0).
pub fn serve(feed: Arc<Feed>, addr: SocketAddr) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    std::thread::Builder::new().name("serve".into()).spawn(move || {
        let stop = Arc::clone(&feed.controls.stop);
        while !stop.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((stream, peer)) => {
                    let feed = Arc::clone(&feed);
                    let _ = std::thread::Builder::new().name(format!("viewer {peer}")).spawn(move || {
                        feed.watchers.fetch_add(1, Ordering::SeqCst);
                        eprintln!("viewer {peer} attached");
                        match serve_one(&feed, stream) {
                            Ok(()) => eprintln!("viewer {peer} left"),
                            Err(e) => eprintln!("viewer {peer} refused: {e}"),
                        }
                        feed.watchers.fetch_sub(1, Ordering::SeqCst);
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => eprintln!("serve: {e}"),
            }
        }
    })?;
    Ok(bound)
}

/// Serves one viewer: its wishes on one thread, views on this one.
fn serve_one(feed: &Arc<Feed>, stream: TcpStream) -> Result<(), String> {
    stream.set_nonblocking(false).map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let reader = stream.try_clone().map_err(|e| e.to_string())?;
    let mut out = BufWriter::new(stream);
    out.write_all(HELLO).and_then(|()| out.flush()).map_err(|e| e.to_string())?;
    // Wishes: read until the viewer goes or says something wrong.
    let (done_tx, done_rx) = std::sync::mpsc::channel::<Result<(), String>>();
    {
        let feed = Arc::clone(feed);
        std::thread::spawn(move || {
            let mut input = BufReader::new(reader);
            let mut buf = Vec::new();
            let result = loop {
                match read_frame::<ToRun>(&mut input, &mut buf) {
                    Ok(ToRun::Want { region: r, follow, scent, visual_field }) => {
                        let c = &feed.controls;
                        c.want(region(r));
                        c.follow.store(follow, Ordering::Relaxed);
                        c.scent.store(scent, Ordering::Relaxed);
                        c.visual_field.store(visual_field, Ordering::Relaxed);
                    }
                    Err(e) if e.starts_with("connection closed (") => break Ok(()),
                    Err(e) => break Err(e),
                }
            };
            let _ = done_tx.send(result);
        });
    }
    let mut sent: FxHashMap<PatchCoord, u64> = FxHashMap::default();
    let mut generation = 0;
    let mut last_step = None;
    let stop = Arc::clone(&feed.controls.stop);
    loop {
        if let Ok(result) = done_rx.try_recv() {
            return result;
        }
        if let Some(view) = feed.latest()
            && (last_step != Some(view.step) || view.finished)
        {
            last_step = Some(view.step);
            if view.generation != generation {
                // Another world: the viewer's patches of the same versions are not these.
                sent.clear();
                generation = view.generation;
            }
            let message = wire(&view, &mut sent);
            if write_frame(&mut out, &message).is_err() {
                // The viewer went away.
                return Ok(());
            }
        }
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(1000 / VIEWS_PER_SEC));
    }
}

/// `view` for a viewer that has the patch versions in `sent` (updated).
fn wire(view: &View, sent: &mut FxHashMap<PatchCoord, u64>) -> ToViewer {
    let patches = view
        .patches
        .iter()
        .map(|p| {
            let fresh = sent.insert(p.coord, p.version) != Some(p.version);
            (p.coord.x, p.coord.y, p.version, fresh.then(|| p.cells.as_ref().clone()))
        })
        .collect();
    ToViewer::View {
        step: view.step,
        until: view.until,
        finished: view.finished,
        steps_per_sec: view.steps_per_sec,
        patch_size: view.patch_size as u32,
        items: view.items.clone(),
        scent_channels: view.scent_channels as u32,
        phase: view.phase.clone(),
        agents: view
            .agents
            .iter()
            .map(|a| (a.id, a.position.x, a.position.y, a.facing, a.reward_rate, a.collected.clone()))
            .collect(),
        region: corners(view.region),
        patches,
        overlay: view.overlay.as_ref().map(|o| (corners(o.region), o.cells.clone())),
        sight: view.sight.clone(),
    }
}

/// Connects to a run serving at `addr` and keeps `feed` supplied with its views (and the run
/// supplied with what the viewer wants) until the connection ends or `feed`'s stop is raised.
/// Fails at once if nothing answers there or it does not speak this protocol.
pub fn attach(
    feed: Arc<Feed>,
    addr: SocketAddr,
) -> Result<std::thread::JoinHandle<Result<(), String>>, String> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("cannot attach to {addr}: {e} (is a run serving there with --serve?)"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
    let mut input = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
    let mut hello = [0u8; 8];
    input.read_exact(&mut hello).map_err(|e| format!("{addr} said nothing ({e})"))?;
    if &hello != HELLO {
        return Err(format!("{addr} is not a beanworld run serving views (it greeted with {hello:?})"));
    }
    stream.set_read_timeout(None).map_err(|e| e.to_string())?;
    // Wishes go out whenever they change.
    {
        let (feed, mut out) =
            (Arc::clone(&feed), BufWriter::new(stream.try_clone().map_err(|e| e.to_string())?));
        std::thread::spawn(move || {
            let mut last = None;
            while !feed.controls.stop.load(Ordering::Relaxed) {
                let c = &feed.controls;
                let want = ToRun::Want {
                    region: corners(c.wanted()),
                    follow: c.follow.load(Ordering::Relaxed),
                    scent: c.scent.load(Ordering::Relaxed),
                    visual_field: c.visual_field.load(Ordering::Relaxed),
                };
                if last != Some(want) {
                    if write_frame(&mut out, &want).is_err() {
                        return;
                    }
                    last = Some(want);
                }
                std::thread::sleep(Duration::from_millis(30));
            }
            let _ = stream.shutdown(std::net::Shutdown::Both);
        });
    }
    std::thread::Builder::new()
        .name("attach".into())
        .spawn(move || {
            let mut views = Views::default();
            loop {
                match views.next(&mut input) {
                    Ok(v) => feed.publish(v),
                    Err(Refused::Frame(_)) if feed.controls.stop.load(Ordering::Relaxed) => return Ok(()),
                    Err(e) => {
                        feed.controls.stop.store(true, Ordering::SeqCst);
                        return Err(match e {
                            Refused::Frame(e) => format!("the run at {addr}: {e}"),
                            Refused::View(e) => format!("the run at {addr} sent {e}"),
                        });
                    }
                }
            }
        })
        .map_err(|e| e.to_string())
}

/// The viewer's side of the protocol after the greeting: frames in, views out, keeping the cells
/// of every patch received so that later views can come without them.
#[derive(Default)]
pub struct Views {
    cells: FxHashMap<PatchCoord, (u64, Arc<Vec<u32>>)>,
    buf: Vec<u8>,
}

/// Why [`Views::next`] gave no view.
#[derive(Debug)]
pub enum Refused {
    /// No frame could be read, or it did not decode (the connection closed, a frame too long).
    Frame(String),
    /// A frame decoded but does not make a view (cells of the wrong size, a patch never sent).
    View(String),
}

impl Views {
    /// Reads the next frame from `input` and makes it a view.
    pub fn next(&mut self, input: &mut impl Read) -> Result<View, Refused> {
        let message = read_frame::<ToViewer>(input, &mut self.buf).map_err(Refused::Frame)?;
        view(message, &mut self.cells).map_err(Refused::View)
    }
}

/// A view from the wire, with the cells of patches it came without taken from `cells`.
fn view(message: ToViewer, cells: &mut FxHashMap<PatchCoord, (u64, Arc<Vec<u32>>)>) -> Result<View, String> {
    let ToViewer::View {
        step,
        until,
        finished,
        steps_per_sec,
        patch_size,
        items,
        scent_channels,
        phase,
        agents,
        region: r,
        patches,
        overlay,
        sight,
    } = message;
    let n = patch_size as usize;
    let mut out = Vec::with_capacity(patches.len());
    for (x, y, version, fresh) in patches {
        let coord = PatchCoord::new(x, y);
        if let Some(c) = fresh {
            if c.len() != n * n {
                return Err(format!("patch ({x}, {y}) with {} cells (expected {})", c.len(), n * n));
            }
            cells.insert(coord, (version, Arc::new(c)));
        }
        match cells.get(&coord) {
            Some((v, c)) if *v == version => out.push(PatchView { coord, version, cells: Arc::clone(c) }),
            _ => return Err(format!("patch ({x}, {y}) version {version} without its cells")),
        }
    }
    let overlay = match overlay {
        Some((o, c)) => {
            let region = region(o);
            if region.width().checked_mul(region.height()) != Some(c.len() as u64) {
                return Err("an overlay of the wrong size".into());
            }
            Some(OverlayView { region, cells: c })
        }
        None => None,
    };
    if let Some((side, c)) = &sight
        && c.len() != (*side as usize).pow(2)
    {
        return Err("a vision inset of the wrong size".into());
    }
    Ok(View {
        step,
        until,
        finished,
        steps_per_sec,
        patch_size: n,
        items,
        scent_channels: scent_channels as usize,
        phase,
        agents: agents
            .into_iter()
            .map(|(id, x, y, facing, reward_rate, collected)| AgentView {
                id,
                position: Cell::new(x, y),
                facing,
                reward_rate,
                collected,
            })
            .collect(),
        region: region(r),
        patches: out,
        overlay,
        sight,
        generation: 0,
    })
}
