//! Live introspection (PostgreSQL catalogs, MySQL/MariaDB `information_schema`, SQLite
//! pragmas) and drift detection against the models.
//!
//! What differs between dialects is data: each dialect's [`catalog::Catalog`] holds its catalog
//! queries (one row shape per kind of object, the same on every dialect) and its spellings of
//! storage types; one reader decodes them all, so a new dialect is one more catalog.
//!
//! Both sides are compared in a *physical* form per dialect: the storage type as the dialect
//! spells it (normalized), nullability, default literal, auto-increment, primary key, indexes
//! (columns, uniqueness, and on PostgreSQL and SQLite whether they are partial or on
//! expressions), foreign keys, CHECK constraints (by name: their conditions are not compared,
//! each catalog rewrites them its own way) and triggers (by name; the models declare none).
//! Physical equality is what "zero drift" means.
//!
//! Objects a hand-written migration adds on purpose are declared in its `up.sql` with
//! `-- orm:owns <kind> <table>[.<name>]` lines (see [`Owned`]): `verify` accepts them as they
//! are and still reports everything else.

use std::collections::{BTreeMap, BTreeSet};

use polyorm_core::sql::ddl::{
    MYSQL_COLLATION, column_check_sql, column_type_sql, declared_collation,
};
use polyorm_core::{ColumnType, Dialect, Executor, IndexMethod, ReferentialAction};

use crate::error::Result;
use crate::render::default_sql;
use crate::schema::{Column, Default, ForeignKey, Index, Schema};

pub mod catalog;
mod read;

use catalog::Catalog;
pub use read::{LiveColumn, LiveIndex, LiveSchema, LiveTable};

/// The history table, never part of the compared schema.
pub const HISTORY_TABLE: &str = "orm_migrations";

/// How SQLite names the index of a `UNIQUE` constraint in `CREATE TABLE`
/// (`sqlite_autoindex_<table>_<n>`): no statement can give it a name of its own, so it stands
/// for any unique index of the models on the same columns.
pub const SQLITE_AUTOINDEX: &str = "sqlite_autoindex_";

/// One column as the database stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhysColumn {
    /// Normalized storage type (`bigint`, `varchar(120)`, `bool`, ...).
    pub ty: String,
    /// Whether NULL is accepted.
    pub nullable: bool,
    /// Normalized default literal.
    pub default: Option<String>,
    /// Whether the database generates values.
    pub auto_increment: bool,
    /// The collation of a text column on PostgreSQL and MySQL/MariaDB (`default` on PostgreSQL
    /// when the column has none of its own); `None` where it is not compared (other columns,
    /// SQLite, whose catalog does not report it).
    pub collation: Option<String>,
}

impl PhysColumn {
    /// Whether the live column `self` is what `expected` describes: every property, and the
    /// collation where the expected side names one (the catalogs also report collations of
    /// columns the ORM does not declare text, such as MariaDB's JSON).
    fn matches(&self, expected: &PhysColumn) -> bool {
        (self.ty == expected.ty || narrower_unbounded(&self.ty, &expected.ty))
            && self.nullable == expected.nullable
            && self.default == expected.default
            && self.auto_increment == expected.auto_increment
            && (expected.collation.is_none() || self.collation == expected.collation)
    }
}

/// A MySQL/MariaDB `TEXT`/`MEDIUMTEXT` (`BLOB`/`MEDIUMBLOB`) where the models want the
/// `LONGTEXT` (`LONGBLOB`) of an unbounded `String` (`Vec<u8>`): what earlier versions of the
/// ORM created. Accepted as it is (no drift, no migration): such a column holds what it always
/// held, and a longer value is `Error::ValueTooLong` with the `ALTER TABLE` that widens it.
fn narrower_unbounded(live: &str, expected: &str) -> bool {
    match expected {
        "longtext" => matches!(live, "text" | "mediumtext"),
        "longblob" => matches!(live, "blob" | "mediumblob"),
        _ => false,
    }
}

impl std::fmt::Display for PhysColumn {
    /// `bigint NOT NULL DEFAULT 0 AUTO_INCREMENT`, as a drift report shows it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.ty)?;
        if !self.nullable {
            f.write_str(" NOT NULL")?;
        }
        if let Some(default) = &self.default {
            write!(f, " DEFAULT {default}")?;
        }
        if self.auto_increment {
            f.write_str(" AUTO_INCREMENT")?;
        }
        if let Some(collation) = &self.collation {
            write!(f, " COLLATE {collation}")?;
        }
        Ok(())
    }
}

