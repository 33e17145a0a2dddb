//! Migration directories: `migrations/<UTC timestamp>_<name>/` with `up.sql`, `down.sql`,
//! `operations.json` and `snapshot.json` (generated), or only `up.sql` and `down.sql`
//! (hand-written, e.g. data backfills), in one sequence ordered by timestamp.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use polyorm_core::Dialect;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::diff::{Operation, diff, refused, refused_at};
use crate::error::{Error, Result};
use crate::render::render_op;
use crate::schema::Schema;

/// The files of a migration, in checksum order.
pub const FILES: [&str; 4] = ["up.sql", "down.sql", "operations.json", "snapshot.json"];

/// Whether a migration was generated from the models or written by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationKind {
    /// Generated: has `operations.json` and `snapshot.json`.
    Generated,
    /// Hand-written: only `up.sql` (and usually `down.sql`).
    Sql,
}

/// `operations.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperationsFile {
    /// The dialect the SQL files were rendered for.
    pub dialect: String,
    /// The neutral operations, in order.
    pub operations: Vec<Operation>,
}

/// One migration read from disk.
#[derive(Debug, Clone)]
pub struct Migration {
    /// The UTC timestamp `YYYYMMDDHHMMSS` that orders migrations.
    pub version: String,
    /// The name after the timestamp.
    pub name: String,
    /// The directory.
    pub dir: PathBuf,
    /// Generated or hand-written.
    pub kind: MigrationKind,
    /// `up.sql`.
    pub up: String,
    /// `down.sql`, if present.
    pub down: Option<String>,
    /// `operations.json`, for generated migrations.
    pub operations: Option<OperationsFile>,
    /// `snapshot.json`: the schema after this migration, for generated migrations.
    pub snapshot: Option<Schema>,
    /// `file:sha256` for each present file, space-separated (recorded in the history table).
    pub checksum: String,
    /// The objects a hand-written migration declares its own (`-- orm:owns` lines of
    /// `up.sql`), which `verify` accepts while it is applied.
    pub owns: Vec<crate::introspect::Owned>,
    /// The migrations it was written on (`-- orm:parent` lines of `up.sql`; empty for one
    /// written before lineage was recorded: its parent is the one before it).
    pub parents: Vec<String>,
}

impl Migration {
    /// `<version>_<name>`.
    pub fn id(&self) -> String {
        format!("{}_{}", self.version, self.name)
    }

    /// The statements of `up.sql`, split by `dialect`'s lexical rules.
    pub fn up_statements(&self, dialect: Dialect) -> Vec<String> {
        split_statements(&self.up, dialect)
    }

    /// The statements of `down.sql`, split by `dialect`'s lexical rules.
    pub fn down_statements(&self, dialect: Dialect) -> Result<Vec<String>> {
        match &self.down {
            Some(down) => Ok(split_statements(down, dialect)),
            None => Err(Error::Malformed {
                path: self.dir.clone(),
                reason: "it has no down.sql, so it cannot be rolled back; add one".to_owned(),
            }),
        }
    }

    /// The files whose checksum differs between `recorded` and this migration.
    pub fn changed_files(&self, recorded: &str) -> Vec<String> {
        let parse = |s: &str| -> Vec<(String, String)> {
            s.split_whitespace()
                .filter_map(|p| p.split_once(':'))
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                .collect()
        };
        let (old, new) = (parse(recorded), parse(&self.checksum));
        let mut out: Vec<String> = new
            .iter()
            .filter(|f| !old.contains(f))
            .map(|(f, _)| f.clone())
            .collect();
        out.extend(
            old.iter()
                .filter(|(f, _)| !new.iter().any(|(g, _)| g == f))
                .map(|(f, _)| format!("{f} (removed)")),
        );
        out
    }
}

