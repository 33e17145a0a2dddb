//! `pull`: models from a live database. The live catalog ([`crate::introspect::LiveSchema`]) is
//! mapped back onto what `#[derive(Model)]` can say: each column's type by the reverse of the
//! type mapping (the candidate logical types whose storage type and CHECK constraints are the
//! column's, most specific first), keys, auto-increment, defaults, unique constraints and
//! indexes, enum columns (a `CHECK (col IN (...))`) and single-column foreign keys. What it
//! cannot say is skipped and listed ([`Pulled::skipped`]), or noted on the model where an
//! approximation is kept ([`PulledModel::notes`]).

use std::collections::{BTreeMap, BTreeSet};

use polyorm_core::sql::ddl::{ColumnSpec, column_check_sql, column_type_sql};
use polyorm_core::{ColumnType, DefaultValue, Dialect, Executor, ReferentialAction};

use crate::error::Result;
use crate::introspect::{self, LiveColumn, LiveSchema, LiveTable, SQLITE_AUTOINDEX, catalog};
use crate::schema::{Column, Default, Index, Schema, Table};

/// The logical types in the order `pull` prefers them when several fit a storage type equally
/// (signed before unsigned, wider before narrower, the plain byte string before ObjectId).
pub(crate) const PREFERENCE: [ColumnType; 20] = [
    ColumnType::Bool,
    ColumnType::BigInt,
    ColumnType::Int,
    ColumnType::SmallInt,
    ColumnType::Double,
    ColumnType::Float,
    ColumnType::Text,
    ColumnType::Bytes,
    ColumnType::TimestampTz,
    ColumnType::Timestamp,
    ColumnType::Date,
    ColumnType::Time,
    ColumnType::Uuid,
    ColumnType::Decimal,
    ColumnType::Json,
    ColumnType::U8,
    ColumnType::U16,
    ColumnType::U32,
    ColumnType::U64,
    ColumnType::ObjectId,
];

/// One field of a pulled model.
#[derive(Debug, Clone, PartialEq)]
pub struct PulledField {
    /// The Rust field name.
    pub ident: String,
    /// The column, as the snapshot describes it.
    pub column: Column,
    /// The values of an enum column, with the Rust name of each variant.
    pub variants: Option<Vec<(String, String)>>,
    /// `unique` on the field: a single-column unique constraint.
    pub unique: bool,
    /// `unique = "…"`: the database's name for it, where the derive's would differ.
    pub unique_name: Option<String>,
    /// `index` on the field: a single-column index.
    pub index: bool,
    /// `index = "…"`: the database's name for it, where the derive's would differ.
    pub index_name: Option<String>,
    /// `belongs_to`: the parent's struct name, and the key's actions.
    pub belongs_to: Option<(String, ReferentialAction, ReferentialAction)>,
    /// `fk_name = "…"`: the database's name for the foreign key, where the derive's would
    /// differ.
    pub fk_name: Option<String>,
    /// What the field only approximates.
    pub notes: Vec<String>,
}

/// A composite unique constraint or index of a pulled model (`unique(a, b)` on the struct).
#[derive(Debug, Clone, PartialEq)]
pub struct PulledIndex {
    /// The Rust field names, in index order.
    pub fields: Vec<String>,
    /// Whether it is a unique constraint.
    pub unique: bool,
    /// `name = "…"`: the database's name for it, where the derive's would differ.
    pub name: Option<String>,
}

/// One pulled model.
#[derive(Debug, Clone, PartialEq)]
pub struct PulledModel {
    /// The struct's name.
    pub name: String,
    /// The table, as the snapshot describes it (what `verify` compares).
    pub table: Table,
    /// The fields, in column order.
    pub fields: Vec<PulledField>,
    /// Composite unique constraints and indexes.
    pub composite_indexes: Vec<PulledIndex>,
    /// `has_many` relations: accessor, child struct, child field.
    pub has_many: Vec<(String, String, String)>,
    /// What the model only approximates or leaves out.
    pub notes: Vec<String>,
}

/// Models pulled from a live database.
#[derive(Debug, Clone, PartialEq)]
pub struct Pulled {
    /// What they were read from (`a postgres database`), for the generated code's header.
    pub source: String,
    /// One model per table, by table name.
    pub models: Vec<PulledModel>,
    /// What was left out, one line each (tables without a primary key, views, columns of
    /// types the derive has no mapping for, expression and partial indexes, composite keys).
    pub skipped: Vec<String>,
}

