//! Migration files written by earlier versions still load, verify and re-serialize identically.
//!
//! `tests/fixtures/v0_1/<dialect>/` holds the migrations that polyorm-migrate 0.1 (commit f2d5e18,
//! before the schema types were shared with polyorm-core) generated with [`generate`] from
//! [`steps`]: the shared test models' three versions, then the models below (every column type,
//! every default kind, every referential action), versions `20260101000000` + i, destructive
//! operations allowed. Each directory's `checksums.txt` is what that version recorded in the
//! history table. A change of the serialized form of the schema types, or of the SQL rendered
//! from it, fails these tests; the fixtures are never regenerated.

mod common;

use std::path::{Path, PathBuf};

use polyorm::Dialect;
use polyorm::prelude::*;
use polyorm_migrate::Schema;
use polyorm_migrate::files::{GenerateOptions, OperationsFile, load_dir, sql_file};
use polyorm_migrate::{Migrator, generate};

use common::versions;

/// One column of every logical type, with every kind of default.
#[derive(Model, Debug)]
#[orm(table = "every_type", unique(small, int), index(text_bounded, big))]
struct EveryType {
    #[orm(primary_key, auto_increment)]
    id: i64,
    #[orm(default = true)]
    flag: bool,
    #[orm(default = -3)]
    small: i16,
    int: Option<i32>,
    #[orm(default = 9_000_000_000)]
    big: i64,
    #[orm(default = 1.25)]
    float: f32,
    double: Option<f64>,
    #[orm(default = "it's")]
    text: String,
    #[orm(max_length = 20)]
    text_bounded: String,
    bytes: Vec<u8>,
    tiny: u8,
    #[orm(default = 7)]
    unsigned_small: u16,
    unsigned: u32,
    huge: u64,
    at: chrono::DateTime<chrono::Utc>,
    naive_at: Option<chrono::NaiveDateTime>,
    day: chrono::NaiveDate,
    clock: chrono::NaiveTime,
    key: uuid::Uuid,
    oid: polyorm::bson::oid::ObjectId,
    #[orm(precision = 10, scale = 2)]
    price: rust_decimal::Decimal,
    amount: Option<rust_decimal::Decimal>,
    doc: serde_json::Value,
    #[orm(default = "Draft")]
    state: State,
}

/// A text-encoded enum column (`allowed_values`).
#[derive(SqlEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Draft,
    Published,
    Archived,
}

/// A composite primary key and one foreign key per referential action.
#[derive(Model, Debug)]
#[orm(table = "every_action", primary_key(a, b))]
struct EveryAction {
    a: i64,
    b: i32,
    #[orm(belongs_to = EveryType, on_delete = "cascade", on_update = "restrict")]
    cascade_id: i64,
    #[orm(belongs_to = EveryType, on_delete = "set_null", on_update = "cascade")]
    set_null_id: Option<i64>,
    #[orm(belongs_to = EveryType, on_delete = "set_default", on_update = "set_default")]
    set_default_id: Option<i64>,
    #[orm(belongs_to = EveryType, on_delete = "restrict", on_update = "set_null")]
    restrict_id: Option<i64>,
    #[orm(belongs_to = EveryType)]
    no_action_id: i64,
}

const DIALECTS: [Dialect; 3] = [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite];

/// The desired schema of each fixture migration on `dialect`, in order: the shared test models'
/// three versions, then every type and action (without `u64`, which only MySQL stores, and with
/// a collation of the dialect's own).
fn steps(dialect: Dialect) -> Vec<(&'static str, Schema)> {
    let mut out = versions();
    let mut last = out.last().expect("three versions").1.clone();
    let mut every = Schema::from_models([EveryType::SCHEMA, EveryAction::SCHEMA]);
    if dialect == Dialect::MySql {
        // InnoDB does not implement SET DEFAULT (it keeps RESTRICT).
        let actions = every
            .tables
            .get_mut("every_action")
            .expect("declared above");
        actions
            .foreign_keys
            .retain(|fk| fk.name != "fk_every_action_set_default_id");
    }
    let table = every.tables.get_mut("every_type").expect("declared above");
    if dialect != Dialect::MySql {
        table.columns.retain(|c| c.name != "huge");
    }
    // A collation each dialect knows.
    let collation = match dialect {
        Dialect::Postgres => "POSIX",
        Dialect::MySql => "utf8mb4_unicode_ci",
        Dialect::Sqlite => "NOCASE",
    };
    let bounded = table.columns.iter_mut().find(|c| c.name == "text_bounded");
    bounded.expect("declared above").collation = Some(collation.to_owned());
    last.tables.append(&mut every.tables);
    out.push(("every_type", last));
    out
}

