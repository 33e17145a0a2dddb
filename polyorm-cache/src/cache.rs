//! [`Cache`]: the two tiers, the generations and the lookup that ties them together.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::notification::RemovalCause;
use polyorm_core::exec::Decoder;
use polyorm_core::exec::cached::{CachedRow, decode_encoded, decode_rows, encode_rows};
use polyorm_core::{Model, Result};

use crate::breaker::Breaker;
use crate::codec::Codec;
use crate::executor::CachedDb;
use crate::key::Key;
use crate::shared::{Remote, SharedTier, Store, split_entry};
use crate::stats::{CacheStats, Counters, Outcome};

/// What reads do while the shared tier (Redis, Redis Cluster or Memcached) is unreachable
/// (the breaker is open).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutagePolicy {
    /// Serve the in-process tier: this process's own writes still invalidate it at once,
    /// other processes' writes show when the entry's TTL ends. Misses query the database.
    #[default]
    ServeLocal,
    /// Read from the database, leaving the cache out, until Redis answers again.
    Bypass,
}

/// Settings for a [`Cache`]; `Cache::builder().redis_url(..).prefix(..).build()`.
#[derive(Debug, Clone)]
pub struct CacheBuilder {
    shared: Vec<SharedConfig>,
    #[cfg(feature = "memcached")]
    memcached_pool: usize,
    prefix: String,
    max_entries: u64,
    max_bytes: Option<u64>,
    redis_timeout: Duration,
    breaker_threshold: u32,
    breaker_cooldown: Duration,
    outage: OutagePolicy,
    max_staleness: Duration,
    lease: Duration,
    model_ttls: HashMap<&'static str, Duration>,
    codec: Codec,
    #[cfg(feature = "tls")]
    redis_tls: Option<polyorm_core::tls::Tls>,
}

impl Default for CacheBuilder {
    fn default() -> Self {
        CacheBuilder {
            shared: Vec::new(),
            #[cfg(feature = "memcached")]
            memcached_pool: 4,
            prefix: "orm".to_owned(),
            max_entries: 10_000,
            max_bytes: None,
            redis_timeout: Duration::from_millis(50),
            breaker_threshold: 3,
            breaker_cooldown: Duration::from_secs(1),
            outage: OutagePolicy::default(),
            max_staleness: Duration::ZERO,
            lease: Duration::from_secs(2),
            model_ttls: HashMap::new(),
            codec: Codec::default(),
            #[cfg(feature = "tls")]
            redis_tls: None,
        }
    }
}

impl CacheBuilder {
    /// The Redis server shared by every process (`redis://host:port[/db]`). Without one the
    /// cache is in-process only, and writes of other processes are not seen before the TTL.
    pub fn redis_url(mut self, url: impl Into<String>) -> Self {
        self.shared.push(SharedConfig::Redis(url.into()));
        self
    }

    /// TLS to the Redis server of [`redis_url`](Self::redis_url) (feature `tls`, rustls):
    /// `require` encrypts, `verify-ca` also checks the certificate's chain against the CA,
    /// `verify-full` also its host name; a client certificate for servers started with
    /// `--tls-auth-clients yes`. A `redis://` URL is upgraded to `rediss://`.
    #[cfg(feature = "tls")]
    pub fn redis_tls(mut self, tls: polyorm_core::tls::Tls) -> Self {
        self.redis_tls = Some(tls);
        self
    }

    /// Memcached (`host:port`) as the shared tier instead of Redis (the `memcached` feature):
    /// the same generations, guarantee and outage behaviour. Memcached expires entries in
    /// whole seconds (a TTL is rounded up) and may evict a generation under memory pressure,
    /// which only turns the entries that depend on it into misses.
    #[cfg(feature = "memcached")]
    pub fn memcached(mut self, address: impl Into<String>) -> Self {
        self.shared.push(SharedConfig::Memcached(address.into()));
        self
    }

    /// A Redis Cluster as the shared tier instead of one Redis (the `redis-cluster`
    /// feature): `nodes` are some of its nodes (`redis://host:port`), the rest are found from
    /// them. Every key of this cache carries the hash tag `{prefix}`, so an entry and the
    /// generations it depends on live in one slot (one node and its replica); caches with
    /// other prefixes spread over the other slots.
    #[cfg(feature = "redis-cluster")]
    pub fn redis_cluster<S: Into<String>>(mut self, nodes: impl IntoIterator<Item = S>) -> Self {
        self.shared.push(SharedConfig::Cluster(
            nodes.into_iter().map(Into::into).collect(),
        ));
        self
    }

