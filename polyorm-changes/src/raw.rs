//! Changes as a source reads them, before decoding into a model: columns by name with the
//! source's own values.

use crate::event::{ChangeKind, ChangeMeta};

/// A column value as a source reports it. Sources keep what they were given (PostgreSQL's
/// text forms, the binlog's typed values, BSON), and [`decode_change`](crate::decode_change) turns it into the type
/// the model's column declares.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RawValue {
    /// NULL.
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer (MariaDB's `BIGINT UNSIGNED`).
    UInt(u64),
    /// A float.
    Float(f64),
    /// Text: a string column, or another type's text form (`2024-05-01 10:00:00+00`,
    /// `12.50`, a UUID, JSON text).
    Text(String),
    /// Bytes.
    Bytes(Vec<u8>),
    /// An instant, in microseconds since the Unix epoch (MariaDB `TIMESTAMP`, BSON dates).
    Instant(i64),
    /// A JSON document (MongoDB sub-documents and arrays).
    Json(serde_json::Value),
    /// A MongoDB ObjectId.
    ObjectId([u8; 12]),
}

/// A row image: columns by name, in the source's order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawRow {
    /// `(column name, value)` pairs.
    pub columns: Vec<(String, RawValue)>,
}

impl RawRow {
    /// The value of column `name`, if the image has it.
    pub fn get(&self, name: &str) -> Option<&RawValue> {
        self.columns
            .iter()
            .find_map(|(n, v)| (n == name).then_some(v))
    }
}

/// One change as read from the source, for any table: what a stream over several models
/// yields ([`RawChange::decode`] turns it into a typed [`Event`](crate::Event)).
#[derive(Debug, Clone, PartialEq)]
pub struct RawChange {
    /// Position, transaction, commit time, table.
    pub meta: ChangeMeta,
    /// Insert, update, delete or truncate.
    pub kind: ChangeKind,
    /// The row before the change (updates and deletes; `None` for a truncate); it may hold only
    /// the key columns
    /// (PostgreSQL without `REPLICA IDENTITY FULL`, MariaDB with `binlog_row_image=MINIMAL`).
    pub before: Option<RawRow>,
    /// The row after the change (inserts and updates).
    pub after: Option<RawRow>,
}
