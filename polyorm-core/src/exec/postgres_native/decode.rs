//! Reading a column of a tokio-postgres row: the value's binary form, as tokio-postgres'
//! `FromSql` for the Rust type reads it (the same types sqlx reads, the same strictness: an
//! `i64` from `int8` only; narrower integers through [`RowRef::get_integer`]).

use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, Type};

use crate::error::{BoxError, Error};
use crate::exec::RowRef;

/// A Rust type the native PostgreSQL driver reads.
pub(crate) trait PgNativeDecode: for<'a> FromSql<'a> {}
impl<T: for<'a> FromSql<'a>> PgNativeDecode for T {}

/// Whether a value is NULL, whatever its type.
struct Nullness(bool);

impl<'a> FromSql<'a> for Nullness {
    fn from_sql(_: &Type, _: &'a [u8]) -> Result<Self, BoxError> {
        Ok(Nullness(false))
    }

    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(Nullness(true))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

impl RowRef<'_> {
    /// The name of the column at `index` of `row`.
    pub(crate) fn native_column_name(row: &Row, index: usize) -> String {
        row.columns()
            .get(index)
            .map_or_else(|| format!("#{index}"), |c| c.name().to_owned())
    }

    /// The PostgreSQL type of the column at `index` of `row`.
    pub(crate) fn native_type<'r>(
        &self,
        row: &'r Row,
        index: usize,
        expected: &'static str,
    ) -> Result<&'r Type, Error> {
        row.columns()
            .get(index)
            .map(tokio_postgres::Column::type_)
            .ok_or_else(|| {
                self.decode_error(
                    index,
                    expected,
                    format!("the row has {} columns", row.len()),
                )
            })
    }

    /// Whether the column at `index` of `row` is NULL.
    pub(crate) fn native_is_null(&self, row: &Row, index: usize) -> Result<bool, Error> {
        row.try_get::<_, Nullness>(index)
            .map(|n| n.0)
            .map_err(|e| self.decode_error(index, "a column", e))
    }

    /// The column at `index` of `row` as a nullable `T`.
    pub(crate) fn native_get<T: PgNativeDecode>(
        &self,
        row: &Row,
        index: usize,
        expected: &'static str,
    ) -> Result<Option<T>, Error> {
        row.try_get::<_, Option<T>>(index)
            .map_err(|e| self.decode_error(index, expected, e))
    }
}
