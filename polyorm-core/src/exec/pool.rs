//! [`Db`]: a connection pool on one of the backends (SQLite on its own driver and pool,
//! PostgreSQL and MySQL through sqlx, MongoDB through its driver), chosen by the URL scheme.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

#[cfg(any(feature = "postgres", feature = "mysql"))]
use super::conn_pool::Limits;
#[cfg(any(feature = "postgres", feature = "mysql"))]
use super::connect::Connector;
use super::connect::Login;
use super::layer::Finish;
use super::prepared::{SchemaClock, changes_schema};
#[cfg(any(feature = "postgres", feature = "mysql"))]
use super::remote_pool::{DriverConnect, PooledTx, RemotePool, SqlxConnect};
use super::server::ServerInfo;
use super::sql_driver::{PooledConn, SqlConn, Wait};
use super::target::{Target, executor_for_target};
use super::transaction::{RetryPolicy, Transaction, TxConn, TxOptions};
use super::{Backend, Decoder, ExecResult, Executor};
use crate::credentials::{CredentialProvider, Credentials};
use crate::error::{Error, Result};
use crate::query::ir::{InsertQuery, OnConflict};
use crate::sql::{Dialect, Shared};
use crate::tls::Tls;

/// A pool of connections to one database; cheap to clone and share between tasks.
///
/// ```no_run
/// # async fn run() -> polyorm_core::Result<()> {
/// let db = polyorm_core::Db::connect("sqlite::memory:").await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Db {
    pub(super) pool: Pool,
    /// When DDL last ran through this `Db` (see [`super::prepared`]); consulted by PostgreSQL
    /// pools and SQLite file pools (MariaDB prepares statements again itself).
    pub(super) schema_clock: Arc<SchemaClock>,
    /// Where the connect URL points (no credentials).
    server: Arc<ServerInfo>,
    /// Whether acquiring a connection is reported ([`Db::observe_pool`]).
    #[cfg_attr(not(any(feature = "tracing", feature = "metrics")), allow(dead_code))]
    observe_pool: bool,
}

#[derive(Clone, Debug)]
pub(super) enum Pool {
    #[cfg(feature = "sqlite")]
    Sqlite(super::sqlite::SqlitePool),
    #[cfg(feature = "postgres")]
    Postgres(RemotePool<sqlx::Postgres>),
    #[cfg(feature = "postgres-native")]
    PostgresNative(super::conn_pool::ConnPool<super::postgres_native::NativeConnect>),
    #[cfg(feature = "mysql")]
    MySql(RemotePool<sqlx::MySql>),
    #[cfg(feature = "mysql-native")]
    MySqlNative(super::conn_pool::ConnPool<super::mysql_native::NativeConnect>),
    #[cfg(feature = "mongodb")]
    Mongo(super::mongo::MongoPool),
    #[cfg(feature = "dynamodb")]
    Dynamo(super::dynamo::DynamoPool),
    #[cfg(feature = "mock")]
    Mock(super::mock::MockDatabase),
    /// Keeps the enum inhabited-checkable when no backend feature is enabled.
    #[allow(dead_code)]
    None(std::convert::Infallible),
}

/// Pool settings for [`Db`]; `PoolOptions::new().max_connections(8).connect(url)`.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    max_connections: u32,
    min_connections: u32,
    acquire_timeout: Duration,
    idle_timeout: Option<Duration>,
    max_lifetime: Option<Duration>,
    tls: Option<Tls>,
    login: Login,
    /// Refusals are reported at once (see [`PoolOptions::fail_fast_on_refusal`]).
    fail_fast: bool,
    /// The driver of a PostgreSQL pool.
    #[cfg(feature = "postgres")]
    postgres_driver: PostgresDriver,
    /// The driver of a MySQL/MariaDB pool.
    #[cfg(feature = "mysql")]
    mysql_driver: MySqlDriver,
}

/// Which driver a MySQL/MariaDB pool runs its statements on
/// ([`PoolOptions::mysql_driver`]). Both send the same SQL, set up the session alike and
/// report the same errors; they differ in how statements travel and rows are read. The
/// default is [`Native`](MySqlDriver::Native) when it is built (feature `mysql-native` of
/// `polyorm-core`, which the `polyorm` crate's `mysql` feature turns on), else
/// [`Sqlx`](MySqlDriver::Sqlx).
#[cfg(feature = "mysql")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum MySqlDriver {
    /// sqlx's MySQL driver. The default only when the native driver is not built; otherwise
    /// pick it with `PoolOptions::mysql_driver(MySqlDriver::Sqlx)`, e.g. to compare the two
    /// drivers on a workload.
    #[cfg_attr(not(feature = "mysql-native"), default)]
    Sqlx,
    /// The ORM's own driver on mysql_async (feature `mysql-native`), the default when it is
    /// built: binary protocol, each statement prepared once per connection, rows decoded from
    /// the wire into the model in the statement's own task. TLS as on the sqlx driver: the
    /// URL's `ssl-mode`, `ssl-ca`, `ssl-cert`, `ssl-key`, and [`Tls`] over them; a pool whose
    /// mode is `verify-ca` runs on sqlx's driver (mysql_async cannot skip only the host-name
    /// check).
    #[cfg_attr(feature = "mysql-native", default)]
    Native,
}

/// Which driver a PostgreSQL pool runs its statements on
/// ([`PoolOptions::postgres_driver`]). Both send the same SQL and report the same errors;
/// they differ in how statements travel and rows are read. The default is
/// [`Native`](PostgresDriver::Native) when it is built (feature `postgres-native` of
/// `polyorm-core`, which the `polyorm` crate's `postgres` feature turns on), else
/// [`Sqlx`](PostgresDriver::Sqlx).
#[cfg(feature = "postgres")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PostgresDriver {
    /// sqlx's PostgreSQL driver: TLS (`sslmode`, CA, client certificates). The default only
    /// when the native driver is not built (`polyorm-core` with `postgres` but not
    /// `postgres-native`); otherwise pick it with
    /// `PoolOptions::postgres_driver(PostgresDriver::Sqlx)`, e.g. to compare the two drivers
    /// on a workload.
    #[cfg_attr(not(feature = "postgres-native"), default)]
    Sqlx,
    /// The ORM's own driver on tokio-postgres (feature `postgres-native`), the default when it
    /// is built: binary protocol, each statement prepared once per connection, rows decoded
    /// straight from the wire into the model, the socket read and written by the statement's
    /// own task. TLS as on the sqlx driver: the URL's `sslmode`, `sslrootcert`, `sslcert`,
    /// `sslkey`, and [`Tls`] over them.
    #[cfg_attr(feature = "postgres-native", default)]
    Native,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            max_connections: 10,
            min_connections: 0,
            acquire_timeout: Duration::from_secs(30),
            idle_timeout: Some(Duration::from_secs(10 * 60)),
            max_lifetime: Some(Duration::from_secs(30 * 60)),
            tls: None,
            login: Login::Url,
            fail_fast: false,
            #[cfg(feature = "postgres")]
            postgres_driver: PostgresDriver::default(),
            #[cfg(feature = "mysql")]
            mysql_driver: MySqlDriver::default(),
        }
    }
}

