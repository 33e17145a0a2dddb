//! Opening native MySQL/MariaDB connections for the ORM's pool ([`NativeConnect`]): the URL
//! as the sqlx driver reads it (`mysql://user:password@host:port/db?ssl-mode=…&ssl-ca=…`),
//! TLS with the sqlx driver's modes (the URL's `ssl-mode`, `ssl-ca`, `ssl-cert`, `ssl-key`,
//! then [`Tls`] over them), the session the sqlx driver sets up, and the credentials of the
//! pool's login asked for each connection.

use std::path::PathBuf;
use std::time::Duration;

use mysql_async::{ClientIdentity, Conn, DriverError, IoError, Opts, OptsBuilder, SslOpts};

use super::conn::MyNativeConn;
use super::errors::{MyError, from_mysql_async};
use crate::error::{Error, Result};
use crate::exec::acquire::{Address, io_connect_error, tls_connect_error};
use crate::exec::conn_pool::Connect;
use crate::exec::connect::{Login, open_with_login};
use crate::exec::sql_driver::{SqlDriver, Tracked};
use crate::tls::{SslMode, Tls, UrlTls};

/// Opens native MySQL/MariaDB connections with one URL's settings.
pub(crate) struct NativeConnect {
    /// The URL's server, user, password and database.
    opts: Opts,
    /// The URL's TLS parameters with the pool's [`Tls`] over them.
    tls: Tls,
    /// The session settings every connection starts with (`UrlParams::session_settings`).
    session: String,
    login: Login,
    address: Address,
}

/// The URL's names of the client certificate and key parameters (sqlx's).
const CERT_PARAMS: (&str, &str) = ("ssl-cert", "ssl-key");

/// What the URL's query says beside the server and database, by the sqlx driver's names.
#[derive(Debug, Default)]
struct UrlParams {
    tls: UrlTls,
    socket: Option<String>,
    charset: Option<String>,
    collation: Option<String>,
    timezone: Option<String>,
}

impl UrlParams {
    /// `url` without its query, and what the query says. An unknown parameter is refused, as
    /// a setting the driver would otherwise ignore.
    fn split(url: &str) -> Result<(String, UrlParams)> {
        let Some((base, query)) = url.split_once('?') else {
            return Ok((url.to_owned(), UrlParams::default()));
        };
        let mut found = UrlParams::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = decode(value);
            match decode(key).as_str() {
                "sslmode" | "ssl-mode" => found.tls.mode = Some(value.parse()?),
                "sslca" | "ssl-ca" => found.tls.ca = Some(PathBuf::from(value)),
                "sslcert" | "ssl-cert" => found.tls.cert = Some(PathBuf::from(value)),
                "sslkey" | "ssl-key" => found.tls.key = Some(PathBuf::from(value)),
                "socket" => found.socket = Some(value),
                "charset" => found.charset = Some(value),
                "collation" => found.collation = Some(value),
                "timezone" | "time-zone" => found.timezone = Some(value),
                // sqlx's statement cache size: the native driver keeps its own
                // (`conn::STATEMENT_CACHE`).
                "statement-cache-capacity" => {}
                other => {
                    return Err(Error::Config(format!(
                        "the MySQL URL parameter `{other}` is not one the driver reads; use \
                         ssl-mode, ssl-ca, ssl-cert, ssl-key, socket, charset, collation or \
                         timezone"
                    )));
                }
            }
        }
        Ok((base.to_owned(), found))
    }

    /// The statement that sets up a session as the sqlx driver does: `||` concatenates (the
    /// ORM's SQL uses it), no silent engine substitution, function names followed by a space
    /// read as functions (sqlx's `IGNORE_SPACE` capability), strict mode (a value that does
    /// not fit is an error, never truncated), timestamps in UTC, utf8mb4 both ways.
    fn session_settings(&self) -> String {
        let timezone = self.timezone.as_deref().unwrap_or("+00:00");
        let charset = self.charset.as_deref().unwrap_or("utf8mb4");
        let names = match &self.collation {
            Some(collation) => format!("NAMES {charset} COLLATE {collation}"),
            None => format!("NAMES {charset}"),
        };
        format!(
            "SET sql_mode = (SELECT CONCAT(@@sql_mode, \
             ',PIPES_AS_CONCAT,NO_ENGINE_SUBSTITUTION,IGNORE_SPACE,STRICT_ALL_TABLES')), \
             time_zone = '{}', {names}",
            timezone.replace('\'', "''")
        )
    }
}