    /// Compresses shared-tier entries larger than `bytes` with zstd at `level` (1 fast ..
    /// 19 small; 3 is zstd's default) when that makes them smaller (the `compression`
    /// feature). Every process sharing the prefix reads them, whatever its own setting.
    #[cfg(feature = "compression")]
    pub fn compress_above(mut self, bytes: usize, level: i32) -> Self {
        self.codec.compress_above = Some(bytes);
        self.codec.level = level;
        self
    }

    /// Encrypts shared-tier entries with AES-256-GCM under the keys of `keys` (the
    /// `encryption` feature), bound to their key so they cannot be swapped. An entry that
    /// does not decrypt (unknown or retired key, altered, or stored unencrypted) is a miss,
    /// counted in `errors`. Generations are not encrypted: they are random tokens.
    #[cfg(feature = "encryption")]
    pub fn encryption(mut self, keys: impl crate::KeyProvider) -> Self {
        self.codec.keys = Some(Arc::new(keys));
        self
    }

    /// How many connections the Memcached tier opens (default 4).
    #[cfg(feature = "memcached")]
    pub fn memcached_connections(mut self, n: usize) -> Self {
        self.memcached_pool = n;
        self
    }

    /// Prefix of every Redis key (default `polyorm`); processes sharing data share a prefix.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Bounds the in-process tier by entry count (default 10 000); replaced by
    /// [`max_bytes`](Self::max_bytes) when that is set.
    pub fn max_entries(mut self, n: u64) -> Self {
        self.max_entries = n;
        self
    }

    /// Bounds the in-process tier by the encoded size of its entries, in bytes.
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = Some(bytes);
        self
    }

    /// How long one Redis call may take before it counts as failed (default 50 ms).
    pub fn redis_timeout(mut self, timeout: Duration) -> Self {
        self.redis_timeout = timeout;
        self
    }

    /// Consecutive Redis failures that open the breaker (default 3), and how long it stays
    /// open before one call probes Redis again (default 1 s).
    pub fn circuit_breaker(mut self, failures: u32, cooldown: Duration) -> Self {
        self.breaker_threshold = failures;
        self.breaker_cooldown = cooldown;
        self
    }

    /// What reads do while Redis is down (default [`OutagePolicy::ServeLocal`]).
    pub fn outage_policy(mut self, policy: OutagePolicy) -> Self {
        self.outage = policy;
        self
    }

    /// Lets an in-process hit skip the Redis round trip when Redis confirmed the generations
    /// of its tables less than `window` ago (default zero: every hit asks Redis). Other
    /// processes' writes may then be read stale for up to `window`; this process's own writes
    /// still invalidate at once. An in-process hit costs microseconds instead of a round trip.
    pub fn max_staleness(mut self, window: Duration) -> Self {
        self.max_staleness = window;
        self
    }

    /// Cross-process stampede protection (default 2 s; zero turns it off): on a miss, the
    /// first process takes a lease on the key in the shared tier and loads; the others wait
    /// up to `lease` for its entry instead of querying the database too, and load themselves
    /// when it does not come (the leader failed, or a write moved the generations).
    /// Within a process, concurrent misses of a key always share one load.
    pub fn stampede_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Caches every read of `M`'s table through the cached handle for `ttl`, without
    /// `.cached(..)` on each query (a per-query TTL still wins).
    pub fn model_ttl<M: Model>(mut self, ttl: Duration) -> Self {
        self.model_ttls.insert(M::schema().table, ttl);
        self
    }

    /// Builds the cache (no runtime needed). Redis is connected on first use, in the Tokio
    /// runtime of the query: a server that is down then only means local caching until it
    /// answers.
    pub fn build(self) -> std::result::Result<Cache, crate::BuildError> {
        if self.shared.len() > 1 {
            return Err(crate::BuildError::SeveralSharedTiers);
        }
        let redis = match self.shared.first() {
            Some(config) => Some(SharedTier::new(
                self.store(config)?,
                self.prefix.clone(),
                self.redis_timeout,
                Breaker::new(self.breaker_threshold, self.breaker_cooldown),
                self.codec.clone(),
            )),
            None => None,
        };
        let counters = Arc::new(Counters::default());
        let evictions = counters.clone();
        let mut local = moka::future::Cache::builder()
            .expire_after(TtlExpiry)
            .eviction_listener(move |_key, _value, cause| {
                if cause == RemovalCause::Size {
                    Counters::bump(&evictions.evictions, "orm_cache_evictions_total");
                }
            });
        local = match self.max_bytes {
            Some(bytes) => local
                .weigher(|_key: &Key, entry: &Arc<Entry>| entry.weight)
                .max_capacity(bytes),
            None => local.max_capacity(self.max_entries),
        };
        Ok(Cache {
            core: Arc::new(Core {
                local: local.build(),
                redis,
                counters,
                epochs: RwLock::new(HashMap::new()),
                outage: self.outage,
                max_staleness: self.max_staleness,
                lease: self.lease,
                confirmed: RwLock::new(HashMap::new()),
                model_ttls: self.model_ttls,
            }),
        })
    }
}

