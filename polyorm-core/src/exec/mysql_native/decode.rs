//! Reading a column of a mysql_async row (binary protocol): each Rust type reads the values
//! the server sends for the column types the sqlx driver reads it from, and nothing else (an
//! integer from an integer column, text from a text column: a text column never parses into
//! a number). Text and bytes are moved out of the row (no copy); other values are read in
//! place.

use std::cell::RefCell;

use mysql_async::consts::{ColumnFlags, ColumnType};
use mysql_async::{Column, Row, Value as My};

use crate::error::{BoxError, Error};
use crate::exec::RowRef;

/// MySQL's character set number of binary strings (`BINARY`, `VARBINARY`, `BLOB`).
const BINARY_CHARSET: u16 = 63;

/// A Rust type the native MySQL/MariaDB driver reads.
pub(crate) trait MyNativeDecode: Sized {
    /// Whether the value is moved out of the row ([`from_my_owned`](Self::from_my_owned))
    /// rather than read in place: text and bytes, whose buffer becomes the `String` or
    /// `Vec<u8>` as it is.
    const TAKES: bool = false;

    /// `value` (never NULL) of a column described by `column`, or why it is not a `Self`.
    fn from_my(value: &My, column: &Column) -> Result<Self, BoxError>;

    /// [`from_my`](Self::from_my) of a value moved out of the row.
    fn from_my_owned(value: My, column: &Column) -> Result<Self, BoxError> {
        Self::from_my(&value, column)
    }
}

/// The column's type as MySQL names it in errors (`VARCHAR`, `BIGINT UNSIGNED`, …).
pub(crate) fn type_name(column: &Column) -> String {
    let name = match column.column_type() {
        ColumnType::MYSQL_TYPE_TINY => "TINYINT",
        ColumnType::MYSQL_TYPE_SHORT => "SMALLINT",
        ColumnType::MYSQL_TYPE_INT24 => "MEDIUMINT",
        ColumnType::MYSQL_TYPE_LONG => "INT",
        ColumnType::MYSQL_TYPE_LONGLONG => "BIGINT",
        ColumnType::MYSQL_TYPE_YEAR => "YEAR",
        ColumnType::MYSQL_TYPE_FLOAT => "FLOAT",
        ColumnType::MYSQL_TYPE_DOUBLE => "DOUBLE",
        ColumnType::MYSQL_TYPE_DECIMAL | ColumnType::MYSQL_TYPE_NEWDECIMAL => "DECIMAL",
        ColumnType::MYSQL_TYPE_DATE | ColumnType::MYSQL_TYPE_NEWDATE => "DATE",
        ColumnType::MYSQL_TYPE_DATETIME | ColumnType::MYSQL_TYPE_DATETIME2 => "DATETIME",
        ColumnType::MYSQL_TYPE_TIMESTAMP | ColumnType::MYSQL_TYPE_TIMESTAMP2 => "TIMESTAMP",
        ColumnType::MYSQL_TYPE_TIME | ColumnType::MYSQL_TYPE_TIME2 => "TIME",
        ColumnType::MYSQL_TYPE_BIT => "BIT",
        ColumnType::MYSQL_TYPE_JSON => "JSON",
        ColumnType::MYSQL_TYPE_ENUM => "ENUM",
        ColumnType::MYSQL_TYPE_SET => "SET",
        ColumnType::MYSQL_TYPE_NULL => "NULL",
        ColumnType::MYSQL_TYPE_GEOMETRY => "GEOMETRY",
        ColumnType::MYSQL_TYPE_TINY_BLOB
        | ColumnType::MYSQL_TYPE_MEDIUM_BLOB
        | ColumnType::MYSQL_TYPE_LONG_BLOB
        | ColumnType::MYSQL_TYPE_BLOB => {
            if is_binary(column) {
                "BLOB"
            } else {
                "TEXT"
            }
        }
        _ => {
            if is_binary(column) {
                "VARBINARY"
            } else {
                "VARCHAR"
            }
        }
    };
    if is_unsigned(column) {
        format!("{name} UNSIGNED")
    } else {
        name.to_owned()
    }
}

fn is_binary(column: &Column) -> bool {
    column.character_set() == BINARY_CHARSET
}

fn is_unsigned(column: &Column) -> bool {
    column.flags().contains(ColumnFlags::UNSIGNED_FLAG)
}

/// Whether the column holds text or bytes (strings, blobs, JSON, ENUM/SET, DECIMAL as text).
fn is_string(column: &Column) -> bool {
    matches!(
        column.column_type(),
        ColumnType::MYSQL_TYPE_VARCHAR
            | ColumnType::MYSQL_TYPE_VAR_STRING
            | ColumnType::MYSQL_TYPE_STRING
            | ColumnType::MYSQL_TYPE_TINY_BLOB
            | ColumnType::MYSQL_TYPE_MEDIUM_BLOB
            | ColumnType::MYSQL_TYPE_LONG_BLOB
            | ColumnType::MYSQL_TYPE_BLOB
            | ColumnType::MYSQL_TYPE_JSON
            | ColumnType::MYSQL_TYPE_ENUM
            | ColumnType::MYSQL_TYPE_SET
    )
}

