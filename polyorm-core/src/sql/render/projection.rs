//! The select list: a model's columns (then the joined model's), chosen expressions with
//! `GROUP BY`/`HAVING`, `SELECT 1` for `exists()`, or `COUNT(*)`.

use sea_query::{Asterisk, Expr, Func, Query, SelectStatement};

use super::condition::condition;
use super::expr::select_expr;
use super::{Scope, derived};
use crate::error::Error;
use crate::query::ir::{ColumnRef, Projection, SelectExpr, SelectQuery};
use crate::schema::{ColumnSchema, ModelSchema};
use crate::sql::{Dialect, scaled};

/// Writes the projection of `q` (limited to `limit`). A count over limited rows wraps the
/// select, whose rows it counts, in `SELECT COUNT(*) FROM (...) AS counted`.
pub(super) fn render(
    mut select: SelectStatement,
    q: &SelectQuery,
    limit: Option<u64>,
    scope: &Scope,
) -> Result<SelectStatement, Error> {
    match &q.projection {
        Projection::Exprs(aggregation) => {
            if aggregation.distinct {
                select.distinct();
            }
            for (i, expr) in aggregation.exprs.iter().enumerate() {
                let expr = output_expr(q, expr, scope)?;
                match q.outer {
                    // An outer select reads the derived table's columns by name.
                    Some(_) => select.expr_as(expr, derived::column_name(i)?),
                    None => select.expr(expr),
                };
            }
            for expr in &aggregation.group_by {
                let key = match ordinal(q, expr) {
                    Some(position) => position,
                    None => select_expr(expr, scope)?,
                };
                select.add_group_by([key]);
            }
            if let Some(having) = &aggregation.having {
                select.and_having(condition(having, scope)?);
            }
        }
        Projection::Model => {
            // One by one: `exprs` would collect them into a vector of its own first.
            for column in model_columns(q.schema, q.schema.table, scope) {
                select.expr(column);
            }
            for join in &q.joins {
                for column in model_columns(join.schema, join.qualifier(), scope) {
                    select.expr(column);
                }
            }
        }
        Projection::Exists => {
            select.expr(Expr::cust("1"));
        }
        Projection::Count if limit.is_none() && q.offset.is_none() => {
            // Order does not change a count, and PostgreSQL rejects ORDER BY beside COUNT(*).
            select.clear_order_by();
            select.expr(Func::count(Expr::col(Asterisk)));
        }
        Projection::Count => {
            // LIMIT/OFFSET apply to rows, not to the count: count over the limited rows.
            select.expr(Expr::cust("1"));
            let mut outer = Query::select();
            outer
                .expr(Func::count(Expr::col(Asterisk)))
                .from_subquery(select, "counted");
            return Ok(outer);
        }
    }
    Ok(select)
}

/// The select list entry of `expr`: on SQLite, decimals stored as scaled integers (columns,
/// their MIN, MAX, SUM and AVG, arithmetic over them) are read back as exact decimal text,
/// except inside a subquery, whose values the outer query compares with its own scaled
/// integers.
fn output_expr(q: &SelectQuery, expr: &SelectExpr, scope: &Scope) -> Result<Expr, Error> {
    let sql = select_expr(expr, scope)?;
    if scope.depth > 0 {
        return Ok(sql);
    }
    if let SelectExpr::Column(column) = expr
        && let Some(column) = q.schema_of(column).and_then(|s| s.column(column.name))
    {
        return Ok(stored_column(sql, column, scope.dialect));
    }
    Ok(match scope.stored_scale(expr) {
        Some(scale) => scaled::read_back(sql, scale),
        None => sql,
    })
}

/// The select-list position (`GROUP BY 2`) standing for `expr` in a grouped (or `DISTINCT`)
/// select, when `expr` is selected and binds values: PostgreSQL cannot tell that
/// `CASE WHEN x < $1 ..` in the select list and `CASE WHEN x < $4 ..` in `GROUP BY` or
/// `ORDER BY` are one expression, and refuses the select. Every dialect reads a position in
/// `GROUP BY` and `ORDER BY`.
pub(super) fn ordinal(q: &SelectQuery, expr: &SelectExpr) -> Option<Expr> {
    let Projection::Exprs(aggregation) = &q.projection else {
        return None;
    };
    let grouped = !aggregation.group_by.is_empty()
        || aggregation.distinct
        || aggregation.exprs.iter().any(SelectExpr::has_aggregate);
    if !grouped {
        return None;
    }
    let mut binds = false;
    expr.visit(&mut |e| binds |= matches!(e, SelectExpr::Value(_) | SelectExpr::Case { .. }));
    if !binds {
        return None;
    }
    let at = aggregation.exprs.iter().position(|e| e == expr)?;
    Some(Expr::cust((at + 1).to_string()))
}

/// The columns of `schema` as a select list, in schema order (decoded by position), qualified
/// with `table` (the schema's table, or its alias in a self-join).
fn model_columns<'a>(
    schema: &'static ModelSchema,
    table: &'static str,
    scope: &'a Scope,
) -> impl Iterator<Item = Expr> + 'a {
    schema.columns.iter().map(move |c| {
        let expr = scope.col(&ColumnRef::new(table, c.name));
        if scope.depth > 0 {
            return expr;
        }
        stored_column(expr, c, scope.dialect)
    })
}

/// `expr`, reading `column`, as returned to the decoder: a scaled decimal on SQLite is read
/// back as exact decimal text.
pub(super) fn stored_column(expr: Expr, column: &ColumnSchema, dialect: Dialect) -> Expr {
    match scaled::scale_of(column) {
        Some(scale) if dialect == Dialect::Sqlite => scaled::read_back(expr, scale),
        _ => expr,
    }
}
