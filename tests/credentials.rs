//! Credentials against real servers (a private PostgreSQL with password logins, a private
//! MariaDB): a provider is asked for each new connection, so rotating the password with
//! `ALTER USER` while a load runs fails no query; a password file (Docker secret) and the
//! `DB_*` variables connect; and no password ever shows in `Debug`, `Display`, errors, spans
//! or logs (everything captured and searched).

#[path = "support/servers.rs"]
mod servers;

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use polyorm::config::{DatabaseConfig, PasswordSource};
use polyorm::credentials::{CredentialProvider, Credentials, CredentialsFuture, Secret};
use polyorm::observe::Tracing;
use polyorm::{Db, Error, Executor, PoolOptions};
use servers::{Kind, PrivateServer};

/// Every password these tests use starts with this, so one search finds any of them.
const MARK: &str = "Pw-Zq7";

/// Everything every subscriber of this test binary was told (spans, events, logs at TRACE).
fn captured() -> &'static Mutex<Vec<u8>> {
    static LOG: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
    LOG.get_or_init(|| {
        struct Sink;
        impl Write for Sink {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                captured().lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        // Each span is written when it closes, with its fields (the statements' text among
        // them): what the ORM's `Tracing` layer records is in the log, not only events.
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_writer(|| Sink)
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
        Mutex::new(Vec::new())
    })
}

/// A secrets manager: hands out whatever password it holds now, counting the calls.
#[derive(Clone)]
struct Rotating {
    user: String,
    password: Arc<Mutex<String>>,
    calls: Arc<AtomicU64>,
}

impl CredentialProvider for Rotating {
    fn credentials(&self) -> CredentialsFuture<'_> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let password = self.password.lock().unwrap().clone();
        Box::pin(async move { Ok(Credentials::new(self.user.clone(), password)) })
    }
}

fn user_url(server: &PrivateServer, user: &str, password: &str) -> String {
    let port = server.port;
    match server.kind {
        Kind::Postgres => format!("postgres://{user}:{password}@127.0.0.1:{port}/test"),
        Kind::MariaDb => format!("mysql://{user}:{password}@127.0.0.1:{port}/test"),
    }
}

fn set_password(kind: Kind, user: &str, password: &str) -> String {
    match kind {
        Kind::Postgres => format!("ALTER USER {user} WITH PASSWORD '{password}'"),
        Kind::MariaDb => format!("ALTER USER {user}@'%' IDENTIFIED BY '{password}'"),
    }
}

