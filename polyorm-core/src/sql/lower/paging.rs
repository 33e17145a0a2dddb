//! The `LIMIT` a select writes: MySQL and SQLite have no `OFFSET` without `LIMIT`, and
//! `exists()` needs one row.

use crate::query::ir::{Projection, SelectQuery};
use crate::sql::Dialect;

/// The largest limit, which means "no limit" where `OFFSET` needs one.
const NO_LIMIT: u64 = i64::MAX as u64;

/// The limit of `q` after both rules.
pub(super) fn limit(q: &SelectQuery, dialect: Dialect, depth: usize) -> Option<u64> {
    exists_reads_one_row(q, depth, offset_without_limit(q, dialect))
}

/// `OFFSET n` alone becomes `LIMIT <largest> OFFSET n` where the dialect needs a limit.
fn offset_without_limit(q: &SelectQuery, dialect: Dialect) -> Option<u64> {
    match q.limit {
        None if q.offset.is_some() && !dialect.capabilities().offset_without_limit => {
            Some(NO_LIMIT)
        }
        limit => limit,
    }
}

/// One row answers `exists()`; inside `EXISTS (...)` the database stops at one by itself.
fn exists_reads_one_row(q: &SelectQuery, depth: usize, limit: Option<u64>) -> Option<u64> {
    if q.projection == Projection::Exists && depth == 0 {
        return Some(limit.map_or(1, |l| Ord::min(l, 1)));
    }
    limit
}