impl PoolOptions {
    /// Defaults: at most 10 connections, none kept open when idle, 30 s acquire timeout, idle
    /// connections closed after 10 minutes, connections replaced after 30 minutes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Maximum number of open connections (an in-memory SQLite database always uses one).
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = n;
        self
    }

    /// Connections kept open even when idle.
    pub fn min_connections(mut self, n: u32) -> Self {
        self.min_connections = n;
        self
    }

    /// Closes connections idle for longer than this (`None`: never); default 10 minutes.
    /// An in-memory SQLite database keeps its one connection regardless.
    pub fn idle_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.idle_timeout = timeout.into();
        self
    }

    /// Replaces connections older than this (`None`: never); default 30 minutes.
    pub fn max_lifetime(mut self, lifetime: impl Into<Option<Duration>>) -> Self {
        self.max_lifetime = lifetime.into();
        self
    }

    /// How long a query waits for a connection: for a free one when all are in use (then
    /// [`Error::Timeout`]), or for a server that refuses connections to accept them again,
    /// trying again at least every 250 ms (then [`Error::Connection`] with the refusal).
    /// `Db::connect` and `Db::health` do not wait for a refusing server. Default 30 s.
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// Reports a server that refuses connections at once ([`Error::Connection`]) instead of
    /// waiting up to the acquire timeout for it to accept them again: for the nodes of a
    /// replicated topology, whose reads and writes go to another node meanwhile.
    #[cfg_attr(not(feature = "topology"), allow(dead_code))]
    pub(crate) fn fail_fast_on_refusal(mut self) -> Self {
        self.fail_fast = true;
        self
    }

    /// TLS for every connection ([`Tls`]: mode, CA, client certificate), over what the URL's
    /// `sslmode` / `ssl-mode` / `tls` parameters say. Ignored by SQLite.
    pub fn tls(mut self, tls: Tls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// The driver of a PostgreSQL pool: by default [`PostgresDriver::Native`] (the ORM's own,
    /// on tokio-postgres) when the feature `postgres-native` is on (the `polyorm` crate's
    /// `postgres` feature turns it on), else [`PostgresDriver::Sqlx`]. Ignored by the other
    /// backends.
    ///
    /// ```no_run
    /// # async fn run() -> polyorm_core::Result<()> {
    /// use polyorm_core::{PoolOptions, PostgresDriver};
    /// // sqlx's driver instead of the default.
    /// let db = PoolOptions::new()
    ///     .postgres_driver(PostgresDriver::Sqlx)
    ///     .connect("postgres://app@localhost:5432/app")
    ///     .await?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "postgres")]
    pub fn postgres_driver(mut self, driver: PostgresDriver) -> Self {
        self.postgres_driver = driver;
        self
    }

    /// The driver of a MySQL/MariaDB pool: by default [`MySqlDriver::Native`] (the ORM's own,
    /// on mysql_async) when the feature `mysql-native` is on (the `polyorm` crate's `mysql`
    /// feature turns it on), else [`MySqlDriver::Sqlx`]. Ignored by the other backends.
    ///
    /// ```no_run
    /// # async fn run() -> polyorm_core::Result<()> {
    /// use polyorm_core::{MySqlDriver, PoolOptions};
    /// // sqlx's driver instead of the default.
    /// let db = PoolOptions::new()
    ///     .mysql_driver(MySqlDriver::Sqlx)
    ///     .connect("mysql://app@localhost:3306/app")
    ///     .await?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "mysql")]
    pub fn mysql_driver(mut self, driver: MySqlDriver) -> Self {
        self.mysql_driver = driver;
        self
    }

    /// Logs in as `credentials` instead of the URL's user and password.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.login = Login::Fixed(credentials);
        self
    }

    /// Asks `provider` for the credentials of every new connection (PostgreSQL, MySQL), so a
    /// rotated password is used without a restart; see [`CredentialProvider`]. MongoDB's
    /// driver opens its connections itself: it asks once, at connect.
    pub fn credential_provider(mut self, provider: impl CredentialProvider) -> Self {
        self.login = Login::Provider(Arc::new(provider));
        self
    }

    /// [`credential_provider`](Self::credential_provider) with a shared provider.
    pub fn credential_provider_arc(mut self, provider: Arc<dyn CredentialProvider>) -> Self {
        self.login = Login::Provider(provider);
        self
    }

    /// Connects to `url`: `sqlite:` (file or `sqlite::memory:`), `postgres://`/`postgresql://`,
    /// `mysql://`/`mariadb://`, `mongodb://`/`mongodb+srv://` (database from the URL path,
    /// default `test`; with the `mongodb` feature).
    pub async fn connect(self, url: &str) -> Result<Db> {
        check_url(url)?;
        if let Some(tls) = &self.tls {
            tls.validate()?;
        }
        let scheme = url.split(':').next().unwrap_or_default();
        let mut db = match scheme {
            "sqlite" => self.connect_sqlite(url).await,
            "postgres" | "postgresql" => self.connect_postgres(url).await,
            "mysql" | "mariadb" => self.connect_mysql(url).await,
            "mongodb" | "mongodb+srv" => self.connect_mongodb(url).await,
            "dynamodb" => self.connect_dynamodb(url).await,
            _ => Err(Error::Config(format!(
                "unsupported URL scheme `{scheme}:`; use `sqlite:`, `postgres://`, `mysql://`, `mongodb://` or `dynamodb://`"
            ))),
        }?;
        db.server = Arc::new(ServerInfo::from_url(url));
        Ok(db)
    }

    #[cfg(feature = "mongodb")]
    async fn connect_mongodb(self, url: &str) -> Result<Db> {
        let options = super::connect::mongodb_options(url, self.tls.as_ref(), &self.login).await?;
        let pool = super::mongo::MongoPool::connect(
            options,
            self.max_connections,
            self.min_connections,
            self.acquire_timeout,
        )
        .await?;
        Ok(Db::from_pool(
            Pool::Mongo(pool),
            Arc::new(SchemaClock::new()),
        ))
    }

    #[cfg(feature = "dynamodb")]
    async fn connect_dynamodb(self, url: &str) -> Result<Db> {
        let pool = super::dynamo::DynamoPool::connect(url, self.acquire_timeout).await?;
        Ok(Db::from_pool(
            Pool::Dynamo(pool),
            Arc::new(SchemaClock::new()),
        ))
    }

    /// The limits of the ORM's own pool (PostgreSQL, MySQL/MariaDB).
    #[cfg(any(feature = "postgres", feature = "mysql"))]
    fn limits(&self) -> Limits {
        Limits {
            max_connections: self.max_connections,
            min_connections: self.min_connections,
            acquire_timeout: self.acquire_timeout,
            idle_timeout: self.idle_timeout,
            max_lifetime: self.max_lifetime,
            fail_fast: self.fail_fast,
        }
    }

    #[cfg(feature = "sqlite")]
    async fn connect_sqlite(self, url: &str) -> Result<Db> {
        use super::sqlite::{SqlitePool, config::SqliteConfig, pool::Limits as SqliteLimits};
        let config = SqliteConfig::parse(url)?;
        let schema_clock = Arc::new(SchemaClock::new());
        // Connections that predate DDL run through the `Db` are replaced when next handed out
        // (their cached schema can be stale, see `prepared`); an in-memory database keeps
        // its one connection regardless.
        let pool = SqlitePool::open(
            config,
            SqliteLimits {
                max: self.max_connections,
                min: self.min_connections,
                acquire_timeout: self.acquire_timeout,
                idle_timeout: self.idle_timeout,
                max_lifetime: self.max_lifetime,
            },
            schema_clock.clone(),
        )?;
        Ok(Db::from_pool(Pool::Sqlite(pool), schema_clock))
    }

    #[cfg(feature = "postgres")]
    async fn connect_postgres(self, url: &str) -> Result<Db> {
        if self.postgres_driver == PostgresDriver::Native {
            return self.connect_postgres_native(url).await;
        }
        let options: sqlx::postgres::PgConnectOptions = url.parse().map_err(super::from_sqlx)?;
        let connector = Connector::new(options, self.tls.as_ref(), self.login.clone());
        let schema_clock = Arc::new(SchemaClock::new());
        let pool = RemotePool::new(
            SqlxConnect::<sqlx::Postgres>::new(connector, None),
            self.limits(),
            schema_clock.clone(),
        );
        pool.open_first().await?;
        Ok(Db::from_pool(Pool::Postgres(pool), schema_clock))
    }

    /// A pool of native PostgreSQL connections (`PostgresDriver::Native`).
    #[cfg(feature = "postgres-native")]
    async fn connect_postgres_native(self, url: &str) -> Result<Db> {
        let connect =
            super::postgres_native::NativeConnect::new(url, self.tls.as_ref(), self.login.clone())?;
        let schema_clock = Arc::new(SchemaClock::new());
        let pool = super::conn_pool::ConnPool::new(connect, self.limits(), schema_clock.clone());
        pool.open_first().await?;
        Ok(Db::from_pool(Pool::PostgresNative(pool), schema_clock))
    }

    #[cfg(all(feature = "postgres", not(feature = "postgres-native")))]
    async fn connect_postgres_native(self, _url: &str) -> Result<Db> {
        Err(Error::Config(
            "`PostgresDriver::Native` needs the feature `postgres-native` (of `polyorm` or \
             `polyorm-core`); enable it, or use `PostgresDriver::Sqlx`"
                .to_owned(),
        ))
    }

    #[cfg(feature = "mysql")]
    async fn connect_mysql(self, url: &str) -> Result<Db> {
        let url = match url.strip_prefix("mariadb:") {
            Some(rest) => format!("mysql:{rest}"),
            None => url.to_owned(),
        };
        if self.mysql_driver == MySqlDriver::Native {
            return self.connect_mysql_native(&url).await;
        }
        self.connect_mysql_sqlx(&url).await
    }

    /// A pool of sqlx's MySQL connections (`MySqlDriver::Sqlx`).
    #[cfg(feature = "mysql")]
    async fn connect_mysql_sqlx(self, url: &str) -> Result<Db> {
        let options: sqlx::mysql::MySqlConnectOptions = url.parse().map_err(super::from_sqlx)?;
        // MariaDB prepares statements again itself after DDL: no connection predates it.
        let schema_clock = Arc::new(SchemaClock::new());
        let pool = RemotePool::new(
            // Strict mode: a value that does not fit is an error, never truncated.
            SqlxConnect::<sqlx::MySql>::new(
                Connector::new(options, self.tls.as_ref(), self.login.clone()),
                Some("SET SESSION sql_mode = CONCAT(@@sql_mode, ',STRICT_ALL_TABLES')"),
            ),
            self.limits(),
            Arc::new(SchemaClock::new()),
        );
        pool.open_first().await?;
        Ok(Db::from_pool(Pool::MySql(pool), schema_clock))
    }
}

