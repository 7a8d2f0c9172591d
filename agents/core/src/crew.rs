//! A crew of threads that works through a batch of independent items together with the thread
//! that hands the batch out: [`VecEnv`](crate::VecEnv)'s worlds, one item each.
//!
//! Why not rayon's pool, which `VecEnv` used before: between batches its threads go to sleep, and
//! the caller sleeps while they work. A learner that steps the worlds every few hundred
//! microseconds paid for those wake-ups at every step; on the 2-core CI machine, 2 threads stepping
//! 16 worlds one step at a time ran slower than 1. Here the caller claims items like the crew
//! does, so the work starts at once, and the crew keeps looking for work for a while after a batch
//! before it parks, so that the next batch usually finds it awake.
//!
//! Items are claimed one at a time from one atomic word, so a slow item does not hold up the
//! others. Which thread runs which item varies from run to run; the items must not depend on it.
//!
//! A batch may come with idle work ([`Crew::run_idle`]): a thread that finds nothing left to
//! claim while others still run their items does that meanwhile, and gives it up when the last
//! item is done; the batch returns once every thread has left its idle work.

use std::any::Any;
use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::Ordering::SeqCst;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::backoff::{Backoff, Patience, Rest, Snooze, Span};

/// How long a crew member (or the caller, waiting for the last items) looks before it rests.
const PATIENCE: Duration = Duration::from_micros(200);

/// A member without work: it looks at the batch word for [`PATIENCE`], 32 spin hints between
/// looks, then parks until the caller hands out the next batch (and unparks it).
const MEMBER_WAIT: Patience =
    Patience { spin: Span::Time(PATIENCE), spins_per_look: 32, yields: Span::Looks(0), rest: Rest::Park };

/// The caller, once no item is left to claim, waiting for the crew to finish theirs: it looks for
/// [`PATIENCE`], then sleeps 20 µs between looks, since no member unparks it.
const CALLER_WAIT: Patience = Patience {
    spin: Span::Time(PATIENCE),
    spins_per_look: 1,
    yields: Span::Looks(0),
    rest: Rest::Sleep(Duration::from_micros(20)),
};

/// A batch whose last run took less than this, counting every thread's time, is run by the
/// caller alone: handing it out costs more than it saves (16 worlds of agents that only turn
/// take about 2.4 µs a step).
const SMALL: Duration = Duration::from_micros(50);

/// The batch word: generation (24 bits) | end (20 bits) | start (20 bits), the items not yet
/// claimed being `start..end`. The caller claims from the start and the crew from the end (with
/// two threads, most items then stay with one of them from batch to batch). One word, so that a
/// claim is one compare-and-swap that cannot land in another batch.
const BITS: u32 = 20;
const MASK: u64 = (1 << BITS) - 1;
/// The most items one batch holds (`run` hands out more in several).
const MAX_ITEMS: usize = MASK as usize;

type Job = dyn Fn(usize) + Sync;

/// Idle work: called with a `stop` to ask, as often as it can, whether to give up.
type Idle<'a> = dyn Fn(&dyn Fn() -> bool) + Sync + 'a;

/// The word of finished items: generation (24 bits) | items (20 bits) | finished (20 bits), the
/// batch's generation and size stored with its count, so that a thread that reads it knows
/// whether the batch it saw is still running.
fn finished_word(generation: u64, items: usize) -> u64 {
    (generation << (2 * BITS)) | ((items as u64) << BITS)
}

/// A crew of `members` threads, and the caller.
pub struct Crew {
    shared: Arc<Shared>,
    members: Vec<JoinHandle<()>>,
    /// The last batch's time, counting every thread's (an estimate when the crew ran it).
    last: Duration,
}

