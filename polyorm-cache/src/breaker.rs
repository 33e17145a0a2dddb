//! A circuit breaker in front of Redis: after `threshold` consecutive failures Redis is left
//! alone for `cooldown`, then one call probes it; a success closes the breaker.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub(crate) struct Breaker {
    threshold: u32,
    cooldown: Duration,
    failures: AtomicU32,
    /// `Some(until)` while open: no call before `until`, then one probe.
    open_until: Mutex<Option<Instant>>,
    trips: AtomicU64,
}

impl Breaker {
    pub(crate) fn new(threshold: u32, cooldown: Duration) -> Self {
        Breaker {
            threshold: threshold.max(1),
            cooldown,
            failures: AtomicU32::new(0),
            open_until: Mutex::new(None),
            trips: AtomicU64::new(0),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.open_until.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a call may go to Redis now; when the cooldown is over, lets exactly one caller
    /// through as the probe (the next ones wait another cooldown).
    pub(crate) fn allow(&self) -> bool {
        let mut open = self.state();
        match *open {
            None => true,
            Some(until) if Instant::now() >= until => {
                *open = Some(Instant::now() + self.cooldown);
                tracing::debug!(target: "polyorm_cache", "probing Redis");
                true
            }
            Some(_) => false,
        }
    }

    /// Records a successful call; returns `true` when it closed an open breaker.
    pub(crate) fn success(&self) -> bool {
        self.failures.store(0, Ordering::Relaxed);
        let mut open = self.state();
        open.take().is_some()
    }

    /// Records a failed call; returns `true` when it opened the breaker.
    pub(crate) fn failure(&self) -> bool {
        let n = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        let mut open = self.state();
        let was_open = open.is_some();
        if n >= self.threshold || was_open {
            *open = Some(Instant::now() + self.cooldown);
        }
        let opened = !was_open && open.is_some();
        if opened {
            self.trips.fetch_add(1, Ordering::Relaxed);
        }
        opened
    }

    pub(crate) fn is_open(&self) -> bool {
        self.state().is_some()
    }

    pub(crate) fn trips(&self) -> u64 {
        self.trips.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_then_lets_one_probe_through_after_cooldown() {
        let b = Breaker::new(3, Duration::from_millis(30));
        assert!(!b.failure());
        assert!(!b.failure());
        assert!(b.failure(), "third consecutive failure opens");
        assert!(!b.allow(), "open: no call");
        std::thread::sleep(Duration::from_millis(40));
        assert!(b.allow(), "cooldown over: one probe");
        assert!(!b.allow(), "only one probe per cooldown");
        assert!(b.success(), "a successful probe closes");
        assert!(b.allow());
        assert_eq!(b.trips(), 1);
    }

    #[test]
    fn a_success_resets_the_failure_count() {
        let b = Breaker::new(2, Duration::from_secs(60));
        assert!(!b.failure());
        assert!(!b.success());
        assert!(!b.failure(), "count restarted");
        assert!(b.allow());
    }
}
