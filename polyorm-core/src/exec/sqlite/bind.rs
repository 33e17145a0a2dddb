//! Binding the ORM's [`Value`]s to a prepared SQLite statement, in the stored forms
//! `decode` reads back (text and blobs are borrowed, never copied).

use rusqlite::Statement;
use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};

use crate::error::{Error, Result};
use crate::value::Value;

/// Binds `values` to the placeholders of `statement`, in order (inlined into `prepare`, whose
/// loop it is).
#[inline]
pub(crate) fn bind_all(statement: &mut Statement<'_>, values: &[Value]) -> Result<()> {
    let expected = statement.parameter_count();
    if values.len() != expected {
        return Err(Error::InvalidQuery(format!(
            "the statement has {expected} placeholders but {} values were given",
            values.len()
        )));
    }
    for (index, value) in values.iter().enumerate() {
        statement
            .raw_bind_parameter(index + 1, to_sql(value)?)
            .map_err(super::from_rusqlite)?;
    }
    Ok(())
}

/// `value` as SQLite stores it.
fn to_sql(value: &Value) -> Result<ToSqlOutput<'_>> {
    let owned = |v: SqlValue| ToSqlOutput::Owned(v);
    Ok(match value {
        Value::Null(_) => ToSqlOutput::Borrowed(ValueRef::Null),
        Value::Bool(v) => owned(SqlValue::Integer(i64::from(*v))),
        Value::SmallInt(v) => owned(SqlValue::Integer(i64::from(*v))),
        Value::Int(v) => owned(SqlValue::Integer(i64::from(*v))),
        Value::BigInt(v) => owned(SqlValue::Integer(*v)),
        Value::Float(v) => owned(SqlValue::Real(f64::from(*v))),
        Value::Double(v) => owned(SqlValue::Real(*v)),
        Value::Text(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
        Value::Bytes(v) => ToSqlOutput::Borrowed(ValueRef::Blob(v)),
        Value::BigUnsigned(v) => return Err(crate::exec::bind::u64_out_of_range(*v, "SQLite")),
        #[cfg(feature = "chrono")]
        Value::ChronoDateTimeUtc(v) => {
            owned_text(v.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false))
        }
        #[cfg(feature = "chrono")]
        Value::ChronoDateTime(v) => owned_text(v.format("%F %T%.f").to_string()),
        #[cfg(feature = "chrono")]
        Value::ChronoDate(v) => owned_text(v.format("%F").to_string()),
        #[cfg(feature = "chrono")]
        Value::ChronoTime(v) => owned_text(v.format("%T%.f").to_string()),
        #[cfg(feature = "time")]
        Value::TimeOffsetDateTime(v) => owned_text(format_time(
            v,
            &time::format_description::well_known::Rfc3339,
        )?),
        #[cfg(feature = "time")]
        Value::TimePrimitiveDateTime(v) => owned_text(format_time(
            v,
            time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond]"
            ),
        )?),
        #[cfg(feature = "time")]
        Value::TimeDate(v) => owned_text(format_time(
            v,
            time::macros::format_description!("[year]-[month]-[day]"),
        )?),
        #[cfg(feature = "time")]
        Value::TimeTime(v) => owned_text(format_time(
            v,
            time::macros::format_description!("[hour]:[minute]:[second].[subsecond]"),
        )?),
        #[cfg(feature = "uuid")]
        Value::Uuid(v) => ToSqlOutput::Borrowed(ValueRef::Blob(v.as_bytes())),
        // Its 12 bytes, in MongoDB's order.
        #[cfg(feature = "bson")]
        Value::ObjectId(v) => owned(SqlValue::Blob(v.bytes().to_vec())),
        // SQLite keeps decimals as text (exact round trip) and JSON as text.
        #[cfg(feature = "decimal")]
        Value::Decimal(v) => owned_text(v.to_string()),
        #[cfg(feature = "json")]
        Value::Json(v) => owned_text(v.to_string()),
        Value::Unencodable(_, message) => return Err(Error::InvalidQuery(message.clone())),
    })
}

/// Text the statement owns (a formatted value).
#[cfg(any(
    feature = "chrono",
    feature = "time",
    feature = "decimal",
    feature = "json"
))]
fn owned_text(text: String) -> ToSqlOutput<'static> {
    ToSqlOutput::Owned(SqlValue::Text(text))
}

/// A `time` value in `format`; a year outside 0..=9999 has no such text form.
#[cfg(feature = "time")]
fn format_time<T: TimeFormat>(
    value: &T,
    format: &(impl time::formatting::Formattable + ?Sized),
) -> Result<String> {
    value.format_with(format).map_err(|e| Error::OutOfRange {
        column: None,
        source: format!("cannot write the date/time for SQLite: {e}").into(),
    })
}

/// The `format` method the `time` types share.
#[cfg(feature = "time")]
trait TimeFormat {
    fn format_with(
        &self,
        format: &(impl time::formatting::Formattable + ?Sized),
    ) -> std::result::Result<String, time::error::Format>;
}

#[cfg(feature = "time")]
macro_rules! time_format {
    ($($ty:ty),*) => {$(
        impl TimeFormat for $ty {
            fn format_with(
                &self,
                format: &(impl time::formatting::Formattable + ?Sized),
            ) -> std::result::Result<String, time::error::Format> {
                self.format(format)
            }
        }
    )*};
}
#[cfg(feature = "time")]
time_format!(
    time::OffsetDateTime,
    time::PrimitiveDateTime,
    time::Date,
    time::Time
);
