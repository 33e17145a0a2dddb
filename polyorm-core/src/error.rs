//! The error type shared by every backend.
//!
//! The same condition maps to the same variant on every dialect (a duplicate key is always
//! [`Error::UniqueViolation`]); the driver's own error is kept as the `source`.

/// A boxed error from a driver, kept as the source of an [`Error`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Result alias using the ORM's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong between a typed query and the database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A query that must return a row (`one`, `update` of a loaded model) matched none.
    #[error("no row of `{table}` matched{detail}; use `optional()` if absence is expected")]
    NotFound {
        /// Table that was queried.
        table: &'static str,
        /// What was looked for, e.g. ` the primary key`.
        detail: &'static str,
    },

    /// An update of a loaded row whose `#[orm(version)]` no longer matches the stored row:
    /// another writer updated it since it was read (optimistic locking).
    #[error(
        "the `{table}` row was changed by another writer since it was read (its version is no \
         longer {expected}); read it again and retry the change"
    )]
    Conflict {
        /// Table of the row.
        table: &'static str,
        /// The version the update expected (the one it was read with).
        expected: i64,
    },

    /// A unique constraint or primary key rejected a duplicate value.
    #[error("duplicate value violates unique constraint {}: {source}", display_name(.constraint))]
    UniqueViolation {
        /// Name of the violated constraint or index, when the database reports it.
        constraint: Option<String>,
        /// The database's own error.
        source: BoxError,
    },

    /// A foreign key rejected a write (missing parent, or rows still referencing it).
    #[error("foreign key constraint {} violated: {source}", display_name(.constraint))]
    ForeignKeyViolation {
        /// Name of the violated constraint, when the database reports it.
        constraint: Option<String>,
        /// The database's own error.
        source: BoxError,
    },

    /// A CHECK constraint rejected a value.
    #[error("check constraint {} violated: {source}", display_name(.constraint))]
    CheckViolation {
        /// Name of the violated constraint, when the database reports it.
        constraint: Option<String>,
        /// The database's own error.
        source: BoxError,
    },

    /// NULL was written to a NOT NULL column.
    #[error("NULL written to NOT NULL column {}: {source}", display_name(.column))]
    NotNullViolation {
        /// Name of the column, when the database reports it.
        column: Option<String>,
        /// The database's own error.
        source: BoxError,
    },

    /// A string is longer than its column holds: its `max_length`, or on MySQL/MariaDB the
    /// server's `max_allowed_packet` (the largest statement it accepts) or an older `TEXT`
    /// column's 65,535 bytes. Never truncated: checked by the ORM before writing, and reported
    /// the same way when the database rejects it (MySQL `1406`/`1153`, PostgreSQL `22001`,
    /// SQLite's `ck_<table>_<col>_length` CHECK). The message names the limit and what to
    /// change.
    #[error("value too long for column {}: {source}", display_name(.column))]
    ValueTooLong {
        /// The column, when known (PostgreSQL does not report it for raw SQL).
        column: Option<String>,
        /// The database's error, or the ORM's explanation.
        source: BoxError,
    },

    /// A number does not fit its column: an integer outside the column type's range, a decimal
    /// with more digits than `precision`/`scale` allow, or NaN/infinity on MySQL/MariaDB (which
    /// cannot store them). Never rounded or clamped: checked by the ORM before writing, and
    /// reported the same way when the database rejects it (MySQL `1264`, PostgreSQL `22003`,
    /// the `ck_<table>_<col>_range` CHECK on PostgreSQL/SQLite).
    #[error(
        "value out of range for column {}: {source}; use a wider type or check the value",
        display_name(.column)
    )]
    OutOfRange {
        /// The column, when known.
        column: Option<String>,
        /// The database's error, or the ORM's explanation.
        source: BoxError,
    },

    /// A value no column of this backend can hold as written, so it is refused rather than
    /// stored differently or left unreadable: text (or a JSON string or key) containing NUL
    /// (U+0000), which PostgreSQL cannot store and SQLite's text functions stop at; JSON nested
    /// deeper than the backend stores and reads back (MariaDB's JSON depth limit is 32). Checked
    /// by the ORM before writing (the column is named); PostgreSQL's own refusals of raw SQL
    /// (`22021`, `22P05`) map here too.
    #[error("value cannot be stored in column {}: {source}", display_name(.column))]
    InvalidValue {
        /// The column, when known.
        column: Option<String>,
        /// What the backend cannot store, and what to do instead.
        source: BoxError,
    },

    /// A column's value could not be decoded into the field's Rust type.
    #[error("cannot decode column `{column}` (position {index}) as `{expected}`: {source}")]
    Decode {
        /// Column name as returned by the database.
        column: String,
        /// Position of the column in the row.
        index: usize,
        /// Rust type that was expected.
        expected: &'static str,
        /// Why decoding failed.
        source: BoxError,
    },

    /// No connection could be opened: the server refused it or did not answer at the URL's
    /// host and port, the host name did not resolve, or the TLS handshake failed. The source
    /// names the cause and `host:port`.
    #[error(
        "cannot connect to the database: {source}; check the URL and that the server is running"
    )]
    Connection {
        /// What failed, with the address (or the driver's error).
        source: BoxError,
    },

    /// An open connection broke while a statement ran (the server crashed, was stopped or
    /// restarted, or the network dropped). A transaction on it was rolled back by the server;
    /// a statement run outside a transaction may or may not have taken effect. The pool
    /// replaces the connection: the next query reconnects.
    #[error(
        "the connection to the database was lost: {source}; an open transaction was rolled back, a write outside a transaction may or may not have been applied; the next query reconnects"
    )]
    ConnectionLost {
        /// The driver's error.
        source: BoxError,
    },

    /// The connection broke while `COMMIT` was in flight: the transaction may or may not have
    /// committed, and no client can tell. Never retried by
    /// [`Db::transaction_with_retry`](crate::Db::transaction_with_retry): check whether its
    /// writes are there (or make them idempotent) before running it again.
    #[error(
        "the connection was lost during COMMIT, so the transaction may or may not have committed: {source}; check whether its writes are there before running it again"
    )]
    CommitOutcomeUnknown {
        /// The driver's error.
        source: BoxError,
    },

    /// The server refused the credentials (wrong user name or password, or a user not
    /// allowed to use the database).
    #[error(
        "the database server refused the login: {source}; check the user name and password in the URL and the user's privileges"
    )]
    Authentication {
        /// The database's own error.
        source: BoxError,
    },

    /// The database named in the URL does not exist on the server.
    #[error(
        "the database named in the URL does not exist: {source}; create it or correct the URL's database name"
    )]
    DatabaseNotFound {
        /// The database's own error.
        source: BoxError,
    },

    /// No connection became available within the pool's acquire timeout.
    #[error(
        "timed out waiting for a database connection: {source}; raise `acquire_timeout` or `max_connections`, or look for leaked transactions"
    )]
    Timeout {
        /// The driver's error.
        source: BoxError,
    },

    /// A serializable (or repeatable-read) transaction conflicted with a concurrent one;
    /// retrying the whole transaction can succeed ([`Error::is_retryable`]).
    #[error(
        "transaction conflicts with a concurrent one (serialization failure); retry it, e.g. with `Db::transaction_with_retry`: {source}"
    )]
    SerializationFailure {
        /// The database's own error.
        source: BoxError,
    },

    /// The database broke a deadlock by aborting this transaction; retrying can succeed.
    #[error(
        "deadlock detected, this transaction was aborted; retry it, e.g. with `Db::transaction_with_retry`: {source}"
    )]
    Deadlock {
        /// The database's own error.
        source: BoxError,
    },

    /// A statement prepared before a schema change (a migration that altered a column's type,
    /// dropped or added columns of a table it reads) can no longer run as prepared
    /// (PostgreSQL `0A000` "cached plan must not change result type", MySQL/MariaDB `1615`).
    ///
    /// On a [`Db`](crate::Db) the statement is prepared again and retried at once, so this
    /// error only reaches code that runs inside a transaction (which the failed statement
    /// aborted) or on a held [`Connection`](crate::Connection); the connection forgets its
    /// prepared statements first, so retrying the whole transaction succeeds
    /// ([`Error::is_retryable`]).
    #[error(
        "a statement prepared before a schema change (e.g. a migration that altered a column) could not run; its connection now prepares statements anew: retry the transaction, e.g. with `Db::transaction_with_retry`: {source}"
    )]
    SchemaChanged {
        /// The database's own error.
        source: BoxError,
    },

    /// A lock could not be acquired in time (MySQL `innodb_lock_wait_timeout`, PostgreSQL
    /// `lock_timeout`/`NOWAIT`, SQLite busy timeout); retrying can succeed.
    #[error("timed out waiting for a lock held by another transaction: {source}")]
    LockTimeout {
        /// The database's own error.
        source: BoxError,
    },

    /// [`Db::transaction_with_retry`](crate::Db::transaction_with_retry) ran out of attempts:
    /// every one failed with a retryable error ([`Error::is_retryable`]); `last` is the last
    /// attempt's error.
    #[error("{}", retries_exhausted(*attempts, last))]
    RetriesExhausted {
        /// Attempts made, the first included (the policy's `max_attempts`).
        attempts: u32,
        /// The error of the last attempt.
        #[source]
        last: Box<Error>,
    },

    /// A node of a replicated [`Topology`](crate::topology::Topology) could not run the
    /// statement, and the statement was **not applied**: the node refused connections, is
    /// read-only (a primary demoted by a failover: PostgreSQL `25006`, MariaDB `1290`), or
    /// no node is the primary right now. A failover is usually under way: the topology is
    /// looking for the new primary, and running the statement again (after a short wait)
    /// succeeds once it is found ([`Error::is_retryable`]).
    #[error(
        "the {role} `{node}` is unavailable and the statement was not applied: {source}; a failover may be under way: run it again shortly (`Error::is_retryable`)"
    )]
    NodeUnavailable {
        /// The node (`host:port/database`), or the nodes tried.
        node: String,
        /// `"primary"` or `"replica"`.
        role: &'static str,
        /// Why it could not run there.
        #[source]
        source: Box<Error>,
    },

    /// The connection URL or options are invalid, or name a backend this build does not include.
    #[error("invalid database configuration: {0}")]
    Config(String),

    /// The model cannot be represented on this dialect (e.g. an unbounded text key on MySQL).
    #[error("schema error: {0}")]
    Schema(String),

    /// The query cannot be compiled as built (e.g. an update that sets no column).
    #[error("invalid query: {0}")]
    InvalidQuery(String),

    /// A grouped select (or one of aggregates) returns or sorts by a column that it neither
    /// groups by nor aggregates: a group has no one value of it (PostgreSQL refuses the query,
    /// MySQL and SQLite would return any row's). Found before any SQL is sent.
    #[error(
        "`{name}` (`{table}.{column}`) is {clause} in a grouped select but neither grouped nor \
         aggregated; group by it (`.group_by({name})`) or aggregate it (`{name}.max()`, \
         `{name}.count()`, ..)"
    )]
    UngroupedColumn {
        /// The column as the builder names it (`Track::NAME`).
        name: String,
        /// The table (or alias) whose column it is.
        table: &'static str,
        /// The column's name in the database.
        column: &'static str,
        /// Where the query reads it: `"selected"` or `"sorted by"`.
        clause: &'static str,
    },

    /// The backend has no translation of a construct the query uses (e.g. arithmetic on
    /// MongoDB); the query is valid on the backends that have one.
    #[error("{backend} cannot run {construct} (in a query of `{table}`); {advice}")]
    Unsupported {
        /// The backend (`"MongoDB"`).
        backend: &'static str,
        /// The construct, as the builder spells it (`arithmetic (+ - * /)`, `coalesce`, ..).
        construct: &'static str,
        /// The table queried.
        table: &'static str,
        /// What to do instead.
        advice: &'static str,
    },

    /// A distributed (two-phase) transaction failed; the [`DistributedError`] names the
    /// participant and says what became of the others (feature `distributed`).
    ///
    /// [`DistributedError`]: crate::exec::distributed::DistributedError
    #[cfg(feature = "distributed")]
    #[error(transparent)]
    Distributed(Box<crate::exec::distributed::DistributedError>),
    /// A sharded statement could not be routed to one shard: no shard key in its filter, rows
    /// of several shards, a transaction bound to another shard, … (feature `sharding`); the
    /// [`ShardError`] names the model and key. Nothing ran.
    ///
    /// [`ShardError`]: crate::shard::ShardError
    #[cfg(feature = "sharding")]
    #[error(transparent)]
    Shard(Box<crate::shard::ShardError>),
    /// An access rule refused the statement: the [`crate::access`] layer's policy (then the
    /// statement never reached the database) or the database's own privileges.
    #[error(
        "permission denied: `{actor}`{} may not {} `{table}`: {reason}; grant it (a role, an \
         override) or run it as an actor that has it",
        roles_of(roles),
        action_phrase(action)
    )]
    PermissionDenied {
        /// Who was refused: the [`Actor`](crate::access::Actor)'s user, `(no actor)`, or the
        /// database user.
        actor: String,
        /// The roles it held.
        roles: Vec<String>,
        /// The table (`*` for raw SQL and DDL, whose tables are not parsed).
        table: String,
        /// The action refused: `read`, `insert`, `update`, `delete`, `raw` or `ddl` (the
        /// names of [`access::Action`](crate::access::Action)).
        action: String,
        /// Why.
        reason: String,
    },

    /// Any other error reported by the database.
    #[error("database error: {source}")]
    Database {
        /// The driver's error.
        source: BoxError,
    },
}

