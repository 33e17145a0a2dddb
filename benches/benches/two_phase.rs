//! Commit latency of a two-participant distributed transaction (PostgreSQL + MariaDB, two-phase
//! commit) against two independent commits of the same writes, in one run, on private servers
//! this benchmark starts (PostgreSQL with `max_prepared_transactions`, which the shared server
//! lacks; both with their default durability settings).
//!
//! ```sh
//! cargo bench -p polyorm-benches --bench two_phase      # prints the medians and the 10 ms check
//! ```
//!
//! Each iteration begins, inserts one row on each database and commits; `commit/*` times the
//! commit alone (`COMMIT` twice, or prepare + log + commit), `transaction/*` the whole.

#[path = "../../tests/support/servers.rs"]
mod servers;

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use polyorm::distributed::{Coordinator, DecisionLog};
use polyorm::{Db, Executor};
use servers::{Kind, PrivateServer};
use tokio::runtime::Runtime;

/// The seed's target for a transaction commit.
const TARGET: Duration = Duration::from_millis(10);

/// The criterion group.
const GROUP: &str = "two_phase_commit";

/// The ways of committing the same two writes.
const WAYS: [&str; 4] = [
    "independent_sequential",
    "independent_concurrent",
    "distributed_file_log",
    "distributed_table_log",
];

struct Setup {
    pg: Db,
    maria: Db,
    file_log: Coordinator,
    table_log: Coordinator,
    next_id: AtomicI64,
}

const TABLE: &str = "bench_twopc";

impl Setup {
    async fn new(pg_server: &PrivateServer, maria_server: &PrivateServer) -> Setup {
        let pg = Db::connect(&pg_server.url()).await.unwrap();
        let maria = Db::connect(&maria_server.url()).await.unwrap();
        for db in [&pg, &maria] {
            db.execute_raw(&format!(
                "CREATE TABLE {TABLE} (id BIGINT PRIMARY KEY, amount BIGINT NOT NULL)"
            ))
            .await
            .unwrap();
        }
        let log: PathBuf = pg_server.dir().join("bench-2pc.log");
        Setup {
            file_log: Coordinator::new("bench-file", DecisionLog::file(log)).unwrap(),
            table_log: Coordinator::new("bench-table", DecisionLog::table(&pg)).unwrap(),
            pg,
            maria,
            next_id: AtomicI64::new(1),
        }
    }

    fn insert(&self) -> String {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        format!("INSERT INTO {TABLE} (id, amount) VALUES ({id}, 1)")
    }

    /// One transaction of `way`; returns how long its commit took.
    async fn run(&self, way: &str) -> Duration {
        match way {
            "independent_sequential" | "independent_concurrent" => {
                let (a, b) = (
                    self.pg.begin().await.unwrap(),
                    self.maria.begin().await.unwrap(),
                );
                a.execute_raw(&self.insert()).await.unwrap();
                b.execute_raw(&self.insert()).await.unwrap();
                let started = Instant::now();
                if way == "independent_sequential" {
                    a.commit().await.unwrap();
                    b.commit().await.unwrap();
                } else {
                    let (x, y) = tokio::join!(a.commit(), b.commit());
                    x.unwrap();
                    y.unwrap();
                }
                started.elapsed()
            }
            _ => {
                let coordinator = if way == "distributed_file_log" {
                    &self.file_log
                } else {
                    &self.table_log
                };
                let tx = coordinator
                    .begin(&[("orders", &self.pg), ("billing", &self.maria)])
                    .await
                    .unwrap();
                for branch in tx.branches() {
                    branch.execute_raw(&self.insert()).await.unwrap();
                }
                let started = Instant::now();
                tx.commit().await.unwrap();
                started.elapsed()
            }
        }
    }
}

/// Times `iters` runs of `body`, adding up what each reports.
async fn total<F: Future<Output = Duration>>(iters: u64, body: impl Fn() -> F) -> Duration {
    let mut sum = Duration::ZERO;
    for _ in 0..iters {
        sum += body().await;
    }
    sum
}

