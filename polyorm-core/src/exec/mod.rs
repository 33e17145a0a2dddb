//! Executors: run IR statements on a database and decode rows by position.
//!
//! The seam is narrow on purpose: an IR statement goes in, decoded values come out. Each
//! backend compiles the IR itself (SQL through [`crate::sql`], BSON through `crate::mongo`),
//! so a backend's driver can change (for speed) without touching builders or compilers.

#[cfg(any(feature = "postgres", feature = "mysql"))]
mod acquire;
mod bind;
pub mod cached;
mod capabilities;
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod conn_pool;
mod connect;
mod connection;
#[cfg(feature = "distributed")]
pub mod distributed;
#[cfg(feature = "dynamodb")]
mod dynamo;
mod errors;
pub mod layer;
#[cfg(feature = "mock")]
pub mod mock;
#[cfg(feature = "mongodb")]
mod mongo;
#[cfg(feature = "mysql-native")]
mod mysql_native;
mod packet;
mod pool;
#[cfg(any(feature = "tracing", feature = "metrics"))]
mod pool_observe;
#[cfg(feature = "postgres-native")]
mod postgres_native;
mod prepared;
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod remote_pool;
mod row;
mod server;
mod sql_driver;
mod sql_runner;
#[cfg(feature = "sqlite")]
mod sqlite;
mod stream;
pub(crate) mod target;
#[cfg(all(feature = "topology", any(feature = "postgres", feature = "mysql")))]
pub mod topology;
mod transaction;

use std::future::Future;

pub use capabilities::BackendCapabilities;
pub use connection::Connection;
#[cfg(feature = "dynamodb")]
pub use dynamo::ItemRow;
pub use layer::{Begin, Delegate, Finish, Layer, Layered, Op, OpKind, OpKinds, Outcome};
#[cfg(feature = "mongodb")]
pub use mongo::{COUNTERS_COLLECTION, DEFAULT_DATABASE, DocumentRow};
#[cfg(feature = "mysql")]
pub use pool::MySqlDriver;
#[cfg(feature = "postgres")]
pub use pool::PostgresDriver;
pub(crate) use pool::redact as redact_url;
pub use pool::{Db, Health, PoolOptions, PoolStatus};
pub use row::RowRef;
pub use server::ServerInfo;
pub use stream::RowStream;
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
///
/// Compare it with a [`Dialect`] directly: `db.backend() == Dialect::Sqlite`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// A SQL database of this dialect.
    Sql(Dialect),
    /// MongoDB (statements compile to BSON through `polyorm::mongo`; needs the `mongodb` feature).
    MongoDb,
    /// Amazon DynamoDB (statements compile through `polyorm::dynamo`; needs the `dynamodb`
    /// feature).
    DynamoDb,
}

impl Backend {
    /// The SQL dialect, or `None` for MongoDB and DynamoDB.
    pub fn dialect(self) -> Option<Dialect> {
        match self {
            Backend::Sql(dialect) => Some(dialect),
            Backend::MongoDb | Backend::DynamoDb => None,
        }
    }

    /// Whether statements run as SQL (raw SQL, DDL text, SQL isolation levels apply).
    pub fn is_sql(self) -> bool {
        matches!(self, Backend::Sql(_))
    }
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
            Backend::MongoDb => f.write_str("MongoDB"),
            Backend::DynamoDb => f.write_str("DynamoDB"),
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

    /// The SQL dialect statements compile to, or `None` when the database is not SQL
    /// (MongoDB). Use [`backend`](Executor::backend) to tell every backend apart.
    fn dialect(&self) -> Option<Dialect> {
        self.backend().dialect()
    }

    /// What the database behind this executor offers (transactions, savepoints, row locks,
    /// SQL, …), as data.
    fn capabilities(&self) -> BackendCapabilities {
        self.backend().capabilities()
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

    /// Runs a select and hands its rows over one at a time, each decoded as it arrives, in
    /// constant memory (see [`RowStream`]). The stream holds a connection until it ends or is
    /// dropped; on MongoDB it reads a cursor.
    fn fetch_stream<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> RowStream<'_, T>;

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

    /// Runs SQL text with no parameters (DDL, session settings); [`Error::InvalidQuery`]
    /// on MongoDB.
    ///
    /// [`Error::InvalidQuery`]: crate::Error::InvalidQuery
    fn execute_raw(&self, sql: &str) -> impl Future<Output = Result<ExecResult>> + Send;

    /// Runs an already compiled SQL query (see [`crate::raw()`]) and decodes every row.
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

    /// Runs a typed operation with what the observability layers above want done when it
    /// ends, in one future (see `observe::fused`). Not for callers: the `Tracing` and
    /// `Metrics` layers hand their statements down with it, and [`Layered`] passes it to its
    /// layer. By default the operation runs here, wrapped once.
    #[doc(hidden)]
    #[cfg(any(feature = "tracing", feature = "metrics"))]
    #[inline]
    fn observed<O: crate::observe::fused::TypedOp, P: crate::observe::fused::Observation>(
        &self,
        op: O,
        observation: P,
    ) -> impl Future<Output = Result<O::Output>> + Send {
        crate::observe::fused::Observed::new(op.run(self), observation, O::counted)
    }
}

#[cfg_attr(not(feature = "_sqlx"), allow(unused_imports))]
pub(crate) use errors::*;
#[cfg(any(feature = "tracing", feature = "metrics"))]
pub(crate) use prepared::starts_with_keyword;
#[cfg(feature = "sharding")]
pub(crate) use stream::next as stream_next;

/// The SQL dialect of `db`, or [`Error::InvalidQuery`](crate::Error::InvalidQuery) for a
/// database that does not run SQL (MongoDB).
pub(crate) fn sql_dialect_of<E: Executor>(db: &E) -> Result<Dialect> {
    db.capabilities().sql.ok_or_else(|| {
        crate::Error::InvalidQuery(format!(
            "raw SQL on {0}: {0} does not run SQL; use the typed query builder",
            db.backend()
        ))
    })
}
