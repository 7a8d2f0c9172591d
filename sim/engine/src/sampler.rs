//! The Metropolis–Hastings birth/death sampler of spec §3, for one patch at a time.
//!
//! A patch is sampled from empty, conditioned on the items of the neighbouring patches it is
//! given (the lower-phase neighbours, see `world.rs`). Instead of summing interactions over
//! every nearby item for each proposal (JBW's O(items) per proposal, spec §11 #33), the sampler
//! keeps an *energy field*: for every type `t` and cell `x` of the patch, the log-weight
//! `f_t(x) + Σ_j pair(t, t_j, x − x_j) − ln q_t + 2 ln n`. A proposal then reads one number, and
//! an accepted birth or death adds or subtracts one precomputed interaction table around its
//! cell. `q_t` is the probability that a birth proposes type `t`: `1/K` in JBW, which makes the
//! acceptance ratios exactly spec §3.3–3.4; a scenario may weight types differently
//! (`proposal_weight`), and the ratio above keeps the target distribution the same.
//!
//! Interactions are evaluated exactly up to Chebyshev distance `n` (the patch size) and are
//! zero beyond: every cell of a patch then sees all items within that distance, whatever its
//! place in the patch. JBW instead reaches between `n/2` and about `1.5·n` depending on where
//! the cell sits (spec §11 #13); no shipped configuration has an interaction longer than `n`
//! except v1's wall CROSS (40 at `n = 32`), which is cut at 32.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use rand_chacha::ChaCha8Rng;

use crate::config::Config;
use crate::energy::Interaction;
use crate::geometry::{Cell, PatchCoord};
use crate::item::Item;
use crate::rng::{Rng, below, unit_open};

/// How an item of type `u` changes the field of type `t` around it.
#[derive(Clone, Debug)]
struct Partner {
    /// The type whose field changes.
    t: usize,
    /// Chebyshev radius of the effect (at most `n`).
    radius: i64,
    /// `pair(t, u, d)` for `d ∈ [−radius, radius]²`, row by row (`dy` outer), when stationary.
    table: Option<Vec<f32>>,
    /// `g_{t,u}` and `g_{u,t}`, evaluated directly when not stationary.
    direct: (Interaction, Interaction),
}

/// Tables built once per configuration, and scratch buffers reused for every patch. Holds no
/// world state: it can be dropped and rebuilt at any time without changing any result.
#[derive(Clone, Debug)]
pub struct Sampler {
    /// Shared with the samplers that help [`Sampler::sample_each`] on other threads.
    tables: Arc<Tables>,
    scratch: Scratch,
    /// The most threads [`Sampler::sample_each`] samples on, the calling one included.
    threads: usize,
}

/// What a configuration fixes: read, never written, while sampling (so threads share it).
#[derive(Clone, Debug)]
struct Tables {
    n: usize,
    k: usize,
    sweeps: u32,
    /// `partners[u]`: the fields an item of type `u` affects.
    partners: Vec<Vec<Partner>>,
    /// `ln m` for item counts `m`.
    ln_count: Vec<f32>,
    /// Birth type choice: type `t` when 32 random bits are below `type_threshold[t]` (and not
    /// below the previous threshold); the last is `u32::MAX` so every draw picks a type.
    type_threshold: Vec<u32>,
    /// `−ln q_t + 2 ln n` per type.
    base: Vec<f32>,
    /// The interactions the tables were built for.
    interactions: Vec<Vec<Interaction>>,
}

/// The buffers one patch's chain works in, overwritten for every patch.
#[derive(Clone, Debug)]
struct Scratch {
    /// `K × n × n` log-weights of a birth of each type at each cell (see the module docs).
    field: Vec<f32>,
    /// `n × n`: type + 1 of the item at each cell, or 0.
    occupied: Vec<u16>,
    /// The items of the patch being sampled: (type, cell index, index in the patch's item list
    /// before this round or [`NEW`]).
    items: Vec<(u16, u16, u32)>,
    /// `n × n`: cells no proposal may touch (agents stand there).
    forbidden: Vec<bool>,
    /// Whether any cell is forbidden.
    guarded: bool,
}

