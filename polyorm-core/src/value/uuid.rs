//! [`SqlType`] for `uuid::Uuid` (feature `uuid`): PostgreSQL `uuid`, MySQL `BINARY(16)`,
//! SQLite `BLOB` (16 bytes); the byte order is the same everywhere, so ordering agrees.

use ::uuid::Uuid;

use super::{SqlType, Value};
use crate::error::Error;
use crate::exec::RowRef;
use crate::schema::ColumnType;

impl SqlType for Uuid {
    const COLUMN_TYPE: ColumnType = ColumnType::Uuid;

    fn to_value(&self) -> Value {
        Value::Uuid(*self)
    }

    fn decode_nullable(row: &RowRef<'_>, index: usize) -> Result<Option<Self>, Error> {
        #[cfg(feature = "mongodb")]
        if let Some(value) = row.get_document::<Uuid>(index, "Uuid") {
            return value;
        }
        #[cfg(feature = "dynamodb")]
        if let Some(value) = row.get_item::<Uuid>(index, "Uuid") {
            return value;
        }
        row.get::<Uuid>(index, "Uuid")
    }
}
