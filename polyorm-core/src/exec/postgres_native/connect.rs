//! Opening native PostgreSQL connections for the ORM's pool ([`NativeConnect`]): the URL read
//! by tokio-postgres (`postgres://user:password@host:port/db?application_name=…`), TLS as the
//! sqlx driver makes it (`sslmode`, `sslrootcert`, `sslcert`, `sslkey` in the URL, then
//! [`Tls`] over them; see [`super::tls`]), the credentials of the pool's login asked for each
//! connection.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use tokio_postgres::config::{Host, SslMode as PgSslMode};

use super::conn::PgNativeConn;
use super::errors::{from_tokio_postgres, io_error};
use super::tls::{HandshakeFailed, MakeRustls};
use crate::error::{Error, Result};
use crate::exec::acquire::{Address, io_connect_error, tls_connect_error};
use crate::exec::conn_pool::Connect;
use crate::exec::connect::{Login, open_with_login};
use crate::exec::sql_driver::{SqlDriver, Tracked};
use crate::tls::{SslMode, Tls, UrlTls};

/// Opens native PostgreSQL connections with one URL's settings.
pub(crate) struct NativeConnect {
    config: tokio_postgres::Config,
    /// The URL's TLS parameters with the pool's [`Tls`] over them.
    tls: Tls,
    login: Login,
    address: Address,
}

impl NativeConnect {
    /// The settings of `url` (with `tls` over its `sslmode` and certificate files), logging
    /// in as `login` says.
    pub(crate) fn new(url: &str, tls: Option<&Tls>, login: Login) -> Result<Self> {
        let (url_rest, url_tls) = UrlTls::split(url)?;
        let mut config = tokio_postgres::Config::from_str(&url_rest).map_err(|e| {
            Error::Config(format!(
                "`{}` is not a PostgreSQL URL the native driver reads ({e}); write \
                 `postgres://user:password@host:5432/database`",
                crate::exec::redact_url(url)
            ))
        })?;
        as_the_sqlx_driver_reads(&mut config, url);
        let tls = url_tls.with_environment()?.under(tls, CERT_PARAMS)?;
        // tokio-postgres asks the server for TLS (and gives up or goes on without it); what
        // is checked of the certificate is rustls' part.
        config.ssl_mode(match tls.mode() {
            SslMode::Disable => PgSslMode::Disable,
            SslMode::Prefer => PgSslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => PgSslMode::Require,
        });
        let address = address(&config);
        Ok(NativeConnect {
            config,
            tls,
            login,
            address,
        })
    }
}

/// The session settings every connection starts with, as sqlx's driver sets them at startup
/// (over the URL's `options`, as there): timestamps with a time zone shown and read in UTC
/// rather than in the server's zone, ISO dates, floats in text with every digit. Set by one
/// simple query when the connection opens (tokio-postgres sends no other startup parameters,
/// and `options` is refused by some poolers, PgBouncer among them).
const SESSION_SETTINGS: &str =
    "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET extra_float_digits = 2";

/// Fills what `url` leaves out as sqlx's driver does (libpq's rules): the user from `PGUSER`
/// or the operating system's user name, the host from `PGHOST` (or the local server's Unix
/// socket, else `localhost`), the port from `PGPORT`, the database from `PGDATABASE`, the
/// password from `PGPASSWORD`, the application name from `PGAPPNAME`; and the server options
/// as sqlx reads them (`options=-c …`, `options[name]=value`, else `PGOPTIONS`).
fn as_the_sqlx_driver_reads(config: &mut tokio_postgres::Config, url: &str) {
    if let Ok(sqlx) = url.parse::<sqlx::postgres::PgConnectOptions>() {
        if config.get_user().is_none() {
            config.user(sqlx.get_username());
        }
        if config.get_hosts().is_empty() {
            match sqlx.get_socket() {
                #[cfg(unix)]
                Some(dir) => config.host_path(dir),
                // A host beginning with `/` is a Unix socket's directory (tokio-postgres reads
                // it so too).
                _ => config.host(sqlx.get_host()),
            };
        }
        if config.get_ports().is_empty() {
            config.port(sqlx.get_port());
        }
        if config.get_dbname().is_none()
            && let Some(database) = sqlx.get_database()
        {
            config.dbname(database);
        }
        if config.get_application_name().is_none()
            && let Some(name) = sqlx.get_application_name()
        {
            config.application_name(name);
        }
        // `options=…` and `options[name]=value`, escaped, then `PGOPTIONS` (the URL's
        // `options` were left out of what tokio-postgres read).
        if let Some(options) = sqlx.get_options() {
            config.options(options);
        }
    }
    if config.get_password().is_none()
        && let Ok(password) = std::env::var("PGPASSWORD")
    {
        config.password(password);
    }
}

/// The URL's names of the client certificate and key parameters (sqlx's).
const CERT_PARAMS: (&str, &str) = ("sslcert", "sslkey");

