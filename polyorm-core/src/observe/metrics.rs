//! [`Metrics`]: statement counts and latency through the `metrics` facade, and a snapshot.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::fused::{
    Count, Execute, FetchAll, FetchOptional, InsertReturning, Observation, Observed, Timed, TypedOp,
};
use super::handles::{Handles, Labels};
use super::{CALLER_SQL, Counted, on_backend, operation_name};
use crate::error::Result;
use crate::exec::{Backend, Decoder, ExecResult, Executor, Layer, Op, OpKinds, Outcome};
use crate::query::ir::{InsertQuery, SelectQuery, Statement};

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
/// A statement is timed from its first poll to its completion with [`quanta`]'s clock (a
/// calibrated TSC where the processor has an invariant one, else the OS's monotonic clock).
/// The first `Metrics` made in a process calibrates that clock against the OS's, once: 0.6 ms
/// measured on a 2-core x86-64 VM, bounded by quanta at 200 ms. Stacked next to a
/// [`Tracing`](super::Tracing) layer (above or below it), both layers' work is done by one
/// future around the statement's.
///
/// [`Error::kind`]: crate::Error::kind
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    totals: Arc<Totals>,
    handles: Arc<Handles>,
}

#[derive(Debug)]
struct Totals {
    /// The statements' clock, shared by every `Metrics` of the process (see [`clock`]).
    clock: &'static quanta::Clock,
    statements: AtomicU64,
    errors: AtomicU64,
    rows_returned: AtomicU64,
    rows_affected: AtomicU64,
    nanos: AtomicU64,
    slowest_nanos: AtomicU64,
    commits: AtomicU64,
    rollbacks: AtomicU64,
}

impl Default for Totals {
    fn default() -> Self {
        Totals {
            clock: clock(),
            statements: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            rows_returned: AtomicU64::new(0),
            rows_affected: AtomicU64::new(0),
            nanos: AtomicU64::new(0),
            slowest_nanos: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            rollbacks: AtomicU64::new(0),
        }
    }
}

/// The process's statement clock, made (and calibrated) by the first `Metrics`: 0.6 ms on this
/// project's machine the first time, and each further `quanta::Clock::new` would still ask the
/// processor what it supports (15 µs), so one is kept.
fn clock() -> &'static quanta::Clock {
    static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();
    CLOCK.get_or_init(quanta::Clock::new)
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
    /// A metrics layer with its totals at zero (the first in a process calibrates the clock,
    /// see above).
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

impl Metrics {
    /// This layer's part of a statement's observation: its labels; the clock is read when
    /// the statement is first polled ([`Timing::start`]).
    #[inline]
    fn timing(&self, backend: Backend, operation: &'static str, model: &'static str) -> Timing<'_> {
        Timing {
            metrics: self,
            backend,
            operation,
            model,
            started: NOT_STARTED,
        }
    }
}

/// [`Timing::started`] before the statement's first poll.
const NOT_STARTED: u64 = 0;

/// A statement being timed by a [`Metrics`] layer: the layer, the statement's labels and the
/// clock's reading when it started (raw: a TSC count where there is one, scaled only once, for
/// the difference).
///
/// The clock starts at the statement's first poll, not when its future is built: a statement
/// runs only once polled (building it does nothing), and with no call between the layers'
/// methods the statement's future, as large as the stack below, is built where it is returned
/// instead of aside and copied (a call that may unwind keeps the statement on the stack of the
/// method that makes it).
pub(crate) struct Timing<'m> {
    metrics: &'m Metrics,
    backend: Backend,
    operation: &'static str,
    model: &'static str,
    started: u64,
}

