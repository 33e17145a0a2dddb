//! Typed change events and the positions a consumer acknowledges.

use std::fmt;

use polyorm_core::Value;

use crate::error::Error;

/// Where a change sits in the source's log, totally ordered within one source: acknowledge it
/// ([`ChangeStream::ack`](crate::ChangeStream::ack)) once the change is processed, and a
/// restarted stream delivers only what comes after the last acknowledged position.
///
/// `to_string()` / `parse()` round-trip, for consumers that store positions themselves.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Position {
    /// PostgreSQL: the end LSN of the transaction's commit record, and the change's index in
    /// the transaction (`0/16B2F28:3`).
    Postgres {
        /// The commit's end LSN.
        commit_lsn: u64,
        /// 0-based index of the change within its transaction.
        index: u32,
    },
    /// MariaDB/MySQL: the binlog file, the offset where the transaction's events begin (where
    /// a restart reads from) and the change's index in the transaction
    /// (`binlog:binlog.000001:4567:3`).
    Binlog {
        /// Binlog file name.
        file: String,
        /// Offset of the transaction's first event in `file`.
        offset: u64,
        /// 0-based index of the change within its transaction.
        index: u32,
    },
    /// MongoDB: the change event's resume token (its `_data` hex string, which MongoDB keeps
    /// ordered).
    ResumeToken(String),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Postgres { commit_lsn, index } => {
                write!(f, "pg:{}:{index}", format_lsn(*commit_lsn))
            }
            Position::Binlog {
                file,
                offset,
                index,
            } => write!(f, "binlog:{file}:{offset}:{index}"),
            Position::ResumeToken(token) => write!(f, "mongo:{token}"),
        }
    }
}

impl std::str::FromStr for Position {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || Error::BadPosition(s.to_owned());
        let (kind, rest) = s.split_once(':').ok_or_else(bad)?;
        match kind {
            "pg" => {
                let (lsn, index) = rest.rsplit_once(':').ok_or_else(bad)?;
                Ok(Position::Postgres {
                    commit_lsn: parse_lsn(lsn).ok_or_else(bad)?,
                    index: index.parse().map_err(|_| bad())?,
                })
            }
            "binlog" => {
                let (rest, index) = rest.rsplit_once(':').ok_or_else(bad)?;
                let (file, offset) = rest.rsplit_once(':').ok_or_else(bad)?;
                Ok(Position::Binlog {
                    file: file.to_owned(),
                    offset: offset.parse().map_err(|_| bad())?,
                    index: index.parse().map_err(|_| bad())?,
                })
            }
            "mongo" if !rest.is_empty() => Ok(Position::ResumeToken(rest.to_owned())),
            _ => Err(bad()),
        }
    }
}

/// `X/Y` (PostgreSQL's text form of an LSN) as a number.
pub(crate) fn parse_lsn(text: &str) -> Option<u64> {
    let (high, low) = text.split_once('/')?;
    Some((u64::from_str_radix(high, 16).ok()? << 32) | u64::from_str_radix(low, 16).ok()?)
}

/// A number as PostgreSQL's `X/Y` LSN text.
pub(crate) fn format_lsn(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xFFFF_FFFF)
}

/// What every change carries besides its rows: where it is, which transaction made it, when
/// that transaction committed.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeMeta {
    /// Position to acknowledge once processed.
    pub position: Position,
    /// The source's transaction id (PostgreSQL xid, MariaDB GTID or XID, MongoDB `txnNumber`),
    /// when it has one.
    pub transaction_id: Option<String>,
    /// When the transaction committed, in microseconds since the Unix epoch (server clock),
    /// when the source says.
    pub commit_time_micros: Option<i64>,
    /// The schema (PostgreSQL) or database (MariaDB, MongoDB) of the table.
    pub schema: String,
    /// The table (or collection) changed.
    pub table: String,
}

impl ChangeMeta {
    /// The commit time as a `std::time::SystemTime`.
    pub fn commit_time(&self) -> Option<std::time::SystemTime> {
        let micros = self.commit_time_micros?;
        let since = std::time::Duration::from_micros(micros.unsigned_abs());
        if micros >= 0 {
            std::time::UNIX_EPOCH.checked_add(since)
        } else {
            std::time::UNIX_EPOCH.checked_sub(since)
        }
    }
}

