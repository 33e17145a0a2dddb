//! Transactions: a guard that rolls back on drop, closures that commit on `Ok`, isolation
//! levels, read-only transactions, savepoints, and a retry helper for serialization failures.
//!
//! A [`Transaction`] is a cheap handle (clones share one transaction) and an [`Executor`], so
//! every query method that takes `&db` also takes `&tx`.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::Duration;

use tokio::sync::{Mutex, MutexGuard};

use super::prepared::{SchemaClock, changes_schema};
use super::sql_driver::SqlConn;
use super::target::{Target, executor_for_target};
use super::{Backend, ExecResult};
use crate::error::{Error, Result};
use crate::sql::Dialect;

/// The isolation level of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IsolationLevel {
    /// Each statement sees data committed before it began.
    ReadCommitted,
    /// Every statement sees the snapshot taken at the transaction's first read.
    RepeatableRead,
    /// Transactions behave as if run one after another; conflicts fail with
    /// [`Error::SerializationFailure`] or [`Error::Deadlock`] (retry with
    /// [`Db::transaction_with_retry`](crate::Db::transaction_with_retry)).
    Serializable,
}

impl IsolationLevel {
    pub(crate) fn sql(self) -> &'static str {
        match self {
            IsolationLevel::ReadCommitted => "READ COMMITTED",
            IsolationLevel::RepeatableRead => "REPEATABLE READ",
            IsolationLevel::Serializable => "SERIALIZABLE",
        }
    }
}

/// How to begin a transaction: `TxOptions::new().isolation(IsolationLevel::Serializable)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxOptions {
    isolation: Option<IsolationLevel>,
    read_only: bool,
    for_write: bool,
}

impl TxOptions {
    /// The database's defaults: its default isolation level, read-write.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs the transaction at `level` (SQLite transactions are always serializable, so every
    /// level is accepted there and gives serializable behaviour).
    pub fn isolation(mut self, level: IsolationLevel) -> Self {
        self.isolation = Some(level);
        self
    }

    /// Makes the transaction read-only: writes fail (PostgreSQL, MySQL/MariaDB). SQLite has no
    /// read-only transactions, so [`Db::begin_with`](crate::Db::begin_with) refuses this there.
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// Says the transaction will write: on SQLite it takes the write lock at `BEGIN`
    /// (`BEGIN IMMEDIATE`), waiting there for other writers, so that its first write cannot
    /// fail because another connection wrote since its first read
    /// ([`Error::SerializationFailure`], `SQLITE_BUSY_SNAPSHOT`). Other dialects lock rows
    /// as they write and ignore it. The ORM's own multi-statement writes (chunked inserts)
    /// begin this way.
    pub fn for_write(mut self) -> Self {
        self.for_write = true;
        self
    }

    /// The isolation level asked for, if any.
    #[cfg_attr(not(feature = "mongodb"), allow(dead_code))]
    pub(crate) fn isolation_level(self) -> Option<IsolationLevel> {
        self.isolation
    }

    /// Whether a read-only transaction was asked for.
    #[cfg_attr(not(feature = "mongodb"), allow(dead_code))]
    pub(crate) fn is_read_only(self) -> bool {
        self.read_only
    }

    /// The statement that begins such a transaction on `dialect`.
    pub(crate) fn begin_sql(self, dialect: Dialect) -> Result<String> {
        let mode = if self.read_only { " READ ONLY" } else { "" };
        Ok(match dialect {
            Dialect::Postgres => match self.isolation {
                Some(level) => format!("BEGIN ISOLATION LEVEL {}{mode}", level.sql()),
                None => format!("BEGIN{mode}"),
            },
            // MySQL sets the level for the next transaction, before it starts.
            Dialect::MySql => match self.isolation {
                Some(level) => {
                    format!(
                        "SET TRANSACTION ISOLATION LEVEL {}; START TRANSACTION{mode}",
                        level.sql()
                    )
                }
                None => format!("START TRANSACTION{mode}"),
            },
            Dialect::Sqlite if self.read_only => {
                return Err(Error::Config(
                    "SQLite has no read-only transactions; open the database read-only \
                     (`sqlite://file.db?mode=ro`) instead"
                        .to_owned(),
                ));
            }
            Dialect::Sqlite if self.for_write => "BEGIN IMMEDIATE".to_owned(),
            Dialect::Sqlite => "BEGIN".to_owned(),
        })
    }
}

