//! `UPDATE ... SET column = value | column + delta WHERE ...`.

use sea_query::{Expr, ExprTrait, Func, Query};

use super::condition::condition;
use super::{Scope, build, set_where};
use crate::error::Error;
use crate::query::ir::{Assignment, UpdateQuery};
use crate::sql::{Compiled, Dialect, values};
use crate::value::Value;

/// Writes an update.
pub(super) fn render(q: &UpdateQuery, dialect: Dialect) -> Result<Compiled, Error> {
    // At least one assignment (`check::statement`).
    let mut update = Query::update();
    update
        .table(q.schema.table)
        .values(q.assignments.iter().map(|(name, a)| {
            let value = match a {
                Assignment::Value(v) => Expr::val(values::to_sea(v.clone())),
                Assignment::Add { source, delta } => add_expr(source, delta, dialect),
            };
            (*name, value)
        }));
    if let Some(filter) = &q.filter {
        set_where(
            &mut update,
            condition(filter, &Scope::writing(dialect, q.schema))?,
        );
    }
    Ok(build(&update, dialect))
}

/// `column + delta`. SQLite turns an integer sum that overflows 64 bits into a float (and
/// stores it), where PostgreSQL and MySQL fail with "out of range": on SQLite the sum is
/// checked and an overflow evaluates `abs(i64::MIN)`, SQLite's own "integer overflow" error,
/// which maps to [`Error::OutOfRange`] as on the other dialects.
fn add_expr(source: &'static str, delta: &Value, dialect: Dialect) -> Expr {
    let sum = || Expr::col(source).add(Expr::val(values::to_sea(delta.clone())));
    let integer = matches!(delta, Value::SmallInt(_) | Value::Int(_) | Value::BigInt(_));
    if dialect != Dialect::Sqlite || !integer {
        return sum();
    }
    let typeof_sum = Expr::from(Func::cust("typeof").arg(sum()));
    Expr::case(typeof_sum.eq(Expr::cust("'integer'")), sum())
        .finally(Expr::cust("abs(-9223372036854775807 - 1)"))
        .into()
}
