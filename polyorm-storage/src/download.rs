//! Streaming downloads, verified against the blob (size and SHA-256), decoded when the blob
//! is compressed or encrypted; ranged reads.

use std::ops::Range;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::stream::{BoxStream, Stream, StreamExt};
use object_store::{GetResultPayload, ObjectStoreExt};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::blob::Blob;
use crate::codec::{BLOCK, Decoder};
use crate::error::{Result, StorageError};
use crate::store::Store;

/// The content of a blob as a stream of chunks, checked as it goes: the last item is an
/// [`StorageError::Integrity`] error if the size or SHA-256 differ from the blob's.
/// Memory stays constant whatever the object's size.
pub struct BlobStream {
    inner: BoxStream<'static, Result<Bytes>>,
}

impl std::fmt::Debug for BlobStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStream").finish_non_exhaustive()
    }
}

impl Stream for BlobStream {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

struct Check {
    store: String,
    key: String,
    size: u64,
    sha256: String,
    hasher: Sha256,
    seen: u64,
}

impl Check {
    fn feed(&mut self, chunk: &[u8]) -> Result<()> {
        self.hasher.update(chunk);
        self.seen += chunk.len() as u64;
        if self.seen > self.size {
            return Err(self.integrity(format!("more than the {} bytes recorded", self.size)));
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        if self.seen != self.size {
            return Err(self.integrity(format!("{} bytes read, {} recorded", self.seen, self.size)));
        }
        let sha = hex::encode(std::mem::take(&mut self.hasher).finalize());
        if sha != self.sha256 {
            return Err(self.integrity(format!("SHA-256 {sha}, {} recorded", self.sha256)));
        }
        Ok(())
    }

    fn integrity(&self, detail: String) -> StorageError {
        StorageError::Integrity {
            store: self.store.clone(),
            key: self.key.clone(),
            detail,
        }
    }
}

/// Reads an object of the local store from its file in blocks of [`BLOCK`] bytes on the
/// blocking pool, one block ahead of the caller (`object_store`'s own stream of a local
/// file reads 8 KiB per blocking task). With a [`Check`], each block is also hashed there
/// as it is read, so the check runs beside the caller's work rather than on its task.
struct FileBlocks {
    file: std::fs::File,
    /// The file's path, for errors.
    path: std::path::PathBuf,
    remaining: u64,
    check: Option<Check>,
}

impl FileBlocks {
    /// The next block; at the end, the check's error if any (then `None`).
    fn step(&mut self) -> Option<Result<Bytes>> {
        use std::io::Read;
        // One read per block where the kernel allows (`read_to_end` would start at 8 KiB).
        let mut block = vec![0u8; self.remaining.min(BLOCK as u64) as usize];
        let mut filled = 0;
        while filled < block.len() {
            match self.file.read(&mut block[filled..]) {
                // A file shorter than when it was opened ends here (the check reports it).
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.remaining = 0;
                    return Some(Err(StorageError::Io {
                        doing: format!("reading {}", self.path.display()),
                        source: e,
                    }));
                }
            }
        }
        block.truncate(filled);
        self.remaining = if filled == 0 {
            0
        } else {
            self.remaining - filled as u64
        };
        let check = self.check.as_mut();
        if block.is_empty() {
            return check.and_then(|c| c.finish().err()).map(Err);
        }
        if let Some(Err(e)) = check.map(|c| c.feed(&block)) {
            self.remaining = 0;
            return Some(Err(e));
        }
        Some(Ok(block.into()))
    }

    /// The blocks as a stream that reads (and hashes) the next block while the caller handles
    /// the one before.
    fn into_stream(self, range_start: u64) -> BoxStream<'static, Result<Bytes>> {
        type Step = tokio::task::JoinHandle<(FileBlocks, Option<Result<Bytes>>)>;
        let spawn = |mut blocks: FileBlocks| -> Step {
            tokio::task::spawn_blocking(move || {
                let item = blocks.step();
                (blocks, item)
            })
        };
        let mut first = self;
        let first: Step = tokio::task::spawn_blocking(move || {
            use std::io::{Seek, SeekFrom};
            if let Err(e) = first.file.seek(SeekFrom::Start(range_start)) {
                let doing = format!("seeking in {}", first.path.display());
                return (first, Some(Err(StorageError::Io { doing, source: e })));
            }
            let item = first.step();
            (first, item)
        });
        futures::stream::unfold(Some(first), move |pending| async move {
            let (blocks, item) = match pending?.await {
                Ok(done) => done,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => {
                    let source = std::io::Error::other(e);
                    let doing = "reading a local object (the runtime is shutting down)".into();
                    return Some((Err(StorageError::Io { doing, source }), None));
                }
            };
            match item? {
                Ok(block) => Some((Ok(block), Some(spawn(blocks)))),
                Err(e) => Some((Err(e), None)),
            }
        })
        .boxed()
    }
}

