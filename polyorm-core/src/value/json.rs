//! JSON columns (feature `json`): `serde_json::Value` and [`Json<T>`] for any serde type.
//!
//! PostgreSQL `jsonb`, MySQL/MariaDB `JSON`, SQLite `TEXT`.
//!
//! Every value reads back equal on every backend. PostgreSQL needs care: `jsonb` keeps numbers
//! as `numeric` and prints them in plain notation, so the float `1e16` (serde_json writes
//! `1e16`) would come back as the integer `10000000000000000`, and `1.7976931348623157e308` as a
//! 309-digit integer. [`postgres_text`] writes floats in plain notation with a fractional part
//! (`10000000000000000.0`), which `numeric` keeps and prints back, and serde_json's
//! `float_roundtrip` reads every such number back as the same `f64`.

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
        #[cfg(feature = "dynamodb")]
        if let Some(value) = row.get_item::<serde_json::Value>(index, "serde_json::Value") {
            return value;
        }
        row.get::<serde_json::Value>(index, "serde_json::Value")
    }
}

/// A JSON column holding any `Serialize + DeserializeOwned` type.
///
/// ```
/// # use polyorm_core::Json;
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

/// `json` as the text sent to PostgreSQL: serde_json's output, except that every float is
/// written in plain notation with a fractional part (`1e16` → `10000000000000000.0`,
/// `5e-324` → `0.000…05`), so that `jsonb`'s `numeric` keeps it a float.
#[cfg(feature = "postgres")]
pub(crate) fn postgres_text(json: &serde_json::Value) -> Result<String, Error> {
    let mut out = Vec::with_capacity(128);
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, PlainFloats);
    json.serialize(&mut serializer)
        .map_err(|e| Error::InvalidQuery(format!("cannot write a JSON value: {e}")))?;
    String::from_utf8(out).map_err(|e| Error::InvalidQuery(format!("cannot write JSON: {e}")))
}

/// serde_json's compact formatter, with floats in plain notation and always a `.`.
#[cfg(feature = "postgres")]
struct PlainFloats;

#[cfg(feature = "postgres")]
impl serde_json::ser::Formatter for PlainFloats {
    fn write_f64<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        value: f64,
    ) -> std::io::Result<()> {
        // `Display` prints the shortest digits that read back as `value`, never an exponent.
        let text = value.to_string();
        w.write_all(text.as_bytes())?;
        if !text.contains('.') {
            w.write_all(b".0")?;
        }
        Ok(())
    }

    fn write_f32<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        value: f32,
    ) -> std::io::Result<()> {
        self.write_f64(w, f64::from(value))
    }
}

#[cfg(all(test, feature = "postgres"))]
mod tests {
    use super::postgres_text;
    use serde_json::json;

    #[test]
    fn postgres_text_writes_floats_plainly_and_keeps_them_floats() {
        let value = json!({"a": [1e16, -0.0, 2.5, 1, -7, 18446744073709551615u64], "s": "x\"y"});
        let text = postgres_text(&value).unwrap();
        assert_eq!(
            text,
            r#"{"a":[10000000000000000.0,-0.0,2.5,1,-7,18446744073709551615],"s":"x\"y"}"#
        );
        for f in [f64::MAX, f64::MIN_POSITIVE, 5e-324, 1e300, 0.1, 1.0 / 3.0] {
            let text = postgres_text(&json!(f)).unwrap();
            assert!(!text.contains('e'), "{text}");
            let back: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(back.as_f64(), Some(f), "{text}");
            assert!(back.is_f64());
        }
    }
}

/// `#[orm(default = "{}")]`: the JSON text (checked when the model compiles).
impl super::DefaultLiteral<serde_json::Value> for &'static str {}
impl<T> super::DefaultLiteral<Json<T>> for &'static str where Json<T>: SqlType {}
