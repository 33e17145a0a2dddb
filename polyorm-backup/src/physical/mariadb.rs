//! MariaDB full and incremental hot backups with `mariadb-backup`, prepared and restored into
//! a new data directory.
//!
//! [`MariaDbPhysical::full`] copies the server's InnoDB files while it runs;
//! [`MariaDbPhysical::incremental`] copies only the pages changed since a parent backup (full
//! or incremental), by log sequence number. A [`MariaDbRestore`] takes a chain (the full
//! backup, then its incrementals in order), checks that each link continues the previous one,
//! prepares a copy of it (the backups themselves are left as they are) and moves the prepared
//! files into a new data directory; [`MariaDbRestored::command`] starts a server on it.
//!
//! ```no_run
//! # async fn demo() -> polyorm_backup::Result<()> {
//! use polyorm_backup::physical::mariadb::{MariaDbPhysical, MariaDbRestore};
//! let maria = MariaDbPhysical::new("mysql://root:secret@db:3306/app");
//! maria.full("/backups/full").await?;
//! maria.incremental("/backups/inc-1", "/backups/full").await?;
//! let restored = MariaDbRestore::new()
//!     .run(&["/backups/full", "/backups/inc-1"], "/var/lib/mysql-restored")
//!     .await?;
//! let server = restored.command(3307).spawn();
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};

use super::{
    DATA_DIR, Engine, FORMAT_VERSION, PhysicalKind, PhysicalManifest, ServerAddress, checksum_tree,
    connect, copy_tree, find_tool, new_id, parse_epoch, query_text, require_empty, run_tool,
    verify_physical, write_manifest,
};
use crate::error::{BackupError, Result};

const PACKAGE: &str = "mariadb-backup (Debian/Ubuntu: `apt-get install mariadb-backup`, the same version as the server)";

/// Backups of one MariaDB server; see the module documentation.
#[derive(Debug, Clone)]
pub struct MariaDbPhysical {
    url: String,
    bin_dirs: Vec<PathBuf>,
}

impl MariaDbPhysical {
    /// Backups of the server at `url` (`mysql://user:password@host:port/db`, a user with the
    /// `RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR` privileges). The server's files must be
    /// on this machine: `mariadb-backup` reads them directly.
    pub fn new(url: impl Into<String>) -> MariaDbPhysical {
        MariaDbPhysical {
            url: url.into(),
            bin_dirs: Vec::new(),
        }
    }

    /// Looks for `mariadb-backup` in `dir` only (default: `PATH`).
    pub fn bin_dir(mut self, dir: impl Into<PathBuf>) -> MariaDbPhysical {
        self.bin_dirs = vec![dir.into()];
        self
    }

    /// A full backup into `dir` (which must not exist or be empty).
    pub async fn full(&self, dir: impl AsRef<Path>) -> Result<PhysicalManifest> {
        self.backup(dir.as_ref(), None).await
    }

    /// An incremental backup into `dir`: the pages changed since the backup in `parent` (a
    /// full backup or another incremental), which is verified first.
    pub async fn incremental(
        &self,
        dir: impl AsRef<Path>,
        parent: impl AsRef<Path>,
    ) -> Result<PhysicalManifest> {
        self.backup(dir.as_ref(), Some(parent.as_ref())).await
    }

