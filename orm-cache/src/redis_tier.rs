//! The Redis side: generations (one random token per table or tag, replaced by every write),
//! shared entries, the circuit breaker, and invalidations kept for when Redis returns.
//!
//! Generations are random tokens rather than counters so that a Redis that restarted empty
//! can never hand out a value an old entry recorded (a counter would restart at 1).

use std::collections::BTreeSet;
use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::breaker::Breaker;
use crate::key::Key;
use crate::stats::Counters;

/// What Redis said about a lookup.
pub(crate) enum Remote {
    /// The current generations of the entry's tables, and the shared entry if asked for.
    Up {
        gens: Vec<u64>,
        entry: Option<Vec<u8>>,
    },
    /// Redis is not configured, failed, timed out, or the breaker is open.
    Down,
}

pub(crate) struct RedisTier {
    client: redis::Client,
    config: ConnectionManagerConfig,
    /// Created on first use, inside the caller's Tokio runtime (it spawns a task).
    conn: tokio::sync::OnceCell<ConnectionManager>,
    prefix: String,
    timeout: Duration,
    pub(crate) breaker: Breaker,
    /// Tables and tags written while Redis was unreachable: their generations move as soon
    /// as it answers again, before anything is read from it.
    pending: Mutex<BTreeSet<String>>,
}

/// A fresh random generation token.
fn token() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::hash::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

impl RedisTier {
    pub(crate) fn new(
        client: redis::Client,
        config: ConnectionManagerConfig,
        prefix: String,
        timeout: Duration,
        breaker: Breaker,
    ) -> Self {
        RedisTier {
            client,
            config,
            conn: tokio::sync::OnceCell::new(),
            prefix,
            timeout,
            breaker,
            pending: Mutex::new(BTreeSet::new()),
        }
    }

    fn gen_key(&self, name: &str) -> String {
        format!("{}:g:{name}", self.prefix)
    }

