//! ASCII-only case folding (`lower()`, `upper()`, and `ilike` on MySQL and SQLite).

use sea_query::Expr;

use super::custom;
use crate::query::ir::CaseFold;
use crate::sql::Dialect;

/// `LOWER`/`UPPER` folding only ASCII letters on every dialect. SQLite's own functions do just
/// that; PostgreSQL's do under the `C` collation; MySQL's `LOWER` folds accented capitals too, so
/// it gets the 26 letters replaced one by one (`REPLACE` is case-sensitive on every collation).
pub(super) fn fold_case(expr: Expr, fold: CaseFold, dialect: Dialect) -> Expr {
    let function = match fold {
        CaseFold::Lower => "LOWER",
        CaseFold::Upper => "UPPER",
    };
    match dialect {
        Dialect::Sqlite => custom(dialect, &format!("{function}(?)"), expr),
        Dialect::Postgres => custom(dialect, &format!("{function}(? COLLATE \"C\")"), expr),
        Dialect::MySql => {
            let mut sql = String::from("?");
            for (from, to) in ('A'..='Z').zip('a'..='z') {
                let (from, to) = match fold {
                    CaseFold::Lower => (from, to),
                    CaseFold::Upper => (to, from),
                };
                sql = format!("REPLACE({sql}, '{from}', '{to}')");
            }
            custom(dialect, &sql, expr)
        }
    }
}