struct Shared {
    batch: AtomicU64,
    /// Items of the current batch finished (panicked ones included), with the batch's
    /// generation and size ([`finished_word`]).
    done: AtomicU64,
    /// The current batch's work. Written by the caller before it publishes the batch; read only
    /// by a thread that has claimed one of the batch's items, which the caller waits for.
    job: UnsafeCell<*const Job>,
    /// The current batch's idle work, if any: written and read as `job` is, by a thread that has
    /// found the batch running (and counted itself in `idling` first), which the caller waits
    /// for.
    idle: UnsafeCell<Option<*const Idle<'static>>>,
    /// Threads doing (or about to do) the current batch's idle work.
    idling: AtomicUsize,
    /// The first panic of the batch, passed on to the caller.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
    stop: AtomicBool,
}

// SAFETY: `job` is only written while no member can read it (see `Crew::run`); everything else
// is atomic or locked.
unsafe impl Sync for Shared {}
unsafe impl Send for Shared {}

impl Crew {
    /// A crew of `members` threads named `name-1`, `name-2`, …; with none, the caller does all.
    pub fn new(members: usize, name: &str) -> Self {
        let shared = Arc::new(Shared {
            batch: AtomicU64::new(0),
            done: AtomicU64::new(0),
            job: UnsafeCell::new(std::ptr::null::<fn(usize)>() as *const Job),
            idle: UnsafeCell::new(None),
            idling: AtomicUsize::new(0),
            panic: Mutex::new(None),
            stop: AtomicBool::new(false),
        });
        let members = (1..=members)
            .map(|k| {
                let shared = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name(format!("{name}-{k}"))
                    .spawn(move || shared.serve())
                    .unwrap_or_else(|e| panic!("cannot start the {name} threads: {e}"))
            })
            .collect();
        Crew { shared, members, last: Duration::MAX }
    }

    /// Its threads (the caller not counted).
    pub fn members(&self) -> usize {
        self.members.len()
    }

    /// Whether the next batch will be shared out (the last was not so small that the caller runs
    /// the next alone, and there is a crew).
    pub fn hands_out(&self) -> bool {
        !self.members.is_empty() && self.last >= SMALL
    }

    /// Runs `job(i)` once for every `i` in `0..items`, on the crew and this thread, and returns
    /// when all have finished. A panic in one is passed on here; when the crew ran the batch,
    /// once the others have finished (they may be borrowing what the caller holds).
    pub fn run(&mut self, items: usize, job: &(dyn Fn(usize) + Sync)) {
        self.run_with(items, job, None);
    }

    /// Runs the batch as [`Crew::run`] does; meanwhile a thread (the caller too) that finds no
    /// item left to claim while others still run theirs calls `idle(stop)`, which should return
    /// soon after `stop()` says so: once every item is done (or another batch's items wait).
    /// Returns once every item and every call of `idle` has. A batch run by the caller alone
    /// has no idle time, and calls no `idle`.
    pub fn run_idle(
        &mut self,
        items: usize,
        job: &(dyn Fn(usize) + Sync),
        idle: &(dyn Fn(&dyn Fn() -> bool) + Sync),
    ) {
        self.run_with(items, job, Some(idle));
    }

    fn run_with(&mut self, items: usize, job: &(dyn Fn(usize) + Sync), idle: Option<&Idle<'_>>) {
        let started = Instant::now();
        if !self.hands_out() {
            (0..items).for_each(job);
            self.last = started.elapsed();
            return;
        }
        if items > MAX_ITEMS {
            for start in (0..items).step_by(MAX_ITEMS) {
                self.run_with(MAX_ITEMS.min(items - start), &|i| job(start + i), idle);
            }
            return;
        }
        self.hand_out(items, job, idle);
        self.last = started.elapsed() * (self.members.len() as u32 + 1);
    }

