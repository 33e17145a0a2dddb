//! Counters behind [`Cache::stats`](crate::Cache::stats), mirrored to the `metrics` facade.
//!
//! Metric names: `orm_cache_hits_total{tier="local"|"redis"}`, `orm_cache_misses_total`,
//! `orm_cache_stale_total`, `orm_cache_errors_total{op}`, `orm_cache_evictions_total`,
//! `orm_cache_loads_total` (database queries run by the cache), `orm_cache_bypassed_total`,
//! `orm_cache_invalidations_total`, histogram `orm_cache_lookup_seconds{outcome}`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A snapshot of the cache's counters since it was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Reads answered by the in-process tier.
    pub hits_local: u64,
    /// Reads answered by the Redis tier.
    pub hits_redis: u64,
    /// Reads that ran the query (the entry was absent, expired or stale).
    pub misses: u64,
    /// Entries found but refused because a table they read was written since.
    pub stale: u64,
    /// Redis calls that failed or timed out (never surfaced to the query).
    pub errors: u64,
    /// Entries the in-process tier evicted for size.
    pub evictions: u64,
    /// Database queries the cache ran for misses (concurrent misses on one key share one).
    pub loads: u64,
    /// Reads that skipped the cache (Redis down with [`OutagePolicy::Bypass`], or inside a
    /// transaction).
    ///
    /// [`OutagePolicy::Bypass`]: crate::OutagePolicy::Bypass
    pub bypassed: u64,
    /// Tables and tags invalidated (by writes or explicitly).
    pub invalidations: u64,
    /// Times the circuit breaker opened.
    pub breaker_trips: u64,
    /// Whether the breaker is open now (Redis is being left alone).
    pub redis_down: bool,
    /// Mean latency of hits.
    pub mean_hit_latency: Duration,
    /// Mean latency of misses (including the query).
    pub mean_miss_latency: Duration,
}

impl CacheStats {
    /// Hits of both tiers.
    pub fn hits(&self) -> u64 {
        self.hits_local + self.hits_redis
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub hits_local: AtomicU64,
    pub hits_redis: AtomicU64,
    pub misses: AtomicU64,
    pub stale: AtomicU64,
    pub errors: AtomicU64,
    pub evictions: AtomicU64,
    pub loads: AtomicU64,
    pub bypassed: AtomicU64,
    pub invalidations: AtomicU64,
    hit_nanos: AtomicU64,
    miss_nanos: AtomicU64,
}

/// How a lookup ended, for the latency statistics.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome {
    HitLocal,
    HitRedis,
    Miss,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64, name: &'static str) {
        counter.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(name).increment(1);
    }

    pub(crate) fn error(&self, op: &'static str) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("orm_cache_errors_total", "op" => op).increment(1);
    }

    pub(crate) fn finish(&self, outcome: Outcome, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let label = match outcome {
            Outcome::HitLocal => {
                self.hits_local.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("orm_cache_hits_total", "tier" => "local").increment(1);
                self.hit_nanos.fetch_add(nanos, Ordering::Relaxed);
                "hit"
            }
            Outcome::HitRedis => {
                self.hits_redis.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("orm_cache_hits_total", "tier" => "redis").increment(1);
                self.hit_nanos.fetch_add(nanos, Ordering::Relaxed);
                "hit"
            }
            Outcome::Miss => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("orm_cache_misses_total").increment(1);
                self.miss_nanos.fetch_add(nanos, Ordering::Relaxed);
                "miss"
            }
        };
        metrics::histogram!("orm_cache_lookup_seconds", "outcome" => label)
            .record(elapsed.as_secs_f64());
    }

    pub(crate) fn snapshot(&self, breaker_trips: u64, redis_down: bool) -> CacheStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mean = |total: u64, n: u64| Duration::from_nanos(total.checked_div(n).unwrap_or(0));
        let hits = get(&self.hits_local) + get(&self.hits_redis);
        CacheStats {
            hits_local: get(&self.hits_local),
            hits_redis: get(&self.hits_redis),
            misses: get(&self.misses),
            stale: get(&self.stale),
            errors: get(&self.errors),
            evictions: get(&self.evictions),
            loads: get(&self.loads),
            bypassed: get(&self.bypassed),
            invalidations: get(&self.invalidations),
            breaker_trips,
            redis_down,
            mean_hit_latency: mean(get(&self.hit_nanos), hits),
            mean_miss_latency: mean(get(&self.miss_nanos), get(&self.misses)),
        }
    }
}
