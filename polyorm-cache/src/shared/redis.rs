//! One Redis server as the shared tier (a `ConnectionManager` that reconnects by itself).

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{Fetched, StoreResult, millis};

pub(crate) struct RedisStore {
    client: redis::Client,
    config: ConnectionManagerConfig,
    /// Created on first use, inside the caller's Tokio runtime (it spawns a task).
    conn: tokio::sync::OnceCell<ConnectionManager>,
}

impl RedisStore {
    pub(crate) fn new(client: redis::Client, config: ConnectionManagerConfig) -> Self {
        RedisStore {
            client,
            config,
            conn: tokio::sync::OnceCell::new(),
        }
    }
}

#[cfg(feature = "kv")]
impl RedisStore {
    /// A new connection of its own (for WATCH, whose state belongs to a connection).
    pub(crate) async fn dedicated(&self) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
        self.client.get_multiplexed_async_connection().await
    }

    /// A connection for `SUBSCRIBE` (one of its own: a subscribed connection runs nothing else).
    pub(crate) async fn pubsub(&self) -> StoreResult<redis::aio::PubSub> {
        self.client
            .get_async_pubsub()
            .await
            .map_err(|e| e.to_string())
    }
}

impl Commands for RedisStore {
    type Connection = ConnectionManager;

    async fn connection(&self) -> redis::RedisResult<&ConnectionManager> {
        self.conn
            .get_or_try_init(|| async {
                ConnectionManager::new_lazy_with_config(self.client.clone(), self.config.clone())
            })
            .await
    }
}

/// The shared tier's four calls, as Redis commands, over any connection that runs a pipeline
/// (one server or a cluster).
pub(crate) trait Commands {
    /// A cheap handle that multiplexes one connection (and reconnects by itself).
    type Connection: redis::aio::ConnectionLike + Clone + Send;

    /// The connection, opened on first use; a failed open is tried again by the next call.
    async fn connection(&self) -> redis::RedisResult<&Self::Connection>;

    /// Runs `request`.
    async fn query<T: redis::FromRedisValue>(&self, request: &redis::Pipeline) -> StoreResult<T> {
        let conn = self.connection().await.map_err(|e| e.to_string())?;
        request
            .query_async::<T>(&mut conn.clone())
            .await
            .map_err(|e| e.to_string())
    }

    /// Runs one command.
    #[cfg(feature = "kv")]
    async fn command<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> StoreResult<T> {
        let conn = self.connection().await.map_err(|e| e.to_string())?;
        command
            .query_async::<T>(&mut conn.clone())
            .await
            .map_err(|e| e.to_string())
    }

    async fn fetch(&self, gens: &[String], entry: Option<&str>) -> StoreResult<Fetched> {
        let request = fetch_pipeline(gens, entry);
        match entry {
            Some(_) => self.query(&request).await,
            None => self
                .query::<(Vec<Option<u64>>,)>(&request)
                .await
                .map(|(g,)| (g, None)),
        }
    }

    async fn init(
        &self,
        missing: &[(String, u64)],
        gens: &[String],
    ) -> StoreResult<Vec<Option<u64>>> {
        self.query::<(Vec<Option<u64>>,)>(&init_pipeline(missing, gens))
            .await
            .map(|(g,)| g)
    }

    /// Stores an entry, and drops the load lease `release` (waiters then stop waiting).
    async fn put(&self, key: &str, value: &[u8], ttl: Duration, release: &str) -> StoreResult<()> {
        let mut pipe = put_pipeline(key, value, ttl);
        pipe.cmd("DEL").arg(release).ignore();
        self.query(&pipe).await
    }

    async fn set_gens(&self, gens: &[(String, u64)]) -> StoreResult<()> {
        self.query(&set_gens_pipeline(gens)).await
    }

    /// Drops the load lease `key` (no entry follows).
    async fn release(&self, key: &str) -> StoreResult<()> {
        let mut pipe = redis::pipe();
        pipe.cmd("DEL").arg(key).ignore();
        self.query(&pipe).await
    }

    /// `SET key token NX PX ttl`: whether this caller took the lease.
    async fn lease(&self, key: &str, token: u64, ttl: Duration) -> StoreResult<bool> {
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(key)
            .arg(token)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl));
        self.query::<(Option<String>,)>(&pipe)
            .await
            .map(|(set,)| set.is_some())
    }
}

/// `MGET` of the generations, then `GET` of the entry when asked for.
fn fetch_pipeline(gens: &[String], entry: Option<&str>) -> redis::Pipeline {
    let mut pipe = redis::pipe();
    pipe.cmd("MGET").arg(gens);
    if let Some(entry) = entry {
        pipe.cmd("GET").arg(entry);
    }
    pipe
}

/// `SET NX` of the missing generations (keeping one another process set meanwhile), then
/// `MGET` of all.
fn init_pipeline(missing: &[(String, u64)], gens: &[String]) -> redis::Pipeline {
    let mut pipe = redis::pipe();
    for (key, token) in missing {
        pipe.cmd("SET").arg(key).arg(token).arg("NX").ignore();
    }
    pipe.cmd("MGET").arg(gens);
    pipe
}

/// `SET .. PX ttl` of an entry.
fn put_pipeline(key: &str, value: &[u8], ttl: Duration) -> redis::Pipeline {
    let mut pipe = redis::pipe();
    pipe.cmd("SET")
        .arg(key)
        .arg(value)
        .arg("PX")
        .arg(millis(ttl))
        .ignore();
    pipe
}

/// `SET` of new generation tokens.
pub(crate) fn set_gens_pipeline(gens: &[(String, u64)]) -> redis::Pipeline {
    let mut pipe = redis::pipe();
    for (key, token) in gens {
        pipe.cmd("SET").arg(key).arg(token).ignore();
    }
    pipe
}
