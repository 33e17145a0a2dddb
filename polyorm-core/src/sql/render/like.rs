//! `LIKE` and `ILIKE` with `\\` as the escape character on every dialect.

use sea_query::extension::postgres::PgBinOper;
use sea_query::{Expr, ExprTrait, LikeExpr};

use super::custom;
use super::text::fold_case;
use crate::query::ir::CaseFold;
use crate::sql::Dialect;

/// `LIKE` with `\\` as the escape character on every dialect.
pub(super) fn like(column: Expr, pattern: &str, case_insensitive: bool, dialect: Dialect) -> Expr {
    match dialect {
        // Backslash is PostgreSQL's default LIKE escape; sea-query cannot render ILIKE with an
        // ESCAPE clause, so none is written.
        // ILIKE under the `C` collation folds ASCII letters only, like the other dialects.
        Dialect::Postgres if case_insensitive => {
            custom(dialect, "? COLLATE \"C\"", column).binary(PgBinOper::ILike, Expr::val(pattern))
        }
        Dialect::Postgres => column.like(pattern),
        // Declared explicitly: SQLite has no default escape, and MySQL loses it under
        // NO_BACKSLASH_ESCAPES.
        Dialect::MySql | Dialect::Sqlite if case_insensitive => {
            // One folding rule everywhere: ASCII letters only, the pattern folded here.
            fold_case(column, CaseFold::Lower, dialect)
                .like(LikeExpr::new(pattern.to_ascii_lowercase()).escape('\\'))
        }
        Dialect::MySql | Dialect::Sqlite => column.like(LikeExpr::new(pattern).escape('\\')),
    }
}
