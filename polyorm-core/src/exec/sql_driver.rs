//! The SQL drivers below the executor: what a driver does with one of its connections
//! ([`SqlDriver`], one implementation per driver), one connection of any of them borrowed for
//! one statement ([`SqlConn`]), and the per-dialect glue on sqlx (PostgreSQL, MySQL/MariaDB)
//! that binds values, runs the statement and decodes rows as they arrive. SQLite has its own
//! driver (`super::sqlite`).
//!
//! Every SQL statement of a pool, a transaction or a held connection reaches its driver through
//! [`SqlConn`]; this is the only place that matches on the driver, so a new SQL driver is one
//! [`SqlDriver`] implementation and one variant here (see `mock` for the smallest one).

use std::future::Future;

use super::{Decoder, ExecResult, RowStream};
use crate::error::Result;
use crate::sql::Shared;

/// What a SQL driver does with one of its connections. Transactions are SQL statements run on
/// one connection (`BEGIN …`, `SAVEPOINT …`, `COMMIT`), so these five are all a driver needs.
///
/// A statement is borrowed: its values are encoded from it, not copied first, and a retry (a
/// statement prepared before a schema change, a read on a connection found lost) runs the same
/// compiled statement again without compiling anew. A stream owns its statement: it runs
/// after the call has returned.
pub(crate) trait SqlDriver: Send {
    /// Runs a query and decodes every row as it arrives (each driver row is dropped once
    /// decoded).
    fn fetch_all<T: Send>(
        &mut self,
        statement: &Shared,
        decode: Decoder<T>,
    ) -> impl Future<Output = Result<Vec<T>>> + Send;

    /// Runs a query and decodes its first row, if any.
    fn fetch_optional<T: Send>(
        &mut self,
        statement: &Shared,
        decode: Decoder<T>,
    ) -> impl Future<Output = Result<Option<T>>> + Send;

    /// Runs a query and hands its rows over one at a time, each decoded as it arrives
    /// (constant memory: no row is kept once handed over).
    fn fetch_stream<T: Send + 'static>(
        &mut self,
        statement: Shared,
        decode: Decoder<T>,
    ) -> RowStream<'_, T>;

    /// Runs a statement that returns no rows.
    fn execute(&mut self, statement: &Shared) -> impl Future<Output = Result<ExecResult>> + Send;

    /// Runs SQL text without parameters (DDL, transaction control, session settings).
    fn execute_raw(&mut self, sql: &str) -> impl Future<Output = Result<ExecResult>> + Send;

    /// Forgets the connection's prepared statements (after a schema change: its later
    /// statements are prepared against the new schema).
    fn forget_statements(&mut self) -> impl Future<Output = Result<()>> + Send;

    /// A statement larger than this (text or encoded values, in bytes) leaves the server's
    /// session slower for the connection's later statements, so its pool closes it instead of
    /// lending it again ([`Tracked`]); `None` where no statement does.
    // Read only by `Tracked`, which the pooled server drivers use.
    #[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
    const SPOILS_SESSION_ABOVE: Option<usize> = None;
}

/// MariaDB/MySQL grow a session's network buffer to the largest packet the client sent (a
/// statement's text, or its values) and keep it that size until the connection closes. The
/// server writes a result set through that buffer, so it sends nothing of it until that much is
/// ready (16 KiB at a time in a fresh session, `net_buffer_length`): a client that decodes rows
/// as they arrive then waits for the whole result before decoding any of it. After one
/// 10,000-row insert (a 180 KiB packet) a 10,000-row read on the same connection took 9.4 ms
/// instead of 5.0 ms (BENCHMARKS.md). Replacing the connection costs a connect, a login and a
/// prepare per statement it runs again; a statement this large is several milliseconds of
/// server work itself, and a buffer this size holds back about 0.6 ms of a local server's rows.
#[cfg(feature = "mysql")]
pub(crate) const MYSQL_SPOILS_SESSION_ABOVE: usize = 64 * 1024;

/// About the bytes `values` take once encoded (text and bytes their length, anything else a
/// fixed-size field, each with a length prefix): what the driver's argument buffer reserves.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn encoded_size(values: &[crate::value::Value]) -> usize {
    use crate::value::Value;
    values
        .iter()
        .map(|value| match value {
            Value::Text(s) => s.len() + 4,
            Value::Bytes(b) => b.len() + 4,
            _ => 12,
        })
        .sum()
}

