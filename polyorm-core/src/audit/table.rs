//! The audit tables — the log (`orm_audit_log`) and its chain head (`orm_audit_head`) — as
//! static schemas, their rows, and the hash each record carries: a digest of its content
//! (computed by the ORM), chained to the previous transaction's last record by SHA-256 over
//! text (computed by the database on SQL, so that appending needs no read of the head first).

use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::exec::RowRef;
use crate::schema::{ColumnSchema, ColumnType, ModelSchema};
use crate::value::{FieldType, Value};

/// The `prev_hash` of the first record: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The first bytes of every record's canonical encoding (its version).
const ENCODING_TAG: &[u8] = b"orm-audit-v2";

/// The key of the chain head's only row.
pub(crate) const HEAD_ID: i32 = 1;

static LOG_COLUMNS: [ColumnSchema; 14] = [
    ColumnSchema::plain("seq", ColumnType::BigInt, false, true),
    ColumnSchema::plain("recorded_at_us", ColumnType::BigInt, false, false),
    ColumnSchema::plain("actor", ColumnType::Text, true, false),
    ColumnSchema::plain("trace_id", ColumnType::Text, true, false),
    ColumnSchema::plain("request_id", ColumnType::Text, true, false),
    ColumnSchema::plain("operation", ColumnType::Text, false, false),
    ColumnSchema::plain("table_name", ColumnType::Text, true, false),
    ColumnSchema::plain("row_key", ColumnType::Text, true, false),
    ColumnSchema::plain("changes", ColumnType::Text, true, false),
    ColumnSchema::plain("before_values", ColumnType::Text, true, false),
    ColumnSchema::plain("statement", ColumnType::Text, true, false),
    ColumnSchema::plain("rows_affected", ColumnType::BigInt, false, false),
    ColumnSchema::plain("prev_hash", ColumnType::Text, false, false),
    ColumnSchema::plain("hash", ColumnType::Text, false, false),
];

/// The audit log table, `orm_audit_log`: one [`AuditRecord`] per row, keyed by `seq`.
pub static AUDIT_LOG: ModelSchema = ModelSchema {
    name: "AuditRecord",
    table: "orm_audit_log",
    columns: &LOG_COLUMNS,
    primary_key: &[0],
    indexes: &[],
    foreign_keys: &[],
    checks: &[],
    renamed_from: None,
    shard_key: None,
    soft_delete: None,
};

static HEAD_COLUMNS: [ColumnSchema; 4] = [
    ColumnSchema::plain("id", ColumnType::Int, false, true),
    ColumnSchema::plain("seq", ColumnType::BigInt, false, false),
    ColumnSchema::plain("hash", ColumnType::Text, false, false),
    ColumnSchema::plain("prev_hash", ColumnType::Text, false, false),
];

/// The chain head, `orm_audit_head`: one row (`id = 1`) with the `seq` and `hash` of the last
/// record, and the `prev_hash` the last transaction's records link to. Appending locks it
/// until the transaction ends (an `UPDATE`, or the linking trigger's `SELECT … FOR UPDATE`
/// on MySQL/MariaDB), which serializes appenders, moves it and links the records to it;
/// [`verify`](super::verify) compares it with the log's last row, which finds deleted tail
/// rows.
pub static AUDIT_HEAD: ModelSchema = ModelSchema {
    name: "AuditHead",
    table: "orm_audit_head",
    columns: &HEAD_COLUMNS,
    primary_key: &[0],
    indexes: &[],
    foreign_keys: &[],
    checks: &[],
    renamed_from: None,
    shard_key: None,
    soft_delete: None,
};

// The migration engine's model list (`registry`, which the facade's `migrate` feature turns
// on) holds the audit tables, so that `migrate` creates them like any model's.
#[cfg(feature = "registry")]
inventory::submit! {
    crate::registry::RegisteredModel { schema: &AUDIT_LOG }
}
#[cfg(feature = "registry")]
inventory::submit! {
    crate::registry::RegisteredModel { schema: &AUDIT_HEAD }
}

