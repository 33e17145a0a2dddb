//! Reading a SQLite value (`sqlite3_column_*`, through rusqlite's [`ValueRef`]) as a Rust
//! type, straight from the statement's current row.
//!
//! The stored forms are those sqlx's SQLite driver wrote before this driver replaced it, so a
//! database written by an earlier version reads back unchanged: dates and times as text
//! (`YYYY-MM-DD HH:MM:SS.ffffff`, RFC 3339 with the offset for zoned timestamps), UUIDs as 16
//! bytes, JSON and decimals as text, booleans as 0/1. Dates and times also read SQLite's own
//! forms (`datetime('now')`, Unix seconds, Julian days), as sqlx's did.

use rusqlite::types::ValueRef;

use crate::error::BoxError;

/// A Rust type read from one SQLite value (never NULL: the caller handles NULL).
pub(crate) trait SqliteDecode: Sized {
    /// Reads `value`, or says why it is not a `Self`.
    fn decode_sqlite(value: ValueRef<'_>) -> Result<Self, BoxError>;
}

/// The storage class of `value`, as SQLite names it.
pub(crate) fn storage_class(value: ValueRef<'_>) -> &'static str {
    match value {
        ValueRef::Null => "NULL",
        ValueRef::Integer(_) => "INTEGER",
        ValueRef::Real(_) => "REAL",
        ValueRef::Text(_) => "TEXT",
        ValueRef::Blob(_) => "BLOB",
    }
}

fn mismatch(value: ValueRef<'_>, wanted: &str) -> BoxError {
    format!("the value is SQLite {}, not {wanted}", storage_class(value)).into()
}

fn integer(value: ValueRef<'_>) -> Result<i64, BoxError> {
    match value {
        ValueRef::Integer(i) => Ok(i),
        other => Err(mismatch(other, "an integer")),
    }
}

/// A TEXT value as `&str`.
pub(crate) fn text(value: ValueRef<'_>) -> Result<&str, BoxError> {
    match value {
        ValueRef::Text(bytes) => Ok(std::str::from_utf8(bytes)?),
        other => Err(mismatch(other, "text")),
    }
}

impl SqliteDecode for i64 {
    fn decode_sqlite(value: ValueRef<'_>) -> Result<Self, BoxError> {
        integer(value)
    }
}

macro_rules! narrow_integer {
    ($($ty:ty),*) => {$(
        impl SqliteDecode for $ty {
            fn decode_sqlite(value: ValueRef<'_>) -> Result<Self, BoxError> {
                let wide = integer(value)?;
                <$ty>::try_from(wide).map_err(|_| {
                    format!("{wide} is out of range for `{}`", stringify!($ty)).into()
                })
            }
        }
    )*};
}
narrow_integer!(i16, i32);

impl SqliteDecode for bool {
    fn decode_sqlite(value: ValueRef<'_>) -> Result<Self, BoxError> {
        Ok(integer(value)? != 0)
    }
}

impl SqliteDecode for f64 {
    fn decode_sqlite(value: ValueRef<'_>) -> Result<Self, BoxError> {
        match value {
            ValueRef::Real(f) => Ok(f),
            // SQLite stores a REAL column's integral values as integers.
            #[allow(clippy::cast_precision_loss)]
            ValueRef::Integer(i) => Ok(i as f64),
            other => Err(mismatch(other, "a number")),
        }
    }
}

impl SqliteDecode for f32 {
    fn decode_sqlite(value: ValueRef<'_>) -> Result<Self, BoxError> {
        // The column holds what an `f32` was widened to: narrowing gives it back.
        #[allow(clippy::cast_possible_truncation)]
        f64::decode_sqlite(value).map(|f| f as f32)
    }
}

impl SqliteDecode for String {
    fn decode_sqlite(value: ValueRef<'_>) -> Result<Self, BoxError> {
        text(value).map(str::to_owned)
    }
}

impl SqliteDecode for Vec<u8> {
    fn decode_sqlite(value: ValueRef<'_>) -> Result<Self, BoxError> {
        match value {
            ValueRef::Blob(bytes) | ValueRef::Text(bytes) => Ok(bytes.to_vec()),
            other => Err(mismatch(other, "a blob")),
        }
    }
}

#[cfg(feature = "uuid")]
impl SqliteDecode for uuid::Uuid {
    fn decode_sqlite(value: ValueRef<'_>) -> Result<Self, BoxError> {
        match value {
            ValueRef::Blob(bytes) => Ok(uuid::Uuid::from_slice(bytes)?),
            ValueRef::Text(_) => Ok(uuid::Uuid::parse_str(text(value)?)?),
            other => Err(mismatch(other, "a UUID (16 bytes)")),
        }
    }
}

#[cfg(feature = "json")]
impl SqliteDecode for serde_json::Value {
    fn decode_sqlite(value: ValueRef<'_>) -> Result<Self, BoxError> {
        match value {
            ValueRef::Text(bytes) | ValueRef::Blob(bytes) => Ok(serde_json::from_slice(bytes)?),
            other => Err(mismatch(other, "JSON text")),
        }
    }
}

#[cfg(feature = "chrono")]
mod chrono_types {
    use chrono::{
        DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc,
    };
    use rusqlite::types::ValueRef;

    use super::{SqliteDecode, mismatch, text};
    use crate::error::BoxError;

    /// The text forms SQLite's date functions and earlier writers use (Diesel's list).
    const DATETIME_FORMATS: &[&str] = &[
        "%F %T%.f",
        "%F %R",
        "%F %RZ",
        "%F %R%:z",
        "%F %T%.fZ",
        "%F %T%.f%:z",
        "%FT%R",
        "%FT%RZ",
        "%FT%R%:z",
        "%FT%T%.f",
        "%FT%T%.fZ",
        "%FT%T%.f%:z",
    ];

    fn datetime(value: ValueRef<'_>) -> Result<DateTime<FixedOffset>, BoxError> {
        let parsed = match value {
            ValueRef::Text(_) => {
                let text = text(value)?;
                DateTime::parse_from_rfc3339(text).ok().or_else(|| {
                    DATETIME_FORMATS.iter().find_map(|format| {
                        DateTime::parse_from_str(text, format).ok().or_else(|| {
                            NaiveDateTime::parse_from_str(text, format)
                                .ok()
                                .map(|dt| Utc.fix().from_utc_datetime(&dt))
                        })
                    })
                })
            }
            // Unix seconds.
            ValueRef::Integer(seconds) => Utc.fix().timestamp_opt(seconds, 0).single(),
            // A Julian day number (`julianday('now')`).
            ValueRef::Real(days) => {
                let seconds = (days - 2_440_587.5) * 86_400.0;
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                seconds
                    .is_finite()
                    .then(|| {
                        Utc.fix().timestamp_opt(
                            seconds.trunc() as i64,
                            (seconds.fract() * 1e9).abs() as u32,
                        )
                    })
                    .and_then(|dt| dt.single())
            }
            other => return Err(mismatch(other, "a date and time")),
        };
        parsed.ok_or_else(|| {
            format!("`{}` is not a date and time", text(value).unwrap_or("?")).into()
        })
    }

    impl SqliteDecode for DateTime<Utc> {
        fn decode_sqlite(value: ValueRef<'_>) -> Result<Self, BoxError> {
            datetime(value).map(|dt| dt.with_timezone(&Utc))
        }
    }

    impl SqliteDecode for NaiveDateTime {
        fn decode_sqlite(value: ValueRef<'_>) -> Result<Self, BoxError> {
            datetime(value).map(|dt| dt.naive_local())
        }
    }

    impl SqliteDecode for NaiveDate {
        fn decode_sqlite(value: ValueRef<'_>) -> Result<Self, BoxError> {
            Ok(NaiveDate::parse_from_str(text(value)?, "%F")?)
        }
    }

    impl SqliteDecode for NaiveTime {
        fn decode_sqlite(value: ValueRef<'_>) -> Result<Self, BoxError> {
            let text = text(value)?;
            ["%T%.f", "%R", "%RZ", "%T%.fZ", "%R%:z", "%T%.f%:z"]
                .iter()
                .find_map(|format| NaiveTime::parse_from_str(text, format).ok())
                .ok_or_else(|| format!("`{text}` is not a time").into())
        }
    }
}

#[cfg(feature = "time")]
mod time_types {
    use rusqlite::types::ValueRef;
    use time::format_description::BorrowedFormatItem;
    use time::format_description::well_known::Rfc3339;
    use time::macros::format_description as fd;
    use time::{Date, OffsetDateTime, PrimitiveDateTime, Time};

    use super::{SqliteDecode, mismatch, text};
    use crate::error::BoxError;

    /// What the ORM writes (`[subsecond]` is as many digits as needed), then the shorter
    /// forms of SQLite's date functions, space- or `T`-separated.
    const DATETIME_FORMATS: &[&[BorrowedFormatItem<'static>]] = &[
        fd!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond]"),
        fd!("[year]-[month]-[day] [hour]:[minute]:[second]"),
        fd!("[year]-[month]-[day] [hour]:[minute]"),
        fd!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond]"),
        fd!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
        fd!("[year]-[month]-[day]T[hour]:[minute]"),
    ];

    const OFFSET_FORMATS: &[&[BorrowedFormatItem<'static>]] = &[
        fd!(
            "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond][offset_hour sign:mandatory]:[offset_minute]"
        ),
        fd!(
            "[year]-[month]-[day] [hour]:[minute]:[second][offset_hour sign:mandatory]:[offset_minute]"
        ),
    ];

    fn primitive(text: &str) -> Option<PrimitiveDateTime> {
        DATETIME_FORMATS
            .iter()
            .find_map(|format| PrimitiveDateTime::parse(text, format).ok())
    }

    impl SqliteDecode for OffsetDateTime {
        fn decode_sqlite(value: ValueRef<'_>) -> Result<Self, BoxError> {
            match value {
                ValueRef::Integer(seconds) => Ok(OffsetDateTime::from_unix_timestamp(seconds)?),
                ValueRef::Text(_) => {
                    let text = text(value)?;
                    OffsetDateTime::parse(text, &Rfc3339)
                        .ok()
                        .or_else(|| {
                            OFFSET_FORMATS
                                .iter()
                                .find_map(|format| OffsetDateTime::parse(text, format).ok())
                        })
                        .or_else(|| primitive(text).map(PrimitiveDateTime::assume_utc))
                        .ok_or_else(|| format!("`{text}` is not a date and time").into())
                }
                other => Err(mismatch(other, "a date and time")),
            }
        }
    }

    impl SqliteDecode for PrimitiveDateTime {
        fn decode_sqlite(value: ValueRef<'_>) -> Result<Self, BoxError> {
            match value {
                ValueRef::Integer(seconds) => {
                    let at = OffsetDateTime::from_unix_timestamp(seconds)?;
                    Ok(PrimitiveDateTime::new(at.date(), at.time()))
                }
                ValueRef::Text(_) => {
                    let text = text(value)?;
                    primitive(text).ok_or_else(|| format!("`{text}` is not a date and time").into())
                }
                other => Err(mismatch(other, "a date and time")),
            }
        }
    }

    impl SqliteDecode for Date {
        fn decode_sqlite(value: ValueRef<'_>) -> Result<Self, BoxError> {
            Ok(Date::parse(text(value)?, fd!("[year]-[month]-[day]"))?)
        }
    }

    impl SqliteDecode for Time {
        fn decode_sqlite(value: ValueRef<'_>) -> Result<Self, BoxError> {
            let text = text(value)?;
            [
                fd!("[hour]:[minute]:[second].[subsecond]"),
                fd!("[hour]:[minute]:[second]"),
                fd!("[hour]:[minute]"),
            ]
            .iter()
            .find_map(|format| Time::parse(text, format).ok())
            .ok_or_else(|| format!("`{text}` is not a time").into())
        }
    }
}
