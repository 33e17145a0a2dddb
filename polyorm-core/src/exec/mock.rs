//! A scripted database for unit tests: no server, every statement recorded with its bound
//! values, results and errors handed out in the order the test wrote them (SeaORM's
//! `MockDatabase` is the model).
//!
//! ```
//! # async fn run() -> polyorm_core::Result<()> {
//! use polyorm_core::mock::{MockDatabase, MockResult};
//! use polyorm_core::{Dialect, ExecResult, Executor, Value};
//!
//! let mock = MockDatabase::new(Dialect::Postgres)
//!     .append(MockResult::rows([[Value::BigInt(3)]]))
//!     .append(MockResult::exec(ExecResult { rows_affected: 2, last_insert_id: None }));
//! let db = mock.db();
//! // ... run the code under test on `db` ...
//! # let _ = db.execute_raw("DELETE FROM sessions").await?;
//! # let _ = &db;
//! for statement in mock.statements() {
//!     println!("{} {:?}", statement.sql, statement.values);
//! }
//! # Ok(()) }
//! ```
//!
//! This is a driver like the others: it sits below the same executor ([`Db`], its
//! transactions and connections), so the SQL it records is exactly what the chosen dialect's
//! driver would be sent, and every layer above it runs unchanged.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::cached::{CachedRow, Slot};
use super::sql_driver::SqlDriver;
use super::{Backend, Db, Decoder, ExecResult, RowRef, RowStream};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::sql::{Dialect, Shared};
use crate::value::Value;

/// One scripted answer: what the next statement that consumes a result gets.
#[derive(Debug)]
pub enum MockResult {
    /// Rows for a query, each as its column values in select order.
    Rows(Vec<Vec<Value>>),
    /// The outcome of a write.
    Exec(ExecResult),
    /// An error the statement fails with.
    Error(Error),
}

impl MockResult {
    /// Rows, each given as its values in the order the query selects its columns.
    pub fn rows<R: IntoIterator<Item = Value>>(rows: impl IntoIterator<Item = R>) -> Self {
        MockResult::Rows(
            rows.into_iter()
                .map(|row| row.into_iter().collect())
                .collect(),
        )
    }

    /// Rows holding `models` (every column, in the model's order: what a select of the whole
    /// model reads).
    pub fn models<M: Model>(models: impl IntoIterator<Item = M>) -> Self {
        let columns = M::schema().columns.len();
        MockResult::Rows(
            models
                .into_iter()
                .map(|m| (0..columns).map(|i| m.column_value(i)).collect())
                .collect(),
        )
    }

    /// A write's outcome.
    pub fn exec(result: ExecResult) -> Self {
        MockResult::Exec(result)
    }

    /// An error for the statement to fail with.
    pub fn error(error: Error) -> Self {
        MockResult::Error(error)
    }

    fn kind(&self) -> &'static str {
        match self {
            MockResult::Rows(_) => "rows",
            MockResult::Exec(_) => "an exec result",
            MockResult::Error(_) => "an error",
        }
    }
}

/// A statement the mock was sent: its SQL text, as the dialect's driver would receive it, and
/// its bound values.
#[derive(Debug, Clone, PartialEq)]
pub struct MockStatement {
    /// The SQL text (placeholders, not values).
    pub sql: String,
    /// The values bound to the placeholders, in order.
    pub values: Vec<Value>,
}

#[derive(Debug)]
struct State {
    dialect: Dialect,
    script: Mutex<VecDeque<MockResult>>,
    log: Mutex<Vec<MockStatement>>,
}

/// A scripted database of one SQL dialect; [`db`](MockDatabase::db) gives the [`Db`] to hand
/// to the code under test. Clones share the script and the log.
///
/// Each statement that reads rows or writes consumes the next [`MockResult`]. SQL text without
/// parameters (`execute_raw`: DDL, session settings) and transaction control (`BEGIN`,
/// `COMMIT`, `ROLLBACK`, savepoints) is recorded, always succeeds and consumes nothing. A
/// statement that finds no result left, or one of the wrong kind (rows for a write, an exec
/// result for a query), fails with [`Error::InvalidQuery`] naming the statement, so a test
/// learns what its code ran.
///
/// Rows are decoded as typed values, so give each column the [`Value`] variant of its field's
/// type (`Value::BigInt` for `i64`, `Value::Text` for `String` and for enums stored as text, as
/// [`MockResult::models`] does).
#[derive(Debug, Clone)]
pub struct MockDatabase {
    state: Arc<State>,
}

