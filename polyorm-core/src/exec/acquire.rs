//! Where a pooled connection goes ([`Address`], read from sqlx's connect options by
//! [`Remote`]) and why one could not be opened ([`ConnectFailure`]): a refusal named with
//! `host:port`, which [`ConnPool`](super::conn_pool::ConnPool) waits out for a patient caller
//! and reports at once otherwise.

use std::time::Duration;

use crate::error::{BoxError, Error};

/// Where a pool's connections go.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Address {
    Tcp {
        host: String,
        port: u16,
    },
    #[cfg_attr(not(unix), allow(dead_code))]
    Unix(std::path::PathBuf),
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Address::Tcp { host, port } => write!(f, "{host}:{port}"),
            Address::Unix(path) => write!(f, "unix socket {}", path.display()),
        }
    }
}

/// A backend whose connections go to a network address.
pub(crate) trait Remote: super::connect::TlsLogin {
    /// The address the pool's connect options point at.
    fn address(options: &<Self::Connection as sqlx::Connection>::Options) -> Address;
}

#[cfg(feature = "postgres")]
impl Remote for sqlx::Postgres {
    fn address(options: &sqlx::postgres::PgConnectOptions) -> Address {
        match options.get_socket() {
            // A directory: the server's socket in it is named after the port.
            Some(dir) => Address::Unix(dir.join(format!(".s.PGSQL.{}", options.get_port()))),
            None => Address::Tcp {
                host: options.get_host().to_owned(),
                port: options.get_port(),
            },
        }
    }
}

#[cfg(feature = "mysql")]
impl Remote for sqlx::MySql {
    fn address(options: &sqlx::mysql::MySqlConnectOptions) -> Address {
        match options.get_socket() {
            Some(path) => Address::Unix(path.clone()),
            None => Address::Tcp {
                host: options.get_host().to_owned(),
                port: options.get_port(),
            },
        }
    }
}

/// Why no connection could be opened to an address: the source of [`Error::Connection`].
#[derive(Debug)]
pub(crate) struct ConnectFailure {
    address: Address,
    cause: Cause,
    /// How long the pool kept trying, when it did.
    waited: Option<Duration>,
}

#[derive(Debug)]
enum Cause {
    Io(std::io::Error),
    Tls(BoxError),
}

impl std::fmt::Display for ConnectFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let address = &self.address;
        match &self.cause {
            Cause::Io(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                write!(f, "connection refused by {address} (nothing listens there)")?;
            }
            Cause::Io(e) if e.to_string().contains("lookup address") => {
                write!(f, "the host name of {address} does not resolve ({e})")?;
            }
            Cause::Io(e) => write!(f, "cannot reach {address}: {e}")?,
            Cause::Tls(e) => match crate::tls::explain_failure(&**e) {
                Some(cause) => write!(f, "the TLS handshake with {address} failed: {cause} ({e})")?,
                None => write!(f, "the TLS handshake with {address} failed: {e}")?,
            },
        }
        if let Some(waited) = self.waited {
            write!(
                f,
                ", still after {} of retries (the pool's `acquire_timeout`)",
                seconds(waited)
            )?;
        }
        Ok(())
    }
}

fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

impl std::error::Error for ConnectFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.cause {
            Cause::Io(e) => Some(e),
            Cause::Tls(e) => Some(&**e),
        }
    }
}

fn connection_error(address: &Address, cause: Cause, waited: Option<Duration>) -> Error {
    Error::Connection {
        source: Box::new(ConnectFailure {
            address: address.clone(),
            cause,
            waited,
        }),
    }
}

/// The error for a connection to `address` that could not be opened because `io` failed (a
/// refusal, an unknown host): [`Error::Connection`] with a [`ConnectFailure`], which the pool
/// waits out where the caller is patient.
#[cfg(any(feature = "postgres-native", feature = "mysql-native"))]
pub(crate) fn io_connect_error(io: std::io::Error, address: &Address) -> Error {
    connection_error(address, Cause::Io(io), None)
}

/// The error for a connection to `address` whose TLS handshake failed (`error` holds the cause:
/// rustls' certificate error, or a server without TLS): [`Error::Connection`] with a
/// [`ConnectFailure`] that names the cause and what to do.
#[cfg(any(feature = "postgres-native", feature = "mysql-native"))]
pub(crate) fn tls_connect_error(error: BoxError, address: &Address) -> Error {
    connection_error(address, Cause::Tls(error), None)
}

/// Classifies an error the pool returned while opening a connection to `address` (an I/O
/// error there broke the handshake, never a statement).
pub(crate) fn connect_error(error: sqlx::Error, address: &Address) -> Error {
    match error {
        // sqlx reports rustls' certificate errors as I/O errors of the handshake.
        sqlx::Error::Io(e) if crate::tls::explain_failure(&e).is_some() => {
            connection_error(address, Cause::Tls(Box::new(e)), None)
        }
        sqlx::Error::Io(e) => connection_error(address, Cause::Io(e), None),
        sqlx::Error::Tls(e) => connection_error(address, Cause::Tls(e), None),
        other => super::from_sqlx(other),
    }
}

/// The error when the acquire timeout passed with every connection in use.
pub(crate) fn gave_up(waited: Duration) -> Error {
    Error::Timeout {
        source: format!(
            "every connection of the pool stayed in use for {} (the pool's `acquire_timeout`); \
             raise `max_connections` or `acquire_timeout`, or hold connections for less time",
            seconds(waited)
        )
        .into(),
    }
}

/// Whether `error` is a server refusing connections (nothing listens at its address), which a
/// patient acquire waits out.
pub(crate) fn refusal(error: &Error) -> bool {
    match error {
        Error::Connection { source } => source.downcast_ref::<ConnectFailure>().is_some_and(|f| {
            matches!(&f.cause, Cause::Io(e) if e.kind() == std::io::ErrorKind::ConnectionRefused)
        }),
        _ => false,
    }
}

/// `error` (a refusal) saying how long the pool kept trying.
pub(crate) fn with_wait(error: Error, waited: Duration) -> Error {
    match error {
        Error::Connection { source } => match source.downcast::<ConnectFailure>() {
            Ok(mut failure) => {
                failure.waited = Some(waited);
                Error::Connection { source: failure }
            }
            Err(source) => Error::Connection { source },
        },
        other => other,
    }
}
