//! Compression (zstd) and client-side encryption (AES-256-GCM) of stored objects, in frames,
//! so that both work on streams in constant memory.
//!
//! Layout of an encoded object: the magic `ORMB`, a version byte (1), a flags byte
//! (1 = zstd, 2 = AES-256-GCM), for encrypted objects a 7-byte random nonce prefix; then
//! frames `[u32 big-endian length][payload]`, one per block of at most [`BLOCK`] bytes of
//! content, and a last (possibly empty) frame. A payload is the block, zstd-compressed when
//! flagged, then sealed when flagged with the nonce `prefix ‖ frame number ‖ last-flag` and
//! the key id as associated data (the STREAM construction): frames cannot be reordered,
//! dropped or truncated, nor the key id swapped, without the tag failing.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use aes_gcm::aead::{Aead, Generate, KeyInit, Payload};
use bytes::{Buf, Bytes, BytesMut};

use crate::error::{Result, StorageError};

/// Content bytes per frame.
pub const BLOCK: usize = 1 << 20;
const MAGIC: &[u8; 4] = b"ORMB";
const VERSION: u8 = 1;
const ZSTD: u8 = 1;
const AES: u8 = 2;
const PREFIX: usize = 7;
/// The largest frame a decoder accepts (a block that zstd grew, plus the tag).
const MAX_FRAME: usize = BLOCK + BLOCK / 8 + 1024;

/// Where encryption keys come from (a secret manager, the environment, a file).
///
/// Called once per upload and download; return keys held in memory.
pub trait KeyProvider: Send + Sync + fmt::Debug + 'static {
    /// The id and key that new uploads are encrypted with (the id is stored in the blob).
    fn current(&self) -> (String, [u8; 32]);

    /// The key with `id`, for blobs encrypted before a rotation; `None` if unknown.
    fn key(&self, id: &str) -> Option<[u8; 32]>;
}

/// A fixed set of keys: one current, any number of older ones still readable.
#[derive(Clone)]
pub struct StaticKeys {
    current: String,
    keys: HashMap<String, [u8; 32]>,
}

impl fmt::Debug for StaticKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<_> = self.keys.keys().collect();
        ids.sort();
        f.debug_struct("StaticKeys")
            .field("current", &self.current)
            .field("ids", &ids)
            .finish_non_exhaustive()
    }
}

impl StaticKeys {
    /// Encrypts new uploads with `key`, recorded as `id` in their blobs.
    pub fn new(id: impl Into<String>, key: [u8; 32]) -> Self {
        let id = id.into();
        StaticKeys {
            keys: HashMap::from([(id.clone(), key)]),
            current: id,
        }
    }

    /// Still decrypts blobs encrypted with `key` under `id`.
    pub fn with_old(mut self, id: impl Into<String>, key: [u8; 32]) -> Self {
        self.keys.insert(id.into(), key);
        self
    }
}

impl KeyProvider for StaticKeys {
    fn current(&self) -> (String, [u8; 32]) {
        (self.current.clone(), self.keys[&self.current])
    }

    fn key(&self, id: &str) -> Option<[u8; 32]> {
        self.keys.get(id).copied()
    }
}

/// How an upload encodes its content (also the part encoding of `polyorm-backup`'s archives).
#[derive(Clone, Debug, Default)]
pub struct Encoding {
    /// The zstd level each block is compressed with; `None`: stored as is.
    pub zstd_level: Option<i32>,
    /// The keys blocks are sealed with (AES-256-GCM, the provider's current key); `None`: not
    /// encrypted.
    pub keys: Option<Arc<dyn KeyProvider>>,
}

impl Encoding {
    /// Whether content is stored as is (no compression, no encryption).
    pub fn is_plain(&self) -> bool {
        self.zstd_level.is_none() && self.keys.is_none()
    }
}

