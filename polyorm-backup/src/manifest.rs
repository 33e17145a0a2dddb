//! The manifest of an archive (`manifest.json`): what the archive holds and how to check it.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use polyorm_core::{ColumnType, Value};
use polyorm_migrate::Schema;
use serde::{Deserialize, Serialize};

/// The file name of the manifest inside an archive.
pub const MANIFEST_FILE: &str = "manifest.json";

/// What an archive holds relative to others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupKind {
    /// Every row of every table.
    Full,
    /// The rows whose watermark moved since the parent (any kind) was taken.
    Incremental,
    /// The rows whose watermark moved since the parent full backup was taken.
    Differential,
}

impl std::fmt::Display for BackupKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BackupKind::Full => "full",
            BackupKind::Incremental => "incremental",
            BackupKind::Differential => "differential",
        })
    }
}

/// How the archive is encrypted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Encryption {
    /// Always `AES-256-GCM` (STREAM construction over 1 MiB blocks).
    pub algorithm: String,
    /// The id of the key (give a provider that knows it to read the archive).
    pub key_id: String,
}

/// The largest value of a watermark column a backup read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Watermark {
    /// An integer column (an auto-increment key: a key range).
    Int(i64),
    /// A timestamp with time zone.
    TimestampTz(DateTime<Utc>),
    /// A timestamp without time zone.
    Timestamp(NaiveDateTime),
    /// A date.
    Date(NaiveDate),
}

impl Watermark {
    /// The watermark a column value stands for; `None` for NULL and non-watermark types.
    pub fn of(value: &Value) -> Option<Watermark> {
        Some(match value {
            Value::SmallInt(i) => Watermark::Int(i64::from(*i)),
            Value::Int(i) => Watermark::Int(i64::from(*i)),
            Value::BigInt(i) => Watermark::Int(*i),
            Value::ChronoDateTimeUtc(t) => Watermark::TimestampTz(*t),
            Value::ChronoDateTime(t) => Watermark::Timestamp(*t),
            Value::ChronoDate(d) => Watermark::Date(*d),
            _ => return None,
        })
    }

    /// The value bound in the `column > watermark` filter of the next backup.
    pub fn to_value(&self, ty: ColumnType) -> Value {
        match self {
            Watermark::Int(i) => match ty {
                ColumnType::SmallInt => Value::SmallInt(*i as i16),
                ColumnType::Int => Value::Int(*i as i32),
                _ => Value::BigInt(*i),
            },
            Watermark::TimestampTz(t) => Value::ChronoDateTimeUtc(*t),
            Watermark::Timestamp(t) => Value::ChronoDateTime(*t),
            Watermark::Date(d) => Value::ChronoDate(*d),
        }
    }

    /// Whether a column of type `ty` can be a watermark.
    pub fn supports(ty: ColumnType) -> bool {
        matches!(
            ty,
            ColumnType::SmallInt
                | ColumnType::Int
                | ColumnType::BigInt
                | ColumnType::TimestampTz
                | ColumnType::Timestamp
                | ColumnType::Date
        )
    }
}

/// One column of a part, in the order its rows hold values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartColumn {
    /// Column name.
    pub name: String,
    /// Logical type.
    #[serde(rename = "type")]
    pub ty: ColumnType,
}

/// One table's rows in the archive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Part {
    /// The table (collection).
    pub table: String,
    /// The file of the part inside the archive (`<table>.rows`).
    pub file: String,
    /// The columns of each row.
    pub columns: Vec<PartColumn>,
    /// Rows in the part.
    pub rows: u64,
    /// Size of the stored (compressed, encrypted) file.
    pub bytes: u64,
    /// Size of the row encoding before compression.
    pub content_bytes: u64,
    /// SHA-256 of the stored file, hex.
    pub sha256: String,
    /// The order-independent digest of the rows ([`crate::format::RowDigest`]), hex.
    pub rows_digest: String,
    /// Incremental parts: the rows are those whose watermark column is above this (`None`:
    /// every row, also for a table without the watermark column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Watermark>,
    /// The largest watermark value read (the next incremental's `since`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watermark: Option<Watermark>,
}

/// What an archive holds (`manifest.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The row encoding's version ([`crate::format::FORMAT_VERSION`]).
    pub format: u32,
    /// The backup's id: `<UTC time>-<kind>` (`20261206T101500Z-full`), unique in a history.
    pub id: String,
    /// When the backup's snapshot was taken.
    pub created_at: DateTime<Utc>,
    /// Full, incremental or differential.
    pub kind: BackupKind,
    /// The backup this one continues (incremental and differential).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// The id of the full backup at the root of this one's chain (itself for a full one).
    pub base: String,
    /// The backend the rows were read from (`PostgreSQL`, `MongoDB`, …).
    pub source: String,
    /// How the read was made consistent (`one REPEATABLE READ, READ ONLY transaction`).
    pub consistency: String,
    /// The watermark column of incremental backups (`updated_at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watermark_column: Option<String>,
    /// The zstd level of the parts (`None`: not compressed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<i32>,
    /// How the parts are encrypted (`None`: not encrypted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
    /// The schema of the tables backed up, in polyorm-migrate's snapshot form.
    pub schema: Schema,
    /// One part per table.
    pub parts: Vec<Part>,
    /// The lifecycle policy that wrote this archive (`None`: a backup).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<crate::lifecycle::LifecycleInfo>,
}

impl Manifest {
    /// Rows in every part.
    pub fn rows(&self) -> u64 {
        self.parts.iter().map(|p| p.rows).sum()
    }

    /// Stored bytes of every part.
    pub fn bytes(&self) -> u64 {
        self.parts.iter().map(|p| p.bytes).sum()
    }

    /// The part of `table`.
    pub fn part(&self, table: &str) -> Option<&Part> {
        self.parts.iter().find(|p| p.table == table)
    }
}
