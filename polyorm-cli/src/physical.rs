//! `polyorm backup physical create | verify | restore | archive-now`: physical backups through the
//! databases' own tools (`polyorm_backup::physical`).

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Subcommand, ValueEnum};
use polyorm_backup::physical::mariadb::{MariaDbPhysical, MariaDbRestore};
use polyorm_backup::physical::postgres::{PgPhysical, PgRestore, RecoveryTarget};
use polyorm_backup::physical::{
    Engine, PgFormat, PhysicalManifest, read_manifest, verify_physical,
};

use crate::backup::{Failure, bar, url};

/// `--format` of a PostgreSQL base backup.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// base.tar and pg_wal.tar.
    Tar,
    /// A copy of the data directory.
    Plain,
}

/// The `backup physical` commands.
#[derive(Debug, Subcommand)]
pub enum PhysicalCommand {
    /// Take a physical backup into a new directory: a PostgreSQL base backup
    /// (`pg_basebackup`; the server must archive its WAL) or a MariaDB full or incremental
    /// backup (`mariadb-backup`, run on the server's machine).
    Create {
        /// Database URL (`postgres://…` or `mysql://…`); its user needs replication
        /// (PostgreSQL) or RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR (MariaDB).
        #[arg(long, env = "DATABASE_URL")]
        database_url: Option<String>,
        /// The new backup directory (must not exist or be empty).
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
        /// PostgreSQL: the directory the server's archive_command copies WAL into (checked
        /// against the server's setting, recorded for restores).
        #[arg(long, value_name = "DIR")]
        wal_archive: Option<PathBuf>,
        /// PostgreSQL: tar (base.tar + pg_wal.tar) or plain (a data directory).
        #[arg(long, value_enum, default_value = "tar")]
        format: Format,
        /// MariaDB: an incremental backup continuing the backup in this directory.
        #[arg(long, value_name = "DIR")]
        incremental_from: Option<PathBuf>,
        /// Where pg_basebackup / mariadb-backup is (default: the server's version's
        /// directory, then PATH).
        #[arg(long, value_name = "DIR")]
        bin_dir: Option<PathBuf>,
    },
    /// Check every file of a physical backup against its manifest (size and SHA-256).
    Verify {
        /// The backup's directory.
        backup: PathBuf,
    },
    /// Write a new data directory from physical backups; prints the command that starts a
    /// server on it.
    Restore {
        /// The backup's directory; for MariaDB the full backup, then its incrementals in order.
        #[arg(required = true)]
        backups: Vec<PathBuf>,
        /// The new data directory (must not exist or be empty).
        #[arg(long, value_name = "DIR")]
        datadir: PathBuf,
        /// PostgreSQL: recover the transactions committed at or before this time (RFC 3339,
        /// e.g. 2026-12-06T14:05:00Z). Without it: everything the WAL archive holds.
        #[arg(long, value_name = "TIME", conflicts_with = "end_of_backup")]
        target_time: Option<DateTime<Utc>>,
        /// PostgreSQL: stop at the end of the base backup (no WAL archive needed).
        #[arg(long)]
        end_of_backup: bool,
        /// PostgreSQL: the WAL archive (default: the one recorded by `create`).
        #[arg(long, value_name = "DIR")]
        wal_archive: Option<PathBuf>,
        /// The port written into the printed start command.
        #[arg(long)]
        port: Option<u16>,
        /// Where postgres / mariadb-backup and mariadbd are.
        #[arg(long, value_name = "DIR")]
        bin_dir: Option<PathBuf>,
    },
    /// PostgreSQL: close the current WAL segment and wait until it is archived, so that every
    /// commit so far can be recovered.
    ArchiveNow {
        /// Database URL (`postgres://…`).
        #[arg(long, env = "DATABASE_URL")]
        database_url: Option<String>,
    },
}

fn describe(m: &PhysicalManifest) -> String {
    format!(
        "{} {:?} backup {}: {} files, {} bytes, server {}, {} .. {}",
        m.engine,
        m.kind,
        m.id,
        m.files.len(),
        m.bytes(),
        m.server_version,
        m.started_at.to_rfc3339(),
        m.finished_at.to_rfc3339()
    )
}

