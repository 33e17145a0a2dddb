//! Peak memory of reading 100,000 rows (issue 19, item 8): all at once into a `Vec`, and
//! streamed one row at a time, by this ORM and by each peer, one process per measurement:
//!
//! ```sh
//! bash scripts/bench-memory.sh            # every dialect, library and mode, as a table
//! ORM_BENCH_MEMORY=sqlite/seed cargo bench -p polyorm-benches --bench compare
//! ORM_BENCH_MEMORY=sqlite/orm/stream cargo bench -p polyorm-benches --bench compare
//! ```
//!
//! `<dialect>/seed` makes the tables and writes the rows once; `<dialect>/<library>/<all|stream>`
//! connects every library to them (as the other benchmarks do), then resets the kernel's peak-RSS mark
//! (`/proc/self/clear_refs`, value 5), reads the rows and prints how far the peak rose above
//! the resident size before the read. A fresh process per measurement: memory a previous read
//! freed would stay in the allocator and hide the next one's peak.

use std::hint::black_box;

use diesel::RunQueryDsl;
use futures::TryStreamExt;
use polyorm::Dialect;
use polyorm::prelude::*;
use tokio::runtime::Runtime;

use crate::libs::{Ctx, orm_side, sea_side, sqlx_side};
use crate::models::{dsl, ours, sea};
use crate::setup;

/// Rows read by every measurement (the issue's 100,000).
const ROWS: usize = 100_000;

/// Runs the spec (see the module docs) and prints one line.
pub fn run(rt: &Runtime, spec: &str) {
    let parts: Vec<&str> = spec.split('/').collect();
    let dialect = |name: &str| {
        Dialect::ALL
            .into_iter()
            .find(|d| d.name() == name)
            .unwrap_or_else(|| panic!("ORM_BENCH_MEMORY: unknown dialect `{name}`"))
    };
    match parts[..] {
        [name, "seed"] => {
            let ctx = rt.block_on(setup::connect(dialect(name)));
            rt.block_on(setup::seed_users_and_posts(&ctx.orm, ROWS));
            println!("{name}: seeded {ROWS} users");
        }
        [name, lib, mode] => {
            let dialect = dialect(name);
            let ctx = rt.block_on(setup::reconnect(dialect));
            let seeded = rt.block_on(ours::User::query().count(&ctx.orm)).unwrap();
            assert_eq!(
                seeded, ROWS as u64,
                "run ORM_BENCH_MEMORY={name}/seed first (with the same ORM_BENCH_SQLITE_PATH)"
            );
            let streamed = match mode {
                "all" => false,
                "stream" => true,
                _ => panic!("ORM_BENCH_MEMORY: mode is `all` or `stream`, not `{mode}`"),
            };
            let before = reset_peak();
            let read = rt.block_on(read(&ctx, lib, streamed));
            let peak = status_kib("VmHWM:");
            assert_eq!(read, ROWS, "{lib} read {read} rows");
            println!(
                "memory {name} {lib} {mode}: peak {:.1} MiB above {:.1} MiB resident before the read",
                (peak.saturating_sub(before)) as f64 / 1024.0,
                before as f64 / 1024.0
            );
        }
        _ => panic!(
            "ORM_BENCH_MEMORY: expected <dialect>/seed or <dialect>/<library>/<all|stream>, got `{spec}`"
        ),
    }
}

/// Reads every user with `lib`, keeping them all (`streamed == false`) or one at a time;
/// returns how many were read.
async fn read(ctx: &Ctx, lib: &str, streamed: bool) -> usize {
    match (lib, streamed) {
        ("orm", false) => kept(orm_side::select_users(ctx).await),
        ("orm", true) => {
            let mut rows = ours::User::query().stream(&ctx.orm);
            let mut n = 0;
            while let Some(user) = rows.try_next().await.unwrap() {
                black_box(user);
                n += 1;
            }
            n
        }
        ("sqlx", false) => kept(sqlx_side::select_users(&ctx.sqlx).await),
        ("sqlx", true) => sqlx_side::stream_users(&ctx.sqlx).await,
        ("seaorm", false) => kept(sea_side::select_users(ctx).await),
        ("seaorm", true) => {
            use sea_orm::EntityTrait;
            let mut rows = sea::user::Entity::find().stream(&ctx.sea).await.unwrap();
            let mut n = 0;
            while let Some(user) = rows.try_next().await.unwrap() {
                black_box(user);
                n += 1;
            }
            n
        }
        ("diesel", streamed) => {
            let mut conn = ctx.diesel[0].lock().unwrap();
            diesel_read(&mut conn, streamed)
        }
        _ => panic!("ORM_BENCH_MEMORY: unknown library `{lib}`; use orm, sqlx, seaorm or diesel"),
    }
}

/// Diesel: `load` into a `Vec`, or `load_iter` (row by row: `PgRowByRowLoadingMode` on
/// PostgreSQL, the default mode elsewhere — SQLite steps its statement; Diesel's MySQL
/// connection has no row-by-row mode and buffers the result).
fn diesel_read(conn: &mut crate::libs::DieselConn, streamed: bool) -> usize {
    use crate::libs::DieselConn;
    use diesel::connection::DefaultLoadingMode;
    use diesel::pg::PgRowByRowLoadingMode;
    use dsl::{User, bench_users};
    macro_rules! read_with {
        ($c:expr, $mode:ty) => {
            if streamed {
                let mut n = 0;
                for user in bench_users::table.load_iter::<User, $mode>($c).unwrap() {
                    black_box(user.unwrap());
                    n += 1;
                }
                n
            } else {
                kept(bench_users::table.load::<User>($c).unwrap())
            }
        };
    }
    match conn {
        DieselConn::Pg(c) => read_with!(c, PgRowByRowLoadingMode),
        DieselConn::My(c) => read_with!(c, DefaultLoadingMode),
        DieselConn::Lite(c) => read_with!(c, DefaultLoadingMode),
    }
}

/// The length of `rows`, read while they are all still alive.
fn kept<T>(rows: Vec<T>) -> usize {
    black_box(&rows).len()
}

/// Resets the peak-RSS mark to the current resident size; returns that size (KiB).
fn reset_peak() -> u64 {
    std::fs::write("/proc/self/clear_refs", "5")
        .expect("resetting the peak RSS needs Linux's /proc/self/clear_refs");
    status_kib("VmRSS:")
}

/// A `kB` line of `/proc/self/status`.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no `{field}` in /proc/self/status"))
}
