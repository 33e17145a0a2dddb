//! The native SQLite driver's own behaviour on a database file: lock waits that never block
//! the runtime, the typed errors of SQLite's locking (`BUSY` → `LockTimeout`,
//! `BUSY_SNAPSHOT` → `SerializationFailure`), `BEGIN IMMEDIATE` for writers, a dropped
//! transaction's lock released at once, the pool's limits, and statements run inline on a free
//! connection (the lock waits, the prepared statements and the schema changes as on the
//! asynchronous path).

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

/// Sets counter `id`'s value through `db` (the pool, a transaction).
async fn set_value(db: &impl Executor, id: i64, value: i64) -> polyorm::Result<u64> {
    Counter::update_many()
        .set(Counter::VALUE, value)
        .filter(Counter::ID.eq(id))
        .execute(db)
        .await
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
    set_value(&holder, 1, 10).await.unwrap();
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
    set_value(&db, 1, 2).await.unwrap();
    let err = set_value(&reader, 1, 100).await.unwrap_err();
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
                    set_value(&other, 1, 3).await?;
                }
                set_value(&tx, 1, seen * 10).await?;
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
    let other = tokio::spawn(async move { set_value(&other_db, 1, 5).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    set_value(&writer, 1, seen + 1).await.unwrap();
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

/// A write that runs inline on a free connection of the pool (`update_many`, `insert_many`
/// through `Db`) and finds another connection's write lock steps aside and waits
/// asynchronously as any statement does: the runtime's only thread stays free.
#[tokio::test(flavor = "current_thread")]
async fn an_inline_write_meeting_a_lock_waits_asynchronously() {
    let file = TempDb::new("inline-wait");
    let db = file.open(PoolOptions::new().max_connections(4)).await;
    Counter::insert_many(&db, &[Counter { id: 1, value: 0 }])
        .await
        .unwrap();

    let holder = db.begin_with(TxOptions::new().for_write()).await.unwrap();
    set_value(&holder, 1, 10).await.unwrap();
    let waiting_db = db.clone();
    let writer = tokio::spawn(async move { set_value(&waiting_db, 1, 20).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!writer.is_finished(), "the writer waits for the lock");
    // Readers are not blocked by the writer (WAL), inline too.
    assert_eq!(value_of(&db, 1).await, 0);
    holder.commit().await.unwrap();
    assert_eq!(writer.await.unwrap().unwrap(), 1);
    assert_eq!(value_of(&db, 1).await, 20);
}

/// Statements that differ in their text alone (same model, same number of parameters, same
/// values) never run each other's prepared statement on a connection, also past the
/// connection's cache of 100 statements, with the text of each repeat statement shared with
/// the compiler's cache.
#[tokio::test]
async fn statements_differing_only_in_text_never_share_a_prepared_statement() {
    let db = Db::connect("sqlite::memory:").await.unwrap();
    db.create_table::<Counter>().await.unwrap();
    let rows: Vec<Counter> = (1..=10).map(|id| Counter { id, value: id * 10 }).collect();
    Counter::insert_many(&db, &rows).await.unwrap();
    let ids = |found: Vec<Counter>| found.iter().map(|c| c.id).collect::<Vec<_>>();
    for round in 0..3 {
        // One parameter each, the same value: only the operator tells them apart.
        let below = Counter::query().filter(Counter::VALUE.lt(50)).all(&db);
        assert_eq!(ids(below.await.unwrap()), [1, 2, 3, 4], "round {round}");
        let above = Counter::query().filter(Counter::VALUE.gt(50)).all(&db);
        assert_eq!(ids(above.await.unwrap()), [6, 7, 8, 9, 10], "round {round}");
        let equal = Counter::query().filter(Counter::VALUE.eq(50)).all(&db);
        assert_eq!(ids(equal.await.unwrap()), [5], "round {round}");
        let by_key = Counter::find(&db, 5).await.unwrap();
        assert_eq!(by_key.map(|c| c.value), Some(50), "round {round}");
        // More distinct statements than the connection keeps (limits are literals on
        // SQLite: each limit is its own text), each checked as it runs.
        for limit in 1..=120u64 {
            let limited = Counter::query()
                .filter(Counter::VALUE.gt(0))
                .order_by(Counter::ID.desc())
                .limit(limit)
                .all(&db)
                .await
                .unwrap();
            assert_eq!(limited.len(), limit.min(10) as usize, "limit {limit}");
            assert_eq!(limited[0].id, 10, "limit {limit}");
        }
    }
}

/// A table dropped and created again with other columns through the `Db` is read with its new
/// columns by the statement that read the old ones (the connection forgot its prepared
/// statements and the pool replaced the connections opened before the change).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_run_inline_after_a_schema_change_reads_the_new_table() {
    #[derive(Model, Debug, Clone, PartialEq)]
    #[orm(table = "native_counters")]
    struct Wide {
        #[orm(primary_key)]
        id: i64,
        value: i64,
        note: String,
    }
    let file = TempDb::new("inline-ddl");
    let db = file.open(PoolOptions::new().max_connections(3)).await;
    Counter::insert_many(&db, &[Counter { id: 1, value: 1 }])
        .await
        .unwrap();
    assert_eq!(value_of(&db, 1).await, 1);
    db.drop_table::<Counter>().await.unwrap();
    db.create_table::<Wide>().await.unwrap();
    let wide = Wide {
        id: 1,
        value: 2,
        note: "new".to_owned(),
    };
    Wide::insert_many(&db, std::slice::from_ref(&wide))
        .await
        .unwrap();
    assert_eq!(Wide::find(&db, 1).await.unwrap(), Some(wide));
    assert_eq!(value_of(&db, 1).await, 2);
}

/// A free connection idle for the idle timeout, or open for the maximum lifetime, is replaced
/// when it is next handed out, also to a statement run inline (a connection's own
/// `cache_size` tells them apart) — limits of a second (timed by the pool's ticking clock)
/// and under one (timed by the OS clock).
#[tokio::test]
async fn idle_and_old_connections_are_replaced_when_handed_out() {
    let mut cases = Vec::new();
    for (clock, limit) in [
        ("ticked", Duration::from_secs(1)),
        ("exact", Duration::from_millis(600)),
    ] {
        cases.push((
            format!("idle, {clock}"),
            limit,
            PoolOptions::new().idle_timeout(limit).max_lifetime(None),
        ));
        cases.push((
            format!("old, {clock}"),
            limit,
            PoolOptions::new().idle_timeout(None).max_lifetime(limit),
        ));
    }
    for (case, limit, options) in cases {
        let file = TempDb::new(&format!("expiry-{}", case.replace(", ", "-")));
        let db = file.open(options.max_connections(1)).await;
        db.execute_raw("PRAGMA cache_size = -1234").await.unwrap();
        let cache_size = || async {
            let (n,): (i64,) = polyorm::raw("PRAGMA cache_size")
                .fetch_optional(&db)
                .await
                .unwrap()
                .unwrap();
            n
        };
        assert_eq!(cache_size().await, -1234, "{case}: the same connection");
        // Used again at once: still fit.
        assert!(Counter::query().all(&db).await.unwrap().is_empty());
        assert_eq!(
            cache_size().await,
            -1234,
            "{case}: still the same connection"
        );
        tokio::time::sleep(limit * 2).await;
        assert!(Counter::query().all(&db).await.unwrap().is_empty());
        assert_ne!(cache_size().await, -1234, "{case}: replaced");
    }
}

/// How many rows `db` reads through a statement of its own text per `limit` (SQLite writes a
/// limit as a literal: each limit is a distinct statement whose text the compiler shares).
async fn read_limited(db: &Db, limit: u64) -> Vec<Counter> {
    Counter::query()
        .filter(Counter::VALUE.ge(0))
        .order_by(Counter::ID.asc())
        .limit(limit)
        .all(db)
        .await
        .unwrap()
}

/// Past the connection's bound on kept statements (100), the least recently used are
/// finalized and prepared again when they come back, reading what is in the table now.
#[tokio::test]
async fn kept_statements_past_their_bound_are_prepared_again_and_read_current_rows() {
    let db = Db::connect("sqlite::memory:").await.unwrap();
    db.create_table::<Counter>().await.unwrap();
    let rows: Vec<Counter> = (1..=5).map(|id| Counter { id, value: id }).collect();
    Counter::insert_many(&db, &rows).await.unwrap();
    for round in 0..3i64 {
        for limit in 1..=250u64 {
            let read = read_limited(&db, limit).await;
            assert_eq!(
                read.len(),
                limit.min(5) as usize,
                "round {round}, limit {limit}"
            );
            assert_eq!(
                read[0].value,
                1 + round * 100,
                "round {round}, limit {limit}"
            );
        }
        set_value(&db, 1, 1 + (round + 1) * 100).await.unwrap();
    }
}

/// The one connection of an in-memory database is never replaced, so a schema change must
/// make it forget the statements it keeps: the statement that read the old table reads the
/// new one.
#[tokio::test]
async fn a_kept_statement_on_the_one_in_memory_connection_reads_a_table_made_anew() {
    let db = Db::connect("sqlite::memory:").await.unwrap();
    db.create_table::<Counter>().await.unwrap();
    Counter::insert_many(&db, &[Counter { id: 1, value: 1 }])
        .await
        .unwrap();
    assert_eq!(value_of(&db, 1).await, 1);
    assert_eq!(read_limited(&db, 3).await.len(), 1);
    db.drop_table::<Counter>().await.unwrap();
    // The same columns in another order, one more, and other rows.
    db.execute_raw(
        "CREATE TABLE native_counters (note TEXT NOT NULL DEFAULT '', value INTEGER NOT NULL, \
         id INTEGER PRIMARY KEY)",
    )
    .await
    .unwrap();
    Counter::insert_many(
        &db,
        &[Counter { id: 1, value: 7 }, Counter { id: 2, value: 8 }],
    )
    .await
    .unwrap();
    assert_eq!(value_of(&db, 1).await, 7);
    let read = read_limited(&db, 3).await;
    assert_eq!(
        read,
        [Counter { id: 1, value: 7 }, Counter { id: 2, value: 8 }]
    );
}

/// A stream takes the connection, with the statements it keeps, to a blocking thread and
/// gives it back: statements kept before it run after it, on the same connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_statements_run_again_after_a_stream_took_their_connection_away() {
    use futures::TryStreamExt;
    let db = Db::connect("sqlite::memory:").await.unwrap();
    db.create_table::<Counter>().await.unwrap();
    let rows: Vec<Counter> = (1..=300).map(|id| Counter { id, value: id }).collect();
    Counter::insert_many(&db, &rows).await.unwrap();
    for round in 0..3 {
        assert_eq!(value_of(&db, 7).await, 7, "round {round}");
        assert_eq!(read_limited(&db, 2).await.len(), 2, "round {round}");
        let streamed: Vec<Counter> = Counter::query()
            .filter(Counter::VALUE.ge(0))
            .order_by(Counter::ID.asc())
            .limit(250)
            .stream(&db)
            .try_collect()
            .await
            .unwrap();
        assert_eq!(streamed.len(), 250, "round {round}");
        assert_eq!(value_of(&db, 7).await, 7, "round {round}");
    }
    // A stream dropped after its first row: its thread stops, the connection comes back.
    let mut partly = Counter::query().stream(&db);
    assert!(partly.try_next().await.unwrap().is_some());
    drop(partly);
    assert_eq!(read_limited(&db, 250).await.len(), 250);
}

/// Connections closed with the statements they keep (when the `Db` is dropped, and on a
/// stream's thread when nobody takes the connection back) close for good: SQLite refuses to
/// close a connection with statements left, which would keep its files open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_pool_closes_its_connections_and_their_kept_statements() {
    use futures::TryStreamExt;
    let file = TempDb::new("kept-close");
    // This process's open files in the database's directory.
    let open_files = || {
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
            .filter(|target| target.starts_with(&file.dir))
            .count()
    };
    {
        let db = file.open(PoolOptions::new().max_connections(2)).await;
        let rows: Vec<Counter> = (1..=300).map(|id| Counter { id, value: id }).collect();
        Counter::insert_many(&db, &rows).await.unwrap();
        // Each twice: its text is shared (and its statement kept) from its second run.
        for _ in 0..2 {
            assert_eq!(value_of(&db, 3).await, 3);
            assert_eq!(read_limited(&db, 2).await.len(), 2);
        }
        let mut stream = Counter::query().stream(&db);
        assert!(stream.try_next().await.unwrap().is_some());
        assert!(open_files() > 0, "the connections have the database open");
        // Dropped while its thread may still have the connection: whichever ends last, the
        // pool or the thread, closes it.
        drop(stream);
        drop(db);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while open_files() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(open_files(), 0, "every connection closed");
}

/// Many tasks on a pool of two connections, each writing its own row and reading it back
/// (the inline path and the waiting path mixed, as a loaded service meets them): every task
/// gets through, no statement times out waiting for a connection, every value reads back, and
/// the pool ends with every connection returned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_task_gets_through_a_contended_pool_and_reads_its_own_writes() {
    const TASKS: i64 = 32;
    const ROUNDS: i64 = 25;
    let file = TempDb::new("contended");
    let db = file
        .open(
            PoolOptions::new()
                .max_connections(2)
                .acquire_timeout(Duration::from_secs(10)),
        )
        .await;
    let rows: Vec<Counter> = (0..TASKS).map(|id| Counter { id, value: 0 }).collect();
    Counter::insert_many(&db, &rows).await.unwrap();
    let tasks: Vec<_> = (0..TASKS)
        .map(|id| {
            let db = db.clone();
            tokio::spawn(async move {
                for round in 1..=ROUNDS {
                    if round % 4 == 0 {
                        assert_eq!(set_value(&db, id, round).await.unwrap(), 1);
                        assert_eq!(value_of(&db, id).await, round, "task {id} round {round}");
                    } else {
                        let held = db.acquire().await.unwrap();
                        let read = Counter::find(&held, id).await.unwrap().unwrap();
                        assert_eq!(read.value, round / 4 * 4, "task {id} round {round}");
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let stored: Vec<Counter> = Counter::query().all(&db).await.unwrap();
    assert_eq!(stored.len() as i64, TASKS);
    assert!(
        stored.iter().all(|c| c.value == ROUNDS / 4 * 4),
        "{stored:?}"
    );
    let health = db.health().await.unwrap();
    assert_eq!(health.max_connections, 2);
    assert!(health.connections <= 2, "{health:?}");
}
