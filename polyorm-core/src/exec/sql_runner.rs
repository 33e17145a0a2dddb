//! The SQL side of every target: how each kind of IR statement is compiled for the target's
//! dialect, sized (parameter and packet limits), run again after a schema change, and decoded,
//! written once for pools, transactions and held connections ([`Target`]).

use std::future::Future;

use super::packet::{
    check_compiled_packet, check_packet, fits_packet, insert_bytes, packet_budget, packet_error,
    packet_limit, row_bytes, statement_bytes, value_bytes,
};
use super::prepared::starts_with_keyword;
use super::target::Target;
use super::{Decoder, ExecResult, RowRef};
use crate::error::{Error, Result};
use crate::query::ir::{
    Condition, InsertQuery, OnConflict, Projection, SelectQuery, Statement, UpsertQuery,
};
use crate::sql::{Compiled, Dialect, Shared, compile_owned, compile_select_shared};
use crate::value::{FieldType, Value};

/// Runs `statement` with `run`; when it was refused because it was prepared before a schema
/// change, runs the same statement again as often as the runner allows (the server refused it
/// before executing anything, so nothing runs twice). Nothing is compiled again: the text and
/// values of a compiled statement do not depend on the database's schema.
async fn run_compiled<'s, R, T, Fut>(
    runner: &R,
    statement: &'s Shared,
    run: impl Fn(&'s Shared) -> Fut,
) -> Result<T>
where
    R: Target,
    Fut: Future<Output = Result<T>>,
{
    let mut retries = runner.stale_statement_retries();
    loop {
        match run(statement).await {
            Err(e) if e.is_schema_changed() && retries > 0 => retries -= 1,
            done => return done,
        }
    }
}

pub(crate) async fn fetch_all<R: Target, T: Send + 'static>(
    runner: &R,
    query: SelectQuery,
    decode: Decoder<T>,
) -> Result<Vec<T>> {
    fetch_all_ref(runner, &query, decode).await
}

/// [`fetch_all`] of a borrowed query (a replicated topology runs it again on another node
/// when its node failed).
pub(crate) async fn fetch_all_ref<R: Target, T: Send + 'static>(
    runner: &R,
    query: &SelectQuery,
    decode: Decoder<T>,
) -> Result<Vec<T>> {
    let compiled = compile_select_shared(query, runner.sql_dialect())?;
    run_compiled(runner, &compiled, |compiled| {
        runner.run_read_all(compiled, decode)
    })
    .await
}

pub(crate) async fn fetch_optional<R: Target, T: Send + 'static>(
    runner: &R,
    query: SelectQuery,
    decode: Decoder<T>,
) -> Result<Option<T>> {
    fetch_optional_ref(runner, &query, decode).await
}

/// [`fetch_optional`] of a borrowed query.
pub(crate) async fn fetch_optional_ref<R: Target, T: Send + 'static>(
    runner: &R,
    query: &SelectQuery,
    decode: Decoder<T>,
) -> Result<Option<T>> {
    let compiled = compile_select_shared(query, runner.sql_dialect())?;
    run_compiled(runner, &compiled, |compiled| {
        runner.run_read_optional(compiled, decode)
    })
    .await
}

pub(crate) async fn count<R: Target>(runner: &R, mut query: SelectQuery) -> Result<u64> {
    query.projection = Projection::Count;
    Ok(fetch_optional(runner, query, decode_count)
        .await?
        .unwrap_or(0))
}

/// A statement compiled by the caller (`raw`), run again as it is where the runner retries
/// statements prepared before a schema change.
pub(crate) async fn fetch_compiled<R: Target, T: Send + 'static>(
    runner: &R,
    statement: Compiled,
    decode: Decoder<T>,
) -> Result<Vec<T>> {
    let statement = Shared::from(statement);
    check_compiled_packet(runner, &statement).await?;
    if starts_with_keyword(statement.sql.as_str(), &["SELECT", "SHOW", "VALUES"]) {
        // A plain read: a pool may run it again on another connection (see `run_read_all`).
        return run_compiled(runner, &statement, |compiled| {
            runner.run_read_all(compiled, decode)
        })
        .await;
    }
    run_compiled(runner, &statement, |compiled| {
        runner.run_fetch_all(compiled, decode)
    })
    .await
}

/// [`fetch_compiled`] for a statement that returns no rows.
pub(crate) async fn execute_compiled<R: Target>(
    runner: &R,
    statement: Compiled,
) -> Result<ExecResult> {
    let statement = Shared::from(statement);
    check_compiled_packet(runner, &statement).await?;
    execute_shared(runner, statement).await
}

