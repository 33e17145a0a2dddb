//! The errors of a change stream.

/// What went wrong while reading or decoding changes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server is not set up for change capture; `setting` names what to change.
    #[error("the server is not configured for change capture: {message} (change `{setting}`)")]
    NotConfigured {
        /// The server setting (or package) to change, e.g. `wal_level`.
        setting: &'static str,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A statement of the ORM's driver failed (connecting, reading the slot, acknowledging).
    #[error(transparent)]
    Orm(#[from] polyorm_core::Error),
    /// The source sent something this crate cannot read (a bug, or an unsupported server).
    #[error("unreadable change from {source_name}: {message}")]
    Protocol {
        /// `wal2json`, `binlog`, `change stream`.
        source_name: &'static str,
        /// What could not be read.
        message: String,
    },
    /// A changed row does not decode into the model (a column missing or of another type).
    #[error("change on `{table}` does not decode into `{model}`: {message}")]
    Decode {
        /// The table the change is on.
        table: String,
        /// The Rust model.
        model: &'static str,
        /// Which column and why.
        message: String,
    },
    /// A position string (stored by the consumer) is not one this crate wrote.
    #[error("`{0}` is not a change position (expected what `Position::to_string` wrote)")]
    BadPosition(String),
    /// The replication slot is still read by another session (a running consumer).
    #[error(
        "replication slot `{slot}` is in use by server process {pid}: stop the consumer that \
         reads it (or `SELECT pg_terminate_backend({pid})`) before dropping the slot"
    )]
    SlotInUse {
        /// The slot.
        slot: String,
        /// The server process holding it.
        pid: i32,
    },
    /// The stream's reader task ended (the runtime shut down or it panicked).
    #[error("the change stream's reader stopped: {0}")]
    Stopped(String),
}

/// `Result<T, polyorm_changes::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