    /// Runs the batch on the crew and this thread.
    fn hand_out(&self, items: usize, job: &(dyn Fn(usize) + Sync), idle: Option<&Idle<'_>>) {
        let shared = &*self.shared;
        // SAFETY: the crew reads the job only after claiming one of this batch's items, and this
        // call does not return before every claimed item is done, so the borrow outlives its use;
        // no member reads `job` now, since every item of the last batch is done.
        unsafe {
            let job: *const (dyn Fn(usize) + Sync + '_) = job;
            *shared.job.get() = std::mem::transmute::<*const (dyn Fn(usize) + Sync + '_), *const Job>(job);
            *shared.idle.get() = idle.map(|idle| {
                let idle: *const Idle<'_> = idle;
                std::mem::transmute::<*const Idle<'_>, *const Idle<'static>>(idle)
            });
        }
        // (24 bits of generation: it wraps, harmlessly, as the batch word's does.)
        let generation = ((shared.batch.load(SeqCst) >> (2 * BITS)) + 1) & ((1 << (64 - 2 * BITS)) - 1);
        shared.done.store(finished_word(generation, items), SeqCst);
        shared.batch.store((generation << (2 * BITS)) | ((items as u64) << BITS), SeqCst);
        // (An unpark that comes before the member parks makes its park return at once, so no
        // wake-up is lost; a member that is not parked is only handed a token.)
        self.members.iter().for_each(|m| m.thread().unpark());
        while shared.work(Side::Start) {}
        shared.idle();
        let mut backoff = Backoff::new(CALLER_WAIT);
        while shared.finished() < items || shared.idling.load(SeqCst) > 0 {
            backoff.snooze();
        }
        if let Some(panic) = shared.panic.lock().unwrap_or_else(PoisonError::into_inner).take() {
            resume_unwind(panic);
        }
    }
}

impl Drop for Crew {
    fn drop(&mut self) {
        self.shared.stop.store(true, SeqCst);
        for member in self.members.drain(..) {
            member.thread().unpark();
            member.join().ok();
        }
    }
}

impl Shared {
    /// Items of the current batch finished.
    fn finished(&self) -> usize {
        (self.done.load(SeqCst) & MASK) as usize
    }

    /// Whether the batch that `done` (a value of [`Shared::done`]) counts for is done.
    fn is_done(done: u64) -> bool {
        done & MASK >= (done >> BITS) & MASK
    }

    /// Does the current batch's idle work, if it has any and is still running.
    fn idle(&self) {
        // Counted first: the caller does not return (and so does not hand out another batch,
        // nor let go of what `idle` borrows) while it sees a thread counted.
        self.idling.fetch_add(1, SeqCst);
        let generation = self.batch.load(SeqCst) >> (2 * BITS);
        let done = self.done.load(SeqCst);
        // The batch this thread saw is running: its items are not all done, so its caller is
        // waiting, and will see this thread counted.
        if done >> (2 * BITS) == generation && !Self::is_done(done) {
            // SAFETY: as `job` in `work`: written before the batch was published, alive until
            // its caller returns, which it does not while this thread is counted.
            if let Some(idle) = unsafe { *self.idle.get() } {
                let idle = unsafe { &*idle };
                let stop = || Self::is_done(self.done.load(SeqCst)) || self.open();
                if let Err(panic) = catch_unwind(AssertUnwindSafe(|| idle(&stop))) {
                    self.panic.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(panic);
                }
            }
        }
        self.idling.fetch_sub(1, SeqCst);
    }

    /// Whether the current batch has an item left to claim.
    fn open(&self) -> bool {
        let word = self.batch.load(SeqCst);
        word & MASK < (word >> BITS) & MASK
    }

    /// Claims the current batch's first or last unclaimed item and runs it; false when none is
    /// left.
    fn work(&self, side: Side) -> bool {
        let mut word = self.batch.load(SeqCst);
        let item = loop {
            let (end, start) = ((word >> BITS) & MASK, word & MASK);
            if start >= end {
                return false;
            }
            let (claimed, item) = match side {
                Side::Start => (word + 1, start),
                Side::End => (word - (1 << BITS), end - 1),
            };
            match self.batch.compare_exchange_weak(word, claimed, SeqCst, SeqCst) {
                Ok(_) => break item as usize,
                Err(now) => word = now,
            }
        };
        // SAFETY: the item is claimed, so the batch's caller is waiting and its job is alive.
        let job = unsafe { &**self.job.get() };
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| job(item))) {
            self.panic.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(panic);
        }
        self.done.fetch_add(1, SeqCst);
        true
    }

