//! `WHERE` and `HAVING` conditions.

use sea_query::{BinOper, Expr, ExprTrait};

use super::{Scope, constant, expr, like, subquery, val};
use crate::error::Error;
use crate::query::ir::{CmpOp, Condition};
use crate::sql::values;

/// Compiles an IR condition to a sea-query expression.
pub(super) fn condition(c: &Condition, scope: &Scope) -> Result<Expr, Error> {
    let col = |c| scope.col(c);
    Ok(match c {
        Condition::Compare {
            column,
            op: CmpOp::Eq,
            value,
        } if value.is_null() => col(column).is_null(),
        Condition::Compare {
            column,
            op: CmpOp::Ne,
            value,
        } if value.is_null() => col(column).is_not_null(),
        Condition::Compare { column, op, value } => {
            col(column).binary(binary_operator(*op), val(value))
        }
        Condition::CompareExpr { expr, op, value } => {
            expr::select_expr(expr, scope)?.binary(binary_operator(*op), val(value))
        }
        Condition::Between { column, low, high } => col(column).between(val(low), val(high)),
        Condition::InList {
            values, negated, ..
        } if values.is_empty() => constant(*negated),
        Condition::InList {
            column,
            values,
            negated,
        } => {
            let values = values.iter().cloned().map(values::to_sea);
            if *negated {
                col(column).is_not_in(values)
            } else {
                col(column).is_in(values)
            }
        }
        Condition::InSubquery {
            column,
            subquery,
            negated,
        } => {
            let sub = subquery::in_subquery(subquery, scope)?;
            if *negated {
                col(column).not_in_subquery(sub)
            } else {
                col(column).in_subquery(sub)
            }
        }
        Condition::Exists {
            subquery,
            inner,
            outer,
        } => subquery::exists(subquery, inner, outer, scope)?,
        Condition::Like {
            column,
            pattern,
            case_insensitive,
        } => like::like(col(column), pattern, *case_insensitive, scope.dialect),
        Condition::IsNull {
            column,
            negated: false,
        } => col(column).is_null(),
        Condition::IsNull {
            column,
            negated: true,
        } => col(column).is_not_null(),
        Condition::And(items) => fold(items, scope, true)?,
        Condition::Or(items) => fold(items, scope, false)?,
        Condition::Not(inner) => condition(inner, scope)?.not(),
    })
}

fn binary_operator(op: CmpOp) -> BinOper {
    match op {
        CmpOp::Eq => BinOper::Equal,
        CmpOp::Ne => BinOper::NotEqual,
        CmpOp::Lt => BinOper::SmallerThan,
        CmpOp::Le => BinOper::SmallerThanOrEqual,
        CmpOp::Gt => BinOper::GreaterThan,
        CmpOp::Ge => BinOper::GreaterThanOrEqual,
    }
}

fn fold(items: &[Condition], scope: &Scope, all: bool) -> Result<Expr, Error> {
    let mut exprs = items.iter().map(|c| condition(c, scope));
    let Some(first) = exprs.next().transpose()? else {
        return Ok(constant(all));
    };
    exprs.try_fold(first, |acc, e| {
        Ok(if all { acc.and(e?) } else { acc.or(e?) })
    })
}