/// One row of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Position in the chain, from 1 with no gaps.
    pub seq: i64,
    /// When the write was made (microseconds since the Unix epoch, the writer's clock).
    pub recorded_at_us: i64,
    /// [`AuditContext::actor`](super::AuditContext::actor) of the writing task.
    pub actor: Option<String>,
    /// [`AuditContext::trace_id`](super::AuditContext::trace_id) of the writing task.
    pub trace_id: Option<String>,
    /// [`AuditContext::request_id`](super::AuditContext::request_id) of the writing task.
    pub request_id: Option<String>,
    /// `insert`, `upsert`, `update`, `delete`, or `raw` (SQL text the caller wrote).
    pub operation: String,
    /// The table written; `NULL` for raw SQL.
    pub table_name: Option<String>,
    /// The keys of the rows written, as JSON: an array of keys, each an array of the
    /// primary-key values in key order (`[[7]]`, `[[1],[2]]`, `[[3,"eu"]]`); `NULL` when
    /// unknown (see the module docs).
    pub row_key: Option<String>,
    /// The written values as a JSON object by column (redacted columns read
    /// `"[redacted]"`), when the audit records changes; `NULL` otherwise.
    pub changes: Option<String>,
    /// An update's or delete's affected rows as they were before it, read in its transaction
    /// just before it ran: a JSON array of objects by column (every column, redacted ones
    /// reading `"[redacted]"`), when the audit records changes; `NULL` otherwise and for
    /// inserts, upserts and raw SQL.
    pub before_values: Option<String>,
    /// The statement with placeholders (never bound values): raw SQL, and updates and
    /// deletes whose filter names no key (`NULL` on MongoDB).
    pub statement: Option<String>,
    /// The rows the write reported as affected (1 per inserted row's record).
    pub rows_affected: i64,
    /// The `hash` of the last record appended before this record's transaction
    /// ([`GENESIS_HASH`] for the first transaction's): the records of one transaction share
    /// it, and are chained to each other through their [digests](AuditRecord::digest).
    pub prev_hash: String,
    /// [`chain_hash`](AuditRecord::chain_hash)`(prev_hash, seq, digest)`: SHA-256, lowercase
    /// hex, of the text `{prev_hash}:{seq}:{digest}`.
    pub hash: String,
}

impl AuditRecord {
    /// The bytes a record's digest is taken over: `orm-audit-v2`, then every column but `seq`,
    /// `prev_hash` and `hash` in table order, then `batch_prev`, the digest of the record
    /// before it in the same transaction (`NULL` for a transaction's first) — an integer as
    /// `0x01` and its 8 bytes big-endian, a text as `0x01`, its UTF-8 length as 8 bytes
    /// big-endian and its bytes, a `NULL` as `0x00`. Every field has a length or a fixed size,
    /// so two different records never encode alike.
    pub fn canonical_bytes(&self, batch_prev: Option<&str>) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(ENCODING_TAG);
        let int = |out: &mut Vec<u8>, n: i64| {
            out.push(1);
            out.extend_from_slice(&n.to_be_bytes());
        };
        let text = |out: &mut Vec<u8>, s: Option<&str>| match s {
            None => out.push(0),
            Some(s) => {
                out.push(1);
                out.extend_from_slice(&(s.len() as u64).to_be_bytes());
                out.extend_from_slice(s.as_bytes());
            }
        };
        int(&mut out, self.recorded_at_us);
        text(&mut out, self.actor.as_deref());
        text(&mut out, self.trace_id.as_deref());
        text(&mut out, self.request_id.as_deref());
        text(&mut out, Some(&self.operation));
        text(&mut out, self.table_name.as_deref());
        text(&mut out, self.row_key.as_deref());
        text(&mut out, self.changes.as_deref());
        text(&mut out, self.before_values.as_deref());
        text(&mut out, self.statement.as_deref());
        int(&mut out, self.rows_affected);
        text(&mut out, batch_prev);
        out
    }

    /// SHA-256, lowercase hex, of the record's [canonical bytes](Self::canonical_bytes):
    /// what the ORM computes for it before it is appended.
    pub fn digest(&self, batch_prev: Option<&str>) -> String {
        hex::encode(Sha256::digest(self.canonical_bytes(batch_prev)))
    }

    /// The hash of a record at `seq` with `digest`, linked to `prev_hash`: SHA-256, lowercase
    /// hex, of the UTF-8 text `{prev_hash}:{seq}:{digest}` (`seq` in decimal). Text, so that
    /// the database computes it while appending (`sha256()` on PostgreSQL, `SHA2(…, 256)` on
    /// MySQL/MariaDB, the function the ORM's SQLite driver registers).
    pub fn chain_hash(prev_hash: &str, seq: i64, digest: &str) -> String {
        hex::encode(Sha256::digest(format!("{prev_hash}:{seq}:{digest}")))
    }

    /// The hash this record's content gives when `batch_prev` is the digest of the record
    /// before it in its transaction (what `hash` holds unless a row was edited).
    pub fn content_hash(&self, batch_prev: Option<&str>) -> String {
        Self::chain_hash(&self.prev_hash, self.seq, &self.digest(batch_prev))
    }

    /// The row's values, in [`AUDIT_LOG`] column order.
    pub(crate) fn into_values(self) -> Vec<Value> {
        vec![
            FieldType::into_value(self.seq),
            FieldType::into_value(self.recorded_at_us),
            FieldType::into_value(self.actor),
            FieldType::into_value(self.trace_id),
            FieldType::into_value(self.request_id),
            FieldType::into_value(self.operation),
            FieldType::into_value(self.table_name),
            FieldType::into_value(self.row_key),
            FieldType::into_value(self.changes),
            FieldType::into_value(self.before_values),
            FieldType::into_value(self.statement),
            FieldType::into_value(self.rows_affected),
            FieldType::into_value(self.prev_hash),
            FieldType::into_value(self.hash),
        ]
    }

    /// Decodes a row selected with every [`AUDIT_LOG`] column.
    pub(crate) fn decode(row: &RowRef<'_>) -> Result<AuditRecord> {
        Ok(AuditRecord {
            seq: FieldType::decode(row, 0)?,
            recorded_at_us: FieldType::decode(row, 1)?,
            actor: FieldType::decode(row, 2)?,
            trace_id: FieldType::decode(row, 3)?,
            request_id: FieldType::decode(row, 4)?,
            operation: FieldType::decode(row, 5)?,
            table_name: FieldType::decode(row, 6)?,
            row_key: FieldType::decode(row, 7)?,
            changes: FieldType::decode(row, 8)?,
            before_values: FieldType::decode(row, 9)?,
            statement: FieldType::decode(row, 10)?,
            rows_affected: FieldType::decode(row, 11)?,
            prev_hash: FieldType::decode(row, 12)?,
            hash: FieldType::decode(row, 13)?,
        })
    }
}

