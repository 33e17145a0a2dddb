//! Streaming uploads: the content is read in blocks (in-memory bytes are sliced, not copied),
//! hashed on a blocking thread beside the upload, optionally compressed and encrypted, and
//! sent as one request (small objects) or as a multipart upload with a bounded number of parts
//! in flight, so memory stays at about `part_size × (concurrency + 1)` whatever the object's
//! size.

use std::fmt;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::channel::mpsc;
use object_store::{Attribute, Attributes, PutMultipartOptions, PutOptions, PutPayload};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::blob::Blob;
use crate::codec::{BLOCK, Encoder};
use crate::error::{Result, StorageError};
use crate::store::Store;

/// The content type recorded when an upload names none.
pub const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// How far an upload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Bytes of content read from the source so far.
    pub read: u64,
    /// Bytes the store has acknowledged (stored bytes: after compression and encryption).
    pub sent: u64,
    /// The content's size, when given with [`UploadOptions::size`].
    pub total: Option<u64>,
    /// Whether the upload is complete (the object is visible).
    pub finished: bool,
}

/// A stream of [`Progress`] reports (see [`UploadOptions::progress_stream`]); it ends when
/// the upload ends.
pub type ProgressStream = mpsc::UnboundedReceiver<Progress>;

type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// Parts being uploaded, each a task of its own (as `object_store::WriteMultipart` does), so
/// that they make progress while the next blocks are read and hashed; each yields its size
/// once the store acknowledged it.
type InFlight = tokio::task::JoinSet<object_store::Result<u64>>;

/// The outcome of a finished part task (a panic in one becomes the store's join error).
fn joined(
    done: Result<object_store::Result<u64>, tokio::task::JoinError>,
) -> object_store::Result<u64> {
    done.unwrap_or_else(|source| Err(object_store::Error::JoinError { source }))
}

/// Options of one upload.
#[derive(Clone, Default)]
#[must_use]
pub struct UploadOptions {
    pub(crate) content_type: Option<String>,
    pub(crate) public: bool,
    pub(crate) total: Option<u64>,
    pub(crate) progress: Vec<ProgressFn>,
}

impl fmt::Debug for UploadOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadOptions")
            .field("content_type", &self.content_type)
            .field("public", &self.public)
            .field("total", &self.total)
            .field("progress_callbacks", &self.progress.len())
            .finish()
    }
}

impl UploadOptions {
    /// Defaults: `application/octet-stream`, not public, no progress reports.
    pub fn new() -> Self {
        UploadOptions::default()
    }

    /// The content's MIME type (recorded in the blob, and sent to stores that keep it).
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// Marks the blob public: [`Storage::public_url`](crate::Storage::public_url) gives its
    /// URL under the store's public base URL.
    pub fn public(mut self, public: bool) -> Self {
        self.public = public;
        self
    }

    /// The content's size, reported as [`Progress::total`].
    pub fn size(mut self, total: u64) -> Self {
        self.total = Some(total);
        self
    }

    /// Calls `f` after each part the store acknowledged, and once at the end.
    pub fn on_progress(mut self, f: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.progress.push(Arc::new(f));
        self
    }

    /// The same reports as [`on_progress`](Self::on_progress), as a stream.
    pub fn progress_stream(self) -> (Self, ProgressStream) {
        let (tx, rx) = mpsc::unbounded();
        (
            self.on_progress(move |p| {
                // The receiver may have been dropped: nobody is listening then.
                let _ = tx.unbounded_send(p);
            }),
            rx,
        )
    }

    pub(crate) fn report(&self, progress: Progress) {
        for f in &self.progress {
            f(progress);
        }
    }
}

/// Blocks from this size on are hashed on a blocking thread beside the upload (smaller content
/// is hashed in place: starting a thread would cost more than the hash).
const HASH_ON_THREAD_FROM: usize = 256 << 10;

/// Blocks read but not yet hashed, at most: the reader runs that far ahead of the hashing
/// thread (enough to keep it busy), and memory stays within the parts' bound.
const HASH_DEPTH: usize = 2;

