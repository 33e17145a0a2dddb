//! One database server of a topology: its pool, what the last probe found (role, position,
//! lag, latency) and its circuit breaker.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::OnceCell;

use super::breaker::{Breaker, BreakerConfig};
use super::position::Position;
use crate::error::{Error, Result};
use crate::exec::{Db, Health, PoolOptions, ServerInfo};
use crate::raw::raw;
use crate::sql::Dialect;

/// What a node is, as its last probe found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Accepts writes (PostgreSQL: not in recovery; MariaDB: not read-only and not a replica).
    Primary,
    /// Replays another server's changes (PostgreSQL: in recovery; MariaDB: `read_only` or
    /// replicating).
    Replica,
    /// Not reached yet, or unreachable at the last probe.
    Unknown,
}

const UNKNOWN: u8 = 0;
const PRIMARY: u8 = 1;
const REPLICA: u8 = 2;
/// `lag_*` when no probe has measured it.
pub(super) const UNMEASURED: u64 = u64::MAX;

/// What one probe of a node found.
#[derive(Debug, Clone)]
pub(super) struct Probe {
    pub(super) role: Role,
    /// PostgreSQL: the current WAL location (primary) or the replayed one (replica); MariaDB:
    /// `@@gtid_binlog_pos` (primary) or `@@gtid_slave_pos` (replica).
    pub(super) position: Option<Position>,
    /// How far a replica's replay is behind, as its server reports it.
    pub(super) lag: Option<Duration>,
    pub(super) latency: Duration,
}

/// A server of the topology.
#[derive(Debug)]
pub(super) struct Node {
    pub(super) url: String,
    /// `host:port/database`.
    pub(super) name: String,
    pub(super) dialect: Dialect,
    options: PoolOptions,
    db: OnceCell<Db>,
    role: AtomicU8,
    /// Microseconds; [`UNMEASURED`] until probed.
    lag_micros: AtomicU64,
    /// WAL bytes behind the primary at the last probe; [`UNMEASURED`] when unknown.
    lag_bytes: AtomicU64,
    /// Exponentially weighted round-trip time, microseconds.
    latency_micros: AtomicU64,
    /// The position at the last probe.
    position: Mutex<Option<Position>>,
    last_error: Mutex<Option<String>>,
    /// The pool's state at the last probe.
    pool: Mutex<Option<Health>>,
    pub(super) breaker: Breaker,
    /// Statements (and transactions) the topology sent here.
    pub(super) statements: AtomicU64,
}

impl Node {
    pub(super) fn new(
        url: String,
        dialect: Dialect,
        options: PoolOptions,
        declared: Role,
        breaker: BreakerConfig,
    ) -> Node {
        let info = ServerInfo::from_url(&url);
        let name = format!(
            "{}:{}/{}",
            info.address.as_deref().unwrap_or("?"),
            info.port.map_or_else(|| "?".to_owned(), |p| p.to_string()),
            info.namespace.as_deref().unwrap_or("")
        );
        let node = Node {
            url,
            name,
            dialect,
            options: options.fail_fast_on_refusal(),
            db: OnceCell::new(),
            role: AtomicU8::new(UNKNOWN),
            lag_micros: AtomicU64::new(UNMEASURED),
            lag_bytes: AtomicU64::new(UNMEASURED),
            latency_micros: AtomicU64::new(0),
            position: Mutex::new(None),
            last_error: Mutex::new(None),
            pool: Mutex::new(None),
            breaker: Breaker::new(breaker),
            statements: AtomicU64::new(0),
        };
        node.set_role(declared);
        node
    }

    /// The node's pool, once it has connected.
    #[inline]
    pub(super) fn db(&self) -> Option<&Db> {
        self.db.get()
    }

    /// The pool, counting a statement sent to it.
    #[inline]
    pub(super) fn db_for_statement(&self) -> Option<&Db> {
        self.statements.fetch_add(1, Ordering::Relaxed);
        self.db.get()
    }

    /// The node's pool, connecting now if it never has.
    pub(super) async fn connect(&self) -> Result<&Db> {
        self.db
            .get_or_try_init(|| self.options.clone().connect(&self.url))
            .await
    }

    #[inline]
    pub(super) fn role(&self) -> Role {
        match self.role.load(Ordering::Acquire) {
            PRIMARY => Role::Primary,
            REPLICA => Role::Replica,
            _ => Role::Unknown,
        }
    }

    pub(super) fn set_role(&self, role: Role) {
        let value = match role {
            Role::Primary => PRIMARY,
            Role::Replica => REPLICA,
            Role::Unknown => UNKNOWN,
        };
        self.role.store(value, Ordering::Release);
    }

    /// The replay lag at the last probe (`None` when not measured).
    pub(super) fn lag(&self) -> Option<Duration> {
        match self.lag_micros.load(Ordering::Relaxed) {
            UNMEASURED => None,
            micros => Some(Duration::from_micros(micros)),
        }
    }

    #[inline]
    pub(super) fn lag_micros(&self) -> u64 {
        self.lag_micros.load(Ordering::Relaxed)
    }

