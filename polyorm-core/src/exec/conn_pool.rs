//! The ORM's connection pool for servers reached over the network, generic over the
//! connection ([`Connect`]), on `deadpool`'s managed pool.
//!
//! Nothing here talks to the server on the hot path: taking a connection and giving it back
//! send no packet (sqlx's own pool pings on acquire and, unconditionally, on every release:
//! three round trips per query where a held connection needs one). A connection is pinged only
//! when it idled longer than [`ALIVE_BYPASS`] (HikariCP's alive-bypass window) or when an
//! abandoned transaction may still be open on it (it is rolled back then); a connection that broke under a
//! statement is found by that statement's own failure and dropped when it goes back ([`Connect::is_retired`]),
//! as is one whose session a statement left slower (a MariaDB session's network buffer grown by
//! a large statement: see `sql_driver::MYSQL_SPOILS_SESSION_ABOVE`).
//!
//! Waiters are served first come, first served (deadpool waits on tokio's fair semaphore);
//! idle connections are handed out most recently used first, so that under light load the
//! same warm connection is reused inside the window and the others age out with
//! `idle_timeout`.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool::managed::{self, Metrics, Object, PoolError, QueueMode, RecycleError, Timeouts};

use super::acquire::{gave_up, refusal, with_wait};
use super::prepared::SchemaClock;
use super::sql_driver::Wait;
use crate::error::{Error, Result};

/// A connection reused within this long of its last use is handed out without a ping.
pub(crate) const ALIVE_BYPASS: Duration = Duration::from_millis(500);
/// While the server refuses connections, a waiting acquire tries again at most this far apart
/// (after 10, 20, 40 … ms), so it reconnects within about this long after the server is back.
pub(crate) const RECONNECT_EVERY: Duration = Duration::from_millis(250);

/// What the pool needs from one kind of connection: open one, prove one still works, close
/// one politely. A new driver implements this to be pooled (the native SQLite driver's
/// connections included).
pub(crate) trait Connect: Send + Sync + 'static {
    /// The connection.
    type Conn: Send + 'static;

    /// Opens a connection. A server that refuses connections is reported as
    /// [`Error::Connection`] whose source is a
    /// [`ConnectFailure`](super::acquire::ConnectFailure) (see
    /// [`connect_error`](super::acquire::connect_error)): the pool waits for such a server
    /// where the caller is patient.
    fn connect(&self) -> impl Future<Output = Result<Self::Conn>> + Send;

    /// One round trip that fails when the connection no longer works.
    fn ping(conn: &mut Self::Conn) -> impl Future<Output = Result<()>> + Send;

    /// Rolls back a transaction left open on the connection (its handle was dropped), failing
    /// when the connection no longer works.
    fn reset(conn: &mut Self::Conn) -> impl Future<Output = Result<()>> + Send;

    /// Closes the connection, telling the server where the protocol has a goodbye.
    fn close(conn: Self::Conn) -> impl Future<Output = ()> + Send;

    /// Whether a statement found the connection broken (lost, or left in an unknown state) or
    /// left its session slower for later statements: it is dropped rather than returned to the
    /// pool.
    fn is_retired(conn: &Self::Conn) -> bool;
}

/// Settings of a [`ConnPool`] (from [`PoolOptions`](super::PoolOptions)).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_connections: u32,
    pub(crate) min_connections: u32,
    pub(crate) acquire_timeout: Duration,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) max_lifetime: Option<Duration>,
    /// A server that refuses connections is reported at once, never waited for (the nodes of
    /// a replicated topology, whose reads go elsewhere meanwhile).
    pub(crate) fail_fast: bool,
}

/// A pooled connection with the pool's bookkeeping.
pub(crate) struct Slot<T> {
    conn: T,
    /// When it last came back to the pool (or was opened).
    returned: Instant,
    /// Whether a transaction may be open on it: rolled back before its next use.
    dirty: bool,
    /// Whether this hand-out was proven to work (just opened or just pinged).
    checked: bool,
}

