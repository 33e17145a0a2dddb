//! The pool of PostgreSQL and MariaDB connections talks to the server only for statements:
//! a query through `Db` sends the packets a held connection sends (counted by a TCP proxy
//! between the pool and a private server), and a connection the server ended while it was
//! idle is replaced without a read seeing it, while a write that may have reached the server
//! reports the lost connection.

#[path = "support/servers.rs"]
mod servers;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use polyorm::prelude::*;
use servers::{Kind, PrivateServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A TCP proxy to `127.0.0.1:upstream` counting the reads of client→server bytes: one per
/// packet the client sent (the client writes a statement in one go and waits for its answer).
struct CountingProxy {
    port: u16,
    client_writes: Arc<AtomicU64>,
}

impl CountingProxy {
    async fn start(upstream: u16) -> CountingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let client_writes = Arc::new(AtomicU64::new(0));
        let counter = client_writes.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = TcpStream::connect(("127.0.0.1", upstream)).await.unwrap();
                client.set_nodelay(true).unwrap();
                server.set_nodelay(true).unwrap();
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                let counter = counter.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0; 64 * 1024];
                    while let Ok(n @ 1..) = client_read.read(&mut buf).await {
                        counter.fetch_add(1, Ordering::SeqCst);
                        if server_write.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                });
            }
        });
        CountingProxy {
            port,
            client_writes,
        }
    }

    fn writes(&self) -> u64 {
        self.client_writes.load(Ordering::SeqCst)
    }
}

/// A read of one row by a bound key.
fn lookup(kind: Kind) -> &'static str {
    match kind {
        Kind::Postgres => "SELECT CAST(? AS BIGINT)",
        Kind::MariaDb => "SELECT CAST(? AS SIGNED)",
    }
}

