//! User CHECK constraints ([`CheckExpr`]) rendered for a dialect: the same condition in
//! `CREATE TABLE`, in the migration engine's `ADD CONSTRAINT` and in SQLite's table rebuilds.
//!
//! Literals follow the column's storage where it differs from the Rust type: on SQLite a
//! decimal of at most 18 digits is an integer scaled by `10^scale` (see `sql/scaled.rs`), so
//! `0.5` in a check of a `precision = 4, scale = 2` column is written `50`.

use sea_query::{BinOper, Expr, ExprTrait};

use super::Dialect;
use super::scaled::scaled_storage;
use crate::error::Error;
use crate::schema::{CheckExpr, CheckLiteral, CheckOp, ColumnType};

/// What rendering a check needs to know of a column: its type and decimal precision.
pub type ColumnStorage = (ColumnType, Option<(u32, u32)>);

/// The sea-query condition of `expr` on `dialect`; `storage` describes each column it reads
/// (`None`: no such column, an [`Error::Schema`]).
pub fn check_condition(
    table: &str,
    name: &str,
    expr: &CheckExpr,
    storage: &dyn Fn(&str) -> Option<ColumnStorage>,
    dialect: Dialect,
) -> Result<Expr, Error> {
    let column = |c: &str| {
        storage(c).ok_or_else(|| {
            Error::Schema(format!(
                "check `{name}` of `{table}` reads `{c}`, which `{table}` has no column of"
            ))
        })
    };
    let lit = |c: &str, value: &CheckLiteral| -> Result<Expr, Error> {
        literal(table, name, c, column(c)?, value, dialect)
    };
    Ok(match expr {
        CheckExpr::Compare {
            column: c,
            op,
            value,
        } => {
            refuse_text_decimal_order(table, name, c, column(c)?, *op, dialect)?;
            Expr::col(c.clone()).binary(bin_oper(*op), lit(c, value)?)
        }
        CheckExpr::Between {
            column: c,
            low,
            high,
        } => {
            refuse_text_decimal_order(table, name, c, column(c)?, CheckOp::Lt, dialect)?;
            Expr::col(c.clone()).between(lit(c, low)?, lit(c, high)?)
        }
        CheckExpr::InList {
            column: c,
            values,
            negated,
        } => {
            column(c)?;
            let values = values
                .iter()
                .map(|v| lit(c, v))
                .collect::<Result<Vec<_>, _>>()?;
            match (values.is_empty(), negated) {
                // `IN ()` is not SQL: an empty list is false, its negation true.
                (true, false) => Expr::val(false),
                (true, true) => Expr::val(true),
                (false, false) => Expr::col(c.clone()).is_in(values),
                (false, true) => Expr::col(c.clone()).is_not_in(values),
            }
        }
        CheckExpr::IsNull { column: c, negated } => {
            column(c)?;
            if *negated {
                Expr::col(c.clone()).is_not_null()
            } else {
                Expr::col(c.clone()).is_null()
            }
        }
        CheckExpr::And(items) | CheckExpr::Or(items) => {
            let and = matches!(expr, CheckExpr::And(_));
            let mut parts = items
                .iter()
                .map(|i| check_condition(table, name, i, storage, dialect));
            match parts.next() {
                None => Expr::val(and),
                Some(first) => parts.try_fold(first?, |acc, next| {
                    let next = next?;
                    Ok::<_, Error>(if and { acc.and(next) } else { acc.or(next) })
                })?,
            }
        }
        CheckExpr::Not(inner) => check_condition(table, name, inner, storage, dialect)?.not(),
    })
}

fn bin_oper(op: CheckOp) -> BinOper {
    match op {
        CheckOp::Eq => BinOper::Equal,
        CheckOp::Ne => BinOper::NotEqual,
        CheckOp::Lt => BinOper::SmallerThan,
        CheckOp::Le => BinOper::SmallerThanOrEqual,
        CheckOp::Gt => BinOper::GreaterThan,
        CheckOp::Ge => BinOper::GreaterThanOrEqual,
    }
}

