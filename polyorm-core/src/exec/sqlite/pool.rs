//! The SQLite pool: up to `max_connections` connections to one database file, handed out
//! through a count of places and a free list; an in-memory database is one connection, shared.
//! A place is taken and given back with an atomic operation each (a semaphore's release takes
//! a lock); tasks waiting for one queue on a `Notify`, and while any waits, a new hand-out does
//! not take the place before them. The connection given back last waits in a slot of its own,
//! taken and filled with one atomic swap each; the others wait in a list behind a mutex. A
//! statement through the pool thus costs four atomic read-modify-writes (≈ 3.5 ns each here,
//! uncontended), where the mutex-guarded list and the handle's reference count cost eight.
//!
//! Deliberately small (nothing is sent to check a connection: SQLite is in-process, a
//! connection does not break unless its stream's thread panicked). What it needs from a
//! general pool to move onto one: a free list whose entries carry their open and idle times,
//! a per-entry "discard instead of reuse" decision at hand-out (age, idle time, the
//! `SchemaClock`), a synchronous hook at return (this one rolls back a transaction left
//! open), and a fixed size of one that never discards (the in-memory database).

use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_utils::atomic::AtomicCell;
use tokio::sync::Notify;

use super::clock::DeadlineClock;
use super::config::SqliteConfig;
use super::conn::{SqliteConn, Whereabouts};
use super::statements::StatementConn;
use crate::error::{Error, Result};
use crate::exec::prepared::SchemaClock;

/// A SQLite pool; clones share it.
#[derive(Clone)]
pub(crate) struct SqlitePool {
    inner: Arc<PoolInner>,
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

/// What a [`SqlitePool`]'s clones and its lent connections share.
pub(crate) struct PoolInner {
    config: SqliteConfig,
    limits: Limits,
    /// Connections handed out (at most `limits.max`).
    lent: AtomicU32,
    /// Tasks waiting in `acquire` for a place (while any waits, `try_take_place` fails).
    waiting: AtomicU32,
    /// Woken when a place is given back (all, once the pool is closed).
    given_back: Notify,
    /// The free connection given back last (see the module's notes).
    latest: AtomicCell<Option<Box<Entry>>>,
    /// The other free connections, the most recently given back last.
    #[allow(
        clippy::vec_box,
        reason = "an entry moves between this list, the slot and its user by pointer"
    )]
    older: Mutex<Vec<Box<Entry>>>,
    /// Connections open (idle or handed out).
    open: AtomicU32,
    closed: AtomicBool,
    schema_clock: Arc<SchemaClock>,
    /// The clock of the idle and lifetime deadlines.
    clock: DeadlineClock,
}

/// A connection of the pool (boxed, free and handed out: it moves between the free list and
/// its user by pointer, not by copying its state).
struct Entry {
    conn: SqliteConn,
    /// When it was opened, on the pool's [`DeadlineClock`].
    opened: u64,
    /// When it was opened, on the `Db`'s schema clock ([`SchemaClock::stamp`]).
    schema_stamp: u64,
    /// While free, when it stops being fit to hand out, on the pool's clock: idle for the
    /// idle timeout or open for the maximum lifetime, whichever comes first (`None`: never).
    expires: Option<u64>,
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
        let inner = Arc::new(PoolInner {
            clock: DeadlineClock::for_limits(sooner(limits.idle_timeout, limits.max_lifetime)),
            lent: AtomicU32::new(0),
            waiting: AtomicU32::new(0),
            given_back: Notify::new(),
            latest: AtomicCell::new(None),
            older: Mutex::new(Vec::new()),
            open: AtomicU32::new(0),
            closed: AtomicBool::new(false),
            config,
            limits,
            schema_clock,
        });
        for _ in 0..limits.min.clamp(1, limits.max) {
            let entry = inner.open_connection()?;
            inner.put_free(entry);
        }
        Ok(SqlitePool { inner })
    }

    /// Takes a connection: a free one that is still fit, else a new one; waits up to the
    /// acquire timeout when all are in use.
    pub(crate) async fn acquire(&self) -> Result<PooledSqlite> {
        let inner = &self.inner;
        if !inner.try_take_place() {
            tokio::time::timeout(inner.limits.acquire_timeout, inner.wait_for_place())
                .await
                .map_err(|_| Error::Timeout {
                    source: format!(
                        "all {} SQLite connections stayed in use for the acquire timeout \
                         ({:?}); raise `PoolOptions::max_connections` or `acquire_timeout`, \
                         or hold connections for shorter",
                        inner.limits.max, inner.limits.acquire_timeout
                    )
                    .into(),
                })??;
        }
        let (mut pooled, here) = PoolInner::hand_out(inner.clone())?;
        if !here {
            // Dropped on failure: a connection lost with its stream's thread is not counted.
            let conn = pooled.conn().connection().await?;
            settle(conn)?;
        }
        Ok(pooled)
    }

    /// Takes a free connection at once, never waiting, for a statement that runs while the
    /// pool is borrowed: `None` when every connection is in use or the one at hand is still
    /// away on a stream's thread (then [`acquire`](Self::acquire) waits for one).
    pub(crate) fn try_acquire(&self) -> Option<Result<SqliteLease<'_>>> {
        if !self.inner.try_take_place() {
            return None;
        }
        // Borrowing the pool, not sharing it: no reference count to raise and lower.
        match PoolInner::hand_out(&*self.inner) {
            Ok((pooled, true)) => Some(Ok(pooled)),
            Ok((streaming, false)) => {
                // Back to the list, for `acquire` to wait for.
                drop(streaming);
                None
            }
            Err(e) => Some(Err(e)),
        }
    }

    /// Connections open, idle and at most.
    pub(crate) fn state(&self) -> (u32, u32, u32) {
        let open = self.inner.open.load(Ordering::Acquire);
        // Open and not lent (a place is taken just before its connection is handed out: for
        // that moment one fewer).
        let idle = open.saturating_sub(self.inner.lent.load(Ordering::Acquire));
        (open, idle, self.inner.limits.max)
    }

    /// Waits for every connection to come back, then closes them all; later acquires fail.
    pub(crate) async fn close(&self) {
        let inner = &self.inner;
        inner.closed.store(true, Ordering::SeqCst);
        // Waiting acquires fail now; places given back from now on wake every waiter.
        inner.given_back.notify_waiters();
        inner
            .when_given_back(|| (inner.lent.load(Ordering::SeqCst) == 0).then_some(()))
            .await;
        let mut drained = std::mem::take(&mut *inner.older_list());
        drained.extend(inner.latest.take());
        inner
            .open
            .fetch_sub(u32::try_from(drained.len()).unwrap_or(0), Ordering::AcqRel);
    }
}

