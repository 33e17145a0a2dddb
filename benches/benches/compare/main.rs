//! This ORM side by side with raw sqlx, SeaORM 2.x and Diesel 2.x on the diesel_bench workloads,
//! on PostgreSQL, MariaDB/MySQL and SQLite, in one run.
//!
//! ```sh
//! bash scripts/bench.sh                          # the full matrix, writes BENCHMARKS.md
//! ORM_BENCH_SMOKE=1 cargo test -p polyorm-benches --benches   # each benchmark once, tiny sizes
//! ```
//!
//! Environment: `ORM_BENCH_DIALECTS` (default `postgres,mysql,sqlite`), `ORM_BENCH_SMOKE=1`
//! (tiny sizes), `ORM_BENCH_REPORT=<file>` (write the Markdown report after the run), the URLs
//! of `setup::url`, and `ORM_BENCH_PROFILE=<dialect>/<workload>/<library>/<param>/<iterations>`
//! (no criterion: run one benchmark's body that many times, for `valgrind --tool=callgrind`),
//! `ORM_BENCH_THROUGHPUT=<dialect>/<library>/<tasks>/<seconds>` (queries per second of
//! `find_by_pk` with many tasks, see `throughput.rs`), `ORM_BENCH_MEMORY=<dialect>/<library>/<mode>`
//! (peak memory of reading 100,000 rows, see `memory.rs` and `scripts/bench-memory.sh`).
//! `ORM_BENCH_PAIRED` (`0`: no paired ratios; a text: only the cells `<dialect>-<workload>/<N>`
//! containing it; see `paired.rs`). `ORM_BENCH_RUNTIME=current_thread` runs every async body on a current-thread tokio runtime
//! (default: multi-thread, as diesel_bench does; a body then runs on the bench's own thread and
//! the runtime's I/O driver on a worker, one thread hop per round trip).

mod check;
mod libs;
mod memory;
mod models;
mod paired;
mod report;
mod setup;
mod throughput;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use polyorm::Dialect;
use tokio::runtime::Runtime;

use libs::{
    Ctx, LOOKUPS_PER_TASK, TASKS, diesel_side, mysql_async_side, orm_side, sea_side, sqlx_side,
};
use paired::{Pairing, Runner};

/// The libraries, in report order. `orm_held` is this ORM through one connection held from
/// `Db::acquire` (PostgreSQL and MariaDB/MySQL only): beside `orm` it shows what the pool path
/// costs. `orm` runs on the default drivers, the ORM's native ones; `orm_sqlx` is this
/// ORM on sqlx's driver (`PostgresDriver::Sqlx`, `MySqlDriver::Sqlx`; PostgreSQL and
/// MariaDB/MySQL). `mysql_async` is raw mysql_async on one bare
/// connection (MariaDB/MySQL only), beside raw sqlx.
pub(crate) const LIBS: [&str; 7] = [
    "orm",
    "orm_held",
    "sqlx",
    "seaorm",
    "diesel",
    "orm_sqlx",
    "mysql_async",
];

/// Sizes of one run.
struct Sizes {
    select: Vec<usize>,
    insert: Vec<usize>,
    /// users × posts × comments of the eager-loading workload.
    tree: (usize, usize, usize),
}

impl Sizes {
    fn from_env() -> Sizes {
        if std::env::var("ORM_BENCH_SMOKE").is_ok_and(|v| v == "1") {
            Sizes {
                select: vec![1, 10],
                insert: vec![1, 10],
                tree: (3, 2, 2),
            }
        } else {
            Sizes {
                select: vec![1, 10, 100, 1_000, 10_000],
                insert: vec![1, 10, 25, 50, 100],
                tree: (100, 10, 10),
            }
        }
    }
}

/// One benchmark that ran: the report reads its median from criterion's output.
#[derive(Clone, Debug)]
pub(crate) struct Ran {
    pub(crate) dialect: Dialect,
    pub(crate) workload: &'static str,
    pub(crate) lib: &'static str,
    pub(crate) param: String,
}

