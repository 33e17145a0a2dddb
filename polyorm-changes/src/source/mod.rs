//! What a change source implements: open a reader over some tables, hand out an acknowledger.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use polyorm_core::exec::Backend;

use crate::error::Result;
use crate::event::Position;
use crate::raw::RawChange;

/// A boxed future (the source traits are object-safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What [`ChangeSource::open`] gives: the reader and its acknowledger.
pub type Opened = (Box<dyn Reader>, Arc<dyn Acknowledger>);

/// A table a stream reads: its name and, optionally, its schema (PostgreSQL) or database
/// (MariaDB); `None` matches the table in any schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRef {
    /// Schema or database, if it matters.
    pub schema: Option<String>,
    /// Table name.
    pub table: String,
}

/// A database whose committed changes can be read: PostgreSQL through a replication slot
/// ([`crate::postgres::PgSource`]), and so on.
pub trait ChangeSource: Send + Sync {
    /// The database kind (decoders branch on it for some types).
    fn backend(&self) -> Backend;

    /// Opens a reader of the changes to `tables`, starting after the last acknowledged
    /// position (or at the source's current end when nothing was acknowledged yet), and the
    /// acknowledger that records positions for it.
    fn open(&self, tables: Vec<TableRef>) -> BoxFuture<'_, Result<Opened>>;
}

/// Reads committed changes in commit order.
pub trait Reader: Send {
    /// The next changes after those already returned: whole transactions, about `max`
    /// changes (more when one transaction is larger), waiting a little (the source's poll
    /// interval) when none are there yet. An empty batch is fine; errors end nothing (the
    /// stream reports them and calls again).
    fn next_batch(&mut self, max: usize) -> BoxFuture<'_, Result<Vec<RawChange>>>;
}

/// Records acknowledged positions durably, so that a restarted reader starts after them.
pub trait Acknowledger: Send + Sync {
    /// Everything up to and including `position` is processed.
    fn ack<'a>(&'a self, position: &'a Position) -> BoxFuture<'a, Result<()>>;
}
