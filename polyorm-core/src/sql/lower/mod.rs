//! Pass 2: the IR rewritten for one dialect. Each portability rule is one small, named rewrite
//! in its own module, applied here in a fixed order; rendering then writes what it is given.
//! Before them, keyset pagination (`after`) becomes a filter (`crate::query::keyset`, shared
//! with MongoDB), so that its decimals are scaled as any other.

mod decimals;
mod nulls;
mod paging;

use std::borrow::Cow;

pub(super) use nulls::placement as null_placement;

use super::Dialect;
use crate::error::Error;
use crate::query::ir::{SelectQuery, Statement};

/// One level of a select, lowered for a dialect.
pub(super) struct LoweredSelect<'q> {
    /// The query, rewritten where a rule applied (borrowed when none did: the common case).
    pub query: Cow<'q, SelectQuery>,
    /// The `LIMIT` to write (the rules of [`paging`] applied).
    pub limit: Option<u64>,
}

/// Lowers one level of a select (`depth` 0 is the statement itself, a subquery is deeper).
pub(super) fn select(
    q: &SelectQuery,
    dialect: Dialect,
    depth: usize,
) -> Result<LoweredSelect<'_>, Error> {
    let query = match crate::query::keyset::with_keyset(q)? {
        Cow::Borrowed(q) => decimals::scale_select(q, dialect)?,
        Cow::Owned(keyed) => Cow::Owned(decimals::scale_select(&keyed, dialect)?.into_owned()),
    };
    let limit = paging::limit(&query, dialect, depth);
    Ok(LoweredSelect { query, limit })
}

/// Lowers a write.
pub(super) fn statement(
    statement: &Statement,
    dialect: Dialect,
) -> Result<Cow<'_, Statement>, Error> {
    decimals::scale_statement(statement, dialect)
}
