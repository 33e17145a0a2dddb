//! `orm`: adopt an existing database and run its migrations without your crate.
//!
//! `orm db pull` writes models of a live database, `orm migrate baseline` starts its migration
//! history, and `orm migrate status|up|down|verify|sql` run an existing `migrations/`
//! directory, comparing with its last snapshot. `generate` needs your models and stays in your
//! crate (`src/bin/migrate.rs` calling `orm::migrate::cli::run`). Settings come from flags, the
//! environment and the project's `orm.toml` ([`config`]), in that order ([`settings`]).

mod config;
mod expand;
mod settings;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use orm_migrate::cli::{Cli, Command, Models, execute, report};

use crate::config::{Config, locate};

const EXAMPLES: &str = "\
Examples:
  export DATABASE_URL=postgres://app@localhost/app
  orm db pull --out src/models.rs          # models of every table
  orm migrate baseline                     # start the history without touching the database
  orm migrate status                       # applied / pending / edited migrations
  orm migrate verify                       # exit code 1 on drift (for CI)
  orm migrate up --dry-run | less          # the SQL that would run

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
Precedence: a flag, then its environment variable (DATABASE_URL, ORM_CONFIG), then orm.toml,
then the default. An unknown key or a malformed file is an error naming its line and key.

Exit codes: 0 success, 1 failure (drift, a refused command, an unreachable database, a bad
orm.toml), 2 a usage error.
`generate` needs your models: run it from your crate (src/bin/migrate.rs).";

/// Adopt an existing database: pull models, baseline, and run migrations.
#[derive(Debug, Parser)]
#[command(name = "orm", version, about, after_help = EXAMPLES)]
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
    #[error("cannot read the working directory: {0}; run orm from an existing directory")]
    WorkingDir(std::io::Error),
}

/// The command line resolved against the configuration file.
fn setup() -> Result<Cli, SetupError> {
    let matches = Top::command().get_matches();
    let top = Top::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let cwd = std::env::current_dir().map_err(SetupError::WorkingDir)?;
    let config = match locate(top.config.as_deref(), &cwd) {
        Some(path) => Some(Config::load(&path)?),
        None => None,
    };
    let cli = match top.group {
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
    Ok(settings::apply(cli, top.schema, given, config.as_ref())?)
}

fn main() -> ExitCode {
    let cli = match setup() {
        Ok(cli) => cli,
        Err(e) => {
            let red = anstyle::AnsiColor::Red.on_default().bold();
            anstream::eprintln!("{red}error:{red:#} {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match orm_migrate::cli::runtime() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    report(runtime.block_on(execute(cli, &Models::LatestSnapshot)))
}
