//! Taking a backup: every chosen model's rows, read from one consistent snapshot, streamed
//! into the parts of an archive.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;
use futures::TryStreamExt;
use polyorm_core::query::ir::{CmpOp, ColumnRef, Condition, Projection, SelectQuery};
use polyorm_core::{Backend, Db, Dialect, Executor, IsolationLevel, Model, ModelSchema, TxOptions};
use polyorm_migrate::Schema;
use polyorm_storage::codec::{Encoding, KeyProvider};

use crate::archive::{PartWriter, pack_tar};
use crate::decode::decoder_for;
use crate::error::{BackupError, Result};
use crate::manifest::{
    BackupKind, Encryption, MANIFEST_FILE, Manifest, Part, PartColumn, Watermark,
};

/// What a long backup or restore has done so far (given to `on_progress` callbacks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The table being read or written.
    pub table: String,
    /// Rows of that table done so far.
    pub rows: u64,
    /// Rows the table holds, when known (a restore knows; a backup does not).
    pub total: Option<u64>,
    /// Tables finished before this one.
    pub tables_done: usize,
    /// Tables in the whole backup or restore.
    pub tables: usize,
}

/// A callback told of progress every 10,000 rows and at each table's end.
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

pub(crate) const PROGRESS_EVERY: u64 = 10_000;

/// What an incremental or differential backup continues from.
#[derive(Debug, Clone)]
struct Since {
    parent: Manifest,
    kind: BackupKind,
}

/// A logical backup of chosen models (see the crate docs for the archive it writes).
///
/// ```no_run
/// # async fn run(db: polyorm_core::Db) -> polyorm_backup::Result<()> {
/// use polyorm_backup::Backup;
/// let full = Backup::new()
///     .registered()
///     .watermark("updated_at")
///     .to_tar(&db, "backups/full.tar")
///     .await?;
/// let next = Backup::new()
///     .registered()
///     .incremental(&full)
///     .to_tar(&db, "backups/inc-1.tar")
///     .await?;
/// # let _ = next; Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct Backup {
    models: Vec<&'static ModelSchema>,
    keys: Option<Arc<dyn KeyProvider>>,
    level: Option<i32>,
    since: Option<Since>,
    watermark: Option<String>,
    /// Tables read from the live database: their snapshot as introspected (defaults and
    /// checks included, which their run-time descriptors leave out).
    pulled: std::collections::BTreeMap<String, polyorm_migrate::schema::Table>,
    progress: Option<ProgressFn>,
}

impl std::fmt::Debug for Backup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backup")
            .field(
                "models",
                &self.models.iter().map(|m| m.table).collect::<Vec<_>>(),
            )
            .field("encrypted", &self.keys.is_some())
            .field("compression", &self.level)
            .field("since", &self.since.as_ref().map(|s| &s.parent.id))
            .finish_non_exhaustive()
    }
}

impl Backup {
    /// A backup of no model yet, zstd level 3, not encrypted, full.
    pub fn new() -> Backup {
        Backup {
            level: Some(3),
            ..Backup::default()
        }
    }

    /// Adds model `M`.
    pub fn model<M: Model>(self) -> Backup {
        self.schema(M::schema())
    }

    /// Adds a model by its descriptor.
    pub fn schema(mut self, schema: &'static ModelSchema) -> Backup {
        if !self.models.iter().any(|m| std::ptr::eq(*m, schema)) {
            self.models.push(schema);
        }
        self
    }

    /// Adds every model registered by `#[derive(Model)]` in this program.
    pub fn registered(mut self) -> Backup {
        let mut all: Vec<_> = polyorm_core::registry::models().collect();
        all.sort_by_key(|m| m.table);
        for schema in all {
            self = self.schema(schema);
        }
        self
    }

