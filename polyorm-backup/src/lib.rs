//! Logical backup and restore for the `polyorm` crate.
//!
//! A [`Backup`] reads the rows of chosen models (or every registered one) from any backend
//! (SQLite, PostgreSQL, MySQL/MariaDB, MongoDB) through one consistent snapshot, streaming
//! them into a portable archive: one part per table in a versioned, backend-neutral, exact
//! encoding of the ORM's values ([`format`](mod@format)), zstd-compressed, optionally encrypted with
//! AES-256-GCM ([`keys`]), and a manifest ([`Manifest`]) holding the schema snapshot (the
//! migration engine's), row counts, SHA-256 and row digests per part. A [`Restore`] writes an
//! archive, or a chain of a full backup and its incrementals, into the same or another backend
//! after checking everything it can before writing anything.
//!
//! A [`History`] lists the backups kept in a [`BackupTarget`] (a local directory or a blob
//! store of `polyorm-storage`) and prunes them by grandfather-father-son [`Retention`]; a
//! [`Scheduler`] takes backups on cron expressions.
//!
//! [`Lifecycle`] policies ([`lifecycle`]) delete rows of a model past an age or matching a
//! condition, or archive them into a target first, in batches, on a schedule too.
//! [`physical`] drives the databases' own physical backup tools: PostgreSQL base backups with
//! WAL archiving and point-in-time recovery, MariaDB full and incremental hot backups.
//!
//! See the README's "Backup and lifecycle" section for the guarantees and figures.

mod archive;
mod backup;
mod decode;
mod error;
pub mod format;
mod history;
pub mod keys;
pub mod lifecycle;
mod manifest;
pub mod physical;
mod restore;
mod scheduler;
mod schema;
mod target;

pub use archive::Archive;
pub use backup::{Backup, Progress, ProgressFn};
pub use decode::{SLOTS, column_value};
pub use error::{BackupError, Result};
pub use history::{History, Pruned, Retention};
pub use keys::{KeyProvider, StaticKeys};
pub use lifecycle::{
    AgeColumn, Lifecycle, LifecycleHandle, LifecycleInfo, LifecycleProgress, LifecycleReport,
    Policy, PolicyBuilder, PolicyReport,
};
pub use manifest::{BackupKind, Encryption, MANIFEST_FILE, Manifest, Part, PartColumn, Watermark};
pub use restore::{Restore, Restored, RestoredTable, Verified, verify};
pub use scheduler::{ScheduledRun, Scheduler, SchedulerHandle};
pub use target::{AnyTarget, BackupStatus, BackupTarget, LocalTarget, StorageTarget, StoredBackup};
