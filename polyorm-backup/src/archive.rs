//! The archive container: a directory, or a single (uncompressed) tar file of the same files,
//! holding `manifest.json` and one `<table>.rows` part per table.
//!
//! A part is the row encoding of [`crate::format`], framed by polyorm-storage's codec
//! ([`polyorm_storage::codec`]): 1 MiB blocks, each zstd-compressed, then sealed with AES-256-GCM
//! when the archive is encrypted (the STREAM construction: blocks cannot be reordered, dropped
//! or cut off without the tag failing). Writing and reading hold one block at a time.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use polyorm_core::{ColumnType, Value};
use polyorm_storage::StorageError;
use polyorm_storage::codec::{BLOCK, Decoder, Encoder, Encoding, KeyProvider};
use sha2::{Digest, Sha256};

use crate::error::{BackupError, Result};
use crate::format::{RowDigest, RowReader, encode_row, row_hash};
use crate::manifest::{MANIFEST_FILE, Manifest, Part, PartColumn};

/// Writes one part file.
pub(crate) struct PartWriter {
    path: PathBuf,
    file: BufWriter<File>,
    encoder: Encoder,
    sha: Sha256,
    buf: Vec<u8>,
    row: Vec<u8>,
    rows: u64,
    bytes: u64,
    content: u64,
    digest: RowDigest,
}

impl PartWriter {
    pub(crate) fn create(path: PathBuf, encoding: &Encoding) -> Result<PartWriter> {
        let file = File::create(&path).map_err(BackupError::io(&path))?;
        let encoder = Encoder::new(encoding);
        let mut writer = PartWriter {
            path,
            file: BufWriter::with_capacity(256 * 1024, file),
            encoder,
            sha: Sha256::new(),
            buf: Vec::with_capacity(BLOCK + 4096),
            row: Vec::new(),
            rows: 0,
            bytes: 0,
            content: 0,
            digest: RowDigest::default(),
        };
        let header = writer.encoder.header();
        writer.write(&header)?;
        Ok(writer)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.sha.update(bytes);
        self.bytes += bytes.len() as u64;
        self.file
            .write_all(bytes)
            .map_err(BackupError::io(&self.path))
    }

    /// Appends one row; returns its encoded size.
    pub(crate) fn push(&mut self, row: &[Value]) -> Result<usize> {
        self.row.clear();
        encode_row(row, &mut self.row).map_err(BackupError::Config)?;
        self.digest.add(&self.row);
        self.rows += 1;
        self.content += self.row.len() as u64;
        self.buf.extend_from_slice(&self.row);
        while self.buf.len() >= BLOCK {
            let frame = self.encoder.frame(&self.buf[..BLOCK], false)?;
            self.write(&frame)?;
            self.buf.drain(..BLOCK);
        }
        Ok(self.row.len())
    }

    /// Writes the last frames and returns the part's description.
    pub(crate) fn finish(
        mut self,
        table: &str,
        file: &str,
        columns: Vec<PartColumn>,
    ) -> Result<Part> {
        if !self.buf.is_empty() {
            let rest = std::mem::take(&mut self.buf);
            let frame = self.encoder.frame(&rest, false)?;
            self.write(&frame)?;
        }
        let last = self.encoder.frame(&[], true)?;
        self.write(&last)?;
        self.file.flush().map_err(BackupError::io(&self.path))?;
        self.file
            .get_ref()
            .sync_all()
            .map_err(BackupError::io(&self.path))?;
        Ok(Part {
            table: table.to_owned(),
            file: file.to_owned(),
            columns,
            rows: self.rows,
            bytes: self.bytes,
            content_bytes: self.content,
            sha256: hex::encode(self.sha.finalize()),
            rows_digest: self.digest.to_hex(),
            since: None,
            watermark: None,
        })
    }
}

