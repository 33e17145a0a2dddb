//! Taking a connection out of a sqlx pool on a server reached over the network (PostgreSQL,
//! MySQL/MariaDB): fail at once when the server refuses connections where the caller wants an
//! answer now ([`Wait::FailFast`]: `Db::connect`, `Db::health`), reconnect promptly after it
//! comes back otherwise ([`Wait::Patient`]), and name the cause and `host:port` either way.
//!
//! sqlx's pool hides a refused connection: it retries until the acquire timeout (30 s by
//! default) with a back-off that doubles up to a fifth of that timeout, then reports only
//! "pool timed out". So while the pool is still waiting after a short while, the address is
//! probed with a bare TCP (or Unix socket) connect: a refusal is the cause to report, or, when
//! waiting patiently, a reason to start the pool's attempt again every
//! [`RECONNECT_EVERY`], which resets its back-off; a server that accepts again after a refusal
//! gets a fresh attempt at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;

pub(crate) use super::sql_driver::Wait;
use crate::error::{BoxError, Error, Result};

/// While the server refuses connections, a waiting query starts a fresh connection attempt
/// this often, so it reconnects within about this long (less sqlx's first retries) after the
/// server accepts again.
pub(crate) const RECONNECT_EVERY: Duration = Duration::from_millis(250);
/// A [`Wait::FailFast`] caller probes the server when the pool has not answered after this.
const FAIL_FAST_AFTER: Duration = Duration::from_millis(20);
/// Longest wait between two probes while the server accepts connections (a slow handshake or
/// a pool whose connections are all in use).
const MAX_CHECK: Duration = Duration::from_secs(2);
/// A probe that gets no answer within this gives no verdict.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// A probe's verdict is reused by other waiters for this long (one probe per server and
/// interval, however many queries wait).
const PROBE_REUSE: Duration = Duration::from_millis(100);

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
pub(crate) trait Remote: sqlx::Database {
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
    NoAnswer(Duration),
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
            Cause::Tls(e) => write!(f, "the TLS handshake with {address} failed: {e}")?,
            Cause::NoAnswer(after) => {
                write!(f, "no answer from {address} within {}", seconds(*after))?;
            }
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
            Cause::NoAnswer(_) => None,
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

/// Classifies an error the pool returned while opening a connection to `address` (an I/O
/// error there broke the handshake, never a statement).
fn connect_error(error: sqlx::Error, address: &Address) -> Error {
    match error {
        sqlx::Error::Io(e) => connection_error(address, Cause::Io(e), None),
        sqlx::Error::Tls(e) => connection_error(address, Cause::Tls(e), None),
        other => super::from_sqlx(other),
    }
}

/// Takes a connection from `pool`, waiting as `wait` says for a server that refuses them.
pub(crate) async fn acquire<DB: Remote>(
    pool: &sqlx::Pool<DB>,
    wait: Wait,
) -> Result<PoolConnection<DB>> {
    let started = Instant::now();
    let deadline = started + pool.options().get_acquire_timeout();
    let mut attempt = std::pin::pin!(pool.acquire());
    let mut check = match wait {
        Wait::Patient => RECONNECT_EVERY,
        Wait::FailFast => FAIL_FAST_AFTER,
    };
    let mut address = None;
    // The last refusal (or silence) seen by a probe, until the server accepts again.
    let mut down: Option<Cause> = None;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let outcome = tokio::time::timeout(check.min(remaining), attempt.as_mut()).await;
        if let Ok(Ok(conn)) = outcome {
            return Ok(conn);
        }
        // Only a slow or failed acquire needs the address (the hot path allocates nothing).
        let address = address.get_or_insert_with(|| DB::address(&pool.connect_options()));
        match outcome {
            Ok(Ok(conn)) => return Ok(conn),
            Ok(Err(sqlx::Error::PoolTimedOut)) => {
                return Err(gave_up(address, down, started.elapsed()));
            }
            Ok(Err(e)) => return Err(connect_error(e, address)),
            Err(_) if Instant::now() >= deadline => {
                return Err(gave_up(address, down, started.elapsed()));
            }
            Err(_) => {}
        }
        match probe(address).await {
            Verdict::Refused(e) => {
                if wait == Wait::FailFast {
                    return Err(connection_error(address, Cause::Io(e), None));
                }
                down = Some(Cause::Io(e));
                // A fresh attempt retries at once, then after 10, 20, 40… ms.
                attempt.set(pool.acquire());
                check = RECONNECT_EVERY;
            }
            Verdict::NoAnswer => {
                down = Some(Cause::NoAnswer(PROBE_TIMEOUT));
                check = (check * 2).min(MAX_CHECK);
            }
            Verdict::Accepting => {
                if down.take().is_some() {
                    // Back after an outage: connect now rather than after sqlx's back-off.
                    attempt.set(pool.acquire());
                    check = RECONNECT_EVERY;
                } else {
                    // A slow handshake, or every connection in use: keep waiting.
                    check = (check * 2).min(MAX_CHECK);
                }
            }
        }
    }
}

