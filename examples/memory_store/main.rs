//! The memory store of an AI orchestrator, built on the ORM: four tables (memories, their
//! relationships, a policy audit log, a context-analysis cache) with UUID keys, a tier enum
//! and a confidence CHECK, JSON columns, a partial and a GIN index, cascading foreign keys,
//! timestamps and optimistic locking; its DAOs behind one trait with a database and an
//! in-memory implementation; reads through the query cache; migrations generated from the
//! models.
//!
//! ```sh
//! cargo run --example memory_store                                # SQLite in memory, no server
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379 \
//!     cargo run --example memory_store
//! DATABASE_URL=mysql://root@127.0.0.1:3306/test cargo run --example memory_store
//! DATABASE_URL=mongodb://127.0.0.1:27017/memories cargo run --example memory_store --features mongodb
//! PF_DATABASE_ENABLED=false cargo run --example memory_store      # the in-memory store
//! # the benchmark of BENCHMARKS.md (PostgreSQL, 10,000 memories):
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo run --release --example memory_store -- bench
//! # the migrations after a model change (one directory per SQL dialect):
//! cargo run --example memory_store -- write-migrations <name>
//! ```

mod app;
mod bench;
mod memory;
mod models;
mod sql;
mod store;

use std::time::Duration;

use chrono::Utc;

use app::{Config, Opened};
use models::{MemoryObject, MemoryRelationship, Tier};
use store::{AuditContext, MemoryStore, Page, Search};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = Config::from_env();
    match args.first().map(String::as_str) {
        Some("bench") => {
            let n = args.get(1).map_or(Ok(10_000), |a| a.parse())?;
            let report = bench::run(&config, &bench::Sizes::full(n)).await?;
            println!("{report}");
            for m in report.missed() {
                eprintln!(
                    "{}: p95 {:?} missed its target {:?}",
                    m.name, m.p95, m.target
                );
            }
            return Ok(());
        }
        Some("write-migrations") => {
            let name = args.get(1).map_or("memory_store", String::as_str);
            for (dialect, generated) in bench::write_migrations(&config.migrations, name, None)? {
                match generated {
                    Some(dir) => println!("{dialect:?}: wrote {}", dir.display()),
                    None => println!("{dialect:?}: the migrations already match the models"),
                }
            }
            return Ok(());
        }
        Some(other) => {
            return Err(format!(
                "unknown command `{other}`: use `bench [N]` or `write-migrations [name]`"
            )
            .into());
        }
        None => {}
    }
    match app::open(&config).await? {
        Opened::Database(store) => {
            demo(&store).await?;
            let stats = store.cache().stats();
            println!(
                "query cache: {} hits, {} misses",
                stats.hits(),
                stats.misses
            );
        }
        Opened::InMemory { store, reason } => {
            println!("running in memory: {reason}");
            demo(&store).await?;
        }
    }
    Ok(())
}

/// A tour of the store's operations.
async fn demo(store: &impl MemoryStore) -> polyorm::Result<()> {
    println!("memory store on {}", store.kind());
    let run = uuid::Uuid::now_v7().simple().to_string();
    let fact = store
        .create(MemoryObject {
            metadata: serde_json::json!({"source": "chat", "run": run}),
            tags: serde_json::json!(["rust", "orm"]),
            ..MemoryObject::new(
                Tier::Semantic,
                "The ORM compiles every filter to bound parameters",
                0.9,
            )
        })
        .await?;
    let episode = store
        .create(MemoryObject {
            retention_until: Some(Utc::now() - chrono::Duration::hours(1)),
            ..MemoryObject::new(
                Tier::Episodic,
                "The user asked how filters are compiled",
                0.6,
            )
        })
        .await?;
    println!(
        "created {} ({:?}) and {} ({:?})",
        fact.id, fact.tier, episode.id, episode.tier
    );
    store
        .relate(MemoryRelationship::new(
            fact.id,
            episode.id,
            "derived_from",
            0.8,
        ))
        .await?;
    match store
        .relate(MemoryRelationship::new(
            fact.id,
            episode.id,
            "derived_from",
            0.5,
        ))
        .await
    {
        Err(polyorm::Error::UniqueViolation { .. }) => {
            println!("the same relationship twice: refused")
        }
        other => println!("unexpected: {other:?}"),
    }
    match store
        .create(MemoryObject::new(Tier::Working, "too sure", 1.5))
        .await
    {
        Err(polyorm::Error::CheckViolation { constraint, .. }) => {
            println!("confidence 1.5: refused by {constraint:?}");
        }
        other => println!("confidence 1.5: {other:?} (MongoDB test servers do not validate)"),
    }

    let context = AuditContext {
        actor: "planner".into(),
        trace_id: format!("trace-{run}"),
        request_id: "req-1".into(),
    };
    store
        .record_audit(store::audit_row(fact.id, "create", &context))
        .await?;
    let read = store.retrieve_with_audit(fact.id, &context).await?;
    println!(
        "retrieved with audit: access_count = {:?}, audit rows of the trace: {}",
        read.map(|m| m.access_count),
        store.audit_by_trace(&context.trace_id).await?.len()
    );
    println!(
        "audit rows of the memory: {:?}",
        store
            .audit_by_memory(fact.id)
            .await?
            .iter()
            .map(|e| e.action.as_str())
            .collect::<Vec<_>>()
    );

    let mut edited = store.find_by_id(fact.id).await?.expect("just created");
    edited.confidence = 0.95;
    let edited = store.update(edited).await?;
    println!("updated to version {}", edited.version);
    // The first read after the update misses the query cache, the second is served by it.
    for _ in 0..2 {
        assert_eq!(store.find_by_id(fact.id).await?.as_ref(), Some(&edited));
    }
    let semantic = store.find_by_tier(Tier::Semantic, Page::nth(0, 10)).await?;
    println!("semantic memories on the first page: {}", semantic.len());
    let found = store
        .search(&Search {
            text: Some("filters".into()),
            ..Search::default()
        })
        .await?;
    println!("search `filters`: {} memories", found.len());
    let expired = store.find_expired(Utc::now(), 100).await?;
    println!("expired: {}", expired.len());

    let now = Utc::now();
    store
        .cache_set(
            &format!("analysis-{run}"),
            serde_json::json!({"topic": "orm"}),
            now,
            Duration::from_secs(300),
        )
        .await?;
    store
        .cache_set(
            &format!("stale-{run}"),
            serde_json::json!({}),
            now - chrono::Duration::hours(1),
            Duration::from_secs(60),
        )
        .await?;
    println!(
        "context cache: {:?}; cleanup removed {}",
        store
            .cache_get(&format!("analysis-{run}"), Utc::now())
            .await?,
        store.cache_cleanup(Utc::now()).await?
    );
    println!("tiers: {:?}", store.tier_distribution().await?);
    println!("stats: {:?}", store.stats().await?);
    store.delete(episode.id).await?;
    println!(
        "after deleting the episode: {} relationships of the fact, health {:?}",
        store.relationships_of(fact.id).await?.len(),
        store.health().await?
    );
    Ok(())
}
