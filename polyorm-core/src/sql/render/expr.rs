//! Selected (or sorted, or compared) expressions: columns, folded text, date parts and
//! aggregates with the types the ORM documents.

use sea_query::{Asterisk, Expr, ExprTrait, Func};

use super::date::extract;
use super::text::fold_case;
use super::{Scope, arith, average, cast, conditional, window};
use crate::error::Error;
use crate::query::ir::{AggregateFn, ColumnRef, SelectExpr, ValueKind};
use crate::sql::Dialect;

/// A selected (or compared, sorted, grouped) expression; sums and averages are cast so that
/// every dialect returns the documented type (`i64` for integer sums, `f64` for float sums
/// and averages of integers and floats, an exact decimal for decimal ones). On SQLite a
/// decimal expression is a scaled integer here ([`crate::sql::scaled`]); the select list reads
/// it back.
pub(super) fn select_expr(expr: &SelectExpr, scope: &Scope) -> Result<Expr, Error> {
    let dialect = scope.dialect;
    let (function, column, kind) = match expr {
        SelectExpr::Column(c) => return Ok(scope.col(c)),
        SelectExpr::Fold { fold, column } => {
            return Ok(fold_case(scope.col(column), *fold, dialect));
        }
        SelectExpr::Extract { part, column } => {
            return Ok(extract(scope.col(column), *part, dialect));
        }
        SelectExpr::Value(value) => return Ok(arith::value_operand(value, scope)),
        SelectExpr::Arith {
            op,
            left,
            right,
            kind,
        } => return arith::arith(*op, left, right, *kind, scope, true),
        SelectExpr::Coalesce(items) => return conditional::coalesce(items, scope),
        SelectExpr::Case {
            branches,
            otherwise,
        } => return conditional::case(branches, otherwise, scope),
        SelectExpr::Cast { expr, to } => return cast::cast(expr, *to, scope),
        SelectExpr::Window(w) => return window::window(w, scope),
        SelectExpr::AggregateOf {
            function,
            arg,
            kind,
        } => {
            let sql = select_expr(arg, scope)?;
            return Ok(aggregate(*function, &|| sql.clone(), *kind, None, scope));
        }
        SelectExpr::Aggregate {
            function,
            column,
            kind,
        } => (*function, column, *kind),
    };
    let arg = || {
        column
            .as_ref()
            .map_or_else(|| Expr::col(Asterisk), |c| scope.col(c))
    };
    Ok(aggregate(function, &arg, kind, column.as_ref(), scope))
}

/// `function(arg)`, of the documented type; `column` is the aggregated column, if it is one
/// (a decimal `AVG` reads its scale).
fn aggregate(
    function: AggregateFn,
    arg: &dyn Fn() -> Expr,
    kind: ValueKind,
    column: Option<&ColumnRef>,
    scope: &Scope,
) -> Expr {
    let dialect = scope.dialect;
    let (big_int, double) = match scope.dialect {
        Dialect::Postgres => (Some("BIGINT"), Some("DOUBLE PRECISION")),
        Dialect::MySql => (Some("SIGNED"), Some("DOUBLE")),
        Dialect::Sqlite => (None, None),
    };
    let cast = |call: sea_query::FunctionCall, to: Option<&'static str>| match to {
        Some(to) => Expr::from(Func::cast_as(call, to)),
        None => Expr::from(call),
    };
    match function {
        AggregateFn::Count => Func::count(arg()).into(),
        AggregateFn::CountDistinct => Func::count_distinct(arg()).into(),
        AggregateFn::Sum if kind == ValueKind::Integer => cast(Func::sum(arg()), big_int),
        // Exact on every dialect: NUMERIC/DECIMAL sums, and sums of SQLite's scaled integers.
        AggregateFn::Sum if kind == ValueKind::Decimal => Func::sum(arg()).into(),
        AggregateFn::Sum => cast(Func::sum(arg()), double),
        // MySQL's AVG of integers is a DECIMAL rounded to 4 places (`div_precision_increment`);
        // the exact sum divided in DOUBLE gives the correctly rounded mean, as on the others.
        AggregateFn::Avg if kind == ValueKind::Integer && dialect == Dialect::MySql => {
            cast(Func::sum(arg()), double).div(Func::count(arg()))
        }
        AggregateFn::Avg if kind == ValueKind::Decimal => match column {
            // The check pass refused a decimal column without a declared scale.
            Some(c) => {
                let scale = scope
                    .column(c)
                    .and_then(|c| c.precision)
                    .map_or(0, |(_, s)| s);
                average::decimal_avg(c, scale, scope)
            }
            None => Func::avg(arg()).into(),
        },
        AggregateFn::Avg => cast(Func::avg(arg()), double),
        AggregateFn::Min => Func::min(arg()).into(),
        AggregateFn::Max => Func::max(arg()).into(),
    }
}
