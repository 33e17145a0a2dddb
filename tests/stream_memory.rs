//! A million-row read through `Select::stream` runs in constant memory on every SQL backend:
//! the process's resident set, sampled every 10,000 rows, never grows more than
//! [`BOUND_MIB`] above where it was before the read (reading the same rows with `all()` holds
//! them all: about 100 MiB here). Its own test binary, one test at a time, so that nothing
//! else moves the resident set.
//!
//! Backends and servers as in the shared suite (its harness: `ORM_TEST_BACKENDS`,
//! `ORM_TEST_POSTGRES_URL`, `ORM_TEST_MYSQL_URL`); with `CI=true` every backend runs and an
//! unreachable server fails the test.

use std::time::Instant;

use futures::TryStreamExt;
use harness::Backend;
use polyorm::prelude::*;

#[path = "suite/harness.rs"]
#[allow(dead_code)]
mod harness;
#[path = "support/rss.rs"]
mod rss;
use rss::resident_mib;

const ROWS: i64 = 1_000_000;
/// How far the resident set may grow while a million rows stream by.
const BOUND_MIB: f64 = 32.0;

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "stream_million")]
struct Row {
    #[orm(primary_key)]
    id: i64,
    payload: String,
    amount: f64,
}

/// Streams every row, checking each, and returns the largest growth of the resident set.
async fn stream_all(db: &Db, label: &str) -> f64 {
    let before = resident_mib();
    let started = Instant::now();
    let mut peak = before;
    let mut stream = Row::query().order_by(Row::ID.asc()).stream(db);
    let mut expected = 1;
    while let Some(row) = stream.try_next().await.expect("a row") {
        assert_eq!(row.id, expected, "{label}: rows out of order");
        assert_eq!(row.payload, format!("payload {expected}"));
        assert_eq!(row.amount, expected as f64 * 0.5);
        if expected % 10_000 == 0 {
            peak = peak.max(resident_mib());
        }
        expected += 1;
    }
    assert_eq!(expected - 1, ROWS, "{label}: every row streamed");
    let growth = peak - before;
    println!(
        "{label}: {ROWS} rows streamed in {:.2?}; resident set {before:.1} MiB before, \
         peak {peak:.1} MiB (+{growth:.1} MiB)",
        started.elapsed()
    );
    growth
}

#[tokio::test(flavor = "current_thread")]
async fn a_million_rows_stream_in_constant_memory_on_every_sql_backend() {
    // SQLite: a file, so that the database's pages are not the process's memory.
    if harness::enabled(Backend::Sqlite) {
        let dir = std::env::temp_dir().join(format!("orm-stream-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.join("million.db").display());
        let db = Db::connect(&url).await.unwrap();
        db.create_table::<Row>().await.unwrap();
        db.execute_raw(&format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS}) \
             INSERT INTO stream_million (id, payload, amount) \
             SELECT i, 'payload ' || i, i * 0.5 FROM n"
        ))
        .await
        .unwrap();
        let growth = stream_all(&db, "SQLite").await;
        assert!(
            growth < BOUND_MIB,
            "SQLite: +{growth:.1} MiB while streaming"
        );
        // For comparison: the same rows read with `all()`.
        let before = resident_mib();
        let all = Row::query().all(&db).await.unwrap();
        println!(
            "SQLite: all() of the same rows: +{:.1} MiB",
            resident_mib() - before
        );
        assert_eq!(all.len() as i64, ROWS);
        drop(all);
        db.close().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }

    // PostgreSQL in a schema, MariaDB in a database of its own (the suite's harness); the rows
    // are made by the server (MariaDB's SEQUENCE engine).
    let servers = [
        (
            Backend::Postgres,
            "PostgreSQL",
            format!(
                "INSERT INTO stream_million (id, payload, amount) \
                 SELECT i, 'payload ' || i, i * 0.5 FROM generate_series(1, {ROWS}) AS i"
            ),
        ),
        (
            Backend::MySql,
            "MariaDB",
            format!(
                "INSERT INTO stream_million (id, payload, amount) \
                 SELECT seq, CONCAT('payload ', seq), seq * 0.5 FROM seq_1_to_{ROWS}"
            ),
        ),
    ];
    for (backend, label, fill) in servers {
        let Some(t) = harness::setup(backend, "stream_memory").await else {
            continue;
        };
        t.db.create_table::<Row>().await.unwrap();
        t.db.execute_raw(&fill).await.unwrap();
        let growth = stream_all(&t.db, label).await;
        t.teardown().await;
        assert!(
            growth < BOUND_MIB,
            "{label}: +{growth:.1} MiB while streaming"
        );
    }
}