/// Client→server packets of `n` lookups on `executor`, after one to prepare the statement.
async fn packets_of(proxy: &CountingProxy, kind: Kind, executor: &impl Executor, n: i64) -> u64 {
    let warm: Vec<(i64,)> = polyorm::raw(lookup(kind))
        .bind(0_i64)
        .fetch_all(executor)
        .await
        .unwrap();
    assert_eq!(warm, vec![(0,)]);
    let before = proxy.writes();
    for i in 1..=n {
        let row: Vec<(i64,)> = polyorm::raw(lookup(kind))
            .bind(i)
            .fetch_all(executor)
            .await
            .unwrap();
        assert_eq!(row, vec![(i,)], "{kind:?}");
    }
    proxy.writes() - before
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_through_db_sends_the_packets_of_a_held_connection() {
    for kind in Kind::ALL {
        let server = PrivateServer::start(kind).await;
        let proxy = CountingProxy::start(server.port).await;
        let url = server.url().replacen(
            &format!(":{}/", server.port),
            &format!(":{}/", proxy.port),
            1,
        );
        assert_ne!(
            url,
            server.url(),
            "{kind:?}: the URL goes through the proxy"
        );
        let db = PoolOptions::new()
            .max_connections(2)
            .connect(&url)
            .await
            .unwrap();
        // Through the pool, with connections that already ran queries.
        let through_db = packets_of(&proxy, kind, &db, 50).await;
        let held = db.acquire().await.unwrap();
        let through_held = packets_of(&proxy, kind, &held, 50).await;
        drop(held);
        assert_eq!(
            through_held, 50,
            "{kind:?}: one packet per query on a held connection"
        );
        assert_eq!(
            through_db, through_held,
            "{kind:?}: no packet on acquire or release"
        );
        // After more than the alive-bypass window idle, one ping validates the connection.
        tokio::time::sleep(Duration::from_millis(700)).await;
        let before = proxy.writes();
        let row: Vec<(i64,)> = polyorm::raw(lookup(kind))
            .bind(7_i64)
            .fetch_all(&db)
            .await
            .unwrap();
        assert_eq!(row, vec![(7,)]);
        assert_eq!(
            proxy.writes() - before,
            2,
            "{kind:?}: a ping, then the query"
        );
    }
}

/// The session id of the connection a held `Connection` has.
async fn session_id(kind: Kind, conn: &impl Executor) -> i64 {
    let sql = match kind {
        Kind::Postgres => "SELECT CAST(pg_backend_pid() AS BIGINT)",
        Kind::MariaDb => "SELECT CAST(CONNECTION_ID() AS SIGNED)",
    };
    let row: Option<(i64,)> = polyorm::raw(sql).fetch_optional(conn).await.unwrap();
    row.unwrap().0
}

/// Ends session `id` from another connection, as an administrator would, and waits until the
/// server has ended it.
async fn kill_session(kind: Kind, admin: &Db, id: i64) {
    let sql = match kind {
        Kind::Postgres => "SELECT pg_terminate_backend(CAST(? AS INT))",
        Kind::MariaDb => "KILL ?",
    };
    match kind {
        Kind::Postgres => {
            let _: Vec<(bool,)> = polyorm::raw(sql).bind(id).fetch_all(admin).await.unwrap();
        }
        Kind::MariaDb => {
            polyorm::raw(sql).bind(id).execute(admin).await.unwrap();
        }
    }
    let alive = match kind {
        Kind::Postgres => {
            "SELECT CAST(COUNT(*) AS BIGINT) FROM pg_stat_activity WHERE pid = CAST(? AS INT)"
        }
        Kind::MariaDb => {
            "SELECT CAST(COUNT(*) AS SIGNED) FROM information_schema.processlist WHERE id = ?"
        }
    };
    for _ in 0..200 {
        let n: Option<(i64,)> = polyorm::raw(alive)
            .bind(id)
            .fetch_optional(admin)
            .await
            .unwrap();
        if n == Some((0,)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("{kind:?}: session {id} still there");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_ended_while_idle_is_replaced_for_a_read_and_reported_for_a_write() {
    for kind in Kind::ALL {
        let server = PrivateServer::start(kind).await;
        let admin = Db::connect(&server.url()).await.unwrap();
        // One connection: every statement below runs on it or on its replacement.
        let db = PoolOptions::new()
            .max_connections(1)
            .connect(&server.url())
            .await
            .unwrap();
        db.execute_raw("CREATE TABLE pool_notes (id INT PRIMARY KEY)")
            .await
            .unwrap();
        polyorm::raw("INSERT INTO pool_notes (id) VALUES (1)")
            .execute(&db)
            .await
            .unwrap();

        // A read right after the kill (inside the alive-bypass window, no ping): run again on
        // a fresh connection, the caller sees its rows.
        let id = session_id(kind, &db).await;
        kill_session(kind, &admin, id).await;
        assert_eq!(
            db_count(kind, &db).await,
            1,
            "{kind:?}: the read sees its row"
        );
        assert_ne!(session_id(kind, &db).await, id, "{kind:?}: a new session");

        // A write right after the kill: it may have reached the server, so it is not run
        // again: the typed error, and the next statement works on a fresh connection.
        let id = session_id(kind, &db).await;
        kill_session(kind, &admin, id).await;
        let err = polyorm::raw("INSERT INTO pool_notes (id) VALUES (2)")
            .execute(&db)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::ConnectionLost { .. }),
            "{kind:?}: {err:?}"
        );
        assert_eq!(
            db_count(kind, &db).await,
            1,
            "{kind:?}: the write did not run"
        );

        // Killed and left idle past the window: the ping finds it, the write runs once.
        let id = session_id(kind, &db).await;
        kill_session(kind, &admin, id).await;
        tokio::time::sleep(Duration::from_millis(700)).await;
        polyorm::raw("INSERT INTO pool_notes (id) VALUES (3)")
            .execute(&db)
            .await
            .unwrap();
        assert_eq!(db_count(kind, &db).await, 2, "{kind:?}");
        let health = db.health().await.unwrap();
        assert_eq!(
            (health.connections, health.max_connections),
            (1, 1),
            "{kind:?}"
        );
    }
}

async fn db_count(kind: Kind, db: &Db) -> i64 {
    let sql = match kind {
        Kind::Postgres => "SELECT CAST(COUNT(*) AS BIGINT) FROM pool_notes",
        Kind::MariaDb => "SELECT CAST(COUNT(*) AS SIGNED) FROM pool_notes",
    };
    let row: Option<(i64,)> = polyorm::raw(sql).fetch_optional(db).await.unwrap();
    row.unwrap().0
}

/// Inserts `rows` rows into `pool_batch` in one statement, ids from `first`, each with a
/// 60-byte note (about 80 bytes a row once bound).
async fn insert_batch(executor: &impl Executor, first: i64, rows: i64) {
    let rows_sql = vec!["(?, ?)"; usize::try_from(rows).unwrap()].join(", ");
    let mut insert = polyorm::raw(format!(
        "INSERT INTO pool_batch (id, note) VALUES {rows_sql}"
    ));
    for id in first..first + rows {
        insert = insert.bind(id).bind(format!("{id:060}"));
    }
    let done = insert.execute(executor).await.unwrap();
    assert_eq!(done.rows_affected, u64::try_from(rows).unwrap());
}

/// MariaDB grows a session's network buffer to the largest packet it received and keeps it so;
/// such a session sends a large result only once it is complete, instead of 16 KiB at a time,
/// and a client decoding rows as they arrive waits for all of them (a 10,000-row read through
/// `Db` after seeding took 9.4 ms against 5.0 ms). So a connection that sent a statement over
/// 64 KiB is closed when it comes back to the pool; it stays what it is while held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mariadb_connection_that_sent_a_large_statement_is_not_lent_again() {
    let kind = Kind::MariaDb;
    let server = PrivateServer::start(kind).await;
    let db = PoolOptions::new()
        .max_connections(1)
        .connect(&server.url())
        .await
        .unwrap();
    db.execute_raw("CREATE TABLE pool_batch (id INT PRIMARY KEY, note VARCHAR(100) NOT NULL)")
        .await
        .unwrap();

    let id = session_id(kind, &db).await;
    insert_batch(&db, 0, 100).await;
    assert_eq!(session_id(kind, &db).await, id, "a small batch keeps it");
    insert_batch(&db, 100, 2_000).await;
    let replaced = session_id(kind, &db).await;
    assert_ne!(replaced, id, "a 2,000-row batch (160 KiB) replaces it");

    let held = db.acquire().await.unwrap();
    assert_eq!(session_id(kind, &held).await, replaced);
    insert_batch(&held, 2_100, 2_000).await;
    assert_eq!(
        session_id(kind, &held).await,
        replaced,
        "a held connection is kept while held"
    );
    drop(held);
    assert_ne!(
        session_id(kind, &db).await,
        replaced,
        "and replaced once given back"
    );
    assert_eq!(db.health().await.unwrap().connections, 1);
}
