//! The native SQLite driver's own behaviour on a database file: lock waits that never block
//! the runtime, the typed errors of SQLite's locking (`BUSY` → `LockTimeout`,
//! `BUSY_SNAPSHOT` → `SerializationFailure`), `BEGIN IMMEDIATE` for writers, a dropped
//! transaction's lock released at once, and the pool's limits.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use polyorm::prelude::*;
use polyorm::{IsolationLevel, RetryPolicy, TxOptions};

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "native_counters")]
struct Counter {
    #[orm(primary_key)]
    id: i64,
    value: i64,
}

/// A fresh database file in a directory of its own, removed on drop.
struct TempDb {
    dir: PathBuf,
}

impl TempDb {
    fn new(test: &str) -> TempDb {
        let dir = std::env::temp_dir().join(format!("orm-sqlite-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDb { dir }
    }

    fn url(&self) -> String {
        format!("sqlite://{}", self.dir.join("app.db").display())
    }

    async fn open(&self, options: PoolOptions) -> Db {
        let db = options.connect(&self.url()).await.unwrap();
        db.create_table::<Counter>().await.unwrap();
        db
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn value_of(db: &Db, id: i64) -> i64 {
    Counter::find(db, id)
        .await
        .unwrap()
        .expect("the row exists")
        .value
}

/// On a single-threaded runtime a writer that waited for the lock inside SQLite would stop
/// the only thread, and the holder could never commit: the wait must be asynchronous.
#[tokio::test(flavor = "current_thread")]
async fn a_writer_waiting_for_the_lock_leaves_the_runtime_free() {
    let file = TempDb::new("wait");
    let db = file.open(PoolOptions::new().max_connections(4)).await;
    Counter { id: 1, value: 0 }.insert(&db).await.unwrap();

    let holder = db.begin_with(TxOptions::new().for_write()).await.unwrap();
    Counter::update_many()
        .set(Counter::VALUE, 10)
        .filter(Counter::ID.eq(1))
        .execute(&holder)
        .await
        .unwrap();
    let waiting_db = db.clone();
    let started = Instant::now();
    let writer =
        tokio::spawn(async move { Counter { id: 2, value: 20 }.insert(&waiting_db).await });
    // The writer runs (and waits) while this task sleeps on the same thread.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !writer.is_finished(),
        "the writer waits for the holder's lock"
    );
    holder.commit().await.unwrap();
    writer.await.unwrap().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "no busy-timeout expiry"
    );
    assert_eq!(value_of(&db, 1).await, 10);
    assert_eq!(value_of(&db, 2).await, 20);
}

/// A lock held past the busy timeout (5 s) fails the waiting statement with `LockTimeout`,
/// which is retryable; nothing of it was written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_held_past_the_busy_timeout_is_a_lock_timeout() {
    let file = TempDb::new("timeout");
    let db = file.open(PoolOptions::new()).await;
    let holder = db.begin_with(TxOptions::new().for_write()).await.unwrap();
    let started = Instant::now();
    let err = Counter { id: 7, value: 7 }.insert(&db).await.unwrap_err();
    assert!(matches!(err, Error::LockTimeout { .. }), "{err:?}");
    assert!(err.is_retryable(), "{err}");
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "waited the busy timeout"
    );
    holder.rollback().await.unwrap();
    assert_eq!(Counter::find(&db, 7).await.unwrap(), None);
}

/// A transaction that read, then meets another connection's commit at its first write, can
/// only be run again: `SerializationFailure`, and `transaction_with_retry` does so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_after_a_stale_read_is_a_serialization_failure_and_retried() {
    let file = TempDb::new("snapshot");
    let db = file.open(PoolOptions::new()).await;
    Counter { id: 1, value: 1 }.insert(&db).await.unwrap();

    let reader = db.begin().await.unwrap();
    assert_eq!(Counter::find(&reader, 1).await.unwrap().unwrap().value, 1);
    Counter::update_many()
        .set(Counter::VALUE, 2)
        .filter(Counter::ID.eq(1))
        .execute(&db)
        .await
        .unwrap();
    let err = Counter::update_many()
        .set(Counter::VALUE, 100)
        .filter(Counter::ID.eq(1))
        .execute(&reader)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SerializationFailure { .. }), "{err:?}");
    assert!(err.is_retryable(), "{err}");
    reader.rollback().await.unwrap();

    // Retried: the second attempt reads the committed value.
    let mut first = true;
    db.transaction_with_retry(
        TxOptions::new().isolation(IsolationLevel::Serializable),
        RetryPolicy::default(),
        |tx| {
            let interfere = std::mem::take(&mut first).then(|| db.clone());
            async move {
                let seen = Counter::find(&tx, 1).await?.expect("row").value;
                if let Some(other) = interfere {
                    Counter::update_many()
                        .set(Counter::VALUE, 3)
                        .filter(Counter::ID.eq(1))
                        .execute(&other)
                        .await?;
                }
                Counter::update_many()
                    .set(Counter::VALUE, seen * 10)
                    .filter(Counter::ID.eq(1))
                    .execute(&tx)
                    .await?;
                Ok(())
            }
        },
    )
    .await
    .unwrap();
    assert_eq!(value_of(&db, 1).await, 30);
}

