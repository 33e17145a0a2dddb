//! [`Connection`]: one connection taken out of a [`Db`] pool for as long as it is held.
//!
//! Session state (advisory locks, `GET_LOCK`, `BEGIN EXCLUSIVE` run by hand, session
//! variables) lives on one connection; a pool may run each statement on a different one.
//! Tools that need such state, such as the migration runner, hold a `Connection` for the whole
//! run. It returns to the pool when dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{Mutex, MutexGuard};

use super::pool::Db;
use super::prepared::{SchemaClock, changes_schema, starts_with_keyword};
use super::sql_driver::{PooledConn, SqlConn, Wait};
use super::target::{Target, executor_for_target};
use super::{Backend, ExecResult, Executor};
use crate::error::Result;
use crate::sql::Dialect;

/// One dedicated connection of a [`Db`] pool, an [`Executor`] whose statements all run on the
/// same server session. Get one with [`Db::acquire`]; dropping it returns it to the pool.
pub struct Connection {
    dialect: Dialect,
    conn: Mutex<PooledConn>,
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
    pub async fn acquire(&self) -> Result<Connection> {
        let conn = self
            .observed_acquire(self.pool.acquire_sql(Wait::Patient))
            .await?;
        let dialect = self.backend().dialect().expect("acquired from a SQL pool");
        Ok(Connection {
            dialect,
            conn: Mutex::new(conn),
            schema_clock: self.schema_clock.clone(),
            uncommitted_ddl: AtomicBool::new(false),
        })
    }
}

impl Target for Connection {
    type Session<'a> = MutexGuard<'a, PooledConn>;

    fn target_backend(&self) -> Backend {
        Backend::Sql(self.dialect)
    }

    async fn session(&self) -> Result<Self::Session<'_>> {
        Ok(self.conn.lock().await)
    }

    fn sql<'c>(session: &'c mut Self::Session<'_>) -> Result<SqlConn<'c>> {
        Ok(session.sql())
    }

    #[cfg(feature = "mongodb")]
    fn mongo<'c>(_session: &'c mut Self::Session<'_>) -> Result<super::mongo::Target<'c>> {
        Err(crate::error::Error::InvalidQuery(
            "internal error: a MongoDB statement reached a SQL connection".to_owned(),
        ))
    }

    #[cfg(feature = "dynamodb")]
    fn dynamo<'c>(_session: &'c mut Self::Session<'_>) -> Result<super::dynamo::Target<'c>> {
        Err(crate::error::Error::InvalidQuery(
            "internal error: a DynamoDB statement reached a SQL connection".to_owned(),
        ))
    }

    /// DDL makes this connection forget its prepared statements (its later statements are
    /// prepared against the new schema) and the pool replace connections opened before it;
    /// uncommitted DDL is recorded again at the `COMMIT` run by hand, since connections opened
    /// in between prepared against the old schema.
    async fn run_raw_sql(&self, sql: &str) -> Result<ExecResult> {
        let mut guard = self.conn.lock().await;
        let done = guard.sql().execute_raw(sql).await?;
        if changes_schema(sql) {
            guard.sql().forget_statements().await?;
            self.schema_clock.record_change();
            self.uncommitted_ddl.store(true, Ordering::Release);
        } else if ends_transaction(sql) && self.uncommitted_ddl.swap(false, Ordering::AcqRel) {
            self.schema_clock.record_change();
        }
        Ok(done)
    }
}

executor_for_target!(Connection);

impl Connection {
    /// The connection's SQL dialect (a connection is always to a SQL database).
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Closes the connection when it is dropped instead of returning it to the pool (the
    /// server then rolls back whatever transaction it left open).
    #[cfg(feature = "distributed")]
    pub(crate) fn close_on_drop(&mut self) {
        self.conn.get_mut().close_on_drop();
    }
}

/// Whether `sql` is a `COMMIT` (or `END`) run by hand.
fn ends_transaction(sql: &str) -> bool {
    starts_with_keyword(sql, &["COMMIT", "END"])
}