/// An archive opened for reading: a directory or a tar file.
#[derive(Debug, Clone)]
pub struct Archive {
    path: PathBuf,
    manifest: Manifest,
    /// For a tar file: each member's offset and size.
    members: Option<HashMap<String, (u64, u64)>>,
}

impl Archive {
    /// Opens the archive at `path` (a directory holding `manifest.json`, or a tar file) and
    /// reads its manifest.
    ///
    /// # Errors
    /// [`BackupError::Io`] when it cannot be read, [`BackupError::Corrupt`] when it holds no
    /// readable manifest.
    pub fn open(path: impl AsRef<Path>) -> Result<Archive> {
        let path = path.as_ref().to_path_buf();
        let meta = std::fs::metadata(&path).map_err(BackupError::io(&path))?;
        let (text, members) = if meta.is_dir() {
            let file = path.join(MANIFEST_FILE);
            let text = std::fs::read(&file).map_err(|e| corrupt_or_io(&path, &file, e))?;
            (text, None)
        } else {
            let members = tar_members(&path)?;
            let &(offset, size) =
                members
                    .get(MANIFEST_FILE)
                    .ok_or_else(|| BackupError::Corrupt {
                        archive: path.display().to_string(),
                        detail: format!("the tar file holds no {MANIFEST_FILE}"),
                    })?;
            let mut text = Vec::new();
            member(&path, offset, size)?
                .read_to_end(&mut text)
                .map_err(BackupError::io(&path))?;
            (text, Some(members))
        };
        let manifest: Manifest =
            serde_json::from_slice(&text).map_err(|e| BackupError::Corrupt {
                archive: path.display().to_string(),
                detail: format!("{MANIFEST_FILE} does not parse: {e}"),
            })?;
        if manifest.format != crate::format::FORMAT_VERSION {
            return Err(BackupError::Corrupt {
                archive: path.display().to_string(),
                detail: format!(
                    "row format version {} (this build reads version {}): use a newer polyorm-backup",
                    manifest.format,
                    crate::format::FORMAT_VERSION
                ),
            });
        }
        Ok(Archive {
            path,
            manifest,
            members,
        })
    }

    /// The archive's manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Where the archive is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn name(&self) -> String {
        self.path.display().to_string()
    }

    /// The stored bytes of `part`.
    fn stored(&self, part: &Part) -> Result<Box<dyn Read + Send>> {
        Ok(match &self.members {
            None => {
                let file = self.path.join(&part.file);
                Box::new(File::open(&file).map_err(|e| corrupt_or_io(&self.path, &file, e))?)
            }
            Some(members) => {
                let &(offset, size) =
                    members
                        .get(&part.file)
                        .ok_or_else(|| BackupError::Corrupt {
                            archive: self.name(),
                            detail: format!("part {} is missing", part.file),
                        })?;
                Box::new(member(&self.path, offset, size)?)
            }
        })
    }

    /// Checks the stored SHA-256 and size of `part` against the manifest.
    pub(crate) fn hash_part(&self, part: &Part) -> Result<()> {
        let mut stored = self.stored(part)?;
        let mut sha = Sha256::new();
        let mut chunk = vec![0u8; 256 * 1024];
        let mut len = 0u64;
        loop {
            let n = stored.read(&mut chunk).map_err(|e| BackupError::Corrupt {
                archive: self.name(),
                detail: format!("part {} cannot be read: {e}", part.file),
            })?;
            if n == 0 {
                break;
            }
            len += n as u64;
            sha.update(&chunk[..n]);
        }
        let sha = hex::encode(sha.finalize());
        if len != part.bytes || sha != part.sha256 {
            return Err(BackupError::Corrupt {
                archive: self.name(),
                detail: format!(
                    "part {} has {len} bytes with SHA-256 {sha}; the manifest says {} bytes with SHA-256 {}",
                    part.file, part.bytes, part.sha256
                ),
            });
        }
        Ok(())
    }

    /// A reader of `part`'s rows, decrypted with `keys`.
    pub(crate) fn rows(&self, part: &Part, keys: Option<Arc<dyn KeyProvider>>) -> Result<PartRows> {
        let stored = self.stored(part)?;
        let key_id = self.manifest.encryption.as_ref().map(|e| e.key_id.clone());
        if let (Some(id), None) = (&key_id, &keys) {
            return Err(BackupError::WrongKey {
                archive: self.name(),
                key_id: id.clone(),
                detail: "the archive is encrypted and no key was given (`Restore::key`, CLI: `--key-env`)".to_owned(),
            });
        }
        Ok(PartRows {
            archive: self.name(),
            part: part.clone(),
            types: part.columns.iter().map(|c| c.ty).collect(),
            stored,
            decoder: Decoder::new(&part.file, key_id, keys),
            sha: Sha256::new(),
            content: Vec::new(),
            at: 0,
            rows: 0,
            digest: RowDigest::default(),
            eof: false,
            checked: false,
        })
    }
}

