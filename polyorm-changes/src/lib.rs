//! # polyorm-changes
//!
//! Typed change streams: every insert, update and delete committed to a table, from any
//! writer (the ORM, `psql`, another service, a migration), decoded into the table's model by
//! the model's own generated decoder.
//!
//! ```no_run
//! # #[cfg(feature = "postgres")]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use polyorm_changes::{Change, ModelChanges, postgres::PgSource};
//!
//! #[derive(polyorm::Model, Debug)]
//! #[orm(table = "users")]
//! struct User {
//!     #[orm(primary_key)]
//!     id: i64,
//!     name: String,
//! }
//!
//! let source = PgSource::new("postgres://app@db/app", "app_users");
//! let mut stream = User::changes(&source).start().await?;
//! while let Some(event) = stream.next().await {
//!     let event = event?;
//!     if let Change::Insert(user) = &event.change {
//!         println!("{} joined at {}", user.name, event.meta.position);
//!     }
//!     stream.ack(event.position()).await?; // processed: never delivered again
//! }
//! # Ok(()) }
//! ```
//!
//! **Delivery guarantee:** every committed change is delivered at least once, in commit
//! order per source; after a crash or restart, changes after the last acknowledged position
//! are delivered again (and nothing before it), rolled-back transactions are never delivered.
//!
//! Sources: [`postgres`] (logical decoding with `wal2json`; feature `postgres`), [`mysql`]
//! (MariaDB/MySQL row-based binlog; feature `mysql`), [`mongo`] (change-stream events; feature
//! `mongodb`). Layers: [`ChangeStream::invalidate`] (feature `cache`) and [`redis`]
//! (feature `redis`).

mod decode;
mod error;
mod event;
mod raw;
mod source;
mod stream;

#[cfg(feature = "cache")]
mod cache;
#[cfg(feature = "mongodb")]
pub mod mongo;
#[cfg(feature = "mysql")]
pub mod mysql;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod redis;

pub use decode::decode_change;
pub use error::{Error, Result};
pub use event::{Change, ChangeItem, ChangeKind, ChangeMeta, Event, Key, Position};
pub use raw::{RawChange, RawRow, RawValue};
pub use source::{Acknowledger, BoxFuture, ChangeSource, Opened, Reader, TableRef};
pub use stream::{ChangeStream, ModelChanges, StreamBuilder, StreamStats};
