//! [`InMemoryStore`]: the memory store without a database (`PF_DATABASE_ENABLED=false`, or
//! the fallback when the database is unreachable at start-up). Nothing survives the process;
//! the rules are the database's: the confidence check, the unique relationship triple, the
//! cascade and set-null on delete, optimistic locking.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, SubsecRound, Utc};
use uuid::Uuid;

use crate::models::{ContextCacheEntry, MemoryObject, MemoryRelationship, PolicyAuditEntry, Tier};
use crate::store::{
    AuditContext, MemoryStore, Page, Search, Stats, audit_row, cache_row, confidence_out_of_range,
    expiry,
};

#[derive(Default, Clone)]
struct State {
    memories: HashMap<Uuid, MemoryObject>,
    relationships: Vec<MemoryRelationship>,
    audit: Vec<PolicyAuditEntry>,
    cache: BTreeMap<String, ContextCacheEntry>,
}

/// The memory store in the process's memory.
#[derive(Default)]
pub struct InMemoryStore {
    state: Mutex<State>,
}

/// The current time as the databases keep it (microseconds).
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn unset(at: DateTime<Utc>) -> bool {
    at == DateTime::<Utc>::default()
}

fn key_or_new(id: Uuid) -> Uuid {
    if id.is_nil() { Uuid::now_v7() } else { id }
}

fn newest_first(a: &MemoryObject, b: &MemoryObject) -> std::cmp::Ordering {
    b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id))
}

impl InMemoryStore {
    /// An empty store.
    pub fn new() -> InMemoryStore {
        InMemoryStore::default()
    }

    /// The audit rows `keep` accepts, oldest first.
    fn audit_where(&self, keep: impl Fn(&PolicyAuditEntry) -> bool) -> Vec<PolicyAuditEntry> {
        let mut rows: Vec<_> = self.with(|s| s.audit.iter().filter(|e| keep(e)).cloned().collect());
        rows.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        rows
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut state)
    }
}

impl MemoryStore for InMemoryStore {
    fn kind(&self) -> String {
        "in-memory".to_owned()
    }

    async fn create(&self, mut memory: MemoryObject) -> polyorm::Result<MemoryObject> {
        if !(0.0..=1.0).contains(&memory.confidence) {
            return Err(confidence_out_of_range(memory.confidence));
        }
        let at = now();
        memory.id = key_or_new(memory.id);
        if unset(memory.created_at) {
            memory.created_at = at;
        }
        memory.updated_at = at;
        self.with(|s| {
            if s.memories.contains_key(&memory.id) {
                return Err(polyorm::Error::UniqueViolation {
                    constraint: Some("memory_objects_pkey".to_owned()),
                    source: format!("a memory with id {} exists already", memory.id).into(),
                });
            }
            s.memories.insert(memory.id, memory.clone());
            Ok(memory)
        })
    }

    async fn find_by_id(&self, id: Uuid) -> polyorm::Result<Option<MemoryObject>> {
        Ok(self.with(|s| s.memories.get(&id).cloned()))
    }

