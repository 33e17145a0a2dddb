//! A circuit breaker per node: closed (statements run), open (the node is skipped until a
//! cool-down has passed), half-open (one statement or health probe tries the node; success
//! closes the breaker, failure opens it again).

use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The state of a node's circuit breaker (see [`NodeHealth::breaker`](super::NodeHealth)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BreakerState {
    /// Statements run on the node.
    Closed,
    /// The node failed [`BreakerConfig::failure_threshold`] times in a row: it is skipped until
    /// [`BreakerConfig::open_for`] has passed.
    Open,
    /// The cool-down has passed: one statement (or the health probe) tries the node; success
    /// closes the breaker, failure opens it again.
    HalfOpen,
}

/// When a node's breaker opens and how long it stays open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive connection failures that open the breaker (default 3).
    pub failure_threshold: u32,
    /// How long an open breaker keeps the node out before a probe may try it (default 1 s).
    pub open_for: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 3,
            open_for: Duration::from_secs(1),
        }
    }
}

const CLOSED: u8 = 0;
const OPEN: u8 = 1;
const HALF_OPEN: u8 = 2;

/// One node's breaker; every transition is a few atomic operations.
#[derive(Debug)]
pub(super) struct Breaker {
    state: AtomicU8,
    failures: AtomicU32,
    /// When it opened, in microseconds since `epoch`.
    opened_at: AtomicU64,
    epoch: Instant,
    config: BreakerConfig,
}

impl Breaker {
    pub(super) fn new(config: BreakerConfig) -> Breaker {
        Breaker {
            state: AtomicU8::new(CLOSED),
            failures: AtomicU32::new(0),
            opened_at: AtomicU64::new(0),
            epoch: Instant::now(),
            config,
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// The state, an open breaker whose cool-down has passed reported as half-open.
    pub(super) fn state(&self) -> BreakerState {
        match self.state.load(Ordering::Acquire) {
            CLOSED => BreakerState::Closed,
            OPEN if self.cooled_down() => BreakerState::HalfOpen,
            OPEN => BreakerState::Open,
            _ => BreakerState::HalfOpen,
        }
    }

    fn cooled_down(&self) -> bool {
        let open_for = u64::try_from(self.config.open_for.as_micros()).unwrap_or(u64::MAX);
        self.now()
            .saturating_sub(self.opened_at.load(Ordering::Acquire))
            >= open_for
    }

    /// Whether a statement may go to the node now. A closed breaker lets every statement
    /// through; an open one whose cool-down has passed lets exactly one through (it becomes
    /// half-open until that statement reports).
    pub(super) fn allow(&self) -> bool {
        match self.state.load(Ordering::Acquire) {
            CLOSED => true,
            OPEN if self.cooled_down() => self
                .state
                .compare_exchange(OPEN, HALF_OPEN, Ordering::AcqRel, Ordering::Acquire)
                .is_ok(),
            _ => false,
        }
    }

    /// Whether the node would be tried now, without claiming the half-open probe.
    pub(super) fn would_allow(&self) -> bool {
        match self.state.load(Ordering::Acquire) {
            CLOSED => true,
            OPEN => self.cooled_down(),
            _ => false,
        }
    }

    /// The node answered: the breaker closes.
    pub(super) fn success(&self) {
        if self.failures.load(Ordering::Relaxed) != 0
            || self.state.load(Ordering::Relaxed) != CLOSED
        {
            self.failures.store(0, Ordering::Relaxed);
            self.state.store(CLOSED, Ordering::Release);
        }
    }

    /// The node failed (refused, lost, unreachable): counts towards opening the breaker; a
    /// half-open breaker opens again at once.
    pub(super) fn failure(&self) {
        let failures = self.failures.fetch_add(1, Ordering::AcqRel) + 1;
        let state = self.state.load(Ordering::Acquire);
        if state == HALF_OPEN || state == OPEN || failures >= self.config.failure_threshold {
            self.opened_at.store(self.now(), Ordering::Release);
            self.state.store(OPEN, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_and_lets_one_probe_through_after_the_cool_down() {
        let breaker = Breaker::new(BreakerConfig {
            failure_threshold: 2,
            open_for: Duration::from_millis(30),
        });
        assert!(breaker.allow());
        breaker.failure();
        assert_eq!(breaker.state(), BreakerState::Closed);
        breaker.failure();
        assert_eq!(breaker.state(), BreakerState::Open);
        assert!(!breaker.allow());
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        assert!(breaker.allow(), "one probe after the cool-down");
        assert!(!breaker.allow(), "only one");
        breaker.failure();
        assert_eq!(
            breaker.state(),
            BreakerState::Open,
            "a failed probe opens it again"
        );
        std::thread::sleep(Duration::from_millis(40));
        assert!(breaker.allow());
        breaker.success();
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert!(breaker.allow());
    }
}
