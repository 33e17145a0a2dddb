//! Opening native PostgreSQL connections for the ORM's pool ([`NativeConnect`]): the URL read
//! by tokio-postgres (`postgres://user:password@host:port/db?application_name=…`), the
//! credentials of the pool's login asked for each connection, no TLS.

use std::str::FromStr;
use std::time::Duration;

use tokio_postgres::NoTls;
use tokio_postgres::config::{Host, SslMode as PgSslMode};

use super::conn::PgNativeConn;
use super::errors::{from_tokio_postgres, io_error};
use crate::error::{Error, Result};
use crate::exec::acquire::{Address, io_connect_error};
use crate::exec::conn_pool::Connect;
use crate::exec::connect::{Login, open_with_login};
use crate::exec::sql_driver::{SqlDriver, Tracked};
use crate::tls::{SslMode, Tls};

/// What to do instead of TLS on the native driver.
const NO_TLS: &str = "the native PostgreSQL driver (`PostgresDriver::Native`) does not speak \
    TLS; connect with the sqlx driver (`PostgresDriver::Sqlx`, the default) for \
    `sslmode=require`, `verify-ca`, `verify-full` or `PoolOptions::tls`, or use \
    `sslmode=disable`/`prefer` on a trusted network";

/// Opens native PostgreSQL connections with one URL's settings.
pub(crate) struct NativeConnect {
    config: tokio_postgres::Config,
    login: Login,
    address: Address,
}

impl NativeConnect {
    /// The settings of `url` (with `tls` over its `sslmode`), logging in as `login` says.
    /// A URL or `tls` that requires TLS is refused ([`Error::Config`]).
    pub(crate) fn new(url: &str, tls: Option<&Tls>, login: Login) -> Result<Self> {
        let query = url.split_once('?').map_or("", |(_, q)| q);
        for (key, value) in query.split('&').filter_map(|kv| kv.split_once('=')) {
            if key == "sslmode" && !matches!(value, "disable" | "allow" | "prefer") {
                return Err(Error::Config(format!("`sslmode={value}`: {NO_TLS}")));
            }
        }
        let mut config = tokio_postgres::Config::from_str(url).map_err(|e| {
            Error::Config(format!(
                "`{}` is not a PostgreSQL URL the native driver reads ({e}); write \
                 `postgres://user:password@host:5432/database`",
                crate::exec::redact_url(url)
            ))
        })?;
        match tls.map(Tls::mode) {
            Some(SslMode::Disable) => {
                config.ssl_mode(PgSslMode::Disable);
            }
            Some(SslMode::Prefer) | None => {}
            Some(SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull) => {
                return Err(Error::Config(NO_TLS.to_owned()));
            }
        }
        let address = address(&config);
        Ok(NativeConnect {
            config,
            login,
            address,
        })
    }
}

/// Where `config` connects first (for error messages and the pool's waiting).
fn address(config: &tokio_postgres::Config) -> Address {
    let port = config.get_ports().first().copied().unwrap_or(5432);
    match config.get_hosts().first() {
        Some(Host::Tcp(host)) => Address::Tcp {
            host: host.clone(),
            port,
        },
        #[cfg(unix)]
        Some(Host::Unix(dir)) => Address::Unix(dir.join(format!(".s.PGSQL.{port}"))),
        None => Address::Tcp {
            host: "localhost".to_owned(),
            port,
        },
    }
}

impl NativeConnect {
    /// Opens one connection logging in as `credentials` (`None`: the URL's user).
    async fn open(
        &self,
        credentials: Option<crate::credentials::Credentials>,
    ) -> Result<PgNativeConn> {
        let mut config = self.config.clone();
        if let Some(credentials) = credentials {
            config
                .user(&credentials.user)
                .password(credentials.password.expose());
        }
        let (client, connection) = config.connect(NoTls).await.map_err(|e| {
            if e.as_db_error().is_none()
                && let Some(io) = io_error(&e)
            {
                return io_connect_error(
                    std::io::Error::new(io.kind(), io.to_string()),
                    &self.address,
                );
            }
            from_tokio_postgres(e)
        })?;
        // The connection's I/O runs on its own task, which ends when the client is dropped
        // (tokio-postgres then sends Terminate and closes the socket) or the server closes it.
        let io = tokio::spawn(async move {
            let _closed = connection.await;
        });
        Ok(PgNativeConn::new(client, io))
    }
}

impl Connect for NativeConnect {
    type Conn = Tracked<PgNativeConn>;

    async fn connect(&self) -> Result<Tracked<PgNativeConn>> {
        open_with_login(&self.login, |credentials| self.open(credentials))
            .await
            .map(Tracked::new)
    }

    async fn ping(conn: &mut Tracked<PgNativeConn>) -> Result<()> {
        let pinged = conn.conn.client().check_connection().await;
        conn.note(pinged.map_err(from_tokio_postgres))
    }

    async fn reset(conn: &mut Tracked<PgNativeConn>) -> Result<()> {
        // PostgreSQL only warns when no transaction is open.
        conn.conn.execute_raw("ROLLBACK").await.map(drop)
    }

    async fn close(conn: Tracked<PgNativeConn>) {
        let closing = conn.conn.close();
        let _ = tokio::time::timeout(Duration::from_secs(2), closing).await;
    }

    fn is_broken(conn: &Tracked<PgNativeConn>) -> bool {
        conn.broken || conn.conn.is_closed()
    }
}

impl crate::exec::remote_pool::DriverConnect for NativeConnect {
    type Driver = PgNativeConn;
}
