//! Verifying archives and restoring them into a database of any backend.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use futures::TryStreamExt;
use polyorm_core::query::ir::{
    DeleteQuery, InsertQuery, OnConflict, Projection, SelectQuery, Statement, UpsertQuery,
};
use polyorm_core::{Backend, ColumnType, Db, Dialect, Executor, ModelSchema, Value};
use polyorm_migrate::Schema;
use polyorm_migrate::schema::Table;
use polyorm_storage::codec::KeyProvider;

use crate::archive::{Archive, PartRows};
use crate::backup::{PROGRESS_EVERY, Progress, ProgressFn};
use crate::decode::decoder_for;
use crate::error::{BackupError, Result};
use crate::format::{RowDigest, encode_row, encode_value, row_hash};
use crate::manifest::{BackupKind, Manifest, Part};
use crate::schema::{dependency_order, descriptor};

/// What a verification found: every part read, decrypted, decoded and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The archive's id.
    pub id: String,
    /// Rows in the archive.
    pub rows: u64,
    /// Stored bytes read.
    pub bytes: u64,
}

/// Reads every part of `archive` (decrypting with `keys` where it is encrypted) and checks
/// it against the manifest: the stored SHA-256, the frames (none missing, none altered), the
/// row count and the rows' digest.
///
/// # Errors
/// [`BackupError::Corrupt`] or [`BackupError::WrongKey`] with what does not match.
pub fn verify(archive: &Archive, keys: Option<Arc<dyn KeyProvider>>) -> Result<Verified> {
    let m = archive.manifest();
    check_hashes(archive)?;
    for part in &m.parts {
        let mut rows = archive.rows(part, keys.clone())?;
        while !rows.next_batch(4096)?.is_empty() {}
    }
    Ok(Verified {
        id: m.id.clone(),
        rows: m.rows(),
        bytes: m.bytes(),
    })
}

/// The stored SHA-256 of every part first: a changed byte is corruption, whatever the
/// decryption would say of it.
fn check_hashes(archive: &Archive) -> Result<()> {
    archive
        .manifest()
        .parts
        .iter()
        .try_for_each(|part| archive.hash_part(part))
}

/// What a restore did, per table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoredTable {
    /// The table.
    pub table: String,
    /// Whether the restore created it.
    pub created: bool,
    /// Rows the table holds after the restore (checked against the archives).
    pub rows: u64,
}

/// A restore's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// The archives applied, full first.
    pub archives: Vec<String>,
    /// Each table restored.
    pub tables: Vec<RestoredTable>,
    /// Rows written (inserted or upserted).
    pub rows_written: u64,
}

/// A restore of an archive, or of a chain (a full backup, then incrementals or a
/// differential), into a database of any backend.
///
/// Before anything is written, every archive is verified ([`verify`]), the chain's links are
/// checked, the target's ability to hold each table is checked (the schema is rendered by the
/// migration engine for SQL targets) and the target tables are counted: refusals
/// ([`BackupError::Corrupt`], [`BackupError::WrongKey`], [`BackupError::BrokenChain`],
/// [`BackupError::UnsupportedSchema`], [`BackupError::TargetNotEmpty`]) leave the target as it
/// was. Then missing tables are created, rows inserted in batches (in one transaction per table
/// on SQL backends), keys' sequences and counters moved past the restored keys, incrementals
/// applied as upserts, and every table read back: its row count and digest must equal the
/// archives'.
#[derive(Clone)]
pub struct Restore {
    keys: Option<Arc<dyn KeyProvider>>,
    replace: bool,
    batch: usize,
    verify_after: bool,
    only: Option<Vec<String>>,
    progress: Option<ProgressFn>,
}

impl Default for Restore {
    fn default() -> Self {
        Restore::new()
    }
}

impl std::fmt::Debug for Restore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Restore")
            .field("keyed", &self.keys.is_some())
            .field("replace", &self.replace)
            .field("batch", &self.batch)
            .field("verify_after", &self.verify_after)
            .finish_non_exhaustive()
    }
}

