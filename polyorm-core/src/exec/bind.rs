//! Binding [`Value`]s to sqlx queries, per backend (SQLite binds in `super::sqlite::bind`): each driver encodes the same logical value
//! its own way (a decimal is text on SQLite, JSON is `jsonb` on PostgreSQL and text
//! elsewhere; a `u64` above `i64::MAX` only fits MySQL's `BIGINT UNSIGNED`).

/// The arms every backend shares; `$extra` handles the variants that differ.
macro_rules! bind_backend {
    ($module:ident, $feature:literal, $db:ty, $null:ident, |$q:ident, $value:ident| { $($extra:tt)* }) => {
        #[cfg(feature = $feature)]
        pub(crate) mod $module {
            use sqlx::{Arguments, Database, Encode, Type};

            use crate::error::{Error, Result};
            use crate::schema::ColumnType;
            use crate::value::Value;

            /// The bound values of a statement on this backend, encoded as they are added.
            pub(crate) type Args = <$db as Database>::Arguments;

            /// Encodes `value` as the next parameter in `args`; a value the driver cannot
            /// encode fails as sqlx's `Query::bind` would have failed the statement.
            pub(crate) fn put<'t, T>(args: &mut Args, value: T) -> Result<()>
            where
                T: Encode<'t, $db> + Type<$db>,
            {
                let number = args.len() + 1;
                args.add(value).map_err(|error| {
                    super::super::from_sqlx(sqlx::Error::Encode(
                        format!("Encoding argument ${number} failed: {error}").into(),
                    ))
                })
            }

            /// Binds `value` as the next parameter in `args`, encoded from the borrowed value
            /// (the statement stays whole, so a retry runs it again without compiling anew).
            pub(crate) fn bind_value($q: &mut Args, $value: &Value) -> Result<()> {
                match $value {
                    Value::Bool(v) => put($q, v),
                    Value::SmallInt(v) => put($q, v),
                    Value::Int(v) => put($q, v),
                    Value::BigInt(v) => put($q, v),
                    Value::Float(v) => put($q, v),
                    Value::Double(v) => put($q, v),
                    Value::Text(v) => put($q, v),
                    Value::Bytes(v) => put($q, v),
                    #[cfg(feature = "chrono")]
                    Value::ChronoDateTime(v) => put($q, v),
                    #[cfg(feature = "chrono")]
                    Value::ChronoDate(v) => put($q, v),
                    #[cfg(feature = "chrono")]
                    Value::ChronoTime(v) => put($q, v),
                    #[cfg(feature = "time")]
                    Value::TimePrimitiveDateTime(v) => put($q, v),
                    #[cfg(feature = "time")]
                    Value::TimeDate(v) => put($q, v),
                    #[cfg(feature = "time")]
                    Value::TimeTime(v) => put($q, v),
                    #[cfg(feature = "uuid")]
                    Value::Uuid(v) => put($q, v),
                    // Its 12 bytes, in MongoDB's order.
                    #[cfg(feature = "bson")]
                    Value::ObjectId(v) => put($q, &v.bytes()[..]),
                    Value::Unencodable(_, message) => return Err(Error::InvalidQuery(message.clone())),
                    Value::Null(ty) => match *ty {
                        ColumnType::Bool => put($q, None::<bool>),
                        ColumnType::SmallInt | ColumnType::U8 => put($q, None::<i16>),
                        ColumnType::Int | ColumnType::U16 => put($q, None::<i32>),
                        ColumnType::BigInt | ColumnType::U32 | ColumnType::U64 => {
                            put($q, None::<i64>)
                        }
                        ColumnType::Float => put($q, None::<f32>),
                        ColumnType::Double => put($q, None::<f64>),
                        ColumnType::Text => put($q, None::<String>),
                        ColumnType::Bytes | ColumnType::ObjectId => put($q, None::<Vec<u8>>),
                        #[cfg(feature = "chrono")]
                        ColumnType::TimestampTz => {
                            put($q, None::<chrono::DateTime<chrono::Utc>>)
                        }
                        #[cfg(feature = "chrono")]
                        ColumnType::Timestamp => put($q, None::<chrono::NaiveDateTime>),
                        #[cfg(feature = "chrono")]
                        ColumnType::Date => put($q, None::<chrono::NaiveDate>),
                        #[cfg(feature = "chrono")]
                        ColumnType::Time => put($q, None::<chrono::NaiveTime>),
                        #[cfg(all(feature = "time", not(feature = "chrono")))]
                        ColumnType::TimestampTz => put($q, None::<time::OffsetDateTime>),
                        #[cfg(all(feature = "time", not(feature = "chrono")))]
                        ColumnType::Timestamp => put($q, None::<time::PrimitiveDateTime>),
                        #[cfg(all(feature = "time", not(feature = "chrono")))]
                        ColumnType::Date => put($q, None::<time::Date>),
                        #[cfg(all(feature = "time", not(feature = "chrono")))]
                        ColumnType::Time => put($q, None::<time::Time>),
                        #[cfg(feature = "uuid")]
                        ColumnType::Uuid => put($q, None::<uuid::Uuid>),
                        other => return super::$null(other, $q),
                    },
                    $($extra)*
                }
            }
        }
    };
}

