//! `BENCHMARKS.md` from criterion's estimates of this run, and the profiling entry point.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hint::black_box;
use std::path::PathBuf;

use polyorm::Dialect;
use tokio::runtime::Runtime;

use crate::libs::{diesel_side, mysql_async_side, orm_side, sea_side, sqlx_side};
use crate::paired::{PEERS, Pairing};
use crate::{LIBS, Ran, setup};

/// `<target>/criterion`, found from this binary's path (`<target>/<profile>/deps/compare-…`).
pub fn criterion_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the benchmark binary knows its path");
    exe.ancestors()
        .nth(3)
        .expect("the benchmark binary lives in <target>/<profile>/deps")
        .join("criterion")
}

/// The median of one benchmark, in nanoseconds (`None` where criterion wrote none, as in a
/// smoke run).
pub(crate) fn median(ran: &Ran) -> Option<f64> {
    let path = criterion_dir()
        .join(ran.group())
        .join(ran.lib)
        .join(&ran.param)
        .join("new/estimates.json");
    let text = std::fs::read_to_string(&path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["median"]["point_estimate"].as_f64()
}

fn duration(ns: f64) -> String {
    let (value, unit) = if ns >= 1e6 {
        (ns / 1e6, "ms")
    } else if ns >= 1e3 {
        (ns / 1e3, "µs")
    } else {
        (ns, "ns")
    };
    let digits = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    format!("{value:.digits$} {unit}")
}

/// `Some(ours / theirs)` formatted, `target` marks a miss with ✗.
fn ratio(ours: Option<f64>, theirs: Option<f64>, target: f64) -> String {
    match (ours, theirs) {
        (Some(a), Some(b)) if b > 0.0 => {
            let r = a / b;
            if r <= target {
                format!("{r:.2}")
            } else {
                format!("{r:.2} ✗")
            }
        }
        _ => "n/a".into(),
    }
}

/// The CPU model and the number of logical cores, from `/proc/cpuinfo`.
fn machine() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .and_then(|r| r.split(':').nth(1))
        })
        .map_or("unknown CPU".to_owned(), |m| m.trim().to_owned());
    let cores = info.lines().filter(|l| l.starts_with("processor")).count();
    format!("{model}, {cores} logical cores")
}

/// `name version` of the crates compared, read from the workspace's `Cargo.lock`.
fn crate_versions() -> String {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock"))
        .unwrap_or_default();
    let mut found = BTreeMap::new();
    let mut name = None;
    for line in lock.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = Some(n.trim_matches('"').to_owned());
        } else if let (Some(v), Some(n)) = (line.strip_prefix("version = "), name.take()) {
            found
                .entry(n)
                .or_insert_with(|| v.trim_matches('"').to_owned());
        }
    }
    [
        "sqlx",
        "sea-orm",
        "sea-query",
        "diesel",
        "libsqlite3-sys",
        "criterion",
        "tokio",
    ]
    .iter()
    .filter_map(|n| found.get(*n).map(|v| format!("{n} {v}")))
    .collect::<Vec<_>>()
    .join(", ")
}

