//! TLS against real servers configured with certificates made here (rcgen): a private
//! PostgreSQL and a private MariaDB with TLS on, the shared servers (MariaDB without TLS) and a
//! private PostgreSQL without TLS. For each SQL backend: every `sslmode` connects as it
//! promises (the session is read back from the server: encrypted or not), a good certificate
//! connects with verify-full, a wrong host name / an expired certificate / an unknown CA each
//! fail naming the cause, `require` against a server without TLS fails, and a client
//! certificate logs in a user that the server only admits with one. The PostgreSQL cases run
//! on both PostgreSQL drivers (sqlx's and, with the feature `postgres-native`, the native one).

#[path = "support/certs.rs"]
mod certs;
#[path = "support/servers.rs"]
mod servers;

use std::path::Path;
use std::time::Duration;

use certs::{Ca, Leaf, Use};
use polyorm::tls::{SslMode, Tls};
use polyorm::{Db, Error, Executor, PoolOptions, PostgresDriver};
use servers::{Kind, PASSWORD, PrivateServer};

/// The certificates of one server's tests.
struct Pki {
    ca: Ca,
    /// A CA the client is never told to trust.
    stranger: Ca,
    /// For `localhost` only: connecting to `127.0.0.1` is a wrong host name.
    good: Leaf,
    expired: Leaf,
    /// Signed by `stranger`.
    unknown: Leaf,
    /// The server's own files (copies of one of the above, swapped by the tests).
    server_cert: std::path::PathBuf,
    server_key: std::path::PathBuf,
    dir: std::path::PathBuf,
}

impl Pki {
    fn new(name: &str, client_user: &'static str) -> (Pki, Leaf) {
        let dir = certs::directory(name);
        let ca = Ca::new(&dir, "ca");
        let stranger = Ca::new(&dir, "stranger-ca");
        let good = ca.issue(&dir, "good", Use::Server(&["localhost"]), false);
        let expired = ca.issue(&dir, "expired", Use::Server(&["localhost"]), true);
        let unknown = stranger.issue(&dir, "unknown", Use::Server(&["localhost"]), false);
        let client = ca.issue(&dir, "client", Use::Client(client_user), false);
        let pki = Pki {
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
            ca,
            stranger,
            good,
            expired,
            unknown,
            dir,
        };
        pki.serve(&pki.good);
        (pki, client)
    }

    /// Makes the server's files those of `leaf` (read at the next start or reload).
    fn serve(&self, leaf: &Leaf) {
        certs::replace(&self.server_cert, &leaf.cert);
        certs::replace(&self.server_key, &leaf.key);
    }

