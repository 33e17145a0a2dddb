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
/// must not be sent as NULL) and compares the same way on every backend: no NUL in a text or
/// JSON value, and LIKE patterns that every dialect reads alike.
pub(crate) fn condition(c: Option<&Condition>) -> Result<(), Error> {
    let Some(c) = c else { return Ok(()) };
    match c {
        Condition::Compare { value, .. } | Condition::CompareExpr { value, .. } => compared(value),
        Condition::Between { low, high, .. } => compared(low).and(compared(high)),
        Condition::InList { values, .. } => values.iter().try_for_each(compared),
        Condition::Like { pattern, .. } => like_pattern(pattern),
        Condition::And(items) | Condition::Or(items) => {
            items.iter().try_for_each(|c| condition(Some(c)))
        }
        Condition::Not(inner) => condition(Some(inner)),
        _ => Ok(()),
    }
}

/// A value a filter compares with: encodable, and without NUL (PostgreSQL refuses it, SQLite's
/// text functions stop at it, and no value the ORM writes contains one).
fn compared(value: &Value) -> Result<(), Error> {
    encodable(value)?;
    if let Some(what) = nul_in(value) {
        return Err(Error::InvalidQuery(format!(
            "a filter compares with {what} containing NUL (U+0000), which no backend stores as \
             text (see `Error::InvalidValue`); remove it, or store such data as `Vec<u8>`"
        )));
    }
    Ok(())
}

/// A `like`/`ilike` pattern (and the patterns `contains`, `starts_with`, `ends_with` build)
/// means the same on every dialect, or is refused: PostgreSQL rejects a pattern ending in a
/// lone escape character where MariaDB matches it as a literal and SQLite matches nothing, and
/// SQLite's LIKE stops at a NUL where the others do not.
pub(crate) fn like_pattern(pattern: &str) -> Result<(), Error> {
    if pattern.contains('\0') {
        return Err(Error::InvalidQuery(format!(
            "LIKE pattern {pattern:?} contains NUL (U+0000): SQLite's LIKE stops at it and \
             PostgreSQL cannot compare it, and no text the ORM stores contains one; remove it"
        )));
    }
    let trailing = pattern.chars().rev().take_while(|&c| c == '\\').count();
    if trailing % 2 == 1 {
        return Err(Error::InvalidQuery(format!(
            "LIKE pattern {pattern:?} ends with the escape character `\\`; write `\\\\` for a \
             literal backslash (or use `contains`/`starts_with`/`ends_with`)"
        )));
    }
    Ok(())
}

/// What in `value` contains a NUL: `Some("a text value")` / `Some("a JSON string or key")`.
fn nul_in(value: &Value) -> Option<&'static str> {
    match value {
        Value::Text(text) if text.contains('\0') => Some("a text value"),
        #[cfg(feature = "json")]
        Value::Json(json) if json_has_nul(json) => Some("a JSON string or key"),
        _ => None,
    }
}

#[cfg(feature = "json")]
fn json_has_nul(json: &serde_json::Value) -> bool {
    json_scan(json, usize::MAX).1
}

/// How many arrays and objects deep `json` nests (a scalar: 0, `[]`: 1, `{"a": [1]}`: 2),
/// counted up to `cap + 1`.
#[cfg(feature = "json")]
pub(crate) fn json_depth(json: &serde_json::Value, cap: usize) -> usize {
    json_scan(json, cap).0
}

/// The depth of `json` (counted up to `cap + 1`) and whether a string or key in it contains
/// NUL. Iterative: a document built in memory may nest deeper than the stack allows.
#[cfg(feature = "json")]
fn json_scan(json: &serde_json::Value, cap: usize) -> (usize, bool) {
    use serde_json::Value as J;
    let mut deepest = 0;
    let mut nul = false;
    let mut stack = vec![(json, 0usize)];
    while let Some((value, depth)) = stack.pop() {
        match value {
            J::String(s) => nul |= s.contains('\0'),
            J::Array(items) => {
                deepest = deepest.max(depth + 1);
                if depth < cap {
                    stack.extend(items.iter().map(|v| (v, depth + 1)));
                }
            }
            J::Object(map) => {
                deepest = deepest.max(depth + 1);
                nul |= map.keys().any(|k| k.contains('\0'));
                if depth < cap {
                    stack.extend(map.values().map(|v| (v, depth + 1)));
                }
            }
            _ => {}
        }
    }
    (deepest, nul)
}