    /// A member's life: work while there is work, look for more for a while, then park; once
    /// woken, work again (a wake-up without work starts a new while of looking).
    fn serve(&self) {
        loop {
            if self.work(Side::End) {
                continue;
            }
            self.idle();
            let mut backoff = Backoff::new(MEMBER_WAIT);
            while !self.open() && !self.stop.load(SeqCst) {
                if backoff.snooze() == Snooze::Rested {
                    break;
                }
            }
            if self.stop.load(SeqCst) {
                return;
            }
        }
    }
}

/// Which end of the batch a thread claims from.
#[derive(Clone, Copy)]
enum Side {
    Start,
    End,
}

/// A slice cut into chunks of `size` that the items of a batch take as `&mut`, chunk `i` by item
/// `i`: how a batch's items write into shared arrays without a lock.
pub struct Parts<'a, T> {
    ptr: *mut T,
    len: usize,
    size: usize,
    _slice: PhantomData<&'a mut [T]>,
}

// SAFETY: handing out disjoint `&mut` chunks to other threads is sound for `T: Send`.
unsafe impl<T: Send> Sync for Parts<'_, T> {}

impl<'a, T> Parts<'a, T> {
    /// `slice` in chunks of `size` (the last ones may be cut short or empty).
    pub fn new(slice: &'a mut [T], size: usize) -> Self {
        Parts { ptr: slice.as_mut_ptr(), len: slice.len(), size, _slice: PhantomData }
    }

