//! [`Tracing`]: one span per statement and per transaction, and slow-statement events.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::Span;
use tracing::field::Empty;

use super::fused::{
    Count, Execute, FetchAll, FetchOptional, InsertReturning, Observation, Observed, Traced,
    TypedOp,
};
use super::parameters::{Redaction, parameters};
use super::{CALLER_SQL, Counted, operation_name, system_name};
use crate::error::Result;
use crate::exec::{
    Backend, Decoder, ExecResult, Executor, Layer, Op, OpKinds, Outcome, ServerInfo,
};
use crate::query::ir::{InsertQuery, SelectQuery, Statement};

/// A [`Layer`] that opens a span for every statement, named `"{operation} {table}"` with
/// OpenTelemetry's database attributes: `db.system.name`, `db.operation.name`,
/// `db.collection.name`, `db.query.text` (the statement with placeholders; never its values),
/// `db.response.returned_rows`, `orm.rows_affected`, `error.type` (the [`Error::kind`]), and
/// `otel.kind = "client"`; with [`server`](Tracing::server), also `db.namespace`,
/// `server.address` and `server.port`. Spans nest under the caller's span; a transaction begun through the
/// layer has a span of its own (`transaction`, with `orm.outcome` = `commit` or `rollback`)
/// that its statements nest under.
///
/// With [`slow_query_threshold`](Tracing::slow_query_threshold), a statement that took longer
/// is also reported as a `WARN` event of target `polyorm::slow_query` with its text and duration.
///
/// When no subscriber listens at `INFO` and no slow-statement threshold is set, a statement
/// costs the layer one atomic load and a pointer-sized field in its future (nothing is built,
/// the clock is not read); otherwise the statement's text is compiled only for an enabled
/// span or a slow-statement check. Stacked next to a [`Metrics`](super::Metrics) layer (above
/// or below it), both layers' work is done by one future around the statement's.
///
/// [`Error::kind`]: crate::Error::kind
#[derive(Debug, Clone, Default)]
pub struct Tracing {
    slow_query: Option<Duration>,
    /// The span of the transaction this layer instance serves, if any.
    transaction: Option<Span>,
    /// Where the database is, for `db.namespace` and `server.address`.
    server: Option<Arc<ServerInfo>>,
    /// Whose bound values are shown, when they are (`record_values`).
    values: Option<Arc<Redaction>>,
}

/// Hands the typed operation `$op` down to `$inner` with this layer's part around `$above`
/// (the parts of the layers above): the statement's span when anyone will read it, else
/// `None` with nothing built (no subscriber at INFO, no slow-statement threshold).
///
/// A macro, so that `$op` is built in each branch: built once before them, it was a copy of
/// the statement on the path that does not read it (the compiler does not move a copy into the
/// one branch that needs it), 320 bytes for a select.
macro_rules! hand_down {
    ($tracing:expr, $inner:expr, $op:expr, $above:expr) => {{
        let (tracing, inner) = ($tracing, $inner);
        if tracing.is_active() {
            tracing.watched(inner.backend(), $op, |op, watch| {
                inner.observed(
                    op,
                    Traced {
                        watch,
                        above: $above,
                    },
                )
            })
        } else {
            inner.observed(
                $op,
                Traced {
                    watch: None,
                    above: $above,
                },
            )
        }
    }};
}

impl Tracing {
    /// A tracing layer with no slow-statement threshold.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reports statements slower than `threshold` as `WARN` events (target `polyorm::slow_query`).
    pub fn slow_query_threshold(mut self, threshold: Duration) -> Self {
        self.slow_query = Some(threshold);
        self
    }

    /// Records `server`'s database and address on every span: pass
    /// [`Db::server`](crate::Db::server) (`Tracing::new().server(db.server())`).
    pub fn server(mut self, server: &ServerInfo) -> Self {
        self.server = Some(Arc::new(server.clone()));
        self
    }

    /// Also records each statement's bound values, by column, in the span field
    /// `db.query.parameters` (`users.email="ada@example.com", users.id=7`) — except those of a
    /// column named in `redacted` (any table), shown as [`REDACTED`](super::REDACTED).
    /// Values of SQL the caller wrote (raw, compiled) have no column to redact by and are
    /// never recorded. Off by default: values may be personal data.
    pub fn record_values<S: Into<String>>(mut self, redacted: impl IntoIterator<Item = S>) -> Self {
        let mut redaction = Redaction::default();
        for column in redacted {
            redaction.add(None, column.into());
        }
        self.values = Some(Arc::new(redaction));
        self
    }

