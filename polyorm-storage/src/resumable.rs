//! Resumable uploads: a multipart upload whose id and finished parts are written to a state
//! file after every part, so that a process that died mid-upload (or a lost connection) can
//! carry on where it stopped instead of starting over.

use std::path::{Path as FsPath, PathBuf};

use bytes::BytesMut;
use futures::StreamExt;
use object_store::multipart::PartId;
use object_store::{ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::blob::Blob;
use crate::error::{Result, StorageError};
use crate::store::Store;
use crate::upload::{DEFAULT_CONTENT_TYPE, Progress, UploadOptions};

/// What a resumable upload persists after each part (as JSON in its state file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ResumeState {
    /// The store's name.
    pub store: String,
    /// The object's key.
    pub key: String,
    /// The multipart upload id the service gave.
    pub upload_id: String,
    /// Part size the upload was started with.
    pub part_size: usize,
    /// Size of the source file (a resumed upload refuses a file whose size changed).
    pub source_size: u64,
    /// The content ids of the parts uploaded so far, in order.
    pub parts: Vec<String>,
}

impl Store {
    /// Uploads the file `source` under `key` as a multipart upload that survives the
    /// process: the upload id and each finished part go to `state_file`; calling this
    /// again with the same arguments after a crash uploads only the missing parts. The state
    /// file is removed when the object is complete.
    ///
    /// Needs a store with multipart uploads that have ids (S3, GCS, Azure, memory) and plain
    /// content (no compression or encryption, whose frames cannot be resumed midway). Parts
    /// are sent one after the other, so that the state file always describes a prefix.
    pub async fn upload_resumable(
        &self,
        key: &str,
        source: impl AsRef<FsPath>,
        state_file: impl AsRef<FsPath>,
        options: UploadOptions,
    ) -> Result<Blob> {
        let inner = &self.inner;
        let source = source.as_ref();
        let state_file = state_file.as_ref();
        let multipart = inner.multipart.clone().ok_or_else(|| StorageError::Unsupported {
            store: inner.name.clone(),
            what: "resumable uploads: they need multipart upload ids (S3, GCS, Azure); use `upload_file`".into(),
        })?;
        if !inner.encoding.is_plain() {
            return Err(StorageError::Unsupported {
                store: inner.name.clone(),
                what: "resumable uploads of compressed or encrypted content: use `upload_file`"
                    .into(),
            });
        }
        let io = |doing: String| move |e| StorageError::Io { doing, source: e };
        let mut file = tokio::fs::File::open(source)
            .await
            .map_err(io(format!("opening {}", source.display())))?;
        let size = file
            .metadata()
            .await
            .map_err(io(format!("reading the size of {}", source.display())))?
            .len();
        let path = self.path(key);
        let mut state = match read_state(state_file).await? {
            Some(s) if s.store == inner.name && s.key == key => {
                if s.source_size != size || s.part_size != inner.part_size {
                    return Err(StorageError::Config(format!(
                        "the state file {} is for a {}-byte source in parts of {} bytes, but {} has {size} bytes and the store uses parts of {}: delete the state file to start over",
                        state_file.display(),
                        s.source_size,
                        s.part_size,
                        source.display(),
                        inner.part_size
                    )));
                }
                s
            }
            Some(s) => {
                return Err(StorageError::Config(format!(
                    "the state file {} belongs to the upload of `{}` to store `{}`: use another state file",
                    state_file.display(),
                    s.key,
                    s.store
                )));
            }
            None => {
                let id = multipart
                    .create_multipart(&path)
                    .await
                    .map_err(|e| self.error(key, e))?;
                let s = ResumeState {
                    store: inner.name.clone(),
                    key: key.to_owned(),
                    upload_id: id,
                    part_size: inner.part_size,
                    source_size: size,
                    parts: Vec::new(),
                };
                write_state(state_file, &s).await?;
                s
            }
        };

        // Hash what was already uploaded (read locally, not sent again).
        let mut hasher = Sha256::new();
        let done = (state.parts.len() * inner.part_size) as u64;
        let done = done.min(size);
        let mut left = done;
        let mut buf = vec![0u8; 1 << 20];
        while left > 0 {
            let n = (buf.len() as u64).min(left) as usize;
            file.read_exact(&mut buf[..n])
                .await
                .map_err(io(format!("reading {}", source.display())))?;
            hasher.update(&buf[..n]);
            left -= n as u64;
        }
        file.seek(std::io::SeekFrom::Start(done))
            .await
            .map_err(io(format!("seeking in {}", source.display())))?;
        let mut progress = Progress {
            read: done,
            sent: done,
            total: Some(size),
            finished: false,
        };
        options.report(progress);

        let mut offset = done;
        while offset < size || state.parts.is_empty() {
            let len = (inner.part_size as u64).min(size - offset) as usize;
            let mut part = BytesMut::zeroed(len);
            file.read_exact(&mut part)
                .await
                .map_err(io(format!("reading {}", source.display())))?;
            hasher.update(&part);
            let id = multipart
                .put_part(
                    &path,
                    &state.upload_id,
                    state.parts.len(),
                    PutPayload::from(part.freeze()),
                )
                .await
                .map_err(|e| self.error(key, e))?;
            state.parts.push(id.content_id);
            write_state(state_file, &state).await?;
            offset += len as u64;
            progress.read = offset;
            progress.sent = offset;
            options.report(progress);
            if len == 0 {
                break;
            }
        }
        let parts = state
            .parts
            .iter()
            .map(|c| PartId {
                content_id: c.clone(),
            })
            .collect();
        let result = multipart
            .complete_multipart(&path, &state.upload_id, parts)
            .await
            .map_err(|e| self.error(key, e))?;
        tokio::fs::remove_file(state_file)
            .await
            .map_err(io(format!(
                "removing the state file {}",
                state_file.display()
            )))?;
        progress.finished = true;
        options.report(progress);
        Ok(Blob {
            store: inner.name.clone(),
            key: key.to_owned(),
            size,
            content_type: options
                .content_type
                .clone()
                .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned()),
            sha256: hex::encode(hasher.finalize()),
            etag: result.e_tag,
            public: options.public,
            compression: None,
            key_id: None,
            stored_size: None,
        })
    }

    /// Abandons the resumable upload described by `state_file`: aborts it on the service
    /// (its parts are freed) and removes the file.
    pub async fn abort_resumable(&self, state_file: impl AsRef<FsPath>) -> Result<()> {
        let state_file = state_file.as_ref();
        let Some(state) = read_state(state_file).await? else {
            return Ok(());
        };
        if let Some(multipart) = &self.inner.multipart {
            multipart
                .abort_multipart(&self.path(&state.key), &state.upload_id)
                .await
                .map_err(|e| self.error(&state.key, e))?;
        }
        tokio::fs::remove_file(state_file)
            .await
            .map_err(|e| StorageError::Io {
                doing: format!("removing the state file {}", state_file.display()),
                source: e,
            })
    }

    /// The blob of an object uploaded outside this crate (e.g. through a presigned PUT URL):
    /// reads it once to compute its size and SHA-256.
    pub async fn blob_of(&self, key: &str, content_type: Option<&str>) -> Result<Blob> {
        let got = self
            .inner
            .object
            .get(&self.path(key))
            .await
            .map_err(|e| self.error(key, e))?;
        let etag = got.meta.e_tag.clone();
        let mut stream = got.into_stream();
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.error(key, e))?;
            hasher.update(&chunk);
            size += chunk.len() as u64;
        }
        Ok(Blob {
            store: self.inner.name.clone(),
            key: key.to_owned(),
            size,
            content_type: content_type.unwrap_or(DEFAULT_CONTENT_TYPE).to_owned(),
            sha256: hex::encode(hasher.finalize()),
            etag,
            public: false,
            compression: None,
            key_id: None,
            stored_size: None,
        })
    }
}

async fn read_state(file: &FsPath) -> Result<Option<ResumeState>> {
    match tokio::fs::read(file).await {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            StorageError::Config(format!(
                "the state file {} is not a resumable upload's state ({e}): delete it to start over",
                file.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StorageError::Io {
            doing: format!("reading the state file {}", file.display()),
            source: e,
        }),
    }
}

/// Writes the state atomically (a temporary file renamed over the old one), so that a crash
/// leaves the old state or the new one.
async fn write_state(file: &FsPath, state: &ResumeState) -> Result<()> {
    let io = |e| StorageError::Io {
        doing: format!("writing the state file {}", file.display()),
        source: e,
    };
    let mut tmp = PathBuf::from(file);
    tmp.as_mut_os_string().push(".tmp");
    let json = serde_json::to_vec(state).map_err(|e| StorageError::Config(e.to_string()))?;
    tokio::fs::write(&tmp, json).await.map_err(io)?;
    tokio::fs::rename(&tmp, file).await.map_err(io)
}
