//! `polyorm backup create | list | verify | restore | prune`: the `polyorm-backup` library on the
//! command line, for databases whose models are not linked in (the tables are read from the
//! live database, as `polyorm db pull` reads them). `polyorm backup physical create | verify |
//! restore | archive-now` drives the databases' own physical backup tools (`pg_basebackup`
//! with WAL archiving, `mariadb-backup`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use polyorm_backup::{
    AnyTarget, Archive, Backup, BackupTarget, History, KeyProvider, Progress, Restore, Retention,
};
use polyorm_core::Db;

/// Where backups are kept and how they are read.
#[derive(Debug, Args)]
pub struct Place {
    /// Where backups are kept: a directory, or a blob store URL (`s3://bucket/prefix`,
    /// `gs://…`, `az://…`, `file:///dir`; credentials from the environment, e.g.
    /// AWS_ACCESS_KEY_ID).
    #[arg(long, env = "ORM_BACKUP_TO", value_name = "DIR|URL")]
    pub to: String,
    /// The environment variable holding the archive key (64 hex digits): encrypts new
    /// backups, decrypts existing ones.
    #[arg(long, value_name = "VAR")]
    pub key_env: Option<String>,
}

/// The `backup` commands.
#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Take a backup of the database's tables and store it.
    Create {
        #[command(flatten)]
        place: Place,
        /// Database URL (`postgres://…`, `mysql://…`, `sqlite://file.db`).
        #[arg(long, env = "DATABASE_URL")]
        database_url: Option<String>,
        /// Only this table (repeatable; default: every table with a primary key).
        #[arg(long = "table", value_name = "TABLE")]
        tables: Vec<String>,
        /// Record the largest value of this column per table (`updated_at`), so that
        /// incremental backups can continue this one.
        #[arg(long, value_name = "COLUMN")]
        watermark: Option<String>,
        /// Continue the newest backup held: only rows whose watermark column moved.
        #[arg(long)]
        incremental: bool,
        /// The zstd level (1-22; 0: no compression).
        #[arg(long, default_value_t = 3)]
        compression: i32,
    },
    /// List the backups held, oldest first, with kind, parent, rows, size and status.
    List {
        #[command(flatten)]
        place: Place,
    },
    /// Read every part of a backup and check it against its manifest (SHA-256, frames, row
    /// counts and digests; the key opens it).
    Verify {
        #[command(flatten)]
        place: Place,
        /// The backup's id (see `list`), or the path of an archive (a tar file or directory).
        backup: String,
    },
    /// Restore a backup (with its chain, for an incremental one) into a database.
    Restore {
        #[command(flatten)]
        place: Place,
        /// The backup's id (see `list`), or the path of an archive.
        backup: String,
        /// Database URL of the target.
        #[arg(long, env = "DATABASE_URL")]
        database_url: Option<String>,
        /// Delete the rows of non-empty target tables first (otherwise refused).
        #[arg(long)]
        replace: bool,
        /// Only this table (repeatable).
        #[arg(long = "table", value_name = "TABLE")]
        tables: Vec<String>,
    },
    /// Physical backups through the database's own tools: PostgreSQL base backups with WAL
    /// archiving and point-in-time recovery, MariaDB full and incremental backups.
    Physical {
        #[command(subcommand)]
        command: crate::physical::PhysicalCommand,
    },
    /// Delete the backups that grandfather-father-son retention does not keep.
    Prune {
        #[command(flatten)]
        place: Place,
        /// The newest backups kept whatever their dates.
        #[arg(long, default_value_t = 1)]
        last: usize,
        /// Days kept (the newest backup of each).
        #[arg(long, default_value_t = 7)]
        daily: usize,
        /// ISO weeks kept.
        #[arg(long, default_value_t = 4)]
        weekly: usize,
        /// Months kept.
        #[arg(long, default_value_t = 12)]
        monthly: usize,
        /// Years kept.
        #[arg(long, default_value_t = 5)]
        yearly: usize,
        /// Only print what would be deleted.
        #[arg(long)]
        dry_run: bool,
    },
}

pub(crate) type Failure = Box<dyn std::error::Error>;

fn keys(place: &Place) -> Result<Option<Arc<dyn KeyProvider>>, Failure> {
    Ok(match &place.key_env {
        Some(var) => Some(polyorm_backup::keys::env_key(var)?),
        None => None,
    })
}

pub(crate) fn url(
    database_url: Option<String>,
    config_url: Option<String>,
) -> Result<String, Failure> {
    database_url.or(config_url).ok_or_else(|| {
        "no database: give --database-url, set DATABASE_URL, or `[database] url` in orm.toml".into()
    })
}

pub(crate) fn bar(label: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {prefix}: {msg} [{elapsed_precise}]")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_prefix(label.to_owned());
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

fn on_progress(bar: &ProgressBar) -> impl Fn(&Progress) + Send + Sync + 'static {
    let bar = bar.clone();
    move |p: &Progress| {
        let total = p.total.map(|t| format!("/{t}")).unwrap_or_default();
        bar.set_message(format!(
            "table {} of {}: {} ({}{total} rows)",
            (p.tables_done + 1).min(p.tables),
            p.tables,
            p.table,
            p.rows
        ));
    }
}

