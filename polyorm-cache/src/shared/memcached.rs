//! Memcached as the shared tier (`async-memcached`, text protocol): a few connections, each
//! dropped after a failed or cancelled call and opened again by the next call.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_memcached::{AsciiProtocol, Client, Error, Status};
use sha2::{Digest, Sha256};

use super::{Fetched, StoreResult};

/// Memcached's longest relative expiry; longer ones are read as a Unix time.
const MAX_RELATIVE_TTL: u64 = 30 * 24 * 3600;
/// Memcached's longest key.
const MAX_KEY: usize = 250;

pub(crate) struct MemcachedStore {
    address: String,
    connections: Vec<tokio::sync::Mutex<Option<Client>>>,
    next: AtomicUsize,
}

/// The Memcached key for `kind` and `name` under `prefix`: as is when Memcached accepts it
/// (at most 250 printable bytes, no space), otherwise a SHA-256 of it.
pub(crate) fn key(prefix: &str, kind: char, name: &str) -> String {
    let plain = super::plain_key(prefix, kind, name);
    if plain.len() <= MAX_KEY && plain.bytes().all(|b| b.is_ascii_graphic()) {
        return plain;
    }
    let digest = Sha256::digest(plain.as_bytes());
    let mut hashed = String::from("polyorm-cache:sha256:");
    for b in digest {
        hashed.push_str(&format!("{b:02x}"));
    }
    hashed
}

/// A TTL in whole seconds (Memcached's resolution, rounded up), at most 30 days.
fn seconds(ttl: Duration) -> i64 {
    let secs = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
    i64::try_from(secs.clamp(1, MAX_RELATIVE_TTL)).unwrap_or(1)
}

/// A generation as Memcached stores it (decimal text).
fn parse_gen(data: Option<&[u8]>) -> Option<u64> {
    std::str::from_utf8(data?).ok()?.parse().ok()
}