/// Writes the report: machine, versions, then per dialect the medians and the three ratios.
/// `benches/NOTES.md` (the findings, written by hand) is appended.
pub fn write(path: &str, ran: &[Ran], pairings: &[Pairing], servers: &[(Dialect, String)]) {
    let mut md = String::new();
    let rustc =
        std::env::var("ORM_BENCH_RUSTC").unwrap_or_else(|_| "rustc (version not given)".into());
    let when = std::env::var("ORM_BENCH_DATE").unwrap_or_default();
    let _ = writeln!(md, "# Benchmarks\n");
    let _ = writeln!(
        md,
        "Produced by `bash scripts/bench.sh` (one run, all numbers below from it{}). Medians of \
         criterion samples; the ratios are this ORM's median divided by the other library's: \
         below 1 the ORM is faster. `ORM` runs through `Db` (its pool), `ORM held` through one \
         connection held from `Db::acquire` (PostgreSQL and MariaDB/MySQL); sqlx runs on one \
         bare connection (SQLite: its pool), Diesel on one connection, SeaORM on its pool. \
         Targets: ORM ÷ held ≤ 1.05, ORM ÷ sqlx ≤ 1.05, ORM ÷ SeaORM ≤ 0.75, ORM ÷ best peer \
         ≤ 1.0; a ratio that misses its target is marked ✗ (ORM ÷ Diesel has no target of its \
         own). The library measured first rotates from one workload group to the next, and \
         after seeding PostgreSQL and MariaDB finish the work the seed left behind (vacuum and \
         analyze, InnoDB's purge; SQLite checkpoints its write-ahead log) before the group \
         starts. Under each dialect's table, its paired ratios: the ORM and each peer \
         alternating in batches of about a millisecond, the ratio taken within each pair — the \
         figure to judge a ratio near 1.0 by, since one library's criterion group runs a second \
         or more after the other's on a machine whose speed drifts in between.\n",
        if when.is_empty() {
            String::new()
        } else {
            format!(", {when}")
        }
    );
    let _ = writeln!(md, "- Machine: {}", machine());
    let _ = writeln!(md, "- Toolchain: {rustc}; crates: {}", crate_versions());
    for (dialect, version) in servers {
        let _ = writeln!(
            md,
            "- {}: {}",
            dialect.name(),
            version.lines().next().unwrap_or("")
        );
    }
    let _ = writeln!(
        md,
        "- Workloads (diesel_bench shapes): `select_users` N users; `left_join` users LEFT JOIN \
         posts WHERE hair_color = 'black' (N users, half black, two in three with a post); \
         `insert` N users in one statement; `associations` users × posts × comments loaded \
         eagerly (three queries); `find_by_pk` one lookup; `find_by_pk_concurrent` {} tasks × {} \
         lookups at once; `mixed_read_write` (SQLite, WAL) the same tasks with one operation \
         in four a rename; `build_3_predicates` building and compiling a 3-predicate select \
         without running it (raw sqlx has no builder: n/a).",
        crate::libs::TASKS,
        crate::libs::LOOKUPS_PER_TASK
    );

    let mut misses = (0, 0, 0, 0);
    for (dialect, _) in servers {
        let _ = writeln!(md, "\n## {}\n", dialect.name());
        let _ = writeln!(
            md,
            "| workload | N | ORM | ORM held | sqlx | SeaORM | Diesel | ORM÷held | ORM÷sqlx | \
             ORM÷SeaORM | ORM÷Diesel | best peer | ORM÷best | ORM on sqlx | ORM÷ORM on sqlx | \
             ORM on sqlx÷best |"
        );
        let _ = writeln!(
            md,
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|"
        );
        let mut rows: Vec<(&'static str, String)> = Vec::new();
        for r in ran.iter().filter(|r| r.dialect == *dialect) {
            let key = (r.workload, r.param.clone());
            if !rows.contains(&key) {
                rows.push(key);
            }
        }
        for (workload, param) in rows {
            let m: Vec<Option<f64>> = LIBS
                .iter()
                .map(|lib| {
                    ran.iter()
                        .find(|r| {
                            r.dialect == *dialect
                                && r.workload == workload
                                && r.param == param
                                && r.lib == *lib
                        })
                        .and_then(median)
                })
                .collect();
            let cell = |x: Option<f64>| x.map_or("n/a".into(), duration);
            // The fastest of the peers (sqlx, SeaORM, Diesel) that ran this cell.
            let (best_name, best) = [("sqlx", m[2]), ("SeaORM", m[3]), ("Diesel", m[4])]
                .into_iter()
                .filter_map(|(name, t)| Some((name, t?)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map_or(("n/a", None), |(name, t)| (name, Some(t)));
            if let (Some(o), Some(s)) = (m[0], m[2]) {
                misses.0 += 1;
                if o / s > 1.05 {
                    misses.1 += 1;
                }
            }
            if let (Some(o), Some(s)) = (m[0], m[3]) {
                misses.2 += 1;
                if o / s > 0.75 {
                    misses.3 += 1;
                }
            }
            let _ = writeln!(
                md,
                "| {workload} | {param} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {best_name} | {} | {} | {} | {} |",
                cell(m[0]),
                cell(m[1]),
                cell(m[2]),
                cell(m[3]),
                cell(m[4]),
                ratio(m[0], m[1], 1.05),
                ratio(m[0], m[2], 1.05),
                ratio(m[0], m[3], 0.75),
                ratio(m[0], m[4], f64::INFINITY),
                ratio(m[0], best, 1.0),
                cell(m[5]),
                ratio(m[0], m[5], 1.0),
                ratio(m[5], best, 1.0),
            );
        }
        paired_table(&mut md, *dialect, pairings);
    }
    raw_clients(&mut md, ran);
    let _ = writeln!(
        md,
        "\n**Targets in this run:** ORM ÷ sqlx ≤ 1.05 met on {} of {} rows; ORM ÷ SeaORM ≤ 0.75 \
         met on {} of {} rows.",
        misses.0 - misses.1,
        misses.0,
        misses.2 - misses.3,
        misses.2
    );
    let notes = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/NOTES.md"))
        .unwrap_or_default();
    if !notes.is_empty() {
        md.push('\n');
        md.push_str(&notes);
    }
    std::fs::write(path, md).unwrap_or_else(|e| panic!("cannot write the report to {path}: {e}"));
    eprintln!("wrote {path}");
}

/// The paired ratios of one dialect ([`crate::paired`]): per cell, ORM ÷ each library it was
/// paired with as "median (first–third quartile)", and ORM ÷ best peer, the largest of the
/// peers' medians (the held connection is the ORM itself, not a peer).
fn paired_table(md: &mut String, dialect: Dialect, pairings: &[Pairing]) {
    let of_dialect: Vec<&Pairing> = pairings.iter().filter(|p| p.dialect == dialect).collect();
    if of_dialect.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "\n### {}: paired ratios\n\nThe ORM and each other library measured in alternating \
         batches of about a millisecond (the ORM first in every other pair), the ratio taken \
         within each pair: median of the pairs' ratios, and in parentheses their first and third \
         quartiles; ORM÷ORM on sqlx pairs the ORM on its native driver with itself on sqlx's \
         driver. Drift of the machine between criterion's one-library-at-a-time groups \
         cancels here. A peer is paired where criterion's median puts it within {}× of the \
         fastest peer (it could be the best one); ORM÷best is the largest median against a \
         paired peer. Diesel is paired on SQLite only: its blocking client's round trips, \
         interleaved with the async runtime's, slowed the ORM's halves several times over on \
         PostgreSQL (see `main.rs`, `measure`), so there ORM÷best is against sqlx or SeaORM \
         and the main table's criterion ratio against Diesel stands.\n",
        dialect.name(),
        crate::paired::CONTENDER
    );
    let _ = writeln!(
        md,
        "| workload | N | ORM÷held | ORM÷ORM on sqlx | ORM÷sqlx | ORM÷SeaORM | ORM÷Diesel | best \
         peer | ORM÷best | pairs × iterations (best peer) |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|");
    let mut cells: Vec<(&'static str, &str)> = Vec::new();
    for p in &of_dialect {
        if !cells.contains(&(p.workload, p.param.as_str())) {
            cells.push((p.workload, &p.param));
        }
    }
    let (mut met, mut rows) = (0, 0);
    for (workload, param) in cells {
        let find = |peer: &str| {
            of_dialect
                .iter()
                .find(|p| p.workload == workload && p.param == param && p.peer == peer)
        };
        let shown = |peer: &str| {
            find(peer).map_or("n/a".into(), |p| {
                let [q1, q2, q3] = p.quartiles;
                format!("{q2:.2} ({q1:.2}–{q3:.2})")
            })
        };
        let best = PEERS
            .iter()
            .filter(|peer| !crate::paired::is_ours(peer))
            .filter_map(|peer| find(peer))
            .max_by(|a, b| a.quartiles[1].total_cmp(&b.quartiles[1]));
        let (best_name, best_ratio, sizes) =
            best.map_or(("n/a", "n/a".into(), "n/a".into()), |p| {
                rows += 1;
                let r = p.quartiles[1];
                let marked = if r <= 1.0 {
                    met += 1;
                    format!("{r:.2}")
                } else {
                    format!("{r:.2} ✗")
                };
                (
                    peer_name(p.peer),
                    marked,
                    format!("{} × {}", p.rounds, p.iterations),
                )
            });
        let _ = writeln!(
            md,
            "| {workload} | {param} | {} | {} | {} | {} | {} | {best_name} | {best_ratio} | {sizes} |",
            shown("orm_held"),
            shown("orm_sqlx"),
            shown("sqlx"),
            shown("seaorm"),
            shown("diesel"),
        );
    }
    let _ = writeln!(
        md,
        "\nPaired ORM ÷ best peer ≤ 1.0 on {met} of {rows} rows ({}).",
        dialect.name()
    );
}

/// A library's name as the tables print it.
fn peer_name(lib: &str) -> &'static str {
    match lib {
        "sqlx" => "sqlx",
        "seaorm" => "SeaORM",
        "diesel" => "Diesel",
        "orm_held" => "ORM held",
        _ => "n/a",
    }
}

/// The raw MariaDB/MySQL clients side by side, where raw mysql_async ran: sqlx and mysql_async
/// on one bare connection each, Diesel (libmysqlclient) on one connection.
fn raw_clients(md: &mut String, ran: &[Ran]) {
    let median_of = |r: &Ran, lib: &str| {
        ran.iter()
            .find(|o| {
                o.dialect == r.dialect
                    && o.workload == r.workload
                    && o.param == r.param
                    && o.lib == lib
            })
            .and_then(median)
    };
    let cells: Vec<&Ran> = ran
        .iter()
        .filter(|r| r.lib == "mysql_async" && median(r).is_some())
        .collect();
    if cells.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "\n### {}: raw clients\n\nThe same statements on one bare connection each, every \
         column of every row decoded into the same structs: the measurement behind a native \
         MariaDB driver. Below 1, mysql_async is faster.\n",
        cells[0].dialect.name()
    );
    let _ = writeln!(
        md,
        "| workload | N | sqlx | mysql_async | Diesel | mysql_async÷sqlx | mysql_async÷Diesel |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|");
    for r in cells {
        let (sqlx, my, diesel) = (
            median_of(r, "sqlx"),
            median_of(r, "mysql_async"),
            median_of(r, "diesel"),
        );
        let cell = |x: Option<f64>| x.map_or("n/a".into(), duration);
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.workload,
            r.param,
            cell(sqlx),
            cell(my),
            cell(diesel),
            ratio(my, sqlx, f64::INFINITY),
            ratio(my, diesel, f64::INFINITY),
        );
    }
}

