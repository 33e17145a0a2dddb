//! Values and the mapping between Rust field types and columns.
//!
//! [`SqlType`] is implemented once per storable Rust type (`i64`, `String`, ...);
//! [`FieldType`] adds nullability on top (`T` and `Option<T>`). New types (dates, UUIDs,
//! ObjectIds, decimals, JSON, enums, newtypes) plug in by implementing [`SqlType`], without touching the
//! derive macro.

#[cfg(feature = "chrono")]
mod chrono;
#[cfg(feature = "decimal")]
mod decimal;
mod dynamic;
pub(crate) mod generated;
#[cfg(feature = "json")]
mod json;
#[cfg(feature = "bson")]
mod object_id;
mod scalar;
#[cfg(feature = "time")]
mod time;
mod unsigned;
#[cfg(feature = "uuid")]
mod uuid;

pub use self::dynamic::{decode_column, decode_columns};
pub use self::generated::{NowDefault, SoftDeleteField, TimestampField, Unset, UuidDefault};
#[cfg(feature = "json")]
pub use self::json::Json;
#[cfg(all(feature = "json", feature = "postgres"))]
pub(crate) use self::json::postgres_text as postgres_json_text;

use crate::error::Error;
use crate::exec::RowRef;
use crate::query::ir::Assignment;
use crate::schema::ColumnType;

/// A value bound to a statement as a parameter (never formatted into SQL text).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// SQL NULL of the given logical type (typed, so that every dialect can bind it).
    Null(ColumnType),
    /// A boolean.
    Bool(bool),
    /// A 16-bit integer.
    SmallInt(i16),
    /// A 32-bit integer.
    Int(i32),
    /// A 64-bit integer.
    BigInt(i64),
    /// A 32-bit float.
    Float(f32),
    /// A 64-bit float.
    Double(f64),
    /// A string.
    Text(String),
    /// A byte string.
    Bytes(Vec<u8>),
    /// A `u64` above `i64::MAX` (smaller unsigned values are bound as the next wider signed
    /// integer). Only MySQL/MariaDB can store it (`BIGINT UNSIGNED`).
    BigUnsigned(u64),
    /// A chrono timestamp in UTC (microsecond precision: finer digits are truncated).
    #[cfg(feature = "chrono")]
    ChronoDateTimeUtc(::chrono::DateTime<::chrono::Utc>),
    /// A chrono timestamp without time zone.
    #[cfg(feature = "chrono")]
    ChronoDateTime(::chrono::NaiveDateTime),
    /// A chrono date.
    #[cfg(feature = "chrono")]
    ChronoDate(::chrono::NaiveDate),
    /// A chrono time of day.
    #[cfg(feature = "chrono")]
    ChronoTime(::chrono::NaiveTime),
    /// A `time` timestamp with offset (normalized to UTC when encoded).
    #[cfg(feature = "time")]
    TimeOffsetDateTime(::time::OffsetDateTime),
    /// A `time` timestamp without offset.
    #[cfg(feature = "time")]
    TimePrimitiveDateTime(::time::PrimitiveDateTime),
    /// A `time` date.
    #[cfg(feature = "time")]
    TimeDate(::time::Date),
    /// A `time` time of day.
    #[cfg(feature = "time")]
    TimeTime(::time::Time),
    /// A UUID.
    #[cfg(feature = "uuid")]
    Uuid(::uuid::Uuid),
    /// A MongoDB ObjectId (12 bytes; a native ObjectId on MongoDB, the bytes elsewhere).
    #[cfg(feature = "bson")]
    ObjectId(::bson::oid::ObjectId),
    /// A decimal number.
    #[cfg(feature = "decimal")]
    Decimal(::rust_decimal::Decimal),
    /// A JSON document.
    #[cfg(feature = "json")]
    Json(Box<::serde_json::Value>),
    /// A value whose encoding failed (e.g. a `Json<T>` whose `Serialize` impl errors); compiling
    /// a statement that contains it fails with [`Error::InvalidQuery`] and this message.
    #[doc(hidden)]
    Unencodable(ColumnType, String),
}

impl Value {
    /// Whether this value is SQL NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null(_))
    }
}

