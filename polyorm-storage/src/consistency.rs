//! Keeping rows and objects consistent.
//!
//! The order is always: upload the object, then commit the row that holds its [`Blob`].
//! A crash or a rollback between the two leaves an object no row references (an orphan),
//! never a row whose object is missing; the [`Sweeper`] deletes orphans older than a grace
//! period. Deleting a row deletes its object only after the row's deletion committed
//! ([`AfterCommit`]); a crash in between leaves an orphan, again swept.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use polyorm_core::{Column, ColumnId, Db, FieldType, Model};

use crate::blob::Blob;
use crate::error::{Result, StorageError};
use crate::store::{Storage, Store};

/// Blobs whose objects are to be deleted once the transaction that deleted (or replaced)
/// their rows has committed.
///
/// ```no_run
/// # async fn demo(db: polyorm::Db, storage: polyorm_storage::Storage, old: polyorm_storage::Blob) -> Result<(), polyorm_storage::StorageError> {
/// let deletions = storage.after_commit();
/// let tx = db.begin().await?;
/// // … delete or update the rows that hold `old` on `&tx` …
/// deletions.delete(&old);
/// tx.commit().await?;
/// deletions.run().await?; // only now are the objects deleted
/// # Ok(()) }
/// ```
///
/// Dropped without [`run`](Self::run) (the transaction rolled back), nothing is deleted.
#[derive(Debug)]
#[must_use = "the objects are only deleted by `run`, after the commit"]
pub struct AfterCommit {
    storage: Storage,
    blobs: Mutex<Vec<Blob>>,
}

impl AfterCommit {
    /// Schedules `blob`'s object for deletion.
    pub fn delete(&self, blob: &Blob) {
        self.blobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(blob.clone());
    }

    /// Deletes the scheduled objects (call after the commit succeeded); returns how many.
    /// An object already gone is not an error.
    pub async fn run(self) -> Result<usize> {
        let blobs = self.blobs.into_inner().unwrap_or_else(|p| p.into_inner());
        for blob in &blobs {
            self.storage.store_of(blob)?.delete(blob).await?;
        }
        Ok(blobs.len())
    }
}

impl Storage {
    /// An empty list of objects to delete after a commit.
    pub fn after_commit(&self) -> AfterCommit {
        AfterCommit {
            storage: self.clone(),
            blobs: Mutex::new(Vec::new()),
        }
    }

    /// Deletes `row`, then, if a row went, the objects of the blobs `blobs` picks from it.
    /// Returns whether the row existed.
    pub async fn delete_row<M, F>(&self, db: &Db, row: &M, blobs: F) -> Result<bool>
    where
        M: Model,
        F: Fn(&M) -> Vec<&Blob>,
    {
        let deletions = self.after_commit();
        for blob in blobs(row) {
            self.store_of(blob)?;
            deletions.delete(blob);
        }
        if row.delete(db).await? {
            deletions.run().await?;
            Ok(true)
        } else {
            Ok(false)
        }
    }
}

/// A field type that holds a blob: [`Blob`] or `Option<Blob>`.
pub trait BlobField: FieldType {
    /// The blob, if any.
    fn blob(self) -> Option<Blob>;
}

impl BlobField for Blob {
    fn blob(self) -> Option<Blob> {
        Some(self)
    }
}

impl BlobField for Option<Blob> {
    fn blob(self) -> Option<Blob> {
        self
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
type Reader =
    Box<dyn for<'a> Fn(&'a Db) -> BoxFuture<'a, polyorm_core::Result<Vec<Blob>>> + Send + Sync>;

/// Deletes the objects of a store that no row references: uploads whose row never
/// committed (a crash, a rollback, a failed insert) and objects whose row's deletion
/// committed before the object was deleted.
///
/// Register **every** column that holds blobs of the store with
/// [`references`](Self::references): an object referenced from a column the sweeper does
/// not know about would be deleted. Objects younger than the grace period are kept, since
/// their row may be about to commit; make it longer than your slowest upload-to-commit.
///
/// ```no_run
/// # use polyorm::prelude::*;
/// # use polyorm_storage::{Blob, Storage, Sweeper};
/// # #[derive(Model)] struct User { #[orm(primary_key)] id: i64, avatar: Option<Blob> }
/// # async fn demo(db: Db, storage: Storage) -> Result<(), polyorm_storage::StorageError> {
/// let report = Sweeper::new(storage.store("avatars")?.clone())
///     .references(User::AVATAR)
///     .grace(std::time::Duration::from_secs(3600))
///     .run(&db)
///     .await?;
/// println!("deleted {} orphans", report.deleted.len());
/// # Ok(()) }
/// ```
#[must_use]
pub struct Sweeper {
    store: Store,
    prefix: Option<String>,
    grace: Duration,
    readers: Vec<Reader>,
}

impl std::fmt::Debug for Sweeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sweeper")
            .field("store", &self.store.name())
            .field("prefix", &self.prefix)
            .field("grace", &self.grace)
            .field("columns", &self.readers.len())
            .finish()
    }
}

/// What a sweep found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SweepReport {
    /// Objects listed (under the prefix).
    pub listed: usize,
    /// Objects kept because a row references them.
    pub referenced: usize,
    /// Objects kept because they are younger than the grace period.
    pub too_young: usize,
    /// Keys of the orphans deleted.
    pub deleted: Vec<String>,
}

impl Sweeper {
    /// A sweeper of `store`, with a grace period of one hour.
    pub fn new(store: Store) -> Self {
        Sweeper {
            store,
            prefix: None,
            grace: Duration::from_secs(3600),
            readers: Vec::new(),
        }
    }

    /// Only looks at keys under the directory `prefix`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// Keeps objects younger than `grace` (default one hour).
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// A column whose blobs (of this store) are referenced.
    pub fn references<M, T>(mut self, column: Column<M, T, impl ColumnId>) -> Self
    where
        M: Model,
        T: BlobField,
    {
        self.readers.push(Box::new(move |db: &Db| {
            Box::pin(async move {
                let rows = M::query().select_column(column).all(db).await?;
                Ok(rows.into_iter().filter_map(|(b,)| b.blob()).collect())
            })
        }));
        self
    }

    /// Lists the store, reads the references, deletes the unreferenced objects older than
    /// the grace period.
    pub async fn run(&self, db: &Db) -> Result<SweepReport> {
        if self.readers.is_empty() {
            return Err(StorageError::Config(
                "the sweeper knows no column that references the store: add them with `references`, or it would delete every object".into(),
            ));
        }
        let cutoff = now_ms() - i64::try_from(self.grace.as_millis()).unwrap_or(i64::MAX);
        // List first: an object uploaded after the listing is not considered at all.
        let objects = self.store.list(self.prefix.as_deref()).await?;
        let mut referenced = std::collections::HashSet::new();
        for read in &self.readers {
            for blob in read(db).await? {
                if blob.store == self.store.name() {
                    referenced.insert(blob.key);
                }
            }
        }
        let mut report = SweepReport {
            listed: objects.len(),
            ..SweepReport::default()
        };
        for object in objects {
            if referenced.contains(&object.key) {
                report.referenced += 1;
            } else if object.last_modified_ms > cutoff {
                report.too_young += 1;
            } else {
                report.deleted.push(object.key);
            }
        }
        self.store.delete_many(&report.deleted).await?;
        Ok(report)
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
