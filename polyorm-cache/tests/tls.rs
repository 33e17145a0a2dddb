//! TLS to Redis against private `redis-server --tls-port` processes (Debian's redis-server is
//! built with TLS) serving certificates made here (rcgen): a good certificate connects with
//! verify-full and values written are read back; a wrong host name, an expired certificate
//! and an unknown CA fail naming the cause; `require` against a server without TLS fails; a
//! server that demands client certificates admits one signed by its CA and refuses a client
//! without.

#[path = "../../tests/support/certs.rs"]
mod certs;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use certs::{Ca, Leaf, Use};
use polyorm::cache::Cache;
use polyorm::tls::{SslMode, Tls};

/// A `redis-server` with TLS only, killed on drop.
struct TlsRedis {
    child: Child,
    port: u16,
}

impl TlsRedis {
    fn start(dir: &Path, leaf: &Leaf, ca: &Path, auth_clients: &str) -> TlsRedis {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let child = Command::new("redis-server")
            .args(["--port", "0", "--tls-port", &port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--tls-cert-file")
            .arg(&leaf.cert)
            .arg("--tls-key-file")
            .arg(&leaf.key)
            .arg("--tls-ca-cert-file")
            .arg(ca)
            .args(["--tls-auth-clients", auth_clients])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server --tls-port {port} did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        TlsRedis { child, port }
    }

    fn url(&self, host: &str) -> String {
        format!("rediss://{host}:{}", self.port)
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cache(url: &str, tls: Tls) -> Cache {
    Cache::builder()
        .redis_url(url)
        .redis_tls(tls)
        .redis_timeout(Duration::from_secs(3))
        .prefix(format!("orm-tls-test:{}", std::process::id()))
        .build()
        .expect("build the cache")
}

/// A value written through the cache's key-value API is read back.
async fn round_trip(url: &str, tls: Tls) -> Result<(), String> {
    let kv_cache = cache(url, tls);
    let kv = kv_cache.kv();
    kv.set("greeting", "over tls", None)
        .await
        .map_err(|e| format!("{e} {e:?}"))?;
    let back: Option<String> = kv.get("greeting").await.map_err(|e| e.to_string())?;
    assert_eq!(back.as_deref(), Some("over tls"));
    Ok(())
}

async fn refused(url: &str, tls: Tls, causes: &[&str]) {
    let err = round_trip(url, tls.clone())
        .await
        .expect_err(&format!("{url} with {tls:?} should be refused"));
    assert!(
        causes.iter().any(|cause| err.contains(cause)),
        "{url} with {tls:?}: `{err}` names none of {causes:?}"
    );
}

#[tokio::test]
async fn redis_tls_checks_certificates_and_client_certificates() {
    let dir = certs::directory("redis");
    let ca = Ca::new(&dir, "ca");
    let stranger = Ca::new(&dir, "stranger-ca");
    let good = ca.issue(&dir, "good", Use::Server(&["localhost"]), false);
    let expired = ca.issue(&dir, "expired", Use::Server(&["localhost"]), true);
    let unknown = stranger.issue(&dir, "unknown", Use::Server(&["localhost"]), false);
    let client = ca.issue(&dir, "client", Use::Client("cache"), false);
    let verify_full = || Tls::new(SslMode::VerifyFull).ca_file(&ca.cert);

    let server = TlsRedis::start(&dir, &good, &ca.cert, "optional");
    round_trip(&server.url("localhost"), verify_full())
        .await
        .expect("verify-full with the CA");
    // A `redis://` URL is upgraded to TLS by the mode.
    round_trip(&format!("redis://localhost:{}", server.port), verify_full())
        .await
        .expect("redis:// upgraded");
    round_trip(&server.url("127.0.0.1"), Tls::new(SslMode::Require))
        .await
        .expect("require checks nothing");
    round_trip(
        &server.url("127.0.0.1"),
        Tls::new(SslMode::VerifyCa).ca_file(&ca.cert),
    )
    .await
    .expect("verify-ca skips the host name");
    refused(
        &server.url("127.0.0.1"),
        verify_full(),
        &["NotValidForName", "not valid for name"],
    )
    .await;
    refused(
        &server.url("localhost"),
        Tls::new(SslMode::VerifyFull).ca_file(&stranger.cert),
        &["UnknownIssuer"],
    )
    .await;

    let old = TlsRedis::start(&dir, &expired, &ca.cert, "optional");
    refused(
        &old.url("localhost"),
        verify_full(),
        &["Expired", "expired"],
    )
    .await;
    let strange = TlsRedis::start(&dir, &unknown, &ca.cert, "optional");
    refused(&strange.url("localhost"), verify_full(), &["UnknownIssuer"]).await;

    // `require` against the shared Redis, which has no TLS: no connection.
    let plain =
        std::env::var("ORM_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let err = round_trip(&plain, Tls::new(SslMode::Require))
        .await
        .unwrap_err();
    assert!(!err.is_empty(), "require against plain Redis fails");

    // Client certificates: the server demands one signed by its CA.
    let strict = TlsRedis::start(&dir, &good, &ca.cert, "yes");
    round_trip(
        &strict.url("localhost"),
        verify_full().client_certificate(&client.cert, &client.key),
    )
    .await
    .expect("client certificate accepted");
    let err = round_trip(&strict.url("localhost"), verify_full())
        .await
        .unwrap_err();
    assert!(!err.is_empty());

    // Settings that cannot work are refused when the cache is built.
    let built = Cache::builder()
        .redis_url(server.url("localhost"))
        .redis_tls(Tls::new(SslMode::VerifyFull).ca_file(dir.join("missing.pem")))
        .build();
    let Err(err) = built else {
        panic!("a missing CA file is refused");
    };
    let err = err.to_string();
    assert!(err.contains("missing.pem"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
