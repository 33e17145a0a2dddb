//! The migration error type.

use std::path::PathBuf;

/// Everything that can go wrong while generating, checking or applying migrations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A database error from the ORM's executor.
    #[error("database error: {0}")]
    Db(#[source] Box<polyorm_core::Error>),
    /// Reading or writing a migration file failed.
    #[error("cannot access `{path}`: {source}; check the path and its permissions")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A JSON file of a migration is not valid.
    #[error("`{path}` is not a valid migration file: {source}; restore it from version control")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// `baseline` on a database or directory that already has a migration history.
    #[error(
        "cannot baseline: {0}; a baseline starts the history of a database that has none (use \
         `status`, `up` and `verify` with the existing history instead)"
    )]
    HistoryExists(String),
    /// Two or more migrations were written on the same parent (two branches merged): the
    /// history has several heads.
    #[error(
        "the migration history has diverged: {} were each written on {} without knowing of the \
         other(s) (two branches were merged). Run `merge <name>` to write the migration that \
         joins them, review it, then `up`",
        heads.join(", "),
        base.as_deref().unwrap_or("an empty history")
    )]
    DivergentHistory {
        /// The newest migration the heads share.
        base: Option<String>,
        /// The migrations nothing builds on, oldest first.
        heads: Vec<String>,
    },
    /// `merge` found branches changing the same table or column.
    #[error(
        "cannot merge {} automatically:\n{}\nwrite the reconciling migration by hand, with an \
         `-- orm:parent <id>` line in its up.sql for each of them",
        heads.join(", "),
        conflicts.iter().map(|c| format!("  - {c}")).collect::<Vec<_>>().join("\n")
    )]
    MergeConflict {
        /// The heads to merge.
        heads: Vec<String>,
        /// What two branches both change.
        conflicts: Vec<String>,
    },
    /// `merge` on a history with one head (or none).
    #[error(
        "nothing to merge: the migration history is one line{}",
        .0.as_deref().map(|h| format!(" ending at {h}")).unwrap_or_default()
    )]
    NothingToMerge(Option<String>),
    /// A migration directory is malformed.
    #[error("migration `{path}` is malformed: {reason}")]
    Malformed {
        /// The directory.
        path: PathBuf,
        /// What is wrong and what to do.
        reason: String,
    },
    /// `generate` found destructive operations that were not allowed.
    #[error(
        "refusing to generate destructive operations:\n{}\nre-run with `--allow <target>` for each \
         one you accept, or `--allow-destructive` for all of them",
        .0.iter().map(|h| format!("  - {h}")).collect::<Vec<_>>().join("\n")
    )]
    Destructive(Vec<String>),
    /// The models ask for a change the diff engine cannot express.
    #[error("unsupported change: {0}")]
    Unsupported(String),
    /// An applied migration's files changed after it ran.
    #[error(
        "migration {version} was edited after it was applied (checksum {recorded} in \
         orm_migrations, {actual} on disk); restore the original files and put the change in a \
         new migration"
    )]
    ChecksumMismatch {
        /// Version of the migration.
        version: String,
        /// Checksum recorded when it ran.
        recorded: String,
        /// Checksum of the files now.
        actual: String,
    },
    /// A migration recorded as applied is missing from the directory.
    #[error(
        "migration {0} is recorded as applied but its directory is missing; restore it from \
         version control"
    )]
    MissingApplied(String),
    /// A previous migration failed (MySQL/MariaDB, where DDL is not transactional).
    #[error("migration {version} failed earlier and may be half applied; {recovery}")]
    FailedMigration {
        /// Version of the failed migration.
        version: String,
        /// How to recover.
        recovery: String,
    },
    /// Running a migration failed; the transaction was rolled back where the dialect allows.
    #[error("migration {version} failed at statement {statement}: {source}\n{state}")]
    Apply {
        /// Version of the migration.
        version: String,
        /// The SQL that failed.
        statement: String,
        /// The database error.
        #[source]
        source: Box<polyorm_core::Error>,
        /// What state the database is left in.
        state: String,
    },
    /// The live schema differs from the models.
    #[error(
        "the database schema differs from the models:\n{}\ngenerate and apply a migration, or \
         find who changed the database by hand",
        .0.iter().map(|d| format!("  - {d}")).collect::<Vec<_>>().join("\n")
    )]
    Drift(Vec<String>),
    /// Rows already in the database do not fit what a migration (or its `down`) would make of
    /// them: nothing was changed. Each line names the column and how many rows.
    #[error(
        "{action} {version} would not keep every row as it is, so nothing was changed:\n{}\n\
         fix or delete these rows first (a hand-written migration), or change the models",
        .problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n")
    )]
    RowsDoNotFit {
        /// `applying` or `rolling back`.
        action: &'static str,
        /// The migration.
        version: String,
        /// One line per problem: `posts.title: 3 rows are longer than 20 characters (..)`.
        problems: Vec<String>,
    },
    /// A requested version does not exist.
    #[error("no migration `{0}` in the migrations directory; `status` lists them")]
    UnknownVersion(String),
}

impl From<polyorm_core::Error> for Error {
    fn from(e: polyorm_core::Error) -> Self {
        Error::Db(Box::new(e))
    }
}

/// `Result` with the migration [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
