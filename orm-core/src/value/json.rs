//! JSON columns (feature `json`): `serde_json::Value` and [`Json<T>`] for any serde type.
//!
//! PostgreSQL `jsonb`, MySQL/MariaDB `JSON`, SQLite `TEXT`.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{SqlType, Value};
use crate::error::Error;
use crate::exec::RowRef;
use crate::schema::ColumnType;

impl SqlType for serde_json::Value {
    const COLUMN_TYPE: ColumnType = ColumnType::Json;

    fn to_value(&self) -> Value {
        Value::Json(Box::new(self.clone()))
    }

    fn into_value(self) -> Value {
        Value::Json(Box::new(self))
    }

    fn decode_nullable(row: &RowRef<'_>, index: usize) -> Result<Option<Self>, Error> {
        #[cfg(feature = "mongodb")]
        if let Some(value) = row.get_document::<serde_json::Value>(index, "serde_json::Value") {
            return value;
        }
        row.get::<serde_json::Value>(index, "serde_json::Value")
    }
}

/// A JSON column holding any `Serialize + DeserializeOwned` type.
///
/// ```
/// # use orm_core::Json;
/// #[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
/// struct Settings { theme: String, font_size: u8 }
///
/// let stored = Json(Settings { theme: "dark".into(), font_size: 14 });
/// assert_eq!(stored.0.font_size, 14);
/// ```
///
/// A value whose `Serialize` impl fails makes the statement fail with
/// [`Error::InvalidQuery`]; a stored document that does not deserialize into `T` is an
/// [`Error::Decode`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    /// The wrapped value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> std::ops::DerefMut for Json<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T> From<T> for Json<T> {
    fn from(value: T) -> Self {
        Json(value)
    }
}

impl<T> SqlType for Json<T>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    const COLUMN_TYPE: ColumnType = ColumnType::Json;

    fn to_value(&self) -> Value {
        match serde_json::to_value(&self.0) {
            Ok(json) => Value::Json(Box::new(json)),
            Err(e) => Value::Unencodable(
                ColumnType::Json,
                format!(
                    "cannot serialize a `{}` to JSON: {e}",
                    std::any::type_name::<T>()
                ),
            ),
        }
    }

    fn decode_nullable(row: &RowRef<'_>, index: usize) -> Result<Option<Self>, Error> {
        <serde_json::Value as SqlType>::decode_nullable(row, index)?
            .map(|json| {
                serde_json::from_value(json).map(Json).map_err(|e| {
                    row.decode_error(
                        index,
                        std::any::type_name::<T>(),
                        format!("stored JSON does not match the type: {e}"),
                    )
                })
            })
            .transpose()
    }
}
