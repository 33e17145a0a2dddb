//! Queries per second of `find_by_pk` with many tasks at once (issue 19, item 7), to be read
//! beside `pgbench -S -M prepared -c <tasks>` on the same server:
//!
//! ```sh
//! ORM_BENCH_THROUGHPUT=postgres/orm/64/10 cargo bench -p polyorm-benches --bench compare
//! ```
//!
//! `<dialect>/<library>/<tasks>/<seconds>`; the library is `orm` (through `Db`, a pool of
//! `tasks` connections), `sqlx` (sqlx's pool of `tasks` connections, its defaults otherwise) or
//! `diesel` (one connection per task, each on a blocking thread). Every task looks up random
//! keys of 100,000 seeded users in a loop; the count of lookups after the time is up is printed.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel::Connection as _;
use polyorm::{Dialect, PoolOptions};
use tokio::runtime::Runtime;

use crate::libs::{DieselConn, HandSql, Sqlx, SqlxPool, diesel_side, orm_side, sqlx_side};
use crate::setup;

/// Users seeded for the lookups (pgbench's scale 1 has as many accounts).
const USERS: usize = 100_000;

/// A small xorshift generator per task: random keys without a shared lock.
struct Keys(u64);

impl Keys {
    fn next(&mut self, ids: &[i64]) -> i64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ids[(self.0 % ids.len() as u64) as usize]
    }
}

/// Runs the spec and prints `<dialect> <library> <tasks> tasks: <n> queries/s`.
pub fn run(rt: &Runtime, spec: &str) {
    let parts: Vec<&str> = spec.split('/').collect();
    let [dialect, lib, tasks, seconds] = parts[..] else {
        panic!(
            "ORM_BENCH_THROUGHPUT: expected <dialect>/<library>/<tasks>/<seconds>, got `{spec}`"
        );
    };
    let dialect = Dialect::ALL
        .into_iter()
        .find(|d| d.name() == dialect && *d != Dialect::Sqlite)
        .unwrap_or_else(|| panic!("ORM_BENCH_THROUGHPUT: use postgres or mysql, not `{dialect}`"));
    let tasks: usize = tasks
        .parse()
        .expect("ORM_BENCH_THROUGHPUT: tasks is a number");
    let seconds: u64 = seconds
        .parse()
        .expect("ORM_BENCH_THROUGHPUT: seconds is a number");
    let url = setup::url(dialect);
    let ctx = rt.block_on(setup::connect(dialect));
    let ids = rt.block_on(async {
        setup::seed_users_and_posts(&ctx.orm, USERS).await;
        let users = orm_side::select_users(&ctx).await;
        Arc::new(users.iter().map(|u| u.id).collect::<Vec<_>>())
    });
    drop(ctx);
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let window = Duration::from_secs(seconds);
    let elapsed = match lib {
        "orm" => {
            let db = rt.block_on(
                PoolOptions::new()
                    .max_connections(tasks as u32)
                    .min_connections(tasks as u32)
                    .connect(&url),
            );
            let db = db.unwrap();
            rt.block_on(async_tasks(tasks, window, &done, &stop, &ids, move |id| {
                let db = db.clone();
                async move { black_box(orm_side::find(&db, id).await.is_some()) }
            }))
        }
        "sqlx" => {
            let pool = rt.block_on(async {
                match dialect {
                    Dialect::Postgres => SqlxPool::Pg(
                        sqlx::postgres::PgPoolOptions::new()
                            .max_connections(tasks as u32)
                            .min_connections(tasks as u32)
                            .connect(&url)
                            .await
                            .unwrap(),
                    ),
                    _ => SqlxPool::My(
                        sqlx::mysql::MySqlPoolOptions::new()
                            .max_connections(tasks as u32)
                            .min_connections(tasks as u32)
                            .connect(&url)
                            .await
                            .unwrap(),
                    ),
                }
            });
            let sqlx = Sqlx::Pool(pool);
            let sql = HandSql::new(dialect).find;
            rt.block_on(async_tasks(tasks, window, &done, &stop, &ids, move |id| {
                let sqlx = sqlx.clone();
                async move { black_box(sqlx_side::find(&sqlx, sql, id).await.is_some()) }
            }))
        }
        "diesel" => diesel_threads(dialect, &url, tasks, window, &done, &stop, &ids),
        _ => panic!("ORM_BENCH_THROUGHPUT: unknown library `{lib}`; use orm, sqlx or diesel"),
    };
    let n = done.load(Ordering::Relaxed);
    println!(
        "{} {lib} {tasks} tasks: {n} lookups in {:.2} s = {:.0} queries/s",
        dialect.name(),
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64()
    );
}

/// `tasks` tokio tasks, each looking up random keys with `lookup` until `window` is over.
async fn async_tasks<F, Fut>(
    tasks: usize,
    window: Duration,
    done: &Arc<AtomicU64>,
    stop: &Arc<AtomicBool>,
    ids: &Arc<Vec<i64>>,
    lookup: F,
) -> Duration
where
    F: Fn(i64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let (done, stop, ids, lookup) =
                (done.clone(), stop.clone(), ids.clone(), lookup.clone());
            tokio::spawn(async move {
                let mut keys = Keys(0x9E37_79B9_7F4A_7C15 ^ (t as u64 + 1));
                while !stop.load(Ordering::Relaxed) {
                    assert!(lookup(keys.next(&ids)).await, "a seeded user was not found");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    tokio::time::sleep(window).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = start.elapsed();
    for h in handles {
        h.await.unwrap();
    }
    elapsed
}

/// Diesel's counterpart: one OS thread and one connection per task.
fn diesel_threads(
    dialect: Dialect,
    url: &str,
    tasks: usize,
    window: Duration,
    done: &Arc<AtomicU64>,
    stop: &Arc<AtomicBool>,
    ids: &Arc<Vec<i64>>,
) -> Duration {
    let conns: Vec<DieselConn> = (0..tasks)
        .map(|_| match dialect {
            Dialect::Postgres => DieselConn::Pg(diesel::PgConnection::establish(url).unwrap()),
            _ => DieselConn::My(diesel::MysqlConnection::establish(url).unwrap()),
        })
        .collect();
    let start = Instant::now();
    let handles: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(t, mut conn)| {
            let (done, stop, ids) = (done.clone(), stop.clone(), ids.clone());
            std::thread::spawn(move || {
                let mut keys = Keys(0x9E37_79B9_7F4A_7C15 ^ (t as u64 + 1));
                while !stop.load(Ordering::Relaxed) {
                    let found = diesel_side::find(&mut conn, keys.next(&ids));
                    assert!(found.is_some(), "a seeded user was not found");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(window);
    stop.store(true, Ordering::Relaxed);
    let elapsed = start.elapsed();
    for h in handles {
        h.join().unwrap();
    }
    elapsed
}
