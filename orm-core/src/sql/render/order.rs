//! `ORDER BY`, with the NULL placement [`crate::sql::lower`] decided. MySQL's missing `NULLS`
//! clause is emulated by sea-query with an `expr IS NULL` sort key.

use sea_query::{NullOrdering, Order, SelectStatement};

use super::Scope;
use super::expr::select_expr;
use crate::query::ir::{Direction, Nulls, SelectQuery};
use crate::sql::lower;

/// Writes the `ORDER BY` terms of `q`.
pub(super) fn render(select: &mut SelectStatement, q: &SelectQuery, scope: &Scope) {
    for o in &q.order {
        let order = match o.direction {
            Direction::Asc => Order::Asc,
            Direction::Desc => Order::Desc,
        };
        let expr = select_expr(&o.expr, scope);
        match lower::null_placement(q, o, scope.dialect) {
            Some(Nulls::First) => select.order_by_expr_with_nulls(expr, order, NullOrdering::First),
            Some(Nulls::Last) => select.order_by_expr_with_nulls(expr, order, NullOrdering::Last),
            None => select.order_by_expr(expr, order),
        };
    }
}
