//! DynamoDB items read as rows: by position, through the attributes the plan decodes.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::error::Error;
use crate::exec::cached::CachedPrimitive;

/// One DynamoDB item, read by position: column `i` is the attribute `attributes[i]` (an
/// absent attribute or a `NULL` value reads as NULL).
#[derive(Clone, Copy, Debug)]
pub struct ItemRow<'r> {
    item: &'r HashMap<String, AttributeValue>,
    attributes: &'r [&'static str],
}

impl<'r> ItemRow<'r> {
    pub(crate) fn new(
        item: &'r HashMap<String, AttributeValue>,
        attributes: &'r [&'static str],
    ) -> Self {
        ItemRow { item, attributes }
    }

    /// The attribute name of column `index`.
    pub fn column_name(&self, index: usize) -> String {
        self.attributes
            .get(index)
            .map_or_else(|| format!("#{index}"), |a| (*a).to_owned())
    }

    /// The value of column `index`, `None` for NULL (absent, or `NULL`).
    pub fn value(&self, index: usize) -> Result<Option<&'r AttributeValue>, Error> {
        let name = self.attributes.get(index).ok_or_else(|| Error::Decode {
            column: format!("#{index}"),
            index,
            expected: "a column",
            source: format!("the row has {} columns", self.attributes.len()).into(),
        })?;
        Ok(match self.item.get(*name) {
            None | Some(AttributeValue::Null(_)) => None,
            Some(v) => Some(v),
        })
    }

    /// Column `index` as a nullable `T`.
    pub(crate) fn decode<T: FromAttr>(
        &self,
        index: usize,
        expected: &'static str,
    ) -> Result<Option<T>, Error> {
        let raw = self
            .attributes
            .get(index)
            .and_then(|name| self.item.get(*name));
        let value = match raw {
            None => return Ok(None),
            Some(AttributeValue::Null(_)) if !T::READS_NULL => return Ok(None),
            Some(v) => v,
        };
        T::from_attr(value)
            .map(Some)
            .map_err(|reason| Error::Decode {
                column: self.column_name(index),
                index,
                expected,
                source: reason.into(),
            })
    }
}

/// A type read from a DynamoDB attribute value.
pub(crate) trait FromAttr: Sized + CachedPrimitive {
    /// Whether a `NULL` attribute value is a value of the type (JSON's `null`), not SQL NULL.
    const READS_NULL: bool = false;

    fn from_attr(value: &AttributeValue) -> Result<Self, String>;
}

fn number(value: &AttributeValue) -> Result<&str, String> {
    match value {
        AttributeValue::N(n) => Ok(n),
        other => Err(format!(
            "the attribute is {}, not a number (N)",
            kind(other)
        )),
    }
}

fn text(value: &AttributeValue) -> Result<&str, String> {
    match value {
        AttributeValue::S(s) => Ok(s),
        other => Err(format!("the attribute is {}, not text (S)", kind(other))),
    }
}

fn kind(value: &AttributeValue) -> &'static str {
    match value {
        AttributeValue::B(_) => "binary (B)",
        AttributeValue::Bool(_) => "a boolean (BOOL)",
        AttributeValue::Bs(_) => "a binary set (BS)",
        AttributeValue::L(_) => "a list (L)",
        AttributeValue::M(_) => "a map (M)",
        AttributeValue::N(_) => "a number (N)",
        AttributeValue::Ns(_) => "a number set (NS)",
        AttributeValue::Null(_) => "NULL",
        AttributeValue::S(_) => "text (S)",
        AttributeValue::Ss(_) => "a string set (SS)",
        _ => "of an unknown type",
    }
}

macro_rules! from_number {
    ($($ty:ty),*) => {$(
        impl FromAttr for $ty {
            fn from_attr(value: &AttributeValue) -> Result<Self, String> {
                let n = number(value)?;
                n.parse::<$ty>().map_err(|e| format!("`{n}` is not a {}: {e}", stringify!($ty)))
            }
        }
    )*};
}
from_number!(i16, i32, i64, u8, u16, u32, u64, f32, f64);

impl FromAttr for bool {
    fn from_attr(value: &AttributeValue) -> Result<Self, String> {
        match value {
            AttributeValue::Bool(b) => Ok(*b),
            other => Err(format!("the attribute is {}, not a boolean", kind(other))),
        }
    }
}

