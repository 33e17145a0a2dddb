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

    /// The connection URL or options are invalid, or name a backend this build does not include.
    #[error("invalid database configuration: {0}")]
    Config(String),

    /// The model cannot be represented on this dialect (e.g. an unbounded text key on MySQL).
    #[error("schema error: {0}")]
    Schema(String),

    /// The query cannot be compiled as built (e.g. an update that sets no column).
    #[error("invalid query: {0}")]
    InvalidQuery(String),

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

    /// Any other error reported by the database.
    #[error("database error: {source}")]
    Database {
        /// The driver's error.
        source: BoxError,
    },
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
            Error::Config(_) => "config",
            Error::Schema(_) => "schema",
            Error::InvalidQuery(_) => "invalid_query",
            Error::Unsupported { .. } => "unsupported",
            Error::Database { .. } => "database",
        }
    }

    /// Whether the error is a unique-constraint violation.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, Error::UniqueViolation { .. })
    }

    /// Whether retrying the whole transaction can succeed: serialization failures, deadlocks,
    /// lock timeouts, and statements prepared before a schema change.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::SerializationFailure { .. }
                | Error::Deadlock { .. }
                | Error::LockTimeout { .. }
                | Error::SchemaChanged { .. }
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
