//! The errors of object storage, typed so that callers can tell a missing object from an
//! unreachable server, bad credentials, a missing bucket or a wrong encryption key.

use std::error::Error as StdError;

/// What went wrong in a storage operation. Every message names the store and says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The store URL or an option is invalid.
    #[error("storage configuration: {0}")]
    Config(String),

    /// A blob names a store that the [`Storage`](crate::Storage) does not have.
    #[error(
        "no store named `{0}`: add it with `Storage::with_store` before reading blobs that use it"
    )]
    UnknownStore(String),

    /// The object does not exist.
    #[error("object `{key}` not found in store `{store}`")]
    NotFound {
        /// The store's name.
        store: String,
        /// The object's key.
        key: String,
    },

    /// The bucket (S3, GCS) or container (Azure) does not exist.
    #[error(
        "bucket or container of store `{store}` does not exist: create it, or fix the store URL ({source})"
    )]
    BucketNotFound {
        /// The store's name.
        store: String,
        /// The store's error.
        #[source]
        source: object_store::Error,
    },

    /// The server refused the credentials (missing, wrong or lacking permission).
    #[error(
        "store `{store}` refused the credentials: check the access key/secret, account key or service account ({source})"
    )]
    Unauthorized {
        /// The store's name.
        store: String,
        /// The store's error.
        #[source]
        source: object_store::Error,
    },

    /// The server could not be reached (connection refused or reset, timeout).
    #[error(
        "store `{store}` is unreachable: check that the server runs and the endpoint is right; nothing was committed ({source})"
    )]
    Unavailable {
        /// The store's name.
        store: String,
        /// The store's error.
        #[source]
        source: object_store::Error,
    },

    /// The store cannot do this (e.g. presigned URLs on the local file system).
    #[error("store `{store}` does not support {what}")]
    Unsupported {
        /// The store's name.
        store: String,
        /// What was asked for, and what to do instead.
        what: String,
    },

    /// Any other error of the store.
    #[error("store `{store}`: {source}")]
    Store {
        /// The store's name.
        store: String,
        /// The store's error.
        #[source]
        source: object_store::Error,
    },

    /// Reading the data to upload, or writing downloaded data, failed.
    #[error("I/O error while {doing}: {source}")]
    Io {
        /// What was being done.
        doing: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The object's content does not match the blob (SHA-256 or size differ): it was changed
    /// or truncated after upload.
    #[error(
        "object `{key}` in store `{store}` does not match its blob: {detail}; the object was changed or truncated outside the ORM"
    )]
    Integrity {
        /// The store's name.
        store: String,
        /// The object's key.
        key: String,
        /// What differs.
        detail: String,
    },

    /// The blob is encrypted with a key id the key provider does not know.
    #[error(
        "the blob is encrypted with key `{key_id}`, which the key provider does not have: add that key to the provider"
    )]
    UnknownKey {
        /// The key id stored with the blob.
        key_id: String,
    },

    /// Decryption failed: the key under the blob's key id is not the one it was encrypted
    /// with, or the object was tampered with. No plaintext is returned.
    #[error(
        "cannot decrypt `{key}` with key `{key_id}`: the key provider's key for this id is not the one the blob was encrypted with, or the object was altered"
    )]
    WrongKey {
        /// The object's key.
        key: String,
        /// The key id stored with the blob.
        key_id: String,
    },

    /// A stored object is not in the format its blob says (bad frame, bad zstd data).
    #[error("object `{key}` is corrupt: {detail}")]
    Corrupt {
        /// The object's key.
        key: String,
        /// What is wrong.
        detail: String,
    },

    /// The blob is not marked public, or its store has no public base URL.
    #[error("no public URL for `{key}` in store `{store}`: {reason}")]
    NotPublic {
        /// The store's name.
        store: String,
        /// The object's key.
        key: String,
        /// Why.
        reason: String,
    },

    /// A database step (the sweeper's reads, a row's insert or delete) failed.
    #[error(transparent)]
    Database(#[from] polyorm_core::Error),
}

/// `Result` with a [`StorageError`].
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

impl StorageError {
    /// Classifies an `object_store` error of store `store` on object `key`.
    pub(crate) fn from_store(store: &str, key: &str, error: object_store::Error) -> Self {
        let store = store.to_owned();
        let text = chain_text(&error);
        let lower = text.to_ascii_lowercase();
        if is_unreachable(&error) {
            return StorageError::Unavailable {
                store,
                source: error,
            };
        }
        if lower.contains("nosuchbucket")
            || lower.contains("containernotfound")
            || lower.contains("bucket does not exist")
            || lower.contains("no such bucket")
            || lower.contains("specified bucket does not exist")
        {
            return StorageError::BucketNotFound {
                store,
                source: error,
            };
        }
        match error {
            object_store::Error::NotFound { .. } => StorageError::NotFound {
                store,
                key: key.to_owned(),
            },
            object_store::Error::Unauthenticated { .. }
            | object_store::Error::PermissionDenied { .. } => StorageError::Unauthorized {
                store,
                source: error,
            },
            _ if lower.contains("invalidaccesskeyid")
                || lower.contains("signaturedoesnotmatch")
                || lower.contains("authorizationfailure")
                || lower.contains("authenticationfailed")
                || lower.contains("403 forbidden") =>
            {
                StorageError::Unauthorized {
                    store,
                    source: error,
                }
            }
            object_store::Error::NotSupported { .. }
            | object_store::Error::NotImplemented { .. } => StorageError::Unsupported {
                store,
                what: error.to_string(),
            },
            _ => StorageError::Store {
                store,
                source: error,
            },
        }
    }

    /// Whether the error means the server could not be reached (worth retrying later).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StorageError::Unavailable { .. })
    }
}

/// The error and all its sources, as one line.
fn chain_text(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// Whether a connection could not be made or was lost (an I/O error of the connection kind
/// anywhere in the chain, or the HTTP client saying so).
fn is_unreachable(error: &(dyn StdError + 'static)) -> bool {
    use std::io::ErrorKind::*;
    let mut current: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                ConnectionRefused
                    | ConnectionReset
                    | ConnectionAborted
                    | BrokenPipe
                    | TimedOut
                    | UnexpectedEof
                    | NotConnected
            )
        {
            return true;
        }
        let text = e.to_string().to_ascii_lowercase();
        if text.contains("connection refused")
            || text.contains("error sending request")
            || text.contains("connection reset")
            || text.contains("connection closed before message completed")
            || text.contains("tcp connect error")
            || text.contains("operation timed out")
        {
            return true;
        }
        current = e.source();
    }
    false
}
