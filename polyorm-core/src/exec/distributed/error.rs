//! [`DistributedError`]: what went wrong in a distributed transaction, naming the participant.

use std::time::Duration;

use crate::error::Error;
use crate::exec::Backend;

/// Why a distributed transaction failed; reached as [`Error::Distributed`]. Each variant names
/// the participant at fault and says what became of the others.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DistributedError {
    /// A participant's database has no prepared (two-phase) commit: SQLite and MongoDB.
    #[error(
        "participant `{participant}` is {product}, which has no prepared (two-phase) commit; a \
         distributed transaction spans PostgreSQL and MySQL/MariaDB databases only: keep the \
         {product} writes out of it (e.g. write them after it commits, idempotently)",
        product = product(*.backend)
    )]
    Unsupported {
        /// The participant's name.
        participant: String,
        /// Its database.
        backend: Backend,
    },

    /// A PostgreSQL participant's server runs with `max_prepared_transactions = 0` (its
    /// default), so `PREPARE TRANSACTION` is disabled there. Every branch was rolled back.
    #[error(
        "participant `{participant}` (PostgreSQL) has prepared transactions disabled: its server \
         runs with `max_prepared_transactions = 0`; set `max_prepared_transactions` to at least \
         the number of distributed transactions in flight at once (postgresql.conf or \
         `-c max_prepared_transactions=N`) and restart the server. The transaction `{id}` was \
         rolled back on every participant{}",
        in_doubt_note(.in_doubt)
    )]
    PreparedTransactionsDisabled {
        /// The participant's name.
        participant: String,
        /// The transaction's id.
        id: String,
        /// Branches whose rollback could not be confirmed (see [`in_doubt`](Self::in_doubt)).
        in_doubt: Vec<String>,
    },

    /// A branch could not begin (its connection failed, or the server refused `BEGIN` /
    /// `XA START`). The branches already begun were rolled back.
    #[error("participant `{participant}` could not begin its branch: {source}")]
    Begin {
        /// The participant's name.
        participant: String,
        /// What the participant reported.
        #[source]
        source: Error,
    },

    /// A participant refused to prepare (a deferred constraint failed, its connection was lost,
    /// ...): the transaction was rolled back on every participant.
    #[error(
        "participant `{participant}` failed to prepare transaction `{id}`, so it was rolled back \
         on every participant{}: {source}",
        in_doubt_note(.in_doubt)
    )]
    PrepareFailed {
        /// The participant's name.
        participant: String,
        /// The transaction's id.
        id: String,
        /// What the participant reported.
        #[source]
        source: Error,
        /// Branches whose rollback could not be confirmed.
        in_doubt: Vec<String>,
    },

    /// A participant did not answer the prepare within the coordinator's prepare timeout: the
    /// transaction was rolled back on every participant (a branch the late participant prepares
    /// after all is in doubt with no decision, so [`Coordinator::recover`] rolls it back).
    ///
    /// [`Coordinator::recover`]: super::Coordinator::recover
    #[error(
        "participant `{participant}` did not prepare transaction `{id}` within {timeout:?}, so it \
         was rolled back on every participant{}; raise `Coordinator::prepare_timeout` if the \
         participant is slow rather than stuck",
        in_doubt_note(.in_doubt)
    )]
    PrepareTimeout {
        /// The participant's name.
        participant: String,
        /// The transaction's id.
        id: String,
        /// The prepare timeout.
        timeout: Duration,
        /// Branches whose rollback could not be confirmed (the late participant's among them).
        in_doubt: Vec<String>,
    },

    /// Every participant prepared but the commit decision could not be written to the
    /// coordinator's log, so nothing was committed: the transaction was rolled back.
    #[error(
        "the commit decision of transaction `{id}` could not be written to the coordinator log, \
         so it was rolled back on every participant{}: {source}; check the log's file or table",
        in_doubt_note(.in_doubt)
    )]
    DecisionNotLogged {
        /// The transaction's id.
        id: String,
        /// Why the log refused it.
        #[source]
        source: Error,
        /// Branches whose rollback could not be confirmed.
        in_doubt: Vec<String>,
    },

    /// The commit decision is logged (the transaction is committed) but these participants did
    /// not confirm their commit, typically because their server went away. Their branches stay
    /// prepared, holding their locks, until [`Coordinator::recover`] commits them once the
    /// servers are back; the other participants committed.
    ///
    /// [`Coordinator::recover`]: super::Coordinator::recover
    #[error(
        "transaction `{id}` is committed (its decision is logged) but participant(s) {} did not \
         confirm their commit: {source}; run `Coordinator::recover` once they are reachable to \
         finish it",
        pending.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ")
    )]
    CommitIncomplete {
        /// The transaction's id.
        id: String,
        /// Participants whose branch is still prepared.
        pending: Vec<String>,
        /// The first of their errors.
        #[source]
        source: Error,
    },
}

impl DistributedError {
    /// The participant at fault, where one is (the log's failure and an incomplete commit name
    /// none, or several).
    pub fn participant(&self) -> Option<&str> {
        match self {
            DistributedError::Unsupported { participant, .. }
            | DistributedError::PreparedTransactionsDisabled { participant, .. }
            | DistributedError::Begin { participant, .. }
            | DistributedError::PrepareFailed { participant, .. }
            | DistributedError::PrepareTimeout { participant, .. } => Some(participant),
            DistributedError::DecisionNotLogged { .. }
            | DistributedError::CommitIncomplete { .. } => None,
        }
    }

    /// Participants whose branch may still be prepared after a rollback that could not be
    /// confirmed (their server was unreachable); [`Coordinator::recover`] rolls them back.
    ///
    /// [`Coordinator::recover`]: super::Coordinator::recover
    pub fn in_doubt(&self) -> &[String] {
        match self {
            DistributedError::PreparedTransactionsDisabled { in_doubt, .. }
            | DistributedError::PrepareFailed { in_doubt, .. }
            | DistributedError::PrepareTimeout { in_doubt, .. }
            | DistributedError::DecisionNotLogged { in_doubt, .. } => in_doubt,
            DistributedError::CommitIncomplete { pending, .. } => pending,
            DistributedError::Unsupported { .. } | DistributedError::Begin { .. } => &[],
        }
    }
}

/// The database's product name, as its users write it.
fn product(backend: Backend) -> &'static str {
    match backend {
        Backend::Sql(crate::sql::Dialect::Postgres) => "PostgreSQL",
        Backend::Sql(crate::sql::Dialect::MySql) => "MySQL/MariaDB",
        Backend::Sql(crate::sql::Dialect::Sqlite) => "SQLite",
        _ => "MongoDB",
    }
}

fn in_doubt_note(in_doubt: &[String]) -> String {
    if in_doubt.is_empty() {
        String::new()
    } else {
        format!(
            " (except {}, unreachable: its prepared branch is rolled back by \
             `Coordinator::recover`)",
            in_doubt
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

impl DistributedError {
    /// The error as [`Error::Distributed`]. Not a `From` impl: a second `From` for [`Error`]
    /// would make the error type of `?` in users' closures ambiguous.
    pub(crate) fn into_error(self) -> Error {
        Error::Distributed(Box::new(self))
    }
}
