//! PostgreSQL base backups with `pg_basebackup`, WAL archiving, and point-in-time recovery
//! into a new data directory.
//!
//! The server archives its WAL into a directory ([`archive_command`] is the setting for it);
//! [`PgPhysical::base_backup`] takes a base backup (tar or plain) with the WAL it needs; a
//! [`PgRestore`] writes a new data directory from a base backup, set up to replay the archive
//! up to a time ([`RecoveryTarget::Time`]) and then to become a primary. Start a server on it
//! with [`PgRestored::command`], and wait for the end of recovery with
//! [`wait_until_promoted`].
//!
//! ```no_run
//! # async fn demo() -> polyorm_backup::Result<()> {
//! use polyorm_backup::physical::postgres::{PgPhysical, PgRestore, RecoveryTarget, archive_command};
//! // postgresql.conf: wal_level = replica, archive_mode = on, and
//! println!("archive_command = '{}'", archive_command("/var/lib/wal-archive".as_ref())?);
//! let pg = PgPhysical::new("postgres://postgres@db:5432/app").wal_archive("/var/lib/wal-archive");
//! let backup = pg.base_backup("/backups/base-1").await?;
//! // … later: the state of 14:05 UTC, in a new data directory
//! let at = chrono::DateTime::parse_from_rfc3339("2026-12-06T14:05:00Z").unwrap().to_utc();
//! let restored = PgRestore::new(RecoveryTarget::Time(at))
//!     .wal_archive("/var/lib/wal-archive")
//!     .run("/backups/base-1", "/var/lib/postgresql/restored")
//!     .await?;
//! let server = restored.command(5433).spawn(); // as the `postgres` user
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};

use super::{
    DATA_DIR, Engine, FORMAT_VERSION, PgFormat, PhysicalKind, PhysicalManifest, ServerAddress,
    checksum_tree, connect, copy_tree, find_tool, new_id, parse_epoch, query_text, require_empty,
    run_tool, verify_physical, write_manifest,
};
use crate::error::{BackupError, Result};

/// Characters refused in archive paths: they would need quoting inside a shell command that is
/// itself quoted inside a configuration value.
const UNSAFE_IN_PATH: &[char] = &['\'', '"', '$', '`', '\\', '%', '\n', ' '];

fn shell_safe(dir: &Path) -> Result<String> {
    let text = dir.to_str().ok_or_else(|| {
        BackupError::Config(format!(
            "the WAL archive path {} is not UTF-8",
            dir.display()
        ))
    })?;
    if text.contains(UNSAFE_IN_PATH) || !dir.is_absolute() {
        return Err(BackupError::Config(format!(
            "the WAL archive path `{text}` must be absolute and free of quotes, spaces, `$`, `%`, backquotes and backslashes (it goes into a shell command)"
        )));
    }
    Ok(text.to_owned())
}

/// The `archive_command` that copies each finished WAL segment into `dir` (never over a file
/// already there): `test ! -f DIR/%f && cp %p DIR/%f`. The server also needs
/// `wal_level = replica` (or `logical`) and `archive_mode = on`; `dir` must be writable by the
/// server's user.
pub fn archive_command(dir: &Path) -> Result<String> {
    let dir = shell_safe(dir)?;
    Ok(format!("test ! -f {dir}/%f && cp %p {dir}/%f"))
}

/// The `restore_command` that reads WAL segments back from the archive `dir`.
pub fn restore_command(dir: &Path) -> Result<String> {
    let dir = shell_safe(dir)?;
    Ok(format!("cp {dir}/%f %p"))
}

/// The server's archiving settings, as [`PgPhysical::check_archiving`] found them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveSettings {
    /// `wal_level`.
    pub wal_level: String,
    /// `archive_mode`.
    pub archive_mode: String,
    /// `archive_command` (or `archive_library` when that is what archives).
    pub archive_command: String,
    /// `pg_stat_archiver.last_archived_wal`, when anything was archived.
    pub last_archived_wal: Option<String>,
}

/// Base backups of one PostgreSQL server; see the module documentation.
#[derive(Debug, Clone)]
pub struct PgPhysical {
    url: String,
    bin_dirs: Vec<PathBuf>,
    wal_archive: Option<PathBuf>,
    format: PgFormat,
    archive_timeout: Duration,
}

impl PgPhysical {
    /// Backups of the server at `url` (`postgres://user:password@host:port/db`; a user with the
    /// `REPLICATION` attribute, which `postgres` has). The tools are looked for in
    /// `/usr/lib/postgresql/<server major>/bin`, then in `PATH`.
    pub fn new(url: impl Into<String>) -> PgPhysical {
        PgPhysical {
            url: url.into(),
            bin_dirs: Vec::new(),
            wal_archive: None,
            format: PgFormat::Tar,
            archive_timeout: Duration::from_secs(60),
        }
    }

