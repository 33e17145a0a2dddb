//! The ORM's values as mysql_async's, for the binary protocol: each is sent as the sqlx
//! driver sends it (a boolean as `TINYINT` 0/1, a zoned timestamp as the UTC wall clock in a
//! `DATETIME`, a decimal and JSON as text, a UUID as its 16 bytes, an ObjectId as its 12).

use mysql_async::Value as My;

use crate::error::{Error, Result};
use crate::value::Value;

/// The parameters of a statement, in order.
pub(crate) fn params(values: &[Value]) -> Result<mysql_async::Params> {
    if values.is_empty() {
        return Ok(mysql_async::Params::Empty);
    }
    values
        .iter()
        .map(param)
        .collect::<Result<Vec<_>>>()
        .map(mysql_async::Params::Positional)
}

/// One value as mysql_async sends it.
fn param(value: &Value) -> Result<My> {
    Ok(match value {
        // A typed NULL is a NULL: MySQL takes the column's type.
        Value::Null(_) => My::NULL,
        Value::Bool(v) => My::Int(i64::from(*v)),
        Value::SmallInt(v) => My::Int(i64::from(*v)),
        Value::Int(v) => My::Int(i64::from(*v)),
        Value::BigInt(v) => My::Int(*v),
        Value::BigUnsigned(v) => My::UInt(*v),
        Value::Float(v) => My::Float(*v),
        Value::Double(v) => My::Double(*v),
        Value::Text(v) => My::Bytes(v.as_bytes().to_vec()),
        Value::Bytes(v) => My::Bytes(v.clone()),
        #[cfg(feature = "chrono")]
        Value::ChronoDateTimeUtc(v) => chrono_datetime(&v.naive_utc())?,
        #[cfg(feature = "chrono")]
        Value::ChronoDateTime(v) => chrono_datetime(v)?,
        #[cfg(feature = "chrono")]
        Value::ChronoDate(v) => {
            use chrono::Datelike;
            My::Date(year(v.year())?, v.month() as u8, v.day() as u8, 0, 0, 0, 0)
        }
        #[cfg(feature = "chrono")]
        Value::ChronoTime(v) => {
            use chrono::Timelike;
            My::Time(
                false,
                0,
                v.hour() as u8,
                v.minute() as u8,
                v.second() as u8,
                // A leap second's extra nanoseconds stay inside the second.
                (v.nanosecond() % 1_000_000_000) / 1_000,
            )
        }
        #[cfg(feature = "time")]
        Value::TimeOffsetDateTime(v) => {
            let utc = v.to_offset(time::UtcOffset::UTC);
            time_datetime(utc.date(), utc.time())?
        }
        #[cfg(feature = "time")]
        Value::TimePrimitiveDateTime(v) => time_datetime(v.date(), v.time())?,
        #[cfg(feature = "time")]
        Value::TimeDate(v) => My::Date(year(v.year())?, u8::from(v.month()), v.day(), 0, 0, 0, 0),
        #[cfg(feature = "time")]
        Value::TimeTime(v) => My::Time(false, 0, v.hour(), v.minute(), v.second(), v.microsecond()),
        #[cfg(feature = "uuid")]
        Value::Uuid(v) => My::Bytes(v.as_bytes().to_vec()),
        #[cfg(feature = "bson")]
        Value::ObjectId(v) => My::Bytes(v.bytes().to_vec()),
        #[cfg(feature = "decimal")]
        Value::Decimal(v) => My::Bytes(v.to_string().into_bytes()),
        #[cfg(feature = "json")]
        Value::Json(v) => My::Bytes(v.to_string().into_bytes()),
        Value::Unencodable(_, message) => return Err(Error::InvalidQuery(message.clone())),
    })
}

/// A year MySQL's `DATE`/`DATETIME` can hold (0 to 9999), else the error the server's range
/// check would give.
#[cfg(any(feature = "chrono", feature = "time"))]
fn year(year: i32) -> Result<u16> {
    u16::try_from(year)
        .ok()
        .filter(|y| *y <= 9999)
        .ok_or_else(|| Error::OutOfRange {
            column: None,
            source: format!("the year {year} is outside MySQL's dates (0000 to 9999)").into(),
        })
}

#[cfg(feature = "chrono")]
fn chrono_datetime(v: &chrono::NaiveDateTime) -> Result<My> {
    use chrono::{Datelike, Timelike};
    Ok(My::Date(
        year(v.year())?,
        v.month() as u8,
        v.day() as u8,
        v.hour() as u8,
        v.minute() as u8,
        v.second() as u8,
        (v.nanosecond() % 1_000_000_000) / 1_000,
    ))
}

