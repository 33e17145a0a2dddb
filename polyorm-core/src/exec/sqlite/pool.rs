//! The SQLite pool: up to `max_connections` connections to one database file, handed out
//! through a semaphore and a free list; an in-memory database is one connection, shared.
//!
//! Deliberately small (nothing is sent to check a connection: SQLite is in-process, a
//! connection does not break unless its stream's thread panicked). What it needs from a
//! general pool to move onto one: a free list whose entries carry their open and idle times,
//! a per-entry "discard instead of reuse" decision at hand-out (age, idle time, the
//! `SchemaClock`), a synchronous hook at return (this one rolls back a transaction left
//! open), and a fixed size of one that never discards (the in-memory database).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::config::SqliteConfig;
use super::conn::SqliteConn;
use crate::error::{Error, Result};
use crate::exec::prepared::SchemaClock;

/// A SQLite pool; clones share it.
#[derive(Clone)]
pub(crate) struct SqlitePool {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SqlitePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlitePool")
            .field("in_memory", &self.inner.config.in_memory)
            .field("max_connections", &self.inner.limits.max)
            .finish()
    }
}

/// The pool settings that apply to SQLite.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max: u32,
    pub(crate) min: u32,
    pub(crate) acquire_timeout: Duration,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) max_lifetime: Option<Duration>,
}

struct Inner {
    config: SqliteConfig,
    limits: Limits,
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<Idle>>,
    /// Connections open (idle or handed out).
    open: AtomicU32,
    closed: AtomicBool,
    schema_clock: Arc<SchemaClock>,
}

/// A free connection (boxed, here and handed out: a connection moves between the list and its
/// user by pointer, not by copying its state).
struct Idle {
    conn: Box<SqliteConn>,
    /// When it stops being fit to hand out: idle for the idle timeout or open for the maximum
    /// lifetime, whichever comes first (`None`: never).
    expires: Option<Instant>,
}

impl SqlitePool {
    /// Opens the pool and its first connection (so that a bad path fails here); an in-memory
    /// database gets its one connection, kept forever.
    pub(crate) fn open(
        config: SqliteConfig,
        mut limits: Limits,
        schema_clock: Arc<SchemaClock>,
    ) -> Result<Self> {
        if config.in_memory {
            limits = Limits {
                max: 1,
                min: 1,
                idle_timeout: None,
                max_lifetime: None,
                ..limits
            };
        }
        limits.max = limits.max.max(1);
        let inner = Arc::new(Inner {
            permits: Arc::new(Semaphore::new(limits.max as usize)),
            idle: Mutex::new(Vec::new()),
            open: AtomicU32::new(0),
            closed: AtomicBool::new(false),
            config,
            limits,
            schema_clock,
        });
        for _ in 0..limits.min.clamp(1, limits.max) {
            let conn = inner.open_connection()?;
            let entry = inner.idle(conn);
            inner.idle_list().push(entry);
        }
        Ok(SqlitePool { inner })
    }

