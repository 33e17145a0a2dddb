//! One native PostgreSQL connection ([`PgNativeConn`]) and how a statement runs on it.
//!
//! Each statement is prepared once per connection, with the parameter types its values
//! declare ([`param_type`]), and kept by SQL text; its later runs are one round trip (Bind,
//! Execute, Sync) with the values in binary form. Rows are decoded as they arrive, straight
//! from tokio-postgres' row buffer, and dropped at once.
//!
//! The connection's I/O (tokio-postgres' `Connection`: it writes the client's requests and
//! hands the server's answers back) has no task of its own: the statement's future drives it,
//! polling the client's request and the connection together in one `poll` ([`Io::run`],
//! [`Io::next`]). The ORM lends a connection to one statement at a time, so only that
//! statement's task needs it, and a statement costs no hand-off to another task and back
//! (nor, on a multi-threaded runtime, a wake-up of another thread). Between statements
//! nothing reads the socket: what the server sends meanwhile (a notice, or its goodbye when
//! it ends the session) waits there and is read by the next statement.

use std::collections::HashMap;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use tokio_postgres::{Client, Socket, Statement};

use super::bind::{Param, declared_for, param_type};
use super::errors::from_tokio_postgres;
use super::tls::RustlsStream;
use crate::error::{Error, Result};
use crate::exec::sql_driver::SqlDriver;
use crate::exec::{Decoder, ExecResult, RowRef, RowStream};
use crate::sql::Shared;

/// Prepared statements a connection keeps; past this many, it forgets them all and starts
/// again (an application has far fewer distinct statements; a generator of ad-hoc SQL must
/// not grow the server's memory without bound).
const STATEMENT_CACHE: usize = 1024;

/// How long [`PgNativeConn::close`] waits for the server to take the goodbye.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// tokio-postgres' connection: the socket (TCP or Unix, in TLS or not) and the requests in
/// flight.
type Connection = tokio_postgres::Connection<Socket, RustlsStream>;

/// The I/O half of a connection, driven by whoever waits for an answer.
struct Io {
    /// `None` once it ended (the server closed it, or it broke). Boxed: it holds the
    /// socket's read and write buffers, and a pooled connection is moved with every hand-out.
    connection: Option<Box<Connection>>,
}

impl Io {
    /// Lets the connection do what it can now: write the requests the client queued, read
    /// what the server sent and hand it to the requests waiting for it. When it ends, it is
    /// dropped: the requests still waiting then fail as closed (`Error::ConnectionLost`).
    fn poll(&mut self, cx: &mut Context<'_>) {
        if let Some(connection) = &mut self.connection
            && Pin::new(&mut **connection).poll(cx).is_ready()
        {
            self.connection = None;
        }
    }

    /// Runs `request` (a future of the client), driving the connection in the same `poll`:
    /// the request first (it queues its messages), then the connection (it sends them, or
    /// reads the answer), then the request again (the answer may have come).
    async fn run<F: Future>(&mut self, request: F) -> F::Output {
        let mut request = pin!(request);
        poll_fn(|cx| {
            if let Poll::Ready(done) = request.as_mut().poll(cx) {
                return Poll::Ready(done);
            }
            self.poll(cx);
            request.as_mut().poll(cx)
        })
        .await
    }

    /// The next item of `stream` (rows of a running statement), driving the connection the
    /// same way while it waits.
    async fn next<S: Stream>(&mut self, mut stream: Pin<&mut S>) -> Option<S::Item> {
        self.run(poll_fn(|cx| stream.as_mut().poll_next(cx))).await
    }

    /// Whether the connection ended.
    fn ended(&self) -> bool {
        self.connection.is_none()
    }
}

/// A native PostgreSQL connection: the tokio-postgres client, its I/O half (driven by the
/// statements, see the module's documentation) and its prepared statements by SQL text.
pub(crate) struct PgNativeConn {
    /// Boxed: tokio-postgres' client keeps its connect settings inline (~200 bytes), and a
    /// pooled connection is moved with every hand-out.
    client: Box<Client>,
    io: Io,
    statements: HashMap<String, Statement>,
}

