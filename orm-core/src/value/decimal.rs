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
        if let Some(value) = row.get_postgres::<Decimal>(index, "Decimal") {
            // sqlx reads a NUMERIC zero without its scale (`0` for `0.00`); the scale is in the
            // value's header, so a zero reads back as written, as on the other dialects.
            return value.map(|v| {
                v.map(|d| match row.postgres_numeric_scale(index) {
                    Some(scale) if d.is_zero() => Decimal::new(0, scale),
                    _ => d,
                })
            });
        }
        #[cfg(feature = "mysql")]
        if let Some(value) = row.get_mysql::<Decimal>(index, "Decimal") {
            return value;
        }
        Err(row.decode_error(index, "Decimal", "no SQL backend is enabled"))
    }
}

impl super::DecimalType for Decimal {}
