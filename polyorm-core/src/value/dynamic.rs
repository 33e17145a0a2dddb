//! [`decode_column`]: a column read as the [`ColumnType`] a schema gives it, and
//! [`decode_columns`], a row of a model read so, for code that knows its rows only at run
//! time (backups, the audit's before values).

use super::{SqlType, Value};
use crate::error::Error;
use crate::exec::RowRef;
use crate::schema::{ColumnType, ModelSchema};

fn read<T: SqlType>(row: &RowRef<'_>, index: usize, ty: ColumnType) -> Result<Value, Error> {
    Ok(match T::decode_nullable(row, index)? {
        Some(v) => v.into_value(),
        None => Value::Null(ty),
    })
}

/// The column at `index` of `row`, decoded as the logical type `ty` says (`NULL` as
/// [`Value::Null`]).
///
/// # Errors
/// [`Error::Decode`] when the column does not hold a `ty`, or when `ty` needs a feature of
/// this crate that is off (`chrono` for dates and times, `uuid`, `decimal`, `json`, `bson`
/// for ObjectIds).
pub fn decode_column(row: &RowRef<'_>, index: usize, ty: ColumnType) -> Result<Value, Error> {
    #[allow(unreachable_patterns)]
    match ty {
        ColumnType::Bool => read::<bool>(row, index, ty),
        ColumnType::SmallInt => read::<i16>(row, index, ty),
        ColumnType::Int => read::<i32>(row, index, ty),
        ColumnType::BigInt => read::<i64>(row, index, ty),
        ColumnType::Float => read::<f32>(row, index, ty),
        ColumnType::Double => read::<f64>(row, index, ty),
        ColumnType::Text => read::<String>(row, index, ty),
        ColumnType::Bytes => read::<Vec<u8>>(row, index, ty),
        ColumnType::U8 => read::<u8>(row, index, ty),
        ColumnType::U16 => read::<u16>(row, index, ty),
        ColumnType::U32 => read::<u32>(row, index, ty),
        ColumnType::U64 => read::<u64>(row, index, ty),
        #[cfg(feature = "chrono")]
        ColumnType::TimestampTz => read::<::chrono::DateTime<::chrono::Utc>>(row, index, ty),
        #[cfg(feature = "chrono")]
        ColumnType::Timestamp => read::<::chrono::NaiveDateTime>(row, index, ty),
        #[cfg(feature = "chrono")]
        ColumnType::Date => read::<::chrono::NaiveDate>(row, index, ty),
        #[cfg(feature = "chrono")]
        ColumnType::Time => read::<::chrono::NaiveTime>(row, index, ty),
        #[cfg(feature = "uuid")]
        ColumnType::Uuid => read::<::uuid::Uuid>(row, index, ty),
        #[cfg(feature = "bson")]
        ColumnType::ObjectId => read::<::bson::oid::ObjectId>(row, index, ty),
        #[cfg(feature = "decimal")]
        ColumnType::Decimal => read::<::rust_decimal::Decimal>(row, index, ty),
        #[cfg(feature = "json")]
        ColumnType::Json => read::<::serde_json::Value>(row, index, ty),
        other => Err(row.decode_error(
            index,
            other.rust_name(),
            "reading this column type needs its polyorm-core feature (`chrono` for dates and \
             times, `uuid`, `decimal`, `json`, `bson` for ObjectIds)",
        )),
    }
}

/// Every column of `row`, a row of `schema` selected whole (in schema order), decoded by
/// [`decode_column`].
///
/// # Errors
/// As [`decode_column`], for the first column that fails.
pub fn decode_columns(row: &RowRef<'_>, schema: &ModelSchema) -> Result<Vec<Value>, Error> {
    schema
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| decode_column(row, i, c.ty))
        .collect()
}
