//! The strictness rule, checked before a statement is built: a value that does not fit its
//! column is an error on every dialect, never truncated, rounded or clamped.
//!
//! The databases enforce the same rules (MySQL in strict mode, PostgreSQL natively, SQLite
//! through the `ck_<table>_<col>_length`/`_range` CHECKs of the DDL); checking here as well
//! names the column on every dialect and covers what a database would silently round (extra
//! decimal places) or cannot store (NaN on MySQL, text decimals on SQLite). MongoDB writes go
//! through the same check (`dialect` is `None`): its validator would report an over-long text
//! as a generic validation failure, and documents store any double and any `u64` (decimal128).

use super::Dialect;
use crate::error::Error;
use crate::query::ir::{Assignment, Condition, InsertQuery, Statement};
use crate::schema::ColumnSchema;
use crate::value::Value;

/// Checks every written value of `statement` against its column, and every value against
/// encoding failures.
pub(crate) fn check(statement: &Statement, dialect: Option<Dialect>) -> Result<(), Error> {
    match statement {
        // Selects are checked by `compile_select`, which executors call directly.
        Statement::Select(_) => Ok(()),
        Statement::Delete(q) => condition(q.filter.as_ref()),
        Statement::Insert(q) => insert(q, dialect),
        Statement::Upsert(q) => insert(&q.insert, dialect),
        Statement::Update(q) => {
            for (name, assignment) in &q.assignments {
                match (assignment, q.schema.column(name)) {
                    (Assignment::Value(value), Some(column)) => fits(column, value, dialect)?,
                    (Assignment::Value(value), None) => encodable(value)?,
                    // The database checks the result of `col + delta` (OutOfRange on overflow).
                    (Assignment::Add { delta, .. }, _) => encodable(delta)?,
                }
            }
            condition(q.filter.as_ref())
        }
    }
}

pub(crate) fn insert(q: &InsertQuery, dialect: Option<Dialect>) -> Result<(), Error> {
    let columns: Vec<&ColumnSchema> = q.schema.insert_columns().collect();
    for row in &q.rows {
        for (column, value) in columns.iter().zip(row) {
            fits(column, value, dialect)?;
        }
    }
    Ok(())
}

fn encodable(value: &Value) -> Result<(), Error> {
    match value {
        Value::Unencodable(_, message) => Err(Error::InvalidQuery(message.clone())),
        _ => Ok(()),
    }
}

/// Checks that every value of a filter can be encoded (a `Json<T>` whose serialization failed
/// must not be sent as NULL).
pub(crate) fn condition(c: Option<&Condition>) -> Result<(), Error> {
    let Some(c) = c else { return Ok(()) };
    match c {
        Condition::Compare { value, .. } | Condition::CompareExpr { value, .. } => encodable(value),
        Condition::Between { low, high, .. } => encodable(low).and(encodable(high)),
        Condition::InList { values, .. } => values.iter().try_for_each(encodable),
        Condition::And(items) | Condition::Or(items) => {
            items.iter().try_for_each(|c| condition(Some(c)))
        }
        Condition::Not(inner) => condition(Some(inner)),
        _ => Ok(()),
    }
}

fn out_of_range(column: &ColumnSchema, why: String) -> Error {
    Error::OutOfRange {
        column: Some(column.name.to_owned()),
        source: why.into(),
    }
}

/// Whether `value` fits `column` on `dialect` (`None`: MongoDB).
pub(crate) fn fits(
    column: &ColumnSchema,
    value: &Value,
    dialect: Option<Dialect>,
) -> Result<(), Error> {
    encodable(value)?;
    match value {
        Value::Text(text) => {
            if let Some(max) = column.max_length {
                let len = text.chars().count();
                if len > max as usize {
                    return Err(Error::ValueTooLong {
                        column: Some(column.name.to_owned()),
                        source: format!("{len} characters, but `max_length` is {max}").into(),
                    });
                }
            }
        }
        Value::Float(f) => float_fits(column, f64::from(*f), dialect)?,
        Value::Double(f) => float_fits(column, *f, dialect)?,
        Value::BigUnsigned(u) if dialect.is_some_and(|d| d != Dialect::MySql) => {
            return Err(out_of_range(
                column,
                format!(
                    "{u} does not fit a signed 64-bit integer; only MySQL and MongoDB store it"
                ),
            ));
        }
        #[cfg(feature = "decimal")]
        Value::Decimal(d) => {
            if let Some((precision, scale)) = column.precision {
                decimal_fits(column, *d, precision, scale)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn float_fits(column: &ColumnSchema, f: f64, dialect: Option<Dialect>) -> Result<(), Error> {
    match dialect {
        Some(dialect) if !storable(f, dialect) => Err(out_of_range(column, non_finite(f, dialect))),
        _ => Ok(()),
    }
}

/// PostgreSQL stores NaN and ±infinity; SQLite stores ±infinity but turns NaN into NULL;
/// MySQL/MariaDB store neither.
fn storable(f: f64, dialect: Dialect) -> bool {
    match dialect {
        Dialect::Postgres => true,
        Dialect::Sqlite => !f.is_nan(),
        Dialect::MySql => f.is_finite(),
    }
}

fn non_finite(f: f64, dialect: Dialect) -> String {
    let db = match dialect {
        Dialect::MySql => "MySQL/MariaDB",
        _ => "SQLite (it would store NULL)",
    };
    format!(
        "{db} cannot store {f} in a floating-point column; store it as NULL or in a separate flag"
    )
}

/// A decimal fits `DECIMAL(precision, scale)` when it has at most `scale` decimal places
/// (ignoring trailing zeros) and at most `precision - scale` integer digits.
#[cfg(feature = "decimal")]
fn decimal_fits(
    column: &ColumnSchema,
    d: rust_decimal::Decimal,
    precision: u32,
    scale: u32,
) -> Result<(), Error> {
    let normalized = d.normalize();
    if normalized.scale() > scale {
        return Err(out_of_range(
            column,
            format!(
                "{d} has more than {scale} decimal places (DECIMAL({precision},{scale})); round it first"
            ),
        ));
    }
    let integer = normalized.trunc().abs();
    let digits = if integer.is_zero() {
        0
    } else {
        integer.to_string().len() as u32
    };
    if digits > precision - scale {
        return Err(out_of_range(
            column,
            format!(
                "{d} has {digits} integer digits, DECIMAL({precision},{scale}) allows {}",
                precision - scale
            ),
        ));
    }
    Ok(())
}
