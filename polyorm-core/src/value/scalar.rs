//! [`SqlType`] for the built-in scalar types, decoded natively by every SQL driver and from
//! BSON documents on MongoDB.

use super::{SqlType, Value};
use crate::error::Error;
use crate::exec::RowRef;
use crate::schema::ColumnType;

macro_rules! native_sql_type {
    ($($ty:ty => $column:ident, $variant:ident, $encode:expr;)*) => {$(
        impl SqlType for $ty {
            const COLUMN_TYPE: ColumnType = ColumnType::$column;

            fn to_value(&self) -> Value {
                #[allow(clippy::redundant_closure_call, clippy::clone_on_copy)]
                Value::$variant(($encode)(self))
            }

            fn into_value(self) -> Value {
                Value::$variant(self)
            }

            fn decode_nullable(row: &RowRef<'_>, index: usize) -> Result<Option<Self>, Error> {
                // The embedded database's rows first: straight to its decoder, past the
                // checks for recorded, document and item rows (every column of every row).
                #[cfg(feature = "sqlite")]
                if let RowRef::Sqlite(sqlite) = row {
                    return row.decode_sqlite(sqlite, index, stringify!($ty));
                }
                if let Some(value) = row.get_replayed::<$ty>(index, stringify!($ty)) {
                    return value;
                }
                #[cfg(feature = "mongodb")]
                if let Some(value) = row.get_document::<$ty>(index, stringify!($ty)) {
                    return value;
                }
                #[cfg(feature = "dynamodb")]
                if let Some(value) = row.get_item::<$ty>(index, stringify!($ty)) {
                    return value;
                }
                row.get::<$ty>(index, stringify!($ty))
            }
        }
    )*};
}

native_sql_type! {
    bool => Bool, Bool, |v: &bool| *v;
    i16 => SmallInt, SmallInt, |v: &i16| *v;
    i32 => Int, Int, |v: &i32| *v;
    i64 => BigInt, BigInt, |v: &i64| *v;
    f32 => Float, Float, |v: &f32| *v;
    f64 => Double, Double, |v: &f64| *v;
    String => Text, Text, |v: &String| v.clone();
    Vec<u8> => Bytes, Bytes, |v: &Vec<u8>| v.clone();
}
