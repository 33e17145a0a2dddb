//! Transactions: a guard that rolls back on drop, closures that commit on `Ok`, isolation
//! levels, read-only transactions, savepoints, and a retry helper for serialization failures.
//!
//! A [`Transaction`] is a cheap handle (clones share one transaction) and an [`Executor`], so
//! every query method that takes `&db` also takes `&tx`.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::Duration;

use tokio::sync::{Mutex, MutexGuard};

#[cfg(feature = "_sqlx")]
use super::prepared::forget_if_stale;
use super::prepared::{SchemaClock, changes_schema};
use super::sql_runner::{self, SqlRunner};
use super::{Backend, Decoder, ExecResult, Executor};
use crate::error::{Error, Result};
use crate::query::ir::{InsertQuery, OnConflict, SelectQuery, Statement};
use crate::sql::{Compiled, Dialect};

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
    fn sql(self) -> &'static str {
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
            Dialect::Sqlite => "BEGIN".to_owned(),
        })
    }
}

/// The driver's transaction, one variant per backend.
pub(crate) enum TxConn {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    #[cfg(feature = "mysql")]
    MySql(sqlx::Transaction<'static, sqlx::MySql>),
    #[cfg(feature = "mongodb")]
    Mongo(Box<super::mongo::MongoTx>),
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
        if !self.shared.backend.is_sql() {
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
            TxConn::Sqlite(tx) => end_transaction(tx, commit).await,
            #[cfg(feature = "postgres")]
            TxConn::Postgres(tx) => end_transaction(tx, commit).await,
            #[cfg(feature = "mysql")]
            TxConn::MySql(tx) => end_transaction(tx, commit).await,
            #[cfg(feature = "mongodb")]
            TxConn::Mongo(tx) => tx.finish(commit).await,
            TxConn::None(never) => match never {},
        };
        if commit && ended.is_ok() && self.shared.changed_schema.load(Ordering::Acquire) {
            // Other connections may hold statements prepared against the old schema.
            self.shared.schema_clock.record_change();
        }
        ended
    }
}

/// Commits or rolls back the driver's transaction.
#[cfg(feature = "_sqlx")]
async fn end_transaction<DB: sqlx::Database>(
    tx: sqlx::Transaction<'static, DB>,
    commit: bool,
) -> Result<()> {
    let done = if commit {
        tx.commit().await
    } else {
        tx.rollback().await
    };
    done.map_err(super::from_sqlx)
}

/// Dispatches one call to the transaction's backend module, on its connection (which forgets
/// its prepared statements when one of them outlived a schema change).
macro_rules! on_conn {
    ($conn:expr, $func:ident ( $($arg:expr),* )) => {
        match $conn {
            #[cfg(feature = "sqlite")]
            TxConn::Sqlite(tx) => {
                let result = super::pool::sqlite::$func(&mut **tx, $($arg),*).await;
                forget_if_stale(&mut **tx, result).await
            }
            #[cfg(feature = "postgres")]
            TxConn::Postgres(tx) => {
                let result = super::pool::postgres::$func(&mut **tx, $($arg),*).await;
                forget_if_stale(&mut **tx, result).await
            }
            #[cfg(feature = "mysql")]
            TxConn::MySql(tx) => {
                let result = super::pool::mysql::$func(&mut **tx, $($arg),*).await;
                forget_if_stale(&mut **tx, result).await
            }
            #[cfg(feature = "mongodb")]
            TxConn::Mongo(_) => Err(Error::InvalidQuery(
                "internal error: a SQL statement reached a MongoDB transaction".to_owned(),
            )),
            TxConn::None(never) => match *never {},
        }
    };
}

async fn run_raw(conn: &mut TxConn, sql: &str) -> Result<ExecResult> {
    on_conn!(conn, execute_raw(sql))
}

/// Makes the connection forget its prepared statements (after DDL it ran itself).
#[cfg_attr(not(feature = "_sqlx"), allow(unused_variables, unreachable_code))]
async fn forget_statements(conn: &mut TxConn) -> Result<()> {
    #[cfg(feature = "_sqlx")]
    use sqlx::Connection as _;
    let done = match conn {
        #[cfg(feature = "sqlite")]
        TxConn::Sqlite(tx) => tx.clear_cached_statements().await,
        #[cfg(feature = "postgres")]
        TxConn::Postgres(tx) => tx.clear_cached_statements().await,
        #[cfg(feature = "mysql")]
        TxConn::MySql(tx) => tx.clear_cached_statements().await,
        #[cfg(feature = "mongodb")]
        TxConn::Mongo(_) => Ok(()),
        TxConn::None(never) => match *never {},
    };
    #[cfg(feature = "_sqlx")]
    return done.map_err(super::from_sqlx);
    #[cfg(not(feature = "_sqlx"))]
    done
}

impl SqlRunner for Transaction {
    fn sql_dialect(&self) -> Dialect {
        // `Executor for Transaction` sends MongoDB transactions to the MongoDB executor.
        self.shared
            .backend
            .dialect()
            .expect("a MongoDB transaction has no SQL dialect")
    }

