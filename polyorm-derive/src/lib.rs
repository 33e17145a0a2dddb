//! The `#[derive(Model)]` macro of the `polyorm` crate.
//!
//! Use it through `polyorm` (`use polyorm::prelude::*;`), which re-exports it together with the runtime
//! that the generated code calls.
//!
//! The crate is laid out like serde_derive: `ast` builds a small AST of the input while `attr`
//! parses every `#[orm(...)]` option, recording problems in a `ctxt::Ctxt` instead of stopping
//! at the first one; `check` applies the cross-field rules; `expand` generates the code, or
//! `fallback` the errors plus stub impls. Keywords live in `symbol`.

mod ast;
mod attr;
mod case;
mod check;
mod ctxt;
mod expand;
mod expand_row;
mod expand_types;
mod fallback;
mod symbol;

#[cfg(test)]
mod tests;

use proc_macro::TokenStream;

/// Derives `polyorm::Model` for a struct with named fields, mapping it to one table.
///
/// It generates a typed column constant per stored field (`User::EMAIL`), a static schema
/// descriptor, the row decoder and the value encoders.
///
/// # Struct options: `#[orm(...)]` on the struct
///
/// - `table = "name"`: table name (default: the struct name in snake_case, not pluralized).
/// - `primary_key(a, b)`: composite primary key, by field name.
/// - `unique(a, b)`: composite unique constraint (repeatable), named `uq_<table>_<columns>`;
///   `unique(a, b, name = "orders_a_b_key")` keeps the name a database already gave it.
/// - `index(a, b)`: composite index (repeatable), named `idx_<table>_<columns>`; `name = "…"`
///   as for `unique`.
/// - Options of `index(…)` and `unique(…)`, after or between the keys:
///   - `desc(field)`: the key in descending order (named `…_<column>_desc`);
///   - `lower(field)`: the lower case of a text field (`lower(email)`: case-insensitive lookups
///     and uniqueness; named `…_lower_<column>`); PostgreSQL and SQLite (MySQL/MariaDB have no
///     expression indexes: `Error::Schema` there);
///   - `method = "btree" | "hash" | "gin" | "gist"`: the access method on PostgreSQL (`hash` is
///     a b-tree elsewhere; `gin`/`gist` are not created elsewhere); not with `unique`, `hash`
///     takes one key, only a b-tree takes `desc`;
///   - `include(a, b)`: non-key columns stored in the index (PostgreSQL's `INCLUDE`; left out
///     elsewhere);
///   - `where = <filter>`: a partial index over the rows a filter of this model matches, e.g.
///     `unique(email, where = Self::DELETED_AT.is_null())` — typed like `check`, so a column of
///     another model or a value of the wrong type does not compile. MySQL/MariaDB have no
///     partial indexes: a non-unique one covers every row there, a unique one is refused.
/// - `has_many(name = Child::FOREIGN_KEY)`, `has_one(name = Child::FOREIGN_KEY)`: relation
///   accessors `Parent::name()` for eager loading (`with`) and `exists`, through the child's
///   `belongs_to` column (repeatable; several in one list: `has_many(posts = …, edited = …)`).
/// - `has_many(name = through(Join))`: many-to-many through the join model `Join`, which has
///   exactly two `belongs_to` fields, one to this model and one to the target (e.g.
///   `has_many(tags = through(PostTag))` gives `Post::tags()`, a `HasManyThrough<Post,
///   PostTag, Tag>`). `through(Join, Target)` names the target, for a join model with more
///   `belongs_to` fields (each of the two sides still named by exactly one). Eager loading
///   runs two statements per level (join rows, then targets) and skips soft-deleted join rows
///   and targets; `exists`/`exists_where` are nested `EXISTS`. A join model with two keys to
///   the same model (a model related to itself) builds the relation by hand:
///   `HasManyThrough::via(Follow::FOLLOWER_ID, Follow::FOLLOWED_ID)`.
/// - `check(name = <filter>)`: a table CHECK constraint `ck_<table>_<name>`, a typed filter
///   over this model's columns, e.g. `check(hot_or_pinned = Self::TIER.eq("hot").or(Self::PINNED.eq(true)))`
///   (repeatable; the name must differ from the checks the ORM derives from columns).
/// - `renamed_from = "old"`: the table's previous name, for the migration engine.
/// - `crate = "path"`: path of the runtime crate (default `::polyorm`; `"polyorm_core"` when depending
///   on `polyorm-core` directly).
///
/// # Field options: `#[orm(...)]` on a field
///
/// - `primary_key`: the field is the primary key.
/// - `auto_increment`: the database generates the key (integer primary key only).
/// - `column = "name"`: column name (default: the field name).
/// - `shard_key`: the column whose value picks the database a row lives in when the model is
///   spread over shards (`polyorm::shard`, feature `sharding`); one per model, never
///   `auto_increment`.
/// - `unique`, `index`: single-column unique constraint or index (`uq_<table>_<column>`,
///   `idx_<table>_<column>`); `unique = "users_email_key"` / `index = "…"` keeps the name a
///   database already gave it (what `pull` writes for a database the ORM did not create).
/// - `default = <literal>`: the column's database default: a bool, an integer or a float for a
///   number, a string for text and enum fields, JSON text for a JSON field (`default = "{}"`),
///   digits for a `Decimal` (`default = "0.00"` or `default = 0`), an ISO date for a date
///   (`default = "2024-01-31"`). Timestamps and UUIDs take no literal: `now()`, `uuid()` or
///   `default_fn` below. Checked against the field's type when the model compiles. The
///   ORM writes every field it inserts, so a literal default serves the rows other writers
///   insert and the rows present when a migration adds the column.
/// - `default = now()`: the current UTC time (the date, for a date field), generated by the
///   database: on timestamp and date fields (`DateTime<Utc>`, `NaiveDateTime`, `NaiveDate`,
///   `OffsetDateTime`, `PrimitiveDateTime`, `time::Date`, or an `Option` of one). An insert
///   whose field is *unset* — `None`, or the Unix epoch (chrono's `Default::default()`) — lets
///   the database generate it (`COALESCE(?, now())`) and returns the stored value; on MongoDB,
///   which has no server defaults, the ORM sets it from the application's clock.
/// - `default = uuid()`: a generated UUID on a `Uuid` (or `Option<Uuid>`) field, unset when nil
///   (or `None`): PostgreSQL's `gen_random_uuid()` (version 4, also the column's `DEFAULT`);
///   elsewhere (MySQL/MariaDB, SQLite, MongoDB), which generate none, `Uuid::now_v7()` set by
///   the ORM when it inserts (the column has no database default there).
/// - `default_fn = path`: a function `fn() -> FieldType` the insert calls when the field is
///   unset (equals `Default::default()`: `None`, `0`, `""`, ...), on every backend; nothing
///   in the DDL. Not with `default = now()`/`uuid()` nor `auto_increment`.
/// - `created_at`, `updated_at`: a timestamp field (`DateTime<Utc>`, `NaiveDateTime`,
///   `OffsetDateTime`, `PrimitiveDateTime`, or an `Option` of one) kept by the ORM from the
///   application's clock in UTC (the same on every backend): `created_at` is set by an insert
///   when unset (a given value is kept), `updated_at` by every insert, `update`, `update_many`
///   (unless it sets the column itself) and `upsert_many` conflict update. One of each per
///   model, not on a key, not with `default_fn`.
/// - `version`: optimistic locking on an `i16`/`i32`/`i64` field. `update` writes only the row
///   still holding the version it was read with and increments it; a row changed since it was
///   read is `Error::Conflict` (read it again and retry). `update_many` increments it unless
///   it sets it. One per model, not on a key.
/// - `soft_delete`: on a nullable timestamp field (`Option<DateTime<Utc>>`, …): `delete` and
///   `delete_many` set it to the current time instead of removing the row; every query,
///   `find`, `count`, `exists` and a parent's eager loading skip the rows where it is set;
///   `with_deleted()` / `only_deleted()` read them, `restore` clears it, `hard_delete` /
///   `delete_many().hard()` remove rows for good. One per model, not on a key.
/// - `max_length = N`: maximum length of a text column.
/// - `collation = "name"`: the collation a text column compares and sorts with (e.g.
///   `"utf8mb4_unicode_ci"` on MySQL, `"und-x-icu"` on PostgreSQL, `"NOCASE"` on SQLite), an
///   opt-in out of the portable code-point comparison; the name is written as is on every SQL
///   dialect, so pick one that the databases you deploy to all know.
/// - `precision = P, scale = S`: `NUMERIC(P, S)` of a `Decimal` field (P at most 28; `scale`
///   needs `precision`).
/// - `belongs_to = Parent`: a foreign key `fk_<table>_<column>` to `Parent`'s single-column
///   primary key (the field has the key's type, or its `Option`), and the accessor
///   `Child::parent()` for a field named `parent_id`.
/// - `on_delete = "…"`, `on_update = "…"`: with `belongs_to`, `no_action` (default),
///   `restrict`, `cascade`, `set_null` (an `Option` field) or `set_default` (PostgreSQL and
///   SQLite; refused on MySQL/MariaDB, whose InnoDB would keep `RESTRICT`).
/// - `fk_name = "…"`: with `belongs_to`, the foreign key's name instead of
///   `fk_<table>_<column>` (e.g. PostgreSQL's `orders_user_id_fkey` of an existing database).
/// - `check = <filter>`: a CHECK constraint `ck_<table>_<column>`, a typed filter over this
///   model's columns (`Self::AGE.ge(0)`): comparisons, `between`, `in_list`, `is_null`, `and`,
///   `or`, `not`, with bool, integer, float, decimal or text values. A column of another model
///   or a value of the wrong type does not compile; an enum field takes its check on the struct.
/// - `renamed_from = "old"`: the column's previous name, for the migration engine.
/// - `skip`: not stored; filled with `Default::default()` when a row is read.
///
/// ```ignore
/// use polyorm::prelude::*;
///
/// #[derive(Model)]
/// #[orm(table = "users")]
/// struct User {
///     #[orm(primary_key, auto_increment)]
///     id: i64,
///     #[orm(unique, max_length = 200)]
///     email: String,
///     name: Option<String>,
/// }
/// ```
#[proc_macro_derive(Model, attributes(orm))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    expand::derive(&input).into()
}