/// Runs a compiled statement that returns no rows, again where [`run_compiled`] retries it
/// (also a write compiled on SQLite's inline path that must wait for a lock, `sqlite::inline`).
pub(crate) async fn execute_shared<R: Target>(runner: &R, statement: Shared) -> Result<ExecResult> {
    run_compiled(runner, &statement, |compiled| runner.run_execute(compiled)).await
}

pub(crate) fn decode_count(row: &RowRef<'_>) -> Result<u64> {
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
pub(crate) async fn insert_returning<R: Target, T: Send + 'static>(
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
    let insert = Statement::Insert(query);
    check_packet(runner, &insert).await?;
    // Compiled once, the row's values moved into the statement, not copied.
    let compiled = compile_owned(insert, dialect)?;
    if dialect.has_returning() {
        let row = run_compiled(runner, &compiled, |compiled| {
            runner.run_fetch_optional(compiled, decode)
        })
        .await?;
        return row.ok_or(Error::NotFound {
            table: schema.table,
            detail: " after insert",
        });
    }
    let done = run_compiled(runner, &compiled, |compiled| runner.run_execute(compiled)).await?;
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
    match fetch_optional(runner, read_back, decode).await? {
        Some(row) => Ok(row),
        None => Err(missing_after_insert(runner, schema.table).await),
    }
}

/// Why a row an insert has just stored is not found by its key in the next statement.
///
/// Inside a transaction that can only be because the server ended the transaction between the
/// two statements without telling this session: a Galera node rolls back a transaction whose
/// rows another node's committed write set touched, and reports it (error 1213) to the
/// session's next command — unless that command is one with no reply (`COM_STMT_CLOSE`), which
/// swallows it, so the read runs on its own, outside the rolled-back transaction. The insert is
/// gone with the transaction: that is a serialization failure, and the transaction must run
/// again (`transaction_with_retry` does). Asked of the session (`@@in_transaction`) rather than
/// assumed, so that a row moved by the database itself (a trigger changing its key) is still
/// reported as not found.
async fn missing_after_insert<R: Target>(runner: &R, table: &'static str) -> Error {
    let not_found = Error::NotFound {
        table,
        detail: " after insert",
    };
    if !runner.in_transaction() || runner.sql_dialect() != Dialect::MySql {
        return not_found;
    }
    let probe = Shared::from(Compiled {
        sql: "SELECT @@in_transaction".to_owned(),
        values: Vec::new(),
    });
    match runner.run_fetch_optional(&probe, decode_count).await {
        Ok(Some(0)) => Error::SerializationFailure {
            source: format!(
                "the server rolled this transaction back between the insert into `{table}` and \
                 the read of the row it stored (on a Galera cluster: a write set from another \
                 node won certification); run the transaction again"
            )
            .into(),
        },
        // The abort reported to this very question (1213): the transaction is gone.
        Err(e) if e.is_retryable() => e,
        _ => not_found,
    }
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

pub(crate) async fn execute<R: Target>(runner: &R, statement: Statement) -> Result<ExecResult> {
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
            // Compiled once, its values moved into the statement, not copied.
            execute_shared(runner, compile_owned(other, dialect)?).await
        }
    }
}

/// Whether `statement` runs as one statement on `dialect` when the server sets no packet limit
/// (an insert of more rows than fit under the parameter limit runs as several).
#[cfg(feature = "sqlite")]
pub(crate) fn runs_as_one(statement: &Statement, dialect: Dialect) -> bool {
    match statement {
        Statement::Insert(query) | Statement::Upsert(UpsertQuery { insert: query, .. }) => {
            !needs_chunks(query, dialect, None)
        }
        _ => true,
    }
}

fn needs_chunks(query: &InsertQuery, dialect: Dialect, packet: Option<usize>) -> bool {
    rows_per_statement(query, dialect) < query.rows.len()
        || packet.is_some_and(|limit| insert_bytes(query) > packet_budget(limit))
}

/// How many rows of `query` fit in one statement under the dialect's parameter limit.
fn rows_per_statement(query: &InsertQuery, dialect: Dialect) -> usize {
    let columns = query.schema.insert_columns().count().max(1);
    (dialect.max_bind_parameters() / columns).max(1)
}

/// Runs `query` as consecutive inserts of at most [`rows_per_statement`] rows each.
pub(crate) async fn insert_in_chunks<R: Target>(
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
        let done = runner
            .run_execute(&compile_owned(statement, dialect)?)
            .await?;
        total.rows_affected += done.rows_affected;
        total.last_insert_id = done.last_insert_id.or(total.last_insert_id);
    }
    Ok(total)
}
