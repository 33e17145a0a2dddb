//! `ORDER BY`, with the NULL placement [`crate::sql::lower`] decided. MySQL's missing `NULLS`
//! clause is emulated by sea-query with an `expr IS NULL` sort key.

use sea_query::{NullOrdering, Order, SelectStatement};

use super::expr::select_expr;
use super::{Scope, projection};
use crate::error::Error;
use crate::query::ir::{Direction, Nulls, OrderBy, SelectQuery};
use crate::sql::{Dialect, lower};

/// Writes the `ORDER BY` terms of `q`.
pub(super) fn render(
    select: &mut SelectStatement,
    q: &SelectQuery,
    scope: &Scope,
) -> Result<(), Error> {
    terms(select, &q.order, q, scope)
}

/// Writes `order`, terms of a select over `q`'s rows (`q`'s own, or its outer select's).
pub(super) fn terms(
    select: &mut SelectStatement,
    order: &[OrderBy],
    q: &SelectQuery,
    scope: &Scope,
) -> Result<(), Error> {
    for o in order {
        let order = match o.direction {
            Direction::Asc => Order::Asc,
            Direction::Desc => Order::Desc,
        };
        let placement = lower::null_placement(q, o, scope.dialect);
        // MySQL writes a NULL placement as a sort key `expr IS NULL`, which needs the
        // expression itself (`2 IS NULL` would be a constant).
        let position = match (placement, scope.dialect) {
            (Some(_), Dialect::MySql) => None,
            _ => projection::ordinal(q, &o.expr),
        };
        let expr = match position {
            Some(position) => position,
            None => select_expr(&o.expr, scope)?,
        };
        match placement {
            Some(Nulls::First) => select.order_by_expr_with_nulls(expr, order, NullOrdering::First),
            Some(Nulls::Last) => select.order_by_expr_with_nulls(expr, order, NullOrdering::Last),
            None => select.order_by_expr(expr, order),
        };
    }
    Ok(())
}