impl Scratch {
    fn new(n: usize, k: usize) -> Self {
        Scratch {
            field: vec![0.0; k * n * n],
            occupied: vec![0; n * n],
            items: Vec::with_capacity(n * n / 8),
            forbidden: vec![false; n * n],
            guarded: false,
        }
    }
}

/// The threads a sampler made now samples on ([`set_default_threads`]); 0: the machine's.
static DEFAULT_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Sets how many threads the samplers made from now on sample a step's new patches on (see
/// [`Sampler::sample_each`]; 1: on the stepping thread alone), for the whole process; 0 goes
/// back to the default, the machine's. Only the speed depends on it.
pub fn set_default_threads(threads: usize) {
    DEFAULT_THREADS.store(threads, Ordering::Relaxed);
}

/// The threads a sampler made now samples on: as last set by [`set_default_threads`], else the
/// machine's, as the OS reports them.
pub fn default_threads() -> usize {
    static MACHINE: OnceLock<usize> = OnceLock::new();
    match DEFAULT_THREADS.load(Ordering::Relaxed) {
        0 => *MACHINE.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from)),
        threads => threads,
    }
}

/// A patch for [`Sampler::sample_each`] to sample: where it is, the items of the neighbours it
/// is conditioned on, and its random stream.
pub struct NewPatch<'a> {
    pub at: PatchCoord,
    pub neighbours: Vec<&'a [Item]>,
    pub rng: ChaCha8Rng,
}

/// How many proposals [`Sampler::sample_unless`] runs between asking whether to stop: about
/// 4 µs of a classic world's chain.
const STOP_EVERY: u32 = 256;

/// Marks an item born in the current round.
const NEW: u32 = u32::MAX;

/// What a regrowth round changed in a patch.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Changes {
    /// Items born: type and cell.
    pub born: Vec<(u16, Cell)>,
    /// Indices (in the patch's item list) of items that died.
    pub died: Vec<usize>,
}

impl Sampler {
    /// Builds the interaction tables for `config`.
    pub fn new(config: &Config) -> Self {
        let n = config.patch_size;
        let k = config.items.len();
        let mut partners = vec![Vec::new(); k];
        for (u, list) in partners.iter_mut().enumerate() {
            for t in 0..k {
                let g_tu = &config.items[t].interactions[u];
                let g_ut = &config.items[u].interactions[t];
                if g_tu.is_zero() && g_ut.is_zero() {
                    continue;
                }
                let radius = g_tu.reach().max(g_ut.reach()).min(n as u64) as i64;
                let table = (g_tu.is_stationary() && g_ut.is_stationary()).then(|| {
                    let side = 2 * radius + 1;
                    let mut values = Vec::with_capacity((side * side) as usize);
                    for dy in -radius..=radius {
                        for dx in -radius..=radius {
                            let (x, y) = (Cell::new(dx, dy), Cell::new(0, 0));
                            values.push(g_tu.eval(x, y) + g_ut.eval(y, x));
                        }
                    }
                    values
                });
                list.push(Partner { t, radius, table, direct: (g_tu.clone(), g_ut.clone()) });
            }
        }
        let ln_count = (0..=n * n + 1).map(|m| (m as f32).ln()).collect();
        let total: f64 = config.items.iter().map(|t| f64::from(t.proposal_weight)).sum();
        let mut cumulative = 0.0;
        let mut type_threshold = Vec::with_capacity(k);
        let mut base = Vec::with_capacity(k);
        for t in &config.items {
            let q = f64::from(t.proposal_weight) / total;
            cumulative += q;
            type_threshold.push((cumulative * 4_294_967_296.0).min(f64::from(u32::MAX)) as u32);
            base.push((-q.ln() + 2.0 * (n as f64).ln()) as f32);
        }
        if let Some(last) = type_threshold.last_mut() {
            *last = u32::MAX;
        }
        let tables = Tables {
            n,
            k,
            sweeps: config.mcmc_iterations,
            partners,
            ln_count,
            type_threshold,
            base,
            interactions: config.items.iter().map(|t| t.interactions.clone()).collect(),
        };
        Sampler { tables: Arc::new(tables), scratch: Scratch::new(n, k), threads: default_threads() }
    }

