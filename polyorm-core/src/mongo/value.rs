//! [`Value`] → [`Bson`].

use bson::spec::BinarySubtype;
use bson::{Binary, Bson};

use crate::value::Value;

/// The BSON form of a bound value.
///
/// | value | BSON |
/// | --- | --- |
/// | NULL | `null` |
/// | `bool` | boolean |
/// | `i16`, `i32`, `u8`, `u16` | int32 |
/// | `i64`, `u32`, `u64` up to `i64::MAX` | int64 |
/// | `u64` above `i64::MAX` | decimal128 |
/// | `f32`, `f64` | double |
/// | `String`, enums | string |
/// | `Vec<u8>` | binary, generic subtype (0) |
/// | `Uuid` | binary, UUID subtype (4) |
/// | `bson::oid::ObjectId` | ObjectId |
/// | `Decimal` | decimal128 (exact) |
/// | `DateTime<Utc>`, `NaiveDateTime`, `OffsetDateTime`, `PrimitiveDateTime` | datetime (UTC; BSON keeps milliseconds) |
/// | `NaiveDate`, `time::Date` | datetime at midnight UTC |
/// | `NaiveTime`, `time::Time` | string `HH:MM:SS.ffffff` (BSON has no time-of-day type) |
/// | `serde_json::Value`, `Json<T>` | the embedded document, array or scalar |
///
/// A value whose encoding failed (a `Json<T>` whose `Serialize` impl errors) becomes `null`
/// here; the executor never sends one: filters and written values are checked first and
/// fail with [`crate::Error::InvalidQuery`].
pub fn to_bson(value: &Value) -> Bson {
    match value {
        Value::Null(_) | Value::Unencodable(..) => Bson::Null,
        Value::Bool(b) => Bson::Boolean(*b),
        Value::SmallInt(i) => Bson::Int32(i32::from(*i)),
        Value::Int(i) => Bson::Int32(*i),
        Value::BigInt(i) => Bson::Int64(*i),
        Value::BigUnsigned(u) => decimal128(&u.to_string()),
        Value::Float(f) => Bson::Double(f64::from(*f)),
        Value::Double(f) => Bson::Double(*f),
        Value::Text(s) => Bson::String(s.clone()),
        Value::Bytes(bytes) => Bson::Binary(Binary {
            subtype: BinarySubtype::Generic,
            bytes: bytes.clone(),
        }),
        #[cfg(feature = "chrono")]
        Value::ChronoDateTimeUtc(v) => millis(v.timestamp_millis()),
        #[cfg(feature = "chrono")]
        Value::ChronoDateTime(v) => millis(v.and_utc().timestamp_millis()),
        #[cfg(feature = "chrono")]
        Value::ChronoDate(v) => millis(
            v.and_time(chrono::NaiveTime::MIN)
                .and_utc()
                .timestamp_millis(),
        ),
        #[cfg(feature = "chrono")]
        Value::ChronoTime(v) => Bson::String(v.format("%H:%M:%S%.6f").to_string()),
        #[cfg(feature = "time")]
        Value::TimeOffsetDateTime(v) => time_millis(*v),
        #[cfg(feature = "time")]
        Value::TimePrimitiveDateTime(v) => time_millis(v.assume_utc()),
        #[cfg(feature = "time")]
        Value::TimeDate(v) => time_millis(v.midnight().assume_utc()),
        #[cfg(feature = "time")]
        Value::TimeTime(v) => Bson::String(format!(
            "{:02}:{:02}:{:02}.{:06}",
            v.hour(),
            v.minute(),
            v.second(),
            v.microsecond()
        )),
        #[cfg(feature = "uuid")]
        Value::Uuid(v) => Bson::Binary(Binary {
            subtype: BinarySubtype::Uuid,
            bytes: v.as_bytes().to_vec(),
        }),
        #[cfg(feature = "decimal")]
        Value::Decimal(v) => decimal128(&v.to_string()),
        #[cfg(feature = "json")]
        Value::Json(v) => json(v),
        Value::ObjectId(v) => Bson::ObjectId(*v),
    }
}

#[cfg(any(feature = "chrono", feature = "time"))]
fn millis(ms: i64) -> Bson {
    Bson::DateTime(bson::DateTime::from_millis(ms))
}

