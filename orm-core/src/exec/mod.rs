//! Executors: run IR statements on a database and decode rows by position.
//!
//! The seam is narrow on purpose: an IR statement goes in, decoded values come out. Each
//! backend compiles the IR itself (SQL through [`crate::sql`], BSON later), so a backend's
//! driver can change (for speed) without touching builders or compilers.

mod bind;
mod errors;
mod pool;
mod row;
mod sql_runner;
mod transaction;

use std::future::Future;

pub use pool::{Db, Health, PoolOptions};
pub use row::RowRef;
pub use transaction::{IsolationLevel, RetryPolicy, Transaction, TxOptions};

use crate::error::Result;
use crate::query::ir::{InsertQuery, SelectQuery, Statement};
use crate::sql::{Compiled, Dialect};

/// Decodes one row; generated decoders and scalar readers have this shape.
pub type Decoder<T> = fn(&RowRef<'_>) -> Result<T>;

/// What a write reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExecResult {
    /// Rows inserted, updated or deleted (MySQL counts matched rows, as the other dialects do).
    pub rows_affected: u64,
    /// The key the database generated for the last inserted row, where it reports one
    /// (MySQL, SQLite).
    pub last_insert_id: Option<i64>,
}

/// The kind of database behind an executor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// A SQL database of this dialect.
    Sql(Dialect),
}

impl PartialEq<Dialect> for Backend {
    fn eq(&self, dialect: &Dialect) -> bool {
        matches!(self, Backend::Sql(d) if d == dialect)
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Sql(dialect) => dialect.fmt(f),
        }
    }
}

/// Something that runs IR statements: a pool ([`Db`]) or a [`Transaction`].
///
/// Every query method of the ORM takes `&impl Executor`, so the same code runs on a pool or
/// inside a transaction.
pub trait Executor: Send + Sync {
    /// The database behind this executor.
    fn backend(&self) -> Backend;

    /// The SQL dialect statements compile to.
    fn dialect(&self) -> Dialect {
        match self.backend() {
            Backend::Sql(dialect) => dialect,
        }
    }

    /// Runs a select and decodes every row.
    fn fetch_all<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> impl Future<Output = Result<Vec<T>>> + Send;

    /// Runs a select and decodes the first row, if any.
    fn fetch_optional<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> impl Future<Output = Result<Option<T>>> + Send;

    /// Counts the rows a select matches (after its limit and offset).
    fn count(&self, query: SelectQuery) -> impl Future<Output = Result<u64>> + Send;

    /// Inserts one row and returns it as stored (generated keys and defaults filled in).
    fn insert_returning<T: Send + 'static>(
        &self,
        query: InsertQuery,
        decode: Decoder<T>,
    ) -> impl Future<Output = Result<T>> + Send;

    /// Runs a write (insert, update, delete) that returns no rows.
    fn execute(&self, statement: Statement) -> impl Future<Output = Result<ExecResult>> + Send;

    /// Runs SQL text with no parameters (DDL, session settings).
    fn execute_raw(&self, sql: &str) -> impl Future<Output = Result<ExecResult>> + Send;

    /// Runs an already compiled SQL query (see [`crate::raw`]) and decodes every row.
    fn fetch_compiled<T: Send + 'static>(
        &self,
        statement: Compiled,
        decode: Decoder<T>,
    ) -> impl Future<Output = Result<Vec<T>>> + Send;

    /// Runs an already compiled SQL statement that returns no rows.
    fn execute_compiled(
        &self,
        statement: Compiled,
    ) -> impl Future<Output = Result<ExecResult>> + Send;
}

pub(crate) use errors::*;