impl Timing<'_> {
    /// Starts the clock, at the statement's first poll.
    #[inline]
    pub(super) fn start(&mut self) {
        if self.started == NOT_STARTED {
            self.started = self.metrics.totals.clock.raw();
        }
    }

    /// Counts the statement, which ended now with `outcome`.
    #[inline]
    pub(super) fn record<R>(&self, outcome: &Result<R>, counted: &impl Fn(&R) -> Counted) {
        let t = &*self.metrics.totals;
        let nanos = t.clock.delta_as_nanos(self.started, t.clock.raw());
        t.statements.fetch_add(1, Ordering::Relaxed);
        t.nanos.fetch_add(nanos, Ordering::Relaxed);
        // Read first: a statement is seldom the slowest yet, and the read is cheaper than
        // `fetch_max`'s compare-and-swap loop.
        if nanos > t.slowest_nanos.load(Ordering::Relaxed) {
            t.slowest_nanos.fetch_max(nanos, Ordering::Relaxed);
        }
        let result = match outcome {
            Ok(value) => {
                match counted(value) {
                    Counted::Returned(rows) => {
                        t.rows_returned.fetch_add(rows, Ordering::Relaxed);
                    }
                    Counted::Affected(rows) => {
                        t.rows_affected.fetch_add(rows, Ordering::Relaxed);
                    }
                    Counted::Nothing => {}
                }
                "ok"
            }
            Err(e) => {
                t.errors.fetch_add(1, Ordering::Relaxed);
                e.kind()
            }
        };
        let labels = Labels {
            backend: self.backend,
            model: self.model,
            operation: self.operation,
            outcome: result,
        };
        // Exact below 2^53 ns (104 days). Through `i64` (a statement is shorter than 292
        // years): x86-64 converts a signed integer in one instruction, an unsigned in five.
        let seconds = nanos as i64 as f64 / 1e9;
        self.metrics.handles.record(labels, seconds);
    }
}

/// The typed reads, inserts and IR writes are measured in their own methods (no [`Op`] built
/// for them); SQL the caller wrote goes through [`call`](Layer::call).
impl Layer for Metrics {
    const CALLS: OpKinds = CALLER_SQL;

    fn call<E: Executor, T: Send + 'static>(
        &self,
        inner: &E,
        op: Op<T>,
    ) -> impl Future<Output = Result<Outcome<T>>> + Send {
        let backend = inner.backend();
        let operation = operation_name(&op, backend);
        let model = op.schema().map_or("", |s| s.table);
        // The clock first, then the statement's future, built where it is wrapped.
        let timed = Timed {
            timing: self.timing(backend, operation, model),
            above: (),
        };
        Observed::new(op.run(inner), timed, Counted::of_outcome)
    }

    /// Starts the statement's clock, adds it with the labels to what the layers above want
    /// done, and hands the statement down: with a `Tracing` layer above or below, one future
    /// does both layers' work.
    #[inline]
    fn observed<E: Executor, O: TypedOp, P: Observation>(
        &self,
        inner: &E,
        op: O,
        above: P,
    ) -> impl Future<Output = Result<O::Output>> + Send {
        let backend = inner.backend();
        let timing = self.timing(backend, on_backend(op.verb(), backend), op.model());
        inner.observed(op, Timed { timing, above })
    }

    #[inline]
    fn fetch_all<E: Executor, T: Send + 'static>(
        &self,
        inner: &E,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> impl Future<Output = Result<Vec<T>>> + Send {
        self.observed(inner, FetchAll { query, decode }, ())
    }

    #[inline]
    fn fetch_optional<E: Executor, T: Send + 'static>(
        &self,
        inner: &E,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> impl Future<Output = Result<Option<T>>> + Send {
        self.observed(inner, FetchOptional { query, decode }, ())
    }

    #[inline]
    fn count<E: Executor>(
        &self,
        inner: &E,
        query: SelectQuery,
    ) -> impl Future<Output = Result<u64>> + Send {
        self.observed(inner, Count { query }, ())
    }

    #[inline]
    fn insert_returning<E: Executor, T: Send + 'static>(
        &self,
        inner: &E,
        query: InsertQuery,
        decode: Decoder<T>,
    ) -> impl Future<Output = Result<T>> + Send {
        self.observed(inner, InsertReturning { query, decode }, ())
    }

    #[inline]
    fn execute<E: Executor>(
        &self,
        inner: &E,
        statement: Statement,
    ) -> impl Future<Output = Result<ExecResult>> + Send {
        self.observed(inner, Execute { statement }, ())
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