/// A Rust type that maps to one non-nullable column type.
///
/// Implement it to store a new type; `Option<T>` then works automatically.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a supported column type",
    label = "unsupported column type",
    note = "supported: bool, integers, floats, String, Vec<u8>, dates and times (features `chrono`/`time`), Uuid, ObjectId (feature `bson`), Decimal, JSON, `#[derive(SqlEnum)]` enums, `#[derive(SqlType)]` newtypes, and Option of each"
)]
pub trait SqlType: Sized + Send + Sync + 'static {
    /// The logical column type this Rust type is stored as.
    const COLUMN_TYPE: ColumnType;

    /// The only values the column may hold, for text-encoded enums (`#[derive(SqlEnum)]`):
    /// the DDL renders `CHECK (col IN (...))` named `ck_<table>_<col>`.
    const ALLOWED_VALUES: Option<&'static [&'static str]> = None;

    /// Encodes a borrowed value.
    fn to_value(&self) -> Value;

    /// Encodes an owned value (override to avoid a clone).
    fn into_value(self) -> Value {
        self.to_value()
    }

    /// Decodes the column at `index` of `row`; `Ok(None)` for SQL NULL.
    fn decode_nullable(row: &RowRef<'_>, index: usize) -> Result<Option<Self>, Error>;
}

/// The type of a model field: a [`SqlType`] or an `Option` of one.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a supported field type for a model",
    label = "unsupported field type",
    note = "supported: bool, integers, floats, String, Vec<u8>, dates and times (features `chrono`/`time`), Uuid, ObjectId (feature `bson`), Decimal, JSON, `#[derive(SqlEnum)]` enums, `#[derive(SqlType)]` newtypes, and Option of each; or mark the field `#[orm(skip)]`"
)]
pub trait FieldType: Sized + Send + Sync + 'static {
    /// The non-nullable type underneath (`T` for both `T` and `Option<T>`).
    type Base: SqlType;
    /// Whether the column is nullable.
    const NULLABLE: bool;

    /// Encodes a borrowed value.
    fn to_value(&self) -> Value;

    /// Encodes an owned value.
    fn into_value(self) -> Value;

    /// Decodes the column at `index` of `row`.
    fn decode(row: &RowRef<'_>, index: usize) -> Result<Self, Error>;
}

impl<T: SqlType> FieldType for T {
    type Base = T;
    const NULLABLE: bool = false;

    fn to_value(&self) -> Value {
        SqlType::to_value(self)
    }

    fn into_value(self) -> Value {
        SqlType::into_value(self)
    }

    fn decode(row: &RowRef<'_>, index: usize) -> Result<Self, Error> {
        T::decode_nullable(row, index)?.ok_or_else(|| Error::Decode {
            column: row.column_name(index),
            index,
            expected: T::COLUMN_TYPE.rust_name(),
            source: "unexpected NULL: declare the field as `Option<_>` if the column is nullable"
                .into(),
        })
    }
}

impl<T: SqlType> FieldType for Option<T> {
    type Base = T;
    const NULLABLE: bool = true;

    fn to_value(&self) -> Value {
        match self {
            Some(v) => v.to_value(),
            None => Value::Null(T::COLUMN_TYPE),
        }
    }

    fn into_value(self) -> Value {
        match self {
            Some(v) => v.into_value(),
            None => Value::Null(T::COLUMN_TYPE),
        }
    }

    fn decode(row: &RowRef<'_>, index: usize) -> Result<Self, Error> {
        T::decode_nullable(row, index)
    }
}

/// A Rust value that can be compared with (or assigned to) a column of type `T`.
#[diagnostic::on_unimplemented(
    message = "a `{Self}` cannot be used as a value of a `{T}` column",
    label = "expected a value of type `{T}`"
)]
pub trait IntoValue<T> {
    /// Encodes the value as a bound parameter.
    fn into_value(self) -> Value;
}

/// The new value of a `T` column of model `M` in an update: a value, or an expression on
/// `M`'s columns such as `Post::VIEWS + 1` ([`crate::query::ColumnPlus`]).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be assigned to a `{T}` column of `{M}`",
    label = "expected a `{T}` value or an expression such as `{M}::COLUMN + 1`"
)]
pub trait Assign<M, T> {
    /// The IR assignment.
    fn into_assignment(self) -> Assignment;
}