    /// Adds the tables of the live SQL database `db` is connected to (every table with a
    /// primary key, or only `tables`), as the migration engine's `pull` reads them: a backup
    /// of a database whose models are not linked into this program (the `polyorm backup` CLI).
    ///
    /// # Errors
    /// [`BackupError::Config`] when the database cannot be introspected (MongoDB: use
    /// [`registered`](Backup::registered)) or a table named is not there.
    pub async fn live_tables(mut self, db: &Db, tables: &[String]) -> Result<Backup> {
        let options = polyorm_migrate::pull::PullOptions {
            tables: tables.to_vec(),
        };
        let pulled = polyorm_migrate::pull::pull(db, &options)
            .await
            .map_err(|e| BackupError::Config(format!("reading the tables of the database: {e}")))?;
        if let Some(missing) = tables
            .iter()
            .find(|t| !pulled.models.iter().any(|m| &m.table.name == *t))
        {
            return Err(BackupError::Config(format!(
                "table `{missing}` is not in the database, or has no primary key ({})",
                pulled.skipped.join("; ")
            )));
        }
        for model in pulled.models {
            self = self.schema(crate::schema::descriptor(&model.table, false));
            self.pulled.insert(model.table.name.clone(), model.table);
        }
        Ok(self)
    }

    /// The zstd level of the parts (1–22; `None` stores the rows uncompressed). Default 3.
    pub fn compression(mut self, level: Option<i32>) -> Backup {
        self.level = level;
        self
    }

    /// Encrypts the parts with AES-256-GCM under the provider's current key (see
    /// [`crate::keys`]).
    pub fn encrypt(mut self, keys: Arc<dyn KeyProvider>) -> Backup {
        self.keys = Some(keys);
        self
    }

    /// Records, per table, the largest value of `column` read (an `updated_at` timestamp,
    /// or an integer key of an append-only table: a key range), so that incremental and
    /// differential backups can continue from this one. A full backup that later ones
    /// continue needs it.
    pub fn watermark(mut self, column: &str) -> Backup {
        self.watermark = Some(column.to_owned());
        self
    }

    /// Makes this an incremental backup: only rows whose watermark column (the one `parent`
    /// recorded, see [`watermark`](Backup::watermark)) is above the largest value `parent`
    /// read. Tables without the column are copied whole. `parent` is the previous backup of
    /// the chain (full, incremental or differential).
    ///
    /// Deleted rows are not captured: a row deleted since `parent` is still there after the
    /// chain is restored. Capture deletions with a change feed (`polyorm::changes`). A row
    /// written with a watermark value below one already read (a clock set back, a
    /// transaction that commits late) is not captured either.
    pub fn incremental(mut self, parent: &Manifest) -> Backup {
        self.since = Some(Since {
            parent: parent.clone(),
            kind: BackupKind::Incremental,
        });
        self.watermark = self.watermark.or_else(|| parent.watermark_column.clone());
        self
    }

    /// Makes this a differential backup: as [`incremental`](Backup::incremental), but from
    /// the full backup `full` (restore needs only `full` and the latest differential).
    pub fn differential(mut self, full: &Manifest) -> Backup {
        self.since = Some(Since {
            parent: full.clone(),
            kind: BackupKind::Differential,
        });
        self.watermark = self.watermark.or_else(|| full.watermark_column.clone());
        self
    }

    /// Calls `f` with the progress every 10,000 rows and at each table's end.
    pub fn on_progress(mut self, f: impl Fn(&Progress) + Send + Sync + 'static) -> Backup {
        self.progress = Some(Arc::new(f));
        self
    }

    /// Writes the archive as the directory `dir` (created; it must not exist or be empty).
    ///
    /// # Errors
    /// [`BackupError::Config`] for no models or a wrong chain, [`BackupError::Database`] when
    /// a read fails, [`BackupError::Io`] when a file cannot be written.
    pub async fn to_dir(&self, db: &Db, dir: impl AsRef<Path>) -> Result<Manifest> {
        let dir = dir.as_ref();
        if dir.exists()
            && std::fs::read_dir(dir)
                .map_err(BackupError::io(dir))?
                .next()
                .is_some()
        {
            return Err(BackupError::Config(format!(
                "{} is not empty: a backup writes into a new directory",
                dir.display()
            )));
        }
        std::fs::create_dir_all(dir).map_err(BackupError::io(dir))?;
        self.write(db, dir).await
    }

