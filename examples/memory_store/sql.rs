//! [`SqlStore`]: the memory store on a database (SQLite, PostgreSQL, MariaDB/MySQL or MongoDB),
//! its reads served by the ORM's query cache.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
// In your crate: `polyorm` with the `cache` feature, and `polyorm::cache::…`.
use polyorm::prelude::*;
use polyorm::{Executor, OnConflict};
use polyorm_cache::{Cache, CacheExt, CachedDb};
use uuid::Uuid;

use crate::models::{ContextCacheEntry, MemoryObject, MemoryRelationship, PolicyAuditEntry, Tier};
use crate::store::{AuditContext, MemoryStore, Page, Search, Stats, audit_row, cache_row, expiry};

/// How long a cached read is served (writes through the store invalidate it at once).
pub const READ_TTL: Duration = Duration::from_secs(60);

/// The memory store on a database, behind the query cache.
#[derive(Clone)]
pub struct SqlStore {
    db: CachedDb<Db>,
    cache: Cache,
}

impl SqlStore {
    /// A store on `db` (its tables already migrated), reads cached in `cache`.
    pub fn new(db: Db, cache: Cache) -> SqlStore {
        SqlStore {
            db: cache.wrap(db),
            cache,
        }
    }

    /// The database, without the cache.
    pub fn db(&self) -> &Db {
        self.db.inner()
    }

    /// The query cache (its statistics: `cache().stats()`).
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// Whether the backend enforces foreign keys (MongoDB has none: the store cascades).
    fn has_foreign_keys(&self) -> bool {
        self.db().backend().dialect().is_some()
    }
}

impl MemoryStore for SqlStore {
    fn kind(&self) -> String {
        self.db().backend().to_string()
    }

    async fn create(&self, memory: MemoryObject) -> polyorm::Result<MemoryObject> {
        memory.insert(&self.db).await
    }

    async fn find_by_id(&self, id: Uuid) -> polyorm::Result<Option<MemoryObject>> {
        MemoryObject::query()
            .filter(MemoryObject::ID.eq(id))
            .cached(READ_TTL)
            .optional(&self.db)
            .await
    }

    async fn find_by_tier(&self, tier: Tier, page: Page) -> polyorm::Result<Vec<MemoryObject>> {
        MemoryObject::query()
            .filter(MemoryObject::TIER.eq(tier))
            .order_by(MemoryObject::CREATED_AT.desc())
            .order_by(MemoryObject::ID.asc())
            .limit(page.limit)
            .offset(page.offset)
            .cached(READ_TTL)
            .all(&self.db)
            .await
    }

    async fn update(&self, memory: MemoryObject) -> polyorm::Result<MemoryObject> {
        memory.update(&self.db).await?;
        MemoryObject::find(&self.db, memory.id)
            .await?
            .ok_or(polyorm::Error::NotFound {
                table: "memory_objects",
                detail: " the primary key (deleted right after the update)",
            })
    }

    async fn delete(&self, id: Uuid) -> polyorm::Result<bool> {
        if self.has_foreign_keys() {
            // ON DELETE CASCADE / SET NULL change the other two tables in the database; the
            // query cache invalidates them with this one (it reads the models' foreign keys).
            return MemoryObject::delete_by_key(&self.db, id).await;
        }
        self.db
            .transaction(|tx| async move {
                MemoryRelationship::delete_many()
                    .filter(
                        MemoryRelationship::SOURCE_ID.eq(id) | MemoryRelationship::TARGET_ID.eq(id),
                    )
                    .execute(&tx)
                    .await?;
                PolicyAuditEntry::update_many()
                    .set(PolicyAuditEntry::MEMORY_ID, None)
                    .filter(PolicyAuditEntry::MEMORY_ID.eq(id))
                    .execute(&tx)
                    .await?;
                MemoryObject::delete_by_key(&tx, id).await
            })
            .await
    }

    async fn search(&self, search: &Search) -> polyorm::Result<Vec<MemoryObject>> {
        let mut query = MemoryObject::query();
        if let Some(text) = &search.text {
            query = query.filter(MemoryObject::CONTENT.contains(text));
        }
        if let Some(tier) = search.tier {
            query = query.filter(MemoryObject::TIER.eq(tier));
        }
        if let Some(from) = search.created_from {
            query = query.filter(MemoryObject::CREATED_AT.ge(from));
        }
        if let Some(to) = search.created_to {
            query = query.filter(MemoryObject::CREATED_AT.le(to));
        }
        query
            .order_by(MemoryObject::CREATED_AT.desc())
            .order_by(MemoryObject::ID.asc())
            .limit(search.limit.unwrap_or(100))
            .cached(READ_TTL)
            .all(&self.db)
            .await
    }

    async fn find_expired(
        &self,
        now: DateTime<Utc>,
        limit: u64,
    ) -> polyorm::Result<Vec<MemoryObject>> {
        MemoryObject::query()
            .filter(MemoryObject::RETENTION_UNTIL.lt(now))
            .order_by(MemoryObject::RETENTION_UNTIL.asc())
            .order_by(MemoryObject::ID.asc())
            .limit(limit)
            .all(&self.db)
            .await
    }