    fn verify_full(&self) -> Tls {
        Tls::new(SslMode::VerifyFull).ca_file(&self.ca.cert)
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The PostgreSQL drivers under test: the native one (the default) and sqlx's (the `postgres`
/// feature builds both).
fn postgres_drivers() -> Vec<PostgresDriver> {
    vec![PostgresDriver::Native, PostgresDriver::Sqlx]
}

/// A pool on `driver` (PostgreSQL's; the other backends ignore it) with `tls`.
async fn connect(driver: PostgresDriver, url: &str, tls: Tls) -> polyorm::Result<Db> {
    PoolOptions::new()
        .acquire_timeout(Duration::from_secs(10))
        .postgres_driver(driver)
        .tls(tls)
        .connect(url)
        .await
}

/// Whether the server says this session is encrypted.
async fn encrypted(db: &Db, kind: Kind) -> bool {
    match kind {
        Kind::Postgres => {
            let (ssl,): (bool,) =
                polyorm::raw("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                    .fetch_one(db)
                    .await
                    .expect("read pg_stat_ssl");
            ssl
        }
        Kind::MariaDb => {
            let (_, cipher): (String, String) =
                polyorm::raw("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
                    .fetch_one(db)
                    .await
                    .expect("read Ssl_cipher");
            !cipher.is_empty()
        }
    }
}

/// Connecting fails, with an error that names `cause`.
async fn refused(driver: PostgresDriver, url: &str, tls: Tls, cause: &str) {
    let err = connect(driver, url, tls.clone())
        .await
        .err()
        .unwrap_or_else(|| panic!("{driver:?}: {url} with {tls:?} connected; expected: {cause}"));
    let text = err.to_string();
    assert!(
        matches!(err, Error::Connection { .. }),
        "{driver:?}: {url} with {tls:?}: expected a connection error, got {err:?}"
    );
    assert!(
        text.contains(cause),
        "{driver:?}: {url} with {tls:?}: `{text}` does not say `{cause}`"
    );
}

/// The cases every TLS server passes, on `server` whose administrator URL for `host` is
/// `url(host)`, through `driver`; `reload` makes the server read its certificate files again.
async fn modes_and_failures(
    kind: Kind,
    driver: PostgresDriver,
    pki: &Pki,
    url: impl Fn(&str) -> String,
    reload: &str,
    admin: &Db,
) {
    let good = url("localhost");

    // verify-full with the CA, by the name in the certificate: connects, encrypted, and a row
    // written is read back.
    let db = connect(driver, &good, pki.verify_full())
        .await
        .expect("verify-full");
    assert!(encrypted(&db, kind).await, "verify-full is encrypted");
    db.execute_raw("CREATE TABLE tls_probe (id INT PRIMARY KEY, note VARCHAR(20))")
        .await
        .expect("create");
    db.execute_raw("INSERT INTO tls_probe VALUES (1, 'over tls')")
        .await
        .expect("insert");
    let (note,): (String,) = polyorm::raw("SELECT note FROM tls_probe WHERE id = 1")
        .fetch_one(&db)
        .await
        .expect("read back");
    assert_eq!(note, "over tls");
    db.execute_raw("DROP TABLE tls_probe").await.expect("drop");
    db.close().await;

    // The other modes: what each promises, as the server sees the session.
    for (mode, expect_tls) in [
        (SslMode::Disable, false),
        (SslMode::Prefer, true),
        (SslMode::Require, true),
        (SslMode::VerifyCa, true),
    ] {
        let tls = match mode {
            SslMode::VerifyCa => Tls::new(mode).ca_file(&pki.ca.cert),
            _ => Tls::new(mode),
        };
        let db = connect(driver, &url("127.0.0.1"), tls)
            .await
            .unwrap_or_else(|e| panic!("{driver:?} {mode}: {e}"));
        assert_eq!(encrypted(&db, kind).await, expect_tls, "{driver:?} {mode}");
        db.close().await;
    }

    // Wrong host name: the certificate names `localhost`, the client connects to 127.0.0.1.
    refused(
        driver,
        &url("127.0.0.1"),
        pki.verify_full(),
        "does not name the host connected to (wrong host name)",
    )
    .await;

    // Unknown CA: the client trusts another CA than the one that signed the server's.
    refused(
        driver,
        &good,
        Tls::new(SslMode::VerifyFull).ca_file(&pki.stranger.cert),
        "signed by an unknown certificate authority",
    )
    .await;
    // ... and a server certificate from a CA nobody told the client about.
    pki.serve(&pki.unknown);
    admin.execute_raw(reload).await.expect("reload TLS");
    refused(
        driver,
        &good,
        pki.verify_full(),
        "unknown certificate authority",
    )
    .await;

    // Expired: the server presents a certificate whose validity ended in 2021.
    pki.serve(&pki.expired);
    admin.execute_raw(reload).await.expect("reload TLS");
    refused(driver, &good, pki.verify_full(), "certificate has expired").await;
    refused(
        driver,
        &good,
        Tls::new(SslMode::VerifyCa).ca_file(&pki.ca.cert),
        "certificate has expired",
    )
    .await;
    // `require` does not check the certificate: it still connects, encrypted.
    let db = connect(driver, &good, Tls::new(SslMode::Require))
        .await
        .expect("require ignores the certificate");
    assert!(encrypted(&db, kind).await);
    db.close().await;

    pki.serve(&pki.good);
    admin.execute_raw(reload).await.expect("reload TLS");
    let db = connect(driver, &good, pki.verify_full())
        .await
        .expect("the renewed certificate is accepted");
    assert!(encrypted(&db, kind).await);
    db.close().await;
}

/// The TLS settings of `in_url` (its own parameters, no [`Tls`]) connect encrypted; `cert_url`
/// (a user the server admits only with a client certificate) logs in with `client` (the
/// server's `who_am_i` query answers `user`) and is refused without it.
async fn url_settings_and_client_certificate(
    kind: Kind,
    driver: PostgresDriver,
    pki: &Pki,
    client: &Leaf,
    [in_url, cert_url]: [&str; 2],
    (who_am_i, user): (&str, &str),
) {
    let db = PoolOptions::new()
        .postgres_driver(driver)
        .connect(in_url)
        .await
        .unwrap_or_else(|e| panic!("{driver:?}: TLS settings in the URL: {e}"));
    assert!(encrypted(&db, kind).await, "{driver:?}");
    db.close().await;

    let db = connect(
        driver,
        cert_url,
        pki.verify_full()
            .client_certificate(&client.cert, &client.key),
    )
    .await
    .unwrap_or_else(|e| panic!("{driver:?}: client certificate login: {e}"));
    let (current,): (String,) = polyorm::raw(who_am_i).fetch_one(&db).await.unwrap();
    assert_eq!(current, user, "{driver:?}");
    db.close().await;
    let err = connect(driver, cert_url, pki.verify_full())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Authentication { .. }),
        "{driver:?}: without a client certificate the login is refused: {err:?}"
    );
}

fn pg_settings(pki: &Pki, hba: &Path) -> Vec<String> {
    vec![
        "ssl=on".to_owned(),
        format!("ssl_cert_file={}", pki.server_cert.display()),
        format!("ssl_key_file={}", pki.server_key.display()),
        format!("ssl_ca_file={}", pki.ca.cert.display()),
        format!("hba_file={}", hba.display()),
    ]
}

#[tokio::test]
async fn postgres_tls_modes_certificate_checks_and_client_certificates() {
    let (pki, client) = Pki::new("pg", "tls_cert_user");
    // The certificate user logs in only with a client certificate; everyone else by password.
    let hba = pki.dir.join("pg_hba.conf");
    std::fs::write(
        &hba,
        "local all all trust\n\
         hostssl all tls_cert_user 127.0.0.1/32 cert\n\
         host all tls_cert_user 127.0.0.1/32 reject\n\
         host all all 127.0.0.1/32 scram-sha-256\n",
    )
    .unwrap();
    if running_as_root() {
        certs::hand_key_to(&pki.server_key, "postgres");
    }
    let settings = pg_settings(&pki, &hba);
    let settings: Vec<&str> = settings.iter().map(String::as_str).collect();
    let server = PrivateServer::start_with(Kind::Postgres, &settings).await;
    let port = server.port;
    let url = |host: &str| format!("postgres://postgres:{PASSWORD}@{host}:{port}/test");
    let admin = Db::connect(&url("127.0.0.1")).await.expect("admin");
    admin
        .execute_raw("CREATE USER tls_cert_user")
        .await
        .expect("create the certificate user");
    admin
        .execute_raw("GRANT ALL ON SCHEMA public TO tls_cert_user")
        .await
        .unwrap();

    for driver in postgres_drivers() {
        modes_and_failures(
            Kind::Postgres,
            driver,
            &pki,
            url,
            "SELECT pg_reload_conf()",
            &admin,
        )
        .await;

        // sslmode and the files in the URL itself (sqlx's own parameters) work as well.
        let in_url = format!(
            "postgres://postgres:{PASSWORD}@localhost:{port}/test?sslmode=verify-full&sslrootcert={}",
            pki.ca.cert.display()
        );
        // Client certificate: the user whose `cert` rule needs one.
        let cert_url = format!("postgres://tls_cert_user@localhost:{port}/test");
        url_settings_and_client_certificate(
            Kind::Postgres,
            driver,
            &pki,
            &client,
            [&in_url, &cert_url],
            ("SELECT current_user::text", "tls_cert_user"),
        )
        .await;
    }
    admin.close().await;
}

#[tokio::test]
async fn mariadb_tls_modes_certificate_checks_and_client_certificates() {
    let (pki, client) = Pki::new("mariadb", "tls_x509");
    let settings = [
        format!("--ssl-cert={}", pki.server_cert.display()),
        format!("--ssl-key={}", pki.server_key.display()),
        format!("--ssl-ca={}", pki.ca.cert.display()),
    ];
    let settings: Vec<&str> = settings.iter().map(String::as_str).collect();
    let server = PrivateServer::start_with(Kind::MariaDb, &settings).await;
    let port = server.port;
    let url = |host: &str| format!("mysql://root@{host}:{port}/test");
    let admin = Db::connect(&url("127.0.0.1")).await.expect("admin");
    for sql in [
        "CREATE USER tls_x509@'%' REQUIRE X509",
        "GRANT ALL ON test.* TO tls_x509@'%'",
    ] {
        admin.execute_raw(sql).await.expect(sql);
    }

    let driver = PostgresDriver::default();
    modes_and_failures(Kind::MariaDb, driver, &pki, url, "FLUSH SSL", &admin).await;

    let in_url = format!(
        "mysql://root@localhost:{port}/test?ssl-mode=VERIFY_IDENTITY&ssl-ca={}",
        pki.ca.cert.display()
    );
    let cert_url = format!("mysql://tls_x509@localhost:{port}/test");
    url_settings_and_client_certificate(
        Kind::MariaDb,
        driver,
        &pki,
        &client,
        [&in_url, &cert_url],
        ("SELECT CURRENT_USER()", "tls_x509@%"),
    )
    .await;
    admin.close().await;
}

#[tokio::test]
async fn require_against_a_server_without_tls_fails_and_says_so() {
    // A private PostgreSQL without TLS (the shared one has TLS on), and the shared MariaDB,
    // which has none (checked first, so the case cannot pass for another reason).
    let server = PrivateServer::start(Kind::Postgres).await;
    let mariadb = std::env::var("ORM_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned());
    let shared = Db::connect(&mariadb).await.expect("the shared MariaDB");
    let (_, have_ssl): (String, String) = polyorm::raw("SHOW VARIABLES LIKE 'have_ssl'")
        .fetch_one(&shared)
        .await
        .unwrap();
    assert_ne!(
        have_ssl, "YES",
        "the shared MariaDB must be without TLS here"
    );
    shared.close().await;
    let targets = postgres_drivers()
        .into_iter()
        .map(|driver| (server.url(), driver))
        .chain([(mariadb, PostgresDriver::default())]);
    for (url, driver) in targets {
        for mode in [SslMode::Require, SslMode::VerifyCa, SslMode::VerifyFull] {
            refused(
                driver,
                &url,
                Tls::new(mode),
                "the server does not offer TLS, and the TLS mode requires it",
            )
            .await;
        }
        // `prefer` falls back to plain TCP.
        let db = connect(driver, &url, Tls::new(SslMode::Prefer))
            .await
            .unwrap_or_else(|e| panic!("{driver:?}: prefer: {e}"));
        db.execute_raw("SELECT 1").await.unwrap();
        db.close().await;
    }
}

#[tokio::test]
async fn a_missing_ca_file_is_a_config_error_before_connecting() {
    for driver in postgres_drivers() {
        let err = connect(
            driver,
            "postgres://postgres@127.0.0.1:1/test",
            Tls::new(SslMode::VerifyFull).ca_file("/nonexistent/ca.pem"),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{driver:?}: {err:?}");
        assert!(
            err.to_string().contains("/nonexistent/ca.pem"),
            "{driver:?}: {err}"
        );
    }
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}