/// SQLite stores a decimal of more than 18 digits (or without `precision`) as text, which
/// orders as text: a range check on it would test the wrong order.
fn refuse_text_decimal_order(
    table: &str,
    name: &str,
    column: &str,
    (ty, precision): ColumnStorage,
    op: CheckOp,
    dialect: Dialect,
) -> Result<(), Error> {
    let ordered = !matches!(op, CheckOp::Eq | CheckOp::Ne);
    if dialect == Dialect::Sqlite
        && ty == ColumnType::Decimal
        && scaled_storage(ty, precision).is_none()
        && ordered
    {
        return Err(Error::Schema(format!(
            "check `{name}` of `{table}` orders `{column}`, a decimal SQLite stores as text \
             (no `precision`, or more than {} digits); declare \
             `#[orm(precision = P, scale = S)]` with P <= {} on the field",
            super::scaled::MAX_SCALED_PRECISION,
            super::scaled::MAX_SCALED_PRECISION
        )));
    }
    Ok(())
}

/// A literal as the column stores it on `dialect`.
fn literal(
    table: &str,
    name: &str,
    column: &str,
    (ty, precision): ColumnStorage,
    value: &CheckLiteral,
    dialect: Dialect,
) -> Result<Expr, Error> {
    Ok(match value {
        CheckLiteral::Bool(b) => Expr::val(*b),
        CheckLiteral::Int(i) => match (dialect, scaled_storage(ty, precision)) {
            (Dialect::Sqlite, Some(scale)) => {
                Expr::cust(scaled(table, name, column, &i.to_string(), scale)?)
            }
            _ => Expr::val(*i),
        },
        CheckLiteral::Float(f) => Expr::val(*f),
        CheckLiteral::Text(s) => Expr::val(s.clone()),
        CheckLiteral::Decimal(text) => {
            let digits = decimal_digits(text).ok_or_else(|| {
                Error::Schema(format!(
                    "check `{name}` of `{table}` holds `{text}`, which is not a decimal number"
                ))
            })?;
            match (dialect, scaled_storage(ty, precision)) {
                (Dialect::Sqlite, Some(scale)) => {
                    Expr::cust(scaled(table, name, column, text, scale)?)
                }
                // Checked above to be digits, a sign and a point: a numeric literal.
                _ => Expr::cust(digits),
            }
        }
    })
}

/// `text` (a decimal number) scaled by `10^scale` as an integer literal; a value with more
/// decimal places than the column keeps is refused (it would be compared rounded).
fn scaled(table: &str, name: &str, column: &str, text: &str, scale: u32) -> Result<String, Error> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let fraction = fraction.trim_end_matches('0');
    let places = usize::try_from(scale).unwrap_or(usize::MAX);
    if fraction.len() > places {
        return Err(Error::Schema(format!(
            "check `{name}` of `{table}` compares `{column}` (scale {scale}) with {text}, which \
             has more decimal places than the column keeps; round it to {scale} places"
        )));
    }
    let mut digits = format!("{whole}{fraction:0<places$}");
    let trimmed = digits.trim_start_matches('0');
    digits = if trimmed.is_empty() {
        "0".to_owned()
    } else {
        trimmed.to_owned()
    };
    if digits.len() > 18 {
        return Err(Error::Schema(format!(
            "check `{name}` of `{table}` compares `{column}` with {text}, which does not fit \
             the column's {scale}-place scaled integer"
        )));
    }
    Ok(if negative && digits != "0" {
        format!("-{digits}")
    } else {
        digits
    })
}

/// `text` when it is `-?digits(.digits)?` (so that it is a SQL numeric literal as is).
fn decimal_digits(text: &str) -> Option<String> {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(whole) && digits(fraction)).then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_literals_follow_sqlite_storage() {
        assert_eq!(scaled("t", "c", "x", "0.5", 2).unwrap(), "50");
        assert_eq!(scaled("t", "c", "x", "-1.25", 2).unwrap(), "-125");
        assert_eq!(scaled("t", "c", "x", "3", 2).unwrap(), "300");
        assert_eq!(scaled("t", "c", "x", "0", 4).unwrap(), "0");
        let err = scaled("t", "c", "x", "0.125", 2).unwrap_err().to_string();
        assert!(err.contains("round it to 2 places"), "{err}");
    }

    #[test]
    fn decimal_text_must_be_a_number() {
        assert_eq!(decimal_digits("-0.5").as_deref(), Some("-0.5"));
        assert_eq!(decimal_digits("1e5"), None);
        assert_eq!(decimal_digits("1; DROP"), None);
    }
}
