//! A part of a date or timestamp (`year()`, `month()`, `day()`).

use sea_query::Expr;

use super::custom;
use crate::query::ir::DatePart;
use crate::sql::Dialect;

/// A part of a date or timestamp as an integer. Timestamps are read in UTC: sqlx opens
/// PostgreSQL sessions in UTC, MySQL `DATETIME` holds the UTC value the ORM wrote, and SQLite's
/// `strftime` converts the stored ISO-8601 text to UTC.
pub(super) fn extract(expr: Expr, part: DatePart, dialect: Dialect) -> Expr {
    let (name, format) = match part {
        DatePart::Year => ("YEAR", "%Y"),
        DatePart::Month => ("MONTH", "%m"),
        DatePart::Day => ("DAY", "%d"),
    };
    let sql = match dialect {
        Dialect::Postgres => format!("CAST(EXTRACT({name} FROM ?) AS INTEGER)"),
        Dialect::MySql => format!("EXTRACT({name} FROM ?)"),
        Dialect::Sqlite => format!("CAST(strftime('{format}', ?) AS INTEGER)"),
    };
    custom(dialect, &sql, expr)
}
