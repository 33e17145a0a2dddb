//! Replication positions: a PostgreSQL WAL LSN or a MariaDB GTID set, compared to tell
//! whether a replica has replayed a write.

use std::collections::BTreeMap;

/// How far a server's log has gone: what a primary has written, or what a replica has
/// replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    /// A PostgreSQL WAL location (`pg_current_wal_insert_lsn()`, `pg_last_wal_replay_lsn()`),
    /// as a byte offset.
    Lsn(u64),
    /// A MariaDB GTID position (`@@gtid_binlog_pos`, `@@gtid_slave_pos`): per replication
    /// domain, the last sequence number (`domain-server-sequence`, comma-separated).
    Gtid(String),
}

impl Position {
    /// Parses PostgreSQL's `XXXXXXXX/XXXXXXXX` LSN text.
    pub fn parse_lsn(text: &str) -> Option<Position> {
        let (hi, lo) = text.trim().split_once('/')?;
        let hi = u64::from_str_radix(hi, 16).ok()?;
        let lo = u64::from_str_radix(lo, 16).ok()?;
        Some(Position::Lsn((hi << 32) | lo))
    }

    /// Whether a server at `self` has replayed everything up to `target` (positions of
    /// different kinds never have).
    pub fn has_reached(&self, target: &Position) -> bool {
        match (self, target) {
            (Position::Lsn(at), Position::Lsn(wanted)) => at >= wanted,
            (Position::Gtid(at), Position::Gtid(wanted)) => {
                let at = gtid_domains(at);
                gtid_domains(wanted)
                    .iter()
                    .all(|(domain, seq)| at.get(domain).is_some_and(|have| have >= seq))
            }
            _ => false,
        }
    }

    /// The later of two positions (the position to wait for after two writes).
    pub(super) fn max(self, other: Position) -> Position {
        match (self, other) {
            (Position::Lsn(a), Position::Lsn(b)) => Position::Lsn(a.max(b)),
            (Position::Gtid(a), Position::Gtid(b)) => {
                let mut merged = gtid_domains(&a);
                for (domain, seq) in gtid_domains(&b) {
                    let entry = merged.entry(domain).or_insert(0);
                    *entry = (*entry).max(seq);
                }
                // The server part of a GTID does not matter for MASTER_GTID_WAIT's comparison;
                // 0 stands for "any".
                Position::Gtid(
                    merged
                        .iter()
                        .map(|(d, s)| format!("{d}-0-{s}"))
                        .collect::<Vec<_>>()
                        .join(","),
                )
            }
            (_, newer) => newer,
        }
    }

    /// The number of WAL bytes from `self` to `later` (0 when `later` is not later); `None`
    /// for GTIDs, which count transactions, not bytes.
    pub fn bytes_to(&self, later: &Position) -> Option<u64> {
        match (self, later) {
            (Position::Lsn(a), Position::Lsn(b)) => Some(b.saturating_sub(*a)),
            _ => None,
        }
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Position::Lsn(lsn) => write!(f, "{:X}/{:X}", lsn >> 32, lsn & 0xFFFF_FFFF),
            Position::Gtid(gtid) => f.write_str(gtid),
        }
    }
}

/// `domain → sequence` of a GTID position text (`0-1-42,1-2-7`).
fn gtid_domains(text: &str) -> BTreeMap<u32, u64> {
    text.split(',')
        .filter_map(|gtid| {
            let mut parts = gtid.trim().split('-');
            let domain = parts.next()?.parse().ok()?;
            let _server = parts.next()?;
            let seq = parts.next()?.parse().ok()?;
            Some((domain, seq))
        })
        .fold(BTreeMap::new(), |mut map, (d, s): (u32, u64)| {
            let entry = map.entry(d).or_insert(0);
            *entry = (*entry).max(s);
            map
        })
}

#[cfg(test)]
mod tests {
    use super::Position;

    #[test]
    fn lsns_parse_and_compare_as_byte_offsets() {
        let a = Position::parse_lsn("0/3000060").unwrap();
        let b = Position::parse_lsn("1/0").unwrap();
        assert_eq!(a, Position::Lsn(0x300_0060));
        assert_eq!(b, Position::Lsn(1 << 32));
        assert!(b.has_reached(&a) && !a.has_reached(&b));
        assert_eq!(a.bytes_to(&b), Some((1 << 32) - 0x300_0060));
        assert_eq!(b.to_string(), "1/0");
        assert_eq!(Position::parse_lsn("nonsense"), None);
    }

    #[test]
    fn gtid_positions_compare_per_domain() {
        let replica = Position::Gtid("0-1-41,1-2-9".into());
        assert!(replica.has_reached(&Position::Gtid("0-1-41".into())));
        assert!(!replica.has_reached(&Position::Gtid("0-1-42".into())));
        assert!(!replica.has_reached(&Position::Gtid("2-1-1".into())));
        assert!(replica.has_reached(&Position::Gtid(String::new())));
        let merged = Position::Gtid("0-1-5".into()).max(Position::Gtid("0-1-7,1-1-2".into()));
        assert_eq!(merged, Position::Gtid("0-0-7,1-0-2".into()));
    }
}
