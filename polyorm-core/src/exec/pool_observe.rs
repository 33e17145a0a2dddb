//! A pool acquire, observed (with [`Db::observe_pool`](super::Db::observe_pool)): a
//! `db.pool.acquire` span under the caller's (feature `tracing`); the `orm_pool_waiting`
//! gauge, the `orm_pool_acquire_seconds` histogram and the `orm_pool_connections` gauges
//! (feature `metrics`).

use std::future::Future;

use super::pool::Pool;
use crate::error::Result;
use crate::observe::system_name;

/// Runs `acquire` (taking a connection from `pool`) and reports it.
pub(super) async fn acquire<T>(pool: &Pool, acquire: impl Future<Output = Result<T>>) -> Result<T> {
    let backend = system_name(pool.backend());
    #[cfg(feature = "metrics")]
    let waiting = ::metrics::gauge!("orm_pool_waiting", "backend" => backend);
    #[cfg(feature = "metrics")]
    waiting.increment(1.0);
    let started = std::time::Instant::now();
    #[cfg(feature = "tracing")]
    let span = ::tracing::info_span!(
        "db.pool.acquire",
        otel.name = "pool acquire",
        db.system.name = backend,
        error.type = ::tracing::field::Empty,
    );
    #[cfg(feature = "tracing")]
    let result = ::tracing::Instrument::instrument(acquire, span.clone()).await;
    #[cfg(not(feature = "tracing"))]
    let result = acquire.await;
    #[cfg(feature = "tracing")]
    if let Err(e) = &result {
        span.record("error.type", e.kind());
    }
    #[cfg(feature = "metrics")]
    {
        waiting.decrement(1.0);
        let outcome = result.as_ref().map_or_else(|e| e.kind(), |_| "ok");
        ::metrics::histogram!(
            "orm_pool_acquire_seconds",
            "backend" => backend,
            "outcome" => outcome,
        )
        .record(started.elapsed().as_secs_f64());
        if let Some((open, idle, _)) = pool.state() {
            let gauge = |state: &'static str, n: u32| {
                ::metrics::gauge!("orm_pool_connections", "backend" => backend, "state" => state)
                    .set(f64::from(n));
            };
            gauge("open", open);
            gauge("idle", idle);
            gauge("in_use", open.saturating_sub(idle));
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = started;
    result
}
