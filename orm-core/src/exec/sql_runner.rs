//! The SQL side of the executor seam: compiled statements in, rows out, and the IR-level
//! operations every SQL executor ([`Db`](super::Db), [`Transaction`](super::Transaction))
//! shares on top of it.

use std::future::Future;

use super::{Decoder, ExecResult, RowRef};
use crate::error::{Error, Result};
use crate::query::ir::{
    Condition, InsertQuery, OnConflict, Projection, SelectQuery, Statement, UpsertQuery,
};
use crate::sql::{Compiled, Dialect, compile, compile_select};
use crate::value::{FieldType, Value};

/// Runs compiled SQL on one connection or pool.
pub(crate) trait SqlRunner: Send + Sync {
    /// The dialect to compile for.
    fn sql_dialect(&self) -> Dialect;

    /// Runs a query and decodes every row.
    fn run_fetch_all<T: Send + 'static>(
        &self,
        statement: Compiled,
        decode: Decoder<T>,
    ) -> impl Future<Output = Result<Vec<T>>> + Send;

    /// Runs a query and decodes the first row, if any.
    fn run_fetch_optional<T: Send + 'static>(
        &self,
        statement: Compiled,
        decode: Decoder<T>,
    ) -> impl Future<Output = Result<Option<T>>> + Send;

    /// Runs a statement that returns no rows.
    fn run_execute(&self, statement: Compiled) -> impl Future<Output = Result<ExecResult>> + Send;

    /// Runs an insert too large for one statement as several, all or nothing: a pool opens a
    /// transaction for them, a transaction runs them in itself.
    fn run_chunked_insert(
        &self,
        query: InsertQuery,
        on_conflict: Option<OnConflict>,
    ) -> impl Future<Output = Result<ExecResult>> + Send;
}

pub(crate) async fn fetch_all<R: SqlRunner, T: Send + 'static>(
    runner: &R,
    query: SelectQuery,
    decode: Decoder<T>,
) -> Result<Vec<T>> {
    let compiled = compile_select(&query, runner.sql_dialect())?;
    runner.run_fetch_all(compiled, decode).await
}

pub(crate) async fn fetch_optional<R: SqlRunner, T: Send + 'static>(
    runner: &R,
    query: SelectQuery,
    decode: Decoder<T>,
) -> Result<Option<T>> {
    let compiled = compile_select(&query, runner.sql_dialect())?;
    runner.run_fetch_optional(compiled, decode).await
}

pub(crate) async fn count<R: SqlRunner>(runner: &R, mut query: SelectQuery) -> Result<u64> {
    query.projection = Projection::Count;
    let compiled = compile_select(&query, runner.sql_dialect())?;
    Ok(runner
        .run_fetch_optional(compiled, decode_count)
        .await?
        .unwrap_or(0))
}

fn decode_count(row: &RowRef<'_>) -> Result<u64> {
    let n = <i64 as FieldType>::decode(row, 0)?;
    u64::try_from(n).map_err(|e| Error::Decode {
        column: row.column_name(0),
        index: 0,
        expected: "u64",
        source: Box::new(e),
    })
}

/// `INSERT ... RETURNING` where the dialect has it; elsewhere (MySQL) the insert, then a read
/// of the row by the key it was stored under.
pub(crate) async fn insert_returning<R: SqlRunner, T: Send + 'static>(
    runner: &R,
    mut query: InsertQuery,
    decode: Decoder<T>,
) -> Result<T> {
    let dialect = runner.sql_dialect();
    let schema = query.schema;
    query.returning = dialect.has_returning();
    // The key the row will be stored under, unless the database generates it.
    let key = match schema.auto_increment_column() {
        Some(_) => None,
        None => Some(key_values(&query)?),
    };
    let statement = Statement::Insert(query);
    check_packet(runner, &statement).await?;
    let compiled = compile(&statement, dialect)?;
    if dialect.has_returning() {
        let row = runner.run_fetch_optional(compiled, decode).await?;
        return row.ok_or(Error::NotFound {
            table: schema.table,
            detail: " after insert",
        });
    }
    let done = runner.run_execute(compiled).await?;
    let key = match key {
        Some(values) => values,
        None => vec![Value::BigInt(done.last_insert_id.ok_or_else(|| {
            Error::InvalidQuery(format!(
                "the database reported no generated key for `{}`",
                schema.table
            ))
        })?)],
    };
    let mut read_back = SelectQuery::new(schema, Projection::Model);
    read_back.filter = Some(Condition::primary_key_eq(schema, key));
    read_back.limit = Some(1);
    let row = fetch_optional(runner, read_back, decode).await?;
    row.ok_or(Error::NotFound {
        table: schema.table,
        detail: " after insert",
    })
}

