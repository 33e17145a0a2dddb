//! Where archives are kept: a local directory, or a blob store of `polyorm-storage` (S3, GCS,
//! Azure Blob, local files, memory).
//!
//! A target holds each backup as two objects: `<id>.tar` (the archive) and `<id>.json` (a copy
//! of its manifest, written last: a backup without it is listed as
//! [`BackupStatus::Incomplete`], e.g. an upload cut off).

use std::future::Future;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use object_store::ObjectStoreExt as _;
use object_store::path::Path as ObjectPath;
use tokio::io::AsyncWriteExt;

use crate::error::{BackupError, Result};
use crate::manifest::Manifest;

/// Whether a stored backup is usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupStatus {
    /// The archive and its manifest are both there.
    Complete,
    /// The archive without its manifest (or the reverse): a write that did not finish.
    Incomplete,
}

impl std::fmt::Display for BackupStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BackupStatus::Complete => "complete",
            BackupStatus::Incomplete => "incomplete",
        })
    }
}

/// One backup a target holds.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredBackup {
    /// The backup's id.
    pub id: String,
    /// Complete or not.
    pub status: BackupStatus,
    /// Size of the archive file.
    pub bytes: u64,
    /// When the archive was last written (the store's time).
    pub modified: DateTime<Utc>,
    /// The manifest (complete backups).
    pub manifest: Option<Manifest>,
}

/// A place that keeps archives ([`LocalTarget`], [`StorageTarget`]).
pub trait BackupTarget: Send + Sync {
    /// Where it is, for messages (`/var/backups/app`, `s3://bucket/prefix`).
    fn describe(&self) -> String;

    /// Stores the tar archive `archive` under `manifest.id`; its manifest last.
    fn put(&self, archive: &Path, manifest: &Manifest) -> impl Future<Output = Result<()>> + Send;

    /// Every backup held, complete or not, in no particular order.
    fn list(&self) -> impl Future<Output = Result<Vec<StoredBackup>>> + Send;

    /// Copies backup `id`'s archive into the directory `dir`; returns the file's path.
    fn fetch(&self, id: &str, dir: &Path) -> impl Future<Output = Result<PathBuf>> + Send;

    /// Deletes backup `id` (manifest first, so that a crash leaves it incomplete, never a
    /// manifest without its archive).
    fn delete(&self, id: &str) -> impl Future<Output = Result<()>> + Send;
}

/// A shared target (one [`History`](crate::History) for a scheduler, another for the code
/// that lists or restores).
impl<T: BackupTarget> BackupTarget for std::sync::Arc<T> {
    fn describe(&self) -> String {
        (**self).describe()
    }

    fn put(&self, archive: &Path, manifest: &Manifest) -> impl Future<Output = Result<()>> + Send {
        (**self).put(archive, manifest)
    }

    fn list(&self) -> impl Future<Output = Result<Vec<StoredBackup>>> + Send {
        (**self).list()
    }

    fn fetch(&self, id: &str, dir: &Path) -> impl Future<Output = Result<PathBuf>> + Send {
        (**self).fetch(id, dir)
    }

    fn delete(&self, id: &str) -> impl Future<Output = Result<()>> + Send {
        (**self).delete(id)
    }
}

/// Groups `(name, size, modified)` of a target's files into backups.
fn group(
    files: Vec<(String, u64, DateTime<Utc>)>,
    manifests: impl Fn(&str) -> Option<Manifest>,
) -> Vec<StoredBackup> {
    let mut out: Vec<StoredBackup> = Vec::new();
    for (name, size, modified) in &files {
        let Some(id) = name.strip_suffix(".tar") else {
            continue;
        };
        let has_manifest = files.iter().any(|(n, ..)| *n == format!("{id}.json"));
        let manifest = has_manifest.then(|| manifests(id)).flatten();
        out.push(StoredBackup {
            id: id.to_owned(),
            status: if manifest.is_some() {
                BackupStatus::Complete
            } else {
                BackupStatus::Incomplete
            },
            bytes: *size,
            modified: *modified,
            manifest,
        });
    }
    for (name, _, modified) in &files {
        if let Some(id) = name.strip_suffix(".json")
            && !files.iter().any(|(n, ..)| *n == format!("{id}.tar"))
        {
            out.push(StoredBackup {
                id: id.to_owned(),
                status: BackupStatus::Incomplete,
                bytes: 0,
                modified: *modified,
                manifest: None,
            });
        }
    }
    out
}

fn check_id(id: &str) -> Result<()> {
    if id.is_empty() || id.contains(['/', '\\']) || id.starts_with('.') {
        return Err(BackupError::Config(format!("`{id}` is not a backup id")));
    }
    Ok(())
}

/// Backups in a directory of the local file system.
#[derive(Debug, Clone)]
pub struct LocalTarget {
    dir: PathBuf,
}

