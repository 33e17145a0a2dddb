//! [`verify`]: walks the audit chain and names every row that was edited, deleted or inserted
//! behind the ORM's back.

use std::fmt;

use super::table::{AUDIT_HEAD, AuditRecord, GENESIS_HASH, Head};
use crate::error::Result;
use crate::exec::Executor;
use crate::query::ir::{Projection, SelectQuery};

/// What [`verify`] found wrong with one row of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BreakKind {
    /// The row's content no longer gives its stored hash: a column was changed.
    Edited,
    /// The row is missing: the rows around it (or the chain head) say it existed.
    Deleted,
    /// The row lies beyond the chain head: it was added outside the audit.
    Inserted,
    /// The row hashes correctly but does not link to the row before it (its `prev_hash`
    /// differs from that row's `hash`), or the head does not link to it: one of the two was
    /// rewritten with a recomputed hash.
    Unlinked,
}

/// One row [`verify`] found tampered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    /// The row's `seq`.
    pub seq: i64,
    /// What is wrong with it.
    pub kind: BreakKind,
}

impl fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seq = self.seq;
        match self.kind {
            BreakKind::Edited => write!(
                f,
                "audit row {seq} was edited: its content no longer hashes to its stored hash"
            ),
            BreakKind::Deleted => write!(
                f,
                "audit row {seq} was deleted: the chain runs past it but the row is missing"
            ),
            BreakKind::Inserted => write!(
                f,
                "audit row {seq} was inserted outside the audit: it lies beyond the chain head"
            ),
            BreakKind::Unlinked => write!(
                f,
                "audit row {seq} does not link to the row before it (or the chain head does \
                 not link to it): one of them was rewritten with a recomputed hash"
            ),
        }
    }
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Rows read from the log.
    pub rows: u64,
    /// The chain head's `seq` (the number of records appended through the audit).
    pub head_seq: i64,
    /// Every row found tampered with, by `seq`; empty for an intact chain.
    pub breaks: Vec<ChainBreak>,
}

impl ChainReport {
    /// Whether no row was found tampered with.
    pub fn is_intact(&self) -> bool {
        self.breaks.is_empty()
    }
}

/// Reads the whole audit log and its head and checks the chain: every row's hash against its
/// content, every `prev_hash` against the row before, `seq` running from 1 without gaps, and
/// the head against the last row. Reads every row into memory at once.
///
/// Run it on an un-audited handle or an [`Audited`](super::Audited) one alike; the result
/// names each broken row ([`ChainReport::breaks`]).
pub async fn verify<E: Executor>(db: &E) -> Result<ChainReport> {
    let head_query = SelectQuery::new(&AUDIT_HEAD, Projection::Model);
    let head = db
        .fetch_all(head_query, Head::decode)
        .await?
        .into_iter()
        .next()
        .unwrap_or(Head {
            seq: 0,
            hash: GENESIS_HASH.to_owned(),
        });
    let rows = super::records(db).await?;
    Ok(ChainReport {
        rows: rows.len() as u64,
        head_seq: head.seq,
        breaks: walk(&rows, &head),
    })
}

/// The breaks of a chain of `rows` (sorted by `seq`) ending at `head`.
fn walk(rows: &[AuditRecord], head: &Head) -> Vec<ChainBreak> {
    let mut breaks = Vec::new();
    let mut push = |seq, kind| breaks.push(ChainBreak { seq, kind });
    let mut expected = 1;
    let mut prev_hash = GENESIS_HASH;
    for row in rows {
        if row.seq > head.seq || row.seq < expected {
            push(row.seq, BreakKind::Inserted);
            continue;
        }
        let gap = row.seq > expected;
        for missing in expected..row.seq {
            push(missing, BreakKind::Deleted);
        }
        if row.content_hash() != row.hash {
            push(row.seq, BreakKind::Edited);
        } else if !gap && row.prev_hash != prev_hash {
            push(row.seq, BreakKind::Unlinked);
        }
        expected = row.seq + 1;
        prev_hash = &row.hash;
    }
    for missing in expected..=head.seq {
        push(missing, BreakKind::Deleted);
    }
    if expected == head.seq + 1 && head.seq > 0 && prev_hash != head.hash {
        push(head.seq, BreakKind::Unlinked);
    }
    breaks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditRecord> {
        let mut prev = GENESIS_HASH.to_owned();
        (1..=n)
            .map(|seq| {
                let mut r = AuditRecord {
                    seq,
                    recorded_at_us: seq * 1000,
                    actor: Some(format!("actor{seq}")),
                    trace_id: None,
                    request_id: None,
                    operation: "insert".into(),
                    table_name: Some("t".into()),
                    row_key: Some(format!("[[{seq}]]")),
                    changes: None,
                    statement: None,
                    rows_affected: 1,
                    prev_hash: prev.clone(),
                    hash: String::new(),
                };
                r.hash = r.content_hash();
                prev = r.hash.clone();
                r
            })
            .collect()
    }

    fn head_of(rows: &[AuditRecord]) -> Head {
        let last = rows.last().expect("a row");
        Head {
            seq: last.seq,
            hash: last.hash.clone(),
        }
    }

    fn found(rows: &[AuditRecord], head: &Head) -> Vec<(i64, BreakKind)> {
        walk(rows, head)
            .into_iter()
            .map(|b| (b.seq, b.kind))
            .collect()
    }

    #[test]
    fn an_intact_chain_has_no_break() {
        let rows = chain(4);
        assert!(found(&rows, &head_of(&rows)).is_empty());
        assert!(
            found(
                &[],
                &Head {
                    seq: 0,
                    hash: GENESIS_HASH.into()
                }
            )
            .is_empty()
        );
    }

    #[test]
    fn edits_deletions_insertions_and_relinks_are_named() {
        let rows = chain(4);
        let head = head_of(&rows);

        let mut edited = rows.clone();
        edited[1].actor = Some("mallory".into());
        assert_eq!(found(&edited, &head), [(2, BreakKind::Edited)]);

        let mut deleted = rows.clone();
        deleted.remove(1);
        assert_eq!(found(&deleted, &head), [(2, BreakKind::Deleted)]);

        let tail_deleted = &rows[..3];
        assert_eq!(found(tail_deleted, &head), [(4, BreakKind::Deleted)]);

        let mut inserted = rows.clone();
        let mut extra = chain(5).pop().expect("row 5");
        extra.prev_hash = rows[3].hash.clone();
        extra.hash = extra.content_hash();
        inserted.push(extra);
        assert_eq!(found(&inserted, &head), [(5, BreakKind::Inserted)]);

        // Row 2 rewritten and rehashed: row 3 no longer links to it.
        let mut rehashed = rows.clone();
        rehashed[1].actor = Some("mallory".into());
        rehashed[1].hash = rehashed[1].content_hash();
        assert_eq!(found(&rehashed, &head), [(3, BreakKind::Unlinked)]);

        // The last row rewritten and rehashed: the head no longer links to it.
        let mut last = rows.clone();
        last[3].actor = Some("mallory".into());
        last[3].hash = last[3].content_hash();
        assert_eq!(found(&last, &head), [(4, BreakKind::Unlinked)]);
    }
}
