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
    /// How long an invalidation waits for a replica to confirm it.
    replica_wait: Duration,
    /// Opened on first use; a failed open is tried again by the next call.
    conn: tokio::sync::OnceCell<ClusterConnection>,
}

impl ClusterStore {
    pub(crate) fn new(client: ClusterClient, replica_wait: Duration) -> Self {
        ClusterStore {
            client,
            replica_wait,
            conn: tokio::sync::OnceCell::new(),
        }
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
                target: "orm_cache",
                "an invalidation reached the Redis Cluster master but no replica within \
                 {millis} ms: were that master to fail now, other processes could read entries \
                 cached before the write until their TTL; check the slot's replicas"
            );
        }
        Ok(())
    }
}
