//! The clock of the SQLite pool's idle and lifetime deadlines ([`DeadlineClock`]).
//!
//! The pool compares a free connection's deadline with the time twice per statement (when the
//! connection is given back, when it is handed out). Read from the OS, even the coarse clock is
//! a vDSO call whose data the kernel's tick rewrites: 1.4–1.7% of a one-row read's time in a
//! profile here (`perf`, cpu-clock samples), where Diesel reads no clock. The deadlines are
//! seconds to minutes away, so one thread of the process ([`Ticker`]) writes the time into an
//! atomic every [`TICK`] while any pool needs it, and a statement reads that atomic. Limits
//! shorter than [`TICKED_FROM`] would feel the tick's coarseness: their pools read the OS clock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// How often the ticker writes the time.
const TICK: Duration = Duration::from_millis(100);

/// The shortest limit served by the ticked clock (ten ticks: a deadline is late by two ticks,
/// a fifth of such a limit, at most).
const TICKED_FROM: Duration = Duration::from_secs(1);

/// Milliseconds since the first use of any deadline clock in the process.
fn exact_ms() -> u64 {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    let origin = *ORIGIN.get_or_init(Instant::now);
    u64::try_from(origin.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The process's one ticking thread and what it writes.
pub(crate) struct Ticker {
    /// [`exact_ms`] as of the last tick.
    now_ms: AtomicU64,
    /// Pools using the ticked clock: the thread waits, not ticking, while there are none.
    users: Mutex<usize>,
    wake: Condvar,
}

impl Ticker {
    /// The ticker, its thread started on first use; `None` if the thread could not be started.
    fn get() -> Option<&'static Ticker> {
        static TICKER: OnceLock<Option<&'static Ticker>> = OnceLock::new();
        *TICKER.get_or_init(|| {
            let ticker: &'static Ticker = Box::leak(Box::new(Ticker {
                now_ms: AtomicU64::new(exact_ms()),
                users: Mutex::new(0),
                wake: Condvar::new(),
            }));
            std::thread::Builder::new()
                .name("polyorm-sqlite-clock".to_owned())
                .spawn(move || ticker.run())
                .ok()
                .map(|_| ticker)
        })
    }

    fn run(&self) {
        loop {
            let users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
            drop(
                self.wake
                    .wait_while(users, |users| *users == 0)
                    .unwrap_or_else(PoisonError::into_inner),
            );
            self.now_ms.store(exact_ms(), Ordering::Relaxed);
            std::thread::sleep(TICK);
        }
    }

    /// Counts one more user, with the time written now (the thread may have waited).
    fn join(&self) {
        let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        self.now_ms.store(exact_ms(), Ordering::Relaxed);
        *users += 1;
        self.wake.notify_one();
    }

    fn leave(&self) {
        let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        *users = users.saturating_sub(1);
    }
}

/// A pool's clock for its deadlines, in milliseconds.
pub(crate) enum DeadlineClock {
    /// No deadline: never read.
    Unused,
    /// Read from the OS at every use (limits under [`TICKED_FROM`], or no ticking thread).
    Exact,
    /// The ticker's time: up to one [`TICK`] behind while its thread keeps time (deadlines are
    /// set one tick later to make up for it: never early, at most two ticks late).
    Ticked(&'static Ticker),
}

impl DeadlineClock {
    /// The clock for a pool whose shortest limit is `shortest` (`None`: no limit).
    pub(crate) fn for_limits(shortest: Option<Duration>) -> Self {
        match shortest {
            None => DeadlineClock::Unused,
            Some(limit) if limit < TICKED_FROM => DeadlineClock::Exact,
            Some(_) => match Ticker::get() {
                Some(ticker) => {
                    ticker.join();
                    DeadlineClock::Ticked(ticker)
                }
                None => DeadlineClock::Exact,
            },
        }
    }

    /// The time now, in milliseconds (`0` when unused).
    pub(crate) fn now_ms(&self) -> u64 {
        match self {
            DeadlineClock::Unused => 0,
            DeadlineClock::Exact => exact_ms(),
            DeadlineClock::Ticked(ticker) => ticker.now_ms.load(Ordering::Relaxed),
        }
    }

    /// `limit` after `from` (a time of this clock), never before it has passed in fact;
    /// `None` (no deadline) where that is beyond the clock's range.
    pub(crate) fn deadline(&self, from: u64, limit: Duration) -> Option<u64> {
        let lag = match self {
            DeadlineClock::Ticked(_) => TICK,
            _ => Duration::ZERO,
        };
        let limit = u64::try_from(limit.checked_add(lag)?.as_millis()).ok()?;
        from.checked_add(limit)
    }
}

impl Drop for DeadlineClock {
    fn drop(&mut self) {
        if let DeadlineClock::Ticked(ticker) = self {
            ticker.leave();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_limits_read_the_os_clock_and_long_ones_the_ticker() {
        assert!(matches!(
            DeadlineClock::for_limits(None),
            DeadlineClock::Unused
        ));
        assert!(matches!(
            DeadlineClock::for_limits(Some(Duration::from_millis(500))),
            DeadlineClock::Exact
        ));
        let ticked = DeadlineClock::for_limits(Some(Duration::from_secs(60)));
        assert!(matches!(ticked, DeadlineClock::Ticked(_)));
        // The ticker's time advances, and never past the OS clock's.
        let start = ticked.now_ms();
        let waited = Instant::now();
        while ticked.now_ms() < start + 300 {
            assert!(
                waited.elapsed() < Duration::from_secs(10),
                "the ticker did not advance 300 ms in 10 s"
            );
            std::thread::sleep(TICK);
        }
        assert!(ticked.now_ms() <= exact_ms());
    }

    #[test]
    fn a_deadline_is_its_limit_away_plus_the_ticks_lag_and_none_beyond_range() {
        let exact = DeadlineClock::Exact;
        assert_eq!(exact.deadline(1_000, Duration::from_secs(60)), Some(61_000));
        assert_eq!(exact.deadline(1_000, Duration::MAX), None);
        assert_eq!(exact.deadline(u64::MAX - 10, Duration::from_secs(1)), None);
        let ticked = DeadlineClock::for_limits(Some(Duration::from_secs(60)));
        assert_eq!(
            ticked.deadline(1_000, Duration::from_secs(60)),
            Some(61_000 + 100)
        );
        assert_eq!(ticked.deadline(1_000, Duration::MAX), None);
    }
}