/// Encodes content blocks into frames: write [`Encoder::header`], then one
/// [`Encoder::frame`] per block of at most [`BLOCK`] bytes, then an empty last frame.
pub struct Encoder {
    level: Option<i32>,
    seal: Option<(aes_gcm::Aes256Gcm, [u8; PREFIX], String)>,
    counter: u32,
}

impl Encoder {
    /// An encoder for `encoding` (a fresh random nonce prefix when it encrypts).
    pub fn new(encoding: &Encoding) -> Self {
        let seal = encoding.keys.as_ref().map(|keys| {
            let (id, key) = keys.current();
            let nonce = aes_gcm::Nonce::<aes_gcm::aead::consts::U12>::generate();
            let mut prefix = [0; PREFIX];
            prefix.copy_from_slice(&nonce[..PREFIX]);
            (cipher(&key), prefix, id)
        });
        Encoder {
            level: encoding.zstd_level,
            seal,
            counter: 0,
        }
    }

    /// The id of the key this encoder seals with.
    pub fn key_id(&self) -> Option<&str> {
        self.seal.as_ref().map(|(_, _, id)| id.as_str())
    }

    /// The object's header.
    pub fn header(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.push(VERSION);
        let mut flags = 0;
        if self.level.is_some() {
            flags |= ZSTD;
        }
        if self.seal.is_some() {
            flags |= AES;
        }
        out.push(flags);
        if let Some((_, prefix, _)) = &self.seal {
            out.extend_from_slice(prefix);
        }
        out
    }

    /// One frame holding `block` (at most [`BLOCK`] bytes); `last` for the final one.
    pub fn frame(&mut self, block: &[u8], last: bool) -> Result<Vec<u8>> {
        let mut payload = match self.level {
            Some(level) => zstd::bulk::compress(block, level).map_err(|e| StorageError::Io {
                doing: "compressing with zstd".into(),
                source: e,
            })?,
            None => block.to_vec(),
        };
        if let Some((cipher, prefix, id)) = &self.seal {
            let nonce = nonce(prefix, self.counter, last);
            payload = cipher
                .encrypt(
                    &nonce,
                    Payload {
                        msg: &payload,
                        aad: id.as_bytes(),
                    },
                )
                .map_err(|_| StorageError::Config("AES-GCM refused a frame".into()))?;
        }
        self.counter = self.counter.checked_add(1).ok_or_else(|| {
            StorageError::Config("an encoded object holds at most 2^32 MiB".into())
        })?;
        let mut out = Vec::with_capacity(4 + payload.len());
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        out.extend_from_slice(&payload);
        Ok(out)
    }
}

/// Decodes frames back into content, incrementally: [`Decoder::push`] stored bytes as they
/// are read, then [`Decoder::finish`] to check that nothing was cut off.
pub struct Decoder {
    key: String,
    key_id: Option<String>,
    keys: Option<Arc<dyn KeyProvider>>,
    buf: BytesMut,
    zstd: bool,
    open: Option<(aes_gcm::Aes256Gcm, [u8; PREFIX])>,
    header: bool,
    counter: u32,
    done: bool,
}

impl Decoder {
    /// A decoder for object `key` whose blob says `key_id` (checked against the header).
    pub fn new(key: &str, key_id: Option<String>, keys: Option<Arc<dyn KeyProvider>>) -> Self {
        Decoder {
            key: key.to_owned(),
            key_id,
            keys,
            buf: BytesMut::new(),
            zstd: false,
            open: None,
            header: false,
            counter: 0,
            done: false,
        }
    }

    fn corrupt(&self, detail: impl Into<String>) -> StorageError {
        StorageError::Corrupt {
            key: self.key.clone(),
            detail: detail.into(),
        }
    }