/// deadpool's manager: opens through [`Connect`], and on reuse checks age and idle time
/// locally, pinging only outside the alive-bypass window.
pub(crate) struct Manager<C> {
    connect: C,
    limits: Limits,
    /// Connections opened before the last DDL run through the `Db` are replaced (their
    /// prepared statements describe the old tables; see [`super::prepared`]).
    schema_clock: Arc<SchemaClock>,
}

/// Why a connection is not reused (never shown to a caller: the pool opens another).
#[derive(Debug)]
pub(crate) enum Retired {
    Open(Error),
    Ping(Error),
}

impl<C: Connect> managed::Manager for Manager<C> {
    type Type = Slot<C::Conn>;
    type Error = Retired;

    async fn create(&self) -> std::result::Result<Slot<C::Conn>, Retired> {
        // Opening and checking a connection are boxed: inline, their state machines (a TLS
        // handshake, a driver's login) made every acquire's future kilobytes large (10 KiB on
        // MariaDB), copied on every query to put it on the heap.
        let conn = Box::pin(self.connect.connect())
            .await
            .map_err(Retired::Open)?;
        Ok(Slot {
            conn,
            returned: Instant::now(),
            dirty: false,
            checked: true,
        })
    }

    async fn recycle(
        &self,
        slot: &mut Slot<C::Conn>,
        metrics: &Metrics,
    ) -> managed::RecycleResult<Retired> {
        // One reading of the clock for both durations (this runs for every query).
        let now = Instant::now();
        let age = now.saturating_duration_since(metrics.created);
        let idle = now.saturating_duration_since(slot.returned);
        let expired = self.limits.max_lifetime.is_some_and(|max| age >= max)
            || self.limits.idle_timeout.is_some_and(|max| idle >= max)
            || self.schema_clock.opened_before_last_change(metrics.created);
        if expired {
            return Err(RecycleError::message("expired"));
        }
        slot.checked = slot.dirty || idle >= ALIVE_BYPASS;
        let checked = if slot.dirty {
            Box::pin(C::reset(&mut slot.conn)).await
        } else if slot.checked {
            Box::pin(C::ping(&mut slot.conn)).await
        } else {
            return Ok(());
        };
        checked.map_err(|e| RecycleError::Backend(Retired::Ping(e)))?;
        slot.dirty = false;
        Ok(())
    }
}

/// A pool of connections made by `C`. Cheap to clone.
pub(crate) struct ConnPool<C: Connect> {
    pool: managed::Pool<Manager<C>>,
}

impl<C: Connect> Clone for ConnPool<C> {
    fn clone(&self) -> Self {
        ConnPool {
            pool: self.pool.clone(),
        }
    }
}

impl<C: Connect> std::fmt::Debug for ConnPool<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = self.pool.status();
        f.debug_struct("ConnPool")
            .field("size", &status.size)
            .field("max_size", &status.max_size)
            .finish()
    }
}

impl<C: Connect> ConnPool<C> {
    /// A pool that opens connections with `connect`; none is opened yet (see
    /// [`ConnPool::open_first`]).
    pub(crate) fn new(connect: C, limits: Limits, schema_clock: Arc<SchemaClock>) -> Self {
        let max = usize::try_from(limits.max_connections.max(1)).unwrap_or(usize::MAX);
        let manager = Manager {
            connect,
            limits,
            schema_clock,
        };
        let pool = managed::Pool::builder(manager)
            .max_size(max)
            .queue_mode(QueueMode::Lifo)
            .build()
            .expect("no runtime-dependent timeouts are configured");
        ConnPool { pool }
    }

    /// Opens the first connection, failing at once with the cause (refused, name not
    /// resolved, TLS, login, unknown database), and starts the task that keeps
    /// `min_connections` open and closes idle and old connections.
    pub(crate) async fn open_first(&self) -> Result<()> {
        drop(self.acquire(Wait::FailFast).await?);
        self.spawn_maintenance();
        Ok(())
    }