    pub(super) fn lag_bytes(&self) -> Option<u64> {
        match self.lag_bytes.load(Ordering::Relaxed) {
            UNMEASURED => None,
            bytes => Some(bytes),
        }
    }

    pub(super) fn set_lag_bytes(&self, bytes: Option<u64>) {
        self.lag_bytes
            .store(bytes.unwrap_or(UNMEASURED), Ordering::Relaxed);
    }

    #[inline]
    pub(super) fn latency_micros(&self) -> u64 {
        self.latency_micros.load(Ordering::Relaxed)
    }

    /// Folds one measured round trip into the moving average (weight 1/4).
    pub(super) fn record_latency(&self, took: Duration) {
        let sample = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let old = self.latency_micros.load(Ordering::Relaxed);
        let new = if old == 0 {
            sample
        } else {
            old - old / 4 + sample / 4
        };
        self.latency_micros.store(new, Ordering::Relaxed);
    }

    pub(super) fn position(&self) -> Option<Position> {
        self.position
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(super) fn set_position(&self, position: Option<Position>) {
        *self.position.lock().unwrap_or_else(|e| e.into_inner()) = position;
    }

    /// The pool's state at the last probe.
    pub(super) fn pool(&self) -> Option<Health> {
        *self.pool.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set_last_error(&self, error: Option<String>) {
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = error;
    }

    /// Asks the server what it is and how far it is (connecting first if needed), within
    /// `timeout`; records the answer (or the failure, which also counts on the breaker).
    pub(super) async fn probe(&self, timeout: Duration) -> Result<Probe> {
        let outcome = match tokio::time::timeout(timeout, self.probe_once()).await {
            Ok(outcome) => outcome,
            Err(_) => Err(Error::Connection {
                source: format!(
                    "{} did not answer the health probe within {timeout:?}",
                    self.name
                )
                .into(),
            }),
        };
        match &outcome {
            Ok(probe) => {
                self.breaker.success();
                self.set_role(probe.role);
                self.record_latency(probe.latency);
                self.lag_micros.store(
                    probe.lag.map_or(UNMEASURED, |l| {
                        u64::try_from(l.as_micros()).unwrap_or(UNMEASURED)
                    }),
                    Ordering::Relaxed,
                );
                self.set_position(probe.position.clone());
                self.set_last_error(None);
            }
            Err(e) => {
                self.breaker.failure();
                self.set_role(Role::Unknown);
                self.set_last_error(Some(e.to_string()));
            }
        }
        outcome
    }

    async fn probe_once(&self) -> Result<Probe> {
        let db = self.connect().await?;
        // Fails at once on a server that refuses connections.
        let health = db.health().await?;
        let latency = health.latency;
        *self.pool.lock().unwrap_or_else(|e| e.into_inner()) = Some(health);
        match self.dialect {
            Dialect::Postgres => {
                let (in_recovery, lsn, lag): (bool, Option<String>, Option<f64>) = raw(
                    "SELECT pg_is_in_recovery(), \
                     (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() \
                      ELSE pg_current_wal_lsn() END)::text, \
                     (CASE WHEN NOT pg_is_in_recovery() \
                             OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 \
                      ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END)::float8",
                )
                .fetch_one(db)
                .await?;
                Ok(Probe {
                    role: if in_recovery {
                        Role::Replica
                    } else {
                        Role::Primary
                    },
                    position: lsn.as_deref().and_then(Position::parse_lsn),
                    lag: lag.map(|s| Duration::from_secs_f64(s.max(0.0))),
                    latency,
                })
            }
            _ => {
                let (read_only, binlog, slave): (i64, String, String) =
                    raw("SELECT @@read_only, @@gtid_binlog_pos, @@gtid_slave_pos")
                        .fetch_one(db)
                        .await?;
                let status = crate::Executor::fetch_compiled(
                    db,
                    crate::sql::Compiled {
                        sql: "SHOW SLAVE STATUS".to_owned(),
                        values: Vec::new(),
                    },
                    slave_status,
                )
                .await?;
                let replicating = status.first();
                let replica = read_only != 0 || replicating.is_some();
                Ok(Probe {
                    role: if replica {
                        Role::Replica
                    } else {
                        Role::Primary
                    },
                    position: Some(Position::Gtid(if replica { slave } else { binlog })),
                    lag: replicating.and_then(|s| s.map(Duration::from_secs)),
                    latency,
                })
            }
        }
    }
}

/// `Seconds_Behind_Master` of a `SHOW SLAVE STATUS` row (NULL when the replica's threads do
/// not run), found by name: the statement's columns differ between versions.
fn slave_status(row: &crate::RowRef<'_>) -> Result<Option<u64>> {
    use crate::value::FieldType;
    for index in 0..128 {
        let name = row.column_name(index);
        if name.starts_with('#') {
            break;
        }
        if name == "Seconds_Behind_Master" {
            return match <Option<u64> as FieldType>::decode(row, index) {
                Ok(seconds) => Ok(seconds),
                Err(_) => Ok(<Option<String> as FieldType>::decode(row, index)?
                    .and_then(|s| s.trim().parse().ok())),
            };
        }
    }
    Ok(None)
}
