//! examples/memory_store, the showcase service: its DAOs on SQLite, PostgreSQL, MariaDB/MySQL
//! and MongoDB (the shared suite's harness: `ORM_TEST_BACKENDS`, one fresh database or schema
//! per test, tables made by the example's committed migrations and verified against the
//! models) and on its in-memory store, which must behave the same; the fall-back to the
//! in-memory store; the benchmark at smoke size.

// The harness's futures nest every backend's connection types.
#![recursion_limit = "256"]

#[path = "suite/harness.rs"]
#[macro_use]
#[allow(dead_code)]
mod harness;

#[path = "../examples/memory_store/app.rs"]
#[allow(dead_code)]
mod app;
#[path = "../examples/memory_store/bench.rs"]
#[allow(dead_code)]
mod bench;
#[path = "../examples/memory_store/memory.rs"]
#[allow(dead_code)]
mod memory;
#[path = "../examples/memory_store/models.rs"]
#[allow(dead_code)]
mod models;
#[path = "../examples/memory_store/sql.rs"]
#[allow(dead_code)]
mod sql;
#[path = "../examples/memory_store/store.rs"]
#[allow(dead_code)]
mod store;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, TimeZone, Utc};
use polyorm::prelude::*;
use polyorm::{Db, Error};
use uuid::Uuid;

use app::{Config, Opened};
use memory::InMemoryStore;
use models::{MemoryObject, MemoryRelationship, PolicyAuditEntry, Tier};
use sql::SqlStore;
use store::{AuditContext, MemoryStore, Page, Search, audit_row};

/// The store on a test's database: the example's migrations applied (and verified), reads
/// through an in-process query cache.
async fn sql_store(db: &Db) -> polyorm::Result<SqlStore> {
    app::migrate(db, &app::default_migrations_dir()).await?;
    let cache = app::build_cache(&Config::for_url("unused"))
        .map_err(|e| Error::Config(format!("cache: {e}")))?;
    Ok(SqlStore::new(db.clone(), cache))
}

/// A fixed instant (whole seconds: every backend keeps it exactly), `minutes` after a base.
fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap() + chrono::Duration::minutes(minutes)
}

fn memory(tier: Tier, content: &str, confidence: f64, created_minute: i64) -> MemoryObject {
    MemoryObject {
        created_at: at(created_minute),
        ..MemoryObject::new(tier, content, confidence)
    }
}

fn context(trace: &str) -> AuditContext {
    AuditContext {
        actor: "planner".into(),
        trace_id: trace.into(),
        request_id: "req-1".into(),
    }
}

fn newest_first(rows: &mut [MemoryObject]) {
    rows.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
}

fn ids(rows: &[MemoryObject]) -> Vec<Uuid> {
    rows.iter().map(|m| m.id).collect()
}

/// Create, find by id, find by tier with paging, search, find expired, stats, tier
/// distribution, audit by memory and trace, delete: every value read back as written.
async fn daos_read_back_what_was_written(store: &impl MemoryStore) -> polyorm::Result<()> {
    let mut semantic = Vec::new();
    for i in 0..5 {
        let m = store
            .create(MemoryObject {
                metadata: serde_json::json!({"source": "chat", "n": i, "nested": {"ok": true}}),
                tags: serde_json::json!(["rust", format!("t{i}")]),
                embedding: Some(serde_json::json!([0.25, -1.5, i])),
                ..memory(
                    Tier::Semantic,
                    &format!("fact {i} about filters"),
                    0.25 * f64::from(i % 4 + 1),
                    i64::from(i),
                )
            })
            .await?;
        assert!(!m.id.is_nil(), "a generated key");
        assert_eq!(m.created_at, at(i64::from(i)), "a given created_at is kept");
        assert_eq!((m.version, m.access_count), (1, 0));
        assert_eq!(m.tags, serde_json::json!(["rust", format!("t{i}")]));
        assert_eq!(
            store.find_by_id(m.id).await?.as_ref(),
            Some(&m),
            "read back exactly"
        );
        semantic.push(m);
    }
    let episode = store
        .create(MemoryObject {
            retention_until: Some(at(100)),
            ..memory(Tier::Episodic, "the user asked about FILTERS", 0.5, 10)
        })
        .await?;
    let working = store
        .create(MemoryObject {
            retention_until: Some(at(200)),
            ..memory(Tier::Working, "scratch: 50% done_", 0.75, 20)
        })
        .await?;
    assert_eq!(store.find_by_id(Uuid::now_v7()).await?, None);
    assert_eq!(store.find_by_id(working.id).await?.as_ref(), Some(&working));
    newest_first(&mut semantic);
    // Each part boxed: one debug-build future holding every step would overflow the stack.
    Box::pin(pages_and_search(store, &semantic, &episode, &working)).await?;
    Box::pin(expiry_distribution_and_audit(store, &episode, &working)).await?;
    Box::pin(stats_and_delete(store, &working)).await
}

