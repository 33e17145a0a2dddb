//! Window functions: `f(..) OVER (PARTITION BY .. ORDER BY .. ROWS BETWEEN .. AND ..)`, of the
//! same result types as the aggregates (`BIGINT` ranks and counts, `BIGINT` integer sums,
//! `DOUBLE` averages) on every dialect.
//!
//! sea-query attaches a window to a select-list entry only, so the call is a custom fragment
//! whose holes are the rendered operands (bound values stay parameters); frame sizes and
//! `LAG`/`LEAD` offsets are integers written as SQL literals, as MySQL requires.

use sea_query::{Expr, ExprTrait, Func};

use super::Scope;
use super::expr::select_expr;
use crate::error::Error;
use crate::query::ir::{
    AggregateFn, Direction, FrameBound, FrameUnit, Nulls, OrderBy, ValueKind, WindowExpr, WindowFn,
};
use crate::sql::Dialect;

/// A window function call, cast to its documented type.
pub(super) fn window(w: &WindowExpr, scope: &Scope) -> Result<Expr, Error> {
    let dialect = scope.dialect;
    let (big_int, double) = match dialect {
        Dialect::Postgres => ("BIGINT", "DOUBLE PRECISION"),
        Dialect::MySql => ("SIGNED", "DOUBLE"),
        Dialect::Sqlite => ("INTEGER", "REAL"),
    };
    let call = |call: &str, arg: Option<Expr>| over(call, arg, w, scope);
    let arg = |w: &WindowExpr| -> Result<Option<Expr>, Error> {
        match &w.function {
            WindowFn::Lag { expr, .. } | WindowFn::Lead { expr, .. } => {
                select_expr(expr, scope).map(Some)
            }
            WindowFn::Aggregate { arg, .. } => {
                arg.as_ref().map(|a| select_expr(a, scope)).transpose()
            }
            _ => Ok(None),
        }
    };
    let operand = arg(w)?;
    let cast = |e: Expr, to: &'static str| -> Expr { Func::cast_as(e, to).into() };
    Ok(match &w.function {
        WindowFn::RowNumber => cast(call("ROW_NUMBER()", None)?, big_int),
        WindowFn::Rank => cast(call("RANK()", None)?, big_int),
        WindowFn::DenseRank => cast(call("DENSE_RANK()", None)?, big_int),
        WindowFn::Lag { offset, .. } => call(&format!("LAG(?, {offset})"), operand)?,
        WindowFn::Lead { offset, .. } => call(&format!("LEAD(?, {offset})"), operand)?,
        WindowFn::Aggregate { function, kind, .. } => match (function, kind) {
            (AggregateFn::Count, _) if operand.is_none() => cast(call("COUNT(*)", None)?, big_int),
            (AggregateFn::Count, _) => cast(call("COUNT(?)", operand)?, big_int),
            (AggregateFn::Sum, ValueKind::Integer) => cast(call("SUM(?)", operand)?, big_int),
            (AggregateFn::Sum, _) => cast(call("SUM(?)", operand)?, double),
            // MySQL's AVG of integers is a DECIMAL rounded to 4 places: divide the exact sum.
            (AggregateFn::Avg, ValueKind::Integer) if dialect == Dialect::MySql => {
                cast(call("SUM(?)", operand.clone())?, double).div(call("COUNT(?)", operand)?)
            }
            (AggregateFn::Avg, _) => cast(call("AVG(?)", operand)?, double),
            (AggregateFn::Min, _) => call("MIN(?)", operand)?,
            (AggregateFn::Max, _) => call("MAX(?)", operand)?,
            (AggregateFn::CountDistinct, _) => {
                return Err(Error::InvalidQuery(
                    "`count_distinct` cannot be computed over a window on PostgreSQL or MySQL; \
                     group by the partition keys instead"
                        .to_owned(),
                ));
            }
        },
    })
}

