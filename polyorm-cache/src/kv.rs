//! Typed key-value access to the cache's shared tier, beside query results: `cache.kv()`.
//!
//! Values go through serde (JSON, so other programs can read them); keys live under
//! `<prefix>:k:` so they never meet the query cache's own keys. Every tier has `get`, `set`
//! (with a TTL), `delete` and counters; Redis and Redis Cluster also have lists, sets,
//! hashes, sorted sets, publish and subscribe (`kv_pubsub`), pipelines and MULTI/EXEC
//! transactions with WATCH (`kv_batch`; on a cluster, keys of one hash tag). Unlike query caching, errors here are returned: the
//! application decides what a missing cache server means for it.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::shared::redis::Commands as _;
use crate::shared::{SharedTier, Store};

/// Why a key-value call failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum KvError {
    /// The cache was built without a shared tier.
    NoSharedTier,
    /// The shared tier has no such operation (Memcached has no lists, sets, hashes, sorted
    /// sets, pub/sub, pipelines or transactions).
    Unsupported {
        /// The operation.
        op: &'static str,
        /// The tier's server.
        tier: &'static str,
    },
    /// The server failed or refused the call.
    Server {
        /// The operation.
        op: &'static str,
        /// The tier's server.
        tier: &'static str,
        /// What it said.
        message: String,
    },
    /// The call took longer than the cache's `redis_timeout`.
    Timeout {
        /// The operation.
        op: &'static str,
        /// The tier's server.
        tier: &'static str,
    },
    /// Redis Cluster runs a pipeline or transaction on one node: these keys hash to
    /// different slots.
    CrossSlot {
        /// Two of the keys (application keys) whose slots differ.
        keys: Vec<String>,
    },
    /// A value did not (de)serialize as the requested type.
    Serde {
        /// The key.
        key: String,
        /// serde's message.
        message: String,
    },
}

impl std::fmt::Display for KvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KvError::NoSharedTier => write!(
                f,
                "the cache has no shared tier: build it with `redis_url`, `redis_cluster` or \
                 `memcached` to use `kv()`"
            ),
            KvError::Unsupported { op, tier } => write!(
                f,
                "{tier} has no `{op}`: use get/set/delete/incr there, or Redis for lists, sets, \
                 hashes, sorted sets, pub/sub, pipelines and transactions"
            ),
            KvError::Server { op, tier, message } => {
                write!(f, "{tier} failed `{op}`: {message}")
            }
            KvError::Timeout { op, tier } => write!(
                f,
                "{tier} did not answer `{op}` within the cache's timeout; raise \
                 `redis_timeout` or check the server"
            ),
            KvError::CrossSlot { keys } => write!(
                f,
                "Redis Cluster runs a pipeline or transaction on one slot, but `{}` hash to \
                 different slots: give the keys one hash tag (`{{user:1}}:name`, \
                 `{{user:1}}:visits`) so they share a slot",
                keys.join("` and `")
            ),
            KvError::Serde { key, message } => write!(
                f,
                "the value of `{key}` does not (de)serialize as the requested type: {message}"
            ),
        }
    }
}

impl std::error::Error for KvError {}

/// Key-value access to a cache's shared tier; get one with [`Cache::kv`](crate::Cache::kv).
#[derive(Clone, Copy)]
pub struct Kv<'a> {
    tier: Option<&'a SharedTier>,
}

impl std::fmt::Debug for Kv<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kv")
            .field("tier", &self.tier.map(|t| t.server().name()))
            .finish()
    }
}

pub(crate) fn encode<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<Vec<u8>, KvError> {
    serde_json::to_vec(value).map_err(|e| KvError::Serde {
        key: key.to_owned(),
        message: e.to_string(),
    })
}

pub(crate) fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, KvError> {
    serde_json::from_slice(bytes).map_err(|e| KvError::Serde {
        key: key.to_owned(),
        message: e.to_string(),
    })
}

fn decode_all<T: DeserializeOwned>(key: &str, items: Vec<Vec<u8>>) -> Result<Vec<T>, KvError> {
    items.iter().map(|b| decode(key, b)).collect()
}

