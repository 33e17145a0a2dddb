//! Logical backup and restore (`polyorm::backup`) against the real servers: rows of every type
//! written on each backend, backed up, restored into every backend and read back equal;
//! corrupt, truncated and wrongly keyed archives, non-empty targets and schemas a target
//! cannot hold refused with nothing written; incremental and differential chains.
//!
//! Backends and servers as in the shared suite (its harness: `ORM_TEST_BACKENDS`,
//! `ORM_TEST_POSTGRES_URL`, `ORM_TEST_MYSQL_URL`, `ORM_TEST_MONGO_URL`); with `CI=true` every
//! backend runs and an unreachable server fails the test.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use harness::{Backend, TestDb};
use polyorm::backup::{Archive, Backup, BackupError, KeyProvider, Restore, StaticKeys, verify};
use polyorm::prelude::*;
use rust_decimal::Decimal;
use uuid::Uuid;

#[path = "suite/harness.rs"]
#[allow(dead_code)]
mod harness;

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "bk_items")]
struct Item {
    #[orm(primary_key, auto_increment)]
    id: i64,
    flag: bool,
    small: i16,
    int: i32,
    big: i64,
    float: f32,
    double: f64,
    #[orm(max_length = 60)]
    name: String,
    data: Vec<u8>,
    tiny: u8,
    word: u16,
    dword: u32,
    at: DateTime<Utc>,
    naive: NaiveDateTime,
    day: NaiveDate,
    time: NaiveTime,
    uuid: Uuid,
    doc: serde_json::Value,
    note: Option<String>,
    maybe: Option<i32>,
    updated_at: DateTime<Utc>,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "bk_notes")]
struct Note {
    #[orm(primary_key)]
    id: i64,
    #[orm(belongs_to = Item)]
    item_id: i64,
    body: String,
}

/// Decimals in a table of their own: the nx-27017 MongoDB test server cannot store Decimal128.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "bk_prices")]
struct Price {
    #[orm(primary_key)]
    id: i64,
    #[orm(precision = 20, scale = 6)]
    amount: Decimal,
    #[orm(precision = 20, scale = 6)]
    discount: Option<Decimal>,
}

/// Only MySQL/MariaDB can store a `u64`.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "bk_counters")]
struct Counter {
    #[orm(primary_key)]
    id: i64,
    hits: u64,
}

const ALL: [Backend; 4] = [
    Backend::Sqlite,
    Backend::Postgres,
    Backend::MySql,
    Backend::MongoDb,
];

fn label(b: Backend) -> &'static str {
    match b {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
        Backend::MySql => "MariaDB",
        Backend::MongoDb => "MongoDB",
    }
}

/// Timestamps in milliseconds: MongoDB stores no finer (the ORM's mapping).
fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 123_000_000).unwrap()
}

fn item(n: i64) -> Item {
    Item {
        id: n,
        flag: n % 2 == 0,
        small: i16::MIN + n as i16,
        int: i32::MAX - n as i32,
        big: i64::MIN + n,
        float: 1.5e-7 * n as f32,
        double: std::f64::consts::PI * n as f64,
        name: format!(
            "Zoë \u{1F600} 'quoted' \"{n}\" % _ \\ {}",
            "x".repeat(n as usize)
        ),
        data: (0..=255u8).rev().take(10 + n as usize).collect(),
        tiny: 255 - n as u8,
        word: 65_535 - n as u16,
        dword: u32::MAX - n as u32,
        at: t0() + Duration::milliseconds(n * 1_000_001),
        naive: NaiveDate::from_ymd_opt(1969, 7, 20)
            .unwrap()
            .and_hms_milli_opt(20, 17, 40, 654)
            .unwrap()
            + Duration::days(n),
        day: NaiveDate::from_ymd_opt(1, 1, 1).unwrap() + Duration::days(n * 1000),
        time: NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999).unwrap() - Duration::seconds(n),
        uuid: Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef + n as u128),
        doc: serde_json::json!({"n": n, "list": [1, "two", null, true], "nested": {"k": "v"}}),
        note: (n % 3 != 0).then(|| format!("note {n}")),
        maybe: (n % 2 == 1).then_some(-(n as i32)),
        updated_at: t0() + Duration::seconds(n),
    }
}