impl PoolOptions {
    /// A pool of native MySQL/MariaDB connections (`MySqlDriver::Native`).
    #[cfg(feature = "mysql-native")]
    async fn connect_mysql_native(self, url: &str) -> Result<Db> {
        let connect =
            super::mysql_native::NativeConnect::new(url, self.tls.as_ref(), self.login.clone())?;
        // `verify-ca` (the chain checked, not the host name): mysql_async 0.37's option to skip
        // the host-name check looks for a word rustls 0.23 no longer writes in its error, so
        // the check is never skipped; such a pool runs on sqlx's driver, which does it right.
        if connect.tls_mode() == crate::tls::SslMode::VerifyCa {
            return self.connect_mysql_sqlx(url).await;
        }
        // MariaDB prepares statements again itself after DDL: no connection predates it.
        let pool =
            super::conn_pool::ConnPool::new(connect, self.limits(), Arc::new(SchemaClock::new()));
        pool.open_first().await?;
        Ok(Db::from_pool(
            Pool::MySqlNative(pool),
            Arc::new(SchemaClock::new()),
        ))
    }

    #[cfg(all(feature = "mysql", not(feature = "mysql-native")))]
    async fn connect_mysql_native(self, _url: &str) -> Result<Db> {
        Err(Error::Config(
            "`MySqlDriver::Native` needs the feature `mysql-native` (of `polyorm` or \
             `polyorm-core`); enable it, or use `MySqlDriver::Sqlx`"
                .to_owned(),
        ))
    }
}