/// The error when the acquire timeout passed: the server's refusal if a probe saw one, else
/// a busy pool.
fn gave_up(address: &Address, down: Option<Cause>, waited: Duration) -> Error {
    match down {
        Some(cause) => connection_error(address, cause, Some(waited)),
        None => Error::Timeout {
            source: Box::new(sqlx::Error::PoolTimedOut),
        },
    }
}

enum Verdict {
    Accepting,
    Refused(std::io::Error),
    NoAnswer,
}

/// Whether something accepts connections at `address`; a verdict younger than
/// [`PROBE_REUSE`] is reused.
async fn probe(address: &Address) -> Verdict {
    type Seen = (Instant, Option<(std::io::ErrorKind, String)>);
    static RECENT: Mutex<Option<HashMap<Address, Seen>>> = Mutex::new(None);
    let recent = |address: &Address| {
        let map = RECENT.lock().unwrap_or_else(|e| e.into_inner());
        map.as_ref()?
            .get(address)
            .filter(|(at, _)| at.elapsed() < PROBE_REUSE)
            .map(|(_, seen)| seen.clone())
    };
    if let Some(seen) = recent(address) {
        return match seen {
            None => Verdict::Accepting,
            Some((kind, message)) => Verdict::Refused(std::io::Error::new(kind, message)),
        };
    }
    let connected = tokio::time::timeout(PROBE_TIMEOUT, connect(address)).await;
    let seen = match &connected {
        Err(_) => return Verdict::NoAnswer,
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some((e.kind(), e.to_string())),
    };
    RECENT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(HashMap::new)
        .insert(address.clone(), (Instant::now(), seen));
    match connected {
        Ok(Ok(())) => Verdict::Accepting,
        Ok(Err(e)) => Verdict::Refused(e),
        Err(_) => Verdict::NoAnswer,
    }
}

/// Opens (and drops) a bare connection to `address`.
async fn connect(address: &Address) -> std::io::Result<()> {
    match address {
        Address::Tcp { host, port } => {
            let stream = tokio::net::TcpStream::connect((host.as_str(), *port)).await?;
            // A local port in the ephemeral range with no listener can "accept" a connection
            // from itself (TCP simultaneous open): nothing is there.
            if stream.local_addr()? == stream.peer_addr()? {
                return Err(std::io::ErrorKind::ConnectionRefused.into());
            }
        }
        #[cfg(unix)]
        Address::Unix(path) => {
            tokio::net::UnixStream::connect(path).await?;
        }
        #[cfg(not(unix))]
        Address::Unix(path) => {
            return Err(std::io::Error::other(format!(
                "unix sockets are not supported here: {}",
                path.display()
            )));
        }
    }
    Ok(())
}
