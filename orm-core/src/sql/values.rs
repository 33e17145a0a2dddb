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
        Value::Float(f) => S::Float(Some(f)),
        Value::Double(f) => S::Double(Some(f)),
        Value::Text(s) => S::String(Some(s)),
        Value::Bytes(b) => S::Bytes(Some(b)),
        Value::Null(ty) => match ty {
            ColumnType::Bool => S::Bool(None),
            ColumnType::SmallInt => S::SmallInt(None),
            ColumnType::Int => S::Int(None),
            ColumnType::BigInt => S::BigInt(None),
            ColumnType::Float => S::Float(None),
            ColumnType::Double => S::Double(None),
            ColumnType::Text => S::String(None),
            ColumnType::Bytes => S::Bytes(None),
        },
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
    let clamp = |u: u64| i64::try_from(u).unwrap_or(i64::MAX);
    match v {
        S::Bool(b) => opt(b, ColumnType::Bool, Value::Bool),
        S::TinyInt(i) => opt(i, ColumnType::SmallInt, |i| Value::SmallInt(i.into())),
        S::SmallInt(i) => opt(i, ColumnType::SmallInt, Value::SmallInt),
        S::Int(i) => opt(i, ColumnType::Int, Value::Int),
        S::BigInt(i) => opt(i, ColumnType::BigInt, Value::BigInt),
        S::TinyUnsigned(u) => opt(u, ColumnType::SmallInt, |u| Value::SmallInt(u.into())),
        S::SmallUnsigned(u) => opt(u, ColumnType::Int, |u| Value::Int(u.into())),
        S::Unsigned(u) => opt(u, ColumnType::BigInt, |u| Value::BigInt(u.into())),
        S::BigUnsigned(u) => opt(u, ColumnType::BigInt, |u| Value::BigInt(clamp(u))),
        S::Float(f) => opt(f, ColumnType::Float, Value::Float),
        S::Double(f) => opt(f, ColumnType::Double, Value::Double),
        S::String(s) => opt(s, ColumnType::Text, Value::Text),
        S::Char(c) => opt(c, ColumnType::Text, |c| Value::Text(c.to_string())),
        S::Bytes(b) => opt(b, ColumnType::Bytes, Value::Bytes),
        other => unreachable!("the SQL compiler never emits {other:?}"),
    }
}
