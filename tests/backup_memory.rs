//! A million-row backup (`polyorm::backup`) runs in constant memory on every SQL backend: the
//! process's resident set, sampled every 10,000 rows while the rows are read and archived,
//! and again while the archive is verified, never grows more than [`BOUND_MIB`] above where it
//! was. Its own test binary, one test at a time, so that nothing else moves the resident set.
//!
//! Backends and servers as in the shared suite (its harness); with `CI=true` every backend
//! runs and an unreachable server fails the test.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use harness::Backend;
use polyorm::backup::{Archive, Backup, StaticKeys, verify};
use polyorm::prelude::*;

#[path = "suite/harness.rs"]
#[allow(dead_code)]
mod harness;
#[path = "support/rss.rs"]
mod rss;
use rss::resident_mib;

const ROWS: u64 = 1_000_000;
/// How far the resident set may grow while a million rows are archived.
const BOUND_MIB: f64 = 32.0;

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "backup_million")]
struct Row {
    #[orm(primary_key)]
    id: i64,
    payload: String,
    amount: f64,
    at: DateTime<Utc>,
}

/// Backs the table up (encrypted) into a tar file, then verifies it; returns the largest
/// growth of the resident set.
async fn archive_all(db: &Db, label: &str) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("million.tar");
    let before = resident_mib();
    let peak = Arc::new(Mutex::new(before));
    let sample = peak.clone();
    let started = Instant::now();
    let keys = Arc::new(StaticKeys::new("k", [9; 32]));
    let manifest = Backup::new()
        .model::<Row>()
        .encrypt(keys.clone())
        .on_progress(move |_| {
            let mut p = sample.lock().unwrap();
            *p = p.max(resident_mib());
        })
        .to_tar(db, &path)
        .await
        .unwrap();
    let took = started.elapsed();
    let part = manifest.part("backup_million").unwrap();
    assert_eq!(part.rows, ROWS, "{label}: every row archived");
    let backup_peak = *peak.lock().unwrap();
    let verified = Instant::now();
    let archive = Archive::open(&path).unwrap();
    let checked = verify(&archive, Some(keys)).unwrap();
    assert_eq!(checked.rows, ROWS);
    let verify_peak = resident_mib();
    let peak = backup_peak.max(verify_peak);
    println!(
        "{label}: {ROWS} rows archived in {took:.2?} ({:.0} rows/s; {:.1} MB of rows, {:.1} MB \
         stored), verified in {:.2?}; resident set {before:.1} MiB before, peak {peak:.1} MiB \
         (+{:.1} MiB)",
        ROWS as f64 / took.as_secs_f64(),
        part.content_bytes as f64 / 1e6,
        part.bytes as f64 / 1e6,
        verified.elapsed(),
        peak - before
    );
    peak - before
}

#[tokio::test(flavor = "current_thread")]
async fn a_million_rows_back_up_in_constant_memory_on_every_sql_backend() {
    if harness::enabled(Backend::Sqlite) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("million.db").display()
        );
        let db = Db::connect(&url).await.unwrap();
        db.create_table::<Row>().await.unwrap();
        db.execute_raw(&format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS}) \
             INSERT INTO backup_million (id, payload, amount, at) \
             SELECT i, 'payload ' || i, i * 0.5, '2026-01-01T00:00:00Z' FROM n"
        ))
        .await
        .unwrap();
        let growth = archive_all(&db, "SQLite").await;
        db.close().await;
        assert!(growth < BOUND_MIB, "SQLite: +{growth:.1} MiB");
    }
    let servers = [
        (
            Backend::Postgres,
            "PostgreSQL",
            format!(
                "INSERT INTO backup_million (id, payload, amount, at) SELECT i, 'payload ' || i, \
                 i * 0.5, timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second' \
                 FROM generate_series(1, {ROWS}) AS i"
            ),
        ),
        (
            Backend::MySql,
            "MariaDB",
            format!(
                "INSERT INTO backup_million (id, payload, amount, at) SELECT seq, \
                 CONCAT('payload ', seq), seq * 0.5, TIMESTAMP '2026-01-01 00:00:00' + \
                 INTERVAL seq SECOND FROM seq_1_to_{ROWS}"
            ),
        ),
    ];
    for (backend, label, fill) in servers {
        let Some(t) = harness::setup(backend, "backup_memory").await else {
            continue;
        };
        t.db.create_table::<Row>().await.unwrap();
        t.db.execute_raw(&fill).await.unwrap();
        let growth = archive_all(&t.db, label).await;
        t.teardown().await;
        assert!(growth < BOUND_MIB, "{label}: +{growth:.1} MiB");
    }
}