/// Refuses a URL that names no database where the backend would otherwise pick one that is
/// not what was meant, before anything connects:
///
/// - `sqlite:` / `sqlite://` with no path: SQLite would give every pooled connection its own
///   private, temporary database (a table created on one is missing on the next). Refused
///   rather than read as `sqlite::memory:`: an empty path is most often a setting that was not
///   filled in (`sqlite://$DB_PATH`), and an in-memory database would lose what is written.
/// - `mysql://host:3306` with no database: every query would fail with "No database selected".
fn check_url(url: &str) -> Result<()> {
    let (scheme, rest) = url.split_once(':').unwrap_or((url, ""));
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    match scheme {
        "sqlite" => {
            let file = path.strip_prefix("//").unwrap_or(path);
            let in_memory = query.split('&').any(|kv| kv == "mode=memory");
            if file.is_empty() && !in_memory {
                return Err(Error::Config(format!(
                    "`{url}` names no database file; write `sqlite://path/to/app.db` (created \
                     if missing) or `sqlite::memory:` for an in-memory database (SQLite would \
                     otherwise give each pooled connection its own temporary database)"
                )));
            }
        }
        "mysql" | "mariadb" => {
            let after_hosts = path.strip_prefix("//").unwrap_or(path);
            let database = after_hosts.split_once('/').map_or("", |(_, db)| db);
            if database.trim_matches('/').is_empty() {
                return Err(Error::Config(format!(
                    "`{}` names no database; add it to the path, e.g. \
                     `{scheme}://user@host:3306/app` (MySQL/MariaDB would connect and fail \
                     every query with \"No database selected\")",
                    redact(url)
                )));
            }
        }
        _ => {}
    }
    Ok(())
}

/// `url` with the password of its user info (`user:secret@`) replaced by `***`.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => match rest[..at].split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***{}", &rest[at..]),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod url_tests {
    use super::check_url;
    use crate::error::Error;

    #[test]
    fn urls_without_a_database_are_refused_before_connecting() {
        for url in [
            "sqlite:",
            "sqlite://",
            "sqlite://?cache=shared",
            "mysql://h:3306",
            "mysql://h:3306/",
            "mariadb://u:pw@h/?ssl-mode=disabled",
        ] {
            match check_url(url) {
                Err(Error::Config(message)) => {
                    assert!(message.contains("names no database"), "{url}: {message}");
                    assert!(
                        !message.contains(":pw@"),
                        "the password is not repeated: {message}"
                    );
                }
                other => panic!("{url}: {other:?}"),
            }
        }
        for url in [
            "sqlite::memory:",
            "sqlite://app.db",
            "sqlite:app.db",
            "sqlite://?mode=memory",
            "sqlite:///tmp/a.db",
            "mysql://h/app",
            "mysql://u:p@h:3306/app?ssl-mode=disabled",
            "postgres://h",
            "mongodb://h",
        ] {
            assert!(check_url(url).is_ok(), "{url}");
        }
    }
}

/// What [`Db::health`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Health {
    /// Round-trip time of a `SELECT 1`.
    pub latency: Duration,
    /// Connections open now (idle or in use).
    pub connections: u32,
    /// Connections open and idle.
    pub idle: u32,
    /// The pool's maximum.
    pub max_connections: u32,
}

/// A pool's gauges at one instant ([`Db::pool_status`]); read it as often as you like (no
/// query, no lock held for long).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStatus {
    /// Connections open now (idle or in use).
    pub size: u32,
    /// Connections open and idle.
    pub idle: u32,
    /// Connections lent to a statement, transaction or stream.
    pub in_use: u32,
    /// Tasks waiting for a connection (PostgreSQL and MySQL/MariaDB pools; `None` for SQLite,
    /// whose pool does not count them).
    pub waiting: Option<u32>,
    /// The pool's maximum.
    pub max: u32,
}

macro_rules! disabled_backend {
    ($method:ident, $feature:literal) => {
        #[cfg(not(feature = $feature))]
        impl PoolOptions {
            async fn $method(self, _url: &str) -> Result<Db> {
                Err(Error::Config(format!(
                    "this build has no `{}` backend; enable the `{}` cargo feature of `polyorm`",
                    $feature, $feature
                )))
            }
        }
    };
}
disabled_backend!(connect_sqlite, "sqlite");
disabled_backend!(connect_postgres, "postgres");
disabled_backend!(connect_mysql, "mysql");
disabled_backend!(connect_mongodb, "mongodb");
disabled_backend!(connect_dynamodb, "dynamodb");

impl Db {
    /// A `Db` on `pool`, not observed, whose server is unknown until
    /// [`PoolOptions::connect`] reads it from the URL.
    fn from_pool(pool: Pool, schema_clock: Arc<SchemaClock>) -> Db {
        Db {
            pool,
            schema_clock,
            server: Arc::default(),
            observe_pool: false,
        }
    }

    /// Where this database's connect URL points: host, port and database (no credentials),
    /// for [`Tracing::server`](crate::observe::Tracing::server)'s `server.address` and
    /// `db.namespace`.
    pub fn server(&self) -> &ServerInfo {
        &self.server
    }

    /// This database (the same pool) with every connection it takes reported: a
    /// `db.pool.acquire` span under the caller's span (feature `tracing`); the
    /// `orm_pool_waiting` gauge (tasks waiting for a connection), the
    /// `orm_pool_acquire_seconds` histogram (by `outcome`) and the `orm_pool_connections`
    /// gauges (`state` = `open`, `idle`, `in_use`, sampled at each acquire) through the
    /// `metrics` facade (feature `metrics`); all labelled `backend`. MongoDB's driver keeps
    /// its pool to itself: nothing is reported there.
    #[cfg(any(feature = "tracing", feature = "metrics"))]
    pub fn observe_pool(&self) -> Db {
        Db {
            observe_pool: true,
            ..self.clone()
        }
    }

    /// Takes a connection as `acquire` does, reported when the pool is observed.
    pub(super) async fn observed_acquire<T>(
        &self,
        acquire: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        #[cfg(any(feature = "tracing", feature = "metrics"))]
        if self.observe_pool {
            return super::pool_observe::acquire(&self.pool, acquire).await;
        }
        acquire.await
    }

    /// A `Db` whose statements run on `mock` (see [`MockDatabase`](super::mock::MockDatabase)).
    #[cfg(feature = "mock")]
    pub(crate) fn from_mock(mock: super::mock::MockDatabase) -> Db {
        Db::from_pool(Pool::Mock(mock), Arc::new(SchemaClock::new()))
    }

