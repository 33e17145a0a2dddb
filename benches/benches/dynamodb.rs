//! DynamoDB: the ORM beside the same requests made by hand with `aws-sdk-dynamodb` (the same
//! client, so the transport is identical): `find` (GetItem), insert 1 (conditional PutItem),
//! insert 100 (one TransactWriteItems of conditional puts), query 100 (Query of one partition,
//! 100 items decoded into the struct).
//!
//! Needs the emulator: `bash scripts/dynamodb-server.sh start`, then
//! `cargo bench -p polyorm-benches --features dynamodb --bench dynamodb` (URL:
//! `ORM_BENCH_DYNAMODB_URL`, default `dynamodb://127.0.0.1:27191?region=us-east-1`).
//! `ORM_BENCH_PROFILE=<workload>/<orm|raw>/<iterations>` runs one body that many times after
//! the setup and exits, for `valgrind --tool=callgrind` (client instructions only: the
//! emulator is another process).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};

use criterion::{Criterion, criterion_group};
use polyorm::dynamo::AttributeValue;
use polyorm::dynamo::sdk::Client;
use polyorm::dynamo::sdk::types::{Put, TransactWriteItem};
use polyorm::prelude::*;

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "bench_ddb_rows", primary_key(part, seq))]
struct Row {
    part: String,
    seq: i64,
    name: String,
    score: f64,
    note: Option<String>,
}

fn url() -> String {
    std::env::var("ORM_BENCH_DYNAMODB_URL")
        .unwrap_or_else(|_| "dynamodb://127.0.0.1:27191?region=us-east-1".to_owned())
}

/// Keys never repeat within a process (inserts need fresh keys).
static NEXT: AtomicI64 = AtomicI64::new(1_000_000);

fn row(part: &str, seq: i64) -> Row {
    Row {
        part: part.to_owned(),
        seq,
        name: format!("row {seq}"),
        score: seq as f64 / 8.0,
        note: (seq % 2 == 0).then(|| "even".to_owned()),
    }
}

fn item(r: &Row) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        ("part".to_owned(), AttributeValue::S(r.part.clone())),
        ("seq".to_owned(), AttributeValue::N(r.seq.to_string())),
        ("name".to_owned(), AttributeValue::S(r.name.clone())),
        ("score".to_owned(), AttributeValue::N(r.score.to_string())),
    ]);
    if let Some(note) = &r.note {
        item.insert("note".to_owned(), AttributeValue::S(note.clone()));
    }
    item
}

fn decode(item: &HashMap<String, AttributeValue>) -> Row {
    let s = |k: &str| match item.get(k) {
        Some(AttributeValue::S(s)) => Some(s.clone()),
        _ => None,
    };
    let n = |k: &str| match item.get(k) {
        Some(AttributeValue::N(n)) => n.clone(),
        _ => panic!("{k} is not a number"),
    };
    Row {
        part: s("part").expect("part"),
        seq: n("seq").parse().expect("seq"),
        name: s("name").expect("name"),
        score: n("score").parse().expect("score"),
        note: s("note"),
    }
}

async fn raw_find(client: &Client, part: &str, seq: i64) -> Option<Row> {
    let got = client
        .get_item()
        .table_name("bench_ddb_rows")
        .key("part", AttributeValue::S(part.to_owned()))
        .key("seq", AttributeValue::N(seq.to_string()))
        .send()
        .await
        .expect("get_item");
    got.item.as_ref().map(decode)
}

fn conditional_put(r: &Row) -> Put {
    Put::builder()
        .table_name("bench_ddb_rows")
        .set_item(Some(item(r)))
        .condition_expression("attribute_not_exists(#n0)")
        .expression_attribute_names("#n0", "part")
        .build()
        .expect("put")
}

async fn raw_insert_1(client: &Client, r: &Row) {
    client
        .put_item()
        .table_name("bench_ddb_rows")
        .set_item(Some(item(r)))
        .condition_expression("attribute_not_exists(#n0)")
        .expression_attribute_names("#n0", "part")
        .send()
        .await
        .expect("put_item");
}

async fn raw_insert_many(client: &Client, rows: &[Row]) {
    let items = rows
        .iter()
        .map(|r| TransactWriteItem::builder().put(conditional_put(r)).build())
        .collect();
    client
        .transact_write_items()
        .set_transact_items(Some(items))
        .send()
        .await
        .expect("transact_write_items");
}