/// Find by tier with paging, and search by text, tier and dates.
async fn pages_and_search(
    store: &impl MemoryStore,
    semantic: &[MemoryObject],
    episode: &MemoryObject,
    working: &MemoryObject,
) -> polyorm::Result<()> {
    let mut pages = Vec::new();
    for n in 0..3 {
        pages.push(store.find_by_tier(Tier::Semantic, Page::nth(n, 2)).await?);
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
    assert_eq!(
        pages.concat(),
        semantic.to_vec(),
        "pages of the tier, newest first, rows exact"
    );
    assert_eq!(
        store
            .find_by_tier(Tier::Procedural, Page::nth(0, 10))
            .await?,
        []
    );

    let search = |text: Option<&str>, tier, from: Option<i64>, to: Option<i64>| Search {
        text: text.map(str::to_owned),
        tier,
        created_from: from.map(at),
        created_to: to.map(at),
        limit: None,
    };
    let by_text = store
        .search(&search(Some("filters"), None, None, None))
        .await?;
    assert_eq!(
        ids(&by_text),
        ids(semantic),
        "case-sensitive: FILTERS does not match"
    );
    let literal = store
        .search(&search(Some("50% done_"), None, None, None))
        .await?;
    assert_eq!(
        literal,
        std::slice::from_ref(working),
        "% and _ are literal"
    );
    let in_range = store.search(&search(None, None, Some(1), Some(10))).await?;
    let mut expected = semantic[..4].to_vec();
    expected.insert(0, episode.clone());
    assert_eq!(
        ids(&in_range),
        ids(&expected),
        "created from minute 1 to 10, inclusive"
    );
    let combined = store
        .search(&search(Some("fact"), Some(Tier::Semantic), Some(3), None))
        .await?;
    assert_eq!(ids(&combined), ids(&semantic[..2]));
    assert_eq!(
        store
            .search(&search(Some("fact"), Some(Tier::Working), None, None))
            .await?,
        []
    );
    Ok(())
}

/// Find expired, tier distribution, audit rows by memory and by trace.
async fn expiry_distribution_and_audit(
    store: &impl MemoryStore,
    episode: &MemoryObject,
    working: &MemoryObject,
) -> polyorm::Result<()> {
    assert_eq!(
        store.find_expired(at(150), 10).await?,
        std::slice::from_ref(episode)
    );
    assert_eq!(
        store.find_expired(at(300), 10).await?,
        [episode.clone(), working.clone()],
        "oldest retention first"
    );
    assert_eq!(
        store.find_expired(at(300), 1).await?,
        std::slice::from_ref(episode)
    );
    assert_eq!(store.find_expired(at(50), 10).await?, []);

    assert_eq!(
        store.tier_distribution().await?,
        BTreeMap::from([(Tier::Working, 1), (Tier::Episodic, 1), (Tier::Semantic, 5)])
    );
    store
        .record_audit(audit_row(episode.id, "create", &context("trace-a")))
        .await?;
    store
        .record_audit(audit_row(working.id, "create", &context("trace-a")))
        .await?;
    store
        .record_audit(PolicyAuditEntry {
            details: serde_json::json!({"reason": "policy 7"}),
            created_at: at(30),
            ..audit_row(working.id, "redact", &context("trace-b"))
        })
        .await?;
    let of_working = store.audit_by_memory(working.id).await?;
    assert_eq!(
        of_working
            .iter()
            .map(|e| (e.action.as_str(), e.trace_id.as_str()))
            .collect::<Vec<_>>(),
        [("redact", "trace-b"), ("create", "trace-a")],
        "oldest first (the redaction was dated earlier)"
    );
    assert_eq!(
        of_working[0].details,
        serde_json::json!({"reason": "policy 7"})
    );
    assert_eq!(of_working[0].created_at, at(30));
    assert_eq!(of_working[1].details, serde_json::json!({}));
    let trace_a = store.audit_by_trace("trace-a").await?;
    assert_eq!(
        trace_a.iter().map(|e| e.memory_id).collect::<Vec<_>>(),
        [Some(episode.id), Some(working.id)]
    );
    assert!(
        trace_a
            .iter()
            .all(|e| e.actor == "planner" && e.request_id == "req-1")
    );
    assert_eq!(store.audit_by_trace("trace-z").await?, []);
    Ok(())
}

/// Stats over everything written so far, then a delete.
async fn stats_and_delete(store: &impl MemoryStore, working: &MemoryObject) -> polyorm::Result<()> {
    let stats = store.stats().await?;
    assert_eq!(
        (
            stats.memories,
            stats.with_retention,
            stats.relationships,
            stats.audit_entries,
            stats.cache_entries
        ),
        (7, 2, 0, 3, 0)
    );
    // 0.25 + 0.5 + 0.75 + 1.0 + 0.25 (semantic) + 0.5 + 0.75 = 4.0: exact in binary.
    assert_eq!(stats.mean_confidence, Some(4.0 / 7.0));

    assert!(store.delete(working.id).await?);
    assert!(!store.delete(working.id).await?, "deleted once");
    assert_eq!(store.find_by_id(working.id).await?, None);
    assert_eq!(store.stats().await?.memories, 6);
    assert!(store.health().await? < Duration::from_secs(5));
    Ok(())
}

/// A confidence outside 0..=1 is the ORM's `CheckViolation` naming the constraint, on insert
/// and on update; nothing is stored.
async fn confidence_is_checked(store: &impl MemoryStore) -> polyorm::Result<()> {
    let kept = store
        .create(MemoryObject::new(Tier::Working, "sure", 1.0))
        .await?;
    for bad in [1.5, -0.01] {
        match store
            .create(MemoryObject::new(Tier::Working, "too sure", bad))
            .await
        {
            Err(Error::CheckViolation { constraint, .. }) => {
                assert_eq!(constraint.as_deref(), Some("ck_memory_objects_confidence"));
            }
            other => panic!("confidence {bad}: expected CheckViolation, got {other:?}"),
        }
    }
    match store
        .update(MemoryObject {
            confidence: 1.5,
            ..kept.clone()
        })
        .await
    {
        Err(Error::CheckViolation { constraint, .. }) => {
            assert_eq!(constraint.as_deref(), Some("ck_memory_objects_confidence"));
        }
        other => panic!("update to 1.5: expected CheckViolation, got {other:?}"),
    }
    assert_eq!(store.stats().await?.memories, 1);
    assert_eq!(store.find_by_id(kept.id).await?, Some(kept));
    Ok(())
}

/// Relationships: read back, the same triple refused, deleting either end removes them and
/// keeps the audit rows with `memory_id` NULL.
async fn relationships_cascade_and_audit_rows_are_detached(
    store: &impl MemoryStore,
) -> polyorm::Result<()> {
    let a = store.create(memory(Tier::Semantic, "a", 0.5, 0)).await?;
    let b = store.create(memory(Tier::Semantic, "b", 0.5, 1)).await?;
    let c = store.create(memory(Tier::Semantic, "c", 0.5, 2)).await?;
    let ab = store
        .relate(MemoryRelationship {
            created_at: at(1),
            ..MemoryRelationship::new(a.id, b.id, "derived_from", 0.75)
        })
        .await?;
    let ab2 = store
        .relate(MemoryRelationship {
            created_at: at(2),
            ..MemoryRelationship::new(a.id, b.id, "contradicts", 0.25)
        })
        .await?;
    let cb = store
        .relate(MemoryRelationship {
            created_at: at(3),
            ..MemoryRelationship::new(c.id, b.id, "derived_from", 1.0)
        })
        .await?;
    assert_eq!(
        store.relationships_of(b.id).await?,
        [ab.clone(), ab2.clone(), cb.clone()]
    );
    match store
        .relate(MemoryRelationship::new(a.id, b.id, "derived_from", 0.5))
        .await
    {
        Err(e @ Error::UniqueViolation { .. }) => assert!(e.is_unique_violation()),
        other => panic!("the same triple twice: expected UniqueViolation, got {other:?}"),
    }
    // The other direction is another triple.
    let ba = store
        .relate(MemoryRelationship::new(b.id, a.id, "derived_from", 0.5))
        .await?;
    let kept = store
        .record_audit(audit_row(a.id, "create", &context("trace-c")))
        .await?;
    store
        .record_audit(audit_row(c.id, "create", &context("trace-c")))
        .await?;

    assert_eq!(store.relationships_of(a.id).await?, [ab, ab2, ba]);
    assert!(store.delete(a.id).await?);
    assert_eq!(
        store.relationships_of(b.id).await?,
        std::slice::from_ref(&cb),
        "a's edges, both ways, went"
    );
    assert_eq!(store.relationships_of(a.id).await?, []);
    assert_eq!(store.stats().await?.relationships, 1);
    let audit = store.audit_by_trace("trace-c").await?;
    assert_eq!(audit.len(), 2, "audit rows are kept");
    assert_eq!(
        audit[0],
        PolicyAuditEntry {
            memory_id: None,
            ..kept
        },
        "detached from the memory"
    );
    assert_eq!(audit[1].memory_id, Some(c.id));
    assert_eq!(store.audit_by_memory(a.id).await?, []);
    Ok(())
}

/// The context cache: a value read back until it expires, replaced by a second `set`,
/// and `cleanup` removing exactly the expired entries.
async fn context_cache_expires_and_is_cleaned_up(store: &impl MemoryStore) -> polyorm::Result<()> {
    let now = Utc::now().trunc_subsecs(0);
    let hour = Duration::from_secs(3600);
    let value = serde_json::json!({"topics": ["orm", "rust"], "score": 0.5});
    store.cache_set("live", value.clone(), now, hour).await?;
    store
        .cache_set(
            "old-1",
            serde_json::json!(1),
            now - chrono::Duration::hours(2),
            hour,
        )
        .await?;
    store
        .cache_set(
            "old-2",
            serde_json::json!(2),
            now - chrono::Duration::hours(3),
            hour,
        )
        .await?;
    assert_eq!(store.cache_get("live", now).await?, Some(value));
    assert_eq!(
        store.cache_get("old-1", now).await?,
        None,
        "expired: not served"
    );
    assert_eq!(
        store
            .cache_get("old-1", now - chrono::Duration::minutes(90))
            .await?,
        Some(serde_json::json!(1)),
        "still there until cleanup"
    );
    assert_eq!(store.cache_get("missing", now).await?, None);
    assert_eq!(store.stats().await?.cache_entries, 3);
    assert_eq!(store.cache_cleanup(now).await?, 2);
    assert_eq!(store.cache_cleanup(now).await?, 0);
    assert_eq!(store.stats().await?.cache_entries, 1);
    assert_eq!(
        store
            .cache_get("old-1", now - chrono::Duration::minutes(90))
            .await?,
        None,
        "removed"
    );
    assert!(
        store
            .cache_get("live", now + chrono::Duration::minutes(59))
            .await?
            .is_some()
    );
    Ok(())
}

/// `set` of an existing key replaces its value and expiry.
async fn context_cache_set_replaces(store: &impl MemoryStore) -> polyorm::Result<()> {
    let now = Utc::now().trunc_subsecs(0);
    store
        .cache_set(
            "k",
            serde_json::json!("first"),
            now,
            Duration::from_secs(60),
        )
        .await?;
    store
        .cache_set(
            "k",
            serde_json::json!("second"),
            now,
            Duration::from_secs(7200),
        )
        .await?;
    assert_eq!(store.stats().await?.cache_entries, 1, "one entry per key");
    assert_eq!(
        store
            .cache_get("k", now + chrono::Duration::hours(1))
            .await?,
        Some(serde_json::json!("second")),
        "the new value, until the new expiry"
    );
    Ok(())
}

/// Optimistic locking: an update bumps the version and `updated_at`; a stale one is a
/// `Conflict` and changes nothing.
async fn stale_updates_conflict(store: &impl MemoryStore) -> polyorm::Result<()> {
    let m = store
        .create(memory(Tier::Procedural, "how to deploy", 0.5, 0))
        .await?;
    let updated = store
        .update(MemoryObject {
            content: "how to deploy, step by step".into(),
            metadata: serde_json::json!({"steps": 3}),
            retention_until: Some(at(500)),
            ..m.clone()
        })
        .await?;
    assert_eq!(updated.version, 2);
    assert_eq!(updated.created_at, m.created_at);
    assert!(updated.updated_at > m.created_at);
    assert_eq!(
        (
            updated.content.as_str(),
            &updated.metadata,
            updated.retention_until
        ),
        (
            "how to deploy, step by step",
            &serde_json::json!({"steps": 3}),
            Some(at(500))
        )
    );
    assert_eq!(store.find_by_id(m.id).await?.as_ref(), Some(&updated));
    match store
        .update(MemoryObject {
            confidence: 0.9,
            ..m.clone()
        })
        .await
    {
        Err(Error::Conflict { expected, .. }) => assert_eq!(expected, 1),
        other => panic!("a stale update: expected Conflict, got {other:?}"),
    }
    assert_eq!(store.find_by_id(m.id).await?, Some(updated));
    Ok(())
}

/// `retrieve_with_audit`: the access counted and the audit row written together; a missing
/// memory writes nothing; a failure after the audit row was written (the access counter at
/// `i64::MAX` cannot count another access) keeps neither.
async fn retrieve_with_audit_is_one_transaction(store: &impl MemoryStore) -> polyorm::Result<()> {
    let m = store
        .create(memory(Tier::Semantic, "read me", 0.5, 0))
        .await?;
    let read = store
        .retrieve_with_audit(m.id, &context("trace-r"))
        .await?
        .expect("exists");
    assert_eq!(
        (read.access_count, read.version, read.content.as_str()),
        (1, 2, "read me")
    );
    assert_eq!(store.find_by_id(m.id).await?, Some(read.clone()));
    let audit = store.audit_by_trace("trace-r").await?;
    assert_eq!(audit.len(), 1);
    assert_eq!(
        (
            audit[0].memory_id,
            audit[0].action.as_str(),
            audit[0].actor.as_str()
        ),
        (Some(m.id), "retrieve", "planner")
    );
    assert_eq!(
        store
            .retrieve_with_audit(Uuid::now_v7(), &context("trace-missing"))
            .await?,
        None
    );
    assert_eq!(store.audit_by_trace("trace-missing").await?, []);

    let full = store
        .create(MemoryObject {
            access_count: i64::MAX,
            ..memory(Tier::Semantic, "read too often", 0.5, 1)
        })
        .await?;
    let failed = store
        .retrieve_with_audit(full.id, &context("trace-fail"))
        .await;
    assert!(
        matches!(failed, Err(Error::OutOfRange { .. })),
        "counting past i64::MAX is OutOfRange on every backend: {failed:?}"
    );
    assert_eq!(
        store.audit_by_trace("trace-fail").await?,
        [],
        "the audit row was rolled back"
    );
    assert_eq!(
        store.find_by_id(full.id).await?,
        Some(full),
        "the memory is unchanged"
    );
    assert_eq!(store.stats().await?.audit_entries, 1);
    Ok(())
}

crate::suite! {
    #[needs_real_mongodb("nx-27017 matches no binary value in a filter, a UUID key included (not even with $eq)")]
    async fn memory_store_daos_read_back_what_was_written(db) {
        Box::pin(daos_read_back_what_was_written(&sql_store(db).await?)).await
    }

    #[needs_real_mongodb("nx-27017 does not enforce $jsonSchema validators (never error 121)")]
    async fn memory_store_confidence_outside_0_1_is_a_check_violation(db) {
        Box::pin(confidence_is_checked(&sql_store(db).await?)).await
    }

    #[needs_real_mongodb("nx-27017 matches no binary value in a filter, a UUID key included (not even with $eq)")]
    async fn memory_store_relationships_cascade_and_audit_rows_are_detached(db) {
        Box::pin(relationships_cascade_and_audit_rows_are_detached(&sql_store(db).await?)).await
    }

    #[requires(sql)]
    async fn memory_store_foreign_keys_cascade_and_set_null_in_the_database(db) {
        // The database's own ON DELETE actions, without the store: a plain delete of the row.
        let store = sql_store(db).await?;
        let a = store.create(memory(Tier::Semantic, "a", 0.5, 0)).await?;
        let b = store.create(memory(Tier::Semantic, "b", 0.5, 1)).await?;
        store.relate(MemoryRelationship::new(a.id, b.id, "derived_from", 0.5)).await?;
        store.relate(MemoryRelationship::new(b.id, a.id, "derived_from", 0.5)).await?;
        let entry = store.record_audit(audit_row(a.id, "create", &context("t"))).await?;
        assert!(MemoryObject::delete_by_key(db, a.id).await?);
        assert_eq!(MemoryRelationship::query().count(db).await?, 0, "ON DELETE CASCADE, both ends");
        assert_eq!(
            PolicyAuditEntry::query().all(db).await?,
            [PolicyAuditEntry { memory_id: None, ..entry }],
            "ON DELETE SET NULL"
        );
        match MemoryRelationship::new(a.id, b.id, "derived_from", 0.5).insert(db).await {
            Err(Error::ForeignKeyViolation { .. }) => {}
            other => panic!("an edge to a deleted memory: expected ForeignKeyViolation, got {other:?}"),
        }
        Ok(())
    }

    async fn memory_store_context_cache_expires_and_is_cleaned_up(db) {
        Box::pin(context_cache_expires_and_is_cleaned_up(&sql_store(db).await?)).await
    }

    #[needs_real_mongodb("nx-27017 stores a date written by $set as text")]
    async fn memory_store_context_cache_set_replaces_an_entry(db) {
        Box::pin(context_cache_set_replaces(&sql_store(db).await?)).await
    }

    #[needs_real_mongodb("nx-27017 stores a date written by $set as text and matches no UUID")]
    async fn memory_store_stale_updates_conflict(db) {
        Box::pin(stale_updates_conflict(&sql_store(db).await?)).await
    }

    #[needs_real_mongodb("nx-27017 stores a date written by $set as text and matches no UUID")]
    async fn memory_store_retrieve_with_audit_is_one_transaction(db) {
        Box::pin(retrieve_with_audit_is_one_transaction(&sql_store(db).await?)).await
    }

    #[needs_real_mongodb("nx-27017 stores a date written by $set as text and matches no UUID")]
    async fn memory_store_cached_reads_are_served_and_invalidated_by_writes(db) {
        let store = sql_store(db).await?;
        let m = store.create(memory(Tier::Semantic, "cached", 0.5, 0)).await?;
        let (hits, misses) = (store.cache().stats().hits(), store.cache().stats().misses);
        assert_eq!(store.find_by_id(m.id).await?.as_ref(), Some(&m));
        assert_eq!(store.find_by_id(m.id).await?.as_ref(), Some(&m));
        let page = store.find_by_tier(Tier::Semantic, Page::nth(0, 10)).await?;
        assert_eq!(store.find_by_tier(Tier::Semantic, Page::nth(0, 10)).await?, page);
        let stats = store.cache().stats();
        assert_eq!((stats.hits() - hits, stats.misses - misses), (2, 2), "second reads are hits");

        // A write that bypasses the store's cache is not seen while the entry lives...
        MemoryObject::update_many()
            .set(MemoryObject::CONTENT, "changed behind the cache".to_owned())
            .filter(MemoryObject::ID.eq(m.id))
            .execute(db)
            .await?;
        assert_eq!(store.find_by_id(m.id).await?.map(|r| r.content), Some("cached".to_owned()), "served by the cache");
        // ...and one through the store invalidates it: the next read is the database's row.
        let fresh = MemoryObject::find(db, m.id).await?.expect("exists");
        let updated = store.update(MemoryObject { confidence: 0.75, ..fresh }).await?;
        assert_eq!(updated.content, "changed behind the cache");
        let before = store.cache().stats().misses;
        assert_eq!(store.find_by_id(m.id).await?, Some(updated.clone()));
        assert_eq!(store.find_by_tier(Tier::Semantic, Page::nth(0, 10)).await?, [updated]);
        assert_eq!(store.cache().stats().misses - before, 2, "invalidated by the update");
        Ok(())
    }

    #[needs_real_mongodb("nx-27017 stores a date written by $set as text and matches no UUID")]
    async fn memory_store_processes_sharing_redis_see_each_others_writes(db) {
        // Two stores (two processes' worth of caches) with one Redis tier and prefix: an
        // update through one is never read stale through the other.
        let redis = std::env::var("ORM_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let config = Config {
            redis_url: Some(redis),
            cache_prefix: format!("memory-store-test:{}", Uuid::now_v7().simple()),
            ..Config::for_url("unused")
        };
        app::migrate(db, &app::default_migrations_dir()).await?;
        let cache = || app::build_cache(&config).map_err(|e| Error::Config(format!("cache: {e}")));
        let (a, b) = (SqlStore::new(db.clone(), cache()?), SqlStore::new(db.clone(), cache()?));
        let m = a.create(memory(Tier::Semantic, "shared", 0.5, 0)).await?;
        assert_eq!(a.find_by_id(m.id).await?.as_ref(), Some(&m));
        assert_eq!(b.find_by_id(m.id).await?.as_ref(), Some(&m));
        assert_eq!(b.find_by_id(m.id).await?.as_ref(), Some(&m));
        assert!(a.cache().stats().misses >= 1 && b.cache().stats().hits() >= 1, "b served from the cache");
        let updated = b.update(MemoryObject { content: "changed by b".into(), ..m.clone() }).await?;
        assert_eq!(a.find_by_id(m.id).await?, Some(updated), "a reads b's write, not its cached row");
        Ok(())
    }
}

#[tokio::test]
async fn in_memory_store_behaves_as_the_database() -> polyorm::Result<()> {
    Box::pin(daos_read_back_what_was_written(&InMemoryStore::new())).await?;
    Box::pin(confidence_is_checked(&InMemoryStore::new())).await?;
    Box::pin(relationships_cascade_and_audit_rows_are_detached(
        &InMemoryStore::new(),
    ))
    .await?;
    Box::pin(context_cache_expires_and_is_cleaned_up(
        &InMemoryStore::new(),
    ))
    .await?;
    Box::pin(context_cache_set_replaces(&InMemoryStore::new())).await?;
    Box::pin(stale_updates_conflict(&InMemoryStore::new())).await?;
    Box::pin(retrieve_with_audit_is_one_transaction(&InMemoryStore::new())).await
}

#[tokio::test]
async fn an_unreachable_database_falls_back_to_the_in_memory_store() {
    for url in [
        "postgres://postgres@127.0.0.1:1/test",
        "mysql://root@127.0.0.1:1/test",
    ] {
        let started = std::time::Instant::now();
        match app::open(&Config::for_url(url)).await {
            Ok(Opened::InMemory { store, reason }) => {
                assert!(
                    reason.contains("unreachable") && reason.contains("127.0.0.1:1"),
                    "{reason}"
                );
                assert_eq!(store.kind(), "in-memory");
                let m = store
                    .create(MemoryObject::new(Tier::Working, "kept in memory", 0.5))
                    .await
                    .unwrap();
                assert_eq!(store.find_by_id(m.id).await.unwrap(), Some(m));
            }
            Ok(Opened::Database(_)) => panic!("{url}: nothing listens there, yet it connected"),
            Err(e) => panic!("{url}: expected the fall-back, got {e}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "at once, not after a timeout"
        );
    }
    let off = Config {
        database_enabled: false,
        ..Config::for_url("sqlite::memory:")
    };
    match app::open(&off).await {
        Ok(Opened::InMemory { reason, .. }) => {
            assert!(reason.contains("PF_DATABASE_ENABLED"), "{reason}")
        }
        _ => panic!("PF_DATABASE_ENABLED=false must choose the in-memory store"),
    }
    // A database that answers is used, and a mistake is not hidden by the fall-back.
    assert!(matches!(
        app::open(&Config::for_url("sqlite::memory:")).await,
        Ok(Opened::Database(_))
    ));
    assert!(
        app::open(&Config::for_url("nosuchscheme://x"))
            .await
            .is_err(),
        "a bad URL is an error"
    );
}

#[test]
fn the_fall_back_message_hides_the_password() {
    assert_eq!(
        app::redact("postgres://app:s3cret@db:5432/x"),
        "postgres://app:***@db:5432/x"
    );
    assert_eq!(app::redact("postgres://app@db/x"), "postgres://app@db/x");
    assert_eq!(app::redact("sqlite::memory:"), "sqlite::memory:");
}

#[test]
fn committed_migrations_match_the_models() {
    // Generating again into a copy of the committed migrations writes nothing.
    let copy = tempfile::tempdir().unwrap();
    let root = app::default_migrations_dir();
    for entry in walk(&root) {
        let target = copy.path().join(entry.strip_prefix(&root).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&entry, &target).unwrap();
    }
    let generated = bench::write_migrations(copy.path(), "check", None).unwrap();
    assert_eq!(generated.len(), 3);
    for (dialect, dir) in generated {
        assert_eq!(
            dir, None,
            "{dialect:?}: the models changed; run `cargo run --example memory_store -- write-migrations <name>`"
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The benchmark of BENCHMARKS.md at smoke size, on SQLite and PostgreSQL: every operation
/// measured, and each far within its target even in a debug build.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn benchmark_runs_at_smoke_size() {
    for backend in [harness::Backend::Sqlite, harness::Backend::Postgres] {
        let Some(t) = harness::setup(backend, "memory_store_bench").await else {
            continue;
        };
        // The harness's PostgreSQL URL ends in its `options` (the test's schema).
        let unflushed = (backend == harness::Backend::Postgres).then(|| bench::unflushed(&t.url));
        // On the heap: in a debug build the benchmark's future outgrows a test thread's stack.
        let report = Box::pin(bench::run_on(
            &t.url,
            unflushed.as_deref(),
            &Config::for_url(&t.url),
            &bench::Sizes::smoke(),
        ))
        .await
        .unwrap();
        println!("{report}");
        let expected = if unflushed.is_some() { 12 } else { 10 };
        assert_eq!(report.rows.len(), expected, "{report}");
        assert!(
            report
                .rows
                .iter()
                .all(|m| m.p50 <= m.p95 && m.p95 > Duration::ZERO)
        );
        t.teardown().await;
    }
}
