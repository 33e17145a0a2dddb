//! sqlx's PostgreSQL and MySQL/MariaDB connections in the ORM's pool
//! ([`ConnPool`](super::conn_pool::ConnPool)): how one is opened ([`SqlxConnect`]) and a
//! transaction on one ([`PooledTx`]).

use super::acquire::{Address, Remote, connect_error};
use super::conn_pool::{ConnPool, Connect, Pooled};
use super::connect::Connector;
use super::sql_driver::{SqlDriver, Tracked};
use crate::error::{Error, Result};

/// Opens sqlx connections of `DB` with the options its [`Connector`] makes for each one (TLS,
/// credentials asked anew), then runs `setup` (session settings).
pub(crate) struct SqlxConnect<DB: Remote> {
    connector: Connector<DB>,
    address: Address,
    setup: Option<&'static str>,
}

/// The pool of a PostgreSQL or MySQL/MariaDB `Db`.
pub(crate) type RemotePool<DB> = ConnPool<SqlxConnect<DB>>;
/// A connection taken from a [`RemotePool`].
pub(crate) type RemoteConn<DB> = Pooled<SqlxConnect<DB>>;

impl<DB: Remote> SqlxConnect<DB> {
    /// Connections opened with the options of `connector`, each running `setup` first.
    pub(crate) fn new(connector: Connector<DB>, setup: Option<&'static str>) -> Self {
        let address = DB::address(connector.url_options());
        SqlxConnect {
            connector,
            address,
            setup,
        }
    }
}

impl<DB: Remote> Connect for SqlxConnect<DB>
where
    DB::Connection: SqlDriver,
{
    type Conn = Tracked<DB::Connection>;

    async fn connect(&self) -> Result<Tracked<DB::Connection>> {
        use sqlx::ConnectOptions;
        let mut conn = self
            .connector
            .open(|options| async move {
                options
                    .connect()
                    .await
                    .map_err(|e| connect_error(e, &self.address))
            })
            .await?;
        if let Some(sql) = self.setup {
            conn.execute_raw(sql).await?;
        }
        Ok(Tracked::new(conn))
    }

    async fn ping(conn: &mut Tracked<DB::Connection>) -> Result<()> {
        sqlx::Connection::ping(&mut conn.conn)
            .await
            .map_err(super::from_sqlx)
    }

    async fn reset(conn: &mut Tracked<DB::Connection>) -> Result<()> {
        // PostgreSQL only warns when no transaction is open; MySQL does nothing then.
        conn.conn.execute_raw("ROLLBACK").await.map(drop)
    }

    async fn close(conn: Tracked<DB::Connection>) {
        // A server that stopped answering must not hold up the pool.
        let close = sqlx::Connection::close(conn.conn);
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), close).await;
    }

    fn is_retired(conn: &Tracked<DB::Connection>) -> bool {
        conn.retired()
    }
}

/// A [`Connect`] whose connections are a SQL driver's connections, [`Tracked`] (sqlx's, the
/// native PostgreSQL driver's): what a [`PooledTx`] runs on.
pub(crate) trait DriverConnect: Connect<Conn = Tracked<Self::Driver>> {
    /// The driver's connection.
    type Driver: SqlDriver;
}

impl<DB: Remote> DriverConnect for SqlxConnect<DB>
where
    DB::Connection: SqlDriver,
{
    type Driver = DB::Connection;
}

/// A transaction on a pooled connection: `BEGIN …`, `COMMIT` and `ROLLBACK` run as
/// statements. Dropped while open, it asks the pool to roll the connection back before
/// lending it again (a destructor cannot wait for the server).
pub(crate) struct PooledTx<C: DriverConnect> {
    conn: Pooled<C>,
    open: bool,
}

impl<C: DriverConnect> PooledTx<C> {
    /// Runs `begin` (`BEGIN …` with the transaction's options) on `conn`.
    pub(crate) async fn begin(mut conn: Pooled<C>, begin: &str) -> Result<Self> {
        // Marked first: a BEGIN that failed part-way is rolled back before the next use.
        conn.mark_dirty();
        conn.conn().execute_raw(begin).await?;
        Ok(PooledTx { conn, open: true })
    }

    /// The connection, for the transaction's statements.
    pub(crate) fn conn(&mut self) -> &mut Tracked<C::Driver> {
        self.conn.conn()
    }

    /// Commits or rolls back. A connection lost during `COMMIT` is
    /// [`Error::CommitOutcomeUnknown`]: the server may have applied it.
    pub(crate) async fn end(mut self, commit: bool) -> Result<()> {
        let verb = if commit { "COMMIT" } else { "ROLLBACK" };
        let tracked = self.conn.conn();
        let result = tracked.conn.execute_raw(verb).await;
        let result = tracked.note(result.map_err(|e| match e {
            // COMMIT was sent (or about to be): whether the server applied it is unknown.
            Error::ConnectionLost { source } if commit => Error::CommitOutcomeUnknown { source },
            other => other,
        }));
        if result.is_ok() {
            self.open = false;
            self.conn.mark_clean();
        }
        result.map(drop)
    }
}

impl<C: DriverConnect> Drop for PooledTx<C> {
    fn drop(&mut self) {
        if self.open {
            self.conn.mark_dirty();
        }
    }
}