    /// Looks for `pg_basebackup` in `dir` only.
    pub fn bin_dir(mut self, dir: impl Into<PathBuf>) -> PgPhysical {
        self.bin_dirs = vec![dir.into()];
        self
    }

    /// The directory the server's `archive_command` copies WAL into: checked against the
    /// server's setting and recorded in the backup's manifest (a restore then finds it).
    pub fn wal_archive(mut self, dir: impl Into<PathBuf>) -> PgPhysical {
        self.wal_archive = Some(dir.into());
        self
    }

    /// Tar (default) or plain.
    pub fn format(mut self, format: PgFormat) -> PgPhysical {
        self.format = format;
        self
    }

    /// How long [`archive_now`](PgPhysical::archive_now) waits for a segment (60 s).
    pub fn archive_timeout(mut self, timeout: Duration) -> PgPhysical {
        self.archive_timeout = timeout;
        self
    }

    /// Checks that the server archives its WAL: `wal_level` `replica` or `logical`,
    /// `archive_mode` `on` or `always`, an `archive_command` (or `archive_library`) that, when
    /// a WAL archive was given, names it, and no archiving failure since the last success.
    /// [`BackupError::NotArchiving`] says which setting to change.
    pub async fn check_archiving(&self) -> Result<ArchiveSettings> {
        let db = connect(&self.url).await?;
        let out = self.archiving(&db).await;
        db.close().await;
        out
    }

    async fn archiving(&self, db: &polyorm_core::Db) -> Result<ArchiveSettings> {
        let setting = |name: &str| format!("SELECT current_setting('{name}')");
        let wal_level = query_text(db, &setting("wal_level")).await?;
        let archive_mode = query_text(db, &setting("archive_mode")).await?;
        let mut archive_command = query_text(db, &setting("archive_command")).await?;
        if archive_command.is_empty() || archive_command == "(disabled)" {
            archive_command = query_text(db, &setting("archive_library")).await?;
        }
        let missing = |detail: String| Err(BackupError::NotArchiving { detail });
        if wal_level == "minimal" {
            return missing(
                "wal_level is minimal: set wal_level = replica in postgresql.conf and restart the server".into(),
            );
        }
        if archive_mode != "on" && archive_mode != "always" {
            return missing(format!(
                "archive_mode is {archive_mode}: set archive_mode = on and archive_command = '{}' in postgresql.conf and restart the server",
                self.suggested_command()
            ));
        }
        if archive_command.is_empty() || archive_command == "(disabled)" {
            return missing(format!(
                "archive_command is empty: set archive_command = '{}' and reload the server",
                self.suggested_command()
            ));
        }
        if let Some(dir) = &self.wal_archive
            && !archive_command.contains(&*dir.to_string_lossy())
        {
            return missing(format!(
                "archive_command `{archive_command}` does not write into the WAL archive {} given to the backup: set archive_command = '{}' or give the directory it writes into",
                dir.display(),
                self.suggested_command()
            ));
        }
        let status = query_text(
            db,
            "SELECT concat_ws('|', coalesce(last_archived_wal, ''), coalesce(last_failed_wal, ''), \
             (last_failed_time IS NOT NULL AND (last_archived_time IS NULL OR last_failed_time > last_archived_time))::text) \
             FROM pg_stat_archiver",
        )
        .await?;
        let mut fields = status.split('|');
        let archived = fields.next().unwrap_or_default().to_owned();
        let failed = fields.next().unwrap_or_default().to_owned();
        if fields.next() == Some("true") {
            return missing(format!(
                "archive_command `{archive_command}` fails (last failure: WAL {failed}); see the server log for its error"
            ));
        }
        Ok(ArchiveSettings {
            wal_level,
            archive_mode,
            archive_command,
            last_archived_wal: (!archived.is_empty()).then_some(archived),
        })
    }

    fn suggested_command(&self) -> String {
        let dir = self
            .wal_archive
            .clone()
            .unwrap_or_else(|| PathBuf::from("/path/to/wal-archive"));
        archive_command(&dir).unwrap_or_else(|_| "cp %p /path/to/wal-archive/%f".into())
    }

    /// Where `tool` is, for a server of `major` version.
    fn tool(&self, tool: &str, major: &str) -> Result<PathBuf> {
        find_pg_tool(&self.bin_dirs, tool, major)
    }

