//! [`Metrics`]: statement counts and latency through the `metrics` facade, and a snapshot.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::handles::{Handles, Labels};
use super::{operation_name, system_name};
use crate::error::Result;
use crate::exec::{Executor, Layer, Op, Outcome};

/// A [`Layer`] that measures every statement through the [`metrics`](https://docs.rs/metrics)
/// facade — `orm_statements_total` (counter) and `orm_statement_duration_seconds`
/// (histogram), labelled `backend` (`db.system.name`), `model` (the table), `operation` and
/// `outcome` (`ok`, or the [`Error::kind`]); `orm_transactions_total` with `outcome` = `commit`
/// or `rollback` — and keeps totals of its own for applications without a recorder
/// ([`stats`](Metrics::stats)). Clones share the totals.
///
/// Each label set's handles are registered with the recorder once, at its first statement:
/// install the recorder before the layer runs statements.
///
/// [`Error::kind`]: crate::Error::kind
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    totals: Arc<Totals>,
    handles: Arc<Handles>,
}

#[derive(Debug, Default)]
struct Totals {
    statements: AtomicU64,
    errors: AtomicU64,
    rows_returned: AtomicU64,
    rows_affected: AtomicU64,
    nanos: AtomicU64,
    slowest_nanos: AtomicU64,
    commits: AtomicU64,
    rollbacks: AtomicU64,
}

/// Totals of the statements run through a [`Metrics`] layer since it was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct QueryStats {
    /// Statements run (failed ones included).
    pub statements: u64,
    /// Statements that failed.
    pub errors: u64,
    /// Rows returned by reads.
    pub rows_returned: u64,
    /// Rows written, as the database reported.
    pub rows_affected: u64,
    /// Time spent in statements, in all.
    pub total_time: Duration,
    /// The slowest statement's time.
    pub slowest: Duration,
    /// Transactions committed through the layer.
    pub commits: u64,
    /// Transactions rolled back through the layer.
    pub rollbacks: u64,
}

impl Metrics {
    /// A metrics layer with its totals at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// The totals so far.
    pub fn stats(&self) -> QueryStats {
        let t = &self.totals;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        QueryStats {
            statements: get(&t.statements),
            errors: get(&t.errors),
            rows_returned: get(&t.rows_returned),
            rows_affected: get(&t.rows_affected),
            total_time: Duration::from_nanos(get(&t.nanos)),
            slowest: Duration::from_nanos(get(&t.slowest_nanos)),
            commits: get(&t.commits),
            rollbacks: get(&t.rollbacks),
        }
    }
}

impl Layer for Metrics {
    async fn call<E: Executor, T: Send + 'static>(
        &self,
        inner: &E,
        op: Op<T>,
    ) -> Result<Outcome<T>> {
        let backend = system_name(inner.backend());
        let operation = operation_name(&op, inner.backend());
        let model = op.schema().map_or("", |s| s.table);
        let started = Instant::now();
        let outcome = op.run(inner).await;
        let elapsed = started.elapsed();
        let t = &self.totals;
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        t.statements.fetch_add(1, Ordering::Relaxed);
        t.nanos.fetch_add(nanos, Ordering::Relaxed);
        t.slowest_nanos.fetch_max(nanos, Ordering::Relaxed);
        let result = match &outcome {
            Ok(Outcome::Rows(rows)) => {
                t.rows_returned
                    .fetch_add(rows.len() as u64, Ordering::Relaxed);
                "ok"
            }
            Ok(Outcome::Row(row)) => {
                t.rows_returned
                    .fetch_add(u64::from(row.is_some()), Ordering::Relaxed);
                "ok"
            }
            Ok(Outcome::Inserted(_)) => {
                t.rows_affected.fetch_add(1, Ordering::Relaxed);
                "ok"
            }
            Ok(Outcome::Done(done)) => {
                t.rows_affected
                    .fetch_add(done.rows_affected, Ordering::Relaxed);
                "ok"
            }
            Ok(_) => "ok",
            Err(e) => {
                t.errors.fetch_add(1, Ordering::Relaxed);
                e.kind()
            }
        };
        let handles = self.handles.statement(Labels {
            backend,
            model,
            operation,
            outcome: result,
        });
        handles.count.increment(1);
        handles.latency.record(elapsed.as_secs_f64());
        outcome
    }

    async fn committed(&self) {
        self.totals.commits.fetch_add(1, Ordering::Relaxed);
        ::metrics::counter!("orm_transactions_total", "outcome" => "commit").increment(1);
    }

    async fn rolled_back(&self) {
        self.totals.rollbacks.fetch_add(1, Ordering::Relaxed);
        ::metrics::counter!("orm_transactions_total", "outcome" => "rollback").increment(1);
    }
}
