//! A Redis Cluster as the shared tier. Every key of one cache carries the hash tag
//! `{prefix}`, so an entry and all the generations it depends on live in one slot: a lookup
//! is one round trip to one node, and a failover moves them together.
//!
//! Replication is asynchronous: an invalidation the master acknowledged but had not passed
//! to its replica would be lost if the master died at that moment, and the promoted replica
//! would still hold the previous generation. So every invalidation waits (`WAIT 1`, at most
//! a quarter of the call timeout) until a replica has it; when none confirms in time (no replica
//! left), it is logged as a warning.

use std::time::Duration;

use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};

use super::StoreResult;
use super::redis::{Commands, set_gens_pipeline};

pub(crate) struct ClusterStore {
    client: ClusterClient,
    /// The nodes it was given, for connections of their own (pub/sub, WATCH).
    #[cfg_attr(not(feature = "kv"), allow(dead_code))]
    nodes: Vec<String>,
    /// How long an invalidation waits for a replica to confirm it.
    replica_wait: Duration,
    /// Opened on first use; a failed open is tried again by the next call.
    conn: tokio::sync::OnceCell<ClusterConnection>,
}

impl ClusterStore {
    pub(crate) fn new(client: ClusterClient, nodes: Vec<String>, replica_wait: Duration) -> Self {
        ClusterStore {
            client,
            nodes,
            replica_wait,
            conn: tokio::sync::OnceCell::new(),
        }
    }
}

#[cfg(feature = "kv")]
impl ClusterStore {
    /// A connection for `SUBSCRIBE` to the first node that answers: the cluster bus forwards
    /// every `PUBLISH` to every node.
    pub(crate) async fn pubsub(&self) -> StoreResult<redis::aio::PubSub> {
        let mut failures = Vec::new();
        for node in &self.nodes {
            match redis::Client::open(node.as_str()) {
                Ok(client) => match client.get_async_pubsub().await {
                    Ok(pubsub) => return Ok(pubsub),
                    Err(e) => failures.push(format!("{node}: {e}")),
                },
                Err(e) => failures.push(format!("{node}: {e}")),
            }
        }
        Err(format!("no cluster node answered: {}", failures.join("; ")))
    }

    /// A connection of its own to the master serving `key`'s slot (WATCH belongs to one
    /// connection, which the cluster client's multiplexed ones are not): asks the nodes in
    /// turn and follows a `MOVED` answer.
    pub(crate) async fn dedicated_for(
        &self,
        key: &str,
    ) -> StoreResult<redis::aio::MultiplexedConnection> {
        let mut failures = Vec::new();
        for node in &self.nodes {
            let moved_to = match serving(node, key).await {
                Ok(Ok(conn)) => return Ok(conn),
                Ok(Err(address)) => format!("redis://{address}"),
                Err(e) => {
                    failures.push(e);
                    continue;
                }
            };
            match serving(&moved_to, key).await {
                Ok(Ok(conn)) => return Ok(conn),
                Ok(Err(again)) => failures.push(format!("{moved_to} moved it on to {again}")),
                Err(e) => failures.push(e),
            }
        }
        Err(format!(
            "no connection to the master of `{key}`'s slot: {}",
            failures.join("; ")
        ))
    }
}

/// A connection to `node` when it serves `key`'s slot, else the address its `MOVED` names.
#[cfg(feature = "kv")]
async fn serving(
    node: &str,
    key: &str,
) -> Result<Result<redis::aio::MultiplexedConnection, String>, String> {
    let failed = |e: redis::RedisError| format!("{node}: {e}");
    let client = redis::Client::open(node).map_err(failed)?;
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .map_err(failed)?;
    // A keyed read, which a node answers only for its own slots.
    match redis::cmd("EXISTS")
        .arg(key)
        .query_async::<i64>(&mut conn)
        .await
    {
        Ok(_) => Ok(Ok(conn)),
        Err(e) => match e.redirect_node() {
            Some((address, _)) => Ok(Err(address.to_owned())),
            None => Err(failed(e)),
        },
    }
}

impl Commands for ClusterStore {
    type Connection = ClusterConnection;

    async fn connection(&self) -> redis::RedisResult<&ClusterConnection> {
        self.conn
            .get_or_try_init(|| self.client.get_async_connection())
            .await
    }

    async fn set_gens(&self, gens: &[(String, u64)]) -> StoreResult<()> {
        self.query::<()>(&set_gens_pipeline(gens)).await?;
        let Some((key, _)) = gens.first() else {
            return Ok(());
        };
        // All of a cache's keys share one slot: one master to ask.
        let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(Route::with_key(
            key,
            SlotAddr::Master,
        )));
        let millis = u64::try_from(self.replica_wait.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let mut wait = redis::cmd("WAIT");
        wait.arg(1).arg(millis);
        let mut conn = self.connection().await.map_err(|e| e.to_string())?.clone();
        let acked = conn
            .route_command(wait, route)
            .await
            .map_err(|e| e.to_string())?;
        if redis::from_redis_value::<i64>(acked).unwrap_or(0) < 1 {
            tracing::warn!(
                target: "polyorm_cache",
                "an invalidation reached the Redis Cluster master but no replica within \
                 {millis} ms: were that master to fail now, other processes could read entries \
                 cached before the write until their TTL; check the slot's replicas"
            );
        }
        Ok(())
    }
}
