//! The native SQLite driver, on rusqlite (bundled libsqlite3): prepared statements kept per
//! connection by the address of their shared SQL text ([`statements`], the driver's one
//! `unsafe` module) or by rusqlite's cache, the ORM's values bound directly, rows decoded straight from the
//! statement into the generated decoders, statements run inline on the calling task with lock
//! waits made asynchronous (see [`conn`] for the bound on blocking), streams on a blocking
//! thread, WAL, and a small pool ([`pool`]).

mod bind;
mod clock;
pub(crate) mod config;
pub(crate) mod conn;
pub(crate) mod decode;
mod errors;
pub(crate) mod inline;
pub(crate) mod pool;
mod statements;

pub(crate) use conn::SqliteConn;
pub(crate) use decode::SqliteDecode;
pub(crate) use errors::from_rusqlite;
pub(crate) use pool::{PooledSqlite, SqliteLease, SqlitePool};