/// Derives `polyorm::SqlType` for a fieldless enum, stored as text.
///
/// Each variant is stored as its name, or as `#[orm(rename = "...")]`, or by the enum's
/// `#[orm(rename_all = "...")]` rule (`lowercase`, `UPPERCASE`, `snake_case`,
/// `SCREAMING_SNAKE_CASE`, `kebab-case`, `camelCase`, `PascalCase`). The table gets
/// `CHECK (col IN (...))` named `ck_<table>_<col>` on every dialect, and the column is as wide
/// as the longest value. Reading a value that is not a variant is an `Error::Decode`.
///
/// ```ignore
/// #[derive(polyorm::SqlEnum, Debug, Clone, Copy, PartialEq)]
/// #[orm(rename_all = "snake_case")]
/// enum Status { Active, OnHold, #[orm(rename = "gone")] Deleted }
/// ```
#[proc_macro_derive(SqlEnum, attributes(orm))]
pub fn derive_sql_enum(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    expand_types::derive_sql_enum(&input).into()
}

/// Derives `polyorm::SqlType` for a one-field tuple struct (a newtype), stored as the inner type.
///
/// A newtype of `String` also accepts `max_length` and text filters (`like`); a newtype of
/// `Decimal` accepts `precision`/`scale`.
///
/// ```ignore
/// #[derive(polyorm::SqlType, Debug, Clone, PartialEq)]
/// struct Email(String);
/// ```
#[proc_macro_derive(SqlType, attributes(orm))]
pub fn derive_sql_type(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    expand_types::derive_sql_type(&input).into()
}

/// Derives `polyorm::FromRow` and `polyorm::FromValues` for a struct that the rows of a projection
/// decode into: one field per selected value, in order.
///
/// `select((Track::NAME, Album::TITLE)).all_as::<TrackLine>(&db)` then compiles only when the
/// selected values have the struct's field types in field order; `raw(sql).fetch_all` decodes
/// it by position too. Named and tuple structs of 1 to 8 fields; `#[orm(crate = "...")]` as for
/// the other derives.
///
/// ```ignore
/// #[derive(polyorm::FromRow, Debug)]
/// struct TrackLine { track: String, album: String, artist: Option<String> }
/// ```
#[proc_macro_derive(FromRow, attributes(orm))]
pub fn derive_from_row(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    expand_row::derive_from_row(&input).into()
}
