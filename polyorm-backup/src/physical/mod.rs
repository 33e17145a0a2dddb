//! Physical backups through the databases' own tools, driven from the ORM: PostgreSQL base
//! backups (`pg_basebackup`) with WAL archiving and point-in-time recovery
//! ([`postgres::PgPhysical`]), MariaDB full and incremental hot backups (`mariadb-backup`,
//! [`mariadb::MariaDbPhysical`]).
//!
//! A physical backup is a directory: the tool's output in `data/` and [`PhysicalManifest`]
//! (`orm-physical.json`), written last, recording what the backup is (engine, kind, parent,
//! the server's clock before and after, log positions) and the size and SHA-256 of every file
//! of `data/`. A directory without a manifest (a backup cut off) or whose files differ from it
//! is refused with [`BackupError::Corrupt`] before anything is restored.
//!
//! Restores write a new data directory and return what starts a server on it
//! ([`postgres::PgRestored::command`], [`mariadb::MariaDbRestored::command`]); they never
//! touch a running server's data.

pub mod mariadb;
pub mod postgres;

use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use polyorm_core::{Compiled, Db, Executor, FieldType, PoolOptions};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{BackupError, Result};

/// The manifest's file name inside a physical backup's directory.
pub const PHYSICAL_MANIFEST: &str = "orm-physical.json";
/// The directory, inside a physical backup's directory, holding the tool's output.
pub const DATA_DIR: &str = "data";
const FORMAT_VERSION: u32 = 1;

/// Which database a physical backup is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// PostgreSQL (`pg_basebackup`).
    Postgres,
    /// MariaDB (`mariadb-backup`).
    MariaDb,
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Engine::Postgres => "PostgreSQL",
            Engine::MariaDb => "MariaDB",
        })
    }
}

/// Full or incremental.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PhysicalKind {
    /// Every file of the server (a PostgreSQL base backup, a MariaDB full backup).
    Full,
    /// The pages changed since its parent (MariaDB).
    Incremental,
}

/// How a PostgreSQL base backup is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PgFormat {
    /// `base.tar` and `pg_wal.tar` (`pg_basebackup -F tar`): fewer files, extracted on restore.
    #[default]
    Tar,
    /// A copy of the data directory (`pg_basebackup -F plain`).
    Plain,
}

/// One file of a physical backup, as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupFile {
    /// The path under `data/`, with `/` separators.
    pub path: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its SHA-256, lowercase hex.
    pub sha256: String,
}

/// What a physical backup is: `orm-physical.json` in its directory, written after the tool
/// succeeded (a backup without one is incomplete).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhysicalManifest {
    /// The manifest format's version (1).
    pub format_version: u32,
    /// A unique id (`20261206T023000.123Z-pg-full`); an incremental names its parent's.
    pub id: String,
    /// The database.
    pub engine: Engine,
    /// Full or incremental.
    pub kind: PhysicalKind,
    /// PostgreSQL: how the base backup is stored.
    pub pg_format: Option<PgFormat>,
    /// An incremental's parent (the id of the backup it continues).
    pub parent: Option<String>,
    /// The server's clock when the backup started.
    pub started_at: DateTime<Utc>,
    /// The server's clock after the backup ended: the earliest time it can be restored to.
    pub finished_at: DateTime<Utc>,
    /// The server's version (`15.10 (Debian 15.10-0+deb12u1)`, `10.11.19-MariaDB-…`).
    pub server_version: String,
    /// The log position the backup starts from (MariaDB: InnoDB LSN; PostgreSQL: WAL LSN).
    pub from_lsn: Option<String>,
    /// The log position the backup is consistent at.
    pub to_lsn: Option<String>,
    /// PostgreSQL: the WAL archive the server was archiving into, when the backup was told.
    pub wal_archive: Option<PathBuf>,
    /// Every file under `data/`, sorted by path.
    pub files: Vec<BackupFile>,
}

impl PhysicalManifest {
    /// The total size of the backup's files.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }
}

/// A new backup id from the current time.
fn new_id(engine: Engine, kind: PhysicalKind) -> String {
    format!(
        "{}-{}-{}",
        Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
        match engine {
            Engine::Postgres => "pg",
            Engine::MariaDb => "mariadb",
        },
        match kind {
            PhysicalKind::Full => "full",
            PhysicalKind::Incremental => "incremental",
        }
    )
}

/// Reads a physical backup's manifest and checks every file it lists (size and SHA-256);
/// [`BackupError::Corrupt`] when the directory holds no manifest, a file is missing, or a file
/// differs.
pub fn verify_physical(dir: impl AsRef<Path>) -> Result<PhysicalManifest> {
    let dir = dir.as_ref();
    let manifest = read_manifest(dir)?;
    let corrupt = |detail: String| BackupError::Corrupt {
        archive: dir.display().to_string(),
        detail,
    };
    let data = dir.join(DATA_DIR);
    for file in &manifest.files {
        let path = data.join(&file.path);
        let (bytes, sha256) = match hash_file(&path) {
            Ok(found) => found,
            Err(BackupError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                return Err(corrupt(format!("file {} is missing", file.path)));
            }
            Err(e) => return Err(e),
        };
        if bytes != file.bytes {
            return Err(corrupt(format!(
                "file {} has {bytes} bytes, the manifest says {}",
                file.path, file.bytes
            )));
        }
        if sha256 != file.sha256 {
            return Err(corrupt(format!(
                "file {}: SHA-256 differs from the manifest",
                file.path
            )));
        }
    }
    Ok(manifest)
}