/// The error for a value of a type `Self` does not read.
fn mismatch(column: &Column) -> BoxError {
    format!("the value is a MySQL `{}`", type_name(column)).into()
}

/// An integer of an integer column (signed or not), as `i128` so every one fits.
fn integer(value: &My, column: &Column) -> Result<i128, BoxError> {
    match value {
        My::Int(i) => Ok(i128::from(*i)),
        My::UInt(u) => Ok(i128::from(*u)),
        _ => Err(mismatch(column)),
    }
}

macro_rules! integers {
    ($($ty:ty),*) => {$(
        impl MyNativeDecode for $ty {
            fn from_my(value: &My, column: &Column) -> Result<Self, BoxError> {
                let wide = integer(value, column)?;
                <$ty>::try_from(wide).map_err(|_| {
                    format!("{wide} is out of range for `{}`", stringify!($ty)).into()
                })
            }
        }
    )*};
}
integers!(i16, i32, i64, u64);

impl MyNativeDecode for bool {
    fn from_my(value: &My, column: &Column) -> Result<Self, BoxError> {
        match value {
            // `BIT(1)`, as bytes.
            My::Bytes(b) if column.column_type() == ColumnType::MYSQL_TYPE_BIT => {
                Ok(b.iter().any(|byte| *byte != 0))
            }
            _ => integer(value, column).map(|i| i != 0),
        }
    }
}

impl MyNativeDecode for f32 {
    fn from_my(value: &My, column: &Column) -> Result<Self, BoxError> {
        match value {
            My::Float(f) => Ok(*f),
            _ => Err(mismatch(column)),
        }
    }
}

impl MyNativeDecode for f64 {
    fn from_my(value: &My, column: &Column) -> Result<Self, BoxError> {
        match value {
            My::Double(f) => Ok(*f),
            My::Float(f) => Ok(f64::from(*f)),
            _ => Err(mismatch(column)),
        }
    }
}

/// The bytes of a string or blob column.
fn bytes<'v>(value: &'v My, column: &Column) -> Result<&'v [u8], BoxError> {
    match value {
        My::Bytes(b) if is_string(column) || column.column_type() == ColumnType::MYSQL_TYPE_BIT => {
            Ok(b)
        }
        // Computed text (`CONCAT(…)`, a literal) and DECIMAL arrive as strings too.
        My::Bytes(b)
            if matches!(
                column.column_type(),
                ColumnType::MYSQL_TYPE_DECIMAL | ColumnType::MYSQL_TYPE_NEWDECIMAL
            ) =>
        {
            Ok(b)
        }
        _ => Err(mismatch(column)),
    }
}

/// Whether `String` reads the column: text, not binary strings.
fn is_text(column: &Column) -> bool {
    !is_binary(column) || column.column_type() == ColumnType::MYSQL_TYPE_JSON
}

impl MyNativeDecode for String {
    const TAKES: bool = true;

    fn from_my(value: &My, column: &Column) -> Result<Self, BoxError> {
        if !is_text(column) {
            return Err(mismatch(column));
        }
        let b = bytes(value, column)?;
        String::from_utf8(b.to_vec()).map_err(|e| format!("the text is not UTF-8: {e}").into())
    }

    fn from_my_owned(value: My, column: &Column) -> Result<Self, BoxError> {
        if !is_text(column) {
            return Err(mismatch(column));
        }
        bytes(&value, column)?;
        let My::Bytes(b) = value else {
            unreachable!("`bytes` accepts only `Value::Bytes`")
        };
        String::from_utf8(b).map_err(|e| format!("the text is not UTF-8: {e}").into())
    }
}

impl MyNativeDecode for Vec<u8> {
    const TAKES: bool = true;

    fn from_my(value: &My, column: &Column) -> Result<Self, BoxError> {
        bytes(value, column).map(<[u8]>::to_vec)
    }

    fn from_my_owned(value: My, column: &Column) -> Result<Self, BoxError> {
        bytes(&value, column)?;
        let My::Bytes(b) = value else {
            unreachable!("`bytes` accepts only `Value::Bytes`")
        };
        Ok(b)
    }
}

#[cfg(feature = "decimal")]
impl MyNativeDecode for rust_decimal::Decimal {
    fn from_my(value: &My, column: &Column) -> Result<Self, BoxError> {
        match value {
            My::Bytes(b) => {
                let text = std::str::from_utf8(b)?;
                text.parse()
                    .map_err(|e| format!("`{text}` is not a decimal: {e}").into())
            }
            My::Int(i) => Ok((*i).into()),
            My::UInt(u) => Ok((*u).into()),
            _ => Err(mismatch(column)),
        }
    }
}

