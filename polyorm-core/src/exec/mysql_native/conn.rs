//! One native MySQL/MariaDB connection ([`MyNativeConn`]) and how a statement runs on it.
//!
//! Each statement is prepared once per connection and kept by SQL text; its later runs are
//! one round trip (`COM_STMT_EXECUTE` with the values in binary form). Rows are decoded as
//! they arrive, from mysql_async's row, and dropped at once. mysql_async reads and writes the
//! socket in the statement's own task: no I/O task of its own, no hand-off per statement.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row, Statement};

use super::bind::params;
use super::errors::from_mysql_async;
use crate::error::{Error, Result};
use crate::exec::sql_driver::SqlDriver;
use crate::exec::{Decoder, ExecResult, RowRef, RowStream};
use crate::sql::Shared;

/// Prepared statements a connection keeps; past this many, it closes them all and starts
/// again (an application has far fewer distinct statements; a generator of ad-hoc SQL must
/// not grow the server's memory without bound, nor reach its `max_prepared_stmt_count`).
const STATEMENT_CACHE: usize = 1024;

/// How long [`MyNativeConn::close`] waits for the server to take the goodbye.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// A native MySQL/MariaDB connection: mysql_async's connection (its own statement cache off)
/// and the statements prepared on it, by SQL text.
pub(crate) struct MyNativeConn {
    conn: Conn,
    statements: HashMap<String, Statement>,
    /// A call of mysql_async that writes a command and reads its answer is under way: still
    /// set when a statement's future was dropped in the middle of one ([`usable`](Self::usable)).
    mid_call: bool,
}

impl std::fmt::Debug for MyNativeConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MyNativeConn")
            .field("id", &self.conn.id())
            .field("statements", &self.statements.len())
            .finish_non_exhaustive()
    }
}

impl MyNativeConn {
    /// Wraps an open connection.
    pub(crate) fn new(conn: Conn) -> Self {
        MyNativeConn {
            conn,
            statements: HashMap::new(),
            mid_call: false,
        }
    }

    /// One round trip (`COM_PING`): fails when the connection no longer works.
    pub(crate) async fn ping(&mut self) -> Result<()> {
        self.usable()?;
        self.mid_call = true;
        let pinged = self.conn.ping().await;
        self.mid_call = false;
        pinged.map_err(from_mysql_async)
    }

    /// Fails with [`Error::ConnectionLost`] when the connection cannot run another statement:
    /// an earlier one found it broken, or was abandoned before the server's answer to it was
    /// read (its future dropped: a timeout, a cancelled request) — mysql_async cannot tell that
    /// answer from the next statement's. A pool drops such a connection
    /// ([`is_closed`](Self::is_closed)); a held connection or transaction reports it lost (the
    /// server rolls back what it had open). Rows left unread are not this: mysql_async reads
    /// them before its next command.
    fn usable(&self) -> Result<()> {
        let why = if self.mid_call {
            "a statement was abandoned on this connection before the server's answer was read \
             (its future was dropped, e.g. by a timeout), so the connection was given up; run \
             the work again on a new connection"
        } else if self.conn.is_disconnected() {
            "the connection was lost under an earlier statement (its error said how); run the \
             work again on a new connection"
        } else {
            return Ok(());
        };
        Err(Error::ConnectionLost { source: why.into() })
    }

    /// Closes the connection (`COM_QUIT`); a server that does not take it within
    /// [`CLOSE_TIMEOUT`] is left: the socket is closed.
    pub(crate) async fn close(self) {
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.conn.disconnect()).await;
    }

    /// Whether the connection ended (closed by a statement that found it broken, or given up
    /// after a statement abandoned mid-flight: see [`usable`](Self::usable)).
    pub(crate) fn is_closed(&self) -> bool {
        self.mid_call || self.conn.is_disconnected()
    }

    /// `statement` prepared on this connection (once; then from the cache), its decimal
    /// values' placeholders cast to decimals ([`decimal_casts`](super::bind::decimal_casts)).
    async fn prepared_for(&mut self, statement: &Shared) -> Result<Statement> {
        #[cfg(feature = "decimal")]
        if let Some(typed) = super::bind::decimal_casts(statement.sql.as_str(), &statement.values) {
            return self.prepared(&typed).await;
        }
        self.prepared(statement.sql.as_str()).await
    }

    /// `sql` prepared on this connection (once; then from the cache).
    async fn prepared(&mut self, sql: &str) -> Result<Statement> {
        self.usable()?;
        if let Some(prepared) = self.statements.get(sql) {
            return Ok(prepared.clone());
        }
        self.mid_call = true;
        let prepared = self.conn.prep(sql).await;
        self.mid_call = false;
        let prepared = prepared.map_err(from_mysql_async)?;
        if self.statements.len() >= STATEMENT_CACHE {
            self.close_statements().await?;
        }
        self.statements.insert(sql.to_owned(), prepared.clone());
        Ok(prepared)
    }

    /// Closes every prepared statement on the server and forgets it.
    async fn close_statements(&mut self) -> Result<()> {
        for (_, statement) in self.statements.drain() {
            // `COM_STMT_CLOSE` has no answer: this only writes.
            self.mid_call = true;
            let closed = self.conn.close(statement).await;
            self.mid_call = false;
            closed.map_err(from_mysql_async)?;
        }
        Ok(())
    }

    /// Runs `statement` and hands its rows to `each` as they arrive. After the first error of
    /// `each`, the rest of the rows are read (the connection stays usable) but not handed on.
    async fn rows(
        &mut self,
        statement: &Shared,
        mut each: impl FnMut(&RefCell<Row>) -> Result<()>,
    ) -> Result<()> {
        let params = params(&statement.values)?;
        let prepared = self.prepared_for(statement).await?;
        let mut failed = None;
        self.mid_call = true;
        let result = self.conn.exec_iter(&prepared, params).await;
        self.mid_call = false;
        let mut result = result.map_err(from_mysql_async)?;
        result
            .for_each(|row| {
                if failed.is_none()
                    && let Err(e) = each(&RefCell::new(row))
                {
                    failed = Some(e);
                }
            })
            .await
            .map_err(from_mysql_async)?;
        drop(result);
        failed.map_or(Ok(()), Err)
    }

    /// Passes `result` through; after [`Error::SchemaChanged`] (a statement prepared before
    /// a schema change the server could not prepare again itself), first forgets the
    /// prepared statements.
    fn forget_if_stale<T>(&mut self, result: Result<T>) -> Result<T> {
        if let Err(Error::SchemaChanged { .. }) = &result {
            self.statements.clear();
        }
        result
    }
}

