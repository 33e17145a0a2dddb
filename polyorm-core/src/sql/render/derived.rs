//! A select over a derived table: `SELECT derived.c0, .. FROM (<select>) AS derived WHERE ..
//! ORDER BY .. LIMIT ..`, which filters and sorts on values the inner select computed (a
//! window function: top-N per group).

use sea_query::{Expr, Query, SelectStatement};

use super::condition::condition;
use super::{Scope, order, paging, set_where};
use crate::error::Error;
use crate::query::ir::{DERIVED_COLUMNS, DERIVED_TABLE, OuterSelect, Projection, SelectQuery};

/// The name of the derived table's column at `position` of the inner select list.
pub(super) fn column_name(position: usize) -> Result<&'static str, Error> {
    DERIVED_COLUMNS.get(position).copied().ok_or_else(|| {
        Error::InvalidQuery(format!(
            "a derived table has at most {} columns; select fewer",
            DERIVED_COLUMNS.len()
        ))
    })
}

/// Wraps the rendered `inner` select of `q` in `outer`.
pub(super) fn render(
    inner: SelectStatement,
    q: &SelectQuery,
    outer: &OuterSelect,
    scope: &Scope,
) -> Result<SelectStatement, Error> {
    let Projection::Exprs(aggregation) = &q.projection else {
        return Err(Error::InvalidQuery(format!(
            "only a select of chosen expressions of `{}` can be read as a derived table",
            q.schema.table
        )));
    };
    let mut select = Query::select();
    for position in 0..aggregation.exprs.len() {
        select.expr(Expr::col((DERIVED_TABLE, column_name(position)?)));
    }
    select.from_subquery(inner, DERIVED_TABLE);
    if let Some(filter) = &outer.filter {
        set_where(&mut select, condition(filter, scope)?);
    }
    order::terms(&mut select, &outer.order, q, scope)?;
    let limit = match (outer.limit, outer.offset) {
        // MySQL and SQLite write no OFFSET without a LIMIT.
        (None, Some(_)) if !scope.dialect.capabilities().offset_without_limit => {
            Some(i64::MAX as u64)
        }
        (limit, _) => limit,
    };
    paging::render(&mut select, limit, outer.offset);
    Ok(select)
}