fn roles_of(roles: &[String]) -> String {
    if roles.is_empty() {
        String::new()
    } else {
        format!(" (roles: {})", roles.join(", "))
    }
}

fn action_phrase(action: &str) -> &str {
    match action {
        "raw" => "run raw SQL on",
        "ddl" => "change the schema of",
        other => other,
    }
}

fn retries_exhausted(attempts: u32, last: &Error) -> String {
    let (what, source) = match last {
        Error::SerializationFailure { source } => ("a serialization failure", Some(source)),
        Error::Deadlock { source } => ("a deadlock", Some(source)),
        Error::LockTimeout { source } => ("a lock wait timeout", Some(source)),
        _ => ("a retryable error", None),
    };
    let detail = source.map_or_else(|| last.to_string(), ToString::to_string);
    let tries = match attempts {
        1 => "its only attempt".to_owned(),
        n => format!("all {n} attempts"),
    };
    format!(
        "the transaction failed on {tries} `Db::transaction_with_retry` made, the last with {what}: {detail}; raise `RetryPolicy::max_attempts` (it was \
         {attempts}) or its backoff, or make concurrent transactions conflict less"
    )
}

fn display_name(name: &Option<String>) -> String {
    match name {
        Some(n) => format!("`{n}`"),
        None => "(unnamed)".to_owned(),
    }
}