    /// The most threads [`Sampler::sample_each`] samples on, this one among them.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Samples `patch` as [`Sampler::sample`] does, unless `stop` says to give up, which it asks
    /// every `STOP_EVERY` (256) proposals: `None` then. The chain is the same either way (proposals
    /// run in stretches draw from `rng` as they would in one), so what it returns is exactly
    /// [`Sampler::sample`]'s.
    pub fn sample_unless<'a>(
        &mut self,
        config: &Config,
        patch: PatchCoord,
        neighbours: impl IntoIterator<Item = &'a [Item]>,
        rng: &mut ChaCha8Rng,
        stop: &dyn Fn() -> bool,
    ) -> Option<Vec<Item>> {
        let origin = self.start(config, patch, neighbours);
        let mut left = self.tables.sweeps;
        while left > 0 {
            if stop() {
                return None;
            }
            let stretch = left.min(STOP_EVERY);
            self.run(stretch, origin, rng);
            left -= stretch;
        }
        Some(self.items(origin))
    }

    /// Prepares the chain of a new `patch` from empty, conditioned on `neighbours`; returns the
    /// patch's origin.
    fn start<'a>(
        &mut self,
        config: &Config,
        patch: PatchCoord,
        neighbours: impl IntoIterator<Item = &'a [Item]>,
    ) -> Cell {
        let origin = patch.origin(self.tables.n);
        self.prepare(config, origin, neighbours);
        self.scratch.forbidden.fill(false);
        self.scratch.guarded = false;
        origin
    }

    /// The items of the patch just sampled at `origin`.
    fn items(&self, origin: Cell) -> Vec<Item> {
        let n = self.tables.n;
        self.scratch
            .items
            .iter()
            .map(|&(t, cell, _)| {
                let cell = usize::from(cell);
                Item::initial(t, Cell::new(origin.x + (cell % n) as i64, origin.y + (cell / n) as i64))
            })
            .collect()
    }

    /// Samples several patches on at most `threads` threads (at least 1; the default is
    /// [`default_threads`]). Only the speed depends on it.
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = threads.max(1);
    }

    /// Samples the initial contents of `patch` from empty with `mcmc_iterations` proposals,
    /// conditioned on the items of `neighbours`, drawing only from `rng`.
    pub fn sample<'a>(
        &mut self,
        config: &Config,
        patch: PatchCoord,
        neighbours: impl IntoIterator<Item = &'a [Item]>,
        rng: &mut ChaCha8Rng,
    ) -> Vec<Item> {
        let origin = self.start(config, patch, neighbours);
        self.run(self.tables.sweeps, origin, rng);
        self.items(origin)
    }

    /// Samples the initial contents of each of `patches`, each exactly as [`Sampler::sample`]
    /// would. They must not depend on one another, so they are spread over up to
    /// [`Sampler::set_threads`] threads (this one among them) when there are several: which
    /// thread samples which changes nothing but the time.
    pub fn sample_each(&mut self, config: &Config, patches: Vec<NewPatch<'_>>) -> Vec<Vec<Item>> {
        let threads = self.threads.min(patches.len());
        if threads < 2 {
            return patches
                .into_iter()
                .map(|mut p| self.sample(config, p.at, p.neighbours, &mut p.rng))
                .collect();
        }
        // Patch `i` goes to thread `i % threads`: this one takes share 0, the others share the
        // tables, each with a scratch of its own.
        let mut shares: Vec<Vec<(usize, NewPatch<'_>)>> = (0..threads).map(|_| Vec::new()).collect();
        for (i, patch) in patches.into_iter().enumerate() {
            shares[i % threads].push((i, patch));
        }
        let run = |share: Vec<(usize, NewPatch<'_>)>, sampler: &mut Sampler| {
            share
                .into_iter()
                .map(|(i, mut p)| (i, sampler.sample(config, p.at, p.neighbours, &mut p.rng)))
                .collect::<Vec<_>>()
        };
        let mut shares = shares.into_iter();
        let own = shares.next().unwrap_or_default();
        let (n, k) = (self.tables.n, self.tables.k);
        let helpers: Vec<Sampler> = (1..threads)
            .map(|_| Sampler { tables: Arc::clone(&self.tables), scratch: Scratch::new(n, k), threads: 1 })
            .collect();
        let mut sampled = std::thread::scope(|scope| {
            let helpers: Vec<_> = shares
                .zip(helpers)
                .map(|(share, mut helper)| scope.spawn(move || run(share, &mut helper)))
                .collect();
            let mut sampled = run(own, self);
            for helper in helpers {
                match helper.join() {
                    Ok(done) => sampled.extend(done),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            sampled
        });
        sampled.sort_unstable_by_key(|&(i, _)| i);
        sampled.into_iter().map(|(_, items)| items).collect()
    }

    /// Continues the chain of an existing patch for `proposals` proposals (regrowth): starts from
    /// its live items `own`, conditioned on the live items of all its `neighbours`, under the
    /// energies of `config` (which may have drifted), never touching the cells in `forbidden`.
    /// Returns which items were born and which of `own` died.
    #[allow(clippy::too_many_arguments)]
    pub fn regrow<'a>(
        &mut self,
        config: &Config,
        patch: PatchCoord,
        own: &[Item],
        neighbours: impl IntoIterator<Item = &'a [Item]>,
        forbidden: impl IntoIterator<Item = Cell>,
        proposals: u32,
        rng: &mut ChaCha8Rng,
    ) -> Changes {
        self.retune(config);
        let n = self.tables.n;
        let origin = patch.origin(n);
        self.prepare(config, origin, neighbours);
        self.scratch.forbidden.fill(false);
        for cell in forbidden {
            let (x, y) = (cell.x - origin.x, cell.y - origin.y);
            if (0..n as i64).contains(&x) && (0..n as i64).contains(&y) {
                self.scratch.forbidden[y as usize * n + x as usize] = true;
                self.scratch.guarded = true;
            }
        }
        for (i, item) in own.iter().enumerate().filter(|(_, i)| i.is_live()) {
            let (x, y) = (item.pos.x - origin.x, item.pos.y - origin.y);
            let cell = y as usize * n + x as usize;
            self.scratch.occupied[cell] = item.kind + 1;
            self.scratch.items.push((item.kind, cell as u16, i as u32));
            apply(&self.tables, &mut self.scratch, 1.0, usize::from(item.kind), x, y, origin);
        }
        let before: Vec<u32> = self.scratch.items.iter().map(|&(_, _, source)| source).collect();
        self.run(proposals, origin, rng);
        let mut kept = vec![false; own.len()];
        let mut born = Vec::new();
        for &(t, cell, source) in &self.scratch.items {
            if source == NEW {
                let cell = usize::from(cell);
                born.push((t, Cell::new(origin.x + (cell % n) as i64, origin.y + (cell / n) as i64)));
            } else {
                kept[source as usize] = true;
            }
        }
        let died = before.into_iter().map(|s| s as usize).filter(|&s| !kept[s]).collect();
        Changes { born, died }
    }

    /// Rebuilds the interaction tables if `config`'s interactions differ from those they were
    /// built for (drift).
    fn retune(&mut self, config: &Config) {
        let same = config.items.iter().zip(&self.tables.interactions).all(|(t, g)| &t.interactions == g);
        if !same {
            let Tables { partners, interactions, .. } = Arc::unwrap_or_clone(Sampler::new(config).tables);
            let tables = Arc::make_mut(&mut self.tables);
            (tables.partners, tables.interactions) = (partners, interactions);
        }
    }

    /// Sets every field to the intensities plus the effect of the neighbours' live items, and
    /// empties the patch.
    fn prepare<'a>(
        &mut self,
        config: &Config,
        origin: Cell,
        neighbours: impl IntoIterator<Item = &'a [Item]>,
    ) {
        let n = self.tables.n;
        for (t, item_type) in config.items.iter().enumerate() {
            let base = self.tables.base[t];
            let field = &mut self.scratch.field[t * n * n..(t + 1) * n * n];
            if item_type.intensity.is_stationary() {
                field.fill(item_type.intensity.eval(origin) + base);
            } else {
                for (i, f) in field.iter_mut().enumerate() {
                    let cell = Cell::new(origin.x + (i % n) as i64, origin.y + (i / n) as i64);
                    *f = item_type.intensity.eval(cell) + base;
                }
            }
        }
        for items in neighbours {
            for item in items.iter().filter(|i| i.is_live()) {
                apply(
                    &self.tables,
                    &mut self.scratch,
                    1.0,
                    usize::from(item.kind),
                    item.pos.x - origin.x,
                    item.pos.y - origin.y,
                    origin,
                );
            }
        }
        self.scratch.occupied.fill(0);
        self.scratch.items.clear();
    }

    /// Runs `proposals` birth/death proposals on the prepared patch.
    #[allow(unsafe_code)]
    fn run(&mut self, proposals: u32, origin: Cell, rng: &mut ChaCha8Rng) {
        let (tables, s) = (&*self.tables, &mut self.scratch);
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the processor has AVX2, the only feature `chain_avx2` is compiled for.
            unsafe { chain_avx2(tables, s, proposals, origin, rng) };
            return;
        }
        chain(tables, s, proposals, origin, rng);
    }
}