// Every accepted form of a value implements both traits, written out (not generated by a
// macro) so that compiler suggestions point at readable impls. A blanket
// `Assign for V: IntoValue<T>` would overlap with the expression impl, since other crates could
// implement `IntoValue` for expressions.
impl<T: SqlType> IntoValue<T> for T {
    fn into_value(self) -> Value {
        SqlType::into_value(self)
    }
}

impl<T: SqlType> IntoValue<Option<T>> for T {
    fn into_value(self) -> Value {
        SqlType::into_value(self)
    }
}

impl<T: SqlType> IntoValue<Option<T>> for Option<T> {
    fn into_value(self) -> Value {
        FieldType::into_value(self)
    }
}

impl<T: SqlType + Clone> IntoValue<T> for &T {
    fn into_value(self) -> Value {
        self.to_value()
    }
}

impl<T: SqlType + Clone> IntoValue<Option<T>> for &T {
    fn into_value(self) -> Value {
        self.to_value()
    }
}

impl IntoValue<String> for &str {
    fn into_value(self) -> Value {
        Value::Text(self.to_owned())
    }
}

impl IntoValue<Option<String>> for &str {
    fn into_value(self) -> Value {
        Value::Text(self.to_owned())
    }
}

impl IntoValue<Vec<u8>> for &[u8] {
    fn into_value(self) -> Value {
        Value::Bytes(self.to_vec())
    }
}

impl IntoValue<Option<Vec<u8>>> for &[u8] {
    fn into_value(self) -> Value {
        Value::Bytes(self.to_vec())
    }
}

impl<M, T: SqlType> Assign<M, T> for T {
    fn into_assignment(self) -> Assignment {
        Assignment::Value(IntoValue::<T>::into_value(self))
    }
}

impl<M, T: SqlType> Assign<M, Option<T>> for T {
    fn into_assignment(self) -> Assignment {
        Assignment::Value(IntoValue::<Option<T>>::into_value(self))
    }
}

impl<M, T: SqlType> Assign<M, Option<T>> for Option<T> {
    fn into_assignment(self) -> Assignment {
        Assignment::Value(IntoValue::<Option<T>>::into_value(self))
    }
}

impl<M, T: SqlType + Clone> Assign<M, T> for &T {
    fn into_assignment(self) -> Assignment {
        Assignment::Value(IntoValue::<T>::into_value(self))
    }
}

impl<M, T: SqlType + Clone> Assign<M, Option<T>> for &T {
    fn into_assignment(self) -> Assignment {
        Assignment::Value(IntoValue::<Option<T>>::into_value(self))
    }
}

impl<M> Assign<M, String> for &str {
    fn into_assignment(self) -> Assignment {
        Assignment::Value(IntoValue::<String>::into_value(self))
    }
}

impl<M> Assign<M, Option<String>> for &str {
    fn into_assignment(self) -> Assignment {
        Assignment::Value(IntoValue::<Option<String>>::into_value(self))
    }
}

impl<M> Assign<M, Vec<u8>> for &[u8] {
    fn into_assignment(self) -> Assignment {
        Assignment::Value(IntoValue::<Vec<u8>>::into_value(self))
    }
}

impl<M> Assign<M, Option<Vec<u8>>> for &[u8] {
    fn into_assignment(self) -> Assignment {
        Assignment::Value(IntoValue::<Option<Vec<u8>>>::into_value(self))
    }
}

/// Marks the field types that text operations (`like`, `ilike`, `max_length`) apply to.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a text column type",
    label = "text operations need a `String` or `Option<String>` column",
    note = "`like`, `ilike`, `lower`, `upper`, `max_length` and `collation` only apply to text columns"
)]
pub trait TextField: FieldType {}
impl<T: TextType> TextField for T {}
impl<T: TextType> TextField for Option<T> {}

/// A [`SqlType`] stored as text that text operations apply to: `String`, and newtypes of it
/// (`#[derive(SqlType)] struct Email(String);`). Enums are text too, but not `TextType`.
pub trait TextType: SqlType {}
impl TextType for String {}