    /// Chunk `i`.
    ///
    /// # Safety
    /// No two calls with the same `i` may hold their chunks at once: call it from the item `i` of
    /// a [`Crew::run`] batch, which runs once.
    pub unsafe fn get(&self, i: usize) -> &'a mut [T] {
        let start = (i * self.size).min(self.len);
        let end = (start + self.size).min(self.len);
        // SAFETY: `start..end` lies within the slice, and no one else holds this chunk.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), end - start) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_runs_once_per_batch_whatever_the_crew() {
        for members in [0, 1, 3] {
            let mut crew = Crew::new(members, "test");
            let mut counts = vec![0u32; 1000];
            for batch in 0..200 {
                let items = 1 + batch * 7 % 1000;
                let parts = Parts::new(&mut counts, 1);
                crew.run(items, &|i| {
                    if i == 0 {
                        // (long enough a batch to be handed out)
                        std::thread::sleep(SMALL);
                    }
                    // SAFETY: item i takes chunk i only.
                    unsafe { parts.get(i)[0] += 1 }
                });
            }
            let expected: Vec<u32> =
                (0..1000).map(|i| (0..200).filter(|b| 1 + b * 7 % 1000 > i).count() as u32).collect();
            assert_eq!(counts, expected, "{members} members");
        }
    }

    #[test]
    fn idle_work_fills_the_wait_for_a_slow_item_and_ends_with_its_batch() {
        for members in [0, 1, 3] {
            let mut crew = Crew::new(members, "test");
            let (inside, idled, stopped) = (AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0));
            let idle = |stop: &dyn Fn() -> bool| {
                inside.fetch_add(1, SeqCst);
                idled.fetch_add(1, SeqCst);
                while !stop() {
                    std::hint::spin_loop();
                }
                stopped.fetch_add(1, SeqCst);
                inside.fetch_sub(1, SeqCst);
            };
            for _ in 0..20 {
                let ran = AtomicUsize::new(0);
                crew.run_idle(
                    4,
                    &|i| {
                        if i == 0 {
                            std::thread::sleep(SMALL * 20);
                        }
                        ran.fetch_add(1, SeqCst);
                    },
                    &idle,
                );
                assert_eq!(ran.load(SeqCst), 4);
                assert_eq!(inside.load(SeqCst), 0, "{members} members: no idle work outlives its batch");
            }
            // (Which thread idles, and whether a member wakes in time to, is the scheduler's.)
            assert_eq!(idled.load(SeqCst), stopped.load(SeqCst), "each stopped when told");
            if members == 0 {
                assert_eq!(idled.load(SeqCst), 0, "the caller alone has no idle time");
            } else {
                assert!(idled.load(SeqCst) > 0, "{members} members: idle work ran");
            }
        }
    }

    #[test]
    fn a_parked_crew_wakes_for_the_next_batch() {
        let mut crew = Crew::new(2, "test");
        let ran = AtomicUsize::new(0);
        for _ in 0..3 {
            std::thread::sleep(PATIENCE * 20);
            crew.run(64, &|i| {
                if i == 0 {
                    std::thread::sleep(SMALL);
                }
                ran.fetch_add(1, SeqCst);
            });
            assert_eq!(crew.shared.finished(), 64, "handed out");
        }
        assert_eq!(ran.load(SeqCst), 3 * 64);
    }

    #[test]
    fn a_batch_after_a_small_one_is_run_by_the_caller_alone() {
        let mut crew = Crew::new(1, "test");
        let caller = std::thread::current().id();
        let elsewhere = AtomicUsize::new(0);
        let job = |_| {
            if std::thread::current().id() != caller {
                elsewhere.fetch_add(1, SeqCst);
            }
            std::thread::sleep(Duration::from_micros(100));
        };
        crew.last = Duration::ZERO;
        crew.run(8, &job);
        assert_eq!((crew.shared.finished(), elsewhere.load(SeqCst)), (0, 0), "not handed out");
        assert!(crew.last >= Duration::from_micros(800), "and timed: {:?}", crew.last);
        crew.run(8, &job);
        assert_eq!(crew.shared.finished(), 8, "a large batch is handed out");
    }

    #[test]
    fn more_items_than_a_batch_holds_are_run_in_several() {
        let mut crew = Crew::new(1, "test");
        let items = MAX_ITEMS + 5;
        let mut counts = vec![0u8; items];
        let parts = Parts::new(&mut counts, 1);
        // SAFETY: item i takes chunk i only.
        crew.run(items, &|i| unsafe { parts.get(i)[0] += 1 });
        assert!(counts.iter().all(|&c| c == 1));
    }

    #[test]
    fn a_panicking_item_reaches_the_caller_after_the_others_finish() {
        let mut crew = Crew::new(1, "test");
        let finished = AtomicUsize::new(0);
        let caught = catch_unwind(AssertUnwindSafe(|| {
            crew.run(100, &|i| {
                if i == 37 {
                    panic!("item 37");
                }
                std::thread::sleep(Duration::from_micros(50));
                finished.fetch_add(1, SeqCst);
            })
        }));
        let panic = caught.expect_err("the panic comes through");
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"item 37"));
        assert_eq!(finished.load(SeqCst), 99);
        // The crew goes on working.
        crew.run(10, &|_| {
            finished.fetch_add(1, SeqCst);
        });
        assert_eq!(finished.load(SeqCst), 109);
    }

    #[test]
    fn parts_are_the_chunks_of_the_slice() {
        let mut data: Vec<u32> = (0..10).collect();
        let parts = Parts::new(&mut data, 4);
        // SAFETY: one chunk at a time.
        unsafe {
            assert_eq!(parts.get(0), &[0, 1, 2, 3]);
            assert_eq!(parts.get(2), &[8, 9]);
            assert!(parts.get(3).is_empty());
        }
        let mut empty: Vec<u32> = Vec::new();
        let none = Parts::new(&mut empty, 0);
        // SAFETY: as above.
        assert!(unsafe { none.get(5) }.is_empty());
    }
}
