//! [`FromBson`] for the rich column types, the inverse of [`crate::mongo::to_bson`]: dates
//! from BSON datetimes, times of day from `HH:MM:SS.ffffff` strings, `Uuid` from binary
//! subtype 4, ObjectIds from BSON ObjectIds, `Decimal` and `u64` from decimal128, JSON from
//! embedded documents and arrays.

#[cfg(any(feature = "chrono", feature = "time", feature = "json"))]
use bson::RawBsonRef;

#[allow(unused_imports)]
use super::row::FromBson;
#[allow(unused_imports)]
use bson::spec::BinarySubtype;

/// The milliseconds since the epoch of a BSON datetime.
#[cfg(any(feature = "chrono", feature = "time"))]
fn millis(value: RawBsonRef<'_>) -> Option<i64> {
    value.as_datetime().map(bson::DateTime::timestamp_millis)
}

/// `(hour, minute, second, microsecond)` of a time of day stored as `HH:MM:SS[.ffffff]`.
#[cfg(any(feature = "chrono", feature = "time"))]
fn time_of_day(value: RawBsonRef<'_>) -> Option<(u32, u32, u32, u32)> {
    let text = value.as_str()?;
    let (hms, fraction) = text.split_once('.').unwrap_or((text, ""));
    let mut parts = hms.splitn(3, ':').map(str::parse::<u32>);
    let (h, m, s) = (
        parts.next()?.ok()?,
        parts.next()?.ok()?,
        parts.next()?.ok()?,
    );
    if fraction.len() > 6 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let micros = format!("{fraction:0<6}").parse().ok()?;
    Some((h, m, s, micros))
}

#[cfg(feature = "chrono")]
mod chrono_types {
    use super::{FromBson, RawBsonRef, millis, time_of_day};
    use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};

    impl FromBson for DateTime<Utc> {
        fn from_bson(value: RawBsonRef<'_>) -> Option<Self> {
            DateTime::from_timestamp_millis(millis(value)?)
        }
    }

    impl FromBson for NaiveDateTime {
        fn from_bson(value: RawBsonRef<'_>) -> Option<Self> {
            DateTime::<Utc>::from_bson(value).map(|v| v.naive_utc())
        }
    }

    impl FromBson for NaiveDate {
        fn from_bson(value: RawBsonRef<'_>) -> Option<Self> {
            DateTime::<Utc>::from_bson(value).map(|v| v.date_naive())
        }
    }

    impl FromBson for NaiveTime {
        fn from_bson(value: RawBsonRef<'_>) -> Option<Self> {
            let (h, m, s, us) = time_of_day(value)?;
            NaiveTime::from_hms_micro_opt(h, m, s, us)
        }
    }
}

#[cfg(feature = "time")]
mod time_types {
    use super::{FromBson, RawBsonRef, millis, time_of_day};
    use time::{Date, OffsetDateTime, PrimitiveDateTime, Time};

    impl FromBson for OffsetDateTime {
        fn from_bson(value: RawBsonRef<'_>) -> Option<Self> {
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis(value)?) * 1_000_000).ok()
        }
    }

    impl FromBson for PrimitiveDateTime {
        fn from_bson(value: RawBsonRef<'_>) -> Option<Self> {
            OffsetDateTime::from_bson(value).map(|v| PrimitiveDateTime::new(v.date(), v.time()))
        }
    }

    impl FromBson for Date {
        fn from_bson(value: RawBsonRef<'_>) -> Option<Self> {
            OffsetDateTime::from_bson(value).map(OffsetDateTime::date)
        }
    }

    impl FromBson for Time {
        fn from_bson(value: RawBsonRef<'_>) -> Option<Self> {
            let (h, m, s, us) = time_of_day(value)?;
            Time::from_hms_micro(
                u8::try_from(h).ok()?,
                u8::try_from(m).ok()?,
                u8::try_from(s).ok()?,
                us,
            )
            .ok()
        }
    }
}

impl FromBson for bson::oid::ObjectId {
    /// A BSON ObjectId (how the ORM writes it).
    fn from_bson(value: bson::RawBsonRef<'_>) -> Option<Self> {
        match value {
            bson::RawBsonRef::ObjectId(o) => Some(o),
            _ => None,
        }
    }
}

#[cfg(feature = "uuid")]
impl FromBson for uuid::Uuid {
    /// 16 bytes of binary subtype 4 (the standard UUID subtype, which the ORM writes) or 0
    /// (generic: how the nx-27017 test server returns it).
    fn from_bson(value: bson::RawBsonRef<'_>) -> Option<Self> {
        match value {
            bson::RawBsonRef::Binary(b)
                if matches!(b.subtype, BinarySubtype::Uuid | BinarySubtype::Generic) =>
            {
                uuid::Uuid::from_slice(b.bytes).ok()
            }
            _ => None,
        }
    }
}

/// The decimal128 in `value` as text (`1.50`, `1E-7`).
#[cfg(any(feature = "decimal", feature = "json"))]
fn decimal_text(value: bson::RawBsonRef<'_>) -> Option<String> {
    match value {
        bson::RawBsonRef::Decimal128(d) => Some(d.to_string()),
        _ => None,
    }
}