async fn raw_query(client: &Client, part: &str) -> Vec<Row> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .query()
            .table_name("bench_ddb_rows")
            .key_condition_expression("#n0 = :v0")
            .expression_attribute_names("#n0", "part")
            .expression_attribute_values(":v0", AttributeValue::S(part.to_owned()))
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("query");
        out.extend(page.items().iter().map(decode));
        start = page.last_evaluated_key;
        if start.is_none() {
            return out;
        }
    }
}

async fn orm_query(db: &Db, part: &str) -> Vec<Row> {
    Row::query()
        .filter(Row::PART.eq(part))
        .all(db)
        .await
        .expect("query")
}

fn fresh_rows(n: usize) -> Vec<Row> {
    (0..n)
        .map(|_| row("ins", NEXT.fetch_add(1, Ordering::Relaxed)))
        .collect()
}

/// Connects, creates the table and the 100-item partition `q` (and `find`'s row).
async fn setup() -> (Db, Client) {
    let db = Db::connect(&url()).await.unwrap_or_else(|e| {
        panic!(
            "no DynamoDB at {}: {e}; run `bash scripts/dynamodb-server.sh start`",
            url()
        )
    });
    db.drop_table::<Row>().await.unwrap();
    db.create_table::<Row>().await.unwrap();
    let rows: Vec<Row> = (0..100).map(|i| row("q", i)).collect();
    Row::insert_many(&db, &rows).await.unwrap();
    let client = db.dynamodb_client().expect("a DynamoDB database");
    // Both sides answer the same.
    assert_eq!(
        Row::find(&db, ("q".into(), 7)).await.unwrap(),
        raw_find(&client, "q", 7).await
    );
    assert_eq!(orm_query(&db, "q").await, raw_query(&client, "q").await);
    (db, client)
}

async fn run_once(db: &Db, client: &Client, workload: &str, lib: &str) {
    match (workload, lib) {
        ("find", "orm") => {
            Row::find(db, ("q".into(), 7)).await.unwrap();
        }
        ("find", "raw") => {
            raw_find(client, "q", 7).await;
        }
        ("insert_1", "orm") => {
            fresh_rows(1)[0].insert(db).await.unwrap();
        }
        ("insert_1", "raw") => raw_insert_1(client, &fresh_rows(1)[0]).await,
        ("insert_100", "orm") => {
            Row::insert_many(db, &fresh_rows(100)).await.unwrap();
        }
        ("insert_100", "raw") => raw_insert_many(client, &fresh_rows(100)).await,
        ("query_100", "orm") => assert_eq!(orm_query(db, "q").await.len(), 100),
        ("query_100", "raw") => assert_eq!(raw_query(client, "q").await.len(), 100),
        other => panic!("unknown workload/library {other:?}"),
    }
}

const WORKLOADS: &[&str] = &["find", "insert_1", "insert_100", "query_100"];

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (db, client) = rt.block_on(setup());
    for workload in WORKLOADS {
        let mut group = c.benchmark_group(format!("dynamodb/{workload}"));
        for lib in ["orm", "raw"] {
            group.bench_function(lib, |b| {
                b.to_async(&rt)
                    .iter(|| run_once(&db, &client, workload, lib));
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}

fn main() {
    if let Ok(profile) = std::env::var("ORM_BENCH_PROFILE") {
        let parts: Vec<&str> = profile.split('/').collect();
        let [workload, lib, k] = parts[..] else {
            panic!("ORM_BENCH_PROFILE=<workload>/<orm|raw>/<iterations>");
        };
        let k: u32 = k.parse().expect("iterations");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (db, client) = setup().await;
            // One warm-up call of each side, so that k = 0 and k = n share it.
            run_once(&db, &client, workload, lib).await;
            for _ in 0..k {
                run_once(&db, &client, workload, lib).await;
            }
        });
        return;
    }
    if std::env::var("ORM_BENCH_SMOKE").is_ok() {
        // CI's smoke run: each body once, answers checked in `setup`.
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let (db, client) = setup().await;
            for workload in WORKLOADS {
                for lib in ["orm", "raw"] {
                    run_once(&db, &client, workload, lib).await;
                }
            }
        });
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
