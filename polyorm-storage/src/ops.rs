//! Object operations beyond upload and download: existence, listing, deletion and copy, one
//! at a time or in batches.

use futures::stream::{self, StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;
use object_store::path::Path;

use crate::blob::Blob;
use crate::error::Result;
use crate::store::Store;

/// An object found by [`Store::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectInfo {
    /// The key, relative to the store's prefix.
    pub key: String,
    /// Stored size in bytes.
    pub size: u64,
    /// When the object was last written, in milliseconds since the Unix epoch.
    pub last_modified_ms: i64,
    /// The store's ETag, when it gives one.
    pub etag: Option<String>,
}

/// Copies in flight at once in [`Store::copy_many`].
const BATCH_CONCURRENCY: usize = 8;

impl Store {
    /// Whether an object exists under `key`.
    pub async fn exists(&self, key: &str) -> Result<bool> {
        match self.inner.object.head(&self.path(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => {
                // S3 and GCS answer 404 for a missing bucket too: tell them apart.
                self.list_page(None).await?;
                Ok(false)
            }
            Err(e) => Err(self.error(key, e)),
        }
    }

    /// One listing call, to surface a missing bucket or bad credentials.
    async fn list_page(&self, prefix: Option<&str>) -> Result<()> {
        let path = prefix
            .map(|p| self.path(p))
            .or_else(|| self.inner.prefix.clone());
        self.inner
            .object
            .list_with_delimiter(path.as_ref())
            .await
            .map(|_| ())
            .map_err(|e| self.error(prefix.unwrap_or(""), e))
    }

    /// Every object whose key starts with the directory `prefix` (`None`: the whole store).
    pub async fn list(&self, prefix: Option<&str>) -> Result<Vec<ObjectInfo>> {
        let path: Option<Path> = prefix
            .map(|p| self.path(p))
            .or_else(|| self.inner.prefix.clone());
        self.inner
            .object
            .list(path.as_ref())
            .map_err(|e| self.error(prefix.unwrap_or(""), e))
            .map_ok(|meta| ObjectInfo {
                key: self.key_of(&meta.location),
                size: meta.size,
                last_modified_ms: meta.last_modified.timestamp_millis(),
                etag: meta.e_tag,
            })
            .try_collect()
            .await
    }

    /// Deletes `blob`'s object (no error if it is already gone).
    pub async fn delete(&self, blob: &Blob) -> Result<()> {
        self.check_blob(blob)?;
        self.delete_key(&blob.key).await
    }

    /// Deletes the object under `key` (no error if there is none).
    pub async fn delete_key(&self, key: &str) -> Result<()> {
        match self.inner.object.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error(key, e)),
        }
    }

    /// Deletes the objects under `keys`, in bulk requests where the store has them (S3's
    /// DeleteObjects; others one request each, several at once). Missing objects are not an
    /// error. Returns how many keys were processed.
    pub async fn delete_many<I, K>(&self, keys: I) -> Result<usize>
    where
        I: IntoIterator<Item = K>,
        K: AsRef<str>,
    {
        let keys: Vec<String> = keys.into_iter().map(|k| k.as_ref().to_owned()).collect();
        let paths: Vec<object_store::Result<Path>> =
            keys.iter().map(|k| Ok(self.path(k))).collect();
        let mut results = self.inner.object.delete_stream(stream::iter(paths).boxed());
        let mut n = 0;
        while let Some(result) = results.next().await {
            match result {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => n += 1,
                Err(e) => {
                    let key = keys.get(n).map(String::as_str).unwrap_or("");
                    return Err(self.error(key, e));
                }
            }
        }
        Ok(n)
    }

    /// Copies `blob`'s object to `to_key` in the same store (server-side); returns the blob
    /// of the copy.
    pub async fn copy(&self, blob: &Blob, to_key: &str) -> Result<Blob> {
        self.check_blob(blob)?;
        self.inner
            .object
            .copy(&self.path(&blob.key), &self.path(to_key))
            .await
            .map_err(|e| self.error(&blob.key, e))?;
        let etag = self
            .inner
            .object
            .head(&self.path(to_key))
            .await
            .map_err(|e| self.error(to_key, e))?
            .e_tag;
        let mut copy = blob.clone();
        copy.key = to_key.to_owned();
        copy.etag = etag;
        Ok(copy)
    }

    /// Copies each `(from, to)` key pair server-side, several at once; stops at the first
    /// error (copies already made stay).
    pub async fn copy_many<I, A, B>(&self, pairs: I) -> Result<usize>
    where
        I: IntoIterator<Item = (A, B)>,
        A: AsRef<str>,
        B: AsRef<str>,
    {
        let pairs: Vec<(String, String)> = pairs
            .into_iter()
            .map(|(a, b)| (a.as_ref().to_owned(), b.as_ref().to_owned()))
            .collect();
        let n = pairs.len();
        stream::iter(pairs)
            .map(|(from, to)| async move {
                self.inner
                    .object
                    .copy(&self.path(&from), &self.path(&to))
                    .await
                    .map_err(|e| self.error(&from, e))
            })
            .buffer_unordered(BATCH_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(n)
    }

    /// Fails with [`StorageError::BucketNotFound`](crate::StorageError::BucketNotFound) or
    /// [`StorageError::Unauthorized`](crate::StorageError::Unauthorized) if the
    /// store cannot be listed: a cheap check at start-up that the URL and credentials work.
    pub async fn check(&self) -> Result<()> {
        self.list_page(None).await
    }
}

impl crate::store::Storage {
    /// [`Store::upload`] to the store named `store`.
    pub async fn upload<R: tokio::io::AsyncRead + Unpin + Send>(
        &self,
        store: &str,
        key: &str,
        reader: R,
        options: crate::upload::UploadOptions,
    ) -> Result<Blob> {
        self.store(store)?.upload(key, reader, options).await
    }

    /// [`Store::download`] from `blob`'s store.
    pub async fn download(&self, blob: &Blob) -> Result<crate::download::BlobStream> {
        self.store_of(blob)?.download(blob).await
    }

    /// [`Store::read_all`] from `blob`'s store.
    pub async fn read_all(&self, blob: &Blob) -> Result<bytes::Bytes> {
        self.store_of(blob)?.read_all(blob).await
    }

    /// [`Store::read_range`] from `blob`'s store.
    pub async fn read_range(
        &self,
        blob: &Blob,
        range: std::ops::Range<u64>,
    ) -> Result<bytes::Bytes> {
        self.store_of(blob)?.read_range(blob, range).await
    }

    /// [`Store::delete`] in `blob`'s store. To delete after a row's deletion committed, see
    /// [`Storage::after_commit`](crate::Storage::after_commit).
    pub async fn delete(&self, blob: &Blob) -> Result<()> {
        self.store_of(blob)?.delete(blob).await
    }
}
