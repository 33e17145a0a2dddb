//! Data lifecycle policies: rows of a model older than an age on a timestamp column (or
//! matching a typed condition) are deleted, or archived and then deleted, in batches with a
//! pause between them; a dry run counts them; runs can be scheduled on a cron expression.
//!
//! ```ignore
//! // `Session` and `Event` are models (`#[derive(Model)]`); tests/lifecycle.rs runs this.
//! use std::time::Duration;
//! use polyorm_backup::{Lifecycle, LocalTarget, Policy};
//!
//! const DAY: Duration = Duration::from_secs(86_400);
//! let lifecycle = Lifecycle::new()
//!     // Sessions expired for a week: deleted, 1,000 rows at a time.
//!     .policy(Policy::for_model::<Session>().older_than(Session::EXPIRES_AT, 7 * DAY).delete())
//!     // Events older than a year: written to an archive in /var/archive/app, verified, then
//!     // deleted 5,000 at a time with 200 ms between batches.
//!     .policy(
//!         Policy::for_model::<Event>()
//!             .older_than(Event::AT, 365 * DAY)
//!             .matching(Event::KIND.ne("audit"))
//!             .batch_size(5_000)
//!             .pause(Duration::from_millis(200))
//!             .archive_to(LocalTarget::new("/var/archive/app")),
//!     );
//! let counts = lifecycle.dry_run(&db).await?;      // nothing changed
//! let done = lifecycle.run(&db).await?;
//! ```
//!
//! **Crash safety.** An archived row is deleted only after its archive is stored in full (the
//! manifest last, see [`BackupTarget`]) and read back and verified from the target. A row is
//! deleted only when its current content equals the archived copy (compared by the row
//! encoding's hash, inside one transaction with the rows locked on SQL backends), so a row
//! changed after it was archived stays. A run killed at any point loses no row: before
//! archiving anything new, a run finishes the newest archive of its policy, deleting the rows
//! of it that are still there unchanged; rows archived and then killed before their delete are
//! therefore never archived twice. A delete policy deletes by key *and* condition in each
//! batch, so a re-run simply continues.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use croner::Cron;
use futures::TryStreamExt;
use polyorm_core::query::ir::{
    CmpOp, ColumnRef, Condition, DeleteQuery, Projection, RowLock, SelectQuery, Statement,
};
use polyorm_core::{
    Backend, ColumnType, Db, Dialect, Executor, FieldType, Model, ModelSchema, TxOptions, Value,
};
use polyorm_core::{Column, ColumnId, Filter};
use polyorm_migrate::Schema;
use polyorm_storage::codec::{Encoding, KeyProvider};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};

use crate::archive::{Archive, PartWriter, pack_tar};
use crate::decode::decoder_for;
use crate::error::{BackupError, Result};
use crate::format::{encode_row, row_hash};
use crate::manifest::{BackupKind, Encryption, MANIFEST_FILE, Manifest, PartColumn};
use crate::restore::verify;
use crate::target::{AnyTarget, BackupTarget};

/// Rows per batch unless a policy says otherwise.
pub const DEFAULT_BATCH: usize = 1_000;

/// What a lifecycle archive's manifest records of the policy that wrote it
/// ([`Manifest::lifecycle`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleInfo {
    /// The policy's name.
    pub policy: String,
    /// The rows it selected, in words (`expires_at before 2026-11-29T02:30:00Z`).
    pub rule: String,
}

/// A column type an age can be measured on: `DateTime<Utc>`, `NaiveDateTime`, `NaiveDate`
/// and their `Option`s.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a timestamp column type an age can be measured on",
    label = "use a column of type DateTime<Utc>, NaiveDateTime or NaiveDate (or an Option of one)"
)]
pub trait AgeColumn: FieldType {}
impl AgeColumn for DateTime<Utc> {}
impl AgeColumn for chrono::NaiveDateTime {}
impl AgeColumn for chrono::NaiveDate {}
impl AgeColumn for Option<DateTime<Utc>> {}
impl AgeColumn for Option<chrono::NaiveDateTime> {}
impl AgeColumn for Option<chrono::NaiveDate> {}

/// What a policy does with the rows it selects.
#[derive(Debug, Clone)]
enum Action {
    Delete,
    Archive(AnyTarget),
}