/// A query value with its `%XX` escapes (and `+` for a space) decoded, as sqlx reads them.
fn decode(value: &str) -> String {
    percent_encoding::percent_decode_str(&value.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

impl NativeConnect {
    /// The settings of `url` (with `tls` over its TLS parameters), logging in as `login`
    /// says.
    pub(crate) fn new(url: &str, tls: Option<&Tls>, login: Login) -> Result<Self> {
        let (base, mut params) = UrlParams::split(url)?;
        let opts = Opts::from_url(&base).map_err(|e| {
            Error::Config(format!(
                "`{}` is not a MySQL URL the native driver reads ({e}); write \
                 `mysql://user:password@host:3306/database`",
                crate::exec::redact_url(url)
            ))
        })?;
        let tls = std::mem::take(&mut params.tls).under(tls, CERT_PARAMS)?;
        let mut builder = OptsBuilder::from_opts(opts)
            // Its own cache off: the connection keeps its statements (`conn`).
            .stmt_cache_size(0)
            // Connect where the URL says, not to the server's socket file instead.
            .prefer_socket(false)
            // `UPDATE` counts the rows it matched, as on the sqlx driver (and every other
            // dialect), not only those whose values changed.
            .client_found_rows(true);
        if let Some(socket) = &params.socket {
            builder = builder.socket(Some(socket.clone()));
        }
        let opts = Opts::from(builder);
        let address = match opts.socket() {
            Some(socket) => Address::Unix(PathBuf::from(socket)),
            None => Address::Tcp {
                host: opts.ip_or_hostname().to_owned(),
                port: opts.tcp_port(),
            },
        };
        Ok(NativeConnect {
            opts,
            tls,
            session: params.session_settings(),
            login,
            address,
        })
    }

    /// The TLS mode of the URL's parameters with the pool's [`Tls`] over them.
    pub(crate) fn tls_mode(&self) -> SslMode {
        self.tls.mode()
    }

    /// mysql_async's TLS settings for `mode` (`None`: no TLS).
    fn ssl_opts(&self, mode: SslMode) -> Option<SslOpts> {
        let mut ssl = SslOpts::default();
        if let Some(ca) = self.tls.ca() {
            ssl = ssl.with_root_certs(vec![ca.to_path_buf().into()]);
        }
        if let Some((cert, key)) = self.tls.client_cert() {
            ssl = ssl.with_client_identity(Some(ClientIdentity::new(
                cert.to_path_buf().into(),
                key.to_path_buf().into(),
            )));
        }
        Some(match mode {
            SslMode::Disable => return None,
            // Encrypted, the certificate not checked (sqlx's `PREFERRED` and `REQUIRED`).
            SslMode::Prefer | SslMode::Require => ssl.with_danger_accept_invalid_certs(true),
            // Not reached through the pool (see `PoolOptions::connect_mysql_native`).
            SslMode::VerifyCa => ssl.with_danger_skip_domain_validation(true),
            SslMode::VerifyFull => ssl,
        })
    }

    /// Opens one connection logging in as `credentials` (`None`: the URL's).
    async fn open(
        &self,
        credentials: Option<crate::credentials::Credentials>,
    ) -> Result<MyNativeConn> {
        let mode = self.tls.mode();
        let conn = match self.open_with(&credentials, self.ssl_opts(mode)).await {
            // `prefer`: a server without TLS is used without it.
            Err(mysql_async::Error::Driver(DriverError::NoClientSslFlagFromServer))
                if mode == SslMode::Prefer =>
            {
                self.open_with(&credentials, None).await
            }
            other => other,
        }
        .map_err(|e| connect_failure(e, &self.address))?;
        let mut conn = MyNativeConn::new(conn);
        conn.execute_raw(&self.session).await?;
        Ok(conn)
    }

    async fn open_with(
        &self,
        credentials: &Option<crate::credentials::Credentials>,
        ssl: Option<SslOpts>,
    ) -> std::result::Result<Conn, mysql_async::Error> {
        let mut builder = OptsBuilder::from_opts(self.opts.clone()).ssl_opts(ssl);
        if let Some(credentials) = credentials {
            builder = builder
                .user(Some(credentials.user.clone()))
                .pass(Some(credentials.password.expose().to_owned()));
        }
        Conn::new(builder).await
    }
}

/// The error of a connection that could not be opened: a network or TLS failure as a
/// [`ConnectFailure`](crate::exec::acquire::ConnectFailure) naming the address (and the TLS
/// cause), the server's refusal (a login, a database) as the server said it.
fn connect_failure(error: mysql_async::Error, address: &Address) -> Error {
    match &error {
        mysql_async::Error::Io(IoError::Tls(_))
        | mysql_async::Error::Driver(DriverError::NoClientSslFlagFromServer) => {
            tls_connect_error(Box::new(MyError(error)), address)
        }
        mysql_async::Error::Io(IoError::Io(io)) => {
            if crate::tls::explain_failure(io).is_some() {
                return tls_connect_error(Box::new(MyError(error)), address);
            }
            io_connect_error(std::io::Error::new(io.kind(), io.to_string()), address)
        }
        _ => from_mysql_async(error),
    }
}

impl Connect for NativeConnect {
    type Conn = Tracked<MyNativeConn>;

    async fn connect(&self) -> Result<Tracked<MyNativeConn>> {
        open_with_login(&self.login, |credentials| self.open(credentials))
            .await
            .map(Tracked::new)
    }

    async fn ping(conn: &mut Tracked<MyNativeConn>) -> Result<()> {
        let pinged = conn.conn.ping().await;
        conn.note(pinged)
    }

    async fn reset(conn: &mut Tracked<MyNativeConn>) -> Result<()> {
        conn.conn.execute_raw("ROLLBACK").await.map(drop)
    }

    async fn close(conn: Tracked<MyNativeConn>) {
        let closing = conn.conn.close();
        let _ = tokio::time::timeout(Duration::from_secs(2), closing).await;
    }

    fn is_retired(conn: &Tracked<MyNativeConn>) -> bool {
        conn.retired() || conn.conn.is_closed()
    }
}

impl crate::exec::remote_pool::DriverConnect for NativeConnect {
    type Driver = MyNativeConn;
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn the_urls_parameters_are_read_as_the_sqlx_driver_reads_them() {
        let (base, found) = UrlParams::split(
            "mysql://u:p%40ss@h:3307/db?ssl-mode=VERIFY_CA&ssl-ca=%2Fetc%2Fmy+ca.pem\
             &sslcert=/c.pem&ssl-key=/k.pem&charset=utf8mb4&collation=utf8mb4_bin\
             &timezone=%2B02:00&statement-cache-capacity=50",
        )
        .unwrap();
        assert_eq!(base, "mysql://u:p%40ss@h:3307/db");
        let session = found.session_settings();
        let tls = found.tls.under(None, CERT_PARAMS).unwrap();
        assert_eq!(tls.mode(), SslMode::VerifyCa);
        assert_eq!(tls.ca(), Some(Path::new("/etc/my ca.pem")));
        assert_eq!(
            tls.client_cert(),
            Some((Path::new("/c.pem"), Path::new("/k.pem")))
        );
        assert!(session.contains("time_zone = '+02:00'"), "{session}");
        assert!(
            session.contains("NAMES utf8mb4 COLLATE utf8mb4_bin"),
            "{session}"
        );

        let native = NativeConnect::new("mysql://u:p%40ss@h:3307/db", None, Login::Url).unwrap();
        assert_eq!(native.opts.user(), Some("u"));
        assert_eq!(native.opts.pass(), Some("p@ss"));
        assert_eq!(native.opts.db_name(), Some("db"));
        assert_eq!(native.address.to_string(), "h:3307");
        assert_eq!(native.tls.mode(), SslMode::Prefer);

        let err = UrlParams::split("mysql://u@h/db?sslmode=sometimes")
            .expect_err("an unknown mode")
            .to_string();
        assert!(err.contains("unknown TLS mode `sometimes`"), "{err}");
        let err = UrlParams::split("mysql://u@h/db?ssl-key=/k.pem")
            .unwrap()
            .1
            .tls
            .under(None, CERT_PARAMS)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("only one of `ssl-cert` and `ssl-key`"),
            "{err}"
        );
        let err = NativeConnect::new("mysql://u@h/db?pool_max=3", None, Login::Url)
            .err()
            .expect("an unknown parameter")
            .to_string();
        assert!(err.contains("`pool_max`"), "{err}");
    }
}
