//! PostgreSQL logical decoding (wal2json) against private servers with `wal_level=logical`:
//! typed events from writes by psql and by the ORM, rollbacks, large transactions, DDL during
//! the stream, acknowledged resume after killing the consumer process, backpressure, and the
//! errors of a server that is not configured.

mod common;

use std::time::Duration;

use common::{Order, assert_quiet, logical_postgres, next_event, order, psql};
use polyorm::{Executor, Model};
use polyorm_changes::postgres::PgSource;
use polyorm_changes::{Change, ChangeStream, Error, Event, ModelChanges, Position};
use rust_decimal::Decimal;

async fn setup(server: &common::PrivateServer) -> polyorm::Db {
    let db = polyorm::Db::connect(&server.url()).await.unwrap();
    db.create_table::<Order>().await.unwrap();
    db.execute_raw("ALTER TABLE cdc_orders REPLICA IDENTITY FULL")
        .await
        .unwrap();
    db
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_events_from_psql_and_orm_with_rollbacks_large_transactions_and_ddl() {
    let server = logical_postgres().await;
    let db = setup(&server).await;
    let source = PgSource::new(server.url(), "cdc_typed");
    let mut stream = Order::changes(&source).start().await.unwrap();

    // Written by the ORM.
    let stored = order("ada", 1250).insert(&db).await.unwrap();
    let Event { meta, change } = next_event(&mut stream).await;
    assert_eq!(change, Change::Insert(stored.clone()));
    assert_eq!(meta.table, "cdc_orders");
    assert_eq!(meta.schema, "public");
    assert!(meta.transaction_id.is_some());
    let committed = meta.commit_time().expect("a commit time");
    let age = std::time::SystemTime::now()
        .duration_since(committed)
        .unwrap_or_default();
    assert!(age < Duration::from_secs(60), "commit time {committed:?}");
    let first = meta.position.clone();

    // Updated and deleted by psql: before images (REPLICA IDENTITY FULL) and keys.
    psql(
        &server,
        &format!(
            "UPDATE cdc_orders SET note = 'gift', paid = true, total = 0.00 WHERE id = {}",
            stored.id
        ),
    );
    let event = next_event(&mut stream).await;
    assert!(event.meta.position > first);
    let mut after = stored.clone();
    after.note = Some("gift".into());
    after.paid = true;
    after.total = Decimal::new(0, 2);
    assert_eq!(
        event.change,
        Change::Update {
            key: vec![polyorm::Value::BigInt(stored.id)],
            before: Some(stored.clone()),
            after: after.clone(),
        }
    );

    // A rolled-back transaction produces nothing; the next committed one does.
    psql(
        &server,
        "BEGIN; INSERT INTO cdc_orders (customer, total, placed_at, paid, ref_id, tags, blob) \
         VALUES ('ghost', 1, now(), false, gen_random_uuid(), '{}', ''); ROLLBACK;",
    );
    psql(
        &server,
        &format!("DELETE FROM cdc_orders WHERE id = {}", stored.id),
    );
    let event = next_event(&mut stream).await;
    assert_eq!(
        event.change,
        Change::Delete {
            key: vec![polyorm::Value::BigInt(stored.id)],
            before: Some(after),
        }
    );

    // One transaction of 5,000 rows: every row, in order, one transaction id, ascending
    // positions.
    psql(
        &server,
        "INSERT INTO cdc_orders (customer, total, placed_at, paid, ref_id, tags, blob) \
         SELECT 'bulk' || g, g / 100.0, '2024-01-01 00:00:00+00', g % 2 = 0, \
         gen_random_uuid(), jsonb_build_object('g', g), '\\x00'::bytea FROM generate_series(1, 5000) g",
    );
    let mut xid = None;
    let mut last: Option<Position> = None;
    for g in 1..=5000_i64 {
        let event = next_event(&mut stream).await;
        let Change::Insert(row) = &event.change else {
            panic!("expected an insert, got {:?}", event.change)
        };
        assert_eq!(row.customer, format!("bulk{g}"));
        assert_eq!(row.total, Decimal::new(g, 2));
        assert_eq!(row.paid, g % 2 == 0);
        assert_eq!(row.tags, serde_json::json!({ "g": g }));
        assert_eq!(row.blob, vec![0]);
        assert!(xid.get_or_insert(event.meta.transaction_id.clone()) == &event.meta.transaction_id);
        assert!(last.as_ref().is_none_or(|p| *p < event.meta.position));
        last = Some(event.meta.position.clone());
    }

    // DDL during the stream: a column the model does not have is ignored; rows still decode.
    psql(
        &server,
        "ALTER TABLE cdc_orders ADD COLUMN audit_note text DEFAULT 'x'",
    );
    let late = order("after-ddl", 99).insert(&db).await.unwrap();
    let event = next_event(&mut stream).await;
    assert_eq!(event.change, Change::Insert(late.clone()));
    // A column of the model dropped: the change is reported as an error naming the column,
    // and the stream goes on.
    psql(&server, "ALTER TABLE cdc_orders DROP COLUMN note");
    psql(
        &server,
        "INSERT INTO cdc_orders (customer, total, placed_at, paid, ref_id, tags, blob) \
         VALUES ('no-note', 1, now(), false, gen_random_uuid(), '{}', '')",
    );
    match tokio::time::timeout(Duration::from_secs(20), stream.next()).await {
        Ok(Some(Err(Error::Decode { message, .. }))) => {
            assert!(message.contains("`note`"), "{message}")
        }
        other => panic!("expected a decode error naming `note`, got {other:?}"),
    }
    psql(&server, "ALTER TABLE cdc_orders ADD COLUMN note text");
    psql(
        &server,
        "UPDATE cdc_orders SET note = 'back' WHERE customer = 'after-ddl'",
    );
    let event = next_event(&mut stream).await;
    assert!(
        matches!(&event.change, Change::Update { after, .. } if after.note.as_deref() == Some("back"))
    );
    // TRUNCATE is one event for the table (another table's is not in the stream).
    psql(
        &server,
        "CREATE TABLE cdc_other (id int PRIMARY KEY); INSERT INTO cdc_other VALUES (1); \
         TRUNCATE cdc_other; TRUNCATE cdc_orders",
    );
    let event = next_event(&mut stream).await;
    assert_eq!(event.change, Change::Truncate);
    assert_eq!(event.meta.table, "cdc_orders");
    let again = order("after-truncate", 5).insert(&db).await.unwrap();
    assert_eq!(next_event(&mut stream).await.change, Change::Insert(again));
    assert_quiet(&mut stream, Duration::from_millis(300)).await;
    drop(stream);
    source.drop_slot().await.unwrap();
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_replica_identity_full_deletes_carry_only_the_key() {
    let server = logical_postgres().await;
    let db = setup(&server).await;
    db.execute_raw("ALTER TABLE cdc_orders REPLICA IDENTITY DEFAULT")
        .await
        .unwrap();
    let source = PgSource::new(server.url(), "cdc_default_identity");
    // A filter on a column: only paid orders.
    let mut stream = Order::changes(&source)
        .filter_eq(Order::PAID, true)
        .start()
        .await
        .unwrap();
    let unpaid = order("u", 1).insert(&db).await.unwrap();
    let mut paid = order("p", 2);
    paid.paid = true;
    let paid = paid.insert(&db).await.unwrap();
    assert_eq!(
        next_event(&mut stream).await.change,
        Change::Insert(paid.clone())
    );
    psql(
        &server,
        &format!(
            "UPDATE cdc_orders SET customer = 'q' WHERE id = {}",
            paid.id
        ),
    );
    let event = next_event(&mut stream).await;
    let Change::Update { before, after, key } = event.change else {
        panic!("expected an update")
    };
    assert_eq!(
        (before, after.customer.as_str(), key),
        (None, "q", vec![polyorm::Value::BigInt(paid.id)])
    );
    // Deletes have no row to filter on: both are delivered, with keys only.
    psql(
        &server,
        &format!(
            "DELETE FROM cdc_orders WHERE id IN ({}, {})",
            unpaid.id, paid.id
        ),
    );
    for id in [unpaid.id, paid.id] {
        assert_eq!(
            next_event(&mut stream).await.change,
            Change::Delete {
                key: vec![polyorm::Value::BigInt(id)],
                before: None
            }
        );
    }
    drop(stream);
    source.drop_slot().await.unwrap();
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_logical_decoding_is_named_in_the_error() {
    let server = common::PrivateServer::start(common::Kind::Postgres).await;
    let source = PgSource::new(server.url(), "cdc_unconfigured");
    match Order::changes(&source).start().await {
        Err(Error::NotConfigured { setting, message }) => {
            assert_eq!(setting, "wal_level");
            assert!(message.contains("wal_level = logical"), "{message}");
        }
        Err(other) => panic!("expected NotConfigured, got {other}"),
        Ok(_) => panic!("expected NotConfigured, got a stream"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_holds_the_reader_back() {
    let server = logical_postgres().await;
    let db = setup(&server).await;
    let source = PgSource::new(server.url(), "cdc_backpressure");
    let mut stream = Order::changes(&source)
        .buffer(8)
        .batch(32)
        .start()
        .await
        .unwrap();
    // 200 transactions of 10 rows each.
    psql(
        &server,
        "DO $$ BEGIN FOR t IN 1..200 LOOP \
           INSERT INTO cdc_orders (customer, total, placed_at, paid, ref_id, tags, blob) \
           SELECT 'c' || t, g, now(), false, gen_random_uuid(), '{}', '' FROM generate_series(1, 10) g; \
           COMMIT; END LOOP; END $$",
    );
    // Nothing is consumed for a while: the reader stops once the buffer is full.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let read = stream.stats().read();
    assert!(stream.buffered() <= 8, "buffered {}", stream.buffered());
    // Buffer (8) + the batch being handed over (32 plus the rest of its last transaction).
    assert!(
        read <= 8 + 32 + 10,
        "{read} changes read ahead of a consumer that took none"
    );
    assert!(read >= 8, "the buffer filled: {read}");
    // The slot keeps the WAL of everything not acknowledged (what `warn_retained_above` watches).
    let retained = source
        .retained_wal_bytes()
        .await
        .unwrap()
        .expect("the slot exists");
    assert!(retained > 0, "{retained}");
    let mut seen = 0;
    let mut last = None;
    while seen < 2000 {
        let event = next_event(&mut stream).await;
        seen += 1;
        stream.ack(event.position()).await.unwrap();
        last = Some(event.meta.position);
    }
    assert_eq!(stream.stats().read(), 2000);
    assert_quiet(&mut stream, Duration::from_millis(300)).await;
    // Acknowledging the last change moved the slot to its transaction's commit.
    let last = last.unwrap().to_string();
    let commit_lsn = last.split(':').nth(1).unwrap();
    let (confirmed,): (bool,) = polyorm::raw(
        "SELECT confirmed_flush_lsn = ?::pg_lsn FROM pg_replication_slots WHERE slot_name = ?",
    )
    .bind(commit_lsn)
    .bind("cdc_backpressure")
    .fetch_one(&db)
    .await
    .unwrap();
    assert!(confirmed, "the slot confirmed up to {commit_lsn}");
    drop(stream);
    source.drop_slot().await.unwrap();
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_psql_invalidates_the_query_cache() {
    let server = logical_postgres().await;
    let db = setup(&server).await;
    let redis =
        std::env::var("ORM_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let cache = polyorm::cache::Cache::builder()
        .redis_url(redis)
        .prefix(format!("cdc-test:{}:{}", std::process::id(), server.port))
        .model_ttl::<Order>(Duration::from_secs(300))
        .build()
        .unwrap();
    let cached = cache.wrap(db.clone());
    let source = PgSource::new(server.url(), "cdc_cache");
    // The slot exists from here on: changes made before the invalidator runs are not lost.
    let stream = ChangeStream::builder(&source)
        .model::<Order>()
        .start()
        .await
        .unwrap();
    let stored = order("cached", 500).insert(&db).await.unwrap();
    assert_eq!(
        Order::find(&cached, stored.id).await.unwrap(),
        Some(stored.clone())
    );
    let hits = |cache: &polyorm::cache::Cache| {
        let stats = cache.stats();
        stats.hits_local + stats.hits_redis
    };
    let before = hits(&cache);
    psql(
        &server,
        &format!(
            "UPDATE cdc_orders SET customer = 'psql' WHERE id = {}",
            stored.id
        ),
    );
    // The cache does not see a write made outside the ORM: the read is a stale hit.
    assert_eq!(
        Order::find(&cached, stored.id).await.unwrap(),
        Some(stored.clone())
    );
    assert_eq!(hits(&cache), before + 1);

    let started = std::time::Instant::now();
    let invalidator = stream.invalidate(cache.clone());
    loop {
        let row = Order::find(&cached, stored.id).await.unwrap().unwrap();
        if row.customer == "psql" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still stale: {row:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // And again for a write made while the invalidator runs.
    let started = std::time::Instant::now();
    psql(
        &server,
        &format!(
            "UPDATE cdc_orders SET customer = 'psql2' WHERE id = {}",
            stored.id
        ),
    );
    loop {
        let row = Order::find(&cached, stored.id).await.unwrap().unwrap();
        if row.customer == "psql2" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still stale: {row:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    eprintln!(
        "psql write visible through the cache after {:?}",
        started.elapsed()
    );
    invalidator.abort();
    let _ = invalidator.await;
    source.drop_slot().await.unwrap();
    db.close().await;
}

/// The consumer process of `a_killed_consumer_resumes_after_its_last_acknowledgement` (see
/// [`common::run_consumer`]). Runs only when that test starts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the consumer process started by a_killed_consumer_resumes_after_its_last_acknowledgement"]
async fn consumer_child() {
    let url = std::env::var("CDC_CHILD_URL").expect("started by the parent test");
    common::run_consumer(&PgSource::new(url, "cdc_kill")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_consumer_resumes_after_its_last_acknowledgement() {
    let server = logical_postgres().await;
    let db = setup(&server).await;
    let source = PgSource::new(server.url(), "cdc_kill");
    // Creates the slot: changes from here on are kept for the consumer.
    drop(Order::changes(&source).start().await.unwrap());
    // 300 rows in 100 transactions of 3.
    psql(
        &server,
        "DO $$ BEGIN FOR t IN 1..100 LOOP \
           INSERT INTO cdc_orders (customer, total, placed_at, paid, ref_id, tags, blob) \
           SELECT 'k' || t, g, now(), false, gen_random_uuid(), '{}', '' FROM generate_series(1, 3) g; \
           COMMIT; END LOOP; END $$",
    );
    common::kill_and_resume_consumer(&server, 1..=300).await;
    source.drop_slot().await.unwrap();
    db.close().await;
}

/// Commit → event latency (p50/p99 over single-row commits by the ORM) and events/s of a
/// 20,000-row transaction; printed for BENCHMARKS.md, not asserted (no timing assertions).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_to_event_latency_and_throughput() {
    let server = logical_postgres().await;
    let db = setup(&server).await;
    let source = PgSource::new(server.url(), "cdc_latency");
    let mut stream = Order::changes(&source).start().await.unwrap();
    let mut latencies = Vec::new();
    for i in 0..200 {
        let row = order(&format!("lat{i}"), i);
        let committed = std::time::Instant::now();
        let stored = row.insert(&db).await.unwrap();
        let event = next_event(&mut stream).await;
        latencies.push(committed.elapsed());
        assert_eq!(event.change, Change::Insert(stored));
        stream.ack(event.position()).await.unwrap();
    }
    latencies.sort();
    let p = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize];
    let started = std::time::Instant::now();
    db.execute_raw(
        "INSERT INTO cdc_orders (customer, total, placed_at, paid, ref_id, tags, blob) \
         SELECT 'bulk', g, now(), false, gen_random_uuid(), '{}', '' FROM generate_series(1, 20000) g",
    )
    .await
    .unwrap();
    for _ in 0..20_000 {
        next_event(&mut stream).await;
    }
    let rate = 20_000.0 / started.elapsed().as_secs_f64();
    eprintln!(
        "postgres wal2json: commit->event p50 {:?} p99 {:?} (insert round trip included); {rate:.0} events/s",
        p(0.5),
        p(0.99)
    );
    drop(stream);
    source.drop_slot().await.unwrap();
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_fan_out_to_a_redis_stream_in_commit_order() {
    use polyorm_changes::redis::{Publisher, Target};
    let server = logical_postgres().await;
    let db = setup(&server).await;
    let redis_url =
        std::env::var("ORM_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = format!("cdc-fanout:{}:{}", std::process::id(), server.port);
    let redis = redis::Client::open(redis_url.as_str()).unwrap();
    let mut conn = redis.get_multiplexed_async_connection().await.unwrap();

    let source = PgSource::new(server.url(), "cdc_fanout");
    let stream = ChangeStream::builder(&source)
        .model::<Order>()
        .start()
        .await
        .unwrap();
    let publisher = Publisher::connect(
        &redis_url,
        Target::Stream {
            prefix: prefix.clone(),
            max_len: 1000,
        },
    )
    .await
    .unwrap();
    let task = stream.publish(publisher);
    let stored = order("fan", 7).insert(&db).await.unwrap();
    psql(
        &server,
        &format!("DELETE FROM cdc_orders WHERE id = {}", stored.id),
    );
    let key = format!("{prefix}:cdc_orders");
    let started = std::time::Instant::now();
    let entries: Vec<(String, Vec<(String, String)>)> = loop {
        let reply: redis::Value = redis::cmd("XRANGE")
            .arg(&key)
            .arg("-")
            .arg("+")
            .query_async(&mut conn)
            .await
            .unwrap();
        let entries: Vec<(String, Vec<(String, String)>)> = redis::from_redis_value(reply).unwrap();
        if entries.len() >= 2 {
            break entries;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "only {} entries",
            entries.len()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let messages: Vec<serde_json::Value> = entries
        .iter()
        .map(|(_, fields)| serde_json::from_str(&fields[0].1).unwrap())
        .collect();
    assert_eq!(messages[0]["kind"], "insert");
    assert_eq!(messages[0]["table"], "cdc_orders");
    assert_eq!(messages[0]["after"]["customer"], "fan");
    assert_eq!(messages[0]["after"]["id"], stored.id.to_string());
    assert_eq!(messages[1]["kind"], "delete");
    assert_eq!(messages[1]["before"]["customer"], "fan");
    assert!(messages[0]["position"].as_str().unwrap() < messages[1]["position"].as_str().unwrap());
    task.abort();
    let _ = task.await;
    let _: i64 = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    source.drop_slot().await.unwrap();
    db.close().await;
}

/// A slot another session streams from is not dropped from under it: `drop_slot` waits, then
/// names the holding process; once that consumer is gone the slot drops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_slot_a_running_consumer_holds_names_the_consumer() {
    let server = logical_postgres().await;
    psql(
        &server,
        "SELECT pg_create_logical_replication_slot('cdc_held', 'wal2json')",
    );
    // pg_recvlogical streams over a replication connection and holds the slot until killed.
    let mut consumer = std::process::Command::new("/usr/lib/postgresql/15/bin/pg_recvlogical")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "test"])
        .args(["-p", &server.port.to_string()])
        .args(["--slot", "cdc_held", "--start", "-f", "/dev/null"])
        .env("PGPASSWORD", common::servers::PASSWORD)
        .spawn()
        .expect("run pg_recvlogical");
    let holder = loop {
        let pid = psql(
            &server,
            "SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'cdc_held'",
        );
        if !pid.trim().is_empty() {
            break pid.trim().parse::<i32>().unwrap();
        }
        assert!(
            consumer.try_wait().unwrap().is_none(),
            "pg_recvlogical exited"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let source = PgSource::new(server.url(), "cdc_held").release_wait(Duration::from_millis(300));
    match source.drop_slot().await {
        Err(Error::SlotInUse { slot, pid }) => {
            assert_eq!((slot.as_str(), pid), ("cdc_held", holder));
        }
        other => panic!("expected the slot to be reported in use, got {other:?}"),
    }
    assert_eq!(
        psql(&server, "SELECT count(*) FROM pg_replication_slots").trim(),
        "1"
    );
    consumer.kill().unwrap();
    consumer.wait().unwrap();
    // The server sees the replication connection close a moment later: drop_slot waits for it.
    source
        .release_wait(Duration::from_secs(10))
        .drop_slot()
        .await
        .unwrap();
    assert_eq!(
        psql(&server, "SELECT count(*) FROM pg_replication_slots").trim(),
        "0"
    );
}