/// Per-backend glue: bind values, run, decode rows with the generated decoder.
macro_rules! sqlx_backend {
    ($module:ident, $feature:literal, $db:ty, $conn:ty, $variant:ident, $last_id:expr,
     $spoils_above:expr) => {
        #[cfg(feature = $feature)]
        pub(crate) mod $module {
            use sqlx::query::Query;
            use sqlx::{Arguments, AssertSqlSafe, Database};

            use super::super::prepared::forget_if_stale;
            use super::super::{Decoder, ExecResult, RowRef, RowStream, from_sqlx};
            use std::sync::Arc;

            use crate::error::Result;
            use crate::sql::{Shared, SqlText};

            type Db = $db;

            /// The query of `statement`, its values encoded from the borrowed statement
            /// (each is written into the argument buffer at once, so nothing is copied first)
            /// and its kept text shared with the statement cache, not copied: a statement
            /// runs again (a retry) from the same compiled form.
            fn bind(statement: &Shared) -> Result<Query<'static, Db, <Db as Database>::Arguments>> {
                use crate::exec::bind::$module::{Args, bind_value};
                // The arguments are built beside the query, sized once: binding through
                // `Query::bind` moved the query in and out per value and grew its buffer
                // value by value (a quarter of a 100-row insert's client instructions).
                let mut args = Args::default();
                args.reserve(
                    statement.values.len(),
                    super::encoded_size(&statement.values),
                );
                for value in &statement.values {
                    bind_value(&mut args, value)?;
                }
                Ok(match &statement.sql {
                    SqlText::Kept(sql) => sqlx::query_with(AssertSqlSafe(Arc::clone(sql)), args),
                    SqlText::Fresh(sql) => sqlx::query_with(AssertSqlSafe(sql.as_str()), args),
                })
            }

            pub(crate) async fn fetch_all<'e, T>(
                executor: impl sqlx::Executor<'e, Database = Db>,
                statement: &Shared,
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

            /// The rows of `statement` on `conn`, decoded one at a time; an error that tells
            /// the statement was prepared before a schema change makes `conn` forget its
            /// statements (after the driver's stream let go of it).
            pub(crate) fn fetch_stream<T: Send + 'static>(
                conn: &mut $conn,
                statement: Shared,
                decode: Decoder<T>,
            ) -> RowStream<'_, T> {
                Box::pin(async_stream::try_stream! {
                    let failed = {
                        let mut rows = bind(&statement)?.fetch(&mut *conn);
                        loop {
                            match std::future::poll_fn(|cx| rows.as_mut().poll_next(cx)).await {
                                Some(Ok(row)) => {
                                    // The `RowRef` ends here: it is not `Send` (SQLite's
                                    // row is in the enum) and must not live across `yield`.
                                    let decoded = decode(&RowRef::$variant(&row));
                                    yield decoded?;
                                }
                                Some(Err(e)) => break Some(from_sqlx(e)),
                                None => break None,
                            }
                        }
                    };
                    if let Some(e) = failed {
                        forget_if_stale(conn, Err::<(), _>(e)).await?;
                    }
                })
            }

            pub(crate) async fn fetch_optional<'e, T>(
                executor: impl sqlx::Executor<'e, Database = Db>,
                statement: &Shared,
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
                statement: &Shared,
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

            /// Each statement's error passes through `forget_if_stale`: a statement prepared
            /// before a schema change makes the connection forget its statements.
            impl super::SqlDriver for $conn {
                async fn fetch_all<T: Send>(
                    &mut self,
                    statement: &Shared,
                    decode: Decoder<T>,
                ) -> Result<Vec<T>> {
                    let result = fetch_all(&mut *self, statement, decode).await;
                    forget_if_stale(self, result).await
                }

                async fn fetch_optional<T: Send>(
                    &mut self,
                    statement: &Shared,
                    decode: Decoder<T>,
                ) -> Result<Option<T>> {
                    let result = fetch_optional(&mut *self, statement, decode).await;
                    forget_if_stale(self, result).await
                }

                fn fetch_stream<T: Send + 'static>(
                    &mut self,
                    statement: Shared,
                    decode: Decoder<T>,
                ) -> RowStream<'_, T> {
                    fetch_stream(self, statement, decode)
                }

                async fn execute(&mut self, statement: &Shared) -> Result<ExecResult> {
                    let result = execute(&mut *self, statement).await;
                    forget_if_stale(self, result).await
                }

                async fn execute_raw(&mut self, sql: &str) -> Result<ExecResult> {
                    let result = execute_raw(&mut *self, sql).await;
                    forget_if_stale(self, result).await
                }

                async fn forget_statements(&mut self) -> Result<()> {
                    use sqlx::Connection as _;
                    self.clear_cached_statements().await.map_err(from_sqlx)
                }

                const SPOILS_SESSION_ABOVE: Option<usize> = $spoils_above;
            }
        }
    };
}

