//! A `SELECT` (or a subquery, in a nested [`Scope`]): each level is checked and lowered, then
//! its clauses are written in order by their own modules.

use sea_query::{Expr, ExprTrait, Query, SelectStatement};

use super::condition::condition;
use super::{
    Scope, compound, cte, derived, hint, join, lock, order, paging, projection, set_where,
};
use crate::error::Error;
use crate::query::ir::SelectQuery;
use crate::sql::{check, lower};

/// Builds the sea-query statement of one level of a select.
///
/// `correlate` is ANDed after the filter (an `EXISTS` subquery's link to the outer row).
pub(super) fn statement(
    q: &SelectQuery,
    outer_scope: &Scope,
    correlate: Option<Expr>,
) -> Result<SelectStatement, Error> {
    let scope = outer_scope;
    check::select(q, scope.dialect)?;
    let lowered = lower::select(q, scope.dialect, scope.depth)?;
    let q = lowered.query.as_ref();
    let scope = &scope.reading(q);
    let table = q.schema.table;
    let mut select = Query::select();
    match &scope.alias {
        Some((aliased, alias)) if *aliased == table => {
            select.from_as(table, alias.clone());
        }
        _ => {
            select.from(table);
        }
    }
    hint::render(&mut select, q.index_hint, scope.dialect);
    for join in &q.joins {
        join::render(&mut select, join, scope);
    }
    let filter = q.filter.as_ref().map(|f| condition(f, scope)).transpose()?;
    let filter = match (filter, correlate) {
        (Some(filter), Some(link)) => Some(filter.and(link)),
        (filter, link) => filter.or(link),
    };
    if let Some(filter) = filter {
        set_where(&mut select, filter);
    }
    order::render(&mut select, q, scope)?;
    paging::render(&mut select, lowered.limit, q.offset);
    lock::render(&mut select, q.lock, scope.dialect);
    let mut select = projection::render(select, q, lowered.limit, scope)?;
    for member in &q.compound {
        compound::render(&mut select, member, outer_scope)?;
    }
    let mut select = match &q.outer {
        Some(outer) => derived::render(select, q, outer, scope)?,
        None => select,
    };
    if !q.with.is_empty() {
        select.with_cte(cte::clause(&q.with, outer_scope)?);
    }
    Ok(select)
}
