//! `COALESCE` and `CASE WHEN`. On SQLite, decimal results held as scaled integers at different
//! scales are brought to the largest one, so that every branch means the same number.

use sea_query::{CaseStatement, Expr, Func};

use super::Scope;
use super::arith::{rescale, value_operand};
use super::condition::condition;
use super::expr::select_expr;
use crate::error::Error;
use crate::query::ir::{Condition, SelectExpr};

/// `COALESCE(items...)`.
pub(super) fn coalesce(items: &[SelectExpr], scope: &Scope) -> Result<Expr, Error> {
    let to = common_scale(items.iter(), scope);
    let args = items
        .iter()
        .map(|e| result(e, to, scope))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Func::coalesce(args).into())
}

/// `CASE WHEN c THEN e ... ELSE otherwise END`.
pub(super) fn case(
    branches: &[(Condition, SelectExpr)],
    otherwise: &SelectExpr,
    scope: &Scope,
) -> Result<Expr, Error> {
    let results = branches.iter().map(|(_, e)| e).chain([otherwise]);
    let to = common_scale(results, scope);
    let mut case = CaseStatement::new();
    for (when, then) in branches {
        case = case.case(condition(when, scope)?, result(then, to, scope)?);
    }
    Ok(case.finally(result(otherwise, to, scope)?).into())
}

/// The scale every result is brought to on SQLite (`None` elsewhere, or for non-decimals).
fn common_scale<'e>(results: impl Iterator<Item = &'e SelectExpr>, scope: &Scope) -> Option<u32> {
    results.filter_map(|e| scope.stored_scale(e)).max()
}

/// One result, at scale `to` where decimals are scaled integers.
fn result(expr: &SelectExpr, to: Option<u32>, scope: &Scope) -> Result<Expr, Error> {
    let sql = match expr {
        SelectExpr::Value(value) => value_operand(value, scope),
        other => select_expr(other, scope)?,
    };
    Ok(match to {
        Some(to) => rescale(sql, scope.stored_scale(expr).unwrap_or(0), to),
        None => sql,
    })
}
