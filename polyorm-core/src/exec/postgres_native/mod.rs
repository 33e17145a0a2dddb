//! The native PostgreSQL driver (feature `postgres-native`), on tokio-postgres: the binary
//! protocol both ways, each statement prepared once per connection ([`conn`], with the
//! parameter types the values declare, as sqlx declares them), rows decoded straight from
//! the wire buffer into the generated decoders ([`decode`]), the server's errors mapped to the
//! same [`Error`](crate::Error) variants as on the sqlx driver ([`errors`]).
//!
//! A pool picks it with
//! [`PoolOptions::postgres_driver`](crate::PoolOptions::postgres_driver)`(`[`PostgresDriver::Native`](crate::PostgresDriver::Native)`)`;
//! the connections live in the ORM's own pool ([`connect`]). It speaks no TLS: a URL or
//! [`Tls`](crate::tls::Tls) that requires it is refused when the pool is made.

mod bind;
pub(crate) mod conn;
pub(crate) mod connect;
pub(crate) mod decode;
mod errors;

pub(crate) use conn::PgNativeConn;
pub(crate) use connect::NativeConnect;
pub(crate) use decode::PgNativeDecode;
