//! Start-up: configuration from the environment, the database and its migrations, the query
//! cache, and the fall-back to the in-memory store.

use std::path::{Path, PathBuf};
use std::time::Duration;

use polyorm::migrate::{Migrator, Schema};
use polyorm::prelude::*;
use polyorm::{Backend, Dialect, PoolOptions};
use polyorm_cache::Cache;

use crate::memory::InMemoryStore;
use crate::models::{
    ContextCacheEntry, MemoryObject, MemoryRelationship, PolicyAuditEntry, schemas,
};
use crate::sql::SqlStore;

/// The service's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `PF_DATABASE_ENABLED` (default `true`; `false`, `0`, `no` or `off` turn it off): use the
    /// database; when off, the in-memory store.
    pub database_enabled: bool,
    /// `DATABASE_URL` (default `sqlite::memory:`): `sqlite:…`, `postgres://…`, `mysql://…`,
    /// `mongodb://…`.
    pub database_url: String,
    /// `REDIS_URL` (optional): the query cache's shared tier; without it the cache is
    /// in-process only.
    pub redis_url: Option<String>,
    /// `REDIS_PREFIX` (default `memory-store`): one per database, shared by the processes
    /// that use it.
    pub cache_prefix: String,
    /// How long start-up waits for a database connection before falling back.
    pub connect_timeout: Duration,
    /// Where the generated migrations are (one directory per SQL dialect).
    pub migrations: PathBuf,
}

impl Config {
    /// The settings from the environment.
    pub fn from_env() -> Config {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Config {
            database_enabled: var("PF_DATABASE_ENABLED").is_none_or(|v| {
                !matches!(
                    v.trim().to_ascii_lowercase().as_str(),
                    "false" | "0" | "no" | "off"
                )
            }),
            database_url: var("DATABASE_URL").unwrap_or_else(|| "sqlite::memory:".to_owned()),
            redis_url: var("REDIS_URL"),
            cache_prefix: var("REDIS_PREFIX").unwrap_or_else(|| "memory-store".to_owned()),
            connect_timeout: Duration::from_secs(5),
            migrations: default_migrations_dir(),
        }
    }

    /// The settings for `database_url`, everything else at its default (no Redis).
    #[allow(dead_code)] // used by tests/memory_store.rs
    pub fn for_url(database_url: &str) -> Config {
        Config {
            database_enabled: true,
            database_url: database_url.to_owned(),
            redis_url: None,
            cache_prefix: "memory-store".to_owned(),
            connect_timeout: Duration::from_secs(5),
            migrations: default_migrations_dir(),
        }
    }
}

/// `examples/memory_store/migrations` of this repository.
pub fn default_migrations_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/memory_store/migrations")
}

/// The migrations directory of one SQL dialect.
pub fn migrations_dir(root: &Path, dialect: Dialect) -> PathBuf {
    root.join(match dialect {
        Dialect::Postgres => "postgres",
        Dialect::MySql => "mysql",
        Dialect::Sqlite => "sqlite",
    })
}

/// The store the service runs on.
pub enum Opened {
    /// The database (with the query cache).
    Database(SqlStore),
    /// The in-memory store: the database is disabled, or was unreachable (`reason`).
    InMemory {
        /// The store.
        store: InMemoryStore,
        /// Why not the database.
        reason: String,
    },
}

/// The query cache of `config`: in-process, and Redis when `redis_url` is set.
pub fn build_cache(config: &Config) -> Result<Cache, Box<dyn std::error::Error + Send + Sync>> {
    let mut builder = Cache::builder()
        .prefix(config.cache_prefix.clone())
        .max_entries(10_000);
    if let Some(url) = &config.redis_url {
        builder = builder.redis_url(url.clone());
    }
    Ok(builder.build()?)
}

/// Applies the committed migrations of `db`'s dialect and checks that the live schema is the
/// models' (`Migrator::verify`); on MongoDB, creates the collections, validators and indexes.
/// Returns the migrations applied now.
pub async fn migrate(db: &Db, root: &Path) -> polyorm::Result<Vec<String>> {
    let Backend::Sql(dialect) = db.backend() else {
        db.create_table::<MemoryObject>().await?;
        db.create_table::<MemoryRelationship>().await?;
        db.create_table::<PolicyAuditEntry>().await?;
        db.create_table::<ContextCacheEntry>().await?;
        return Ok(Vec::new());
    };
    let migrator = Migrator::new(
        db.clone(),
        migrations_dir(root, dialect),
        Schema::from_models(schemas()),
    )
    .map_err(migrate_error)?;
    let applied = migrator.up(None, false).await.map_err(migrate_error)?;
    migrator.verify().await.map_err(migrate_error)?;
    Ok(applied)
}

fn migrate_error(e: polyorm::migrate::Error) -> polyorm::Error {
    polyorm::Error::Schema(format!("the memory store's migrations failed: {e}"))
}

/// Whether `e` means "no database there" (the service then runs in memory) rather than a
/// mistake to fix (wrong password, missing database, bad URL).
pub fn unreachable(e: &polyorm::Error) -> bool {
    matches!(
        e,
        polyorm::Error::Connection { .. } | polyorm::Error::Timeout { .. }
    )
}

/// Opens the store `config` asks for: the database, migrated, behind the query cache; the
/// in-memory store when `PF_DATABASE_ENABLED` is off or the database is unreachable (logged
/// on stderr). Other errors (authentication, a failed migration) are returned.
pub async fn open(config: &Config) -> Result<Opened, Box<dyn std::error::Error + Send + Sync>> {
    if !config.database_enabled {
        let reason = "PF_DATABASE_ENABLED is off".to_owned();
        eprintln!("memory store: {reason}; using the in-memory store (nothing is persisted)");
        return Ok(Opened::InMemory {
            store: InMemoryStore::new(),
            reason,
        });
    }
    let options = PoolOptions::new().acquire_timeout(config.connect_timeout);
    let db = match options.connect(&config.database_url).await {
        Ok(db) => db,
        Err(e) if unreachable(&e) => {
            let reason = format!(
                "the database at {} is unreachable: {e}",
                redact(&config.database_url)
            );
            eprintln!(
                "memory store: WARNING: {reason}; falling back to the in-memory store (nothing \
                 is persisted). Start the database or fix DATABASE_URL, or set \
                 PF_DATABASE_ENABLED=false to choose the in-memory store."
            );
            return Ok(Opened::InMemory {
                store: InMemoryStore::new(),
                reason,
            });
        }
        Err(e) => return Err(e.into()),
    };
    migrate(&db, &config.migrations).await?;
    Ok(Opened::Database(SqlStore::new(db, build_cache(config)?)))
}

/// `url` without its password.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.rsplit_once('@') {
        Some((auth, host)) if auth.contains(':') => {
            let user = auth.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_owned(),
    }
}
