//! The runner: history table, lock, `up`, `down`, `status`, `verify` and the SQL that would run.
//!
//! One dedicated connection ([`polyorm_core::Db::acquire`]) carries the lock for the whole run:
//! PostgreSQL `pg_advisory_lock`, MySQL/MariaDB `GET_LOCK`, SQLite `BEGIN EXCLUSIVE` around
//! each migration. History is re-read under the lock, so concurrent deployers apply each
//! migration exactly once. PostgreSQL and SQLite run each migration in one transaction; on
//! MySQL/MariaDB (DDL commits implicitly) a failure is recorded with `success = false` and
//! [`Migrator::status`] says how to recover.

use std::path::PathBuf;
use std::time::Instant;

use polyorm_core::{Compiled, Connection, Db, Dialect, Executor, FieldType, Value};

use crate::diff::Operation;
use crate::error::{Error, Result};
use crate::files::{GenerateOptions, Generated, Migration, MigrationKind, load_dir};
use crate::introspect::{self, HISTORY_TABLE};
use crate::schema::Schema;

/// One row of the history table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    /// Version (`YYYYMMDDHHMMSS`).
    pub version: String,
    /// Name.
    pub name: String,
    /// Checksums of the files when it ran.
    pub checksum: String,
    /// UTC time it finished (`YYYY-MM-DD HH:MM:SS`).
    pub applied_at: String,
    /// Duration in milliseconds.
    pub execution_ms: i64,
    /// `false` when it failed part-way (MySQL/MariaDB only).
    pub success: bool,
    /// The version-control revision of the migrations directory it was applied from (`git
    /// rev-parse HEAD`, `-dirty` with uncommitted changes there); `None` outside a checkout
    /// and for migrations applied before revisions were recorded.
    pub vcs_revision: Option<String>,
}

/// The state of one migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Not applied yet.
    Pending,
    /// Applied, files unchanged.
    Applied(HistoryRow),
    /// Applied, but its files changed since.
    Changed(HistoryRow),
    /// Failed part-way; the message says how to recover.
    Failed(HistoryRow, String),
    /// Recorded as applied, but its directory is gone.
    Missing(HistoryRow),
}

/// A migration and its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Version.
    pub version: String,
    /// Name.
    pub name: String,
    /// State.
    pub state: State,
}

/// Applies and inspects the migrations of a directory on one database.
#[derive(Debug, Clone)]
pub struct Migrator {
    db: Db,
    dialect: Dialect,
    dir: PathBuf,
    models: Schema,
    owned: Vec<introspect::Owned>,
}

/// The SQL dialect of `db`; migrations are SQL, so MongoDB is refused with a clear error.
pub(crate) fn sql_dialect<E: polyorm_core::Executor>(db: &E) -> Result<Dialect> {
    db.dialect().ok_or_else(|| {
        Error::Db(Box::new(polyorm_core::Error::Config(
            "migrations are SQL; a MongoDB database gets its collections and indexes from \
             `db.create_table::<M>()` (`ensure_schema`)"
                .to_owned(),
        )))
    })
}

fn text(sql: impl Into<String>, values: Vec<Value>) -> Compiled {
    Compiled {
        sql: sql.into(),
        values,
    }
}

fn now_utc() -> String {
    let ts = crate::files::utc_timestamp();
    format!(
        "{}-{}-{} {}:{}:{}",
        &ts[0..4],
        &ts[4..6],
        &ts[6..8],
        &ts[8..10],
        &ts[10..12],
        &ts[12..14]
    )
}

fn recovery(dialect: Dialect, row: &HistoryRow, dir: &str) -> String {
    let _ = dialect;
    format!(
        "MySQL/MariaDB cannot roll back DDL, so the statements before the failing one stayed \
         applied. Compare the database with {dir}/{v}_{n}/up.sql (or down.sql, when a rollback \
         failed), undo what ran (or finish it) by hand, then run `DELETE FROM {HISTORY_TABLE} \
         WHERE version = '{v}'` (the migration is then not applied) and `up` again",
        v = row.version,
        n = row.name
    )
}

/// The schema migration `m` was written on: its parent's snapshot (that of the nearest
/// generated ancestor), which after a merge of branches is not the migration before it.
fn snapshot_before(migrations: &[Migration], m: &Migration) -> Result<Schema> {
    Ok(crate::lineage::Lineage::new(migrations)?.snapshot_before(&m.id()))
}

