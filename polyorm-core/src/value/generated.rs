//! The field types whose values an insert can generate: `#[orm(default = now())]`
//! ([`NowDefault`]), `#[orm(default = uuid())]` ([`UuidDefault`]) and
//! `#[orm(default_fn = path)]` ([`Unset`]).
//!
//! Such a field is *unset* while it holds its type's empty value — `None`, the nil UUID, the
//! Unix epoch (`Default::default()` of chrono's types) — and an insert then lets the database
//! generate the value (or generates it where the database cannot) and reads it back.

use super::{FieldType, SqlType};

/// A field whose value `#[orm(default = now())]` generates: a timestamp or a date, or an
/// `Option` of one.
#[diagnostic::on_unimplemented(
    message = "`default = now()` needs a timestamp or date field, not `{Self}`",
    label = "`now()` does not fit this field",
    note = "`now()` fits `DateTime<Utc>`, `NaiveDateTime`, `NaiveDate`, `OffsetDateTime`, `PrimitiveDateTime`, `time::Date` and an `Option` of one"
)]
pub trait NowDefault: FieldType {
    /// The current time (or date) in UTC, for the backends whose database does not generate
    /// it (MongoDB).
    fn now() -> Self;
    /// Whether the value is unset: `None`, or the Unix epoch.
    fn is_unset(&self) -> bool;
}

/// A field that `#[orm(created_at)]` / `#[orm(updated_at)]` maintains: a timestamp with or
/// without zone, or an `Option` of one.
#[diagnostic::on_unimplemented(
    message = "`created_at`/`updated_at` need a timestamp field, not `{Self}`",
    label = "not a timestamp",
    note = "they fit `DateTime<Utc>`, `NaiveDateTime` (UTC), `OffsetDateTime`, `PrimitiveDateTime` (UTC) and an `Option` of one"
)]
pub trait TimestampField: NowDefault {}

impl<T: SqlType + TimestampField> TimestampField for Option<T> {}

/// A field that `#[orm(soft_delete)]` can mark: an `Option` of a timestamp, NULL while the row
/// is live and the time of its deletion once deleted.
#[diagnostic::on_unimplemented(
    message = "`soft_delete` needs a nullable timestamp field, not `{Self}`",
    label = "not an `Option` of a timestamp",
    note = "it fits `Option<DateTime<Utc>>`, `Option<NaiveDateTime>`, `Option<OffsetDateTime>` and `Option<PrimitiveDateTime>`: NULL while the row is live, the time of its deletion after"
)]
pub trait SoftDeleteField: FieldType {
    /// The value a soft delete writes: the current time (the application's clock, UTC).
    fn deleted_now() -> super::Value;
}

impl<T: SqlType + TimestampField> SoftDeleteField for Option<T> {
    fn deleted_now() -> super::Value {
        <Option<T> as FieldType>::into_value(Some(T::now()))
    }
}

/// A field whose value `#[orm(default = uuid())]` generates: `uuid::Uuid` or
/// `Option<uuid::Uuid>`.
#[diagnostic::on_unimplemented(
    message = "`default = uuid()` needs a `uuid::Uuid` field, not `{Self}`",
    label = "`uuid()` does not fit this field",
    note = "`uuid()` fits `Uuid` and `Option<Uuid>` (feature `uuid`)"
)]
pub trait UuidDefault: FieldType {
    /// A new version-7 (time-ordered) UUID, for the backends whose database does not generate
    /// one (every one but PostgreSQL).
    fn new_v7() -> Self;
    /// Whether the value is unset: `None`, or the nil UUID.
    fn is_unset(&self) -> bool;
}

/// A field that `#[orm(default_fn = path)]` fills when it is unset, i.e. equal to its type's
/// `Default::default()`.
#[diagnostic::on_unimplemented(
    message = "`default_fn` needs a field with an unset value, and `{Self}` has none",
    label = "this type is not `Default + PartialEq`",
    note = "the function's value is written when the field equals `Default::default()` (`None`, `0`, `\"\"`, ...); use an `Option<_>` field"
)]
pub trait Unset {
    /// Whether the value equals `Default::default()`.
    fn is_unset(&self) -> bool;
}

impl<T: Default + PartialEq> Unset for T {
    fn is_unset(&self) -> bool {
        *self == T::default()
    }
}

impl<T: SqlType + NowDefault> NowDefault for Option<T> {
    fn now() -> Self {
        Some(T::now())
    }
    fn is_unset(&self) -> bool {
        self.is_none()
    }
}