impl LocalTarget {
    /// Backups in `dir` (created when the first one is stored).
    pub fn new(dir: impl Into<PathBuf>) -> LocalTarget {
        LocalTarget { dir: dir.into() }
    }
}

impl BackupTarget for LocalTarget {
    fn describe(&self) -> String {
        self.dir.display().to_string()
    }

    async fn put(&self, archive: &Path, manifest: &Manifest) -> Result<()> {
        check_id(&manifest.id)?;
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(BackupError::io(&self.dir))?;
        let tar = self.dir.join(format!("{}.tar", manifest.id));
        let partial = self.dir.join(format!(".{}.tar.partial", manifest.id));
        tokio::fs::copy(archive, &partial)
            .await
            .map_err(BackupError::io(&partial))?;
        tokio::fs::File::open(&partial)
            .await
            .map_err(BackupError::io(&partial))?
            .sync_all()
            .await
            .map_err(BackupError::io(&partial))?;
        tokio::fs::rename(&partial, &tar)
            .await
            .map_err(BackupError::io(&tar))?;
        let json = self.dir.join(format!("{}.json", manifest.id));
        let text = serde_json::to_vec_pretty(manifest)
            .map_err(|e| BackupError::Config(format!("the manifest does not serialize: {e}")))?;
        tokio::fs::write(&json, text)
            .await
            .map_err(BackupError::io(&json))
    }

    async fn list(&self) -> Result<Vec<StoredBackup>> {
        let mut files = Vec::new();
        let mut dir = match tokio::fs::read_dir(&self.dir).await {
            Ok(dir) => dir,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(BackupError::io(&self.dir)(e)),
        };
        while let Some(entry) = dir.next_entry().await.map_err(BackupError::io(&self.dir))? {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let meta = entry
                .metadata()
                .await
                .map_err(BackupError::io(entry.path()))?;
            let modified = meta
                .modified()
                .map(DateTime::<Utc>::from)
                .unwrap_or_default();
            files.push((name, meta.len(), modified));
        }
        Ok(group(files, |id| {
            let text = std::fs::read(self.dir.join(format!("{id}.json"))).ok()?;
            serde_json::from_slice(&text).ok()
        }))
    }

    async fn fetch(&self, id: &str, dir: &Path) -> Result<PathBuf> {
        check_id(id)?;
        let from = self.dir.join(format!("{id}.tar"));
        let to = dir.join(format!("{id}.tar"));
        tokio::fs::copy(&from, &to)
            .await
            .map_err(BackupError::io(&from))?;
        Ok(to)
    }

    async fn delete(&self, id: &str) -> Result<()> {
        check_id(id)?;
        for ext in ["json", "tar"] {
            let path = self.dir.join(format!("{id}.{ext}"));
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(BackupError::io(&path)(e)),
            }
        }
        Ok(())
    }
}

/// Backups in a blob store of `polyorm-storage` (S3 and compatible servers, GCS, Azure Blob,
/// local files, memory), under a prefix. Archives are streamed in multipart uploads (never
/// held in memory); the store's own compression and encryption do not apply (archives are
/// compressed and encrypted already).
#[derive(Debug, Clone)]
pub struct StorageTarget {
    store: polyorm_storage::Store,
    prefix: String,
}

impl StorageTarget {
    /// Backups in `store` under `prefix` (`backups/app/`; empty: the store's root).
    pub fn new(store: polyorm_storage::Store, prefix: impl Into<String>) -> StorageTarget {
        let mut prefix = prefix.into();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        StorageTarget { store, prefix }
    }

    fn path(&self, name: &str) -> ObjectPath {
        self.store.path(&format!("{}{name}", self.prefix))
    }

    fn err(&self, doing: &str, e: object_store::Error) -> BackupError {
        BackupError::Config(format!(
            "blob store `{}` failed {doing}: {e}",
            self.store.name()
        ))
    }
}

impl BackupTarget for StorageTarget {
    fn describe(&self) -> String {
        format!("store `{}`, prefix `{}`", self.store.name(), self.prefix)
    }

    async fn put(&self, archive: &Path, manifest: &Manifest) -> Result<()> {
        check_id(&manifest.id)?;
        let os = self.store.object_store().clone();
        let mut writer = object_store::buffered::BufWriter::new(
            os.clone(),
            self.path(&format!("{}.tar", manifest.id)),
        );
        let mut file = tokio::fs::File::open(archive)
            .await
            .map_err(BackupError::io(archive))?;
        let copied = tokio::io::copy(&mut file, &mut writer).await;
        if let Err(e) = copied {
            let _ = writer.abort().await;
            return Err(BackupError::io(archive)(e));
        }
        writer
            .shutdown()
            .await
            .map_err(|e| BackupError::Config(format!("uploading the archive: {e}")))?;
        let text = serde_json::to_vec_pretty(manifest)
            .map_err(|e| BackupError::Config(format!("the manifest does not serialize: {e}")))?;
        os.put(&self.path(&format!("{}.json", manifest.id)), text.into())
            .await
            .map_err(|e| self.err("storing the manifest", e))?;
        Ok(())
    }