/// Runs `sql` as the administrator through the server's command-line client: statements that
/// carry a password are the test's own, and sqlx logs every statement it runs, so they are
/// kept out of this process (whose every log line is searched for passwords).
fn admin_sql(server: &PrivateServer, sql: &str) {
    let port = server.port.to_string();
    let mut command = match server.kind {
        Kind::Postgres => {
            let mut c = std::process::Command::new("psql");
            c.args([
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-d",
                "test",
            ])
            .args(["-v", "ON_ERROR_STOP=1", "-c", sql])
            .env("PGPASSWORD", servers::PASSWORD);
            c
        }
        Kind::MariaDb => {
            let mut c = std::process::Command::new("mariadb");
            c.args([
                "-h",
                "127.0.0.1",
                "-P",
                &port,
                "-u",
                "root",
                "test",
                "-e",
                sql,
            ]);
            c
        }
    };
    let out = command.output().expect("run the command-line client");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn create_user(server: &PrivateServer, user: &str, password: &str) {
    let statements = match server.kind {
        Kind::Postgres => vec![
            format!("CREATE USER {user} WITH PASSWORD '{password}'"),
            format!("GRANT ALL ON SCHEMA public TO {user}"),
        ],
        Kind::MariaDb => vec![
            format!("CREATE USER {user}@'%' IDENTIFIED BY '{password}'"),
            format!("GRANT ALL ON test.* TO {user}@'%'"),
        ],
    };
    for sql in statements {
        admin_sql(server, &sql);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotating_the_password_under_load_fails_no_query() {
    captured();
    for kind in Kind::ALL {
        let server = PrivateServer::start(kind).await;
        let user = "rot_user";
        let first = format!("{MARK}-0");
        create_user(&server, user, &first);
        let provider = Rotating {
            user: user.to_owned(),
            password: Arc::new(Mutex::new(first.clone())),
            calls: Arc::new(AtomicU64::new(0)),
        };
        // Connections live 100 ms, so new ones open all the time, during every rotation. The
        // URL carries no password: every login's comes from the provider.
        let db = PoolOptions::new()
            .max_connections(4)
            .max_lifetime(Duration::from_millis(100))
            .idle_timeout(Duration::from_millis(100))
            .credential_provider(provider.clone())
            .connect(&user_url(&server, user, "").replace(":@", "@"))
            .await
            .expect("connect with the provider's password");
        let pool = db.clone();
        let db = db.layer(Tracing::new());
        db.execute_raw("CREATE TABLE rot_load (id BIGINT PRIMARY KEY, worker INT, n BIGINT)")
            .await
            .expect("create the table");

        let failures = Arc::new(Mutex::new(Vec::<String>::new()));
        let written = Arc::new(AtomicU64::new(0));
        let stop = Instant::now() + Duration::from_secs(4);
        let mut workers = Vec::new();
        for worker in 0..6_i64 {
            let (db, failures, written) = (db.clone(), failures.clone(), written.clone());
            workers.push(tokio::spawn(async move {
                let mut n = 0_i64;
                while Instant::now() < stop {
                    n += 1;
                    let id = worker * 1_000_000 + n;
                    let round = async {
                        polyorm::raw("INSERT INTO rot_load (id, worker, n) VALUES (?, ?, ?)")
                            .bind(id)
                            .bind(worker)
                            .bind(n)
                            .execute(&db)
                            .await?;
                        let (back,): (i64,) = polyorm::raw("SELECT n FROM rot_load WHERE id = ?")
                            .bind(id)
                            .fetch_one(&db)
                            .await?;
                        assert_eq!(back, n, "the row written is read back");
                        Ok::<_, Error>(())
                    };
                    match round.await {
                        Ok(()) => {
                            written.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => failures.lock().unwrap().push(e.to_string()),
                    }
                }
            }));
        }
        // Five rotations, in both orders a secrets manager may use: the provider first (new
        // connections are refused until the server changes: retried), then the server first.
        let mut current = first;
        for round in 1..=5 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let next = format!("{MARK}-{round}");
            if round % 2 == 1 {
                *provider.password.lock().unwrap() = next.clone();
                tokio::time::sleep(Duration::from_millis(30)).await;
                admin_sql(&server, &set_password(kind, user, &next));
            } else {
                admin_sql(&server, &set_password(kind, user, &next));
                tokio::time::sleep(Duration::from_millis(30)).await;
                *provider.password.lock().unwrap() = next.clone();
            }
            current = next;
        }
        for worker in workers {
            worker.await.expect("worker");
        }
        let failures = failures.lock().unwrap().clone();
        assert!(
            failures.is_empty(),
            "{kind:?}: queries failed: {failures:?}"
        );
        let written = written.load(Ordering::Relaxed);
        let (rows,): (i64,) = polyorm::raw("SELECT COUNT(*) FROM rot_load")
            .fetch_one(&db)
            .await
            .unwrap();
        assert_eq!(rows as u64, written, "{kind:?}: every write is there");
        assert!(written > 50, "{kind:?}: the load ran ({written} rounds)");
        let calls = provider.calls.load(Ordering::Relaxed);
        assert!(
            calls > 10,
            "{kind:?}: the provider is asked per connection ({calls})"
        );
        // The server really changed: the first password is refused now, the last accepted.
        let old = Db::connect(&user_url(&server, user, &format!("{MARK}-0"))).await;
        assert!(
            matches!(old, Err(Error::Authentication { .. })),
            "{kind:?}: the first password no longer works: {old:?}"
        );
        Db::connect(&user_url(&server, user, &current))
            .await
            .expect("the current password works")
            .close()
            .await;

        // Nothing printed shows a password: the Db, the options, a refused login's error.
        let refused = PoolOptions::new()
            .credentials(Credentials::new(user, format!("{MARK}-wrong")))
            .connect(&user_url(&server, user, &format!("{MARK}-in-url")))
            .await
            .unwrap_err();
        assert!(
            matches!(refused, Error::Authentication { .. }),
            "{refused:?}"
        );
        let shown = [
            format!("{pool:?}"),
            format!("{refused} {refused:?}"),
            format!(
                "{:?}",
                PoolOptions::new().credential_provider(provider.clone())
            ),
            format!(
                "{:?}",
                PoolOptions::new().credentials(Credentials::new(user, current.clone()))
            ),
        ];
        for text in shown {
            assert!(
                !text.contains(MARK),
                "{kind:?}: a password is shown: {text}"
            );
        }
        pool.close().await;
    }
    let log = String::from_utf8_lossy(&captured().lock().unwrap()).into_owned();
    assert!(log.contains("rot_load"), "the spans were captured");
    assert!(!log.contains(MARK), "a password is in the logs: {log}");
}

#[tokio::test]
async fn a_password_file_and_the_db_variables_connect_and_hide_the_password() {
    captured();
    let server = PrivateServer::start(Kind::Postgres).await;
    let password = format!("{MARK}-file");
    create_user(&server, "file_user", &password);
    let secret = server.dir().join("db_password");
    std::fs::write(&secret, format!("{password}\n")).unwrap();
    let port = server.port.to_string();
    let secret_path = secret.to_str().unwrap().to_owned();
    let vars = [
        ("DB_HOST", "127.0.0.1"),
        ("DB_PORT", port.as_str()),
        ("DB_NAME", "test"),
        ("DB_USER", "file_user"),
        ("DB_PASSWORD_FILE", secret_path.as_str()),
        ("DB_SSL", "disable"),
        ("DB_POOL_MAX", "3"),
    ];
    let config = DatabaseConfig::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    })
    .unwrap();
    assert_eq!(config.password, Some(PasswordSource::File(secret.clone())));
    let db = config.connect().await.expect("connect from the DB_* set");
    let (user,): (String,) = polyorm::raw("SELECT current_user::text")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(user, "file_user");
    assert_eq!(db.health().await.unwrap().max_connections, 3);

    // A wrong password in the file: refused, and the error does not repeat it.
    std::fs::write(&secret, format!("{MARK}-not-it")).unwrap();
    let err = config.connect().await.unwrap_err();
    assert!(matches!(err, Error::Authentication { .. }), "{err:?}");
    for text in [
        format!("{err} {err:?}"),
        format!("{config:?}"),
        format!("{db:?}"),
    ] {
        assert!(!text.contains(MARK), "{text}");
    }
    // A password as a value shows as `Secret(***)`.
    let valued = DatabaseConfig {
        password: Some(PasswordSource::Value(Secret::new(password.clone()))),
        ..config.clone()
    };
    assert!(!format!("{valued:?}").contains(MARK));
    db.close().await;
}
