//! The native PostgreSQL driver (feature `postgres-native`), on tokio-postgres: the binary
//! protocol both ways, each statement prepared once per connection ([`conn`], with the
//! parameter types the values declare, as sqlx declares them), rows decoded straight from
//! the wire buffer into the generated decoders ([`decode`]), the server's errors mapped to the
//! same [`Error`](crate::Error) variants as on the sqlx driver ([`errors`]).
//!
//! It is the default PostgreSQL driver when built ([`PostgresDriver::Native`](crate::PostgresDriver::Native));
//! a pool picks sqlx's instead with
//! [`PoolOptions::postgres_driver`](crate::PoolOptions::postgres_driver)`(`[`PostgresDriver::Sqlx`](crate::PostgresDriver::Sqlx)`)`.
//! The connections live in the ORM's own pool ([`connect`]). Each connection's socket is read
//! and written by the task of the statement that runs on it ([`conn`]): no I/O task of its own,
//! no hand-off between tasks per statement. TLS is rustls, with the sqlx driver's `sslmode`s
//! ([`tls`]).

mod bind;
pub(crate) mod conn;
pub(crate) mod connect;
pub(crate) mod decode;
mod errors;
mod tls;

pub(crate) use conn::PgNativeConn;
pub(crate) use connect::NativeConnect;
pub(crate) use decode::PgNativeDecode;
#[cfg(any(
    feature = "distributed",
    all(feature = "topology", any(feature = "postgres", feature = "mysql"))
))]
pub(crate) use errors::PgError;