bind_backend!(postgres, "postgres", sqlx::Postgres, postgres_null, |q, value| {
    #[cfg(feature = "chrono")]
    Value::ChronoDateTimeUtc(v) => put(q, v),
    #[cfg(feature = "time")]
    Value::TimeOffsetDateTime(v) => put(q, v),
    #[cfg(feature = "decimal")]
    Value::Decimal(v) => put(q, v),
    // The ORM's own text: floats stay floats through `jsonb`'s `numeric` (see `value/json.rs`).
    #[cfg(feature = "json")]
    Value::Json(v) => put(q,
        serde_json::value::RawValue::from_string(crate::value::postgres_json_text(v)?)
            .map_err(|e| crate::Error::InvalidQuery(format!("cannot write JSON: {e}")))?,
    ),
    Value::BigUnsigned(v) => return Err(super::u64_out_of_range(*v, "PostgreSQL")),
});

bind_backend!(mysql, "mysql", sqlx::MySql, mysql_null, |q, value| {
    // sqlx sends a zoned timestamp as MySQL TIMESTAMP (1970..2038), which the server turns
    // into NULL outside that range: send the UTC wall clock as a DATETIME instead.
    #[cfg(feature = "chrono")]
    Value::ChronoDateTimeUtc(v) => put(q, v.naive_utc()),
    #[cfg(feature = "time")]
    Value::TimeOffsetDateTime(v) => {
        let utc = v.to_offset(time::UtcOffset::UTC);
        put(q, time::PrimitiveDateTime::new(utc.date(), utc.time()))
    }
    #[cfg(feature = "decimal")]
    Value::Decimal(v) => put(q, v),
    #[cfg(feature = "json")]
    Value::Json(v) => put(q, v.to_string()),
    Value::BigUnsigned(v) => put(q, v),
});

/// A typed NULL of a type whose Rust type differs per backend (decimal, JSON).
#[cfg(feature = "postgres")]
fn postgres_null(ty: crate::schema::ColumnType, q: &mut postgres::Args) -> crate::Result<()> {
    #[cfg(any(feature = "decimal", feature = "json"))]
    use crate::schema::ColumnType;
    use postgres::put;
    match ty {
        #[cfg(feature = "decimal")]
        ColumnType::Decimal => put(q, None::<rust_decimal::Decimal>),
        #[cfg(feature = "json")]
        ColumnType::Json => put(q, None::<serde_json::Value>),
        _ => put(q, None::<String>),
    }
}
#[cfg(feature = "mysql")]
fn mysql_null(ty: crate::schema::ColumnType, q: &mut mysql::Args) -> crate::Result<()> {
    #[cfg(feature = "decimal")]
    use crate::schema::ColumnType;
    use mysql::put;
    match ty {
        #[cfg(feature = "decimal")]
        ColumnType::Decimal => put(q, None::<rust_decimal::Decimal>),
        _ => put(q, None::<String>),
    }
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
