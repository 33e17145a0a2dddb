//! Conversion between the ORM's [`Value`] and sea-query's value type.

use crate::schema::ColumnType;
use crate::value::Value;

/// Converts an ORM value to a sea-query value (typed NULLs stay typed).
pub(crate) fn to_sea(v: Value) -> sea_query::Value {
    use sea_query::Value as S;
    match v {
        Value::Bool(b) => S::Bool(Some(b)),
        Value::SmallInt(i) => S::SmallInt(Some(i)),
        Value::Int(i) => S::Int(Some(i)),
        Value::BigInt(i) => S::BigInt(Some(i)),
        Value::BigUnsigned(u) => S::BigUnsigned(Some(u)),
        Value::Float(f) => S::Float(Some(f)),
        Value::Double(f) => S::Double(Some(f)),
        Value::Text(s) => S::String(Some(s)),
        Value::Bytes(b) => S::Bytes(Some(b)),
        #[cfg(feature = "chrono")]
        Value::ChronoDateTimeUtc(v) => S::ChronoDateTimeUtc(Some(v)),
        #[cfg(feature = "chrono")]
        Value::ChronoDateTime(v) => S::ChronoDateTime(Some(v)),
        #[cfg(feature = "chrono")]
        Value::ChronoDate(v) => S::ChronoDate(Some(v)),
        #[cfg(feature = "chrono")]
        Value::ChronoTime(v) => S::ChronoTime(Some(v)),
        #[cfg(feature = "time")]
        Value::TimeOffsetDateTime(v) => S::TimeDateTimeWithTimeZone(Some(v)),
        #[cfg(feature = "time")]
        Value::TimePrimitiveDateTime(v) => S::TimeDateTime(Some(v)),
        #[cfg(feature = "time")]
        Value::TimeDate(v) => S::TimeDate(Some(v)),
        #[cfg(feature = "time")]
        Value::TimeTime(v) => S::TimeTime(Some(v)),
        #[cfg(feature = "uuid")]
        Value::Uuid(v) => S::Uuid(Some(v)),
        #[cfg(feature = "bson")]
        Value::ObjectId(v) => S::Bytes(Some(v.bytes().to_vec())),
        #[cfg(feature = "decimal")]
        Value::Decimal(v) => S::Decimal(Some(v)),
        #[cfg(feature = "json")]
        Value::Json(v) => S::Json(Some(v)),
        // Rejected by `fit::check` before any statement is built; a typed NULL keeps the
        // conversion total.
        Value::Unencodable(ty, _) | Value::Null(ty) => null(ty),
    }
}

/// A typed sea-query NULL for `ty`.
fn null(ty: ColumnType) -> sea_query::Value {
    use sea_query::Value as S;
    match ty {
        ColumnType::Bool => S::Bool(None),
        ColumnType::SmallInt | ColumnType::U8 => S::SmallInt(None),
        ColumnType::Int | ColumnType::U16 => S::Int(None),
        ColumnType::BigInt | ColumnType::U32 => S::BigInt(None),
        ColumnType::U64 => S::BigUnsigned(None),
        ColumnType::Float => S::Float(None),
        ColumnType::Double => S::Double(None),
        ColumnType::Text => S::String(None),
        ColumnType::Bytes | ColumnType::ObjectId => S::Bytes(None),
        #[cfg(feature = "chrono")]
        ColumnType::TimestampTz => S::ChronoDateTimeUtc(None),
        #[cfg(feature = "chrono")]
        ColumnType::Timestamp => S::ChronoDateTime(None),
        #[cfg(feature = "chrono")]
        ColumnType::Date => S::ChronoDate(None),
        #[cfg(feature = "chrono")]
        ColumnType::Time => S::ChronoTime(None),
        #[cfg(all(feature = "time", not(feature = "chrono")))]
        ColumnType::TimestampTz => S::TimeDateTimeWithTimeZone(None),
        #[cfg(all(feature = "time", not(feature = "chrono")))]
        ColumnType::Timestamp => S::TimeDateTime(None),
        #[cfg(all(feature = "time", not(feature = "chrono")))]
        ColumnType::Date => S::TimeDate(None),
        #[cfg(all(feature = "time", not(feature = "chrono")))]
        ColumnType::Time => S::TimeTime(None),
        #[cfg(feature = "uuid")]
        ColumnType::Uuid => S::Uuid(None),
        #[cfg(feature = "decimal")]
        ColumnType::Decimal => S::Decimal(None),
        #[cfg(feature = "json")]
        ColumnType::Json => S::Json(None),
        // A type whose feature is off has no values; its NULL travels as text.
        #[allow(unreachable_patterns)]
        _ => S::String(None),
    }
}