    /// Takes a connection: an idle one (pinged only when it idled past [`ALIVE_BYPASS`]) or a
    /// new one, waiting up to the acquire timeout for a free one ([`Error::Timeout`]) or, when
    /// `wait` is [`Wait::Patient`], for a server that refuses connections to accept them again
    /// ([`Error::Connection`] with the refusal).
    pub(crate) async fn acquire(&self, wait: Wait) -> Result<Pooled<C>> {
        let limits = self.pool.manager().limits;
        // The clock is read once here (every query comes this way); how long the acquire
        // waited is read again only on failure.
        let started = tokio::time::Instant::now();
        let deadline = started + limits.acquire_timeout;
        let mut backoff = Duration::from_millis(10);
        loop {
            let got = tokio::time::timeout_at(deadline, self.pool.timeout_get(&NO_TIMEOUTS)).await;
            let error = match got {
                Ok(Ok(object)) => return Ok(Pooled::new(object)),
                Err(_) | Ok(Err(PoolError::Timeout(_))) => {
                    return Err(gave_up(started.elapsed()));
                }
                Ok(Err(PoolError::Backend(Retired::Open(e) | Retired::Ping(e)))) => e,
                Ok(Err(PoolError::Closed)) => return Err(closed()),
                Ok(Err(PoolError::PostCreateHook(_) | PoolError::NoRuntimeSpecified)) => {
                    unreachable!("the pool has no hooks and no deadpool timeouts")
                }
            };
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if wait == Wait::FailFast || limits.fail_fast || !refusal(&error) {
                return Err(error);
            }
            if left.is_zero() {
                return Err(with_wait(error, started.elapsed()));
            }
            tokio::time::sleep(backoff.min(left)).await;
            backoff = (backoff * 2).min(RECONNECT_EVERY);
        }
    }

    /// Connections open, idle and at most.
    pub(crate) fn state(&self) -> (u32, u32, u32) {
        let status = self.pool.status();
        let n = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        (n(status.size), n(status.available), n(status.max_size))
    }

    /// Tasks waiting for a connection now.
    pub(crate) fn waiting(&self) -> u32 {
        u32::try_from(self.pool.status().waiting).unwrap_or(u32::MAX)
    }

    /// The most connections this pool opens.
    pub(crate) fn max_connections(&self) -> u32 {
        self.pool.manager().limits.max_connections.max(1)
    }

    /// Closes the pool: later acquires fail, idle connections are closed now and connections
    /// in use when they come back; returns once every connection is closed.
    pub(crate) async fn close(&self) {
        let idle = self.pool.retain(|_, _| false).removed;
        self.pool.close();
        for slot in idle {
            C::close(slot.conn).await;
        }
        while self.pool.status().size > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Every so often: closes connections idle past `idle_timeout` or older than
    /// `max_lifetime` (they would be replaced on their next use anyway, but an idle pool
    /// should not hold server sessions), and opens connections up to `min_connections`. Ends
    /// with the pool.
    fn spawn_maintenance(&self) {
        let limits = self.pool.manager().limits;
        let period = [limits.idle_timeout, limits.max_lifetime]
            .into_iter()
            .flatten()
            .min()
            .map_or(Duration::from_secs(30), |d| d / 2)
            .clamp(Duration::from_millis(100), Duration::from_secs(30));
        let weak = self.pool.weak();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(period).await;
                let Some(pool) = weak.upgrade() else { return };
                if pool.is_closed() {
                    return;
                }
                let expired = pool.retain(|slot, metrics| {
                    !(limits
                        .idle_timeout
                        .is_some_and(|max| slot.returned.elapsed() >= max)
                        || limits.max_lifetime.is_some_and(|max| metrics.age() >= max))
                });
                for slot in expired.removed {
                    C::close(slot.conn).await;
                }
                top_up(&pool, limits.min_connections).await;
            }
        });
    }
}

/// deadpool's own timeouts need a runtime handle; ours wrap the whole acquire instead.
const NO_TIMEOUTS: Timeouts = Timeouts::new();

