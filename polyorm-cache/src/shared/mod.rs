//! The shared tier (Redis, Redis Cluster or Memcached): generations (one random token per
//! table or tag, replaced by every write), shared entries, the circuit breaker, and
//! invalidations kept for when the tier returns.
//!
//! Generations are random tokens rather than counters so that a server that restarted empty
//! (or a Memcached that evicted a generation) can never hand out a value an old entry
//! recorded (a counter would restart at 1).
//!
//! Each store (`redis`, `memcached`, `cluster`) offers the same four calls; this module adds
//! everything else, so the tiers behave alike: same keys, same guarantee, same outage path.

#[cfg(feature = "redis-cluster")]
pub(crate) mod cluster;
#[cfg(feature = "memcached")]
pub(crate) mod memcached;
pub(crate) mod redis;

use std::collections::BTreeSet;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use self::redis::Commands as _;
use crate::breaker::Breaker;
use crate::codec::{Codec, Refused};
use crate::key::Key;
use crate::stats::Counters;

/// What the shared tier said about a lookup.
pub(crate) enum Remote {
    /// The current generations of the entry's tables, and the shared entry if asked for.
    Up {
        gens: Vec<u64>,
        entry: Option<Vec<u8>>,
    },
    /// No shared tier, or it failed, timed out, or the breaker is open.
    Down,
}

/// A store call's outcome; the error is only logged.
pub(crate) type StoreResult<T> = std::result::Result<T, String>;

/// Generations (absent ones `None`) and the entry, as a store read them.
pub(crate) type Fetched = (Vec<Option<u64>>, Option<Vec<u8>>);

/// The server behind the shared tier.
// One per cache, built once: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Store {
    Redis(redis::RedisStore),
    #[cfg(feature = "memcached")]
    Memcached(memcached::MemcachedStore),
    #[cfg(feature = "redis-cluster")]
    Cluster(cluster::ClusterStore),
}

/// Calls the same method on whichever store this is.
macro_rules! on_store {
    ($store:expr, $s:ident => $call:expr) => {
        match $store {
            Store::Redis($s) => $call,
            #[cfg(feature = "memcached")]
            Store::Memcached($s) => $call,
            #[cfg(feature = "redis-cluster")]
            Store::Cluster($s) => $call,
        }
    };
}

impl Store {
    /// The server's name, for logs and errors.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Store::Redis(_) => "Redis",
            #[cfg(feature = "memcached")]
            Store::Memcached(_) => "Memcached",
            #[cfg(feature = "redis-cluster")]
            Store::Cluster(_) => "Redis Cluster",
        }
    }

    /// The store's key for `kind` (`g` generation, `e` entry) and `name` under `prefix`.
    fn key(&self, prefix: &str, kind: char, name: &str) -> String {
        match self {
            #[cfg(feature = "memcached")]
            Store::Memcached(_) => memcached::key(prefix, kind, name),
            #[cfg(feature = "redis-cluster")]
            // One hash tag per prefix: an entry and every generation it depends on share a
            // slot, so a lookup is one round trip to one node.
            Store::Cluster(_) => format!("{{{prefix}}}:{kind}:{name}"),
            Store::Redis(_) => plain_key(prefix, kind, name),
        }
    }
}

/// `prefix:kind:name`, built in one allocation (`format!` costs several times more, on every
/// lookup).
pub(crate) fn plain_key(prefix: &str, kind: char, name: &str) -> String {
    let mut key = String::with_capacity(prefix.len() + name.len() + 2 + kind.len_utf8());
    key.push_str(prefix);
    key.push(':');
    key.push(kind);
    key.push(':');
    key.push_str(name);
    key
}

