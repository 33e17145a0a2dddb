//! Runs each suite test once per backend, each in its own database or schema.
//!
//! Backends come from `ORM_TEST_BACKENDS` (default `sqlite,postgres,mysql,mongodb`); URLs from
//! `ORM_TEST_POSTGRES_URL`, `ORM_TEST_MYSQL_URL` and `ORM_TEST_MONGO_URL` (default
//! `mongodb://127.0.0.1:27018`, the nx-27017 test server `scripts/test.sh` starts). A listed
//! backend that cannot be reached fails the test; with `CI=true` every backend must be listed.
//! PostgreSQL runs on the driver `ORM_TEST_POSTGRES_DRIVER` names, `native` or `sqlx`; unset,
//! on the pool's default, the native driver (see [`pool_options`]).
//!
//! Capability tags in [`suite!`]: `#[requires(sql)]` before a test generates it only for the
//! SQL backends; `#[needs_real_mongodb("nx-27017 lacks ...")]` generates it for MongoDB too,
//! but `#[ignore]`d unless the build sees `ORM_TEST_MONGO_REAL=1` (a real MongoDB at
//! `ORM_TEST_MONGO_URL`).

use std::sync::atomic::{AtomicU32, Ordering};

use polyorm::prelude::*;

/// A backend of the shared suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    MySql,
    #[cfg_attr(not(feature = "mongodb"), allow(dead_code))]
    MongoDb,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::MySql => "mysql",
            Backend::MongoDb => "mongodb",
        }
    }
}

/// A database private to one test; dropped by [`TestDb::teardown`].
pub struct TestDb {
    pub db: Db,
    /// The URL `db` was opened with (`sqlite::memory:` on SQLite: private to `db`).
    #[allow(dead_code)]
    pub url: String,
    admin: Option<Admin>,
}

/// What drops a test's database at teardown.
enum Admin {
    /// A SQL connection and the `DROP` statement.
    Sql(Db, String),
    /// A MongoDB client and the database to drop.
    Mongo(mongodb::Client, String),
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

/// Pool options of the suite's databases: PostgreSQL on the driver `ORM_TEST_POSTGRES_DRIVER`
/// names (`native` or `sqlx`; unset, the pool's default, the native driver when it is built),
/// MariaDB/MySQL on the one `ORM_TEST_MYSQL_DRIVER` names (likewise); the other backends
/// ignore them.
pub fn pool_options() -> PoolOptions {
    let options = match std::env::var("ORM_TEST_POSTGRES_DRIVER").as_deref() {
        Err(_) => PoolOptions::new(),
        Ok("sqlx") => PoolOptions::new().postgres_driver(polyorm::PostgresDriver::Sqlx),
        Ok("native") => PoolOptions::new().postgres_driver(polyorm::PostgresDriver::Native),
        Ok(other) => panic!("ORM_TEST_POSTGRES_DRIVER=`{other}`: use `native` or `sqlx`"),
    };
    match std::env::var("ORM_TEST_MYSQL_DRIVER").as_deref() {
        Err(_) => options,
        Ok("sqlx") => options.mysql_driver(polyorm::MySqlDriver::Sqlx),
        Ok("native") => options.mysql_driver(polyorm::MySqlDriver::Native),
        Ok(other) => panic!("ORM_TEST_MYSQL_DRIVER=`{other}`: use `native` or `sqlx`"),
    }
}

pub fn mysql_url() -> String {
    env_or("ORM_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
}

pub fn mongo_url() -> String {
    env_or("ORM_TEST_MONGO_URL", "mongodb://127.0.0.1:27018")
}

/// `url` with its database path replaced by `database` (options kept).
fn with_database(url: &str, database: &str) -> String {
    let (scheme, rest) = url
        .split_once("://")
        .expect("mongodb://host[/db][?options]");
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, format!("?{q}")),
        None => (rest, String::new()),
    };
    let hosts = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{hosts}/{database}{query}")
}