/// The SHA-256 of an upload's content. Small content is hashed in place; from the first block
/// of [`HASH_ON_THREAD_FROM`] bytes on, blocks (shared `Bytes`, not copies) go through a
/// bounded channel to a blocking thread that hashes them while the upload reads the next
/// blocks and sends parts, so the hash costs the upload no time when a core is free.
enum Hashing {
    Inline(Sha256),
    Thread {
        blocks: tokio::sync::mpsc::Sender<Bytes>,
        digest: tokio::task::JoinHandle<Sha256>,
    },
}

impl Hashing {
    /// Hashes `block` (in order after the blocks before it); waits while [`HASH_DEPTH`] blocks
    /// wait for the hashing thread.
    async fn update(&mut self, block: Bytes) {
        match self {
            Hashing::Inline(hasher) if block.len() < HASH_ON_THREAD_FROM => hasher.update(&block),
            Hashing::Inline(hasher) => {
                let mut hasher = std::mem::take(hasher);
                let (blocks, mut rx) = tokio::sync::mpsc::channel::<Bytes>(HASH_DEPTH);
                let digest = tokio::task::spawn_blocking(move || {
                    while let Some(block) = rx.blocking_recv() {
                        hasher.update(&block);
                    }
                    hasher
                });
                // The thread is running: it takes the block (it only stops once `blocks` is
                // dropped, or by panicking, which `finish` reports).
                let _ = blocks.send(block).await;
                *self = Hashing::Thread { blocks, digest };
            }
            Hashing::Thread { blocks, .. } => {
                // An error means the thread panicked: `finish` reports it.
                let _ = blocks.send(block).await;
            }
        }
    }

    /// The hex SHA-256 of every block given; waits for the hashing thread, if any. A panic of
    /// that thread is resumed here, as if the hash had been computed in place.
    async fn finish(self) -> object_store::Result<String> {
        let hasher = match self {
            Hashing::Inline(hasher) => hasher,
            Hashing::Thread { blocks, digest } => {
                drop(blocks);
                match digest.await {
                    Ok(hasher) => hasher,
                    Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                    Err(source) => return Err(object_store::Error::JoinError { source }),
                }
            }
        };
        Ok(hex::encode(hasher.finalize()))
    }
}

/// Where an upload's content comes from.
pub(crate) enum Source<R> {
    /// Bytes in memory: cut into blocks without a copy.
    Bytes(Bytes),
    /// A reader, read into blocks of [`BLOCK`] bytes.
    Reader(R),
}

/// Reads content in blocks, hashes it, and yields the bytes to store.
pub(crate) struct ContentReader<R> {
    source: Source<R>,
    hashing: Hashing,
    pub(crate) read: u64,
    encoder: Option<Encoder>,
    header_sent: bool,
    eof: bool,
    what: String,
}

impl<R: AsyncRead + Unpin> ContentReader<R> {
    pub(crate) fn new(source: Source<R>, encoder: Option<Encoder>, what: String) -> Self {
        ContentReader {
            source,
            hashing: Hashing::Inline(Sha256::new()),
            read: 0,
            encoder,
            header_sent: false,
            eof: false,
            what,
        }
    }

    /// The next block of content: at most [`BLOCK`] bytes, shorter only at the end.
    async fn block(&mut self) -> Result<Bytes> {
        let reader = match &mut self.source {
            Source::Bytes(bytes) => return Ok(bytes.split_to(bytes.len().min(BLOCK))),
            Source::Reader(reader) => reader,
        };
        let mut block = BytesMut::with_capacity(BLOCK);
        while block.len() < BLOCK {
            let n = reader
                .read_buf(&mut block)
                .await
                .map_err(|e| StorageError::Io {
                    doing: format!("reading the content of {}", self.what),
                    source: e,
                })?;
            if n == 0 {
                break;
            }
        }
        Ok(block.freeze())
    }

    /// The next bytes to store; `None` at the end.
    pub(crate) async fn next(&mut self) -> Result<Option<Bytes>> {
        if self.eof {
            return Ok(None);
        }
        let block = self.block().await?;
        self.read += block.len() as u64;
        let last = block.len() < BLOCK;
        if !block.is_empty() {
            self.hashing.update(block.clone()).await;
        }
        let Some(encoder) = &mut self.encoder else {
            self.eof = last;
            return Ok((!block.is_empty()).then_some(block));
        };
        let mut out = Vec::new();
        if !self.header_sent {
            out = encoder.header();
            self.header_sent = true;
        }
        if !block.is_empty() {
            out.extend(encoder.frame(&block, false)?);
        }
        if last {
            out.extend(encoder.frame(&[], true)?);
            self.eof = true;
        }
        Ok(Some(Bytes::from(out)))
    }