/// A table named at run time (the `polyorm lifecycle` CLI, which has no models): the marker type of
/// [`Policy::for_table`]'s builder.
#[derive(Debug, Clone, Copy)]
pub struct AnyTable;

/// A policy being declared: the rows it selects, then [`delete`](PolicyBuilder::delete) or
/// [`archive_to`](PolicyBuilder::archive_to) makes it a [`Policy`].
#[derive(Debug, Clone)]
pub struct PolicyBuilder<M> {
    name: Option<String>,
    schema: &'static ModelSchema,
    table: Option<polyorm_migrate::schema::Table>,
    age: Option<(&'static str, Duration)>,
    condition: Option<Condition>,
    batch: usize,
    pause: Duration,
    _model: std::marker::PhantomData<fn() -> M>,
}

/// One model's lifecycle rule: which rows, and delete or archive them.
#[derive(Debug, Clone)]
pub struct Policy {
    name: String,
    schema: &'static ModelSchema,
    table: Option<polyorm_migrate::schema::Table>,
    age: Option<(&'static str, Duration)>,
    condition: Option<Condition>,
    action: Action,
    batch: usize,
    pause: Duration,
}

impl Policy {
    /// A policy for the rows of model `M`.
    pub fn for_model<M: Model>() -> PolicyBuilder<M> {
        PolicyBuilder::new(M::schema(), None)
    }

    /// A policy for the table `table` of the live SQL database `db`, read as `polyorm db pull`
    /// reads it (for programs without the model, such as the CLI).
    ///
    /// # Errors
    /// [`BackupError::Config`] when the table is not there, has no primary key, or the
    /// database cannot be introspected (MongoDB: use [`for_model`](Policy::for_model)).
    pub async fn for_table(db: &Db, table: &str) -> Result<PolicyBuilder<AnyTable>> {
        let options = polyorm_migrate::pull::PullOptions {
            tables: vec![table.to_owned()],
        };
        let pulled = polyorm_migrate::pull::pull(db, &options)
            .await
            .map_err(|e| BackupError::Config(format!("reading table `{table}`: {e}")))?;
        let model = pulled
            .models
            .into_iter()
            .find(|m| m.table.name == table)
            .ok_or_else(|| {
                BackupError::Config(format!(
                    "table `{table}` is not in the database, or has no primary key ({})",
                    pulled.skipped.join("; ")
                ))
            })?;
        Ok(PolicyBuilder::new(
            crate::schema::descriptor(&model.table, false),
            Some(model.table),
        ))
    }

    /// The policy's name (its table unless [`PolicyBuilder::name`] set one).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The table it works on.
    pub fn table(&self) -> &str {
        self.schema.table
    }
}

impl<M> PolicyBuilder<M> {
    fn new(
        schema: &'static ModelSchema,
        table: Option<polyorm_migrate::schema::Table>,
    ) -> PolicyBuilder<M> {
        PolicyBuilder {
            name: None,
            schema,
            table,
            age: None,
            condition: None,
            batch: DEFAULT_BATCH,
            pause: Duration::ZERO,
            _model: std::marker::PhantomData,
        }
    }

    /// Names the policy (default: the table's name). Archives of a policy are found again by
    /// this name, so two policies archiving to one target need two names.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Selects rows whose column `column` (found by name at run time) is older than `age`.
    pub fn older_than_column(mut self, column: &str, age: Duration) -> Self {
        let name = self
            .schema
            .columns
            .iter()
            .find(|c| c.name == column)
            .map_or_else(|| crate::schema::leak_str(column), |c| c.name);
        self.age = Some((name, age));
        self
    }

    /// Rows per batch (default 1,000): each batch is deleted in one statement (one
    /// transaction on SQL backends).
    pub fn batch_size(mut self, rows: usize) -> Self {
        self.batch = rows.max(1);
        self
    }

    /// The pause between two batches (default none), to leave the database room for other
    /// work.
    pub fn pause(mut self, pause: Duration) -> Self {
        self.pause = pause;
        self
    }

    fn build(self, action: Action) -> Policy {
        Policy {
            name: self.name.unwrap_or_else(|| self.schema.table.to_owned()),
            schema: self.schema,
            table: self.table,
            age: self.age,
            condition: self.condition,
            action,
            batch: self.batch,
            pause: self.pause,
        }
    }

