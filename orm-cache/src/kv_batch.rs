//! Pipelines and MULTI/EXEC transactions with WATCH for [`Kv`] (Redis only).
//!
//! A [`KvBatch`] lists typed commands; [`Kv::pipeline`] sends them in one round trip (not
//! atomically), [`Kv::transaction`] watches keys, reads them, lets the caller build the batch
//! from what it read, and runs it as `MULTI`/`EXEC`, which Redis refuses (`Ok(None)`) when a
//! watched key changed in between. Replies are read back by position ([`KvReplies`]).

use std::future::Future;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::kv::{Kv, KvError, decode, encode};
use crate::shared::Store;

/// One command of a [`KvBatch`], with its application key.
#[derive(Debug, Clone)]
enum Op {
    Get(String),
    Set(String, Vec<u8>, Option<Duration>),
    Delete(String),
    Incr(String, i64),
}

/// Commands to run together: [`Kv::pipeline`] or inside [`Kv::transaction`]. Reply `i` is
/// the answer to the `i`-th command added.
#[derive(Debug, Clone, Default)]
pub struct KvBatch {
    ops: Vec<Op>,
}

impl KvBatch {
    /// An empty batch.
    pub fn new() -> Self {
        KvBatch::default()
    }

    /// Reads `key` (reply: [`KvReplies::value`]).
    pub fn get(&mut self, key: &str) -> &mut Self {
        self.ops.push(Op::Get(key.to_owned()));
        self
    }

    /// Stores `value` at `key`, for `ttl` (reply: nothing to read).
    pub fn set<T: Serialize + ?Sized>(
        &mut self,
        key: &str,
        value: &T,
        ttl: Option<Duration>,
    ) -> Result<&mut Self, KvError> {
        let bytes = encode(key, value)?;
        self.ops.push(Op::Set(key.to_owned(), bytes, ttl));
        Ok(self)
    }

    /// Removes `key` (reply: [`KvReplies::number`], 1 if it existed).
    pub fn delete(&mut self, key: &str) -> &mut Self {
        self.ops.push(Op::Delete(key.to_owned()));
        self
    }

    /// Adds `by` to the counter at `key` (reply: [`KvReplies::number`], its new value).
    pub fn incr(&mut self, key: &str, by: i64) -> &mut Self {
        self.ops.push(Op::Incr(key.to_owned(), by));
        self
    }

    /// How many commands the batch holds.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch holds no command.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The batch as a Redis pipeline, keys under the tier's prefix.
    fn pipeline(&self, kv: &Kv<'_>) -> Result<(redis::Pipeline, Vec<String>), KvError> {
        let mut pipe = redis::pipe();
        let mut keys = Vec::with_capacity(self.ops.len());
        for op in &self.ops {
            match op {
                Op::Get(key) => {
                    pipe.cmd("GET").arg(kv.key(key)?);
                    keys.push(key.clone());
                }
                Op::Set(key, bytes, ttl) => {
                    pipe.cmd("SET").arg(kv.key(key)?).arg(bytes);
                    if let Some(ttl) = ttl {
                        pipe.arg("PX").arg(crate::shared::millis(*ttl));
                    }
                    keys.push(key.clone());
                }
                Op::Delete(key) => {
                    pipe.cmd("DEL").arg(kv.key(key)?);
                    keys.push(key.clone());
                }
                Op::Incr(key, by) => {
                    pipe.cmd("INCRBY").arg(kv.key(key)?).arg(*by);
                    keys.push(key.clone());
                }
            }
        }
        Ok((pipe, keys))
    }
}

/// The replies of a pipeline or transaction (or the values of a transaction's watched keys),
/// by position.
#[derive(Debug, Clone)]
pub struct KvReplies {
    keys: Vec<String>,
    replies: Vec<redis::Value>,
}

impl KvReplies {
    /// How many replies there are.
    pub fn len(&self) -> usize {
        self.replies.len()
    }

    /// Whether there is no reply.
    pub fn is_empty(&self) -> bool {
        self.replies.is_empty()
    }

    fn reply(&self, index: usize) -> Result<(&str, &redis::Value), KvError> {
        match (self.keys.get(index), self.replies.get(index)) {
            (Some(key), Some(reply)) => Ok((key, reply)),
            _ => Err(KvError::Serde {
                key: format!("#{index}"),
                message: format!(
                    "there are {} replies; read them by the position of their command",
                    self.replies.len()
                ),
            }),
        }
    }