    pub(crate) fn key_id(&self) -> Option<String> {
        self.encoder
            .as_ref()
            .and_then(|e| e.key_id().map(str::to_owned))
    }

    /// The content's hex SHA-256, once every block has been read.
    pub(crate) async fn sha256(&mut self) -> object_store::Result<String> {
        std::mem::replace(&mut self.hashing, Hashing::Inline(Sha256::new()))
            .finish()
            .await
    }
}

/// Collects stored bytes into parts of exactly `size` bytes (the last may be shorter).
pub(crate) struct Parts {
    size: usize,
    chunks: Vec<Bytes>,
    len: usize,
}

impl Parts {
    pub(crate) fn new(size: usize) -> Self {
        Parts {
            size,
            chunks: Vec::new(),
            len: 0,
        }
    }

    /// Adds `bytes`; returns the parts that are now full.
    pub(crate) fn push(&mut self, mut bytes: Bytes) -> Vec<PutPayload> {
        let mut full = Vec::new();
        while !bytes.is_empty() {
            let take = (self.size - self.len).min(bytes.len());
            self.len += take;
            self.chunks.push(bytes.split_to(take));
            if self.len == self.size {
                full.push(self.chunks.drain(..).collect());
                self.len = 0;
            }
        }
        full
    }

    /// The bytes left (a last, shorter part), if any.
    pub(crate) fn rest(&mut self) -> Option<PutPayload> {
        (self.len > 0).then(|| {
            self.len = 0;
            self.chunks.drain(..).collect()
        })
    }
}

impl Store {
    /// Uploads the content read from `reader` under `key`, streaming: memory stays at about
    /// `part_size × (concurrency + 1)` whatever the size. Returns the [`Blob`] to store in a
    /// row (the object first, then the row: see [`Sweeper`](crate::Sweeper) for the orphans a
    /// rollback between the two leaves).
    ///
    /// On any error the multipart upload is aborted: no partial object becomes visible.
    pub async fn upload<R: AsyncRead + Unpin + Send>(
        &self,
        key: &str,
        reader: R,
        options: UploadOptions,
    ) -> Result<Blob> {
        self.upload_from(key, Source::Reader(reader), options).await
    }

    /// [`upload`](Self::upload) from either kind of [`Source`].
    async fn upload_from<R: AsyncRead + Unpin + Send>(
        &self,
        key: &str,
        source: Source<R>,
        options: UploadOptions,
    ) -> Result<Blob> {
        let inner = &self.inner;
        let path = self.path(key);
        let encoder = (!inner.encoding.is_plain()).then(|| Encoder::new(&inner.encoding));
        let mut content = ContentReader::new(
            source,
            encoder,
            format!("`{key}` for store `{}`", inner.name),
        );
        let content_type = options
            .content_type
            .clone()
            .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned());
        let mut attributes = Attributes::new();
        if self.takes_attributes() {
            attributes.insert(Attribute::ContentType, content_type.clone().into());
        }
        let mut progress = Progress {
            read: 0,
            sent: 0,
            total: options.total,
            finished: false,
        };

