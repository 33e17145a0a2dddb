//! Presigned URLs (S3, GCS, Azure) and public URLs (a CDN in front of a bucket).

use std::time::Duration;

use http::Method;
use url::Url;

use crate::blob::Blob;
use crate::error::{Result, StorageError};
use crate::store::{Storage, Store, StoreKind};

impl Store {
    fn signer(&self, what: &str) -> Result<&dyn object_store::signer::Signer> {
        self.inner.signer.as_deref().ok_or_else(|| StorageError::Unsupported {
            store: self.inner.name.clone(),
            what: format!(
                "presigned URLs ({what}): only S3, GCS and Azure stores sign URLs; serve {} objects through your application or a public base URL",
                match self.inner.kind {
                    StoreKind::Local => "local",
                    StoreKind::Memory => "in-memory",
                    _ => "these",
                }
            ),
        })
    }

    /// A URL that lets anyone holding it download `blob` until `expires_in` has passed (the
    /// server refuses it afterwards). The URL serves the stored bytes, so the blob must be
    /// neither compressed nor encrypted.
    pub async fn presigned_get(&self, blob: &Blob, expires_in: Duration) -> Result<Url> {
        self.check_blob(blob)?;
        if !blob.is_plain() {
            return Err(StorageError::Unsupported {
                store: self.inner.name.clone(),
                what: format!(
                    "presigned downloads of `{}`: it is stored compressed or encrypted, and a presigned URL would serve the stored bytes; download it through the store instead",
                    blob.key
                ),
            });
        }
        let signer = self.signer("GET")?;
        signer
            .signed_url(Method::GET, &self.path(&blob.key), expires_in)
            .await
            .map_err(|e| self.error(&blob.key, e))
    }

    /// A URL that lets anyone holding it upload one object under `key` with an HTTP `PUT`
    /// until `expires_in` has passed. Record it as a blob with
    /// [`Store::blob_of`](Store::blob_of) once the client is done.
    pub async fn presigned_put(&self, key: &str, expires_in: Duration) -> Result<Url> {
        let signer = self.signer("PUT")?;
        signer
            .signed_url(Method::PUT, &self.path(key), expires_in)
            .await
            .map_err(|e| self.error(key, e))
    }

    /// The public URL of `blob`: the store's public base URL followed by the object's path.
    /// Only for blobs uploaded with [`UploadOptions::public`](crate::UploadOptions::public).
    pub fn public_url(&self, blob: &Blob) -> Result<Url> {
        self.check_blob(blob)?;
        let refuse = |reason: &str| StorageError::NotPublic {
            store: self.inner.name.clone(),
            key: blob.key.clone(),
            reason: reason.to_owned(),
        };
        if !blob.public {
            return Err(refuse(
                "the blob is not marked public (`UploadOptions::public(true)`)",
            ));
        }
        if !blob.is_plain() {
            return Err(refuse("the blob is stored compressed or encrypted"));
        }
        let base = self.inner.public_base_url.as_ref().ok_or_else(|| {
            refuse("the store has no public base URL (`StoreBuilder::public_base_url`)")
        })?;
        let mut url = base.clone();
        url.path_segments_mut()
            .map_err(|()| refuse("the public base URL cannot take a path"))?
            .pop_if_empty()
            .extend(self.path(&blob.key).parts().map(|p| p.as_ref().to_owned()));
        Ok(url)
    }
}

impl Storage {
    /// [`Store::presigned_get`] on `blob`'s store.
    pub async fn presigned_get(&self, blob: &Blob, expires_in: Duration) -> Result<Url> {
        self.store_of(blob)?.presigned_get(blob, expires_in).await
    }

    /// [`Store::public_url`] on `blob`'s store.
    pub fn public_url(&self, blob: &Blob) -> Result<Url> {
        self.store_of(blob)?.public_url(blob)
    }
}
