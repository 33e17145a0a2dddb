//! A borrowed database row, read by position.

use crate::error::Error;

/// A row returned by a driver, read by column position in the order the compiler selected.
///
/// Generated decoders call [`crate::FieldType::decode`] with increasing indexes; no column is
/// looked up by name.
#[non_exhaustive]
pub enum RowRef<'r> {
    /// A SQLite row.
    #[cfg(feature = "sqlite")]
    Sqlite(&'r sqlx::sqlite::SqliteRow),
    /// A PostgreSQL row.
    #[cfg(feature = "postgres")]
    Postgres(&'r sqlx::postgres::PgRow),
    /// A MySQL or MariaDB row.
    #[cfg(feature = "mysql")]
    MySql(&'r sqlx::mysql::MySqlRow),
    /// A MongoDB document, read through the model's field mapping.
    #[cfg(feature = "mongodb")]
    Document(super::DocumentRow<'r>),
    #[doc(hidden)]
    _Unreachable(std::convert::Infallible, std::marker::PhantomData<&'r ()>),
}

macro_rules! driver_bound {
    ($name:ident, $feature:literal, $db:ty) => {
        #[cfg(feature = $feature)]
        pub(crate) trait $name: for<'r> sqlx::Decode<'r, $db> + sqlx::Type<$db> {}
        #[cfg(feature = $feature)]
        impl<T: for<'r> sqlx::Decode<'r, $db> + sqlx::Type<$db>> $name for T {}
        #[cfg(not(feature = $feature))]
        pub(crate) trait $name {}
        #[cfg(not(feature = $feature))]
        impl<T> $name for T {}
    };
}
driver_bound!(SqliteDecode, "sqlite", sqlx::Sqlite);
driver_bound!(PostgresDecode, "postgres", sqlx::Postgres);
driver_bound!(MySqlDecode, "mysql", sqlx::MySql);

/// Types every enabled SQL driver decodes natively.
pub(crate) trait NativeDecode: SqliteDecode + PostgresDecode + MySqlDecode {}
impl<T: SqliteDecode + PostgresDecode + MySqlDecode> NativeDecode for T {}

impl RowRef<'_> {
    /// Name of the column at `index` (for error messages).
    pub fn column_name(&self, index: usize) -> String {
        #[cfg(feature = "_sqlx")]
        fn name_of<R: sqlx::Row>(row: &R, index: usize) -> String {
            use sqlx::Column;
            row.columns()
                .get(index)
                .map_or_else(|| format!("#{index}"), |c| c.name().to_owned())
        }
        match *self {
            #[cfg(feature = "sqlite")]
            RowRef::Sqlite(r) => name_of(r, index),
            #[cfg(feature = "postgres")]
            RowRef::Postgres(r) => name_of(r, index),
            #[cfg(feature = "mysql")]
            RowRef::MySql(r) => name_of(r, index),
            #[cfg(feature = "mongodb")]
            RowRef::Document(d) => d.column_name(index),
            RowRef::_Unreachable(never, _) => match never {},
        }
    }

    /// A decode error for the column at `index`: the value was read but does not fit
    /// `expected` (e.g. an unknown enum variant, an out-of-range unsigned integer).
    pub fn decode_error(
        &self,
        index: usize,
        expected: &'static str,
        reason: impl Into<crate::error::BoxError>,
    ) -> Error {
        Error::Decode {
            column: self.column_name(index),
            index,
            expected,
            source: reason.into(),
        }
    }

    /// Whether the column at `index` is NULL (how a left join tells a missing row).
    #[allow(unused_variables)]
    pub fn is_null(&self, index: usize) -> Result<bool, Error> {
        #[cfg(feature = "_sqlx")]
        fn raw_is_null<R: sqlx::Row>(row: &R, index: usize) -> Result<bool, Error>
        where
            usize: sqlx::ColumnIndex<R>,
        {
            use sqlx::ValueRef;
            row.try_get_raw(index)
                .map(|v| v.is_null())
                .map_err(crate::exec::from_sqlx)
        }
        match *self {
            #[cfg(feature = "sqlite")]
            RowRef::Sqlite(r) => raw_is_null(r, index),
            #[cfg(feature = "postgres")]
            RowRef::Postgres(r) => raw_is_null(r, index),
            #[cfg(feature = "mysql")]
            RowRef::MySql(r) => raw_is_null(r, index),
            #[cfg(feature = "mongodb")]
            RowRef::Document(ref d) => Ok(d.value(index)?.is_none()),
            RowRef::_Unreachable(never, _) => match never {},
        }
    }

    /// Decodes the column at `index` as a nullable `T` through the driver's own decoder.
    #[allow(unused_variables)]
    pub(crate) fn get<T: NativeDecode>(
        &self,
        index: usize,
        expected: &'static str,
    ) -> Result<Option<T>, Error> {
        let result = match *self {
            #[cfg(feature = "sqlite")]
            RowRef::Sqlite(r) => sqlx::Row::try_get::<Option<T>, _>(r, index),
            #[cfg(feature = "postgres")]
            RowRef::Postgres(r) => sqlx::Row::try_get::<Option<T>, _>(r, index),
            #[cfg(feature = "mysql")]
            RowRef::MySql(r) => sqlx::Row::try_get::<Option<T>, _>(r, index),
            // Types with a MongoDB mapping decode documents in their `SqlType` impl.
            #[cfg(feature = "mongodb")]
            RowRef::Document(d) => {
                return Err(Error::Decode {
                    column: d.column_name(index),
                    index,
                    expected,
                    source: format!("`{expected}` has no MongoDB decoding").into(),
                });
            }
            RowRef::_Unreachable(never, _) => match never {},
        };
        #[cfg(feature = "_sqlx")]
        {
            result.map_err(|source| Error::Decode {
                column: self.column_name(index),
                index,
                expected,
                source: Box::new(source),
            })
        }
        #[cfg(not(feature = "_sqlx"))]
        result
    }
}

/// Per-backend decoding, for types a driver decodes only on some backends (`u8` on MySQL,
/// `Decimal` on PostgreSQL and MySQL). Each returns `None` when the row is of another backend.
#[allow(dead_code, unused_variables)]
impl RowRef<'_> {
    #[cfg(feature = "_sqlx")]
    fn wrap<T>(
        &self,
        index: usize,
        expected: &'static str,
        result: std::result::Result<Option<T>, sqlx::Error>,
    ) -> Result<Option<T>, Error> {
        result.map_err(|source| self.decode_error(index, expected, source))
    }

    /// The column as `T` if this is a SQLite row.
    #[cfg(feature = "sqlite")]
    pub(crate) fn get_sqlite<T: SqliteDecode>(
        &self,
        index: usize,
        expected: &'static str,
    ) -> Option<Result<Option<T>, Error>> {
        match *self {
            RowRef::Sqlite(r) => Some(self.wrap(index, expected, sqlx::Row::try_get(r, index))),
            _ => None,
        }
    }

    /// The column as `T` if this is a PostgreSQL row.
    #[cfg(feature = "postgres")]
    pub(crate) fn get_postgres<T: PostgresDecode>(
        &self,
        index: usize,
        expected: &'static str,
    ) -> Option<Result<Option<T>, Error>> {
        match *self {
            RowRef::Postgres(r) => Some(self.wrap(index, expected, sqlx::Row::try_get(r, index))),
            _ => None,
        }
    }

    /// The display scale of a PostgreSQL NUMERIC in binary format (`dscale`, bytes 6-8 of its
    /// header); `None` for another backend, a NULL or a text-format value.
    #[cfg(feature = "postgres")]
    pub(crate) fn postgres_numeric_scale(&self, index: usize) -> Option<u32> {
        let RowRef::Postgres(r) = *self else {
            return None;
        };
        let raw = sqlx::Row::try_get_raw(r, index).ok()?;
        if raw.format() != sqlx::postgres::PgValueFormat::Binary {
            return None;
        }
        let header: [u8; 2] = raw.as_bytes().ok()?.get(6..8)?.try_into().ok()?;
        Some(u32::from(u16::from_be_bytes(header)))
    }

    /// The column as `T` if this is a MySQL/MariaDB row.
    #[cfg(feature = "mysql")]
    pub(crate) fn get_mysql<T: MySqlDecode>(
        &self,
        index: usize,
        expected: &'static str,
    ) -> Option<Result<Option<T>, Error>> {
        match *self {
            RowRef::MySql(r) => Some(self.wrap(index, expected, sqlx::Row::try_get(r, index))),
            _ => None,
        }
    }
}