fn price(n: i64) -> Price {
    Price {
        id: n,
        amount: Decimal::new(123_456_789_012 + n, 6),
        discount: (n % 2 == 0).then(|| Decimal::new(-5 * n, 2)),
    }
}

const ITEMS: i64 = 7;

/// Creates the tables and writes the rows (prices too on SQL backends).
async fn seed(db: &Db, backend: Backend) {
    db.create_table::<Item>().await.unwrap();
    db.create_table::<Note>().await.unwrap();
    for n in 1..=ITEMS {
        let mut it = item(n);
        it.id = 0;
        let stored = it.insert(db).await.unwrap();
        assert_eq!(stored.id, n);
    }
    let notes: Vec<Note> = (1..=ITEMS * 2)
        .map(|n| Note {
            id: n,
            item_id: (n + 1) / 2,
            body: format!("body {n}"),
        })
        .collect();
    Note::insert_many(db, &notes).await.unwrap();
    if backend != Backend::MongoDb {
        db.create_table::<Price>().await.unwrap();
        let prices: Vec<Price> = (1..=5).map(price).collect();
        Price::insert_many(db, &prices).await.unwrap();
    }
}

fn backup_of(backend: Backend) -> Backup {
    let b = Backup::new().model::<Item>().model::<Note>();
    if backend == Backend::MongoDb {
        b
    } else {
        b.model::<Price>()
    }
}

/// Every row the target holds equals what was written at the source.
async fn assert_restored(db: &Db, source: Backend, target: Backend, what: &str) {
    let mut items = Item::query().all(db).await.unwrap();
    items.sort_by_key(|i| i.id);
    let expected: Vec<Item> = (1..=ITEMS).map(item).collect();
    assert_eq!(items, expected, "{what}: items");
    let mut notes = Note::query().all(db).await.unwrap();
    notes.sort_by_key(|n| n.id);
    assert_eq!(notes.len() as i64, ITEMS * 2, "{what}: notes");
    assert!(notes.iter().all(|n| n.body == format!("body {}", n.id)));
    if source != Backend::MongoDb && target != Backend::MongoDb {
        let mut prices = Price::query().all(db).await.unwrap();
        prices.sort_by_key(|p| p.id);
        assert_eq!(
            prices,
            (1..=5).map(price).collect::<Vec<_>>(),
            "{what}: prices"
        );
    }
    // The key generator continues after the restored keys.
    let mut next = item(ITEMS + 1);
    next.id = 0;
    let stored = next.insert(db).await.unwrap();
    assert_eq!(stored.id, ITEMS + 1, "{what}: next generated key");
}

/// A restore into `target`: without the decimals on MongoDB (the nx-27017 test server cannot
/// store Decimal128).
fn restore_into(target: Backend) -> Restore {
    match target {
        Backend::MongoDb => Restore::new().only(["bk_items", "bk_notes"]),
        _ => Restore::new(),
    }
}

fn keys(byte: u8) -> Arc<dyn KeyProvider> {
    Arc::new(StaticKeys::new("k1", [byte; 32]))
}

