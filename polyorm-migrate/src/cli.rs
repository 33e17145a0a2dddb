//! The command line: `generate`, `up`, `down`, `status`, `verify`, `sql`.
//!
//! Call [`run`] from a binary of your crate (`src/bin/migrate.rs`):
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     polyorm_migrate::cli::run(polyorm_migrate::cli::Models::Registered)
//! }
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use polyorm_core::{Db, Dialect, ModelSchema};

use crate::error::{Error, Result};
use crate::files::{GenerateOptions, generate, generate_with_db};
use crate::runner::{Migrator, State};
use crate::schema::Schema;

/// Which models the CLI diffs.
#[derive(Debug, Clone)]
pub enum Models {
    /// Every `#[derive(Model)]` linked into the binary (the `migrate` feature registers them).
    Registered,
    /// An explicit list.
    List(Vec<&'static ModelSchema>),
    /// A schema built by hand (tools, tests).
    Schema(Schema),
    /// The snapshot of the last generated migration in `--dir`: what the installable CLI
    /// (`polyorm-cli`) compares with, having no models of its own (`generate` is refused).
    LatestSnapshot,
}

impl Models {
    /// The desired schema.
    pub fn schema(&self) -> Schema {
        match self {
            Models::Registered => Schema::registered(),
            Models::List(list) => Schema::from_models(list.iter().copied()),
            Models::Schema(schema) => schema.clone(),
            Models::LatestSnapshot => Schema::default(),
        }
    }
}

/// Migrations generated from the models, applied under a lock, with drift detection.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// Database URL (`postgres://…`, `mysql://…`, `sqlite://file.db`).
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Directory of the migrations.
    #[arg(long, default_value = "migrations", global = true)]
    pub dir: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// A CLI command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a migration from the difference between the models and the last snapshot.
    Generate {
        /// Name of the migration (letters, digits, `_`, `-`).
        name: String,
        /// Dialect to render for (default: the scheme of --database-url).
        #[arg(long, value_parser = ["postgres", "mysql", "sqlite"])]
        dialect: Option<String>,
        /// Accept the destructive operations on this target (`table` or `table.column`).
        #[arg(long, value_name = "TARGET")]
        allow: Vec<String>,
        /// Accept every destructive operation.
        #[arg(long)]
        allow_destructive: bool,
    },
    /// Write the migration that joins a divergent history (two migrations written on the same
    /// parent, e.g. on two merged branches): it runs nothing and records both as its parents.
    Merge {
        /// Name of the migration (letters, digits, `_`, `-`).
        #[arg(default_value = "merge")]
        name: String,
        /// Dialect to record (default: the branches' migrations').
        #[arg(long, value_parser = ["postgres", "mysql", "sqlite"])]
        dialect: Option<String>,
    },
    /// Apply pending migrations (all, or up to a version).
    Up {
        /// Last version to apply (`YYYYMMDDHHMMSS` or the directory name).
        #[arg(long)]
        to: Option<String>,
        /// Print what would run, run nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Roll back the last N applied migrations.
    Down {
        /// How many migrations to roll back.
        #[arg(default_value_t = 1)]
        steps: usize,
        /// Print what would run, run nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// List migrations and whether each is applied, pending, failed or edited.
    Status,
    /// Check that applied migrations are unchanged and the database matches the models
    /// (exit code 1 on drift).
    Verify {
        /// An object owned by SQL outside the migrations, accepted as it is (repeatable):
        /// `table audit_log`, `index users.idx_users_gin`, `trigger users.trg_touch`,
        /// `column users.search`, `default users.created_at`, `check users.ck_custom`.
        #[arg(long = "owns", value_name = "OBJECT", value_parser = owned_object)]
        owns: Vec<String>,
    },
    /// Print the SQL `up` would run.
    Sql {
        /// Last version to include.
        #[arg(long)]
        to: Option<String>,
    },
    /// Start the history of an existing database: write a migration whose snapshot is the live
    /// schema and record it as applied, without running it (refused if a history exists).
    Baseline {
        /// Name of the migration.
        #[arg(default_value = "baseline")]
        name: String,
    },
    /// Write Rust models (`#[derive(Model)]`) of the live database, to stdout or a file.
    Pull {
        /// The file to write (default: stdout).
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Only this table (repeatable; default: every table).
        #[arg(long = "table", value_name = "TABLE")]
        tables: Vec<String>,
    },
}

/// Checks an `--owns` value when the command line is parsed, so a typo is a usage error.
fn owned_object(text: &str) -> std::result::Result<String, String> {
    crate::introspect::Owned::parse(text).map(|_| text.to_owned())
}

/// A `--dialect` value (checked by clap: `postgres`, `mysql` or `sqlite`).
fn dialect_named(name: &str) -> Dialect {
    match name {
        "postgres" => Dialect::Postgres,
        "mysql" => Dialect::MySql,
        _ => Dialect::Sqlite,
    }
}

fn dialect_of(url: &str) -> Option<Dialect> {
    match url.split(':').next()? {
        "postgres" | "postgresql" => Some(Dialect::Postgres),
        "mysql" | "mariadb" => Some(Dialect::MySql),
        "sqlite" => Some(Dialect::Sqlite),
        _ => None,
    }
}

/// Parses the process arguments and runs the command; the exit code is 1 on any error
/// (including drift for `verify`). Prints errors to stderr.
pub fn run(models: Models) -> ExitCode {
    let cli = Cli::parse();
    let runtime = runtime().expect("a tokio runtime starts");
    report(runtime.block_on(execute(cli, &models)))
}

/// The async runtime the CLI runs its commands on.
pub type Runtime = tokio::runtime::Runtime;

/// A runtime for [`execute`] (one worker thread).
pub fn runtime() -> std::io::Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
}

/// Prints a command's output (colored on a terminal, plain when piped) or its error, and
/// returns the exit code: 0 on success, 1 on any error (drift included).
pub fn report(result: Result<String>) -> ExitCode {
    match result {
        Ok(out) => {
            for line in out.lines() {
                anstream::println!("{}", colored(line));
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            let red = anstyle::AnsiColor::Red.on_default().bold();
            anstream::eprintln!("{red}error:{red:#} {e}");
            ExitCode::FAILURE
        }
    }
}

/// A line of output with its verdict colored: green for done, yellow for waiting, red for
/// what needs a human (anstream drops the colors when the output is not a terminal).
fn colored(line: &str) -> String {
    use anstyle::AnsiColor::{Green, Red, Yellow};
    let style = if line.contains("FAILED") || line.contains("EDITED") || line.contains("missing") {
        Red.on_default().bold()
    } else if line.contains("pending") || line.starts_with("would") || line.starts_with("no ") {
        Yellow.on_default()
    } else if line.starts_with("applied")
        || line.starts_with("created")
        || line.starts_with("rolled back")
        || line.starts_with("ok:")
        || line.contains("  applied ")
    {
        Green.on_default()
    } else {
        return line.to_owned();
    };
    format!("{style}{line}{style:#}")
}

async fn connect(url: Option<&str>) -> Result<Db> {
    let url = url.ok_or_else(|| {
        Error::from(polyorm_core::Error::Config(
            "no database: pass --database-url or set DATABASE_URL".to_owned(),
        ))
    })?;
    Ok(Db::connect(url).await?)
}

/// Models inferred from samples of the collections of the MongoDB database at `url` (its path
/// names the database), 100 documents each.
#[cfg(feature = "mongodb")]
async fn pull_mongo(url: &str, collections: &[String]) -> Result<crate::pull::Pulled> {
    let unreachable = |e: mongodb::error::Error| {
        Error::Unsupported(format!("cannot connect to MongoDB at `{url}`: {e}"))
    };
    let options = mongodb::options::ClientOptions::parse(url)
        .await
        .map_err(unreachable)?;
    let name = options.default_database.clone().ok_or_else(|| {
        Error::Unsupported(format!(
            "`{url}` names no database: write it as the URL's path (`mongodb://host/app`)"
        ))
    })?;
    let client = mongodb::Client::with_options(options).map_err(unreachable)?;
    crate::pull::infer_mongo(&client.database(&name), collections, 100).await
}

#[cfg(not(feature = "mongodb"))]
async fn pull_mongo(_url: &str, _collections: &[String]) -> Result<crate::pull::Pulled> {
    Err(Error::Unsupported(
        "pulling models from MongoDB needs polyorm-migrate's `mongodb` feature (the `polyorm` command \
         has it)"
            .to_owned(),
    ))
}

/// Runs a parsed command and returns what it prints.
pub async fn execute(cli: Cli, models: &Models) -> Result<String> {
    let schema = match models {
        Models::LatestSnapshot => crate::files::latest_snapshot(&crate::files::load_dir(&cli.dir)?),
        _ => models.schema(),
    };
    let url = cli.database_url.as_deref();
    if matches!(models, Models::LatestSnapshot) && matches!(cli.command, Command::Generate { .. }) {
        return Err(Error::Unsupported(
            "`generate` needs your models: run it from a binary of your crate \
             (`src/bin/migrate.rs` calling `polyorm::migrate::cli::run`)"
                .to_owned(),
        ));
    }
    Ok(match cli.command {
        Command::Baseline { name } => {
            let db = connect(url).await?;
            let (m, skipped) = Migrator::new(db, &cli.dir, schema)?.baseline(&name).await?;
            let mut out = format!("created {} (recorded as applied)\n", m.dir.display());
            for s in skipped {
                out.push_str(&format!("  left out: {s}\n"));
            }
            out
        }
        Command::Pull { out, tables } => {
            let pulled = if url.is_some_and(|u| u.starts_with("mongodb")) {
                pull_mongo(url.unwrap_or_default(), &tables).await?
            } else {
                let db = connect(url).await?;
                let pulled = crate::pull::pull(&db, &crate::pull::PullOptions { tables }).await;
                db.close().await;
                pulled?
            };
            let code = crate::pull::code(&pulled);
            match out {
                None => code,
                Some(path) => {
                    std::fs::write(&path, &code).map_err(|source| Error::Io {
                        path: path.clone(),
                        source,
                    })?;
                    format!("created {}\n", path.display())
                }
            }
        }
        Command::Generate {
            name,
            dialect,
            allow,
            allow_destructive,
        } => {
            let dialect = match dialect.as_deref() {
                Some(name) => dialect_named(name),
                None => url.and_then(dialect_of).ok_or_else(|| {
                    Error::from(polyorm_core::Error::Config(
                        "generate needs a dialect: pass --dialect or --database-url".to_owned(),
                    ))
                })?,
            };
            let options = GenerateOptions {
                allow,
                allow_destructive,
                version: None,
            };
            // With a database, a refusal counts the rows each destructive change would lose.
            let generated = match url {
                Some(url) if dialect_of(url) == Some(dialect) => {
                    let db = connect(Some(url)).await?;
                    let g = generate_with_db(&db, &cli.dir, &name, &schema, &options).await;
                    db.close().await;
                    g?
                }
                _ => generate(&cli.dir, &name, &schema, dialect, &options)?,
            };
            match generated {
                None => "no changes: the models match the last migration's snapshot\n".to_owned(),
                Some(g) => {
                    let mut out = format!("created {}\n", g.dir.display());
                    for op in &g.operations {
                        out.push_str(&format!("  {}\n", op.describe()));
                    }
                    out
                }
            }
        }
        Command::Merge { name, dialect } => {
            let options = crate::lineage::MergeOptions {
                dialect: dialect.as_deref().map(dialect_named),
                version: None,
            };
            let merged = crate::lineage::merge(&cli.dir, &name, &options)?;
            format!(
                "created {} (review it, commit it, then `up`)\n",
                merged.dir.display()
            )
        }
        Command::Up { to, dry_run } => {
            let m = Migrator::new(connect(url).await?, &cli.dir, schema)?;
            if dry_run {
                m.pending_sql(to.as_deref()).await?
            } else {
                let done = m.up(to.as_deref(), false).await?;
                if done.is_empty() {
                    "up to date\n".to_owned()
                } else {
                    done.iter().map(|id| format!("applied {id}\n")).collect()
                }
            }
        }
        Command::Down { steps, dry_run } => {
            let m = Migrator::new(connect(url).await?, &cli.dir, schema)?;
            let done = m.down(steps, dry_run).await?;
            let verb = if dry_run {
                "would roll back"
            } else {
                "rolled back"
            };
            if done.is_empty() {
                "nothing to roll back\n".to_owned()
            } else {
                done.iter().map(|id| format!("{verb} {id}\n")).collect()
            }
        }
        Command::Status => {
            let m = Migrator::new(connect(url).await?, &cli.dir, schema)?;
            let mut out = String::new();
            for s in m.status().await? {
                let line = match &s.state {
                    State::Pending => "pending".to_owned(),
                    State::Applied(h) => format!(
                        "applied {} ({} ms{})",
                        h.applied_at,
                        h.execution_ms,
                        h.vcs_revision
                            .as_deref()
                            .map(|r| format!(", from {r}"))
                            .unwrap_or_default()
                    ),
                    State::Changed(_) => "EDITED after it was applied: restore it".to_owned(),
                    State::Failed(_, how) => format!("FAILED: {how}"),
                    State::Missing(_) => "applied, but its directory is missing".to_owned(),
                };
                out.push_str(&format!("{}_{}  {line}\n", s.version, s.name));
            }
            if out.is_empty() {
                out.push_str("no migrations\n");
            }
            out
        }
        Command::Verify { owns } => {
            Migrator::new(connect(url).await?, &cli.dir, schema)?
                .owning(owns.iter().map(String::as_str))?
                .verify()
                .await?;
            "ok: migrations unchanged, database matches the models\n".to_owned()
        }
        Command::Sql { to } => {
            Migrator::new(connect(url).await?, &cli.dir, schema)?
                .pending_sql(to.as_deref())
                .await?
        }
    })
}
