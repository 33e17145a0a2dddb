//! [`Tracing`]: one span per statement and per transaction, and slow-statement events.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::field::Empty;
use tracing::{Instrument, Span};

use super::parameters::{Redaction, parameters};
use super::{operation_name, system_name};
use crate::error::Result;
use crate::exec::{Executor, Layer, Op, Outcome, ServerInfo};

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
/// costs the layer one atomic load; otherwise the statement's text is compiled only for an
/// enabled span or a slow-statement check.
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
}

impl Layer for Tracing {
    /// Nothing listens at INFO and no slow-statement threshold: the statement goes straight
    /// to the executor below, as if the layer were not there (one relaxed atomic load).
    fn is_active(&self) -> bool {
        self.slow_query.is_some() || tracing::level_enabled!(tracing::Level::INFO)
    }

    async fn call<E: Executor, T: Send + 'static>(
        &self,
        inner: &E,
        op: Op<T>,
    ) -> Result<Outcome<T>> {
        let backend = inner.backend();
        let operation = operation_name(&op, backend);
        let table = op.schema().map_or("", |s| s.table);
        let span = self.statement_span(system_name(backend), operation, table);
        if !span.is_disabled() {
            self.record_server(&span);
            if let Some(shown) = self.values.as_deref().and_then(|r| parameters(&op, r)) {
                span.record("db.query.parameters", shown.as_str());
            }
        }
        let slow = self.slow_query;
        // Compiled only for someone who will read it (compiling again costs as much as the
        // executor's own compile).
        let text = if !span.is_disabled() || slow.is_some() {
            op.compile(backend).ok().map(|c| c.sql)
        } else {
            None
        };
        if let Some(text) = &text {
            span.record("db.query.text", text.as_str());
        }
        let started = Instant::now();
        let outcome = op.run(inner).instrument(span.clone()).await;
        let elapsed = started.elapsed();
        match &outcome {
            Ok(Outcome::Rows(rows)) => {
                span.record("db.response.returned_rows", rows.len());
            }
            Ok(Outcome::Row(row)) => {
                span.record("db.response.returned_rows", usize::from(row.is_some()));
            }
            Ok(Outcome::Inserted(_)) => {
                span.record("orm.rows_affected", 1);
            }
            Ok(Outcome::Done(done)) => {
                span.record("orm.rows_affected", done.rows_affected);
            }
            Ok(_) => {}
            Err(e) => {
                span.record("error.type", e.kind());
                span.record("otel.status_code", "ERROR");
            }
        }
        if let Some(threshold) = slow
            && elapsed > threshold
        {
            tracing::warn!(
                target: "polyorm::slow_query",
                parent: &span,
                query = text.as_deref().unwrap_or(""),
                operation,
                table,
                duration_ms = elapsed.as_secs_f64() * 1000.0,
                "slow statement: {operation} {table} took {elapsed:?}"
            );
        }
        outcome
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