/// One table as the database stores it.
#[derive(Debug, Clone, PartialEq, Eq, std::default::Default)]
pub struct PhysTable {
    /// Columns by name.
    pub columns: BTreeMap<String, PhysColumn>,
    /// Primary-key columns in key order.
    pub primary_key: Vec<String>,
    /// Indexes by name: (columns, unique).
    pub indexes: BTreeMap<String, (Vec<String>, bool)>,
    /// Foreign keys, each as one normalized line.
    pub foreign_keys: Vec<String>,
    /// Names of the CHECK constraints (named ones, on SQLite).
    pub checks: BTreeSet<String>,
    /// Names of the triggers on the table.
    pub triggers: BTreeSet<String>,
}

/// What kind of object a hand-written migration owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OwnedKind {
    /// A whole table the models do not declare (`table audit_log`).
    Table,
    /// A column the models do not declare (`column users.search`).
    Column,
    /// The default of a column (`default users.created_at`).
    Default,
    /// An index, whatever its definition (`index users.idx_users_tags_gin`).
    Index,
    /// A CHECK constraint (`check users.ck_users_age_positive`).
    Check,
    /// A trigger (`trigger users.trg_users_touch`).
    Trigger,
}

/// One object owned by hand-written SQL, which `verify` accepts as it is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Owned {
    /// Its kind.
    pub kind: OwnedKind,
    /// Its table.
    pub table: String,
    /// Its name (the column's for `column` and `default`); `None` for a table.
    pub name: Option<String>,
}

impl Owned {
    /// Parses `index users.idx_users_gin` (the text after `-- orm:owns`).
    pub fn parse(text: &str) -> Result<Owned, String> {
        let mut parts = text.split_whitespace();
        let (Some(kind), Some(target), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!(
                "`{text}`: write `<kind> <table>[.<name>]`, e.g. `index users.idx_users_gin`"
            ));
        };
        let kind = match kind.to_ascii_lowercase().as_str() {
            "table" => OwnedKind::Table,
            "column" => OwnedKind::Column,
            "default" => OwnedKind::Default,
            "index" => OwnedKind::Index,
            "check" => OwnedKind::Check,
            "trigger" => OwnedKind::Trigger,
            other => {
                return Err(format!(
                    "`{other}` is not a kind of owned object: table, column, default, index, \
                     check or trigger"
                ));
            }
        };
        let (table, name) = match (kind, target.split_once('.')) {
            (OwnedKind::Table, None) => (target.to_owned(), None),
            (OwnedKind::Table, Some(_)) => {
                return Err(format!("`{text}`: a table is named without a dot"));
            }
            (_, Some((t, n))) if !t.is_empty() && !n.is_empty() => {
                (t.to_owned(), Some(n.to_owned()))
            }
            _ => return Err(format!("`{text}`: name it as `<table>.<name>`")),
        };
        Ok(Owned { kind, table, name })
    }

    /// The `-- orm:owns` directives of a hand-written migration's SQL.
    pub fn directives(sql: &str) -> Result<Vec<Owned>, String> {
        sql.lines()
            .filter_map(|l| l.trim().strip_prefix("-- orm:owns "))
            .map(Owned::parse)
            .collect()
    }
}

/// The objects owned by hand-written SQL, as `verify` consults them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ownership(pub BTreeSet<Owned>);

impl Ownership {
    fn owns(&self, kind: OwnedKind, table: &str, name: Option<&str>) -> bool {
        self.0.iter().any(|o| {
            (o.kind == OwnedKind::Table && o.table == table)
                || (o.kind == kind && o.table == table && o.name.as_deref() == name)
        })
    }
}

/// A whole live (or expected) schema, tables by name.
pub type PhysSchema = BTreeMap<String, PhysTable>;

