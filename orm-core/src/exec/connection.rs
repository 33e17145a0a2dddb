//! [`Connection`]: one connection taken out of a [`Db`] pool for as long as it is held.
//!
//! Session state (advisory locks, `GET_LOCK`, `BEGIN EXCLUSIVE` run by hand, session
//! variables) lives on one connection; a pool may run each statement on a different one.
//! Tools that need such state, such as the migration runner, hold a `Connection` for the whole
//! run. It returns to the pool when dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Mutex;

#[cfg(any(feature = "postgres", feature = "mysql"))]
use super::acquire::{Wait, acquire};
use super::pool::{Db, Pool};
#[cfg(feature = "_sqlx")]
use super::prepared::forget_if_stale;
use super::prepared::{SchemaClock, changes_schema, starts_with_keyword};
use super::sql_runner::{self, SqlRunner};
use super::{Backend, Decoder, ExecResult, Executor};
use crate::error::Result;
use crate::query::ir::{InsertQuery, OnConflict, SelectQuery, Statement};
use crate::sql::{Compiled, Dialect};

enum Conn {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::pool::PoolConnection<sqlx::Sqlite>),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::pool::PoolConnection<sqlx::Postgres>),
    #[cfg(feature = "mysql")]
    MySql(sqlx::pool::PoolConnection<sqlx::MySql>),
    #[allow(dead_code)]
    None(std::convert::Infallible),
}

/// One dedicated connection of a [`Db`] pool, an [`Executor`] whose statements all run on the
/// same server session. Get one with [`Db::acquire`]; dropping it returns it to the pool.
pub struct Connection {
    dialect: Dialect,
    conn: Mutex<Conn>,
    /// The `Db`'s record of schema changes (see [`super::prepared`]).
    schema_clock: Arc<SchemaClock>,
    /// DDL ran since the last `COMMIT` run by hand: record it again at that commit.
    uncommitted_ddl: AtomicBool,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("dialect", &self.dialect)
            .finish()
    }
}

impl Db {
    /// Takes one connection out of the pool for as long as the returned [`Connection`] lives.
    ///
    /// Use it for session-level state (advisory locks, hand-run transactions). On an in-memory
    /// SQLite database this is the pool's only connection: other queries on the `Db` wait
    /// until it is dropped.
    #[cfg_attr(not(feature = "_sqlx"), allow(unreachable_code))]
    pub async fn acquire(&self) -> Result<Connection> {
        let conn = match &self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(p) => Conn::Sqlite(p.acquire().await.map_err(super::from_sqlx)?),
            #[cfg(feature = "postgres")]
            Pool::Postgres(p) => Conn::Postgres(acquire(p, Wait::Patient).await?),
            #[cfg(feature = "mysql")]
            Pool::MySql(p) => Conn::MySql(acquire(p, Wait::Patient).await?),
            #[cfg(feature = "mongodb")]
            Pool::Mongo(_) => {
                return Err(crate::error::Error::Config(
                    "MongoDB has no dedicated SQL connections; `Db::acquire` is for SQL databases"
                        .to_owned(),
                ));
            }
            Pool::None(never) => match *never {},
        };
        let dialect = self.backend().dialect().expect("acquired from a SQL pool");
        Ok(Connection {
            dialect,
            conn: Mutex::new(conn),
            schema_clock: self.schema_clock.clone(),
            uncommitted_ddl: AtomicBool::new(false),
        })
    }
}

/// Dispatches one call to the connection's backend module (the connection forgets its
/// prepared statements when one of them outlived a schema change).
macro_rules! on_conn {
    ($conn:expr, $func:ident ( $($arg:expr),* )) => {
        match $conn {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(c) => {
                let result = super::pool::sqlite::$func(&mut **c, $($arg),*).await;
                forget_if_stale(&mut **c, result).await
            }
            #[cfg(feature = "postgres")]
            Conn::Postgres(c) => {
                let result = super::pool::postgres::$func(&mut **c, $($arg),*).await;
                forget_if_stale(&mut **c, result).await
            }
            #[cfg(feature = "mysql")]
            Conn::MySql(c) => {
                let result = super::pool::mysql::$func(&mut **c, $($arg),*).await;
                forget_if_stale(&mut **c, result).await
            }
            Conn::None(never) => match *never {},
        }
    };
}

#[cfg_attr(not(feature = "_sqlx"), allow(unused_variables, unreachable_code))]
impl SqlRunner for Connection {
    fn sql_dialect(&self) -> Dialect {
        self.dialect
    }

