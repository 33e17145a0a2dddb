//! Object storage for the `polyorm` crate, on [`object_store`]: S3 (and S3-compatible servers),
//! Google Cloud Storage, Azure Blob Storage, the local file system and memory, configured by
//! URL, with [`Blob`] fields that tie a model's row to its object.
//!
//! See the README's "File storage" section for the whole tour.

mod blob;
pub mod codec;
mod consistency;
mod download;
mod error;
mod lifecycle;
mod ops;
mod presign;
mod resumable;
mod store;
mod upload;

pub use blob::Blob;
pub use codec::{KeyProvider, StaticKeys};
pub use consistency::{AfterCommit, BlobField, SweepReport, Sweeper};
pub use download::BlobStream;
pub use error::{Result, StorageError};
pub use lifecycle::Lifecycle;
pub use ops::ObjectInfo;
pub use resumable::ResumeState;
pub use store::{DEFAULT_CONCURRENCY, DEFAULT_PART_SIZE, Storage, Store, StoreBuilder, StoreKind};
pub use upload::{DEFAULT_CONTENT_TYPE, Progress, ProgressStream, UploadOptions};

/// The `object_store` crate this one is built on.
pub use object_store;
