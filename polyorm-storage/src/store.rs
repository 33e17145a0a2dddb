//! Stores configured by URL, and [`Storage`]: the named stores an application reads blobs from.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GcpCredentialProvider, GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::multipart::MultipartStore;
use object_store::path::Path;
use object_store::signer::Signer;
use url::Url;

use crate::blob::Blob;
use crate::codec::{Encoding, KeyProvider};
use crate::error::{Result, StorageError};

/// The kind of store behind a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreKind {
    /// Amazon S3 or an S3-compatible server (`s3://bucket/prefix`).
    S3,
    /// Google Cloud Storage (`gs://bucket/prefix`).
    Gcs,
    /// Azure Blob Storage (`az://container/prefix`).
    Azure,
    /// A directory of the local file system (`file:///path`).
    Local,
    /// In process memory (`memory://`), for tests.
    Memory,
}

impl StoreKind {
    /// Whether the store takes object attributes (content type) on upload.
    fn takes_attributes(self) -> bool {
        !matches!(self, StoreKind::Local)
    }

    /// The smallest part of a multipart upload the service accepts (but the last).
    fn min_part_size(self) -> usize {
        match self {
            StoreKind::S3 | StoreKind::Gcs => 5 << 20,
            _ => 1,
        }
    }
}

/// What a URL's scheme gives: the store, and what it can also do (sign URLs, resumable
/// multipart uploads).
type Backend = (
    StoreKind,
    Arc<dyn ObjectStore>,
    Option<Arc<dyn Signer>>,
    Option<Arc<dyn MultipartStore>>,
);

/// Default size of one part of a multipart upload (8 MiB).
pub const DEFAULT_PART_SIZE: usize = 8 << 20;
/// Default number of parts uploaded at once.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// Builds a [`Store`] from a URL, options and the environment.
///
/// Credentials and settings come from the environment the way the `object_store` crate reads
/// them (`AWS_ACCESS_KEY_ID`, `AWS_ENDPOINT`, `GOOGLE_SERVICE_ACCOUNT`,
/// `AZURE_STORAGE_ACCOUNT_NAME`, …), then from [`option`](Self::option), which takes the same
/// keys in lowercase (`aws_endpoint`, `aws_allow_http`, `azure_storage_access_key`, …).
///
/// ```
/// # use polyorm_storage::StoreBuilder;
/// let store = StoreBuilder::new("avatars", "memory://").part_size(5 << 20).build().unwrap();
/// assert_eq!(store.name(), "avatars");
/// ```
#[must_use]
pub struct StoreBuilder {
    name: String,
    url: String,
    options: Vec<(String, String)>,
    public_base_url: Option<String>,
    encoding: Encoding,
    part_size: usize,
    concurrency: usize,
    gcs_credentials: Option<GcpCredentialProvider>,
    retry: Option<object_store::RetryConfig>,
}

impl fmt::Debug for StoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Options may hold secrets: only their keys are shown.
        let keys: Vec<&str> = self.options.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("StoreBuilder")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("options", &keys)
            .finish_non_exhaustive()
    }
}

impl StoreBuilder {
    /// A store named `name` (the name is recorded in every [`Blob`] it holds) at `url`:
    /// `s3://bucket[/prefix]`, `gs://bucket[/prefix]`, `az://container[/prefix]`,
    /// `file:///absolute/dir`, or `memory://`.
    pub fn new(name: impl Into<String>, url: impl Into<String>) -> Self {
        StoreBuilder {
            name: name.into(),
            url: url.into(),
            options: Vec::new(),
            public_base_url: None,
            encoding: Encoding::default(),
            part_size: DEFAULT_PART_SIZE,
            concurrency: DEFAULT_CONCURRENCY,
            gcs_credentials: None,
            retry: None,
        }
    }

    /// An `object_store` configuration key and value, e.g. `("aws_endpoint",
    /// "http://127.0.0.1:9000")`, `("aws_allow_http", "true")`,
    /// `("azure_storage_account_key", …)`, `("google_service_account_key", json)`.
    pub fn option(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.push((key.into(), value.into()));
        self
    }

    /// The URL objects marked public are served from (a CDN in front of the bucket):
    /// [`Storage::public_url`] appends the object's full key to it.
    pub fn public_base_url(mut self, url: impl Into<String>) -> Self {
        self.public_base_url = Some(url.into());
        self
    }

