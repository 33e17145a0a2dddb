//! What the shared tier stores for an entry: its bytes, compressed with zstd above a size
//! threshold (the `compression` feature) and encrypted with AES-256-GCM when a key provider
//! is set (the `encryption` feature).
//!
//! Layout: one byte `0xC0 | flags` (1 compressed, 2 encrypted), then for an encrypted value
//! the key id (u32, little-endian), the 12-byte nonce and the ciphertext with its tag (the
//! entry's shared key is the associated data, so an entry cannot be moved under another
//! key), else the (maybe compressed) bytes. Anything that does not open (other format, unknown
//! or wrong key, tampered, plaintext while encryption is on) is a miss, never garbage.

#[cfg(feature = "encryption")]
use std::sync::Arc;

#[cfg(feature = "encryption")]
use crate::keys::KeyProvider;

const MAGIC: u8 = 0xC0;
const COMPRESSED: u8 = 1;
const ENCRYPTED: u8 = 2;

/// Why a stored value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Not in this format (written by another version) or cut short.
    Format,
    /// Encrypted with a key this process does not have, or altered since.
    Decrypt,
    /// Not encrypted, while this cache requires encryption.
    #[cfg_attr(not(feature = "encryption"), allow(dead_code))]
    Plaintext,
    /// Compressed, but does not decompress (or this build has no zstd).
    Decompress,
}

/// How entries are sealed for the shared tier.
#[derive(Clone, Default)]
pub(crate) struct Codec {
    /// Compress values of more than this many bytes.
    #[cfg(feature = "compression")]
    pub(crate) compress_above: Option<usize>,
    #[cfg(feature = "compression")]
    pub(crate) level: i32,
    #[cfg(feature = "encryption")]
    pub(crate) keys: Option<Arc<dyn KeyProvider>>,
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Codec");
        #[cfg(feature = "compression")]
        d.field("compress_above", &self.compress_above);
        #[cfg(feature = "encryption")]
        d.field("encrypted", &self.keys.is_some());
        d.finish()
    }
}

impl Codec {
    /// The stored form of `value`, the entry named `name` in the shared tier.
    #[cfg_attr(not(feature = "encryption"), allow(unused_variables))]
    pub(crate) fn seal(&self, name: &[u8], value: &[u8]) -> Vec<u8> {
        let mut flags = 0;
        let body = self.compress(value, &mut flags);
        #[cfg(feature = "encryption")]
        if let Some(keys) = &self.keys {
            return encrypt(keys.as_ref(), name, flags | ENCRYPTED, &body);
        }
        let mut out = Vec::with_capacity(1 + body.len());
        out.push(MAGIC | flags);
        out.extend_from_slice(&body);
        out
    }

    /// The value sealed by [`seal`](Self::seal), or why it cannot be read.
    #[cfg_attr(not(feature = "encryption"), allow(unused_variables))]
    pub(crate) fn open(&self, name: &[u8], stored: &[u8]) -> Result<Vec<u8>, Refused> {
        let (&head, rest) = stored.split_first().ok_or(Refused::Format)?;
        if head & !(COMPRESSED | ENCRYPTED) != MAGIC {
            return Err(Refused::Format);
        }
        let encrypted = head & ENCRYPTED != 0;
        #[cfg(feature = "encryption")]
        let body = match (&self.keys, encrypted) {
            (Some(keys), true) => decrypt(keys.as_ref(), name, head, rest)?,
            (Some(_), false) => return Err(Refused::Plaintext),
            (None, true) => return Err(Refused::Decrypt),
            (None, false) => rest.to_vec(),
        };
        #[cfg(not(feature = "encryption"))]
        let body = if encrypted {
            return Err(Refused::Decrypt);
        } else {
            rest.to_vec()
        };
        if head & COMPRESSED != 0 {
            decompress(&body)
        } else {
            Ok(body)
        }
    }

    /// `value`, compressed when it is over the threshold and compression pays.
    #[cfg_attr(not(feature = "compression"), allow(unused_variables))]
    fn compress<'a>(&self, value: &'a [u8], flags: &mut u8) -> std::borrow::Cow<'a, [u8]> {
        #[cfg(feature = "compression")]
        if self.compress_above.is_some_and(|n| value.len() > n)
            && let Ok(small) = zstd::bulk::compress(value, self.level)
            && small.len() < value.len()
        {
            *flags |= COMPRESSED;
            return std::borrow::Cow::Owned(small);
        }
        std::borrow::Cow::Borrowed(value)
    }
}

#[cfg(feature = "compression")]
fn decompress(body: &[u8]) -> Result<Vec<u8>, Refused> {
    zstd::stream::decode_all(body).map_err(|_| Refused::Decompress)
}

#[cfg(not(feature = "compression"))]
fn decompress(_body: &[u8]) -> Result<Vec<u8>, Refused> {
    Err(Refused::Decompress)
}

