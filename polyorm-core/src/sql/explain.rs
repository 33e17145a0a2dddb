//! `EXPLAIN` of a compiled select, per dialect: the statement that returns the plan, and the
//! column of its rows that holds the plan's text.

use super::{Compiled, Dialect};
use crate::error::Error;

/// What [`explain`] wraps a select in.
#[derive(Debug, Clone, PartialEq)]
pub struct Explain {
    /// The `EXPLAIN` statement, with the select's bound values.
    pub statement: Compiled,
    /// The column of each result row holding (a line of) the plan.
    pub column: usize,
}

/// Wraps `select` (compiled for `dialect`) in the dialect's `EXPLAIN`; with `analyze`, the
/// query also runs and the plan reports real row counts and timings.
///
/// PostgreSQL: `EXPLAIN [(ANALYZE)] ...`, one row per line of the text plan. MySQL/MariaDB:
/// `EXPLAIN FORMAT=JSON ...`, or MariaDB's `ANALYZE FORMAT=JSON ...` (MySQL 8 spells it
/// `EXPLAIN ANALYZE` and rejects this form), one row holding the JSON plan. SQLite:
/// `EXPLAIN QUERY PLAN ...`, one row per step (its `detail` column); SQLite has no `ANALYZE`
/// of a query, so `analyze` is an [`Error::InvalidQuery`] there.
pub fn explain(select: Compiled, dialect: Dialect, analyze: bool) -> Result<Explain, Error> {
    if analyze && !dialect.capabilities().explain_analyze {
        return Err(Error::InvalidQuery(format!(
            "the {dialect} dialect has no EXPLAIN ANALYZE (only EXPLAIN QUERY PLAN); use \
             `explain()` instead of `explain_analyze()`"
        )));
    }
    let (prefix, column) = match (dialect, analyze) {
        (Dialect::Postgres, false) => ("EXPLAIN ", 0),
        (Dialect::Postgres, true) => ("EXPLAIN (ANALYZE) ", 0),
        (Dialect::MySql, false) => ("EXPLAIN FORMAT=JSON ", 0),
        (Dialect::MySql, true) => ("ANALYZE FORMAT=JSON ", 0),
        (Dialect::Sqlite, _) => ("EXPLAIN QUERY PLAN ", 3),
    };
    Ok(Explain {
        statement: Compiled {
            sql: format!("{prefix}{}", select.sql),
            values: select.values,
        },
        column,
    })
}