pub(crate) struct SharedTier {
    store: Store,
    prefix: String,
    timeout: Duration,
    pub(crate) breaker: Breaker,
    codec: Codec,
    /// Tables and tags written while the tier was unreachable: their generations move as
    /// soon as it answers again, before anything is read from it.
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

/// A TTL in whole milliseconds, at least one.
pub(crate) fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl SharedTier {
    pub(crate) fn new(
        store: Store,
        prefix: String,
        timeout: Duration,
        breaker: Breaker,
        codec: Codec,
    ) -> Self {
        SharedTier {
            store,
            prefix,
            timeout,
            breaker,
            codec,
            pending: Mutex::new(BTreeSet::new()),
        }
    }

    /// The server, for the key-value API.
    #[cfg(feature = "kv")]
    pub(crate) fn server(&self) -> &Store {
        &self.store
    }

    /// The call timeout.
    #[cfg(feature = "kv")]
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The store's key for the application key `key`.
    #[cfg(feature = "kv")]
    pub(crate) fn kv_key(&self, key: &str) -> String {
        match &self.store {
            #[cfg(feature = "memcached")]
            Store::Memcached(_) => memcached::key(&self.prefix, 'k', key),
            _ => format!("{}:k:{key}", self.prefix),
        }
    }

    fn gen_key(&self, name: &str) -> String {
        self.store.key(&self.prefix, 'g', name)
    }

    fn entry_key(&self, key: &Key) -> String {
        self.store.key(&self.prefix, 'e', &key.hex())
    }

    fn lease_key(&self, key: &Key) -> String {
        self.store.key(&self.prefix, 'l', &key.hex())
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs one store call through the breaker and the timeout; `None` when it did not run
    /// or failed (counted, logged, never returned to the query).
    async fn call<T>(
        &self,
        op: &'static str,
        stats: &Counters,
        request: impl Future<Output = StoreResult<T>>,
    ) -> Option<T> {
        if !self.breaker.allow() {
            return None;
        }
        match tokio::time::timeout(self.timeout, request).await {
            Ok(Ok(value)) => {
                if self.breaker.success() {
                    tracing::info!(target: "polyorm_cache", tier = self.store.name(), "the shared tier answers again");
                }
                Some(value)
            }
            Ok(Err(e)) => {
                self.failed(op, stats, &e);
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
                target: "polyorm_cache",
                tier = self.store.name(),
                op,
                error = why,
                "the shared cache tier is unreachable: serving from the in-process tier and \
                 the database; the breaker will probe it again"
            );
        } else {
            tracing::debug!(target: "polyorm_cache", tier = self.store.name(), op, error = why, "shared tier call failed");
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
        let entry_key = key.map(|k| self.entry_key(k));
        let fetched = on_store!(&self.store, s => self.call("read", stats, s.fetch(&gen_keys, entry_key.as_deref())).await);
        let Some((gens, entry)) = fetched else {
            return Remote::Down;
        };
        if gens.len() == names.len() && gens.iter().all(Option::is_some) {
            let entry = match (entry, &entry_key) {
                (Some(stored), Some(name)) => self.open(name, &stored, stats),
                _ => None,
            };
            return Remote::Up {
                gens: gens.into_iter().flatten().collect(),
                entry,
            };
        }
        // First use of a table (or an emptied server): give it a generation, keeping one
        // another process may have set meanwhile.
        let missing: Vec<(String, u64)> = gen_keys
            .iter()
            .enumerate()
            .filter(|(i, _)| gens.get(*i).is_none_or(Option::is_none))
            .map(|(_, k)| (k.clone(), token()))
            .collect();
        let now = on_store!(&self.store, s => self.call("init", stats, s.init(&missing, &gen_keys)).await);
        match now {
            Some(gens) if gens.len() == names.len() && gens.iter().all(Option::is_some) => {
                Remote::Up {
                    gens: gens.into_iter().flatten().collect(),
                    // The entry was written under generations that no longer exist.
                    entry: None,
                }
            }
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
        let entry_key = self.entry_key(key);
        let sealed = self.codec.seal(entry_key.as_bytes(), &value);
        let lease_key = self.lease_key(key);
        on_store!(&self.store, s => self.call("store", stats, s.put(&entry_key, &sealed, ttl, &lease_key)).await);
    }

    /// The entry stored under `name`, or `None` (counted, logged) when it does not open.
    fn open(&self, name: &str, stored: &[u8], stats: &Counters) -> Option<Vec<u8>> {
        match self.codec.open(name.as_bytes(), stored) {
            Ok(value) => Some(value),
            Err(why) => {
                let op = match why {
                    Refused::Decrypt | Refused::Plaintext => "decrypt",
                    Refused::Format | Refused::Decompress => "decode",
                };
                stats.error(op);
                tracing::warn!(
                    target: "polyorm_cache",
                    reason = ?why,
                    "a shared entry could not be opened (another key, version or setting); \
                     reading the database"
                );
                None
            }
        }
    }

    /// Takes the load lease of `key` for `ttl`: `Some(true)` when this caller got it,
    /// `Some(false)` when another holds it, `None` when the tier did not answer.
    pub(crate) async fn lease(&self, key: &Key, ttl: Duration, stats: &Counters) -> Option<bool> {
        let lease_key = self.lease_key(key);
        on_store!(&self.store, s => self.call("lease", stats, s.lease(&lease_key, token(), ttl)).await)
    }

    /// Gives up the load lease of `key` taken by [`lease`](Self::lease) without storing an
    /// entry, so that waiting processes stop waiting and one of them loads.
    pub(crate) async fn release(&self, key: &Key, stats: &Counters) {
        let lease_key = self.lease_key(key);
        on_store!(&self.store, s => self.call("release", stats, s.release(&lease_key)).await);
    }

    /// Moves the generations of `names`; kept for later when the tier does not answer.
    pub(crate) async fn bump(&self, names: &[String], stats: &Counters) {
        if !self.send_bumps(names, stats).await {
            self.pending().extend(names.iter().cloned());
        }
    }

    async fn send_bumps(&self, names: &[String], stats: &Counters) -> bool {
        let gens: Vec<(String, u64)> = names.iter().map(|n| (self.gen_key(n), token())).collect();
        on_store!(&self.store, s => self.call("invalidate", stats, s.set_gens(&gens)).await)
            .is_some()
    }

    /// Sends the invalidations kept during an outage; `false` if the tier still does not
    /// answer.
    async fn flush_pending(&self, stats: &Counters) -> bool {
        let names: Vec<String> = std::mem::take(&mut *self.pending()).into_iter().collect();
        if names.is_empty() {
            return true;
        }
        let sent = self.send_bumps(&names, stats).await;
        if sent {
            tracing::info!(target: "polyorm_cache", tables = ?names, "sent invalidations kept during the shared tier's outage");
        } else {
            self.pending().extend(names);
        }
        sent
    }
}

/// Splits a shared entry into the generations it was read under and where its encoded rows
/// start.
pub(crate) fn split_entry(value: &[u8]) -> Option<(Vec<u64>, usize)> {
    let n = u32::from_le_bytes(value.get(..4)?.try_into().ok()?) as usize;
    let gens_end = 4usize.checked_add(n.checked_mul(8)?)?;
    let gens = value
        .get(4..gens_end)?
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("chunks of 8")))
        .collect();
    Some((gens, gens_end))
}
