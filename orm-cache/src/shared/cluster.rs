//! A Redis Cluster as the shared tier. Every key of one cache carries the hash tag
//! `{prefix}`, so an entry and all the generations it depends on live in one slot: a lookup
//! is one round trip to one node, and a failover moves them together.

use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;

use super::redis::Commands;

pub(crate) struct ClusterStore {
    client: ClusterClient,
    /// Opened on first use; a failed open is tried again by the next call.
    conn: tokio::sync::OnceCell<ClusterConnection>,
}

impl ClusterStore {
    pub(crate) fn new(client: ClusterClient) -> Self {
        ClusterStore {
            client,
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
}