    async fn list(&self) -> Result<Vec<StoredBackup>> {
        let os = self.store.object_store().clone();
        let root = self.path("");
        let mut listing = os.list(Some(&root));
        let mut files = Vec::new();
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(|e| self.err("listing backups", e))?;
            let Some(name) = meta.location.filename() else {
                continue;
            };
            files.push((name.to_owned(), meta.size, meta.last_modified));
        }
        let mut manifests = std::collections::HashMap::new();
        for (name, ..) in &files {
            if let Some(id) = name.strip_suffix(".json") {
                let bytes = os
                    .get(&self.path(name))
                    .await
                    .map_err(|e| self.err("reading a manifest", e))?
                    .bytes()
                    .await
                    .map_err(|e| self.err("reading a manifest", e))?;
                if let Ok(m) = serde_json::from_slice::<Manifest>(&bytes) {
                    manifests.insert(id.to_owned(), m);
                }
            }
        }
        Ok(group(files, |id| manifests.get(id).cloned()))
    }

    async fn fetch(&self, id: &str, dir: &Path) -> Result<PathBuf> {
        check_id(id)?;
        let os = self.store.object_store().clone();
        let got = os
            .get(&self.path(&format!("{id}.tar")))
            .await
            .map_err(|e| self.err("downloading an archive", e))?;
        let to = dir.join(format!("{id}.tar"));
        let mut file = tokio::fs::File::create(&to)
            .await
            .map_err(BackupError::io(&to))?;
        let mut stream = got.into_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.err("downloading an archive", e))?;
            file.write_all(&chunk).await.map_err(BackupError::io(&to))?;
        }
        file.sync_all().await.map_err(BackupError::io(&to))?;
        Ok(to)
    }

    async fn delete(&self, id: &str) -> Result<()> {
        check_id(id)?;
        let os = self.store.object_store().clone();
        for ext in ["json", "tar"] {
            match os.delete(&self.path(&format!("{id}.{ext}"))).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.err("deleting a backup", e)),
            }
        }
        Ok(())
    }
}

/// A target named by a string (the CLI's `--to`): a blob store URL (`s3://bucket/prefix`,
/// `gs://…`, `az://…`, `file:///dir`, credentials from the environment as `object_store`
/// reads them) or a local directory.
#[derive(Debug, Clone)]
pub enum AnyTarget {
    /// A local directory.
    Local(LocalTarget),
    /// A blob store.
    Storage(StorageTarget),
}

impl AnyTarget {
    /// The target `location` names.
    ///
    /// # Errors
    /// [`BackupError::Storage`] for a store URL that does not build.
    pub fn parse(location: &str) -> Result<AnyTarget> {
        if !location.contains("://") {
            return Ok(AnyTarget::Local(LocalTarget::new(location)));
        }
        let url = url::Url::parse(location)
            .map_err(|e| BackupError::Config(format!("`{location}` is not a URL: {e}")))?;
        let prefix = url.path().trim_start_matches('/').to_owned();
        let (root, prefix) = match url.scheme() {
            "file" | "memory" => (location.to_owned(), String::new()),
            _ => (
                format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default()),
                prefix,
            ),
        };
        let store = polyorm_storage::StoreBuilder::new("backups", root).build()?;
        Ok(AnyTarget::Storage(StorageTarget::new(store, prefix)))
    }
}

impl From<LocalTarget> for AnyTarget {
    fn from(target: LocalTarget) -> AnyTarget {
        AnyTarget::Local(target)
    }
}

impl From<StorageTarget> for AnyTarget {
    fn from(target: StorageTarget) -> AnyTarget {
        AnyTarget::Storage(target)
    }
}

impl BackupTarget for AnyTarget {
    fn describe(&self) -> String {
        match self {
            AnyTarget::Local(t) => t.describe(),
            AnyTarget::Storage(t) => t.describe(),
        }
    }

    async fn put(&self, archive: &Path, manifest: &Manifest) -> Result<()> {
        match self {
            AnyTarget::Local(t) => t.put(archive, manifest).await,
            AnyTarget::Storage(t) => t.put(archive, manifest).await,
        }
    }

    async fn list(&self) -> Result<Vec<StoredBackup>> {
        match self {
            AnyTarget::Local(t) => t.list().await,
            AnyTarget::Storage(t) => t.list().await,
        }
    }

    async fn fetch(&self, id: &str, dir: &Path) -> Result<PathBuf> {
        match self {
            AnyTarget::Local(t) => t.fetch(id, dir).await,
            AnyTarget::Storage(t) => t.fetch(id, dir).await,
        }
    }

    async fn delete(&self, id: &str) -> Result<()> {
        match self {
            AnyTarget::Local(t) => t.delete(id).await,
            AnyTarget::Storage(t) => t.delete(id).await,
        }
    }
}