/// One table of a restore: its descriptors and what the archives hold of it.
struct Plan<'a> {
    table: &'a Table,
    /// Reads, counts and deletes (auto-increment as declared).
    schema: &'static ModelSchema,
    /// Inserts that write the archived keys.
    writes: &'static ModelSchema,
    exists: bool,
    /// Rows expected after the restore: count and digest.
    expected: (u64, RowDigest),
}

impl Restore {
    /// A restore into empty tables, batches of 1,000 rows, verified afterwards.
    pub fn new() -> Restore {
        Restore {
            keys: None,
            replace: false,
            batch: 1000,
            verify_after: true,
            only: None,
            progress: None,
        }
    }

    /// The keys of encrypted archives (see [`crate::keys`]).
    pub fn key(mut self, keys: Arc<dyn KeyProvider>) -> Restore {
        self.keys = Some(keys);
        self
    }

    /// Deletes the rows of non-empty target tables first, instead of refusing.
    pub fn replace(mut self) -> Restore {
        self.replace = true;
        self
    }

    /// Rows per insert statement (default 1,000).
    pub fn batch_size(mut self, rows: usize) -> Restore {
        self.batch = rows.max(1);
        self
    }

    /// Skips reading the tables back after the restore (faster; the archive was verified
    /// before anything was written in any case).
    pub fn skip_final_check(mut self) -> Restore {
        self.verify_after = false;
        self
    }

    /// Restores only these tables of the archives (the others are left out, also from the
    /// checks).
    pub fn only<I: IntoIterator<Item = S>, S: Into<String>>(mut self, tables: I) -> Restore {
        self.only = Some(tables.into_iter().map(Into::into).collect());
        self
    }

    /// Calls `f` with the progress every 10,000 rows and at each table's end.
    pub fn on_progress(mut self, f: impl Fn(&Progress) + Send + Sync + 'static) -> Restore {
        self.progress = Some(Arc::new(f));
        self
    }

    /// Restores `chain` (a full archive, then the incrementals that follow it, or one
    /// differential) into `db`.
    ///
    /// # Errors
    /// The refusals listed on [`Restore`] (nothing written), [`BackupError::Database`] when a
    /// write fails, [`BackupError::VerificationFailed`] when the target does not read back as
    /// the archives hold.
    pub async fn run(&self, db: &Db, chain: &[Archive]) -> Result<Restored> {
        check_chain(chain)?;
        // 1. Every archive verified; for a chain, the final rows per key computed.
        let expected = self.expected_rows(chain)?;
        // 2. The tables: the first archive to hold a table defines it.
        let mut tables: BTreeMap<&str, &Table> = BTreeMap::new();
        for archive in chain {
            for (name, table) in &archive.manifest().schema.tables {
                tables.entry(name.as_str()).or_insert(table);
            }
        }
        if let Some(only) = &self.only {
            if let Some(missing) = only.iter().find(|t| !tables.contains_key(t.as_str())) {
                return Err(BackupError::Config(format!(
                    "the archives hold no table `{missing}` (they hold {})",
                    tables.keys().copied().collect::<Vec<_>>().join(", ")
                )));
            }
            tables.retain(|name, _| only.iter().any(|t| t == name));
        }
        let backend = db.backend();
        let source = chain.first().map_or("", |a| a.manifest().source.as_str());
        let portable = tables
            .values()
            .map(|t| portable_collations(t, source, backend))
            .collect::<Result<Vec<Table>>>()?;
        let ordered = dependency_order(&portable.iter().collect::<Vec<_>>());
        let existing = existing_tables(db, &ordered).await?;
        let mut plans: Vec<Plan> = ordered
            .iter()
            .map(|t| Plan {
                table: t,
                schema: descriptor(t, false),
                writes: descriptor(t, true),
                exists: existing.contains_key(&t.name),
                expected: expected.get(&t.name).copied().unwrap_or_default(),
            })
            .collect();
        // 3. The schema the target must create, rendered before anything runs.
        let ddl = create_statements(backend, &plans)?;
        // 4. Non-empty targets.
        let full: Vec<(&Plan, u64)> = plans
            .iter()
            .filter_map(|p| existing.get(&p.table.name).map(|&n| (p, n)))
            .filter(|(_, n)| *n > 0)
            .collect();
        if !full.is_empty() && !self.replace {
            return Err(BackupError::TargetNotEmpty {
                tables: full
                    .iter()
                    .map(|(p, n)| format!("{} ({n} rows)", p.table.name))
                    .collect(),
            });
        }
        // 5. Writes.
        match ddl {
            Some(statements) => {
                for s in statements {
                    db.execute_raw(&s)
                        .await
                        .map_err(BackupError::db(format!("creating the schema: {s}")))?;
                }
            }
            None => {
                for p in plans.iter().filter(|p| !p.exists) {
                    db.create_table_of(p.schema)
                        .await
                        .map_err(BackupError::db(format!("creating {}", p.table.name)))?;
                }
            }
        }
        if self.replace {
            for p in plans.iter().rev().filter(|p| p.exists) {
                db.execute(Statement::Delete(DeleteQuery {
                    schema: p.schema,
                    filter: None,
                }))
                .await
                .map_err(BackupError::db(format!("emptying {}", p.table.name)))?;
            }
        }
        let mut written = 0u64;
        let count = plans.len();
        for (i, archive) in chain.iter().enumerate() {
            for (n, plan) in plans.iter_mut().enumerate() {
                let Some(part) = archive.manifest().part(&plan.table.name) else {
                    continue;
                };
                written += self
                    .write_part(db, archive, part, plan, i > 0, n, count)
                    .await?;
            }
        }
        // 6. Read back.
        let mut report = Vec::new();
        for plan in &plans {
            let rows = if self.verify_after {
                read_back(db, plan).await?
            } else {
                plan.expected.0
            };
            report.push(RestoredTable {
                table: plan.table.name.clone(),
                created: !plan.exists,
                rows,
            });
        }
        Ok(Restored {
            archives: chain.iter().map(|a| a.manifest().id.clone()).collect(),
            tables: report,
            rows_written: written,
        })
    }

