//! Cache keys: a hash of the backend, the kind of read, the compiled statement and its bound
//! values, the same in every process (SHA-256, truncated to 128 bits).

use polyorm_core::exec::cached::encode_value;
use polyorm_core::{Backend, Compiled};
use sha2::{Digest, Sha256};

/// Which executor method the entry answers (`fetch_optional` keeps at most one row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Read {
    All,
    Optional,
    Count,
}

/// A cache key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Key(pub [u8; 16]);

impl Key {
    pub(crate) fn of(backend: Backend, read: Read, statement: &Compiled) -> Key {
        let mut hasher = Sha256::new();
        hasher.update(b"polyorm-cache/1\0");
        hasher.update(backend.to_string().as_bytes());
        hasher.update([0, read as u8]);
        hasher.update((statement.sql.len() as u64).to_le_bytes());
        hasher.update(statement.sql.as_bytes());
        let mut values = Vec::with_capacity(16 * statement.values.len());
        for value in &statement.values {
            encode_value(value, &mut values);
        }
        hasher.update(&values);
        let digest = hasher.finalize();
        let mut key = [0; 16];
        key.copy_from_slice(&digest[..16]);
        Key(key)
    }

    /// Lower-case hex, for the Redis key.
    pub(crate) fn hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut hex = String::with_capacity(32);
        for b in self.0 {
            hex.push(char::from(DIGITS[usize::from(b >> 4)]));
            hex.push(char::from(DIGITS[usize::from(b & 15)]));
        }
        hex
    }
}