/// Reading the TLS parameters of a URL's query by sqlx's names (tokio-postgres reads only
/// `sslmode=disable|prefer|require` and no file names).
impl UrlTls {
    /// `url` without its TLS parameters, and those parameters.
    fn split(url: &str) -> Result<(String, UrlTls)> {
        let Some((base, query)) = url.split_once('?') else {
            return Ok((url.to_owned(), UrlTls::default()));
        };
        let mut found = UrlTls::default();
        let mut rest = Vec::new();
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let file = || PathBuf::from(decode(value));
            match decode(key).as_str() {
                "sslmode" | "ssl-mode" => found.mode = Some(decode(value).parse()?),
                "sslrootcert" | "ssl-root-cert" | "ssl-ca" => found.ca = Some(file()),
                "sslcert" | "ssl-cert" => found.cert = Some(file()),
                "sslkey" | "ssl-key" => found.key = Some(file()),
                // sqlx's prepared-statement cache size: the native driver keeps its own
                // (`conn::STATEMENT_CACHE`); tokio-postgres would refuse the unknown option.
                "statement-cache-capacity" => {}
                // Server options, also in sqlx's `options[name]=value` form: taken from sqlx's
                // reading of the whole URL (see `as_the_sqlx_driver_reads`).
                "options" => {}
                key if key.starts_with("options[") => {}
                _ => rest.push(pair),
            }
        }
        let url = if rest.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        Ok((url, found))
    }

    /// These settings, with what the URL does not say taken from `PGSSLMODE`,
    /// `PGSSLROOTCERT`, `PGSSLCERT` and `PGSSLKEY` as the sqlx driver takes it.
    fn with_environment(mut self) -> Result<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        if self.mode.is_none()
            && let Some(mode) = var("PGSSLMODE")
        {
            self.mode = Some(mode.parse()?);
        }
        self.ca = self.ca.or_else(|| var("PGSSLROOTCERT").map(PathBuf::from));
        self.cert = self.cert.or_else(|| var("PGSSLCERT").map(PathBuf::from));
        self.key = self.key.or_else(|| var("PGSSLKEY").map(PathBuf::from));
        Ok(self)
    }
}

/// A query value with its `%XX` escapes (and `+` for a space) decoded, as sqlx reads them.
fn decode(value: &str) -> String {
    percent_encoding::percent_decode_str(&value.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
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
    /// Opens one connection logging in as `credentials` (`None`: the URL's).
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
        // The certificate files are read for each connection: a renewed one is used next.
        let tls = MakeRustls::new(&self.tls)?;
        let (client, connection) = config
            .connect(tls)
            .await
            .map_err(|e| connect_failure(e, &self.address))?;
        // The connection's I/O is driven by the statements themselves (see `conn`).
        let mut conn = PgNativeConn::new(client, connection);
        conn.execute_raw(SESSION_SETTINGS).await?;
        Ok(conn)
    }
}

/// The error of a connection that could not be opened: a network or TLS failure as a
/// [`ConnectFailure`](crate::exec::acquire::ConnectFailure) naming the address (and the
/// TLS cause), the server's refusal (a login, a database) as the server said it.
fn connect_failure(error: tokio_postgres::Error, address: &Address) -> Error {
    if error.as_db_error().is_some() {
        return from_tokio_postgres(error);
    }
    let handshake = std::error::Error::source(&error).is_some_and(|e| e.is::<HandshakeFailed>());
    if handshake || crate::tls::explain_failure(&error).is_some() {
        return tls_connect_error(Box::new(super::errors::PgError(error)), address);
    }
    if let Some(io) = io_error(&error) {
        return io_connect_error(std::io::Error::new(io.kind(), io.to_string()), address);
    }
    from_tokio_postgres(error)
}

impl Connect for NativeConnect {
    type Conn = Tracked<PgNativeConn>;

    async fn connect(&self) -> Result<Tracked<PgNativeConn>> {
        open_with_login(&self.login, |credentials| self.open(credentials))
            .await
            .map(Tracked::new)
    }

    async fn ping(conn: &mut Tracked<PgNativeConn>) -> Result<()> {
        let pinged = conn.conn.ping().await;
        conn.note(pinged)
    }

    async fn reset(conn: &mut Tracked<PgNativeConn>) -> Result<()> {
        // PostgreSQL only warns when no transaction is open.
        conn.conn.execute_raw("ROLLBACK").await.map(drop)
    }

    async fn close(conn: Tracked<PgNativeConn>) {
        let closing = conn.conn.close();
        let _ = tokio::time::timeout(Duration::from_secs(2), closing).await;
    }

    fn is_retired(conn: &Tracked<PgNativeConn>) -> bool {
        conn.retired() || conn.conn.is_closed()
    }
}