/// The most arrays/objects a JSON value may nest on a backend (one inside the other), and why:
/// MariaDB's `JSON` columns refuse a document whose JSON depth reaches 32 (their `json_valid`
/// CHECK: 31 nested arrays/objects at most; MySQL 8 allows 100, the ORM applies the lower
/// bound to the dialect); a MongoDB document nests at most 100 levels, the row's own document
/// included; serde_json, which reads the other backends' JSON back, stops at 128.
#[cfg(feature = "json")]
pub(crate) const fn max_json_depth(dialect: Option<Dialect>) -> (usize, &'static str) {
    match dialect {
        Some(Dialect::MySql) => (31, "MariaDB's JSON depth limit (depth 32 is refused)"),
        None => (
            99,
            "MongoDB's limit of 100 nested levels per document, the row included",
        ),
        Some(Dialect::Postgres | Dialect::Sqlite) => {
            (127, "the most the JSON reader reads back (128 levels)")
        }
    }
}

/// What to do about a MongoDB document over 16 MiB.
pub(crate) const MONGO_DOCUMENT_ADVICE: &str = "MongoDB stores a document (a row) of at most 16 \
    MiB, BSON's limit; keep such values out of the document (GridFS, a file or object store)";

/// The largest text or bytes one field of a MongoDB document may hold: the 16 MiB of a whole
/// document, less room for the rest of the row.
const MONGO_MAX_VALUE: usize = (16 << 20) - (16 << 10);

fn mongo_too_long(column: &ColumnSchema, len: usize) -> Error {
    Error::ValueTooLong {
        column: Some(column.name.to_owned()),
        source: format!("the value is {len} bytes; {MONGO_DOCUMENT_ADVICE}").into(),
    }
}

fn invalid_value(column: &ColumnSchema, why: String) -> Error {
    Error::InvalidValue {
        column: Some(column.name.to_owned()),
        source: why.into(),
    }
}

const NUL_ADVICE: &str = "no backend stores it as text (PostgreSQL refuses it, SQLite's \
    LIKE and length() stop at it), so the ORM refuses it everywhere; remove it, or store such \
    data as `Vec<u8>`";

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
            // A text of at most `max` bytes has at most `max` characters: only a longer one
            // is counted.
            if let Some(max) = column.max_length.filter(|&max| text.len() > max as usize) {
                let len = text.chars().count();
                if len > max as usize {
                    return Err(Error::ValueTooLong {
                        column: Some(column.name.to_owned()),
                        source: format!(
                            "{len} characters, but `max_length` is {max}; shorten it or raise \
                             the field's `max_length`"
                        )
                        .into(),
                    });
                }
            }
            if dialect.is_none() && text.len() > MONGO_MAX_VALUE {
                return Err(mongo_too_long(column, text.len()));
            }
            if text.contains('\0') {
                return Err(invalid_value(
                    column,
                    format!("the text contains NUL (U+0000): {NUL_ADVICE}"),
                ));
            }
        }
        #[cfg(feature = "json")]
        Value::Json(json) => {
            if json_has_nul(json) {
                return Err(invalid_value(
                    column,
                    format!("a JSON string or key contains NUL (U+0000): {NUL_ADVICE}"),
                ));
            }
            let (max, limit) = max_json_depth(dialect);
            if json_depth(json, max) > max {
                return Err(invalid_value(
                    column,
                    format!(
                        "the JSON value nests more than {max} arrays/objects, over {limit}; \
                         flatten it, or store it as text (`String`)"
                    ),
                ));
            }
        }
        Value::Bytes(bytes) if dialect.is_none() && bytes.len() > MONGO_MAX_VALUE => {
            return Err(mongo_too_long(column, bytes.len()));
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