/// The primary-key values of the single row of an insert, in key order.
fn key_values(query: &InsertQuery) -> Result<Vec<Value>> {
    let schema = query.schema;
    let row = query
        .rows
        .first()
        .ok_or_else(|| Error::InvalidQuery(format!("insert into `{}` has no row", schema.table)))?;
    let positions: Vec<&str> = schema.insert_columns().map(|c| c.name).collect();
    schema
        .primary_key_columns()
        .map(|key| {
            positions
                .iter()
                .position(|name| *name == key.name)
                .map(|i| row[i].clone())
                .ok_or_else(|| {
                    Error::InvalidQuery(format!("insert into `{}` lacks its key", schema.table))
                })
        })
        .collect()
}

pub(crate) async fn execute<R: SqlRunner>(runner: &R, statement: Statement) -> Result<ExecResult> {
    let dialect = runner.sql_dialect();
    // The chunked inserts (a transaction and a loop of statements) are boxed: inline, their
    // state made every `execute` future several kilobytes, copied on each await of every
    // insert, update and delete (a third of a one-row insert's instructions, benches/NOTES.md).
    // MySQL/MariaDB: a statement over the server's `max_allowed_packet` is refused (and a
    // large one drops the connection), so big inserts are split by size as well as by count.
    let packet = match dialect {
        Dialect::MySql => packet_limit(runner, statement_bytes(&statement)).await?,
        _ => None,
    };
    match statement {
        Statement::Insert(query) if needs_chunks(&query, dialect, packet) => {
            Box::pin(runner.run_chunked_insert(query, None)).await
        }
        Statement::Upsert(UpsertQuery {
            insert,
            on_conflict,
        }) if needs_chunks(&insert, dialect, packet) => {
            Box::pin(runner.run_chunked_insert(insert, Some(on_conflict))).await
        }
        other => {
            if let Some(limit) = packet {
                fits_packet(&other, limit)?;
            }
            runner.run_execute(compile(&other, dialect)?).await
        }
    }
}

fn needs_chunks(query: &InsertQuery, dialect: Dialect, packet: Option<usize>) -> bool {
    rows_per_statement(query, dialect) < query.rows.len()
        || packet.is_some_and(|limit| insert_bytes(query) > packet_budget(limit))
}

/// Statements estimated below this size are sent without asking the server for its
/// `max_allowed_packet` (which no server sets below 1 MiB in practice: the default is 16 MiB on
/// MariaDB, 64 MiB on MySQL 8).
const PACKET_CHECK_ABOVE: usize = 1 << 20;

/// The server's `max_allowed_packet`, read when a statement of `bytes` is large enough to come near it
/// on MySQL/MariaDB (one round trip, only for such statements); `None` otherwise.
async fn packet_limit<R: SqlRunner>(runner: &R, bytes: usize) -> Result<Option<usize>> {
    if runner.sql_dialect() != Dialect::MySql || bytes <= PACKET_CHECK_ABOVE {
        return Ok(None);
    }
    let read = Compiled {
        sql: "SELECT CAST(@@max_allowed_packet AS SIGNED)".to_owned(),
        values: Vec::new(),
    };
    let limit = runner
        .run_fetch_optional(read, |row| <i64 as FieldType>::decode(row, 0))
        .await?;
    Ok(limit.and_then(|n| usize::try_from(n).ok()))
}