fn sha256_hex(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    digest.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn read(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

pub(crate) fn write(path: &Path, contents: &str) -> Result<()> {
    std::fs::write(path, contents).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

fn json<T: for<'de> Deserialize<'de>>(path: &Path, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|source| Error::Json {
        path: path.to_owned(),
        source,
    })
}

/// Reads one migration directory.
pub fn load_one(dir: &Path) -> Result<Migration> {
    let base = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let malformed = |reason: &str| Error::Malformed {
        path: dir.to_owned(),
        reason: reason.to_owned(),
    };
    let (version, name) = base
        .split_once('_')
        .filter(|(v, _)| v.len() == 14 && v.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| malformed("the directory name must be `<YYYYMMDDHHMMSS>_<name>`"))?;
    let mut texts = Vec::new();
    let mut checksum = Vec::new();
    for f in FILES {
        let text = read(&dir.join(f))?;
        if let Some(t) = &text {
            checksum.push(format!("{f}:{}", sha256_hex(t.as_bytes())));
        }
        texts.push(text);
    }
    let [up, down, ops, snap]: [Option<String>; 4] = texts.try_into().expect("four files");
    let up = up.ok_or_else(|| malformed("it has no up.sql"))?;
    let (kind, operations, snapshot) = match (ops, snap) {
        (Some(o), Some(s)) => (
            MigrationKind::Generated,
            Some(json(&dir.join("operations.json"), &o)?),
            Some(json(&dir.join("snapshot.json"), &s)?),
        ),
        (None, None) => (MigrationKind::Sql, None, None),
        _ => {
            return Err(malformed(
                "a generated migration needs both operations.json and snapshot.json; restore \
                 the missing one from version control",
            ));
        }
    };
    let owns = match kind {
        MigrationKind::Sql => crate::introspect::Owned::directives(&up)
            .map_err(|e| malformed(&format!("an `-- orm:owns` line of up.sql is wrong: {e}")))?,
        MigrationKind::Generated => Vec::new(),
    };
    Ok(Migration {
        owns,
        parents: crate::lineage::parents_in(&up),
        version: version.to_owned(),
        name: name.to_owned(),
        dir: dir.to_owned(),
        kind,
        up,
        down,
        operations,
        snapshot,
        checksum: checksum.join(" "),
    })
}

/// Reads every migration under `dir`, ordered by version. A missing directory has none.
pub fn load_dir(dir: &Path) -> Result<Vec<Migration>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(Error::Io {
                path: dir.to_owned(),
                source,
            });
        }
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| Error::Io {
            path: dir.to_owned(),
            source,
        })?;
        if entry.path().is_dir() && !entry.file_name().to_string_lossy().starts_with('.') {
            out.push(load_one(&entry.path())?);
        }
    }
    out.sort_by(|a, b| a.version.cmp(&b.version).then(a.name.cmp(&b.name)));
    for pair in out.windows(2) {
        if pair[0].version == pair[1].version {
            return Err(Error::Malformed {
                path: pair[1].dir.clone(),
                reason: format!(
                    "its version {} is also used by {}; give one of them a later timestamp",
                    pair[1].version,
                    pair[0].id()
                ),
            });
        }
    }
    Ok(out)
}

/// The schema recorded by the last generated migration (empty when there is none).
pub fn latest_snapshot(migrations: &[Migration]) -> Schema {
    migrations
        .iter()
        .rev()
        .find_map(|m| m.snapshot.clone())
        .unwrap_or_default()
}

pub use crate::split::split_statements;

/// The current UTC time as `YYYYMMDDHHMMSS`.
pub fn utc_timestamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format_timestamp(secs)
}

/// Formats seconds since the Unix epoch as `YYYYMMDDHHMMSS` (UTC).
pub fn format_timestamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// What [`generate`] wrote.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The new migration's directory.
    pub dir: PathBuf,
    /// Its operations.
    pub operations: Vec<Operation>,
}

/// Options of [`generate`].
#[derive(Debug, Clone, std::default::Default)]
pub struct GenerateOptions {
    /// Targets (`table` or `table.column`) whose destructive operations are accepted.
    pub allow: Vec<String>,
    /// Accept every destructive operation.
    pub allow_destructive: bool,
    /// The version to use instead of the current UTC time (tests, reproducible builds).
    pub version: Option<String>,
}

/// The up or down SQL file of `ops`: one commented block per operation.
pub fn sql_file(
    header: &str,
    ops: &[Operation],
    before: &Schema,
    dialect: Dialect,
) -> Result<String> {
    let mut out = format!("-- {header}\n");
    let mut state = before.clone();
    for op in ops {
        out.push_str(&format!("\n-- {}\n", op.describe()));
        for stmt in render_op(op, &state, dialect)? {
            out.push_str(&stmt);
            out.push_str(";\n");
        }
        state.apply(op);
    }
    Ok(out)
}