/// `ORM_BENCH_PROFILE=<dialect>/<workload>/<library>/<N>/<iterations>`: seeds like the
/// benchmark, then runs one library's body `iterations` times with no timing around it, so the
/// difference of two callgrind runs (k and 0 iterations) is k times the body's instructions.
pub fn profile(rt: &Runtime, spec: &str) {
    let parts: Vec<&str> = spec.split('/').collect();
    let [dialect, workload, lib, n, iterations] = parts[..] else {
        panic!(
            "ORM_BENCH_PROFILE: expected <dialect>/<workload>/<library>/<N>/<iterations>, got `{spec}`"
        );
    };
    let dialect = Dialect::ALL
        .into_iter()
        .find(|d| d.name() == dialect)
        .unwrap_or_else(|| panic!("ORM_BENCH_PROFILE: unknown dialect `{dialect}`"));
    let n: usize = n.parse().expect("ORM_BENCH_PROFILE: N is a number");
    let iterations: usize = iterations
        .parse()
        .expect("ORM_BENCH_PROFILE: iterations is a number");
    let ctx = rt.block_on(setup::connect(dialect));
    let ctx = &ctx;
    // Every statement runs as one actor, as a request handler's would (`orm_access`).
    rt.block_on(polyorm::access::Actor::new("bench").scope(async {
        match workload {
            "select_users" | "left_join" => setup::seed_users_and_posts(&ctx.orm, n).await,
            "find_by_pk" | "insert" | "build_3_predicates" => {
                setup::seed_users_and_posts(&ctx.orm, 100).await;
            }
            // N users, each with 10 posts of 10 comments (the benchmark's 100x10x10 at N = 100).
            "associations" => drop(setup::seed_tree(&ctx.orm, n, 10, 10).await),
            _ => panic!(
                "ORM_BENCH_PROFILE: profile select_users, left_join, find_by_pk, insert, \
                 associations or build_3_predicates"
            ),
        }
        let rows = setup::new_rows(n);
        let rows = &rows;
        let id = orm_side::select_users(ctx).await[0].id;
        let conn = || ctx.diesel[0].lock().unwrap();
        let layered = orm_side::layers3(&ctx.orm);
        let layered = &layered;
        let observed = orm_side::observed(&ctx.orm);
        let observed = &observed;
        // `orm_held`: one connection taken out of the `Db` before the loop (`Db::acquire`).
        let held = match lib {
            "orm_held" => Some(ctx.orm.acquire().await.unwrap()),
            _ => None,
        };
        let held = || held.as_ref().expect("acquired for orm_held");
        // `orm_sqlx`: the ORM on sqlx's driver.
        let on_sqlx = || {
            ctx.orm_sqlx.as_ref().expect(
                "orm_sqlx runs on PostgreSQL, and on MariaDB/MySQL with \
                 ORM_BENCH_MYSQL_DRIVER=native (or the native default)",
            )
        };
        // `mysql_async`: raw mysql_async on one bare connection.
        let my = || {
            ctx.mysql_async
                .as_ref()
                .expect("mysql_async runs on MariaDB/MySQL only")
        };
        // `sqlx_pool`: sqlx through its pool of TASKS connections, as the column used to be.
        let sqlx_pool = crate::libs::Sqlx::Pool(ctx.sqlx_pool.clone());
        let sqlx_pool = &sqlx_pool;
        let guarded = orm_side::guarded(&ctx.orm);
        let guarded = &guarded;
        // `orm_topology`: a topology over the same server as primary and replica (the probe
        // finds it is a primary, so reads run there): what routing costs a read.
        let topology = match lib {
            "orm_topology" => Some(orm_side::topology(dialect).await),
            _ => None,
        };
        let topology = || topology.as_ref().expect("connected for orm_topology");
        for _ in 0..iterations {
            match (workload, lib) {
                ("select_users", "orm") => drop(black_box(orm_side::select_users(ctx).await)),
                ("select_users", "orm_layers3") => {
                    drop(black_box(orm_side::select_users_on(layered).await))
                }
                ("select_users", "orm_held") => {
                    drop(black_box(orm_side::select_users_on(held()).await))
                }
                ("select_users", "orm_sqlx") => {
                    drop(black_box(orm_side::select_users_on(on_sqlx()).await))
                }
                ("select_users", "sqlx_pool") => {
                    drop(black_box(sqlx_side::select_users(sqlx_pool).await))
                }
                ("select_users", "sqlx") => {
                    drop(black_box(sqlx_side::select_users(&ctx.sqlx).await))
                }
                ("select_users", "mysql_async") => {
                    drop(black_box(mysql_async_side::select_users(my()).await))
                }
                ("select_users", "seaorm") => drop(black_box(sea_side::select_users(ctx).await)),
                ("select_users", "diesel") => {
                    drop(black_box(diesel_side::select_users(&mut conn())))
                }
                ("left_join", "orm") => drop(black_box(orm_side::join(ctx).await)),
                ("left_join", "orm_sqlx") => {
                    drop(black_box(orm_side::join_on(on_sqlx()).await))
                }
                ("left_join", "sqlx") => drop(black_box(sqlx_side::join(ctx).await)),
                ("left_join", "mysql_async") => {
                    drop(black_box(mysql_async_side::join(ctx, my()).await))
                }
                ("left_join", "seaorm") => drop(black_box(sea_side::join(ctx).await)),
                ("left_join", "diesel") => drop(black_box(diesel_side::join(&mut conn()))),
                ("find_by_pk", "orm") => drop(black_box(orm_side::find(&ctx.orm, id).await)),
                ("find_by_pk", "orm_layers3") => drop(black_box(orm_side::find(layered, id).await)),
                ("find_by_pk", "orm_observed") => {
                    drop(black_box(orm_side::find(observed, id).await))
                }
                ("find_by_pk", "orm_held") => drop(black_box(orm_side::find(held(), id).await)),
                ("find_by_pk", "orm_sqlx") => {
                    drop(black_box(orm_side::find(on_sqlx(), id).await))
                }
                ("find_by_pk", "sqlx_pool") => drop(black_box(
                    sqlx_side::find(sqlx_pool, ctx.sql.find, id).await,
                )),
                ("find_by_pk", "orm_access") => drop(black_box(orm_side::find(guarded, id).await)),
                ("find_by_pk", "orm_topology") => {
                    drop(black_box(orm_side::find(topology(), id).await))
                }
                ("find_by_pk", "sqlx") => drop(black_box(
                    sqlx_side::find(&ctx.sqlx, ctx.sql.find, id).await,
                )),
                ("find_by_pk", "mysql_async") => drop(black_box(
                    mysql_async_side::find(my(), ctx.sql.find, id).await,
                )),
                ("find_by_pk", "seaorm") => drop(black_box(sea_side::find(&ctx.sea, id).await)),
                ("find_by_pk", "diesel") => drop(black_box(diesel_side::find(&mut conn(), id))),
                ("insert", "orm") => drop(black_box(orm_side::insert(ctx, rows).await)),
                ("insert", "orm_layers3") => {
                    black_box(orm_side::insert_on(layered, rows).await);
                }
                ("insert", "orm_held") => {
                    black_box(orm_side::insert_on(held(), rows).await);
                }
                ("insert", "orm_sqlx") => {
                    black_box(orm_side::insert_on(on_sqlx(), rows).await);
                }
                ("insert", "sqlx") => drop(black_box(sqlx_side::insert(ctx, rows).await)),
                ("insert", "mysql_async") => {
                    black_box(mysql_async_side::insert(my(), rows).await);
                }
                ("insert", "seaorm") => drop(black_box(sea_side::insert(ctx, rows).await)),
                ("insert", "diesel") => drop(black_box(diesel_side::insert(&mut conn(), rows))),
                ("associations", "orm") => drop(black_box(orm_side::associations(ctx).await)),
                ("associations", "orm_sqlx") => {
                    drop(black_box(orm_side::associations_on(on_sqlx()).await))
                }
                ("associations", "sqlx") => drop(black_box(sqlx_side::associations(ctx).await)),
                ("associations", "mysql_async") => {
                    drop(black_box(mysql_async_side::associations(my()).await))
                }
                ("associations", "seaorm") => drop(black_box(sea_side::associations(ctx).await)),
                ("associations", "diesel") => {
                    drop(black_box(diesel_side::associations(&mut conn())))
                }
                ("build_3_predicates", "orm") => drop(black_box(orm_side::build(dialect))),
                ("build_3_predicates", "seaorm") => drop(black_box(sea_side::build(dialect))),
                ("build_3_predicates", "diesel") => drop(black_box(diesel_side::build(dialect))),
                _ => panic!(
                    "ORM_BENCH_PROFILE: unknown library `{lib}`; use orm, orm_held (one \
                     connection held from `Db::acquire`: select_users, find_by_pk, insert), \
                     orm_sqlx (the ORM on sqlx's PostgreSQL or MariaDB/MySQL driver), \
                     orm_layers3 (three pass-through layers), orm_observed (tracing and metrics \
                     layers, find_by_pk), orm_access (the access-control layer, find_by_pk), orm_topology (a replicated \
                     topology's routing, find_by_pk), sqlx \
                     (one bare connection; SQLite: the pool), mysql_async (raw, one bare connection; \
                     MariaDB/MySQL), sqlx_pool (sqlx's pool: \
                     select_users, find_by_pk), seaorm, diesel"
                ),
            }
        }
    }));
    if workload == "insert" {
        rt.block_on(setup::clear_new_users(&ctx.orm));
    }
    if dialect == Dialect::Sqlite {
        setup::remove_sqlite_file();
    }
}
