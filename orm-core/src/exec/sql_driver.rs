//! The SQL drivers below the executor: one connection of any of them, borrowed for one
//! statement ([`SqlConn`]), and the per-dialect glue on sqlx that binds values, runs the
//! statement and decodes rows as they arrive.
//!
//! Every SQL statement of a pool, a transaction or a held connection reaches its driver through
//! [`SqlConn`]; this is the only place that matches on the driver, so a new SQL driver is one
//! variant here and one module (see `mock` for the smallest one).

use super::{Decoder, ExecResult};
use crate::error::Result;
use crate::sql::Compiled;

/// Per-backend glue: bind values, run, decode rows with the generated decoder.
macro_rules! sqlx_backend {
    ($module:ident, $feature:literal, $db:ty, $variant:ident, $last_id:expr) => {
        #[cfg(feature = $feature)]
        pub(crate) mod $module {
            use sqlx::query::Query;
            use sqlx::{AssertSqlSafe, Database};

            use super::super::{Decoder, ExecResult, RowRef, from_sqlx};
            use crate::error::Result;
            use crate::sql::Compiled;

            type Db = $db;

            fn bind(
                statement: Compiled,
            ) -> Result<Query<'static, Db, <Db as Database>::Arguments>> {
                let mut q = sqlx::query(AssertSqlSafe(statement.sql));
                for value in statement.values {
                    q = crate::exec::bind::$module::bind_value(q, value)?;
                }
                Ok(q)
            }

            pub(crate) async fn fetch_all<'e, T>(
                executor: impl sqlx::Executor<'e, Database = Db>,
                statement: Compiled,
                decode: Decoder<T>,
            ) -> Result<Vec<T>> {
                // Each row is decoded as it arrives and dropped at once: collecting every
                // driver row first and decoding afterwards kept them all alive, which made
                // malloc a third of the cost of a 1,000-row read (benches/NOTES.md). The
                // stream is a `dyn Stream`, so `poll_next` needs no `futures` import.
                let mut rows = bind(statement)?.fetch(executor);
                let mut decoded = Vec::new();
                while let Some(row) = std::future::poll_fn(|cx| rows.as_mut().poll_next(cx)).await {
                    decoded.push(decode(&RowRef::$variant(&row.map_err(from_sqlx)?))?);
                }
                Ok(decoded)
            }

            pub(crate) async fn fetch_optional<'e, T>(
                executor: impl sqlx::Executor<'e, Database = Db>,
                statement: Compiled,
                decode: Decoder<T>,
            ) -> Result<Option<T>> {
                let row = bind(statement)?
                    .fetch_optional(executor)
                    .await
                    .map_err(from_sqlx)?;
                row.as_ref()
                    .map(|row| decode(&RowRef::$variant(row)))
                    .transpose()
            }

            pub(crate) async fn execute<'e>(
                executor: impl sqlx::Executor<'e, Database = Db>,
                statement: Compiled,
            ) -> Result<ExecResult> {
                let done = bind(statement)?
                    .execute(executor)
                    .await
                    .map_err(from_sqlx)?;
                #[allow(clippy::redundant_closure_call)]
                let last_insert_id = ($last_id)(&done);
                Ok(ExecResult {
                    rows_affected: done.rows_affected(),
                    last_insert_id,
                })
            }

            pub(crate) async fn execute_raw<'e>(
                executor: impl sqlx::Executor<'e, Database = Db>,
                sql: &str,
            ) -> Result<ExecResult> {
                let done = executor
                    .execute(AssertSqlSafe(sql.to_owned()))
                    .await
                    .map_err(from_sqlx)?;
                Ok(ExecResult {
                    rows_affected: done.rows_affected(),
                    last_insert_id: None,
                })
            }
        }
    };
}

sqlx_backend!(
    sqlite,
    "sqlite",
    sqlx::Sqlite,
    Sqlite,
    |r: &sqlx::sqlite::SqliteQueryResult| { Some(r.last_insert_rowid()) }
);
sqlx_backend!(
    postgres,
    "postgres",
    sqlx::Postgres,
    Postgres,
    |_: &sqlx::postgres::PgQueryResult| { None }
);
sqlx_backend!(
    mysql,
    "mysql",
    sqlx::MySql,
    MySql,
    |r: &sqlx::mysql::MySqlQueryResult| {
        i64::try_from(r.last_insert_id()).ok().filter(|id| *id != 0)
    }
);

/// How long an acquire waits for a server that refuses connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Up to the pool's acquire timeout, reconnecting promptly when the server is back.
    Patient,
    /// Not at all: a refused connection is an [`Error::Connection`](crate::Error::Connection) at once.
    FailFast,
}