impl CacheBuilder {
    /// Connects (lazily) to the configured shared tier.
    fn store(&self, config: &SharedConfig) -> std::result::Result<Store, crate::BuildError> {
        Ok(match config {
            SharedConfig::Redis(url) => {
                #[cfg(feature = "tls")]
                let client = match &self.redis_tls {
                    Some(tls) => crate::tls::client(url, tls)?,
                    None => {
                        redis::Client::open(url.as_str()).map_err(crate::BuildError::RedisUrl)?
                    }
                };
                #[cfg(not(feature = "tls"))]
                let client =
                    redis::Client::open(url.as_str()).map_err(crate::BuildError::RedisUrl)?;
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.redis_timeout))
                    .set_response_timeout(Some(self.redis_timeout))
                    .set_number_of_retries(1)
                    .set_max_delay(self.breaker_cooldown);
                Store::Redis(crate::shared::redis::RedisStore::new(client, config))
            }
            #[cfg(feature = "memcached")]
            SharedConfig::Memcached(address) => {
                let address = address.strip_prefix("tcp://").unwrap_or(address);
                if address
                    .rsplit_once(':')
                    .is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err())
                {
                    return Err(crate::BuildError::MemcachedAddress(address.to_owned()));
                }
                Store::Memcached(crate::shared::memcached::MemcachedStore::new(
                    address.to_owned(),
                    self.memcached_pool,
                ))
            }
            #[cfg(feature = "redis-cluster")]
            SharedConfig::Cluster(nodes) => {
                let client =
                    redis::cluster::ClusterClient::builder(nodes.iter().map(String::as_str))
                        .connection_timeout(self.redis_timeout)
                        .response_timeout(self.redis_timeout)
                        .retries(1)
                        .build()
                        .map_err(crate::BuildError::RedisUrl)?;
                Store::Cluster(crate::shared::cluster::ClusterStore::new(
                    client,
                    nodes.clone(),
                    self.redis_timeout / 4,
                ))
            }
        })
    }
}

/// The server chosen as the shared tier.
#[derive(Debug, Clone)]
enum SharedConfig {
    Redis(String),
    #[cfg(feature = "memcached")]
    Memcached(String),
    #[cfg(feature = "redis-cluster")]
    Cluster(Vec<String>),
}

/// The query cache; cheap to clone. Wrap a database with [`Cache::wrap`] and read through the
/// returned [`CachedDb`].
#[derive(Clone)]
pub struct Cache {
    pub(crate) core: Arc<Core>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("redis", &self.core.redis.is_some())
            .field("entries", &self.core.local.entry_count())
            .finish()
    }
}

impl Cache {
    /// Default settings, no Redis; see [`CacheBuilder`].
    pub fn builder() -> CacheBuilder {
        CacheBuilder::default()
    }

    /// An executor that caches reads and invalidates on writes, over `db`.
    pub fn wrap<E: polyorm_core::Executor>(&self, db: E) -> CachedDb<E> {
        CachedDb::new(self.clone(), db)
    }

