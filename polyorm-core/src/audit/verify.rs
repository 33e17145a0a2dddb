//! [`verify`]: walks the audit chain and names every row that was edited, deleted or inserted
//! behind the ORM's back.

use std::fmt;

use super::table::{AUDIT_HEAD, AUDIT_LOG, AuditRecord, GENESIS_HASH, Head};
use super::trigger::{LINK_TRIGGER, create_link_trigger, has_link_trigger};
use crate::error::Result;
use crate::exec::Executor;
use crate::query::ir::{Projection, SelectQuery};

/// What [`verify`] found wrong with one row of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BreakKind {
    /// The row's content no longer gives its stored hash: a column was changed (this row's,
    /// or that of the record before it in the same transaction, rewritten with a
    /// recomputed hash: a transaction's records are chained through their digests).
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
    /// Whether MySQL/MariaDB or SQLite lacks the linking trigger (`orm_audit_link`): the
    /// chain stays correct without it, but every append takes two statements instead of one
    /// ([`missing_trigger_advice`](ChainReport::missing_trigger_advice) says how to add it).
    /// Always `false` on PostgreSQL and MongoDB, which append without one.
    pub link_trigger_missing: bool,
}

impl ChainReport {
    /// Whether no row was found tampered with.
    pub fn is_intact(&self) -> bool {
        self.breaks.is_empty()
    }

    /// What to do about a missing linking trigger
    /// ([`link_trigger_missing`](ChainReport::link_trigger_missing)), or `None` when it is
    /// there or not needed.
    pub fn missing_trigger_advice(&self) -> Option<String> {
        self.link_trigger_missing.then(|| {
            format!(
                "the audit log `{log}` has no linking trigger `{LINK_TRIGGER}`: the chain is \
                 still kept, but every append takes two statements instead of one; add it by \
                 running `polyorm::audit::create_tables` on the database (on MySQL/MariaDB as \
                 a user with the TRIGGER privilege, and with binary logging SUPER or \
                 log_bin_trust_function_creators), or by generating and applying a migration \
                 (`polyorm::migrate::generate` with `audit::AUDIT_LOG` among the models), \
                 which adds it to an existing log",
                log = AUDIT_LOG.table
            )
        })
    }
}

/// Reads the whole audit log and its head and checks the chain: every row's hash against its
/// content, every `prev_hash` against the row before, `seq` running from 1 without gaps, and
/// the head against the last row. Reads every row into memory at once. On MySQL/MariaDB
/// and SQLite it also checks that the linking trigger is there
/// ([`ChainReport::link_trigger_missing`]).
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
            prev_hash: GENESIS_HASH.to_owned(),
        });
    let rows = super::records(db).await?;
    let link_trigger_missing =
        db.dialect().and_then(create_link_trigger).is_some() && !has_link_trigger(db).await?;
    Ok(ChainReport {
        rows: rows.len() as u64,
        head_seq: head.seq,
        breaks: walk(&rows, &head),
        link_trigger_missing,
    })
}

