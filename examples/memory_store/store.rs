//! The service's interface, [`MemoryStore`], implemented by the database store
//! ([`crate::sql::SqlStore`]) and the in-memory one ([`crate::memory::InMemoryStore`]).

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::models::{ContextCacheEntry, MemoryObject, MemoryRelationship, PolicyAuditEntry, Tier};

/// A page of results: at most `limit` rows after skipping `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Rows per page.
    pub limit: u64,
    /// Rows skipped.
    pub offset: u64,
}

impl Page {
    /// The `n`th page (from 0) of `size` rows.
    pub fn nth(n: u64, size: u64) -> Page {
        Page {
            limit: size,
            offset: n * size,
        }
    }
}

/// What [`MemoryStore::search`] matches; every criterion given must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Search {
    /// Text the content contains (case-sensitive, taken literally: `%` and `_` are not
    /// wildcards).
    pub text: Option<String>,
    /// The tier.
    pub tier: Option<Tier>,
    /// Created at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Created at or before.
    pub created_to: Option<DateTime<Utc>>,
    /// At most this many rows (newest first); 100 when `None`.
    pub limit: Option<u64>,
}

/// Who retrieves a memory, recorded in the audit row [`MemoryStore::retrieve_with_audit`]
/// writes.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditContext {
    /// Who asks.
    pub actor: String,
    /// The orchestrator's trace.
    pub trace_id: String,
    /// The request within the trace.
    pub request_id: String,
}

/// Figures over the whole store.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// Memories.
    pub memories: i64,
    /// Mean confidence of the memories (`None` when there is none).
    pub mean_confidence: Option<f64>,
    /// Memories with a retention date.
    pub with_retention: i64,
    /// Relationships.
    pub relationships: i64,
    /// Audit rows.
    pub audit_entries: i64,
    /// Context-cache entries, expired ones included until `cache_cleanup` runs.
    pub cache_entries: i64,
}

/// The memory store's operations; every read returns what the last write left.
///
/// Errors are `polyorm::Error` on both implementations: a confidence outside 0..=1 is
/// `CheckViolation`, a duplicate relationship `UniqueViolation`, a stale update `Conflict`.
pub trait MemoryStore: Send + Sync {
    /// Which implementation this is (`"postgres"`, `"sqlite"`, …, or `"in-memory"`).
    fn kind(&self) -> String;

    /// Stores a new memory (a nil `id` gets a generated one) and returns it as stored.
    fn create(
        &self,
        memory: MemoryObject,
    ) -> impl Future<Output = polyorm::Result<MemoryObject>> + Send;

    /// The memory with this id.
    fn find_by_id(
        &self,
        id: Uuid,
    ) -> impl Future<Output = polyorm::Result<Option<MemoryObject>>> + Send;

    /// A page of the memories of one tier, newest first.
    fn find_by_tier(
        &self,
        tier: Tier,
        page: Page,
    ) -> impl Future<Output = polyorm::Result<Vec<MemoryObject>>> + Send;

    /// Writes every field of a memory read before; `Error::Conflict` when another write came
    /// in between (read it again and retry), `Error::NotFound` when it is gone. Returns the
    /// stored row (new version and `updated_at`).
    fn update(
        &self,
        memory: MemoryObject,
    ) -> impl Future<Output = polyorm::Result<MemoryObject>> + Send;

    /// Deletes a memory, its relationships (both directions) and detaches its audit rows
    /// (`memory_id` NULL); whether it existed.
    fn delete(&self, id: Uuid) -> impl Future<Output = polyorm::Result<bool>> + Send;

    /// Memories matching every criterion of `search`, newest first.
    fn search(
        &self,
        search: &Search,
    ) -> impl Future<Output = polyorm::Result<Vec<MemoryObject>>> + Send;

    /// Memories whose retention date is before `now`, oldest retention first.
    fn find_expired(
        &self,
        now: DateTime<Utc>,
        limit: u64,
    ) -> impl Future<Output = polyorm::Result<Vec<MemoryObject>>> + Send;

    /// Figures over the whole store.
    fn stats(&self) -> impl Future<Output = polyorm::Result<Stats>> + Send;

    /// Memories per tier (tiers without any are left out).
    fn tier_distribution(
        &self,
    ) -> impl Future<Output = polyorm::Result<BTreeMap<Tier, i64>>> + Send;

    /// Stores a relationship; the same (source, target, type) twice is `UniqueViolation`.
    fn relate(
        &self,
        relationship: MemoryRelationship,
    ) -> impl Future<Output = polyorm::Result<MemoryRelationship>> + Send;

