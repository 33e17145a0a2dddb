//! Binding [`Value`]s to sqlx queries, per backend (SQLite binds in `super::sqlite::bind`): each driver encodes the same logical value
//! its own way (a decimal is text on SQLite, JSON is `jsonb` on PostgreSQL and text
//! elsewhere; a `u64` above `i64::MAX` only fits MySQL's `BIGINT UNSIGNED`).

/// The arms every backend shares; `$extra` handles the variants that differ.
macro_rules! bind_backend {
    ($module:ident, $feature:literal, $db:ty, $null:ident, |$q:ident, $value:ident| { $($extra:tt)* }) => {
        #[cfg(feature = $feature)]
        pub(crate) mod $module {
            use sqlx::Database;
            use sqlx::query::Query;

            use crate::error::{Error, Result};
            use crate::schema::ColumnType;
            use crate::value::Value;

            /// A query on this backend.
            pub(crate) type Q = Query<'static, $db, <$db as Database>::Arguments>;

            /// Binds `value` as the next parameter of `q`.
            pub(crate) fn bind_value($q: Q, $value: Value) -> Result<Q> {
                Ok(match $value {
                    Value::Bool(v) => $q.bind(v),
                    Value::SmallInt(v) => $q.bind(v),
                    Value::Int(v) => $q.bind(v),
                    Value::BigInt(v) => $q.bind(v),
                    Value::Float(v) => $q.bind(v),
                    Value::Double(v) => $q.bind(v),
                    Value::Text(v) => $q.bind(v),
                    Value::Bytes(v) => $q.bind(v),
                    #[cfg(feature = "chrono")]
                    Value::ChronoDateTime(v) => $q.bind(v),
                    #[cfg(feature = "chrono")]
                    Value::ChronoDate(v) => $q.bind(v),
                    #[cfg(feature = "chrono")]
                    Value::ChronoTime(v) => $q.bind(v),
                    #[cfg(feature = "time")]
                    Value::TimePrimitiveDateTime(v) => $q.bind(v),
                    #[cfg(feature = "time")]
                    Value::TimeDate(v) => $q.bind(v),
                    #[cfg(feature = "time")]
                    Value::TimeTime(v) => $q.bind(v),
                    #[cfg(feature = "uuid")]
                    Value::Uuid(v) => $q.bind(v),
                    // Its 12 bytes, in MongoDB's order.
                    #[cfg(feature = "bson")]
                    Value::ObjectId(v) => $q.bind(v.bytes().to_vec()),
                    Value::Unencodable(_, message) => return Err(Error::InvalidQuery(message)),
                    Value::Null(ty) => match ty {
                        ColumnType::Bool => $q.bind(None::<bool>),
                        ColumnType::SmallInt | ColumnType::U8 => $q.bind(None::<i16>),
                        ColumnType::Int | ColumnType::U16 => $q.bind(None::<i32>),
                        ColumnType::BigInt | ColumnType::U32 | ColumnType::U64 => {
                            $q.bind(None::<i64>)
                        }
                        ColumnType::Float => $q.bind(None::<f32>),
                        ColumnType::Double => $q.bind(None::<f64>),
                        ColumnType::Text => $q.bind(None::<String>),
                        ColumnType::Bytes | ColumnType::ObjectId => $q.bind(None::<Vec<u8>>),
                        #[cfg(feature = "chrono")]
                        ColumnType::TimestampTz => {
                            $q.bind(None::<chrono::DateTime<chrono::Utc>>)
                        }
                        #[cfg(feature = "chrono")]
                        ColumnType::Timestamp => $q.bind(None::<chrono::NaiveDateTime>),
                        #[cfg(feature = "chrono")]
                        ColumnType::Date => $q.bind(None::<chrono::NaiveDate>),
                        #[cfg(feature = "chrono")]
                        ColumnType::Time => $q.bind(None::<chrono::NaiveTime>),
                        #[cfg(all(feature = "time", not(feature = "chrono")))]
                        ColumnType::TimestampTz => $q.bind(None::<time::OffsetDateTime>),
                        #[cfg(all(feature = "time", not(feature = "chrono")))]
                        ColumnType::Timestamp => $q.bind(None::<time::PrimitiveDateTime>),
                        #[cfg(all(feature = "time", not(feature = "chrono")))]
                        ColumnType::Date => $q.bind(None::<time::Date>),
                        #[cfg(all(feature = "time", not(feature = "chrono")))]
                        ColumnType::Time => $q.bind(None::<time::Time>),
                        #[cfg(feature = "uuid")]
                        ColumnType::Uuid => $q.bind(None::<uuid::Uuid>),
                        other => return super::$null(other, $q),
                    },
                    $($extra)*
                })
            }
        }
    };
}