impl Ran {
    /// Criterion's group name.
    pub(crate) fn group(&self) -> String {
        format!("{}-{}", self.dialect.name(), self.workload)
    }
}

struct Bench<'a> {
    c: &'a mut Criterion,
    rt: &'a Runtime,
    ctx: &'a Ctx,
    /// One connection taken from `ctx.orm` (PostgreSQL, MariaDB/MySQL), for `orm_held`;
    /// given back before the concurrent workload, which needs the whole pool.
    held: Option<polyorm::Connection>,
    ran: Vec<Ran>,
    /// Paired ratios measured so far ([`paired`]).
    paired: Vec<Pairing>,
    /// Groups measured so far: which library each group measures first ([`measure`]).
    groups: usize,
}

impl Bench<'_> {
    /// Measures one workload group ([`measure`], the library first that the group count says)
    /// and records it. (`four!` cannot: its held-connection body borrows `self.held`.)
    fn measure(
        &mut self,
        workload: &'static str,
        param: &str,
        runners: Vec<(&'static str, Runner<'_>)>,
    ) {
        let first = self.groups;
        self.groups += 1;
        measure(
            self.c,
            &mut self.paired,
            first,
            self.ctx.dialect,
            workload,
            param,
            runners,
        );
        self.record(workload, param);
    }

    fn record(&mut self, workload: &'static str, param: &str) {
        for lib in LIBS {
            self.ran.push(Ran {
                dialect: self.ctx.dialect,
                workload,
                lib,
                param: param.to_owned(),
            });
        }
    }
}

/// A [`Runner`] of an async body on the bench's runtime: `$body` (which may `.await`) runs
/// `iterations` times in one `block_on`, as criterion's `to_async(..).iter` runs it.
macro_rules! on_runtime {
    ($rt:expr, $body:expr) => {{
        let rt: &Runtime = $rt;
        Box::new(move |iterations: u64| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iterations {
                    black_box($body);
                }
                start.elapsed()
            })
        }) as Runner<'_>
    }};
}

/// A [`Runner`] of a blocking body: `$body` runs `iterations` times on this thread.
macro_rules! blocking {
    ($body:expr) => {{
        Box::new(move |iterations: u64| {
            let start = Instant::now();
            for _ in 0..iterations {
                black_box($body);
            }
            start.elapsed()
        }) as Runner<'_>
    }};
}

