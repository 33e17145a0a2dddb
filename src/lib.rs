//! # orm
//!
//! A typed, async ORM: one `#[derive(Model)]` on a plain struct gives a static schema, typed
//! column handles, a query builder whose mistakes are compile errors, and execution on
//! PostgreSQL, MySQL/MariaDB and SQLite with bound parameters only.
//!
//! See the README for the quick start, the cargo features and the table of dialect differences.

pub use polyorm_core::*;

/// `#[derive(Model)]`: see the README for every `#[orm(...)]` option.
#[cfg(feature = "derive")]
pub use polyorm_derive::Model;

/// `#[derive(SqlEnum)]`: a fieldless enum stored as text with a CHECK of its values.
#[cfg(feature = "derive")]
pub use polyorm_derive::SqlEnum;
/// Migrations: diff, files, runner, introspection and the CLI (the `migrate` feature).
#[cfg(feature = "migrate")]
pub use polyorm_migrate as migrate;

/// The query cache: in-process and Redis tiers, invalidation on write (the `cache` feature).
#[cfg(feature = "cache")]
pub use polyorm_cache as cache;

/// Object storage: stores by URL, `Blob` fields, uploads, presigned URLs (the `storage`
/// feature).
#[cfg(feature = "storage")]
pub use polyorm_storage as storage;

/// Typed change streams from the database's log: PostgreSQL logical decoding, the MariaDB
/// binlog, MongoDB change streams (the `changes` feature and `changes-*` sources).
#[cfg(feature = "changes")]
pub use polyorm_changes as changes;

/// Logical backup and restore: portable, compressed, optionally encrypted archives of the
/// models' rows, restored into the same or another backend; incremental chains, retention and
/// scheduling (the `backup` feature).
#[cfg(feature = "backup")]
pub use polyorm_backup as backup;

/// `#[derive(FromRow)]`: a struct that a projection's rows decode into, field by field.
#[cfg(feature = "derive")]
pub use polyorm_derive::FromRow;

/// `#[derive(SqlType)]`: a one-field tuple struct stored as its inner type.
#[cfg(feature = "derive")]
pub use polyorm_derive::SqlType;

/// Everything a user of the ORM usually needs in scope, including the derive.
pub mod prelude {
    pub use polyorm_core::prelude::*;
    #[cfg(feature = "derive")]
    pub use polyorm_derive::{FromRow, Model, SqlEnum, SqlType};
}