impl<'a> Kv<'a> {
    pub(crate) fn new(tier: Option<&'a SharedTier>) -> Self {
        Kv { tier }
    }

    pub(crate) fn tier(&self) -> Result<&'a SharedTier, KvError> {
        self.tier.ok_or(KvError::NoSharedTier)
    }

    /// Runs `call` within the tier's timeout, naming `op` in errors.
    pub(crate) async fn timed<T>(
        &self,
        op: &'static str,
        call: impl Future<Output = Result<T, String>>,
    ) -> Result<T, KvError> {
        let tier = self.tier()?;
        let name = tier.server().name();
        match tokio::time::timeout(tier.timeout(), call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(message)) => Err(KvError::Server {
                op,
                tier: name,
                message,
            }),
            Err(_) => Err(KvError::Timeout { op, tier: name }),
        }
    }

    /// Runs a Redis command (Redis or Redis Cluster); Memcached has none.
    async fn redis<T: redis::FromRedisValue>(
        &self,
        op: &'static str,
        command: redis::Cmd,
    ) -> Result<T, KvError> {
        match self.tier()?.server() {
            Store::Redis(s) => self.timed(op, s.command(&command)).await,
            #[cfg(feature = "redis-cluster")]
            Store::Cluster(s) => self.timed(op, s.command(&command)).await,
            #[cfg(feature = "memcached")]
            Store::Memcached(_) => Err(KvError::Unsupported {
                op,
                tier: "Memcached",
            }),
        }
    }

    pub(crate) fn key(&self, key: &str) -> Result<String, KvError> {
        Ok(self.tier()?.kv_key(key))
    }

    /// The value at `key`, if any.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, KvError> {
        let k = self.key(key)?;
        let bytes: Option<Vec<u8>> = match self.tier()?.server() {
            #[cfg(feature = "memcached")]
            Store::Memcached(s) => self.timed("get", s.kv_get(&k)).await?,
            _ => self.redis("get", redis::cmd("GET").arg(&k).clone()).await?,
        };
        bytes.map(|b| decode(key, &b)).transpose()
    }

    /// Stores `value` at `key`, for `ttl` (or until evicted or deleted).
    pub async fn set<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        ttl: Option<Duration>,
    ) -> Result<(), KvError> {
        let (k, bytes) = (self.key(key)?, encode(key, value)?);
        match self.tier()?.server() {
            #[cfg(feature = "memcached")]
            Store::Memcached(s) => self.timed("set", s.kv_set(&k, &bytes, ttl)).await,
            _ => {
                let mut set = redis::cmd("SET");
                set.arg(&k).arg(bytes);
                if let Some(ttl) = ttl {
                    set.arg("PX").arg(crate::shared::millis(ttl));
                }
                self.redis("set", set).await
            }
        }
    }

    /// Removes `key`; whether it existed.
    pub async fn delete(&self, key: &str) -> Result<bool, KvError> {
        let k = self.key(key)?;
        match self.tier()?.server() {
            #[cfg(feature = "memcached")]
            Store::Memcached(s) => self.timed("delete", s.kv_delete(&k)).await,
            _ => self
                .redis::<u64>("delete", redis::cmd("DEL").arg(&k).clone())
                .await
                .map(|n| n > 0),
        }
    }

    /// Adds `by` to the counter at `key` (created at zero) and returns its new value
    /// (Memcached counters do not go below zero). `get::<i64>` reads it.
    pub async fn incr(&self, key: &str, by: i64) -> Result<i64, KvError> {
        let k = self.key(key)?;
        match self.tier()?.server() {
            #[cfg(feature = "memcached")]
            Store::Memcached(s) => self.timed("incr", s.kv_incr(&k, by)).await,
            _ => {
                self.redis("incr", redis::cmd("INCRBY").arg(&k).arg(by).clone())
                    .await
            }
        }
    }

    /// Appends `value` to the list at `key`; the list's new length.
    pub async fn list_push<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<u64, KvError> {
        let command = redis::cmd("RPUSH")
            .arg(self.key(key)?)
            .arg(encode(key, value)?)
            .clone();
        self.redis("list_push", command).await
    }

    /// The items `start..=stop` of the list at `key` (negative indexes count from the end).
    pub async fn list_range<T: DeserializeOwned>(
        &self,
        key: &str,
        start: i64,
        stop: i64,
    ) -> Result<Vec<T>, KvError> {
        let command = redis::cmd("LRANGE")
            .arg(self.key(key)?)
            .arg(start)
            .arg(stop)
            .clone();
        decode_all(key, self.redis("list_range", command).await?)
    }

    /// Adds `value` to the set at `key`; whether it was new.
    pub async fn set_add<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<bool, KvError> {
        let command = redis::cmd("SADD")
            .arg(self.key(key)?)
            .arg(encode(key, value)?)
            .clone();
        self.redis::<u64>("set_add", command).await.map(|n| n > 0)
    }

    /// Removes `value` from the set at `key`; whether it was there.
    pub async fn set_remove<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<bool, KvError> {
        let command = redis::cmd("SREM")
            .arg(self.key(key)?)
            .arg(encode(key, value)?)
            .clone();
        self.redis::<u64>("set_remove", command)
            .await
            .map(|n| n > 0)
    }

    /// The members of the set at `key`, in no order.
    pub async fn set_members<T: DeserializeOwned>(&self, key: &str) -> Result<Vec<T>, KvError> {
        let command = redis::cmd("SMEMBERS").arg(self.key(key)?).clone();
        decode_all(key, self.redis("set_members", command).await?)
    }

    /// Sets `field` of the hash at `key`.
    pub async fn hash_set<T: Serialize + ?Sized>(
        &self,
        key: &str,
        field: &str,
        value: &T,
    ) -> Result<(), KvError> {
        let command = redis::cmd("HSET")
            .arg(self.key(key)?)
            .arg(field)
            .arg(encode(key, value)?)
            .clone();
        self.redis::<u64>("hash_set", command).await.map(drop)
    }

    /// `field` of the hash at `key`, if set.
    pub async fn hash_get<T: DeserializeOwned>(
        &self,
        key: &str,
        field: &str,
    ) -> Result<Option<T>, KvError> {
        let command = redis::cmd("HGET").arg(self.key(key)?).arg(field).clone();
        let bytes: Option<Vec<u8>> = self.redis("hash_get", command).await?;
        bytes.map(|b| decode(key, &b)).transpose()
    }

    /// Every field of the hash at `key`.
    pub async fn hash_all<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<HashMap<String, T>, KvError> {
        let command = redis::cmd("HGETALL").arg(self.key(key)?).clone();
        let fields: HashMap<String, Vec<u8>> = self.redis("hash_all", command).await?;
        fields
            .into_iter()
            .map(|(field, bytes)| Ok((field, decode(key, &bytes)?)))
            .collect()
    }

    /// Adds `value` with `score` to the sorted set at `key` (or moves it to `score`).
    pub async fn sorted_add<T: Serialize + ?Sized>(
        &self,
        key: &str,
        score: f64,
        value: &T,
    ) -> Result<(), KvError> {
        let command = redis::cmd("ZADD")
            .arg(self.key(key)?)
            .arg(score)
            .arg(encode(key, value)?)
            .clone();
        self.redis::<u64>("sorted_add", command).await.map(drop)
    }

    /// The members of the sorted set at `key` scored `min..=max`, lowest score first.
    pub async fn sorted_range_by_score<T: DeserializeOwned>(
        &self,
        key: &str,
        min: f64,
        max: f64,
    ) -> Result<Vec<T>, KvError> {
        let command = redis::cmd("ZRANGEBYSCORE")
            .arg(self.key(key)?)
            .arg(min)
            .arg(max)
            .clone();
        decode_all(key, self.redis("sorted_range_by_score", command).await?)
    }

    /// Publishes `message` on `channel` (under the cache's prefix); how many subscribers
    /// received it.
    pub async fn publish<T: Serialize + ?Sized>(
        &self,
        channel: &str,
        message: &T,
    ) -> Result<u64, KvError> {
        let command = redis::cmd("PUBLISH")
            .arg(self.key(channel)?)
            .arg(encode(channel, message)?)
            .clone();
        self.redis("publish", command).await
    }
}