    async fn run_fetch_all<T: Send + 'static>(
        &self,
        statement: Compiled,
        decode: Decoder<T>,
    ) -> Result<Vec<T>> {
        let mut guard = self.lock().await?;
        on_conn!(
            guard.as_mut().expect("locked"),
            fetch_all(statement, decode)
        )
    }

    async fn run_fetch_optional<T: Send + 'static>(
        &self,
        statement: Compiled,
        decode: Decoder<T>,
    ) -> Result<Option<T>> {
        let mut guard = self.lock().await?;
        on_conn!(
            guard.as_mut().expect("locked"),
            fetch_optional(statement, decode)
        )
    }

    async fn run_execute(&self, statement: Compiled) -> Result<ExecResult> {
        let mut guard = self.lock().await?;
        on_conn!(guard.as_mut().expect("locked"), execute(statement))
    }

    async fn run_chunked_insert(
        &self,
        query: InsertQuery,
        on_conflict: Option<OnConflict>,
    ) -> Result<ExecResult> {
        super::sql_runner::insert_in_chunks(self, query, on_conflict).await
    }
}

impl Transaction {
    pub(crate) async fn run_raw_sql(&self, sql: &str) -> Result<ExecResult> {
        let mut guard = self.lock().await?;
        let conn = guard.as_mut().expect("locked");
        let done = run_raw(conn, sql).await?;
        if changes_schema(sql) {
            // Later statements of this transaction are prepared against the new schema.
            forget_statements(conn).await?;
            self.shared.changed_schema.store(true, Ordering::Release);
        }
        Ok(done)
    }
}

/// Runs `$sql` on a SQL transaction, `$mongo` (with a [`Target`](super::mongo::Target) on the
/// session) on MongoDB.
macro_rules! by_backend {
    ($self:ident, sql => $sql:expr, mongo($target:ident) => $mongo:expr) => {{
        #[cfg(feature = "mongodb")]
        if $self.shared.backend == Backend::MongoDb {
            let mut guard = $self.lock().await?;
            return match guard.as_mut().expect("locked") {
                TxConn::Mongo(tx) => {
                    let $target = super::mongo::Target::tx(tx);
                    $mongo
                }
                _ => Err(Error::InvalidQuery(
                    "internal error: a MongoDB statement reached a SQL transaction".to_owned(),
                )),
            };
        }
        $sql
    }};
}

impl Executor for Transaction {
    fn backend(&self) -> Backend {
        self.shared.backend
    }

    async fn fetch_all<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> Result<Vec<T>> {
        by_backend!(self,
            sql => sql_runner::fetch_all(self, query, decode).await,
            mongo(target) => super::mongo::fetch_all(target, query, decode).await)
    }

    async fn fetch_optional<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> Result<Option<T>> {
        by_backend!(self,
            sql => sql_runner::fetch_optional(self, query, decode).await,
            mongo(target) => super::mongo::fetch_optional(target, query, decode).await)
    }

    async fn count(&self, query: SelectQuery) -> Result<u64> {
        by_backend!(self,
            sql => sql_runner::count(self, query).await,
            mongo(target) => super::mongo::count(target, query).await)
    }

    async fn insert_returning<T: Send + 'static>(
        &self,
        query: InsertQuery,
        decode: Decoder<T>,
    ) -> Result<T> {
        by_backend!(self,
            sql => sql_runner::insert_returning(self, query, decode).await,
            mongo(target) => super::mongo::insert_returning(target, query, decode).await)
    }

    async fn execute(&self, statement: Statement) -> Result<ExecResult> {
        by_backend!(self,
            sql => sql_runner::execute(self, statement).await,
            mongo(target) => super::mongo::execute(target, statement).await)
    }

    async fn execute_raw(&self, sql: &str) -> Result<ExecResult> {
        by_backend!(self,
            sql => self.run_raw_sql(sql).await,
            mongo(_target) => super::mongo::execute_raw(sql))
    }

    async fn fetch_compiled<T: Send + 'static>(
        &self,
        statement: Compiled,
        decode: Decoder<T>,
    ) -> Result<Vec<T>> {
        by_backend!(self,
            sql => sql_runner::fetch_compiled(self, statement, decode).await,
            mongo(_target) => super::mongo::execute_raw(&statement.sql).map(|_| Vec::new()))
    }

    async fn execute_compiled(&self, statement: Compiled) -> Result<ExecResult> {
        by_backend!(self,
            sql => sql_runner::execute_compiled(self, statement).await,
            mongo(_target) => super::mongo::execute_raw(&statement.sql))
    }
}

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

/// Runs `body` in a transaction on `begin()`: commit on `Ok`, rollback on `Err` or panic.
pub(crate) async fn run_in_transaction<T, E, Fut>(
    tx: Transaction,
    body: impl FnOnce(Transaction) -> Fut,
) -> std::result::Result<T, E>
where
    Fut: Future<Output = std::result::Result<T, E>>,
    E: From<Error>,
{
    match body(tx.clone()).await {
        Ok(value) => {
            tx.commit().await?;
            Ok(value)
        }
        Err(e) => {
            // The body's error is the one to report; a failed rollback also ends the
            // transaction (the server rolls back when the connection is reset).
            let _rollback = tx.rollback().await;
            Err(e)
        }
    }
}