/// `call OVER (..)`: `call` holds one `?` where `arg` goes, if it has an argument.
fn over(call: &str, arg: Option<Expr>, w: &WindowExpr, scope: &Scope) -> Result<Expr, Error> {
    let mut holes = Vec::new();
    let mut sql = String::new();
    let mut hole = |sql: &mut String, expr: Expr| {
        holes.push(expr);
        sql.push_str(&mark(scope.dialect, holes.len()));
    };
    let mut parts = call.split('?');
    sql.push_str(parts.next().unwrap_or_default());
    if let (Some(rest), Some(arg)) = (parts.next(), arg) {
        hole(&mut sql, arg);
        sql.push_str(rest);
    }
    sql.push_str(" OVER (");
    for (i, key) in w.partition_by.iter().enumerate() {
        sql.push_str(if i == 0 { "PARTITION BY " } else { ", " });
        hole(&mut sql, select_expr(key, scope)?);
    }
    for (i, order) in w.order_by.iter().enumerate() {
        sql.push_str(match (i, w.partition_by.is_empty()) {
            (0, true) => "ORDER BY ",
            (0, false) => " ORDER BY ",
            _ => ", ",
        });
        order_term(&mut sql, order, &mut hole, scope)?;
    }
    if let Some(frame) = &w.frame {
        let unit = match frame.unit {
            FrameUnit::Rows => "ROWS",
            FrameUnit::Range => "RANGE",
        };
        sql.push_str(&format!(
            " {unit} BETWEEN {} AND {}",
            bound(frame.start),
            bound(frame.end)
        ));
    }
    sql.push(')');
    Ok(Expr::cust_with_exprs(sql, holes))
}

/// One `ORDER BY` term of a window, NULL as the smallest value unless the order says
/// otherwise (as a select's `ORDER BY`): PostgreSQL writes its placement out; MySQL, which has
/// no `NULLS` clause, sorts by `expr IS NULL` first where the placement is not its own.
fn order_term(
    sql: &mut String,
    order: &OrderBy,
    hole: &mut impl FnMut(&mut String, Expr),
    scope: &Scope,
) -> Result<(), Error> {
    let direction = match order.direction {
        Direction::Asc => "ASC",
        Direction::Desc => "DESC",
    };
    let wanted = order.effective_nulls();
    // The order NULLs take without a clause: largest on PostgreSQL, smallest elsewhere.
    let native = match (scope.dialect, order.direction) {
        (Dialect::Postgres, Direction::Asc)
        | (Dialect::MySql | Dialect::Sqlite, Direction::Desc) => Nulls::Last,
        _ => Nulls::First,
    };
    let expr = select_expr(&order.expr, scope)?;
    match scope.dialect {
        Dialect::MySql if wanted != native => {
            hole(sql, expr.clone());
            sql.push_str(match wanted {
                Nulls::First => " IS NULL DESC, ",
                Nulls::Last => " IS NULL ASC, ",
            });
            hole(sql, expr);
            sql.push_str(&format!(" {direction}"));
        }
        _ => {
            hole(sql, expr);
            sql.push_str(&format!(" {direction}"));
            if wanted != native {
                sql.push_str(match wanted {
                    Nulls::First => " NULLS FIRST",
                    Nulls::Last => " NULLS LAST",
                });
            }
        }
    }
    Ok(())
}

fn bound(bound: FrameBound) -> String {
    match bound {
        FrameBound::UnboundedPreceding => "UNBOUNDED PRECEDING".to_owned(),
        FrameBound::Preceding(n) => format!("{n} PRECEDING"),
        FrameBound::CurrentRow => "CURRENT ROW".to_owned(),
        FrameBound::Following(n) => format!("{n} FOLLOWING"),
        FrameBound::UnboundedFollowing => "UNBOUNDED FOLLOWING".to_owned(),
    }
}

/// The mark of the `n`-th hole of a custom fragment: `$n` on PostgreSQL, `?` elsewhere.
fn mark(dialect: Dialect, n: usize) -> String {
    match dialect {
        Dialect::Postgres => format!("${n}"),
        Dialect::MySql | Dialect::Sqlite => "?".to_owned(),
    }
}
