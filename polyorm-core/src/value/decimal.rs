//! [`SqlType`] for `rust_decimal::Decimal` (feature `decimal`).
//!
//! PostgreSQL `NUMERIC(P,S)` and MySQL `DECIMAL(P,S)` store it natively. SQLite has no exact
//! decimal type: the value is stored as its text form so that it round-trips exactly, which
//! means that ordering and arithmetic on it in SQLite are those of text.

use ::rust_decimal::Decimal;

use super::{SqlType, Value};
use crate::error::Error;
use crate::exec::RowRef;
use crate::schema::ColumnType;

impl SqlType for Decimal {
    const COLUMN_TYPE: ColumnType = ColumnType::Decimal;

    fn to_value(&self) -> Value {
        Value::Decimal(*self)
    }

    fn decode_nullable(row: &RowRef<'_>, index: usize) -> Result<Option<Self>, Error> {
        #[cfg(feature = "mongodb")]
        if let Some(value) = row.get_document::<Decimal>(index, "Decimal") {
            return value;
        }
        #[cfg(feature = "dynamodb")]
        if let Some(value) = row.get_item::<Decimal>(index, "Decimal") {
            return value;
        }
        #[cfg(feature = "sqlite")]
        if let Some(text) = row.get_sqlite::<String>(index, "Decimal") {
            return text?
                .map(|text| {
                    text.parse::<Decimal>().map_err(|e| {
                        row.decode_error(
                            index,
                            "Decimal",
                            format!("`{text}` is not a decimal: {e}"),
                        )
                    })
                })
                .transpose();
        }
        #[cfg(feature = "postgres")]
        if let Some(value) = row.get_postgres_decimal(index, "Decimal") {
            return value;
        }
        #[cfg(feature = "mysql")]
        if let Some(value) = row.get_mysql::<Decimal>(index, "Decimal") {
            return value;
        }
        Err(row.decode_error(index, "Decimal", "no backend is enabled"))
    }
}

impl super::DecimalType for Decimal {}

/// `#[orm(default = "0.00")]` (digits, checked when the model compiles) or an integer or float
/// literal.
impl super::DefaultLiteral<Decimal> for &'static str {}
impl super::DefaultLiteral<Decimal> for i32 {}
impl super::DefaultLiteral<Decimal> for i64 {}
impl super::DefaultLiteral<Decimal> for f64 {}