    /// Writes the archive as the single tar file `path` (written beside it, then renamed, so
    /// a crash never leaves a partial archive under that name).
    ///
    /// # Errors
    /// As [`to_dir`](Backup::to_dir); also when `path` exists.
    pub async fn to_tar(&self, db: &Db, path: impl AsRef<Path>) -> Result<Manifest> {
        let path = path.as_ref();
        if path.exists() {
            return Err(BackupError::Config(format!(
                "{} exists: a backup never overwrites an archive",
                path.display()
            )));
        }
        let staging = staging_dir(path);
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(BackupError::io(&staging))?;
        }
        std::fs::create_dir_all(&staging).map_err(BackupError::io(&staging))?;
        let manifest = match self.write(db, &staging).await {
            Ok(m) => m,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&staging);
                return Err(e);
            }
        };
        pack_tar(&staging, path, &manifest)?;
        Ok(manifest)
    }

    async fn write(&self, db: &Db, dir: &Path) -> Result<Manifest> {
        if self.models.is_empty() {
            return Err(BackupError::Config(
                "the backup has no models: add them with `.model::<M>()` or `.registered()`"
                    .to_owned(),
            ));
        }
        if let Some(since) = &self.since {
            if since.kind == BackupKind::Differential && since.parent.kind != BackupKind::Full {
                return Err(BackupError::Config(format!(
                    "a differential backup continues a full backup; `{}` is {}",
                    since.parent.id, since.parent.kind
                )));
            }
            let Some(parent_column) = since.parent.watermark_column.as_deref() else {
                return Err(BackupError::Config(format!(
                    "`{}` recorded no watermark: take the full backup with \
                     `.watermark(\"updated_at\")` (CLI: `--watermark`) to continue it",
                    since.parent.id
                )));
            };
            if self.watermark.as_deref() != Some(parent_column) {
                return Err(BackupError::Config(format!(
                    "`{}` was taken with watermark column `{parent_column}`, not `{}`",
                    since.parent.id,
                    self.watermark.as_deref().unwrap_or_default()
                )));
            }
        }
        let created_at = Utc::now();
        match db.backend() {
            Backend::Sql(Dialect::Sqlite) => {
                let tx = db
                    .begin()
                    .await
                    .map_err(BackupError::db("beginning the snapshot"))?;
                let out = self
                    .read(
                        &tx,
                        dir,
                        created_at,
                        "one SQLite transaction (a single snapshot)",
                    )
                    .await;
                tx.rollback()
                    .await
                    .map_err(BackupError::db("ending the snapshot"))?;
                out
            }
            Backend::Sql(_) => {
                let options = TxOptions::new()
                    .isolation(IsolationLevel::RepeatableRead)
                    .read_only();
                let tx = db
                    .begin_with(options)
                    .await
                    .map_err(BackupError::db("beginning the snapshot"))?;
                let out = self
                    .read(
                        &tx,
                        dir,
                        created_at,
                        "one REPEATABLE READ, READ ONLY transaction",
                    )
                    .await;
                tx.rollback()
                    .await
                    .map_err(BackupError::db("ending the snapshot"))?;
                out
            }
            _ => {
                self.read(
                    db,
                    dir,
                    created_at,
                    "none: each MongoDB collection is read as it is when its read starts",
                )
                .await
            }
        }
    }

    async fn read<E: Executor>(
        &self,
        exec: &E,
        dir: &Path,
        created_at: chrono::DateTime<Utc>,
        consistency: &str,
    ) -> Result<Manifest> {
        let encoding = Encoding {
            zstd_level: self.level,
            keys: self.keys.clone(),
        };
        let kind = self.since.as_ref().map_or(BackupKind::Full, |s| s.kind);
        let id = format!("{}-{kind}", created_at.format("%Y%m%dT%H%M%S%.3fZ"));
        let mut parts = Vec::new();
        for (n, &schema) in self.models.iter().enumerate() {
            let part = self.read_table(exec, dir, n, schema, &encoding).await?;
            if let Some(f) = &self.progress {
                f(&Progress {
                    table: schema.table.to_owned(),
                    rows: part.rows,
                    total: Some(part.rows),
                    tables_done: n + 1,
                    tables: self.models.len(),
                });
            }
            parts.push(part);
        }
        let manifest = Manifest {
            format: crate::format::FORMAT_VERSION,
            id: id.clone(),
            created_at,
            kind,
            parent: self.since.as_ref().map(|s| s.parent.id.clone()),
            base: self.since.as_ref().map_or(id, |s| s.parent.base.clone()),
            source: exec.backend().to_string(),
            consistency: consistency.to_owned(),
            watermark_column: self.watermark.clone(),
            compression: self.level,
            encryption: self.keys.as_ref().map(|k| Encryption {
                algorithm: "AES-256-GCM".to_owned(),
                key_id: k.current().0,
            }),
            schema: {
                let mut schema = Schema::from_models(self.models.iter().copied());
                for (name, table) in &self.pulled {
                    schema.tables.insert(name.clone(), table.clone());
                }
                schema
            },
            parts,
            lifecycle: None,
        };
        let path = dir.join(MANIFEST_FILE);
        let text = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| BackupError::Config(format!("the manifest does not serialize: {e}")))?;
        std::fs::write(&path, text).map_err(BackupError::io(&path))?;
        Ok(manifest)
    }

    async fn read_table<E: Executor>(
        &self,
        exec: &E,
        dir: &Path,
        n: usize,
        schema: &'static ModelSchema,
        encoding: &Encoding,
    ) -> Result<Part> {
        let file = part_file(n, schema.table);
        let mut writer = PartWriter::create(dir.join(&file), encoding)?;
        let mut query = SelectQuery::new(schema, Projection::Model);
        // The watermark column of an incremental backup, and where the parent stopped.
        let mut watermark_at = None;
        let mut since = None;
        if let Some(name) = &self.watermark
            && let Some((i, column)) = schema
                .columns
                .iter()
                .enumerate()
                .find(|(_, c)| c.name == *name)
        {
            {
                if !Watermark::supports(column.ty) {
                    return Err(BackupError::Config(format!(
                        "`{}.{}` cannot be a watermark: use an integer, timestamp or date column",
                        schema.table, column.name
                    )));
                }
                watermark_at = Some(i);
                since = self
                    .since
                    .as_ref()
                    .and_then(|s| s.parent.part(schema.table))
                    .and_then(|p| p.watermark.clone().or_else(|| p.since.clone()));
                if let Some(since) = &since {
                    query.filter = Some(Condition::Compare {
                        column: ColumnRef::new(schema.table, column.name),
                        op: CmpOp::Gt,
                        value: since.to_value(column.ty),
                    });
                }
            }
        }
        let decoder = decoder_for(schema)?;
        let doing = format!("reading table {}", schema.table);
        let mut rows = exec.fetch_stream(query, decoder);
        let mut watermark: Option<Watermark> = None;
        let mut count = 0u64;
        while let Some(row) = rows.try_next().await.map_err(BackupError::db(&doing))? {
            if let Some(i) = watermark_at
                && let Some(w) = Watermark::of(&row[i])
                && watermark.as_ref().is_none_or(|m| w > *m)
            {
                watermark = Some(w);
            }
            writer.push(&row)?;
            count += 1;
            if count.is_multiple_of(PROGRESS_EVERY)
                && let Some(f) = &self.progress
            {
                f(&Progress {
                    table: schema.table.to_owned(),
                    rows: count,
                    total: None,
                    tables_done: n,
                    tables: self.models.len(),
                });
            }
        }
        drop(rows);
        let columns = schema
            .columns
            .iter()
            .map(|c| PartColumn {
                name: c.name.to_owned(),
                ty: c.ty,
            })
            .collect();
        let mut part = writer.finish(schema.table, &file, columns)?;
        if watermark_at.is_some() {
            part.watermark = watermark.or_else(|| since.clone());
            part.since = since;
        }
        Ok(part)
    }
}

/// The staging directory of a tar archive being written.
fn staging_dir(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".parts");
    path.with_file_name(name)
}

/// `003-users.rows`: the position keeps names unique whatever the table names hold.
fn part_file(n: usize, table: &str) -> String {
    let safe: String = table
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{n:03}-{safe}.rows")
}