sqlx_backend!(
    postgres,
    "postgres",
    sqlx::Postgres,
    sqlx::PgConnection,
    Postgres,
    |_: &sqlx::postgres::PgQueryResult| { None },
    None
);
sqlx_backend!(
    mysql,
    "mysql",
    sqlx::MySql,
    sqlx::MySqlConnection,
    MySql,
    |r: &sqlx::mysql::MySqlQueryResult| {
        i64::try_from(r.last_insert_id()).ok().filter(|id| *id != 0)
    },
    Some(super::MYSQL_SPOILS_SESSION_ABOVE)
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
    Sqlite(&'c mut super::sqlite::SqliteConn),
    #[cfg(feature = "postgres")]
    Postgres(&'c mut Tracked<sqlx::PgConnection>),
    #[cfg(feature = "postgres-native")]
    PostgresNative(&'c mut Tracked<super::postgres_native::PgNativeConn>),
    #[cfg(feature = "mysql")]
    MySql(&'c mut Tracked<sqlx::MySqlConnection>),
    #[cfg(feature = "mysql-native")]
    MySqlNative(&'c mut Tracked<super::mysql_native::MyNativeConn>),
    #[cfg(feature = "mock")]
    Mock(&'c mut super::mock::MockConn),
    #[allow(dead_code)]
    None(std::convert::Infallible, std::marker::PhantomData<&'c ()>),
}

/// Runs `$func` on the connection, whichever driver it is.
macro_rules! on_driver {
    ($conn:expr, $func:ident ( $($arg:expr),* )) => {
        match $conn {
            #[cfg(feature = "sqlite")]
            SqlConn::Sqlite(c) => c.$func($($arg),*).await,
            #[cfg(feature = "postgres")]
            SqlConn::Postgres(c) => c.$func($($arg),*).await,
            #[cfg(feature = "postgres-native")]
            SqlConn::PostgresNative(c) => c.$func($($arg),*).await,
            #[cfg(feature = "mysql")]
            SqlConn::MySql(c) => c.$func($($arg),*).await,
            #[cfg(feature = "mysql-native")]
            SqlConn::MySqlNative(c) => c.$func($($arg),*).await,
            #[cfg(feature = "mock")]
            SqlConn::Mock(c) => c.$func($($arg),*).await,
            SqlConn::None(never, _) => match never {},
        }
    };
}

#[cfg_attr(
    not(any(feature = "_sqlx", feature = "sqlite", feature = "mock")),
    allow(unused_variables)
)]
impl<'c> SqlConn<'c> {
    /// Runs a query and decodes every row as it arrives.
    pub(crate) async fn fetch_all<T: Send>(
        self,
        statement: &Shared,
        decode: Decoder<T>,
    ) -> Result<Vec<T>> {
        on_driver!(self, fetch_all(statement, decode))
    }

    /// Runs a query and decodes its first row, if any.
    pub(crate) async fn fetch_optional<T: Send>(
        self,
        statement: &Shared,
        decode: Decoder<T>,
    ) -> Result<Option<T>> {
        on_driver!(self, fetch_optional(statement, decode))
    }

    /// Runs a query and hands its rows over one at a time (see [`SqlDriver::fetch_stream`]).
    pub(crate) fn fetch_stream<T: Send + 'static>(
        self,
        statement: Shared,
        decode: Decoder<T>,
    ) -> RowStream<'c, T> {
        match self {
            #[cfg(feature = "sqlite")]
            SqlConn::Sqlite(c) => c.fetch_stream(statement, decode),
            #[cfg(feature = "postgres")]
            SqlConn::Postgres(c) => c.fetch_stream(statement, decode),
            #[cfg(feature = "postgres-native")]
            SqlConn::PostgresNative(c) => c.fetch_stream(statement, decode),
            #[cfg(feature = "mysql")]
            SqlConn::MySql(c) => c.fetch_stream(statement, decode),
            #[cfg(feature = "mysql-native")]
            SqlConn::MySqlNative(c) => c.fetch_stream(statement, decode),
            #[cfg(feature = "mock")]
            SqlConn::Mock(c) => c.fetch_stream(statement, decode),
            SqlConn::None(never, _) => match never {},
        }
    }

    /// Runs a statement that returns no rows.
    pub(crate) async fn execute(self, statement: &Shared) -> Result<ExecResult> {
        on_driver!(self, execute(statement))
    }

    /// Runs SQL text without parameters (DDL, `SAVEPOINT`, session settings).
    pub(crate) async fn execute_raw(self, sql: &str) -> Result<ExecResult> {
        on_driver!(self, execute_raw(sql))
    }

    /// Makes the connection forget its prepared statements (after DDL it ran itself: its later
    /// statements are prepared against the new schema).
    pub(crate) async fn forget_statements(self) -> Result<()> {
        on_driver!(self, forget_statements())
    }
}

/// A connection taken out of a SQL pool, returned to it when dropped.
pub(crate) enum PooledConn {
    #[cfg(feature = "sqlite")]
    Sqlite(super::sqlite::PooledSqlite),
    #[cfg(feature = "postgres")]
    Postgres(super::remote_pool::RemoteConn<sqlx::Postgres>),
    #[cfg(feature = "postgres-native")]
    PostgresNative(super::conn_pool::Pooled<super::postgres_native::NativeConnect>),
    #[cfg(feature = "mysql")]
    MySql(super::remote_pool::RemoteConn<sqlx::MySql>),
    #[cfg(feature = "mysql-native")]
    MySqlNative(super::conn_pool::Pooled<super::mysql_native::NativeConnect>),
    #[cfg(feature = "mock")]
    Mock(super::mock::MockConn),
    #[allow(dead_code)]
    None(std::convert::Infallible),
}

impl PooledConn {
    /// Closes the connection when it is dropped instead of returning it to the pool (its
    /// session holds state the next user must not inherit, e.g. an open transaction, which
    /// the server rolls back when the connection closes).
    #[cfg_attr(not(feature = "distributed"), allow(dead_code))]
    pub(crate) fn close_on_drop(&mut self) {
        match self {
            // The SQLite pool rolls back a transaction left open when its connection returns
            // (and two-phase commit refuses SQLite participants).
            #[cfg(feature = "sqlite")]
            PooledConn::Sqlite(_) => {}
            // A connection marked broken is dropped by its pool, not lent again.
            #[cfg(feature = "postgres")]
            PooledConn::Postgres(c) => c.conn().broken = true,
            #[cfg(feature = "postgres-native")]
            PooledConn::PostgresNative(c) => c.conn().broken = true,
            #[cfg(feature = "mysql")]
            PooledConn::MySql(c) => c.conn().broken = true,
            #[cfg(feature = "mysql-native")]
            PooledConn::MySqlNative(c) => c.conn().broken = true,
            #[cfg(feature = "mock")]
            PooledConn::Mock(_) => {}
            PooledConn::None(never) => match *never {},
        }
    }

    /// The connection, lent for one statement.
    pub(crate) fn sql(&mut self) -> SqlConn<'_> {
        match self {
            #[cfg(feature = "sqlite")]
            PooledConn::Sqlite(c) => SqlConn::Sqlite(c.conn()),
            #[cfg(feature = "postgres")]
            PooledConn::Postgres(c) => SqlConn::Postgres(c.conn()),
            #[cfg(feature = "postgres-native")]
            PooledConn::PostgresNative(c) => SqlConn::PostgresNative(c.conn()),
            #[cfg(feature = "mysql")]
            PooledConn::MySql(c) => SqlConn::MySql(c.conn()),
            #[cfg(feature = "mysql-native")]
            PooledConn::MySqlNative(c) => SqlConn::MySqlNative(c.conn()),
            #[cfg(feature = "mock")]
            PooledConn::Mock(c) => SqlConn::Mock(c),
            PooledConn::None(never) => match *never {},
        }
    }
}

impl PooledConn {
    /// Whether the connection was handed out without a ping (reused inside the pool's
    /// alive-bypass window), so that a read it finds broken may run again on another.
    pub(crate) fn unchecked(&self) -> bool {
        match self {
            #[cfg(feature = "postgres")]
            PooledConn::Postgres(c) => c.unchecked(),
            #[cfg(feature = "postgres-native")]
            PooledConn::PostgresNative(c) => c.unchecked(),
            #[cfg(feature = "mysql")]
            PooledConn::MySql(c) => c.unchecked(),
            #[cfg(feature = "mysql-native")]
            PooledConn::MySqlNative(c) => c.unchecked(),
            _ => false,
        }
    }
}

/// Whether `error` leaves the connection it came from unusable: lost, or broken off in the
/// middle of the protocol (the next statement would read the rest of this one's answer).
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) fn breaks_connection(error: &crate::error::Error) -> bool {
    matches!(
        error,
        crate::error::Error::ConnectionLost { .. }
            | crate::error::Error::CommitOutcomeUnknown { .. }
            | crate::error::Error::Connection { .. }
    )
}

/// A driver connection that remembers whether a statement found it broken
/// ([`breaks_connection`]) or spoiled its session ([`SqlDriver::SPOILS_SESSION_ABOVE`]), so
/// that its pool drops it instead of lending it again.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) struct Tracked<C> {
    pub(crate) conn: C,
    pub(crate) broken: bool,
    /// A statement left the server's session slower for later statements.
    pub(crate) spoiled: bool,
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
impl<C> Tracked<C> {
    pub(crate) fn new(conn: C) -> Self {
        Tracked {
            conn,
            broken: false,
            spoiled: false,
        }
    }

    /// Whether the pool must not lend the connection again (broken or spoiled).
    pub(crate) fn retired(&self) -> bool {
        self.broken || self.spoiled
    }

    /// Passes `result` on, remembering whether its error broke the connection.
    pub(crate) fn note<T>(&mut self, result: Result<T>) -> Result<T> {
        if let Err(e) = &result {
            self.broken |= breaks_connection(e);
        }
        result
    }
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
impl<C: SqlDriver> Tracked<C> {
    /// Notes whether `statement` is large enough to spoil the session (whether or not it
    /// then succeeds: the server has received it).
    fn weigh(&mut self, statement: &Shared) {
        if let Some(limit) = C::SPOILS_SESSION_ABOVE {
            self.spoiled |=
                statement.sql.as_str().len() > limit || encoded_size(&statement.values) > limit;
        }
    }
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
impl<C: SqlDriver> SqlDriver for Tracked<C> {
    async fn fetch_all<T: Send>(
        &mut self,
        statement: &Shared,
        decode: Decoder<T>,
    ) -> Result<Vec<T>> {
        self.weigh(statement);
        let result = self.conn.fetch_all(statement, decode).await;
        self.note(result)
    }

    async fn fetch_optional<T: Send>(
        &mut self,
        statement: &Shared,
        decode: Decoder<T>,
    ) -> Result<Option<T>> {
        self.weigh(statement);
        let result = self.conn.fetch_optional(statement, decode).await;
        self.note(result)
    }

    fn fetch_stream<T: Send + 'static>(
        &mut self,
        statement: Shared,
        decode: Decoder<T>,
    ) -> RowStream<'_, T> {
        self.weigh(&statement);
        let Tracked { conn, broken, .. } = self;
        Box::pin(async_stream::try_stream! {
            let mut rows = conn.fetch_stream(statement, decode);
            while let Some(row) =
                std::future::poll_fn(|cx| rows.as_mut().poll_next(cx)).await
            {
                if let Err(e) = &row {
                    *broken |= breaks_connection(e);
                }
                yield row?;
            }
        })
    }

    async fn execute(&mut self, statement: &Shared) -> Result<ExecResult> {
        self.weigh(statement);
        let result = self.conn.execute(statement).await;
        self.note(result)
    }

    async fn execute_raw(&mut self, sql: &str) -> Result<ExecResult> {
        self.spoiled |= C::SPOILS_SESSION_ABOVE.is_some_and(|limit| sql.len() > limit);
        let result = self.conn.execute_raw(sql).await;
        self.note(result)
    }

    async fn forget_statements(&mut self) -> Result<()> {
        let result = self.conn.forget_statements().await;
        self.note(result)
    }
}