    /// Connects with default [`PoolOptions`]; the backend is chosen by the URL scheme.
    pub async fn connect(url: &str) -> Result<Db> {
        PoolOptions::default().connect(url).await
    }

    /// Creates `M`'s table and indexes unless they exist (the DDL of [`crate::sql::ddl`]).
    ///
    /// On MongoDB this is `ensure_schema`: the collection is created with a `$jsonSchema`
    /// validator built from the descriptor (unless it exists), then the model's indexes and
    /// unique indexes (see `polyorm_core::mongo::validator` and `polyorm_core::mongo::index_plans`,
    /// with the `mongodb` feature).
    pub async fn create_table<M: crate::Model>(&self) -> Result<()> {
        self.create_table_of(M::schema()).await
    }

    /// [`create_table`](Db::create_table) for a descriptor known only at run time (a model
    /// from the registry, or one a backup archive describes).
    pub async fn create_table_of(&self, schema: &'static crate::ModelSchema) -> Result<()> {
        let dialect = match self.backend() {
            Backend::Sql(dialect) => dialect,
            #[cfg(feature = "mongodb")]
            Backend::MongoDb => return self.mongo()?.ensure_schema(schema).await,
            #[cfg(feature = "dynamodb")]
            Backend::DynamoDb => return self.dynamo()?.ensure_schema(schema).await,
            #[allow(unreachable_patterns)]
            other => return Err(disabled(other)),
        };
        for statement in crate::sql::ddl::create_table(schema, dialect, true)? {
            self.execute_raw(&statement).await?;
        }
        Ok(())
    }

    /// Drops `M`'s table if it exists (on MongoDB: the collection and its auto-increment
    /// counter).
    pub async fn drop_table<M: crate::Model>(&self) -> Result<()> {
        let dialect = match self.backend() {
            Backend::Sql(dialect) => dialect,
            #[cfg(feature = "mongodb")]
            Backend::MongoDb => return self.mongo()?.drop_collection(M::schema()).await,
            #[cfg(feature = "dynamodb")]
            Backend::DynamoDb => return self.dynamo()?.drop_table(M::schema()).await,
            #[allow(unreachable_patterns)]
            other => return Err(disabled(other)),
        };
        self.execute_raw(&crate::sql::ddl::drop_table(M::schema(), dialect))
            .await?;
        Ok(())
    }

    /// The MongoDB pool.
    #[cfg(feature = "mongodb")]
    fn mongo(&self) -> Result<&super::mongo::MongoPool> {
        match &self.pool {
            Pool::Mongo(pool) => Ok(pool),
            _ => Err(Error::InvalidQuery(format!(
                "`{}` is not a MongoDB database",
                self.backend()
            ))),
        }
    }

    /// The `aws-sdk-dynamodb` client of a `dynamodb://` database (the endpoint, region,
    /// credentials and HTTP client of its URL), for what the ORM does not do (PartiQL, table
    /// settings, streams); `None` on other backends.
    #[cfg(feature = "dynamodb")]
    pub fn dynamodb_client(&self) -> Option<crate::dynamo::sdk::Client> {
        match &self.pool {
            Pool::Dynamo(pool) => Some(pool.client.clone()),
            _ => None,
        }
    }

    /// The DynamoDB pool.
    #[cfg(feature = "dynamodb")]
    fn dynamo(&self) -> Result<&super::dynamo::DynamoPool> {
        match &self.pool {
            Pool::Dynamo(pool) => Ok(pool),
            _ => Err(Error::InvalidQuery(format!(
                "`{}` is not a DynamoDB database",
                self.backend()
            ))),
        }
    }

    /// Begins a transaction with the database's defaults; see [`Transaction`].
    ///
    /// Run its queries on `&tx`, not on `&db`: on an in-memory SQLite database the
    /// transaction holds the only connection.
    pub async fn begin(&self) -> Result<Transaction> {
        self.begin_with(TxOptions::default()).await
    }

