//! Executors: run compiled statements on a database and decode rows by position.
//!
//! The seam is narrow on purpose: a [`Compiled`] statement goes in, decoded values come out.
//! A backend's driver can change (for speed) without touching builders or compilers.

mod connection;
mod errors;
mod pool;
mod row;
mod transaction;

use std::future::Future;

pub use connection::Connection;
pub use pool::{Db, PoolOptions};
pub use row::RowRef;
pub use transaction::{IsolationLevel, RetryPolicy, Transaction, TxOptions};

use crate::error::Result;
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

/// Something that runs compiled statements: a pool ([`Db`]) or, later, a transaction.
pub trait Executor: Send + Sync {
    /// The dialect statements must be compiled for.
    fn dialect(&self) -> Dialect;

    /// Runs a query and decodes every row.
    fn fetch_all<T: Send + 'static>(
        &self,
        statement: Compiled,
        decode: Decoder<T>,
    ) -> impl Future<Output = Result<Vec<T>>> + Send;

    /// Runs a query and decodes the first row, if any.
    fn fetch_optional<T: Send + 'static>(
        &self,
        statement: Compiled,
        decode: Decoder<T>,
    ) -> impl Future<Output = Result<Option<T>>> + Send;

    /// Runs a statement that returns no rows.
    fn execute(&self, statement: Compiled) -> impl Future<Output = Result<ExecResult>> + Send;

    /// Runs SQL text with no parameters (DDL, session settings).
    fn execute_raw(&self, sql: &str) -> impl Future<Output = Result<ExecResult>> + Send;
}

pub(crate) use errors::*;