/// Reads `orm-physical.json` of `dir` without checking the files.
pub fn read_manifest(dir: impl AsRef<Path>) -> Result<PhysicalManifest> {
    let dir = dir.as_ref();
    let corrupt = |detail: String| BackupError::Corrupt {
        archive: dir.display().to_string(),
        detail,
    };
    if !dir.is_dir() {
        return Err(corrupt("no such directory".into()));
    }
    let path = dir.join(PHYSICAL_MANIFEST);
    let text = match std::fs::read(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(corrupt(format!(
                "no {PHYSICAL_MANIFEST}: not a physical backup, or one that did not finish"
            )));
        }
        Err(e) => return Err(BackupError::io(&path)(e)),
    };
    let manifest: PhysicalManifest = serde_json::from_slice(&text)
        .map_err(|e| corrupt(format!("{PHYSICAL_MANIFEST} does not parse: {e}")))?;
    if manifest.format_version > FORMAT_VERSION {
        return Err(corrupt(format!(
            "manifest format {} is newer than this version of polyorm-backup reads ({FORMAT_VERSION}); upgrade",
            manifest.format_version
        )));
    }
    Ok(manifest)
}

/// Size and SHA-256 of a file.
fn hash_file(path: &Path) -> Result<(u64, String)> {
    let mut file = std::fs::File::open(path).map_err(BackupError::io(path))?;
    let mut sha = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(BackupError::io(path))?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok((bytes, hex::encode(sha.finalize())))
}

/// Every regular file under `root`, hashed, sorted by path.
fn checksum_tree(root: &Path) -> Result<Vec<BackupFile>> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).map_err(BackupError::io(&dir))? {
            let entry = entry.map_err(BackupError::io(&dir))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(BackupError::io(&path))?;
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file() {
                let (bytes, sha256) = hash_file(&path)?;
                let relative = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                files.push(BackupFile {
                    path: relative,
                    bytes,
                    sha256,
                });
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// Writes the manifest into `dir` (last step of a backup).
fn write_manifest(dir: &Path, manifest: &PhysicalManifest) -> Result<()> {
    let path = dir.join(PHYSICAL_MANIFEST);
    let text = serde_json::to_vec_pretty(manifest)
        .map_err(|e| BackupError::Config(format!("cannot encode the manifest: {e}")))?;
    let partial = dir.join(format!("{PHYSICAL_MANIFEST}.partial"));
    std::fs::write(&partial, text).map_err(BackupError::io(&partial))?;
    std::fs::rename(&partial, &path).map_err(BackupError::io(&path))
}

/// Refuses a destination that exists and is not empty (a backup or a restore never writes over
/// files).
fn require_empty(dir: &Path, what: &str) -> Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(BackupError::Config(format!(
                    "{what} {} is not empty: give a new directory (nothing is written over existing files)",
                    dir.display()
                )));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(BackupError::io(dir)(e)),
    }
}

/// Copies the tree `from` into `to` (created), keeping permissions.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(BackupError::io(to))?;
    for entry in std::fs::read_dir(from).map_err(BackupError::io(from))? {
        let entry = entry.map_err(BackupError::io(from))?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().map_err(BackupError::io(&source))?;
        if kind.is_dir() {
            copy_tree(&source, &target)?;
        } else if kind.is_symlink() {
            let link = std::fs::read_link(&source).map_err(BackupError::io(&source))?;
            std::os::unix::fs::symlink(link, &target).map_err(BackupError::io(&target))?;
        } else {
            std::fs::copy(&source, &target).map_err(BackupError::io(&target))?;
        }
    }
    Ok(())
}

/// Where a program was found.
fn find_tool(tool: &str, dirs: &[PathBuf], package: &str) -> Result<PathBuf> {
    let mut searched: Vec<PathBuf> = dirs.to_vec();
    if dirs.is_empty() {
        searched.extend(std::env::var_os("PATH").map_or_else(Vec::new, |path| {
            std::env::split_paths(&path).collect::<Vec<_>>()
        }));
    }
    for dir in &searched {
        let candidate = dir.join(tool);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(BackupError::ToolMissing {
        tool: tool.to_owned(),
        package: package.to_owned(),
        searched: if searched.is_empty() {
            "an empty PATH".to_owned()
        } else {
            searched
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(":")
        },
    })
}

/// Runs a tool to its end; [`BackupError::ToolFailed`] with its standard error's end when it
/// exits with an error.
async fn run_tool(mut command: tokio::process::Command, what: &str) -> Result<String> {
    command
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = command
        .output()
        .await
        .map_err(|e| BackupError::ToolFailed {
            tool: what.to_owned(),
            status: "did not start".into(),
            stderr: e.to_string(),
        })?;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        // The reason is at the end; the whole log of a backup tool is long.
        let tail: Vec<&str> = stderr.lines().rev().take(12).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(BackupError::ToolFailed {
            tool: what.to_owned(),
            status: out.status.to_string(),
            stderr: tail.join("\n"),
        });
    }
    Ok(stderr)
}