fn fixture_dir(dialect: Dialect) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/v0_1")
        .join(dialect.name())
}

/// `<id> <checksum>` lines, as the fixture recorded them.
fn recorded_checksums(dialect: Dialect) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(fixture_dir(dialect).join("checksums.txt")).unwrap();
    text.lines()
        .map(|l| {
            let (id, sum) = l.split_once(' ').unwrap();
            (id.to_owned(), sum.to_owned())
        })
        .collect()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn migrations_of_0_1_load_with_the_checksums_recorded_then() {
    for dialect in DIALECTS {
        let loaded: Vec<(String, String)> = load_dir(&fixture_dir(dialect))
            .unwrap()
            .iter()
            .map(|m| (m.id(), m.checksum.clone()))
            .collect();
        assert_eq!(loaded, recorded_checksums(dialect), "{dialect}");
        assert_eq!(loaded.len(), 4, "{dialect}");
    }
}

#[test]
fn snapshots_and_operations_of_0_1_serialize_back_byte_identical() {
    for dialect in DIALECTS {
        for m in load_dir(&fixture_dir(dialect)).unwrap() {
            let snapshot = m.snapshot.as_ref().expect("generated");
            assert_eq!(
                snapshot.to_json(),
                read(&m.dir.join("snapshot.json")),
                "{dialect} {}",
                m.id()
            );
            let ops: &OperationsFile = m.operations.as_ref().expect("generated");
            let mut json = serde_json::to_string_pretty(ops).unwrap();
            json.push('\n');
            assert_eq!(
                json,
                read(&m.dir.join("operations.json")),
                "{dialect} {}",
                m.id()
            );
        }
    }
}

#[test]
fn sql_of_0_1_renders_again_identically_from_its_operations() {
    for dialect in DIALECTS {
        let mut before = Schema::default();
        for m in load_dir(&fixture_dir(dialect)).unwrap() {
            let ops = &m.operations.as_ref().expect("generated").operations;
            let id = m.id();
            // The header line as version 0.1 wrote it (the crate was then named orm-migrate).
            let up = sql_file(
                &format!(
                    "{id} (up): generated by orm-migrate for {dialect}; review before applying"
                ),
                ops,
                &before,
                dialect,
            )
            .unwrap();
            assert_eq!(up, m.up, "{dialect} {id}");
            let after = m.snapshot.clone().expect("generated");
            let inverse: Vec<_> = ops.iter().rev().map(|op| op.inverse()).collect();
            let down = sql_file(
                &format!("{id} (down): generated by orm-migrate for {dialect}; undoes up.sql"),
                &inverse,
                &after,
                dialect,
            )
            .unwrap();
            assert_eq!(Some(down), m.down, "{dialect} {id}");
            before = after;
        }
    }
}

#[test]
fn the_same_models_generate_nothing_after_the_migrations_of_0_1() {
    for dialect in DIALECTS {
        let dir = common::temp_dir(&format!("compat_{}", dialect.name()));
        copy_migrations(&fixture_dir(dialect), &dir);
        let (_, models) = steps(dialect).pop().unwrap();
        let generated = generate(&dir, "again", &models, dialect, &GenerateOptions::default());
        assert!(
            generated.as_ref().is_ok_and(Option::is_none),
            "{dialect}: {generated:?}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}

/// Copies the migration directories of `from` into `to`.
fn copy_migrations(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if !entry.path().is_dir() {
            continue;
        }
        let target = to.join(entry.file_name());
        std::fs::create_dir_all(&target).unwrap();
        for file in std::fs::read_dir(entry.path()).unwrap() {
            let file = file.unwrap();
            std::fs::copy(file.path(), target.join(file.file_name())).unwrap();
        }
    }
}

per_backend! {
    async fn migrations_of_0_1_apply_with_zero_drift_and_their_recorded_checksums(ctx) {
        let dialect = ctx.dialect();
        copy_migrations(&fixture_dir(dialect), &ctx.dir);
        let (_, models) = steps(dialect).pop().unwrap();
        let migrator = Migrator::new(ctx.db.clone(), &ctx.dir, models).unwrap();
        assert_eq!(migrator.up(None, false).await.unwrap().len(), 4);
        migrator.verify().await.unwrap_or_else(|e| panic!("drift: {e}"));
        let history: Vec<(String, String)> = migrator
            .history()
            .await
            .unwrap()
            .into_iter()
            .map(|h| (format!("{}_{}", h.version, h.name), h.checksum))
            .collect();
        assert_eq!(history, recorded_checksums(dialect));
    }
}
