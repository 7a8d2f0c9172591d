//! How a thread waits for another: the one backoff shared by the step channel (the runner and its
//! agent threads, `runner/batch.rs`) and the crew that steps [`VecEnv`](crate::VecEnv)'s worlds
//! (`crew.rs`).
//!
//! A waiting thread looks for what it waits for; each look that finds nothing is followed by a
//! [`Backoff::snooze`], which first spins (the answer usually comes within microseconds, and
//! waking a thread that slept costs more than that), then yields its core (with more threads than
//! cores, the thread doing the work may need it), then rests: it parks until the other side
//! unparks it, or sleeps a little when no one will. How long each stage lasts is a [`Patience`],
//! counted in looks or measured in time; each user states its own, beside the measurements that
//! chose it. A backoff never rests before its patience is spent, takes no lock, allocates nothing,
//! and reads the clock only when its patience is measured in time.

use std::thread;
use std::time::{Duration, Instant};

/// How long a stage of waiting lasts, counted from the backoff's start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Span {
    /// While fewer than this many looks have found nothing (`Looks(0)`: the stage is skipped).
    Looks(u32),
    /// While less than this much time has passed.
    Time(Duration),
}

/// How a thread rests once its patience is spent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Rest {
    /// Park until unparked: for a thread the other side promises to unpark.
    Park,
    /// Sleep this long: for a thread no one will wake.
    Sleep(Duration),
}

/// A way of waiting: spin while `spin` lasts, then yield while `yields` lasts, then rest.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Patience {
    /// How long to spin.
    pub spin: Span,
    /// Spin hints between two looks (more of them look at the clock less often).
    pub spins_per_look: u32,
    /// Until when to yield the core instead of spinning, counted from the start like `spin`.
    pub yields: Span,
    /// What to do once both are spent, at every look from then on.
    pub rest: Rest,
}

impl Patience {
    /// Looks with `look` until it finds something, backing off between looks.
    #[inline]
    pub(crate) fn wait_for<T>(self, mut look: impl FnMut() -> Option<T>) -> T {
        let mut backoff = Backoff::new(self);
        loop {
            if let Some(found) = look() {
                return found;
            }
            backoff.snooze();
        }
    }
}

/// What a [`Backoff::snooze`] did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Snooze {
    /// Spun on the core.
    Spun,
    /// Yielded the core.
    Yielded,
    /// Parked or slept: the patience is spent.
    Rested,
}

/// One wait in progress: how many looks have found nothing, and since when.
#[derive(Debug)]
pub(crate) struct Backoff {
    patience: Patience,
    looks: u32,
    /// When the wait began; only read when a stage is measured in time.
    since: Option<Instant>,
}

impl Backoff {
    /// A wait that begins now.
    #[inline]
    pub(crate) fn new(patience: Patience) -> Self {
        let timed = matches!(patience.spin, Span::Time(_)) || matches!(patience.yields, Span::Time(_));
        Backoff { patience, looks: 0, since: timed.then(Instant::now) }
    }

    /// Waits a little after a look that found nothing: spins, yields or rests, as the patience
    /// allows.
    #[inline]
    pub(crate) fn snooze(&mut self) -> Snooze {
        self.looks = self.looks.saturating_add(1);
        if self.within(self.patience.spin) {
            for _ in 0..self.patience.spins_per_look {
                std::hint::spin_loop();
            }
            Snooze::Spun
        } else if self.within(self.patience.yields) {
            thread::yield_now();
            Snooze::Yielded
        } else {
            match self.patience.rest {
                Rest::Park => thread::park(),
                Rest::Sleep(d) => thread::sleep(d),
            }
            Snooze::Rested
        }
    }

    /// Whether a stage lasting `span` is still going.
    #[inline]
    fn within(&self, span: Span) -> bool {
        match span {
            Span::Looks(n) => self.looks < n,
            Span::Time(d) => self.since.is_some_and(|s| s.elapsed() < d),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

    use super::*;

    const COUNTED: Patience = Patience {
        spin: Span::Looks(3),
        spins_per_look: 1,
        yields: Span::Looks(5),
        rest: Rest::Sleep(Duration::ZERO),
    };

    #[test]
    fn counted_patience_spins_then_yields_then_rests() {
        use Snooze::{Rested, Spun, Yielded};
        let mut backoff = Backoff::new(COUNTED);
        let stages: Vec<Snooze> = (0..7).map(|_| backoff.snooze()).collect();
        assert_eq!(stages, [Spun, Spun, Yielded, Yielded, Rested, Rested, Rested]);
        assert!(backoff.since.is_none(), "a counted wait never reads the clock");
    }

    #[test]
    fn a_stage_of_no_looks_is_skipped() {
        let patience = Patience { spin: Span::Looks(0), yields: Span::Looks(0), ..COUNTED };
        assert_eq!(Backoff::new(patience).snooze(), Snooze::Rested);
    }

    #[test]
    fn timed_patience_spins_until_the_time_is_up_then_rests() {
        let patience = Patience {
            spin: Span::Time(Duration::from_millis(2)),
            spins_per_look: 32,
            yields: Span::Looks(0),
            rest: Rest::Sleep(Duration::ZERO),
        };
        let started = Instant::now();
        let mut backoff = Backoff::new(patience);
        let mut spun = 0;
        while backoff.snooze() == Snooze::Spun {
            spun += 1;
        }
        assert!(spun > 0);
        assert!(started.elapsed() >= Duration::from_millis(2), "rested after {:?}", started.elapsed());
        assert_eq!(backoff.snooze(), Snooze::Rested, "and rests from then on");
    }

    #[test]
    fn a_sleeping_rest_sleeps() {
        let patience = Patience { rest: Rest::Sleep(Duration::from_millis(5)), ..COUNTED };
        let mut backoff = Backoff::new(patience);
        while backoff.snooze() != Snooze::Yielded {}
        while backoff.snooze() != Snooze::Rested {}
        let started = Instant::now();
        backoff.snooze();
        assert!(started.elapsed() >= Duration::from_millis(5));
    }

    #[test]
    fn a_parked_waiter_wakes_when_unparked() {
        let patience = Patience { rest: Rest::Park, ..COUNTED };
        let ready = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&ready);
        let waiter = thread::spawn(move || patience.wait_for(|| flag.load(SeqCst).then_some(7)));
        thread::sleep(Duration::from_millis(20));
        ready.store(true, SeqCst);
        waiter.thread().unpark();
        assert_eq!(waiter.join().ok(), Some(7));
    }

    #[test]
    fn wait_for_returns_what_the_look_finds() {
        let mut looks = 0;
        let found = COUNTED.wait_for(|| {
            looks += 1;
            (looks == 10).then_some(looks * 2)
        });
        assert_eq!(found, 20);
    }
}
