//! Distributed transactions: one transaction over several databases, committed everywhere or
//! nowhere by two-phase commit on the databases' own prepared transactions (PostgreSQL
//! `PREPARE TRANSACTION` / `COMMIT PREPARED`, MySQL/MariaDB XA), with a durable coordinator log
//! and recovery of in-doubt branches after a crash (feature `distributed`).
//!
//! ```no_run
//! # use polyorm_core::Executor;
//! # async fn run(orders: &polyorm_core::Db, billing: &polyorm_core::Db) -> polyorm_core::Result<()> {
//! use polyorm_core::distributed::{Coordinator, DecisionLog};
//!
//! let coordinator = Coordinator::new("checkout", DecisionLog::file("/var/lib/app/2pc.log"))?;
//! // At startup: finish what a crash left in doubt.
//! coordinator.recover(&[("orders", orders), ("billing", billing)]).await?;
//!
//! let tx = coordinator.begin(&[("orders", orders), ("billing", billing)]).await?;
//! tx.branch("orders")?.execute_raw("UPDATE stock SET n = n - 1 WHERE id = 7").await?;
//! tx.branch("billing")?.execute_raw("INSERT INTO invoices (id) VALUES (42)").await?;
//! tx.commit().await?;
//! # Ok(()) }
//! ```
//!
//! The protocol is presumed abort: every branch prepares (within the prepare timeout), then
//! the decision to commit is made durable in the [`DecisionLog`], then every branch commits. A
//! crash before the decision leaves prepared branches with no decision, which recovery rolls
//! back; a crash after it leaves branches that recovery commits.

mod branch;
mod error;
mod log;
mod recovery;
mod xid;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::join_all;

pub use branch::Branch;
pub use error::DistributedError;
pub use log::{DEFAULT_LOG_TABLE, DecisionLog};
pub use recovery::{RecoveryReport, ResolvedBranch};

use crate::error::{Error, Result};
use crate::exec::transaction::TxOptions;
use crate::exec::{Backend, Db, Executor};

/// A step of the protocol, reported to the [`Coordinator::on_step`] observer as it happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step<'a> {
    /// Every branch of transaction `id` is prepared; the decision is not yet logged.
    Prepared {
        /// The transaction's id.
        id: &'a str,
    },
    /// The decision to commit `id` is durable; no branch is committed yet.
    Decided {
        /// The transaction's id.
        id: &'a str,
    },
    /// `participant`'s branch of `id` is committed.
    Committed {
        /// The transaction's id.
        id: &'a str,
        /// The participant.
        participant: &'a str,
    },
}

/// A callback told of every [`Step`].
type Observer = Arc<dyn Fn(&Step<'_>) + Send + Sync>;

/// Runs distributed transactions over several databases and recovers them after a crash.
/// Cheap to clone (clones share the log and the set of transactions in flight).
///
/// Give each coordinator process its own name: the name is part of every transaction id, and
/// [`recover`](Coordinator::recover) resolves only the prepared branches of its own name (those
/// of the transactions it is running itself excepted).
#[derive(Clone)]
pub struct Coordinator {
    name: Arc<str>,
    log: DecisionLog,
    prepare_timeout: Duration,
    /// Transactions begun and not yet finished by this coordinator: recovery leaves them alone.
    in_flight: Arc<Mutex<HashSet<String>>>,
    observer: Option<Observer>,
}

impl std::fmt::Debug for Coordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coordinator")
            .field("name", &self.name)
            .field("log", &self.log)
            .field("prepare_timeout", &self.prepare_timeout)
            .finish_non_exhaustive()
    }
}

impl Coordinator {
    /// A coordinator named `name` (1 to 24 ASCII letters, digits, `_`, `-`; unique per
    /// process sharing the participants) writing its decisions to `log`. The prepare timeout
    /// defaults to 10 s.
    pub fn new(name: &str, log: DecisionLog) -> Result<Coordinator> {
        xid::check_name("coordinator", name)?;
        Ok(Coordinator {
            name: name.into(),
            log,
            prepare_timeout: Duration::from_secs(10),
            in_flight: Arc::default(),
            observer: None,
        })
    }