/// Opens connections until `min` are open (each taken without waiting, then all returned).
async fn top_up<C: Connect>(pool: &managed::Pool<Manager<C>>, min: u32) {
    let min = usize::try_from(min).unwrap_or(usize::MAX);
    let now = Timeouts {
        wait: Some(Duration::ZERO),
        ..Timeouts::new()
    };
    let mut taken = Vec::new();
    while pool.status().size < min {
        match pool.timeout_get(&now).await {
            Ok(object) => taken.push(object),
            Err(_) => break,
        }
    }
}

fn closed() -> Error {
    Error::Connection {
        source: "the pool was closed (`Db::close`); connect again to run more statements".into(),
    }
}

/// A connection taken from a [`ConnPool`], returned to it when dropped (with no round trip).
pub(crate) struct Pooled<C: Connect> {
    object: Option<Object<Manager<C>>>,
}

impl<C: Connect> Pooled<C> {
    fn new(object: Object<Manager<C>>) -> Self {
        Pooled {
            object: Some(object),
        }
    }

    fn slot(&self) -> &Slot<C::Conn> {
        self.object.as_ref().expect("present until dropped")
    }

    fn slot_mut(&mut self) -> &mut Slot<C::Conn> {
        self.object.as_mut().expect("present until dropped")
    }

    /// The connection.
    pub(crate) fn conn(&mut self) -> &mut C::Conn {
        &mut self.slot_mut().conn
    }

    /// Whether this connection was handed out unproven (reused inside the alive-bypass window,
    /// without a ping): a statement that finds it broken may run again on a fresh one.
    pub(crate) fn unchecked(&self) -> bool {
        !self.slot().checked
    }

    /// Asks for a `ROLLBACK` before the connection's next use (a transaction may be open).
    pub(crate) fn mark_dirty(&mut self) {
        self.slot_mut().dirty = true;
    }

    /// No transaction is open on the connection any more.
    pub(crate) fn mark_clean(&mut self) {
        self.slot_mut().dirty = false;
    }
}

impl<C: Connect> Drop for Pooled<C> {
    /// Returns the connection to the pool, or, when a statement found it broken or spoiled its
    /// session, takes it out of the pool and drops it (the pool opens another when one is
    /// needed).
    fn drop(&mut self) {
        let Some(mut object) = self.object.take() else {
            return;
        };
        if C::is_retired(&object.conn) {
            drop(Object::take(object));
        } else {
            object.returned = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::connect::Login;

    fn limits() -> Limits {
        Limits {
            max_connections: 4,
            min_connections: 0,
            acquire_timeout: Duration::from_secs(1),
            idle_timeout: None,
            max_lifetime: None,
            fail_fast: false,
        }
    }

    /// The future of `acquire` is moved to the heap on every query: opening and checking a
    /// connection (large state machines) must stay out of it. Nothing connects here.
    fn assert_small_acquire<C: Connect>(pool: &ConnPool<C>, driver: &str) {
        let acquire = pool.acquire(Wait::Patient);
        let size = std::mem::size_of_val(&acquire);
        assert!(
            size <= 2048,
            "{driver}: the acquire future is {size} bytes; box what opens or checks a connection"
        );
    }

    #[cfg(feature = "mysql")]
    #[test]
    fn acquiring_a_mysql_connection_is_a_small_future() {
        let options = "mysql://root@127.0.0.1:1/none".parse().unwrap();
        let connector = crate::exec::connect::Connector::new(options, None, Login::Url);
        let pool = ConnPool::new(
            super::super::remote_pool::SqlxConnect::<sqlx::MySql>::new(connector, None),
            limits(),
            Arc::new(SchemaClock::new()),
        );
        assert_small_acquire(&pool, "MySQL");
    }

    #[cfg(feature = "postgres-native")]
    #[test]
    fn acquiring_a_native_postgres_connection_is_a_small_future() {
        let connect = super::super::postgres_native::NativeConnect::new(
            "postgres://postgres@127.0.0.1:1/none",
            None,
            Login::Url,
        )
        .unwrap();
        let pool = ConnPool::new(connect, limits(), Arc::new(SchemaClock::new()));
        assert_small_acquire(&pool, "native PostgreSQL");
    }
}
