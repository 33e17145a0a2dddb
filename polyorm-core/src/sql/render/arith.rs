//! Arithmetic (`+ - * /`) and value operands. Integers are computed in 64 bits on every
//! dialect (PostgreSQL gets the left operand cast to `BIGINT`); integer division truncates
//! toward zero (`DIV` on MySQL, whose `/` gives a decimal); a zero divisor gives NULL
//! (`NULLIF(divisor, 0)`: PostgreSQL would raise an error). On SQLite decimals are scaled
//! integers ([`crate::sql::scaled`]): the operands of `+`/`-` are brought to one scale first.

use sea_query::{BinOper, Expr, ExprTrait, Func};

use super::expr::select_expr;
use super::{Scope, val};
use crate::error::Error;
use crate::query::ir::{ArithOp, SelectExpr, ValueKind};
use crate::sql::Dialect;
use crate::value::Value;

/// `left <op> right` over numbers of `kind`. SQLite turns an integer result that overflows
/// 64 bits into a float, silently: there the outermost integer operation (`checked`) fails
/// instead with SQLite's own integer-overflow error (an overflow inside stays a float up to
/// it), as PostgreSQL and MariaDB fail natively.
pub(super) fn arith(
    op: ArithOp,
    left: &SelectExpr,
    right: &SelectExpr,
    kind: ValueKind,
    scope: &Scope,
    checked: bool,
) -> Result<Expr, Error> {
    let dialect = scope.dialect;
    let (mut l, mut r) = (operand(left, scope)?, operand(right, scope)?);
    if kind == ValueKind::Decimal
        && matches!(op, ArithOp::Add | ArithOp::Sub)
        && dialect.capabilities().stored_decimals
    {
        let ls = scope.stored_scale(left).unwrap_or(0);
        let rs = scope.stored_scale(right).unwrap_or(0);
        let to = Ord::max(ls, rs);
        l = rescale(l, ls, to);
        r = rescale(r, rs, to);
    }
    // 64-bit integer arithmetic: PostgreSQL computes `int4 + int4` in 32 bits (and fails on
    // overflow); an operand that is already a 64-bit result needs no cast.
    let computed_in_64_bits = matches!(
        left,
        SelectExpr::Arith {
            kind: ValueKind::Integer,
            ..
        }
    );
    if kind == ValueKind::Integer && dialect == Dialect::Postgres && !computed_in_64_bits {
        l = Func::cast_as(l, "BIGINT").into();
    }
    let sql = match op {
        ArithOp::Add => l.add(r),
        ArithOp::Sub => l.sub(r),
        ArithOp::Mul => l.mul(r),
        ArithOp::Div => {
            let divisor: Expr = Func::cust("NULLIF").arg(r).arg(0).into();
            match (kind, dialect) {
                (ValueKind::Integer, Dialect::MySql) => l.binary(BinOper::Custom("DIV"), divisor),
                _ => l.div(divisor),
            }
        }
    };
    if !checked || dialect != Dialect::Sqlite || kind == ValueKind::Float {
        return Ok(sql);
    }
    let is_real = Expr::from(Func::cust("typeof").arg(sql.clone())).eq(Expr::cust("'real'"));
    Ok(
        Expr::case(is_real, Expr::cust("abs(-9223372036854775807 - 1)"))
            .finally(sql)
            .into(),
    )
}

/// An operand: a value is bound (a decimal on SQLite as its scaled integer), anything else is
/// rendered as an expression of its own.
fn operand(expr: &SelectExpr, scope: &Scope) -> Result<Expr, Error> {
    match expr {
        SelectExpr::Value(value) => Ok(value_operand(value, scope)),
        SelectExpr::Arith {
            op,
            left,
            right,
            kind,
        } => arith(*op, left, right, *kind, scope, false),
        other => select_expr(other, scope),
    }
}

/// A bound value; on SQLite a decimal becomes its integer mantissa at its own scale (what
/// [`crate::sql::scaled::expr_scale`] reads from it).
pub(super) fn value_operand(value: &Value, scope: &Scope) -> Expr {
    #[cfg(feature = "decimal")]
    if let Value::Decimal(d) = value
        && scope.dialect.capabilities().stored_decimals
        && let Ok(mantissa) = i64::try_from(d.mantissa())
    {
        return val(&Value::BigInt(mantissa));
    }
    #[cfg(not(feature = "decimal"))]
    let _ = scope;
    val(value)
}

/// A scaled integer at scale `from` brought to scale `to` (`to >= from`).
pub(super) fn rescale(expr: Expr, from: u32, to: u32) -> Expr {
    if to <= from {
        return expr;
    }
    expr.mul(10_i64.pow(to - from))
}