/// Refuses to run generated migration `m` (or its `down`) when rows in the database would not
/// survive it: a value that does not fit a narrower type, a NULL a NOT NULL refuses, duplicates
/// of a new unique index, rows a new foreign key refuses. Runs before any statement of the
/// migration, inside its transaction where the dialect has one, so nothing has changed.
async fn check_rows(
    conn: &Connection,
    migrations: &[Migration],
    m: &Migration,
    down: bool,
) -> Result<()> {
    let (Some(ops), Some(after)) = (&m.operations, &m.snapshot) else {
        return Ok(());
    };
    let dialect = conn.dialect();
    let (ops, before): (Vec<Operation>, Schema) = if down {
        (
            ops.operations
                .iter()
                .rev()
                .map(Operation::inverse)
                .collect(),
            after.clone(),
        )
    } else {
        (ops.operations.clone(), snapshot_before(migrations, m)?)
    };
    let mut problems = Vec::new();
    for check in crate::rows::row_checks(&ops, &before, dialect)
        .into_iter()
        .filter(|c| c.blocks)
    {
        let count = check.count(conn, dialect, 5).await.map_err(|e| match e {
            Error::Db(source) => Error::Apply {
                version: m.id(),
                statement: format!(
                    "(checking the rows of {}) {}",
                    check.subject, check.condition
                ),
                source,
                state: "nothing of this migration ran; the rows it would change could not be \
                        checked"
                    .to_owned(),
            },
            other => other,
        })?;
        if count.rows > 0 {
            problems.push(check.describe(&count));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::RowsDoNotFit {
            action: if down { "rolling back" } else { "applying" },
            version: m.id(),
            problems,
        })
    }
}

impl Migrator {
    /// A migrator for the migrations in `dir`, with the models' schema for `verify`.
    ///
    /// Migrations are SQL: a MongoDB `db` is an error.
    pub fn new(db: Db, dir: impl Into<PathBuf>, models: Schema) -> Result<Migrator> {
        let dialect = sql_dialect(&db)?;
        Ok(Migrator {
            db,
            dialect,
            dir: dir.into(),
            models,
            owned: Vec::new(),
        })
    }