#[cfg(feature = "decimal")]
impl FromBson for rust_decimal::Decimal {
    /// A decimal128, exactly (its text form, scientific notation included, is parsed).
    fn from_bson(value: bson::RawBsonRef<'_>) -> Option<Self> {
        let text = decimal_text(value)?;
        if text.contains(['E', 'e']) {
            rust_decimal::Decimal::from_scientific(&text).ok()
        } else {
            text.parse().ok()
        }
    }
}

impl FromBson for u64 {
    /// An int32 or int64 that is not negative, or a decimal128 integer above `i64::MAX` (how
    /// [`crate::mongo::to_bson`] stores those).
    fn from_bson(value: bson::RawBsonRef<'_>) -> Option<Self> {
        match value {
            bson::RawBsonRef::Int32(i) => u64::try_from(i).ok(),
            bson::RawBsonRef::Int64(i) => u64::try_from(i).ok(),
            bson::RawBsonRef::Decimal128(d) => d.to_string().parse().ok(),
            _ => None,
        }
    }
}

#[cfg(feature = "json")]
impl FromBson for serde_json::Value {
    /// Documents, arrays, strings, booleans, numbers and nulls, recursively; any other BSON
    /// type (which the ORM never writes into a JSON column) is not JSON and fails to decode.
    fn from_bson(value: RawBsonRef<'_>) -> Option<Self> {
        use serde_json::Value as J;
        Some(match value {
            RawBsonRef::Null | RawBsonRef::Undefined => J::Null,
            RawBsonRef::Boolean(b) => J::Bool(b),
            RawBsonRef::Int32(i) => J::from(i),
            RawBsonRef::Int64(i) => J::from(i),
            RawBsonRef::Double(f) => J::Number(serde_json::Number::from_f64(f)?),
            RawBsonRef::Decimal128(_) => serde_json::from_str(&decimal_text(value)?).ok()?,
            RawBsonRef::String(s) => J::String(s.to_owned()),
            RawBsonRef::Array(items) => J::Array(
                items
                    .into_iter()
                    .map(|item| item.ok().and_then(Self::from_bson))
                    .collect::<Option<_>>()?,
            ),
            RawBsonRef::Document(doc) => J::Object(
                doc.into_iter()
                    .map(|field| {
                        let (key, item) = field.ok()?;
                        let key = crate::mongo::unescape_json_key(key.as_str());
                        Some((key.to_owned(), Self::from_bson(item)?))
                    })
                    .collect::<Option<_>>()?,
            ),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod object_id_tests {
    use super::FromBson;
    use bson::oid::ObjectId;

    #[test]
    fn object_ids_decode_from_bson_object_ids_only() {
        let oid = ObjectId::new();
        let value = crate::mongo::to_bson(&crate::value::Value::ObjectId(oid));
        assert_eq!(value, bson::Bson::ObjectId(oid));
        let doc = bson::rawdoc! {
            "v": bson::RawBson::try_from(value).unwrap(),
            "hex": oid.to_hex(),
            "bin": bson::Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: oid.bytes().to_vec() },
        };
        let get = |key| ObjectId::from_bson(doc.get(key).unwrap().unwrap());
        assert_eq!(get("v"), Some(oid));
        // Its hex text or its bytes are another type: a decode error, not a guess.
        assert_eq!((get("hex"), get("bin")), (None, None));
    }
}

/// What the nx-27017 test server cannot store (decimal128) is checked here without a server:
/// every value goes through [`crate::mongo::to_bson`] and back.
#[cfg(all(test, feature = "decimal"))]
mod tests {
    use super::FromBson;
    use crate::mongo::to_bson;
    use crate::value::Value;
    use rust_decimal::Decimal;

    fn back<T: FromBson>(value: &Value) -> Option<T> {
        let doc = bson::rawdoc! { "v": bson::RawBson::try_from(to_bson(value)).unwrap() };
        T::from_bson(doc.get("v").unwrap().unwrap())
    }

    #[test]
    fn decimals_and_large_u64_round_trip_through_decimal128_exactly() {
        for d in [
            Decimal::ZERO,
            Decimal::new(1, 28),
            Decimal::new(-1, 28),
            Decimal::new(12_300, 4),
            Decimal::from_i128_with_scale(99_999_999_999_999_999_999_999_999, 0),
            Decimal::from_i128_with_scale(-12_345_678_901_234_567_890_123_456, 10),
        ] {
            let got: Decimal = back(&Value::Decimal(d)).expect("a decimal");
            assert_eq!((got, got.scale()), (d, d.scale()), "{d}");
        }
        for u in [0, i64::MAX as u64, i64::MAX as u64 + 1, u64::MAX] {
            let value = crate::value::SqlType::to_value(&u);
            assert_eq!(back::<u64>(&value), Some(u));
        }
        assert_eq!(back::<u64>(&Value::BigInt(-1)), None);
    }
}