    /// Relationships starting or ending at a memory, oldest first.
    fn relationships_of(
        &self,
        id: Uuid,
    ) -> impl Future<Output = polyorm::Result<Vec<MemoryRelationship>>> + Send;

    /// Appends an audit row.
    fn record_audit(
        &self,
        entry: PolicyAuditEntry,
    ) -> impl Future<Output = polyorm::Result<PolicyAuditEntry>> + Send;

    /// Audit rows about one memory, oldest first.
    fn audit_by_memory(
        &self,
        id: Uuid,
    ) -> impl Future<Output = polyorm::Result<Vec<PolicyAuditEntry>>> + Send;

    /// Audit rows of one trace, oldest first.
    fn audit_by_trace(
        &self,
        trace_id: &str,
    ) -> impl Future<Output = polyorm::Result<Vec<PolicyAuditEntry>>> + Send;

    /// Reads a memory, counts the access and writes a `retrieve` audit row, all in one
    /// transaction: if any step fails, none of them is kept. `None` (and no audit row) when
    /// there is no such memory.
    fn retrieve_with_audit(
        &self,
        id: Uuid,
        context: &AuditContext,
    ) -> impl Future<Output = polyorm::Result<Option<MemoryObject>>> + Send;

    /// The cached analysis under `key`, unless it expired before `now`.
    fn cache_get(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = polyorm::Result<Option<serde_json::Value>>> + Send;

    /// Stores (or replaces) the analysis under `key` until `now + ttl`.
    fn cache_set(
        &self,
        key: &str,
        value: serde_json::Value,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> impl Future<Output = polyorm::Result<()>> + Send;

    /// Removes the entries that expired before `now`; how many went.
    fn cache_cleanup(
        &self,
        now: DateTime<Utc>,
    ) -> impl Future<Output = polyorm::Result<u64>> + Send;

    /// One round trip to the database (nothing for the in-memory store): its latency.
    fn health(&self) -> impl Future<Output = polyorm::Result<Duration>> + Send;
}

/// The error for a confidence outside 0..=1, as the database reports it.
pub fn confidence_out_of_range(value: f64) -> polyorm::Error {
    polyorm::Error::CheckViolation {
        constraint: Some("ck_memory_objects_confidence".to_owned()),
        source: format!("confidence {value} is outside 0..=1: store a value from 0 to 1").into(),
    }
}

/// An audit row for `action` on `memory_id`.
pub fn audit_row(memory_id: Uuid, action: &str, context: &AuditContext) -> PolicyAuditEntry {
    PolicyAuditEntry {
        id: Uuid::nil(),
        memory_id: Some(memory_id),
        action: action.to_owned(),
        actor: context.actor.clone(),
        trace_id: context.trace_id.clone(),
        request_id: context.request_id.clone(),
        details: serde_json::json!({}),
        created_at: DateTime::<Utc>::default(),
    }
}

/// `ttl` after `now` (the end of time for a TTL beyond chrono's range).
pub fn expiry(now: DateTime<Utc>, ttl: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(ttl)
        .ok()
        .and_then(|ttl| now.checked_add_signed(ttl))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// A context-cache row.
pub fn cache_row(
    key: &str,
    value: serde_json::Value,
    expires_at: DateTime<Utc>,
) -> ContextCacheEntry {
    ContextCacheEntry {
        id: Uuid::nil(),
        key: key.to_owned(),
        value,
        expires_at,
        created_at: DateTime::<Utc>::default(),
    }
}

impl MemoryObject {
    /// A new memory with empty metadata and tags, no embedding and no retention date; its id
    /// and timestamps are set when it is stored.
    pub fn new(tier: Tier, content: impl Into<String>, confidence: f64) -> MemoryObject {
        MemoryObject {
            id: Uuid::nil(),
            tier,
            content: content.into(),
            metadata: serde_json::json!({}),
            tags: serde_json::json!([]),
            embedding: None,
            confidence,
            created_at: DateTime::<Utc>::default(),
            updated_at: DateTime::<Utc>::default(),
            retention_until: None,
            access_count: 0,
            version: 1,
        }
    }
}

impl MemoryRelationship {
    /// A new relationship `source -[kind]-> target`.
    pub fn new(source_id: Uuid, target_id: Uuid, kind: &str, strength: f64) -> MemoryRelationship {
        MemoryRelationship {
            id: Uuid::nil(),
            source_id,
            target_id,
            relationship_type: kind.to_owned(),
            strength,
            created_at: DateTime::<Utc>::default(),
        }
    }
}