/// Whether `backend` is selected (`ORM_TEST_BACKENDS`); in CI every backend must be.
pub fn enabled(backend: Backend) -> bool {
    let list = env_or("ORM_TEST_BACKENDS", "sqlite,postgres,mysql,mongodb");
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
    let options = pool_options().max_connections(3);
    let connect = |url: String| async move {
        let db = options
            .connect(&url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
        (db, url)
    };
    Some(match backend {
        Backend::Sqlite => {
            let (db, url) = connect("sqlite::memory:".into()).await;
            TestDb {
                db,
                url,
                admin: None,
            }
        }
        Backend::Postgres => {
            let base = postgres_url();
            let admin = admin(&base, backend).await;
            let schema = unique_name(test);
            admin
                .execute_raw(&format!("CREATE SCHEMA \"{schema}\""))
                .await
                .unwrap();
            let sep = if base.contains('?') { '&' } else { '?' };
            let (db, url) =
                connect(format!("{base}{sep}options=-c%20search_path%3D{schema}")).await;
            TestDb {
                db,
                url,
                admin: Some(Admin::Sql(
                    admin,
                    format!("DROP SCHEMA \"{schema}\" CASCADE"),
                )),
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
            let (db, url) = connect(format!("{server}/{name}")).await;
            TestDb {
                db,
                url,
                admin: Some(Admin::Sql(admin, format!("DROP DATABASE `{name}`"))),
            }
        }
        Backend::MongoDb => {
            let base = mongo_url();
            let name = unique_name(test);
            let client = mongodb::Client::with_uri_str(&base)
                .await
                .unwrap_or_else(|e| panic!("mongodb at {base} is unreachable: {e}"));
            let (db, url) = connect(with_database(&base, &name)).await;
            TestDb {
                db,
                url,
                admin: Some(Admin::Mongo(client, name)),
            }
        }
    })
}

impl TestDb {
    /// Closes the test's pool and drops its schema or database.
    pub async fn teardown(self) {
        self.db.close().await;
        match self.admin {
            Some(Admin::Sql(admin, drop)) => {
                admin.execute_raw(&drop).await.unwrap();
                admin.close().await;
            }
            Some(Admin::Mongo(client, name)) => {
                client.database(&name).drop().await.unwrap();
            }
            None => {}
        }
    }
}

/// Declares suite tests once; each runs on SQLite, PostgreSQL, MySQL/MariaDB and MongoDB.
///
/// ```ignore
/// suite! {
///     async fn name(db) { ...; Ok(()) }
///     #[requires(sql)]                       // not generated for MongoDB
///     async fn raw_sql(db) { ...; Ok(()) }
///     #[needs_real_mongodb("nx-27017 lacks transaction isolation")]
///     async fn isolation(db) { ...; Ok(()) } // ignored on the test server
/// }
/// ```
#[macro_export]
macro_rules! suite {
    ($($(#[$tag:ident($($arg:tt)*)])? async fn $name:ident($db:ident) $body:block)*) => {
        $(
            #[allow(clippy::unused_async)]
            async fn $name($db: &polyorm::Db) -> polyorm::Result<()> $body
        )*
        $crate::suite!(@backend sqlite, Sqlite, $([$name $($tag($($arg)*))?])*);
        $crate::suite!(@backend postgres, Postgres, $([$name $($tag($($arg)*))?])*);
        $crate::suite!(@backend mysql, MySql, $([$name $($tag($($arg)*))?])*);
        #[cfg(feature = "mongodb")]
        $crate::suite!(@backend mongodb, MongoDb, $([$name $($tag($($arg)*))?])*);
    };
    (@backend $module:ident, $variant:ident, $([$name:ident $($tag:tt)*])*) => {
        mod $module {
            $( $crate::suite!(@test $variant, $name, $($tag)*); )*
        }
    };
    // SQL-only: not generated for MongoDB (listed in the README).
    (@test MongoDb, $name:ident, requires(sql)) => {};
    // Needs what the nx-27017 test server lacks: ignored there, run with ORM_TEST_MONGO_REAL=1.
    (@test MongoDb, $name:ident, needs_real_mongodb($reason:literal)) => {
        $crate::suite!(@run MongoDb, $name, cfg_attr(not(orm_mongo_real), ignore = $reason));
    };
    (@test $variant:ident, $name:ident, $($tag:tt)*) => {
        $crate::suite!(@run $variant, $name,);
    };
    (@run $variant:ident, $name:ident, $($attr:meta)?) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
        $(#[$attr])?
        async fn $name() {
            let test = concat!(module_path!(), "::", stringify!($name));
            let Some(t) = $crate::harness::setup($crate::harness::Backend::$variant, test).await
            else { return };
            if let Err(e) = super::$name(&t.db).await {
                panic!("{test} failed: {e}\n{e:?}");
            }
            t.teardown().await;
        }
    };
}

/// A layer that counts the operations reaching it: stacked below another layer, it proves
/// what that layer let through to the database (streams count once).
#[derive(Clone, Default)]
#[allow(dead_code)] // the harness is shared by test binaries that do not all use it
pub struct Reached(std::sync::Arc<std::sync::atomic::AtomicU64>);

#[allow(dead_code)] // the harness is shared by test binaries that do not all use it
impl Reached {
    /// The operations counted since the last call.
    pub fn take(&self) -> u64 {
        self.0.swap(0, std::sync::atomic::Ordering::SeqCst)
    }

    fn tick(&self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl polyorm::exec::Layer for Reached {
    async fn call<E: polyorm::Executor, T: Send + 'static>(
        &self,
        inner: &E,
        op: polyorm::exec::Op<T>,
    ) -> polyorm::Result<polyorm::exec::Outcome<T>> {
        self.tick();
        op.run(inner).await
    }

    fn fetch_stream<'a, E: polyorm::Executor, T: Send + 'static>(
        &'a self,
        inner: &'a E,
        query: polyorm::query::ir::SelectQuery,
        decode: polyorm::exec::Decoder<T>,
    ) -> polyorm::RowStream<'a, T> {
        self.tick();
        inner.fetch_stream(query, decode)
    }
}
