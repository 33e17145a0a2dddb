//! The native MySQL/MariaDB driver (feature `mysql-native`), on mysql_async: the binary
//! protocol both ways, each statement prepared once per connection ([`conn`]), rows decoded
//! from mysql_async's row into the generated decoders ([`decode`]), the server's errors mapped
//! to the same [`Error`](crate::Error) variants as on the sqlx driver ([`errors`]).
//!
//! It is the default MySQL/MariaDB driver when built ([`MySqlDriver::Native`](crate::MySqlDriver::Native));
//! a pool picks sqlx's instead with
//! [`PoolOptions::mysql_driver`](crate::PoolOptions::mysql_driver)`(`[`MySqlDriver::Sqlx`](crate::MySqlDriver::Sqlx)`)`,
//! and a pool whose TLS mode is `verify-ca` runs on sqlx's (see `PoolOptions::connect_mysql_native`).
//! The connections live in the ORM's own pool ([`connect`]); each connection's socket is read
//! and written by the task of the statement that runs on it. TLS is rustls (ring) with the
//! sqlx driver's `ssl-mode`s.

mod bind;
pub(crate) mod conn;
pub(crate) mod connect;
pub(crate) mod decode;
mod errors;

pub(crate) use conn::MyNativeConn;
pub(crate) use connect::NativeConnect;
pub(crate) use decode::MyNativeDecode;
pub(crate) use errors::MyError;
