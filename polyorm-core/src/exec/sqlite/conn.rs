//! One SQLite connection ([`SqliteConn`]) and how a statement runs on it.
//!
//! A statement runs **inline, on the calling task**: bind, step, decode each row straight from
//! `sqlite3_column_*` into the generated decoder, no thread hand-off, no intermediate row.
//! What that can block the runtime for is bounded by the statement's own work in SQLite,
//! never by a lock: SQLite's busy handler is replaced by one that only notes that SQLite
//! wants to wait ([`wants_to_wait`]); the statement then fails with `SQLITE_BUSY` at once, the
//! task sleeps asynchronously and runs it again, until the busy timeout (5 s) has passed
//! ([`Error::LockTimeout`](crate::Error::LockTimeout)). Where SQLite would not wait (waiting
//! could only deadlock, or `BUSY_SNAPSHOT`), the error is returned at once, as SQLite's own
//! handler would. A point lookup blocks for microseconds, a 10,000-row read for a few
//! milliseconds; results too large to block for belong in [`fetch_stream`], which runs the
//! statement on a blocking thread of the runtime and hands rows over in batches (one
//! hand-off per batch, not per row).
//!
//! [`fetch_stream`]: crate::Executor::fetch_stream

use std::cell::Cell;
use std::time::{Duration, Instant};

use rusqlite::{Connection, Statement};
use tokio::sync::{mpsc, oneshot};

use super::bind::bind_all;
use super::errors::{from_rusqlite, is_busy};
use super::statements::{Sql, StatementConn};
use crate::error::{Error, Result};
use crate::exec::sql_driver::SqlDriver;
use crate::exec::{Decoder, ExecResult, RowRef, RowStream};
use crate::sql::Shared;
use crate::value::Value;

/// Rows a stream's thread decodes before handing them over together.
const STREAM_BATCH: usize = 128;

thread_local! {
    /// Set by [`wants_to_wait`] when SQLite asked to wait for a lock during the statement
    /// this thread is running.
    static WANTED_TO_WAIT: Cell<bool> = const { Cell::new(false) };
}

/// The connection's busy handler: records that SQLite would wait for the lock, and declines,
/// so that the statement fails with `SQLITE_BUSY` and the task waits asynchronously.
fn wants_to_wait(_attempts: i32) -> bool {
    WANTED_TO_WAIT.with(|wanted| wanted.set(true));
    false
}

/// Why one attempt at a statement failed: SQLite's error (maybe `BUSY`, worth another
/// attempt) or the ORM's own (binding, decoding).
pub(crate) enum Failure {
    Sqlite(rusqlite::Error),
    Orm(Error),
}

impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Self {
        Failure::Sqlite(e)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Orm(e)
    }
}

pub(crate) type Attempt<R> = std::result::Result<R, Failure>;

/// Whether `error` ended an attempt because SQLite wanted to wait for a lock (waiting may
/// cure it: the statement runs again after a pause).
fn may_wait(error: &rusqlite::Error) -> bool {
    is_busy(error) && WANTED_TO_WAIT.with(Cell::get)
}

/// The connection is gone with the stream's thread that had it.
fn lost_with_stream() -> Error {
    Error::ConnectionLost {
        source: "the SQLite connection was lost: the thread streaming rows on it panicked; run \
                 the statement again (on another connection)"
            .into(),
    }
}

/// The connection is gone.
fn lost() -> Error {
    Error::ConnectionLost {
        source: "the SQLite connection was lost; run the statement again".into(),
    }
}

/// What happens after a failed attempt.
enum Next {
    /// Wait this long and run the statement again.
    Retry(Duration),
    Fail(Error),
}

/// Tells, after attempt number `attempt` (from 0) failed with `failure`, whether to wait and
/// try again: only when SQLite wanted to wait for a lock and the busy timeout is not over.
fn after_failure(failure: Failure, attempt: u32, started: Instant, timeout: Duration) -> Next {
    match failure {
        Failure::Sqlite(e) if may_wait(&e) && started.elapsed() < timeout => {
            // 0.1 ms doubling up to 8 ms: a lock held for one short write is retried soon,
            // a long one without spinning.
            Next::Retry(Duration::from_micros(100 << attempt.min(7)))
        }
        Failure::Sqlite(e) => Next::Fail(from_rusqlite(e)),
        Failure::Orm(e) => Next::Fail(e),
    }
}