    /// Declares objects owned by SQL outside the migrations (`index users.idx_users_gin`,
    /// `trigger users.trg_touch`, `default users.created_at`, `check users.ck_custom`, `column
    /// users.search`, `table audit_log`): `verify` accepts them as they are. A hand-written
    /// migration declares its own with `-- orm:owns …` lines in its `up.sql` instead.
    pub fn owning<'a>(mut self, objects: impl IntoIterator<Item = &'a str>) -> Result<Migrator> {
        for o in objects {
            self.owned.push(
                introspect::Owned::parse(o).map_err(|reason| Error::Malformed {
                    path: self.dir.clone(),
                    reason: format!("owned object {reason}"),
                })?,
            );
        }
        Ok(self)
    }

    /// The development loop in one call (as `prisma migrate dev`): writes a migration named
    /// `name` for whatever the models changed since the last one — destructive operations
    /// refused unless `options` allow them — then applies every pending migration. Returns
    /// the new migration, if any, and the ids applied. Commit the files it writes.
    pub async fn dev(
        &self,
        name: &str,
        options: &GenerateOptions,
    ) -> Result<(Option<Generated>, Vec<String>)> {
        let generated =
            crate::files::generate_with_db(&self.db, &self.dir, name, &self.models, options)
                .await?;
        let applied = self.up(None, false).await?;
        Ok((generated, applied))
    }

    /// Starts the migration history of an existing database without changing it (Prisma's
    /// baselining, Django's `--fake-initial`): writes a migration named `name` whose snapshot is
    /// the live schema as `pull` reads it (its `up.sql` creates that schema elsewhere) and
    /// records it as applied. `generate` then diffs the models from there. Returns the
    /// migration and what `pull` left out (see [`crate::pull::Pulled::skipped`]): own those
    /// objects in a hand-written migration if `verify` should accept them.
    ///
    /// Refused with [`Error::HistoryExists`] when the history table has rows or the directory
    /// already holds migrations.
    pub async fn baseline(&self, name: &str) -> Result<(Migration, Vec<String>)> {
        let history = self.history().await?;
        if let Some(last) = history.last() {
            return Err(Error::HistoryExists(format!(
                "the database has applied {} migration(s), the last `{}_{}`",
                history.len(),
                last.version,
                last.name
            )));
        }
        let migrations = self.migrations()?;
        if let Some(last) = migrations.last() {
            return Err(Error::HistoryExists(format!(
                "`{}` already holds {} migration(s), the last `{}`; apply them with `up`",
                self.dir.display(),
                migrations.len(),
                last.id()
            )));
        }
        let pulled = crate::pull::pull(&self.db, &crate::pull::PullOptions::default()).await?;
        let generated = crate::files::generate(
            &self.dir,
            name,
            &pulled.schema(),
            self.dialect,
            &GenerateOptions::default(),
        )?
        .ok_or_else(|| {
            Error::Unsupported(
                "baseline of a database without a table a model can describe: there is \
                 nothing to baseline; write models and `generate` the first migration"
                    .to_owned(),
            )
        })?;
        let migration = crate::files::load_one(&generated.dir)?;
        let conn = self.db.acquire().await?;
        Self::ensure_history(&conn).await?;
        let row = HistoryRow {
            version: migration.version.clone(),
            name: migration.name.clone(),
            checksum: migration.checksum.clone(),
            applied_at: now_utc(),
            execution_ms: 0,
            success: true,
            vcs_revision: crate::lineage::vcs_revision(&self.dir),
        };
        Self::record(&conn, &row).await?;
        Ok((migration, pulled.skipped))
    }

    /// The migrations on disk.
    pub fn migrations(&self) -> Result<Vec<Migration>> {
        load_dir(&self.dir)
    }

    async fn ensure_history(conn: &Connection) -> Result<()> {
        conn.execute_raw(&format!(
            "CREATE TABLE IF NOT EXISTS {HISTORY_TABLE} (version VARCHAR(14) NOT NULL PRIMARY \
             KEY, name VARCHAR(255) NOT NULL, checksum TEXT NOT NULL, applied_at VARCHAR(19) \
             NOT NULL, execution_ms BIGINT NOT NULL, success BOOLEAN NOT NULL, vcs_revision \
             VARCHAR(80))"
        ))
        .await?;
        // A history table written before revisions were recorded gains the column.
        let has_revision = match conn.dialect() {
            Dialect::Sqlite => format!(
                "SELECT COUNT(*) FROM pragma_table_info('{HISTORY_TABLE}') \
                 WHERE name = 'vcs_revision'"
            ),
            Dialect::Postgres => format!(
                "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = \
                 current_schema() AND table_name = '{HISTORY_TABLE}' AND column_name = \
                 'vcs_revision'"
            ),
            Dialect::MySql => format!(
                "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = \
                 DATABASE() AND table_name = '{HISTORY_TABLE}' AND column_name = 'vcs_revision'"
            ),
        };
        let found: Vec<i64> = conn
            .fetch_compiled(text(has_revision, vec![]), |r| i64::decode(r, 0))
            .await?;
        if found.first().copied() == Some(0) {
            conn.execute_raw(&format!(
                "ALTER TABLE {HISTORY_TABLE} ADD COLUMN vcs_revision VARCHAR(80)"
            ))
            .await?;
        }
        Ok(())
    }

    async fn history_on(conn: &Connection) -> Result<Vec<HistoryRow>> {
        Ok(conn
            .fetch_compiled(
                text(
                    format!(
                        "SELECT version, name, checksum, applied_at, execution_ms, success, \
                         vcs_revision FROM {HISTORY_TABLE} ORDER BY version"
                    ),
                    vec![],
                ),
                |r| {
                    Ok(HistoryRow {
                        version: String::decode(r, 0)?,
                        name: String::decode(r, 1)?,
                        checksum: String::decode(r, 2)?,
                        applied_at: String::decode(r, 3)?,
                        execution_ms: i64::decode(r, 4)?,
                        success: bool::decode(r, 5)?,
                        vcs_revision: Option::<String>::decode(r, 6)?,
                    })
                },
            )
            .await?)
    }

    /// The database this migrator runs on.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The history table's rows (empty when it does not exist yet).
    pub async fn history(&self) -> Result<Vec<HistoryRow>> {
        let conn = self.db.acquire().await?;
        Self::ensure_history(&conn).await?;
        Self::history_on(&conn).await
    }

    /// Every migration on disk or in the history, with its state, by version.
    ///
    /// A divergent history (two migrations written on the same parent) is
    /// [`Error::DivergentHistory`].
    pub async fn status(&self) -> Result<Vec<Status>> {
        let migrations = self.migrations()?;
        crate::lineage::check(&migrations)?;
        let history = self.history().await?;
        Ok(self.states(&migrations, &history))
    }

    fn states(&self, migrations: &[Migration], history: &[HistoryRow]) -> Vec<Status> {
        let dir = self.dir.display().to_string();
        let mut out: Vec<Status> = migrations
            .iter()
            .map(|m| {
                let state = match history.iter().find(|h| h.version == m.version) {
                    None => State::Pending,
                    Some(h) if !h.success => {
                        State::Failed(h.clone(), recovery(self.dialect, h, &dir))
                    }
                    Some(h) if h.checksum != m.checksum => State::Changed(h.clone()),
                    Some(h) => State::Applied(h.clone()),
                };
                Status {
                    version: m.version.clone(),
                    name: m.name.clone(),
                    state,
                }
            })
            .collect();
        for h in history {
            if !migrations.iter().any(|m| m.version == h.version) {
                out.push(Status {
                    version: h.version.clone(),
                    name: h.name.clone(),
                    state: State::Missing(h.clone()),
                });
            }
        }
        out.sort_by(|a, b| a.version.cmp(&b.version));
        out
    }

    /// Fails on an edited, missing or failed applied migration.
    fn check_history(&self, migrations: &[Migration], history: &[HistoryRow]) -> Result<()> {
        for s in self.states(migrations, history) {
            match s.state {
                State::Changed(h) => {
                    let m = migrations
                        .iter()
                        .find(|m| m.version == h.version)
                        .expect("changed migrations exist on disk");
                    return Err(Error::ChecksumMismatch {
                        version: m.id(),
                        recorded: h.checksum.clone(),
                        actual: format!("changed: {}", m.changed_files(&h.checksum).join(", ")),
                    });
                }
                State::Missing(h) => return Err(Error::MissingApplied(h.version)),
                State::Failed(h, recovery) => {
                    return Err(Error::FailedMigration {
                        version: format!("{}_{}", h.version, h.name),
                        recovery,
                    });
                }
                State::Pending | State::Applied(_) => {}
            }
        }
        Ok(())
    }

    fn check_dialect(&self, m: &Migration) -> Result<()> {
        if let Some(ops) = &m.operations
            && ops.dialect != self.dialect.name()
        {
            return Err(Error::Malformed {
                path: m.dir.clone(),
                reason: format!(
                    "it was generated for {}, but the database is {}; generate migrations \
                         with `--dialect {}` (or the database URL) of the target database",
                    ops.dialect, self.dialect, self.dialect
                ),
            });
        }
        Ok(())
    }

    async fn lock(&self, conn: &Connection) -> Result<()> {
        match conn.dialect() {
            Dialect::Postgres => {
                conn.execute_raw(&format!(
                    "SELECT pg_advisory_lock(hashtext(current_schema() || '.{HISTORY_TABLE}'))"
                ))
                .await?;
            }
            Dialect::MySql => {
                let got: Vec<Option<i64>> = conn
                    .fetch_compiled(
                        text(
                            format!(
                                "SELECT CAST(GET_LOCK(CONCAT(DATABASE(), '.{HISTORY_TABLE}'), \
                                 600) AS SIGNED)"
                            ),
                            vec![],
                        ),
                        |r| Option::<i64>::decode(r, 0),
                    )
                    .await?;
                if got.first().copied().flatten() != Some(1) {
                    return Err(Error::from(polyorm_core::Error::LockTimeout {
                        source: "another deployer held the migration lock for 600 s; retry \
                                 when it is done"
                            .into(),
                    }));
                }
            }
            // SQLite: every migration runs in `BEGIN EXCLUSIVE` (see `apply_sqlite`).
            Dialect::Sqlite => {}
        }
        Ok(())
    }

    async fn unlock(&self, conn: &Connection) -> Result<()> {
        match conn.dialect() {
            Dialect::Postgres => {
                conn.execute_raw(&format!(
                    "SELECT pg_advisory_unlock(hashtext(current_schema() || '.{HISTORY_TABLE}'))"
                ))
                .await?;
            }
            Dialect::MySql => {
                conn.execute_raw(&format!(
                    "DO RELEASE_LOCK(CONCAT(DATABASE(), '.{HISTORY_TABLE}'))"
                ))
                .await?;
            }
            Dialect::Sqlite => {}
        }
        Ok(())
    }

    /// Applies pending migrations in order, up to and including `target` (all when `None`).
    /// Returns the ids of the migrations applied (by this call; a concurrent runner may have
    /// applied others). With `dry_run`, returns what would run without running it.
    ///
    /// Refused with [`Error::DivergentHistory`] when two migrations were written on the same
    /// parent (two branches merged): `merge` writes the migration that joins them.
    pub async fn up(&self, target: Option<&str>, dry_run: bool) -> Result<Vec<String>> {
        let migrations = self.migrations()?;
        crate::lineage::check(&migrations)?;
        if let Some(t) = target
            && !migrations.iter().any(|m| m.version == t || m.id() == t)
        {
            return Err(Error::UnknownVersion(t.to_owned()));
        }
        let limit = target.and_then(|t| {
            migrations
                .iter()
                .find(|m| m.version == t || m.id() == t)
                .map(|m| m.version.clone())
        });
        let wanted: Vec<&Migration> = migrations
            .iter()
            .filter(|m| limit.as_ref().is_none_or(|l| m.version <= *l))
            .collect();
        for m in &wanted {
            self.check_dialect(m)?;
        }
        let conn = self.db.acquire().await?;
        let dialect = conn.dialect();
        if dialect != Dialect::Sqlite {
            self.lock(&conn).await?;
        }
        let result = self.up_locked(&conn, &migrations, &wanted, dry_run).await;
        if dialect != Dialect::Sqlite {
            self.unlock(&conn).await?;
        }
        result
    }

    async fn up_locked(
        &self,
        conn: &Connection,
        migrations: &[Migration],
        wanted: &[&Migration],
        dry_run: bool,
    ) -> Result<Vec<String>> {
        let sqlite = conn.dialect() == Dialect::Sqlite;
        let mut applied = Vec::new();
        if !sqlite {
            Self::ensure_history(conn).await?;
        }
        for m in wanted {
            if sqlite {
                conn.execute_raw("PRAGMA foreign_keys = OFF").await?;
                conn.execute_raw("BEGIN EXCLUSIVE").await?;
                Self::ensure_history(conn).await?;
            }
            let step = self.up_one(conn, migrations, m, dry_run).await;
            if sqlite {
                let end = if matches!(step, Ok(true)) && !dry_run {
                    "COMMIT"
                } else {
                    "ROLLBACK"
                };
                conn.execute_raw(end).await?;
                conn.execute_raw("PRAGMA foreign_keys = ON").await?;
            }
            if step? {
                applied.push(m.id());
            }
        }
        Ok(applied)
    }

    /// Applies one migration under the lock; `Ok(false)` when it was already applied.
    async fn up_one(
        &self,
        conn: &Connection,
        migrations: &[Migration],
        m: &Migration,
        dry_run: bool,
    ) -> Result<bool> {
        let history = Self::history_on(conn).await?;
        self.check_history(migrations, &history)?;
        if history.iter().any(|h| h.version == m.version) {
            return Ok(false);
        }
        if dry_run {
            return Ok(true);
        }
        let dialect = conn.dialect();
        let start = Instant::now();
        let statements = m.up_statements(dialect);
        if dialect == Dialect::Postgres {
            conn.execute_raw("BEGIN").await?;
        }
        if let Err(e) = check_rows(conn, migrations, m, false).await {
            if dialect == Dialect::Postgres {
                conn.execute_raw("ROLLBACK").await?;
            }
            return Err(e);
        }
        for (i, stmt) in statements.iter().enumerate() {
            if let Err(source) = conn.execute_raw(stmt).await {
                let state = match dialect {
                    Dialect::Postgres => {
                        conn.execute_raw("ROLLBACK").await?;
                        "the transaction was rolled back: nothing of this migration is applied; \
                         fix it and run `up` again"
                            .to_owned()
                    }
                    Dialect::Sqlite => "the transaction was rolled back: nothing of this \
                                        migration is applied; fix it and run `up` again"
                        .to_owned(),
                    Dialect::MySql => {
                        let row = HistoryRow {
                            version: m.version.clone(),
                            name: m.name.clone(),
                            checksum: m.checksum.clone(),
                            applied_at: now_utc(),
                            execution_ms: start.elapsed().as_millis() as i64,
                            success: false,
                            vcs_revision: crate::lineage::vcs_revision(&self.dir),
                        };
                        Self::record(conn, &row).await?;
                        format!(
                            "{i} of {} statements ran and stay applied; recorded as failed. {}",
                            statements.len(),
                            recovery(dialect, &row, &self.dir.display().to_string())
                        )
                    }
                };
                return Err(Error::Apply {
                    version: m.id(),
                    statement: stmt.clone(),
                    source: Box::new(source),
                    state,
                });
            }
        }
        if dialect == Dialect::Sqlite && m.kind == MigrationKind::Generated {
            let bad: Vec<String> = conn
                .fetch_compiled(text("PRAGMA foreign_key_check", vec![]), |r| {
                    String::decode(r, 0)
                })
                .await?;
            if !bad.is_empty() {
                return Err(Error::Apply {
                    version: m.id(),
                    statement: "PRAGMA foreign_key_check".to_owned(),
                    source: Box::new(polyorm_core::Error::ForeignKeyViolation {
                        constraint: None,
                        source: format!("rows of {} reference missing rows", bad.join(", ")).into(),
                    }),
                    state: "the transaction was rolled back; nothing is applied".to_owned(),
                });
            }
        }
        let row = HistoryRow {
            version: m.version.clone(),
            name: m.name.clone(),
            checksum: m.checksum.clone(),
            applied_at: now_utc(),
            execution_ms: start.elapsed().as_millis() as i64,
            success: true,
            vcs_revision: crate::lineage::vcs_revision(&self.dir),
        };
        Self::record(conn, &row).await?;
        if dialect == Dialect::Postgres {
            conn.execute_raw("COMMIT").await?;
        }
        Ok(true)
    }

    async fn record(conn: &Connection, row: &HistoryRow) -> Result<()> {
        let ph = |i: usize| {
            if conn.dialect() == Dialect::Postgres {
                format!("${i}")
            } else {
                "?".to_owned()
            }
        };
        conn.execute_compiled(text(
            format!(
                "INSERT INTO {HISTORY_TABLE} (version, name, checksum, applied_at, execution_ms, \
                 success, vcs_revision) VALUES ({}, {}, {}, {}, {}, {}, {})",
                ph(1),
                ph(2),
                ph(3),
                ph(4),
                ph(5),
                ph(6),
                ph(7)
            ),
            vec![
                Value::Text(row.version.clone()),
                Value::Text(row.name.clone()),
                Value::Text(row.checksum.clone()),
                Value::Text(row.applied_at.clone()),
                Value::BigInt(row.execution_ms),
                Value::Bool(row.success),
                match &row.vcs_revision {
                    Some(revision) => Value::Text(revision.clone()),
                    None => Value::Null(polyorm_core::ColumnType::Text),
                },
            ],
        ))
        .await?;
        Ok(())
    }

    /// Rolls back the last `steps` applied migrations with their `down.sql`, newest first.
    /// Returns their ids. With `dry_run`, returns what would run without running it.
    pub async fn down(&self, steps: usize, dry_run: bool) -> Result<Vec<String>> {
        let migrations = self.migrations()?;
        let conn = self.db.acquire().await?;
        let dialect = conn.dialect();
        if dialect != Dialect::Sqlite {
            self.lock(&conn).await?;
        }
        let mut done = Vec::new();
        let mut result = Ok(());
        Self::ensure_history(&conn).await?;
        for _ in 0..steps {
            if dialect == Dialect::Sqlite {
                conn.execute_raw("PRAGMA foreign_keys = OFF").await?;
                conn.execute_raw("BEGIN EXCLUSIVE").await?;
            }
            let step = self.down_one(&conn, &migrations, dry_run).await;
            if dialect == Dialect::Sqlite {
                let end = if matches!(step, Ok(Some(_))) && !dry_run {
                    "COMMIT"
                } else {
                    "ROLLBACK"
                };
                conn.execute_raw(end).await?;
                conn.execute_raw("PRAGMA foreign_keys = ON").await?;
            }
            match step {
                Ok(Some(id)) => done.push(id),
                Ok(None) => break,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
            if dry_run {
                break;
            }
        }
        if dialect != Dialect::Sqlite {
            self.unlock(&conn).await?;
        }
        result.map(|()| done)
    }

    async fn down_one(
        &self,
        conn: &Connection,
        migrations: &[Migration],
        dry_run: bool,
    ) -> Result<Option<String>> {
        let history = Self::history_on(conn).await?;
        self.check_history(migrations, &history)?;
        let Some(last) = history.iter().rev().find(|h| h.success) else {
            return Ok(None);
        };
        let m = migrations
            .iter()
            .find(|m| m.version == last.version)
            .ok_or_else(|| Error::MissingApplied(last.version.clone()))?;
        let dialect = conn.dialect();
        let statements = m.down_statements(dialect)?;
        if dry_run {
            return Ok(Some(m.id()));
        }
        if dialect == Dialect::Postgres {
            conn.execute_raw("BEGIN").await?;
        }
        if let Err(e) = check_rows(conn, migrations, m, true).await {
            if dialect == Dialect::Postgres {
                conn.execute_raw("ROLLBACK").await?;
            }
            return Err(e);
        }
        let ph = if dialect == Dialect::Postgres {
            "$1"
        } else {
            "?"
        };
        for (i, stmt) in statements.iter().enumerate() {
            if let Err(source) = conn.execute_raw(stmt).await {
                if dialect == Dialect::Postgres {
                    conn.execute_raw("ROLLBACK").await?;
                }
                let state = if dialect == Dialect::MySql && i > 0 {
                    // Half rolled back: it must not stay recorded as applied.
                    conn.execute_compiled(text(
                        format!("UPDATE {HISTORY_TABLE} SET success = FALSE WHERE version = {ph}"),
                        vec![Value::Text(m.version.clone())],
                    ))
                    .await?;
                    format!(
                        "MySQL/MariaDB cannot roll back DDL: {i} of {} statements of down.sql \
                         ran and stay applied, so the migration is now recorded as failed, not \
                         applied. Finish down.sql by hand and run `DELETE FROM {HISTORY_TABLE} \
                         WHERE version = '{v}'`, or undo those statements and run `UPDATE \
                         {HISTORY_TABLE} SET success = TRUE WHERE version = '{v}'`",
                        statements.len(),
                        v = m.version
                    )
                } else {
                    "nothing of down.sql stayed applied (the transaction was rolled back, or the \
                     first statement failed); the migration is still applied"
                        .to_owned()
                };
                return Err(Error::Apply {
                    version: m.id(),
                    statement: stmt.clone(),
                    source: Box::new(source),
                    state,
                });
            }
        }
        conn.execute_compiled(text(
            format!("DELETE FROM {HISTORY_TABLE} WHERE version = {ph}"),
            vec![Value::Text(m.version.clone())],
        ))
        .await?;
        if dialect == Dialect::Postgres {
            conn.execute_raw("COMMIT").await?;
        }
        Ok(Some(m.id()))
    }

    /// The SQL `up` would run (pending migrations up to `target`), as one reviewable text.
    pub async fn pending_sql(&self, target: Option<&str>) -> Result<String> {
        let ids = self.up(target, true).await?;
        let migrations = self.migrations()?;
        let mut out = String::new();
        for m in migrations.iter().filter(|m| ids.contains(&m.id())) {
            out.push_str(&format!("-- {}\n{}\n", m.id(), m.up.trim_end()));
            out.push('\n');
        }
        Ok(out)
    }

    /// Checks that the history is one line, that applied migrations are unchanged and that the
    /// live schema matches the models. Returns [`Error::Drift`] listing each difference
    /// otherwise.
    pub async fn verify(&self) -> Result<()> {
        let migrations = self.migrations()?;
        crate::lineage::check(&migrations)?;
        let conn = self.db.acquire().await?;
        Self::ensure_history(&conn).await?;
        let history = Self::history_on(&conn).await?;
        self.check_history(&migrations, &history)?;
        let live = introspect::live(&conn).await?;
        // What applied hand-written migrations declare their own, and what was listed.
        let mut owned = introspect::Ownership::default();
        owned.0.extend(self.owned.iter().cloned());
        for m in &migrations {
            if history.iter().any(|h| h.version == m.version && h.success) {
                owned.0.extend(m.owns.iter().cloned());
            }
        }
        let expected = introspect::expected(&self.models, conn.dialect());
        let mut drift = introspect::compare_owned(&expected, &live, &owned);
        let pending = migrations
            .iter()
            .filter(|m| !history.iter().any(|h| h.version == m.version))
            .count();
        if !drift.is_empty() && pending > 0 {
            drift.push(format!("{pending} migration(s) are pending: run `up`"));
        }
        if drift.is_empty() {
            Ok(())
        } else {
            Err(Error::Drift(drift))
        }
    }
}