    async fn find_by_tier(&self, tier: Tier, page: Page) -> polyorm::Result<Vec<MemoryObject>> {
        let mut rows: Vec<_> = self.with(|s| {
            s.memories
                .values()
                .filter(|m| m.tier == tier)
                .cloned()
                .collect()
        });
        rows.sort_by(newest_first);
        Ok(rows
            .into_iter()
            .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(page.limit).unwrap_or(usize::MAX))
            .collect())
    }

    async fn update(&self, mut memory: MemoryObject) -> polyorm::Result<MemoryObject> {
        if !(0.0..=1.0).contains(&memory.confidence) {
            return Err(confidence_out_of_range(memory.confidence));
        }
        self.with(|s| {
            let stored = s
                .memories
                .get_mut(&memory.id)
                .ok_or(polyorm::Error::NotFound {
                    table: "memory_objects",
                    detail: " the primary key",
                })?;
            if stored.version != memory.version {
                return Err(polyorm::Error::Conflict {
                    table: "memory_objects",
                    expected: i64::from(memory.version),
                });
            }
            memory.version += 1;
            memory.updated_at = now();
            *stored = memory.clone();
            Ok(memory)
        })
    }

    async fn delete(&self, id: Uuid) -> polyorm::Result<bool> {
        Ok(self.with(|s| {
            let existed = s.memories.remove(&id).is_some();
            s.relationships
                .retain(|r| r.source_id != id && r.target_id != id);
            for entry in &mut s.audit {
                if entry.memory_id == Some(id) {
                    entry.memory_id = None;
                }
            }
            existed
        }))
    }

    async fn search(&self, search: &Search) -> polyorm::Result<Vec<MemoryObject>> {
        let mut rows: Vec<_> = self.with(|s| {
            s.memories
                .values()
                .filter(|m| {
                    search
                        .text
                        .as_ref()
                        .is_none_or(|t| m.content.contains(t.as_str()))
                })
                .filter(|m| search.tier.is_none_or(|t| m.tier == t))
                .filter(|m| search.created_from.is_none_or(|from| m.created_at >= from))
                .filter(|m| search.created_to.is_none_or(|to| m.created_at <= to))
                .cloned()
                .collect()
        });
        rows.sort_by(newest_first);
        rows.truncate(usize::try_from(search.limit.unwrap_or(100)).unwrap_or(usize::MAX));
        Ok(rows)
    }

    async fn find_expired(
        &self,
        now: DateTime<Utc>,
        limit: u64,
    ) -> polyorm::Result<Vec<MemoryObject>> {
        let mut rows: Vec<_> = self.with(|s| {
            s.memories
                .values()
                .filter(|m| m.retention_until.is_some_and(|r| r < now))
                .cloned()
                .collect()
        });
        rows.sort_by(|a, b| {
            a.retention_until
                .cmp(&b.retention_until)
                .then(a.id.cmp(&b.id))
        });
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(rows)
    }

    async fn stats(&self) -> polyorm::Result<Stats> {
        Ok(self.with(|s| {
            let n = s.memories.len();
            Stats {
                memories: n as i64,
                mean_confidence: (n > 0)
                    .then(|| s.memories.values().map(|m| m.confidence).sum::<f64>() / n as f64),
                with_retention: s
                    .memories
                    .values()
                    .filter(|m| m.retention_until.is_some())
                    .count() as i64,
                relationships: s.relationships.len() as i64,
                audit_entries: s.audit.len() as i64,
                cache_entries: s.cache.len() as i64,
            }
        }))
    }

    async fn tier_distribution(&self) -> polyorm::Result<BTreeMap<Tier, i64>> {
        Ok(self.with(|s| {
            let mut out = BTreeMap::new();
            for m in s.memories.values() {
                *out.entry(m.tier).or_insert(0) += 1;
            }
            out
        }))
    }

    async fn relate(
        &self,
        mut relationship: MemoryRelationship,
    ) -> polyorm::Result<MemoryRelationship> {
        if !(0.0..=1.0).contains(&relationship.strength) {
            return Err(polyorm::Error::CheckViolation {
                constraint: Some("ck_memory_relationships_strength".to_owned()),
                source: format!(
                    "strength {} is outside 0..=1: store a value from 0 to 1",
                    relationship.strength
                )
                .into(),
            });
        }
        relationship.id = key_or_new(relationship.id);
        if unset(relationship.created_at) {
            relationship.created_at = now();
        }
        self.with(|s| {
            for end in [relationship.source_id, relationship.target_id] {
                if !s.memories.contains_key(&end) {
                    return Err(polyorm::Error::ForeignKeyViolation {
                        constraint: None,
                        source: format!("no memory has id {end}: create it first").into(),
                    });
                }
            }
            let same = |r: &&MemoryRelationship| {
                r.source_id == relationship.source_id
                    && r.target_id == relationship.target_id
                    && r.relationship_type == relationship.relationship_type
            };
            if s.relationships.iter().any(|r| same(&r)) {
                return Err(polyorm::Error::UniqueViolation {
                    constraint: None,
                    source: "this (source, target, type) relationship exists already".into(),
                });
            }
            s.relationships.push(relationship.clone());
            Ok(relationship)
        })
    }

    async fn relationships_of(&self, id: Uuid) -> polyorm::Result<Vec<MemoryRelationship>> {
        let mut rows: Vec<_> = self.with(|s| {
            s.relationships
                .iter()
                .filter(|r| r.source_id == id || r.target_id == id)
                .cloned()
                .collect()
        });
        rows.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(rows)
    }

    async fn record_audit(&self, mut entry: PolicyAuditEntry) -> polyorm::Result<PolicyAuditEntry> {
        entry.id = key_or_new(entry.id);
        if unset(entry.created_at) {
            entry.created_at = now();
        }
        self.with(|s| {
            s.audit.push(entry.clone());
            Ok(entry)
        })
    }

    async fn audit_by_memory(&self, id: Uuid) -> polyorm::Result<Vec<PolicyAuditEntry>> {
        Ok(self.audit_where(|e| e.memory_id == Some(id)))
    }

    async fn audit_by_trace(&self, trace_id: &str) -> polyorm::Result<Vec<PolicyAuditEntry>> {
        Ok(self.audit_where(|e| e.trace_id == trace_id))
    }

    async fn retrieve_with_audit(
        &self,
        id: Uuid,
        context: &AuditContext,
    ) -> polyorm::Result<Option<MemoryObject>> {
        // One lock held for the whole operation: the in-memory transaction.
        let mut entry = audit_row(id, "retrieve", context);
        entry.id = Uuid::now_v7();
        entry.created_at = now();
        self.with(|s| {
            let Some(memory) = s.memories.get_mut(&id) else {
                return Ok(None);
            };
            let count = memory
                .access_count
                .checked_add(1)
                .ok_or(polyorm::Error::OutOfRange {
                    column: Some("access_count".to_owned()),
                    source: "access_count is at i64::MAX and cannot count another access".into(),
                })?;
            memory.access_count = count;
            memory.version += 1;
            memory.updated_at = now();
            let memory = memory.clone();
            s.audit.push(entry);
            Ok(Some(memory))
        })
    }

    async fn cache_get(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> polyorm::Result<Option<serde_json::Value>> {
        Ok(self.with(|s| {
            s.cache
                .get(key)
                .filter(|e| e.expires_at > now)
                .map(|e| e.value.clone())
        }))
    }

    async fn cache_set(
        &self,
        key: &str,
        value: serde_json::Value,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> polyorm::Result<()> {
        let mut row = cache_row(key, value, expiry(now, ttl));
        row.id = Uuid::now_v7();
        row.created_at = crate::memory::now();
        self.with(|s| match s.cache.get_mut(key) {
            Some(existing) => {
                existing.value = row.value;
                existing.expires_at = row.expires_at;
            }
            None => {
                s.cache.insert(key.to_owned(), row);
            }
        });
        Ok(())
    }

    async fn cache_cleanup(&self, now: DateTime<Utc>) -> polyorm::Result<u64> {
        Ok(self.with(|s| {
            let before = s.cache.len();
            s.cache.retain(|_, e| e.expires_at >= now);
            (before - s.cache.len()) as u64
        }))
    }

    async fn health(&self) -> polyorm::Result<Duration> {
        let start = Instant::now();
        self.with(|_| ());
        Ok(start.elapsed())
    }
}