    /// Feeds stored bytes; returns the content blocks now complete.
    pub fn push(&mut self, data: &[u8]) -> Result<Vec<Bytes>> {
        self.buf.extend_from_slice(data);
        let mut out = Vec::new();
        if !self.header {
            if self.buf.len() < 6 {
                return Ok(out);
            }
            if &self.buf[..4] != MAGIC || self.buf[4] != VERSION {
                return Err(self.corrupt("not an encoded object (bad magic or version)"));
            }
            let flags = self.buf[5];
            let need = if flags & AES != 0 { 6 + PREFIX } else { 6 };
            if self.buf.len() < need {
                return Ok(out);
            }
            self.zstd = flags & ZSTD != 0;
            if flags & AES != 0 {
                let id = self
                    .key_id
                    .clone()
                    .ok_or_else(|| self.corrupt("encrypted, but the blob records no key id"))?;
                let keys = self.keys.clone().ok_or_else(|| StorageError::Config(format!(
                    "`{}` is encrypted (key `{id}`): give the store a key provider with `StoreBuilder::encryption`",
                    self.key
                )))?;
                let key = keys
                    .key(&id)
                    .ok_or(StorageError::UnknownKey { key_id: id.clone() })?;
                let mut prefix = [0; PREFIX];
                prefix.copy_from_slice(&self.buf[6..6 + PREFIX]);
                self.open = Some((cipher(&key), prefix));
            } else if self.key_id.is_some() {
                return Err(self.corrupt("the blob says encrypted, the object is not"));
            }
            self.buf.advance(need);
            self.header = true;
        }
        while self.buf.len() >= 4 {
            let len = u32::from_be_bytes(self.buf[..4].try_into().expect("4 bytes")) as usize;
            if len > MAX_FRAME {
                return Err(self.corrupt(format!("frame of {len} bytes")));
            }
            if self.buf.len() < 4 + len {
                break;
            }
            if self.done {
                return Err(self.corrupt("data after the last frame"));
            }
            self.buf.advance(4);
            let payload = self.buf.split_to(len);
            out.push(self.open_frame(&payload)?);
        }
        Ok(out)
    }

    fn open_frame(&mut self, payload: &[u8]) -> Result<Bytes> {
        let plain = match &self.open {
            Some((cipher, prefix)) => {
                let id = self.key_id.as_deref().unwrap_or_default();
                let aad = Payload {
                    msg: payload,
                    aad: id.as_bytes(),
                };
                // Not the last frame, or the last one: the flag is part of the nonce.
                match cipher.decrypt(&nonce(prefix, self.counter, false), aad) {
                    Ok(plain) => plain,
                    Err(_) => {
                        let aad = Payload {
                            msg: payload,
                            aad: id.as_bytes(),
                        };
                        match cipher.decrypt(&nonce(prefix, self.counter, true), aad) {
                            Ok(plain) => {
                                self.done = true;
                                plain
                            }
                            Err(_) => {
                                return Err(StorageError::WrongKey {
                                    key: self.key.clone(),
                                    key_id: id.to_owned(),
                                });
                            }
                        }
                    }
                }
            }
            None => payload.to_vec(),
        };
        self.counter += 1;
        let content = if self.zstd {
            zstd::bulk::decompress(&plain, BLOCK)
                .map_err(|e| self.corrupt(format!("bad zstd frame: {e}")))?
        } else {
            plain
        };
        if self.open.is_none() && content.is_empty() {
            // Without a cipher the empty frame marks the end.
            self.done = true;
        }
        Ok(Bytes::from(content))
    }

    /// Checks that the object ended where it should (after its last frame).
    pub fn finish(&self) -> Result<()> {
        if !self.header || !self.done || !self.buf.is_empty() {
            return Err(self.corrupt("truncated: the last frame is missing"));
        }
        Ok(())
    }
}

fn cipher(key: &[u8; 32]) -> aes_gcm::Aes256Gcm {
    aes_gcm::Aes256Gcm::new(&aes_gcm::Key::<aes_gcm::Aes256Gcm>::from(*key))
}