#[cfg(feature = "encryption")]
fn cipher(key: &crate::keys::EncryptionKey) -> aes_gcm::Aes256Gcm {
    use aes_gcm::KeyInit;
    aes_gcm::Aes256Gcm::new(&aes_gcm::Key::<aes_gcm::Aes256Gcm>::from(key.0))
}

#[cfg(feature = "encryption")]
fn encrypt(keys: &dyn KeyProvider, name: &[u8], head: u8, body: &[u8]) -> Vec<u8> {
    use aes_gcm::aead::{Aead, Generate, Payload};
    let (id, key) = keys.current();
    let nonce = aes_gcm::Nonce::generate();
    let aad = associated_data(name, head, id);
    let sealed = cipher(&key)
        .encrypt(
            &nonce,
            Payload {
                msg: body,
                aad: &aad,
            },
        )
        .expect("AES-GCM encrypts any value below 64 GiB");
    let mut out = Vec::with_capacity(1 + 4 + nonce.len() + sealed.len());
    out.push(MAGIC | head);
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    out
}

#[cfg(feature = "encryption")]
fn decrypt(keys: &dyn KeyProvider, name: &[u8], head: u8, rest: &[u8]) -> Result<Vec<u8>, Refused> {
    use aes_gcm::aead::{Aead, Payload};
    let id = u32::from_le_bytes(
        rest.get(..4)
            .ok_or(Refused::Format)?
            .try_into()
            .map_err(|_| Refused::Format)?,
    );
    let nonce = rest.get(4..16).ok_or(Refused::Format)?;
    let nonce = aes_gcm::Nonce::try_from(nonce).map_err(|_| Refused::Format)?;
    let key = keys.key(id).ok_or(Refused::Decrypt)?;
    let aad = associated_data(name, head & !MAGIC, id);
    cipher(&key)
        .decrypt(
            &nonce,
            Payload {
                msg: &rest[16..],
                aad: &aad,
            },
        )
        .map_err(|_| Refused::Decrypt)
}

/// What the tag also authenticates: the entry's name, the flags and the key id.
#[cfg(feature = "encryption")]
fn associated_data(name: &[u8], flags: u8, id: u32) -> Vec<u8> {
    let mut aad = Vec::with_capacity(name.len() + 5);
    aad.push(flags);
    aad.extend_from_slice(&id.to_le_bytes());
    aad.extend_from_slice(name);
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_codec_round_trips_and_refuses_other_formats() {
        let codec = Codec::default();
        let sealed = codec.seal(b"k", b"rows");
        assert_eq!(codec.open(b"k", &sealed), Ok(b"rows".to_vec()));
        // An entry of the format before this one starts with its generation count.
        assert_eq!(codec.open(b"k", &[2, 0, 0, 0, 1]), Err(Refused::Format));
        assert_eq!(codec.open(b"k", &[]), Err(Refused::Format));
    }

    #[cfg(feature = "compression")]
    #[test]
    fn values_above_the_threshold_are_compressed() {
        let codec = Codec {
            compress_above: Some(100),
            level: 3,
            ..Codec::default()
        };
        let big = b"abcdefgh".repeat(100);
        let sealed = codec.seal(b"k", &big);
        assert_eq!(sealed[0], MAGIC | COMPRESSED);
        assert!(sealed.len() < big.len() / 4, "{}", sealed.len());
        assert_eq!(codec.open(b"k", &sealed), Ok(big));
        let small = codec.seal(b"k", b"short");
        assert_eq!(small[0], MAGIC, "under the threshold: stored as is");
    }

    #[cfg(feature = "encryption")]
    #[test]
    fn encrypted_values_open_only_with_their_key_name_and_bytes() {
        use crate::keys::StaticKeys;
        let with = |keys: StaticKeys| Codec {
            keys: Some(Arc::new(keys)),
            ..Codec::default()
        };
        let old = with(StaticKeys::new(1, [7; 32]));
        let sealed = old.seal(b"entry", b"secret rows");
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(old.open(b"entry", &sealed), Ok(b"secret rows".to_vec()));
        assert_eq!(
            old.open(b"other", &sealed),
            Err(Refused::Decrypt),
            "bound to its name"
        );
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(old.open(b"entry", &tampered), Err(Refused::Decrypt));
        let wrong = with(StaticKeys::new(1, [8; 32]));
        assert_eq!(wrong.open(b"entry", &sealed), Err(Refused::Decrypt));
        let rotated = with(StaticKeys::new(2, [9; 32]).with_old(1, [7; 32]));
        assert_eq!(rotated.open(b"entry", &sealed), Ok(b"secret rows".to_vec()));
        let retired = with(StaticKeys::new(2, [9; 32]));
        assert_eq!(retired.open(b"entry", &sealed), Err(Refused::Decrypt));
        let plain = Codec::default().seal(b"entry", b"rows");
        assert_eq!(rotated.open(b"entry", &plain), Err(Refused::Plaintext));
        assert_eq!(
            Codec::default().open(b"entry", &sealed),
            Err(Refused::Decrypt)
        );
    }
}