#[cfg(feature = "json")]
impl MyNativeDecode for serde_json::Value {
    fn from_my(value: &My, column: &Column) -> Result<Self, BoxError> {
        Ok(serde_json::from_slice(bytes(value, column)?)?)
    }
}

#[cfg(feature = "uuid")]
impl MyNativeDecode for uuid::Uuid {
    fn from_my(value: &My, column: &Column) -> Result<Self, BoxError> {
        let b = bytes(value, column)?;
        if b.len() == 16 {
            return Ok(uuid::Uuid::from_slice(b)?);
        }
        Ok(uuid::Uuid::try_parse_ascii(b)?)
    }
}

#[cfg(any(feature = "chrono", feature = "time"))]
/// The parts of a `DATE`, `DATETIME` or `TIMESTAMP` value: year, month, day, hour, minute,
/// second, microsecond.
type DateParts = (u16, u8, u8, u8, u8, u8, u32);

#[cfg(any(feature = "chrono", feature = "time"))]
fn date_parts(value: &My, column: &Column) -> Result<DateParts, BoxError> {
    match *value {
        My::Date(0, 0, 0, ..) => {
            Err("the value is MySQL's zero date `0000-00-00`, which is no date".into())
        }
        My::Date(y, mo, d, h, mi, s, us) => Ok((y, mo, d, h, mi, s, us)),
        _ => Err(mismatch(column)),
    }
}

#[cfg(any(feature = "chrono", feature = "time"))]
/// The hours, minutes, seconds and microseconds of a `TIME` that is a time of day.
fn time_of_day(value: &My, column: &Column) -> Result<(u8, u8, u8, u32), BoxError> {
    match *value {
        My::Time(false, 0, h, m, s, us) => Ok((h, m, s, us)),
        My::Time(negative, days, h, ..) => Err(format!(
            "the value is a duration of {}{} hours, not a time of day",
            if negative { "-" } else { "" },
            u32::from(h) + days * 24
        )
        .into()),
        _ => Err(mismatch(column)),
    }
}

#[cfg(any(feature = "chrono", feature = "time"))]
fn is_date_only(column: &Column) -> bool {
    matches!(
        column.column_type(),
        ColumnType::MYSQL_TYPE_DATE | ColumnType::MYSQL_TYPE_NEWDATE
    )
}

#[cfg(feature = "chrono")]
mod chrono_types {
    use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};

    use super::*;

    fn date(y: u16, mo: u8, d: u8) -> Result<NaiveDate, BoxError> {
        NaiveDate::from_ymd_opt(i32::from(y), u32::from(mo), u32::from(d))
            .ok_or_else(|| format!("{y:04}-{mo:02}-{d:02} is no date").into())
    }

    fn time(h: u8, mi: u8, s: u8, us: u32) -> Result<NaiveTime, BoxError> {
        NaiveTime::from_hms_micro_opt(u32::from(h), u32::from(mi), u32::from(s), us)
            .ok_or_else(|| format!("{h:02}:{mi:02}:{s:02}.{us:06} is no time of day").into())
    }

    impl MyNativeDecode for NaiveDateTime {
        fn from_my(value: &My, column: &Column) -> Result<Self, BoxError> {
            let (y, mo, d, h, mi, s, us) = date_parts(value, column)?;
            Ok(date(y, mo, d)?.and_time(time(h, mi, s, us)?))
        }
    }

    /// A `DATETIME` or `TIMESTAMP` read as UTC (the session's time zone is UTC).
    impl MyNativeDecode for DateTime<Utc> {
        fn from_my(value: &My, column: &Column) -> Result<Self, BoxError> {
            NaiveDateTime::from_my(value, column).map(|v| v.and_utc())
        }
    }

    impl MyNativeDecode for NaiveDate {
        fn from_my(value: &My, column: &Column) -> Result<Self, BoxError> {
            if !is_date_only(column) {
                return Err(mismatch(column));
            }
            let (y, mo, d, ..) = date_parts(value, column)?;
            date(y, mo, d)
        }
    }

    impl MyNativeDecode for NaiveTime {
        fn from_my(value: &My, column: &Column) -> Result<Self, BoxError> {
            let (h, mi, s, us) = time_of_day(value, column)?;
            time(h, mi, s, us)
        }
    }
}

#[cfg(feature = "time")]
mod time_types {
    use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

    use super::*;

    fn date(y: u16, mo: u8, d: u8) -> Result<Date, BoxError> {
        Ok(Date::from_calendar_date(
            i32::from(y),
            Month::try_from(mo)?,
            d,
        )?)
    }

