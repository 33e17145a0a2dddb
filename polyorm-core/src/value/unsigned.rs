//! [`SqlType`] for `u8`, `u16`, `u32` and `u64`.
//!
//! MySQL/MariaDB store them in their `UNSIGNED` integer types. PostgreSQL and SQLite have no
//! unsigned types: `u8`/`u16`/`u32` use the next wider signed type with a CHECK of the range
//! (named `ck_<table>_<col>_range`), and `u64` is refused when the table is created
//! ([`crate::Error::Schema`]) because no signed type holds all of it.

use super::{SqlType, Value};
use crate::error::Error;
use crate::exec::RowRef;
use crate::schema::ColumnType;

macro_rules! unsigned_sql_type {
    ($($ty:ty => $column:ident, $variant:ident, $wide:ty;)*) => {$(
        impl SqlType for $ty {
            const COLUMN_TYPE: ColumnType = ColumnType::$column;

            fn to_value(&self) -> Value {
                Value::$variant(<$wide>::from(*self))
            }

            fn decode_nullable(row: &RowRef<'_>, index: usize) -> Result<Option<Self>, Error> {
                row.get_integer(index, stringify!($ty))?
                    .map(|wide| {
                        <$ty>::try_from(wide).map_err(|_| {
                            row.decode_error(
                                index,
                                stringify!($ty),
                                format!(
                                    "{wide} is out of range for `{}` (0..={})",
                                    stringify!($ty),
                                    <$ty>::MAX
                                ),
                            )
                        })
                    })
                    .transpose()
            }
        }
    )*};
}

unsigned_sql_type! {
    u8 => U8, SmallInt, i16;
    u16 => U16, Int, i32;
    u32 => U32, BigInt, i64;
}

impl SqlType for u64 {
    const COLUMN_TYPE: ColumnType = ColumnType::U64;

    fn to_value(&self) -> Value {
        i64::try_from(*self).map_or(Value::BigUnsigned(*self), Value::BigInt)
    }

    fn decode_nullable(row: &RowRef<'_>, index: usize) -> Result<Option<Self>, Error> {
        #[cfg(feature = "mysql")]
        if let Some(value) = row.get_mysql::<u64>(index, "u64") {
            return value;
        }
        #[cfg(feature = "mongodb")]
        if let Some(value) = row.get_document::<u64>(index, "u64") {
            return value;
        }
        #[cfg(feature = "dynamodb")]
        if let Some(value) = row.get_item::<u64>(index, "u64") {
            return value;
        }
        row.get::<i64>(index, "u64")?
            .map(|wide| {
                u64::try_from(wide).map_err(|_| {
                    row.decode_error(index, "u64", format!("{wide} is out of range for `u64`"))
                })
            })
            .transpose()
    }
}