    /// The selected rows are deleted.
    pub fn delete(self) -> Policy {
        self.build(Action::Delete)
    }

    /// The selected rows are written to an archive in `target` (a [`LocalTarget`] directory or
    /// a [`StorageTarget`] blob store, see [`AnyTarget`]), read back and verified there, and
    /// only then deleted. The archive is a backup archive of one table: [`Archive`] and
    /// [`Restore`](crate::Restore) read it.
    ///
    /// [`LocalTarget`]: crate::LocalTarget
    /// [`StorageTarget`]: crate::StorageTarget
    pub fn archive_to(self, target: impl Into<AnyTarget>) -> Policy {
        self.build(Action::Archive(target.into()))
    }
}

impl<M: Model> PolicyBuilder<M> {
    /// Selects rows whose timestamp `column` is older than `age` (before now − `age` when the
    /// run starts; NULLs are never selected).
    pub fn older_than<T: AgeColumn>(
        mut self,
        column: Column<M, T, impl ColumnId>,
        age: Duration,
    ) -> Self {
        self.age = Some((column.name(), age));
        self
    }

    /// Selects rows matching `filter` (with an age as well: rows matching both).
    pub fn matching(mut self, filter: Filter<M>) -> Self {
        self.condition = Some(match self.condition.take() {
            Some(c) => Condition::and_all([c, filter.into_condition()]),
            None => filter.into_condition(),
        });
        self
    }
}

/// A step of a lifecycle run, told to [`Lifecycle::on_progress`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// The rows the policy selects were counted (`rows`).
    Counted,
    /// Rows written to the archive so far.
    Archiving,
    /// The archive `id` is stored and verified in the target; deletion starts.
    Archived {
        /// The archive's id.
        id: String,
    },
    /// A batch was deleted; `rows` is the total deleted by this policy so far.
    Deleted,
    /// Rows of an earlier, interrupted run's archive `id` were deleted (`rows`).
    Recovered {
        /// The archive finished.
        id: String,
    },
}

/// Progress of a lifecycle run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleProgress {
    /// The policy.
    pub policy: String,
    /// Its table.
    pub table: String,
    /// What happened.
    pub step: Step,
    /// Rows of that step so far.
    pub rows: u64,
    /// Rows the policy selected when the run started.
    pub total: u64,
}

/// What one policy did (or, in a dry run, would do).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PolicyReport {
    /// The policy's name.
    pub policy: String,
    /// Its table.
    pub table: String,
    /// `delete` or `archive`.
    pub action: String,
    /// Rows the policy selected when the run started (a dry run's answer).
    pub matched: u64,
    /// Rows written to the archive.
    pub archived: u64,
    /// The archive written, if any.
    pub archive: Option<String>,
    /// Rows deleted (those of an interrupted earlier run included).
    pub deleted: u64,
    /// Rows of an interrupted earlier run's archive deleted before this run's own work.
    pub recovered: u64,
    /// Archived rows left in place because they changed after they were archived.
    pub changed: u64,
    /// Batches deleted.
    pub batches: u64,
}

/// What a lifecycle run did, per policy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LifecycleReport {
    /// Whether this was a dry run (nothing changed).
    pub dry_run: bool,
    /// One report per policy, in declaration order.
    pub policies: Vec<PolicyReport>,
}

/// A callback told of lifecycle progress.
pub type LifecycleProgressFn = Arc<dyn Fn(&LifecycleProgress) + Send + Sync>;

/// Lifecycle policies, run together (see the [module docs](self)).
#[derive(Clone, Default)]
pub struct Lifecycle {
    policies: Vec<Policy>,
    keys: Option<Arc<dyn KeyProvider>>,
    level: Option<i32>,
    scratch: Option<PathBuf>,
    progress: Option<LifecycleProgressFn>,
}

impl std::fmt::Debug for Lifecycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lifecycle")
            .field("policies", &self.policies)
            .field("encrypted", &self.keys.is_some())
            .field("compression", &self.level)
            .finish_non_exhaustive()
    }
}

impl Lifecycle {
    /// No policies yet; archives zstd level 3, not encrypted.
    pub fn new() -> Lifecycle {
        Lifecycle {
            level: Some(3),
            ..Lifecycle::default()
        }
    }

    /// Adds a policy (run in the order added).
    pub fn policy(mut self, policy: Policy) -> Lifecycle {
        self.policies.push(policy);
        self
    }