/// Where a [`SqliteConn`]'s rusqlite connection is ([`SqliteConn::reclaim_now`]).
pub(crate) enum Whereabouts<'a> {
    /// Here, and it did not go anywhere since it was last used here.
    Here,
    /// Here, just taken back from the stream's thread that had it.
    Back(&'a mut StatementConn),
    /// Still on a stream's thread.
    Away,
}

/// A SQLite connection. Its rusqlite [`Connection`] (with its prepared statements) is away
/// while a stream's blocking thread runs a statement on it, and comes back through `returning`.
pub(crate) struct SqliteConn {
    conn: Option<StatementConn>,
    returning: Option<oneshot::Receiver<StatementConn>>,
    busy_timeout: Duration,
}

impl SqliteConn {
    /// Wraps a freshly opened connection, installing the async-friendly busy handler.
    pub(crate) fn new(conn: Connection, busy_timeout: Duration) -> Result<Self> {
        conn.busy_handler(Some(wants_to_wait))
            .map_err(from_rusqlite)?;
        Ok(SqliteConn {
            conn: Some(StatementConn::new(conn)),
            returning: None,
            busy_timeout,
        })
    }

    /// The rusqlite connection, waiting for a stream's thread to give it back.
    pub(crate) async fn connection(&mut self) -> Result<&mut StatementConn> {
        if let Some(returning) = self.returning.take() {
            match returning.await {
                Ok(conn) => self.conn = Some(conn),
                Err(_) => return Err(lost_with_stream()),
            }
        }
        self.conn.as_mut().ok_or_else(lost)
    }

    /// Takes the rusqlite connection back from a stream's thread if it has given it back,
    /// without waiting, and tells where it is.
    pub(crate) fn reclaim_now(&mut self) -> Result<Whereabouts<'_>> {
        if let Some(returning) = &mut self.returning {
            match returning.try_recv() {
                Ok(conn) => {
                    self.returning = None;
                    return Ok(Whereabouts::Back(self.conn.insert(conn)));
                }
                Err(oneshot::error::TryRecvError::Empty) => return Ok(Whereabouts::Away),
                Err(oneshot::error::TryRecvError::Closed) => {
                    self.returning = None;
                    return Err(lost_with_stream());
                }
            }
        }
        match self.conn {
            Some(_) => Ok(Whereabouts::Here),
            None => Err(lost()),
        }
    }

    /// The rusqlite connection if it is here (not away on a stream's thread).
    pub(crate) fn present(&mut self) -> Option<&mut StatementConn> {
        self.conn.as_mut()
    }

    /// Whether the connection can be handed out again (it was not lost with a thread).
    pub(crate) fn is_usable(&self) -> bool {
        self.conn.is_some() || self.returning.is_some()
    }

    /// Runs `attempt` at once, on the calling thread: `None` when the connection is away on a
    /// stream's thread or SQLite wanted to wait for a lock (nothing ran: the caller then
    /// runs the statement through [`run`](SqliteConn::run), which waits asynchronously).
    pub(crate) fn run_now<R>(
        &mut self,
        attempt: impl FnOnce(&mut StatementConn) -> Attempt<R>,
    ) -> Option<Result<R>> {
        let conn = self.conn.as_mut()?;
        WANTED_TO_WAIT.with(|wanted| wanted.set(false));
        match attempt(conn) {
            Ok(done) => Some(Ok(done)),
            Err(Failure::Sqlite(e)) if may_wait(&e) => None,
            Err(Failure::Sqlite(e)) => Some(Err(from_rusqlite(e))),
            Err(Failure::Orm(e)) => Some(Err(e)),
        }
    }

    /// Runs `attempt` on the connection, again after an asynchronous wait whenever SQLite
    /// wanted to wait for a lock (see the module documentation).
    async fn run<R>(
        &mut self,
        mut attempt: impl FnMut(&mut StatementConn) -> Attempt<R>,
    ) -> Result<R> {
        // The busy timeout runs from the first failed attempt: a statement that succeeds at
        // once (nearly all) never reads the clock.
        let mut started = None;
        let timeout = self.busy_timeout;
        let mut attempts = 0;
        loop {
            let conn = self.connection().await?;
            WANTED_TO_WAIT.with(|wanted| wanted.set(false));
            let failure = match attempt(conn) {
                Ok(done) => return Ok(done),
                Err(failure) => failure,
            };
            let started = *started.get_or_insert_with(Instant::now);
            match after_failure(failure, attempts, started, timeout) {
                Next::Retry(pause) => {
                    tokio::time::sleep(pause).await;
                    attempts += 1;
                }
                Next::Fail(error) => return Err(error),
            }
        }
    }
}