    /// Compresses uploads with zstd at `level` (1-22; 3 is zstd's default).
    pub fn compression(mut self, level: i32) -> Self {
        self.encoding.zstd_level = Some(level);
        self
    }

    /// Encrypts uploads with AES-256-GCM under the provider's current key; its id is stored
    /// in each blob, and downloads ask the provider for that id's key.
    pub fn encryption(mut self, keys: impl KeyProvider) -> Self {
        self.encoding.keys = Some(Arc::new(keys));
        self
    }

    /// Size of one part of a multipart upload (default 8 MiB; at least 5 MiB on S3 and GCS).
    /// Objects smaller than one part are uploaded with a single request.
    pub fn part_size(mut self, bytes: usize) -> Self {
        self.part_size = bytes;
        self
    }

    /// How many parts are uploaded at once (default 4). Memory use of an upload is about
    /// `part_size × (concurrency + 1)`.
    pub fn concurrency(mut self, parts: usize) -> Self {
        self.concurrency = parts;
        self
    }

    /// How S3, GCS and Azure requests are retried (default: `object_store`'s, up to 10
    /// retries within 3 minutes). Lower it to fail fast when a server is down.
    pub fn retry(mut self, max_retries: usize, timeout: std::time::Duration) -> Self {
        self.retry = Some(object_store::RetryConfig {
            max_retries,
            retry_timeout: timeout,
            ..object_store::RetryConfig::default()
        });
        self
    }

    /// GCS only: the provider of the bearer tokens that authorize requests (instead of the
    /// one derived from the service account key or the environment). Presigned URLs are
    /// still signed with the service account key (`google_service_account_key`).
    pub fn gcs_credentials(mut self, provider: GcpCredentialProvider) -> Self {
        self.gcs_credentials = Some(provider);
        self
    }

