//! Backup and restore throughput of `polyorm::backup` on PostgreSQL and MariaDB, side by side with
//! `pg_dump`/`pg_restore` and `mariadb-dump`/`mariadb` of the same rows in the same run.
//!
//! ```text
//! cargo run --release --example backup_throughput --features backup
//! ORM_BENCH_ROWS=200000 cargo run --release --example backup_throughput --features backup
//! ```
//!
//! Servers: `ORM_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`) and
//! `ORM_TEST_MYSQL_URL` (default `mysql://root@127.0.0.1:3306/test`); the tools are run with
//! the same host, port and user. Each side works in a schema/database of its own, dropped at
//! the end. Figures: rows/s, MB/s of the rows' encoded size (the archive's content bytes) and
//! the stored size, and the resident set's growth while archiving.

use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use polyorm::backup::{Archive, Backup, Restore};
use polyorm::prelude::*;

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "bench_backup")]
struct Row {
    #[orm(primary_key)]
    id: i64,
    payload: String,
    amount: f64,
    at: DateTime<Utc>,
}

fn resident_mib() -> f64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |pages| pages * 4096.0 / 1048576.0)
}

fn line(what: &str, rows: u64, bytes: u64, took: Duration) {
    let s = took.as_secs_f64();
    println!(
        "  {what:<34} {:>8.2} s  {:>10.0} rows/s  {:>8.1} MB/s  ({:.1} MB)",
        s,
        rows as f64 / s,
        bytes as f64 / 1e6 / s,
        bytes as f64 / 1e6
    );
}

fn run(cmd: &mut Command) -> Duration {
    let started = Instant::now();
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    started.elapsed()
}

struct Server {
    label: &'static str,
    base: String,
    fill: String,
}

/// `url` with the PostgreSQL schema or MySQL database `name`.
fn scoped(base: &str, name: &str, postgres: bool) -> String {
    if postgres {
        let sep = if base.contains('?') { '&' } else { '?' };
        format!("{base}{sep}options=-c%20search_path%3D{name}")
    } else {
        let (server, _) = base.rsplit_once('/').expect("mysql://host/db");
        format!("{server}/{name}")
    }
}

/// (host, port, user, database) of a `scheme://user@host:port/db` URL.
fn parts(url: &str) -> (String, String, String, String) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.split('?').next().unwrap_or(rest);
    let (user, rest) = rest.split_once('@').unwrap_or(("", rest));
    let user = user.split(':').next().unwrap_or(user);
    let (hostport, db) = rest.split_once('/').unwrap_or((rest, ""));
    let (host, port) = hostport.split_once(':').unwrap_or((hostport, ""));
    (
        host.to_owned(),
        port.to_owned(),
        user.to_owned(),
        db.to_owned(),
    )
}

