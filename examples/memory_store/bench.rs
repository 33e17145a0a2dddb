//! The service's performance targets, measured: p50/p95 of each operation against a store of
//! `objects` memories (10,000 for BENCHMARKS.md; a few dozen in the test suite's smoke run).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Utc;
use polyorm::migrate::{GenerateOptions, Schema, files::generate};
use polyorm::prelude::*;
use polyorm::{Dialect, PoolOptions};

use crate::app::{Config, build_cache, migrate, migrations_dir};
use crate::models::{ContextCacheEntry, MemoryObject, Tier, schemas};
use crate::sql::SqlStore;
use crate::store::{MemoryStore, Search, cache_row};

/// How much to measure.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Memories in the store while operations are timed.
    pub objects: usize,
    /// Timed calls per operation.
    pub samples: usize,
    /// Expired context-cache entries removed by each timed cleanup.
    pub expired: usize,
    /// Timed cleanups.
    pub cleanups: usize,
}

impl Sizes {
    /// The benchmark of BENCHMARKS.md: `objects` memories, 500 calls per operation, 20
    /// cleanups of 1,000 expired entries.
    pub fn full(objects: usize) -> Sizes {
        Sizes {
            objects,
            samples: 500,
            expired: 1_000,
            cleanups: 20,
        }
    }

    /// A smoke run: every operation, tiny sizes.
    #[allow(dead_code)] // used by tests/memory_store.rs
    pub fn smoke() -> Sizes {
        Sizes {
            objects: 50,
            samples: 5,
            expired: 20,
            cleanups: 2,
        }
    }
}

/// One operation's figures.
#[derive(Debug, Clone)]
pub struct Measured {
    /// What was timed.
    pub name: &'static str,
    /// Median.
    pub p50: Duration,
    /// 95th percentile.
    pub p95: Duration,
    /// The service's target for p95.
    pub target: Duration,
}

impl Measured {
    fn of(name: &'static str, target: Duration, mut samples: Vec<Duration>) -> Measured {
        samples.sort();
        let at = |q: usize| samples[(samples.len() * q / 100).min(samples.len() - 1)];
        Measured {
            name,
            p50: at(50),
            p95: at(95),
            target,
        }
    }

    /// How many times the target is the measured p95.
    pub fn margin(&self) -> f64 {
        self.target.as_secs_f64() / self.p95.as_secs_f64().max(1e-9)
    }
}

/// Every operation's figures.
#[derive(Debug, Clone)]
pub struct Report {
    /// The backend measured.
    pub backend: String,
    /// Memories in the store.
    pub objects: usize,
    /// One row per operation.
    pub rows: Vec<Measured>,
}