impl SqlDriver for MyNativeConn {
    async fn fetch_all<T: Send>(
        &mut self,
        statement: &Shared,
        decode: Decoder<T>,
    ) -> Result<Vec<T>> {
        let mut decoded = Vec::new();
        let result = self
            .rows(statement, |row| {
                decoded.push(decode(&RowRef::MySqlNative(row))?);
                Ok(())
            })
            .await;
        self.forget_if_stale(result).map(|()| decoded)
    }

    async fn fetch_optional<T: Send>(
        &mut self,
        statement: &Shared,
        decode: Decoder<T>,
    ) -> Result<Option<T>> {
        // Read to the end (later rows are not decoded): the connection is then ready for the
        // next statement.
        let mut first = None;
        let result = self
            .rows(statement, |row| {
                if first.is_none() {
                    first = Some(decode(&RowRef::MySqlNative(row))?);
                }
                Ok(())
            })
            .await;
        self.forget_if_stale(result).map(|()| first)
    }

    fn fetch_stream<T: Send + 'static>(
        &mut self,
        statement: Shared,
        decode: Decoder<T>,
    ) -> RowStream<'_, T> {
        Box::pin(async_stream::try_stream! {
            let failed = {
                let params = params(&statement.values)?;
                match self.prepared_for(&statement).await {
                    Err(e) => Some(e),
                    Ok(prepared) => {
                        self.mid_call = true;
                        let result = self.conn.exec_iter(&prepared, params).await;
                        self.mid_call = false;
                        match result {
                            Err(e) => Some(from_mysql_async(e)),
                            Ok(result) => match result.stream_and_drop::<Row>().await {
                                Err(e) => Some(from_mysql_async(e)),
                                Ok(None) => None,
                                Ok(Some(mut rows)) => loop {
                                    let next = std::future::poll_fn(|cx| {
                                        let rows = std::pin::Pin::new(&mut rows);
                                        futures_core::Stream::poll_next(rows, cx)
                                    })
                                    .await;
                                    match next {
                                        Some(Ok(row)) => {
                                            // The `RowRef` must not live across `yield`.
                                            let decoded = {
                                                let row = RefCell::new(row);
                                                decode(&RowRef::MySqlNative(&row))
                                            };
                                            yield decoded?;
                                        }
                                        Some(Err(e)) => break Some(from_mysql_async(e)),
                                        None => break None,
                                    }
                                },
                            },
                        }
                    }
                }
            };
            if let Some(e) = failed {
                self.forget_if_stale(Err::<(), _>(e))?;
            }
        })
    }

    async fn execute(&mut self, statement: &Shared) -> Result<ExecResult> {
        let result = async {
            let params = params(&statement.values)?;
            let prepared = self.prepared_for(statement).await?;
            self.mid_call = true;
            let done = self.conn.exec_drop(&prepared, params).await;
            self.mid_call = false;
            done.map_err(from_mysql_async)
        }
        .await;
        self.forget_if_stale(result)?;
        Ok(self.outcome())
    }

    async fn execute_raw(&mut self, sql: &str) -> Result<ExecResult> {
        // The text protocol: one or more statements, no parameters; every result set read.
        self.usable()?;
        self.mid_call = true;
        let result = async {
            let mut result = self.conn.query_iter(sql).await?;
            let mut rows_affected = result.affected_rows();
            loop {
                result.for_each(drop).await?;
                if result.is_empty() {
                    break;
                }
                rows_affected += result.affected_rows();
            }
            Ok(rows_affected)
        }
        .await
        .map_err(from_mysql_async);
        self.mid_call = false;
        let rows_affected = self.forget_if_stale(result)?;
        Ok(ExecResult {
            rows_affected,
            last_insert_id: None,
        })
    }

    async fn forget_statements(&mut self) -> Result<()> {
        self.close_statements().await
    }

    const SPOILS_SESSION_ABOVE: Option<usize> =
        Some(crate::exec::sql_driver::MYSQL_SPOILS_SESSION_ABOVE);
}

impl MyNativeConn {
    /// What the last statement changed, as the server's OK packet says.
    fn outcome(&self) -> ExecResult {
        ExecResult {
            rows_affected: self.conn.affected_rows(),
            last_insert_id: self
                .conn
                .last_insert_id()
                .and_then(|id| i64::try_from(id).ok())
                .filter(|id| *id != 0),
        }
    }
}