        // The first part decides: one request, or a multipart upload.
        let mut parts = Parts::new(inner.part_size);
        let mut ready = Vec::new();
        let mut stored = 0u64;
        while ready.is_empty() {
            match content.next().await? {
                Some(bytes) => {
                    stored += bytes.len() as u64;
                    ready = parts.push(bytes);
                }
                None => break,
            }
        }
        let (result, sha256) =
            if ready.is_empty() || content.eof && parts.len == 0 && ready.len() == 1 {
                let payload: PutPayload = match ready.pop() {
                    Some(part) => part,
                    None => parts.rest().unwrap_or_default(),
                };
                let opts = PutOptions {
                    attributes,
                    ..PutOptions::default()
                };
                // The hashing thread (if any) finishes while the object is written.
                let result = inner
                    .object
                    .put_opts(&path, payload, opts)
                    .await
                    .map_err(|e| self.error(key, e))?;
                let sha256 = content.sha256().await.map_err(|e| self.error(key, e))?;
                (result, sha256)
            } else {
                let opts = PutMultipartOptions {
                    attributes,
                    ..PutMultipartOptions::default()
                };
                let mut upload = inner
                    .object
                    .put_multipart_opts(&path, opts)
                    .await
                    .map_err(|e| self.error(key, e))?;
                let outcome: Result<String> = async {
                    let mut in_flight = InFlight::new();
                    let mut send = |part: PutPayload, in_flight: &mut InFlight| {
                        let len = part.content_length() as u64;
                        let fut = upload.put_part(part);
                        in_flight.spawn(async move { fut.await.map(|()| len) });
                    };
                    loop {
                        for part in ready.drain(..) {
                            while in_flight.len() >= inner.concurrency {
                                let done = in_flight.join_next().await.expect("non-empty");
                                progress.sent += joined(done).map_err(|e| self.error(key, e))?;
                                progress.read = content.read;
                                options.report(progress);
                            }
                            send(part, &mut in_flight);
                        }
                        match content.next().await? {
                            Some(bytes) => {
                                stored += bytes.len() as u64;
                                ready = parts.push(bytes);
                            }
                            None => {
                                ready.extend(parts.rest());
                                for part in ready.drain(..) {
                                    send(part, &mut in_flight);
                                }
                                break;
                            }
                        }
                    }
                    // Before the object is complete: the hash is part of the blob.
                    let sha256 = content.sha256().await.map_err(|e| self.error(key, e))?;
                    while let Some(done) = in_flight.join_next().await {
                        progress.sent += joined(done).map_err(|e| self.error(key, e))?;
                        progress.read = content.read;
                        options.report(progress);
                    }
                    Ok(sha256)
                }
                .await;
                match outcome {
                    Ok(sha256) => match upload.complete().await {
                        Ok(result) => (result, sha256),
                        Err(e) => {
                            // The error that matters is the completion's; an abort that fails
                            // too leaves parts the store's own cleanup (or the sweeper) removes.
                            let _ = upload.abort().await;
                            return Err(self.error(key, e));
                        }
                    },
                    Err(e) => {
                        // Same as above: the upload's error is the one to report.
                        let _ = upload.abort().await;
                        return Err(e);
                    }
                }
            };
        progress.read = content.read;
        progress.sent = stored;
        progress.finished = true;
        options.report(progress);
        Ok(Blob {
            store: inner.name.clone(),
            key: key.to_owned(),
            size: content.read,
            content_type,
            sha256,
            etag: result.e_tag,
            public: options.public,
            compression: inner.encoding.zstd_level.map(|_| "zstd".to_owned()),
            key_id: content.key_id(),
            stored_size: (!inner.encoding.is_plain()).then_some(stored),
        })
    }

    /// Uploads `bytes` under `key` (see [`upload`](Self::upload)).
    pub async fn upload_bytes(
        &self,
        key: &str,
        bytes: impl Into<Bytes>,
        options: UploadOptions,
    ) -> Result<Blob> {
        let bytes: Bytes = bytes.into();
        let total = bytes.len() as u64;
        let options = if options.total.is_none() {
            options.size(total)
        } else {
            options
        };
        self.upload_from(key, Source::<tokio::io::Empty>::Bytes(bytes), options)
            .await
    }

    /// Uploads the file at `file` under `key`, streaming (see [`upload`](Self::upload)).
    pub async fn upload_file(
        &self,
        key: &str,
        file: impl AsRef<std::path::Path>,
        options: UploadOptions,
    ) -> Result<Blob> {
        let file = file.as_ref();
        let io = |e| StorageError::Io {
            doing: format!("opening {}", file.display()),
            source: e,
        };
        let f = tokio::fs::File::open(file).await.map_err(io)?;
        let len = f.metadata().await.map_err(io)?.len();
        let options = if options.total.is_none() {
            options.size(len)
        } else {
            options
        };
        self.upload(key, tokio::io::BufReader::with_capacity(BLOCK, f), options)
            .await
    }
}