fn main() {
    let rt = Runtime::new().unwrap();
    let (pg_server, maria_server) = rt.block_on(async {
        tokio::join!(
            PrivateServer::start_with(Kind::Postgres, &["max_prepared_transactions=10"]),
            PrivateServer::start(Kind::MariaDb)
        )
    });
    let setup = rt.block_on(Setup::new(&pg_server, &maria_server));
    let mut c = Criterion::default()
        .output_directory(&criterion_dir())
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
        .without_plots()
        .configure_from_args();
    let mut group = c.benchmark_group(GROUP);
    for way in WAYS {
        group.bench_function(BenchmarkId::new("commit", way), |b| {
            b.to_async(&rt)
                .iter_custom(|iters| total(iters, || setup.run(way)))
        });
        group.bench_function(BenchmarkId::new("transaction", way), |b| {
            b.to_async(&rt).iter_custom(|iters| {
                total(iters, || async {
                    let started = Instant::now();
                    setup.run(way).await;
                    started.elapsed()
                })
            })
        });
    }
    group.finish();
    c.final_summary();
    summarize();
    if std::env::args().any(|arg| arg == "--bench") {
        rt.block_on(interleaved(&setup));
    }
    rt.block_on(async {
        setup.pg.close().await;
        setup.maria.close().await;
    });
}

/// Prints each median and whether the distributed commit meets the 10 ms target (when
/// criterion measured).
fn summarize() {
    // `cargo bench` passes `--bench`; a `cargo test` smoke run does not, and measures nothing.
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let dir = criterion_dir().join(GROUP);
    println!("\nmedians ({GROUP}):");
    for phase in ["commit", "transaction"] {
        for way in WAYS {
            let file = dir.join(phase).join(way).join("new/estimates.json");
            let Ok(text) = std::fs::read_to_string(&file) else {
                println!("  {phase}/{way}: not measured (filtered out)");
                continue;
            };
            let json: serde_json::Value = serde_json::from_str(&text).unwrap();
            let nanos = json["median"]["point_estimate"].as_f64().unwrap();
            let median = Duration::from_nanos(nanos as u64);
            let check = if phase == "commit" && way.starts_with("distributed") {
                if median < TARGET {
                    " (< 10 ms target: met)"
                } else {
                    " (< 10 ms target: MISSED)"
                }
            } else {
                ""
            };
            println!("  {phase}/{way}: {median:.2?}{check}");
        }
    }
}

/// Rounds of [`interleaved`].
const ROUNDS: usize = 300;

/// Commit latency measured with the ways interleaved (each round runs every way once, in a
/// rotating order), so that a machine whose load changes during the run weighs on every way
/// alike: median and 95th percentile of each.
async fn interleaved(setup: &Setup) {
    let mut times: Vec<Vec<Duration>> = vec![Vec::with_capacity(ROUNDS); WAYS.len()];
    for round in 0..ROUNDS {
        for k in 0..WAYS.len() {
            let way = (round + k) % WAYS.len();
            times[way].push(setup.run(WAYS[way]).await);
        }
    }
    println!("\ncommit latency, {ROUNDS} interleaved rounds (median / p95):");
    for (way, mut samples) in WAYS.into_iter().zip(times) {
        samples.sort_unstable();
        let median = samples[samples.len() / 2];
        let p95 = samples[samples.len() * 95 / 100];
        let check = if way.starts_with("distributed") {
            if median < TARGET {
                " (< 10 ms: met)"
            } else {
                " (< 10 ms: MISSED)"
            }
        } else {
            ""
        };
        println!("  {way}: {median:.2?} / {p95:.2?}{check}");
    }
}

/// Criterion's output directory (`<target>/criterion`).
fn criterion_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the benchmark binary knows its path");
    exe.ancestors()
        .nth(3)
        .expect("the benchmark binary lives in <target>/<profile>/deps")
        .join("criterion")
}
