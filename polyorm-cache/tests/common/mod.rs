//! Shared by the cache tests: databases, a statement-counting executor, Redis servers.

#![allow(dead_code)]

pub mod cluster;
pub mod everything;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use polyorm::Executor;
use polyorm::exec::Decoder;
use polyorm::query::ir::{InsertQuery, SelectQuery, Statement};
use polyorm::{Backend, Compiled, Db, ExecResult, PoolOptions, Result, RowStream};

/// The shared Redis every test uses (each with its own key prefix).
pub const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// A key prefix no other test (or run) uses.
pub fn prefix(test: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    format!(
        "polyorm-cache-test:{test}:{}:{nanos}:{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The URL of a fresh SQLite database in a file of its own (in the temp directory).
///
/// A file rather than `sqlite::memory:`: a pool replaces its connections after DDL
/// (polyorm-core's schema clock), and a replaced in-memory connection starts empty.
pub fn sqlite_url() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let file = std::env::temp_dir().join(format!(
        "polyorm-cache-test-{}-{}.db",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
    format!("sqlite://{}", file.display())
}

/// A fresh SQLite database, see [`sqlite_url`].
pub async fn sqlite() -> Db {
    let url = sqlite_url();
    Db::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("SQLite at {url}: {e}"))
}

pub fn postgres_url() -> String {
    std::env::var("ORM_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A fresh PostgreSQL schema for one test, and a URL whose connections use it; `drop_schema`
/// removes it.
pub async fn postgres_schema(test: &str) -> (String, String) {
    let base = postgres_url();
    let admin = PoolOptions::new()
        .max_connections(1)
        .connect(&base)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {base} is unreachable: {e}"));
    let schema = format!("orm_cache_{test}_{}", std::process::id());
    admin
        .execute_raw(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
        .await
        .unwrap();
    admin
        .execute_raw(&format!("CREATE SCHEMA \"{schema}\""))
        .await
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    (
        format!("{base}{sep}options=-c%20search_path%3D{schema}"),
        schema,
    )
}

pub async fn drop_schema(schema: &str) {
    let admin = Db::connect(&postgres_url()).await.unwrap();
    admin
        .execute_raw(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
        .await
        .unwrap();
}

/// An executor that counts the selects it runs and makes each take `delay`, so that
/// concurrent readers overlap.
#[derive(Clone, Debug)]
pub struct Counting {
    pub db: Db,
    pub reads: Arc<AtomicU64>,
    pub delay: Duration,
}

impl Counting {
    pub fn new(db: Db, delay: Duration) -> Self {
        Counting {
            db,
            reads: Arc::default(),
            delay,
        }
    }

    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::SeqCst)
    }

    async fn read(&self) {
        self.reads.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
    }
}

impl Executor for Counting {
    fn backend(&self) -> Backend {
        self.db.backend()
    }

    async fn fetch_all<T: Send + 'static>(&self, q: SelectQuery, d: Decoder<T>) -> Result<Vec<T>> {
        self.read().await;
        self.db.fetch_all(q, d).await
    }

    async fn fetch_optional<T: Send + 'static>(
        &self,
        q: SelectQuery,
        d: Decoder<T>,
    ) -> Result<Option<T>> {
        self.read().await;
        self.db.fetch_optional(q, d).await
    }

    /// Streams are not counted: the cache never serves them (they read the database).
    fn fetch_stream<T: Send + 'static>(&self, q: SelectQuery, d: Decoder<T>) -> RowStream<'_, T> {
        self.db.fetch_stream(q, d)
    }

    async fn count(&self, q: SelectQuery) -> Result<u64> {
        self.read().await;
        self.db.count(q).await
    }

    async fn insert_returning<T: Send + 'static>(
        &self,
        q: InsertQuery,
        d: Decoder<T>,
    ) -> Result<T> {
        self.db.insert_returning(q, d).await
    }

    async fn execute(&self, s: Statement) -> Result<ExecResult> {
        self.db.execute(s).await
    }

    async fn execute_raw(&self, sql: &str) -> Result<ExecResult> {
        self.db.execute_raw(sql).await
    }

    async fn fetch_compiled<T: Send + 'static>(
        &self,
        s: Compiled,
        d: Decoder<T>,
    ) -> Result<Vec<T>> {
        self.read().await;
        self.db.fetch_compiled(s, d).await
    }

    async fn execute_compiled(&self, s: Compiled) -> Result<ExecResult> {
        self.db.execute_compiled(s).await
    }
}

/// A server of the test's own (`redis-server` or `memcached`) on a free port, killed on
/// drop; tests kill and restart it to inject outages.
pub struct Server {
    pub port: u16,
    kind: Kind,
    child: Option<std::process::Child>,
}

#[derive(Clone, Copy)]
enum Kind {
    Redis,
    Memcached,
}

/// A free TCP port (the OS's choice).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("bound").port()
}

impl Server {
    /// Starts a `redis-server` (no persistence) and waits until it answers.
    pub async fn redis(port: Option<u16>) -> Server {
        Server::start(Kind::Redis, port.unwrap_or_else(free_port)).await
    }

    /// Starts a `memcached` (installed by `scripts/cache-servers.sh install`) and waits until
    /// it answers.
    pub async fn memcached(port: Option<u16>) -> Server {
        Server::start(Kind::Memcached, port.unwrap_or_else(free_port)).await
    }

    async fn start(kind: Kind, port: u16) -> Server {
        let mut server = Server {
            port,
            kind,
            child: None,
        };
        server.restart().await;
        server
    }

    /// Starts the server again on its port (after [`kill`](Self::kill)).
    pub async fn restart(&mut self) {
        let port = self.port.to_string();
        let (program, args): (&str, Vec<&str>) = match self.kind {
            Kind::Redis => (
                "/usr/bin/redis-server",
                vec![
                    "--port",
                    &port,
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--bind",
                    "127.0.0.1",
                ],
            ),
            // `-u root` only matters when run as root, which memcached otherwise refuses.
            Kind::Memcached => (
                "/usr/bin/memcached",
                vec![
                    "-p",
                    &port,
                    "-l",
                    "127.0.0.1",
                    "-U",
                    "0",
                    "-m",
                    "64",
                    "-u",
                    "root",
                ],
            ),
        };
        let child = std::process::Command::new(program)
            .args(args)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{program} does not start ({e}): run `bash scripts/cache-servers.sh install`"
                )
            });
        self.child = Some(child);
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{program} on port {} did not start listening", self.port);
    }

    /// `redis://127.0.0.1:port` for Redis, `127.0.0.1:port` for Memcached.
    pub fn url(&self) -> String {
        match self.kind {
            Kind::Redis => format!("redis://127.0.0.1:{}", self.port),
            Kind::Memcached => format!("127.0.0.1:{}", self.port),
        }
    }

    /// Kills the server and waits until it is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill the test's server");
            child.wait().expect("reap the test's server");
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}
