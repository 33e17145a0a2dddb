//! A borrowed database row, read by position.

use super::cached::{CachedPrimitive, CachedRow, EncodedRow, RowRecorder};
use crate::error::Error;

/// A row returned by a driver, read by column position in the order the compiler selected.
///
/// Generated decoders call [`crate::FieldType::decode`] with increasing indexes; no column is
/// looked up by name.
#[non_exhaustive]
pub enum RowRef<'r> {
    /// A SQLite row.
    #[cfg(feature = "sqlite")]
    Sqlite(&'r rusqlite::Row<'r>),
    /// A PostgreSQL row.
    #[cfg(feature = "postgres")]
    Postgres(&'r sqlx::postgres::PgRow),
    /// A PostgreSQL row read by the native driver (`PostgresDriver::Native`).
    #[cfg(feature = "postgres-native")]
    PostgresNative(&'r tokio_postgres::Row),
    /// A MySQL or MariaDB row.
    #[cfg(feature = "mysql")]
    MySql(&'r sqlx::mysql::MySqlRow),
    /// A MySQL or MariaDB row read by the native driver (`MySqlDriver::Native`); text and
    /// bytes are moved out of it as they are decoded (each column is read once).
    #[cfg(feature = "mysql-native")]
    MySqlNative(&'r std::cell::RefCell<mysql_async::Row>),
    /// A MongoDB document, read through the model's field mapping.
    #[cfg(feature = "mongodb")]
    Document(super::DocumentRow<'r>),
    /// A DynamoDB item, read through the attributes the plan decodes.
    #[cfg(feature = "dynamodb")]
    Item(super::ItemRow<'r>),
    /// A row replayed from values recorded earlier (the query cache's hits).
    Cached(&'r CachedRow),
    /// A row replayed in place from the bytes of an encoded cache entry (the query cache's
    /// hits; see [`decode_encoded`](super::cached::decode_encoded)).
    Encoded(&'r EncodedRow<'r>),
    /// A row read through while the values a decoder takes from it are recorded (the query
    /// cache's misses; see [`CachedRow::record`]).
    Recording(&'r RowRef<'r>, &'r RowRecorder),
    #[doc(hidden)]
    _Unreachable(std::convert::Infallible, std::marker::PhantomData<&'r ()>),
}

#[allow(unused_macros)] // Unused when both native drivers are built.
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
#[cfg(feature = "sqlite")]
pub(crate) use super::sqlite::SqliteDecode;
#[cfg(not(feature = "sqlite"))]
pub(crate) trait SqliteDecode {}
#[cfg(not(feature = "sqlite"))]
impl<T> SqliteDecode for T {}
#[cfg(not(feature = "postgres-native"))]
driver_bound!(PostgresDecode, "postgres", sqlx::Postgres);
/// Types both PostgreSQL drivers decode (sqlx's and the native one's).
#[cfg(feature = "postgres-native")]
pub(crate) trait PostgresDecode:
    for<'r> sqlx::Decode<'r, sqlx::Postgres>
    + sqlx::Type<sqlx::Postgres>
    + super::postgres_native::PgNativeDecode
{
}
#[cfg(feature = "postgres-native")]
impl<T> PostgresDecode for T where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres>
        + sqlx::Type<sqlx::Postgres>
        + super::postgres_native::PgNativeDecode
{
}
#[cfg(not(feature = "mysql-native"))]
driver_bound!(MySqlDecode, "mysql", sqlx::MySql);
/// Types both MySQL/MariaDB drivers decode (sqlx's and the native one's).
#[cfg(feature = "mysql-native")]
pub(crate) trait MySqlDecode:
    for<'r> sqlx::Decode<'r, sqlx::MySql>
    + sqlx::Type<sqlx::MySql>
    + super::mysql_native::MyNativeDecode
{
}
#[cfg(feature = "mysql-native")]
impl<T> MySqlDecode for T where
    T: for<'r> sqlx::Decode<'r, sqlx::MySql>
        + sqlx::Type<sqlx::MySql>
        + super::mysql_native::MyNativeDecode
{
}

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
            RowRef::Sqlite(r) => r
                .as_ref()
                .column_name(index)
                .map_or_else(|_| format!("#{index}"), str::to_owned),
            #[cfg(feature = "postgres")]
            RowRef::Postgres(r) => name_of(r, index),
            #[cfg(feature = "postgres-native")]
            RowRef::PostgresNative(r) => Self::native_column_name(r, index),
            #[cfg(feature = "mysql")]
            RowRef::MySql(r) => name_of(r, index),
            #[cfg(feature = "mysql-native")]
            RowRef::MySqlNative(r) => Self::my_column_name(r, index),
            #[cfg(feature = "mongodb")]
            RowRef::Document(d) => d.column_name(index),
            #[cfg(feature = "dynamodb")]
            RowRef::Item(d) => d.column_name(index),
            RowRef::Cached(_) | RowRef::Encoded(_) => format!("#{index}"),
            RowRef::Recording(inner, _) => inner.column_name(index),
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
            RowRef::Sqlite(r) => {
                Ok(self.sqlite_value(r, index, "a column")? == rusqlite::types::ValueRef::Null)
            }
            #[cfg(feature = "postgres")]
            RowRef::Postgres(r) => raw_is_null(r, index),
            #[cfg(feature = "postgres-native")]
            RowRef::PostgresNative(r) => self.native_is_null(r, index),
            #[cfg(feature = "mysql")]
            RowRef::MySql(r) => raw_is_null(r, index),
            #[cfg(feature = "mysql-native")]
            RowRef::MySqlNative(r) => self.my_is_null(r, index),
            #[cfg(feature = "mongodb")]
            RowRef::Document(ref d) => Ok(d.value(index)?.is_none()),
            #[cfg(feature = "dynamodb")]
            RowRef::Item(ref d) => Ok(d.value(index)?.is_none()),
            RowRef::Cached(row) => row.is_null(index),
            RowRef::Encoded(row) => row.is_null(index),
            RowRef::Recording(inner, recorder) => {
                let null = inner.is_null(index)?;
                recorder.record_nullness(index, null);
                Ok(null)
            }
            RowRef::_Unreachable(never, _) => match never {},
        }
    }

    /// The column as `T` if this row is replayed from the cache (its values are read alike
    /// whatever backend recorded them), checked before the per-backend reads so a cache hit
    /// does not go through each of them.
    pub(crate) fn get_replayed<T: CachedPrimitive>(
        &self,
        index: usize,
        expected: &'static str,
    ) -> Option<Result<Option<T>, Error>> {
        match *self {
            RowRef::Cached(row) => Some(row.get(index, expected)),
            RowRef::Encoded(row) => Some(row.get(index, expected)),
            _ => None,
        }
    }

    /// Decodes the column at `index` as a nullable `T` through the driver's own decoder.
    #[allow(unused_variables)]
    pub(crate) fn get<T: NativeDecode + CachedPrimitive>(
        &self,
        index: usize,
        expected: &'static str,
    ) -> Result<Option<T>, Error> {
        match *self {
            RowRef::Cached(row) => row.get(index, expected),
            RowRef::Encoded(row) => row.get(index, expected),
            RowRef::Recording(inner, recorder) => {
                recorder.record(index, inner.get::<T>(index, expected))
            }
            #[cfg(feature = "sqlite")]
            RowRef::Sqlite(r) => self.decode_sqlite(r, index, expected),
            #[cfg(feature = "postgres")]
            RowRef::Postgres(r) => self.wrap(index, expected, sqlx::Row::try_get(r, index)),
            #[cfg(feature = "postgres-native")]
            RowRef::PostgresNative(r) => self.native_get(r, index, expected),
            #[cfg(feature = "mysql")]
            RowRef::MySql(r) => self.wrap(index, expected, sqlx::Row::try_get(r, index)),
            #[cfg(feature = "mysql-native")]
            RowRef::MySqlNative(r) => self.my_get(r, index, expected),
            // Types with a MongoDB mapping decode documents through `get_document` first.
            #[cfg(feature = "mongodb")]
            RowRef::Document(d) => Err(Error::Decode {
                column: d.column_name(index),
                index,
                expected,
                source: format!("`{expected}` has no MongoDB decoding").into(),
            }),
            #[cfg(feature = "dynamodb")]
            RowRef::Item(d) => Err(Error::Decode {
                column: d.column_name(index),
                index,
                expected,
                source: format!("`{expected}` has no DynamoDB decoding").into(),
            }),
            RowRef::_Unreachable(never, _) => match never {},
        }
    }
}

/// Reading the current row of a SQLite statement, straight from `sqlite3_column_*`.
#[cfg(feature = "sqlite")]
impl RowRef<'_> {
    /// The value of the column at `index` (a decode error naming `expected` if there is none).
    /// Always inlined: called for every column of every row, and returning its `Result`
    /// (the error is large) through memory cost as much as the read itself.
    #[inline(always)]
    fn sqlite_value<'v>(
        &self,
        row: &'v rusqlite::Row<'_>,
        index: usize,
        expected: &'static str,
    ) -> Result<rusqlite::types::ValueRef<'v>, Error> {
        row.get_ref(index)
            .map_err(|e| self.decode_error(index, expected, e))
    }

    /// The column at `index` as a nullable `T`.
    pub(crate) fn decode_sqlite<T: SqliteDecode>(
        &self,
        row: &rusqlite::Row<'_>,
        index: usize,
        expected: &'static str,
    ) -> Result<Option<T>, Error> {
        match self.sqlite_value(row, index, expected)? {
            rusqlite::types::ValueRef::Null => Ok(None),
            value => T::decode_sqlite(value)
                .map(Some)
                .map_err(|reason| self.decode_error(index, expected, reason)),
        }
    }
}

/// The storage class of the column at `index` of a sqlx row, or `None` for NULL.
#[cfg(feature = "_sqlx")]
fn sql_type_name<R: sqlx::Row>(row: &R, index: usize) -> Result<Option<String>, Error>
where
    usize: sqlx::ColumnIndex<R>,
{
    use sqlx::{TypeInfo, ValueRef};
    let raw = row.try_get_raw(index).map_err(crate::exec::from_sqlx)?;
    if raw.is_null() {
        return Ok(None);
    }
    Ok(Some(raw.type_info().name().to_owned()))
}

impl RowRef<'_> {
    /// The column at `index` as an `i64`, whatever integer type holds it (PostgreSQL's
    /// `smallint`, `integer` or `bigint`, SQLite's integers, MongoDB's int32 or int64): how
    /// `u8`, `u16` and `u32` are read on the backends without unsigned types, so that a raw
    /// query's `SELECT 5` decodes into a `u8` as a column does. Errors name `expected`, the
    /// Rust type asked for, never the wider type read.
    pub(crate) fn get_integer(
        &self,
        index: usize,
        expected: &'static str,
    ) -> Result<Option<i64>, Error> {
        let not_integer = |ty: &str| {
            self.decode_error(
                index,
                expected,
                format!("the value is {ty}, not an integer"),
            )
        };
        match *self {
            #[cfg(feature = "postgres")]
            RowRef::Postgres(r) => match sql_type_name(r, index)?.as_deref() {
                None => Ok(None),
                Some("INT2") => Ok(self.get::<i16>(index, expected)?.map(i64::from)),
                Some("INT4") => Ok(self.get::<i32>(index, expected)?.map(i64::from)),
                Some("INT8") => self.get::<i64>(index, expected),
                Some(other) => Err(not_integer(&format!("a PostgreSQL `{other}`"))),
            },
            #[cfg(feature = "postgres-native")]
            RowRef::PostgresNative(r) => {
                use tokio_postgres::types::Type;
                if self.native_is_null(r, index)? {
                    return Ok(None);
                }
                let ty = self.native_type(r, index, expected)?;
                if *ty == Type::INT2 {
                    Ok(self.native_get::<i16>(r, index, expected)?.map(i64::from))
                } else if *ty == Type::INT4 {
                    Ok(self.native_get::<i32>(r, index, expected)?.map(i64::from))
                } else if *ty == Type::INT8 {
                    self.native_get::<i64>(r, index, expected)
                } else {
                    Err(not_integer(&format!(
                        "a PostgreSQL `{}`",
                        ty.name().to_uppercase()
                    )))
                }
            }
            #[cfg(feature = "sqlite")]
            RowRef::Sqlite(r) => match self.sqlite_value(r, index, expected)? {
                rusqlite::types::ValueRef::Null => Ok(None),
                rusqlite::types::ValueRef::Integer(i) => Ok(Some(i)),
                other => Err(not_integer(&format!(
                    "SQLite {}",
                    super::sqlite::decode::storage_class(other)
                ))),
            },
            // MySQL/MariaDB: `TINYINT UNSIGNED` … `BIGINT UNSIGNED` as well as signed types.
            #[cfg(feature = "mysql")]
            RowRef::MySql(r) => match sql_type_name(r, index)?.as_deref() {
                None => Ok(None),
                Some(ty) if ty.ends_with(" UNSIGNED") => self
                    .wrap(
                        index,
                        expected,
                        sqlx::Row::try_get::<Option<u64>, _>(r, index),
                    )?
                    .map(|u| {
                        i64::try_from(u).map_err(|_| {
                            self.decode_error(
                                index,
                                expected,
                                format!("{u} is out of range for `{expected}`"),
                            )
                        })
                    })
                    .transpose(),
                Some("TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT") => {
                    self.get::<i64>(index, expected)
                }
                Some(other) => Err(not_integer(&format!("a MySQL `{other}`"))),
            },
            #[cfg(feature = "mysql-native")]
            RowRef::MySqlNative(r) => self.my_integer(r, index, expected),
            #[cfg(feature = "mongodb")]
            RowRef::Document(ref d) => d.decode::<i64>(index, expected),
            #[cfg(feature = "dynamodb")]
            RowRef::Item(ref d) => d.decode::<i64>(index, expected),
            RowRef::Recording(inner, recorder) => {
                recorder.record(index, inner.get_integer(index, expected))
            }
            _ => self.get::<i64>(index, expected),
        }
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

    /// The column as `T` if this is a MongoDB document, or a row recorded from one.
    ///
    /// Every type with a MongoDB mapping reads documents through here, so a document read
    /// through [`RowRef::Recording`] records the value decoded (as `T`), and a row replayed
    /// from the cache ([`RowRef::Cached`] of [`Backend::MongoDb`](super::Backend::MongoDb))
    /// takes the same path back.
    #[cfg(feature = "mongodb")]
    pub(crate) fn get_document<T: super::mongo::FromBson + CachedPrimitive>(
        &self,
        index: usize,
        expected: &'static str,
    ) -> Option<Result<Option<T>, Error>> {
        match *self {
            RowRef::Document(ref d) => Some(d.decode(index, expected)),
            RowRef::Cached(row) if row.backend() == super::Backend::MongoDb => {
                Some(row.get(index, expected))
            }
            RowRef::Encoded(row) if row.backend() == super::Backend::MongoDb => {
                Some(row.get(index, expected))
            }
            RowRef::Recording(inner, recorder) => inner
                .get_document::<T>(index, expected)
                .map(|result| recorder.record(index, result)),
            _ => None,
        }
    }

    /// The column as `T` if this is a DynamoDB item, or a row recorded from one (the
    /// DynamoDB counterpart of `get_document`).
    #[cfg(feature = "dynamodb")]
    pub(crate) fn get_item<T: super::dynamo::FromAttr + CachedPrimitive>(
        &self,
        index: usize,
        expected: &'static str,
    ) -> Option<Result<Option<T>, Error>> {
        match *self {
            RowRef::Item(ref d) => Some(d.decode(index, expected)),
            RowRef::Cached(row) if row.backend() == super::Backend::DynamoDb => {
                Some(row.get(index, expected))
            }
            RowRef::Encoded(row) if row.backend() == super::Backend::DynamoDb => {
                Some(row.get(index, expected))
            }
            RowRef::Recording(inner, recorder) => inner
                .get_item::<T>(index, expected)
                .map(|result| recorder.record(index, result)),
            _ => None,
        }
    }

    /// The column as `T` if this is a SQLite row.
    #[cfg(feature = "sqlite")]
    pub(crate) fn get_sqlite<T: SqliteDecode + CachedPrimitive>(
        &self,
        index: usize,
        expected: &'static str,
    ) -> Option<Result<Option<T>, Error>> {
        match *self {
            RowRef::Sqlite(r) => Some(self.decode_sqlite(r, index, expected)),
            RowRef::Cached(row) if row.backend() == crate::sql::Dialect::Sqlite => {
                Some(row.get(index, expected))
            }
            RowRef::Encoded(row) if row.backend() == crate::sql::Dialect::Sqlite => {
                Some(row.get(index, expected))
            }
            RowRef::Recording(inner, recorder) => inner
                .get_sqlite::<T>(index, expected)
                .map(|result| recorder.record(index, result)),
            _ => None,
        }
    }

    /// The column as `T` if this is a PostgreSQL row.
    #[cfg(feature = "postgres")]
    pub(crate) fn get_postgres<T: PostgresDecode + CachedPrimitive>(
        &self,
        index: usize,
        expected: &'static str,
    ) -> Option<Result<Option<T>, Error>> {
        match *self {
            RowRef::Postgres(r) => Some(self.wrap(index, expected, sqlx::Row::try_get(r, index))),
            #[cfg(feature = "postgres-native")]
            RowRef::PostgresNative(r) => Some(self.native_get(r, index, expected)),
            RowRef::Cached(row) if row.backend() == crate::sql::Dialect::Postgres => {
                Some(row.get(index, expected))
            }
            RowRef::Encoded(row) if row.backend() == crate::sql::Dialect::Postgres => {
                Some(row.get(index, expected))
            }
            RowRef::Recording(inner, recorder) => inner
                .get_postgres::<T>(index, expected)
                .map(|result| recorder.record(index, result)),
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

    /// The column as a `Decimal` if this is a PostgreSQL row (or one recorded from it).
    ///
    /// sqlx reads a NUMERIC zero without its scale (`0` for `0.00`); the scale is in the
    /// value's header, so a zero reads back as written, as on the other dialects. A recording
    /// keeps the corrected value, so a cached row replays it.
    #[cfg(all(feature = "postgres", feature = "decimal"))]
    pub(crate) fn get_postgres_decimal(
        &self,
        index: usize,
        expected: &'static str,
    ) -> Option<Result<Option<rust_decimal::Decimal>, Error>> {
        match *self {
            RowRef::Postgres(_) => self.get_postgres(index, expected).map(|value| {
                value.map(|v| {
                    v.map(
                        |d: rust_decimal::Decimal| match self.postgres_numeric_scale(index) {
                            Some(scale) if d.is_zero() => rust_decimal::Decimal::new(0, scale),
                            _ => d,
                        },
                    )
                })
            }),
            RowRef::Recording(inner, recorder) => inner
                .get_postgres_decimal(index, expected)
                .map(|result| recorder.record(index, result)),
            _ => self.get_postgres(index, expected),
        }
    }

    /// The column as `T` if this is a MySQL/MariaDB row.
    #[cfg(feature = "mysql")]
    pub(crate) fn get_mysql<T: MySqlDecode + CachedPrimitive>(
        &self,
        index: usize,
        expected: &'static str,
    ) -> Option<Result<Option<T>, Error>> {
        match *self {
            RowRef::MySql(r) => Some(self.wrap(index, expected, sqlx::Row::try_get(r, index))),
            #[cfg(feature = "mysql-native")]
            RowRef::MySqlNative(r) => Some(self.my_get(r, index, expected)),
            RowRef::Cached(row) if row.backend() == crate::sql::Dialect::MySql => {
                Some(row.get(index, expected))
            }
            RowRef::Encoded(row) if row.backend() == crate::sql::Dialect::MySql => {
                Some(row.get(index, expected))
            }
            RowRef::Recording(inner, recorder) => inner
                .get_mysql::<T>(index, expected)
                .map(|result| recorder.record(index, result)),
            _ => None,
        }
    }
}
