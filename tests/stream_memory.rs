//! A million-row read through `Select::stream` runs in constant memory on every SQL backend:
//! the process's resident set, sampled every 10,000 rows, never grows more than
//! [`BOUND_MIB`] above where it was before the read (reading the same rows with `all()` holds
//! them all: about 100 MiB here). Its own test binary, one test at a time, so that nothing
//! else moves the resident set.
//!
//! Servers: PostgreSQL and MariaDB/MySQL at `ORM_TEST_POSTGRES_URL` / `ORM_TEST_MYSQL_URL`
//! (the defaults of `scripts/test.sh`); with `CI=true` an unreachable server fails the test.

use std::time::Instant;

use futures::TryStreamExt;
use orm::prelude::*;

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

/// The process's resident set in MiB (`/proc/self/statm`, in pages of 4 KiB).
fn resident_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages in statm");
    pages * 4096.0 / (1024.0 * 1024.0)
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

fn url(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_owned())
}

async fn connect(url: &str) -> Db {
    Db::connect(url)
        .await
        .unwrap_or_else(|e| panic!("{url} is unreachable: {e}"))
}

#[tokio::test(flavor = "current_thread")]
async fn a_million_rows_stream_in_constant_memory_on_every_sql_backend() {
    // SQLite: a file, so that the database's pages are not the process's memory.
    let dir = std::env::temp_dir().join(format!("orm-stream-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("million.db");
    let db = connect(&format!("sqlite://{}?mode=rwc", path.display())).await;
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

    // PostgreSQL, in a schema of its own.
    let base = url(
        "ORM_TEST_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/test",
    );
    let admin = connect(&base).await;
    let schema = format!("orm_stream_{}", std::process::id());
    admin
        .execute_raw(&format!("CREATE SCHEMA \"{schema}\""))
        .await
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let db = connect(&format!("{base}{sep}options=-c%20search_path%3D{schema}")).await;
    db.create_table::<Row>().await.unwrap();
    db.execute_raw(&format!(
        "INSERT INTO stream_million (id, payload, amount) \
         SELECT i, 'payload ' || i, i * 0.5 FROM generate_series(1, {ROWS}) AS i"
    ))
    .await
    .unwrap();
    let growth = stream_all(&db, "PostgreSQL").await;
    db.close().await;
    admin
        .execute_raw(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .await
        .unwrap();
    assert!(
        growth < BOUND_MIB,
        "PostgreSQL: +{growth:.1} MiB while streaming"
    );

    // MariaDB/MySQL, in a database of its own (MariaDB's SEQUENCE engine makes the rows).
    let base = url("ORM_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test");
    let admin = connect(&base).await;
    let name = format!("orm_stream_{}", std::process::id());
    admin
        .execute_raw(&format!("CREATE DATABASE `{name}`"))
        .await
        .unwrap();
    let (server, _) = base
        .rsplit_once('/')
        .expect("a MySQL URL ends with /database");
    let db = connect(&format!("{server}/{name}")).await;
    db.create_table::<Row>().await.unwrap();
    db.execute_raw(&format!(
        "INSERT INTO stream_million (id, payload, amount) \
         SELECT seq, CONCAT('payload ', seq), seq * 0.5 FROM seq_1_to_{ROWS}"
    ))
    .await
    .unwrap();
    let growth = stream_all(&db, "MariaDB").await;
    db.close().await;
    admin
        .execute_raw(&format!("DROP DATABASE `{name}`"))
        .await
        .unwrap();
    assert!(
        growth < BOUND_MIB,
        "MariaDB: +{growth:.1} MiB while streaming"
    );
}
