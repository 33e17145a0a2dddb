//! The words of `#[orm(...)]`, as constants so that parsing and messages agree on spelling.

use std::fmt::{self, Display};

use syn::{Ident, Path};

/// An attribute keyword.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Symbol(&'static str);

/// The attribute itself: `#[orm(...)]`.
pub const ORM: Symbol = Symbol("orm");

/// Struct: `table = "name"`.
pub const TABLE: Symbol = Symbol("table");
/// Struct: `crate = "path"`.
pub const CRATE: Symbol = Symbol("crate");
/// Struct: `primary_key(a, b)`; field: `primary_key`.
pub const PRIMARY_KEY: Symbol = Symbol("primary_key");
/// Struct: `unique(a, b)`; field: `unique`.
pub const UNIQUE: Symbol = Symbol("unique");
/// Struct: `index(a, b)`; field: `index`.
pub const INDEX: Symbol = Symbol("index");

/// Field: `auto_increment`.
pub const AUTO_INCREMENT: Symbol = Symbol("auto_increment");
/// Field: `column = "name"`.
pub const COLUMN: Symbol = Symbol("column");
/// Field: `default = <literal>`.
pub const DEFAULT: Symbol = Symbol("default");
/// Field: `default_fn = path` (a function the insert calls when the field is unset).
pub const DEFAULT_FN: Symbol = Symbol("default_fn");
/// Field: `created_at` (set to the current time by an insert when unset).
pub const CREATED_AT: Symbol = Symbol("created_at");
/// Field: `updated_at` (set to the current time by every insert and update).
pub const UPDATED_AT: Symbol = Symbol("updated_at");
/// Field: `version` (optimistic locking: an integer compared and incremented by updates).
pub const VERSION: Symbol = Symbol("version");
/// Field: `soft_delete` (a nullable timestamp set by deletes instead of removing the row).
pub const SOFT_DELETE: Symbol = Symbol("soft_delete");
/// Field: `max_length = N`.
pub const MAX_LENGTH: Symbol = Symbol("max_length");
/// Field: `collation = "name"` (text columns: the database collation to compare with).
pub const COLLATION: Symbol = Symbol("collation");
/// Field: `shard_key` (the column that picks the shard a row lives in).
pub const SHARD_KEY: Symbol = Symbol("shard_key");
/// Field: `skip`.
pub const SKIP: Symbol = Symbol("skip");
/// Struct and field: `renamed_from = "old_name"` (a hint for the migration engine).
pub const RENAMED_FROM: Symbol = Symbol("renamed_from");
/// Struct: `has_many(posts = Post::AUTHOR_ID)`.
pub const HAS_MANY: Symbol = Symbol("has_many");
/// Struct: `has_one(profile = Profile::USER_ID)`.
pub const HAS_ONE: Symbol = Symbol("has_one");
/// In `has_many`: `tags = through(PostTag)` (many-to-many through a join model).
pub const THROUGH: Symbol = Symbol("through");
/// Field: `belongs_to = Parent` (a foreign key to the parent's primary key).
pub const BELONGS_TO: Symbol = Symbol("belongs_to");
/// Field: `on_delete = "cascade"` (with `belongs_to`).
pub const ON_DELETE: Symbol = Symbol("on_delete");
/// Field: `on_update = "cascade"` (with `belongs_to`).
pub const ON_UPDATE: Symbol = Symbol("on_update");
/// Field: `fk_name = "..."` (with `belongs_to`: the database's name for the foreign key).
pub const FK_NAME: Symbol = Symbol("fk_name");

/// Field: `check = <filter>` (a CHECK over the model's columns); struct: `check(name = <filter>)`.
pub const CHECK: Symbol = Symbol("check");

/// Field: `precision = P` (decimal fields).
pub const PRECISION: Symbol = Symbol("precision");
/// Field: `scale = S` (decimal fields, with `precision`).
pub const SCALE: Symbol = Symbol("scale");
/// Enum: `rename_all = "snake_case"` (`#[derive(SqlEnum)]`).
pub const RENAME_ALL: Symbol = Symbol("rename_all");
/// Enum variant: `rename = "..."` (`#[derive(SqlEnum)]`).
pub const RENAME: Symbol = Symbol("rename");

/// Options that only make sense on the struct.
pub const STRUCT_ONLY: &[Symbol] = &[TABLE, CRATE, HAS_MANY, HAS_ONE];
/// Options that only make sense on a field.
pub const FIELD_ONLY: &[Symbol] = &[
    AUTO_INCREMENT,
    COLUMN,
    DEFAULT,
    DEFAULT_FN,
    CREATED_AT,
    UPDATED_AT,
    VERSION,
    SOFT_DELETE,
    MAX_LENGTH,
    COLLATION,
    PRECISION,
    SCALE,
    SKIP,
    SHARD_KEY,
    BELONGS_TO,
    ON_DELETE,
    ON_UPDATE,
    FK_NAME,
];

impl Symbol {
    /// The keyword as written.
    pub const fn as_str(self) -> &'static str {
        self.0
    }
}

impl PartialEq<Symbol> for Ident {
    fn eq(&self, word: &Symbol) -> bool {
        self == word.0
    }
}

impl PartialEq<Symbol> for &Ident {
    fn eq(&self, word: &Symbol) -> bool {
        *self == word.0
    }
}

impl PartialEq<Symbol> for Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl PartialEq<Symbol> for &Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl Display for Symbol {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.0)
    }
}
