//! Statements of a [`Db`](crate::Db) on SQLite run inline: on a connection the pool has free at
//! once, compiled with the statement caches' SQL text shared rather than copied, bound, stepped
//! and decoded before the caller's future ever builds the asynchronous path (acquire, driver
//! dispatch, the busy wait). That path's futures, generic over every driver and kilobytes
//! large, were copied at each of its layers, a fifth of a one-row read's instructions.
//!
//! Nothing changes in what runs: the statement is the one the asynchronous path would run, on
//! a connection of the same pool, with the same errors. Whenever that path would wait — every
//! connection in use, the one at hand still away on a stream's thread, SQLite wanting to wait
//! for a lock (nothing has run then) — the inline attempt steps aside (`None`) and the
//! statement takes that path, which waits asynchronously (up to the busy timeout).

use super::SqliteLease;
use super::conn::{Attempt, all_rows, execute_statement, first_row};
use super::statements::StatementConn;
use crate::error::{Error, Result};
use crate::exec::sql_runner::{decode_count, runs_as_one};
use crate::exec::target::Target;
use crate::exec::{Decoder, ExecResult};
use crate::query::ir::{InsertQuery, Projection, SelectQuery, Statement};
use crate::sql::{Dialect, Shared, compile_owned, compile_select_shared, compile_shared};

/// Every row of `query`, when a connection is at hand.
pub(crate) fn fetch_all<X: Target, T>(
    x: &X,
    query: &SelectQuery,
    decode: Decoder<T>,
) -> Option<Result<Vec<T>>> {
    at_hand(
        x,
        || compile_select_shared(query, Dialect::Sqlite),
        |conn, statement| all_rows(conn, (&statement.sql).into(), &statement.values, decode),
    )
}

/// The first row of `query`, if any, when a connection is at hand.
pub(crate) fn fetch_optional<X: Target, T>(
    x: &X,
    query: &SelectQuery,
    decode: Decoder<T>,
) -> Option<Result<Option<T>>> {
    at_hand(
        x,
        || compile_select_shared(query, Dialect::Sqlite),
        |conn, statement| first_row(conn, (&statement.sql).into(), &statement.values, decode),
    )
}

/// How many rows `query` matches, when a connection is at hand (`query` then asks for the
/// count, as the asynchronous path would).
pub(crate) fn count<X: Target>(x: &X, query: &mut SelectQuery) -> Option<Result<u64>> {
    let counted = at_hand(
        x,
        || {
            query.projection = Projection::Count;
            compile_select_shared(query, Dialect::Sqlite)
        },
        |conn, statement| {
            first_row(
                conn,
                (&statement.sql).into(),
                &statement.values,
                decode_count,
            )
        },
    )?;
    Some(counted.map(|n| n.unwrap_or(0)))
}

/// Inserts one row with `RETURNING` and decodes it, when a connection is at hand; otherwise
/// gives `query` back for the asynchronous path.
pub(crate) fn insert_returning<X: Target, T>(
    x: &X,
    mut query: InsertQuery,
    decode: Decoder<T>,
) -> std::result::Result<Result<T>, InsertQuery> {
    // One row, as the asynchronous path checks (it reports an insert of none).
    if query.rows.len() != 1 {
        return Err(query);
    }
    let Some(pooled) = x.sqlite_at_hand() else {
        return Err(query);
    };
    let table = query.schema.table;
    query.returning = true;
    let statement = Statement::Insert(query);
    let row = run_on(
        pooled,
        || compile_shared(&statement, Dialect::Sqlite),
        |conn, compiled| first_row(conn, (&compiled.sql).into(), &compiled.values, decode),
    );
    match row {
        Some(row) => Ok(row.and_then(|row| {
            row.ok_or(Error::NotFound {
                table,
                detail: " after insert",
            })
        })),
        None => match statement {
            Statement::Insert(query) => Err(query),
            _ => unreachable!("built as an insert above"),
        },
    }
}

/// What became of a write offered to run inline ([`execute`]).
pub(crate) enum Inline {
    /// It ran (or failed).
    Done(Result<ExecResult>),
    /// It was compiled (its values moved into the compiled statement), then SQLite wanted to
    /// wait for a lock: the asynchronous path runs this compiled statement.
    Compiled(Shared),
    /// It was not touched (no connection at hand, or it runs as several statements).
    Untouched(Statement),
}

/// Runs a write that returns no rows, when a connection is at hand and it is one statement
/// (an insert split into several runs in a transaction, on the asynchronous path). The
/// statement is compiled once, its values moved rather than copied, whichever path runs it.
pub(crate) fn execute<X: Target>(x: &X, statement: Statement) -> Inline {
    if !runs_as_one(&statement, Dialect::Sqlite) {
        return Inline::Untouched(statement);
    }
    let mut pooled = match x.sqlite_at_hand() {
        None => return Inline::Untouched(statement),
        Some(Err(e)) => return Inline::Done(Err(e)),
        Some(Ok(pooled)) => pooled,
    };
    let compiled = match compile_owned(statement, Dialect::Sqlite) {
        Ok(compiled) => compiled,
        Err(e) => return Inline::Done(Err(e)),
    };
    let ran = pooled
        .conn()
        .run_now(|conn| execute_statement(conn, (&compiled.sql).into(), &compiled.values));
    match ran {
        Some(done) => Inline::Done(done),
        None => Inline::Compiled(compiled),
    }
}

/// Runs `run` on the statement `compile` makes, on a SQLite connection `x` has free at once;
/// `None` where the statement must take the asynchronous path (see the module's notes).
fn at_hand<X: Target, R>(
    x: &X,
    compile: impl FnOnce() -> Result<Shared>,
    run: impl FnOnce(&mut StatementConn, &Shared) -> Attempt<R>,
) -> Option<Result<R>> {
    run_on(x.sqlite_at_hand()?, compile, run)
}

/// [`at_hand`] on the connection `pooled` (or its error).
fn run_on<R>(
    pooled: Result<SqliteLease<'_>>,
    compile: impl FnOnce() -> Result<Shared>,
    run: impl FnOnce(&mut StatementConn, &Shared) -> Attempt<R>,
) -> Option<Result<R>> {
    let mut pooled = match pooled {
        Ok(pooled) => pooled,
        Err(e) => return Some(Err(e)),
    };
    let statement = match compile() {
        Ok(statement) => statement,
        Err(e) => return Some(Err(e)),
    };
    pooled.conn().run_now(|conn| run(conn, &statement))
}