fn nonce(
    prefix: &[u8; PREFIX],
    counter: u32,
    last: bool,
) -> aes_gcm::Nonce<aes_gcm::aead::consts::U12> {
    let mut bytes = [0u8; 12];
    bytes[..PREFIX].copy_from_slice(prefix);
    bytes[PREFIX..PREFIX + 4].copy_from_slice(&counter.to_be_bytes());
    bytes[11] = u8::from(last);
    aes_gcm::Nonce::from(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(encoding: &Encoding, content: &[u8]) -> (Vec<u8>, Option<String>) {
        let mut enc = Encoder::new(encoding);
        let mut out = enc.header();
        for block in content.chunks(BLOCK) {
            out.extend(enc.frame(block, false).unwrap());
        }
        out.extend(enc.frame(&[], true).unwrap());
        (out, enc.key_id().map(str::to_owned))
    }

    fn decode(
        stored: &[u8],
        key_id: Option<String>,
        keys: Option<Arc<dyn KeyProvider>>,
        step: usize,
    ) -> Result<Vec<u8>> {
        let mut dec = Decoder::new("k", key_id, keys);
        let mut out = Vec::new();
        for chunk in stored.chunks(step) {
            for b in dec.push(chunk)? {
                out.extend_from_slice(&b);
            }
        }
        dec.finish()?;
        Ok(out)
    }

    fn content() -> Vec<u8> {
        (0..(BLOCK * 2 + 777)).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn compressed_and_encrypted_content_round_trips_whatever_the_read_size() {
        let keys: Arc<dyn KeyProvider> = Arc::new(StaticKeys::new("k1", [7; 32]));
        for (zstd, enc) in [(true, false), (false, true), (true, true)] {
            let encoding = Encoding {
                zstd_level: zstd.then_some(3),
                keys: enc.then(|| keys.clone()),
            };
            let (stored, id) = encode(&encoding, &content());
            for step in [1000, 65536, stored.len()] {
                let back = decode(&stored, id.clone(), Some(keys.clone()), step).unwrap();
                assert_eq!(back, content());
            }
        }
    }

    #[test]
    fn a_wrong_key_is_a_typed_error_and_never_plaintext() {
        let right: Arc<dyn KeyProvider> = Arc::new(StaticKeys::new("k1", [7; 32]));
        let wrong: Arc<dyn KeyProvider> = Arc::new(StaticKeys::new("k1", [8; 32]));
        let encoding = Encoding {
            zstd_level: None,
            keys: Some(right),
        };
        let (stored, id) = encode(&encoding, b"secret");
        let err = decode(&stored, id.clone(), Some(wrong), 4096).unwrap_err();
        assert!(
            matches!(err, StorageError::WrongKey { ref key_id, .. } if key_id == "k1"),
            "{err}"
        );
        let none: Arc<dyn KeyProvider> = Arc::new(StaticKeys::new("k2", [7; 32]));
        let err = decode(&stored, id, Some(none), 4096).unwrap_err();
        assert!(
            matches!(err, StorageError::UnknownKey { ref key_id } if key_id == "k1"),
            "{err}"
        );
    }

    #[test]
    fn a_truncated_or_reordered_object_is_refused() {
        let keys: Arc<dyn KeyProvider> = Arc::new(StaticKeys::new("k1", [7; 32]));
        let encoding = Encoding {
            zstd_level: None,
            keys: Some(keys.clone()),
        };
        let (stored, id) = encode(&encoding, &content());
        // Drop the last frame (empty content: 4-byte length + 16-byte tag).
        let cut = &stored[..stored.len() - 20];
        assert!(matches!(
            decode(cut, id.clone(), Some(keys.clone()), 4096),
            Err(StorageError::Corrupt { .. })
        ));
        // Flip one byte of the first frame.
        let mut bad = stored.clone();
        bad[20] ^= 1;
        assert!(matches!(
            decode(&bad, id, Some(keys), 4096),
            Err(StorageError::WrongKey { .. })
        ));
        // A compressed-only object cut short is refused too.
        let (zstd, _) = encode(
            &Encoding {
                zstd_level: Some(1),
                keys: None,
            },
            &content(),
        );
        assert!(decode(&zstd[..zstd.len() - 9], None, None, 4096).is_err());
    }
}
