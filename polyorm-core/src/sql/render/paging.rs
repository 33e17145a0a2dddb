//! `LIMIT` and `OFFSET` (the limit as [`crate::sql::lower`] left it).

use sea_query::SelectStatement;

use crate::query::ir::{Projection, SelectQuery};
use crate::sql::{Compiled, Dialect};
use crate::value::Value;

/// Writes `LIMIT limit OFFSET offset`, each where present.
pub(super) fn render(select: &mut SelectStatement, limit: Option<u64>, offset: Option<u64>) {
    if let Some(l) = limit {
        select.limit(l);
    }
    if let Some(o) = offset {
        select.offset(o);
    }
}

/// A SQLite select with paging (or an `exists()`, limited to one row) gets its trailing
/// `LIMIT`/`OFFSET` as integer literals; see [`inline_literals`].
pub(super) fn inline_sqlite_paging(
    q: &SelectQuery,
    compiled: Compiled,
    dialect: Dialect,
) -> Compiled {
    let paged = q.limit.is_some() || q.offset.is_some() || q.projection == Projection::Exists;
    match dialect {
        Dialect::Sqlite if paged => inline_literals(compiled),
        _ => compiled,
    }
}

/// [`inline_sqlite_paging`] of a select over a derived table, paged by `limit` and `offset`.
pub(super) fn inline_sqlite_paging_of(
    limit: Option<u64>,
    offset: Option<u64>,
    compiled: Compiled,
    dialect: Dialect,
) -> Compiled {
    match dialect {
        Dialect::Sqlite if limit.is_some() || offset.is_some() => inline_literals(compiled),
        _ => compiled,
    }
}

/// Writes the trailing `LIMIT ?`/`OFFSET ?` of a SQLite select as integer literals.
///
/// SQLite (since 3.46) reads a bound `LIMIT` while planning and marks the prepared statement
/// stale whenever that parameter is bound again, so every run of a cached `... LIMIT ?`
/// statement is parsed and planned anew: about 40,000 instructions, more than the rest of a
/// primary-key lookup (`benches/NOTES.md`). The numbers are the builder's integers, never text;
/// anything else (a count over a limited subquery) keeps its parameters.
fn inline_literals(mut compiled: Compiled) -> Compiled {
    let mut tail = String::new();
    for clause in [" OFFSET ?", " LIMIT ?"] {
        let Some(head) = compiled.sql.strip_suffix(clause) else {
            continue;
        };
        let number = match compiled.values.last() {
            Some(Value::BigInt(n)) => n.to_string(),
            Some(Value::BigUnsigned(n)) => n.to_string(),
            _ => break,
        };
        let keep = head.len();
        compiled.values.pop();
        compiled.sql.truncate(keep);
        tail = format!("{}{number}{tail}", clause.trim_end_matches('?'));
    }
    compiled.sql.push_str(&tail);
    compiled
}
