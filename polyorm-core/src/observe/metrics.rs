//! [`Metrics`]: statement counts and latency through the `metrics` facade, and a snapshot.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use super::handles::{Handles, Labels};
use super::{CALLER_SQL, Counted, on_backend, operation_name, statement_verb, system_name};
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

impl Metrics {
    /// Runs `statement` (an operation of `operation` on `model`), timing it, and counts it.
    ///
    /// A [`Measured`] future around the statement's, not an `async fn`: an `async fn` would
    /// hold the statement's future twice (as its argument and as the future it awaits),
    /// doubling the size of every future above it. The statement's future is made by
    /// `statement` after the clock is read, right where it is returned: with the clock read in
    /// between (a call the compiler cannot see through), the future, as large as the whole
    /// stack below, was built aside and copied (400 instructions of `memcpy` per find on
    /// SQLite).
    fn measure<R, F: Future<Output = Result<R>>, C: Fn(&R) -> Counted>(
        &self,
        backend: Backend,
        operation: &'static str,
        model: &'static str,
        statement: impl FnOnce() -> F,
        counted: C,
    ) -> Measured<'_, F, C> {
        let started = Instant::now();
        Measured {
            statement: statement(),
            metrics: self,
            backend,
            operation,
            model,
            started,
            counted,
        }
    }

    /// Counts one statement that started at `started` and ended with `outcome`.
    fn record<R>(
        &self,
        backend: Backend,
        operation: &'static str,
        model: &'static str,
        started: Instant,
        outcome: &Result<R>,
        counted: impl FnOnce(&R) -> Counted,
    ) {
        let elapsed = started.elapsed();
        let t = &self.totals;
        // Whole seconds past 584 years saturate; `as_nanos`' u128 costs more than this.
        let nanos = elapsed
            .as_secs()
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::from(elapsed.subsec_nanos()));
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
            backend: system_name(backend),
            model,
            operation,
            outcome: result,
        };
        self.handles.record(labels, elapsed.as_secs_f64());
    }
}

pin_project_lite::pin_project! {
    /// A statement's future, timed from its creation ([`Metrics::measure`]); counted when it
    /// completes. Polled in place of a `map` of the statement's future: `Map` moves its
    /// closure (the labels, the start and the counting) out of itself before calling it, and
    /// drops the finished future there and then; this reads them where they are.
    struct Measured<'m, F, C> {
        #[pin]
        statement: F,
        metrics: &'m Metrics,
        backend: Backend,
        operation: &'static str,
        model: &'static str,
        started: Instant,
        counted: C,
    }
}

impl<R, F, C> Future for Measured<'_, F, C>
where
    F: Future<Output = Result<R>>,
    C: Fn(&R) -> Counted,
{
    type Output = Result<R>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<R>> {
        let this = self.project();
        let outcome = ready!(this.statement.poll(cx));
        let (operation, model): (&'static str, &'static str) = (this.operation, this.model);
        this.metrics.record(
            *this.backend,
            operation,
            model,
            *this.started,
            &outcome,
            this.counted,
        );
        Poll::Ready(outcome)
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
        self.measure(
            backend,
            operation,
            model,
            || op.run(inner),
            Counted::of_outcome,
        )
    }

    fn fetch_all<E: Executor, T: Send + 'static>(
        &self,
        inner: &E,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> impl Future<Output = Result<Vec<T>>> + Send {
        let backend = inner.backend();
        let model = query.schema.table;
        let statement = move || inner.fetch_all(query, decode);
        self.measure(
            backend,
            on_backend("SELECT", backend),
            model,
            statement,
            |rows| Counted::Returned(rows.len() as u64),
        )
    }

    fn fetch_optional<E: Executor, T: Send + 'static>(
        &self,
        inner: &E,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> impl Future<Output = Result<Option<T>>> + Send {
        let backend = inner.backend();
        let model = query.schema.table;
        let statement = move || inner.fetch_optional(query, decode);
        self.measure(
            backend,
            on_backend("SELECT", backend),
            model,
            statement,
            |row| Counted::Returned(u64::from(row.is_some())),
        )
    }

    fn count<E: Executor>(
        &self,
        inner: &E,
        query: SelectQuery,
    ) -> impl Future<Output = Result<u64>> + Send {
        let backend = inner.backend();
        let model = query.schema.table;
        let statement = move || inner.count(query);
        self.measure(
            backend,
            on_backend("SELECT", backend),
            model,
            statement,
            |_| Counted::Nothing,
        )
    }

    fn insert_returning<E: Executor, T: Send + 'static>(
        &self,
        inner: &E,
        query: InsertQuery,
        decode: Decoder<T>,
    ) -> impl Future<Output = Result<T>> + Send {
        let backend = inner.backend();
        let model = query.schema.table;
        let statement = move || inner.insert_returning(query, decode);
        self.measure(
            backend,
            on_backend("INSERT", backend),
            model,
            statement,
            |_| Counted::Affected(1),
        )
    }

    fn execute<E: Executor>(
        &self,
        inner: &E,
        statement: Statement,
    ) -> impl Future<Output = Result<ExecResult>> + Send {
        let backend = inner.backend();
        let operation = on_backend(statement_verb(&statement), backend);
        let model = statement.schema().table;
        let statement = move || inner.execute(statement);
        self.measure(backend, operation, model, statement, |done| {
            Counted::Affected(done.rows_affected)
        })
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
