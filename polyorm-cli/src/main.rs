//! `polyorm`: adopt an existing database and run its migrations without your crate.
//!
//! `polyorm backup create|list|verify|restore|prune` takes and restores logical backups (`polyorm-backup`);
//! `polyorm lifecycle run [--dry-run]` runs the `[[lifecycle]]` policies of `orm.toml`.
//! `polyorm backup physical create|verify|restore|archive-now` physical ones (`pg_basebackup` with WAL
//! archiving and point-in-time recovery, `mariadb-backup` full and incremental).
//! `polyorm db pull` writes models of a live database, `polyorm migrate baseline` starts its migration
//! history, and `polyorm migrate status|up|down|verify|sql` run an existing `migrations/`
//! directory, comparing with its last snapshot. `generate` needs your models and stays in your
//! crate (`src/bin/migrate.rs` calling `polyorm::migrate::cli::run`). Settings come from flags, the
//! environment and the project's `orm.toml` ([`config`]), in that order ([`settings`]).

mod backup;
mod config;
mod lifecycle;
mod physical;
mod settings;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use polyorm_migrate::cli::{Cli, Command, Models, execute, report};

use crate::config::{Config, locate};

const EXAMPLES: &str = "\
Examples:
  export DATABASE_URL=postgres://app@localhost/app
  polyorm db pull --out src/models.rs          # models of every table
  polyorm migrate baseline                     # start the history without touching the database
  polyorm migrate status                       # applied / pending / edited migrations
  polyorm migrate verify                       # exit code 1 on drift (for CI)
  polyorm migrate up --dry-run | less          # the SQL that would run
  polyorm backup create --to /var/backups/app --watermark updated_at
  polyorm backup create --to s3://bucket/app --incremental --key-env ORM_BACKUP_KEY
  polyorm backup list --to /var/backups/app    # id, kind, status, rows, bytes, parent
  polyorm backup restore <id> --to /var/backups/app --database-url sqlite://copy.db
  polyorm backup prune --to /var/backups/app --daily 7 --weekly 4 --monthly 12 --yearly 5
  polyorm lifecycle run --dry-run              # rows each [[lifecycle]] policy would delete/archive
  polyorm lifecycle run                        # delete or archive them, in batches
  polyorm backup physical create --to /backups/base-1 --wal-archive /var/lib/wal-archive
  polyorm backup physical restore /backups/base-1 --datadir /srv/pg-restored --target-time 2026-12-06T14:05:00Z
  polyorm backup physical create --to /backups/inc-1 --incremental-from /backups/full   # MariaDB