/// Measures one workload group: criterion measures each library's `runners` entry, the
/// `first`-th (modulo their count) first and the others after it in report order, wrapping
/// around (the first one measured after seeding shares the machine with the database's leftover
/// work, page flushes and purge, so no library should always be it); then, unless turned off,
/// the ORM is paired with each of [`paired::PEERS`] that ran ([`paired::measure`]).
#[allow(clippy::too_many_arguments)]
fn measure(
    c: &mut Criterion,
    paired: &mut Vec<Pairing>,
    first: usize,
    dialect: Dialect,
    workload: &'static str,
    param: &str,
    mut runners: Vec<(&'static str, Runner<'_>)>,
) {
    let mut g = c.benchmark_group(format!("{}-{workload}", dialect.name()));
    let count = runners.len();
    for i in 0..count {
        let (lib, runner) = &mut runners[(first + i) % count];
        g.bench_function(BenchmarkId::new(*lib, param), |b| {
            b.iter_custom(&mut *runner)
        });
    }
    g.finish();
    if !paired::enabled(&format!("{}-{workload}/{param}", dialect.name())) {
        return;
    }
    let Some(ours) = runners.iter().position(|(lib, _)| *lib == "orm") else {
        return;
    };
    // Criterion's medians of this group (none in a smoke run: then every peer is paired).
    let median = |lib: &'static str| {
        report::median(&Ran {
            dialect,
            workload,
            lib,
            param: param.to_owned(),
        })
    };
    let fastest_peer = paired::PEERS
        .iter()
        .filter(|peer| !paired::is_ours(peer))
        .filter_map(|peer| median(peer))
        .min_by(f64::total_cmp);
    for peer in paired::PEERS {
        let Some(theirs) = runners.iter().position(|(lib, _)| *lib == peer) else {
            continue;
        };
        // Only the peers that can be the best one: pairing interleaves two libraries' writes,
        // and a much slower peer's (sqlx's SQLite worker thread committing, a checkpoint it
        // starts) then lands in the ORM's half of the pair.
        // Diesel's blocking client is paired on SQLite only (both run on the bench's thread
        // there): on PostgreSQL, batches of blocking libpq round trips between the async
        // runtime's put the ORM at 2.8–4.6× Diesel on one- to ten-row reads where criterion's
        // separate groups say 1.1–1.2 and the ORM paired with sqlx or its own held connection
        // 0.9–1.0 — an interference of the two clients' waiting, not either one's speed.
        if peer == "diesel" && dialect != Dialect::Sqlite {
            continue;
        }
        if let (Some(fastest), Some(theirs)) = (fastest_peer, median(peer))
            && !paired::is_ours(peer)
            && theirs > fastest * paired::CONTENDER
        {
            continue;
        }
        let [a, b] = runners
            .get_disjoint_mut([ours, theirs])
            .expect("the ORM and its peer are two entries");
        let (quartiles, rounds, iterations) = paired::measure(&mut a.1, &mut b.1);
        eprintln!(
            "paired {}-{workload}/{param}: orm ÷ {peer} = {:.3} (quartiles {:.3}–{:.3}; \
             {rounds} pairs × {iterations} iterations)",
            dialect.name(),
            quartiles[1],
            quartiles[0],
            quartiles[2]
        );
        paired.push(Pairing {
            dialect,
            workload,
            param: param.to_owned(),
            peer,
            quartiles,
            rounds,
            iterations,
        });
    }
}

/// Measures the libraries' bodies of one workload ([`measure`]): `$orm`, `$sqlx`, `$sea` are
/// async expressions, `$diesel` an expression over the Diesel connection `$c`; `$held`, when
/// given, the ORM's body over a held connection `$h` (run only where `$b.held` is one);
/// `$on_sqlx`, the ORM's body over its `Db` on sqlx's driver `$n` (run where `orm` is on a
/// native driver: PostgreSQL, MariaDB/MySQL); `$my`, raw mysql_async's body over its connection `$m` (run only on
/// MariaDB/MySQL).
macro_rules! four {
    ($b:expr, $workload:expr, $param:expr,
     orm: $orm:expr, $(held: |$h:ident| $held:expr,)? orm_sqlx: |$n:ident| $on_sqlx:expr,
     sqlx: $sqlx:expr, mysql_async: |$m:ident| $my:expr, seaorm: $sea:expr,
     diesel: |$c:ident| $diesel:expr) => {{
        let (rt, ctx) = ($b.rt, $b.ctx);
        let param: String = $param.to_string();
        #[allow(unused_variables)]
        let held = $b.held.as_ref();
        let mut runners: Vec<(&'static str, Runner<'_>)> = Vec::new();
        runners.push(("orm", on_runtime!(rt, $orm)));
        $(if let Some($h) = held {
            runners.push(("orm_held", on_runtime!(rt, $held)));
        })?
        if let Some($n) = ctx.orm_sqlx.as_ref() {
            runners.push(("orm_sqlx", on_runtime!(rt, $on_sqlx)));
        }
        runners.push(("sqlx", on_runtime!(rt, $sqlx)));
        if let Some($m) = ctx.mysql_async.as_ref() {
            runners.push(("mysql_async", on_runtime!(rt, $my)));
        }
        runners.push(("seaorm", on_runtime!(rt, $sea)));
        runners.push((
            "diesel",
            Box::new(move |iterations: u64| {
                let mut guard = ctx.diesel[0].lock().unwrap();
                let $c = &mut *guard;
                let start = Instant::now();
                for _ in 0..iterations {
                    black_box($diesel);
                }
                start.elapsed()
            }),
        ));
        let first = $b.groups;
        $b.groups += 1;
        measure(&mut *$b.c, &mut $b.paired, first, ctx.dialect, $workload, &param, runners);
        $b.record($workload, &param);
    }};
}

