//! One native PostgreSQL connection ([`PgNativeConn`]) and how a statement runs on it.
//!
//! Each statement is prepared once per connection, with the parameter types its values
//! declare ([`param_type`]), and kept by SQL text; its later runs are one round trip (Bind,
//! Execute, Sync) with the values in binary form. Rows are decoded as they arrive, straight
//! from tokio-postgres' row buffer, and dropped at once. Statements of independent tasks on
//! one client would be pipelined by tokio-postgres; the ORM lends a connection to one
//! statement at a time, so a statement waits for the one before it.

use std::collections::HashMap;
use std::pin::pin;

use futures_core::Stream;
use tokio_postgres::{Client, Statement};

use super::bind::{Param, declared_for, param_type};
use super::errors::from_tokio_postgres;
use crate::error::{Error, Result};
use crate::exec::sql_driver::SqlDriver;
use crate::exec::{Decoder, ExecResult, RowRef, RowStream};
use crate::sql::Compiled;

/// Prepared statements a connection keeps; past this many, it forgets them all and starts
/// again (an application has far fewer distinct statements; a generator of ad-hoc SQL must
/// not grow the server's memory without bound).
const STATEMENT_CACHE: usize = 1024;

/// A native PostgreSQL connection: the tokio-postgres client, its prepared statements by SQL
/// text, and the task that runs the connection's I/O (it ends when the client is dropped).
pub(crate) struct PgNativeConn {
    /// Boxed: tokio-postgres' client keeps its connect settings inline (~200 bytes), and a
    /// pooled connection is moved with every hand-out.
    client: Box<Client>,
    statements: HashMap<String, Statement>,
    io: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for PgNativeConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgNativeConn")
            .field("statements", &self.statements.len())
            .finish_non_exhaustive()
    }
}

impl PgNativeConn {
    /// Wraps a client whose connection (`io`) runs on its own task.
    pub(crate) fn new(client: Client, io: tokio::task::JoinHandle<()>) -> Self {
        PgNativeConn {
            client: Box::new(client),
            statements: HashMap::new(),
            io,
        }
    }

    /// The client.
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// Closes the connection: the client says goodbye (Terminate) as it is dropped, and the
    /// I/O task ends; one that does not within a second (a server that stopped answering) is
    /// aborted.
    pub(crate) async fn close(self) {
        let PgNativeConn { client, io, .. } = self;
        drop(client);
        let abort = io.abort_handle();
        if tokio::time::timeout(std::time::Duration::from_secs(1), io)
            .await
            .is_err()
        {
            abort.abort();
        }
    }

    /// Whether the connection's I/O task ended (the server closed it, or it broke).
    pub(crate) fn is_closed(&self) -> bool {
        self.client.is_closed() || self.io.is_finished()
    }

    /// `statement` prepared on this connection (once; then from the cache).
    async fn prepared(&mut self, statement: &Compiled) -> Result<Statement> {
        if let Some(prepared) = self.statements.get(&statement.sql)
            && declared_for(prepared.params(), &statement.values)
        {
            return Ok(prepared.clone());
        }
        let types = statement
            .values
            .iter()
            .map(param_type)
            .collect::<Result<Vec<_>>>()?;
        let prepared = self
            .client
            .prepare_typed(&statement.sql, &types)
            .await
            .map_err(from_tokio_postgres)?;
        if self.statements.len() >= STATEMENT_CACHE {
            self.statements.clear();
        }
        self.statements
            .insert(statement.sql.clone(), prepared.clone());
        Ok(prepared)
    }

    /// Runs `statement` and hands its rows to `each` as they arrive.
    async fn rows(
        &mut self,
        statement: &Compiled,
        mut each: impl FnMut(&tokio_postgres::Row) -> Result<()>,
    ) -> Result<()> {
        let prepared = self.prepared(statement).await?;
        let rows = self
            .client
            .query_raw(&prepared, statement.values.iter().map(Param))
            .await
            .map_err(from_tokio_postgres)?;
        let mut rows = pin!(rows);
        while let Some(row) = std::future::poll_fn(|cx| rows.as_mut().poll_next(cx)).await {
            each(&row.map_err(from_tokio_postgres)?)?;
        }
        Ok(())
    }