bind_backend!(postgres, "postgres", sqlx::Postgres, postgres_null, |q, value| {
    #[cfg(feature = "chrono")]
    Value::ChronoDateTimeUtc(v) => q.bind(v),
    #[cfg(feature = "time")]
    Value::TimeOffsetDateTime(v) => q.bind(v),
    #[cfg(feature = "decimal")]
    Value::Decimal(v) => q.bind(v),
    // The ORM's own text: floats stay floats through `jsonb`'s `numeric` (see `value/json.rs`).
    #[cfg(feature = "json")]
    Value::Json(v) => q.bind(
        serde_json::value::RawValue::from_string(crate::value::postgres_json_text(&v)?)
            .map_err(|e| crate::Error::InvalidQuery(format!("cannot write JSON: {e}")))?,
    ),
    Value::BigUnsigned(v) => return Err(super::u64_out_of_range(v, "PostgreSQL")),
});

bind_backend!(mysql, "mysql", sqlx::MySql, mysql_null, |q, value| {
    // sqlx sends a zoned timestamp as MySQL TIMESTAMP (1970..2038), which the server turns
    // into NULL outside that range: send the UTC wall clock as a DATETIME instead.
    #[cfg(feature = "chrono")]
    Value::ChronoDateTimeUtc(v) => q.bind(v.naive_utc()),
    #[cfg(feature = "time")]
    Value::TimeOffsetDateTime(v) => {
        let utc = v.to_offset(time::UtcOffset::UTC);
        q.bind(time::PrimitiveDateTime::new(utc.date(), utc.time()))
    }
    #[cfg(feature = "decimal")]
    Value::Decimal(v) => q.bind(v),
    #[cfg(feature = "json")]
    Value::Json(v) => q.bind(v.to_string()),
    Value::BigUnsigned(v) => q.bind(v),
});

/// A typed NULL of a type whose Rust type differs per backend (decimal, JSON).
#[cfg(feature = "postgres")]
fn postgres_null(ty: crate::schema::ColumnType, q: postgres::Q) -> crate::Result<postgres::Q> {
    #[cfg(any(feature = "decimal", feature = "json"))]
    use crate::schema::ColumnType;
    Ok(match ty {
        #[cfg(feature = "decimal")]
        ColumnType::Decimal => q.bind(None::<rust_decimal::Decimal>),
        #[cfg(feature = "json")]
        ColumnType::Json => q.bind(None::<serde_json::Value>),
        _ => q.bind(None::<String>),
    })
}
#[cfg(feature = "mysql")]
fn mysql_null(ty: crate::schema::ColumnType, q: mysql::Q) -> crate::Result<mysql::Q> {
    #[cfg(feature = "decimal")]
    use crate::schema::ColumnType;
    Ok(match ty {
        #[cfg(feature = "decimal")]
        ColumnType::Decimal => q.bind(None::<rust_decimal::Decimal>),
        _ => q.bind(None::<String>),
    })
}

/// The error for a `u64` above `i64::MAX` on a dialect without unsigned 64-bit integers.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn u64_out_of_range(value: u64, dialect: &str) -> crate::Error {
    crate::Error::OutOfRange {
        column: None,
        source: format!(
            "{value} does not fit the signed 64-bit integers of {dialect}; \
             only MySQL/MariaDB store u64 values above i64::MAX"
        )
        .into(),
    }
}
