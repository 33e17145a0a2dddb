//! Runtime of the `polyorm` crate: schema descriptors, values, the query IR and its typed
//! builders, the SQL compilers, the executors (the native PostgreSQL driver on tokio-postgres,
//! the default with the feature `postgres-native`, and sqlx's beside it; sqlx for MySQL; the
//! native SQLite driver) and the error type.
//!
//! Users depend on the `polyorm` facade, which re-exports this crate and the derive macro.

// Without a backend feature only the compilers are usable; the executor glue is inert.
#![cfg_attr(
    not(any(feature = "_sqlx", feature = "sqlite")),
    allow(dead_code, unused_imports, unused_variables, unreachable_code)
)]

#[cfg(feature = "access")]
pub mod access;
#[cfg(feature = "audit")]
pub mod audit;
pub mod config;
pub mod credentials;
#[cfg(feature = "dynamodb")]
pub mod dynamo;
pub mod error;
pub mod exec;
#[cfg(feature = "distributed")]
pub use exec::distributed;
#[cfg(feature = "mock")]
pub use exec::mock;
#[cfg(all(feature = "topology", any(feature = "postgres", feature = "mysql")))]
pub use exec::topology;
pub mod model;
#[cfg(feature = "mongodb")]
pub mod mongo;
#[cfg(any(feature = "tracing", feature = "metrics"))]
pub mod observe;
pub mod query;
pub mod raw;
pub mod schema;
#[cfg(feature = "sharding")]
pub mod shard;
pub mod sql;
pub mod tls;
pub mod value;

/// The `bson` crate, for `bson::oid::ObjectId` fields (feature `bson`, which `mongodb` turns on).
#[cfg(feature = "bson")]
pub use bson;
pub use error::{Error, Result};
/// Which driver a MySQL/MariaDB pool runs on ([`PoolOptions::mysql_driver`]).
#[cfg(feature = "mysql")]
pub use exec::MySqlDriver;
/// Which driver a PostgreSQL pool runs on ([`PoolOptions::postgres_driver`]; the native one by
/// default when the feature `postgres-native` is on).
#[cfg(feature = "postgres")]
pub use exec::PostgresDriver;
pub use exec::{
    Backend, Connection, Db, ExecResult, Executor, Health, IsolationLevel, PoolOptions, PoolStatus,
    RetryPolicy, RowRef, RowStream, Transaction, TxOptions,
};
pub use model::Model;
pub use query::ir::FrameBound;
pub use query::{
    BelongsTo, Column, ColumnId, DeleteMany, Explain, Filter, HasMany, HasManyThrough,
    HasManyThroughWith, HasManyWith, HasOne, Inner, Left, OfJoined, OfModel, OnConflict, Order,
    Right, S0, S1, S2, S3, S4, S5, S6, S7, S8, Select, UpdateMany, Window, case_when, count_all,
    dense_rank, rank, row_number,
};
pub use raw::{FromRow, FromValues, Raw, raw};
pub use schema::{
    CheckExpr, CheckLiteral, CheckOp, CheckSchema, ColumnSchema, ColumnType, DefaultValue,
    ForeignKeySchema, IndexFunction, IndexKey, IndexMethod, IndexSchema, ModelSchema,
    ReferentialAction,
};
pub use sql::{Compiled, Dialect};
#[cfg(feature = "json")]
pub use value::Json;
pub use value::{
    Assign, DateType, DecimalType, FieldType, IntoValue, NowDefault, SoftDeleteField, SqlType,
    TextType, TimestampField, Unset, UuidDefault, Value,
};

/// Everything a user of the ORM usually needs in scope.
pub mod prelude {
    pub use crate::{
        BelongsTo, Column, Db, Error, Executor, Explain, Filter, FromRow, HasMany, HasManyThrough,
        HasManyWith, HasOne, Inner, IsolationLevel, Left, Model, OfJoined, OfModel, OnConflict,
        PoolOptions, Result, RetryPolicy, Right, S0, S1, S2, S3, S4, S5, S6, S7, S8, Transaction,
        TxOptions, Window, case_when, count_all, dense_rank, rank, row_number,
    };
}