    /// Builds the store. Nothing is contacted yet: a missing bucket or wrong credentials show
    /// on the first operation, as [`StorageError::BucketNotFound`] or
    /// [`StorageError::Unauthorized`].
    pub fn build(self) -> Result<Store> {
        let config = |e: object_store::Error| {
            StorageError::Config(format!("store `{}` ({}): {e}", self.name, self.url))
        };
        let url = Url::parse(&self.url).map_err(|e| {
            StorageError::Config(format!(
                "store `{}`: `{}` is not a URL ({e}); write s3://bucket, gs://bucket, az://container, file:///dir or memory://",
                self.name, self.url
            ))
        })?;
        let prefix = url.path().trim_matches('/');
        let mut prefix = (!prefix.is_empty()).then(|| Path::from(prefix));
        let unknown = |key: &str| {
            StorageError::Config(format!(
                "store `{}`: `{key}` is not a configuration key of {} stores",
                self.name,
                url.scheme()
            ))
        };
        let (kind, object, signer, multipart): Backend = match url.scheme() {
            "s3" | "s3a" => {
                let mut b = AmazonS3Builder::from_env().with_url(self.url.as_str());
                if let Some(retry) = &self.retry {
                    b = b.with_retry(retry.clone());
                }
                for (k, v) in &self.options {
                    b = b.with_config(AmazonS3ConfigKey::from_str(k).map_err(|_| unknown(k))?, v);
                }
                let s = Arc::new(b.build().map_err(config)?);
                (StoreKind::S3, s.clone(), Some(s.clone()), Some(s))
            }
            "gs" => {
                let mut b = GoogleCloudStorageBuilder::from_env().with_url(self.url.as_str());
                if let Some(retry) = &self.retry {
                    b = b.with_retry(retry.clone());
                }
                for (k, v) in &self.options {
                    b = b.with_config(GoogleConfigKey::from_str(k).map_err(|_| unknown(k))?, v);
                }
                if let Some(provider) = &self.gcs_credentials {
                    b = b.with_credentials(provider.clone());
                }
                let s = Arc::new(b.build().map_err(config)?);
                (StoreKind::Gcs, s.clone(), Some(s.clone()), Some(s))
            }
            "az" | "azure" | "abfs" | "abfss" | "adl" => {
                let mut b = MicrosoftAzureBuilder::from_env().with_url(self.url.as_str());
                if let Some(retry) = &self.retry {
                    b = b.with_retry(retry.clone());
                }
                for (k, v) in &self.options {
                    b = b.with_config(AzureConfigKey::from_str(k).map_err(|_| unknown(k))?, v);
                }
                let s = Arc::new(b.build().map_err(config)?);
                (StoreKind::Azure, s.clone(), Some(s.clone()), Some(s))
            }
            "file" => {
                let dir = url.to_file_path().map_err(|()| {
                    StorageError::Config(format!(
                        "store `{}`: `{}` is not an absolute file URL (file:///dir)",
                        self.name, self.url
                    ))
                })?;
                if let Some((k, _)) = self.options.first() {
                    return Err(unknown(k));
                }
                std::fs::create_dir_all(&dir).map_err(|e| StorageError::Io {
                    doing: format!(
                        "creating the directory {} of store `{}`",
                        dir.display(),
                        self.name
                    ),
                    source: e,
                })?;
                let s = LocalFileSystem::new_with_prefix(&dir).map_err(config)?;
                // The directory is the prefix already.
                prefix = None;
                (StoreKind::Local, Arc::new(s), None, None)
            }
            "memory" => {
                if let Some((k, _)) = self.options.first() {
                    return Err(unknown(k));
                }
                let s = Arc::new(InMemory::new());
                prefix = None;
                (StoreKind::Memory, s.clone(), None, Some(s))
            }
            other => {
                return Err(StorageError::Config(format!(
                    "store `{}`: unknown scheme `{other}`; write s3://, gs://, az://, file:// or memory://",
                    self.name
                )));
            }
        };
        if self.part_size < kind.min_part_size() {
            return Err(StorageError::Config(format!(
                "store `{}`: part size {} is below the service's minimum of {} bytes",
                self.name,
                self.part_size,
                kind.min_part_size()
            )));
        }
        if self.concurrency == 0 {
            return Err(StorageError::Config(format!(
                "store `{}`: concurrency must be at least 1",
                self.name
            )));
        }
        let public_base_url = self
            .public_base_url
            .map(|base| {
                let base = if base.ends_with('/') {
                    base
                } else {
                    format!("{base}/")
                };
                Url::parse(&base).map_err(|e| {
                    StorageError::Config(format!(
                        "store `{}`: public base URL `{base}`: {e}",
                        self.name
                    ))
                })
            })
            .transpose()?;
        Ok(Store {
            inner: Arc::new(Inner {
                name: self.name,
                kind,
                object,
                signer,
                multipart,
                prefix,
                public_base_url,
                encoding: self.encoding,
                part_size: self.part_size,
                concurrency: self.concurrency,
            }),
        })
    }
}

