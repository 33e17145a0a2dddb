//! `orm`: adopt an existing database and run its migrations without your crate.
//!
//! `orm db pull` writes models of a live database, `orm migrate baseline` starts its migration
//! history, and `orm migrate status|up|down|verify|sql` run an existing `migrations/`
//! directory, comparing with its last snapshot. `generate` needs your models and stays in your
//! crate (`src/bin/migrate.rs` calling `orm::migrate::cli::run`).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use orm_migrate::cli::{Cli, Command, Models, execute, report};

const EXAMPLES: &str = "\
Examples:
  export DATABASE_URL=postgres://app@localhost/app
  orm db pull --out src/models.rs          # models of every table
  orm migrate baseline                     # start the history without touching the database
  orm migrate status                       # applied / pending / edited migrations
  orm migrate verify                       # exit code 1 on drift (for CI)
  orm migrate up --dry-run | less          # the SQL that would run

Exit codes: 0 success, 1 failure (drift, a refused command, an unreachable database).
`generate` needs your models: run it from your crate (src/bin/migrate.rs).";

/// Adopt an existing database: pull models, baseline, and run migrations.
#[derive(Debug, Parser)]
#[command(name = "orm", version, about, after_help = EXAMPLES)]
struct Top {
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
        /// Database URL (`postgres://…`, `mysql://…`, `sqlite://file.db`).
        #[arg(long, env = "DATABASE_URL")]
        database_url: Option<String>,
        /// The file to write (default: stdout).
        #[arg(long, short)]
        out: Option<std::path::PathBuf>,
        /// Only this table (repeatable; default: every table).
        #[arg(long = "table", value_name = "TABLE")]
        tables: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = match Top::parse().group {
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
    let runtime = match tokio_runtime() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    report(runtime.block_on(execute(cli, &Models::LatestSnapshot)))
}

fn tokio_runtime() -> std::io::Result<orm_migrate::cli::Runtime> {
    orm_migrate::cli::runtime()
}