/// Converts a value sea-query collected while building back to an ORM value.
///
/// Only the variants [`to_sea`] produces, plus the unsigned integers sea-query uses for
/// `LIMIT`/`OFFSET`, can occur.
pub(crate) fn from_sea(v: sea_query::Value) -> Value {
    use sea_query::Value as S;
    fn opt<T>(v: Option<T>, ty: ColumnType, f: impl FnOnce(T) -> Value) -> Value {
        v.map_or(Value::Null(ty), f)
    }
    let unsigned = |u: u64| i64::try_from(u).map_or(Value::BigUnsigned(u), Value::BigInt);
    match v {
        S::Bool(b) => opt(b, ColumnType::Bool, Value::Bool),
        S::TinyInt(i) => opt(i, ColumnType::SmallInt, |i| Value::SmallInt(i.into())),
        S::SmallInt(i) => opt(i, ColumnType::SmallInt, Value::SmallInt),
        S::Int(i) => opt(i, ColumnType::Int, Value::Int),
        S::BigInt(i) => opt(i, ColumnType::BigInt, Value::BigInt),
        S::TinyUnsigned(u) => opt(u, ColumnType::SmallInt, |u| Value::SmallInt(u.into())),
        S::SmallUnsigned(u) => opt(u, ColumnType::Int, |u| Value::Int(u.into())),
        S::Unsigned(u) => opt(u, ColumnType::BigInt, |u| Value::BigInt(u.into())),
        S::BigUnsigned(u) => opt(u, ColumnType::U64, unsigned),
        S::Float(f) => opt(f, ColumnType::Float, Value::Float),
        S::Double(f) => opt(f, ColumnType::Double, Value::Double),
        S::String(s) => opt(s, ColumnType::Text, Value::Text),
        S::Char(c) => opt(c, ColumnType::Text, |c| Value::Text(c.to_string())),
        S::Bytes(b) => opt(b, ColumnType::Bytes, Value::Bytes),
        #[cfg(feature = "chrono")]
        S::ChronoDateTimeUtc(v) => opt(v, ColumnType::TimestampTz, Value::ChronoDateTimeUtc),
        #[cfg(feature = "chrono")]
        S::ChronoDateTime(v) => opt(v, ColumnType::Timestamp, Value::ChronoDateTime),
        #[cfg(feature = "chrono")]
        S::ChronoDate(v) => opt(v, ColumnType::Date, Value::ChronoDate),
        #[cfg(feature = "chrono")]
        S::ChronoTime(v) => opt(v, ColumnType::Time, Value::ChronoTime),
        #[cfg(feature = "time")]
        S::TimeDateTimeWithTimeZone(v) => {
            opt(v, ColumnType::TimestampTz, Value::TimeOffsetDateTime)
        }
        #[cfg(feature = "time")]
        S::TimeDateTime(v) => opt(v, ColumnType::Timestamp, Value::TimePrimitiveDateTime),
        #[cfg(feature = "time")]
        S::TimeDate(v) => opt(v, ColumnType::Date, Value::TimeDate),
        #[cfg(feature = "time")]
        S::TimeTime(v) => opt(v, ColumnType::Time, Value::TimeTime),
        #[cfg(feature = "uuid")]
        S::Uuid(v) => opt(v, ColumnType::Uuid, Value::Uuid),
        #[cfg(feature = "decimal")]
        S::Decimal(v) => opt(v, ColumnType::Decimal, Value::Decimal),
        #[cfg(feature = "json")]
        S::Json(v) => opt(v, ColumnType::Json, Value::Json),
        other => unreachable!("the SQL compiler never emits {other:?}"),
    }
}
