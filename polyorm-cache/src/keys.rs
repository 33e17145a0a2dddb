//! Keys for encrypting the shared tier's entries (AES-256-GCM): a [`KeyProvider`] names the
//! key new entries are sealed with and finds older ones by id, so that a key can be rotated
//! while entries sealed with the previous one are still read.

use std::collections::HashMap;

/// A 256-bit AES key.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptionKey(pub [u8; 32]);

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EncryptionKey(..)")
    }
}

/// Where the cache gets its encryption keys (a secret store, the environment, a file).
///
/// Called on every store and shared-tier hit: return keys held in memory, refreshed
/// elsewhere, rather than fetching them here.
pub trait KeyProvider: Send + Sync + 'static {
    /// The id and key that new entries are encrypted with.
    fn current(&self) -> (u32, EncryptionKey);

    /// The key with `id`, for entries encrypted before a rotation; `None` once retired (such
    /// entries are then misses).
    fn key(&self, id: u32) -> Option<EncryptionKey>;
}

/// A fixed set of keys: one current, any number of older ones still readable.
///
/// Rotation: deploy `StaticKeys::new(2, new).with_old(1, old)` everywhere, and drop the old
/// key once the entries written with it have expired (their TTL).
#[derive(Debug, Clone)]
pub struct StaticKeys {
    current: (u32, EncryptionKey),
    old: HashMap<u32, EncryptionKey>,
}

impl StaticKeys {
    /// Encrypts with `key`, named `id` in every entry it seals.
    pub fn new(id: u32, key: [u8; 32]) -> Self {
        StaticKeys {
            current: (id, EncryptionKey(key)),
            old: HashMap::new(),
        }
    }

    /// Still decrypts entries sealed with `key` under `id`.
    pub fn with_old(mut self, id: u32, key: [u8; 32]) -> Self {
        self.old.insert(id, EncryptionKey(key));
        self
    }
}

impl KeyProvider for StaticKeys {
    fn current(&self) -> (u32, EncryptionKey) {
        self.current.clone()
    }

    fn key(&self, id: u32) -> Option<EncryptionKey> {
        if id == self.current.0 {
            return Some(self.current.1.clone());
        }
        self.old.get(&id).cloned()
    }
}