/// Runs `lookups` primary-key lookups in each of [`TASKS`] spawned tasks, and waits for all.
async fn concurrently<F, Fut>(ids: &Arc<Vec<i64>>, lookup: F)
where
    F: Fn(i64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future + Send,
    Fut::Output: Send,
{
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let (ids, lookup) = (ids.clone(), lookup.clone());
            tokio::spawn(async move {
                for k in 0..LOOKUPS_PER_TASK {
                    black_box(lookup(ids[(t * LOOKUPS_PER_TASK + k) % ids.len()]).await);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

/// Whether operation `k` of a task of the mixed workload writes (one in four).
fn writes(k: usize) -> bool {
    k % 4 == 3
}

/// The mixed workload: each of [`TASKS`] spawned tasks runs [`LOOKUPS_PER_TASK`] operations,
/// one in four a write (`write`), the others primary-key lookups (`read`).
async fn mixed<R, W, RF, WF>(ids: &Arc<Vec<i64>>, read: R, write: W)
where
    R: Fn(i64) -> RF + Clone + Send + 'static,
    W: Fn(i64) -> WF + Clone + Send + 'static,
    RF: std::future::Future + Send,
    RF::Output: Send,
    WF: std::future::Future + Send,
    WF::Output: Send,
{
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let (ids, read, write) = (ids.clone(), read.clone(), write.clone());
            tokio::spawn(async move {
                for k in 0..LOOKUPS_PER_TASK {
                    let id = ids[(t * LOOKUPS_PER_TASK + k) % ids.len()];
                    if writes(k) {
                        black_box(write(id).await);
                    } else {
                        black_box(read(id).await);
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

/// Diesel's mixed workload: blocking tasks, a connection each (as r2d2 hands them out).
async fn mixed_blocking(ctx: &Ctx, ids: &Arc<Vec<i64>>) {
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let (ids, conn) = (ids.clone(), ctx.diesel[t].clone());
            tokio::task::spawn_blocking(move || {
                let mut conn = conn.lock().unwrap();
                for k in 0..LOOKUPS_PER_TASK {
                    let id = ids[(t * LOOKUPS_PER_TASK + k) % ids.len()];
                    if writes(k) {
                        black_box(diesel_side::rename(&mut conn, id));
                    } else {
                        black_box(diesel_side::find(&mut conn, id));
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

/// Diesel's counterpart: each task is a blocking task with its own connection.
async fn concurrently_blocking(ctx: &Ctx, ids: &Arc<Vec<i64>>) {
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let (ids, conn) = (ids.clone(), ctx.diesel[t].clone());
            tokio::task::spawn_blocking(move || {
                let mut conn = conn.lock().unwrap();
                for k in 0..LOOKUPS_PER_TASK {
                    black_box(diesel_side::find(
                        &mut conn,
                        ids[(t * LOOKUPS_PER_TASK + k) % ids.len()],
                    ));
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

fn run_dialect(b: &mut Bench<'_>, sizes: &Sizes) {
    let (rt, ctx) = (b.rt, b.ctx);
    for &n in &sizes.select {
        rt.block_on(setup::seed_users_and_posts(&ctx.orm, n));
        rt.block_on(check::select_users(ctx, n));
        rt.block_on(check::join(ctx));
        four!(b, "select_users", n,
            orm: orm_side::select_users(ctx).await,
            held: |h| orm_side::select_users_on(h).await,
            orm_sqlx: |n| orm_side::select_users_on(n).await,
            sqlx: sqlx_side::select_users(&ctx.sqlx).await,
            mysql_async: |m| mysql_async_side::select_users(m).await,
            seaorm: sea_side::select_users(ctx).await,
            diesel: |c| diesel_side::select_users(c));
        four!(b, "left_join", n,
            orm: orm_side::join(ctx).await,
            orm_sqlx: |n| orm_side::join_on(n).await,
            sqlx: sqlx_side::join(ctx).await,
            mysql_async: |m| mysql_async_side::join(ctx, m).await,
            seaorm: sea_side::join(ctx).await,
            diesel: |c| diesel_side::join(c));
    }
    for &n in &sizes.insert {
        let rows = setup::new_rows(n);
        rt.block_on(check::insert(ctx, &rows));
        let rows = &rows;
        four!(b, "insert", n,
            orm: orm_side::insert(ctx, rows).await,
            held: |h| orm_side::insert_on(h, rows).await,
            orm_sqlx: |n| orm_side::insert_on(n, rows).await,
            sqlx: sqlx_side::insert(ctx, rows).await,
            mysql_async: |m| mysql_async_side::insert(m, rows).await,
            seaorm: sea_side::insert(ctx, rows).await,
            diesel: |c| diesel_side::insert(c, rows));
        rt.block_on(setup::clear_new_users(&ctx.orm));
    }
    let (users, posts, comments) = sizes.tree;
    let ids = rt.block_on(setup::seed_tree(&ctx.orm, users, posts, comments));
    rt.block_on(check::associations(ctx, users, posts, comments));
    four!(b, "associations", format!("{users}x{posts}x{comments}"),
        orm: orm_side::associations(ctx).await,
        orm_sqlx: |n| orm_side::associations_on(n).await,
        sqlx: sqlx_side::associations(ctx).await,
        mysql_async: |m| mysql_async_side::associations(m).await,
        seaorm: sea_side::associations(ctx).await,
        diesel: |c| diesel_side::associations(c));

    rt.block_on(check::find(ctx, &ids));
    let id = ids[ids.len() / 2];
    four!(b, "find_by_pk", 1,
        orm: orm_side::find(&ctx.orm, id).await,
        held: |h| orm_side::find(h, id).await,
        orm_sqlx: |n| orm_side::find(n, id).await,
        sqlx: sqlx_side::find(&ctx.sqlx, ctx.sql.find, id).await,
        mysql_async: |m| mysql_async_side::find(m, ctx.sql.find, id).await,
        seaorm: sea_side::find(&ctx.sea, id).await,
        diesel: |c| diesel_side::find(c, id));

    b.held = None;
    let ids = Arc::new(ids);
    let ids = &ids;
    let find_sql = ctx.sql.find;
    let param = format!("{TASKS}x{LOOKUPS_PER_TASK}");
    let mut runners: Vec<(&'static str, Runner<'_>)> = Vec::new();
    runners.push((
        "orm",
        on_runtime!(rt, {
            let db = ctx.orm.clone();
            concurrently(ids, move |id| {
                let db = db.clone();
                async move { orm_side::find(&db, id).await }
            })
            .await
        }),
    ));
    if let Some(on_sqlx) = &ctx.orm_sqlx {
        runners.push((
            "orm_sqlx",
            on_runtime!(rt, {
                let db = on_sqlx.clone();
                concurrently(ids, move |id| {
                    let db = db.clone();
                    async move { orm_side::find(&db, id).await }
                })
                .await
            }),
        ));
    }
    runners.push((
        "sqlx",
        on_runtime!(rt, {
            let pool = libs::Sqlx::Pool(ctx.sqlx_pool.clone());
            concurrently(ids, move |id| {
                let pool = pool.clone();
                async move { sqlx_side::find(&pool, find_sql, id).await }
            })
            .await
        }),
    ));
    runners.push((
        "seaorm",
        on_runtime!(rt, {
            let db = ctx.sea.clone();
            concurrently(ids, move |id| {
                let db = db.clone();
                async move { sea_side::find(&db, id).await }
            })
            .await
        }),
    ));
    runners.push((
        "diesel",
        on_runtime!(rt, concurrently_blocking(ctx, ids).await),
    ));
    b.measure("find_by_pk_concurrent", &param, runners);

    // SQLite's WAL: readers alongside one writer at a time (SeaORM has no part in it).
    if ctx.dialect == Dialect::Sqlite {
        let mut runners: Vec<(&'static str, Runner<'_>)> = Vec::new();
        runners.push((
            "orm",
            on_runtime!(rt, {
                let (reader, writer) = (ctx.orm.clone(), ctx.orm.clone());
                mixed(
                    ids,
                    move |id| {
                        let db = reader.clone();
                        async move { orm_side::find(&db, id).await }
                    },
                    move |id| {
                        let db = writer.clone();
                        async move { orm_side::rename(&db, id).await }
                    },
                )
                .await
            }),
        ));
        runners.push((
            "sqlx",
            on_runtime!(rt, {
                let (reader, writer) = (ctx.sqlx.clone(), ctx.sqlx.clone());
                mixed(
                    ids,
                    move |id| {
                        let pool = reader.clone();
                        async move { sqlx_side::find(&pool, find_sql, id).await }
                    },
                    move |id| {
                        let pool = writer.clone();
                        async move { sqlx_side::rename(&pool, id).await }
                    },
                )
                .await
            }),
        ));
        runners.push(("diesel", on_runtime!(rt, mixed_blocking(ctx, ids).await)));
        b.measure("mixed_read_write", &param, runners);
    }

    check::build(ctx);
    let dialect = ctx.dialect;
    let runners: Vec<(&'static str, Runner<'_>)> = vec![
        ("orm", blocking!(orm_side::build(dialect))),
        ("seaorm", blocking!(sea_side::build(dialect))),
        ("diesel", blocking!(diesel_side::build(dialect))),
    ];
    // Hand-written sqlx has no builder: its SQL is a constant, so the report shows no ratio.
    b.measure("build_3_predicates", "3", runners);
}

fn dialects() -> Vec<Dialect> {
    let list =
        std::env::var("ORM_BENCH_DIALECTS").unwrap_or_else(|_| "postgres,mysql,sqlite".into());
    list.split(',')
        .map(|name| {
            Dialect::ALL
                .into_iter()
                .find(|d| d.name() == name.trim())
                .unwrap_or_else(|| {
                    panic!(
                        "ORM_BENCH_DIALECTS: unknown dialect `{name}`; use postgres, mysql, sqlite"
                    )
                })
        })
        .collect()
}

fn main() {
    let rt = match std::env::var("ORM_BENCH_RUNTIME").as_deref() {
        Ok("current_thread") => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    }
    .enable_all()
    .build()
    .unwrap();
    if let Ok(spec) = std::env::var("ORM_BENCH_PROFILE") {
        report::profile(&rt, &spec);
        return;
    }
    if let Ok(spec) = std::env::var("ORM_BENCH_THROUGHPUT") {
        throughput::run(&rt, &spec);
        return;
    }
    if let Ok(spec) = std::env::var("ORM_BENCH_MEMORY") {
        memory::run(&rt, &spec);
        return;
    }
    let sizes = Sizes::from_env();
    // Short runs: the whole matrix (≈230 benchmarks) stays within ~25 minutes.
    let mut c = Criterion::default()
        .output_directory(&report::criterion_dir())
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1_200))
        .sample_size(20)
        .without_plots()
        .configure_from_args();
    let mut ran = Vec::new();
    let mut pairings = Vec::new();
    let mut servers = Vec::new();
    for dialect in dialects() {
        let ctx = rt.block_on(setup::connect(dialect));
        servers.push((dialect, rt.block_on(setup::server_version(&ctx))));
        let mut b = Bench {
            c: &mut c,
            rt: &rt,
            ctx: &ctx,
            held: (dialect != Dialect::Sqlite).then(|| rt.block_on(ctx.orm.acquire()).unwrap()),
            ran: Vec::new(),
            paired: Vec::new(),
            groups: 0,
        };
        run_dialect(&mut b, &sizes);
        ran.extend(b.ran);
        pairings.extend(b.paired);
        drop(ctx);
        if dialect == Dialect::Sqlite {
            setup::remove_sqlite_file();
        }
    }
    c.final_summary();
    if let Ok(path) = std::env::var("ORM_BENCH_REPORT") {
        report::write(&path, &ran, &pairings, &servers);
    }
}