fn corrupt_or_io(archive: &Path, file: &Path, e: std::io::Error) -> BackupError {
    if e.kind() == std::io::ErrorKind::NotFound {
        BackupError::Corrupt {
            archive: archive.display().to_string(),
            detail: format!("{} is missing", file.display()),
        }
    } else {
        BackupError::io(file)(e)
    }
}

fn tar_members(path: &Path) -> Result<HashMap<String, (u64, u64)>> {
    let file = File::open(path).map_err(BackupError::io(path))?;
    let mut archive = tar::Archive::new(file);
    let bad = |e: std::io::Error| BackupError::Corrupt {
        archive: path.display().to_string(),
        detail: format!("not a readable tar file: {e}"),
    };
    let mut members = HashMap::new();
    for entry in archive.entries_with_seek().map_err(bad)? {
        let entry = entry.map_err(bad)?;
        let name = entry.path().map_err(bad)?.to_string_lossy().into_owned();
        members.insert(name, (entry.raw_file_position(), entry.size()));
    }
    Ok(members)
}

fn member(path: &Path, offset: u64, size: u64) -> Result<std::io::Take<File>> {
    let mut file = File::open(path).map_err(BackupError::io(path))?;
    file.seek(SeekFrom::Start(offset))
        .map_err(BackupError::io(path))?;
    let len = file.metadata().map_err(BackupError::io(path))?.len();
    if offset + size > len {
        return Err(BackupError::Corrupt {
            archive: path.display().to_string(),
            detail: "the tar file is truncated".to_owned(),
        });
    }
    Ok(file.take(size))
}

/// Packs the archive directory `dir` into the tar file `to` (written beside, then renamed),
/// and removes the directory.
pub(crate) fn pack_tar(dir: &Path, to: &Path, manifest: &Manifest) -> Result<()> {
    let tmp = to.with_extension("tar.partial");
    {
        let file = File::create(&tmp).map_err(BackupError::io(&tmp))?;
        let mut builder = tar::Builder::new(BufWriter::new(file));
        builder.mode(tar::HeaderMode::Deterministic);
        let names =
            std::iter::once(MANIFEST_FILE).chain(manifest.parts.iter().map(|p| p.file.as_str()));
        for name in names {
            builder
                .append_path_with_name(dir.join(name), name)
                .map_err(BackupError::io(dir.join(name)))?;
        }
        let out = builder.into_inner().map_err(BackupError::io(&tmp))?;
        let file = out
            .into_inner()
            .map_err(|e| BackupError::io(&tmp)(e.into_error()))?;
        file.sync_all().map_err(BackupError::io(&tmp))?;
    }
    std::fs::rename(&tmp, to).map_err(BackupError::io(to))?;
    std::fs::remove_dir_all(dir).map_err(BackupError::io(dir))?;
    Ok(())
}

