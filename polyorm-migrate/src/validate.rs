//! [`Migrator::validate`]: one report on a running system — the database's health (every node
//! of a replicated topology with the `topology` feature), the migrations' status, and the
//! live schema's drift from the models — for a readiness probe or a deploy check.

use polyorm_core::Health;

use crate::error::Error;
use crate::runner::{Migrator, State, Status};

/// What [`Migrator::validate`] found. [`is_ok`](Validation::is_ok) when
/// [`problems`](Validation::problems) is empty.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Validation {
    /// The database's ping and pool (the primary's, for a topology); `None` when it could not
    /// be reached (see `problems`).
    pub database: Option<Health>,
    /// Every node of the topology (with [`Migrator::validate_topology`]).
    #[cfg(feature = "topology")]
    pub topology: Option<polyorm_core::topology::TopologyHealth>,
    /// Every migration on disk or in the history, with its state.
    pub migrations: Vec<Status>,
    /// How the live schema differs from the models (the differences `verify` reports).
    pub drift: Vec<String>,
    /// Everything that needs attention, one sentence each: an unreachable database or node,
    /// pending, failed, edited or missing migrations, schema drift.
    pub problems: Vec<String>,
}

impl Validation {
    /// Whether nothing needs attention.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Migrator {
    /// Checks the database, the migrations and the schema in one pass; never fails: what
    /// could not be checked is a problem in the report.
    pub async fn validate(&self) -> Validation {
        let mut problems = Vec::new();
        let database = match self.db().health().await {
            Ok(health) => Some(health),
            Err(e) => {
                problems.push(format!("the database cannot be reached: {e}"));
                None
            }
        };
        let mut migrations = Vec::new();
        let mut drift = Vec::new();
        if database.is_some() {
            match self.status().await {
                Ok(status) => migrations = status,
                Err(e) => problems.push(format!("the migration status cannot be read: {e}")),
            }
            problems.extend(migration_problems(&migrations));
            match self.verify().await {
                Ok(()) => {}
                Err(Error::Drift(found)) => {
                    problems.extend(
                        found
                            .iter()
                            .map(|d| format!("the live schema differs from the models: {d}")),
                    );
                    drift = found;
                }
                // Edited or failed migrations are reported from the status above.
                Err(_)
                    if !migrations.is_empty()
                        && migration_problems(&migrations).next().is_some() => {}
                Err(e) => problems.push(format!("the schema cannot be verified: {e}")),
            }
        }
        Validation {
            database,
            #[cfg(feature = "topology")]
            topology: None,
            migrations,
            drift,
            problems,
        }
    }

    /// [`validate`](Migrator::validate) with every node of `topology` (this migrator runs on
    /// its primary: `Migrator::new(topology.primary_db()?, …)`): a missing primary, an
    /// unreachable node and a replica out of rotation (lagging, breaker open) are problems.
    #[cfg(feature = "topology")]
    pub async fn validate_topology(
        &self,
        topology: &polyorm_core::topology::Topology,
    ) -> Validation {
        let health = topology.health().await;
        let mut report = self.validate().await;
        if !health.is_healthy() {
            report
                .problems
                .push("no node of the topology is a reachable primary".to_owned());
        }
        for node in &health.nodes {
            if !node.reachable {
                report.problems.push(format!(
                    "node {} cannot be reached: {}",
                    node.node,
                    node.error.as_deref().unwrap_or("no answer")
                ));
            } else if node.role == polyorm_core::topology::Role::Replica && !node.in_rotation {
                report.problems.push(format!(
                    "replica {} takes no reads (lag {:?}, breaker {:?})",
                    node.node, node.lag, node.breaker
                ));
            }
        }
        report.topology = Some(health);
        report
    }
}

/// One sentence per migration that is not applied as it is on disk.
fn migration_problems(migrations: &[Status]) -> impl Iterator<Item = String> + '_ {
    migrations.iter().filter_map(|m| {
        let id = format!("{}_{}", m.version, m.name);
        match &m.state {
            State::Applied(_) => None,
            State::Pending => Some(format!("migration {id} is pending (run `migrate up`)")),
            State::Changed(_) => Some(format!(
                "migration {id} was edited after it was applied (restore its files)"
            )),
            State::Failed(_, how) => Some(format!("migration {id} failed part-way: {how}")),
            State::Missing(_) => Some(format!(
                "migration {id} is recorded as applied but its directory is gone"
            )),
        }
    })
}
