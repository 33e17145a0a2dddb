//! [`Value`] → [`Bson`].

use bson::spec::BinarySubtype;
use bson::{Binary, Bson};

use crate::value::Value;

/// The BSON form of a bound value.
///
/// NULL → `null`; `bool` → boolean; `i16` and `i32` → int32; `i64` → int64; `f32` and `f64` →
/// double; `String` → string; `Vec<u8>` → binary with the generic subtype (0).
pub fn to_bson(value: &Value) -> Bson {
    match value {
        Value::Null(_) => Bson::Null,
        Value::Bool(b) => Bson::Boolean(*b),
        Value::SmallInt(i) => Bson::Int32(i32::from(*i)),
        Value::Int(i) => Bson::Int32(*i),
        Value::BigInt(i) => Bson::Int64(*i),
        Value::Float(f) => Bson::Double(f64::from(*f)),
        Value::Double(f) => Bson::Double(*f),
        Value::Text(s) => Bson::String(s.clone()),
        Value::Bytes(bytes) => Bson::Binary(Binary {
            subtype: BinarySubtype::Generic,
            bytes: bytes.clone(),
        }),
    }
}