impl Report {
    /// The operations whose p95 missed the target.
    pub fn missed(&self) -> Vec<&Measured> {
        self.rows.iter().filter(|m| m.p95 > m.target).collect()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "memory store on {}, {} memories",
            self.backend, self.objects
        )?;
        writeln!(f, "| operation | p50 | p95 | target (p95) | margin |")?;
        writeln!(f, "| --- | ---: | ---: | ---: | ---: |")?;
        for m in &self.rows {
            writeln!(
                f,
                "| {} | {:.3} ms | {:.3} ms | < {} ms | {:.1}× |",
                m.name,
                m.p50.as_secs_f64() * 1e3,
                m.p95.as_secs_f64() * 1e3,
                m.target.as_millis(),
                m.margin()
            )?;
        }
        Ok(())
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

async fn time<T>(f: impl Future<Output = polyorm::Result<T>>) -> polyorm::Result<(Duration, T)> {
    let start = Instant::now();
    let value = f.await?;
    Ok((start.elapsed(), value))
}

/// Runs the benchmark on the empty database at `url` (its tables made by the migrations, as
/// timed); `config` gives the migrations and the cache settings.
///
/// `unflushed_url`, when given, is the same database with `synchronous_commit = off`: create
/// and update are measured again there, without the commit's wait for the disk.
pub async fn run_on(
    url: &str,
    unflushed_url: Option<&str>,
    config: &Config,
    sizes: &Sizes,
) -> polyorm::Result<Report> {
    let db = PoolOptions::new().max_connections(5).connect(url).await?;
    let (migrations, _) = time(migrate(&db, &config.migrations)).await?;
    let cache =
        build_cache(config).map_err(|e| polyorm::Error::Config(format!("the query cache: {e}")))?;
    let store = SqlStore::new(db.clone(), cache);
    let topics = 100;

    // The store's rows: `objects` memories over the four tiers, a tenth with a retention date.
    let now = Utc::now();
    let rows: Vec<MemoryObject> = (0..sizes.objects)
        .map(|i| MemoryObject {
            metadata: serde_json::json!({"n": i, "topic": i % topics}),
            retention_until: (i % 10 == 0).then(|| now + chrono::Duration::days(30)),
            ..MemoryObject::new(
                Tier::ALL[i % 4],
                format!("memory {i} about topic-{:03} and other things", i % topics),
                (i % 101) as f64 / 100.0,
            )
        })
        .collect();
    for chunk in rows.chunks(1_000) {
        MemoryObject::insert_many(&db, chunk).await?;
    }
    let ids: Vec<uuid::Uuid> = MemoryObject::query()
        .select_column(MemoryObject::ID)
        .limit(sizes.samples as u64)
        .all(&db)
        .await?
        .into_iter()
        .map(|(id,)| id)
        .collect();

    let mut out = Vec::new();
    let mut samples = Vec::new();
    for i in 0..sizes.samples {
        let m = MemoryObject::new(Tier::Working, format!("new memory {i}"), 0.5);
        samples.push(time(store.create(m)).await?.0);
    }
    out.push(Measured::of("create", ms(50), samples));

    let mut samples = Vec::new();
    for id in ids.iter().cycle().take(sizes.samples) {
        samples.push(time(MemoryObject::find(store.db(), *id)).await?.0);
    }
    out.push(Measured::of("read (by id, database)", ms(10), samples));

    let mut samples = Vec::new();
    for i in 0..sizes.samples {
        store.cache().invalidate_all().await;
        let search = Search {
            text: Some(format!("topic-{:03}", i % topics)),
            tier: Some(Tier::ALL[i % 4]),
            created_from: Some(now - chrono::Duration::days(1)),
            created_to: Some(Utc::now()),
            limit: Some(20),
        };
        samples.push(time(store.search(&search)).await?.0);
    }
    out.push(Measured::of(
        "search (text + tier + dates)",
        ms(100),
        samples,
    ));

    let mut samples = Vec::new();
    for (i, id) in ids.iter().cycle().take(sizes.samples).enumerate() {
        let mut m = MemoryObject::find(store.db(), *id).await?.expect("seeded");
        m.confidence = (i % 100) as f64 / 100.0;
        samples.push(time(store.update(m)).await?.0);
    }
    out.push(Measured::of("update (optimistic lock)", ms(25), samples));

    let (mut hits, mut misses) = (Vec::new(), Vec::new());
    for id in ids.iter().cycle().take(sizes.samples) {
        store.cache().invalidate_all().await;
        misses.push(time(store.find_by_id(*id)).await?.0);
        hits.push(time(store.find_by_id(*id)).await?.0);
    }
    out.push(Measured::of("cache hit (find by id)", ms(1), hits));
    out.push(Measured::of("cache miss (find by id)", ms(5), misses));

    let mut samples = Vec::new();
    for round in 0..sizes.cleanups {
        let expired: Vec<ContextCacheEntry> = (0..sizes.expired)
            .map(|i| {
                cache_row(
                    &format!("r{round}-k{i}"),
                    serde_json::json!({"i": i}),
                    now - chrono::Duration::minutes(5),
                )
            })
            .chain((0..10).map(|i| {
                cache_row(
                    &format!("r{round}-live{i}"),
                    serde_json::json!({}),
                    now + chrono::Duration::hours(1),
                )
            }))
            .collect();
        ContextCacheEntry::insert_many(&db, &expired).await?;
        let (took, removed) = time(store.cache_cleanup(Utc::now())).await?;
        assert_eq!(
            removed, sizes.expired as u64,
            "cleanup removes exactly the expired entries"
        );
        samples.push(took);
    }
    out.push(Measured::of(
        "cleanup of expired cache entries",
        ms(100),
        samples,
    ));

    if let Some(unflushed) = unflushed_url {
        let db = PoolOptions::new()
            .max_connections(5)
            .connect(unflushed)
            .await?;
        let store = SqlStore::new(
            db.clone(),
            build_cache(config)
                .map_err(|e| polyorm::Error::Config(format!("the query cache: {e}")))?,
        );
        let (mut creates, mut updates) = (Vec::new(), Vec::new());
        for i in 0..sizes.samples {
            let m = MemoryObject::new(Tier::Working, format!("unflushed memory {i}"), 0.5);
            let (took, mut m) = time(store.create(m)).await?;
            creates.push(took);
            m.confidence = 0.25;
            updates.push(time(store.update(m)).await?.0);
        }
        out.push(Measured::of("create, commit not flushed", ms(50), creates));
        out.push(Measured::of("update, commit not flushed", ms(25), updates));
        db.close().await;
    }

    let mut samples = Vec::new();
    if db.backend().dialect().is_some() {
        for _ in 0..sizes.samples {
            let (took, conn) = time(db.acquire()).await?;
            drop(conn);
            samples.push(took);
        }
        out.push(Measured::of("pool acquire", ms(5), samples));
    }

    let mut samples = Vec::new();
    for _ in 0..sizes.samples {
        samples.push(time(store.health()).await?.0);
    }
    out.push(Measured::of("health check", ms(10), samples));
    out.push(Measured::of(
        "all migrations (+ verify)",
        ms(30_000),
        vec![migrations],
    ));

    let report = Report {
        backend: db.backend().to_string(),
        objects: sizes.objects,
        rows: out,
    };
    db.close().await;
    Ok(report)
}

/// The benchmark on `config.database_url`: on PostgreSQL in a private schema it drops after.
pub async fn run(
    config: &Config,
    sizes: &Sizes,
) -> Result<Report, Box<dyn std::error::Error + Send + Sync>> {
    let url = &config.database_url;
    if !url.starts_with("postgres") {
        return Ok(run_on(url, None, config, sizes).await?);
    }
    let admin = PoolOptions::new().max_connections(1).connect(url).await?;
    let schema = format!("memory_store_bench_{}", std::process::id());
    admin
        .execute_raw(&format!("CREATE SCHEMA \"{schema}\""))
        .await?;
    let sep = if url.contains('?') { '&' } else { '?' };
    let options = format!("{url}{sep}options=-c%20search_path%3D{schema}");
    let result = run_on(&options, Some(&unflushed(&options)), config, sizes).await;
    admin
        .execute_raw(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .await?;
    admin.close().await;
    Ok(result?)
}

/// A PostgreSQL URL whose `options` parameter is last: the same with `synchronous_commit = off`.
pub fn unflushed(url_ending_in_options: &str) -> String {
    format!("{url_ending_in_options}%20-c%20synchronous_commit%3Doff")
}

/// Writes a migration named `name` for whatever the models changed, for each SQL dialect,
/// under `root/<dialect>`; `None` for a dialect whose migrations already match the models.
pub fn write_migrations(
    root: &Path,
    name: &str,
    version: Option<String>,
) -> polyorm::migrate::Result<Vec<(Dialect, Option<PathBuf>)>> {
    let schema = Schema::from_models(schemas());
    let options = GenerateOptions {
        version,
        ..GenerateOptions::default()
    };
    [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite]
        .into_iter()
        .map(|dialect| {
            let generated = generate(
                &migrations_dir(root, dialect),
                name,
                &schema,
                dialect,
                &options,
            )?;
            Ok((dialect, generated.map(|g| g.dir)))
        })
        .collect()
}