    fn entry_key(&self, key: &Key) -> String {
        format!("{}:e:{}", self.prefix, key.hex())
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs one Redis call through the breaker and the timeout; `None` when it did not run
    /// or failed (counted, logged, never returned to the query).
    async fn call<T: redis::FromRedisValue>(
        &self,
        op: &'static str,
        stats: &Counters,
        request: &redis::Pipeline,
    ) -> Option<T> {
        if !self.breaker.allow() {
            return None;
        }
        let conn = self
            .conn
            .get_or_try_init(|| async {
                ConnectionManager::new_lazy_with_config(self.client.clone(), self.config.clone())
            })
            .await;
        let mut conn = match conn {
            Ok(conn) => conn.clone(),
            Err(e) => {
                self.failed(op, stats, &e.to_string());
                return None;
            }
        };
        let outcome = tokio::time::timeout(self.timeout, request.query_async::<T>(&mut conn)).await;
        match outcome {
            Ok(Ok(value)) => {
                if self.breaker.success() {
                    tracing::info!(target: "orm_cache", "Redis answers again; the shared tier is back");
                }
                Some(value)
            }
            Ok(Err(e)) => {
                self.failed(op, stats, &e.to_string());
                None
            }
            Err(_) => {
                self.failed(op, stats, "timed out");
                None
            }
        }
    }

    fn failed(&self, op: &'static str, stats: &Counters, why: &str) {
        stats.error(op);
        if self.breaker.failure() {
            tracing::warn!(
                target: "orm_cache",
                op,
                error = why,
                "Redis is unreachable: serving from the in-process tier and the database; \
                 the breaker will probe it again"
            );
        } else {
            tracing::debug!(target: "orm_cache", op, error = why, "Redis call failed");
        }
    }

    /// The generations of `names` (creating missing ones) and, with `key`, the shared entry.
    pub(crate) async fn read(
        &self,
        names: &[String],
        key: Option<&Key>,
        stats: &Counters,
    ) -> Remote {
        if !self.pending().is_empty() && !self.flush_pending(stats).await {
            return Remote::Down;
        }
        let gen_keys: Vec<String> = names.iter().map(|n| self.gen_key(n)).collect();
        let mut pipe = redis::pipe();
        pipe.cmd("MGET").arg(&gen_keys);
        let (gens, entry): (Vec<Option<u64>>, Option<Vec<u8>>) = match key {
            Some(key) => {
                pipe.cmd("GET").arg(self.entry_key(key));
                match self.call("read", stats, &pipe).await {
                    Some(found) => found,
                    None => return Remote::Down,
                }
            }
            None => match self.call::<(Vec<Option<u64>>,)>("read", stats, &pipe).await {
                Some((gens,)) => (gens, None),
                None => return Remote::Down,
            },
        };
        if gens.iter().all(Option::is_some) {
            return Remote::Up {
                gens: gens.into_iter().flatten().collect(),
                entry,
            };
        }
        // First use of a table (or an emptied Redis): give it a generation, keeping one
        // another process may have set meanwhile.
        let mut init = redis::pipe();
        for (name, current) in gen_keys.iter().zip(&gens) {
            if current.is_none() {
                init.cmd("SET").arg(name).arg(token()).arg("NX").ignore();
            }
        }
        init.cmd("MGET").arg(&gen_keys);
        match self.call::<(Vec<Option<u64>>,)>("init", stats, &init).await {
            Some((gens,)) if gens.iter().all(Option::is_some) => Remote::Up {
                gens: gens.into_iter().flatten().collect(),
                // The entry was written under generations that no longer exist.
                entry: None,
            },
            _ => Remote::Down,
        }
    }

    /// Stores a shared entry: the generations it was read under, then the encoded rows.
    pub(crate) async fn store(
        &self,
        key: &Key,
        gens: &[u64],
        rows: &[u8],
        ttl: Duration,
        stats: &Counters,
    ) {
        let mut value = Vec::with_capacity(4 + 8 * gens.len() + rows.len());
        value.extend_from_slice(&u32::try_from(gens.len()).unwrap_or(u32::MAX).to_le_bytes());
        for g in gens {
            value.extend_from_slice(&g.to_le_bytes());
        }
        value.extend_from_slice(rows);
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(self.entry_key(key))
            .arg(value)
            .arg("PX")
            .arg(millis)
            .ignore();
        self.call::<()>("store", stats, &pipe).await;
    }

    /// Moves the generations of `names`; kept for later when Redis does not answer.
    pub(crate) async fn bump(&self, names: &[String], stats: &Counters) {
        let mut pipe = redis::pipe();
        for name in names {
            pipe.cmd("SET")
                .arg(self.gen_key(name))
                .arg(token())
                .ignore();
        }
        if self.call::<()>("invalidate", stats, &pipe).await.is_none() {
            self.pending().extend(names.iter().cloned());
        }
    }

    /// Sends the invalidations kept during an outage; `false` if Redis still does not answer.
    async fn flush_pending(&self, stats: &Counters) -> bool {
        let names: Vec<String> = std::mem::take(&mut *self.pending()).into_iter().collect();
        if names.is_empty() {
            return true;
        }
        let mut pipe = redis::pipe();
        for name in &names {
            pipe.cmd("SET")
                .arg(self.gen_key(name))
                .arg(token())
                .ignore();
        }
        let sent = self.call::<()>("invalidate", stats, &pipe).await.is_some();
        if sent {
            tracing::info!(target: "orm_cache", tables = ?names, "sent invalidations kept during the Redis outage");
        } else {
            self.pending().extend(names);
        }
        sent
    }
}

/// Splits a shared entry into the generations it was read under and the encoded rows.
pub(crate) fn split_entry(value: &[u8]) -> Option<(Vec<u64>, &[u8])> {
    let n = u32::from_le_bytes(value.get(..4)?.try_into().ok()?) as usize;
    let gens_end = 4usize.checked_add(n.checked_mul(8)?)?;
    let gens = value
        .get(4..gens_end)?
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("chunks of 8")))
        .collect();
    Some((gens, &value[gens_end..]))
}