    /// Records the server's attributes on `span`.
    fn record_server(&self, span: &Span) {
        let Some(server) = &self.server else { return };
        if let Some(namespace) = &server.namespace {
            span.record("db.namespace", namespace.as_str());
        }
        if let Some(address) = &server.address {
            span.record("server.address", address.as_str());
        }
        if let Some(port) = server.port {
            span.record("server.port", port);
        }
    }

    fn statement_span(&self, system: &'static str, operation: &'static str, table: &str) -> Span {
        let parent = self
            .transaction
            .as_ref()
            .map_or_else(Span::current, Clone::clone);
        tracing::info_span!(
            parent: &parent,
            "db.statement",
            otel.name = %format_args!("{operation} {table}"),
            otel.kind = "client",
            otel.status_code = Empty,
            db.system.name = system,
            db.operation.name = operation,
            db.collection.name = table,
            db.namespace = Empty,
            server.address = Empty,
            server.port = Empty,
            db.query.text = Empty,
            db.query.parameters = Empty,
            db.response.returned_rows = Empty,
            orm.rows_affected = Empty,
            error.type = Empty,
        )
    }

    /// `hand_down!` while anyone listens: opens `op`'s span (its statement cloned into an
    /// [`Op`]) and hands both down. The whole path is out of line and takes `op` by value: a
    /// reference to the statement, even on a path that seldom runs, lets its address escape,
    /// and the caller then kept it in a place of its own and copied it once more into the
    /// future (320 bytes for a select).
    #[cold]
    #[inline(never)]
    fn watched<O: TypedOp, F>(
        &self,
        backend: Backend,
        op: O,
        hand_down: impl FnOnce(O, Option<Box<Watch>>) -> F,
    ) -> F {
        let watch = self.open(backend, &op.to_op());
        hand_down(op, Some(watch))
    }

    /// Opens the span of `op`, with its text compiled for an enabled span or a slow-statement
    /// check, and starts its clock. Out of line: with nobody listening, a typed method stays
    /// small enough to be inlined into its caller, whose statement then moves no further
    /// than it would without the layer.
    #[cold]
    #[inline(never)]
    fn open<T>(&self, backend: Backend, op: &Op<T>) -> Box<Watch> {
        let operation = operation_name(op, backend);
        let table = op.schema().map_or("", |s| s.table);
        let span = self.statement_span(system_name(backend), operation, table);
        if !span.is_disabled() {
            self.record_server(&span);
            if let Some(shown) = self.values.as_deref().and_then(|r| parameters(op, r)) {
                span.record("db.query.parameters", shown.as_str());
            }
        }
        // Compiled only for someone who will read it (compiling again costs as much as the
        // executor's own compile).
        let text = if !span.is_disabled() || self.slow_query.is_some() {
            op.compile(backend).ok().map(|c| c.sql)
        } else {
            None
        };
        if let Some(text) = &text {
            span.record("db.query.text", text.as_str());
        }
        Box::new(Watch {
            span,
            text,
            operation,
            table,
            slow: self.slow_query,
            started: Instant::now(),
        })
    }
}

/// Whether a subscriber listens at INFO. Out of line on purpose: the check is an atomic load,
/// which the optimizer takes as a possible write to any memory, so inlined between two moves
/// of a statement (into the typed operation, then into the future) it kept both copies (320
/// bytes for a select, ≈ 60 instructions); a call cannot write to a statement whose address
/// it never sees, and costs a few.
#[inline(never)]
fn listening() -> bool {
    tracing::level_enabled!(tracing::Level::INFO)
}

/// A statement's open span and what its end is reported with.
pub(crate) struct Watch {
    pub(super) span: Span,
    /// The statement's text, when compiled.
    text: Option<String>,
    operation: &'static str,
    table: &'static str,
    slow: Option<Duration>,
    started: Instant,
}