/// The breaks of a chain of `rows` (sorted by `seq`) ending at `head`.
///
/// A row continues the transaction of the row before when both carry the same `prev_hash`
/// (and no row is missing between them): its digest is then taken with that row's digest.
/// Otherwise it starts a transaction, and its `prev_hash` must be the row before's `hash`.
/// A row after a missing one, or after a broken row of its own transaction, cannot be
/// checked against its hash: the break before it is the one named.
fn walk(rows: &[AuditRecord], head: &Head) -> Vec<ChainBreak> {
    let mut breaks = Vec::new();
    let mut push = |seq, kind| breaks.push(ChainBreak { seq, kind });
    let mut expected = 1;
    // The row before: its hash, its prev_hash, its digest, and whether it checked out.
    let mut before: Option<(&str, &str, String, bool)> = None;
    for row in rows {
        if row.seq > head.seq || row.seq < expected {
            push(row.seq, BreakKind::Inserted);
            continue;
        }
        let gap = row.seq > expected;
        for missing in expected..row.seq {
            push(missing, BreakKind::Deleted);
        }
        let same_transaction = before.as_ref().filter(|(hash, prev_hash, ..)| {
            !gap && row.prev_hash == *prev_hash && row.prev_hash != *hash
        });
        let digest = row.digest(same_transaction.map(|(_, _, digest, _)| digest.as_str()));
        let intact = AuditRecord::chain_hash(&row.prev_hash, row.seq, &digest) == row.hash;
        let linked = match (&before, same_transaction) {
            (_, Some(_)) => true,
            (None, None) => row.prev_hash == GENESIS_HASH,
            (Some((hash, ..)), None) => row.prev_hash == *hash,
        };
        let checkable = !gap && same_transaction.is_none_or(|(.., ok)| *ok);
        if !intact && checkable {
            push(row.seq, BreakKind::Edited);
        } else if intact && !gap && !linked {
            push(row.seq, BreakKind::Unlinked);
        }
        expected = row.seq + 1;
        before = Some((&row.hash, &row.prev_hash, digest, intact && checkable));
    }
    for missing in expected..=head.seq {
        push(missing, BreakKind::Deleted);
    }
    if let Some((hash, ..)) = before
        && expected == head.seq + 1
        && head.seq > 0
        && hash != head.hash
    {
        push(head.seq, BreakKind::Unlinked);
    }
    breaks
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chain of transactions of the given numbers of records, hashed as appending does.
    fn chain(transactions: &[usize]) -> Vec<AuditRecord> {
        let mut prev = GENESIS_HASH.to_owned();
        let mut seq = 0;
        let mut rows = Vec::new();
        for &size in transactions {
            let mut batch_prev: Option<String> = None;
            let mut last = prev.clone();
            for _ in 0..size {
                seq += 1;
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
                    before_values: None,
                    statement: None,
                    rows_affected: 1,
                    prev_hash: prev.clone(),
                    hash: String::new(),
                };
                let digest = r.digest(batch_prev.as_deref());
                r.hash = AuditRecord::chain_hash(&prev, seq, &digest);
                last = r.hash.clone();
                batch_prev = Some(digest);
                rows.push(r);
            }
            prev = last;
        }
        rows
    }

    fn head_of(rows: &[AuditRecord]) -> Head {
        let last = rows.last().expect("a row");
        Head {
            seq: last.seq,
            hash: last.hash.clone(),
            prev_hash: last.prev_hash.clone(),
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
        let rows = chain(&[1, 1, 1, 1]);
        assert!(found(&rows, &head_of(&rows)).is_empty());
        let rows = chain(&[3, 1, 2]);
        assert!(found(&rows, &head_of(&rows)).is_empty());
        assert!(
            found(
                &[],
                &Head {
                    seq: 0,
                    hash: GENESIS_HASH.into(),
                    prev_hash: GENESIS_HASH.into(),
                }
            )
            .is_empty()
        );
    }

    #[test]
    fn edits_deletions_insertions_and_relinks_are_named() {
        let rows = chain(&[1, 1, 1, 1]);
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
        let mut extra = chain(&[1, 1, 1, 1, 1]).pop().expect("row 5");
        extra.prev_hash = rows[3].hash.clone();
        extra.hash = extra.content_hash(None);
        inserted.push(extra);
        assert_eq!(found(&inserted, &head), [(5, BreakKind::Inserted)]);

        // Row 2 rewritten and rehashed: row 3 no longer links to it.
        let mut rehashed = rows.clone();
        rehashed[1].actor = Some("mallory".into());
        rehashed[1].hash = rehashed[1].content_hash(None);
        assert_eq!(found(&rehashed, &head), [(3, BreakKind::Unlinked)]);

        // The last row rewritten and rehashed: the head no longer links to it.
        let mut last = rows.clone();
        last[3].actor = Some("mallory".into());
        last[3].hash = last[3].content_hash(None);
        assert_eq!(found(&last, &head), [(4, BreakKind::Unlinked)]);
    }

    #[test]
    fn the_records_of_one_transaction_are_chained_to_each_other() {
        // Rows 1-3 one transaction, 4-5 another.
        let rows = chain(&[3, 2]);
        let head = head_of(&rows);
        assert_eq!(rows[1].prev_hash, rows[0].prev_hash);
        assert_eq!(rows[3].prev_hash, rows[2].hash);

        let mut edited = rows.clone();
        edited[1].actor = Some("mallory".into());
        assert_eq!(found(&edited, &head), [(2, BreakKind::Edited)]);

        // Row 2 rewritten with a recomputed hash: row 3, of its transaction, no longer checks.
        let mut rehashed = rows.clone();
        rehashed[1].actor = Some("mallory".into());
        let digest = rehashed[0].digest(None);
        rehashed[1].hash = rehashed[1].content_hash(Some(&digest));
        assert_eq!(found(&rehashed, &head), [(3, BreakKind::Edited)]);

        let mut middle = rows.clone();
        middle.remove(1);
        assert_eq!(found(&middle, &head), [(2, BreakKind::Deleted)]);
    }
}