/// One connection of a SQL driver, borrowed for one statement (from a pool, a transaction or a
/// held [`Connection`](super::Connection)).
pub(crate) enum SqlConn<'c> {
    #[cfg(feature = "sqlite")]
    Sqlite(&'c mut sqlx::SqliteConnection),
    #[cfg(feature = "postgres")]
    Postgres(&'c mut sqlx::PgConnection),
    #[cfg(feature = "mysql")]
    MySql(&'c mut sqlx::MySqlConnection),
    #[cfg(feature = "mock")]
    Mock(&'c super::mock::MockConn),
    #[allow(dead_code)]
    None(std::convert::Infallible, std::marker::PhantomData<&'c ()>),
}

/// Runs `$func` of the connection's driver module; a sqlx connection then forgets its prepared
/// statements when one of them outlived a schema change ([`forget_if_stale`]).
macro_rules! on_driver {
    ($conn:expr, $func:ident ( $($arg:expr),* )) => {
        match $conn {
            #[cfg(feature = "sqlite")]
            SqlConn::Sqlite(c) => {
                let result = sqlite::$func(&mut *c, $($arg),*).await;
                forget_if_stale(c, result).await
            }
            #[cfg(feature = "postgres")]
            SqlConn::Postgres(c) => {
                let result = postgres::$func(&mut *c, $($arg),*).await;
                forget_if_stale(c, result).await
            }
            #[cfg(feature = "mysql")]
            SqlConn::MySql(c) => {
                let result = mysql::$func(&mut *c, $($arg),*).await;
                forget_if_stale(c, result).await
            }
            #[cfg(feature = "mock")]
            SqlConn::Mock(c) => c.$func($($arg),*),
            SqlConn::None(never, _) => match never {},
        }
    };
}

#[cfg(feature = "_sqlx")]
use super::prepared::forget_if_stale;

#[cfg_attr(not(feature = "_sqlx"), allow(unused_variables))]
impl SqlConn<'_> {
    /// Runs a query and decodes every row as it arrives.
    pub(crate) async fn fetch_all<T>(
        self,
        statement: Compiled,
        decode: Decoder<T>,
    ) -> Result<Vec<T>> {
        on_driver!(self, fetch_all(statement, decode))
    }

    /// Runs a query and decodes its first row, if any.
    pub(crate) async fn fetch_optional<T>(
        self,
        statement: Compiled,
        decode: Decoder<T>,
    ) -> Result<Option<T>> {
        on_driver!(self, fetch_optional(statement, decode))
    }

    /// Runs a statement that returns no rows.
    pub(crate) async fn execute(self, statement: Compiled) -> Result<ExecResult> {
        on_driver!(self, execute(statement))
    }

    /// Runs SQL text without parameters (DDL, `SAVEPOINT`, session settings).
    pub(crate) async fn execute_raw(self, sql: &str) -> Result<ExecResult> {
        on_driver!(self, execute_raw(sql))
    }

    /// Makes the connection forget its prepared statements (after DDL it ran itself: its later
    /// statements are prepared against the new schema).
    pub(crate) async fn forget_statements(self) -> Result<()> {
        #[cfg(feature = "_sqlx")]
        use sqlx::Connection as _;
        let done = match self {
            #[cfg(feature = "sqlite")]
            SqlConn::Sqlite(c) => c.clear_cached_statements().await,
            #[cfg(feature = "postgres")]
            SqlConn::Postgres(c) => c.clear_cached_statements().await,
            #[cfg(feature = "mysql")]
            SqlConn::MySql(c) => c.clear_cached_statements().await,
            #[cfg(feature = "mock")]
            SqlConn::Mock(_) => return Ok(()),
            SqlConn::None(never, _) => match never {},
        };
        #[cfg(feature = "_sqlx")]
        return done.map_err(super::from_sqlx);
        #[cfg(not(feature = "_sqlx"))]
        done
    }
}

/// A connection taken out of a SQL pool, returned to it when dropped.
pub(crate) enum PooledConn {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::pool::PoolConnection<sqlx::Sqlite>),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::pool::PoolConnection<sqlx::Postgres>),
    #[cfg(feature = "mysql")]
    MySql(sqlx::pool::PoolConnection<sqlx::MySql>),
    #[cfg(feature = "mock")]
    Mock(super::mock::MockConn),
    #[allow(dead_code)]
    None(std::convert::Infallible),
}

impl PooledConn {
    /// The connection, lent for one statement.
    pub(crate) fn sql(&mut self) -> SqlConn<'_> {
        match self {
            #[cfg(feature = "sqlite")]
            PooledConn::Sqlite(c) => SqlConn::Sqlite(c),
            #[cfg(feature = "postgres")]
            PooledConn::Postgres(c) => SqlConn::Postgres(c),
            #[cfg(feature = "mysql")]
            PooledConn::MySql(c) => SqlConn::MySql(c),
            #[cfg(feature = "mock")]
            PooledConn::Mock(c) => SqlConn::Mock(c),
            PooledConn::None(never) => match *never {},
        }
    }
}
