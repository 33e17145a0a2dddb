//! Live introspection (PostgreSQL catalogs, MySQL/MariaDB `information_schema`, SQLite
//! pragmas) and drift detection against the models.
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

use orm_core::sql::ddl::{MYSQL_COLLATION, column_check_sql, column_type_sql, declared_collation};
use orm_core::{Compiled, Dialect, Executor, FieldType, Value};

use crate::error::Result;
use crate::schema::{Action, ColType, Column, Default, Schema};

/// The history table, never part of the compared schema.
pub const HISTORY_TABLE: &str = "orm_migrations";

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

/// One spelling per storage type, whichever way the catalog or the DDL writes it.
fn norm_type(ty: &str) -> String {
    let t = ty.trim().to_ascii_lowercase();
    let t = t.replace("character varying", "varchar").replace(", ", ",");
    if t == "boolean" || t == "tinyint(1)" {
        return "bool".to_owned();
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
    match t.as_str() {
        // PostgreSQL's catalog spells out what the DDL abbreviates.
        "timestamp with time zone" => "timestamptz".to_owned(),
        "timestamp without time zone" => "timestamp".to_owned(),
        "time without time zone" => "time".to_owned(),
        "time with time zone" => "timetz".to_owned(),
        // MariaDB's JSON is an alias of LONGTEXT (plus a `json_valid` CHECK).
        "json" | "longtext" => "longtext".to_owned(),
        _ => t,
    }
}

/// A default literal as the catalog reports it, unquoted (`'it''s'::text` and MySQL/MariaDB's
/// `'it\'s'` are `it's`), with booleans as `1`/`0` and numbers in one spelling.
fn norm_default(d: Option<&str>, dialect: Dialect) -> Option<String> {
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
        return Some(if dialect == Dialect::MySql {
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

fn action_name(a: Action, dialect: Dialect) -> &'static str {
    match (a, dialect) {
        // InnoDB treats NO ACTION as RESTRICT and reports either.
        (Action::NoAction | Action::Restrict, Dialect::MySql) => "RESTRICT",
        _ => a.core().sql(),
    }
}

fn norm_action(s: &str, dialect: Dialect) -> String {
    let a = match s.to_ascii_uppercase().as_str() {
        "A" | "NO ACTION" => Action::NoAction,
        "R" | "RESTRICT" => Action::Restrict,
        "C" | "CASCADE" => Action::Cascade,
        "N" | "SET NULL" => Action::SetNull,
        "D" | "SET DEFAULT" => Action::SetDefault,
        _ => Action::NoAction,
    };
    action_name(a, dialect).to_owned()
}

fn fk_line(
    name: &str,
    cols: &[String],
    ref_table: &str,
    ref_cols: &[String],
    del: &str,
    upd: &str,
    dialect: Dialect,
) -> String {
    // SQLite does not keep constraint names.
    let name = if dialect == Dialect::Sqlite { "" } else { name };
    format!(
        "{name}({}) -> {ref_table}({}) on delete {del} on update {upd}",
        cols.join(", "),
        ref_cols.join(", ")
    )
}

/// The physical form the models' schema takes on `dialect`.
pub fn expected(schema: &Schema, dialect: Dialect) -> PhysSchema {
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
                        Default::Bool(b) => norm_default(Some(&u8::from(*b).to_string()), dialect),
                        Default::Int(i) => norm_default(Some(&i.to_string()), dialect),
                        Default::Float(f) => norm_default(Some(&format!("{f}")), dialect),
                        Default::Text(s) => Some(s.clone()),
                    });
                    let pk = t.primary_key.contains(&c.name);
                    (
                        c.name.clone(),
                        PhysColumn {
                            ty: norm_type(&column_type_sql(&t.spec(c), dialect)),
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
                .map(|ix| (ix.name.clone(), (ix.columns.clone(), ix.unique)))
                .collect();
            let mut foreign_keys: Vec<String> = t
                .foreign_keys
                .iter()
                .map(|fk| {
                    fk_line(
                        &fk.name,
                        &fk.columns,
                        &fk.ref_table,
                        &fk.ref_columns,
                        action_name(fk.on_delete, dialect),
                        action_name(fk.on_update, dialect),
                        dialect,
                    )
                })
                .collect();
            foreign_keys.sort();
            let checks = t
                .columns
                .iter()
                .flat_map(|c| column_check_sql(&t.name, &c.check_spec(), dialect))
                .map(|c| c.name)
                .collect();
            (
                t.name.clone(),
                PhysTable {
                    columns,
                    primary_key: t.primary_key.clone(),
                    indexes,
                    foreign_keys,
                    checks,
                    triggers: BTreeSet::new(),
                },
            )
        })
        .collect()
}

/// The collation a text column has when the ORM created it: the one its DDL declares
/// ([`declared_collation`]), or on MySQL/MariaDB the table's. Not compared on SQLite.
fn expected_collation(c: &Column, dialect: Dialect) -> Option<String> {
    let declared = declared_collation(&c.type_spec(), dialect);
    match dialect {
        Dialect::Sqlite => None,
        Dialect::MySql if c.ty == ColType::Text => Some(declared.unwrap_or(MYSQL_COLLATION)),
        _ => declared,
    }
    .map(str::to_owned)
}

fn text(sql: &str, values: Vec<Value>) -> Compiled {
    Compiled {
        sql: sql.to_owned(),
        values,
    }
}

fn split(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Reads `(table, 'c' | 't', name)` rows with `sql` and adds them to `out`: CHECK
/// constraints and triggers.
async fn add_named<E: Executor>(db: &E, sql: &str, out: &mut PhysSchema) -> Result<()> {
    let rows: Vec<(String, String, String)> = db
        .fetch_compiled(text(sql, vec![]), |r| {
            Ok((
                String::decode(r, 0)?,
                String::decode(r, 1)?,
                String::decode(r, 2)?,
            ))
        })
        .await?;
    for (table, kind, name) in rows {
        // A trigger on a table of another schema does not concern this one.
        let Some(t) = out.get_mut(&table) else {
            continue;
        };
        if kind == "c" {
            t.checks.insert(name);
        } else {
            t.triggers.insert(name);
        }
    }
    Ok(())
}

/// Reads the live schema of the database `db` is connected to (its current PostgreSQL schema,
/// MySQL database, or SQLite main database), without the history table.
pub async fn live<E: Executor>(db: &E) -> Result<PhysSchema> {
    let dialect = crate::runner::sql_dialect(db)?;
    let mut out = match dialect {
        Dialect::Postgres => live_postgres(db).await?,
        Dialect::MySql => live_mysql(db).await?,
        Dialect::Sqlite => live_sqlite(db).await?,
    };
    out.remove(HISTORY_TABLE);
    Ok(out)
}

type ColRow = (
    String,
    String,
    String,
    bool,
    Option<String>,
    bool,
    Option<String>,
);

async fn live_postgres<E: Executor>(db: &E) -> Result<PhysSchema> {
    let mut out = PhysSchema::new();
    let cols: Vec<ColRow> = db
        .fetch_compiled(
            text(
                "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), \
                 NOT a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attidentity <> '', \
                 (SELECT co.collname::text FROM pg_collation co WHERE co.oid = a.attcollation) \
                 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
                 WHERE n.nspname = current_schema() AND c.relkind = 'r' AND a.attnum > 0 \
                 AND NOT a.attisdropped ORDER BY 1, a.attnum",
                vec![],
            ),
            |r| {
                Ok((
                    String::decode(r, 0)?,
                    String::decode(r, 1)?,
                    String::decode(r, 2)?,
                    bool::decode(r, 3)?,
                    Option::<String>::decode(r, 4)?,
                    bool::decode(r, 5)?,
                    Option::<String>::decode(r, 6)?,
                ))
            },
        )
        .await?;
    for (table, name, ty, nullable, default, identity, collation) in cols {
        let serial = default
            .as_deref()
            .is_some_and(|d| d.starts_with("nextval("));
        out.entry(table).or_default().columns.insert(
            name,
            PhysColumn {
                ty: norm_type(&ty),
                nullable,
                default: if serial {
                    None
                } else {
                    norm_default(default.as_deref(), Dialect::Postgres)
                },
                auto_increment: identity || serial,
                collation,
            },
        );
    }
    let agg = |arr: &str, rel: &str| {
        format!(
            "(SELECT string_agg(a.attname::text, ',' ORDER BY k.ord) FROM unnest({arr}) \
             WITH ORDINALITY k(num, ord) JOIN pg_attribute a ON a.attrelid = {rel} \
             AND a.attnum = k.num)"
        )
    };
    // Key columns (an expression shows as `(expression)`), then `USING <method>` for other
    // methods than b-tree and `WHERE <predicate>` for a partial index.
    let ixs: Vec<(String, String, bool, bool, String)> = db
        .fetch_compiled(
            text(
                "SELECT t.relname::text, i.relname::text, ix.indisunique, ix.indisprimary, \
                 concat_ws(',', (SELECT string_agg(COALESCE(a.attname::text, '(expression)'), \
                 ',' ORDER BY k.ord) FROM unnest(ix.indkey) WITH ORDINALITY k(num, ord) \
                 LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.num \
                 WHERE k.ord <= ix.indnkeyatts), \
                 (SELECT 'USING ' || am.amname::text FROM pg_am am WHERE am.oid = i.relam \
                 AND am.amname <> 'btree'), \
                 'WHERE ' || pg_get_expr(ix.indpred, ix.indrelid)) \
                 FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid \
                 JOIN pg_class i ON i.oid = ix.indexrelid \
                 JOIN pg_namespace n ON n.oid = t.relnamespace \
                 WHERE n.nspname = current_schema() ORDER BY 1, 2",
                vec![],
            ),
            |r| {
                Ok((
                    String::decode(r, 0)?,
                    String::decode(r, 1)?,
                    bool::decode(r, 2)?,
                    bool::decode(r, 3)?,
                    String::decode(r, 4)?,
                ))
            },
        )
        .await?;
    for (table, name, unique, primary, cols) in ixs {
        let t = out.entry(table).or_default();
        if primary {
            t.primary_key = split(&cols);
        } else {
            t.indexes.insert(name, (split(&cols), unique));
        }
    }
    add_named(
        db,
        "SELECT t.relname::text, 'c', con.conname::text FROM pg_constraint con \
             JOIN pg_class t ON t.oid = con.conrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace \
             WHERE con.contype = 'c' AND n.nspname = current_schema() \
             UNION ALL SELECT t.relname::text, 't', tg.tgname::text FROM pg_trigger tg \
             JOIN pg_class t ON t.oid = tg.tgrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace \
             WHERE NOT tg.tgisinternal AND n.nspname = current_schema()",
        &mut out,
    )
    .await?;
    let fks: Vec<(String, String, String, String, String, String, String)> = db
        .fetch_compiled(
            text(
                &format!(
                    "SELECT t.relname::text, con.conname::text, rt.relname::text, {}, {}, \
                     con.confdeltype::text, con.confupdtype::text FROM pg_constraint con \
                     JOIN pg_class t ON t.oid = con.conrelid \
                     JOIN pg_class rt ON rt.oid = con.confrelid \
                     JOIN pg_namespace n ON n.oid = t.relnamespace \
                     WHERE con.contype = 'f' AND n.nspname = current_schema() ORDER BY 1, 2",
                    agg("con.conkey", "con.conrelid"),
                    agg("con.confkey", "con.confrelid")
                ),
                vec![],
            ),
            |r| {
                Ok((
                    String::decode(r, 0)?,
                    String::decode(r, 1)?,
                    String::decode(r, 2)?,
                    String::decode(r, 3)?,
                    String::decode(r, 4)?,
                    String::decode(r, 5)?,
                    String::decode(r, 6)?,
                ))
            },
        )
        .await?;
    for (table, name, ref_table, cols, ref_cols, del, upd) in fks {
        let d = Dialect::Postgres;
        let line = fk_line(
            &name,
            &split(&cols),
            &ref_table,
            &split(&ref_cols),
            &norm_action(&del, d),
            &norm_action(&upd, d),
            d,
        );
        out.entry(table).or_default().foreign_keys.push(line);
    }
    for t in out.values_mut() {
        t.foreign_keys.sort();
    }
    Ok(out)
}

async fn live_mysql<E: Executor>(db: &E) -> Result<PhysSchema> {
    let d = Dialect::MySql;
    let mut out = PhysSchema::new();
    type MyColRow = (
        String,
        String,
        String,
        String,
        Option<String>,
        String,
        Option<String>,
    );
    let cols: Vec<MyColRow> = db
        .fetch_compiled(
            text(
                "SELECT CAST(TABLE_NAME AS CHAR), CAST(COLUMN_NAME AS CHAR), \
                 CAST(COLUMN_TYPE AS CHAR), CAST(IS_NULLABLE AS CHAR), \
                 CAST(COLUMN_DEFAULT AS CHAR), CAST(EXTRA AS CHAR), \
                 CAST(COLLATION_NAME AS CHAR) \
                 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
                 ORDER BY TABLE_NAME, ORDINAL_POSITION",
                vec![],
            ),
            |r| {
                Ok((
                    String::decode(r, 0)?,
                    String::decode(r, 1)?,
                    String::decode(r, 2)?,
                    String::decode(r, 3)?,
                    Option::<String>::decode(r, 4)?,
                    String::decode(r, 5)?,
                    Option::<String>::decode(r, 6)?,
                ))
            },
        )
        .await?;
    for (table, name, ty, nullable, default, extra, collation) in cols {
        out.entry(table).or_default().columns.insert(
            name,
            PhysColumn {
                ty: norm_type(&ty),
                nullable: nullable == "YES",
                default: norm_default(default.as_deref(), d),
                auto_increment: extra.to_ascii_lowercase().contains("auto_increment"),
                collation,
            },
        );
    }
    let fks: Vec<(String, String, String, String, String, String, String)> = db
        .fetch_compiled(
            text(
                "SELECT CAST(k.TABLE_NAME AS CHAR), CAST(k.CONSTRAINT_NAME AS CHAR), \
                 CAST(k.COLUMN_NAME AS CHAR), CAST(k.REFERENCED_TABLE_NAME AS CHAR), \
                 CAST(k.REFERENCED_COLUMN_NAME AS CHAR), CAST(r.DELETE_RULE AS CHAR), \
                 CAST(r.UPDATE_RULE AS CHAR) FROM information_schema.KEY_COLUMN_USAGE k \
                 JOIN information_schema.REFERENTIAL_CONSTRAINTS r \
                 ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA \
                 AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME \
                 WHERE k.TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME IS NOT NULL \
                 ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION",
                vec![],
            ),
            |r| {
                Ok((
                    String::decode(r, 0)?,
                    String::decode(r, 1)?,
                    String::decode(r, 2)?,
                    String::decode(r, 3)?,
                    String::decode(r, 4)?,
                    String::decode(r, 5)?,
                    String::decode(r, 6)?,
                ))
            },
        )
        .await?;
    // (table, name) -> (cols, ref_table, ref_cols, del, upd)
    type Fk = (Vec<String>, String, Vec<String>, String, String);
    let mut grouped: BTreeMap<(String, String), Fk> = BTreeMap::new();
    for (table, name, col, ref_table, ref_col, del, upd) in fks {
        let e = grouped
            .entry((table, name))
            .or_insert_with(|| (vec![], ref_table, vec![], del, upd));
        e.0.push(col);
        e.2.push(ref_col);
    }
    for ((table, name), (cols, ref_table, ref_cols, del, upd)) in &grouped {
        let line = fk_line(
            name,
            cols,
            ref_table,
            ref_cols,
            &norm_action(del, d),
            &norm_action(upd, d),
            d,
        );
        let t = out.entry(table.clone()).or_default();
        t.foreign_keys.push(line);
        t.foreign_keys.sort();
    }
    let ixs: Vec<(String, String, i64, String)> = db
        .fetch_compiled(
            text(
                "SELECT CAST(TABLE_NAME AS CHAR), CAST(INDEX_NAME AS CHAR), \
                 CAST(NON_UNIQUE AS SIGNED), CAST(COLUMN_NAME AS CHAR) \
                 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() \
                 ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
                vec![],
            ),
            |r| {
                Ok((
                    String::decode(r, 0)?,
                    String::decode(r, 1)?,
                    i64::decode(r, 2)?,
                    String::decode(r, 3)?,
                ))
            },
        )
        .await?;
    for (table, name, non_unique, col) in ixs {
        // InnoDB creates an index named after each foreign key that lacks one.
        // It stays after the key is dropped: skip the derive's `fk_*` names too.
        if grouped.contains_key(&(table.clone(), name.clone()))
            || (name.starts_with("fk_") && non_unique == 1)
        {
            continue;
        }
        let t = out.entry(table).or_default();
        if name == "PRIMARY" {
            t.primary_key.push(col);
        } else {
            let e = t.indexes.entry(name).or_insert((vec![], non_unique == 0));
            e.0.push(col);
        }
    }
    // MariaDB's JSON type is LONGTEXT with a column-level `json_valid` CHECK named after the
    // column: part of the type, not a constraint of the models.
    add_named(
        db,
        "SELECT CAST(TABLE_NAME AS CHAR), 'c', CAST(CONSTRAINT_NAME AS CHAR) \
             FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() \
             AND NOT (LEVEL = 'Column' AND CHECK_CLAUSE LIKE 'json\\_valid(%') \
             UNION ALL SELECT CAST(EVENT_OBJECT_TABLE AS CHAR), 't', \
             CAST(TRIGGER_NAME AS CHAR) FROM information_schema.TRIGGERS \
             WHERE TRIGGER_SCHEMA = DATABASE()",
        &mut out,
    )
    .await?;
    Ok(out)
}

async fn live_sqlite<E: Executor>(db: &E) -> Result<PhysSchema> {
    let d = Dialect::Sqlite;
    let mut out = PhysSchema::new();
    let tables: Vec<(String, String)> = db
        .fetch_compiled(
            text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite_%' ORDER BY name",
                vec![],
            ),
            |r| Ok((String::decode(r, 0)?, String::decode(r, 1)?)),
        )
        .await?;
    for (table, create) in tables {
        let autoinc = create.to_ascii_uppercase().contains("AUTOINCREMENT");
        let arg = || vec![Value::Text(table.clone())];
        let cols: Vec<(String, String, i64, Option<String>, i64)> = db
            .fetch_compiled(
                text(
                    "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?) \
                     ORDER BY cid",
                    arg(),
                ),
                |r| {
                    Ok((
                        String::decode(r, 0)?,
                        String::decode(r, 1)?,
                        i64::decode(r, 2)?,
                        Option::<String>::decode(r, 3)?,
                        i64::decode(r, 4)?,
                    ))
                },
            )
            .await?;
        let mut t = PhysTable::default();
        let mut pk: Vec<(i64, String)> = Vec::new();
        for (name, ty, notnull, default, pk_pos) in cols {
            if pk_pos > 0 {
                pk.push((pk_pos, name.clone()));
            }
            t.columns.insert(
                name,
                PhysColumn {
                    ty: norm_type(&ty),
                    nullable: notnull == 0 && pk_pos == 0,
                    default: norm_default(default.as_deref(), d),
                    auto_increment: autoinc && pk_pos > 0,
                    collation: None,
                },
            );
        }
        pk.sort();
        t.primary_key = pk.into_iter().map(|(_, n)| n).collect();
        let ixs: Vec<(String, i64, String, i64)> = db
            .fetch_compiled(
                text(
                    "SELECT name, \"unique\", origin, partial FROM pragma_index_list(?)",
                    arg(),
                ),
                |r| {
                    Ok((
                        String::decode(r, 0)?,
                        i64::decode(r, 1)?,
                        String::decode(r, 2)?,
                        i64::decode(r, 3)?,
                    ))
                },
            )
            .await?;
        for (name, unique, origin, partial) in ixs {
            if origin != "c" {
                continue;
            }
            let mut cols: Vec<String> = db
                .fetch_compiled(
                    text(
                        "SELECT name FROM pragma_index_info(?) ORDER BY seqno",
                        vec![Value::Text(name.clone())],
                    ),
                    |r| Ok(Option::<String>::decode(r, 0)?.unwrap_or("(expression)".into())),
                )
                .await?;
            if partial != 0 {
                cols.push("WHERE (partial)".to_owned());
            }
            t.indexes.insert(name, (cols, unique != 0));
        }
        t.checks = sqlite_checks(&create);
        let fks: Vec<(i64, String, String, String, String, String)> = db
            .fetch_compiled(
                text(
                    "SELECT id, \"table\", \"from\", \"to\", on_delete, on_update \
                     FROM pragma_foreign_key_list(?) ORDER BY id, seq",
                    arg(),
                ),
                |r| {
                    Ok((
                        i64::decode(r, 0)?,
                        String::decode(r, 1)?,
                        String::decode(r, 2)?,
                        String::decode(r, 3)?,
                        String::decode(r, 4)?,
                        String::decode(r, 5)?,
                    ))
                },
            )
            .await?;
        type FkRow = (String, String, String, String, String);
        let mut grouped: BTreeMap<i64, Vec<FkRow>> = BTreeMap::new();
        for (id, rt, from, to, del, upd) in fks {
            grouped
                .entry(id)
                .or_default()
                .push((rt, from, to, del, upd));
        }
        for rows in grouped.values() {
            let cols: Vec<String> = rows.iter().map(|r| r.1.clone()).collect();
            let refs: Vec<String> = rows.iter().map(|r| r.2.clone()).collect();
            t.foreign_keys.push(fk_line(
                "",
                &cols,
                &rows[0].0,
                &refs,
                &norm_action(&rows[0].3, d),
                &norm_action(&rows[0].4, d),
                d,
            ));
        }
        t.foreign_keys.sort();
        out.insert(table, t);
    }
    add_named(
        db,
        "SELECT tbl_name, 't', name FROM sqlite_master WHERE type = 'trigger'",
        &mut out,
    )
    .await?;
    Ok(out)
}

/// The names of the `CONSTRAINT <name> CHECK` clauses of a SQLite `CREATE TABLE` (SQLite keeps
/// no catalog of them; unnamed checks are not reported).
fn sqlite_checks(create: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let words = crate::split::words(create);
    for w in words.windows(3) {
        if w[0].eq_ignore_ascii_case("CONSTRAINT") && w[2].eq_ignore_ascii_case("CHECK") {
            out.insert(w[1].clone());
        }
    }
    out
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
        for (ix, w) in &want.indexes {
            match have.indexes.get(ix) {
                None => out.push(format!("index `{ix}` on `{name}` is missing")),
                Some(_) if owned.owns(K::Index, name, Some(ix)) => {}
                Some(h) if h != w => out.push(format!(
                    "index `{ix}` on `{name}` is {h:?} in the database, the models want {w:?}"
                )),
                Some(_) => {}
            }
        }
        for ix in have.indexes.keys() {
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