/// Paths used by code that `#[derive(Model)]` generates. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::error::{Error, Result};
    pub use crate::exec::RowRef;
    pub use crate::model::Model;
    pub use crate::query::Filter;
    pub use crate::query::grouping::{ColumnId, GroupedIn};
    pub use crate::query::ir::Condition;
    pub use crate::query::{
        BelongsTo, BelongsToModel, Column, HasMany, HasManyThrough, HasOne, JoinModel,
    };
    pub use crate::raw::{FromRow, FromValues};
    pub use crate::schema::{
        CheckSchema, ColumnSchema, ColumnType, DefaultValue, ForeignKeySchema, IndexFunction,
        IndexKey, IndexMethod, IndexSchema, ModelSchema, ReferentialAction,
    };
    pub use crate::value::{
        AutoIncrementField, DecimalField, DecimalType, DefaultLiteral, FieldType, KeyField,
        NowDefault, SqlType, TextField, TextType, Unset, UuidDefault, Value,
    };
    pub use std::option::Option;
    pub use std::result::Result as StdResult;
    pub use std::vec::Vec;

    /// Compile-time check that a field's type is storable (error points at the type).
    pub const fn assert_field_type<T: FieldType>() {}
    /// Compile-time check for `max_length` (error points at the field's type).
    pub const fn assert_text_field<T: TextField>() {}
    /// Compile-time check for `precision`/`scale` (error points at the field's type).
    pub const fn assert_decimal_field<T: DecimalField>() {}
    /// Compile-time check that a `#[derive(SqlType)]` newtype wraps a storable type.
    pub const fn assert_sql_type<T: SqlType>() {}
    /// Compile-time check for `auto_increment` (error points at the field's type).
    pub const fn assert_auto_increment_field<T: AutoIncrementField>() {}
    /// Compile-time check for primary-key fields (error points at the field's type).
    pub const fn assert_key_field<T: KeyField>() {}
    /// Compile-time check that a `belongs_to` field has the type of the parent's key.
    pub const fn assert_foreign_key<F: crate::value::ReferencesKey<K>, K>() {}
    /// Compile-time check for `has_many`/`has_one`: the child column holds the parent's key.
    pub const fn assert_relation_key<K, C, F: crate::value::ReferencesKey<K>>(
        _: Column<C, F, impl ColumnId>,
    ) {
    }
    /// Compile-time check for `version` (an `i16`/`i32`/`i64` field).
    pub const fn assert_version_field<T: crate::value::generated::VersionField>() {}
    /// Compile-time check that a `soft_delete` field is a nullable timestamp.
    pub const fn assert_soft_delete_field<T: crate::value::SoftDeleteField>() {}
    pub use crate::value::SoftDeleteField;
    pub use crate::value::UnknownKey;
    pub use crate::value::generated::{
        Generator, fn_default, now_default, timestamp_default, uuid_default,
    };
    /// Compile-time check for `on_delete = "set_null"` (the field must be an `Option`).
    pub const fn assert_nullable_field<T: crate::value::SetNullField>() {}
    /// Compile-time check for `belongs_to`: the parent has a single-column primary key.
    pub const fn assert_single_key(schema: &ModelSchema) {
        assert!(
            schema.primary_key.len() == 1,
            "`belongs_to` needs a parent model with a single-column primary key"
        );
    }
    /// A `check = ...` expression as the condition it builds: it must be a filter of the model
    /// itself (`Filter<M>`), so a column of another model is a type error at the expression.
    pub fn check_condition<M>(filter: Filter<M>) -> Condition {
        filter.into_condition()
    }
    /// Compile-time check that a field-level `check` is not on an enum column, whose own CHECK
    /// of allowed values already has the name `ck_<table>_<column>`.
    pub const fn assert_check_not_on_enum(allowed: Option<&'static [&'static str]>) {
        assert!(
            allowed.is_none(),
            "a field-level `check` is named `ck_<table>_<column>`, the name of this enum \
             column's own CHECK of allowed values; put it on the struct instead: \
             `#[orm(check(name = ...))]`"
        );
    }
    /// Compile-time check that a `default` literal fits the field (error points at the literal).
    pub fn assert_default<T: FieldType, L: DefaultLiteral<T::Base>>(_literal: L) {}
    /// [`assert_default`] for a UUID field (says `uuid()` instead).
    pub fn assert_uuid_default<T: FieldType, L: crate::value::UuidDefaultLiteral<T::Base>>(_: L) {}
    /// [`assert_default`] for a timestamp field (says `now()` instead).
    pub fn assert_timestamp_default<
        T: FieldType,
        L: crate::value::TimestampDefaultLiteral<T::Base>,
    >(
        _: L,
    ) {
    }
    /// [`assert_default`] for a JSON field (says JSON text).
    pub fn assert_json_default<T: FieldType, L: crate::value::JsonDefaultLiteral<T::Base>>(_: L) {}
    /// [`assert_default`] for a decimal field (says a number or digits).
    pub fn assert_decimal_default<T: FieldType, L: crate::value::DecimalDefaultLiteral<T::Base>>(
        _: L,
    ) {
    }
    /// [`assert_default`] for a date field (says an ISO date).
    pub fn assert_date_default<T: FieldType, L: crate::value::DateDefaultLiteral<T::Base>>(_: L) {}

    /// Compile-time check that a text `default` fits its column: JSON text for JSON, digits
    /// for a decimal, an ISO date for a date, one of an enum column's stored values.
    pub const fn assert_text_default(
        ty: crate::schema::ColumnType,
        allowed: Option<&'static [&'static str]>,
        literal: &str,
    ) {
        if let Some(message) = crate::schema::default::text_default_error(ty, literal) {
            panic!("{}", message);
        }
        assert_allowed_default(allowed, literal);
    }

    /// Compile-time check that a text `default` is one of an enum column's stored values
    /// (a no-op for other columns, whose `allowed` is `None`).
    pub const fn assert_allowed_default(allowed: Option<&'static [&'static str]>, literal: &str) {
        let Some(values) = allowed else { return };
        let mut i = 0;
        while i < values.len() {
            if values[i].len() == literal.len() {
                let (a, b) = (values[i].as_bytes(), literal.as_bytes());
                let mut j = 0;
                while j < a.len() && a[j] == b[j] {
                    j += 1;
                }
                if j == a.len() {
                    return;
                }
            }
            i += 1;
        }
        panic!(
            "`default` is not a stored value of this enum: write the text a variant is stored as \
             (after `rename`/`rename_all`), e.g. \"on_hold\""
        );
    }

    pub use crate::__orm_register_model as register_model;
    #[cfg(feature = "registry")]
    pub use crate::registry::RegisteredModel;
    #[cfg(feature = "registry")]
    pub use inventory;
}