impl Error {
    /// The variant's name in snake case (`unique_violation`, `connection_lost`, …): a stable,
    /// low-cardinality label for metrics and the `error.type` of tracing spans.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::NotFound { .. } => "not_found",
            Error::Conflict { .. } => "conflict",
            Error::UniqueViolation { .. } => "unique_violation",
            Error::ForeignKeyViolation { .. } => "foreign_key_violation",
            Error::CheckViolation { .. } => "check_violation",
            Error::NotNullViolation { .. } => "not_null_violation",
            Error::ValueTooLong { .. } => "value_too_long",
            Error::OutOfRange { .. } => "out_of_range",
            Error::InvalidValue { .. } => "invalid_value",
            Error::Decode { .. } => "decode",
            Error::Connection { .. } => "connection",
            Error::ConnectionLost { .. } => "connection_lost",
            Error::CommitOutcomeUnknown { .. } => "commit_outcome_unknown",
            Error::Authentication { .. } => "authentication",
            Error::DatabaseNotFound { .. } => "database_not_found",
            Error::Timeout { .. } => "timeout",
            Error::SerializationFailure { .. } => "serialization_failure",
            Error::Deadlock { .. } => "deadlock",
            Error::SchemaChanged { .. } => "schema_changed",
            Error::LockTimeout { .. } => "lock_timeout",
            Error::RetriesExhausted { .. } => "retries_exhausted",
            Error::NodeUnavailable { .. } => "node_unavailable",
            Error::Config(_) => "config",
            Error::Schema(_) => "schema",
            Error::InvalidQuery(_) => "invalid_query",
            Error::UngroupedColumn { .. } => "ungrouped_column",
            Error::Unsupported { .. } => "unsupported",
            #[cfg(feature = "distributed")]
            Error::Distributed(_) => "distributed",
            #[cfg(feature = "sharding")]
            Error::Shard(_) => "shard",
            Error::PermissionDenied { .. } => "permission_denied",
            Error::Database { .. } => "database",
        }
    }

    /// Whether the error is a unique-constraint violation.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, Error::UniqueViolation { .. })
    }

    /// Whether retrying the whole transaction can succeed: serialization failures, deadlocks,
    /// lock timeouts, statements prepared before a schema change, and statements a replicated
    /// topology's node could not run during a failover ([`Error::NodeUnavailable`]).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::SerializationFailure { .. }
                | Error::Deadlock { .. }
                | Error::LockTimeout { .. }
                | Error::SchemaChanged { .. }
                | Error::NodeUnavailable { .. }
        )
    }

    /// Whether a statement failed because it was prepared before a schema change
    /// ([`Error::SchemaChanged`]).
    pub fn is_schema_changed(&self) -> bool {
        matches!(self, Error::SchemaChanged { .. })
    }

    /// Whether the error says that a value does not fit its column ([`Error::ValueTooLong`],
    /// [`Error::OutOfRange`] or [`Error::InvalidValue`]).
    pub fn is_data_does_not_fit(&self) -> bool {
        matches!(
            self,
            Error::ValueTooLong { .. } | Error::OutOfRange { .. } | Error::InvalidValue { .. }
        )
    }

    /// Whether the error means that no row matched.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }
}