/// The primary key of a changed row: the key columns' values, in key order.
pub type Key = Vec<Value>;

/// One change to a row of model `M`.
#[derive(Debug, Clone, PartialEq)]
pub enum Change<M> {
    /// A row was inserted.
    Insert(M),
    /// A row was updated. `before` is the row before the update when the source has it:
    /// PostgreSQL with `REPLICA IDENTITY FULL`, MariaDB with `binlog_row_image=FULL`, MongoDB
    /// with pre-images enabled; `None` otherwise.
    Update {
        /// The row's primary key (after the update).
        key: Key,
        /// The row before the update, when the source records it.
        before: Option<M>,
        /// The row after the update.
        after: M,
    },
    /// A row was deleted. `before` as for [`Change::Update`]; without it only the key is known.
    Delete {
        /// The deleted row's primary key.
        key: Key,
        /// The deleted row, when the source records it.
        before: Option<M>,
    },
    /// Every row of the table was removed at once (`TRUNCATE`): no per-row events follow, so a
    /// consumer keeping its own copy of the rows clears it.
    Truncate,
}

impl<M> Change<M> {
    /// The row as it is after the change (`None` for a delete).
    pub fn row(&self) -> Option<&M> {
        match self {
            Change::Insert(row) | Change::Update { after: row, .. } => Some(row),
            Change::Delete { .. } | Change::Truncate => None,
        }
    }

    /// `insert`, `update`, `delete` or `truncate`.
    pub fn kind(&self) -> ChangeKind {
        match self {
            Change::Insert(_) => ChangeKind::Insert,
            Change::Update { .. } => ChangeKind::Update,
            Change::Delete { .. } => ChangeKind::Delete,
            Change::Truncate => ChangeKind::Truncate,
        }
    }
}

/// The kind of a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// An insert.
    Insert,
    /// An update.
    Update,
    /// A delete.
    Delete,
    /// A `TRUNCATE` of the whole table.
    Truncate,
}

impl ChangeKind {
    /// `insert`, `update`, `delete` or `truncate`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Insert => "insert",
            ChangeKind::Update => "update",
            ChangeKind::Delete => "delete",
            ChangeKind::Truncate => "truncate",
        }
    }
}

/// A typed change with its metadata: what [`ChangeStream`](crate::ChangeStream) yields.
#[derive(Debug, Clone, PartialEq)]
pub struct Event<M> {
    /// Position, transaction and commit time.
    pub meta: ChangeMeta,
    /// The change.
    pub change: Change<M>,
}

impl<M> Event<M> {
    /// The position to acknowledge.
    pub fn position(&self) -> &Position {
        &self.meta.position
    }
}

/// An item of a change stream that says which table changed.
pub trait ChangeItem: Send + 'static {
    /// The change's metadata.
    fn meta(&self) -> &ChangeMeta;
}

impl<M: Send + 'static> ChangeItem for Event<M> {
    fn meta(&self) -> &ChangeMeta {
        &self.meta
    }
}

impl ChangeItem for crate::RawChange {
    fn meta(&self) -> &ChangeMeta {
        &self.meta
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip_through_text_and_order() {
        let positions = [
            Position::Postgres {
                commit_lsn: 0x1_0000_0010,
                index: 3,
            },
            Position::Binlog {
                file: "binlog.000002".into(),
                offset: 4567,
                index: 0,
            },
            Position::ResumeToken("8263A1B2C3000000012B0429".into()),
        ];
        for p in positions {
            let text = p.to_string();
            assert_eq!(text.parse::<Position>().unwrap(), p, "{text}");
        }
        assert_eq!(
            Position::Postgres {
                commit_lsn: 0x16B2F28,
                index: 0
            }
            .to_string(),
            "pg:0/16B2F28:0"
        );
        assert!(
            Position::Postgres {
                commit_lsn: 5,
                index: 9
            } < Position::Postgres {
                commit_lsn: 6,
                index: 0
            }
        );
        assert!("pg:zz:1".parse::<Position>().is_err());
        assert!("nothing".parse::<Position>().is_err());
    }
}
