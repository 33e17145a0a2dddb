//! MariaDB row-based binlog against private servers (`--log-bin --binlog-format=ROW
//! --binlog-row-metadata=FULL`): typed events from writes by the `mariadb` client and by the
//! ORM, rollbacks, a large transaction, DDL during the stream, resuming after the last
//! acknowledgement (also inside a transaction), and the errors of an unconfigured server.

mod common;

use std::time::Duration;

use common::{Order, assert_quiet, binlog_mariadb, mariadb, next_event, order};
use polyorm::Model;
use polyorm_changes::mysql::BinlogSource;
use polyorm_changes::{Change, ChangeStream, Error, ModelChanges, Position};
use rust_decimal::Decimal;

const INSERT: &str =
    "INSERT INTO cdc_orders (customer, total, placed_at, paid, ref_id, tags, `blob`)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_events_from_the_client_and_the_orm_with_rollbacks_large_transactions_and_ddl() {
    let server = binlog_mariadb().await;
    let db = polyorm::Db::connect(&server.url()).await.unwrap();
    db.create_table::<Order>().await.unwrap();
    let source = BinlogSource::new(server.url(), "cdc_typed");
    let mut stream = Order::changes(&source).start().await.unwrap();

    let stored = order("ada", 1250).insert(&db).await.unwrap();
    let event = next_event(&mut stream).await;
    assert_eq!(event.change, Change::Insert(stored.clone()));
    assert_eq!(
        (event.meta.schema.as_str(), event.meta.table.as_str()),
        ("test", "cdc_orders")
    );
    assert!(event.meta.transaction_id.is_some());
    assert!(event.meta.commit_time().is_some());
    let first = event.meta.position.clone();

    mariadb(
        &server,
        &format!(
            "UPDATE cdc_orders SET note = 'gift', paid = 1, total = 0.00 WHERE id = {}",
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
            after: after.clone()
        }
    );

    mariadb(
        &server,
        &format!(
            "BEGIN; {INSERT} VALUES ('ghost', 1, NOW(6), 0, UNHEX(REPLACE(UUID(), '-', '')), '{{}}', ''); ROLLBACK;"
        ),
    );
    mariadb(
        &server,
        &format!("DELETE FROM cdc_orders WHERE id = {}", stored.id),
    );
    assert_eq!(
        next_event(&mut stream).await.change,
        Change::Delete {
            key: vec![polyorm::Value::BigInt(stored.id)],
            before: Some(after)
        }
    );

    // 3,000 rows in one transaction (several row events), in order, one transaction id.
    mariadb(
        &server,
        &format!(
            "{INSERT} SELECT CONCAT('bulk', seq), seq / 100, '2024-01-01 00:00:00', seq % 2 = 0, \
             UNHEX(REPLACE(UUID(), '-', '')), JSON_OBJECT('g', seq), X'00' FROM seq_1_to_3000"
        ),
    );
    let mut xid = None;
    let mut last: Option<Position> = None;
    for g in 1..=3000_i64 {
        let event = next_event(&mut stream).await;
        let Change::Insert(row) = &event.change else {
            panic!("expected an insert")
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

    // DDL: a new column is ignored, rows still decode.
    mariadb(&server, "ALTER TABLE cdc_orders ADD COLUMN audit_note TEXT");
    let late = order("after-ddl", 99).insert(&db).await.unwrap();
    assert_eq!(next_event(&mut stream).await.change, Change::Insert(late));
    // TRUNCATE (logged as a statement) is one event for the table; another table's is not in
    // the stream.
    mariadb(
        &server,
        "CREATE TABLE cdc_other (id INT PRIMARY KEY); INSERT INTO cdc_other VALUES (1); \
         TRUNCATE cdc_other; /* cleanup */ TRUNCATE TABLE `test`.`cdc_orders`",
    );
    let event = next_event(&mut stream).await;
    assert_eq!(event.change, Change::Truncate);
    assert_eq!(
        (event.meta.schema.as_str(), event.meta.table.as_str()),
        ("test", "cdc_orders")
    );
    let again = order("after-truncate", 5).insert(&db).await.unwrap();
    assert_eq!(next_event(&mut stream).await.change, Change::Insert(again));
    assert_quiet(&mut stream, Duration::from_millis(300)).await;
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reopened_stream_starts_right_after_the_last_acknowledgement() {
    let server = binlog_mariadb().await;
    let db = polyorm::Db::connect(&server.url()).await.unwrap();
    db.create_table::<Order>().await.unwrap();
    let source = BinlogSource::new(server.url(), "cdc_resume");
    // Opening records nothing: the first acknowledgement does.
    let mut stream = Order::changes(&source).start().await.unwrap();
    for t in 0..4 {
        mariadb(
            &server,
            &format!(
                "{INSERT} SELECT CONCAT('t{t}-', seq), seq, NOW(6), 0, UNHEX(REPLACE(UUID(), '-', '')), \
                 '{{}}', '' FROM seq_1_to_5"
            ),
        );
    }
    let mut customers = Vec::new();
    for _ in 0..7 {
        let event = next_event(&mut stream).await;
        customers.push(event.change.row().unwrap().customer.clone());
        // Acknowledge the 7th: inside the second transaction.
        if customers.len() == 7 {
            stream.ack(event.position()).await.unwrap();
        }
    }
    // Two more received but not acknowledged: they come again.
    let unacked: Vec<String> = [next_event(&mut stream).await, next_event(&mut stream).await]
        .iter()
        .map(|e| e.change.row().unwrap().customer.clone())
        .collect();
    drop(stream);

    let mut stream: ChangeStream<_> = Order::changes(&source).start().await.unwrap();
    let again: Vec<String> = [next_event(&mut stream).await, next_event(&mut stream).await]
        .iter()
        .map(|e| e.change.row().unwrap().customer.clone())
        .collect();
    assert_eq!(customers[6], "t1-2");
    assert_eq!(again, unacked);
    let mut rest = 0;
    while rest < 20 - 9 {
        next_event(&mut stream).await;
        rest += 1;
    }
    assert_quiet(&mut stream, Duration::from_millis(300)).await;
    db.close().await;
}

/// The consumer process of `a_killed_consumer_resumes_after_its_last_acknowledgement` (see
/// [`common::run_consumer`]). Runs only when that test starts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the consumer process started by a_killed_consumer_resumes_after_its_last_acknowledgement"]
async fn consumer_child() {
    let url = std::env::var("CDC_CHILD_URL").expect("started by the parent test");
    common::run_consumer(&BinlogSource::new(url, "cdc_kill")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_consumer_resumes_after_its_last_acknowledgement() {
    let server = binlog_mariadb().await;
    let db = polyorm::Db::connect(&server.url()).await.unwrap();
    db.create_table::<Order>().await.unwrap();
    // A consumer starts where its last acknowledgement is (a new one: at the binlog's end):
    // acknowledge a first row so the rows below are all after it.
    let source = BinlogSource::new(server.url(), "cdc_kill");
    let mut stream = Order::changes(&source).start().await.unwrap();
    let marker = order("marker", 0).insert(&db).await.unwrap();
    let event = next_event(&mut stream).await;
    assert_eq!(event.change, Change::Insert(marker));
    stream.ack(event.position()).await.unwrap();
    drop(stream);
    // 300 rows in 100 transactions of 3.
    let transactions: String = (1..=100)
        .map(|t| {
            format!(
                "{INSERT} SELECT CONCAT('k{t}-', seq), seq, NOW(6), 0, \
                 UNHEX(REPLACE(UUID(), '-', '')), '{{}}', '' FROM seq_1_to_3;"
            )
        })
        .collect();
    mariadb(&server, &transactions);
    common::kill_and_resume_consumer(&server, 2..=301).await;
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_a_binlog_is_named_in_the_error() {
    let server = common::PrivateServer::start(common::Kind::MariaDb).await;
    let source = BinlogSource::new(server.url(), "cdc_unconfigured");
    match Order::changes(&source).start().await {
        Err(Error::NotConfigured { setting, message }) => {
            assert_eq!(setting, "log_bin");
            assert!(message.contains("--log-bin"), "{message}");
        }
        Err(other) => panic!("expected NotConfigured, got {other}"),
        Ok(_) => panic!("expected NotConfigured, got a stream"),
    }
}

/// Commit → event latency (p50/p99 over single-row commits by the ORM) and events/s of a
/// 20,000-row transaction; printed for BENCHMARKS.md, not asserted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_to_event_latency_and_throughput() {
    let server = binlog_mariadb().await;
    let db = polyorm::Db::connect(&server.url()).await.unwrap();
    db.create_table::<Order>().await.unwrap();
    let source = BinlogSource::new(server.url(), "cdc_latency");
    let mut stream = Order::changes(&source).start().await.unwrap();
    let mut latencies = Vec::new();
    for i in 0..200 {
        let committed = std::time::Instant::now();
        let stored = order(&format!("lat{i}"), i).insert(&db).await.unwrap();
        let event = next_event(&mut stream).await;
        latencies.push(committed.elapsed());
        assert_eq!(event.change, Change::Insert(stored));
        stream.ack(event.position()).await.unwrap();
    }
    latencies.sort();
    let p = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize];
    let started = std::time::Instant::now();
    mariadb(
        &server,
        &format!(
            "{INSERT} SELECT 'bulk', seq, NOW(6), 0, UNHEX(REPLACE(UUID(), '-', '')), '{{}}', '' \
             FROM seq_1_to_20000"
        ),
    );
    for _ in 0..20_000 {
        next_event(&mut stream).await;
    }
    let rate = 20_000.0 / started.elapsed().as_secs_f64();
    eprintln!(
        "mariadb binlog: commit->event p50 {:?} p99 {:?} (insert round trip included); {rate:.0} events/s",
        p(0.5),
        p(0.99)
    );
    db.close().await;
}
