//! Where the archive encryption key comes from: a raw key, an environment variable, or a
//! credentials [`Secret`](polyorm_core::credentials::Secret) (a file, a secret manager).
//!
//! Keys are AES-256 keys: 32 bytes, written as 64 hex digits where they are text. The
//! provider's key id is recorded in the manifest, so a key rotated since can still be given
//! (as an older key of [`StaticKeys::with_old`]).

use std::sync::Arc;

pub use polyorm_storage::codec::{KeyProvider, StaticKeys};

use crate::error::{BackupError, Result};

/// Parses 64 hex digits into a 32-byte key.
///
/// # Errors
/// [`BackupError::Config`] saying what is wrong with the text (it is never echoed).
pub fn parse_key(text: &str) -> Result<[u8; 32]> {
    let bytes = hex::decode(text.trim()).map_err(|_| {
        BackupError::Config(
            "an archive key is 64 hex digits (32 bytes); the text given is not hex \
             (make one with `openssl rand -hex 32`)"
                .to_owned(),
        )
    })?;
    bytes.try_into().map_err(|b: Vec<u8>| {
        BackupError::Config(format!(
            "an archive key is 32 bytes (64 hex digits), this one has {} bytes",
            b.len()
        ))
    })
}

/// The key `id` from a raw key.
pub fn raw_key(id: &str, key: [u8; 32]) -> Arc<dyn KeyProvider> {
    Arc::new(StaticKeys::new(id, key))
}

/// The key in the environment variable `var` (64 hex digits), with the variable's name as
/// its id.
///
/// # Errors
/// [`BackupError::Config`] when the variable is unset or not a key.
pub fn env_key(var: &str) -> Result<Arc<dyn KeyProvider>> {
    let text = std::env::var(var).map_err(|_| {
        BackupError::Config(format!(
            "the archive key variable `{var}` is not set: export it as 64 hex digits"
        ))
    })?;
    let key = parse_key(&text).map_err(|e| BackupError::Config(format!("`{var}`: {e}")))?;
    Ok(raw_key(var, key))
}

/// The key held by a credentials secret (64 hex digits), under `id`.
///
/// # Errors
/// [`BackupError::Config`] when the secret is not a key.
pub fn secret_key(
    id: &str,
    secret: &polyorm_core::credentials::Secret,
) -> Result<Arc<dyn KeyProvider>> {
    Ok(raw_key(id, parse_key(secret.expose())?))
}
