//! `CAST` to a portable type: integers to `BIGINT`/`SIGNED`/`INTEGER`, numbers to the 64-bit
//! float of each dialect, integers to text. On SQLite a scaled decimal is divided by its
//! power of ten in floating point (its nearest float, as the other dialects give).

use sea_query::{Expr, ExprTrait, Func};

use super::Scope;
use super::expr::select_expr;
use crate::error::Error;
use crate::query::ir::{CastTo, SelectExpr};
use crate::sql::Dialect;

/// `CAST(expr AS to)`.
pub(super) fn cast(expr: &SelectExpr, to: CastTo, scope: &Scope) -> Result<Expr, Error> {
    let inner = select_expr(expr, scope)?;
    let name = match (to, scope.dialect) {
        (CastTo::Integer, Dialect::Postgres) => "BIGINT",
        (CastTo::Integer, Dialect::MySql) => "SIGNED",
        (CastTo::Integer, Dialect::Sqlite) => "INTEGER",
        (CastTo::Float, Dialect::Postgres) => "DOUBLE PRECISION",
        (CastTo::Float, Dialect::MySql) => "DOUBLE",
        (CastTo::Float, Dialect::Sqlite) => "REAL",
        (CastTo::Text, Dialect::MySql) => "CHAR",
        (CastTo::Text, Dialect::Postgres | Dialect::Sqlite) => "TEXT",
    };
    let cast: Expr = Func::cast_as(inner, name).into();
    Ok(match scope.stored_scale(expr) {
        Some(scale) if scale > 0 && to == CastTo::Float => cast.div(10_f64.powi(scale as i32)),
        _ => cast,
    })
}