/// [`chain`] compiled for AVX2: the fields' rows are added eight cells at a time. Every operation
/// is the same one, on the same values in the same order, so the chain is the same to the bit
/// (AVX2 alone: no fused multiply-adds, which would round differently).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn chain_avx2(tables: &Tables, s: &mut Scratch, proposals: u32, origin: Cell, rng: &mut ChaCha8Rng) {
    chain(tables, s, proposals, origin, rng);
}

/// The chain: `proposals` birth/death proposals on the patch in `s`. Cells where agents stand
/// are only looked for when there are some.
#[inline(always)]
fn chain(tables: &Tables, s: &mut Scratch, proposals: u32, origin: Cell, rng: &mut ChaCha8Rng) {
    if s.guarded {
        proposals_on::<true>(tables, s, proposals, origin, rng);
    } else {
        proposals_on::<false>(tables, s, proposals, origin, rng);
    }
}

/// `proposals` proposals (spec §3.3–3.4); `GUARDED`: some cells are forbidden.
#[inline(always)]
fn proposals_on<const GUARDED: bool>(
    tables: &Tables,
    s: &mut Scratch,
    proposals: u32,
    origin: Cell,
    rng: &mut ChaCha8Rng,
) {
    let n = tables.n;
    let cells = (n * n) as u32;
    // The first K − 1 thresholds: the type drawn is how many of them the bits reach (they rise,
    // and the last threshold takes every draw that reaches them all).
    let thresholds = &tables.type_threshold[..tables.k.saturating_sub(1)];
    for _ in 0..proposals {
        let r = rng.next_u64();
        let (lo, hi) = (r as u32, (r >> 32) as u32);
        if hi >> 31 == 0 {
            // Birth (spec §3.3): a type by its proposal weight at a uniform cell.
            let t = thresholds.iter().map(|&limit| usize::from(lo >= limit)).sum::<usize>();
            let cell = below(hi << 1, cells) as usize;
            if s.occupied[cell] != 0 || (GUARDED && s.forbidden[cell]) {
                continue;
            }
            let log_a = s.field[t * n * n + cell] - tables.ln_count[s.items.len() + 1];
            if accept(log_a, rng) {
                s.occupied[cell] = t as u16 + 1;
                s.items.push((t as u16, cell as u16, NEW));
                apply(tables, s, 1.0, t, (cell % n) as i64, (cell / n) as i64, origin);
            }
        } else if !s.items.is_empty() {
            // Death (spec §3.4): a uniform item of the patch.
            let i = below(lo, s.items.len() as u32) as usize;
            let (t, cell, _) = s.items[i];
            let (t, cell) = (usize::from(t), usize::from(cell));
            if GUARDED && s.forbidden[cell] {
                continue;
            }
            let log_a = tables.ln_count[s.items.len()] - s.field[t * n * n + cell];
            if accept(log_a, rng) {
                s.occupied[cell] = 0;
                s.items.swap_remove(i);
                apply(tables, s, -1.0, t, (cell % n) as i64, (cell / n) as i64, origin);
            }
        }
    }
}

