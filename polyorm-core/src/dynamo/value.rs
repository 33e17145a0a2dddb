//! Values as DynamoDB attribute values, and back.

use std::cmp::Ordering;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::error::{Error, Result};
use crate::value::Value;

/// The attribute value a [`Value`] is stored as; `None` for SQL NULL (the attribute is left
/// out of the item, so that an item without a value is not in a secondary index on it).
///
/// Numbers are `N` strings of their exact decimal digits (floats in their shortest form that
/// reads back as the same float; NaN and infinities are refused), text, UUIDs, object ids
/// and dates/times are `S` (dates and times in fixed-width ISO 8601 forms, so that they sort
/// as text in time order for years 0000-9999), bytes are `B`, JSON is native: objects as
/// `M`, arrays as `L`, numbers as `N`, `null` as `NULL`.
pub fn to_attr(value: &Value) -> Result<Option<AttributeValue>> {
    let n = |s: String| Ok(Some(AttributeValue::N(s)));
    let s = |s: String| Ok(Some(AttributeValue::S(s)));
    match value {
        Value::Null(_) => Ok(None),
        Value::Bool(b) => Ok(Some(AttributeValue::Bool(*b))),
        Value::SmallInt(i) => n(i.to_string()),
        Value::Int(i) => n(i.to_string()),
        Value::BigInt(i) => n(i.to_string()),
        Value::BigUnsigned(i) => n(i.to_string()),
        Value::Float(f) => n(float_number(f64::from(*f), f.is_finite(), || {
            f.to_string()
        })?),
        Value::Double(f) => n(float_number(*f, f.is_finite(), || f.to_string())?),
        Value::Text(t) => s(t.clone()),
        Value::Bytes(b) => Ok(Some(AttributeValue::B(b.clone().into()))),
        #[cfg(feature = "chrono")]
        Value::ChronoDateTimeUtc(t) => s(t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()),
        #[cfg(feature = "chrono")]
        Value::ChronoDateTime(t) => s(t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()),
        #[cfg(feature = "chrono")]
        Value::ChronoDate(d) => s(d.format("%Y-%m-%d").to_string()),
        #[cfg(feature = "chrono")]
        Value::ChronoTime(t) => s(t.format("%H:%M:%S%.6f").to_string()),
        #[cfg(feature = "time")]
        Value::TimeOffsetDateTime(t) => s(time_text(
            t.to_offset(::time::UtcOffset::UTC)
                .format(time_formats::DATE_TIME_UTC),
        )?),
        #[cfg(feature = "time")]
        Value::TimePrimitiveDateTime(t) => s(time_text(t.format(time_formats::DATE_TIME))?),
        #[cfg(feature = "time")]
        Value::TimeDate(d) => s(time_text(d.format(time_formats::DATE))?),
        #[cfg(feature = "time")]
        Value::TimeTime(t) => s(time_text(t.format(time_formats::TIME))?),
        #[cfg(feature = "uuid")]
        Value::Uuid(u) => s(u.hyphenated().to_string()),
        #[cfg(feature = "bson")]
        Value::ObjectId(o) => s(o.to_hex()),
        #[cfg(feature = "decimal")]
        Value::Decimal(d) => n(d.to_string()),
        #[cfg(feature = "json")]
        Value::Json(j) => json_to_attr(j).map(Some),
        #[allow(unreachable_patterns)]
        other => Err(Error::InvalidQuery(format!(
            "{other:?} has no DynamoDB representation in this build"
        ))),
    }
}

/// [`to_attr`] of a value the caller no longer needs: text, bytes and JSON move into the
/// attribute value instead of being copied (what an insert's items are built with).
pub fn into_attr(value: Value) -> Result<Option<AttributeValue>> {
    match value {
        Value::Text(t) => Ok(Some(AttributeValue::S(t))),
        Value::Bytes(b) => Ok(Some(AttributeValue::B(b.into()))),
        other => to_attr(&other),
    }
}

/// The fixed-width text forms of the `time` crate's values (the same as chrono's).
#[cfg(feature = "time")]
pub(crate) mod time_formats {
    use time::format_description::FormatItem;
    use time::macros::format_description;

    /// `2024-05-01T12:30:00.000000Z`.
    pub const DATE_TIME_UTC: &[FormatItem<'static>] =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    /// `2024-05-01T12:30:00.000000`.
    pub const DATE_TIME: &[FormatItem<'static>] =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]");
    /// `2024-05-01`.
    pub const DATE: &[FormatItem<'static>] = format_description!("[year]-[month]-[day]");
    /// `12:30:00.000000`.
    pub const TIME: &[FormatItem<'static>] =
        format_description!("[hour]:[minute]:[second].[subsecond digits:6]");
}

#[cfg(feature = "time")]
fn time_text(formatted: std::result::Result<String, time::error::Format>) -> Result<String> {
    formatted.map_err(|e| Error::InvalidQuery(format!("a date/time value cannot be written: {e}")))
}

fn float_number(f: f64, finite: bool, text: impl FnOnce() -> String) -> Result<String> {
    if !finite {
        return Err(Error::InvalidQuery(format!(
            "DynamoDB numbers cannot hold {f}; store NaN and infinities as NULL or text"
        )));
    }
    Ok(text())
}

/// A JSON value as a native DynamoDB value (`M`, `L`, `S`, `N`, `BOOL`, `NULL`).
#[cfg(feature = "json")]
pub fn json_to_attr(json: &serde_json::Value) -> Result<AttributeValue> {
    use serde_json::Value as J;
    Ok(match json {
        J::Null => AttributeValue::Null(true),
        J::Bool(b) => AttributeValue::Bool(*b),
        J::Number(n) => AttributeValue::N(n.to_string()),
        J::String(s) => AttributeValue::S(s.clone()),
        J::Array(items) => {
            AttributeValue::L(items.iter().map(json_to_attr).collect::<Result<_>>()?)
        }
        J::Object(map) => AttributeValue::M(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), json_to_attr(v)?)))
                .collect::<Result<_>>()?,
        ),
    })
}