    /// Reply `index` as the value of a `get` (`None`: the key was not set).
    pub fn value<T: DeserializeOwned>(&self, index: usize) -> Result<Option<T>, KvError> {
        let (key, reply) = self.reply(index)?;
        let bytes: Option<Vec<u8>> =
            redis::from_redis_value_ref(reply).map_err(|e| KvError::Serde {
                key: key.to_owned(),
                message: e.to_string(),
            })?;
        bytes.map(|b| decode(key, &b)).transpose()
    }

    /// Reply `index` as a number (a `delete`'s count, an `incr`'s new value).
    pub fn number(&self, index: usize) -> Result<i64, KvError> {
        let (key, reply) = self.reply(index)?;
        redis::from_redis_value_ref(reply).map_err(|e| KvError::Serde {
            key: key.to_owned(),
            message: e.to_string(),
        })
    }
}

impl Kv<'_> {
    /// The Redis server of this tier, or the typed error of a tier without `op`.
    #[cfg_attr(
        not(any(feature = "memcached", feature = "redis-cluster")),
        allow(unused_variables)
    )]
    fn single_redis(&self, op: &'static str) -> Result<&crate::shared::redis::RedisStore, KvError> {
        match self.tier()?.server() {
            Store::Redis(s) => Ok(s),
            #[cfg(feature = "redis-cluster")]
            Store::Cluster(_) => Err(KvError::Unsupported {
                op,
                tier: "Redis Cluster",
            }),
            #[cfg(feature = "memcached")]
            Store::Memcached(_) => Err(KvError::Unsupported {
                op,
                tier: "Memcached",
            }),
        }
    }

    /// Runs `batch` in one round trip (not atomically: other clients' commands may run
    /// between its commands); one reply per command. Redis only: Memcached and Redis Cluster
    /// answer [`KvError::Unsupported`].
    pub async fn pipeline(&self, batch: &KvBatch) -> Result<KvReplies, KvError> {
        let store = self.single_redis("pipeline")?;
        let (pipe, keys) = batch.pipeline(self)?;
        let replies = self
            .timed(
                "pipeline",
                crate::shared::redis::Commands::query(store, &pipe),
            )
            .await?;
        Ok(KvReplies { keys, replies })
    }

    /// An optimistic transaction: `WATCH`es `watch`, reads their values (passed to `build`
    /// as [`KvReplies::value`] by position), then runs the batch `build` returns as
    /// `MULTI`/`EXEC`. `Ok(None)` when another client changed a watched key before `EXEC`
    /// (nothing was written: read again and retry); otherwise the batch's replies.
    ///
    /// Runs on a connection of its own (WATCH belongs to a connection), opened per call.
    /// Redis only: Memcached and Redis Cluster answer [`KvError::Unsupported`].
    pub async fn transaction<F, Fut>(
        &self,
        watch: &[&str],
        build: F,
    ) -> Result<Option<KvReplies>, KvError>
    where
        F: FnOnce(KvReplies) -> Fut,
        Fut: Future<Output = Result<KvBatch, KvError>>,
    {
        let store = self.single_redis("transaction")?;
        let watched = watch
            .iter()
            .map(|k| self.key(k))
            .collect::<Result<Vec<_>, _>>()?;
        let mut conn = self
            .timed("transaction", async {
                store.dedicated().await.map_err(|e| e.to_string())
            })
            .await?;
        let values: Vec<redis::Value> = self
            .timed("transaction", async {
                if watched.is_empty() {
                    return Ok(Vec::new());
                }
                redis::cmd("WATCH")
                    .arg(&watched)
                    .query_async::<()>(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                let mut get = redis::pipe();
                for key in &watched {
                    get.cmd("GET").arg(key);
                }
                get.query_async(&mut conn).await.map_err(|e| e.to_string())
            })
            .await?;
        let snapshot = KvReplies {
            keys: watch.iter().map(|k| (*k).to_owned()).collect(),
            replies: values,
        };
        let batch = build(snapshot).await?;
        let (mut pipe, keys) = batch.pipeline(self)?;
        pipe.atomic();
        let replies: Option<Vec<redis::Value>> = self
            .timed("transaction", async {
                pipe.query_async(&mut conn).await.map_err(|e| e.to_string())
            })
            .await?;
        Ok(replies.map(|replies| KvReplies { keys, replies }))
    }
}