    /// Begins a transaction with an isolation level or read-only mode.
    #[cfg_attr(
        not(any(feature = "_sqlx", feature = "sqlite")),
        allow(unused_variables)
    )]
    ///
    /// On MongoDB the transaction runs in a driver session (a replica set or sharded cluster
    /// is required; a standalone server fails with [`Error::Config`] at the first statement):
    /// no isolation level means the server's default read concern, `ReadCommitted` →
    /// `majority`, `RepeatableRead` → `snapshot`; `Serializable`, read-only transactions and
    /// savepoints do not exist there and are [`Error::Config`].
    pub async fn begin_with(&self, options: TxOptions) -> Result<Transaction> {
        #[cfg(feature = "mongodb")]
        if let Pool::Mongo(pool) = &self.pool {
            let session = pool.begin(options).await?;
            return Ok(Transaction::new(
                Backend::MongoDb,
                self.schema_clock.clone(),
                TxConn::Mongo(Box::new(super::mongo::MongoTx {
                    session,
                    database: pool.database.clone(),
                })),
            ));
        }
        #[cfg(feature = "dynamodb")]
        if let Pool::Dynamo(pool) = &self.pool {
            options.check_dynamodb()?;
            return Ok(Transaction::new(
                Backend::DynamoDb,
                self.schema_clock.clone(),
                TxConn::Dynamo(Box::new(super::dynamo::DynamoTx::new(pool.clone()))),
            ));
        }
        let dialect = self.sql_dialect();
        let begin = options.begin_sql(dialect)?;
        #[cfg(feature = "mock")]
        if let Pool::Mock(mock) = &self.pool {
            let conn = mock.connect()?;
            conn.record_raw(&begin)?;
            return Ok(Transaction::new(
                Backend::Sql(dialect),
                self.schema_clock.clone(),
                TxConn::Mock(conn),
            ));
        }
        let begun = async {
            Result::<TxConn>::Ok(match &self.pool {
                #[cfg(feature = "mock")]
                Pool::Mock(_) => unreachable!("handled above"),
                #[cfg(feature = "sqlite")]
                Pool::Sqlite(p) => {
                    let mut conn = p.acquire().await?;
                    SqlConn::Sqlite(conn.conn()).execute_raw(&begin).await?;
                    TxConn::Sqlite(conn)
                }
                #[cfg(feature = "postgres")]
                Pool::Postgres(p) => TxConn::Postgres(begin_on(p, begin).await?),
                #[cfg(feature = "postgres-native")]
                Pool::PostgresNative(p) => TxConn::PostgresNative(begin_on(p, begin).await?),
                #[cfg(feature = "mysql")]
                Pool::MySql(p) => TxConn::MySql(begin_on(p, begin).await?),
                #[cfg(feature = "mysql-native")]
                Pool::MySqlNative(p) => TxConn::MySqlNative(begin_on(p, begin).await?),
                #[cfg(feature = "mongodb")]
                Pool::Mongo(_) => unreachable!("handled above"),
                #[cfg(feature = "dynamodb")]
                Pool::Dynamo(_) => unreachable!("handled above"),
                Pool::None(never) => match *never {},
            })
        };
        let conn = self.observed_acquire(begun).await?;
        Ok(Transaction::new(
            Backend::Sql(dialect),
            self.schema_clock.clone(),
            conn,
        ))
    }

    /// Runs `body` in a transaction: commits when it returns `Ok`, rolls back when it returns
    /// `Err` or panics.
    ///
    /// ```no_run
    /// # use polyorm_core::{Db, Executor};
    /// # async fn run(db: &Db) -> polyorm_core::Result<()> {
    /// db.transaction(|tx| async move {
    ///     tx.execute_raw("DELETE FROM sessions").await?;
    ///     Ok::<_, polyorm_core::Error>(())
    /// })
    /// .await?;
    /// # Ok(()) }
    /// ```
    pub async fn transaction<T, E, F, Fut>(&self, body: F) -> std::result::Result<T, E>
    where
        F: FnOnce(Transaction) -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
        E: From<Error>,
    {
        self.transaction_with(TxOptions::default(), body).await
    }

    /// [`transaction`](Db::transaction) with an isolation level or read-only mode.
    pub async fn transaction_with<T, E, F, Fut>(
        &self,
        options: TxOptions,
        body: F,
    ) -> std::result::Result<T, E>
    where
        F: FnOnce(Transaction) -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
        E: From<Error>,
    {
        let tx = self.begin_with(options).await?;
        tx.run(body).await
    }

    /// Runs `body` in a transaction and runs it again, in a new transaction, when it fails
    /// with a retryable error (serialization failure, deadlock, lock timeout, a statement
    /// prepared before a schema change) or because its connection was lost before `COMMIT`
    /// (the server rolled it back; [`Error::ConnectionLost`]), up to
    /// `policy.max_attempts` times with exponential backoff; when every attempt failed so,
    /// the error is [`Error::RetriesExhausted`] (with the count and the last error). Other
    /// errors return at once, [`Error::CommitOutcomeUnknown`] included: a commit that may
    /// have been applied is never run twice.
    pub async fn transaction_with_retry<T, F, Fut>(
        &self,
        options: TxOptions,
        policy: RetryPolicy,
        mut body: F,
    ) -> Result<T>
    where
        F: FnMut(Transaction) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut attempt = 1;
        loop {
            let outcome = match self.begin_with(options).await {
                Ok(tx) => tx.run(&mut body).await,
                Err(e) => Err(e),
            };
            match outcome {
                Err(e) if reruns_transaction(&e) && attempt < policy.max_attempts.max(1) => {
                    #[cfg(feature = "metrics")]
                    ::metrics::counter!(
                        "orm_transaction_retries_total",
                        "backend" => crate::observe::system_name(self.backend()),
                        "reason" => e.kind(),
                    )
                    .increment(1);
                    tokio::time::sleep(policy.backoff(attempt)).await;
                    attempt += 1;
                }
                Err(e) if reruns_transaction(&e) => {
                    return Err(Error::RetriesExhausted {
                        attempts: attempt,
                        last: Box::new(e),
                    });
                }
                other => return other,
            }
        }
    }

    /// Pings the database and reports the round-trip time and the pool's state.
    ///
    /// A server that refuses connections is reported at once ([`Error::Connection`] naming
    /// `host:port`), not after the acquire timeout; a pool whose connections are all in use
    /// is waited for like any query.
    ///
    /// On MongoDB the ping is the `ping` command; the driver does not expose its pool, so
    /// `connections` and `idle` are 0 and `max_connections` is the configured maximum.
    pub async fn health(&self) -> Result<Health> {
        #[cfg(feature = "mongodb")]
        if let Pool::Mongo(pool) = &self.pool {
            return pool.health().await;
        }
        #[cfg(feature = "dynamodb")]
        if let Pool::Dynamo(pool) = &self.pool {
            return pool.health().await;
        }
        let started = std::time::Instant::now();
        self.ping().await?;
        let latency = started.elapsed();
        // Every connection of a mock is the same script: one, always idle.
        let (connections, idle, max_connections) = self.pool.state().unwrap_or((1, 1, 1));
        Ok(Health {
            latency,
            connections,
            idle,
            max_connections,
        })
    }

    /// The pool's gauges now: open, idle, in-use and maximum connections, and the tasks
    /// waiting for one; `None` where the driver keeps its pool to itself (MongoDB) or for a
    /// mock. No query runs (unlike [`health`](Db::health)).
    pub fn pool_status(&self) -> Option<PoolStatus> {
        let (size, idle, max) = self.pool.state()?;
        Some(PoolStatus {
            size,
            idle,
            in_use: size.saturating_sub(idle),
            waiting: self.pool.waiting(),
            max,
        })
    }

    /// Closes every connection of the pool, waiting for checked-out ones to return.
    pub async fn close(&self) {
        match &self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(p) => p.close().await,
            #[cfg(feature = "postgres")]
            Pool::Postgres(p) => p.close().await,
            #[cfg(feature = "postgres-native")]
            Pool::PostgresNative(p) => p.close().await,
            #[cfg(feature = "mysql")]
            Pool::MySql(p) => p.close().await,
            #[cfg(feature = "mysql-native")]
            Pool::MySqlNative(p) => p.close().await,
            #[cfg(feature = "mongodb")]
            Pool::Mongo(p) => p.client.clone().shutdown().immediate(true).await,
            #[cfg(feature = "dynamodb")]
            Pool::Dynamo(_) => {}
            #[cfg(feature = "mock")]
            Pool::Mock(_) => {}
            Pool::None(never) => match *never {},
        }
    }
}

/// Begins a transaction with `sql` on a connection of `pool`.
#[cfg(any(feature = "postgres", feature = "mysql"))]
async fn begin_on<C: DriverConnect>(
    pool: &super::conn_pool::ConnPool<C>,
    sql: String,
) -> Result<PooledTx<C>> {
    PooledTx::begin(Box::pin(pool.acquire(Wait::Patient)).await?, &sql).await
}