/// A native DynamoDB value as JSON (the inverse of [`json_to_attr`]; sets become arrays,
/// binary becomes an error).
#[cfg(feature = "json")]
pub fn attr_to_json(attr: &AttributeValue) -> std::result::Result<serde_json::Value, String> {
    use serde_json::Value as J;
    Ok(match attr {
        AttributeValue::Null(_) => J::Null,
        AttributeValue::Bool(b) => J::Bool(*b),
        AttributeValue::N(n) => json_number(n)?,
        AttributeValue::S(s) => J::String(s.clone()),
        AttributeValue::L(items) => J::Array(
            items
                .iter()
                .map(attr_to_json)
                .collect::<std::result::Result<_, _>>()?,
        ),
        AttributeValue::M(map) => J::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), attr_to_json(v)?)))
                .collect::<std::result::Result<_, String>>()?,
        ),
        AttributeValue::Ss(items) => J::Array(items.iter().cloned().map(J::String).collect()),
        AttributeValue::Ns(items) => J::Array(
            items
                .iter()
                .map(|n| json_number(n))
                .collect::<std::result::Result<_, _>>()?,
        ),
        other => return Err(format!("{other:?} is not JSON")),
    })
}

#[cfg(feature = "json")]
fn json_number(n: &str) -> std::result::Result<serde_json::Value, String> {
    serde_json::from_str::<serde_json::Number>(n)
        .map(serde_json::Value::Number)
        .map_err(|e| format!("`{n}` is not a JSON number: {e}"))
}

/// Orders two attribute values of one attribute as DynamoDB's key conditions do: numbers by
/// value (exactly, on their decimal digits), text by its UTF-8 bytes, binary by its bytes,
/// `false` before `true`; values of different types by type.
pub fn compare_attrs(a: &AttributeValue, b: &AttributeValue) -> Ordering {
    match (a, b) {
        (AttributeValue::N(x), AttributeValue::N(y)) => compare_numbers(x, y),
        (AttributeValue::S(x), AttributeValue::S(y)) => x.as_bytes().cmp(y.as_bytes()),
        (AttributeValue::B(x), AttributeValue::B(y)) => x.as_ref().cmp(y.as_ref()),
        (AttributeValue::Bool(x), AttributeValue::Bool(y)) => x.cmp(y),
        _ => type_rank(a).cmp(&type_rank(b)),
    }
}

fn type_rank(a: &AttributeValue) -> u8 {
    match a {
        AttributeValue::Null(_) => 0,
        AttributeValue::Bool(_) => 1,
        AttributeValue::N(_) => 2,
        AttributeValue::S(_) => 3,
        AttributeValue::B(_) => 4,
        _ => 5,
    }
}

/// A decimal number's text split into sign, digits and the position of the decimal point,
/// without leading or trailing zeros; `None` for text that is not a plain or exponent number.
fn parse_number(text: &str) -> Option<(bool, Vec<u8>, i64)> {
    let text = text.trim();
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], rest[i + 1..].parse::<i64>().ok()?),
        None => (rest, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut digits: Vec<u8> = Vec::with_capacity(int.len() + frac.len());
    for c in int.bytes().chain(frac.bytes()) {
        if !c.is_ascii_digit() {
            return None;
        }
        digits.push(c - b'0');
    }
    // value = 0.d1d2d3.. × 10^point
    let mut point = int.len() as i64 + exponent;
    let leading = digits.iter().take_while(|&&d| d == 0).count();
    digits.drain(..leading);
    point -= leading as i64;
    while digits.last() == Some(&0) {
        digits.pop();
    }
    if digits.is_empty() {
        return Some((false, digits, 0));
    }
    Some((negative, digits, point))
}

/// Compares two DynamoDB numbers exactly (text that is not a number sorts as text).
pub fn compare_numbers(a: &str, b: &str) -> Ordering {
    let (Some((na, da, pa)), Some((nb, db, pb))) = (parse_number(a), parse_number(b)) else {
        return a.cmp(b);
    };
    let magnitude = |d: &[u8], p: i64, e: &[u8], q: i64| -> Ordering {
        match (d.is_empty(), e.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            _ => p.cmp(&q).then_with(|| d.cmp(e)),
        }
    };
    match (na, nb) {
        (false, false) => magnitude(&da, pa, &db, pb),
        (true, true) => magnitude(&db, pb, &da, pa),
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_by_value_not_text() {
        assert_eq!(compare_numbers("9", "10"), Ordering::Less);
        assert_eq!(compare_numbers("-9", "-10"), Ordering::Greater);
        assert_eq!(compare_numbers("1.50", "1.5"), Ordering::Equal);
        assert_eq!(compare_numbers("0.001", "1e-3"), Ordering::Equal);
        assert_eq!(compare_numbers("-0", "0"), Ordering::Equal);
        assert_eq!(compare_numbers("-1", "0.5"), Ordering::Less);
        assert_eq!(
            compare_numbers("9223372036854775807", "9223372036854775806"),
            Ordering::Greater
        );
    }

    #[test]
    fn floats_that_cannot_be_numbers_are_refused() {
        assert!(to_attr(&Value::Double(f64::NAN)).is_err());
        assert_eq!(
            to_attr(&Value::Double(0.1)).unwrap(),
            Some(AttributeValue::N("0.1".into()))
        );
        assert_eq!(
            to_attr(&Value::Null(crate::schema::ColumnType::Int)).unwrap(),
            None
        );
    }
}