/// Adds `sign ×` the effect of an item of type `u` at patch-local `(cx, cy)` (which may lie
/// outside the patch) to every field it reaches.
#[inline(always)]
fn apply(tables: &Tables, scratch: &mut Scratch, sign: f32, u: usize, cx: i64, cy: i64, origin: Cell) {
    let n = tables.n as i64;
    let nn = (n * n) as usize;
    for p in &tables.partners[u] {
        let r = p.radius;
        let (x0, x1) = ((cx - r).max(0), (cx + r).min(n - 1));
        let (y0, y1) = ((cy - r).max(0), (cy + r).min(n - 1));
        if x0 > x1 || y0 > y1 {
            continue;
        }
        let field = &mut scratch.field[p.t * nn..(p.t + 1) * nn];
        let width = (x1 - x0 + 1) as usize;
        match &p.table {
            Some(table) => {
                let side = 2 * r + 1;
                for y in y0..=y1 {
                    let src = ((y - cy + r) * side + (x0 - cx + r)) as usize;
                    let dst = (y * n + x0) as usize;
                    let (field, table) = (&mut field[dst..dst + width], &table[src..src + width]);
                    // `f - v` is `f + (−1·v)` to the bit; adding or subtracting saves a product
                    // per cell.
                    if sign > 0.0 {
                        field.iter_mut().zip(table).for_each(|(f, v)| *f += v);
                    } else {
                        field.iter_mut().zip(table).for_each(|(f, v)| *f -= v);
                    }
                }
            }
            None => {
                let (g_tu, g_ut) = &p.direct;
                let at = Cell::new(origin.x + cx, origin.y + cy);
                for y in y0..=y1 {
                    for x in x0..=x1 {
                        let cell = Cell::new(origin.x + x, origin.y + y);
                        field[(y * n + x) as usize] += sign * (g_tu.eval(cell, at) + g_ut.eval(at, cell));
                    }
                }
            }
        }
    }
}

/// Below this log-ratio the test always rejects: `e^-17 ≈ 4.1e-8` is under the smallest `u`
/// that [`unit_open`] returns (`2^-24 ≈ 6.0e-8`).
const ALWAYS_REJECT: f32 = -17.0;

/// The Metropolis test `u < e^log_a`, drawing `u` only when the outcome is not already certain.
#[inline]
fn accept(log_a: f32, rng: &mut ChaCha8Rng) -> bool {
    if log_a >= 0.0 {
        true
    } else if log_a < ALWAYS_REJECT {
        false
    } else {
        unit_open(rng.next_u32()) < log_a.exp()
    }
}
