//! Binding [`Value`]s on the native PostgreSQL driver: each value declares its PostgreSQL
//! type when the statement is prepared ([`param_type`], the types sqlx declares for the same
//! values, so the server reads a statement alike on both drivers) and is written in that
//! type's binary form ([`Param`]).

use bytes::BytesMut;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use crate::error::{BoxError, Error, Result};
use crate::schema::ColumnType;
use crate::value::Value;

/// The PostgreSQL type `value` is sent as; an error for a value PostgreSQL cannot take (a
/// `u64` above `i64::MAX`, a value whose encoding failed).
pub(super) fn param_type(value: &Value) -> Result<Type> {
    Ok(match value {
        Value::Null(ty) => null_type(*ty),
        Value::Bool(_) => Type::BOOL,
        Value::SmallInt(_) => Type::INT2,
        Value::Int(_) => Type::INT4,
        Value::BigInt(_) => Type::INT8,
        Value::Float(_) => Type::FLOAT4,
        Value::Double(_) => Type::FLOAT8,
        Value::Text(_) => Type::TEXT,
        Value::Bytes(_) => Type::BYTEA,
        Value::BigUnsigned(v) => return Err(crate::exec::bind::u64_out_of_range(*v, "PostgreSQL")),
        #[cfg(feature = "chrono")]
        Value::ChronoDateTimeUtc(_) => Type::TIMESTAMPTZ,
        #[cfg(feature = "chrono")]
        Value::ChronoDateTime(_) => Type::TIMESTAMP,
        #[cfg(feature = "chrono")]
        Value::ChronoDate(_) => Type::DATE,
        #[cfg(feature = "chrono")]
        Value::ChronoTime(_) => Type::TIME,
        #[cfg(feature = "time")]
        Value::TimeOffsetDateTime(_) => Type::TIMESTAMPTZ,
        #[cfg(feature = "time")]
        Value::TimePrimitiveDateTime(_) => Type::TIMESTAMP,
        #[cfg(feature = "time")]
        Value::TimeDate(_) => Type::DATE,
        #[cfg(feature = "time")]
        Value::TimeTime(_) => Type::TIME,
        #[cfg(feature = "uuid")]
        Value::Uuid(_) => Type::UUID,
        #[cfg(feature = "bson")]
        Value::ObjectId(_) => Type::BYTEA,
        #[cfg(feature = "decimal")]
        Value::Decimal(_) => Type::NUMERIC,
        #[cfg(feature = "json")]
        Value::Json(_) => Type::JSONB,
        Value::Unencodable(_, message) => return Err(Error::InvalidQuery(message.clone())),
    })
}

/// The type of a NULL of `ty` (the column type's own PostgreSQL type).
fn null_type(ty: ColumnType) -> Type {
    match ty {
        ColumnType::Bool => Type::BOOL,
        ColumnType::SmallInt | ColumnType::U8 => Type::INT2,
        ColumnType::Int | ColumnType::U16 => Type::INT4,
        ColumnType::BigInt | ColumnType::U32 | ColumnType::U64 => Type::INT8,
        ColumnType::Float => Type::FLOAT4,
        ColumnType::Double => Type::FLOAT8,
        ColumnType::Text => Type::TEXT,
        ColumnType::Bytes | ColumnType::ObjectId => Type::BYTEA,
        ColumnType::TimestampTz => Type::TIMESTAMPTZ,
        ColumnType::Timestamp => Type::TIMESTAMP,
        ColumnType::Date => Type::DATE,
        ColumnType::Time => Type::TIME,
        ColumnType::Uuid => Type::UUID,
        ColumnType::Decimal => Type::NUMERIC,
        ColumnType::Json => Type::JSONB,
    }
}

/// Whether a statement prepared with parameter types `declared` takes `values` as they are.
pub(super) fn declared_for(declared: &[Type], values: &[Value]) -> bool {
    declared.len() == values.len()
        && declared
            .iter()
            .zip(values)
            .all(|(ty, value)| param_type(value).is_ok_and(|own| own == *ty))
}

/// One value, written in the binary form of the type its statement declared for it.
#[derive(Debug)]
pub(super) struct Param<'v>(pub(super) &'v Value);

impl ToSql for Param<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> std::result::Result<IsNull, BoxError> {
        match self.0 {
            Value::Null(_) => Ok(IsNull::Yes),
            Value::Bool(v) => v.to_sql(ty, out),
            Value::SmallInt(v) => v.to_sql(ty, out),
            Value::Int(v) => v.to_sql(ty, out),
            Value::BigInt(v) => v.to_sql(ty, out),
            Value::Float(v) => v.to_sql(ty, out),
            Value::Double(v) => v.to_sql(ty, out),
            Value::Text(v) => v.as_str().to_sql(ty, out),
            Value::Bytes(v) => v.as_slice().to_sql(ty, out),
            #[cfg(feature = "chrono")]
            Value::ChronoDateTimeUtc(v) => v.to_sql(ty, out),
            #[cfg(feature = "chrono")]
            Value::ChronoDateTime(v) => v.to_sql(ty, out),
            #[cfg(feature = "chrono")]
            Value::ChronoDate(v) => v.to_sql(ty, out),
            #[cfg(feature = "chrono")]
            Value::ChronoTime(v) => v.to_sql(ty, out),
            #[cfg(feature = "time")]
            Value::TimeOffsetDateTime(v) => v.to_sql(ty, out),
            #[cfg(feature = "time")]
            Value::TimePrimitiveDateTime(v) => v.to_sql(ty, out),
            #[cfg(feature = "time")]
            Value::TimeDate(v) => v.to_sql(ty, out),
            #[cfg(feature = "time")]
            Value::TimeTime(v) => v.to_sql(ty, out),
            #[cfg(feature = "uuid")]
            Value::Uuid(v) => v.to_sql(ty, out),
            // Its 12 bytes, in MongoDB's order.
            #[cfg(feature = "bson")]
            Value::ObjectId(v) => v.bytes().as_slice().to_sql(ty, out),
            #[cfg(feature = "decimal")]
            Value::Decimal(v) => v.to_sql(ty, out),
            // The ORM's own text: floats stay floats through `jsonb`'s `numeric` (see
            // `value/json.rs`); `jsonb`'s binary form is a version byte and that text.
            #[cfg(feature = "json")]
            Value::Json(v) => {
                use bytes::BufMut;
                if *ty == Type::JSONB {
                    out.put_u8(1);
                }
                out.put_slice(crate::value::postgres_json_text(v)?.as_bytes());
                Ok(IsNull::No)
            }
            Value::BigUnsigned(_) | Value::Unencodable(..) => {
                Err(format!("{:?} cannot be sent to PostgreSQL", self.0).into())
            }
        }
    }

    /// Every type: the statement was prepared with the types the values declare
    /// ([`param_type`]).
    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}