impl Pulled {
    /// The schema the pulled models describe (a baseline's snapshot).
    pub fn schema(&self) -> Schema {
        Schema {
            tables: self
                .models
                .iter()
                .map(|m| (m.table.name.clone(), m.table.clone()))
                .collect(),
        }
    }
}

/// Which tables to pull.
#[derive(Debug, Clone, std::default::Default)]
pub struct PullOptions {
    /// Only these tables (all when empty).
    pub tables: Vec<String>,
}

/// Reads the database `db` is connected to and maps it onto models.
pub async fn pull<E: Executor>(db: &E, options: &PullOptions) -> Result<Pulled> {
    let dialect = crate::runner::sql_dialect(db)?;
    let live = introspect::live_schema(db).await?;
    Ok(models(&live, dialect, options))
}

/// Maps a live schema read on `dialect` onto models.
pub fn models(live: &LiveSchema, dialect: Dialect, options: &PullOptions) -> Pulled {
    let mut skipped: Vec<String> = live
        .views
        .iter()
        .map(|v| format!("view `{v}`: a view is not a table; query it with raw SQL"))
        .collect();
    let chosen = |name: &str| options.tables.is_empty() || options.tables.iter().any(|t| t == name);
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut used = BTreeSet::new();
    for (name, table) in &live.tables {
        if !chosen(name) {
            continue;
        }
        if table.primary_key.is_empty() {
            skipped.push(format!(
                "table `{name}`: it has no primary key, which every model needs; add one \
                 (`ALTER TABLE … ADD PRIMARY KEY`) and pull again"
            ));
            continue;
        }
        let mut struct_name = type_ident(name);
        while !used.insert(struct_name.clone()) {
            struct_name.push('_');
        }
        names.insert(name.clone(), struct_name);
    }
    let mut models: Vec<PulledModel> = names
        .iter()
        .map(|(table, struct_name)| {
            model(
                table,
                struct_name,
                &live.tables[table],
                &live.tables,
                &names,
                dialect,
                &mut skipped,
            )
        })
        .collect();
    // `has_many` on each parent, for every `belongs_to` that points at it.
    let mut children: Vec<(String, String, String, String)> = Vec::new();
    for m in &models {
        for f in &m.fields {
            if let Some((parent, ..)) = &f.belongs_to {
                children.push((
                    parent.clone(),
                    m.name.clone(),
                    m.table.name.clone(),
                    f.ident.clone(),
                ));
            }
        }
    }
    for m in &mut models {
        let mut accessors = BTreeSet::new();
        for (parent, child, child_table, field) in &children {
            if *parent != m.name {
                continue;
            }
            // A self-reference's rows are the row's children.
            let mut accessor = if *child == m.name {
                "children".to_owned()
            } else {
                field_ident(child_table).0
            };
            let taken = |a: &str| {
                m.fields
                    .iter()
                    .any(|f| f.ident == a || f.ident == format!("{a}_id"))
            };
            if !accessors.insert(accessor.clone()) || taken(&accessor) {
                accessor = format!("{accessor}_by_{field}");
                accessors.insert(accessor.clone());
            }
            m.has_many.push((accessor, child.clone(), field.clone()));
        }
    }
    skipped.sort();
    Pulled {
        source: format!("a {dialect} database"),
        models,
        skipped,
    }
}