#[cfg(feature = "time")]
fn time_datetime(date: time::Date, time: time::Time) -> Result<My> {
    Ok(My::Date(
        year(date.year())?,
        u8::from(date.month()),
        date.day(),
        time.hour(),
        time.minute(),
        time.second(),
        time.microsecond(),
    ))
}

/// `sql` with each placeholder of a decimal value wrapped in `CAST(? AS DECIMAL(65, scale))`,
/// or `None` when no value is a decimal (or the placeholders cannot be told apart).
///
/// mysql_async sends a decimal as a string (the binary protocol has no client-side decimal
/// parameter in its API), and MySQL computes with a string as a `DOUBLE`: `price + ?` would
/// come back as a float and `price = ?` compare as floats, where the sqlx driver's typed
/// `NEWDECIMAL` parameter keeps both exact. The cast gives the server the decimal back with
/// the value's own scale, as it reads a typed parameter.
#[cfg(feature = "decimal")]
pub(crate) fn decimal_casts(sql: &str, values: &[Value]) -> Option<String> {
    if !values.iter().any(|v| matches!(v, Value::Decimal(_))) {
        return None;
    }
    let placeholders = placeholders(sql)?;
    if placeholders.len() != values.len() {
        return None;
    }
    let mut typed = String::with_capacity(sql.len() + 32);
    let mut copied = 0;
    for (at, value) in placeholders.into_iter().zip(values) {
        if let Value::Decimal(d) = value {
            typed.push_str(&sql[copied..at]);
            typed.push_str(&format!("CAST(? AS DECIMAL(65, {}))", d.scale()));
            copied = at + 1;
        }
    }
    typed.push_str(&sql[copied..]);
    Some(typed)
}

/// The byte offsets of the `?` placeholders of `sql`: outside quoted strings and identifiers
/// (`'…'`, `"…"`, `` `…` ``, with doubled and backslash-escaped quotes) and comments (`-- `,
/// `#`, `/* */`). `None` when a quote or comment is left open.
#[cfg(feature = "decimal")]
fn placeholders(sql: &str) -> Option<Vec<usize>> {
    let bytes = sql.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'?' => found.push(i),
            quote @ (b'\'' | b'"' | b'`') => {
                i += 1;
                loop {
                    match *bytes.get(i)? {
                        b'\\' if quote != b'`' => i += 1,
                        b if b == quote => {
                            if bytes.get(i + 1) == Some(&quote) {
                                i += 1;
                            } else {
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
            }
            b'-' if bytes.get(i + 1) == Some(&b'-')
                && bytes.get(i + 2).is_none_or(|b| b.is_ascii_whitespace()) =>
            {
                i = sql[i..].find('\n').map_or(bytes.len(), |n| i + n);
            }
            b'#' => i = sql[i..].find('\n').map_or(bytes.len(), |n| i + n),
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = i + 2 + sql[i + 2..].find("*/")? + 1;
            }
            _ => {}
        }
        i += 1;
    }
    Some(found)
}

#[cfg(all(test, feature = "decimal"))]
mod tests {
    use super::*;

    #[test]
    fn decimal_placeholders_are_cast_with_the_values_scale() {
        let d = |s: &str| Value::Decimal(s.parse().unwrap());
        let sql = "SELECT `price` + ?, '?', \"a\\\"?\", `q?` FROM t -- ?\nWHERE a = ? /* ? */ AND b = ? # ?";
        let typed = decimal_casts(sql, &[d("12.50"), Value::Int(1), d("3")]).unwrap();
        assert_eq!(
            typed,
            "SELECT `price` + CAST(? AS DECIMAL(65, 2)), '?', \"a\\\"?\", `q?` FROM t -- ?\n\
             WHERE a = ? /* ? */ AND b = CAST(? AS DECIMAL(65, 0)) # ?"
        );
        // No decimal, or placeholders that do not match the values: left alone.
        assert_eq!(decimal_casts("SELECT ?", &[Value::Int(1)]), None);
        assert_eq!(decimal_casts("SELECT ?, ?", &[d("1.0")]), None);
        assert_eq!(decimal_casts("SELECT '?", &[d("1.0")]), None);
        assert_eq!(
            decimal_casts("SELECT 'it''s ?', ?", &[d("1.0")]).unwrap(),
            "SELECT 'it''s ?', CAST(? AS DECIMAL(65, 1))"
        );
    }
}