    /// Typed key-value access to the shared tier, beside query results (the `kv` feature).
    #[cfg(feature = "kv")]
    pub fn kv(&self) -> crate::Kv<'_> {
        crate::Kv::new(self.core.redis.as_ref())
    }

    /// A snapshot of the statistics.
    pub fn stats(&self) -> CacheStats {
        let (trips, down) = match &self.core.redis {
            Some(r) => (r.breaker.trips(), r.breaker.is_open()),
            None => (0, false),
        };
        self.core.counters.snapshot(trips, down)
    }

    /// Entries in the in-process tier now (moka counts lazily; for tests and dashboards).
    pub async fn local_entries(&self) -> u64 {
        self.core.local.run_pending_tasks().await;
        self.core.local.entry_count()
    }

    /// Makes every cached read of `table` a miss, in every process.
    pub async fn invalidate_table(&self, table: &str) {
        self.core
            .invalidate(&crate::scope::whole_table(table))
            .await;
    }

    /// Makes every cached read of `M`'s table a miss, in every process.
    pub async fn invalidate_model<M: Model>(&self) {
        self.invalidate_table(M::schema().table).await;
    }

    /// Makes every read cached with `tag` (see [`CacheView::tag`](crate::CacheView::tag)) a
    /// miss, in every process.
    pub async fn invalidate_tag(&self, tag: &str) {
        self.core.invalidate(&[tag_name(tag)]).await;
    }

    /// Makes every cached read a miss, in every process.
    pub async fn invalidate_all(&self) {
        self.core.invalidate(&[ALL.to_owned()]).await;
    }
}

/// How often a miss waiting for another process's load looks for its entry.
const LEASE_POLL: Duration = Duration::from_millis(10);

/// The entry `bytes` read from the shared tier holds, when it was stored under the
/// generations `now` (and decodes).
fn stored_entry(bytes: &[u8], now: &[u64], epochs: &[u64], ttl: Duration) -> Option<Arc<Entry>> {
    match split_entry(bytes).map(|(g, at)| (g, decode_rows(&bytes[at..]))) {
        Some((stored, Ok(rows))) if stored == now => Some(Arc::new(Entry::new(
            Some(stored),
            epochs.to_vec(),
            rows,
            ttl,
            bytes.len(),
        ))),
        _ => None,
    }
}

/// Whose turn it is to load a missed key, across processes.
enum Turn {
    /// Another process loaded and stored the entry.
    Stored(Arc<Entry>),
    /// This process loads; `leased` when it holds the key's load lease (released if the load
    /// fails, since no entry will end the other processes' wait).
    Load { leased: bool },
}

/// The generation every entry depends on: raw writes that declare no table move it.
pub(crate) const ALL: &str = "*";

/// The generation name of a tag (tables cannot contain `#`-prefixed names clash-free
/// otherwise, since `#` starts no SQL identifier the ORM generates).
pub(crate) fn tag_name(tag: &str) -> String {
    format!("#{tag}")
}

/// An entry of the in-process tier.
pub(crate) struct Entry {
    /// Redis generations of the entry's tables when it was read; `None` when read while
    /// Redis was down (such an entry is dropped when Redis returns).
    gens: Option<Vec<u64>>,
    /// This process's write counters of those tables when it was read.
    epochs: Vec<u64>,
    rows: Vec<CachedRow>,
    ttl: Duration,
    weight: u32,
}

struct TtlExpiry;

impl Expiry<Key, Arc<Entry>> for TtlExpiry {
    fn expire_after_create(
        &self,
        _key: &Key,
        entry: &Arc<Entry>,
        _at: Instant,
    ) -> Option<Duration> {
        Some(entry.ttl)
    }
}

pub(crate) struct Core {
    local: moka::future::Cache<Key, Arc<Entry>>,
    redis: Option<SharedTier>,
    pub(crate) counters: Arc<Counters>,
    /// Per table (and tag), how many writes this process made: the in-process tier's own
    /// invalidation, effective at once and while Redis is down.
    epochs: RwLock<HashMap<String, AtomicU64>>,
    outage: OutagePolicy,
    max_staleness: Duration,
    /// How long a miss waits for another process's load of the same key.
    lease: Duration,
    /// Per set of generation names: the generations Redis returned last, and when.
    confirmed: RwLock<HashMap<String, (Vec<u64>, Instant)>>,
    model_ttls: HashMap<&'static str, Duration>,
}

/// A database load failed; the leader keeps the real error, waiters run their own query.
#[derive(Debug)]
struct LoadFailed;

/// What one read asks of the cache.
pub(crate) struct Lookup<'a> {
    pub key: Key,
    /// Tables, tags and [`ALL`], sorted.
    pub names: &'a [String],
    pub ttl: Duration,
}

