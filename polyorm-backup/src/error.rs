//! The errors of backups and restores.

use std::path::PathBuf;

/// A `Result` whose error is [`BackupError`].
pub type Result<T, E = BackupError> = std::result::Result<T, E>;

/// What went wrong in a backup, a verification or a restore.
///
/// Every refusal of a restore ([`BackupError::Corrupt`], [`BackupError::WrongKey`],
/// [`BackupError::TargetNotEmpty`], [`BackupError::UnsupportedSchema`],
/// [`BackupError::BrokenChain`]) happens before anything is written to the target.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// The database refused or failed a statement.
    #[error("database error while {doing}: {source}")]
    Database {
        /// What the backup or restore was doing (`reading table users`).
        doing: String,
        /// The ORM's error.
        #[source]
        source: Box<polyorm_core::Error>,
    },
    /// Reading or writing archive files failed.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The archive does not match its manifest: a part was changed, cut short, is missing or
    /// does not decode. Nothing was written to the target.
    #[error(
        "the archive {archive} is corrupt: {detail}; nothing was restored (take the backup again or restore an older one)"
    )]
    Corrupt {
        /// The archive (its path or id).
        archive: String,
        /// What does not match (`part users.part: SHA-256 differs from the manifest`).
        detail: String,
    },
    /// The archive is encrypted and the key given cannot open it (the AES-GCM tag fails), or
    /// no key was given. Nothing was written to the target.
    #[error("cannot decrypt {archive} (key id `{key_id}`): {detail}")]
    WrongKey {
        /// The archive.
        archive: String,
        /// The key id recorded in the archive.
        key_id: String,
        /// What to do.
        detail: String,
    },
    /// Target tables already hold rows and the restore was not told to replace them.
    #[error("the target already holds rows in {}: restore into empty tables, or call `Restore::replace()` (CLI: `--replace`) to delete them first", tables.join(", "))]
    TargetNotEmpty {
        /// `table (N rows)` for each non-empty table.
        tables: Vec<String>,
    },
    /// The target backend cannot hold a table of the archive (e.g. a `u64` column outside
    /// MySQL/MariaDB). Nothing was written.
    #[error("the target ({backend}) cannot hold table `{table}`: {detail}")]
    UnsupportedSchema {
        /// The target's backend.
        backend: String,
        /// The table.
        table: String,
        /// Why.
        detail: String,
    },
    /// Incremental archives that do not follow each other (wrong parent, or no full backup
    /// first). Nothing was written.
    #[error("the backup chain is broken: {0}")]
    BrokenChain(String),
    /// After the restore, the target does not hold what the archive holds.
    #[error("restore verification failed for table `{table}`: {detail}")]
    VerificationFailed {
        /// The table.
        table: String,
        /// What differs (row count or digest).
        detail: String,
    },
    /// A wrong argument or setting (unknown model, bad key, bad cron expression, …).
    #[error("{0}")]
    Config(String),
    /// A database tool that a physical backup runs (`pg_basebackup`, `mariadb-backup`, …) is
    /// not installed where it was looked for.
    #[error(
        "`{tool}` was not found (looked in {searched}): install {package}, or point the backup at the directory holding it (`bin_dir`, CLI `--bin-dir`)"
    )]
    ToolMissing {
        /// The program.
        tool: String,
        /// The package that provides it (`mariadb-backup` on Debian/Ubuntu, …).
        package: String,
        /// Where it was looked for.
        searched: String,
    },
    /// A database tool ran and failed.
    #[error("`{tool}` failed ({status}): {stderr}")]
    ToolFailed {
        /// The program and what it was doing (`pg_basebackup`, `mariadb-backup --prepare`).
        tool: String,
        /// Its exit status.
        status: String,
        /// The end of its standard error, which says why.
        stderr: String,
    },
    /// The PostgreSQL server does not archive its WAL, so no point-in-time recovery past the
    /// base backup is possible; nothing was written.
    #[error("the server is not configured for WAL archiving: {detail}")]
    NotArchiving {
        /// Which setting is wrong and what to set.
        detail: String,
    },
    /// The recovery target time is before the end of the base backup: the backup cannot be
    /// rolled back, only forward. Nothing was written.
    #[error(
        "recovery target {target} is before the end of base backup {backup} ({earliest}): choose a time after {earliest}, or restore an older base backup"
    )]
    TargetBeforeBackup {
        /// The target asked for (RFC 3339).
        target: String,
        /// The earliest time this backup can be restored to (its end, RFC 3339).
        earliest: String,
        /// The backup's directory.
        backup: String,
    },
    /// The blob store of a [`StorageTarget`](crate::StorageTarget) failed.
    #[error("blob store error: {0}")]
    Storage(#[source] Box<polyorm_storage::StorageError>),
}

impl BackupError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> BackupError {
        let path = path.into();
        move |source| BackupError::Io { path, source }
    }

    pub(crate) fn db(doing: impl Into<String>) -> impl FnOnce(polyorm_core::Error) -> BackupError {
        let doing = doing.into();
        move |source| BackupError::Database {
            doing,
            source: Box::new(source),
        }
    }
}

impl From<polyorm_storage::StorageError> for BackupError {
    fn from(e: polyorm_storage::StorageError) -> Self {
        BackupError::Storage(Box::new(e))
    }
}