fn model(
    table_name: &str,
    struct_name: &str,
    live: &LiveTable,
    tables: &BTreeMap<String, LiveTable>,
    names: &BTreeMap<String, String>,
    dialect: Dialect,
    skipped: &mut Vec<String>,
) -> PulledModel {
    let mut fields: Vec<PulledField> = Vec::new();
    let mut idents = BTreeSet::new();
    for c in &live.columns {
        let Some((column, variants, mut notes)) = column(table_name, c, live, dialect) else {
            skipped.push(format!(
                "column `{table_name}.{}`: its type `{}` has no mapping to a Rust type; read \
                 it with raw SQL",
                c.name, c.storage_type
            ));
            continue;
        };
        let (mut ident, _) = field_ident(&c.name);
        while !idents.insert(ident.clone()) {
            ident.push('_');
        }
        if c.auto_increment && !(live.primary_key == [c.name.clone()] && column.ty.is_integer()) {
            notes.push("generated by the database (not as the only integer key)".to_owned());
        }
        fields.push(PulledField {
            ident,
            column,
            variants,
            unique: false,
            unique_name: None,
            index: false,
            index_name: None,
            belongs_to: None,
            fk_name: None,
            notes,
        });
    }
    let field_of =
        |fields: &[PulledField], column: &str| fields.iter().position(|f| f.column.name == column);
    let notes = Vec::new();
    let mut indexes = Vec::new();
    let mut composite_indexes = Vec::new();
    for ix in &live.indexes {
        let columns: Option<Vec<String>> = ix.columns.iter().cloned().collect();
        let Some(columns) = columns.filter(|_| ix.method.is_none() && ix.predicate.is_none())
        else {
            skipped.push(format!(
                "index `{}` on `{table_name}`: an expression, partial or non-default index; \
                 keep it in a hand-written migration (`-- orm:owns index {table_name}.{}`)",
                ix.name, ix.name
            ));
            continue;
        };
        let Some(positions) = columns
            .iter()
            .map(|c| field_of(&fields, c))
            .collect::<Option<Vec<usize>>>()
        else {
            skipped.push(format!(
                "index `{}` on `{table_name}`: it covers a skipped column",
                ix.name
            ));
            continue;
        };
        let prefix = if ix.unique { "uq" } else { "idx" };
        let derived = format!("{prefix}_{table_name}_{}", columns.join("_"));
        // The database's own name is kept (`unique = "orders_sku_key"`), except SQLite's for
        // a UNIQUE constraint, which no statement can give: the ORM's index stands for it.
        let own_name =
            (derived != ix.name && !ix.name.starts_with(SQLITE_AUTOINDEX)).then(|| ix.name.clone());
        if let [one] = positions[..] {
            if ix.unique {
                fields[one].unique = true;
                fields[one].unique_name = own_name.clone();
            } else {
                fields[one].index = true;
                fields[one].index_name = own_name.clone();
            }
        } else {
            composite_indexes.push(PulledIndex {
                fields: positions.iter().map(|&p| fields[p].ident.clone()).collect(),
                unique: ix.unique,
                name: own_name.clone(),
            });
        }
        indexes.push(Index {
            name: own_name.unwrap_or(derived),
            columns,
            unique: ix.unique,
            ..<Index as std::default::Default>::default()
        });
    }
    indexes.sort_by(|a, b| a.name.cmp(&b.name));
    let mut foreign_keys = Vec::new();
    for fk in &live.foreign_keys {
        let parent = tables.get(&fk.ref_table);
        let target = match (&fk.columns[..], names.get(&fk.ref_table), parent) {
            ([col], Some(parent_struct), Some(parent))
                if parent.primary_key == fk.ref_columns
                    && field_of(&fields, col).is_some()
                    && same_storage(live, col, parent, &fk.ref_columns[0], dialect) =>
            {
                Some((col, parent_struct))
            }
            _ => None,
        };
        let Some((col, parent_struct)) = target else {
            skipped.push(format!(
                "foreign key `{}` of `{table_name}` ({}) -> {}({}): `belongs_to` takes one column \
                 referencing the single-column primary key of a pulled table",
                fk.name,
                fk.columns.join(", "),
                fk.ref_table,
                fk.ref_columns.join(", ")
            ));
            continue;
        };
        let derived = format!("fk_{table_name}_{col}");
        // SQLite forgets foreign-key names: there the derive's stands.
        let own_name = (dialect != Dialect::Sqlite && derived != fk.name).then(|| fk.name.clone());
        let position = field_of(&fields, col).expect("checked above");
        fields[position].belongs_to = Some((parent_struct.clone(), fk.on_delete, fk.on_update));
        fields[position].fk_name = own_name.clone();
        foreign_keys.push(crate::schema::ForeignKey {
            name: own_name.unwrap_or(derived),
            ..fk.clone()
        });
    }
    foreign_keys.sort_by(|a, b| a.name.cmp(&b.name));
    let table = Table {
        name: table_name.to_owned(),
        columns: fields.iter().map(|f| f.column.clone()).collect(),
        primary_key: live.primary_key.clone(),
        indexes,
        foreign_keys,
        checks: vec![],
        triggers: vec![],
        renamed_from: None,
    };
    PulledModel {
        name: struct_name.to_owned(),
        table,
        fields,
        composite_indexes,
        has_many: Vec::new(),
        notes,
    }
}