/// One spelling per storage type, whichever way `catalog` or the DDL writes it: lower case,
/// the catalog's aliases replaced by the DDL's names, integer display widths dropped.
pub(crate) fn norm_type(catalog: &Catalog, ty: &str) -> String {
    let mut t = ty.trim().to_ascii_lowercase().replace(", ", ",");
    for (alias, name) in catalog.type_aliases {
        if let Some(rest) = t.strip_prefix(alias)
            && (rest.is_empty() || rest.starts_with('('))
        {
            t = format!("{name}{rest}");
            break;
        }
    }
    for int in ["tinyint", "smallint", "mediumint", "bigint", "int"] {
        if let Some(rest) = t.strip_prefix(int)
            && (rest.starts_with('(') || rest.starts_with(' ') || rest.is_empty())
        {
            // `int(10) unsigned` (MySQL's catalog) and `int unsigned` (the DDL) are one type.
            return if rest.contains("unsigned") {
                format!("{int} unsigned")
            } else {
                int.to_owned()
            };
        }
    }
    t
}

/// A default literal as the catalog reports it, unquoted (`'it''s'::text` and MySQL/MariaDB's
/// `'it\'s'` are `it's`), with booleans as `1`/`0` and numbers in one spelling.
pub(crate) fn norm_default(d: Option<&str>, catalog: &Catalog) -> Option<String> {
    let mut s = d?.trim().to_owned();
    if s.eq_ignore_ascii_case("null") {
        return None;
    }
    while s.starts_with('(') && s.ends_with(')') {
        s = s[1..s.len() - 1].trim().to_owned();
    }
    if !s.starts_with('\'') {
        if let Some((v, _)) = s.split_once("::") {
            s = v.to_owned();
        }
    } else if let Some(end) = s.rfind('\'') {
        // `'abc'::text` → `abc`; `''` inside is an escaped quote, and on MySQL/MariaDB a
        // backslash escapes the next character.
        let quoted = &s[1..end];
        return Some(if catalog.backslash_escapes {
            unescape_mysql(quoted)
        } else {
            quoted.replace("''", "'")
        });
    }
    Some(match s.to_ascii_lowercase().as_str() {
        "true" => "1".to_owned(),
        "false" => "0".to_owned(),
        _ => match s.parse::<f64>() {
            Ok(f) => format!("{f}"),
            Err(_) => s,
        },
    })
}

/// The text of a MySQL/MariaDB string literal's body (escapes `\'`, `\\`, `\n`, ... and `''`).
fn unescape_mysql(quoted: &str) -> String {
    let mut out = String::with_capacity(quoted.len());
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('t') => out.push('\t'),
                Some('0') => out.push('\0'),
                Some('Z') => out.push('\x1a'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            '\'' if chars.clone().next() == Some('\'') => {
                chars.next();
                out.push('\'');
            }
            c => out.push(c),
        }
    }
    out
}

/// Each foreign key as one normalized line, sorted (names left out where the catalog keeps
/// none).
fn fk_lines(fks: &[ForeignKey], catalog: &Catalog) -> Vec<String> {
    let mut out: Vec<String> = fks
        .iter()
        .map(|fk| {
            let name = if catalog.keeps_foreign_key_names {
                fk.name.as_str()
            } else {
                ""
            };
            format!(
                "{name}({}) -> {}({}) on delete {} on update {}",
                fk.columns.join(", "),
                fk.ref_table,
                fk.ref_columns.join(", "),
                action_name(fk.on_delete, catalog),
                action_name(fk.on_update, catalog),
            )
        })
        .collect();
    out.sort();
    out
}

/// How `dialect`'s catalog spells a generated default (`now()`, `uuid()`) of a `ty` column:
/// the DDL's expression, with PostgreSQL's added casts.
pub(crate) fn generated_spelling(
    default: &Default,
    ty: ColumnType,
    dialect: Dialect,
) -> Option<&'static str> {
    match (default, ty, dialect) {
        (Default::Now, ColumnType::Timestamp, Dialect::Postgres) => {
            Some("timezone('UTC'::text, now())")
        }
        (Default::Now, ColumnType::Date, Dialect::Postgres) => {
            Some("(timezone('UTC'::text, now()))::date")
        }
        _ => polyorm_core::sql::default::generated_sql(default, ty, dialect),
    }
}

