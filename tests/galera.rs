//! A MariaDB Galera cluster of three local nodes (`scripts/galera.sh`, galera-4 from Debian):
//! two nodes write the same row at once, the loser's commit fails certification and
//! `transaction_with_retry` runs it again to success; many concurrent writers on two nodes
//! lose nothing (every node counts every committed row); a node is SIGKILLed and the others go
//! on taking writes. The cluster's start time is printed (for BENCHMARKS.md).

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use polyorm::prelude::*;
use polyorm::{Error, PoolOptions, RetryPolicy, TxOptions};

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "galera_counter")]
struct Counter {
    #[orm(primary_key)]
    id: i64,
    n: i64,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "galera_ledger")]
struct Entry {
    #[orm(primary_key)]
    id: i64,
    node: i64,
}

/// The cluster; stopped (every node killed, directory removed) when dropped.
struct Cluster {
    dir: PathBuf,
    ports: Vec<u16>,
}

fn script(args: &[&str]) -> String {
    let out = Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/galera.sh"))
        .args(args)
        .output()
        .expect("run scripts/galera.sh");
    assert!(
        out.status.success(),
        "scripts/galera.sh {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

impl Cluster {
    fn start() -> Cluster {
        let dir = std::env::temp_dir().join(format!("orm-galera-{}", std::process::id()));
        let started = Instant::now();
        let ports = script(&["start", dir.to_str().unwrap()])
            .split_whitespace()
            .map(|p| p.parse().unwrap())
            .collect::<Vec<u16>>();
        println!(
            "Galera: 3 nodes started and synced in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        assert_eq!(ports.len(), 3);
        Cluster { dir, ports }
    }

    fn kill(&self, node: usize) {
        script(&["kill", self.dir.to_str().unwrap(), &node.to_string()]);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/galera.sh"))
            .args(["stop", self.dir.to_str().unwrap()])
            .status();
    }
}

async fn connect(port: u16, database: &str) -> Db {
    PoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(10))
        .connect(&format!("mysql://root@127.0.0.1:{port}/{database}"))
        .await
        .unwrap_or_else(|e| panic!("connect node on {port}: {e}"))
}

/// Reads on `db` (a node) on a session that first waits for the node to have applied
/// everything the cluster committed (`wsrep_sync_wait`).
async fn synced<T>(db: &Db, read: impl AsyncFn(&polyorm::Connection) -> T) -> T {
    let conn = db.acquire().await.unwrap();
    conn.execute_raw("SET SESSION wsrep_sync_wait = 1")
        .await
        .unwrap();
    read(&conn).await
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 20,
        ..RetryPolicy::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certification_conflicts_are_retried_and_nothing_committed_is_lost() {
    let cluster = Cluster::start();
    let admin = connect(cluster.ports[0], "mysql").await;
    admin
        .execute_raw("CREATE DATABASE IF NOT EXISTS galera_test")
        .await
        .unwrap();
    // DDL reaches the other nodes in total order, but after node 1 has answered: each node
    // must have applied it before a pool can name the database there.
    for &port in &cluster.ports[1..] {
        let node = connect(port, "mysql").await;
        let (schemas,): (i64,) = synced(&node, async |conn: &polyorm::Connection| {
            polyorm::raw("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'galera_test'")
                .fetch_one(conn)
                .await
                .unwrap()
        })
        .await;
        assert_eq!(schemas, 1, "galera_test on the node on port {port}");
        node.close().await;
    }
    let nodes = [
        connect(cluster.ports[0], "galera_test").await,
        connect(cluster.ports[1], "galera_test").await,
        connect(cluster.ports[2], "galera_test").await,
    ];
    nodes[0].create_table::<Counter>().await.unwrap();
    nodes[0].create_table::<Entry>().await.unwrap();
    Counter { id: 1, n: 0 }.insert(&nodes[0]).await.unwrap();
    // Other nodes apply a write set after it commits: node 2's update must see the row (else it
    // changes nothing, and nothing conflicts).
    let seen = synced(&nodes[1], async |conn| {
        Counter::find(conn, 1).await.unwrap()
    })
    .await;
    assert_eq!(seen, Some(Counter { id: 1, n: 0 }));

    // Two nodes update the same row at once: the one that commits second fails certification.
    let tx = nodes[0].begin().await.unwrap();
    Counter::update_many()
        .filter(Counter::ID.eq(1))
        .set(Counter::N, Counter::N + 1)
        .execute(&tx)
        .await
        .unwrap();
    let changed = Counter::update_many()
        .filter(Counter::ID.eq(1))
        .set(Counter::N, Counter::N + 10)
        .execute(&nodes[1])
        .await
        .unwrap();
    assert_eq!(changed, 1, "node 2 updates the row");
    let lost = tx
        .commit()
        .await
        .expect_err("the second writer fails certification");
    assert!(lost.is_retryable(), "{lost:?}");
    // A 1213 on COMMIT is a certification failure, not an InnoDB deadlock.
    assert!(
        matches!(lost, Error::SerializationFailure { .. }),
        "{lost:?}"
    );
    println!(
        "Galera certification conflict surfaces as `{}`: {lost}",
        lost.kind()
    );

    // transaction_with_retry: the first attempt loses to a write on node 2, the second wins.
    let attempts = Arc::new(AtomicU32::new(0));
    let other = nodes[1].clone();
    nodes[0]
        .transaction_with_retry(TxOptions::default(), policy(), |tx| {
            let (attempts, other) = (attempts.clone(), other.clone());
            async move {
                let attempt = attempts.fetch_add(1, Ordering::SeqCst) + 1;
                Counter::update_many()
                    .filter(Counter::ID.eq(1))
                    .set(Counter::N, Counter::N + 1)
                    .execute(&tx)
                    .await?;
                Entry { id: 1, node: 1 }.insert(&tx).await?;
                if attempt == 1 {
                    Counter::update_many()
                        .filter(Counter::ID.eq(1))
                        .set(Counter::N, Counter::N + 100)
                        .execute(&other)
                        .await?;
                }
                Ok(())
            }
        })
        .await
        .unwrap();
    assert_eq!(
        attempts.load(Ordering::SeqCst),
        2,
        "one conflict, one retry"
    );

    // Many writers on two nodes, all on the same row: every one commits, after retries.
    let before = Counter::find(&nodes[0], 1).await.unwrap().unwrap().n;
    let retries = Arc::new(AtomicU32::new(0));
    let writers: Vec<_> = (0..40_i64)
        .map(|i| {
            let db = nodes[(i % 2) as usize].clone();
            let retries = retries.clone();
            tokio::spawn(async move {
                let tries = AtomicU32::new(0);
                db.transaction_with_retry(TxOptions::default(), policy(), |tx| {
                    if tries.fetch_add(1, Ordering::SeqCst) > 0 {
                        retries.fetch_add(1, Ordering::SeqCst);
                    }
                    async move {
                        Counter::update_many()
                            .filter(Counter::ID.eq(1))
                            .set(Counter::N, Counter::N + 1)
                            .execute(&tx)
                            .await?;
                        Entry {
                            id: 100 + i,
                            node: i % 2 + 1,
                        }
                        .insert(&tx)
                        .await?;
                        Ok(())
                    }
                })
                .await
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap().expect("every writer commits");
    }
    println!(
        "Galera: 40 concurrent writers on 2 nodes, one hot row: {} retries",
        retries.load(Ordering::SeqCst)
    );
    for (i, node) in nodes.iter().enumerate() {
        let (n, entries) = synced(node, async |db: &polyorm::Connection| {
            (
                Counter::find(db, 1).await.unwrap().unwrap().n,
                Entry::query().count(db).await.unwrap(),
            )
        })
        .await;
        assert_eq!(n, before + 40, "counter on node {}", i + 1);
        assert_eq!(entries, 41, "ledger rows on node {}", i + 1);
    }

    // Kill node 3: nodes 1 and 2 keep the cluster and take writes.
    cluster.kill(3);
    for i in 0..10_i64 {
        let db = &nodes[(i % 2) as usize];
        db.transaction_with_retry(TxOptions::default(), policy(), |tx| async move {
            Entry {
                id: 1000 + i,
                node: i % 2 + 1,
            }
            .insert(&tx)
            .await?;
            Ok(())
        })
        .await
        .unwrap_or_else(|e| panic!("write {i} after node 3 died: {e}"));
    }
    for (i, node) in nodes[..2].iter().enumerate() {
        let entries = synced(node, async |db: &polyorm::Connection| {
            Entry::query().count(db).await.unwrap()
        })
        .await;
        assert_eq!(
            entries,
            51,
            "ledger rows on node {} after node 3 died",
            i + 1
        );
    }
    let (size,): (String,) = polyorm::raw("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'WSREP_CLUSTER_SIZE'")
        .fetch_one(&nodes[0])
        .await
        .unwrap();
    assert_eq!(size, "2");
    for node in &nodes {
        node.close().await;
    }
    admin.close().await;
}