/// Whether `column` of `table` is stored as `ref_column` of `parent` (a `belongs_to` field has
/// its parent key's type).
fn same_storage(
    table: &LiveTable,
    column: &str,
    parent: &LiveTable,
    ref_column: &str,
    dialect: Dialect,
) -> bool {
    let catalog = catalog::of(dialect);
    let ty = |t: &LiveTable, c: &str| {
        t.column(c)
            .map(|c| introspect::norm_type(catalog, &c.storage_type))
    };
    ty(table, column).is_some_and(|a| Some(a) == ty(parent, ref_column))
}

/// The snapshot column of a live column, the variants of an enum column, and notes; `None`
/// when no Rust type fits.
type Mapped = (Column, Option<Vec<(String, String)>>, Vec<String>);

fn column(table: &str, c: &LiveColumn, live: &LiveTable, dialect: Dialect) -> Option<Mapped> {
    let catalog = catalog::of(dialect);
    let mut storage = introspect::norm_type(catalog, &c.storage_type);
    let mut notes = Vec::new();
    // SQLite keeps no length: a `varchar(n)` without the ORM's CHECK holds text of any length.
    if dialect == Dialect::Sqlite && approximate(&storage) == Some(ColumnType::Text) {
        let bounded = introspect::sqlite_text_bounded(live, table, &c.name);
        let stored = introspect::sqlite_storage(storage.clone(), bounded);
        if stored != storage {
            notes.push(format!(
                "declared `{}`, which SQLite does not enforce (no CHECK bounds its length); \
                 read as text of any length",
                c.storage_type
            ));
            storage = stored;
        }
    }
    let (length, precision) = type_arguments(&storage);
    // The checks the ORM would name after this column, and the values of its enum check.
    let prefix = format!("ck_{table}_{}", c.name);
    let own_checks: BTreeMap<&String, &String> = live
        .checks
        .iter()
        .filter(|(name, _)| name.starts_with(&prefix))
        .collect();
    let values = live.checks.get(&prefix).and_then(|cond| enum_values(cond));
    let mut best: Option<((bool, usize), Column)> = None;
    let mut candidates: Vec<Column> = Vec::new();
    // `json` (MySQL's type, MariaDB's LONGTEXT with a `json_valid` CHECK) is stored as
    // `longtext` but holds JSON.
    let json = dialect == Dialect::MySql && c.storage_type.eq_ignore_ascii_case("json");
    for ty in PREFERENCE
        .into_iter()
        .filter(|ty| !json || *ty == ColumnType::Json)
    {
        let base = Column {
            auto_increment: c.auto_increment,
            ..Column::new(&c.name, ty, c.nullable)
        };
        candidates.push(base.clone());
        if ty == ColumnType::Text {
            candidates.push(Column {
                max_length: length,
                ..base.clone()
            });
            if let Some(values) = &values {
                candidates.push(Column {
                    allowed_values: Some(values.clone()),
                    max_length: length,
                    ..base.clone()
                });
            }
        }
        if ty == ColumnType::Decimal && precision.is_some() {
            candidates.push(Column { precision, ..base });
        }
    }
    for candidate in candidates {
        let spec = ColumnSpec {
            name: &candidate.name,
            ty: candidate.ty,
            max_length: candidate.max_length,
            precision: candidate.precision,
            collation: None,
            nullable: true,
            primary_key: false,
            auto_increment: false,
            default: None,
        };
        if introspect::norm_type(catalog, &column_type_sql(&spec, dialect)) != storage {
            continue;
        }
        // The candidate's checks must all be the column's, with the bounds of a range.
        let checks = column_check_sql(table, &candidate.check_spec(), dialect);
        let fits = checks.iter().all(|check| {
            own_checks.get(&check.name).is_some_and(|cond| {
                let range = check.name.ends_with("_range");
                !range || bounds_match(candidate.ty, cond)
            })
        });
        // The most specific fit first: one that explains every check of the column, then the
        // one with the most checks.
        let score = (checks.len() == own_checks.len(), checks.len());
        if fits && best.as_ref().is_none_or(|(s, _)| score > *s) {
            best = Some((score, candidate));
        }
    }
    let mut column = match best {
        Some((_, column)) => column,
        None => {
            let ty = approximate(&storage)?;
            notes.push(format!(
                "database type `{}` has no exact mapping; read as `{}`",
                c.storage_type,
                rust_type(ty)
            ));
            Column {
                auto_increment: c.auto_increment,
                max_length: if ty == ColumnType::Text { length } else { None },
                ..Column::new(&c.name, ty, c.nullable)
            }
        }
    };
    if column.ty == ColumnType::Text
        && let Some(collation) = &c.collation
        && introspect::expected_collation(&column, dialect).as_deref() != Some(collation.as_str())
    {
        if column.allowed_values.take().is_some() {
            // An enum type takes the ORM's collation: other text keeps its values' check.
            notes.push(format!(
                "its values are limited by the CHECK `{prefix}`, but its collation `{collation}` \
                 is not an enum's; read as text"
            ));
        }
        column.collation = Some(collation.clone());
    }
    if let Some(raw) = c
        .default
        .as_ref()
        .filter(|raw| introspect::norm_default(Some(raw), catalog).is_some())
    {
        match default_value(raw, column.ty, catalog) {
            Some(d) => column.default = Some(d),
            None => notes.push(format!(
                "the database default `{raw}` is not a literal `#[orm(default)]` can declare \
                 for this type; it stays the database's"
            )),
        }
    }
    let variants = column.allowed_values.as_ref().map(|values| {
        let mut used = BTreeSet::new();
        values
            .iter()
            .map(|v| {
                let mut ident = type_ident(v);
                while !used.insert(ident.clone()) {
                    ident.push('_');
                }
                (ident, v.clone())
            })
            .collect()
    });
    if c.auto_increment {
        column.default = None;
    }
    Some((column, variants, notes))
}