/// The physical form the models' schema takes on `dialect`.
pub fn expected(schema: &Schema, dialect: Dialect) -> PhysSchema {
    let catalog = catalog::of(dialect);
    schema
        .tables
        .values()
        .map(|t| {
            let columns = t
                .columns
                .iter()
                .map(|c| {
                    // Text defaults compare unquoted; the others as the catalogs spell them.
                    let default = c.default.as_ref().and_then(|d| match d {
                        _ if c.ty == ColumnType::Decimal => {
                            norm_default(default_sql(c, dialect).as_deref(), catalog)
                        }
                        Default::Bool(b) => norm_default(Some(&u8::from(*b).to_string()), catalog),
                        Default::Int(i) => norm_default(Some(&i.to_string()), catalog),
                        Default::Float(f) => norm_default(Some(&format!("{f}")), catalog),
                        Default::Text(s) => Some(s.clone()),
                        Default::Now | Default::Uuid => {
                            norm_default(generated_spelling(d, c.ty, dialect), catalog)
                        }
                    });
                    let pk = t.primary_key.contains(&c.name);
                    (
                        c.name.clone(),
                        PhysColumn {
                            ty: norm_type(catalog, &column_type_sql(&t.spec(c), dialect)),
                            nullable: c.nullable && !pk,
                            default,
                            auto_increment: c.auto_increment,
                            collation: expected_collation(c, dialect),
                        },
                    )
                })
                .collect();
            let indexes = t
                .indexes
                .iter()
                .filter(|ix| polyorm_core::sql::ddl::index_is_built(ix.method, dialect))
                .map(|ix| (ix.name.clone(), (expected_index(ix, dialect), ix.unique)))
                .collect();
            let foreign_keys = fk_lines(&t.foreign_keys, catalog);
            let checks = t
                .columns
                .iter()
                .flat_map(|c| column_check_sql(&t.name, &c.check_spec(), dialect))
                .map(|c| c.name)
                .chain(t.checks.iter().map(|c| c.name.clone()))
                .collect();
            (
                t.name.clone(),
                PhysTable {
                    columns,
                    primary_key: t.primary_key.clone(),
                    indexes,
                    foreign_keys,
                    checks,
                    // The ORM's own (the audit log's linking trigger) are expected, not drift.
                    triggers: polyorm_core::registry::triggers_on(&t.name, dialect)
                        .into_iter()
                        .map(|(name, _)| name.to_owned())
                        .collect(),
                },
            )
        })
        .collect()
}

/// How the physical form spells a key that indexes an expression (`lower(email)`).
const EXPRESSION: &str = "(expression)";
/// How the physical form marks a partial index.
const PARTIAL: &str = "WHERE (partial)";

/// The physical form of an index the ORM created on `dialect` (see [`physical`]): its keys
/// (an expression as `(expression)`, a descending key followed by ` DESC`), then
/// `USING <method>` and `WHERE (partial)` where the dialect keeps them. `include` columns are
/// not key columns, which the catalogs list alone.
pub(crate) fn expected_index(ix: &Index, dialect: Dialect) -> Vec<String> {
    let mut out: Vec<String> = ix
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let key = ix.key(i);
            let name = if key.function.is_some() {
                EXPRESSION.to_owned()
            } else {
                c.clone()
            };
            if key.descending {
                format!("{name} DESC")
            } else {
                name
            }
        })
        .collect();
    if dialect == Dialect::Postgres {
        out.extend(
            ix.method
                .filter(|m| *m != IndexMethod::Btree)
                .map(|m| format!("USING {}", m.sql())),
        );
    }
    // MySQL/MariaDB have no partial indexes: the ORM creates a full one there.
    if ix.predicate.is_some() && dialect != Dialect::MySql {
        out.push(PARTIAL.to_owned());
    }
    out
}

/// The collation a text column has when the ORM created it: the one its DDL declares
/// ([`declared_collation`]), or on MySQL/MariaDB the table's. Not compared on SQLite.
pub(crate) fn expected_collation(c: &Column, dialect: Dialect) -> Option<String> {
    let declared = declared_collation(&c.type_spec(), dialect);
    match dialect {
        Dialect::Sqlite => None,
        Dialect::MySql if c.ty == ColumnType::Text => Some(declared.unwrap_or(MYSQL_COLLATION)),
        _ => declared,
    }
    .map(str::to_owned)
}

/// Reads the live schema of the database `db` is connected to (its current PostgreSQL schema,
/// MySQL database, or SQLite main database), without the history table.
pub async fn live<E: Executor>(db: &E) -> Result<PhysSchema> {
    let dialect = crate::runner::sql_dialect(db)?;
    Ok(physical(&live_schema(db).await?, dialect))
}

/// [`live`] as the catalog reports it (not normalized), without the history table.
pub async fn live_schema<E: Executor>(db: &E) -> Result<LiveSchema> {
    let dialect = crate::runner::sql_dialect(db)?;
    let mut out = read::live(db, catalog::of(dialect)).await?;
    out.tables.remove(HISTORY_TABLE);
    Ok(out)
}

