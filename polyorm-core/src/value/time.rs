//! [`SqlType`] for the `time` crate's `OffsetDateTime`, `PrimitiveDateTime`, `Date` and
//! `Time` (feature `time`).
//!
//! An `OffsetDateTime` is stored in UTC (it reads back with a UTC offset, the same instant);
//! every dialect stores microseconds, finer digits are truncated before binding.

use ::time::{Date, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use super::{SqlType, Value};
use crate::error::Error;
use crate::exec::RowRef;
use crate::schema::ColumnType;

fn time_micros(t: Time) -> Time {
    let nanos = t.nanosecond();
    t.replace_nanosecond(nanos - nanos % 1_000).unwrap_or(t)
}

macro_rules! time_sql_type {
    ($($ty:ty => $column:ident, $variant:ident, $name:literal, $encode:expr;)*) => {$(
        impl SqlType for $ty {
            const COLUMN_TYPE: ColumnType = ColumnType::$column;

            fn to_value(&self) -> Value {
                #[allow(clippy::redundant_closure_call)]
                Value::$variant(($encode)(*self))
            }

            fn decode_nullable(row: &RowRef<'_>, index: usize) -> Result<Option<Self>, Error> {
                #[cfg(feature = "mongodb")]
                if let Some(value) = row.get_document::<$ty>(index, $name) {
                    return value;
                }
                #[cfg(feature = "dynamodb")]
                if let Some(value) = row.get_item::<$ty>(index, $name) {
                    return value;
                }
                row.get::<$ty>(index, $name)
            }
        }
    )*};
}

time_sql_type! {
    OffsetDateTime => TimestampTz, TimeOffsetDateTime, "OffsetDateTime",
        |v: OffsetDateTime| {
            let utc = v.to_offset(UtcOffset::UTC);
            utc.replace_time(time_micros(utc.time()))
        };
    PrimitiveDateTime => Timestamp, TimePrimitiveDateTime, "PrimitiveDateTime",
        |v: PrimitiveDateTime| v.replace_time(time_micros(v.time()));
    Date => Date, TimeDate, "time::Date", |d: Date| d;
    Time => Time, TimeTime, "time::Time", time_micros;
}

impl super::DateType for OffsetDateTime {}
impl super::DateType for PrimitiveDateTime {}
impl super::DateType for Date {}

/// `#[orm(default = "2024-01-31")]`: an ISO-8601 date (checked when the model compiles).
impl super::DefaultLiteral<::time::Date> for &'static str {}