/// Whether [`Db::transaction_with_retry`] runs a transaction that failed with `error` again:
/// the retryable conflicts ([`Error::is_retryable`]), and a connection lost before `COMMIT`
/// (the server rolled the transaction back with the connection; a loss during `COMMIT` is
/// [`Error::CommitOutcomeUnknown`], never rerun).
pub(super) fn reruns_transaction(error: &Error) -> bool {
    error.is_retryable() || matches!(error, Error::ConnectionLost { .. })
}

/// The error for a backend this build cannot run.
#[allow(dead_code)]
fn disabled(backend: Backend) -> Error {
    Error::Config(format!(
        "this build has no `{backend}` backend; enable its cargo feature of `polyorm`"
    ))
}

/// A read that fails this soon with a lost connection, on a connection lent without a ping
/// (inside the pool's alive-bypass window), found a session the server had already ended
/// (stopped, restarted, killed while idle): it runs once more on a fresh connection, waiting
/// for the server as an acquire does. A read that failed later was running when the
/// connection broke: its caller gets [`Error::ConnectionLost`] at once. Writes are never run
/// again (one may have reached the server): they report [`Error::ConnectionLost`].
const ENDED_BEFORE: Duration = Duration::from_millis(50);

/// Whether a read failed because its connection was lost (and so may run on another).
fn lost(error: &Error) -> bool {
    matches!(error, Error::ConnectionLost { .. })
}

impl PoolSession<'_> {
    /// Whether the session's connection was lent without a ping (see
    /// [`PooledConn::unchecked`]).
    fn unchecked(&self) -> bool {
        match self {
            PoolSession::Sql(conn) => conn.unchecked(),
            #[cfg(feature = "mongodb")]
            PoolSession::Mongo(_) => false,
            #[cfg(feature = "dynamodb")]
            PoolSession::Dynamo(_) => false,
            PoolSession::None(never, _) => match *never {},
        }
    }
}

/// What one statement on a [`Db`] holds: a connection taken from a SQL pool, or the MongoDB
/// pool (whose driver takes a connection per operation itself).
pub(crate) enum PoolSession<'a> {
    Sql(PooledConn),
    #[cfg(feature = "mongodb")]
    Mongo(&'a super::mongo::MongoPool),
    #[cfg(feature = "dynamodb")]
    Dynamo(&'a super::dynamo::DynamoPool),
    #[allow(dead_code)]
    None(std::convert::Infallible, std::marker::PhantomData<&'a ()>),
}

#[cfg_attr(
    not(any(feature = "postgres", feature = "mysql")),
    allow(unused_variables, unreachable_code)
)]
impl Pool {
    /// The backend this pool connects to.
    pub(super) fn backend(&self) -> Backend {
        match self {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(_) => Backend::Sql(Dialect::Sqlite),
            #[cfg(feature = "postgres")]
            Pool::Postgres(_) => Backend::Sql(Dialect::Postgres),
            #[cfg(feature = "postgres-native")]
            Pool::PostgresNative(_) => Backend::Sql(Dialect::Postgres),
            #[cfg(feature = "mysql")]
            Pool::MySql(_) => Backend::Sql(Dialect::MySql),
            #[cfg(feature = "mysql-native")]
            Pool::MySqlNative(_) => Backend::Sql(Dialect::MySql),
            #[cfg(feature = "mock")]
            Pool::Mock(mock) => Backend::Sql(mock.dialect()),
            #[cfg(feature = "mongodb")]
            Pool::Mongo(_) => Backend::MongoDb,
            #[cfg(feature = "dynamodb")]
            Pool::Dynamo(_) => Backend::DynamoDb,
            Pool::None(never) => match *never {},
        }
    }

    /// Connections open, idle and at most; `None` where the driver does not tell (MongoDB,
    /// mock).
    pub(super) fn state(&self) -> Option<(u32, u32, u32)> {
        match self {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(p) => Some(p.state()),
            #[cfg(feature = "postgres")]
            Pool::Postgres(p) => Some(p.state()),
            #[cfg(feature = "postgres-native")]
            Pool::PostgresNative(p) => Some(p.state()),
            #[cfg(feature = "mysql")]
            Pool::MySql(p) => Some(p.state()),
            #[cfg(feature = "mysql-native")]
            Pool::MySqlNative(p) => Some(p.state()),
            _ => None,
        }
    }

    /// Tasks waiting for a connection; `None` where the pool does not count them.
    fn waiting(&self) -> Option<u32> {
        match self {
            #[cfg(feature = "postgres")]
            Pool::Postgres(p) => Some(p.waiting()),
            #[cfg(feature = "postgres-native")]
            Pool::PostgresNative(p) => Some(p.waiting()),
            #[cfg(feature = "mysql")]
            Pool::MySql(p) => Some(p.waiting()),
            #[cfg(feature = "mysql-native")]
            Pool::MySqlNative(p) => Some(p.waiting()),
            _ => None,
        }
    }

    /// Takes a connection from a SQL pool, waiting as `wait` says for a server that refuses
    /// connections (SQLite, a file, never refuses).
    pub(crate) async fn acquire_sql(&self, wait: Wait) -> Result<PooledConn> {
        Ok(match self {
            // Not boxed, on any backend: the server pools' acquire future (the wait with its
            // timeout, about 1 KiB now that opening and checking a connection are boxed inside
            // the pool) costs less carried in the query's future than a box per query does
            // (callgrind, one-row reads on PostgreSQL and MariaDB: 550-820 instructions fewer
            // per call unboxed).
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(p) => PooledConn::Sqlite(p.acquire().await?),
            #[cfg(feature = "postgres")]
            Pool::Postgres(p) => PooledConn::Postgres(p.acquire(wait).await?),
            #[cfg(feature = "postgres-native")]
            Pool::PostgresNative(p) => PooledConn::PostgresNative(p.acquire(wait).await?),
            #[cfg(feature = "mysql")]
            Pool::MySql(p) => PooledConn::MySql(p.acquire(wait).await?),
            #[cfg(feature = "mysql-native")]
            Pool::MySqlNative(p) => PooledConn::MySqlNative(p.acquire(wait).await?),
            #[cfg(feature = "mock")]
            Pool::Mock(mock) => PooledConn::Mock(mock.connect()?),
            #[cfg(feature = "mongodb")]
            Pool::Mongo(_) => {
                return Err(Error::Config(
                    "MongoDB has no dedicated SQL connections; `Db::acquire` is for SQL databases"
                        .to_owned(),
                ));
            }
            #[cfg(feature = "dynamodb")]
            Pool::Dynamo(_) => {
                return Err(Error::Config(
                    "DynamoDB has no dedicated SQL connections; `Db::acquire` is for SQL databases"
                        .to_owned(),
                ));
            }
            Pool::None(never) => match *never {},
        })
    }
}