/// A [`SqlType`] holding a calendar date (a date or a timestamp), which `year()`, `month()`
/// and `day()` apply to.
pub trait DateType: SqlType {}

/// Marks the date and timestamp field types that `year()`, `month()` and `day()` apply to,
/// with the type of the extracted part (`i32`, or `Option<i32>` for a nullable column).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a date or timestamp column type",
    label = "`year()`/`month()`/`day()` need a date or timestamp column (chrono or time)"
)]
pub trait DateField: FieldType {
    /// `i32`, or `Option<i32>` for a nullable column.
    type Part: FieldType;
}
impl<T: DateType> DateField for T {
    type Part = i32;
}
impl<T: DateType> DateField for Option<T> {
    type Part = Option<i32>;
}

/// A [`SqlType`] stored as a decimal, which `precision`/`scale` apply to: `Decimal` and
/// newtypes of it.
pub trait DecimalType: SqlType {}
impl<T: DecimalType> DecimalField for T {}
impl<T: DecimalType> DecimalField for Option<T> {}

/// Marks the decimal field types, the only ones `precision`/`scale` apply to.
#[diagnostic::on_unimplemented(
    message = "`precision`/`scale` need a decimal field, not `{Self}`",
    label = "not a `rust_decimal::Decimal` or `Option<Decimal>`",
    note = "`precision` and `scale` size a DECIMAL column; enable the `decimal` feature and use `rust_decimal::Decimal`"
)]
pub trait DecimalField: FieldType {}

/// Marks the non-nullable numeric field types, the ones `column + n` applies to (adding to a
/// NULL is NULL in SQL but an error on MongoDB, so nullable columns are left out).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a non-nullable numeric column type",
    label = "`+`/`-` in updates need an `i16`, `i32`, `i64`, `f32` or `f64` column"
)]
pub trait NumericField: FieldType {}
impl NumericField for i16 {}
impl NumericField for i32 {}
impl NumericField for i64 {}
impl NumericField for f32 {}
impl NumericField for f64 {}

/// Marks the nullable field types (`Option<T>`), the only ones `is_null` applies to.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not nullable, so it can never be NULL",
    label = "`is_null`/`is_not_null` need an `Option<_>` column",
    note = "declare the field as `Option<_>` to make the column nullable"
)]
pub trait NullableField: FieldType {}
impl<T: SqlType> NullableField for Option<T> {}

/// Marks the integer field types, the only ones `auto_increment` applies to.
#[diagnostic::on_unimplemented(
    message = "`auto_increment` needs a non-nullable integer field, not `{Self}`",
    label = "not `i16`, `i32` or `i64`",
    note = "auto-increment keys must be `i16`, `i32` or `i64`"
)]
pub trait AutoIncrementField: FieldType {}
impl AutoIncrementField for i16 {}
impl AutoIncrementField for i32 {}
impl AutoIncrementField for i64 {}

/// Marks the field types that may be part of a primary key (non-nullable ones).
#[diagnostic::on_unimplemented(
    message = "a primary-key field cannot be `{Self}`",
    label = "primary keys cannot be nullable",
    note = "use the non-`Option` type: primary-key columns are always NOT NULL"
)]
pub trait KeyField: FieldType {}
impl<T: SqlType> KeyField for T {}

/// Marks a field that can hold the primary key `K` of the model it `belongs_to`.
#[diagnostic::on_unimplemented(
    message = "a `{Self}` field cannot hold a key of type `{K}`",
    label = "a foreign-key column has the parent's primary-key type, or its `Option`",
    note = "a parent with a composite primary key cannot be referenced by a single field"
)]
pub trait ReferencesKey<K>: FieldType {}
impl<T: SqlType> ReferencesKey<T> for T {}
impl<T: SqlType> ReferencesKey<T> for Option<T> {}

/// The primary-key type of a model whose `#[derive(Model)]` failed before its key was known:
/// every field may hold it, so that the models referring to the failed one report nothing
/// beyond the derive's own errors. Never a value.
#[doc(hidden)]
pub enum UnknownKey {}
impl<T: FieldType> ReferencesKey<UnknownKey> for T {}

