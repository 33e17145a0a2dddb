//! [`SqlType`] for `bson::oid::ObjectId` (feature `bson`): a native ObjectId on MongoDB; its 12
//! bytes elsewhere (PostgreSQL `bytea` and SQLite `BLOB`, each with a 12-byte CHECK, MySQL
//! `BINARY(12)`). The bytes are in MongoDB's order (timestamp first, big-endian), so sorting
//! by an ObjectId column gives the same order on every backend.

use ::bson::oid::ObjectId;

use super::{SqlType, Value};
use crate::error::Error;
use crate::exec::RowRef;
use crate::schema::ColumnType;

impl SqlType for ObjectId {
    const COLUMN_TYPE: ColumnType = ColumnType::ObjectId;

    fn to_value(&self) -> Value {
        Value::ObjectId(*self)
    }

    fn decode_nullable(row: &RowRef<'_>, index: usize) -> Result<Option<Self>, Error> {
        #[cfg(feature = "mongodb")]
        if let Some(value) = row.get_document::<ObjectId>(index, "ObjectId") {
            return value;
        }
        #[cfg(feature = "dynamodb")]
        if let Some(value) = row.get_item::<ObjectId>(index, "ObjectId") {
            return value;
        }
        let Some(bytes) = row.get::<Vec<u8>>(index, "ObjectId")? else {
            return Ok(None);
        };
        match <[u8; 12]>::try_from(bytes.as_slice()) {
            Ok(bytes) => Ok(Some(ObjectId::from_bytes(bytes))),
            Err(_) => Err(row.decode_error(
                index,
                "ObjectId",
                format!(
                    "the column holds {} bytes, but an ObjectId is exactly 12; the value was not \
                     written by the ORM (check the raw SQL or migration that wrote it)",
                    bytes.len()
                ),
            )),
        }
    }
}
