//! [`Topology::health`](super::Topology::health): every node's role, lag, latency and
//! breaker, in one report.

use std::time::Duration;

use super::breaker::BreakerState;
use super::node::Role;
use super::position::Position;
use super::{NO_PRIMARY, Topology};
use crate::exec::Health;

/// One node, as [`Topology::health`] found it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct NodeHealth {
    /// `host:port/database`.
    pub node: String,
    /// What the probe found ([`Role::Unknown`] when it could not reach the node).
    pub role: Role,
    /// Whether the topology sends writes here now.
    pub is_primary: bool,
    /// Whether the probe reached the node.
    pub reachable: bool,
    /// Round-trip time of the probe's `SELECT 1`.
    pub latency: Option<Duration>,
    /// A replica's replay lag (PostgreSQL: since the last replayed transaction while WAL is
    /// pending; MariaDB: `Seconds_Behind_Master`); zero on the primary.
    pub lag: Option<Duration>,
    /// WAL bytes a PostgreSQL replica has yet to replay; `None` on MariaDB.
    pub lag_bytes: Option<u64>,
    /// The node's replication position (WAL LSN or GTID).
    pub position: Option<Position>,
    /// The node's circuit breaker.
    pub breaker: BreakerState,
    /// Whether reads go to this replica now (reachable, breaker closed, lag within
    /// `max_lag`).
    pub in_rotation: bool,
    /// The node's pool (connections open, idle, at most).
    pub pool: Option<Health>,
    /// Why the probe failed.
    pub error: Option<String>,
    /// Statements and transactions the topology sent to this node since connecting (the
    /// probes' own not counted).
    pub statements: u64,
}

/// Every node of a [`Topology`], probed now.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TopologyHealth {
    /// The nodes, in the order they were configured.
    pub nodes: Vec<NodeHealth>,
    /// The primary writes go to, if one was found.
    pub primary: Option<String>,
    /// How many times the primary moved since connecting.
    pub failovers: u64,
}

impl TopologyHealth {
    /// Whether writes can run: a primary is known and was reached.
    pub fn is_healthy(&self) -> bool {
        self.nodes.iter().any(|n| n.is_primary && n.reachable)
    }

    /// The replicas reads go to now.
    pub fn replicas_in_rotation(&self) -> usize {
        self.nodes.iter().filter(|n| n.in_rotation).count()
    }

    /// The health of the node named `host:port/database` (or a prefix such as `host:port`).
    pub fn node(&self, name: &str) -> Option<&NodeHealth> {
        self.nodes.iter().find(|n| n.node.starts_with(name))
    }
}

impl Topology {
    /// Probes every node now (and looks for a new primary if the one in use is gone), then
    /// reports each: role, reachability, latency, lag, breaker state, whether it takes reads.
    /// Never fails: an unreachable node is reported as such.
    pub async fn health(&self) -> TopologyHealth {
        self.refresh().await;
        let primary = self
            .inner
            .primary
            .load(std::sync::atomic::Ordering::Acquire);
        let nodes = self
            .inner
            .nodes
            .iter()
            .enumerate()
            .map(|(i, node)| {
                let error = node.last_error();
                let reachable = error.is_none() && node.db().is_some();
                NodeHealth {
                    node: node.name.clone(),
                    role: node.role(),
                    is_primary: i == primary,
                    reachable,
                    latency: reachable.then(|| Duration::from_micros(node.latency_micros())),
                    lag: node.lag(),
                    lag_bytes: node.lag_bytes(),
                    position: node.position(),
                    breaker: node.breaker.state(),
                    in_rotation: self.in_rotation(i, primary),
                    pool: node.pool(),
                    error,
                    statements: node.statements.load(std::sync::atomic::Ordering::Relaxed),
                }
            })
            .collect();
        TopologyHealth {
            nodes,
            primary: (primary != NO_PRIMARY).then(|| self.inner.nodes[primary].name.clone()),
            failovers: self.failovers(),
        }
    }
}