/// Tables of the target's schema (SQL) or documents of the collections (MongoDB): "nothing
/// written" means this stays zero.
async fn written(db: &Db) -> u64 {
    let mut n = 0;
    if db.backend().is_sql() {
        let live = polyorm::migrate::introspect::live_schema(db).await.unwrap();
        return live.tables.len() as u64;
    }
    n += Item::query().count(db).await.unwrap();
    n += Note::query().count(db).await.unwrap();
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_value_round_trips_from_every_backend_into_every_backend() {
    let dir = tempfile::tempdir().unwrap();
    for source in ALL {
        let Some(src) = harness::setup(source, "backup_source").await else {
            continue;
        };
        seed(&src.db, source).await;
        // Alternate the containers and encryption over the sources.
        let encrypted = matches!(source, Backend::Postgres | Backend::MongoDb);
        let mut backup = backup_of(source);
        if encrypted {
            backup = backup.encrypt(keys(7));
        }
        let path = dir.path().join(format!("{}.tar", label(source)));
        let manifest = backup.to_tar(&src.db, &path).await.unwrap();
        assert_eq!(manifest.part("bk_items").unwrap().rows, ITEMS as u64);
        assert_eq!(manifest.source, src.db.backend().to_string());
        src.teardown().await;
        let archive = Archive::open(&path).unwrap();
        let checked = verify(&archive, encrypted.then(|| keys(7))).unwrap();
        assert_eq!(checked.rows, manifest.rows());
        for target in ALL {
            let Some(dst) = harness::setup(target, "backup_target").await else {
                continue;
            };
            let what = format!("{} -> {}", label(source), label(target));
            let mut restore = restore_into(target).batch_size(3);
            if encrypted {
                restore = restore.key(keys(7));
            }
            let report = restore
                .run(&dst.db, std::slice::from_ref(&archive))
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            let items = report
                .tables
                .iter()
                .find(|t| t.table == "bk_items")
                .unwrap();
            assert_eq!(items.rows, ITEMS as u64, "{what}");
            assert!(items.created, "{what}");
            assert_restored(&dst.db, source, target, &what).await;
            dst.teardown().await;
        }
    }
}

/// A SQLite source archived as a directory, and a target of each backend.
async fn sqlite_archive(
    dir: &Path,
    keys: Option<Arc<dyn KeyProvider>>,
) -> polyorm::backup::Manifest {
    let src = harness::setup(Backend::Sqlite, "backup_sqlite_source")
        .await
        .unwrap();
    seed(&src.db, Backend::Sqlite).await;
    let mut backup = backup_of(Backend::Sqlite);
    if let Some(k) = keys {
        backup = backup.encrypt(k);
    }
    let manifest = backup.to_dir(&src.db, dir).await.unwrap();
    src.teardown().await;
    manifest
}

fn part_path(dir: &Path, manifest: &polyorm::backup::Manifest) -> std::path::PathBuf {
    dir.join(&manifest.part("bk_items").unwrap().file)
}

async fn targets() -> Vec<(Backend, TestDb)> {
    let mut out = Vec::new();
    for b in ALL {
        if let Some(t) = harness::setup(b, "backup_refusals").await {
            out.push((b, t));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_truncated_or_incomplete_archives_are_refused_with_nothing_written() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a");
    let manifest = sqlite_archive(&dir, None).await;
    let part = part_path(&dir, &manifest);
    let good = std::fs::read(&part).unwrap();
    let targets = targets().await;
    type Damage = Box<dyn Fn(&Path)>;
    let good2 = good.clone();
    let good3 = good.clone();
    let cases: Vec<(&str, Damage)> = vec![
        (
            "a flipped byte",
            Box::new(move |p: &Path| {
                let mut bytes = good.clone();
                let at = bytes.len() / 2;
                bytes[at] ^= 0x40;
                std::fs::write(p, bytes).unwrap();
            }),
        ),
        (
            "a truncated part",
            Box::new(move |p: &Path| std::fs::write(p, &good2[..good2.len() - 5]).unwrap()),
        ),
        (
            "a missing part",
            Box::new(|p: &Path| std::fs::remove_file(p).unwrap()),
        ),
    ];
    for (what, damage) in &cases {
        damage(&part);
        let archive = Archive::open(&dir).unwrap();
        assert!(
            matches!(verify(&archive, None), Err(BackupError::Corrupt { .. })),
            "{what}: verify"
        );
        for (b, t) in &targets {
            let err = restore_into(*b)
                .run(&t.db, std::slice::from_ref(&archive))
                .await;
            assert!(
                matches!(err, Err(BackupError::Corrupt { .. })),
                "{what} into {}: {err:?}",
                label(*b)
            );
            assert_eq!(written(&t.db).await, 0, "{what} into {}", label(*b));
        }
        std::fs::write(&part, &good3).unwrap();
    }
    // A tar file cut short.
    let src = harness::setup(Backend::Sqlite, "backup_tar_source")
        .await
        .unwrap();
    seed(&src.db, Backend::Sqlite).await;
    let tar = tmp.path().join("b.tar");
    backup_of(Backend::Sqlite)
        .to_tar(&src.db, &tar)
        .await
        .unwrap();
    src.teardown().await;
    let bytes = std::fs::read(&tar).unwrap();
    std::fs::write(&tar, &bytes[..bytes.len() - 2048]).unwrap();
    let refused = Archive::open(&tar).and_then(|a| verify(&a, None));
    assert!(
        matches!(refused, Err(BackupError::Corrupt { .. })),
        "{refused:?}"
    );
    // The intact archive restores.
    let archive = Archive::open(&dir).unwrap();
    for (b, t) in targets {
        restore_into(b)
            .run(&t.db, std::slice::from_ref(&archive))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", label(b)));
        assert_restored(&t.db, Backend::Sqlite, b, label(b)).await;
        t.teardown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_or_missing_key_is_refused_with_nothing_written() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("enc");
    sqlite_archive(&dir, Some(keys(1))).await;
    let archive = Archive::open(&dir).unwrap();
    assert!(matches!(
        verify(&archive, Some(keys(2))),
        Err(BackupError::WrongKey { .. })
    ));
    for (b, t) in targets().await {
        for key in [Some(keys(2)), None] {
            let mut restore = restore_into(b);
            if let Some(k) = key.clone() {
                restore = restore.key(k);
            }
            let err = restore.run(&t.db, std::slice::from_ref(&archive)).await;
            assert!(
                matches!(err, Err(BackupError::WrongKey { .. })),
                "{} with key {}: {err:?}",
                label(b),
                key.is_some()
            );
            assert_eq!(written(&t.db).await, 0, "{}", label(b));
        }
        restore_into(b)
            .key(keys(1))
            .run(&t.db, std::slice::from_ref(&archive))
            .await
            .unwrap();
        assert_restored(&t.db, Backend::Sqlite, b, label(b)).await;
        t.teardown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_empty_target_is_refused_unless_told_to_replace() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a");
    sqlite_archive(&dir, None).await;
    let archive = Archive::open(&dir).unwrap();
    for (b, t) in targets().await {
        restore_into(b)
            .run(&t.db, std::slice::from_ref(&archive))
            .await
            .unwrap();
        // A change made after the restore: the refusal must leave it.
        Item::update_many()
            .filter(Item::ID.eq(1))
            .set(Item::NAME, "changed".to_owned())
            .execute(&t.db)
            .await
            .unwrap();
        let err = restore_into(b)
            .run(&t.db, std::slice::from_ref(&archive))
            .await;
        match err {
            Err(BackupError::TargetNotEmpty { tables }) => {
                assert!(
                    tables.iter().any(|t| t.starts_with("bk_items (7 rows)")),
                    "{tables:?}"
                )
            }
            other => panic!("{}: {other:?}", label(b)),
        }
        let one = Item::query()
            .filter(Item::ID.eq(1))
            .one(&t.db)
            .await
            .unwrap();
        assert_eq!(one.name, "changed");
        restore_into(b)
            .replace()
            .run(&t.db, std::slice::from_ref(&archive))
            .await
            .unwrap();
        assert_restored(&t.db, Backend::Sqlite, b, label(b)).await;
        t.teardown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_the_target_cannot_hold_is_refused_with_nothing_written() {
    let Some(src) = harness::setup(Backend::MySql, "backup_u64").await else {
        return;
    };
    src.db.create_table::<Counter>().await.unwrap();
    Counter {
        id: 1,
        hits: u64::MAX,
    }
    .insert(&src.db)
    .await
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("u64");
    Backup::new()
        .model::<Counter>()
        .to_dir(&src.db, &dir)
        .await
        .unwrap();
    src.teardown().await;
    let archive = Archive::open(&dir).unwrap();
    for (b, t) in targets().await {
        let out = Restore::new()
            .run(&t.db, std::slice::from_ref(&archive))
            .await;
        if b == Backend::MySql {
            out.unwrap();
            let back = Counter::query().one(&t.db).await.unwrap();
            assert_eq!(back.hits, u64::MAX);
        } else {
            assert!(
                matches!(out, Err(BackupError::UnsupportedSchema { .. })),
                "{}: {out:?}",
                label(b)
            );
            if is_sql(b) {
                assert_eq!(written(&t.db).await, 0, "{}", label(b));
            }
        }
        t.teardown().await;
    }
}

/// A table read from a live PostgreSQL database (`Backup::live_tables`, the CLI's backups of
/// databases whose models are not linked in) carries PostgreSQL's collation names: its
/// `default`, `C` and `POSIX` become the target's own default on MariaDB and SQLite (which
/// have none of those names), every value reads back; a collation only PostgreSQL has is
/// refused before anything is written, and kept on a restore into PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_postgres_table_restores_into_other_databases_with_their_default_collations() {
    let Some(src) = harness::setup(Backend::Postgres, "backup_collations").await else {
        return;
    };
    for sql in [
        "CREATE TABLE live_notes (id bigint PRIMARY KEY, title text NOT NULL, \
         code varchar(20) COLLATE \"C\", body text COLLATE \"POSIX\")",
        "INSERT INTO live_notes VALUES (1, 'Ünïcode ✓', 'b', NULL), (2, 'plain', 'A', 'it''s')",
        "CREATE TABLE live_icu (id bigint PRIMARY KEY, name text COLLATE \"und-x-icu\")",
        "INSERT INTO live_icu VALUES (1, 'Zoë')",
    ] {
        src.db.execute_raw(sql).await.unwrap();
    }
    let tmp = tempfile::tempdir().unwrap();
    let (notes, icu) = (tmp.path().join("notes"), tmp.path().join("icu"));
    Backup::new()
        .live_tables(&src.db, &["live_notes".to_owned()])
        .await
        .unwrap()
        .to_dir(&src.db, &notes)
        .await
        .unwrap();
    Backup::new()
        .live_tables(&src.db, &["live_icu".to_owned()])
        .await
        .unwrap()
        .to_dir(&src.db, &icu)
        .await
        .unwrap();
    let notes = Archive::open(&notes).unwrap();
    let icu = Archive::open(&icu).unwrap();
    type Note = (i64, String, Option<String>, Option<String>);
    let expected: Vec<Note> = vec![
        (1, "Ünïcode ✓".into(), Some("b".into()), None),
        (2, "plain".into(), Some("A".into()), Some("it's".into())),
    ];
    for target in [Backend::Sqlite, Backend::MySql, Backend::Postgres] {
        let t = harness::setup(target, "backup_collations_into")
            .await
            .unwrap();
        Restore::new()
            .run(&t.db, std::slice::from_ref(&notes))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", label(target)));
        let back: Vec<Note> =
            polyorm::raw("SELECT id, title, code, body FROM live_notes ORDER BY id")
                .fetch_all(&t.db)
                .await
                .unwrap();
        assert_eq!(back, expected, "{}", label(target));
        let out = Restore::new().run(&t.db, std::slice::from_ref(&icu)).await;
        if target == Backend::Postgres {
            out.unwrap();
            let collation: (String,) = polyorm::raw(
                "SELECT collation_name::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = 'live_icu' \
                 AND column_name = 'name'",
            )
            .fetch_one(&t.db)
            .await
            .unwrap();
            assert_eq!(collation.0, "und-x-icu");
        } else {
            let err = out.unwrap_err();
            assert!(
                matches!(&err, BackupError::UnsupportedSchema { table, .. } if table == "live_icu"),
                "{}: {err:?}",
                label(target)
            );
            assert!(err.to_string().contains("und-x-icu"), "{err}");
            let left = polyorm::raw("SELECT id FROM live_icu")
                .fetch_all::<(i64,), _>(&t.db)
                .await;
            assert!(left.is_err(), "{}: live_icu was created", label(target));
        }
        t.teardown().await;
    }
    src.teardown().await;
}

/// Whether the suite's backend `b` is a SQL database (rows written in a transaction that
/// rolls back are not left behind).
fn is_sql(b: Backend) -> bool {
    b != Backend::MongoDb
}

/// Gives item `id` a new name and moves its `updated_at` `days` ahead.
async fn rewrite(db: &Db, id: i64, name: &str, days: i64) {
    Item::update_many()
        .filter(Item::ID.eq(id))
        .set(Item::NAME, name.to_owned())
        .set(Item::UPDATED_AT, t0() + Duration::days(days))
        .execute(db)
        .await
        .unwrap();
}

/// Writes item `n` (its key generated: `n`).
async fn append(db: &Db, n: i64) {
    let mut it = item(n);
    it.id = 0;
    it.updated_at = t0() + Duration::days(1);
    assert_eq!(it.insert(db).await.unwrap().id, n);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_and_differential_chains_restore_the_latest_rows() {
    let tmp = tempfile::tempdir().unwrap();
    // PostgreSQL: rows updated and inserted, by `updated_at`. MongoDB: rows appended, by key
    // range (the nx-27017 test server stores a date given to `$set` as a string).
    for (source, column) in [(Backend::Postgres, "updated_at"), (Backend::MongoDb, "id")] {
        let updates = column == "updated_at";
        let Some(src) = harness::setup(source, "backup_chain").await else {
            continue;
        };
        let db = &src.db;
        seed(db, source).await;
        let backup = || Backup::new().model::<Item>().model::<Note>();
        let at = |name: &str| tmp.path().join(format!("{}-{name}", label(source)));
        let full = backup()
            .watermark(column)
            .to_dir(db, at("full"))
            .await
            .unwrap();
        if updates {
            rewrite(db, 2, "second version", 1).await;
        }
        append(db, ITEMS + 1).await;
        append(db, ITEMS + 2).await;
        let inc1 = backup()
            .incremental(&full)
            .to_dir(db, at("inc1"))
            .await
            .unwrap();
        assert_eq!(inc1.part("bk_items").unwrap().rows, 2 + u64::from(updates));
        assert_eq!(inc1.parent.as_deref(), Some(full.id.as_str()));
        if updates {
            rewrite(db, ITEMS + 1, "third version", 2).await;
        } else {
            append(db, ITEMS + 3).await;
        }
        let inc2 = backup()
            .incremental(&inc1)
            .to_dir(db, at("inc2"))
            .await
            .unwrap();
        assert_eq!(inc2.part("bk_items").unwrap().rows, 1);
        let diff = backup()
            .differential(&full)
            .to_dir(db, at("diff"))
            .await
            .unwrap();
        assert_eq!(diff.part("bk_items").unwrap().rows, 3);
        let mut expected = Item::query().all(db).await.unwrap();
        expected.sort_by_key(|i| i.id);
        src.teardown().await;

        let open = |name: &str| Archive::open(at(name)).unwrap();
        let chains = [
            (
                "full + inc1 + inc2",
                vec![open("full"), open("inc1"), open("inc2")],
            ),
            ("full + differential", vec![open("full"), open("diff")]),
        ];
        for target in [Backend::Sqlite, Backend::MySql] {
            for (what, chain) in &chains {
                let Some(t) = harness::setup(target, "backup_chain_target").await else {
                    continue;
                };
                Restore::new()
                    .run(&t.db, chain)
                    .await
                    .unwrap_or_else(|e| panic!("{what} into {}: {e}", label(target)));
                let mut back = Item::query().all(&t.db).await.unwrap();
                back.sort_by_key(|i| i.id);
                assert_eq!(
                    back,
                    expected,
                    "{what} from {} into {}",
                    label(source),
                    label(target)
                );
                t.teardown().await;
            }
        }
        // A chain with a gap is refused.
        let t = harness::setup(Backend::Sqlite, "backup_chain_gap")
            .await
            .unwrap();
        let gap = Restore::new()
            .run(&t.db, &[open("full"), open("inc2")])
            .await;
        assert!(matches!(gap, Err(BackupError::BrokenChain(_))), "{gap:?}");
        assert_eq!(written(&t.db).await, 0);
        t.teardown().await;
    }
}

/// Runs a schedule of one backup per second into `target` until five runs finished, then
/// checks what the history holds and restores its newest backup.
async fn five_scheduled_runs<T: polyorm::backup::BackupTarget + 'static>(
    target: Arc<T>,
    scratch: &Path,
) {
    use polyorm::backup::{BackupKind, BackupStatus, History, Retention, Scheduler};
    let src = harness::setup(Backend::Sqlite, "backup_schedule")
        .await
        .unwrap();
    seed(&src.db, Backend::Sqlite).await;
    let backup = backup_of(Backend::Sqlite).watermark("updated_at");
    let retention = Retention {
        last: 3,
        daily: 0,
        weekly: 0,
        monthly: 0,
        yearly: 0,
        ..Retention::default()
    };
    let name = target.describe();
    let mut handle = Scheduler::new(
        History::new(target.clone()),
        src.db.clone(),
        backup,
        "* * * * * *",
    )
    .unwrap()
    .incrementals_between_fulls(2)
    .retention(retention)
    .scratch(scratch)
    .spawn();
    let mut ids = Vec::new();
    for n in 0..5 {
        let run = handle.next_run().await.unwrap();
        let manifest = run
            .backup
            .unwrap_or_else(|e| panic!("{name}: run {n}: {e}"));
        run.pruned.unwrap().unwrap();
        ids.push((manifest.id, manifest.kind));
        // A change between runs, for the incrementals to carry.
        if n == 1 {
            Item::update_many()
                .filter(Item::ID.eq(3))
                .set(Item::NAME, "changed".to_owned())
                .set(Item::UPDATED_AT, t0() + Duration::days(3))
                .execute(&src.db)
                .await
                .unwrap();
        }
    }
    handle.stop().await;
    use BackupKind::{Full, Incremental};
    let kinds: Vec<BackupKind> = ids.iter().map(|(_, k)| *k).collect();
    assert_eq!(
        kinds,
        [Full, Incremental, Incremental, Full, Incremental],
        "{name}"
    );
    // Kept: the newest 3 (runs 2, 3, 4) and the chain run 2 needs (runs 0 and 1).
    let history = History::new(target);
    let held = history.list().await.unwrap();
    let held_ids: Vec<&str> = held.iter().map(|b| b.id.as_str()).collect();
    let all_ids: Vec<&str> = ids.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(held_ids, all_ids, "{name}: nothing pruned yet");
    assert!(
        held.iter()
            .all(|b| b.status == BackupStatus::Complete && b.bytes > 0)
    );
    let tighter = Retention {
        last: 1,
        ..retention
    };
    let dry = history.prune(&tighter, true).await.unwrap();
    assert_eq!(dry.deleted, all_ids[..3].to_vec(), "{name}: dry run");
    assert_eq!(
        history.list().await.unwrap().len(),
        5,
        "{name}: a dry run deletes nothing"
    );
    let pruned = history.prune(&tighter, false).await.unwrap();
    assert_eq!(
        pruned
            .kept
            .iter()
            .map(|(id, _)| id.as_str())
            .collect::<Vec<_>>(),
        all_ids[3..].iter().rev().copied().collect::<Vec<_>>()
    );
    assert_eq!(history.list().await.unwrap().len(), 2, "{name}");
    // The newest backup's chain restores the source's rows.
    let mut expected = Item::query().all(&src.db).await.unwrap();
    expected.sort_by_key(|i| i.id);
    src.teardown().await;
    let chain = history
        .fetch_chain(&ids[4].0, &scratch.join("fetched"))
        .await
        .unwrap();
    assert_eq!(chain.len(), 2);
    let t = harness::setup(Backend::Sqlite, "backup_schedule_target")
        .await
        .unwrap();
    Restore::new().run(&t.db, &chain).await.unwrap();
    let mut back = Item::query().all(&t.db).await.unwrap();
    back.sort_by_key(|i| i.id);
    assert_eq!(back, expected, "{name}");
    assert_eq!(back[2].name, "changed");
    t.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_backups_land_in_a_local_directory_and_a_blob_store_and_are_pruned() {
    let tmp = tempfile::tempdir().unwrap();
    let local = Arc::new(polyorm::backup::LocalTarget::new(
        tmp.path().join("history"),
    ));
    five_scheduled_runs(local, &tmp.path().join("scratch-local")).await;
    let store = polyorm::storage::StoreBuilder::new("backups", "memory://")
        .build()
        .unwrap();
    let blob = Arc::new(polyorm::backup::StorageTarget::new(store, "app/nightly"));
    five_scheduled_runs(blob, &tmp.path().join("scratch-blob")).await;
}