/// Marks the fields whose foreign key may use `on_delete`/`on_update = "set_null"`.
#[diagnostic::on_unimplemented(
    message = "`set_null` needs a nullable field, not `{Self}`",
    label = "declare this field as `Option<_>` to allow `set_null`"
)]
pub trait SetNullField: FieldType {}
impl<T: SqlType> SetNullField for Option<T> {}

/// A literal accepted by `#[orm(default = ...)]` for a field whose base type is `T`.
#[diagnostic::on_unimplemented(
    message = "`default` value of type `{Self}` does not fit a `{T}` field",
    label = "wrong type for this field's default",
    note = "`default` takes a literal of the field's own type: `true`/`false` for `bool`, an integer or float for a number, a string for `String` and `SqlEnum` fields, JSON text for JSON (`\"{{}}\"`), digits for `Decimal` (`\"0.00\"`, `0`), an ISO date for dates (`\"2024-01-31\"`)",
    note = "timestamps and dates take `default = now()`, UUIDs `default = uuid()`; times and bytes take no database default (use `default_fn = path` for a value computed by the application)"
)]
pub trait DefaultLiteral<T> {}

/// [`DefaultLiteral`] for the field types whose mistakes the generic message explains badly:
/// the derive checks a `default` on a UUID, timestamp, JSON, decimal or date field (recognised
/// by the type's name) through one of these, each saying what that field takes instead.
macro_rules! default_literal_for {
    ($($(#[$attr:meta])* $name:ident;)*) => {$(
        $(#[$attr])*
        pub trait $name<T> {}
        impl<T, L: DefaultLiteral<T>> $name<T> for L {}
    )*};
}

default_literal_for! {
    /// A literal `default` of a UUID field (there is none).
    #[diagnostic::on_unimplemented(
        message = "a UUID field takes no literal `default` (`{Self}` given)",
        label = "not a default for a UUID field",
        note = "write `default = uuid()`: PostgreSQL generates it (`gen_random_uuid()`), other backends get `Uuid::now_v7()` from the application; or `default_fn = path` for a value of your own"
    )]
    UuidDefaultLiteral;
    /// A literal `default` of a timestamp field (there is none).
    #[diagnostic::on_unimplemented(
        message = "a timestamp field takes no literal `default` (`{Self}` given)",
        label = "not a default for a timestamp field",
        note = "write `default = now()` for the database's current time (or `#[orm(created_at)]` / `#[orm(updated_at)]`); for a fixed instant use `default_fn = path`"
    )]
    TimestampDefaultLiteral;
    /// A literal `default` of a JSON field: JSON text.
    #[diagnostic::on_unimplemented(
        message = "a JSON field's `default` is JSON text in a string, not `{Self}`",
        label = "write the JSON as a string literal",
        note = "e.g. `default = \"{{}}\"`, `default = \"[]\"`, `default = \"5\"`, `default = \"true\"`"
    )]
    JsonDefaultLiteral;
    /// A literal `default` of a decimal field: a number or its digits.
    #[diagnostic::on_unimplemented(
        message = "a decimal field's `default` is a number or a string of digits, not `{Self}`",
        label = "not a decimal",
        note = "e.g. `default = 0`, `default = 2.5` or `default = \"19.99\"` (exact)"
    )]
    DecimalDefaultLiteral;
    /// A literal `default` of a date field: an ISO date.
    #[diagnostic::on_unimplemented(
        message = "a date field's `default` is an ISO-8601 date in a string, not `{Self}`",
        label = "not a date",
        note = "e.g. `default = \"2024-01-31\"`, or `default = now()` for the current date"
    )]
    DateDefaultLiteral;
}
impl DefaultLiteral<bool> for bool {}
impl DefaultLiteral<i16> for i16 {}
impl DefaultLiteral<i32> for i32 {}
impl DefaultLiteral<i64> for i64 {}
impl DefaultLiteral<f32> for f32 {}
impl DefaultLiteral<f64> for f64 {}
impl DefaultLiteral<String> for &'static str {}
impl DefaultLiteral<u8> for u8 {}
impl DefaultLiteral<u16> for u16 {}
impl DefaultLiteral<u32> for u32 {}
impl DefaultLiteral<u64> for u64 {}
