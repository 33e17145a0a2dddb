//! Runs each suite test once per backend, each in its own database or schema.
//!
//! Backends come from `ORM_TEST_BACKENDS` (default `sqlite,postgres,mysql`); URLs from
//! `ORM_TEST_POSTGRES_URL` and `ORM_TEST_MYSQL_URL`. A listed backend that cannot be reached
//! fails the test; with `CI=true` every backend must be listed.

use std::sync::atomic::{AtomicU32, Ordering};

use orm::prelude::*;

/// A backend of the shared suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    MySql,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::MySql => "mysql",
        }
    }
}

/// A database private to one test; dropped by [`TestDb::teardown`].
pub struct TestDb {
    pub db: Db,
    admin: Option<(Db, String)>,
}

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_owned())
}

pub fn postgres_url() -> String {
    env_or(
        "ORM_TEST_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/test",
    )
}

pub fn mysql_url() -> String {
    env_or("ORM_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
}

fn enabled(backend: Backend) -> bool {
    let list = env_or("ORM_TEST_BACKENDS", "sqlite,postgres,mysql");
    let on = list.split(',').any(|b| b.trim() == backend.name());
    if !on && std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "CI must run every backend, but ORM_TEST_BACKENDS=`{list}` leaves out {}",
            backend.name()
        );
    }
    on
}

/// A short unique name for this test's schema or database.
fn unique_name(test: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let mut hash: u32 = 2166136261;
    for b in test.bytes() {
        hash = (hash ^ u32::from(b)).wrapping_mul(16777619);
    }
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("orm_t{hash:08x}_{}_{n}", std::process::id())
}

async fn admin(url: &str, backend: Backend) -> Db {
    PoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("{} at {url} is unreachable: {e}", backend.name()))
}

/// Connects to a fresh, empty database on `backend`, or `None` if the backend is not selected.
pub async fn setup(backend: Backend, test: &str) -> Option<TestDb> {
    if !enabled(backend) {
        eprintln!(
            "SKIPPED {test} on {}: not in ORM_TEST_BACKENDS",
            backend.name()
        );
        return None;
    }
    let options = PoolOptions::new().max_connections(3);
    let connect = |url: String| async move {
        options
            .connect(&url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"))
    };
    Some(match backend {
        Backend::Sqlite => TestDb {
            db: connect("sqlite::memory:".into()).await,
            admin: None,
        },
        Backend::Postgres => {
            let base = postgres_url();
            let admin = admin(&base, backend).await;
            let schema = unique_name(test);
            admin
                .execute_raw(&format!("CREATE SCHEMA \"{schema}\""))
                .await
                .unwrap();
            let sep = if base.contains('?') { '&' } else { '?' };
            let db = connect(format!("{base}{sep}options=-c%20search_path%3D{schema}")).await;
            TestDb {
                db,
                admin: Some((admin, format!("DROP SCHEMA \"{schema}\" CASCADE"))),
            }
        }
        Backend::MySql => {
            let base = mysql_url();
            let admin = admin(&base, backend).await;
            let name = unique_name(test);
            admin
                .execute_raw(&format!("CREATE DATABASE `{name}`"))
                .await
                .unwrap();
            let (server, _) = base
                .rsplit_once('/')
                .expect("MySQL URL ends with /database");
            let db = connect(format!("{server}/{name}")).await;
            TestDb {
                db,
                admin: Some((admin, format!("DROP DATABASE `{name}`"))),
            }
        }
    })
}

impl TestDb {
    /// Closes the test's pool and drops its schema or database.
    pub async fn teardown(self) {
        self.db.close().await;
        if let Some((admin, drop)) = self.admin {
            admin.execute_raw(&drop).await.unwrap();
            admin.close().await;
        }
    }
}

/// Declares suite tests once; each runs on SQLite, PostgreSQL and MySQL/MariaDB.
///
/// ```ignore
/// suite! {
///     async fn name(db) { ...; Ok(()) }
/// }
/// ```
#[macro_export]
macro_rules! suite {
    ($(async fn $name:ident($db:ident) $body:block)*) => {
        $(
            #[allow(clippy::unused_async)]
            async fn $name($db: &orm::Db) -> orm::Result<()> $body
        )*
        $crate::suite!(@backend sqlite, Sqlite, $($name)*);
        $crate::suite!(@backend postgres, Postgres, $($name)*);
        $crate::suite!(@backend mysql, MySql, $($name)*);
    };
    (@backend $module:ident, $variant:ident, $($name:ident)*) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
                async fn $name() {
                    let test = concat!(module_path!(), "::", stringify!($name));
                    let Some(t) = $crate::harness::setup($crate::harness::Backend::$variant, test).await
                    else { return };
                    if let Err(e) = super::$name(&t.db).await {
                        panic!("{test} failed: {e}\n{e:?}");
                    }
                    t.teardown().await;
                }
            )*
        }
    };
}