    /// Takes a connection: a free one that is still fit, else a new one; waits up to the
    /// acquire timeout when all are in use.
    pub(crate) async fn acquire(&self) -> Result<PooledSqlite> {
        let inner = &self.inner;
        let permit = match inner.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => tokio::time::timeout(
                inner.limits.acquire_timeout,
                inner.permits.clone().acquire_owned(),
            )
            .await
            .map_err(|_| Error::Timeout {
                source: format!(
                    "all {} SQLite connections stayed in use for the acquire timeout \
                             ({:?}); raise `PoolOptions::max_connections` or \
                             `acquire_timeout`, or hold connections for shorter",
                    inner.limits.max, inner.limits.acquire_timeout
                )
                .into(),
            })?
            .map_err(|_| closed())?,
        };
        if inner.closed.load(Ordering::Acquire) {
            return Err(closed());
        }
        let mut conn = match inner.take_fit() {
            Some(entry) => entry.conn,
            None => inner.open_connection()?,
        };
        // Back from a stream's thread, with a transaction its handle left open rolled back.
        let reclaimed = conn.connection().await.map(rollback_if_open);
        if let Err(e) = reclaimed {
            inner.open.fetch_sub(1, Ordering::AcqRel);
            return Err(e);
        }
        Ok(PooledSqlite {
            conn: Some(conn),
            pool: inner.clone(),
            _permit: permit,
        })
    }

    /// Takes a free connection at once, never waiting: `None` when every connection is in use
    /// or the one at hand is still away on a stream's thread (then [`acquire`](Self::acquire)
    /// waits for one).
    pub(crate) fn try_acquire(&self) -> Option<Result<PooledSqlite>> {
        let inner = &self.inner;
        let permit = inner.permits.clone().try_acquire_owned().ok()?;
        if inner.closed.load(Ordering::Acquire) {
            return Some(Err(closed()));
        }
        let mut conn = match inner.take_fit() {
            Some(mut entry) => match entry.conn.reclaim_now() {
                Ok(true) => entry.conn,
                Ok(false) => {
                    // Still streaming: back to the list, for `acquire` to wait for.
                    inner.idle_list().push(entry);
                    return None;
                }
                Err(e) => {
                    inner.open.fetch_sub(1, Ordering::AcqRel);
                    return Some(Err(e));
                }
            },
            None => match inner.open_connection() {
                Ok(conn) => conn,
                Err(e) => return Some(Err(e)),
            },
        };
        // Back from a stream's thread, with a transaction its handle left open rolled back.
        if let Some(c) = conn.present() {
            rollback_if_open(c);
        }
        Some(Ok(PooledSqlite {
            conn: Some(conn),
            pool: inner.clone(),
            _permit: permit,
        }))
    }

    /// Connections open, idle and at most.
    pub(crate) fn state(&self) -> (u32, u32, u32) {
        let idle = u32::try_from(self.inner.idle_list().len()).unwrap_or(u32::MAX);
        (
            self.inner.open.load(Ordering::Acquire),
            idle,
            self.inner.limits.max,
        )
    }

    /// Waits for every connection to come back, then closes them all; later acquires fail.
    pub(crate) async fn close(&self) {
        let inner = &self.inner;
        inner.closed.store(true, Ordering::Release);
        // Holding every permit means no connection is handed out.
        if let Ok(all) = inner.permits.acquire_many(inner.limits.max).await {
            all.forget();
        }
        inner.permits.close();
        let drained = std::mem::take(&mut *inner.idle_list());
        inner
            .open
            .fetch_sub(u32::try_from(drained.len()).unwrap_or(0), Ordering::AcqRel);
    }
}

impl Inner {
    fn idle_list(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn open_connection(&self) -> Result<Box<SqliteConn>> {
        let conn = Box::new(self.config.open()?);
        self.open.fetch_add(1, Ordering::AcqRel);
        Ok(conn)
    }

    /// `conn`, free from now on.
    fn idle(&self, conn: Box<SqliteConn>) -> Idle {
        let idle_until = self
            .limits
            .idle_timeout
            .and_then(|limit| Instant::now().checked_add(limit));
        let retire_at = self
            .limits
            .max_lifetime
            .and_then(|limit| conn.opened().checked_add(limit));
        let expires = match (idle_until, retire_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Idle { conn, expires }
    }

    /// The most recently returned free connection that is still fit; unfit ones are closed.
    fn take_fit(&self) -> Option<Idle> {
        let mut idle = self.idle_list();
        while let Some(entry) = idle.pop() {
            if self.config.in_memory || self.fit(&entry) {
                return Some(entry);
            }
            self.open.fetch_sub(1, Ordering::AcqRel);
        }
        None
    }

    /// Whether a free connection may be handed out: not idle or open for too long, and opened
    /// after the last schema change through the `Db` (its cached schema can be stale, see
    /// `prepared`).
    fn fit(&self, entry: &Idle) -> bool {
        // One reading of the clock, compared with the entry's deadline, and no durations to
        // compute: this runs for every statement.
        let now = Instant::now();
        entry.expires.is_none_or(|expires| now < expires)
            && !self
                .schema_clock
                .opened_before_last_change(entry.conn.opened())
    }
}

/// Rolls back a transaction a dropped handle left open (its write lock would block every
/// other writer until the connection's next use).
fn rollback_if_open(conn: &mut rusqlite::Connection) {
    if !conn.is_autocommit() {
        // A connection that cannot roll back is closed by SQLite's own rollback on close;
        // nothing more can be done here.
        let _failed = conn.execute_batch("ROLLBACK");
    }
}

fn closed() -> Error {
    Error::Connection {
        source: "the SQLite pool was closed (`Db::close`); connect again".into(),
    }
}

/// A connection taken from a [`SqlitePool`], returned to it when dropped.
pub(crate) struct PooledSqlite {
    conn: Option<Box<SqliteConn>>,
    pool: Arc<Inner>,
    _permit: OwnedSemaphorePermit,
}

impl PooledSqlite {
    /// The connection.
    pub(crate) fn conn(&mut self) -> &mut SqliteConn {
        self.conn.as_mut().expect("present until dropped")
    }
}

impl Drop for PooledSqlite {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        if let Some(c) = conn.present() {
            rollback_if_open(c);
        }
        if !conn.is_usable() || self.pool.closed.load(Ordering::Acquire) {
            self.pool.open.fetch_sub(1, Ordering::AcqRel);
            return;
        }
        let entry = self.pool.idle(conn);
        self.pool.idle_list().push(entry);
    }
}