/// Runs `run` on `sql` prepared (kept by the connection) with `values` bound.
fn with_bound<R>(
    conn: &mut StatementConn,
    sql: Sql<'_>,
    values: &[Value],
    run: impl for<'c> FnOnce(&Connection, &mut Statement<'c>) -> Attempt<R>,
) -> Attempt<R> {
    conn.with_statement(sql, |conn, prepared| {
        bind_all(prepared, values)?;
        run(conn, prepared)
    })
}

/// Every row of a query, decoded.
pub(crate) fn all_rows<T>(
    conn: &mut StatementConn,
    sql: Sql<'_>,
    values: &[Value],
    decode: Decoder<T>,
) -> Attempt<Vec<T>> {
    with_bound(conn, sql, values, |_, prepared| {
        let mut decoded = Vec::new();
        decode_rows(prepared, decode, |row| decoded.push(row))?;
        Ok(decoded)
    })
}

/// The first row of a query, decoded, if any.
pub(crate) fn first_row<T>(
    conn: &mut StatementConn,
    sql: Sql<'_>,
    values: &[Value],
    decode: Decoder<T>,
) -> Attempt<Option<T>> {
    with_bound(conn, sql, values, |_, prepared| {
        // A write with RETURNING finishes only when stepped to its end; a read stops at its
        // first row.
        let writes = !prepared.readonly();
        let mut rows = prepared.raw_query();
        let first = match rows.next()? {
            Some(row) => Some(decode(&RowRef::Sqlite(row))?),
            None => return Ok(None),
        };
        if writes {
            while rows.next()?.is_some() {}
        }
        Ok(first)
    })
}

/// Runs a statement whose rows (if any) are not wanted.
pub(crate) fn execute_statement(
    conn: &mut StatementConn,
    sql: Sql<'_>,
    values: &[Value],
) -> Attempt<ExecResult> {
    with_bound(conn, sql, values, execute_prepared)
}

/// Steps through every row of `prepared`, decoding each as it arrives.
fn decode_rows<T>(
    prepared: &mut Statement<'_>,
    decode: Decoder<T>,
    mut each: impl FnMut(T),
) -> Attempt<()> {
    let mut rows = prepared.raw_query();
    while let Some(row) = rows.next()? {
        each(decode(&RowRef::Sqlite(row))?);
    }
    Ok(())
}

/// Runs a statement whose rows (if any) are not wanted, and reports what it changed.
fn execute_prepared(conn: &Connection, prepared: &mut Statement<'_>) -> Attempt<ExecResult> {
    let mut rows = prepared.raw_query();
    while rows.next()?.is_some() {}
    drop(rows);
    let rows_affected = if prepared.readonly() {
        0
    } else {
        conn.changes()
    };
    Ok(ExecResult {
        rows_affected,
        last_insert_id: Some(conn.last_insert_rowid()),
    })
}

/// Runs SQL text of one or more statements without parameters.
fn execute_text(conn: &mut StatementConn, sql: &str) -> Attempt<ExecResult> {
    // rusqlite tells several statements apart by preparing the rest too, which fails when a
    // later one names a table an earlier one creates (a migration's table rebuild): text with
    // an inner `;` runs statement by statement (a `;` in a literal only costs the cache).
    if sql.trim_end().trim_end_matches(';').contains(';') {
        let conn = conn.conn();
        let before = conn.total_changes();
        let ran = conn.execute_batch(sql);
        // Not run again after BUSY: the statements before the busy one have run.
        WANTED_TO_WAIT.with(|wanted| wanted.set(false));
        ran?;
        return Ok(ExecResult {
            rows_affected: conn.total_changes() - before,
            last_insert_id: None,
        });
    }
    let done = conn.with_statement(Sql::Text(sql), execute_prepared)?;
    Ok(ExecResult {
        last_insert_id: None,
        ..done
    })
}

