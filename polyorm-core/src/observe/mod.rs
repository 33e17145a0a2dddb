//! Observability as layers (see [`crate::exec::layer`]): [`Tracing`] (feature `tracing`) opens
//! one span per statement, following OpenTelemetry's database conventions, and reports slow
//! statements; [`Metrics`] (feature `metrics`) counts statements, their latency and outcome
//! through the `metrics` facade and keeps a snapshot of its own ([`Metrics::stats`]).
//!
//! ```
//! # #[cfg(all(feature = "sqlite", feature = "tracing", feature = "metrics"))]
//! # async fn run() -> polyorm_core::Result<()> {
//! use polyorm_core::observe::{Metrics, Tracing};
//! use std::time::Duration;
//!
//! let metrics = Metrics::new();
//! let db = polyorm_core::Db::connect("sqlite::memory:")
//!     .await?
//!     .layer(metrics.clone())
//!     .layer(Tracing::new().slow_query_threshold(Duration::from_millis(100)));
//! # let _ = &db;
//! println!("{:?}", metrics.stats());
//! # Ok(()) }
//! ```
//!
//! Bound values are not recorded, only the statement with its placeholders, unless
//! [`Tracing::record_values`] asks for them (and then never those of a redacted column).

#[cfg(any(feature = "tracing", feature = "metrics"))]
#[doc(hidden)]
pub mod fused;
#[cfg(feature = "metrics")]
mod handles;
#[cfg(feature = "metrics")]
mod metrics;
#[cfg(feature = "tracing")]
mod parameters;
#[cfg(feature = "tracing")]
mod tracing;

#[cfg(feature = "metrics")]
pub use metrics::{Metrics, QueryStats};
#[cfg(feature = "tracing")]
pub use parameters::REDACTED;
#[cfg(feature = "tracing")]
pub use tracing::Tracing;

use crate::exec::{Backend, Op, starts_with_keyword};
#[cfg(any(feature = "tracing", feature = "metrics"))]
use crate::exec::{OpKind, OpKinds, Outcome};
use crate::query::ir::Statement;
use crate::sql::Dialect;

/// The operations both layers see through [`Layer::call`](crate::exec::Layer::call): SQL the
/// caller wrote (raw and compiled); the typed ones have methods of their own.
#[cfg(any(feature = "tracing", feature = "metrics"))]
pub(crate) const CALLER_SQL: OpKinds = OpKinds::NONE
    .with(OpKind::ExecuteRaw)
    .with(OpKind::FetchCompiled)
    .with(OpKind::ExecuteCompiled);

/// What a statement reported: rows returned (reads) or written (writes), as the layers count
/// them and record them on spans.
#[cfg(any(feature = "tracing", feature = "metrics"))]
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// Rows returned by a read.
    Returned(u64),
    /// Rows written, as the database reported.
    Affected(u64),
    /// Neither (a count).
    Nothing,
}

#[cfg(any(feature = "tracing", feature = "metrics"))]
impl Counted {
    /// What an operation's outcome reported.
    pub(crate) fn of_outcome<T>(outcome: &Outcome<T>) -> Counted {
        match outcome {
            Outcome::Rows(rows) => Counted::Returned(rows.len() as u64),
            Outcome::Row(row) => Counted::Returned(u64::from(row.is_some())),
            Outcome::Inserted(_) => Counted::Affected(1),
            Outcome::Done(done) => Counted::Affected(done.rows_affected),
            Outcome::Count(_) => Counted::Nothing,
        }
    }
}

/// `db.system.name` of OpenTelemetry's conventions for `backend` (MariaDB reports as
/// `mysql`: the driver cannot tell them apart).
pub(crate) fn system_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sql(Dialect::Postgres) => "postgresql",
        Backend::Sql(Dialect::MySql) => "mysql",
        Backend::Sql(Dialect::Sqlite) => "sqlite",
        Backend::MongoDb => "mongodb",
        Backend::DynamoDb => "aws.dynamodb",
    }
}

/// `db.operation.name`: the SQL verb (`SELECT`, `INSERT`, …; for raw SQL its first word), or
/// MongoDB's command (`find`, `insert`, `update`, `delete`).
pub(crate) fn operation_name<T>(op: &Op<T>, backend: Backend) -> &'static str {
    let verb = match op {
        Op::FetchAll(..) | Op::FetchOptional(..) | Op::Count(_) => "SELECT",
        Op::InsertReturning(..) => "INSERT",
        Op::Execute(statement) => statement_verb(statement),
        Op::ExecuteRaw(sql) => first_word(sql),
        Op::FetchCompiled(statement, _) | Op::ExecuteCompiled(statement) => {
            first_word(&statement.sql)
        }
    };
    on_backend(verb, backend)
}

/// The SQL verb of an IR statement.
pub(crate) fn statement_verb(statement: &Statement) -> &'static str {
    match statement {
        Statement::Select(_) => "SELECT",
        Statement::Insert(_) | Statement::Upsert(_) => "INSERT",
        Statement::Update(_) => "UPDATE",
        Statement::Delete(_) => "DELETE",
    }
}

/// `db.operation.name` of a SQL verb on `backend`: the verb itself, or on MongoDB its
/// command.
pub(crate) fn on_backend(verb: &'static str, backend: Backend) -> &'static str {
    if backend != Backend::MongoDb {
        return verb;
    }
    match verb {
        "SELECT" => "find",
        "INSERT" => "insert",
        "UPDATE" => "update",
        "DELETE" => "delete",
        _ => "command",
    }
}

/// The first word of `sql`, as one of the verbs a label may take (anything else: `OTHER`).
fn first_word(sql: &str) -> &'static str {
    const VERBS: [&str; 16] = [
        "SELECT",
        "INSERT",
        "UPDATE",
        "DELETE",
        "WITH",
        "CREATE",
        "ALTER",
        "DROP",
        "TRUNCATE",
        "BEGIN",
        "COMMIT",
        "ROLLBACK",
        "SAVEPOINT",
        "SET",
        "EXPLAIN",
        "CALL",
    ];
    VERBS
        .into_iter()
        .find(|verb| starts_with_keyword(sql, &[verb]))
        .unwrap_or("OTHER")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_statements_are_named_by_their_first_word_from_a_closed_set() {
        assert_eq!(first_word("  select 1"), "SELECT");
        assert_eq!(first_word("CREATE TABLE t (x int)"), "CREATE");
        assert_eq!(first_word("VACUUM"), "OTHER");
        assert_eq!(first_word(""), "OTHER");
    }
}