impl Watch {
    /// Records how the statement ended on its span, and reports it when it was slow; the span
    /// ends when the watch is dropped, here.
    #[inline(never)]
    pub(super) fn close<R>(self, outcome: &Result<R>, counted: &impl Fn(&R) -> Counted) {
        let elapsed = self.started.elapsed();
        let span = &self.span;
        match outcome {
            Ok(value) => match counted(value) {
                Counted::Returned(rows) => {
                    span.record("db.response.returned_rows", rows);
                }
                Counted::Affected(rows) => {
                    span.record("orm.rows_affected", rows);
                }
                Counted::Nothing => {}
            },
            Err(e) => {
                span.record("error.type", e.kind());
                span.record("otel.status_code", "ERROR");
            }
        }
        let (operation, table) = (self.operation, self.table);
        if let Some(threshold) = self.slow
            && elapsed > threshold
        {
            tracing::warn!(
                target: "polyorm::slow_query",
                parent: span,
                query = self.text.as_deref().unwrap_or(""),
                operation,
                table,
                duration_ms = elapsed.as_secs_f64() * 1000.0,
                "slow statement: {operation} {table} took {elapsed:?}"
            );
        }
    }
}

impl Layer for Tracing {
    /// SQL the caller wrote goes through [`call`](Layer::call); the typed operations have
    /// methods of their own, which build nothing and wrap the statement's future in place
    /// when nobody listens.
    const CALLS: OpKinds = CALLER_SQL;

    /// Nothing listens at INFO and no slow-statement threshold: the statement goes straight
    /// to the executor below, as if the layer were not there (one relaxed atomic load, in a
    /// call: see [`listening`]).
    #[inline]
    fn is_active(&self) -> bool {
        self.slow_query.is_some() || listening()
    }

    fn call<E: Executor, T: Send + 'static>(
        &self,
        inner: &E,
        op: Op<T>,
    ) -> impl Future<Output = Result<Outcome<T>>> + Send {
        let watch = self.is_active().then(|| self.open(inner.backend(), &op));
        Observed::new(
            op.run(inner),
            Traced { watch, above: () },
            Counted::of_outcome,
        )
    }

    /// Adds the statement's span (none when nobody listens) to what the layers above want
    /// done, and hands the statement down: a `Metrics` layer below then builds the one future
    /// that does both layers' work.
    #[inline]
    fn observed<E: Executor, O: TypedOp, P: Observation>(
        &self,
        inner: &E,
        op: O,
        above: P,
    ) -> impl Future<Output = Result<O::Output>> + Send {
        hand_down!(self, inner, op, above)
    }

    #[inline]
    fn fetch_all<E: Executor, T: Send + 'static>(
        &self,
        inner: &E,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> impl Future<Output = Result<Vec<T>>> + Send {
        hand_down!(self, inner, FetchAll { query, decode }, ())
    }

    #[inline]
    fn fetch_optional<E: Executor, T: Send + 'static>(
        &self,
        inner: &E,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> impl Future<Output = Result<Option<T>>> + Send {
        hand_down!(self, inner, FetchOptional { query, decode }, ())
    }

    #[inline]
    fn count<E: Executor>(
        &self,
        inner: &E,
        query: SelectQuery,
    ) -> impl Future<Output = Result<u64>> + Send {
        hand_down!(self, inner, Count { query }, ())
    }

    #[inline]
    fn insert_returning<E: Executor, T: Send + 'static>(
        &self,
        inner: &E,
        query: InsertQuery,
        decode: Decoder<T>,
    ) -> impl Future<Output = Result<T>> + Send {
        hand_down!(self, inner, InsertReturning { query, decode }, ())
    }

    #[inline]
    fn execute<E: Executor>(
        &self,
        inner: &E,
        statement: Statement,
    ) -> impl Future<Output = Result<ExecResult>> + Send {
        hand_down!(self, inner, Execute { statement }, ())
    }

    fn for_transaction(&self) -> Self {
        let span = tracing::info_span!(
            "db.transaction",
            otel.name = "transaction",
            otel.kind = "client",
            db.namespace = Empty,
            server.address = Empty,
            server.port = Empty,
            orm.outcome = Empty,
        );
        self.record_server(&span);
        Tracing {
            slow_query: self.slow_query,
            transaction: Some(span),
            server: self.server.clone(),
            values: self.values.clone(),
        }
    }

    async fn committed(&self) {
        if let Some(span) = &self.transaction {
            span.record("orm.outcome", "commit");
        }
    }

    async fn rolled_back(&self) {
        if let Some(span) = &self.transaction {
            span.record("orm.outcome", "rollback");
        }
    }
}