/// Diffs `desired` against the last snapshot in `dir` and writes a new migration named `name`
/// rendered for `dialect`; `Ok(None)` when nothing changed.
pub fn generate(
    dir: &Path,
    name: &str,
    desired: &Schema,
    dialect: Dialect,
    options: &GenerateOptions,
) -> Result<Option<Generated>> {
    check_name(name)?;
    let existing = load_dir(dir)?;
    // A divergent history's latest snapshot lacks the other branches' changes: the diff would
    // write them again.
    crate::lineage::check(&existing)?;
    let before = latest_snapshot(&existing);
    let desired = &desired.for_dialect(dialect);
    let ops = diff(&before, desired)?;
    if ops.is_empty() {
        return Ok(None);
    }
    let hazards = refused(&ops, &options.allow, options.allow_destructive);
    if !hazards.is_empty() {
        return Err(Error::Destructive(hazards));
    }
    let mut after = before.clone();
    for op in &ops {
        after.apply(op);
    }
    let (id, path) = create_migration_dir(dir, &existing, name, options.version.clone())?;
    let mut up = sql_file(
        &format!("{id} (up): generated by polyorm-migrate for {dialect}; review before applying"),
        &ops,
        &before,
        dialect,
    )?;
    // The migration it was written on, for the lineage check after branches merge.
    if let Some(parent) = existing.last() {
        let header_end = up.find('\n').map_or(up.len(), |i| i + 1);
        up.insert_str(
            header_end,
            &crate::lineage::parent_lines(std::slice::from_ref(&parent.id())),
        );
    }
    let inverse: Vec<Operation> = ops.iter().rev().map(Operation::inverse).collect();
    let down = sql_file(
        &format!("{id} (down): generated by polyorm-migrate for {dialect}; undoes up.sql"),
        &inverse,
        &after,
        dialect,
    )?;
    let ops_file = OperationsFile {
        dialect: dialect.name().to_owned(),
        operations: ops.clone(),
    };
    let mut ops_json = serde_json::to_string_pretty(&ops_file).expect("operations serialize");
    ops_json.push('\n');
    write(&path.join("up.sql"), &up)?;
    write(&path.join("down.sql"), &down)?;
    write(&path.join("operations.json"), &ops_json)?;
    write(&path.join("snapshot.json"), &after.to_json())?;

    Ok(Some(Generated {
        dir: path,
        operations: ops,
    }))
}

/// Refuses a migration name that is not letters, digits, `_` and `-`.
pub(crate) fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(Error::Unsupported(format!(
            "migration name `{name}`: use letters, digits, `_` and `-` only"
        )));
    }
    Ok(())
}

/// Creates the directory of a new migration named `name` and returns its id and path. Its
/// version is `wanted` or the current UTC time, made later than every existing one (same
/// second, or a clock behind the last migration: the order stays strict).
pub(crate) fn create_migration_dir(
    dir: &Path,
    existing: &[Migration],
    name: &str,
    wanted: Option<String>,
) -> Result<(String, PathBuf)> {
    let mut version = wanted.unwrap_or_else(utc_timestamp);
    if let Some(last) = existing.last()
        && version <= last.version
    {
        let next: u64 = last.version.parse().unwrap_or(0) + 1;
        version = format!("{next:014}");
    }
    let id = format!("{version}_{name}");
    let path = dir.join(&id);
    std::fs::create_dir_all(&path).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    Ok((id, path))
}

/// [`generate`] with a database at hand (the CLI's `--database-url`, [`crate::Migrator::dev`]):
/// the dialect is the database's, and a refusal says, for each destructive operation, how many
/// rows it would lose or fail on in that database, with a few of their keys, so that the
/// choice to `--allow` it is an informed one.
pub async fn generate_with_db<E: polyorm_core::Executor>(
    db: &E,
    dir: &Path,
    name: &str,
    desired: &Schema,
    options: &GenerateOptions,
) -> Result<Option<Generated>> {
    let dialect = crate::runner::sql_dialect(db)?;
    match generate(dir, name, desired, dialect, options) {
        Err(Error::Destructive(plain)) => {
            let before = latest_snapshot(&load_dir(dir)?);
            let ops = diff(&before, &desired.for_dialect(dialect))?;
            let refusals = refused_at(&ops, &options.allow, options.allow_destructive);
            if refusals.len() != plain.len() {
                return Err(Error::Destructive(plain));
            }
            let checks = crate::rows::row_checks(&ops, &before, dialect);
            let mut out = Vec::with_capacity(refusals.len());
            for (i, hazard) in refusals {
                let mut line = hazard;
                for check in checks.iter().filter(|c| c.op == i) {
                    match check.count(db, dialect, 3).await {
                        Ok(count) => {
                            line.push_str(&format!(
                                "\n      in the database: {}",
                                check.describe(&count)
                            ));
                        }
                        Err(e) => line.push_str(&format!(
                            "\n      in the database: could not count the rows of {} ({e}); is \
                             every migration applied?",
                            check.subject
                        )),
                    }
                }
                out.push(line);
            }
            Err(Error::Destructive(out))
        }
        other => other,
    }
}