Configuration: orm.toml, the nearest one in this directory or a parent (or --config PATH):
  [database]
  url = \"postgres://app:${DB_PASSWORD}@localhost/app\"   # ${NAME}: an environment variable
  schema = \"billing\"                   # PostgreSQL schema / MySQL database (optional)
  [migrations]
  dir = \"db/migrations\"                # paths are relative to orm.toml
  [pull]
  tables = [\"users\", \"orders\"]
  out = \"src/models.rs\"
  [verify]
  owns = [\"table audit_log\", \"index users.idx_users_gin\"]   # objects SQL owns
  [[lifecycle]]                        # one per policy, for `polyorm lifecycle run`
  table = \"sessions\"
  column = \"expires_at\"               # a timestamp or date column
  older_than = \"30d\"                  # ms, s, m, h, d, w
  action = \"delete\"                   # or \"archive\" with archive_to = \"DIR|URL\"
  batch_size = 1000                    # optional; pause = \"100ms\" between batches
Precedence: a flag, then its environment variable (DATABASE_URL, ORM_CONFIG), then orm.toml,
then the default. An unknown key or a malformed file is an error naming its line and key.

Exit codes: 0 success, 1 failure (drift, a refused command, an unreachable database, a bad
orm.toml), 2 a usage error.
`generate` needs your models: run it from your crate (src/bin/migrate.rs).";

/// Adopt an existing database: pull models, baseline, and run migrations.
#[derive(Debug, Parser)]
#[command(name = "polyorm", version, about, after_help = EXAMPLES)]
struct Top {
    /// The configuration file (default: the nearest `orm.toml` in the working directory or one
    /// of its parents).
    #[arg(long, env = "ORM_CONFIG", global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// The PostgreSQL schema (search_path) or MySQL/MongoDB database to work in, instead of the
    /// URL's (overrides `database.schema` of orm.toml).
    #[arg(long, global = true, value_name = "NAME")]
    schema: Option<String>,
    #[command(subcommand)]
    group: Group,
}

#[derive(Debug, Subcommand)]
enum Group {
    /// Read the live database.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// Run the migrations of a `migrations/` directory (`generate` stays in your crate).
    Migrate(Cli),
    /// Logical backups: create, list, verify, restore (into any SQL database), prune.
    Backup {
        #[command(subcommand)]
        command: backup::BackupCommand,
    },
    /// Data lifecycle: run orm.toml's `[[lifecycle]]` policies (delete or archive old rows).
    Lifecycle {
        #[command(subcommand)]
        command: lifecycle::LifecycleCommand,
    },
}

/// What the command line asks for.
enum Run {
    /// A migration or `db` command.
    Migrate(Cli),
    /// A backup command, with orm.toml's database URL.
    Backup(backup::BackupCommand, Option<String>),
    /// A lifecycle command, with orm.toml's database URL and policies.
    Lifecycle(
        lifecycle::LifecycleCommand,
        Option<String>,
        Vec<lifecycle::LifecycleRule>,
    ),
}

#[derive(Debug, Subcommand)]
enum DbCommand {
    /// Write Rust models (`#[derive(Model)]`) of the live database.
    Pull {
        /// Database URL (`postgres://…`, `mysql://…`, `sqlite://file.db`, `mongodb://…/db`).
        #[arg(long, env = "DATABASE_URL")]
        database_url: Option<String>,
        /// The file to write (default: `pull.out` of orm.toml, else stdout).
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Only this table (repeatable; default: `pull.tables` of orm.toml, else every table).
        #[arg(long = "table", value_name = "TABLE")]
        tables: Vec<String>,
    },
}

/// What went wrong before a command could run.
#[derive(Debug, thiserror::Error)]
enum SetupError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Settings(#[from] settings::SettingsError),
    #[error("cannot read the working directory: {0}; run polyorm from an existing directory")]
    WorkingDir(std::io::Error),
}

/// The command line resolved against the configuration file.
fn setup() -> Result<Run, SetupError> {
    let matches = Top::command().get_matches();
    let top = Top::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let cwd = std::env::current_dir().map_err(SetupError::WorkingDir)?;
    let config = match locate(top.config.as_deref(), &cwd) {
        Some(path) => Some(Config::load(&path)?),
        None => None,
    };
    let cli = match top.group {
        Group::Backup { command } => {
            return Ok(Run::Backup(command, config.and_then(|c| c.database_url)));
        }
        Group::Lifecycle { command } => {
            let (url, rules) = config.map_or((None, Vec::new()), |c| (c.database_url, c.lifecycle));
            return Ok(Run::Lifecycle(command, url, rules));
        }
        Group::Migrate(cli) => cli,
        Group::Db {
            command:
                DbCommand::Pull {
                    database_url,
                    out,
                    tables,
                },
        } => Cli {
            database_url,
            dir: "migrations".into(),
            command: Command::Pull { out, tables },
        },
    };
    let given = |id: &str| settings::given(&matches, id);
    Ok(Run::Migrate(settings::apply(
        cli,
        top.schema,
        given,
        config.as_ref(),
    )?))
}

fn main() -> ExitCode {
    let run = match setup() {
        Ok(run) => run,
        Err(e) => {
            let red = anstyle::AnsiColor::Red.on_default().bold();
            anstream::eprintln!("{red}error:{red:#} {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match polyorm_migrate::cli::runtime() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match run {
        Run::Migrate(cli) => report(runtime.block_on(execute(cli, &Models::LatestSnapshot))),
        Run::Backup(command, url) => runtime.block_on(backup::run(command, url)),
        Run::Lifecycle(command, url, rules) => {
            runtime.block_on(lifecycle::run(command, url, rules))
        }
    }
}