    async fn backup(&self, dir: &Path, parent: Option<&Path>) -> Result<PhysicalManifest> {
        let parent = match parent {
            Some(path) => {
                let manifest = verify_physical(path)?;
                if manifest.engine != Engine::MariaDb {
                    return Err(BackupError::Config(format!(
                        "{} holds a {} backup: an incremental MariaDB backup continues a MariaDB one",
                        path.display(),
                        manifest.engine
                    )));
                }
                Some((path, manifest))
            }
            None => None,
        };
        let tool = find_tool("mariadb-backup", &self.bin_dirs, PACKAGE)?;
        require_empty(dir, "the backup directory")?;
        let db = connect(&self.url).await?;
        let clock = "SELECT CAST(UNIX_TIMESTAMP(NOW(6)) AS CHAR)";
        let started = query_text(&db, clock).await;
        let version = query_text(&db, "SELECT VERSION()").await;
        let (started, version) = match (started, version) {
            (Ok(s), Ok(v)) => (s, v),
            (Err(e), _) | (_, Err(e)) => {
                db.close().await;
                return Err(e);
            }
        };
        let kind = if parent.is_some() {
            PhysicalKind::Incremental
        } else {
            PhysicalKind::Full
        };
        let id = new_id(Engine::MariaDb, kind);
        let data = dir.join(DATA_DIR);
        std::fs::create_dir_all(dir).map_err(BackupError::io(dir))?;
        let address = ServerAddress::parse(&self.url)?;
        let mut command = tokio::process::Command::new(&tool);
        command
            .arg("--backup")
            .arg(format!("--target-dir={}", data.display()))
            .arg(format!("--host={}", address.host))
            .arg("--protocol=tcp");
        if let Some(port) = address.port {
            command.arg(format!("--port={port}"));
        }
        if let Some(user) = &address.user {
            command.arg(format!("--user={user}"));
        }
        if let Some(password) = &address.password {
            // Through the environment, not the command line (`ps` shows arguments).
            command.env("MYSQL_PWD", password);
        }
        if let Some((path, _)) = &parent {
            command.arg(format!(
                "--incremental-basedir={}",
                path.join(DATA_DIR).display()
            ));
        }
        let ran = run_tool(command, "mariadb-backup --backup").await;
        let finished = query_text(&db, clock).await;
        db.close().await;
        ran?;
        let finished = finished?;
        let (from_lsn, to_lsn) = checkpoints(&data)?;
        let manifest = PhysicalManifest {
            format_version: FORMAT_VERSION,
            id,
            engine: Engine::MariaDb,
            kind,
            pg_format: None,
            parent: parent.map(|(_, m)| m.id),
            started_at: parse_epoch(&started)?,
            finished_at: parse_epoch(&finished)?,
            server_version: version,
            from_lsn: Some(from_lsn),
            to_lsn: Some(to_lsn),
            wal_archive: None,
            files: checksum_tree(&data)?,
        };
        write_manifest(dir, &manifest)?;
        Ok(manifest)
    }
}

/// `from_lsn` and `to_lsn` of the checkpoints file `mariadb-backup` writes.
fn checkpoints(data: &Path) -> Result<(String, String)> {
    let path = ["xtrabackup_checkpoints", "mariadb_backup_checkpoints"]
        .iter()
        .map(|name| data.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| BackupError::Corrupt {
            archive: data.display().to_string(),
            detail: "mariadb-backup wrote no checkpoints file (xtrabackup_checkpoints)".into(),
        })?;
    let text = std::fs::read_to_string(&path).map_err(BackupError::io(&path))?;
    let field = |name: &str| {
        text.lines()
            .filter_map(|line| line.split_once('='))
            .find(|(key, _)| key.trim() == name)
            .map(|(_, value)| value.trim().to_owned())
            .ok_or_else(|| BackupError::Corrupt {
                archive: data.display().to_string(),
                detail: format!("{} has no {name}", path.display()),
            })
    };
    Ok((field("from_lsn")?, field("to_lsn")?))
}

/// Restores a chain of MariaDB physical backups into a new data directory; see the module
/// documentation.
#[derive(Debug, Clone, Default)]
pub struct MariaDbRestore {
    bin_dirs: Vec<PathBuf>,
}

impl MariaDbRestore {
    /// A restore with the tools from `PATH`.
    pub fn new() -> MariaDbRestore {
        MariaDbRestore::default()
    }

    /// Looks for `mariadb-backup` and `mariadbd` in `dir` only.
    pub fn bin_dir(mut self, dir: impl Into<PathBuf>) -> MariaDbRestore {
        self.bin_dirs = vec![dir.into()];
        self
    }