impl FromAttr for String {
    fn from_attr(value: &AttributeValue) -> Result<Self, String> {
        text(value).map(str::to_owned)
    }
}

impl FromAttr for Vec<u8> {
    fn from_attr(value: &AttributeValue) -> Result<Self, String> {
        match value {
            AttributeValue::B(b) => Ok(b.clone().into_inner()),
            other => Err(format!("the attribute is {}, not binary (B)", kind(other))),
        }
    }
}

#[cfg(feature = "decimal")]
impl FromAttr for rust_decimal::Decimal {
    fn from_attr(value: &AttributeValue) -> Result<Self, String> {
        let n = number(value)?;
        n.parse::<rust_decimal::Decimal>()
            .or_else(|_| rust_decimal::Decimal::from_scientific(n))
            .map_err(|e| format!("`{n}` is not a decimal: {e}"))
    }
}

#[cfg(feature = "uuid")]
impl FromAttr for uuid::Uuid {
    fn from_attr(value: &AttributeValue) -> Result<Self, String> {
        let t = text(value)?;
        uuid::Uuid::parse_str(t).map_err(|e| format!("`{t}` is not a UUID: {e}"))
    }
}

#[cfg(feature = "bson")]
impl FromAttr for bson::oid::ObjectId {
    fn from_attr(value: &AttributeValue) -> Result<Self, String> {
        let t = text(value)?;
        bson::oid::ObjectId::parse_str(t).map_err(|e| format!("`{t}` is not an ObjectId: {e}"))
    }
}

#[cfg(feature = "json")]
impl FromAttr for serde_json::Value {
    const READS_NULL: bool = true;

    fn from_attr(value: &AttributeValue) -> Result<Self, String> {
        crate::dynamo::attr_to_json(value)
    }
}

#[cfg(feature = "chrono")]
mod chrono_types {
    use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};

    use super::*;

    impl FromAttr for DateTime<Utc> {
        fn from_attr(value: &AttributeValue) -> Result<Self, String> {
            let t = text(value)?;
            DateTime::parse_from_rfc3339(t)
                .map(|d| d.with_timezone(&Utc))
                .map_err(|e| format!("`{t}` is not a timestamp: {e}"))
        }
    }

    impl FromAttr for NaiveDateTime {
        fn from_attr(value: &AttributeValue) -> Result<Self, String> {
            let t = text(value)?;
            NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f")
                .map_err(|e| format!("`{t}` is not a date and time: {e}"))
        }
    }

    impl FromAttr for NaiveDate {
        fn from_attr(value: &AttributeValue) -> Result<Self, String> {
            let t = text(value)?;
            NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .map_err(|e| format!("`{t}` is not a date: {e}"))
        }
    }

    impl FromAttr for NaiveTime {
        fn from_attr(value: &AttributeValue) -> Result<Self, String> {
            let t = text(value)?;
            NaiveTime::parse_from_str(t, "%H:%M:%S%.f")
                .map_err(|e| format!("`{t}` is not a time: {e}"))
        }
    }
}

#[cfg(feature = "time")]
mod time_types {
    use time::{Date, OffsetDateTime, PrimitiveDateTime, Time};

    use super::*;
    use crate::dynamo::time_formats as f;

    macro_rules! from_text {
        ($($ty:ty => $parse:expr, $what:literal;)*) => {$(
            impl FromAttr for $ty {
                fn from_attr(value: &AttributeValue) -> Result<Self, String> {
                    let t = text(value)?;
                    #[allow(clippy::redundant_closure_call)]
                    ($parse)(t).map_err(|e| format!("`{t}` is not {}: {e}", $what))
                }
            }
        )*};
    }

    from_text! {
        OffsetDateTime => |t| PrimitiveDateTime::parse(t, f::DATE_TIME_UTC).map(|p| p.assume_utc()), "a timestamp";
        PrimitiveDateTime => |t| PrimitiveDateTime::parse(t, f::DATE_TIME), "a date and time";
        Date => |t| Date::parse(t, f::DATE), "a date";
        Time => |t| Time::parse(t, f::TIME), "a time";
    }
}