impl MockDatabase {
    /// An empty script for `dialect` (the SQL recorded is that dialect's).
    pub fn new(dialect: Dialect) -> Self {
        MockDatabase {
            state: Arc::new(State {
                dialect,
                script: Mutex::new(VecDeque::new()),
                log: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Adds `result` at the end of the script.
    pub fn append(self, result: MockResult) -> Self {
        self.push(result);
        self
    }

    /// Adds `result` at the end of the script (on a shared handle).
    pub fn push(&self, result: MockResult) {
        lock(&self.state.script).push_back(result);
    }

    /// A [`Db`] on this mock: its statements, transactions and connections all run here.
    pub fn db(&self) -> Db {
        Db::from_mock(self.clone())
    }

    /// The dialect.
    pub fn dialect(&self) -> Dialect {
        self.state.dialect
    }

    /// Every statement run so far, in order.
    pub fn statements(&self) -> Vec<MockStatement> {
        lock(&self.state.log).clone()
    }

    /// Takes the statements run so far, leaving the log empty.
    pub fn take_statements(&self) -> Vec<MockStatement> {
        std::mem::take(&mut *lock(&self.state.log))
    }

    /// How many scripted results have not been consumed yet.
    pub fn remaining(&self) -> usize {
        lock(&self.state.script).len()
    }

    /// A connection of the mock (what its pool hands out).
    pub(crate) fn connect(&self) -> Result<MockConn> {
        Ok(MockConn { db: self.clone() })
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// One connection of a [`MockDatabase`] (every connection shares its script and log).
#[derive(Debug)]
pub(crate) struct MockConn {
    db: MockDatabase,
}

impl MockConn {
    /// Records `statement` and takes the next scripted result.
    fn run(&self, statement: &Shared) -> Result<(MockResult, String)> {
        let state = &self.db.state;
        let sql = statement.sql.as_str().to_owned();
        lock(&state.log).push(MockStatement {
            sql: sql.clone(),
            values: statement.values.clone(),
        });
        match lock(&state.script).pop_front() {
            Some(MockResult::Error(e)) => Err(e),
            Some(result) => Ok((result, sql)),
            None => Err(Error::InvalidQuery(format!(
                "mock database: no scripted result left for `{sql}`; append one with \
                 `MockDatabase::append` before running the code under test"
            ))),
        }
    }

    fn rows(&self, statement: &Shared) -> Result<Vec<Vec<Value>>> {
        match self.run(statement)? {
            (MockResult::Rows(rows), _) => Ok(rows),
            (other, sql) => Err(wrong_kind(&sql, "rows", &other)),
        }
    }

    /// Records SQL text without parameters; it always succeeds and consumes no result
    /// (transaction control, DDL, session settings).
    pub(crate) fn record_raw(&self, sql: &str) -> Result<ExecResult> {
        lock(&self.db.state.log).push(MockStatement {
            sql: sql.to_owned(),
            values: Vec::new(),
        });
        Ok(ExecResult::default())
    }

    /// Ends a transaction begun on this connection.
    pub(crate) fn finish(self, commit: bool) -> Result<()> {
        self.record_raw(if commit { "COMMIT" } else { "ROLLBACK" })
            .map(drop)
    }
}

impl SqlDriver for MockConn {
    async fn fetch_all<T: Send>(
        &mut self,
        statement: &Shared,
        decode: Decoder<T>,
    ) -> Result<Vec<T>> {
        self.rows(statement)?
            .into_iter()
            .map(|row| decode_row(row, decode))
            .collect()
    }

    async fn fetch_optional<T: Send>(
        &mut self,
        statement: &Shared,
        decode: Decoder<T>,
    ) -> Result<Option<T>> {
        self.rows(statement)?
            .into_iter()
            .next()
            .map(|row| decode_row(row, decode))
            .transpose()
    }

    /// The scripted rows, handed over one at a time (a mock keeps them all already).
    fn fetch_stream<T: Send + 'static>(
        &mut self,
        statement: Shared,
        decode: Decoder<T>,
    ) -> RowStream<'_, T> {
        let rows = self.rows(&statement);
        Box::pin(async_stream::try_stream! {
            for row in rows? {
                yield decode_row(row, decode)?;
            }
        })
    }

    async fn execute(&mut self, statement: &Shared) -> Result<ExecResult> {
        match self.run(statement)? {
            (MockResult::Exec(done), _) => Ok(done),
            (other, sql) => Err(wrong_kind(&sql, "an exec result", &other)),
        }
    }

    async fn execute_raw(&mut self, sql: &str) -> Result<ExecResult> {
        self.record_raw(sql)
    }

    async fn forget_statements(&mut self) -> Result<()> {
        Ok(())
    }
}

fn wrong_kind(sql: &str, wanted: &str, got: &MockResult) -> Error {
    Error::InvalidQuery(format!(
        "mock database: `{sql}` needs {wanted}, but the next scripted result is {}; script \
         the results in the order the code under test runs its statements",
        got.kind()
    ))
}

/// Decodes one scripted row: its values are replayed as a row whose decoder read them.
fn decode_row<T>(values: Vec<Value>, decode: Decoder<T>) -> Result<T> {
    let slots = values
        .into_iter()
        .map(|value| match value {
            Value::Null(_) => Slot::Null,
            other => Slot::Value(other),
        })
        .collect();
    // Decoded as PostgreSQL returns values: typed, with no dialect's storage rewrites (such
    // as SQLite's scaled decimals) in between.
    let row = CachedRow::new(Backend::Sql(Dialect::Postgres), slots);
    decode(&RowRef::Cached(&row))
}
