//! TLS cost on PostgreSQL and MariaDB: the handshake (a new pool's first connection, login
//! included) and a query on an open connection, plaintext (`disable`) beside TLS with full
//! certificate checks (`verify-full`). Private servers with certificates made here (rcgen),
//! so the numbers compare the same server with TLS off and on.
//!
//! `cargo bench -p polyorm-benches --bench tls` (criterion; ≈1 minute after the build).

#[path = "../../tests/support/certs.rs"]
mod certs;
#[path = "../../tests/support/servers.rs"]
mod servers;

use std::time::Duration;

use certs::{Ca, Use};
use criterion::Criterion;
use polyorm::tls::{SslMode, Tls};
use polyorm::{Db, Executor, PoolOptions};
use servers::{Kind, PASSWORD, PrivateServer};

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = certs::directory("bench");
    let ca = Ca::new(&dir, "ca");
    let leaf = ca.issue(&dir, "server", Use::Server(&["localhost"]), false);
    if std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0) {
        certs::hand_key_to(&leaf.key, "postgres");
    }
    let pg_settings = [
        "ssl=on".to_owned(),
        format!("ssl_cert_file={}", leaf.cert.display()),
        format!("ssl_key_file={}", leaf.key.display()),
    ];
    let my_settings = [
        format!("--ssl-cert={}", leaf.cert.display()),
        format!("--ssl-key={}", leaf.key.display()),
    ];
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
        .without_plots()
        .configure_from_args();
    for kind in Kind::ALL {
        let settings: Vec<&str> = match kind {
            Kind::Postgres => pg_settings.iter().map(String::as_str).collect(),
            Kind::MariaDb => my_settings.iter().map(String::as_str).collect(),
        };
        let server = rt.block_on(PrivateServer::start_with(kind, &settings));
        let (name, url) = match kind {
            Kind::Postgres => (
                "postgres",
                format!(
                    "postgres://postgres:{PASSWORD}@localhost:{}/test",
                    server.port
                ),
            ),
            Kind::MariaDb => (
                "mysql",
                format!("mysql://root@localhost:{}/test", server.port),
            ),
        };
        let rows = match kind {
            Kind::Postgres => "SELECT g::bigint, repeat('x', 100) FROM generate_series(1, 1000) g",
            Kind::MariaDb => "SELECT CAST(seq AS SIGNED), REPEAT('x', 100) FROM seq_1_to_1000",
        };
        for (mode, tls) in [
            ("disable", Tls::new(SslMode::Disable)),
            (
                "verify-full",
                Tls::new(SslMode::VerifyFull).ca_file(&ca.cert),
            ),
        ] {
            let options = PoolOptions::new().max_connections(1).tls(tls);
            c.bench_function(&format!("tls-{name}-handshake-{mode}"), |b| {
                b.to_async(&rt).iter(|| async {
                    let db = options.clone().connect(&url).await.expect("connect");
                    db.close().await;
                })
            });
            let db: Db = rt.block_on(options.clone().connect(&url)).expect("connect");
            c.bench_function(&format!("tls-{name}-select_1-{mode}"), |b| {
                b.to_async(&rt)
                    .iter(|| async { db.execute_raw("SELECT 1").await.expect("select") })
            });
            c.bench_function(&format!("tls-{name}-rows_1000-{mode}"), |b| {
                b.to_async(&rt).iter(|| async {
                    let all: Vec<(i64, String)> =
                        polyorm::raw(rows).fetch_all(&db).await.expect("rows");
                    assert_eq!(all.len(), 1000);
                })
            });
            rt.block_on(db.close());
        }
        drop(server);
    }
    let _ = std::fs::remove_dir_all(&dir);
    c.final_summary();
}