/// One store: an `object_store` backend with a name, a key prefix, and upload settings.
/// Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) name: String,
    pub(crate) kind: StoreKind,
    pub(crate) object: Arc<dyn ObjectStore>,
    pub(crate) signer: Option<Arc<dyn Signer>>,
    pub(crate) multipart: Option<Arc<dyn MultipartStore>>,
    pub(crate) prefix: Option<Path>,
    pub(crate) public_base_url: Option<Url>,
    pub(crate) encoding: Encoding,
    pub(crate) part_size: usize,
    pub(crate) concurrency: usize,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("name", &self.inner.name)
            .field("kind", &self.inner.kind)
            .field("object_store", &format_args!("{}", self.inner.object))
            .field("prefix", &self.inner.prefix)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// A store around an `object_store` backend you built yourself (custom credentials
    /// provider, client options, a wrapper such as `ThrottledStore`); no presigned URLs nor
    /// resumable uploads unless given with [`with_signer`](Self::with_signer) and
    /// [`with_multipart`](Self::with_multipart).
    pub fn from_object_store(
        name: impl Into<String>,
        kind: StoreKind,
        store: Arc<dyn ObjectStore>,
    ) -> Store {
        Store {
            inner: Arc::new(Inner {
                name: name.into(),
                kind,
                object: store,
                signer: None,
                multipart: None,
                prefix: None,
                public_base_url: None,
                encoding: Encoding::default(),
                part_size: DEFAULT_PART_SIZE,
                concurrency: DEFAULT_CONCURRENCY,
            }),
        }
    }

    fn edit(self, f: impl FnOnce(&mut Inner)) -> Store {
        let inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| Inner {
            name: shared.name.clone(),
            kind: shared.kind,
            object: shared.object.clone(),
            signer: shared.signer.clone(),
            multipart: shared.multipart.clone(),
            prefix: shared.prefix.clone(),
            public_base_url: shared.public_base_url.clone(),
            encoding: shared.encoding.clone(),
            part_size: shared.part_size,
            concurrency: shared.concurrency,
        });
        let mut inner = inner;
        f(&mut inner);
        Store {
            inner: Arc::new(inner),
        }
    }

    /// Presigns URLs with `signer` (usually the same `AmazonS3`/`GoogleCloudStorage`/
    /// `MicrosoftAzure` value as the store).
    pub fn with_signer(self, signer: Arc<dyn Signer>) -> Store {
        self.edit(|i| i.signer = Some(signer))
    }

    /// Runs resumable uploads on `multipart` (usually the same value as the store).
    pub fn with_multipart(self, multipart: Arc<dyn MultipartStore>) -> Store {
        self.edit(|i| i.multipart = Some(multipart))
    }

    /// The same store (same objects) with another key provider, e.g. after a key rotation.
    pub fn with_encryption(&self, keys: impl KeyProvider) -> Store {
        let keys: Arc<dyn KeyProvider> = Arc::new(keys);
        self.clone().edit(|i| i.encoding.keys = Some(keys))
    }

    /// The store's name, as recorded in its blobs.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// What kind of store this is.
    pub fn kind(&self) -> StoreKind {
        self.inner.kind
    }

    /// The `object_store` backend, for what this crate does not wrap.
    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.inner.object
    }

    /// The object path of `key`: the store's prefix, then the key.
    pub fn path(&self, key: &str) -> Path {
        let key = Path::from(key);
        match &self.inner.prefix {
            Some(prefix) => prefix.parts().chain(key.parts()).collect(),
            None => key,
        }
    }

    /// The key of an object path listed in this store (the path without the store's prefix).
    pub(crate) fn key_of(&self, path: &Path) -> String {
        match &self.inner.prefix {
            Some(prefix) => path
                .prefix_match(prefix)
                .map(|parts| {
                    parts
                        .map(|p| p.as_ref().to_owned())
                        .collect::<Vec<_>>()
                        .join("/")
                })
                .unwrap_or_else(|| path.to_string()),
            None => path.to_string(),
        }
    }

    pub(crate) fn error(&self, key: &str, e: object_store::Error) -> StorageError {
        StorageError::from_store(&self.inner.name, key, e)
    }

    pub(crate) fn takes_attributes(&self) -> bool {
        self.inner.kind.takes_attributes()
    }

    pub(crate) fn check_blob(&self, blob: &Blob) -> Result<()> {
        if blob.store != self.inner.name {
            return Err(StorageError::Config(format!(
                "blob `{}` belongs to store `{}`, not `{}`: read it through `Storage`",
                blob.key, blob.store, self.inner.name
            )));
        }
        Ok(())
    }
}

/// The stores of an application, by name: what resolves a [`Blob`]'s `store` field.
/// Cheap to clone.
///
/// ```
/// # use polyorm_storage::{Storage, StoreBuilder};
/// let storage = Storage::new()
///     .with_store(StoreBuilder::new("avatars", "memory://").build().unwrap());
/// assert!(storage.store("avatars").is_ok());
/// assert!(storage.store("videos").is_err());
/// ```
#[derive(Clone, Debug, Default)]
pub struct Storage {
    stores: Arc<HashMap<String, Store>>,
}

impl Storage {
    /// No stores yet.
    pub fn new() -> Self {
        Storage::default()
    }

    /// Adds (or replaces) a store under its name.
    #[must_use]
    pub fn with_store(self, store: Store) -> Self {
        let mut stores = Arc::try_unwrap(self.stores).unwrap_or_else(|s| (*s).clone());
        stores.insert(store.name().to_owned(), store);
        Storage {
            stores: Arc::new(stores),
        }
    }

    /// The store named `name`.
    pub fn store(&self, name: &str) -> Result<&Store> {
        self.stores
            .get(name)
            .ok_or_else(|| StorageError::UnknownStore(name.to_owned()))
    }

    /// The store that holds `blob`.
    pub fn store_of(&self, blob: &Blob) -> Result<&Store> {
        self.store(&blob.store)
    }

    /// Every store.
    pub fn stores(&self) -> impl Iterator<Item = &Store> {
        self.stores.values()
    }
}