/// `TxOptions::for_write` takes the write lock at `BEGIN`: the same interleaving as above
/// cannot happen, the other writer waits for the commit instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_for_write_transaction_holds_the_lock_from_begin() {
    let file = TempDb::new("immediate");
    let db = file.open(PoolOptions::new()).await;
    Counter { id: 1, value: 1 }.insert(&db).await.unwrap();

    let writer = db.begin_with(TxOptions::new().for_write()).await.unwrap();
    let seen = Counter::find(&writer, 1).await.unwrap().unwrap().value;
    let other_db = db.clone();
    let other = tokio::spawn(async move {
        Counter::update_many()
            .set(Counter::VALUE, 5)
            .filter(Counter::ID.eq(1))
            .execute(&other_db)
            .await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    Counter::update_many()
        .set(Counter::VALUE, seen + 1)
        .filter(Counter::ID.eq(1))
        .execute(&writer)
        .await
        .unwrap();
    writer.commit().await.unwrap();
    assert_eq!(other.await.unwrap().unwrap(), 1);
    // The other writer ran after the commit, on the committed row.
    assert_eq!(value_of(&db, 1).await, 5);
}

/// A transaction dropped without commit or rollback gives its write lock up at once, not at
/// its connection's next use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_transaction_releases_the_write_lock_at_once() {
    let file = TempDb::new("dropped");
    let db = file.open(PoolOptions::new().max_connections(3)).await;
    let tx = db.begin_with(TxOptions::new().for_write()).await.unwrap();
    Counter { id: 1, value: 1 }.insert(&tx).await.unwrap();
    drop(tx);
    let started = Instant::now();
    Counter { id: 2, value: 2 }.insert(&db).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(Counter::find(&db, 1).await.unwrap(), None, "rolled back");
    assert_eq!(value_of(&db, 2).await, 2);
}

/// A file pool opens at most `max_connections`; one more waits for the acquire timeout, then
/// fails with `Timeout`; a connection given back is handed out again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_pool_opens_at_most_max_connections() {
    let file = TempDb::new("pool");
    let db = file
        .open(
            PoolOptions::new()
                .max_connections(2)
                .acquire_timeout(Duration::from_millis(300)),
        )
        .await;
    Counter { id: 1, value: 1 }.insert(&db).await.unwrap();
    let first = db.acquire().await.unwrap();
    let second = db.acquire().await.unwrap();
    // Both held connections read (WAL: readers do not block each other).
    assert_eq!(Counter::find(&first, 1).await.unwrap().unwrap().value, 1);
    assert_eq!(Counter::find(&second, 1).await.unwrap().unwrap().value, 1);
    let health = db.health().await;
    assert!(matches!(health, Err(Error::Timeout { .. })), "{health:?}");
    let err = Counter::find(&db, 1).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(err.to_string().contains("max_connections"), "{err}");
    drop(first);
    assert_eq!(value_of(&db, 1).await, 1);
    let health = db.health().await.unwrap();
    assert_eq!((health.connections, health.max_connections), (2, 2));
}

/// Dates, times and UUIDs stored in the text forms earlier versions (through sqlx) wrote,
/// and in SQLite's own forms, read back.
#[tokio::test]
async fn values_stored_by_earlier_versions_read_back() {
    #[derive(Model, Debug, Clone, PartialEq)]
    #[orm(table = "native_stamps")]
    struct Stamp {
        #[orm(primary_key)]
        id: i64,
        at: chrono::DateTime<chrono::Utc>,
        local: chrono::NaiveDateTime,
        day: chrono::NaiveDate,
    }
    let db = Db::connect("sqlite::memory:").await.unwrap();
    db.create_table::<Stamp>().await.unwrap();
    db.execute_raw(
        "INSERT INTO native_stamps (id, at, local, day) VALUES \
         (1, '2024-05-06T07:08:09.123456+00:00', '2024-05-06 07:08:09.123456', '2024-05-06'), \
         (2, '2024-05-06 09:08:09+02:00', '2024-05-06T07:08:09', '2024-05-06'), \
         (3, datetime('2024-05-06 07:08:09'), datetime('2024-05-06 07:08:09'), date('2024-05-06'))",
    )
    .await
    .unwrap();
    let rows = Stamp::query()
        .order_by(Stamp::ID.asc())
        .all(&db)
        .await
        .unwrap();
    let at = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    assert_eq!(rows[0].at, at("2024-05-06T07:08:09.123456Z"));
    assert_eq!(rows[1].at, at("2024-05-06T07:08:09Z"));
    assert_eq!(rows[2].at, at("2024-05-06T07:08:09Z"));
    assert_eq!(rows[1].local, rows[2].local);
    assert!(
        rows.iter()
            .all(|r| r.day == chrono::NaiveDate::from_ymd_opt(2024, 5, 6).unwrap())
    );
}