    /// Verifies every backup of `chain` (a full backup, then incrementals each continuing the
    /// previous one: [`BackupError::BrokenChain`] otherwise), prepares a copy of it next to
    /// `data_dir` (`mariadb-backup --prepare`, then `--incremental-dir` for each incremental)
    /// and moves the prepared files into `data_dir` (which must not exist or be empty). The
    /// backups are not changed. Nothing is written when a check fails.
    pub async fn run<P: AsRef<Path>>(
        &self,
        chain: &[P],
        data_dir: impl AsRef<Path>,
    ) -> Result<MariaDbRestored> {
        let data_dir = data_dir.as_ref();
        let mut manifests = Vec::with_capacity(chain.len());
        for path in chain {
            let manifest = verify_physical(path)?;
            if manifest.engine != Engine::MariaDb {
                return Err(BackupError::Config(format!(
                    "{} holds a {} backup, not a MariaDB one",
                    path.as_ref().display(),
                    manifest.engine
                )));
            }
            manifests.push(manifest);
        }
        let Some(first) = manifests.first() else {
            return Err(BackupError::BrokenChain(
                "no backup given: a restore starts from a full backup".into(),
            ));
        };
        if first.kind != PhysicalKind::Full {
            return Err(BackupError::BrokenChain(format!(
                "{} is an incremental backup: the chain starts with the full backup it continues",
                first.id
            )));
        }
        for pair in manifests.windows(2) {
            let (before, next) = (&pair[0], &pair[1]);
            if next.parent.as_deref() != Some(before.id.as_str()) || next.from_lsn != before.to_lsn
            {
                return Err(BackupError::BrokenChain(format!(
                    "{} continues {} (from LSN {}), not {} (which ends at LSN {}): give the backups in the order they were taken, without gaps",
                    next.id,
                    next.parent.as_deref().unwrap_or("nothing"),
                    next.from_lsn.as_deref().unwrap_or("?"),
                    before.id,
                    before.to_lsn.as_deref().unwrap_or("?"),
                )));
            }
        }
        let tool = find_tool("mariadb-backup", &self.bin_dirs, PACKAGE)?;
        let mariadbd = if self.bin_dirs.is_empty() {
            let mut search = vec![PathBuf::from("/usr/sbin")];
            if let Some(path) = std::env::var_os("PATH") {
                search.extend(std::env::split_paths(&path));
            }
            find_tool(
                "mariadbd",
                &search,
                "the MariaDB server (Debian/Ubuntu: mariadb-server)",
            )?
        } else {
            find_tool("mariadbd", &self.bin_dirs, "the MariaDB server")?
        };
        require_empty(data_dir, "the new data directory")?;

        // `--prepare` rewrites the files it works on: copies, next to the target.
        let name = data_dir.file_name().map_or_else(
            || "datadir".to_owned(),
            |n| n.to_string_lossy().into_owned(),
        );
        let work = data_dir.with_file_name(format!(".{name}.orm-prepare"));
        let _ = std::fs::remove_dir_all(&work);
        let out = self.prepare_and_move(&tool, chain, &work, data_dir).await;
        let _ = std::fs::remove_dir_all(&work);
        let _ = std::fs::remove_dir_all(work.with_extension("incremental"));
        out?;
        Ok(MariaDbRestored {
            data_dir: data_dir.to_path_buf(),
            chain: manifests,
            mariadbd,
        })
    }

    async fn prepare_and_move<P: AsRef<Path>>(
        &self,
        tool: &Path,
        chain: &[P],
        work: &Path,
        data_dir: &Path,
    ) -> Result<()> {
        copy_tree(&chain[0].as_ref().join(DATA_DIR), work)?;
        let target = format!("--target-dir={}", work.display());
        let mut prepare = tokio::process::Command::new(tool);
        prepare.arg("--prepare").arg(&target);
        run_tool(prepare, "mariadb-backup --prepare").await?;
        // Applying an incremental consumes its files too: each is applied from a copy.
        let delta = work.with_extension("incremental");
        for incremental in &chain[1..] {
            let _ = std::fs::remove_dir_all(&delta);
            copy_tree(&incremental.as_ref().join(DATA_DIR), &delta)?;
            let mut apply = tokio::process::Command::new(tool);
            apply
                .arg("--prepare")
                .arg(&target)
                .arg(format!("--incremental-dir={}", delta.display()));
            let applied = run_tool(apply, "mariadb-backup --prepare --incremental-dir").await;
            let _ = std::fs::remove_dir_all(&delta);
            applied?;
        }
        let mut move_back = tokio::process::Command::new(tool);
        move_back
            .arg("--move-back")
            .arg(&target)
            .arg(format!("--datadir={}", data_dir.display()));
        run_tool(move_back, "mariadb-backup --move-back").await?;
        Ok(())
    }
}

/// A data directory written by [`MariaDbRestore::run`].
#[derive(Debug, Clone)]
pub struct MariaDbRestored {
    /// The new data directory.
    pub data_dir: PathBuf,
    /// The backups applied, full first.
    pub chain: Vec<PhysicalManifest>,
    mariadbd: PathBuf,
}

impl MariaDbRestored {
    /// The command that starts a server on the restored data directory, listening on `port`
    /// (`mariadbd --datadir=<data_dir> --port=<port>`; add `--socket`, `--user` and the rest
    /// of your configuration). The files belong to the user that ran the restore: give them to
    /// the server's user first (`chown -R mysql <data_dir>`).
    pub fn command(&self, port: u16) -> std::process::Command {
        let mut command = std::process::Command::new(&self.mariadbd);
        command
            .arg(format!("--datadir={}", self.data_dir.display()))
            .arg(format!("--port={port}"));
        command
    }

    /// The same as a shell line, for the user to run.
    pub fn command_line(&self, port: u16) -> String {
        format!(
            "{} --datadir={} --port={port}",
            self.mariadbd.display(),
            self.data_dir.display()
        )
    }
}