    async fn stats(&self) -> polyorm::Result<Stats> {
        let cached = self.db.cached(READ_TTL);
        let (memories, mean_confidence, with_retention) = MemoryObject::query()
            .select((
                count_all(),
                MemoryObject::CONFIDENCE.avg(),
                MemoryObject::RETENTION_UNTIL.count(),
            ))
            .one(&cached)
            .await?;
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let relationships = count(
            MemoryRelationship::query()
                .cached(READ_TTL)
                .count(&self.db)
                .await?,
        );
        let audit_entries = count(
            PolicyAuditEntry::query()
                .cached(READ_TTL)
                .count(&self.db)
                .await?,
        );
        let cache_entries = count(
            ContextCacheEntry::query()
                .cached(READ_TTL)
                .count(&self.db)
                .await?,
        );
        Ok(Stats {
            memories,
            mean_confidence,
            with_retention,
            relationships,
            audit_entries,
            cache_entries,
        })
    }

    async fn tier_distribution(&self) -> polyorm::Result<BTreeMap<Tier, i64>> {
        let rows = MemoryObject::query()
            .select((MemoryObject::TIER, count_all()))
            .group_by(MemoryObject::TIER)
            .all(&self.db.cached(READ_TTL))
            .await?;
        Ok(rows.into_iter().collect())
    }

    async fn relate(
        &self,
        relationship: MemoryRelationship,
    ) -> polyorm::Result<MemoryRelationship> {
        relationship.insert(&self.db).await
    }

    async fn relationships_of(&self, id: Uuid) -> polyorm::Result<Vec<MemoryRelationship>> {
        MemoryRelationship::query()
            .filter(MemoryRelationship::SOURCE_ID.eq(id) | MemoryRelationship::TARGET_ID.eq(id))
            .order_by(MemoryRelationship::CREATED_AT.asc())
            .order_by(MemoryRelationship::ID.asc())
            .cached(READ_TTL)
            .all(&self.db)
            .await
    }

    async fn record_audit(&self, entry: PolicyAuditEntry) -> polyorm::Result<PolicyAuditEntry> {
        entry.insert(&self.db).await
    }

    async fn audit_by_memory(&self, id: Uuid) -> polyorm::Result<Vec<PolicyAuditEntry>> {
        PolicyAuditEntry::query()
            .filter(PolicyAuditEntry::MEMORY_ID.eq(id))
            .order_by(PolicyAuditEntry::CREATED_AT.asc())
            .order_by(PolicyAuditEntry::ID.asc())
            .cached(READ_TTL)
            .all(&self.db)
            .await
    }

    async fn audit_by_trace(&self, trace_id: &str) -> polyorm::Result<Vec<PolicyAuditEntry>> {
        PolicyAuditEntry::query()
            .filter(PolicyAuditEntry::TRACE_ID.eq(trace_id))
            .order_by(PolicyAuditEntry::CREATED_AT.asc())
            .order_by(PolicyAuditEntry::ID.asc())
            .cached(READ_TTL)
            .all(&self.db)
            .await
    }

    async fn retrieve_with_audit(
        &self,
        id: Uuid,
        context: &AuditContext,
    ) -> polyorm::Result<Option<MemoryObject>> {
        let audit = audit_row(id, "retrieve", context);
        // Reads inside the transaction go to the database (they must see its own writes);
        // what it wrote is invalidated in the cache when it commits.
        self.db
            .transaction(|tx| async move {
                if MemoryObject::find(&tx, id).await?.is_none() {
                    return Ok(None);
                }
                audit.insert(&tx).await?;
                MemoryObject::update_many()
                    .set(MemoryObject::ACCESS_COUNT, MemoryObject::ACCESS_COUNT + 1)
                    .filter(MemoryObject::ID.eq(id))
                    .execute(&tx)
                    .await?;
                MemoryObject::find(&tx, id).await
            })
            .await
    }

    async fn cache_get(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> polyorm::Result<Option<serde_json::Value>> {
        // Not through the query cache: `now` differs on every call, so would its key.
        let entry = ContextCacheEntry::query()
            .filter(ContextCacheEntry::KEY.eq(key) & ContextCacheEntry::EXPIRES_AT.gt(now))
            .optional(&self.db)
            .await?;
        Ok(entry.map(|e| e.value))
    }

    async fn cache_set(
        &self,
        key: &str,
        value: serde_json::Value,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> polyorm::Result<()> {
        let row = cache_row(key, value, expiry(now, ttl));
        ContextCacheEntry::upsert_many(
            &self.db,
            &[row],
            OnConflict::on(ContextCacheEntry::KEY)
                .update(ContextCacheEntry::VALUE)
                .update(ContextCacheEntry::EXPIRES_AT),
        )
        .await?;
        Ok(())
    }

    async fn cache_cleanup(&self, now: DateTime<Utc>) -> polyorm::Result<u64> {
        ContextCacheEntry::delete_many()
            .filter(ContextCacheEntry::EXPIRES_AT.lt(now))
            .execute(&self.db)
            .await
    }

    async fn health(&self) -> polyorm::Result<Duration> {
        Ok(self.db().health().await?.latency)
    }
}