/// `varchar(20)` → `(Some(20), None)`; `numeric(10,2)` → `(None, Some((10, 2)))`.
fn type_arguments(storage: &str) -> (Option<u32>, Option<(u32, u32)>) {
    let Some(args) = storage
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(args, _)| args)
    else {
        return (None, None);
    };
    let numbers: Vec<u32> = args
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    match numbers[..] {
        [n] => (Some(n), Some((n, 0))),
        [p, s] => (None, Some((p, s))),
        _ => (None, None),
    }
}

/// Whether both bounds of `ty`'s range appear in a range check's condition.
fn bounds_match(ty: ColumnType, condition: &str) -> bool {
    let Some((low, high)) = ty.integer_range() else {
        return false;
    };
    let numbers: BTreeSet<i64> = condition
        .split(|c: char| !(c.is_ascii_digit() || c == '-'))
        .filter_map(|n| n.parse().ok())
        .collect();
    numbers.contains(&low) && numbers.contains(&high)
}

/// The quoted values of `col IN ('a', 'b')` or `= ANY (ARRAY['a'::text, 'b'::text])`.
fn enum_values(condition: &str) -> Option<Vec<String>> {
    let lower = condition.to_ascii_lowercase();
    let start = lower.find(" in (").or_else(|| lower.find("array["))?;
    let mut out = Vec::new();
    let mut chars = condition[start..].chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue;
        }
        let mut value = String::new();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    value.push('\'');
                    continue;
                }
                break;
            }
            value.push(c);
        }
        out.push(value);
    }
    (!out.is_empty()).then_some(out)
}

/// The nearest logical type of a storage type with no exact mapping, by its family.
fn approximate(storage: &str) -> Option<ColumnType> {
    let has = |words: &[&str]| words.iter().any(|w| storage.contains(w));
    Some(
        if has(&[
            "interval",
            "range",
            "geometry",
            "point",
            "polygon",
            "linestring",
            "[]",
        ]) {
            return None;
        } else if has(&["int"]) {
            ColumnType::BigInt
        } else if has(&["char", "text", "clob", "enum", "set("]) {
            ColumnType::Text
        } else if has(&["real", "float", "double"]) {
            ColumnType::Double
        } else if has(&["numeric", "decimal"]) {
            ColumnType::Decimal
        } else if has(&["bytea", "blob", "binary"]) {
            ColumnType::Bytes
        } else if has(&["json"]) {
            ColumnType::Json
        } else if has(&["timestamp", "datetime"]) {
            ColumnType::Timestamp
        } else if has(&["date"]) {
            ColumnType::Date
        } else if has(&["time"]) {
            ColumnType::Time
        } else {
            return None;
        },
    )
}

