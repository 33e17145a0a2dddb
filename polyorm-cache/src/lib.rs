//! # polyorm-cache
//!
//! A query cache for the `polyorm` crate (`polyorm::cache` with the `cache` feature): results of
//! selects are kept in an in-process tier ([moka]) and in a shared tier (Redis; a Redis
//! Cluster with the `redis-cluster` feature; Memcached with `memcached`), keyed by a hash of
//! the backend, the compiled statement and its bound values. Every write made through the
//! cached handle moves a per-table (or, for reads that pin primary keys, per-row) generation
//! in the shared tier (after commit, inside a transaction), and an entry whose generations
//! moved is a miss in every process. Shared entries can be compressed (`compression`, zstd)
//! and encrypted (`encryption`, AES-256-GCM).
//!
//! ```no_run
//! # use std::time::Duration;
//! # use polyorm_cache::{Cache, CacheExt};
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let cache = Cache::builder().redis_url("redis://127.0.0.1:6379").prefix("myapp").build()?;
//! let db = cache.wrap(polyorm_core::Db::connect("sqlite::memory:").await?);
//! // let users = User::query().filter(User::ACTIVE.eq(true)).cached(Duration::from_secs(60)).all(&db).await?;
//! # Ok(()) }
//! ```
//!
//! **Consistency.** Once a write made through a [`CachedDb`] (or a commit of a [`CachedTx`])
//! has returned, no process whose cache uses the same shared tier and prefix returns a row
//! cached before it. While the shared tier is unreachable, each process serves its in-process tier with only
//! its own writes invalidating it (other processes' writes show after the entry's TTL), or,
//! with [`OutagePolicy::Bypass`], reads the database; entries cached during an outage are
//! dropped when Redis returns. [`CacheBuilder::max_staleness`] trades the Redis round trip of
//! an in-process hit for a window in which other processes' writes may not be seen yet.
//!
//! [moka]: https://docs.rs/moka

mod breaker;
mod cache;
mod codec;
mod executor;
mod key;
#[cfg(feature = "encryption")]
mod keys;
#[cfg(feature = "kv")]
mod kv;
#[cfg(feature = "kv")]
mod kv_batch;
#[cfg(feature = "kv")]
mod kv_pubsub;
mod scope;
mod select;
mod shared;
mod stats;
#[cfg(feature = "tls")]
mod tls;
mod tx;

pub use cache::{Cache, CacheBuilder, OutagePolicy};
pub use executor::{CacheLayer, CacheView, CachedDb};
#[cfg(feature = "encryption")]
pub use keys::{EncryptionKey, KeyProvider, StaticKeys};
#[cfg(feature = "kv")]
pub use kv::{Kv, KvError};
#[cfg(feature = "kv")]
pub use kv_batch::{KvBatch, KvReplies};
#[cfg(feature = "kv")]
pub use kv_pubsub::{KvMessage, KvSubscription};
pub use select::{CacheExt, CachedSelect};
pub use stats::CacheStats;
pub use tx::CachedTx;

/// Errors building a [`Cache`].
#[derive(Debug)]
#[non_exhaustive]
pub enum BuildError {
    /// The Redis URL could not be parsed.
    RedisUrl(redis::RedisError),
    /// The Memcached address is not `host:port`.
    MemcachedAddress(String),
    /// More than one shared tier (Redis, Redis Cluster, Memcached) was configured.
    SeveralSharedTiers,
    /// The TLS settings for Redis cannot be used (a file is missing, the mode contradicts
    /// the URL).
    Tls(String),
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildError::RedisUrl(e) => write!(
                f,
                "invalid Redis URL for the query cache ({e}); use `redis://host:port[/db]`"
            ),
            BuildError::MemcachedAddress(a) => write!(
                f,
                "invalid Memcached address `{a}` for the query cache; use `host:port`"
            ),
            BuildError::Tls(message) => write!(f, "query cache: {message}"),
            BuildError::SeveralSharedTiers => write!(
                f,
                "the query cache has one shared tier: configure only one of `redis_url`, \
                 `redis_cluster` and `memcached` (build a second Cache for another server)"
            ),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BuildError::RedisUrl(e) => Some(e),
            BuildError::MemcachedAddress(_)
            | BuildError::SeveralSharedTiers
            | BuildError::Tls(_) => None,
        }
    }
}