/// The archives to read for `backup`: a path's archive, or the chain of a stored id
/// (downloaded into `scratch`).
async fn archives(
    history: &History<AnyTarget>,
    backup: &str,
    scratch: &Path,
) -> Result<Vec<Archive>, Failure> {
    if Path::new(backup).exists() {
        return Ok(vec![Archive::open(backup)?]);
    }
    Ok(history.fetch_chain(backup, scratch).await?)
}

fn scratch_dir() -> PathBuf {
    std::env::temp_dir().join(format!("polyorm-backup-cli-{}", std::process::id()))
}

/// Runs a `backup` command; `config_url` is orm.toml's database URL.
pub async fn run(command: BackupCommand, config_url: Option<String>) -> ExitCode {
    let scratch = scratch_dir();
    let out = execute(command, config_url, &scratch).await;
    let _ = std::fs::remove_dir_all(&scratch);
    match out {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let red = anstyle::AnsiColor::Red.on_default().bold();
            anstream::eprintln!("{red}error:{red:#} {e}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(
    command: BackupCommand,
    config_url: Option<String>,
    scratch: &Path,
) -> Result<(), Failure> {
    match command {
        BackupCommand::Create {
            place,
            database_url,
            tables,
            watermark,
            incremental,
            compression,
        } => {
            let db = Db::connect(&url(database_url, config_url)?).await?;
            let history = History::new(AnyTarget::parse(&place.to)?);
            let progress = bar("backup");
            let mut backup = Backup::new()
                .live_tables(&db, &tables)
                .await?
                .compression((compression > 0).then_some(compression))
                .on_progress(on_progress(&progress));
            if let Some(column) = &watermark {
                backup = backup.watermark(column);
            }
            if let Some(keys) = keys(&place)? {
                backup = backup.encrypt(keys);
            }
            let manifest = history.create(&db, &backup, incremental, scratch).await;
            progress.finish_and_clear();
            let manifest = manifest?;
            println!(
                "{} backup {}: {} tables, {} rows, {} bytes, stored in {}",
                manifest.kind,
                manifest.id,
                manifest.parts.len(),
                manifest.rows(),
                manifest.bytes(),
                history.target().describe()
            );
            db.close().await;
        }
        BackupCommand::List { place } => {
            let history = History::new(AnyTarget::parse(&place.to)?);
            println!(
                "{:<34} {:<12} {:<10} {:>12} {:>14}  parent",
                "id", "kind", "status", "rows", "bytes"
            );
            for b in history.list().await? {
                let (kind, rows, parent) = match &b.manifest {
                    Some(m) => (
                        m.kind.to_string(),
                        m.rows().to_string(),
                        m.parent.clone().unwrap_or_default(),
                    ),
                    None => ("?".to_owned(), "?".to_owned(), String::new()),
                };
                println!(
                    "{:<34} {:<12} {:<10} {:>12} {:>14}  {parent}",
                    b.id, kind, b.status, rows, b.bytes
                );
            }
        }
        BackupCommand::Verify { place, backup } => {
            let history = History::new(AnyTarget::parse(&place.to)?);
            let keys = keys(&place)?;
            for archive in archives(&history, &backup, scratch).await? {
                let progress = bar("verify");
                progress.set_message(archive.manifest().id.clone());
                let checked = polyorm_backup::verify(&archive, keys.clone());
                progress.finish_and_clear();
                let checked = checked?;
                println!(
                    "{}: ok ({} rows, {} bytes, every part's SHA-256, frames, count and digest)",
                    checked.id, checked.rows, checked.bytes
                );
            }
        }
        BackupCommand::Restore {
            place,
            backup,
            database_url,
            replace,
            tables,
        } => {
            let db = Db::connect(&url(database_url, config_url)?).await?;
            let history = History::new(AnyTarget::parse(&place.to)?);
            let chain = archives(&history, &backup, scratch).await?;
            let progress = bar("restore");
            let mut restore = Restore::new().on_progress(on_progress(&progress));
            if let Some(keys) = keys(&place)? {
                restore = restore.key(keys);
            }
            if replace {
                restore = restore.replace();
            }
            if !tables.is_empty() {
                restore = restore.only(tables);
            }
            let done = restore.run(&db, &chain).await;
            progress.finish_and_clear();
            let done = done?;
            for t in &done.tables {
                let how = if t.created { "created" } else { "existing" };
                println!("{}: {} rows ({how} table, checked)", t.table, t.rows);
            }
            println!(
                "restored {} ({} rows written)",
                done.archives.join(" + "),
                done.rows_written
            );
            db.close().await;
        }
        BackupCommand::Physical { command } => {
            crate::physical::execute(command, config_url).await?;
        }
        BackupCommand::Prune {
            place,
            last,
            daily,
            weekly,
            monthly,
            yearly,
            dry_run,
        } => {
            let history = History::new(AnyTarget::parse(&place.to)?);
            let retention = Retention {
                last,
                daily,
                weekly,
                monthly,
                yearly,
                ..Retention::default()
            };
            let pruned = history.prune(&retention, dry_run).await?;
            for (id, why) in &pruned.kept {
                println!("keep   {id}  ({why})");
            }
            let verb = if dry_run { "would delete" } else { "deleted" };
            for id in &pruned.deleted {
                println!("{verb} {id}");
            }
        }
    }
    Ok(())
}