impl std::fmt::Debug for PgNativeConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgNativeConn")
            .field("statements", &self.statements.len())
            .field("ended", &self.io.ended())
            .finish_non_exhaustive()
    }
}

impl PgNativeConn {
    /// Wraps a client and its connection (not spawned: the statements drive it).
    pub(crate) fn new(client: Client, connection: Connection) -> Self {
        PgNativeConn {
            client: Box::new(client),
            io: Io {
                connection: Some(Box::new(connection)),
            },
            statements: HashMap::new(),
        }
    }

    /// One round trip (Sync): fails when the connection no longer works.
    pub(crate) async fn ping(&mut self) -> Result<()> {
        self.io
            .run(self.client.check_connection())
            .await
            .map_err(from_tokio_postgres)
    }

    /// Closes the connection: the client is dropped, so the connection, driven here until it
    /// ends, sends what is still queued, then the goodbye (Terminate) and closes the socket. A
    /// server that does not take it within [`CLOSE_TIMEOUT`] is left: the socket is closed.
    pub(crate) async fn close(self) {
        let PgNativeConn {
            client,
            mut io,
            statements,
        } = self;
        drop(statements);
        drop(client);
        let _ = tokio::time::timeout(
            CLOSE_TIMEOUT,
            poll_fn(|cx| {
                io.poll(cx);
                if io.ended() {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            }),
        )
        .await;
    }

    /// Whether the connection ended (a statement found the server gone, or it broke).
    pub(crate) fn is_closed(&self) -> bool {
        self.io.ended() || self.client.is_closed()
    }

    /// `statement` prepared on this connection (once; then from the cache).
    async fn prepared(&mut self, statement: &Shared) -> Result<Statement> {
        if let Some(prepared) = self.statements.get(statement.sql.as_str())
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
            .io
            .run(self.client.prepare_typed(statement.sql.as_str(), &types))
            .await
            .map_err(from_tokio_postgres)?;
        if self.statements.len() >= STATEMENT_CACHE {
            self.statements.clear();
        }
        self.statements
            .insert(statement.sql.as_str().to_owned(), prepared.clone());
        Ok(prepared)
    }

    /// Runs `statement` and hands its rows to `each` as they arrive.
    async fn rows(
        &mut self,
        statement: &Shared,
        mut each: impl FnMut(&tokio_postgres::Row) -> Result<()>,
    ) -> Result<()> {
        let prepared = self.prepared(statement).await?;
        let rows = self
            .io
            .run(
                self.client
                    .query_raw(&prepared, statement.values.iter().map(Param)),
            )
            .await
            .map_err(from_tokio_postgres)?;
        let mut rows = pin!(rows);
        while let Some(row) = self.io.next(rows.as_mut()).await {
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
        statement: &Shared,
        decode: Decoder<T>,
    ) -> Result<Vec<T>> {
        let mut decoded = Vec::new();
        let result = self
            .rows(statement, |row| {
                decoded.push(decode(&RowRef::PostgresNative(row))?);
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
        // Read to the end: an error the server reports after the first row (a write with
        // RETURNING that fails on a later row) is the statement's error; later rows are not
        // decoded.
        let mut first = None;
        let result = self
            .rows(statement, |row| {
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
        statement: Shared,
        decode: Decoder<T>,
    ) -> RowStream<'_, T> {
        Box::pin(async_stream::try_stream! {
            let failed = {
                match self.prepared(&statement).await {
                    Err(e) => Some(e),
                    Ok(prepared) => match self
                        .io
                        .run(self.client.query_raw(&prepared, statement.values.iter().map(Param)))
                        .await
                    {
                        Err(e) => Some(from_tokio_postgres(e)),
                        Ok(rows) => {
                            let mut rows = pin!(rows);
                            loop {
                                match self.io.next(rows.as_mut()).await {
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

    async fn execute(&mut self, statement: &Shared) -> Result<ExecResult> {
        let result = async {
            let prepared = self.prepared(statement).await?;
            self.io
                .run(
                    self.client
                        .execute_raw(&prepared, statement.values.iter().map(Param)),
                )
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
            .io
            .run(self.client.simple_query(sql))
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