    async fn run_fetch_all<T: Send + 'static>(
        &self,
        statement: Compiled,
        decode: Decoder<T>,
    ) -> Result<Vec<T>> {
        let mut guard = self.conn.lock().await;
        on_conn!(&mut *guard, fetch_all(statement, decode))
    }

    async fn run_fetch_optional<T: Send + 'static>(
        &self,
        statement: Compiled,
        decode: Decoder<T>,
    ) -> Result<Option<T>> {
        let mut guard = self.conn.lock().await;
        on_conn!(&mut *guard, fetch_optional(statement, decode))
    }

    async fn run_execute(&self, statement: Compiled) -> Result<ExecResult> {
        let mut guard = self.conn.lock().await;
        on_conn!(&mut *guard, execute(statement))
    }

    /// On a bare connection the chunks run one after another, not atomically: run large
    /// inserts inside a transaction when they must be all or nothing.
    async fn run_chunked_insert(
        &self,
        query: InsertQuery,
        on_conflict: Option<OnConflict>,
    ) -> Result<ExecResult> {
        sql_runner::insert_in_chunks(self, query, on_conflict).await
    }
}

impl Connection {
    /// The connection's SQL dialect (a connection is always to a SQL database).
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    #[cfg_attr(not(feature = "_sqlx"), allow(unused_variables, unreachable_code))]
    pub(crate) async fn run_raw_sql(&self, sql: &str) -> Result<ExecResult> {
        let mut guard = self.conn.lock().await;
        let done: Result<ExecResult> = on_conn!(&mut *guard, execute_raw(sql));
        let done = done?;
        if changes_schema(sql) {
            // This connection's later statements are prepared against the new schema, and the
            // pool replaces connections opened before the change.
            forget_statements(&mut guard).await?;
            self.schema_clock.record_change();
            self.uncommitted_ddl.store(true, Ordering::Release);
        } else if ends_transaction(sql) && self.uncommitted_ddl.swap(false, Ordering::AcqRel) {
            // Connections opened while the DDL was uncommitted prepared against the old schema.
            self.schema_clock.record_change();
        }
        Ok(done)
    }
}

/// Makes the connection forget its prepared statements (after DDL it ran itself).
#[cfg_attr(not(feature = "_sqlx"), allow(unused_variables, unreachable_code))]
async fn forget_statements(conn: &mut Conn) -> Result<()> {
    #[cfg(feature = "_sqlx")]
    use sqlx::Connection as _;
    let done = match conn {
        #[cfg(feature = "sqlite")]
        Conn::Sqlite(c) => c.clear_cached_statements().await,
        #[cfg(feature = "postgres")]
        Conn::Postgres(c) => c.clear_cached_statements().await,
        #[cfg(feature = "mysql")]
        Conn::MySql(c) => c.clear_cached_statements().await,
        Conn::None(never) => match *never {},
    };
    #[cfg(feature = "_sqlx")]
    return done.map_err(super::from_sqlx);
    #[cfg(not(feature = "_sqlx"))]
    done
}

/// Whether `sql` is a `COMMIT` (or `END`) run by hand.
fn ends_transaction(sql: &str) -> bool {
    starts_with_keyword(sql, &["COMMIT", "END"])
}

impl Executor for Connection {
    fn backend(&self) -> Backend {
        Backend::Sql(self.dialect)
    }

    async fn fetch_all<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> Result<Vec<T>> {
        sql_runner::fetch_all(self, query, decode).await
    }

    async fn fetch_optional<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> Result<Option<T>> {
        sql_runner::fetch_optional(self, query, decode).await
    }

    async fn count(&self, query: SelectQuery) -> Result<u64> {
        sql_runner::count(self, query).await
    }

    async fn insert_returning<T: Send + 'static>(
        &self,
        query: InsertQuery,
        decode: Decoder<T>,
    ) -> Result<T> {
        sql_runner::insert_returning(self, query, decode).await
    }

    async fn execute(&self, statement: Statement) -> Result<ExecResult> {
        sql_runner::execute(self, statement).await
    }

    async fn execute_raw(&self, sql: &str) -> Result<ExecResult> {
        self.run_raw_sql(sql).await
    }

    async fn fetch_compiled<T: Send + 'static>(
        &self,
        statement: Compiled,
        decode: Decoder<T>,
    ) -> Result<Vec<T>> {
        sql_runner::fetch_compiled(self, statement, decode).await
    }

    async fn execute_compiled(&self, statement: Compiled) -> Result<ExecResult> {
        sql_runner::execute_compiled(self, statement).await
    }
}
