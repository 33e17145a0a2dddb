//! Migrations for the `polyorm` crate: the models' descriptors are diffed against the snapshot of
//! the last migration (offline) or the live database (introspection), the difference becomes
//! neutral [`Operation`]s rendered to reviewable SQL per dialect, and a runner applies them
//! under a lock, with a history table, checksums and drift detection.
//!
//! Use it through the CLI (`cli::run`, feature `cli`) from a binary of your crate, or call
//! [`Migrator`] directly (as `examples/quickstart.rs` does at start-up).

#[cfg(feature = "cli")]
pub mod cli;
pub mod diff;
mod error;
pub mod files;
#[cfg(feature = "mongodb")]
mod infer;
pub mod introspect;
pub mod lineage;
pub mod pull;
pub mod render;
pub mod rows;
pub mod runner;
pub mod schema;
mod split;
pub mod validate;

pub use diff::{Operation, diff};
pub use error::{Error, Result};
pub use files::{GenerateOptions, Generated, Migration, MigrationKind, generate};
pub use lineage::{MergeOptions, merge};
pub use runner::{Migrator, Status};
pub use schema::Schema;
pub use validate::Validation;
