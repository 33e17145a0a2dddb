//! Rows recorded as plain values, so that a result can be kept (in memory or serialized) and
//! decoded again later by the same decoder: the query cache (`polyorm-cache`) stores these.
//!
//! A decoder reads columns through [`RowRef`]; run on [`RowRef::Recording`], every value it
//! reads is captured as a [`Value`] ([`CachedRow::record`]); run on [`RowRef::Cached`], it reads
//! those values back ([`CachedRow::decode`]); run on [`RowRef::Encoded`], it reads them straight
//! from the bytes [`encode_rows`] wrote ([`decode_encoded`]). Each column is recorded as the
//! Rust type the decoder asked for, so the replay takes exactly the same decoding path, on every backend and
//! for every field type (enums, newtypes and `Json<T>` decode through their base types).

use std::sync::Mutex;

use super::{Backend, Decoder, RowRef};
use crate::error::{Error, Result};
use crate::sql::Dialect;
use crate::value::Value;

/// What a decoder read from one column.
#[derive(Debug, Clone, PartialEq)]
pub enum Slot {
    /// The decoder did not read the column.
    Unread,
    /// SQL NULL.
    Null,
    /// Only tested for NULL (`is_null`), and it was not.
    NotNull,
    /// The value read.
    Value(Value),
}

/// One row as the values its decoder read, by column position.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedRow {
    backend: Backend,
    slots: Vec<Slot>,
}

impl CachedRow {
    /// A row of `backend` made of `slots` (column `i` is `slots[i]`).
    pub fn new(backend: Backend, slots: Vec<Slot>) -> Self {
        CachedRow { backend, slots }
    }

    /// The backend the row was read from (decoders branch on it for some types).
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The recorded columns.
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// Runs `decode` on `row`, recording every value it reads; returns the decoded value and
    /// the recorded row.
    pub fn record<T>(
        backend: Backend,
        row: &RowRef<'_>,
        decode: Decoder<T>,
    ) -> Result<(T, CachedRow)> {
        let recorder = RowRecorder::default();
        let value = decode(&RowRef::Recording(row, &recorder))?;
        let slots = recorder
            .slots
            .into_inner()
            .unwrap_or_else(|e| e.into_inner());
        Ok((value, CachedRow { backend, slots }))
    }

    /// Decodes the recorded row again with `decode` (the decoder it was recorded with).
    pub fn decode<T>(&self, decode: Decoder<T>) -> Result<T> {
        decode(&RowRef::Cached(self))
    }

    fn slot(&self, index: usize, expected: &'static str) -> Result<&Slot> {
        match self.slots.get(index) {
            Some(Slot::Unread) | None => Err(not_recorded(index, expected)),
            Some(slot) => Ok(slot),
        }
    }

    pub(crate) fn is_null(&self, index: usize) -> Result<bool> {
        Ok(matches!(self.slot(index, "a column")?, Slot::Null))
    }

    pub(crate) fn get<T: CachedPrimitive>(
        &self,
        index: usize,
        expected: &'static str,
    ) -> Result<Option<T>> {
        match self.slot(index, expected)? {
            Slot::Null => Ok(None),
            Slot::Value(value) => T::from_cached(value)
                .map(Some)
                .ok_or_else(|| Error::Decode {
                    column: format!("#{index}"),
                    index,
                    expected,
                    source: format!("the cached value is a {value:?}").into(),
                }),
            Slot::NotNull | Slot::Unread => Err(not_recorded(index, expected)),
        }
    }
}

fn not_recorded(index: usize, expected: &'static str) -> Error {
    Error::Decode {
        column: format!("#{index}"),
        index,
        expected,
        source: "the cached row holds no value for this column (it was recorded by a decoder \
                 that did not read it); the cache treats this as a miss"
            .into(),
    }
}

/// Collects what a decoder reads through [`RowRef::Recording`].
#[derive(Debug, Default)]
pub struct RowRecorder {
    slots: Mutex<Vec<Slot>>,
}

impl RowRecorder {
    fn put(&self, index: usize, slot: Slot) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if slots.len() <= index {
            slots.resize(index + 1, Slot::Unread);
        }
        // A value already read is worth more than a later NULL test of the same column.
        if !(slot == Slot::NotNull && matches!(slots[index], Slot::Value(_))) {
            slots[index] = slot;
        }
    }

    pub(crate) fn record_nullness(&self, index: usize, null: bool) {
        self.put(index, if null { Slot::Null } else { Slot::NotNull });
    }

    pub(crate) fn record<T: CachedPrimitive>(
        &self,
        index: usize,
        read: Result<Option<T>>,
    ) -> Result<Option<T>> {
        if let Ok(value) = &read {
            let slot = value
                .as_ref()
                .map_or(Slot::Null, |v| Slot::Value(v.to_cached()));
            self.put(index, slot);
        }
        read
    }
}

/// A type a driver decodes directly (the leaves of every decoder), kept in a cached row as a
/// [`Value`].
pub(crate) trait CachedPrimitive: Sized {
    fn to_cached(&self) -> Value;
    fn from_cached(value: &Value) -> Option<Self>;
    /// [`from_cached`](Self::from_cached) of a value read for this call only (moved, not
    /// cloned); the value back when it is not of this type.
    fn from_cached_owned(value: Value) -> std::result::Result<Self, Value> {
        Self::from_cached(&value).ok_or(value)
    }
    /// The value of an encoded slot read straight from its bytes (`tag`, then `body`, the
    /// bytes after the tag), with no [`Value`] in between; `None` when this type has no such
    /// read or the slot is not one of its values (the slot is then read through [`Value`],
    /// which also reports a corrupt one).
    fn from_encoded(tag: u8, body: &[u8]) -> Option<Self> {
        let _ = (tag, body);
        None
    }
}