/// A catalog default as a literal `#[orm(default = ...)]` of a `ty` field can declare.
fn default_value(raw: &str, ty: ColumnType, catalog: &catalog::Catalog) -> Option<Default> {
    let quoted = raw.trim_start_matches('(').trim_start().starts_with('\'');
    let text = introspect::norm_default(Some(raw), catalog)?;
    for generated in [DefaultValue::Now, DefaultValue::Uuid] {
        let spelling = introspect::generated_spelling(&generated, ty, catalog.dialect);
        if introspect::norm_default(spelling, catalog).as_ref() == Some(&text) {
            return Some(generated);
        }
    }
    match ty {
        ColumnType::Json | ColumnType::Date if quoted || catalog.dialect == Dialect::MySql => {
            Some(DefaultValue::Text(text))
        }
        // (SQLite keeps most decimals as scaled integers: their default is not the value.)
        ColumnType::Decimal
            if catalog.dialect != Dialect::Sqlite && text.parse::<f64>().is_ok() =>
        {
            Some(DefaultValue::Text(text))
        }
        ColumnType::Text if quoted || catalog.dialect == Dialect::MySql => {
            Some(DefaultValue::Text(text))
        }
        ColumnType::Bool => match text.as_str() {
            "1" => Some(DefaultValue::Bool(true)),
            "0" => Some(DefaultValue::Bool(false)),
            _ => None,
        },
        ColumnType::SmallInt
        | ColumnType::Int
        | ColumnType::BigInt
        | ColumnType::U8
        | ColumnType::U16
        | ColumnType::U32
        | ColumnType::U64 => text.parse().ok().map(DefaultValue::Int),
        ColumnType::Float | ColumnType::Double => text.parse().ok().map(DefaultValue::Float),
        _ => None,
    }
}

/// The Rust type of a logical type, as the generated code spells it.
pub fn rust_type(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Bool => "bool",
        ColumnType::SmallInt => "i16",
        ColumnType::Int => "i32",
        ColumnType::BigInt => "i64",
        ColumnType::Float => "f32",
        ColumnType::Double => "f64",
        ColumnType::Text => "String",
        ColumnType::Bytes => "Vec<u8>",
        ColumnType::U8 => "u8",
        ColumnType::U16 => "u16",
        ColumnType::U32 => "u32",
        ColumnType::U64 => "u64",
        ColumnType::TimestampTz => "chrono::DateTime<chrono::Utc>",
        ColumnType::Timestamp => "chrono::NaiveDateTime",
        ColumnType::Date => "chrono::NaiveDate",
        ColumnType::Time => "chrono::NaiveTime",
        ColumnType::Uuid => "uuid::Uuid",
        ColumnType::ObjectId => "polyorm::bson::oid::ObjectId",
        ColumnType::Decimal => "rust_decimal::Decimal",
        ColumnType::Json => "serde_json::Value",
        _ => "String",
    }
}

const KEYWORDS: [&str; 51] = [
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try",
];