    /// How long the prepare phase waits for each participant before the transaction is
    /// rolled back with [`DistributedError::PrepareTimeout`].
    pub fn prepare_timeout(mut self, timeout: Duration) -> Self {
        self.prepare_timeout = timeout;
        self
    }

    /// Calls `observer` at every [`Step`] of every commit (for logging or metrics; it runs on
    /// the committing task, so it should be quick).
    pub fn on_step(mut self, observer: impl Fn(&Step<'_>) + Send + Sync + 'static) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// The coordinator's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Begins a distributed transaction on every participant (name, database): one connection
    /// each, held until the end, with the databases' default isolation.
    pub async fn begin(&self, participants: &[(&str, &Db)]) -> Result<DistributedTx> {
        self.begin_with(participants, TxOptions::new()).await
    }

    /// [`begin`](Coordinator::begin) with an isolation level or read-only mode for every branch.
    ///
    /// Refused with [`DistributedError::Unsupported`] for a SQLite or MongoDB participant (they
    /// have no prepared phase), and [`Error::Config`] for no participants or a name given
    /// twice.
    pub async fn begin_with(
        &self,
        participants: &[(&str, &Db)],
        options: TxOptions,
    ) -> Result<DistributedTx> {
        check_participants(participants)?;
        let id = xid::new_transaction_id(&self.name);
        let begun = join_all(participants.iter().enumerate().map(|(i, (name, db))| {
            let id = &id;
            async move {
                Branch::begin(name, db, id, i, options)
                    .await
                    .map_err(|source| DistributedError::Begin {
                        participant: (*name).to_owned(),
                        source,
                    })
            }
        }))
        .await;
        let mut branches = Vec::with_capacity(begun.len());
        let mut failure = None;
        for outcome in begun {
            match outcome {
                Ok(branch) => branches.push(branch),
                Err(e) => failure = failure.or(Some(e)),
            }
        }
        if let Some(e) = failure {
            join_all(branches.iter_mut().map(Branch::rollback_active)).await;
            return Err(e.into_error());
        }
        self.lock_in_flight().insert(id.clone());
        Ok(DistributedTx {
            coordinator: self.clone(),
            id,
            branches,
            open: true,
        })
    }

    fn lock_in_flight(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn observe(&self, step: Step<'_>) {
        if let Some(observer) = &self.observer {
            observer(&step);
        }
    }
}

/// Refuses an empty list, a name given twice or invalid, and databases without a prepared
/// phase.
fn check_participants(participants: &[(&str, &Db)]) -> Result<()> {
    if participants.is_empty() {
        return Err(Error::Config(
            "a distributed transaction needs at least one participant".to_owned(),
        ));
    }
    let mut seen = HashSet::new();
    for (name, db) in participants {
        xid::check_name("participant", name)?;
        if !seen.insert(*name) {
            return Err(Error::Config(format!(
                "participant `{name}` is named twice; give each database its own name"
            )));
        }
        check_supported(name, db.backend())?;
    }
    Ok(())
}

/// Refuses a backend with no prepared phase.
fn check_supported(participant: &str, backend: Backend) -> Result<()> {
    match backend {
        Backend::Sql(crate::sql::Dialect::Postgres | crate::sql::Dialect::MySql) => Ok(()),
        backend => Err(DistributedError::Unsupported {
            participant: participant.to_owned(),
            backend,
        }
        .into_error()),
    }
}

/// An open distributed transaction: a [`Branch`] per participant. Dropping it without
/// [`commit`](DistributedTx::commit) rolls every branch back (their connections are closed,
/// which ends their transactions on the servers).
#[derive(Debug)]
pub struct DistributedTx {
    coordinator: Coordinator,
    id: String,
    branches: Vec<Branch>,
    /// Not yet committed or rolled back.
    open: bool,
}

/// How a branch came out of the prepare phase.
enum Prepared {
    Yes,
    Failed(Error),
    TimedOut,
}

impl DistributedTx {
    /// The transaction's id (`orm2pc:<coordinator>:<unique>`); its branches' ids add the
    /// branch's position.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The branch of `participant`: run the participant's queries on it.
    pub fn branch(&self, participant: &str) -> Result<&Branch> {
        self.branches
            .iter()
            .find(|b| b.participant() == participant)
            .ok_or_else(|| {
                Error::InvalidQuery(format!(
                    "no participant `{participant}` in this distributed transaction; its \
                     participants are {}",
                    self.branches
                        .iter()
                        .map(|b| format!("`{}`", b.participant()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    }

    /// Every branch, in the order the participants were given.
    pub fn branches(&self) -> &[Branch] {
        &self.branches
    }

    /// Commits on every participant or on none: prepares every branch (each within the
    /// prepare timeout), makes the decision durable in the log, then commits every branch.
    ///
    /// Errors ([`Error::Distributed`]): a participant that fails or times out in the prepare
    /// phase, or a log that refuses the decision, rolls the transaction back everywhere
    /// ([`DistributedError::PrepareFailed`], [`PrepareTimeout`](DistributedError::PrepareTimeout),
    /// [`PreparedTransactionsDisabled`](DistributedError::PreparedTransactionsDisabled),
    /// [`DecisionNotLogged`](DistributedError::DecisionNotLogged)); a participant that does
    /// not confirm its commit after the decision leaves the transaction committed but
    /// unfinished there ([`DistributedError::CommitIncomplete`]) until
    /// [`Coordinator::recover`] finishes it.
    pub async fn commit(mut self) -> Result<()> {
        self.open = false;
        let outcome = self.two_phase_commit().await;
        self.coordinator.lock_in_flight().remove(&self.id);
        outcome
    }

    /// Rolls back every branch. A branch whose connection cannot roll back is closed, which
    /// rolls it back on the server just the same.
    pub async fn rollback(mut self) -> Result<()> {
        self.open = false;
        join_all(self.branches.iter_mut().map(Branch::rollback_active)).await;
        self.coordinator.lock_in_flight().remove(&self.id);
        Ok(())
    }

    async fn two_phase_commit(&mut self) -> Result<()> {
        let timeout = self.coordinator.prepare_timeout;
        let outcomes: Vec<Prepared> = join_all(self.branches.iter().map(|branch| async move {
            match tokio::time::timeout(timeout, branch.prepare()).await {
                Ok(Ok(())) => Prepared::Yes,
                Ok(Err(e)) => Prepared::Failed(e),
                Err(_) => Prepared::TimedOut,
            }
        }))
        .await;
        if outcomes.iter().any(|o| !matches!(o, Prepared::Yes)) {
            return Err(self.abort(outcomes).await);
        }
        let coordinator = self.coordinator.clone();
        coordinator.observe(Step::Prepared { id: &self.id });

        let participants: Vec<String> = self
            .branches
            .iter()
            .map(|b| b.participant().to_owned())
            .collect();
        if let Err(source) = coordinator.log.record_commit(&self.id, &participants).await {
            // A decision that reached the log after all (its write failed late) must not
            // commit the branches recovery finds: take it back before rolling back.
            let _taken_back = coordinator.log.forget(&self.id).await;
            let in_doubt = self.roll_back_prepared().await;
            return Err(DistributedError::DecisionNotLogged {
                id: self.id.clone(),
                source,
                in_doubt,
            }
            .into_error());
        }
        coordinator.observe(Step::Decided { id: &self.id });

        let committed = join_all(self.branches.iter().map(|branch| {
            let (coordinator, id) = (&coordinator, &self.id);
            async move {
                let outcome = branch.commit_prepared().await;
                if outcome.is_ok() {
                    coordinator.observe(Step::Committed {
                        id,
                        participant: branch.participant(),
                    });
                }
                outcome
            }
        }))
        .await;
        let mut pending = Vec::new();
        let mut first_error = None;
        for (branch, outcome) in self.branches.iter().zip(committed) {
            if let Err(e) = outcome {
                pending.push(branch.participant().to_owned());
                first_error = first_error.or(Some(e));
            }
        }
        match first_error {
            None => {
                // Every branch committed: the decision is no longer needed. Should forgetting
                // fail, recovery finds no branch of it and forgets it then.
                let _kept = coordinator.log.forget(&self.id).await;
                Ok(())
            }
            Some(source) => {
                for branch in &mut self.branches {
                    branch.close_on_drop();
                }
                Err(DistributedError::CommitIncomplete {
                    id: self.id.clone(),
                    pending,
                    source,
                }
                .into_error())
            }
        }
    }

    /// Rolls back after a failed prepare phase and says why, naming the first participant at
    /// fault.
    async fn abort(&mut self, outcomes: Vec<Prepared>) -> Error {
        let timeout = self.coordinator.prepare_timeout;
        let mut cause: Option<(String, Prepared)> = None;
        let rolled_back = join_all(self.branches.iter_mut().zip(outcomes).map(
            |(branch, outcome)| async move {
                let done = match &outcome {
                    Prepared::Yes | Prepared::Failed(_) => branch.rollback_any().await,
                    Prepared::TimedOut => {
                        // The prepare may still be running on the server: give up its
                        // connection, roll back a branch already prepared by id, and leave one
                        // prepared later to recovery (no decision: it is rolled back).
                        branch.abandon_connection();
                        let xid = branch.xid().to_owned();
                        let dialect = branch.db().backend().dialect().expect("SQL");
                        branch::rollback_prepared_by_id(branch.db(), dialect, &xid).await
                    }
                };
                (branch.participant().to_owned(), outcome, done)
            },
        ))
        .await;
        let mut in_doubt = Vec::new();
        for (participant, outcome, done) in rolled_back {
            let timed_out = matches!(outcome, Prepared::TimedOut);
            if done.is_err() || timed_out {
                in_doubt.push(participant.clone());
            }
            if !matches!(outcome, Prepared::Yes) {
                cause = cause.or(Some((participant, outcome)));
            }
        }
        let (participant, outcome) = cause.expect("abort is called when a prepare failed");
        let id = self.id.clone();
        match outcome {
            Prepared::Failed(source) if branch::is_prepared_transactions_disabled(&source) => {
                DistributedError::PreparedTransactionsDisabled {
                    participant,
                    id,
                    in_doubt,
                }
            }
            Prepared::Failed(source) => DistributedError::PrepareFailed {
                participant,
                id,
                source,
                in_doubt,
            },
            _ => DistributedError::PrepareTimeout {
                participant,
                id,
                timeout,
                in_doubt,
            },
        }
        .into_error()
    }

    /// Rolls back every (prepared) branch; returns the participants that could not confirm it.
    async fn roll_back_prepared(&mut self) -> Vec<String> {
        let done = join_all(self.branches.iter_mut().map(|branch| async move {
            let outcome = branch.rollback_any().await;
            (branch.participant().to_owned(), outcome)
        }))
        .await;
        done.into_iter()
            .filter(|(_, outcome)| outcome.is_err())
            .map(|(participant, _)| participant)
            .collect()
    }
}

impl Drop for DistributedTx {
    fn drop(&mut self) {
        if self.open {
            // No async rollback in a destructor: closing each connection ends its (unprepared)
            // transaction on the server.
            for branch in &mut self.branches {
                branch.close_on_drop();
            }
            self.coordinator.lock_in_flight().remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::Dialect;

    #[test]
    fn only_postgres_and_mysql_can_take_part() {
        check_supported("a", Backend::Sql(Dialect::Postgres)).unwrap();
        check_supported("b", Backend::Sql(Dialect::MySql)).unwrap();
        for (backend, name) in [
            (Backend::Sql(Dialect::Sqlite), "SQLite"),
            (Backend::MongoDb, "MongoDB"),
        ] {
            let err = check_supported("events", backend).unwrap_err();
            let message = err.to_string();
            assert!(
                message.contains(&format!("`events` is {name}, which has no prepared")),
                "{message}"
            );
            assert_eq!(err.kind(), "distributed");
        }
    }
}