    /// Verifies every archive and returns, per table, the row count and digest the target
    /// must hold afterwards (for a chain: each key's last version).
    fn expected_rows(&self, chain: &[Archive]) -> Result<HashMap<String, (u64, RowDigest)>> {
        for archive in chain {
            check_hashes(archive)?;
        }
        let mut out = HashMap::new();
        if chain.len() == 1 {
            let archive = &chain[0];
            for part in &archive.manifest().parts {
                let mut rows = archive.rows(part, self.keys.clone())?;
                let mut digest = RowDigest::default();
                loop {
                    let batch = rows.next_batch(4096)?;
                    if batch.is_empty() {
                        break;
                    }
                    for (_, hash) in batch {
                        digest.add_hash(hash);
                    }
                }
                out.insert(part.table.clone(), (part.rows, digest));
            }
            return Ok(out);
        }
        // A chain: the last version of each key wins (memory: one hash pair per key).
        let mut by_key: HashMap<String, HashMap<Vec<u8>, u128>> = HashMap::new();
        for archive in chain {
            let schema = &archive.manifest().schema;
            for part in &archive.manifest().parts {
                let key = key_positions(schema, part);
                let table = by_key.entry(part.table.clone()).or_default();
                let mut rows = archive.rows(part, self.keys.clone())?;
                loop {
                    let batch = rows.next_batch(4096)?;
                    if batch.is_empty() {
                        break;
                    }
                    for (row, hash) in batch {
                        table.insert(key_bytes(&row, &key), hash);
                    }
                }
            }
        }
        for (table, keys) in by_key {
            let mut digest = RowDigest::default();
            for hash in keys.values() {
                digest.add_hash(*hash);
            }
            out.insert(table, (keys.len() as u64, digest));
        }
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    async fn write_part(
        &self,
        db: &Db,
        archive: &Archive,
        part: &Part,
        plan: &Plan<'_>,
        upsert: bool,
        n: usize,
        tables: usize,
    ) -> Result<u64> {
        let mut rows = archive.rows(part, self.keys.clone())?;
        let doing = format!("restoring rows of {}", plan.table.name);
        let auto = plan.schema.columns.iter().position(|c| c.auto_increment);
        let mut max_key: Option<i64> = None;
        let mut done = 0u64;
        let sql = db.backend().is_sql();
        let tx = if sql {
            Some(db.begin().await.map_err(BackupError::db(&doing))?)
        } else {
            None
        };
        loop {
            let batch = next_rows(&mut rows, self.batch)?;
            if batch.is_empty() {
                break;
            }
            if let Some(i) = auto {
                for row in &batch {
                    if let Some(k) = integer(&row[i]) {
                        max_key = Some(max_key.map_or(k, |m| m.max(k)));
                    }
                }
            }
            let len = batch.len() as u64;
            let insert = InsertQuery {
                schema: plan.writes,
                rows: batch,
                returning: false,
            };
            let statement = if upsert {
                let key: Vec<&'static str> =
                    plan.writes.primary_key_columns().map(|c| c.name).collect();
                Statement::Upsert(UpsertQuery {
                    insert,
                    on_conflict: OnConflict {
                        columns: key,
                        update: plan
                            .writes
                            .columns
                            .iter()
                            .filter(|c| !c.primary_key)
                            .map(|c| c.name)
                            .collect(),
                    },
                })
            } else {
                Statement::Insert(insert)
            };
            match &tx {
                Some(tx) => tx.execute(statement).await,
                None => db.execute(statement).await,
            }
            .map_err(BackupError::db(&doing))?;
            let before = done;
            done += len;
            if let Some(f) = &self.progress
                && before / PROGRESS_EVERY != done / PROGRESS_EVERY
            {
                f(&Progress {
                    table: plan.table.name.clone(),
                    rows: done,
                    total: Some(part.rows),
                    tables_done: n,
                    tables,
                });
            }
        }
        if let Some(tx) = tx {
            tx.commit().await.map_err(BackupError::db(&doing))?;
        }
        if let (Some(i), Some(max)) = (auto, max_key) {
            advance_keys(db, plan.schema, i, max).await?;
        }
        if let Some(f) = &self.progress {
            f(&Progress {
                table: plan.table.name.clone(),
                rows: done,
                total: Some(part.rows),
                tables_done: n + 1,
                tables,
            });
        }
        Ok(done)
    }
}

fn next_rows(rows: &mut PartRows, max: usize) -> Result<Vec<Vec<Value>>> {
    Ok(rows
        .next_batch(max)?
        .into_iter()
        .map(|(row, _)| row)
        .collect())
}

fn integer(v: &Value) -> Option<i64> {
    match v {
        Value::SmallInt(i) => Some(i64::from(*i)),
        Value::Int(i) => Some(i64::from(*i)),
        Value::BigInt(i) => Some(*i),
        _ => None,
    }
}

/// Positions of `part`'s key columns.
fn key_positions(schema: &Schema, part: &Part) -> Vec<usize> {
    let key = schema
        .tables
        .get(&part.table)
        .map(|t| t.primary_key.clone())
        .unwrap_or_default();
    let positions: Vec<usize> = key
        .iter()
        .filter_map(|k| part.columns.iter().position(|c| &c.name == k))
        .collect();
    if positions.is_empty() {
        (0..part.columns.len()).collect()
    } else {
        positions
    }
}

fn key_bytes(row: &[Value], key: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    for &i in key {
        let _ = encode_value(&row[i], &mut out);
    }
    out
}

/// The links of a chain: a full backup first, then each incremental continuing the one
/// before it, each differential continuing the full one.
fn check_chain(chain: &[Archive]) -> Result<()> {
    let Some(first) = chain.first() else {
        return Err(BackupError::BrokenChain("no archive to restore".to_owned()));
    };
    let full = first.manifest();
    if full.kind != BackupKind::Full {
        return Err(BackupError::BrokenChain(format!(
            "`{}` is {}: a restore starts from a full backup (its base is `{}`)",
            full.id, full.kind, full.base
        )));
    }
    for pair in chain.windows(2) {
        let (before, next): (&Manifest, &Manifest) = (pair[0].manifest(), pair[1].manifest());
        let parent = next.parent.as_deref().unwrap_or_default();
        let ok = match next.kind {
            BackupKind::Full => false,
            BackupKind::Incremental => parent == before.id,
            BackupKind::Differential => parent == full.id,
        };
        if !ok {
            return Err(BackupError::BrokenChain(format!(
                "`{}` ({}) continues `{parent}`, but follows `{}` in the chain given",
                next.id, next.kind, before.id
            )));
        }
    }
    Ok(())
}

/// Target tables that exist, with their row counts.
async fn existing_tables(db: &Db, tables: &[&Table]) -> Result<HashMap<String, u64>> {
    let mut out = HashMap::new();
    let live = match db.backend() {
        Backend::Sql(_) => Some(
            polyorm_migrate::introspect::live_schema(db)
                .await
                .map_err(|e| BackupError::Config(format!("reading the target's tables: {e}")))?,
        ),
        _ => None,
    };
    for table in tables {
        if let Some(live) = &live
            && !live.tables.contains_key(&table.name)
        {
            continue;
        }
        let schema = descriptor(table, false);
        let n = db
            .count(SelectQuery::new(schema, Projection::Count))
            .await
            .map_err(BackupError::db(format!("counting {}", table.name)))?;
        if live.is_some() || n > 0 {
            out.insert(table.name.clone(), n);
        }
    }
    Ok(out)
}

/// Collations that compare strings byte by byte, under the names each database gives them:
/// the one every database the ORM creates text columns with by default (PostgreSQL `C`,
/// MySQL/MariaDB's binary `utf8mb4` ones, SQLite `BINARY`).
const BYTEWISE_COLLATIONS: [&str; 7] = [
    "C",
    "POSIX",
    "BINARY",
    "binary",
    "utf8mb4_bin",
    "utf8mb4_nopad_bin",
    "utf8mb4_0900_bin",
];

/// `table` as `target` can create it when its rows were read from `source` (the backend's
/// name in the manifest). A collation is a database's own name: into the same kind of
/// database it is kept (and MongoDB creates none); into another, a byte-order collation and PostgreSQL's `default` (the
/// database's own default) become the target's default (byte order, as the ORM creates
/// text columns everywhere), and any other is refused before anything is written — the
/// target would compare and sort that column differently, or reject the name.
fn portable_collations(table: &Table, source: &str, target: Backend) -> Result<Table> {
    let mut table = table.clone();
    // MongoDB has no column collations to create.
    if source == target.to_string() || target.dialect().is_none() {
        return Ok(table);
    }
    for column in &mut table.columns {
        let Some(name) = column.collation.as_deref() else {
            continue;
        };
        if name == "default" || BYTEWISE_COLLATIONS.contains(&name) {
            column.collation = None;
            continue;
        }
        return Err(BackupError::UnsupportedSchema {
            backend: target.to_string(),
            table: table.name.clone(),
            detail: format!(
                "column `{}` has the {source} collation `{name}`, which {target} does not \
                 have; restore into {source}, or change the column to a byte-order collation \
                 (`C` on PostgreSQL, `utf8mb4_bin` on MySQL/MariaDB) before the backup",
                column.name
            ),
        });
    }
    Ok(table)
}

/// The DDL creating the missing tables on a SQL target (`None` on MongoDB, where collections
/// are created from the descriptors); refuses tables the target cannot hold.
fn create_statements(backend: Backend, plans: &[Plan<'_>]) -> Result<Option<Vec<String>>> {
    let unsupported = |table: &str, detail: String| BackupError::UnsupportedSchema {
        backend: backend.to_string(),
        table: table.to_owned(),
        detail,
    };
    let Some(dialect) = backend.dialect() else {
        for p in plans {
            if let Some(c) = p.table.columns.iter().find(|c| c.ty == ColumnType::U64) {
                return Err(unsupported(
                    &p.table.name,
                    format!("column `{}` is a u64, which BSON cannot store", c.name),
                ));
            }
        }
        return Ok(None);
    };
    let mut statements = Vec::new();
    for p in plans.iter().filter(|p| !p.exists) {
        if dialect != Dialect::MySql
            && let Some(c) = p.table.columns.iter().find(|c| c.ty == ColumnType::U64)
        {
            return Err(unsupported(
                &p.table.name,
                format!(
                    "column `{}` is a u64, which only MySQL/MariaDB can store",
                    c.name
                ),
            ));
        }
        let one = Schema {
            tables: BTreeMap::from([(p.table.name.clone(), p.table.clone())]),
        };
        let before = Schema::default();
        let ops = polyorm_migrate::diff(&before, &one)
            .map_err(|e| unsupported(&p.table.name, e.to_string()))?;
        let sql = polyorm_migrate::render::render_up(&ops, &before, dialect)
            .map_err(|e| unsupported(&p.table.name, e.to_string()))?;
        statements.extend(sql);
    }
    Ok(Some(statements))
}

/// Moves the table's key generator past the restored keys (PostgreSQL sequences, MongoDB
/// counters; MySQL/MariaDB and SQLite move theirs on explicit inserts).
async fn advance_keys(
    db: &Db,
    schema: &'static ModelSchema,
    column: usize,
    max: i64,
) -> Result<()> {
    let doing = format!("moving the key sequence of {}", schema.table);
    match db.backend() {
        Backend::Sql(Dialect::Postgres) => {
            let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
            let table = quote(schema.table);
            let col = schema.columns[column].name;
            let sql = format!(
                "SELECT setval(pg_get_serial_sequence('{}', '{}'), GREATEST(COALESCE((SELECT MAX({}) FROM {table}), 0), {max}, 1))",
                table.replace('\'', "''"),
                col.replace('\'', "''"),
                quote(col),
            );
            db.execute_raw(&sql).await.map_err(BackupError::db(doing))?;
        }
        Backend::MongoDb => {
            static COLUMNS: [polyorm_core::ColumnSchema; 2] = [
                polyorm_core::ColumnSchema::plain("id", ColumnType::Text, false, true),
                polyorm_core::ColumnSchema::plain("seq", ColumnType::BigInt, false, false),
            ];
            static COUNTERS: ModelSchema = ModelSchema {
                name: "OrmCounter",
                table: COUNTERS_COLLECTION,
                columns: &COLUMNS,
                primary_key: &[0],
                indexes: &[],
                foreign_keys: &[],
                checks: &[],
                renamed_from: None,
                shard_key: None,
                soft_delete: None,
            };
            db.execute(Statement::Upsert(UpsertQuery {
                insert: InsertQuery {
                    schema: &COUNTERS,
                    rows: vec![vec![
                        Value::Text(schema.table.to_owned()),
                        Value::BigInt(max),
                    ]],
                    returning: false,
                },
                on_conflict: OnConflict {
                    columns: vec!["id"],
                    update: vec!["seq"],
                },
            }))
            .await
            .map_err(BackupError::db(doing))?;
        }
        _ => {}
    }
    Ok(())
}

/// The collection of MongoDB's auto-increment counters (polyorm-core's `COUNTERS_COLLECTION`).
const COUNTERS_COLLECTION: &str = "__orm_counters";

/// Reads the restored table back: its row count and digest must be the archives'.
async fn read_back(db: &Db, plan: &Plan<'_>) -> Result<u64> {
    let doing = format!("reading {} back", plan.table.name);
    let decoder = decoder_for(plan.schema)?;
    let mut rows = db.fetch_stream(SelectQuery::new(plan.schema, Projection::Model), decoder);
    let mut digest = RowDigest::default();
    let mut count = 0u64;
    let mut buf = Vec::new();
    while let Some(row) = rows.try_next().await.map_err(BackupError::db(&doing))? {
        buf.clear();
        encode_row(&row, &mut buf).map_err(BackupError::Config)?;
        digest.add_hash(row_hash(&buf));
        count += 1;
    }
    let (rows, expected) = plan.expected;
    if count != rows {
        return Err(BackupError::VerificationFailed {
            table: plan.table.name.clone(),
            detail: format!("{count} rows read back, the archives hold {rows}"),
        });
    }
    if digest != expected {
        return Err(BackupError::VerificationFailed {
            table: plan.table.name.clone(),
            detail: "the rows read back differ from the archived rows (digest)".to_owned(),
        });
    }
    Ok(count)
}