/// Drops the schemas (PostgreSQL) or databases (MariaDB) `names`, and creates them again
/// with `create`.
async fn reset(admin: &Db, names: &[&str], postgres: bool, create: bool) {
    let kind = if postgres { "SCHEMA" } else { "DATABASE" };
    for name in names {
        let cascade = if postgres { " CASCADE" } else { "" };
        admin
            .execute_raw(&format!("DROP {kind} IF EXISTS {name}{cascade}"))
            .await
            .unwrap();
        if create {
            admin
                .execute_raw(&format!("CREATE {kind} {name}"))
                .await
                .unwrap();
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rows: u64 = std::env::var("ORM_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let pg = std::env::var("ORM_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let my = std::env::var("ORM_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into());
    let servers = [
        Server {
            label: "PostgreSQL",
            base: pg,
            fill: format!(
                "INSERT INTO bench_backup (id, payload, amount, at) SELECT i, 'payload ' || i, \
                 i * 0.5, timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second' \
                 FROM generate_series(1, {rows}) AS i"
            ),
        },
        Server {
            label: "MariaDB",
            base: my,
            fill: format!(
                "INSERT INTO bench_backup (id, payload, amount, at) SELECT seq, \
                 CONCAT('payload ', seq), seq * 0.5, TIMESTAMP '2026-01-01 00:00:00' + \
                 INTERVAL seq SECOND FROM seq_1_to_{rows}"
            ),
        },
    ];
    let tmp = std::env::temp_dir().join(format!("polyorm-backup-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    for server in servers {
        let postgres = server.label == "PostgreSQL";
        let admin = Db::connect(&server.base).await.expect("server reachable");
        let names = ["orm_bk_src", "orm_bk_orm", "orm_bk_tool"];
        reset(&admin, &names, postgres, true).await;
        let src = Db::connect(&scoped(&server.base, names[0], postgres))
            .await
            .unwrap();
        src.create_table::<Row>().await.unwrap();
        src.execute_raw(&server.fill).await.unwrap();
        println!(
            "{}: {rows} rows (id, payload text, amount double, at timestamp)",
            server.label
        );

        // The ORM: backup (zstd 3) and verify.
        let path = tmp.join(format!("{}.tar", server.label));
        let before = resident_mib();
        let started = Instant::now();
        let manifest = Backup::new()
            .model::<Row>()
            .to_tar(&src, &path)
            .await
            .unwrap();
        let took = started.elapsed();
        let polyorm_backup = took;
        let growth = resident_mib() - before;
        let part = manifest.part("bench_backup").unwrap();
        line(
            "polyorm backup (rows encoded)",
            rows,
            part.content_bytes,
            took,
        );
        line("polyorm backup (archive written)", rows, part.bytes, took);
        println!("  polyorm backup resident set growth: {growth:+.1} MiB");
        let archive = Archive::open(&path).unwrap();
        let started = Instant::now();
        polyorm::backup::verify(&archive, None).unwrap();
        line("orm verify", rows, part.bytes, started.elapsed());
        // The ORM: restore into an empty schema (batches of 1,000, checked after).
        let dst = Db::connect(&scoped(&server.base, names[1], postgres))
            .await
            .unwrap();
        let started = Instant::now();
        Restore::new().run(&dst, &[archive]).await.unwrap();
        let orm_restore = started.elapsed();
        line(
            "orm restore (+ read-back check)",
            rows,
            part.content_bytes,
            orm_restore,
        );
        dst.close().await;

        // The database's own tool, on the same rows.
        let (host, port, user, db) = parts(&server.base);
        let dump = tmp.join(format!("{}.dump", server.label));
        let (tool_backup, tool_restore, tool_size);
        if postgres {
            let took = run(Command::new("pg_dump")
                .args(["-h", &host, "-p", &port, "-U", &user, "-d", &db])
                .args(["-Fc", "-n", names[0], "-f"])
                .arg(&dump));
            let size = std::fs::metadata(&dump).unwrap().len();
            line("pg_dump -Fc (archive written)", rows, size, took);
            (tool_backup, tool_size) = (took, size);
            // The dump recreates its schema: the source's goes first.
            src.close().await;
            admin
                .execute_raw(&format!("DROP SCHEMA {} CASCADE", names[0]))
                .await
                .unwrap();
            let took = run(Command::new("pg_restore")
                .args([
                    "-h",
                    &host,
                    "-p",
                    &port,
                    "-U",
                    &user,
                    "-d",
                    &db,
                    "--no-owner",
                ])
                .arg(&dump));
            line("pg_restore", rows, size, took);
            tool_restore = took;
        } else {
            let took = run(Command::new("sh").arg("-c").arg(format!(
                "mariadb-dump -h {host} -P {port} -u {user} --single-transaction {} bench_backup > {}",
                names[0],
                dump.display()
            )));
            let size = std::fs::metadata(&dump).unwrap().len();
            line("mariadb-dump (SQL written)", rows, size, took);
            (tool_backup, tool_size) = (took, size);
            let took = run(Command::new("sh").arg("-c").arg(format!(
                "mariadb -h {host} -P {port} -u {user} {} < {}",
                names[2],
                dump.display()
            )));
            line("mariadb < dump", rows, size, took);
            tool_restore = took;
        }
        let tool = if postgres { "pg_dump" } else { "mariadb-dump" };
        println!(
            "  orm / {tool}: backup time {:.2}x, restore time {:.2}x, stored size {:.2}x",
            polyorm_backup.as_secs_f64() / tool_backup.as_secs_f64(),
            orm_restore.as_secs_f64() / tool_restore.as_secs_f64(),
            part.bytes as f64 / tool_size as f64
        );
        if !postgres {
            src.close().await;
        }
        reset(&admin, &names, postgres, false).await;
        admin.close().await;
    }
    std::fs::remove_dir_all(&tmp).unwrap();
}