/// The chain head: the `seq` and `hash` of the last record, and the `prev_hash` of the last
/// transaction's records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    pub seq: i64,
    pub hash: String,
    pub prev_hash: String,
}

impl Head {
    /// Decodes a row selected with every [`AUDIT_HEAD`] column.
    pub(crate) fn decode(row: &RowRef<'_>) -> Result<Head> {
        Ok(Head {
            seq: FieldType::decode(row, 1)?,
            hash: FieldType::decode(row, 2)?,
            prev_hash: FieldType::decode(row, 3)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> AuditRecord {
        AuditRecord {
            seq: 1,
            recorded_at_us: 1_700_000_000_000_000,
            actor: Some("alice".into()),
            trace_id: None,
            request_id: Some("r1".into()),
            operation: "insert".into(),
            table_name: Some("users".into()),
            row_key: Some("[[1]]".into()),
            changes: None,
            before_values: None,
            statement: None,
            rows_affected: 1,
            prev_hash: GENESIS_HASH.into(),
            hash: String::new(),
        }
    }

    #[test]
    fn every_field_is_inside_the_hash() {
        let base = record().content_hash(None);
        let mut moved = record();
        // The same characters split differently between two fields hash differently.
        moved.actor = Some("alicer1".into());
        moved.request_id = None;
        assert_ne!(moved.content_hash(None), base);
        let mut relinked = record();
        relinked.prev_hash = "1".repeat(64);
        assert_ne!(relinked.content_hash(None), base);
        let mut renumbered = record();
        renumbered.seq = 2;
        assert_ne!(renumbered.content_hash(None), base);
        let mut before = record();
        before.before_values = Some("[]".into());
        assert_ne!(before.content_hash(None), base);
        // The record before it in its transaction is inside too.
        assert_ne!(record().content_hash(Some(&base)), base);
        assert_eq!(record().content_hash(None), base);
        assert_eq!(base.len(), 64);
    }

    #[cfg(feature = "registry")]
    #[test]
    fn the_audit_tables_are_in_the_migration_model_list() {
        for schema in [&AUDIT_LOG, &AUDIT_HEAD] {
            assert!(
                crate::registry::models().any(|m| std::ptr::eq(m, schema)),
                "{} is registered",
                schema.table
            );
        }
    }

    #[test]
    fn the_chain_hash_is_sha256_of_its_text() {
        // `printf '%s' "$(printf '0%.0s' {1..64}):1:abc" | sha256sum`
        assert_eq!(
            AuditRecord::chain_hash(GENESIS_HASH, 1, "abc"),
            "830e6f6bf02131fac9efba759524f277571c2ad7003cfa09c139db45626c60b2"
        );
    }
}
