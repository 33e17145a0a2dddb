//! [`Blob`]: the column type that points a model's row at an object in a store.

use polyorm_core::schema::ColumnType;
use polyorm_core::{Error, RowRef, SqlType, Value};
use serde::{Deserialize, Serialize};

/// A stored object, as a model field: which store and key, and what was uploaded.
///
/// It is a JSON column on every SQL backend (PostgreSQL `jsonb`, MySQL/MariaDB `JSON`, SQLite
/// `TEXT`) and an embedded document on MongoDB, through the same machinery as
/// `polyorm::Json<T>`; `Option<Blob>` is a nullable column. Get one from
/// [`Storage::upload`](crate::Storage::upload), never by hand: the hash and size are checked
/// on download.
///
/// ```
/// # use polyorm_storage::Blob;
/// let json = r#"{"store":"avatars","key":"u/1.png","size":3,"content_type":"image/png",
///   "sha256":"039058c6f2c0cb492c533b0a4d14ef77cc0f78abccced5287d84a1a2011cfb81","etag":null}"#;
/// let blob: Blob = serde_json::from_str(json).unwrap();
/// assert_eq!(blob.size, 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Blob {
    /// The name of the store in the [`Storage`](crate::Storage) that holds the object.
    pub store: String,
    /// The object's key, relative to the store's prefix.
    pub key: String,
    /// Size of the content in bytes (before compression and encryption).
    pub size: u64,
    /// MIME type of the content (`application/octet-stream` when none was given).
    pub content_type: String,
    /// SHA-256 of the content (before compression and encryption), lowercase hex.
    pub sha256: String,
    /// The store's ETag of the object, when it gives one.
    pub etag: Option<String>,
    /// Whether the object may be served from the store's public base URL
    /// ([`Storage::public_url`](crate::Storage::public_url)).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub public: bool,
    /// Compression of the stored bytes: `Some("zstd")` or `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    /// Id of the AES-256-GCM key the stored bytes are encrypted with, `None` when not
    /// encrypted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// Size of the object in the store (differs from `size` when compressed or encrypted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored_size: Option<u64>,
}

impl Blob {
    /// Whether the stored bytes are the content as uploaded (neither compressed nor encrypted),
    /// so that ranged reads and presigned URLs see the content itself.
    pub fn is_plain(&self) -> bool {
        self.compression.is_none() && self.key_id.is_none()
    }
}

impl SqlType for Blob {
    const COLUMN_TYPE: ColumnType = ColumnType::Json;

    fn to_value(&self) -> Value {
        match serde_json::to_value(self) {
            Ok(json) => Value::Json(Box::new(json)),
            // Strings and integers always serialize; kept for completeness of the mapping.
            Err(e) => Value::Unencodable(ColumnType::Json, format!("cannot encode a Blob: {e}")),
        }
    }

    fn decode_nullable(row: &RowRef<'_>, index: usize) -> Result<Option<Self>, Error> {
        <serde_json::Value as SqlType>::decode_nullable(row, index)?
            .map(|json| {
                serde_json::from_value(json).map_err(|e| {
                    row.decode_error(
                        index,
                        "polyorm_storage::Blob",
                        format!("the column does not hold a blob description: {e}"),
                    )
                })
            })
            .transpose()
    }
}
