//! MySQL/MariaDB's `max_allowed_packet`: a statement larger than the server accepts is refused
//! (and a large one drops the connection), so the executor measures what it is about to send,
//! splits large inserts by size and refuses what cannot fit with a typed error that names the
//! limit.

use super::target::Target;
use crate::error::{Error, Result};
use crate::query::ir::{InsertQuery, Statement, UpsertQuery};
use crate::sql::{Compiled, Dialect, Shared};
use crate::value::{FieldType, Value};

/// Statements estimated below this size are sent without asking the server for its
/// `max_allowed_packet` (which no server sets below 1 MiB in practice: the default is 16 MiB on
/// MariaDB, 64 MiB on MySQL 8).
const PACKET_CHECK_ABOVE: usize = 1 << 20;

/// The server's `max_allowed_packet`, read when a statement of `bytes` is large enough to come near it
/// on MySQL/MariaDB (one round trip, only for such statements); `None` otherwise.
pub(crate) async fn packet_limit<R: Target>(runner: &R, bytes: usize) -> Result<Option<usize>> {
    if runner.sql_dialect() != Dialect::MySql || bytes <= PACKET_CHECK_ABOVE {
        return Ok(None);
    }
    let read = Shared::from(Compiled {
        sql: "SELECT CAST(@@max_allowed_packet AS SIGNED)".to_owned(),
        values: Vec::new(),
    });
    let limit = runner
        .run_fetch_optional(&read, |row| <i64 as FieldType>::decode(row, 0))
        .await?;
    Ok(limit.and_then(|n| usize::try_from(n).ok()))
}

/// Refuses `statement` when it is larger than the server accepts (its `max_allowed_packet`,
/// read by [`packet_limit`]).
pub(crate) async fn check_packet<R: Target>(runner: &R, statement: &Statement) -> Result<()> {
    if runner.sql_dialect() != Dialect::MySql {
        return Ok(());
    }
    match packet_limit(runner, statement_bytes(statement)).await? {
        Some(limit) => fits_packet(statement, limit),
        None => Ok(()),
    }
}

/// Refuses a statement compiled by the caller (`raw`) when its text and values are larger than
/// the server accepts: MySQL/MariaDB answer such a statement by closing the connection, which
/// the client may see before the error (a lost connection instead of the limit).
pub(crate) async fn check_compiled_packet<R: Target>(runner: &R, statement: &Shared) -> Result<()> {
    if runner.sql_dialect() != Dialect::MySql {
        return Ok(());
    }
    let bytes =
        statement.sql.as_str().len() + statement.values.iter().map(value_bytes).sum::<usize>();
    match packet_limit(runner, bytes).await? {
        Some(limit) if bytes > packet_budget(limit) => Err(Error::ValueTooLong {
            column: None,
            source: format!(
                "a statement of {} is over the server's max_allowed_packet of {}; {}",
                mib(bytes),
                mib(limit),
                crate::exec::errors::PACKET_ADVICE
            )
            .into(),
        }),
        _ => Ok(()),
    }
}

/// What of a statement of at most `limit` bytes its bound values may take: the rest is the
/// execute packet's header, null bitmap and parameter types, counted generously.
pub(crate) fn packet_budget(limit: usize) -> usize {
    limit.saturating_sub(4096)
}

/// The bytes `value` takes in a MySQL execute packet (a length prefix and the data; fixed-size
/// values 8), plus its type entry.
pub(crate) fn value_bytes(value: &Value) -> usize {
    let data = match value {
        Value::Text(s) => s.len(),
        Value::Bytes(b) => b.len(),
        #[cfg(feature = "json")]
        Value::Json(j) => json_bytes(j),
        _ => 32,
    };
    data + 9 + 2
}

/// About the length of `json` as text (its strings and keys, escapes aside, plus a few bytes
/// per value), without serializing it; iterative, whatever its depth.
#[cfg(feature = "json")]
pub(crate) fn json_bytes(json: &serde_json::Value) -> usize {
    use serde_json::Value as J;
    let mut total = 0;
    let mut stack = vec![json];
    while let Some(value) = stack.pop() {
        total += match value {
            J::String(s) => s.len() + 2,
            J::Array(items) => {
                stack.extend(items);
                2 + items.len()
            }
            J::Object(map) => {
                stack.extend(map.values());
                2 + map.keys().map(|k| k.len() + 4).sum::<usize>()
            }
            _ => 24,
        };
    }
    total
}

pub(crate) fn insert_bytes(query: &InsertQuery) -> usize {
    query.rows.iter().map(|row| row_bytes(row)).sum()
}

pub(crate) fn row_bytes(row: &[Value]) -> usize {
    row.iter().map(value_bytes).sum()
}

/// The estimated size of the values `statement` binds.
pub(crate) fn statement_bytes(statement: &Statement) -> usize {
    match statement {
        Statement::Insert(q) => insert_bytes(q),
        Statement::Upsert(q) => insert_bytes(&q.insert),
        Statement::Update(q) => q
            .assignments
            .iter()
            .map(|(_, a)| match a {
                crate::query::ir::Assignment::Value(v) => value_bytes(v),
                crate::query::ir::Assignment::Add { delta, .. } => value_bytes(delta),
            })
            .sum(),
        Statement::Select(_) | Statement::Delete(_) => 0,
    }
}

/// `Ok` when `statement` fits a packet of `limit` bytes; otherwise [`Error::ValueTooLong`]
/// naming the column of its largest value, the server's limit and how to raise it.
pub(crate) fn fits_packet(statement: &Statement, limit: usize) -> Result<()> {
    let bytes = statement_bytes(statement);
    if bytes <= packet_budget(limit) {
        return Ok(());
    }
    let (schema, largest) = match statement {
        Statement::Insert(q) | Statement::Upsert(UpsertQuery { insert: q, .. }) => (
            q.schema,
            q.rows
                .iter()
                .flat_map(|row| q.schema.insert_columns().map(|c| c.name).zip(row))
                .max_by_key(|(_, v)| value_bytes(v)),
        ),
        Statement::Update(q) => (
            q.schema,
            q.assignments
                .iter()
                .filter_map(|(name, a)| match a {
                    crate::query::ir::Assignment::Value(v) => Some((*name, v)),
                    crate::query::ir::Assignment::Add { .. } => None,
                })
                .max_by_key(|(_, v)| value_bytes(v)),
        ),
        Statement::Select(_) | Statement::Delete(_) => return Ok(()),
    };
    Err(packet_error(schema.table, largest, bytes, limit))
}

pub(crate) fn packet_error(
    table: &str,
    largest: Option<(&str, &Value)>,
    bytes: usize,
    limit: usize,
) -> Error {
    let value = largest.map_or(String::new(), |(_, v)| {
        format!("its largest value is {}, ", mib(value_bytes(v)))
    });
    Error::ValueTooLong {
        column: largest.map(|(name, _)| name.to_owned()),
        source: format!(
            "a write to `{table}` of {} ({value}more than one statement can carry) is over the \
             server's max_allowed_packet of {}; {}",
            mib(bytes),
            mib(limit),
            crate::exec::errors::PACKET_ADVICE
        )
        .into(),
    }
}

/// `n` bytes, in MiB when that is more readable.
pub(crate) fn mib(n: usize) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / f64::from(1u32 << 20))
    } else {
        format!("{n} bytes")
    }
}