    /// The policies.
    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    /// Encrypts archives with AES-256-GCM under the provider's current key (the same key
    /// opens them for the verification before deleting).
    pub fn encrypt(mut self, keys: Arc<dyn KeyProvider>) -> Lifecycle {
        self.keys = Some(keys);
        self
    }

    /// The zstd level of archives (`None`: uncompressed). Default 3.
    pub fn compression(mut self, level: Option<i32>) -> Lifecycle {
        self.level = level;
        self
    }

    /// Where archives are written before they are stored and read back to be verified
    /// (default: the system's temporary directory).
    pub fn scratch(mut self, dir: impl Into<PathBuf>) -> Lifecycle {
        self.scratch = Some(dir.into());
        self
    }

    /// Calls `f` at each step (counted, archiving every 10,000 rows, archived, each batch
    /// deleted).
    pub fn on_progress(
        mut self,
        f: impl Fn(&LifecycleProgress) + Send + Sync + 'static,
    ) -> Lifecycle {
        self.progress = Some(Arc::new(f));
        self
    }

    /// Counts the rows each policy selects; changes nothing.
    ///
    /// # Errors
    /// [`BackupError::Config`] for a policy that cannot run (no age nor condition, an unknown
    /// column or one of the wrong type, a table without primary key);
    /// [`BackupError::Database`] when the count fails.
    pub async fn dry_run(&self, db: &Db) -> Result<LifecycleReport> {
        self.check()?;
        let now = Utc::now();
        let mut report = LifecycleReport {
            dry_run: true,
            policies: Vec::new(),
        };
        for policy in &self.policies {
            let (condition, _) = policy.condition(now)?;
            let matched = count(db, policy.schema, &condition).await?;
            report.policies.push(PolicyReport {
                matched,
                ..policy.report()
            });
        }
        Ok(report)
    }

    /// Runs every policy: deletes, or archives then deletes, the rows it selects.
    ///
    /// # Errors
    /// As [`dry_run`](Lifecycle::dry_run); [`BackupError::Io`] or [`BackupError::Storage`]
    /// when an archive cannot be written or stored (nothing of that policy is deleted), and
    /// [`BackupError::Corrupt`] when the stored archive does not read back as written.
    pub async fn run(&self, db: &Db) -> Result<LifecycleReport> {
        self.check()?;
        let now = Utc::now();
        let mut report = LifecycleReport::default();
        for policy in &self.policies {
            let out = match &policy.action {
                Action::Delete => self.run_delete(db, policy, now).await?,
                Action::Archive(target) => self.run_archive(db, policy, target, now).await?,
            };
            report.policies.push(out);
        }
        Ok(report)
    }

    /// Runs the policies at the times of `cron` (five fields, or six with seconds first), in
    /// UTC, on a tokio task.
    ///
    /// # Errors
    /// [`BackupError::Config`] for an expression that does not parse or a policy that cannot
    /// run.
    pub fn schedule(self, db: Db, cron: &str) -> Result<LifecycleHandle> {
        self.check()?;
        let cron = crate::scheduler::parse_cron(cron)?;
        Ok(spawn(self, db, cron))
    }

    fn check(&self) -> Result<()> {
        if self.policies.is_empty() {
            return Err(BackupError::Config(
                "the lifecycle has no policies: add them with `.policy(...)`".to_owned(),
            ));
        }
        for p in &self.policies {
            p.condition(Utc::now())?;
            if p.schema.primary_key.is_empty() {
                return Err(BackupError::Config(format!(
                    "policy `{}`: table `{}` has no primary key, so its rows cannot be deleted \
                     one by one",
                    p.name, p.schema.table
                )));
            }
            if let Action::Archive(target) = &p.action
                && let Some(other) = self.policies.iter().find(|o| {
                    o.name == p.name
                        && !std::ptr::eq(*o, p)
                        && matches!(&o.action, Action::Archive(t) if t.describe() == target.describe())
                })
            {
                return Err(BackupError::Config(format!(
                    "two policies named `{}` archive to {}: give them different names \
                     (`.name(...)`)",
                    other.name,
                    target.describe()
                )));
            }
        }
        Ok(())
    }

