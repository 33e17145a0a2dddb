//! A MongoDB document read by column position, straight from the driver's raw bytes.

use bson::{RawBsonRef, RawDocument};

use crate::error::{Error, Result};
use crate::mongo::{ID_FIELD, JOINED_FIELD, OUTPUT_FIELDS};
use crate::schema::{ColumnSchema, ModelSchema};

/// A document returned by the MongoDB driver, read as a row by column position.
///
/// For a model ([`DocumentRow::new`]), position `i` is `schema.columns[i]`, read from the
/// field the BSON compiler maps it to (`_id` for the single key, `_id.<col>` in a composite
/// key, the column's name otherwise). For a joined pair ([`DocumentRow::joined`]) the joined
/// model's columns follow, read inside the embedded document [`JOINED_FIELD`]. For a
/// projection ([`DocumentRow::output`]) position `i` is the field
/// [`OUTPUT_FIELDS`]`[i]` of an `aggregate` pipeline's output. A missing field reads as NULL.
/// No intermediate map is built: each read walks the raw document.
#[derive(Clone, Copy)]
pub struct DocumentRow<'r> {
    doc: &'r RawDocument,
    layout: Layout,
}

#[derive(Clone, Copy)]
enum Layout {
    Model(&'static ModelSchema),
    Joined(&'static ModelSchema, &'static ModelSchema),
    Output,
}

/// Where a column of `schema` is in one of its documents.
fn read<'r>(
    doc: &'r RawDocument,
    schema: &ModelSchema,
    col: &ColumnSchema,
) -> bson::error::Result<Option<RawBsonRef<'r>>> {
    match (col.primary_key, schema.primary_key.len() == 1) {
        (true, true) => doc.get(ID_FIELD),
        (true, false) => match doc.get(ID_FIELD)? {
            Some(RawBsonRef::Document(key)) => key.get(col.name),
            _ => Ok(None),
        },
        (false, _) => doc.get(col.name),
    }
}

impl<'r> DocumentRow<'r> {
    /// A row of `schema` over a raw document.
    pub fn new(doc: &'r RawDocument, schema: &'static ModelSchema) -> Self {
        DocumentRow {
            doc,
            layout: Layout::Model(schema),
        }
    }

    /// The whole document.
    pub(crate) fn raw(&self) -> &'r RawDocument {
        self.doc
    }

    /// A row of `model`'s columns followed by `joined`'s, read from the embedded document
    /// [`JOINED_FIELD`] (missing after a left join without a match).
    pub fn joined(
        doc: &'r RawDocument,
        model: &'static ModelSchema,
        joined: &'static ModelSchema,
    ) -> Self {
        DocumentRow {
            doc,
            layout: Layout::Joined(model, joined),
        }
    }

    /// A row of selected values, position `i` in field [`OUTPUT_FIELDS`]`[i]`.
    pub fn output(doc: &'r RawDocument) -> Self {
        DocumentRow {
            doc,
            layout: Layout::Output,
        }
    }

    /// The schema and column at `index`, for a model or joined layout.
    fn column(&self, index: usize) -> Option<(&'static ModelSchema, &'static ColumnSchema)> {
        match self.layout {
            Layout::Model(schema) => Some((schema, schema.columns.get(index)?)),
            Layout::Joined(model, joined) => match model.columns.get(index) {
                Some(col) => Some((model, col)),
                None => Some((joined, joined.columns.get(index - model.columns.len())?)),
            },
            Layout::Output => None,
        }
    }

    /// Name of the column at `index` (for error messages).
    pub fn column_name(&self, index: usize) -> String {
        match (self.layout, self.column(index)) {
            (Layout::Joined(..), Some((schema, col))) => format!("{}.{}", schema.table, col.name),
            (_, Some((_, col))) => col.name.to_owned(),
            (Layout::Output, None) => OUTPUT_FIELDS
                .get(index)
                .map_or_else(|| format!("#{index}"), |f| (*f).to_owned()),
            (_, None) => format!("#{index}"),
        }
    }

    /// The raw value of the column at `index`; `None` when the field is missing or `null`.
    pub fn value(&self, index: usize) -> Result<Option<RawBsonRef<'r>>> {
        let bad = |e: bson::error::Error| self.error(index, "a BSON document", Box::new(e));
        let value = match self.layout {
            Layout::Output => {
                let Some(field) = OUTPUT_FIELDS.get(index) else {
                    return Err(self.error(index, "a value", "no such selected value".into()));
                };
                self.doc.get(field).map_err(bad)?
            }
            Layout::Model(_) | Layout::Joined(..) => {
                let Some((schema, col)) = self.column(index) else {
                    return Err(self.error(
                        index,
                        "a column",
                        "no such column in the model".into(),
                    ));
                };
                match self.layout {
                    Layout::Joined(model, _) if index >= model.columns.len() => {
                        match self.doc.get(JOINED_FIELD).map_err(bad)? {
                            Some(RawBsonRef::Document(joined)) => {
                                read(joined, schema, col).map_err(bad)?
                            }
                            _ => None,
                        }
                    }
                    _ => read(self.doc, schema, col).map_err(bad)?,
                }
            }
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