impl<T: SqlType + UuidDefault> UuidDefault for Option<T> {
    fn new_v7() -> Self {
        Some(T::new_v7())
    }
    fn is_unset(&self) -> bool {
        self.is_none()
    }
}

#[cfg(feature = "uuid")]
impl UuidDefault for ::uuid::Uuid {
    fn new_v7() -> Self {
        ::uuid::Uuid::now_v7()
    }
    fn is_unset(&self) -> bool {
        self.is_nil()
    }
}

#[cfg(feature = "chrono")]
mod chrono_now {
    use ::chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

    use super::NowDefault;

    impl NowDefault for DateTime<Utc> {
        fn now() -> Self {
            Utc::now()
        }
        fn is_unset(&self) -> bool {
            *self == DateTime::<Utc>::UNIX_EPOCH
        }
    }

    impl NowDefault for NaiveDateTime {
        fn now() -> Self {
            Utc::now().naive_utc()
        }
        fn is_unset(&self) -> bool {
            *self == DateTime::<Utc>::UNIX_EPOCH.naive_utc()
        }
    }

    impl super::TimestampField for DateTime<Utc> {}
    impl super::TimestampField for NaiveDateTime {}

    impl NowDefault for NaiveDate {
        fn now() -> Self {
            Utc::now().date_naive()
        }
        fn is_unset(&self) -> bool {
            *self == DateTime::<Utc>::UNIX_EPOCH.date_naive()
        }
    }
}

#[cfg(feature = "time")]
mod time_now {
    use ::time::{Date, OffsetDateTime, PrimitiveDateTime};

    use super::NowDefault;

    impl NowDefault for OffsetDateTime {
        fn now() -> Self {
            OffsetDateTime::now_utc()
        }
        fn is_unset(&self) -> bool {
            *self == OffsetDateTime::UNIX_EPOCH
        }
    }

    impl NowDefault for PrimitiveDateTime {
        fn now() -> Self {
            let now = OffsetDateTime::now_utc();
            PrimitiveDateTime::new(now.date(), now.time())
        }
        fn is_unset(&self) -> bool {
            let epoch = OffsetDateTime::UNIX_EPOCH;
            *self == PrimitiveDateTime::new(epoch.date(), epoch.time())
        }
    }

    impl super::TimestampField for OffsetDateTime {}
    impl super::TimestampField for PrimitiveDateTime {}

    impl NowDefault for Date {
        fn now() -> Self {
            OffsetDateTime::now_utc().date()
        }
        fn is_unset(&self) -> bool {
            *self == OffsetDateTime::UNIX_EPOCH.date()
        }
    }
}

/// How an insert treats a field with a generated default: whether its value is unset, and the
/// application's value for it. One value per field type, built by [`now_default`] /
/// [`uuid_default`] (the derive calls one function per field, so a field of the wrong type is
/// one error).
#[doc(hidden)]
pub struct Generator<T> {
    /// Whether the field's value is unset.
    pub is_unset: fn(&T) -> bool,
    /// A new value, for the backends whose database does not generate it.
    pub make: fn() -> T,
}

/// The [`Generator`] of a `default = now()` field.
#[doc(hidden)]
pub const fn now_default<T: NowDefault>() -> Generator<T> {
    Generator {
        is_unset: T::is_unset,
        make: T::now,
    }
}

/// The [`Generator`] of a `created_at` / `updated_at` field (the application's clock).
#[doc(hidden)]
pub const fn timestamp_default<T: TimestampField>() -> Generator<T> {
    Generator {
        is_unset: T::is_unset,
        make: T::now,
    }
}

/// The [`Generator`] of a `default = uuid()` field.
#[doc(hidden)]
pub const fn uuid_default<T: UuidDefault>() -> Generator<T> {
    Generator {
        is_unset: T::is_unset,
        make: T::new_v7,
    }
}

/// The [`Generator`] of a `default_fn = path` field.
#[doc(hidden)]
pub fn fn_default<T: Unset>(function: fn() -> T) -> Generator<T> {
    Generator {
        is_unset: T::is_unset,
        make: function,
    }
}

/// A field that `#[orm(version)]` can use for optimistic locking: `i16`, `i32` or `i64`.
#[diagnostic::on_unimplemented(
    message = "`version` needs an `i16`, `i32` or `i64` field, not `{Self}`",
    label = "not an integer version",
    note = "a version is a non-nullable integer the ORM compares and increments on every update"
)]
pub trait VersionField: FieldType {}
impl VersionField for i16 {}
impl VersionField for i32 {}
impl VersionField for i64 {}
