//! [`SqlType`] for chrono's `DateTime<Utc>`, `NaiveDateTime`, `NaiveDate` and `NaiveTime`
//! (feature `chrono`).
//!
//! Every dialect stores microseconds: finer digits are truncated by the ORM before binding,
//! so a value reads back the same on every dialect.

use ::chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};

use super::{IntoValue, SqlType, Value};
use crate::error::Error;
use crate::exec::RowRef;
use crate::schema::ColumnType;

/// Drops the digits below the microsecond (keeps leap-second nanoseconds in range).
fn micros<T: Timelike>(value: T) -> T {
    let nanos = value.nanosecond();
    value
        .with_nanosecond(nanos - nanos % 1_000)
        .unwrap_or(value)
}

macro_rules! chrono_sql_type {
    ($($ty:ty => $column:ident, $variant:ident, $name:literal, $truncate:expr;)*) => {$(
        impl SqlType for $ty {
            const COLUMN_TYPE: ColumnType = ColumnType::$column;

            fn to_value(&self) -> Value {
                #[allow(clippy::redundant_closure_call)]
                Value::$variant(($truncate)(*self))
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

chrono_sql_type! {
    DateTime<Utc> => TimestampTz, ChronoDateTimeUtc, "DateTime<Utc>", micros;
    NaiveDateTime => Timestamp, ChronoDateTime, "NaiveDateTime", micros;
    NaiveDate => Date, ChronoDate, "NaiveDate", |d: NaiveDate| d;
    NaiveTime => Time, ChronoTime, "NaiveTime", micros;
}

impl super::DateType for DateTime<Utc> {}
impl super::DateType for NaiveDateTime {}
impl super::DateType for NaiveDate {}

// A `DateTime` in another zone compares with a UTC column after conversion.
impl IntoValue<DateTime<Utc>> for DateTime<::chrono::FixedOffset> {
    fn into_value(self) -> Value {
        self.with_timezone(&Utc).to_value()
    }
}

/// `#[orm(default = "2024-01-31")]`: an ISO-8601 date (checked when the model compiles).
impl super::DefaultLiteral<NaiveDate> for &'static str {}