    fn time(h: u8, mi: u8, s: u8, us: u32) -> Result<Time, BoxError> {
        Ok(Time::from_hms_micro(h, mi, s, us)?)
    }

    impl MyNativeDecode for PrimitiveDateTime {
        fn from_my(value: &My, column: &Column) -> Result<Self, BoxError> {
            let (y, mo, d, h, mi, s, us) = date_parts(value, column)?;
            Ok(PrimitiveDateTime::new(date(y, mo, d)?, time(h, mi, s, us)?))
        }
    }

    /// A `DATETIME` or `TIMESTAMP` read as UTC (the session's time zone is UTC).
    impl MyNativeDecode for OffsetDateTime {
        fn from_my(value: &My, column: &Column) -> Result<Self, BoxError> {
            PrimitiveDateTime::from_my(value, column).map(PrimitiveDateTime::assume_utc)
        }
    }

    impl MyNativeDecode for Date {
        fn from_my(value: &My, column: &Column) -> Result<Self, BoxError> {
            if !is_date_only(column) {
                return Err(mismatch(column));
            }
            let (y, mo, d, ..) = date_parts(value, column)?;
            date(y, mo, d)
        }
    }

    impl MyNativeDecode for Time {
        fn from_my(value: &My, column: &Column) -> Result<Self, BoxError> {
            let (h, mi, s, us) = time_of_day(value, column)?;
            time(h, mi, s, us)
        }
    }
}

impl RowRef<'_> {
    /// The name of the column at `index` of `row`.
    pub(crate) fn my_column_name(row: &RefCell<Row>, index: usize) -> String {
        row.borrow()
            .columns_ref()
            .get(index)
            .map_or_else(|| format!("#{index}"), |c| c.name_str().into_owned())
    }

    /// The error for a column of `row` that is not there: past the row's end, or moved out
    /// by an earlier read.
    fn my_missing(&self, row: &Row, index: usize, expected: &'static str) -> Error {
        let reason = if index < row.len() {
            "the column was already read (the native MySQL driver moves text and bytes out of \
             the row)"
                .to_owned()
        } else {
            format!("the row has {} columns", row.len())
        };
        self.decode_error(index, expected, reason)
    }

    /// The value and column at `index` of `row`.
    #[inline]
    fn my_value<'r>(
        &self,
        row: &'r Row,
        index: usize,
        expected: &'static str,
    ) -> Result<(&'r My, &'r Column), Error> {
        match (row.as_ref(index), row.columns_ref().get(index)) {
            (Some(value), Some(column)) => Ok((value, column)),
            _ => Err(self.my_missing(row, index, expected)),
        }
    }

    /// Whether the column at `index` of `row` is NULL.
    pub(crate) fn my_is_null(&self, row: &RefCell<Row>, index: usize) -> Result<bool, Error> {
        self.my_value(&row.borrow(), index, "a column")
            .map(|(value, _)| *value == My::NULL)
    }

    /// The column at `index` of `row` as a nullable `T` (moved out of the row where `T`
    /// [takes](MyNativeDecode::TAKES) it).
    #[inline]
    pub(crate) fn my_get<T: MyNativeDecode>(
        &self,
        row: &RefCell<Row>,
        index: usize,
        expected: &'static str,
    ) -> Result<Option<T>, Error> {
        let decoded = if T::TAKES {
            let mut row = row.borrow_mut();
            let Some(value) = row.take::<My, _>(index) else {
                return Err(self.my_missing(&row, index, expected));
            };
            if value == My::NULL {
                return Ok(None);
            }
            let column = &row.columns_ref()[index];
            T::from_my_owned(value, column)
        } else {
            match self.my_value(&row.borrow(), index, expected)? {
                (My::NULL, _) => return Ok(None),
                (value, column) => T::from_my(value, column),
            }
        };
        decoded
            .map(Some)
            .map_err(|reason| self.decode_error(index, expected, reason))
    }

    /// The column at `index` of `row` as an `i64`, whatever integer type holds it.
    pub(crate) fn my_integer(
        &self,
        row: &RefCell<Row>,
        index: usize,
        expected: &'static str,
    ) -> Result<Option<i64>, Error> {
        match self.my_value(&row.borrow(), index, expected)? {
            (My::NULL, _) => Ok(None),
            (My::Int(i), _) => Ok(Some(*i)),
            (My::UInt(u), _) => i64::try_from(*u).map(Some).map_err(|_| {
                self.decode_error(
                    index,
                    expected,
                    format!("{u} is out of range for `{expected}`"),
                )
            }),
            (_, column) => Err(self.decode_error(
                index,
                expected,
                format!(
                    "the value is a MySQL `{}`, not an integer",
                    type_name(column)
                ),
            )),
        }
    }
}