    /// Takes a base backup into `dir` (which must not exist or be empty): `pg_basebackup` with
    /// the WAL it needs (`-X stream`) and a fast checkpoint, then the manifest. Refused with
    /// [`BackupError::NotArchiving`] when the server does not archive WAL (see
    /// [`check_archiving`](PgPhysical::check_archiving)), [`BackupError::ToolMissing`] without
    /// `pg_basebackup`.
    pub async fn base_backup(&self, dir: impl AsRef<Path>) -> Result<PhysicalManifest> {
        let dir = dir.as_ref();
        require_empty(dir, "the backup directory")?;
        let db = connect(&self.url).await?;
        let out = self.base_backup_with(&db, dir).await;
        db.close().await;
        out
    }

    async fn base_backup_with(
        &self,
        db: &polyorm_core::Db,
        dir: &Path,
    ) -> Result<PhysicalManifest> {
        self.archiving(db).await?;
        let version = query_text(db, "SELECT current_setting('server_version')").await?;
        let major = query_text(
            db,
            "SELECT (current_setting('server_version_num')::int / 10000)::text",
        )
        .await?;
        let tool = self.tool("pg_basebackup", &major)?;
        let clock = "SELECT extract(epoch FROM clock_timestamp())::text";
        let started_at = parse_epoch(&query_text(db, clock).await?)?;
        let from_lsn = query_text(db, "SELECT pg_current_wal_lsn()::text").await?;
        let id = new_id(Engine::Postgres, PhysicalKind::Full);

        let data = dir.join(DATA_DIR);
        std::fs::create_dir_all(&data).map_err(BackupError::io(&data))?;
        let address = ServerAddress::parse(&self.url)?;
        let mut command = tokio::process::Command::new(&tool);
        command
            .args(["-h", &address.host])
            .arg("-D")
            .arg(&data)
            .args([
                "-F",
                match self.format {
                    PgFormat::Tar => "tar",
                    PgFormat::Plain => "plain",
                },
            ])
            .args(["-X", "stream", "--checkpoint=fast", "--no-password"])
            .arg(format!("--label=polyorm-backup {id}"));
        if let Some(port) = address.port {
            command.args(["-p", &port.to_string()]);
        }
        if let Some(user) = &address.user {
            command.args(["-U", user]);
        }
        if let Some(password) = &address.password {
            command.env("PGPASSWORD", password);
        }
        run_tool(command, "pg_basebackup").await?;

        let finished_at = parse_epoch(&query_text(db, clock).await?)?;
        let to_lsn = query_text(db, "SELECT pg_current_wal_lsn()::text").await?;
        let files = checksum_tree(&data)?;
        let manifest = PhysicalManifest {
            format_version: FORMAT_VERSION,
            id,
            engine: Engine::Postgres,
            kind: PhysicalKind::Full,
            pg_format: Some(self.format),
            parent: None,
            started_at,
            finished_at,
            server_version: version,
            from_lsn: Some(from_lsn),
            to_lsn: Some(to_lsn),
            wal_archive: self.wal_archive.clone(),
            files,
        };
        write_manifest(dir, &manifest)?;
        Ok(manifest)
    }

    /// Closes the current WAL segment (`pg_switch_wal()`) and waits until the archiver has
    /// archived it: every transaction committed before the call can then be recovered from the
    /// archive. Returns the segment's name. [`BackupError::NotArchiving`] when the archiver
    /// does not get it there within the timeout.
    pub async fn archive_now(&self) -> Result<String> {
        let db = connect(&self.url).await?;
        let out = self.archive_now_with(&db).await;
        db.close().await;
        out
    }