/// The parts of a server URL that the tools take as options.
#[derive(Debug, Clone)]
struct ServerAddress {
    host: String,
    port: Option<u16>,
    user: Option<String>,
    password: Option<String>,
}

impl ServerAddress {
    fn parse(url: &str) -> Result<ServerAddress> {
        let parsed = url::Url::parse(url)
            .map_err(|e| BackupError::Config(format!("cannot parse the database URL: {e}")))?;
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map_or_else(|| s.to_owned(), |(_, v)| v.into_owned())
        };
        Ok(ServerAddress {
            host: parsed.host_str().unwrap_or("127.0.0.1").to_owned(),
            port: parsed.port(),
            user: (!parsed.username().is_empty()).then(|| decode(parsed.username())),
            password: parsed.password().map(decode),
        })
    }
}

/// Connects one connection to `url`.
async fn connect(url: &str) -> Result<Db> {
    PoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .map_err(BackupError::db("connecting to the server"))
}

/// The first column of the first row of `sql`, as text (the statement casts it).
async fn query_text(db: &Db, sql: &str) -> Result<String> {
    let rows = db
        .fetch_compiled(
            Compiled {
                sql: sql.to_owned(),
                values: Vec::new(),
            },
            |r| <Option<String> as FieldType>::decode(r, 0),
        )
        .await
        .map_err(BackupError::db(format!("running `{sql}`")))?;
    Ok(rows.into_iter().next().flatten().unwrap_or_default())
}

/// Parses seconds since the epoch with a decimal fraction (`1733500000.123456`).
fn parse_epoch(text: &str) -> Result<DateTime<Utc>> {
    let text = text.trim();
    let (secs, frac) = text.split_once('.').unwrap_or((text, "0"));
    let secs: i64 = secs
        .parse()
        .map_err(|_| BackupError::Config(format!("the server's clock `{text}` does not parse")))?;
    let digits: String = frac.chars().take(9).collect();
    let nanos: u32 = format!("{digits:0<9}")
        .parse()
        .map_err(|_| BackupError::Config(format!("the server's clock `{text}` does not parse")))?;
    DateTime::from_timestamp(secs, nanos)
        .ok_or_else(|| BackupError::Config(format!("the server's clock `{text}` is out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_parse_to_the_microsecond() {
        let t = parse_epoch("1733500000.123456").unwrap();
        assert_eq!(t.timestamp(), 1_733_500_000);
        assert_eq!(t.timestamp_subsec_micros(), 123_456);
        assert_eq!(parse_epoch("17").unwrap().timestamp(), 17);
        assert!(parse_epoch("x").is_err());
    }

    #[test]
    fn addresses_come_from_urls() {
        let a = ServerAddress::parse("postgres://app:p%40ss@db.local:6543/app").unwrap();
        assert_eq!(a.host, "db.local");
        assert_eq!(a.port, Some(6543));
        assert_eq!(a.user.as_deref(), Some("app"));
        assert_eq!(a.password.as_deref(), Some("p@ss"));
        let b = ServerAddress::parse("mysql://root@127.0.0.1/test").unwrap();
        assert_eq!((b.port, b.password), (None, None));
    }

    #[test]
    fn a_directory_without_manifest_or_with_a_changed_file_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let err = verify_physical(dir.path()).unwrap_err();
        assert!(err.to_string().contains("did not finish"), "{err}");
        std::fs::create_dir_all(dir.path().join("data/sub")).unwrap();
        std::fs::write(dir.path().join("data/sub/a"), b"hello").unwrap();
        let manifest = PhysicalManifest {
            format_version: FORMAT_VERSION,
            id: new_id(Engine::MariaDb, PhysicalKind::Full),
            engine: Engine::MariaDb,
            kind: PhysicalKind::Full,
            pg_format: None,
            parent: None,
            started_at: Utc::now(),
            finished_at: Utc::now(),
            server_version: "test".into(),
            from_lsn: None,
            to_lsn: None,
            wal_archive: None,
            files: checksum_tree(&dir.path().join("data")).unwrap(),
        };
        assert_eq!(manifest.files[0].path, "sub/a");
        write_manifest(dir.path(), &manifest).unwrap();
        assert_eq!(verify_physical(dir.path()).unwrap(), manifest);
        std::fs::write(dir.path().join("data/sub/a"), b"hellO").unwrap();
        let err = verify_physical(dir.path()).unwrap_err();
        assert!(err.to_string().contains("SHA-256 differs"), "{err}");
        std::fs::remove_file(dir.path().join("data/sub/a")).unwrap();
        let err = verify_physical(dir.path()).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
    }
}