/// Runs `statement` on `conn` on the current (blocking) thread, sending its decoded rows to
/// `rows` in batches; waits for locks as [`SqliteConn::run`] does, by sleeping the thread.
fn stream_rows<T>(
    conn: &mut StatementConn,
    statement: &Shared,
    decode: Decoder<T>,
    rows: &mpsc::Sender<Result<Vec<T>>>,
    timeout: Duration,
) {
    let started = Instant::now();
    let mut attempts = 0;
    loop {
        WANTED_TO_WAIT.with(|wanted| wanted.set(false));
        let mut sent_any = false;
        let outcome = with_bound(
            conn,
            (&statement.sql).into(),
            &statement.values,
            |_, prepared| {
                let mut query = prepared.raw_query();
                let mut batch = Vec::with_capacity(STREAM_BATCH);
                while let Some(row) = query.next()? {
                    batch.push(decode(&RowRef::Sqlite(row))?);
                    if batch.len() == STREAM_BATCH {
                        sent_any = true;
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(STREAM_BATCH));
                        if rows.blocking_send(Ok(full)).is_err() {
                            // The stream was dropped: stop stepping, give the connection back.
                            return Ok(());
                        }
                    }
                }
                if !batch.is_empty() {
                    // A dropped stream no longer wants them.
                    let _unwanted = rows.blocking_send(Ok(batch));
                }
                Ok(())
            },
        );
        let Err(failure) = outcome else { return };
        match after_failure(failure, attempts, started, timeout) {
            Next::Retry(pause) if !sent_any => {
                std::thread::sleep(pause);
                attempts += 1;
            }
            Next::Retry(_) => {
                let _unwanted = rows.blocking_send(Err(Error::LockTimeout {
                    source: "the SQLite database stayed locked in the middle of a stream".into(),
                }));
                return;
            }
            Next::Fail(error) => {
                let _unwanted = rows.blocking_send(Err(error));
                return;
            }
        }
    }
}

impl SqlDriver for SqliteConn {
    async fn fetch_all<T: Send>(
        &mut self,
        statement: &Shared,
        decode: Decoder<T>,
    ) -> Result<Vec<T>> {
        self.run(|conn| all_rows(conn, (&statement.sql).into(), &statement.values, decode))
            .await
    }

    async fn fetch_optional<T: Send>(
        &mut self,
        statement: &Shared,
        decode: Decoder<T>,
    ) -> Result<Option<T>> {
        self.run(|conn| first_row(conn, (&statement.sql).into(), &statement.values, decode))
            .await
    }

    fn fetch_stream<T: Send + 'static>(
        &mut self,
        statement: Shared,
        decode: Decoder<T>,
    ) -> RowStream<'_, T> {
        Box::pin(async_stream::try_stream! {
            self.connection().await?;
            let mut conn = self.conn.take().expect("reclaimed above");
            let (back, returning) = oneshot::channel();
            self.returning = Some(returning);
            let (sender, mut batches) = mpsc::channel(2);
            let timeout = self.busy_timeout;
            // The statement runs where blocking is allowed: a stream may be read slowly and
            // long, which must not hold a runtime thread.
            tokio::task::spawn_blocking(move || {
                stream_rows(&mut conn, &statement, decode, &sender, timeout);
                drop(sender);
                // Whoever uses the connection next takes it back (or nobody: then it closes).
                let _unclaimed = back.send(conn);
            });
            while let Some(batch) = batches.recv().await {
                for row in batch? {
                    yield row;
                }
            }
        })
    }

    async fn execute(&mut self, statement: &Shared) -> Result<ExecResult> {
        self.run(|conn| execute_statement(conn, (&statement.sql).into(), &statement.values))
            .await
    }

    async fn execute_raw(&mut self, sql: &str) -> Result<ExecResult> {
        self.run(|conn| execute_text(conn, sql)).await
    }

    async fn forget_statements(&mut self) -> Result<()> {
        self.connection().await?.forget();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_statements_run_in_turn_on_one_connection() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('a'), ('b')")
            .unwrap();
        let rebuild = "CREATE TABLE t_new (id INTEGER PRIMARY KEY, v TEXT NOT NULL);\n\
                       INSERT INTO t_new SELECT id, v FROM t;\n\
                       DROP TABLE t;\n\
                       ALTER TABLE t_new RENAME TO t";
        let mut conn = StatementConn::new(conn);
        let done = execute_text(&mut conn, rebuild).map_err(|f| match f {
            Failure::Sqlite(e) => e.to_string(),
            Failure::Orm(e) => e.to_string(),
        });
        assert_eq!(done.unwrap().rows_affected, 2);
        let count: i64 = conn
            .conn()
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 2);
    }
}