    fn tell(&self, policy: &Policy, step: Step, rows: u64, total: u64) {
        if let Some(f) = &self.progress {
            f(&LifecycleProgress {
                policy: policy.name.clone(),
                table: policy.schema.table.to_owned(),
                step,
                rows,
                total,
            });
        }
    }

    async fn run_delete(
        &self,
        db: &Db,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Result<PolicyReport> {
        let (condition, _) = policy.condition(now)?;
        let mut report = policy.report();
        report.matched = count(db, policy.schema, &condition).await?;
        self.tell(policy, Step::Counted, report.matched, report.matched);
        if report.matched == 0 {
            return Ok(report);
        }
        let decoder = decoder_for(policy.schema)?;
        loop {
            let mut select = SelectQuery::new(policy.schema, Projection::Model);
            select.filter = Some(condition.clone());
            select.limit = Some(policy.batch as u64);
            let rows = db
                .fetch_all(select, decoder)
                .await
                .map_err(BackupError::db(format!(
                    "selecting rows of {}",
                    policy.schema.table
                )))?;
            if rows.is_empty() {
                break;
            }
            let keys = keys_condition(policy.schema, rows.iter().map(Vec::as_slice));
            let deleted = db
                .execute(Statement::Delete(DeleteQuery {
                    schema: policy.schema,
                    filter: Some(Condition::and_all([keys, condition.clone()])),
                }))
                .await
                .map_err(BackupError::db(format!(
                    "deleting rows of {}",
                    policy.schema.table
                )))?
                .rows_affected;
            report.deleted += deleted;
            report.batches += 1;
            self.tell(policy, Step::Deleted, report.deleted, report.matched);
            if rows.len() < policy.batch {
                break;
            }
            tokio::time::sleep(policy.pause).await;
        }
        Ok(report)
    }

    async fn run_archive(
        &self,
        db: &Db,
        policy: &Policy,
        target: &AnyTarget,
        now: DateTime<Utc>,
    ) -> Result<PolicyReport> {
        let scratch = self
            .scratch
            .clone()
            .unwrap_or_else(std::env::temp_dir)
            .join(format!(
                "orm-lifecycle-{}-{}",
                std::process::id(),
                now.timestamp_nanos_opt().unwrap_or_default()
            ));
        std::fs::create_dir_all(&scratch).map_err(BackupError::io(&scratch))?;
        let out = self
            .archive_then_delete(db, policy, target, now, &scratch)
            .await;
        let _ = std::fs::remove_dir_all(&scratch);
        out
    }

    async fn archive_then_delete(
        &self,
        db: &Db,
        policy: &Policy,
        target: &AnyTarget,
        now: DateTime<Utc>,
        scratch: &Path,
    ) -> Result<PolicyReport> {
        let mut report = policy.report();
        // An earlier run that stopped between storing its archive and deleting every row of
        // it: finish it first, so that those rows are not archived a second time.
        if let Some(previous) = newest_archive(target, &policy.name).await? {
            let archive = self.fetch_verified(target, &previous.id, scratch).await?;
            let (deleted, changed) = self.delete_archived(db, policy, &archive, 0).await?;
            std::fs::remove_file(archive.path()).map_err(BackupError::io(archive.path()))?;
            if deleted > 0 {
                self.tell(
                    policy,
                    Step::Recovered {
                        id: previous.id.clone(),
                    },
                    deleted,
                    deleted,
                );
            }
            report.recovered = deleted;
            report.deleted = deleted;
            report.batches = deleted.div_ceil(policy.batch as u64);
            report.changed = changed;
        }
        let (condition, rule) = policy.condition(now)?;
        report.matched = count(db, policy.schema, &condition).await?;
        self.tell(policy, Step::Counted, report.matched, report.matched);
        if report.matched == 0 {
            return Ok(report);
        }
        let file = scratch.join("archive.tar");
        let manifest = self
            .write_archive(db, policy, &condition, rule, now, &file, report.matched)
            .await?;
        target.put(&file, &manifest).await?;
        std::fs::remove_file(&file).map_err(BackupError::io(&file))?;
        let archive = self.fetch_verified(target, &manifest.id, scratch).await?;
        report.archived = manifest.rows();
        report.archive = Some(manifest.id.clone());
        self.tell(
            policy,
            Step::Archived {
                id: manifest.id.clone(),
            },
            report.archived,
            report.matched,
        );
        let already = report.deleted;
        let (deleted, changed) = self.delete_archived(db, policy, &archive, already).await?;
        report.deleted += deleted;
        report.changed += changed;
        report.batches += deleted.div_ceil(policy.batch as u64);
        Ok(report)
    }

    /// Downloads archive `id` into `scratch` and reads every part of it back.
    async fn fetch_verified(
        &self,
        target: &AnyTarget,
        id: &str,
        scratch: &Path,
    ) -> Result<Archive> {
        let path = target.fetch(id, scratch).await?;
        let archive = Archive::open(&path)?;
        verify(&archive, self.keys.clone())?;
        Ok(archive)
    }

    #[allow(clippy::too_many_arguments)]
    async fn write_archive(
        &self,
        db: &Db,
        policy: &Policy,
        condition: &Condition,
        rule: String,
        created_at: DateTime<Utc>,
        file: &Path,
        matched: u64,
    ) -> Result<Manifest> {
        let staging = file.with_extension("parts");
        std::fs::create_dir_all(&staging).map_err(BackupError::io(&staging))?;
        let encoding = Encoding {
            zstd_level: self.level,
            keys: self.keys.clone(),
        };
        let part_file = "000-rows.rows";
        let mut writer = PartWriter::create(staging.join(part_file), &encoding)?;
        let mut select = SelectQuery::new(policy.schema, Projection::Model);
        select.filter = Some(condition.clone());
        let decoder = decoder_for(policy.schema)?;
        let doing = format!("reading rows of {} to archive", policy.schema.table);
        {
            let mut rows = db.fetch_stream(select, decoder);
            let mut n = 0u64;
            while let Some(row) = rows.try_next().await.map_err(BackupError::db(&doing))? {
                writer.push(&row)?;
                n += 1;
                if n.is_multiple_of(crate::backup::PROGRESS_EVERY) {
                    self.tell(policy, Step::Archiving, n, matched);
                }
            }
        }
        let columns = policy
            .schema
            .columns
            .iter()
            .map(|c| PartColumn {
                name: c.name.to_owned(),
                ty: c.ty,
            })
            .collect();
        let part = writer.finish(policy.schema.table, part_file, columns)?;
        let id = format!(
            "{}-archive-{}",
            created_at.format("%Y%m%dT%H%M%S%.3fZ"),
            safe_name(&policy.name)
        );
        let mut schema = Schema::from_models([policy.schema]);
        if let Some(table) = &policy.table {
            schema.tables.insert(table.name.clone(), table.clone());
        }
        let manifest = Manifest {
            format: crate::format::FORMAT_VERSION,
            id: id.clone(),
            created_at,
            kind: BackupKind::Full,
            parent: None,
            base: id,
            source: db.backend().to_string(),
            consistency: "one read of the rows the policy selected".to_owned(),
            watermark_column: None,
            compression: self.level,
            encryption: self.keys.as_ref().map(|k| Encryption {
                algorithm: "AES-256-GCM".to_owned(),
                key_id: k.current().0,
            }),
            schema,
            parts: vec![part],
            lifecycle: Some(LifecycleInfo {
                policy: policy.name.clone(),
                rule,
            }),
        };
        let path = staging.join(MANIFEST_FILE);
        let text = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| BackupError::Config(format!("the manifest does not serialize: {e}")))?;
        std::fs::write(&path, text).map_err(BackupError::io(&path))?;
        pack_tar(&staging, file, &manifest)?;
        Ok(manifest)
    }