/// What a read that missed every tier carries to its load.
struct Miss<'a> {
    key: Key,
    names: &'a [String],
    /// The shared tier's generations of `names`, `None` without one (or while it is down).
    gens: Option<Vec<u64>>,
    /// This process's write counters of `names` when the read began.
    epochs: Vec<u64>,
    ttl: Duration,
    started: Instant,
}

impl Core {
    pub(crate) fn model_ttl(&self, table: &str) -> Option<Duration> {
        self.model_ttls.get(table).copied()
    }

    fn epochs(&self, names: &[String]) -> Vec<u64> {
        let epochs = self.epochs.read().unwrap_or_else(|e| e.into_inner());
        names
            .iter()
            .map(|n| epochs.get(n).map_or(0, |e| e.load(Ordering::Acquire)))
            .collect()
    }

    /// Invalidates `names` here at once, and in every process through Redis.
    pub(crate) async fn invalidate(&self, names: &[String]) {
        {
            let mut epochs = self.epochs.write().unwrap_or_else(|e| e.into_inner());
            for name in names {
                epochs
                    .entry(name.clone())
                    .or_default()
                    .fetch_add(1, Ordering::AcqRel);
            }
        }
        for _ in names {
            Counters::bump(
                &self.counters.invalidations,
                "orm_cache_invalidations_total",
            );
        }
        tracing::debug!(target: "polyorm_cache", tables = ?names, "invalidated");
        if let Some(redis) = &self.redis {
            redis.bump(names, &self.counters).await;
        }
    }

    /// Answers a read from a tier, or runs `load` (once for concurrent misses of one key).
    pub(crate) async fn read<T, F, Fut>(
        &self,
        lookup: Lookup<'_>,
        decode: Decoder<T>,
        load: F,
    ) -> Result<Vec<T>>
    where
        T: Send,
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Vec<(T, CachedRow)>>> + Send,
    {
        let started = Instant::now();
        let Lookup { key, names, ttl } = lookup;
        let epochs = self.epochs(names);
        // An in-process tier of no capacity holds nothing (and would only evict what it got).
        let keep_local = self.local.policy().max_capacity() != Some(0);
        let local = match keep_local {
            true => self.local.get(&key).await,
            false => None,
        };
        if let Some(entry) = &local
            && entry.epochs == epochs
            && self.recently_confirmed(names, entry.gens.as_deref())
            && let Some(rows) = decode_all(&entry.rows, decode, &self.counters)
        {
            self.counters.finish(Outcome::HitLocal, started.elapsed());
            return Ok(rows);
        }
        let remote = match &self.redis {
            Some(redis) => Some(
                redis
                    .read(names, local.is_none().then_some(&key), &self.counters)
                    .await,
            ),
            None => None,
        };
        let gens = match &remote {
            Some(Remote::Up { gens, .. }) => {
                self.confirm(names, gens);
                Some(gens.clone())
            }
            _ => None,
        };
        let redis_down = matches!(remote, Some(Remote::Down));
        if redis_down && self.outage == OutagePolicy::Bypass {
            Counters::bump(&self.counters.bypassed, "orm_cache_bypassed_total");
            // On the heap, like the miss path: the load's future is kilobytes.
            return Box::pin(async { Ok(load().await?.into_iter().map(|(t, _)| t).collect()) })
                .await;
        }

        if let Some(entry) = local {
            let fresh = entry.epochs == epochs && (redis_down || entry.gens == gens);
            if fresh {
                if let Some(rows) = decode_all(&entry.rows, decode, &self.counters) {
                    self.counters.finish(Outcome::HitLocal, started.elapsed());
                    return Ok(rows);
                }
            } else {
                Counters::bump(&self.counters.stale, "orm_cache_stale_total");
            }
            self.local.invalidate(&key).await;
        }

        if let Some(Remote::Up {
            gens: now,
            entry: Some(bytes),
        }) = &remote
        {
            match split_entry(bytes) {
                // Without an in-process tier, the models are decoded straight from the
                // received bytes.
                Some((stored, rows_at)) if &stored == now && !keep_local => {
                    if let Some(out) = decode_bytes(&bytes[rows_at..], decode, &self.counters) {
                        self.counters.finish(Outcome::HitRedis, started.elapsed());
                        return Ok(out);
                    }
                }
                // With one, the entry's rows are read once and kept: replaying kept rows on
                // each later hit costs less than reading the bytes again.
                Some((stored, rows_at)) if &stored == now => match decode_rows(&bytes[rows_at..]) {
                    Ok(rows) => {
                        if let Some(out) = decode_all(&rows, decode, &self.counters) {
                            let entry = Entry::new(Some(stored), epochs, rows, ttl, bytes.len());
                            self.local.insert(key, Arc::new(entry)).await;
                            self.counters.finish(Outcome::HitRedis, started.elapsed());
                            return Ok(out);
                        }
                    }
                    Err(_) => self.counters.error("decode"),
                },
                Some(_) => Counters::bump(&self.counters.stale, "orm_cache_stale_total"),
                None => self.counters.error("decode"),
            }
        }

        // The miss path in a future of its own, on the heap: it holds the database load,
        // whose future is kilobytes, and a hit would otherwise move it at every await.
        let miss = Miss {
            key,
            names,
            gens,
            epochs,
            ttl,
            started,
        };
        Box::pin(self.miss(miss, decode, load)).await
    }