fn is_postgres(url: &str) -> Result<bool, Failure> {
    let scheme = url.split("://").next().unwrap_or_default();
    match scheme {
        "postgres" | "postgresql" => Ok(true),
        "mysql" | "mariadb" => Ok(false),
        other => Err(format!(
            "physical backups are taken of PostgreSQL (postgres://) or MariaDB (mysql://) servers, not `{other}://`; use `polyorm backup create` for a logical backup"
        )
        .into()),
    }
}

/// Runs a `backup physical` command; `config_url` is orm.toml's database URL.
pub async fn execute(command: PhysicalCommand, config_url: Option<String>) -> Result<(), Failure> {
    match command {
        PhysicalCommand::Create {
            database_url,
            to,
            wal_archive,
            format,
            incremental_from,
            bin_dir,
        } => {
            let url = url(database_url, config_url)?;
            let progress = bar("physical backup");
            let done = if is_postgres(&url)? {
                if incremental_from.is_some() {
                    return Err("--incremental-from is for MariaDB: PostgreSQL's incrementals are its archived WAL".into());
                }
                let mut pg = PgPhysical::new(&url).format(match format {
                    Format::Tar => PgFormat::Tar,
                    Format::Plain => PgFormat::Plain,
                });
                if let Some(dir) = wal_archive {
                    pg = pg.wal_archive(dir);
                }
                if let Some(dir) = bin_dir {
                    pg = pg.bin_dir(dir);
                }
                progress.set_message("pg_basebackup");
                pg.base_backup(&to).await
            } else {
                let mut maria = MariaDbPhysical::new(&url);
                if let Some(dir) = bin_dir {
                    maria = maria.bin_dir(dir);
                }
                progress.set_message("mariadb-backup");
                match incremental_from {
                    Some(parent) => maria.incremental(&to, parent).await,
                    None => maria.full(&to).await,
                }
            };
            progress.finish_and_clear();
            println!("{} in {}", describe(&done?), to.display());
        }
        PhysicalCommand::Verify { backup } => {
            let manifest = verify_physical(&backup)?;
            println!(
                "{}: ok (every file's size and SHA-256)",
                describe(&manifest)
            );
        }
        PhysicalCommand::Restore {
            backups,
            datadir,
            target_time,
            end_of_backup,
            wal_archive,
            port,
            bin_dir,
        } => {
            let first = read_manifest(&backups[0])?;
            let progress = bar("physical restore");
            let line = match first.engine {
                Engine::Postgres => {
                    if backups.len() > 1 {
                        return Err("a PostgreSQL restore takes one base backup (the WAL archive holds the rest)".into());
                    }
                    let target = match (target_time, end_of_backup) {
                        (Some(at), _) => RecoveryTarget::Time(at),
                        (None, true) => RecoveryTarget::EndOfBackup,
                        (None, false) => RecoveryTarget::Latest,
                    };
                    let mut restore = PgRestore::new(target);
                    if let Some(dir) = wal_archive {
                        restore = restore.wal_archive(dir);
                    }
                    if let Some(dir) = bin_dir {
                        restore = restore.bin_dir(dir);
                    }
                    let done = restore.run(&backups[0], &datadir).await;
                    progress.finish_and_clear();
                    let done = done?;
                    format!(
                        "{}\n(as the user owning the directory: chown -R postgres {}; the server replays the WAL archive to the target, then promotes itself)",
                        done.command_line(port.unwrap_or(5432)),
                        datadir.display()
                    )
                }
                Engine::MariaDb => {
                    if target_time.is_some() || end_of_backup || wal_archive.is_some() {
                        return Err("--target-time, --end-of-backup and --wal-archive are for PostgreSQL: a MariaDB restore applies its incrementals in full".into());
                    }
                    let mut restore = MariaDbRestore::new();
                    if let Some(dir) = bin_dir {
                        restore = restore.bin_dir(dir);
                    }
                    let done = restore.run(&backups, &datadir).await;
                    progress.finish_and_clear();
                    format!(
                        "{}\n(as the server's user: chown -R mysql {} first)",
                        done?.command_line(port.unwrap_or(3306)),
                        datadir.display()
                    )
                }
            };
            println!(
                "restored into {}; start the server with:\n  {line}",
                datadir.display()
            );
        }
        PhysicalCommand::ArchiveNow { database_url } => {
            let url = url(database_url, config_url)?;
            if !is_postgres(&url)? {
                return Err("archive-now is for PostgreSQL's WAL archive".into());
            }
            let segment = PgPhysical::new(&url).archive_now().await?;
            println!("WAL segment {segment} is archived");
        }
    }
    Ok(())
}