    /// Deletes the rows of `archive` that the table still holds unchanged, in the policy's
    /// batches; returns (deleted, left because changed).
    async fn delete_archived(
        &self,
        db: &Db,
        policy: &Policy,
        archive: &Archive,
        already: u64,
    ) -> Result<(u64, u64)> {
        let Some(part) = archive.manifest().parts.first() else {
            return Ok((0, 0));
        };
        if part.table != policy.schema.table {
            return Err(BackupError::Config(format!(
                "archive `{}` of policy `{}` holds table `{}`, not `{}`: give the policies \
                 different names",
                archive.manifest().id,
                policy.name,
                part.table,
                policy.schema.table
            )));
        }
        let mut rows = archive.rows(part, self.keys.clone())?;
        let (mut deleted, mut changed) = (0u64, 0u64);
        let mut first = true;
        loop {
            let batch = rows.next_batch(policy.batch)?;
            if batch.is_empty() {
                break;
            }
            if !first {
                tokio::time::sleep(policy.pause).await;
            }
            first = false;
            let (d, c) = delete_unchanged(db, policy.schema, &batch).await?;
            deleted += d;
            changed += c;
            self.tell(policy, Step::Deleted, already + deleted, part.rows);
        }
        Ok((deleted, changed))
    }
}

impl Policy {
    fn report(&self) -> PolicyReport {
        PolicyReport {
            policy: self.name.clone(),
            table: self.schema.table.to_owned(),
            action: match self.action {
                Action::Delete => "delete",
                Action::Archive(_) => "archive",
            }
            .to_owned(),
            ..PolicyReport::default()
        }
    }

