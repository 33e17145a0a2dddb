//! The `#[derive(Model)]` macro of the `orm` crate.
//!
//! Use it through `orm` (`use orm::prelude::*;`), which re-exports it together with the runtime
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
mod expand_types;
mod fallback;
mod symbol;

#[cfg(test)]
mod tests;

use proc_macro::TokenStream;

/// Derives `orm::Model` for a struct with named fields, mapping it to one table.
///
/// It generates a typed column constant per stored field (`User::EMAIL`), a static schema
/// descriptor, the row decoder and the value encoders.
///
/// # Struct options: `#[orm(...)]` on the struct
///
/// - `table = "name"`: table name (default: the struct name in snake_case, not pluralized).
/// - `primary_key(a, b)`: composite primary key, by field name.
/// - `unique(a, b)`: composite unique constraint (repeatable).
/// - `index(a, b)`: composite index (repeatable).
/// - `has_many(name = Child::FOREIGN_KEY)`, `has_one(name = Child::FOREIGN_KEY)`: relation
///   accessors `Parent::name()` for eager loading (`with`) and `exists`, through the child's
///   `belongs_to` column (repeatable).
/// - `check(name = <filter>)`: a table CHECK constraint `ck_<table>_<name>`, a typed filter
///   over this model's columns, e.g. `check(hot_or_pinned = Self::TIER.eq("hot").or(Self::PINNED.eq(true)))`
///   (repeatable; the name must differ from the checks the ORM derives from columns).
/// - `renamed_from = "old"`: the table's previous name, for the migration engine.
/// - `crate = "path"`: path of the runtime crate (default `::orm`; `"orm_core"` when depending
///   on `orm-core` directly).
///
/// # Field options: `#[orm(...)]` on a field
///
/// - `primary_key`: the field is the primary key.
/// - `auto_increment`: the database generates the key (integer primary key only).
/// - `column = "name"`: column name (default: the field name).
/// - `unique`, `index`: single-column unique constraint or index.
/// - `default = <literal>`: database default (bool, integer, float or string).
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
///   `restrict`, `cascade`, `set_null` (an `Option` field) or `set_default`.
/// - `check = <filter>`: a CHECK constraint `ck_<table>_<column>`, a typed filter over this
///   model's columns (`Self::AGE.ge(0)`): comparisons, `between`, `in_list`, `is_null`, `and`,
///   `or`, `not`, with bool, integer, float, decimal or text values. A column of another model
///   or a value of the wrong type does not compile; an enum field takes its check on the struct.
/// - `renamed_from = "old"`: the column's previous name, for the migration engine.
/// - `skip`: not stored; filled with `Default::default()` when a row is read.
///
/// ```ignore
/// use orm::prelude::*;
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

/// Derives `orm::SqlType` for a fieldless enum, stored as text.
///
/// Each variant is stored as its name, or as `#[orm(rename = "...")]`, or by the enum's
/// `#[orm(rename_all = "...")]` rule (`lowercase`, `UPPERCASE`, `snake_case`,
/// `SCREAMING_SNAKE_CASE`, `kebab-case`, `camelCase`, `PascalCase`). The table gets
/// `CHECK (col IN (...))` named `ck_<table>_<col>` on every dialect, and the column is as wide
/// as the longest value. Reading a value that is not a variant is an `Error::Decode`.
///
/// ```ignore
/// #[derive(orm::SqlEnum, Debug, Clone, Copy, PartialEq)]
/// #[orm(rename_all = "snake_case")]
/// enum Status { Active, OnHold, #[orm(rename = "gone")] Deleted }
/// ```
#[proc_macro_derive(SqlEnum, attributes(orm))]
pub fn derive_sql_enum(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    expand_types::derive_sql_enum(&input).into()
}

/// Derives `orm::SqlType` for a one-field tuple struct (a newtype), stored as the inner type.
///
/// A newtype of `String` also accepts `max_length` and text filters (`like`); a newtype of
/// `Decimal` accepts `precision`/`scale`.
///
/// ```ignore
/// #[derive(orm::SqlType, Debug, Clone, PartialEq)]
/// struct Email(String);
/// ```
#[proc_macro_derive(SqlType, attributes(orm))]
pub fn derive_sql_type(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    expand_types::derive_sql_type(&input).into()
}