macro_rules! cached_primitive {
    ($($(#[$cfg:meta])? $ty:ty => $variant:ident $(, $fast:expr)?;)*) => {$(
        $(#[$cfg])?
        impl CachedPrimitive for $ty {
            fn to_cached(&self) -> Value {
                #[allow(clippy::clone_on_copy)]
                Value::$variant(self.clone())
            }
            fn from_cached(value: &Value) -> Option<Self> {
                #[allow(clippy::clone_on_copy)]
                match value {
                    Value::$variant(v) => Some(v.clone()),
                    _ => None,
                }
            }
            fn from_cached_owned(value: Value) -> std::result::Result<Self, Value> {
                match value {
                    Value::$variant(v) => Ok(v),
                    other => Err(other),
                }
            }
            $(
                fn from_encoded(tag: u8, body: &[u8]) -> Option<Self> {
                    #[allow(clippy::redundant_closure_call)]
                    ($fast)(tag, body)
                }
            )?
        }
    )*};
}

cached_primitive! {
    bool => Bool, |tag, body| codec::fixed(tag, codec::BOOL, body).map(|[b]: [u8; 1]| b != 0);
    i16 => SmallInt, |tag, body| codec::fixed(tag, codec::SMALL_INT, body).map(i16::from_le_bytes);
    i32 => Int, |tag, body| codec::fixed(tag, codec::INT, body).map(i32::from_le_bytes);
    i64 => BigInt, |tag, body| codec::fixed(tag, codec::BIG_INT, body).map(i64::from_le_bytes);
    f32 => Float, |tag, body| codec::fixed(tag, codec::FLOAT, body).map(f32::from_le_bytes);
    f64 => Double, |tag, body| codec::fixed(tag, codec::DOUBLE, body).map(f64::from_le_bytes);
    String => Text, codec::text;
    Vec<u8> => Bytes;
    #[cfg(feature = "chrono")] ::chrono::DateTime<::chrono::Utc> => ChronoDateTimeUtc;
    #[cfg(feature = "chrono")] ::chrono::NaiveDateTime => ChronoDateTime;
    #[cfg(feature = "chrono")] ::chrono::NaiveDate => ChronoDate;
    #[cfg(feature = "chrono")] ::chrono::NaiveTime => ChronoTime;
    #[cfg(feature = "time")] ::time::OffsetDateTime => TimeOffsetDateTime;
    #[cfg(feature = "time")] ::time::PrimitiveDateTime => TimePrimitiveDateTime;
    #[cfg(feature = "time")] ::time::Date => TimeDate;
    #[cfg(feature = "time")] ::time::Time => TimeTime;
    #[cfg(feature = "uuid")] ::uuid::Uuid => Uuid;
    #[cfg(feature = "decimal")] ::rust_decimal::Decimal => Decimal;
    #[cfg(feature = "bson")] ::bson::oid::ObjectId => ObjectId;

}

#[cfg(feature = "json")]
impl CachedPrimitive for serde_json::Value {
    fn to_cached(&self) -> Value {
        Value::Json(Box::new(self.clone()))
    }
    fn from_cached(value: &Value) -> Option<Self> {
        match value {
            Value::Json(v) => Some((**v).clone()),
            _ => None,
        }
    }
    fn from_cached_owned(value: Value) -> std::result::Result<Self, Value> {
        match value {
            Value::Json(v) => Ok(*v),
            other => Err(other),
        }
    }
}

// MySQL decodes its unsigned types natively; they are kept as the next wider signed integer.
macro_rules! cached_unsigned {
    ($($ty:ty => $variant:ident($wide:ty);)*) => {$(
        impl CachedPrimitive for $ty {
            fn to_cached(&self) -> Value {
                Value::$variant(<$wide>::from(*self))
            }
            fn from_cached(value: &Value) -> Option<Self> {
                match value {
                    Value::$variant(v) => <$ty>::try_from(*v).ok(),
                    _ => None,
                }
            }
        }
    )*};
}

cached_unsigned! {
    u8 => SmallInt(i16);
    u16 => Int(i32);
    u32 => BigInt(i64);
}

impl CachedPrimitive for u64 {
    fn to_cached(&self) -> Value {
        Value::BigUnsigned(*self)
    }
    fn from_cached(value: &Value) -> Option<Self> {
        match value {
            Value::BigUnsigned(v) => Some(*v),
            Value::BigInt(v) => u64::try_from(*v).ok(),
            _ => None,
        }
    }
}

/// The byte that names a backend in [`encode_rows`].
fn backend_tag(backend: Backend) -> u8 {
    match backend {
        Backend::Sql(Dialect::Postgres) => 1,
        Backend::Sql(Dialect::MySql) => 2,
        Backend::Sql(Dialect::Sqlite) => 3,
        Backend::MongoDb => 4,
        Backend::DynamoDb => 5,
    }
}

fn tag_backend(tag: u8) -> Option<Backend> {
    Some(match tag {
        1 => Backend::Sql(Dialect::Postgres),
        2 => Backend::Sql(Dialect::MySql),
        3 => Backend::Sql(Dialect::Sqlite),
        4 => Backend::MongoDb,
        5 => Backend::DynamoDb,
        _ => return None,
    })
}

mod codec;
#[cfg(all(test, feature = "mongodb", feature = "decimal", feature = "uuid"))]
mod document_tests;
mod key;
mod statement;
pub use codec::{EncodedRow, decode_encoded, decode_rows, encode_rows, encode_value};
pub use key::encode_select;
pub use statement::read_statement;