    /// The condition selecting the policy's rows at `now`, and its description.
    fn condition(&self, now: DateTime<Utc>) -> Result<(Condition, String)> {
        let mut parts = Vec::new();
        let mut words = Vec::new();
        if let Some((name, age)) = self.age {
            let column = self
                .schema
                .columns
                .iter()
                .find(|c| c.name == name)
                .ok_or_else(|| {
                    BackupError::Config(format!(
                        "policy `{}`: table `{}` has no column `{name}` (columns: {})",
                        self.name,
                        self.schema.table,
                        self.schema
                            .columns
                            .iter()
                            .map(|c| c.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?;
            let age = chrono::Duration::from_std(age).map_err(|_| {
                BackupError::Config(format!("policy `{}`: the age is too large", self.name))
            })?;
            let cutoff = now - age;
            let value = match column.ty {
                ColumnType::TimestampTz => Value::ChronoDateTimeUtc(cutoff),
                ColumnType::Timestamp => Value::ChronoDateTime(cutoff.naive_utc()),
                ColumnType::Date => Value::ChronoDate(cutoff.date_naive()),
                other => {
                    return Err(BackupError::Config(format!(
                        "policy `{}`: column `{}.{name}` is {}, not a timestamp or date: an age \
                         is measured on a DateTime<Utc>, NaiveDateTime or NaiveDate column",
                        self.name,
                        self.schema.table,
                        other.rust_name()
                    )));
                }
            };
            words.push(format!(
                "{name} before {}",
                cutoff.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ));
            parts.push(Condition::Compare {
                column: ColumnRef::new(self.schema.table, column.name),
                op: CmpOp::Lt,
                value,
            });
        }
        if let Some(c) = &self.condition {
            words.push("a condition".to_owned());
            parts.push(c.clone());
        }
        if parts.is_empty() {
            return Err(BackupError::Config(format!(
                "policy `{}` selects every row of `{}`: give it an age (`.older_than(...)`) or a \
                 condition (`.matching(...)`)",
                self.name, self.schema.table
            )));
        }
        Ok((Condition::and_all(parts), words.join(" and ")))
    }
}

async fn count(db: &Db, schema: &'static ModelSchema, condition: &Condition) -> Result<u64> {
    let mut select = SelectQuery::new(schema, Projection::Model);
    select.filter = Some(condition.clone());
    db.count(select).await.map_err(BackupError::db(format!(
        "counting rows of {}",
        schema.table
    )))
}

/// `key IN (…)` (or, for a composite key, one `AND` per row) over `rows`' primary keys.
fn keys_condition<'a>(
    schema: &'static ModelSchema,
    rows: impl Iterator<Item = &'a [Value]>,
) -> Condition {
    let key = |i: usize| ColumnRef::new(schema.table, schema.columns[i].name);
    if let [single] = schema.primary_key {
        return Condition::InList {
            column: key(*single),
            values: rows.map(|r| r[*single].clone()).collect(),
            negated: false,
        };
    }
    Condition::Or(
        rows.map(|r| {
            Condition::and_all(schema.primary_key.iter().map(|&i| Condition::Compare {
                column: key(i),
                op: CmpOp::Eq,
                value: r[i].clone(),
            }))
        })
        .collect(),
    )
}

fn hash_of(row: &[Value]) -> Result<u128> {
    let mut encoded = Vec::new();
    encode_row(row, &mut encoded).map_err(BackupError::Config)?;
    Ok(row_hash(&encoded))
}

/// Deletes the rows of `batch` (archived rows with their hashes) that the table holds with
/// the same content; returns (deleted, changed since archived). SQL backends read and delete
/// in one transaction with the rows locked.
async fn delete_unchanged(
    db: &Db,
    schema: &'static ModelSchema,
    batch: &[(Vec<Value>, u128)],
) -> Result<(u64, u64)> {
    let doing = format!("deleting archived rows of {}", schema.table);
    match db.backend() {
        Backend::Sql(dialect) => {
            let tx = db
                .begin_with(TxOptions::new().for_write())
                .await
                .map_err(BackupError::db(&doing))?;
            let lock = (dialect != Dialect::Sqlite).then_some(RowLock::ForUpdate);
            let out = delete_unchanged_in(&tx, schema, batch, lock, &doing).await;
            match out {
                Ok(n) => {
                    tx.commit().await.map_err(BackupError::db(&doing))?;
                    Ok(n)
                }
                Err(e) => {
                    let _ = tx.rollback().await;
                    Err(e)
                }
            }
        }
        _ => delete_unchanged_in(db, schema, batch, None, &doing).await,
    }
}

async fn delete_unchanged_in<E: Executor>(
    exec: &E,
    schema: &'static ModelSchema,
    batch: &[(Vec<Value>, u128)],
    lock: Option<RowLock>,
    doing: &str,
) -> Result<(u64, u64)> {
    let archived: HashSet<u128> = batch.iter().map(|(_, h)| *h).collect();
    let mut select = SelectQuery::new(schema, Projection::Model);
    select.filter = Some(keys_condition(
        schema,
        batch.iter().map(|(r, _)| r.as_slice()),
    ));
    select.lock = lock;
    let current = exec
        .fetch_all(select, decoder_for(schema)?)
        .await
        .map_err(BackupError::db(doing))?;
    let mut same = Vec::new();
    let mut changed = 0u64;
    for row in &current {
        if archived.contains(&hash_of(row)?) {
            same.push(row.as_slice());
        } else {
            changed += 1;
        }
    }
    if same.is_empty() {
        return Ok((0, changed));
    }
    let deleted = exec
        .execute(Statement::Delete(DeleteQuery {
            schema,
            filter: Some(keys_condition(schema, same.into_iter())),
        }))
        .await
        .map_err(BackupError::db(doing))?
        .rows_affected;
    Ok((deleted, changed))
}

/// The newest complete archive in `target` written by policy `name`.
async fn newest_archive(target: &AnyTarget, name: &str) -> Result<Option<Manifest>> {
    let mut ours: Vec<Manifest> = target
        .list()
        .await?
        .into_iter()
        .filter_map(|b| b.manifest)
        .filter(|m| m.lifecycle.as_ref().is_some_and(|l| l.policy == name))
        .collect();
    ours.sort_by_key(|m| m.created_at);
    Ok(ours.pop())
}

fn safe_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// One scheduled lifecycle run.
#[derive(Debug)]
pub struct ScheduledLifecycleRun {
    /// When the run was due.
    pub due: DateTime<Utc>,
    /// What it did, or why it failed.
    pub report: Result<LifecycleReport>,
}

/// A running lifecycle schedule ([`Lifecycle::schedule`]): read its runs, stop it.
#[derive(Debug)]
pub struct LifecycleHandle {
    runs: mpsc::Receiver<ScheduledLifecycleRun>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl LifecycleHandle {
    /// The next run, once it finished (`None` after [`stop`](LifecycleHandle::stop)). Up to 64
    /// unread runs are kept; later ones then go unreported while the schedule goes on.
    pub async fn next_run(&mut self) -> Option<ScheduledLifecycleRun> {
        self.runs.recv().await
    }

    /// Stops the schedule; a run in progress finishes first.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

fn spawn(lifecycle: Lifecycle, db: Db, cron: Cron) -> LifecycleHandle {
    let (tx, runs) = mpsc::channel(64);
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        loop {
            let Ok(due) = cron.find_next_occurrence(&Utc::now(), false) else {
                return;
            };
            let wait = (due - Utc::now()).to_std().unwrap_or_default();
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stopped.changed() => return,
            }
            let report = lifecycle.run(&db).await;
            let _ = tx.try_send(ScheduledLifecycleRun { due, report });
        }
    });
    LifecycleHandle { runs, stop, task }
}