/// The rows of one part, read and checked block by block.
pub(crate) struct PartRows {
    archive: String,
    part: Part,
    types: Vec<ColumnType>,
    stored: Box<dyn Read + Send>,
    decoder: Decoder,
    sha: Sha256,
    content: Vec<u8>,
    at: usize,
    rows: u64,
    digest: RowDigest,
    eof: bool,
    checked: bool,
}

impl PartRows {
    fn corrupt(&self, detail: impl std::fmt::Display) -> BackupError {
        BackupError::Corrupt {
            archive: self.archive.clone(),
            detail: format!("part {}: {detail}", self.part.file),
        }
    }

    fn storage(&self, e: StorageError) -> BackupError {
        match e {
            StorageError::WrongKey { key_id, .. } => BackupError::WrongKey {
                archive: self.archive.clone(),
                key_id,
                detail: "the AES-GCM tag does not match: wrong key, or the part was altered"
                    .to_owned(),
            },
            StorageError::UnknownKey { key_id } => BackupError::WrongKey {
                archive: self.archive.clone(),
                key_id: key_id.clone(),
                detail: format!("the key provider has no key `{key_id}`"),
            },
            StorageError::Corrupt { detail, .. } => self.corrupt(detail),
            other => self.corrupt(other),
        }
    }

    /// Up to `max` next rows, each with its row hash; an empty batch at the end of the part,
    /// after every check passed (stored SHA-256, last frame present, row count, digest).
    pub(crate) fn next_batch(&mut self, max: usize) -> Result<Vec<(Vec<Value>, u128)>> {
        let mut out = Vec::new();
        if self.checked {
            return Ok(out);
        }
        loop {
            let mut reader = RowReader::new(&self.content[self.at..]);
            let before = out.len();
            while out.len() < max {
                let start = reader.consumed();
                match reader.row(&self.types) {
                    Ok(Some(row)) => {
                        let hash =
                            row_hash(&self.content[self.at + start..self.at + reader.consumed()]);
                        self.digest.add_hash(hash);
                        out.push((row, hash));
                    }
                    Ok(None) => break,
                    Err(e) => {
                        let e = self.corrupt(e);
                        return Err(e);
                    }
                }
            }
            self.at += reader.consumed();
            self.rows += (out.len() - before) as u64;
            if out.len() == max {
                return Ok(out);
            }
            if self.eof {
                if self.at != self.content.len() {
                    return Err(self.corrupt("ends inside a row"));
                }
                self.check_end()?;
                self.checked = true;
                return Ok(out);
            }
            self.fill()?;
        }
    }

    /// Reads the next stored chunk into the content buffer.
    fn fill(&mut self) -> Result<()> {
        self.content.drain(..self.at);
        self.at = 0;
        let mut chunk = vec![0u8; 256 * 1024];
        let n = self
            .stored
            .read(&mut chunk)
            .map_err(|e| self.corrupt(format!("cannot be read: {e}")))?;
        if n == 0 {
            self.eof = true;
            return Ok(());
        }
        self.sha.update(&chunk[..n]);
        let blocks = match self.decoder.push(&chunk[..n]) {
            Ok(blocks) => blocks,
            Err(e) => return Err(self.storage(e)),
        };
        for block in blocks {
            self.content.extend_from_slice(&block);
        }
        Ok(())
    }

    fn check_end(&mut self) -> Result<()> {
        let sha = hex::encode(std::mem::take(&mut self.sha).finalize());
        if sha != self.part.sha256 {
            return Err(self.corrupt(format!(
                "its SHA-256 is {sha}, the manifest says {}",
                self.part.sha256
            )));
        }
        if let Err(e) = self.decoder.finish() {
            return Err(self.storage(e));
        }
        if self.rows != self.part.rows {
            return Err(self.corrupt(format!(
                "holds {} rows, the manifest says {}",
                self.rows, self.part.rows
            )));
        }
        if self.digest.to_hex() != self.part.rows_digest {
            return Err(self.corrupt("its rows do not match the manifest's digest"));
        }
        Ok(())
    }
}