#[cfg_attr(
    not(any(feature = "_sqlx", feature = "sqlite")),
    allow(unused_variables, unreachable_code)
)]
impl Target for Db {
    type Session<'a> = PoolSession<'a>;

    fn target_backend(&self) -> Backend {
        self.pool.backend()
    }

    fn stale_statement_retries(&self) -> u32 {
        match &self.pool {
            #[cfg(feature = "postgres")]
            Pool::Postgres(p) => p.max_connections(),
            #[cfg(feature = "postgres-native")]
            Pool::PostgresNative(p) => p.max_connections(),
            #[cfg(feature = "mysql")]
            Pool::MySql(p) => p.max_connections(),
            #[cfg(feature = "mysql-native")]
            Pool::MySqlNative(p) => p.max_connections(),
            // SQLite prepares a statement again itself when the schema changed.
            _ => 0,
        }
    }

    #[cfg(feature = "sqlite")]
    fn sqlite_at_hand(&self) -> Option<Result<super::sqlite::SqliteLease<'_>>> {
        match &self.pool {
            // An observed pool reports each acquire: through the asynchronous path.
            Pool::Sqlite(pool) if !self.observe_pool => pool.try_acquire(),
            _ => None,
        }
    }

    async fn session(&self) -> Result<PoolSession<'_>> {
        #[cfg(feature = "mongodb")]
        if let Pool::Mongo(pool) = &self.pool {
            return Ok(PoolSession::Mongo(pool));
        }
        #[cfg(feature = "dynamodb")]
        if let Pool::Dynamo(pool) = &self.pool {
            return Ok(PoolSession::Dynamo(pool));
        }
        self.observed_acquire(self.pool.acquire_sql(Wait::Patient))
            .await
            .map(PoolSession::Sql)
    }

    fn sql<'c>(session: &'c mut PoolSession<'_>) -> Result<SqlConn<'c>> {
        match session {
            PoolSession::Sql(conn) => Ok(conn.sql()),
            #[cfg(feature = "mongodb")]
            PoolSession::Mongo(_) => Err(Error::InvalidQuery(
                "internal error: a SQL statement reached a MongoDB pool".to_owned(),
            )),
            #[cfg(feature = "dynamodb")]
            PoolSession::Dynamo(_) => Err(Error::InvalidQuery(
                "internal error: a SQL statement reached a DynamoDB pool".to_owned(),
            )),
            PoolSession::None(never, _) => match *never {},
        }
    }

    #[cfg(feature = "mongodb")]
    fn mongo<'c>(session: &'c mut PoolSession<'_>) -> Result<super::mongo::Target<'c>> {
        match session {
            PoolSession::Mongo(pool) => Ok(super::mongo::Target::pool(pool)),
            _ => Err(Error::InvalidQuery(
                "internal error: a MongoDB statement reached a SQL pool".to_owned(),
            )),
        }
    }

    #[cfg(feature = "dynamodb")]
    fn dynamo<'c>(session: &'c mut PoolSession<'_>) -> Result<super::dynamo::Target<'c>> {
        match session {
            PoolSession::Dynamo(pool) => Ok(super::dynamo::Target::pool(pool)),
            _ => Err(Error::InvalidQuery(
                "internal error: a DynamoDB statement reached another pool".to_owned(),
            )),
        }
    }

    async fn run_read_all<T: Send + 'static>(
        &self,
        statement: &Shared,
        decode: Decoder<T>,
    ) -> Result<Vec<T>> {
        let mut session = self.session().await?;
        // Only a connection handed out unchecked may run the read again (never SQLite's):
        // the others skip reading the clock.
        let started = session.unchecked().then(std::time::Instant::now);
        match Self::sql(&mut session)?.fetch_all(statement, decode).await {
            Err(e) if lost(&e) && started.is_some_and(|s| s.elapsed() < ENDED_BEFORE) => {
                // Back to the pool before taking another (no drop glue in a build
                // without a server backend).
                #[allow(clippy::drop_non_drop)]
                drop(session);
                self.run_fetch_all(statement, decode).await
            }
            done => done,
        }
    }

    async fn run_read_optional<T: Send + 'static>(
        &self,
        statement: &Shared,
        decode: Decoder<T>,
    ) -> Result<Option<T>> {
        let mut session = self.session().await?;
        let started = session.unchecked().then(std::time::Instant::now);
        match Self::sql(&mut session)?
            .fetch_optional(statement, decode)
            .await
        {
            Err(e) if lost(&e) && started.is_some_and(|s| s.elapsed() < ENDED_BEFORE) => {
                // Back to the pool before taking another (no drop glue in a build
                // without a server backend).
                #[allow(clippy::drop_non_drop)]
                drop(session);
                self.run_fetch_optional(statement, decode).await
            }
            done => done,
        }
    }

    async fn run_raw_sql(&self, sql: &str) -> Result<ExecResult> {
        let mut session = self.session().await?;
        let done = Self::sql(&mut session)?.execute_raw(sql).await?;
        if changes_schema(sql) {
            // Other connections may hold statements prepared against the old schema.
            self.schema_clock.record_change();
        }
        Ok(done)
    }

    async fn run_chunked_insert(
        &self,
        query: InsertQuery,
        on_conflict: Option<OnConflict>,
    ) -> Result<ExecResult> {
        let tx = self.begin_with(TxOptions::new().for_write()).await?;
        let done = super::sql_runner::insert_in_chunks(&tx, query, on_conflict).await?;
        tx.commit().await?;
        Ok(done)
    }
}

executor_for_target!(Db);

impl Db {
    /// Runs `SELECT 1`, failing at once when the server refuses connections (also when the
    /// idle connection it took finds the server gone: then on a fresh one).
    async fn ping(&self) -> Result<ExecResult> {
        let mut conn = self.pool.acquire_sql(Wait::FailFast).await?;
        let unchecked = conn.unchecked();
        match conn.sql().execute_raw("SELECT 1").await {
            Err(e) if unchecked && lost(&e) => {
                // As in `run_read_all`.
                #[allow(clippy::drop_non_drop)]
                drop(conn);
                let mut conn = self.pool.acquire_sql(Wait::FailFast).await?;
                conn.sql().execute_raw("SELECT 1").await
            }
            done => done,
        }
    }
}