/// The driver's transaction, one variant per backend.
pub(crate) enum TxConn {
    #[cfg(feature = "sqlite")]
    Sqlite(super::sqlite::PooledSqlite),
    #[cfg(feature = "postgres")]
    Postgres(super::remote_pool::PooledTx<super::remote_pool::SqlxConnect<sqlx::Postgres>>),
    #[cfg(feature = "postgres-native")]
    PostgresNative(super::remote_pool::PooledTx<super::postgres_native::NativeConnect>),
    #[cfg(feature = "mysql")]
    MySql(super::remote_pool::PooledTx<super::remote_pool::SqlxConnect<sqlx::MySql>>),
    #[cfg(feature = "mysql-native")]
    MySqlNative(super::remote_pool::PooledTx<super::mysql_native::NativeConnect>),
    #[cfg(feature = "mongodb")]
    Mongo(Box<super::mongo::MongoTx>),
    #[cfg(feature = "dynamodb")]
    Dynamo(Box<super::dynamo::DynamoTx>),
    #[cfg(feature = "mock")]
    Mock(super::mock::MockConn),
    #[allow(dead_code)]
    None(std::convert::Infallible),
}

struct Shared {
    backend: Backend,
    /// The open transaction; `None` once committed or rolled back.
    conn: Mutex<Option<TxConn>>,
    /// Savepoints dropped without commit or rollback: rolled back before the next statement
    /// (a destructor cannot run async code).
    abandoned: SyncMutex<Vec<String>>,
    savepoints: AtomicU32,
    /// The `Db`'s record of schema changes, told at commit when this transaction ran DDL.
    schema_clock: Arc<SchemaClock>,
    /// Whether DDL ran in this transaction.
    changed_schema: AtomicBool,
}

/// An open transaction. Dropping every handle without [`commit`](Transaction::commit) rolls it
/// back (also when a panic unwinds); a savepoint handle rolls back to its savepoint.
#[derive(Clone)]
pub struct Transaction {
    shared: Arc<Shared>,
    /// `Some(name)` for a savepoint inside the transaction.
    savepoint: Option<Arc<Savepoint>>,
}

struct Savepoint {
    name: String,
    shared: Arc<Shared>,
    finished: std::sync::atomic::AtomicBool,
}

impl Drop for Savepoint {
    fn drop(&mut self) {
        if !self.finished.load(Ordering::Acquire) {
            let sql = format!("ROLLBACK TO SAVEPOINT {}", self.name);
            self.shared
                .abandoned
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(sql);
        }
    }
}

impl std::fmt::Debug for Transaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("backend", &self.shared.backend)
            .field("savepoint", &self.savepoint.as_ref().map(|s| &s.name))
            .finish()
    }
}

impl Transaction {
    pub(crate) fn new(backend: Backend, schema_clock: Arc<SchemaClock>, conn: TxConn) -> Self {
        Transaction {
            shared: Arc::new(Shared {
                backend,
                conn: Mutex::new(Some(conn)),
                abandoned: SyncMutex::new(Vec::new()),
                savepoints: AtomicU32::new(0),
                schema_clock,
                changed_schema: AtomicBool::new(false),
            }),
            savepoint: None,
        }
    }

    /// Locks the connection, first rolling back savepoints abandoned by dropped handles.
    async fn lock(&self) -> Result<MutexGuard<'_, Option<TxConn>>> {
        let mut guard = self.shared.conn.lock().await;
        if guard.is_none() {
            return Err(Error::InvalidQuery(
                "the transaction was already committed or rolled back".to_owned(),
            ));
        }
        let abandoned = std::mem::take(
            &mut *self
                .shared
                .abandoned
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        for sql in abandoned {
            run_raw(guard.as_mut().expect("checked above"), &sql).await?;
        }
        Ok(guard)
    }