    /// Passes `result` through; after [`Error::SchemaChanged`] (a statement prepared before
    /// an `ALTER TABLE`), first forgets the prepared statements.
    fn forget_if_stale<T>(&mut self, result: Result<T>) -> Result<T> {
        if let Err(Error::SchemaChanged { .. }) = &result {
            self.statements.clear();
        }
        result
    }
}

impl SqlDriver for PgNativeConn {
    async fn fetch_all<T: Send>(
        &mut self,
        statement: Compiled,
        decode: Decoder<T>,
    ) -> Result<Vec<T>> {
        let mut decoded = Vec::new();
        let result = self
            .rows(&statement, |row| {
                decoded.push(decode(&RowRef::PostgresNative(row))?);
                Ok(())
            })
            .await;
        self.forget_if_stale(result).map(|()| decoded)
    }

    async fn fetch_optional<T: Send>(
        &mut self,
        statement: Compiled,
        decode: Decoder<T>,
    ) -> Result<Option<T>> {
        // Read to the end: an error the server reports after the first row (a write with
        // RETURNING that fails on a later row) is the statement's error; later rows are not
        // decoded.
        let mut first = None;
        let result = self
            .rows(&statement, |row| {
                if first.is_none() {
                    first = Some(decode(&RowRef::PostgresNative(row))?);
                }
                Ok(())
            })
            .await;
        self.forget_if_stale(result).map(|()| first)
    }

    fn fetch_stream<T: Send + 'static>(
        &mut self,
        statement: Compiled,
        decode: Decoder<T>,
    ) -> RowStream<'_, T> {
        Box::pin(async_stream::try_stream! {
            let failed = {
                match self.prepared(&statement).await {
                    Err(e) => Some(e),
                    Ok(prepared) => match self
                        .client
                        .query_raw(&prepared, statement.values.iter().map(Param))
                        .await
                    {
                        Err(e) => Some(from_tokio_postgres(e)),
                        Ok(rows) => {
                            let mut rows = pin!(rows);
                            loop {
                                match std::future::poll_fn(|cx| rows.as_mut().poll_next(cx)).await {
                                    Some(Ok(row)) => {
                                        // The `RowRef` must not live across `yield` (not `Send`).
                                        let decoded = decode(&RowRef::PostgresNative(&row));
                                        yield decoded?;
                                    }
                                    Some(Err(e)) => break Some(from_tokio_postgres(e)),
                                    None => break None,
                                }
                            }
                        }
                    },
                }
            };
            if let Some(e) = failed {
                self.forget_if_stale(Err::<(), _>(e))?;
            }
        })
    }

    async fn execute(&mut self, statement: Compiled) -> Result<ExecResult> {
        let result = async {
            let prepared = self.prepared(&statement).await?;
            self.client
                .execute_raw(&prepared, statement.values.iter().map(Param))
                .await
                .map_err(from_tokio_postgres)
        }
        .await;
        self.forget_if_stale(result)
            .map(|rows_affected| ExecResult {
                rows_affected,
                last_insert_id: None,
            })
    }

    async fn execute_raw(&mut self, sql: &str) -> Result<ExecResult> {
        // The simple query protocol: text of one or more statements, no parameters.
        let messages = self
            .client
            .simple_query(sql)
            .await
            .map_err(from_tokio_postgres);
        let messages = self.forget_if_stale(messages)?;
        let rows_affected = messages
            .iter()
            .map(|message| match message {
                tokio_postgres::SimpleQueryMessage::CommandComplete(rows) => *rows,
                _ => 0,
            })
            .sum();
        Ok(ExecResult {
            rows_affected,
            last_insert_id: None,
        })
    }

    async fn forget_statements(&mut self) -> Result<()> {
        // Dropping a statement closes it on the server; types are looked up again too (a
        // dropped and recreated enum type has a new OID).
        self.statements.clear();
        self.client.clear_type_cache();
        Ok(())
    }
}