/// Every model registered by `#[derive(Model)]` (with the `registry` feature, which the
/// facade's `migrate` feature turns on).
#[cfg(feature = "registry")]
pub mod registry {
    use crate::schema::ModelSchema;

    /// One model's descriptor, submitted by the derive. Not built by hand.
    #[derive(Debug)]
    pub struct RegisteredModel {
        /// The model's schema.
        pub schema: &'static ModelSchema,
    }

    inventory::collect!(RegisteredModel);

    /// The schema of every model linked into the program, in no particular order.
    pub fn models() -> impl Iterator<Item = &'static ModelSchema> {
        inventory::iter::<RegisteredModel>
            .into_iter()
            .map(|m| m.schema)
    }

    /// A trigger the ORM keeps on one of its own tables (the audit's linking trigger),
    /// submitted by the module that needs it, so that the migration engine creates it with
    /// its table and does not report it as drift. Not built by hand.
    #[derive(Debug)]
    pub struct RegisteredTrigger {
        /// The table the trigger is on.
        pub table: &'static str,
        /// The trigger's name.
        pub name: &'static str,
        /// Its `CREATE TRIGGER` statement on a dialect; `None` where the table has none.
        pub create: fn(crate::sql::Dialect) -> Option<String>,
    }

    inventory::collect!(RegisteredTrigger);

    /// Every trigger the ORM keeps on its own tables, in no particular order.
    pub fn triggers() -> impl Iterator<Item = &'static RegisteredTrigger> {
        inventory::iter::<RegisteredTrigger>.into_iter()
    }

    /// The `(name, CREATE TRIGGER)` of each trigger the ORM keeps on `table` on `dialect`.
    pub fn triggers_on(table: &str, dialect: crate::sql::Dialect) -> Vec<(&'static str, String)> {
        triggers()
            .filter(|t| t.table == table)
            .filter_map(|t| Some((t.name, (t.create)(dialect)?)))
            .collect()
    }
}

/// Registers a model's schema for discovery; expands to nothing without `registry`.
#[cfg(feature = "registry")]
#[doc(hidden)]
#[macro_export]
macro_rules! __orm_register_model {
    ($model:ty) => {
        $crate::__private::inventory::submit! {
            $crate::__private::RegisteredModel {
                schema: <$model as $crate::__private::Model>::SCHEMA,
            }
        }
    };
}

/// Registers a model's schema for discovery; expands to nothing without `registry`.
#[cfg(not(feature = "registry"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __orm_register_model {
    ($model:ty) => {};
}