/// The physical form of a live schema read on `dialect`, as drift detection compares it.
pub fn physical(live: &LiveSchema, dialect: Dialect) -> PhysSchema {
    let catalog = catalog::of(dialect);
    let table = |name: &str, t: &LiveTable| {
        let columns = t
            .columns
            .iter()
            .map(|c| {
                let mut ty = norm_type(catalog, &c.storage_type);
                if dialect == Dialect::Sqlite {
                    ty = sqlite_storage(ty, sqlite_text_bounded(t, name, &c.name));
                }
                let column = PhysColumn {
                    ty,
                    nullable: c.nullable,
                    default: norm_default(c.default.as_deref(), catalog),
                    auto_increment: c.auto_increment,
                    collation: c.collation.clone().filter(|_| catalog.reports_collations),
                };
                (c.name.clone(), column)
            })
            .collect();
        let indexes = t
            .indexes
            .iter()
            .map(|ix| {
                let mut columns: Vec<String> = ix
                    .columns
                    .iter()
                    .zip(ix.descending.iter().chain(std::iter::repeat(&false)))
                    .map(|(c, desc)| {
                        let key = c.clone().unwrap_or_else(|| EXPRESSION.to_owned());
                        if *desc { format!("{key} DESC") } else { key }
                    })
                    .collect();
                columns.extend(ix.method.as_ref().map(|m| format!("USING {m}")));
                // Each catalog spells a condition its own way (SQLite keeps none): compared
                // as "partial", a changed condition is the snapshot diff's to find.
                columns.extend(ix.predicate.as_ref().map(|_| PARTIAL.to_owned()));
                (ix.name.clone(), (columns, ix.unique))
            })
            .collect();
        let foreign_keys = fk_lines(&t.foreign_keys, catalog);
        PhysTable {
            columns,
            primary_key: t.primary_key.clone(),
            indexes,
            foreign_keys,
            checks: t.checks.keys().cloned().collect(),
            triggers: t.triggers.clone(),
        }
    };
    live.tables
        .iter()
        .map(|(name, t)| (name.clone(), table(name, t)))
        .collect()
}

/// Whether a text column of a SQLite table has a CHECK of the ORM's that bounds its length:
/// `ck_<table>_<column>_length`, or the allowed values of an enum (`ck_<table>_<column>`).
pub(crate) fn sqlite_text_bounded(t: &LiveTable, table: &str, column: &str) -> bool {
    let values = format!("ck_{table}_{column}");
    let length = format!("{values}_length");
    t.checks.contains_key(&values) || t.checks.contains_key(&length)
}

/// What a column declared by hand on SQLite stores, in the ORM's spelling, where the
/// declaration says more than SQLite keeps: SQLite's declared types only choose an affinity.
/// A `varchar(n)` (or `char(n)`, `clob`, ...) without the ORM's length CHECK is unbounded
/// text; a `date`/`datetime`/`timestamp`/`time` column holds the ISO text the ORM writes for
/// dates and times (its NUMERIC affinity keeps such text as it is). The ORM's own spellings
/// are kept.
pub(crate) fn sqlite_storage(ty: String, bounded: bool) -> String {
    let text_like = [
        "varchar",
        "char",
        "character",
        "nvarchar",
        "nchar",
        "varying character",
        "native character",
        "clob",
    ]
    .iter()
    .any(|t| {
        ty.strip_prefix(t)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('('))
    });
    let base = ty.split('(').next().unwrap_or_default();
    let temporal = ["date", "datetime", "timestamp", "time"].contains(&base);
    if (text_like && !bounded) || temporal {
        "text".to_owned()
    } else {
        ty
    }
}

/// The spelling under which `catalog` reports `action` (InnoDB's `NO ACTION` is `RESTRICT`).
fn action_name(action: ReferentialAction, catalog: &Catalog) -> &'static str {
    match action {
        ReferentialAction::NoAction if catalog.no_action_is_restrict => "RESTRICT",
        _ => action.sql(),
    }
}

/// The differences between the expected and the live schema, one line each (empty: no drift).
pub fn compare(expected: &PhysSchema, live: &PhysSchema) -> Vec<String> {
    compare_owned(expected, live, &Ownership::default())
}

