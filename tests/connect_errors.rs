//! Connection-level failures map to clear, typed errors.

use std::time::Duration;

use polyorm::prelude::*;

#[tokio::test]
async fn unreachable_server_is_a_connection_error() {
    let options = PoolOptions::new().acquire_timeout(Duration::from_secs(3));
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    for url in [
        "postgres://postgres@127.0.0.1:1/test",
        "mysql://root@127.0.0.1:1/test",
    ] {
        let err = options.clone().connect(url).await.unwrap_err();
        assert!(
            matches!(err, Error::Connection { .. }),
            "{url}: expected a connection error, got {err:?}"
        );
        assert!(
            err.to_string()
                .contains("connection refused by 127.0.0.1:1 (nothing listens there)"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn unsupported_url_scheme_is_a_config_error() {
    let err = Db::connect("oracle://scott@localhost/orcl")
        .await
        .unwrap_err();
    match err {
        Error::Config(message) => assert!(message.contains("`oracle:`"), "{message}"),
        other => panic!("expected Config, got {other:?}"),
    }
}

#[tokio::test]
async fn missing_sqlite_file_directory_is_reported() {
    let err = Db::connect("sqlite:///nonexistent-dir-for-orm-tests/x.db")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Connection { .. } | Error::Database { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn pool_exhaustion_is_a_timeout() {
    let backends = std::env::var("ORM_TEST_BACKENDS").unwrap_or_else(|_| "postgres".to_owned());
    if !backends.split(',').any(|b| b.trim() == "postgres") {
        eprintln!("SKIPPED pool_exhaustion_is_a_timeout: postgres not in ORM_TEST_BACKENDS");
        return;
    }
    let url = std::env::var("ORM_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let db = PoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_millis(200))
        .connect(&url)
        .await
        .expect("PostgreSQL must be reachable for this test");
    let holder = db.clone();
    let busy = tokio::spawn(async move { holder.execute_raw("SELECT pg_sleep(2)").await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let err = db.execute_raw("SELECT 1").await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(err.to_string().contains("max_connections"), "{err}");
    busy.await.unwrap().unwrap();
}

#[tokio::test]
async fn max_lifetime_replaces_connections() {
    let backends = std::env::var("ORM_TEST_BACKENDS").unwrap_or_else(|_| "postgres".to_owned());
    if !backends.split(',').any(|b| b.trim() == "postgres") {
        eprintln!("SKIPPED max_lifetime_replaces_connections: postgres not in ORM_TEST_BACKENDS");
        return;
    }
    let url = std::env::var("ORM_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let db = PoolOptions::new()
        .max_connections(1)
        .max_lifetime(Duration::from_millis(200))
        .idle_timeout(None)
        .connect(&url)
        .await
        .expect("PostgreSQL must be reachable for this test");
    let pid = || async {
        let (pid,): (i32,) = polyorm::raw("SELECT pg_backend_pid()")
            .fetch_optional(&db)
            .await
            .unwrap()
            .unwrap();
        pid
    };
    let first = pid().await;
    assert_eq!(pid().await, first, "the same connection while it is young");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_ne!(pid().await, first, "an expired connection is replaced");
}