impl Store {
    /// Streams `blob`'s content (decoded, checked against its size and SHA-256).
    pub async fn download(&self, blob: &Blob) -> Result<BlobStream> {
        self.check_blob(blob)?;
        let got = self
            .inner
            .object
            .get(&self.path(&blob.key))
            .await
            .map_err(|e| self.error(&blob.key, e))?;
        let check = Check {
            store: self.inner.name.clone(),
            key: blob.key.clone(),
            size: blob.size,
            sha256: blob.sha256.clone(),
            hasher: Sha256::new(),
            seen: 0,
        };
        let (raw, check) = match got.payload {
            // The local store: its file, read in large blocks. A plain blob is the content
            // itself, checked as it is read.
            GetResultPayload::File(file, path) => {
                let mut blocks = FileBlocks {
                    file,
                    path,
                    remaining: got.range.end - got.range.start,
                    check: None,
                };
                if blob.is_plain() {
                    blocks.check = Some(check);
                    let inner = blocks.into_stream(got.range.start);
                    return Ok(BlobStream { inner });
                }
                (blocks.into_stream(got.range.start), check)
            }
            GetResultPayload::Stream(stream) => {
                let store = self.clone();
                let key = blob.key.clone();
                let stream = stream.map(move |r| r.map_err(|e| store.error(&key, e)));
                (stream.boxed(), check)
            }
        };
        let decoder = (!blob.is_plain()).then(|| {
            Decoder::new(
                &blob.key,
                blob.key_id.clone(),
                self.inner.encoding.keys.clone(),
            )
        });
        struct State {
            raw: BoxStream<'static, Result<Bytes>>,
            decoder: Option<Decoder>,
            check: Check,
            queue: std::collections::VecDeque<Bytes>,
            done: bool,
        }
        let state = State {
            raw,
            decoder,
            check,
            queue: Default::default(),
            done: false,
        };
        let stream = futures::stream::unfold(state, |mut s| async move {
            loop {
                if let Some(chunk) = s.queue.pop_front() {
                    if chunk.is_empty() {
                        continue;
                    }
                    return match s.check.feed(&chunk) {
                        Ok(()) => Some((Ok(chunk), s)),
                        Err(e) => {
                            s.done = true;
                            s.queue.clear();
                            Some((Err(e), s))
                        }
                    };
                }
                if s.done {
                    return None;
                }
                match s.raw.next().await {
                    Some(Ok(bytes)) => match &mut s.decoder {
                        Some(d) => match d.push(&bytes) {
                            Ok(blocks) => s.queue.extend(blocks),
                            Err(e) => {
                                s.done = true;
                                return Some((Err(e), s));
                            }
                        },
                        None => s.queue.push_back(bytes),
                    },
                    Some(Err(e)) => {
                        s.done = true;
                        return Some((Err(e), s));
                    }
                    None => {
                        s.done = true;
                        let end = match &s.decoder {
                            Some(d) => d.finish(),
                            None => Ok(()),
                        }
                        .and_then(|()| s.check.finish());
                        return end.err().map(|e| (Err(e), s));
                    }
                }
            }
        });
        Ok(BlobStream {
            inner: stream.boxed(),
        })
    }

    /// `blob`'s whole content in memory (checked). For large objects prefer
    /// [`download`](Self::download) or [`download_to`](Self::download_to).
    pub async fn read_all(&self, blob: &Blob) -> Result<Bytes> {
        let mut stream = self.download(blob).await?;
        let mut out = Vec::with_capacity(usize::try_from(blob.size).unwrap_or(0).min(64 << 20));
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out.into())
    }

    /// Writes `blob`'s content to `writer`, streaming; returns the bytes written. The writer
    /// has seen every byte only if this returns `Ok` (the check comes at the end).
    pub async fn download_to<W: AsyncWrite + Unpin>(
        &self,
        blob: &Blob,
        mut writer: W,
    ) -> Result<u64> {
        let mut stream = self.download(blob).await?;
        let mut n = 0;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            writer
                .write_all(&chunk)
                .await
                .map_err(|e| StorageError::Io {
                    doing: format!("writing the content of `{}`", blob.key),
                    source: e,
                })?;
            n += chunk.len() as u64;
        }
        writer.flush().await.map_err(|e| StorageError::Io {
            doing: format!("writing the content of `{}`", blob.key),
            source: e,
        })?;
        Ok(n)
    }

    /// Bytes `range` of `blob`'s content. A plain blob reads only that range from the store;
    /// a compressed or encrypted one is decoded from its start up to the range's end.
    pub async fn read_range(&self, blob: &Blob, range: Range<u64>) -> Result<Bytes> {
        self.check_blob(blob)?;
        if range.start > range.end || range.end > blob.size {
            return Err(StorageError::Config(format!(
                "range {}..{} is outside `{}`, which holds {} bytes",
                range.start, range.end, blob.key, blob.size
            )));
        }
        if range.is_empty() {
            return Ok(Bytes::new());
        }
        if blob.is_plain() {
            return self
                .inner
                .object
                .get_range(&self.path(&blob.key), range)
                .await
                .map_err(|e| self.error(&blob.key, e));
        }
        let mut stream = self.download(blob).await?;
        let mut pos = 0u64;
        let mut out = Vec::with_capacity((range.end - range.start) as usize);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            let end = pos + chunk.len() as u64;
            if end > range.start {
                let from = range.start.saturating_sub(pos) as usize;
                let to = (range.end.min(end) - pos) as usize;
                out.extend_from_slice(&chunk[from..to]);
            }
            pos = end;
            if pos >= range.end {
                break;
            }
        }
        Ok(out.into())
    }
}