impl crate::exec::remote_pool::DriverConnect for NativeConnect {
    type Driver = PgNativeConn;
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn the_urls_tls_parameters_are_taken_out_of_what_tokio_postgres_reads() {
        let (rest, found) = UrlTls::split(
            "postgres://u@h:5432/db?application_name=app&sslmode=verify-ca\
             &sslrootcert=%2Fetc%2Fmy+ca.pem&sslcert=/c.pem&ssl-key=/k.pem&connect_timeout=3\
             &statement-cache-capacity=50",
        )
        .unwrap();
        assert_eq!(
            rest,
            "postgres://u@h:5432/db?application_name=app&connect_timeout=3"
        );
        assert!(tokio_postgres::Config::from_str(&rest).is_ok());
        let tls = found.under(None, CERT_PARAMS).unwrap();
        assert_eq!(tls.mode(), SslMode::VerifyCa);
        assert_eq!(tls.ca(), Some(Path::new("/etc/my ca.pem")));
        assert_eq!(
            tls.client_cert(),
            Some((Path::new("/c.pem"), Path::new("/k.pem")))
        );

        let (rest, found) = UrlTls::split("postgres://u@h/db?sslmode=disable").unwrap();
        assert_eq!(rest, "postgres://u@h/db");
        assert_eq!(
            found.under(None, CERT_PARAMS).unwrap().mode(),
            SslMode::Disable
        );
        let (rest, found) = UrlTls::split("postgres://u@h/db").unwrap();
        assert_eq!(rest, "postgres://u@h/db");
        assert_eq!(
            found.under(None, CERT_PARAMS).unwrap(),
            Tls::new(SslMode::Prefer)
        );
    }

    #[test]
    fn what_the_url_leaves_out_is_filled_as_the_sqlx_driver_fills_it() {
        // No user, host, port or database: the sqlx driver takes them from `PG*` variables
        // and the defaults (the operating system's user, the local socket or `localhost`).
        let url = "postgres:///";
        let sqlx: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
        let native = NativeConnect::new(url, None, Login::Url).unwrap();
        assert_eq!(native.config.get_user(), Some(sqlx.get_username()));
        assert_eq!(native.config.get_ports(), [sqlx.get_port()]);
        assert_eq!(native.config.get_dbname(), sqlx.get_database());
        let host = match native.config.get_hosts() {
            [Host::Tcp(host)] => host.clone(),
            #[cfg(unix)]
            [Host::Unix(dir)] => dir.display().to_string(),
            other => panic!("{other:?}"),
        };
        assert_eq!(host, sqlx.get_host());
        // Server options in both of sqlx's forms (the CLI writes `options[search_path]`).
        let url =
            "postgres://u@h/db?options=-c%20work_mem%3D8MB&options%5Bsearch_path%5D=%22My%20S%22";
        let sqlx: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
        let native = NativeConnect::new(url, None, Login::Url).unwrap();
        assert_eq!(native.config.get_options(), sqlx.get_options());
        assert!(
            native.config.get_options().unwrap().contains("search_path"),
            "{:?}",
            native.config.get_options()
        );
        // What the URL says stays.
        let native =
            NativeConnect::new("postgres://app@db.example:6543/shop", None, Login::Url).unwrap();
        assert_eq!(native.config.get_user(), Some("app"));
        assert_eq!(native.config.get_ports(), [6543]);
        assert_eq!(native.config.get_dbname(), Some("shop"));
        assert_eq!(native.address.to_string(), "db.example:6543");
    }

    #[test]
    fn the_pools_tls_is_over_the_urls_as_on_the_sqlx_driver() {
        let url = "postgres://u@h/db?sslmode=require&sslrootcert=/url-ca.pem";
        // The mode always; the CA and client certificate where `Tls` has them.
        let (_, found) = UrlTls::split(url).unwrap();
        let tls = found
            .under(Some(&Tls::new(SslMode::VerifyFull)), CERT_PARAMS)
            .unwrap();
        assert_eq!(tls.mode(), SslMode::VerifyFull);
        assert_eq!(tls.ca(), Some(Path::new("/url-ca.pem")));
        let (_, found) = UrlTls::split(url).unwrap();
        let pool = Tls::new(SslMode::VerifyCa)
            .ca_file("/pool-ca.pem")
            .client_certificate("/c.pem", "/k.pem");
        assert_eq!(found.under(Some(&pool), CERT_PARAMS).unwrap(), pool);

        let (_, found) = UrlTls::split("postgres://u@h/db?sslkey=/k.pem").unwrap();
        let err = found.under(None, CERT_PARAMS).unwrap_err().to_string();
        assert!(err.contains("only one of `sslcert` and `sslkey`"), "{err}");
        let err = UrlTls::split("postgres://u@h/db?sslmode=sometimes")
            .expect_err("an unknown mode")
            .to_string();
        assert!(err.contains("unknown TLS mode `sometimes`"), "{err}");
    }
}