    async fn archive_now_with(&self, db: &polyorm_core::Db) -> Result<String> {
        let segment = query_text(db, "SELECT pg_walfile_name(pg_switch_wal())").await?;
        let deadline = Instant::now() + self.archive_timeout;
        loop {
            let archived = query_text(
                db,
                "SELECT coalesce(last_archived_wal, '') || '|' || coalesce(last_failed_wal, '') \
                 FROM pg_stat_archiver",
            )
            .await?;
            let (last, failed) = archived.split_once('|').unwrap_or((&archived, ""));
            // A timeline's segment names sort in WAL order; `.backup`/`.history` files are
            // longer than the 24-character name.
            let last = last.get(..24).unwrap_or(last);
            if last.len() == 24 && last >= segment.as_str() {
                return Ok(segment);
            }
            if Instant::now() > deadline {
                let failure = if failed.is_empty() {
                    String::new()
                } else {
                    format!(" (last failure: WAL {failed}; see the server log)")
                };
                return Err(BackupError::NotArchiving {
                    detail: format!(
                        "WAL segment {segment} was not archived within {:?}{failure}: check archive_mode and archive_command",
                        self.archive_timeout
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// `tool` in `dirs`, else in `/usr/lib/postgresql/<major>/bin` and `PATH`.
fn find_pg_tool(dirs: &[PathBuf], tool: &str, major: &str) -> Result<PathBuf> {
    let package = if tool == "postgres" {
        format!("the PostgreSQL {major} server (Debian/Ubuntu: postgresql-{major})")
    } else {
        format!("the PostgreSQL {major} client tools (Debian/Ubuntu: postgresql-client-{major})")
    };
    if !dirs.is_empty() {
        return find_tool(tool, dirs, &package);
    }
    let mut search = vec![PathBuf::from(format!("/usr/lib/postgresql/{major}/bin"))];
    if let Some(path) = std::env::var_os("PATH") {
        search.extend(std::env::split_paths(&path));
    }
    find_tool(tool, &search, &package)
}

/// The state a [`PgRestore`] recovers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoveryTarget {
    /// The end of the base backup (no archive needed).
    EndOfBackup,
    /// Every transaction committed at or before this time (`recovery_target_time`, replayed
    /// from the WAL archive). Must not be before the end of the base backup.
    Time(DateTime<Utc>),
    /// Everything the WAL archive holds.
    Latest,
}

/// Writes a new data directory from a base backup, set up for point-in-time recovery; see the
/// module documentation.
#[derive(Debug, Clone)]
pub struct PgRestore {
    target: RecoveryTarget,
    wal_archive: Option<PathBuf>,
    bin_dirs: Vec<PathBuf>,
}

impl PgRestore {
    /// A restore to `target`.
    pub fn new(target: RecoveryTarget) -> PgRestore {
        PgRestore {
            target,
            wal_archive: None,
            bin_dirs: Vec::new(),
        }
    }

    /// The WAL archive to replay from (default: the one recorded in the backup's manifest).
    pub fn wal_archive(mut self, dir: impl Into<PathBuf>) -> PgRestore {
        self.wal_archive = Some(dir.into());
        self
    }

    /// Looks for the `postgres` server binary in `dir` only.
    pub fn bin_dir(mut self, dir: impl Into<PathBuf>) -> PgRestore {
        self.bin_dirs = vec![dir.into()];
        self
    }

    /// Verifies the base backup in `backup` (every file against its manifest), checks the
    /// target, then writes the data directory `data_dir` (which must not exist or be empty):
    /// the backup's files, `recovery.signal`, and in `postgresql.auto.conf` the
    /// `restore_command`, the target and `recovery_target_action = 'promote'`. Nothing is
    /// written when a check fails: [`BackupError::Corrupt`] (a missing or changed backup),
    /// [`BackupError::TargetBeforeBackup`], [`BackupError::ToolMissing`] (no `postgres` binary
    /// of the backup's major version to start), [`BackupError::Config`] (no WAL archive).
    pub async fn run(
        &self,
        backup: impl AsRef<Path>,
        data_dir: impl AsRef<Path>,
    ) -> Result<PgRestored> {
        let (backup, data_dir) = (backup.as_ref(), data_dir.as_ref());
        let manifest = verify_physical(backup)?;
        if manifest.engine != Engine::Postgres {
            return Err(BackupError::Config(format!(
                "{} holds a {} backup, not a PostgreSQL one",
                backup.display(),
                manifest.engine
            )));
        }
        if let RecoveryTarget::Time(at) = self.target
            && at < manifest.finished_at
        {
            return Err(BackupError::TargetBeforeBackup {
                target: at.to_rfc3339_opts(SecondsFormat::Micros, true),
                earliest: manifest
                    .finished_at
                    .to_rfc3339_opts(SecondsFormat::Micros, true),
                backup: backup.display().to_string(),
            });
        }
        let archive = self.wal_archive.clone().or(manifest.wal_archive.clone());
        let restore_command = match (self.target, &archive) {
            (RecoveryTarget::EndOfBackup, None) => None,
            (_, Some(dir)) => {
                if !dir.is_dir() {
                    return Err(BackupError::Config(format!(
                        "the WAL archive {} does not exist: give the directory the server's archive_command copied WAL into",
                        dir.display()
                    )));
                }
                Some(restore_command(dir)?)
            }
            (_, None) => {
                return Err(BackupError::Config(
                    "a recovery past the end of the base backup replays the WAL archive: give it (`PgRestore::wal_archive`, CLI `--wal-archive`)".into(),
                ));
            }
        };
        let major: String = manifest
            .server_version
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let postgres = find_pg_tool(&self.bin_dirs, "postgres", &major)?;
        require_empty(data_dir, "the new data directory")?;

        let source = backup.join(DATA_DIR);
        match manifest.pg_format.unwrap_or_default() {
            PgFormat::Plain => copy_tree(&source, data_dir)?,
            PgFormat::Tar => {
                std::fs::create_dir_all(data_dir).map_err(BackupError::io(data_dir))?;
                untar(&source.join("base.tar"), data_dir)?;
                let wal = source.join("pg_wal.tar");
                if wal.is_file() {
                    untar(&wal, &data_dir.join("pg_wal"))?;
                }
            }
        }
        for leftover in ["standby.signal", "recovery.signal", "postmaster.pid"] {
            let _ = std::fs::remove_file(data_dir.join(leftover));
        }
        if let Some(restore_command) = restore_command {
            let signal = data_dir.join("recovery.signal");
            std::fs::write(&signal, b"").map_err(BackupError::io(&signal))?;
            let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
            let mut settings = format!(
                "\n# polyorm-backup: recovery of base backup {}\nrestore_command = {}\nrecovery_target_action = 'promote'\n",
                manifest.id,
                quote(&restore_command)
            );
            match self.target {
                RecoveryTarget::Time(at) => settings.push_str(&format!(
                    "recovery_target_time = {}\n",
                    quote(&at.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string())
                )),
                RecoveryTarget::EndOfBackup => {
                    settings.push_str("recovery_target = 'immediate'\n");
                }
                RecoveryTarget::Latest => {}
            }
            let conf = data_dir.join("postgresql.auto.conf");
            let mut text = std::fs::read_to_string(&conf).unwrap_or_default();
            text.push_str(&settings);
            std::fs::write(&conf, text).map_err(BackupError::io(&conf))?;
        }
        // PostgreSQL refuses a data directory others can read.
        std::fs::set_permissions(
            data_dir,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .map_err(BackupError::io(data_dir))?;
        Ok(PgRestored {
            data_dir: data_dir.to_path_buf(),
            backup: manifest,
            target: self.target,
            postgres,
        })
    }
}

fn untar(file: &Path, into: &Path) -> Result<()> {
    std::fs::create_dir_all(into).map_err(BackupError::io(into))?;
    let reader = std::fs::File::open(file).map_err(BackupError::io(file))?;
    let mut archive = tar::Archive::new(std::io::BufReader::new(reader));
    archive.set_preserve_permissions(true);
    archive.unpack(into).map_err(BackupError::io(file))
}

/// A data directory written by [`PgRestore::run`], ready for a server to start on.
#[derive(Debug, Clone)]
pub struct PgRestored {
    /// The new data directory.
    pub data_dir: PathBuf,
    /// The base backup it came from.
    pub backup: PhysicalManifest,
    /// What the server recovers to when it starts.
    pub target: RecoveryTarget,
    postgres: PathBuf,
}

impl PgRestored {
    /// The command that starts a server on the restored data directory, listening on `port`:
    /// `postgres -D <data_dir> -p <port>`. It must run as the user that owns the directory
    /// (not root: `chown -R postgres` it first). The server replays the archive up to the
    /// target, then promotes itself (see [`wait_until_promoted`]).
    pub fn command(&self, port: u16) -> std::process::Command {
        let mut command = std::process::Command::new(&self.postgres);
        command
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-p", &port.to_string()]);
        command
    }

    /// The same as a shell line, for the user to run.
    pub fn command_line(&self, port: u16) -> String {
        format!(
            "{} -D {} -p {port}",
            self.postgres.display(),
            self.data_dir.display()
        )
    }
}

/// Waits until the server at `url` accepts logins and has left recovery (it reached its target
/// and promoted itself), for at most `timeout`.
pub async fn wait_until_promoted(url: &str, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let mut last;
    loop {
        let attempt = polyorm_core::PoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(2))
            .connect(url)
            .await;
        match attempt {
            Ok(db) => {
                let state = query_text(&db, "SELECT pg_is_in_recovery()::text").await;
                db.close().await;
                match state {
                    Ok(s) if s == "false" => return Ok(()),
                    Ok(_) => last = "still in recovery".into(),
                    Err(e) => last = e.to_string(),
                }
            }
            Err(e) => last = e.to_string(),
        }
        if Instant::now() > deadline {
            return Err(BackupError::Config(format!(
                "the restored server did not finish recovery within {timeout:?} ({last}): see its log; `recovery ended before configured recovery target was reached` means the archive holds no commit after the target time (run `archive_now` on the source first)"
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