#[cfg(feature = "time")]
fn time_millis(v: time::OffsetDateTime) -> Bson {
    // Floor (not toward zero), as chrono's `timestamp_millis` does before 1970.
    let ms = v.unix_timestamp_nanos().div_euclid(1_000_000);
    millis(i64::try_from(ms).unwrap_or(if ms < 0 { i64::MIN } else { i64::MAX }))
}

/// An exact decimal128; a number it cannot represent (none that `Decimal` or `u64` produce)
/// falls back to its string form.
fn decimal128(text: &str) -> Bson {
    text.parse::<bson::Decimal128>()
        .map_or_else(|_| Bson::String(text.to_owned()), Bson::Decimal128)
}

#[cfg(feature = "json")]
fn json(value: &serde_json::Value) -> Bson {
    use serde_json::Value as J;
    match value {
        J::Null => Bson::Null,
        J::Bool(b) => Bson::Boolean(*b),
        J::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Bson::Int64(i),
            (None, _) if n.is_u64() => decimal128(&n.to_string()),
            (None, Some(f)) => Bson::Double(f),
            (None, None) => Bson::String(n.to_string()),
        },
        J::String(s) => Bson::String(s.clone()),
        J::Array(items) => Bson::Array(items.iter().map(json).collect()),
        J::Object(map) => Bson::Document(
            map.iter()
                .map(|(k, v)| (escape_json_key(k).into_owned(), json(v)))
                .collect(),
        ),
    }
}

/// The character that marks an escaped key of a JSON document stored on MongoDB: `＄`
/// (U+FF04, FULLWIDTH DOLLAR SIGN).
pub const JSON_KEY_ESCAPE: char = '\u{FF04}';

/// The field name a key of a JSON document (a `serde_json::Value` or `Json<T>` column) is
/// stored under on MongoDB.
///
/// JSON from users is data, but a key that starts with `$` is not, to MongoDB and its tools:
/// `{"$date": …}`, `{"$oid": …}`, `{"$ref": …, "$id": …}` are read as a date, an ObjectId, a
/// DBRef (as extended JSON, by servers and drivers alike), and `$`-fields cannot be matched by
/// a query. So such a key is stored behind [`JSON_KEY_ESCAPE`] (`$date` → `＄$date`), as is a
/// key that already starts with that character (`＄x` → `＄＄x`), and reading removes it:
/// every document reads back equal, filters on a JSON column compare the stored form, and no
/// stored key starts with `$`. (The same rule that keeps `$` out of column names, see
/// `mongo::fields`, applied to data instead of refused.)
pub fn escape_json_key(key: &str) -> std::borrow::Cow<'_, str> {
    if key.starts_with('$') || key.starts_with(JSON_KEY_ESCAPE) {
        std::borrow::Cow::Owned(format!("{JSON_KEY_ESCAPE}{key}"))
    } else {
        std::borrow::Cow::Borrowed(key)
    }
}

/// The JSON key a stored field name stands for (the inverse of [`escape_json_key`]; a name it
/// did not escape is returned as it is).
pub fn unescape_json_key(name: &str) -> &str {
    match name.strip_prefix(JSON_KEY_ESCAPE) {
        Some(rest) if rest.starts_with('$') || rest.starts_with(JSON_KEY_ESCAPE) => rest,
        _ => name,
    }
}

#[cfg(test)]
mod json_key_tests {
    use super::{escape_json_key, unescape_json_key};

    #[test]
    fn dollar_keys_are_escaped_and_every_key_reads_back() {
        assert_eq!(escape_json_key("$date"), "\u{FF04}$date");
        assert_eq!(escape_json_key("a$"), "a$");
        assert_eq!(escape_json_key("\u{FF04}x"), "\u{FF04}\u{FF04}x");
        for key in [
            "",
            "$",
            "$$",
            "$date",
            "$ref",
            "a.b",
            "\u{FF04}",
            "\u{FF04}$x",
            "\u{FF04}\u{FF04}",
            "x\u{FF04}",
            "é",
        ] {
            let stored = escape_json_key(key);
            assert!(!stored.starts_with('$'), "{key:?} → {stored:?}");
            assert_eq!(unescape_json_key(&stored), key, "{key:?} → {stored:?}");
        }
        // A name the ORM did not write keeps its marker.
        assert_eq!(unescape_json_key("\u{FF04}abc"), "\u{FF04}abc");
    }
}