impl PoolInner {
    /// Takes a place for a connection at once: `false` when all are taken or tasks wait for
    /// one (they come first).
    fn try_take_place(&self) -> bool {
        self.waiting.load(Ordering::SeqCst) == 0 && self.take_place()
    }

    /// Takes a place if one is free.
    fn take_place(&self) -> bool {
        let mut lent = self.lent.load(Ordering::Relaxed);
        while lent < self.limits.max {
            match self.lent.compare_exchange_weak(
                lent,
                lent + 1,
                Ordering::SeqCst,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => lent = now,
            }
        }
        false
    }

    /// Waits until a place is free and takes it; fails once the pool is closed.
    async fn wait_for_place(&self) -> Result<()> {
        /// Counts the task among the waiting until it stops waiting (also when cancelled).
        struct Waiting<'a>(&'a AtomicU32);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(&self.waiting);
        self.when_given_back(|| {
            if self.closed.load(Ordering::SeqCst) {
                Some(Err(closed()))
            } else {
                self.take_place().then_some(Ok(()))
            }
        })
        .await
    }

    /// Looks with `look` until it finds what it looks for, looking again each time a place is
    /// given back. The wake-up is registered before each look, so that a place given back
    /// after a look that found nothing still wakes this task.
    async fn when_given_back<T>(&self, mut look: impl FnMut() -> Option<T>) -> T {
        loop {
            let given_back = self.given_back.notified();
            let mut given_back = std::pin::pin!(given_back);
            given_back.as_mut().enable();
            if let Some(found) = look() {
                return found;
            }
            given_back.await;
        }
    }

    /// Gives a place back, waking a waiting task (every one once the pool is closed, `close`
    /// among them).
    fn give_back(&self) {
        self.lent.fetch_sub(1, Ordering::SeqCst);
        if self.closed.load(Ordering::SeqCst) {
            self.given_back.notify_waiters();
        } else if self.waiting.load(Ordering::SeqCst) != 0 {
            self.given_back.notify_one();
        }
    }

    /// Hands out, on a place taken, a free connection that is still fit, else a new one, and
    /// whether it is here (`false`: still away on a stream's thread), lent through `pool`. On
    /// failure the place is given back.
    fn hand_out<P: Deref<Target = Self>>(pool: P) -> Result<(Lent<P>, bool)> {
        // Gives the place back if anything below fails.
        let mut lent = Lent { entry: None, pool };
        if lent.pool.closed.load(Ordering::SeqCst) {
            return Err(closed());
        }
        lent.entry = Some(match lent.pool.take_fit() {
            Some(entry) => entry,
            None => lent.pool.open_connection()?,
        });
        // On failure `lent` is dropped: a connection lost with its stream's thread is closed
        // (no longer counted), not returned to the list.
        let here = match lent.conn().reclaim_now()? {
            // Settled when it was given back (`take_back`).
            Whereabouts::Here => true,
            Whereabouts::Back(conn) => {
                settle(conn)?;
                true
            }
            Whereabouts::Away => false,
        };
        Ok((lent, here))
    }

    #[allow(clippy::vec_box, reason = "see `older`")]
    fn older_list(&self) -> std::sync::MutexGuard<'_, Vec<Box<Entry>>> {
        self.older.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn open_connection(&self) -> Result<Box<Entry>> {
        // Stamped before opening: a schema change while it opens makes it stale, never fresh.
        let schema_stamp = self.schema_clock.stamp();
        let entry = Box::new(Entry {
            conn: self.config.open()?,
            opened: self.clock.now_ms(),
            schema_stamp,
            expires: None,
        });
        self.open.fetch_add(1, Ordering::AcqRel);
        Ok(entry)
    }

    /// Makes `entry` free: the latest, the one it replaces among the older ones.
    fn put_free(&self, mut entry: Box<Entry>) {
        let idle_until = self
            .limits
            .idle_timeout
            .and_then(|limit| self.clock.deadline(self.clock.now_ms(), limit));
        let retire_at = self
            .limits
            .max_lifetime
            .and_then(|limit| self.clock.deadline(entry.opened, limit));
        entry.expires = sooner(idle_until, retire_at);
        if let Some(older) = self.latest.swap(Some(entry)) {
            self.older_list().push(older);
        }
    }

    /// Takes back a connection that was lent: free again, or closed when it cannot be used
    /// again or the pool is closed. A transaction a dropped handle left open on it is rolled
    /// back (its write lock would block every other writer until the connection's next use);
    /// one that cannot be is closed with the connection (SQLite rolls back on close).
    fn take_back(&self, mut entry: Box<Entry>) {
        // A connection away on a stream's thread is settled when it comes back (`hand_out`).
        let settled = entry.conn.present().is_none_or(rollback_if_open);
        if settled && entry.conn.is_usable() && !self.closed.load(Ordering::SeqCst) {
            self.put_free(entry);
        } else {
            self.open.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// The most recently returned free connection that is still fit; unfit ones are closed.
    fn take_fit(&self) -> Option<Box<Entry>> {
        if let Some(entry) = self.latest.take() {
            if self.fit(&entry) {
                return Some(entry);
            }
            self.open.fetch_sub(1, Ordering::AcqRel);
        }
        let mut older = self.older_list();
        while let Some(entry) = older.pop() {
            if self.fit(&entry) {
                return Some(entry);
            }
            self.open.fetch_sub(1, Ordering::AcqRel);
        }
        None
    }

    /// Whether a free connection may be handed out: the in-memory database's always; another
    /// if not idle or open for too long, and opened after the last schema change through the
    /// `Db` (its cached schema can be stale, see `prepared`).
    fn fit(&self, entry: &Entry) -> bool {
        if self.config.in_memory {
            return true;
        }
        // At most one reading of the clock (none without a deadline), compared with the entry's
        // deadline, and no durations to compute: this runs for every statement.
        entry
            .expires
            .is_none_or(|expires| self.clock.now_ms() < expires)
            && !self
                .schema_clock
                .stamped_before_last_change(entry.schema_stamp)
    }
}

/// The smaller of two optional limits or deadlines (`None`: none).
fn sooner<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Rolls back a transaction a dropped handle left open: whether none is open now.
fn rollback_if_open(conn: &mut StatementConn) -> bool {
    let conn = conn.conn();
    if conn.is_autocommit() {
        return true;
    }
    // Its error is not what the caller needs: the connection is closed when this fails.
    let _failed = conn.execute_batch("ROLLBACK");
    conn.is_autocommit()
}

/// Readies a connection just back from a stream's thread, which was given back to the pool
/// while away (and could not be rolled back then): fails, for the connection to be closed,
/// when a transaction left open on it cannot be rolled back.
fn settle(conn: &mut StatementConn) -> Result<()> {
    if rollback_if_open(conn) {
        Ok(())
    } else {
        Err(Error::ConnectionLost {
            source: "a transaction left open on a SQLite connection could not be rolled back; \
                     the connection was closed: run the statement again"
                .into(),
        })
    }
}

fn closed() -> Error {
    Error::Connection {
        source: "the SQLite pool was closed (`Db::close`); connect again".into(),
    }
}

/// A connection taken from a [`SqlitePool`] on one of its places through `P` (the pool shared
/// or borrowed), returned to it (and the place given back) when dropped.
pub(crate) struct Lent<P: Deref<Target = PoolInner>> {
    /// `None` only while it is handed out (`PoolInner::hand_out`) and once dropped.
    entry: Option<Box<Entry>>,
    pool: P,
}

/// A connection lent by a [`SqlitePool`], held for as long as its holder likes.
pub(crate) type PooledSqlite = Lent<Arc<PoolInner>>;

/// A connection lent by a [`SqlitePool`] for a statement run while the pool is borrowed.
pub(crate) type SqliteLease<'a> = Lent<&'a PoolInner>;

impl<P: Deref<Target = PoolInner>> Lent<P> {
    /// The connection.
    pub(crate) fn conn(&mut self) -> &mut SqliteConn {
        &mut self.entry.as_mut().expect("present until dropped").conn
    }
}

impl<P: Deref<Target = PoolInner>> Drop for Lent<P> {
    fn drop(&mut self) {
        if let Some(entry) = self.entry.take() {
            self.pool.take_back(entry);
        }
        self.pool.give_back();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_free_connection_is_swapped_without_a_lock() {
        assert!(AtomicCell::<Option<Box<Entry>>>::is_lock_free());
    }
}