/// [`compare`], accepting as they are the objects `owned` by hand-written SQL.
pub fn compare_owned(expected: &PhysSchema, live: &PhysSchema, owned: &Ownership) -> Vec<String> {
    use OwnedKind as K;
    let mut out = Vec::new();
    for (name, want) in expected {
        let Some(have) = live.get(name) else {
            out.push(format!("table `{name}` is missing"));
            continue;
        };
        for (c, w) in &want.columns {
            let h = match have.columns.get(c) {
                None => {
                    out.push(format!("column `{name}.{c}` is missing"));
                    continue;
                }
                Some(h) if owned.owns(K::Default, name, Some(c)) => &PhysColumn {
                    default: w.default.clone(),
                    ..h.clone()
                },
                Some(h) => h,
            };
            if !h.matches(w) {
                out.push(format!(
                    "column `{name}.{c}` is `{h}` in the database, the models want `{w}`"
                ));
            }
        }
        for c in have.columns.keys() {
            if !want.columns.contains_key(c) && !owned.owns(K::Column, name, Some(c)) {
                out.push(format!("column `{name}.{c}` is not in the models"));
            }
        }
        if want.primary_key != have.primary_key {
            out.push(format!(
                "primary key of `{name}` is ({}) in the database, the models want ({})",
                have.primary_key.join(", "),
                want.primary_key.join(", ")
            ));
        }
        let have_indexes = with_autoindexes_named(&want.indexes, &have.indexes);
        for (ix, w) in &want.indexes {
            match have_indexes.get(ix) {
                None => out.push(format!("index `{ix}` on `{name}` is missing")),
                Some(_) if owned.owns(K::Index, name, Some(ix)) => {}
                Some(h) if h != w => out.push(format!(
                    "index `{ix}` on `{name}` is {h:?} in the database, the models want {w:?}"
                )),
                Some(_) => {}
            }
        }
        for ix in have_indexes.keys() {
            if !want.indexes.contains_key(ix) && !owned.owns(K::Index, name, Some(ix)) {
                out.push(format!("index `{ix}` on `{name}` is not in the models"));
            }
        }
        for ck in want.checks.difference(&have.checks) {
            out.push(format!("check `{ck}` on `{name}` is missing"));
        }
        for ck in have.checks.difference(&want.checks) {
            if !owned.owns(K::Check, name, Some(ck)) {
                out.push(format!("check `{ck}` on `{name}` is not in the models"));
            }
        }
        for tg in want.triggers.difference(&have.triggers) {
            out.push(format!(
                "trigger `{tg}` on `{name}` is missing: the ORM keeps it on this table \
                 (generate a migration, which adds it, and apply it)"
            ));
        }
        for tg in have.triggers.difference(&want.triggers) {
            if !owned.owns(K::Trigger, name, Some(tg)) {
                out.push(format!(
                    "trigger `{tg}` on `{name}` is not in the models (own it with \
                     `-- orm:owns trigger {name}.{tg}` in the hand-written migration that adds \
                     it)"
                ));
            }
        }
        for fk in &want.foreign_keys {
            if !have.foreign_keys.contains(fk) {
                out.push(format!("foreign key {fk} on `{name}` is missing"));
            }
        }
        for fk in &have.foreign_keys {
            if !want.foreign_keys.contains(fk) {
                out.push(format!("foreign key {fk} on `{name}` is not in the models"));
            }
        }
    }
    for name in live.keys() {
        if !expected.contains_key(name) && !owned.owns(K::Table, name, None) {
            out.push(format!("table `{name}` is not in the models"));
        }
    }
    out
}

/// The live indexes of one table with each SQLite `UNIQUE`-constraint index
/// ([`SQLITE_AUTOINDEX`]) renamed to the expected unique index on the same columns that the
/// database lacks by name (the two are the same constraint).
fn with_autoindexes_named(
    want: &BTreeMap<String, (Vec<String>, bool)>,
    have: &BTreeMap<String, (Vec<String>, bool)>,
) -> BTreeMap<String, (Vec<String>, bool)> {
    let mut out = have.clone();
    for (auto, definition) in have.iter().filter(|(n, _)| n.starts_with(SQLITE_AUTOINDEX)) {
        let stands_for = want
            .iter()
            .find(|(name, w)| *w == definition && !out.contains_key(*name))
            .map(|(name, _)| name.clone());
        if let Some(name) = stands_for {
            out.remove(auto);
            out.insert(name, definition.clone());
        }
    }
    out
}