    /// Opens a savepoint: a nested transaction whose `commit` releases the savepoint and whose
    /// `rollback` (or drop) undoes only what ran since it.
    ///
    /// MongoDB has no savepoints: [`Error::Config`] there.
    pub async fn savepoint(&self) -> Result<Transaction> {
        if !self.shared.backend.capabilities().savepoints {
            return Err(Error::Config(format!(
                "{} has no savepoints; split the work into separate transactions",
                self.shared.backend
            )));
        }
        let n = self.shared.savepoints.fetch_add(1, Ordering::Relaxed);
        let name = format!("orm_savepoint_{n}");
        let mut guard = self.lock().await?;
        run_raw(
            guard.as_mut().expect("locked"),
            &format!("SAVEPOINT {name}"),
        )
        .await?;
        Ok(Transaction {
            shared: self.shared.clone(),
            savepoint: Some(Arc::new(Savepoint {
                name,
                shared: self.shared.clone(),
                finished: false.into(),
            })),
        })
    }

    /// Commits (or, for a savepoint, releases it). Other handles of a committed transaction
    /// fail from then on.
    pub async fn commit(self) -> Result<()> {
        self.finish(true).await
    }

    /// Rolls back (or, for a savepoint, rolls back to it).
    pub async fn rollback(self) -> Result<()> {
        self.finish(false).await
    }

    async fn finish(self, commit: bool) -> Result<()> {
        let mut guard = self.lock().await?;
        if let Some(savepoint) = &self.savepoint {
            if savepoint.finished.swap(true, Ordering::AcqRel) {
                return Err(Error::InvalidQuery(
                    "the savepoint was already finished".to_owned(),
                ));
            }
            let verb = if commit {
                "RELEASE SAVEPOINT"
            } else {
                "ROLLBACK TO SAVEPOINT"
            };
            let conn = guard.as_mut().expect("locked");
            return run_raw(conn, &format!("{verb} {}", savepoint.name))
                .await
                .map(drop);
        }
        let ended: Result<()> = match guard.take().expect("locked") {
            #[cfg(feature = "sqlite")]
            TxConn::Sqlite(mut conn) => {
                let sql = if commit { "COMMIT" } else { "ROLLBACK" };
                SqlConn::Sqlite(conn.conn())
                    .execute_raw(sql)
                    .await
                    .map(drop)
            }
            #[cfg(feature = "postgres")]
            TxConn::Postgres(tx) => tx.end(commit).await,
            #[cfg(feature = "postgres-native")]
            TxConn::PostgresNative(tx) => tx.end(commit).await,
            #[cfg(feature = "mysql")]
            TxConn::MySql(tx) => tx.end(commit).await.map_err(|e| certification(e, commit)),
            #[cfg(feature = "mysql-native")]
            TxConn::MySqlNative(tx) => tx.end(commit).await.map_err(|e| certification(e, commit)),
            #[cfg(feature = "mongodb")]
            TxConn::Mongo(tx) => tx.finish(commit).await,
            #[cfg(feature = "dynamodb")]
            TxConn::Dynamo(tx) => tx.finish(commit).await,
            #[cfg(feature = "mock")]
            TxConn::Mock(conn) => conn.finish(commit),
            TxConn::None(never) => match never {},
        };
        if commit && ended.is_ok() && self.shared.changed_schema.load(Ordering::Acquire) {
            // Other connections may hold statements prepared against the old schema.
            self.shared.schema_clock.record_change();
        }
        ended
    }
}