/// Refuses `statement` when it is larger than the server accepts (its `max_allowed_packet`,
/// read by [`packet_limit`]).
async fn check_packet<R: SqlRunner>(runner: &R, statement: &Statement) -> Result<()> {
    if runner.sql_dialect() != Dialect::MySql {
        return Ok(());
    }
    match packet_limit(runner, statement_bytes(statement)).await? {
        Some(limit) => fits_packet(statement, limit),
        None => Ok(()),
    }
}

/// What of a statement of at most `limit` bytes its bound values may take: the rest is the
/// execute packet's header, null bitmap and parameter types, counted generously.
fn packet_budget(limit: usize) -> usize {
    limit.saturating_sub(4096)
}

/// The bytes `value` takes in a MySQL execute packet (a length prefix and the data; fixed-size
/// values 8), plus its type entry.
fn value_bytes(value: &Value) -> usize {
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
fn json_bytes(json: &serde_json::Value) -> usize {
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

fn insert_bytes(query: &InsertQuery) -> usize {
    query.rows.iter().map(|row| row_bytes(row)).sum()
}

fn row_bytes(row: &[Value]) -> usize {
    row.iter().map(value_bytes).sum()
}

/// The estimated size of the values `statement` binds.
fn statement_bytes(statement: &Statement) -> usize {
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
fn fits_packet(statement: &Statement, limit: usize) -> Result<()> {
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

fn packet_error(table: &str, largest: Option<(&str, &Value)>, bytes: usize, limit: usize) -> Error {
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
fn mib(n: usize) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / f64::from(1u32 << 20))
    } else {
        format!("{n} bytes")
    }
}

/// How many rows of `query` fit in one statement under the dialect's parameter limit.
fn rows_per_statement(query: &InsertQuery, dialect: Dialect) -> usize {
    let columns = query.schema.insert_columns().count().max(1);
    (dialect.max_bind_parameters() / columns).max(1)
}

/// Runs `query` as consecutive inserts of at most [`rows_per_statement`] rows each.
pub(crate) async fn insert_in_chunks<R: SqlRunner>(
    runner: &R,
    query: InsertQuery,
    on_conflict: Option<OnConflict>,
) -> Result<ExecResult> {
    let dialect = runner.sql_dialect();
    let chunk = rows_per_statement(&query, dialect);
    let budget = match dialect {
        Dialect::MySql => packet_limit(runner, insert_bytes(&query)).await?,
        _ => None,
    }
    .map(|limit| (limit, packet_budget(limit)));
    if let Some((limit, budget)) = budget
        && let Some(row) = query.rows.iter().find(|row| row_bytes(row) > budget)
    {
        // One row alone is over the limit: no split can send it.
        let largest = query
            .schema
            .insert_columns()
            .map(|c| c.name)
            .zip(row)
            .max_by_key(|(_, v)| value_bytes(v));
        return Err(packet_error(
            query.schema.table,
            largest,
            row_bytes(row),
            limit,
        ));
    }
    let mut total = ExecResult::default();
    let mut rows = query.rows.into_iter().peekable();
    while rows.peek().is_some() {
        // At most `chunk` rows, and (MySQL, large rows) at most the packet's budget of bytes.
        let mut part_rows = Vec::new();
        let mut bytes = 0;
        while let Some(row) = rows.peek() {
            let size = row_bytes(row);
            let full = part_rows.len() >= chunk
                || budget.is_some_and(|(_, budget)| !part_rows.is_empty() && bytes + size > budget);
            if full {
                break;
            }
            bytes += size;
            part_rows.push(rows.next().expect("peeked"));
        }
        let part = InsertQuery {
            schema: query.schema,
            rows: part_rows,
            returning: false,
        };
        let statement = match &on_conflict {
            Some(on_conflict) => Statement::Upsert(UpsertQuery {
                insert: part,
                on_conflict: on_conflict.clone(),
            }),
            None => Statement::Insert(part),
        };
        let done = runner.run_execute(compile(&statement, dialect)?).await?;
        total.rows_affected += done.rows_affected;
        total.last_insert_id = done.last_insert_id.or(total.last_insert_id);
    }
    Ok(total)
}
