//! Subqueries in conditions: `IN (SELECT ...)` and `EXISTS (SELECT 1 ...)`. Inside one, the
//! subquery's table is aliased (`sub1`, `sub2`, ...; see [`Scope`]).

use sea_query::{Asterisk, Expr, ExprTrait, Query, SelectStatement};

use super::{Scope, select};
use crate::error::Error;
use crate::query::ir::{ColumnRef, Projection, SelectQuery};

/// The subquery of `IN (...)` (checked to select one expression by `check::select`). MariaDB refuses `LIMIT` in an
/// `IN` subquery and a subquery over the table an `UPDATE`/`DELETE` writes; both are allowed
/// from a derived table, so on MySQL the subquery is wrapped in one.
pub(super) fn in_subquery(subquery: &SelectQuery, scope: &Scope) -> Result<SelectStatement, Error> {
    let nested = scope.subquery(subquery.schema.table);
    let sub = select::statement(subquery, &nested, None)?;
    if scope.dialect.capabilities().direct_in_subquery {
        return Ok(sub);
    }
    let derived = format!(
        "{}_in",
        nested.alias.as_ref().map_or("sub", |(_, a)| a.as_str())
    );
    let mut wrapper = Query::select();
    wrapper.column(Asterisk).from_subquery(sub, derived);
    Ok(wrapper)
}

/// `EXISTS (SELECT 1 FROM sub WHERE sub.filter AND sub.inner = outer)`.
pub(super) fn exists(
    subquery: &SelectQuery,
    inner: &ColumnRef,
    outer: &ColumnRef,
    scope: &Scope,
) -> Result<Expr, Error> {
    let mut related = subquery.clone();
    related.projection = Projection::Exists;
    related.order.clear();
    let nested = scope.subquery(related.schema.table);
    let link = nested.col(inner).eq(scope.col(outer));
    Ok(Expr::exists(select::statement(
        &related,
        &nested,
        Some(link),
    )?))
}