/// The words of a database name (split at non-alphanumerics and lower-to-upper changes).
fn words(name: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        current.push(c);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// A field name for a column, and whether it differs from the column name (then the field
/// needs `#[orm(column = "...")]`).
pub(crate) fn field_ident(name: &str) -> (String, bool) {
    let mut ident = words(name)
        .iter()
        .map(|w| w.to_lowercase())
        .collect::<Vec<_>>()
        .join("_");
    if ident.is_empty() || ident.starts_with(|c: char| c.is_ascii_digit()) {
        ident = format!("c_{ident}");
    }
    if KEYWORDS.contains(&ident.as_str()) {
        ident.push('_');
    }
    let differs = ident != name;
    (ident, differs)
}

/// A type name (`UpperCamelCase`) for a table or an enum value.
pub(crate) fn type_ident(name: &str) -> String {
    let mut ident: String = words(name)
        .iter()
        .map(|w| {
            let mut chars = w.chars();
            let first = chars.next().map(|c| c.to_uppercase().collect::<String>());
            first.unwrap_or_default() + &chars.as_str().to_lowercase()
        })
        .collect();
    if ident.is_empty() || ident.starts_with(|c: char| c.is_ascii_digit()) {
        ident = format!("T{ident}");
    }
    if ident == "Self" {
        ident.push('_');
    }
    ident
}

/// The table name the derive gives a struct (its name in snake_case), as polyorm-derive computes it.
#[cfg(feature = "pull")]
fn derived_table_name(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1).copied();
            let boundary = match prev {
                None | Some('_') => false,
                Some(p) if p.is_lowercase() || p.is_numeric() => true,
                Some(p) if p.is_uppercase() => next.is_some_and(char::is_lowercase),
                Some(_) => false,
            };
            if boundary {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(feature = "pull")]
pub use code::code;

/// Models inferred from samples of MongoDB collections (all of the database's when
/// `collections` is empty), `sample` documents each: an inference, as the code says.
#[cfg(feature = "mongodb")]
pub async fn infer_mongo(
    db: &mongodb::Database,
    collections: &[String],
    sample: u32,
) -> Result<Pulled> {
    let mut names = collections.to_vec();
    if names.is_empty() {
        names = db.list_collection_names().await.map_err(|e| {
            crate::error::Error::Unsupported(format!(
                "cannot list the collections of the MongoDB database `{}`: {e}; check the URL, \
                 the credentials and that the server is up",
                db.name()
            ))
        })?;
        names.sort();
    }
    let mut models = Vec::new();
    let mut skipped = Vec::new();
    for name in names {
        let (model, left_out) = crate::infer::infer(db, &name, sample).await?;
        models.push(model);
        skipped.extend(left_out);
    }
    Ok(Pulled {
        source: format!(
            "samples of the MongoDB database `{}` (an inference: MongoDB keeps no schema)",
            db.name()
        ),
        models,
        skipped,
    })
}

#[cfg(feature = "pull")]
mod code {
    //! The Rust source of pulled models, formatted by prettyplease.

    use std::fmt::Write as _;

    use super::*;

    fn string(s: &str) -> String {
        format!("{s:?}")
    }

    fn action(a: ReferentialAction) -> &'static str {
        match a {
            ReferentialAction::NoAction => "no_action",
            ReferentialAction::Restrict => "restrict",
            ReferentialAction::Cascade => "cascade",
            ReferentialAction::SetNull => "set_null",
            ReferentialAction::SetDefault => "set_default",
        }
    }

    fn doc(out: &mut String, line: &str) {
        let _ = writeln!(out, "#[doc = {}]", string(&format!(" {line}")));
    }

    /// The models as one formatted Rust file (`use polyorm::prelude::*;`, one struct per table, an
    /// enum per enum column), the same text for the same database.
    pub fn code(pulled: &Pulled) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "//! Models pulled from {} by `orm pull`.",
            pulled.source
        );
        out.push_str("use polyorm::prelude::*;\n");
        for m in &pulled.models {
            model(&mut out, m);
        }
        let file = syn::parse_file(&out).expect("pull writes valid Rust");
        let mut text = prettyplease::unparse(&file);
        if !pulled.skipped.is_empty() {
            text.push_str("\n// Left out by `pull` (the derive cannot express them):\n");
            for s in &pulled.skipped {
                let _ = writeln!(text, "// - {s}");
            }
        }
        text
    }

    fn model(out: &mut String, m: &PulledModel) {
        for f in &m.fields {
            if let Some(variants) = &f.variants {
                let _ = writeln!(
                    out,
                    "#[doc = {}]\n#[derive(SqlEnum, Debug, Clone, Copy, PartialEq, Eq)]\npub enum {} {{",
                    string(&format!(
                        " The values of `{}.{}`.",
                        m.table.name, f.column.name
                    )),
                    enum_name(m, f)
                );
                for (ident, value) in variants {
                    doc(out, &format!("`{value}`."));
                    if ident != value {
                        let _ = write!(out, "#[orm(rename = {})]", string(value));
                    }
                    let _ = writeln!(out, "{ident},");
                }
                out.push_str("}\n");
            }
        }
        doc(out, &format!("A row of `{}`.", m.table.name));
        for note in &m.notes {
            doc(out, "");
            doc(out, &format!("Note: {note}."));
        }
        out.push_str("#[derive(Model, Debug, Clone, PartialEq)]\n");
        let mut options = Vec::new();
        if derived_table_name(&m.name) != m.table.name {
            options.push(format!("table = {}", string(&m.table.name)));
        }
        let key: Vec<&PulledField> = m
            .table
            .primary_key
            .iter()
            .filter_map(|k| m.fields.iter().find(|f| &f.column.name == k))
            .collect();
        if key.len() > 1 {
            let idents: Vec<&str> = key.iter().map(|f| f.ident.as_str()).collect();
            options.push(format!("primary_key({})", idents.join(", ")));
        }
        for ix in &m.composite_indexes {
            let kind = if ix.unique { "unique" } else { "index" };
            let name = ix.name.as_ref().map(|n| format!(", name = {}", string(n)));
            options.push(format!(
                "{kind}({}{})",
                ix.fields.join(", "),
                name.unwrap_or_default()
            ));
        }
        for (accessor, child, field) in &m.has_many {
            options.push(format!(
                "has_many({accessor} = {child}::{})",
                field.to_uppercase()
            ));
        }
        if !options.is_empty() {
            let _ = writeln!(out, "#[orm({})]", options.join(", "));
        }
        let _ = writeln!(out, "pub struct {} {{", m.name);
        for f in &m.fields {
            field(out, m, f, key.len() == 1 && key[0].ident == f.ident);
        }
        out.push_str("}\n");
    }

    fn enum_name(m: &PulledModel, f: &PulledField) -> String {
        format!("{}{}", m.name, type_ident(&f.ident))
    }

    fn field(out: &mut String, m: &PulledModel, f: &PulledField, key: bool) {
        let c = &f.column;
        doc(out, &format!("`{}`.", c.name));
        for note in &f.notes {
            doc(out, &format!("Note: {note}."));
        }
        let mut options = Vec::new();
        if f.ident != c.name {
            options.push(format!("column = {}", string(&c.name)));
        }
        if key {
            options.push("primary_key".to_owned());
        }
        if c.auto_increment && key && c.ty.is_integer() {
            options.push("auto_increment".to_owned());
        }
        for (set, kind, name) in [
            (f.unique, "unique", &f.unique_name),
            (f.index, "index", &f.index_name),
        ] {
            match name {
                Some(name) if set => options.push(format!("{kind} = {}", string(name))),
                None if set => options.push(kind.to_owned()),
                _ => {}
            }
        }
        if c.allowed_values.is_none()
            && let Some(n) = c.max_length
        {
            options.push(format!("max_length = {n}"));
        }
        if let Some((p, s)) = c.precision {
            options.push(format!("precision = {p}, scale = {s}"));
        }
        if let Some(collation) = &c.collation {
            options.push(format!("collation = {}", string(collation)));
        }
        if let Some(d) = &c.default {
            options.push(format!(
                "default = {}",
                match d {
                    DefaultValue::Bool(b) => b.to_string(),
                    DefaultValue::Int(i) => i.to_string(),
                    DefaultValue::Float(v) => format!("{v:?}"),
                    DefaultValue::Text(s) => string(s),
                    DefaultValue::Now => "now()".to_owned(),
                    DefaultValue::Uuid => "uuid()".to_owned(),
                }
            ));
        }
        if let Some((parent, on_delete, on_update)) = &f.belongs_to {
            options.push(format!("belongs_to = {parent}"));
            if !on_delete.is_no_action() {
                options.push(format!("on_delete = \"{}\"", action(*on_delete)));
            }
            if !on_update.is_no_action() {
                options.push(format!("on_update = \"{}\"", action(*on_update)));
            }
            if let Some(name) = &f.fk_name {
                options.push(format!("fk_name = {}", string(name)));
            }
        }
        if !options.is_empty() {
            let _ = writeln!(out, "#[orm({})]", options.join(", "));
        }
        let ty = match &f.variants {
            Some(_) => enum_name(m, f),
            None => rust_type(c.ty).to_owned(),
        };
        let ty = if c.nullable && !key {
            format!("Option<{ty}>")
        } else {
            ty
        };
        let _ = writeln!(out, "pub {}: {ty},", f.ident);
    }
}