    /// A read no tier answered: one load per key; concurrent readers wait for it.
    async fn miss<T, F, Fut>(&self, m: Miss<'_>, decode: Decoder<T>, load: F) -> Result<Vec<T>>
    where
        T: Send,
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Vec<(T, CachedRow)>>> + Send,
    {
        let mut mine: Option<Vec<T>> = None;
        let mut failure = None;
        let loaded = self
            .local
            .try_get_with(m.key, async {
                let leased = match self
                    .await_other_process(&m.key, m.names, &m.gens, &m.epochs, m.ttl)
                    .await
                {
                    Turn::Stored(entry) => return Ok(entry),
                    Turn::Load { leased } => leased,
                };
                Counters::bump(&self.counters.loads, "orm_cache_loads_total");
                match load().await {
                    Ok(pairs) => {
                        let (values, rows): (Vec<T>, Vec<CachedRow>) = pairs.into_iter().unzip();
                        mine = Some(values);
                        let mut bytes = Vec::new();
                        encode_rows(&rows, &mut bytes);
                        if let (Some(redis), Some(gens)) = (&self.redis, &m.gens) {
                            redis
                                .store(&m.key, gens, &bytes, m.ttl, &self.counters)
                                .await;
                        }
                        Ok(Arc::new(Entry::new(
                            m.gens.clone(),
                            m.epochs.clone(),
                            rows,
                            m.ttl,
                            bytes.len(),
                        )))
                    }
                    Err(e) => {
                        // Nothing will be stored: let the next reader (in any process)
                        // load now instead of waiting out the lease.
                        if let (true, Some(shared)) = (leased, &self.redis) {
                            shared.release(&m.key, &self.counters).await;
                        }
                        failure = Some(e);
                        Err(LoadFailed)
                    }
                }
            })
            .await;
        if let Some(e) = failure {
            return Err(e);
        }
        let out = match (mine, loaded) {
            (Some(values), _) => values,
            // Another reader's load, valid for this reader only if read under the same state.
            (None, Ok(entry)) if entry.epochs == m.epochs && entry.gens == m.gens => {
                match decode_all(&entry.rows, decode, &self.counters) {
                    Some(values) => values,
                    None => self.load_alone(&load).await?,
                }
            }
            (None, _) => self.load_alone(&load).await?,
        };
        self.counters.finish(Outcome::Miss, m.started.elapsed());
        Ok(out)
    }

    /// When another process holds the load lease of `key`, waits for the entry it stores
    /// ([`Turn::Stored`]); otherwise this process loads ([`Turn::Load`]: it took the lease, the
    /// tier is down, the generations moved, the lease ran out, or its holder gave it up
    /// without storing anything, e.g. because its load failed).
    async fn await_other_process(
        &self,
        key: &Key,
        names: &[String],
        gens: &Option<Vec<u64>>,
        epochs: &[u64],
        ttl: Duration,
    ) -> Turn {
        let unleased = Turn::Load { leased: false };
        let (Some(shared), Some(now)) = (&self.redis, gens) else {
            return unleased;
        };
        if self.lease.is_zero() {
            return unleased;
        }
        match shared.lease(key, self.lease, &self.counters).await {
            Some(false) => {}
            Some(true) => return self.leased(shared, key, names, now, epochs, ttl).await,
            None => return unleased,
        }
        let deadline = Instant::now() + self.lease;
        while Instant::now() < deadline {
            tokio::time::sleep(LEASE_POLL).await;
            let Remote::Up { gens: seen, entry } =
                shared.read(names, Some(key), &self.counters).await
            else {
                return unleased;
            };
            if &seen != now {
                return unleased;
            }
            let Some(bytes) = entry else {
                // Still loading, or its holder released the lease without an entry: then
                // this reader takes the lease and loads.
                match shared.lease(key, self.lease, &self.counters).await {
                    Some(false) => continue,
                    Some(true) => return self.leased(shared, key, names, now, epochs, ttl).await,
                    None => return unleased,
                }
            };
            return stored_entry(&bytes, now, epochs, ttl).map_or(unleased, Turn::Stored);
        }
        unleased
    }

    /// This process took the load lease of `key`: it loads, unless the entry was stored
    /// between this reader's miss and its lease (the holder before it stored and let go in
    /// that window), which is then read instead — else two processes would load it.
    async fn leased(
        &self,
        shared: &SharedTier,
        key: &Key,
        names: &[String],
        now: &[u64],
        epochs: &[u64],
        ttl: Duration,
    ) -> Turn {
        let load = Turn::Load { leased: true };
        // Counted aside: this miss's first read already counted an entry it could not open
        // (or a tier that failed), and the same entry read again is not a second error.
        let again = Counters::default();
        let Remote::Up {
            gens,
            entry: Some(bytes),
        } = shared.read(names, Some(key), &again).await
        else {
            return load;
        };
        match stored_entry(&bytes, now, epochs, ttl) {
            Some(entry) if gens == now => {
                // No entry will follow from this reader: let the lease go at once.
                shared.release(key, &self.counters).await;
                Turn::Stored(entry)
            }
            _ => load,
        }
    }

    /// Whether Redis returned `gens` for `names` within the staleness window.
    fn recently_confirmed(&self, names: &[String], gens: Option<&[u64]>) -> bool {
        let Some(gens) = gens else {
            return false;
        };
        if self.max_staleness.is_zero() {
            return false;
        }
        let confirmed = self.confirmed.read().unwrap_or_else(|e| e.into_inner());
        confirmed
            .get(&names.join("\0"))
            .is_some_and(|(seen, at)| seen.as_slice() == gens && at.elapsed() < self.max_staleness)
    }

    fn confirm(&self, names: &[String], gens: &[u64]) {
        if self.max_staleness.is_zero() {
            return;
        }
        let mut confirmed = self.confirmed.write().unwrap_or_else(|e| e.into_inner());
        confirmed.insert(names.join("\0"), (gens.to_vec(), Instant::now()));
    }

    async fn load_alone<T, F, Fut>(&self, load: &F) -> Result<Vec<T>>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Vec<(T, CachedRow)>>>,
    {
        Counters::bump(&self.counters.loads, "orm_cache_loads_total");
        Ok(load().await?.into_iter().map(|(t, _)| t).collect())
    }
}

impl Entry {
    fn new(
        gens: Option<Vec<u64>>,
        epochs: Vec<u64>,
        rows: Vec<CachedRow>,
        ttl: Duration,
        bytes: usize,
    ) -> Self {
        Entry {
            gens,
            epochs,
            rows,
            ttl,
            weight: u32::try_from(bytes).unwrap_or(u32::MAX).max(1),
        }
    }
}

/// Decodes every cached row; `None` (counted as an error, then a miss) if one does not
/// decode, e.g. an entry written by another version of the program.
fn decode_all<T>(rows: &[CachedRow], decode: Decoder<T>, counters: &Counters) -> Option<Vec<T>> {
    decoded(
        rows.iter()
            .map(|r| r.decode(decode))
            .collect::<Result<Vec<T>>>(),
        counters,
    )
}

/// [`decode_all`] of the rows as [`encode_rows`] wrote them, read in place.
fn decode_bytes<T>(rows: &[u8], decode: Decoder<T>, counters: &Counters) -> Option<Vec<T>> {
    decoded(decode_encoded(rows, decode), counters)
}

fn decoded<T>(values: Result<Vec<T>>, counters: &Counters) -> Option<Vec<T>> {
    match values {
        Ok(values) => Some(values),
        Err(e) => {
            counters.error("decode");
            tracing::warn!(target: "polyorm_cache", error = %e, "a cached entry did not decode; reading the database");
            None
        }
    }
}
