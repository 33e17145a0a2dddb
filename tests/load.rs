//! Load: 10,000 concurrent tasks over one `Db` with a 100-connection pool, on a private
//! PostgreSQL server with `max_connections = 200` (the shared server's 100 would leave no
//! room for anyone else). Every task takes a connection and inserts its row: all complete (no
//! deadlock, no acquire timeout), every row is there, and the pool's gauges stay within their
//! bounds while it runs and settle afterwards. The acquire-time distribution and the time to
//! establish a connection (the 100 ms target) are printed for BENCHMARKS.md, never asserted.

#[path = "support/servers.rs"]
mod servers;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use polyorm::PoolOptions;
use polyorm::prelude::*;
use servers::{Kind, PrivateServer};

const TASKS: usize = 10_000;
const POOL: u32 = 100;

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "load_rows")]
struct LoadRow {
    #[orm(primary_key)]
    id: i64,
    task: i64,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_tasks_share_a_hundred_connections() {
    let server = PrivateServer::start_with(Kind::Postgres, &["max_connections=200"]).await;
    let url = server.url();

    // Connection establishment: a new pool's first statement opens its one connection (TCP,
    // startup, authentication, then the statement).
    let mut connects = Vec::new();
    for _ in 0..30 {
        let started = Instant::now();
        let db = PoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .unwrap();
        db.execute_raw("SELECT 1").await.unwrap();
        connects.push(started.elapsed());
        db.close().await;
    }
    connects.sort();
    println!(
        "connect + first statement (PostgreSQL 15, local TCP, 30 fresh pools): p50 {}, p99 {}, \
         max {} (target 100 ms)",
        ms(percentile(&connects, 0.5)),
        ms(percentile(&connects, 0.99)),
        ms(*connects.last().unwrap())
    );

    let db = PoolOptions::new()
        .max_connections(POOL)
        .acquire_timeout(Duration::from_secs(120))
        .connect(&url)
        .await
        .unwrap();
    db.create_table::<LoadRow>().await.unwrap();

    // The gauges, sampled while the load runs: never more open or lent connections than the
    // maximum.
    let running = Arc::new(AtomicBool::new(true));
    let (max_in_use, max_waiting) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    let sampler = {
        let (db, running) = (db.clone(), running.clone());
        let (max_in_use, max_waiting) = (max_in_use.clone(), max_waiting.clone());
        tokio::spawn(async move {
            while running.load(Ordering::Acquire) {
                let status = db
                    .pool_status()
                    .expect("a PostgreSQL pool reports its gauges");
                assert!(
                    status.size <= POOL && status.in_use <= status.size,
                    "{status:?}"
                );
                assert_eq!(status.max, POOL);
                max_in_use.fetch_max(status.in_use, Ordering::Relaxed);
                max_waiting.fetch_max(status.waiting.unwrap_or(0), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };

    let started = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let db = db.clone();
            tokio::spawn(async move {
                let asked = Instant::now();
                let conn = db.acquire().await?;
                let waited = asked.elapsed();
                LoadRow {
                    id: i as i64,
                    task: i as i64,
                }
                .insert(&conn)
                .await?;
                Ok::<_, polyorm::Error>(waited)
            })
        })
        .collect();
    let mut acquires = Vec::with_capacity(TASKS);
    for task in tasks {
        acquires.push(
            task.await
                .expect("no task panicked")
                .expect("every task completed"),
        );
    }
    let elapsed = started.elapsed();
    running.store(false, Ordering::Release);
    sampler.await.unwrap();

    assert_eq!(
        LoadRow::query().count(&db).await.unwrap(),
        TASKS as u64,
        "every row written"
    );
    let settled = db.pool_status().unwrap();
    assert_eq!(
        (settled.in_use, settled.waiting),
        (0, Some(0)),
        "{settled:?}"
    );
    assert!(settled.size <= POOL);

    acquires.sort();
    println!(
        "{TASKS} tasks over a {POOL}-connection pool: all done in {} ({:.0} inserts/s); acquire \
         p50 {}, p99 {}, max {}; gauges peaked at {} in use, {} waiting; {} open after",
        ms(elapsed),
        TASKS as f64 / elapsed.as_secs_f64(),
        ms(percentile(&acquires, 0.5)),
        ms(percentile(&acquires, 0.99)),
        ms(*acquires.last().unwrap()),
        max_in_use.load(Ordering::Relaxed),
        max_waiting.load(Ordering::Relaxed),
        settled.size,
    );
    db.close().await;
}
