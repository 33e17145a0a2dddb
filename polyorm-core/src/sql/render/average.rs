//! `AVG` over a decimal column: an exact decimal rounded half away from zero to the column's
//! scale `S`, the same on every dialect.
//!
//! - PostgreSQL: `ROUND(SUM(x) * 1.0000000000000000000 / COUNT(x), S)`: the sum is given 19
//!   more decimal places, so the quotient is exact enough that rounding it once to `S` places
//!   is rounding the true mean (two means that differ are at least `1/(count·10^S)` apart).
//! - MySQL/MariaDB: `ROUND(CAST(SUM(x) AS DECIMAL(65, 30)) / COUNT(x), S)`: the quotient is
//!   kept at 30 places, exact for fewer than `10^(30-S)` rows.
//! - SQLite: the scaled integers' sum divided by the count in integers, the remainder rounding
//!   half away from zero (no floating point anywhere).

use sea_query::{Expr, ExprTrait, Func};

use super::{Scope, custom};
use crate::query::ir::ColumnRef;
use crate::sql::Dialect;

/// The exact, rounded mean of decimal column `column` at `scale` places.
pub(super) fn decimal_avg(column: &ColumnRef, scale: u32, scope: &Scope) -> Expr {
    let x = || scope.col(column);
    let sum = || Expr::from(Func::sum(x()));
    let count = || Expr::from(Func::count(x()));
    match scope.dialect {
        Dialect::Postgres => {
            let widened = sum().mul(Expr::cust("1.0000000000000000000"));
            round(widened.div(count()), scale, scope.dialect)
        }
        Dialect::MySql => {
            let widened = Expr::from(Func::cast_as(sum(), "DECIMAL(65, 30)"));
            round(widened.div(count()), scale, scope.dialect)
        }
        Dialect::Sqlite => {
            // |sum| / n rounded half away from zero, with the sign of the sum: n > 0 wherever
            // the sum is not NULL, and NULL propagates through every operator.
            let magnitude = Func::abs(sum());
            let quotient = Expr::from(magnitude.clone()).div(count());
            let remainder = Expr::from(magnitude).modulo(count());
            let round_up = Expr::val(2).mul(remainder).gte(count());
            let sign = Expr::cust_with_expr("CASE WHEN ? < 0 THEN -1 ELSE 1 END", sum());
            quotient.add(round_up).mul(sign)
        }
    }
}

/// `ROUND(x, scale)` with the scale written out: MySQL types a rounding to a bound parameter's
/// places with the scale of `x` (30 here), not `scale`.
fn round(x: Expr, scale: u32, dialect: Dialect) -> Expr {
    custom(dialect, &format!("ROUND(?, {scale})"), x)
}
