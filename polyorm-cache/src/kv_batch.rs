//! Pipelines and MULTI/EXEC transactions with WATCH for [`Kv`] (Redis, and Redis Cluster
//! when the keys share a slot).
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

impl Op {
    /// Its application key.
    fn key(&self) -> &str {
        match self {
            Op::Get(key) | Op::Set(key, ..) | Op::Delete(key) | Op::Incr(key, _) => key,
        }
    }
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

/// A connection of its own for a transaction, on one Redis server or on the cluster master
/// serving the transaction's slot.
enum Server<'a> {
    Redis(&'a crate::shared::redis::RedisStore),
    #[cfg(feature = "redis-cluster")]
    Cluster(&'a crate::shared::cluster::ClusterStore),
}

impl Server<'_> {
    /// A connection of its own; on a cluster, to the master serving `route`'s slot.
    #[cfg_attr(not(feature = "redis-cluster"), allow(unused_variables))]
    async fn dedicated(
        &self,
        route: Option<&str>,
    ) -> Result<redis::aio::MultiplexedConnection, String> {
        match self {
            Server::Redis(s) => s.dedicated().await.map_err(|e| e.to_string()),
            #[cfg(feature = "redis-cluster")]
            Server::Cluster(s) => match route {
                Some(key) => s.dedicated_for(key).await,
                None => Err(
                    "a transaction on Redis Cluster needs a key to find its slot's \
                             master: watch a key or add a command"
                        .to_owned(),
                ),
            },
        }
    }
}

impl Kv<'_> {
    /// The Redis server or cluster of this tier, or the typed error of Memcached.
    #[cfg_attr(not(feature = "memcached"), allow(unused_variables))]
    fn redis_server(&self, op: &'static str) -> Result<Server<'_>, KvError> {
        match self.tier()?.server() {
            Store::Redis(s) => Ok(Server::Redis(s)),
            #[cfg(feature = "redis-cluster")]
            Store::Cluster(s) => Ok(Server::Cluster(s)),
            #[cfg(feature = "memcached")]
            Store::Memcached(_) => Err(KvError::Unsupported {
                op,
                tier: "Memcached",
            }),
        }
    }

    /// On a cluster, checks that the application keys `keys` hash to one slot (Redis Cluster
    /// runs a pipeline or MULTI/EXEC on one node only).
    #[cfg_attr(not(feature = "redis-cluster"), allow(unused_variables))]
    fn one_slot<'k>(
        &self,
        server: &Server<'_>,
        keys: impl IntoIterator<Item = &'k str>,
    ) -> Result<(), KvError> {
        #[cfg(feature = "redis-cluster")]
        if let Server::Cluster(_) = server {
            use redis::cluster_routing::{Route, SlotAddr};
            let mut first: Option<(&str, Route)> = None;
            for key in keys {
                let route = Route::with_key(self.key(key)?, SlotAddr::Master);
                match first {
                    None => first = Some((key, route)),
                    Some((one, slot)) if slot != route => {
                        return Err(KvError::CrossSlot {
                            keys: vec![one.to_owned(), key.to_owned()],
                        });
                    }
                    Some(_) => {}
                }
            }
        }
        Ok(())
    }

    /// Runs `batch` in one round trip (not atomically: other clients' commands may run
    /// between its commands); one reply per command. Redis, and Redis Cluster when the keys
    /// share a slot (one hash tag: `{user:1}:name`, `{user:1}:visits`;
    /// [`KvError::CrossSlot`] otherwise); Memcached answers [`KvError::Unsupported`].
    pub async fn pipeline(&self, batch: &KvBatch) -> Result<KvReplies, KvError> {
        let server = self.redis_server("pipeline")?;
        self.one_slot(&server, batch.ops.iter().map(Op::key))?;
        let (pipe, keys) = batch.pipeline(self)?;
        let replies = match server {
            Server::Redis(s) => {
                self.timed("pipeline", crate::shared::redis::Commands::query(s, &pipe))
                    .await?
            }
            #[cfg(feature = "redis-cluster")]
            Server::Cluster(s) => {
                self.timed("pipeline", crate::shared::redis::Commands::query(s, &pipe))
                    .await?
            }
        };
        Ok(KvReplies { keys, replies })
    }

    /// An optimistic transaction: `WATCH`es `watch`, reads their values (passed to `build`
    /// as [`KvReplies::value`] by position), then runs the batch `build` returns as
    /// `MULTI`/`EXEC`. `Ok(None)` when another client changed a watched key before `EXEC`
    /// (nothing was written: read again and retry); otherwise the batch's replies.
    ///
    /// Runs on a connection of its own (WATCH belongs to a connection), opened per call: on
    /// Redis Cluster to the master serving the keys' slot, so the watched keys and the batch's
    /// keys must share one (a hash tag; [`KvError::CrossSlot`] otherwise). Memcached answers
    /// [`KvError::Unsupported`].
    pub async fn transaction<F, Fut>(
        &self,
        watch: &[&str],
        build: F,
    ) -> Result<Option<KvReplies>, KvError>
    where
        F: FnOnce(KvReplies) -> Fut,
        Fut: Future<Output = Result<KvBatch, KvError>>,
    {
        let server = self.redis_server("transaction")?;
        self.one_slot(&server, watch.iter().copied())?;
        let watched = watch
            .iter()
            .map(|k| self.key(k))
            .collect::<Result<Vec<_>, _>>()?;
        let mut conn = None;
        let mut values: Vec<redis::Value> = Vec::new();
        if let Some(route) = watched.first() {
            let mut watching = self
                .timed("transaction", server.dedicated(Some(route)))
                .await?;
            values = self
                .timed("transaction", async {
                    redis::cmd("WATCH")
                        .arg(&watched)
                        .query_async::<()>(&mut watching)
                        .await
                        .map_err(|e| e.to_string())?;
                    let mut get = redis::pipe();
                    for key in &watched {
                        get.cmd("GET").arg(key);
                    }
                    get.query_async(&mut watching)
                        .await
                        .map_err(|e| e.to_string())
                })
                .await?;
            conn = Some(watching);
        }
        let snapshot = KvReplies {
            keys: watch.iter().map(|k| (*k).to_owned()).collect(),
            replies: values,
        };
        let batch = build(snapshot).await?;
        self.one_slot(
            &server,
            watch.iter().copied().chain(batch.ops.iter().map(Op::key)),
        )?;
        let (mut pipe, keys) = batch.pipeline(self)?;
        pipe.atomic();
        let mut conn = match conn {
            Some(conn) => conn,
            None => {
                let route = batch.ops.first().map(|op| self.key(op.key())).transpose()?;
                self.timed("transaction", server.dedicated(route.as_deref()))
                    .await?
            }
        };
        let replies: Option<Vec<redis::Value>> = self
            .timed("transaction", async {
                pipe.query_async(&mut conn).await.map_err(|e| e.to_string())
            })
            .await?;
        Ok(replies.map(|replies| KvReplies { keys, replies }))
    }
}