impl MemcachedStore {
    /// `address` is `host:port`; `pool` connections are opened as needed.
    pub(crate) fn new(address: String, pool: usize) -> Self {
        MemcachedStore {
            address,
            connections: (0..pool.max(1))
                .map(|_| tokio::sync::Mutex::new(None))
                .collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// One of the connections, opened first if needed.
    async fn connection(&self) -> StoreResult<tokio::sync::MutexGuard<'_, Option<Client>>> {
        // The first idle connection: at low concurrency every call reuses the same one (and so
        // the same Memcached worker thread, still running: rotating over idle connections
        // woke a sleeping server thread per call and doubled a hit's latency). Only when all
        // are busy does a call queue, on the next connection in turn.
        let mut conn = match self.connections.iter().find_map(|c| c.try_lock().ok()) {
            Some(idle) => idle,
            None => {
                let slot = self.next.fetch_add(1, Ordering::Relaxed) % self.connections.len();
                self.connections[slot].lock().await
            }
        };
        if conn.as_ref().is_none_or(Client::is_closed) {
            let client = Client::new(format!("tcp://{}", self.address))
                .await
                .map_err(|e| format!("connecting to Memcached at {}: {e}", self.address))?;
            *conn = Some(client);
        }
        Ok(conn)
    }

    /// Runs `op` on one of the connections, opening it first if needed; a connection that
    /// failed is closed so that the next call opens a fresh one.
    async fn with_client<T>(
        &self,
        op: impl AsyncFnOnce(&mut Client) -> Result<T, Error>,
    ) -> StoreResult<T> {
        let mut conn = self.connection().await?;
        let client = conn.as_mut().expect("connected above");
        match op(client).await {
            Ok(value) => Ok(value),
            Err(e) => {
                *conn = None;
                Err(e.to_string())
            }
        }
    }

    /// The generations `gens` and, with `entry`, the entry: one `get` of all the keys, one
    /// round trip. The keys are written from the caller's strings (no copies).
    async fn get_all(
        client: &mut Client,
        gens: &[String],
        entry: Option<&str>,
    ) -> Result<Fetched, Error> {
        let keys: Vec<&str> = gens.iter().map(|k| k.as_str()).chain(entry).collect();
        let mut found = client.get_multi(&keys).await.or_else(not_found_is_empty)?;
        let stored = entry.and_then(|key| {
            let at = found.iter().position(|v| v.key == key.as_bytes())?;
            found.swap_remove(at).data
        });
        let now = gens
            .iter()
            .map(|k| {
                found
                    .iter()
                    .find(|v| v.key == k.as_bytes())
                    .and_then(|v| parse_gen(v.data.as_deref()))
            })
            .collect();
        Ok((now, stored))
    }

    /// The generations `gens` and the entry `entry`, read with the caller's keys: a hit's
    /// path, so no copies of them (a `with_client` closure would need owned ones to keep the
    /// layer's future `Send`).
    pub(crate) async fn fetch(&self, gens: &[String], entry: Option<&str>) -> StoreResult<Fetched> {
        let mut conn = self.connection().await?;
        let client = conn.as_mut().expect("connected above");
        match Self::get_all(client, gens, entry).await {
            Ok(fetched) => Ok(fetched),
            Err(e) => {
                *conn = None;
                Err(e.to_string())
            }
        }
    }

    pub(crate) async fn init(
        &self,
        missing: &[(String, u64)],
        gens: &[String],
    ) -> StoreResult<Vec<Option<u64>>> {
        let (missing, gens) = (missing.to_vec(), gens.to_vec());
        self.with_client(async move |c: &mut Client| {
            for (key, token) in &missing {
                // `add` stores only when absent: a generation set meanwhile is kept.
                match c.add(key, *token, None, None).await {
                    Ok(()) | Err(Error::Protocol(Status::NotStored)) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(Self::get_all(c, &gens, None).await?.0)
        })
        .await
    }

    /// Stores an entry, and drops the load lease `release` (waiters then stop waiting).
    pub(crate) async fn put(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        release: &str,
    ) -> StoreResult<()> {
        let (key, value, release) = (key.to_owned(), value.to_vec(), release.to_owned());
        self.with_client(async move |c: &mut Client| {
            c.set(&key, value.as_slice(), Some(seconds(ttl)), None)
                .await?;
            match c.delete(&release).await {
                Ok(()) | Err(Error::Protocol(Status::NotFound)) => Ok(()),
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// Drops the load lease `key` (no entry follows).
    pub(crate) async fn release(&self, key: &str) -> StoreResult<()> {
        let key = key.to_owned();
        self.with_client(async move |c: &mut Client| match c.delete(&key).await {
            Ok(()) | Err(Error::Protocol(Status::NotFound)) => Ok(()),
            Err(e) => Err(e),
        })
        .await
    }

    /// `add` with the lease's TTL (whole seconds): whether this caller took the lease.
    pub(crate) async fn lease(&self, key: &str, token: u64, ttl: Duration) -> StoreResult<bool> {
        let key = key.to_owned();
        self.with_client(async move |c: &mut Client| {
            match c.add(&key, token, Some(seconds(ttl)), None).await {
                Ok(()) => Ok(true),
                Err(Error::Protocol(Status::NotStored)) => Ok(false),
                Err(e) => Err(e),
            }
        })
        .await
    }

    pub(crate) async fn set_gens(&self, gens: &[(String, u64)]) -> StoreResult<()> {
        let gens = gens.to_vec();
        self.with_client(async move |c: &mut Client| {
            for (key, token) in &gens {
                c.set(key, *token, None, None).await?;
            }
            Ok(())
        })
        .await
    }
}

/// The key-value API's calls (see `crate::kv`).
#[cfg(feature = "kv")]
impl MemcachedStore {
    pub(crate) async fn kv_get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        let key = key.to_owned();
        self.with_client(async move |c: &mut Client| Ok(c.get(&key).await?.and_then(|v| v.data)))
            .await
    }

    pub(crate) async fn kv_set(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> StoreResult<()> {
        let (key, value) = (key.to_owned(), value.to_vec());
        self.with_client(async move |c: &mut Client| {
            c.set(&key, value.as_slice(), Some(ttl.map_or(0, seconds)), None)
                .await
        })
        .await
    }

    pub(crate) async fn kv_delete(&self, key: &str) -> StoreResult<bool> {
        let key = key.to_owned();
        self.with_client(async move |c: &mut Client| match c.delete(&key).await {
            Ok(()) => Ok(true),
            Err(Error::Protocol(Status::NotFound)) => Ok(false),
            Err(e) => Err(e),
        })
        .await
    }

    /// Adds `by` to the counter at `key` (created at `by`, floored at zero as Memcached's
    /// counters are unsigned).
    pub(crate) async fn kv_incr(&self, key: &str, by: i64) -> StoreResult<i64> {
        let key = key.to_owned();
        self.with_client(async move |c: &mut Client| {
            for _ in 0..2 {
                let moved = if by >= 0 {
                    c.increment(&key, by.unsigned_abs()).await
                } else {
                    c.decrement(&key, by.unsigned_abs()).await
                };
                match moved {
                    Ok(n) => return Ok(i64::try_from(n).unwrap_or(i64::MAX)),
                    Err(Error::Protocol(Status::NotFound)) => {
                        let start = by.max(0);
                        match c.add(&key, start.unsigned_abs(), None, None).await {
                            Ok(()) => return Ok(start),
                            // Created by another client meanwhile: count on it.
                            Err(Error::Protocol(Status::NotStored)) => continue,
                            Err(e) => return Err(e),
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
            Err(Error::Protocol(Status::NotStored))
        })
        .await
    }
}

/// `get` of keys none of which exist answers "not found" rather than an empty list.
fn not_found_is_empty(e: Error) -> Result<Vec<async_memcached::Value>, Error> {
    match e {
        Error::Protocol(Status::NotFound) => Ok(Vec::new()),
        e => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_memcached_refuses_are_hashed() {
        assert_eq!(key("app", 'g', "accounts"), "app:g:accounts");
        let spaced = key("app", 'g', "#my tag");
        assert!(spaced.starts_with("polyorm-cache:sha256:") && spaced.len() <= MAX_KEY);
        assert_ne!(spaced, key("app", 'g', "#my  tag"));
        let long = key(&"p".repeat(300), 'e', "x");
        assert!(long.len() <= MAX_KEY);
    }

    #[test]
    fn ttls_round_up_to_whole_seconds_within_thirty_days() {
        assert_eq!(seconds(Duration::from_millis(300)), 1);
        assert_eq!(seconds(Duration::from_millis(1001)), 2);
        assert_eq!(seconds(Duration::from_secs(60)), 60);
        assert_eq!(seconds(Duration::from_secs(400 * 24 * 3600)), 2_592_000);
    }
}