impl TxConn {
    /// The transaction's SQL connection, lent for one statement.
    fn sql(&mut self) -> Result<SqlConn<'_>> {
        match self {
            #[cfg(feature = "sqlite")]
            TxConn::Sqlite(conn) => Ok(SqlConn::Sqlite(conn.conn())),
            #[cfg(feature = "postgres")]
            TxConn::Postgres(tx) => Ok(SqlConn::Postgres(tx.conn())),
            #[cfg(feature = "postgres-native")]
            TxConn::PostgresNative(tx) => Ok(SqlConn::PostgresNative(tx.conn())),
            #[cfg(feature = "mysql")]
            TxConn::MySql(tx) => Ok(SqlConn::MySql(tx.conn())),
            #[cfg(feature = "mysql-native")]
            TxConn::MySqlNative(tx) => Ok(SqlConn::MySqlNative(tx.conn())),
            #[cfg(feature = "mock")]
            TxConn::Mock(conn) => Ok(SqlConn::Mock(conn)),
            #[cfg(feature = "mongodb")]
            TxConn::Mongo(_) => Err(Error::InvalidQuery(
                "internal error: a SQL statement reached a MongoDB transaction".to_owned(),
            )),
            #[cfg(feature = "dynamodb")]
            TxConn::Dynamo(_) => Err(Error::InvalidQuery(
                "internal error: a SQL statement reached a DynamoDB transaction".to_owned(),
            )),
            TxConn::None(never) => match *never {},
        }
    }
}

/// Runs SQL text without parameters on the transaction's connection.
async fn run_raw(conn: &mut TxConn, sql: &str) -> Result<ExecResult> {
    conn.sql()?.execute_raw(sql).await
}

impl Target for Transaction {
    type Session<'a> = MutexGuard<'a, Option<TxConn>>;

    fn target_backend(&self) -> Backend {
        self.shared.backend
    }

    fn in_transaction(&self) -> bool {
        true
    }

    async fn session(&self) -> Result<Self::Session<'_>> {
        self.lock().await
    }

    fn sql<'c>(session: &'c mut Self::Session<'_>) -> Result<SqlConn<'c>> {
        session.as_mut().expect("locked").sql()
    }

    #[cfg(feature = "mongodb")]
    fn mongo<'c>(session: &'c mut Self::Session<'_>) -> Result<super::mongo::Target<'c>> {
        match session.as_mut().expect("locked") {
            TxConn::Mongo(tx) => Ok(super::mongo::Target::tx(tx)),
            _ => Err(Error::InvalidQuery(
                "internal error: a MongoDB statement reached a SQL transaction".to_owned(),
            )),
        }
    }

    #[cfg(feature = "dynamodb")]
    fn dynamo<'c>(session: &'c mut Self::Session<'_>) -> Result<super::dynamo::Target<'c>> {
        match session.as_mut().expect("locked") {
            TxConn::Dynamo(tx) => Ok(super::dynamo::Target::tx(tx)),
            _ => Err(Error::InvalidQuery(
                "internal error: a DynamoDB statement reached another transaction".to_owned(),
            )),
        }
    }

    async fn run_raw_sql(&self, sql: &str) -> Result<ExecResult> {
        let mut guard = self.lock().await?;
        let conn = guard.as_mut().expect("locked");
        let done = run_raw(conn, sql).await?;
        if changes_schema(sql) {
            // Later statements of this transaction are prepared against the new schema.
            conn.sql()?.forget_statements().await?;
            self.shared.changed_schema.store(true, Ordering::Release);
        }
        Ok(done)
    }
}

executor_for_target!(Transaction);

/// How [`Db::transaction_with_retry`](crate::Db::transaction_with_retry) retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// Delay before the second attempt; doubled each time, with jitter.
    pub initial_backoff: Duration,
    /// Upper bound of one delay.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(500),
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `attempt + 1` (attempt counts from 1): exponential, capped,
    /// with up to 50% random jitter so that conflicting clients do not retry in lockstep.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .initial_backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let capped = exp.min(self.max_backoff);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let jitter = capped.mul_f64(f64::from(nanos % 500) / 1000.0);
        capped.saturating_sub(jitter)
    }
}

/// MySQL/MariaDB's error of a `COMMIT` (`commit`) or `ROLLBACK`: InnoDB reports a deadlock
/// while a statement waits for a lock, never on COMMIT, so a 1213 there is a Galera node's
/// certification failure (another node committed a conflicting write first), a serialization
/// failure.
#[cfg(feature = "mysql")]
fn certification(error: Error, commit: bool) -> Error {
    match error {
        Error::Deadlock { source } if commit => Error::SerializationFailure { source },
        other => other,
    }
}
