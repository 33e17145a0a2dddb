//! A MongoDB document read by column position, straight from the driver's raw bytes.

use bson::{RawBsonRef, RawDocument};

use crate::error::{Error, Result};
use crate::mongo::ID_FIELD;
use crate::schema::{ColumnSchema, ModelSchema};

/// A document returned by the MongoDB driver, read as a row of `schema`'s columns.
///
/// Position `i` is `schema.columns[i]`; its value is read from the field the BSON compiler
/// maps it to (`_id` for the single key, `_id.<col>` in a composite key, the column's name
/// otherwise). A missing field reads as NULL. No intermediate map is built: each read walks
/// the raw document.
#[derive(Clone, Copy)]
pub struct DocumentRow<'r> {
    doc: &'r RawDocument,
    schema: &'static ModelSchema,
}

impl<'r> DocumentRow<'r> {
    /// A row of `schema` over a raw document.
    pub fn new(doc: &'r RawDocument, schema: &'static ModelSchema) -> Self {
        DocumentRow { doc, schema }
    }

    /// The whole document.
    pub(crate) fn raw(&self) -> &'r RawDocument {
        self.doc
    }

    /// The schema column at `index`, if any.
    pub(crate) fn column(&self, index: usize) -> Option<&'static ColumnSchema> {
        self.schema.columns.get(index)
    }

    /// Name of the column at `index` (for error messages).
    pub fn column_name(&self, index: usize) -> String {
        self.column(index)
            .map_or_else(|| format!("#{index}"), |c| c.name.to_owned())
    }

    /// The raw value of the column at `index`; `None` when the field is missing or `null`.
    pub fn value(&self, index: usize) -> Result<Option<RawBsonRef<'r>>> {
        let Some(col) = self.column(index) else {
            return Err(self.error(index, "a column", "no such column in the model".into()));
        };
        let bad = |e: bson::error::Error| self.error(index, "a BSON document", Box::new(e));
        let single_key = self.schema.primary_key.len() == 1;
        let value = match (col.primary_key, single_key) {
            (true, true) => self.doc.get(ID_FIELD).map_err(bad)?,
            (true, false) => match self.doc.get(ID_FIELD).map_err(bad)? {
                Some(RawBsonRef::Document(key)) => key.get(col.name).map_err(bad)?,
                _ => None,
            },
            (false, _) => self.doc.get(col.name).map_err(bad)?,
        };
        Ok(value.filter(|v| !matches!(v, RawBsonRef::Null | RawBsonRef::Undefined)))
    }

    /// Decodes the column at `index` as a nullable `T`.
    pub(crate) fn decode<T: FromBson>(
        &self,
        index: usize,
        expected: &'static str,
    ) -> Result<Option<T>> {
        match self.value(index)? {
            None => Ok(None),
            Some(v) => T::from_bson(v).map(Some).ok_or_else(|| {
                self.error(
                    index,
                    expected,
                    format!("found a BSON {:?}", v.element_type()).into(),
                )
            }),
        }
    }

    fn error(&self, index: usize, expected: &'static str, source: crate::error::BoxError) -> Error {
        Error::Decode {
            column: self.column_name(index),
            index,
            expected,
            source,
        }
    }
}

/// A scalar read from a raw BSON value; `None` when the value has another type (or does not
/// fit).
pub(crate) trait FromBson: Sized {
    /// Converts the value.
    fn from_bson(value: RawBsonRef<'_>) -> Option<Self>;
}

impl FromBson for bool {
    /// A BSON boolean; also an int32 of exactly 0 or 1, which is how the nx-27017 test server
    /// returns a boolean written by `$set` (a real MongoDB keeps the boolean).
    fn from_bson(value: RawBsonRef<'_>) -> Option<Self> {
        match value {
            RawBsonRef::Boolean(b) => Some(b),
            RawBsonRef::Int32(0) => Some(false),
            RawBsonRef::Int32(1) => Some(true),
            _ => None,
        }
    }
}

/// The integer in `value`, from an int32 or an int64 (a server may return a small int64 as an
/// int32; the nx-27017 test server does).
fn integer(value: RawBsonRef<'_>) -> Option<i64> {
    match value {
        RawBsonRef::Int32(i) => Some(i64::from(i)),
        RawBsonRef::Int64(i) => Some(i),
        _ => None,
    }
}

impl FromBson for i16 {
    fn from_bson(value: RawBsonRef<'_>) -> Option<Self> {
        integer(value).and_then(|i| i16::try_from(i).ok())
    }
}

impl FromBson for i32 {
    fn from_bson(value: RawBsonRef<'_>) -> Option<Self> {
        integer(value).and_then(|i| i32::try_from(i).ok())
    }
}

impl FromBson for i64 {
    fn from_bson(value: RawBsonRef<'_>) -> Option<Self> {
        integer(value)
    }
}

impl FromBson for f64 {
    fn from_bson(value: RawBsonRef<'_>) -> Option<Self> {
        value.as_f64()
    }
}

impl FromBson for f32 {
    #[allow(clippy::cast_possible_truncation)]
    fn from_bson(value: RawBsonRef<'_>) -> Option<Self> {
        // Stored as a double that holds the f32 exactly, so the cast is lossless.
        value.as_f64().map(|f| f as f32)
    }
}

impl FromBson for String {
    fn from_bson(value: RawBsonRef<'_>) -> Option<Self> {
        value.as_str().map(str::to_owned)
    }
}

impl FromBson for Vec<u8> {
    fn from_bson(value: RawBsonRef<'_>) -> Option<Self> {
        match value {
            RawBsonRef::Binary(b) => Some(b.bytes.to_vec()),
            _ => None,
        }
    }
}

/// The instant of a BSON date (milliseconds since the epoch, UTC).
#[cfg(feature = "chrono")]
fn bson_instant(value: RawBsonRef<'_>) -> Option<chrono::DateTime<chrono::Utc>> {
    match value {
        RawBsonRef::DateTime(d) => chrono::DateTime::from_timestamp_millis(d.timestamp_millis()),
        _ => None,
    }
}

#[cfg(feature = "chrono")]
impl FromBson for chrono::DateTime<chrono::Utc> {
    fn from_bson(value: RawBsonRef<'_>) -> Option<Self> {
        bson_instant(value)
    }
}

#[cfg(feature = "chrono")]
impl FromBson for chrono::NaiveDateTime {
    fn from_bson(value: RawBsonRef<'_>) -> Option<Self> {
        bson_instant(value).map(|t| t.naive_utc())
    }
}

/// A date is stored as the BSON date of its midnight UTC.
#[cfg(feature = "chrono")]
impl FromBson for chrono::NaiveDate {
    fn from_bson(value: RawBsonRef<'_>) -> Option<Self> {
        bson_instant(value).map(|t| t.date_naive())
    }
}

/// A time of day is stored as `HH:MM:SS.ffffff` text.
#[cfg(feature = "chrono")]
impl FromBson for chrono::NaiveTime {
    fn from_bson(value: RawBsonRef<'_>) -> Option<Self> {
        chrono::NaiveTime::parse_from_str(value.as_str()?, "%H:%M:%S%.f").ok()
    }
}
