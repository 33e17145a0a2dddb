//! Owned, serializable snapshots of a database schema, built from the models' static
//! descriptors, read from a migration's `snapshot.json`, or compared with the live database.
//!
//! The enums inside them (column type, default, referential action) are the runtime's own
//! ([`ColumnType`], [`DefaultValue`], [`ReferentialAction`], with polyorm-core's `serde` feature),
//! so a snapshot names a type exactly as the models do.

use std::collections::BTreeMap;

use polyorm_core::sql::Dialect;
use polyorm_core::sql::ddl::{CheckSpec, ColumnSpec, IndexSpec};
use polyorm_core::{
    CheckExpr, ColumnType, DefaultValue, IndexKey, IndexMethod, ModelSchema, ReferentialAction,
};
use serde::{Deserialize, Serialize};

/// A database default value, with its text owned (the core type; serialized as
/// `{"int": 0}`, `{"text": "x"}`, ...).
pub type Default = DefaultValue<String>;

/// One column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// Logical type.
    #[serde(rename = "type")]
    pub ty: ColumnType,
    /// Whether NULL is accepted.
    #[serde(default, skip_serializing_if = "is_false")]
    pub nullable: bool,
    /// Whether the database generates the value.
    #[serde(default, skip_serializing_if = "is_false")]
    pub auto_increment: bool,
    /// Database default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Default>,
    /// `VARCHAR(N)` bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    /// `(precision, scale)` of a decimal column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<(u32, u32)>,
    /// The collation of a text column (`None`: the ORM's code-point comparison).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collation: Option<String>,
    /// The values an enum column accepts (a CHECK constraint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_values: Option<Vec<String>>,
    /// Previous name (a hint of the models, never stored in snapshots).
    #[serde(skip)]
    pub renamed_from: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Column {
    /// A column of type `ty` with nothing else declared (no default, length, precision,
    /// collation or values).
    pub fn new(name: &str, ty: ColumnType, nullable: bool) -> Column {
        Column {
            name: name.to_owned(),
            ty,
            nullable,
            auto_increment: false,
            default: None,
            max_length: None,
            precision: None,
            collation: None,
            allowed_values: None,
            renamed_from: None,
        }
    }

    /// The column's type as the DDL renderer takes it (no key, no default).
    pub fn type_spec(&self) -> ColumnSpec<'_> {
        ColumnSpec {
            name: &self.name,
            ty: self.ty,
            max_length: self.max_length,
            precision: self.precision,
            collation: self.collation.as_deref(),
            nullable: true,
            primary_key: false,
            auto_increment: false,
            default: None,
        }
    }

    /// Whether everything but the name (and rename hint) is equal.
    pub fn same_definition(&self, other: &Column) -> bool {
        self.ty == other.ty
            && self.nullable == other.nullable
            && self.auto_increment == other.auto_increment
            && self.default == other.default
            && self.max_length == other.max_length
            && self.precision == other.precision
            && self.allowed_values == other.allowed_values
            && self.collation == other.collation
    }

    /// What the column's CHECK constraints depend on. The declared length of an enum column
    /// is its longest value, which its values check already bounds.
    pub fn check_spec(&self) -> CheckSpec<'_> {
        CheckSpec {
            column: &self.name,
            ty: self.ty,
            max_length: self.max_length,
            allowed_values: self
                .allowed_values
                .as_ref()
                .map(|v| v.iter().map(String::as_str).collect()),
        }
    }
}

/// An index or unique constraint.
///
/// Two indexes of the same name whose definitions differ in any part (keys, their order or
/// function, method, included columns, condition) are a dropped and an added index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, std::default::Default)]
pub struct Index {
    /// Index name.
    pub name: String,
    /// Columns in index order (for a function key, the column it reads).
    pub columns: Vec<String>,
    /// Whether it enforces uniqueness.
    #[serde(default, skip_serializing_if = "is_false")]
    pub unique: bool,
    /// How each column is indexed, position by position; empty when every key is the plain
    /// column ascending (absent from snapshots written before index options).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<IndexKey>,
    /// The access method; `None` is the dialect's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<IndexMethod>,
    /// Non-key columns stored in the index (PostgreSQL's `INCLUDE`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// The condition of a partial index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicate: Option<CheckExpr>,
}

impl Index {
    /// A plain index of `columns` (ascending, every row, the default method).
    pub fn plain(name: impl Into<String>, columns: &[&str], unique: bool) -> Index {
        Index {
            name: name.into(),
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            unique,
            ..<Index as std::default::Default>::default()
        }
    }

    /// How the key at `position` is indexed.
    pub fn key(&self, position: usize) -> IndexKey {
        self.keys.get(position).copied().unwrap_or(IndexKey::ASC)
    }

    /// Whether this is a plain index: ascending columns over every row, the default method,
    /// no included columns.
    pub fn is_plain(&self) -> bool {
        self.keys.iter().all(|k| *k == IndexKey::ASC)
            && self.method.is_none()
            && self.include.is_empty()
            && self.predicate.is_none()
    }

    /// The borrowed definition the DDL renderer takes, on `table` (whose columns say which
    /// keys are nullable).
    pub fn spec<'a>(&'a self, table: &'a Table) -> IndexSpec<'a> {
        IndexSpec {
            table: &table.name,
            name: &self.name,
            keys: self
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let nullable = table.column(c).is_some_and(|c| c.nullable);
                    (c.as_str(), nullable, self.key(i))
                })
                .collect(),
            unique: self.unique,
            method: self.method,
            include: self.include.iter().map(String::as_str).collect(),
            predicate: self.predicate.as_ref(),
        }
    }
}

/// A foreign key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignKey {
    /// Constraint name.
    pub name: String,
    /// Referencing columns.
    pub columns: Vec<String>,
    /// Referenced table.
    pub ref_table: String,
    /// Referenced columns.
    pub ref_columns: Vec<String>,
    /// Action on delete.
    #[serde(default, skip_serializing_if = "ReferentialAction::is_no_action")]
    pub on_delete: ReferentialAction,
    /// Action on update.
    #[serde(default, skip_serializing_if = "ReferentialAction::is_no_action")]
    pub on_update: ReferentialAction,
}

/// A user CHECK constraint (`#[orm(check = ...)]`): its name and its neutral condition,
/// rendered for the migration's dialect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// Constraint name (`ck_<table>_<column>` or `ck_<table>_<name>`).
    pub name: String,
    /// The condition.
    pub condition: CheckExpr,
}

/// One table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// Table name.
    pub name: String,
    /// Columns, in table order.
    pub columns: Vec<Column>,
    /// Primary-key column names, in key order.
    pub primary_key: Vec<String>,
    /// Indexes and unique constraints, sorted by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<Index>,
    /// Foreign keys, sorted by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub foreign_keys: Vec<ForeignKey>,
    /// User CHECK constraints, sorted by name (absent from snapshots written before them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<Check>,
    /// The triggers the ORM keeps on this table (the audit log's linking trigger), by name,
    /// sorted; absent from snapshots written before them, so that a migration generated from
    /// such a snapshot adds them to the existing table.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<String>,
    /// Previous name (a hint of the models, never stored in snapshots).
    #[serde(skip)]
    pub renamed_from: Option<String>,
}

impl Table {
    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The borrowed column definition the DDL renderer takes.
    pub fn spec<'a>(&self, column: &'a Column) -> ColumnSpec<'a> {
        ColumnSpec {
            name: &column.name,
            ty: column.ty,
            max_length: column.max_length,
            precision: column.precision,
            collation: column.collation.as_deref(),
            nullable: column.nullable,
            primary_key: self.primary_key.len() == 1 && self.primary_key[0] == column.name,
            auto_increment: column.auto_increment,
            default: column.default.as_ref().map(Default::borrowed),
        }
    }

    /// What rendering a check needs of this table's column `name` (type and precision).
    pub fn storage(&self, name: &str) -> Option<polyorm_core::sql::constraint::ColumnStorage> {
        self.column(name).map(|c| (c.ty, c.precision))
    }

    /// Builds the owned snapshot of a model's table.
    ///
    /// # Panics
    /// When a `check` holds what a CHECK constraint cannot (a subquery, a computed
    /// expression, a date or UUID literal): the message names the check and what to write.
    pub fn from_model(model: &ModelSchema) -> Table {
        let columns = model
            .columns
            .iter()
            .map(|c| Column {
                name: c.name.to_owned(),
                ty: c.ty,
                nullable: c.nullable,
                auto_increment: c.auto_increment,
                default: c.default.as_ref().map(DefaultValue::owned),
                max_length: polyorm_core::sql::ddl::effective_max_length(c),
                precision: c.precision,
                collation: c.collation.map(str::to_owned),
                allowed_values: c
                    .allowed_values
                    .map(|v| v.iter().map(|s| (*s).to_owned()).collect()),
                renamed_from: c.renamed_from.map(str::to_owned),
            })
            .collect();
        let mut indexes: Vec<Index> = model
            .indexes
            .iter()
            .map(|ix| Index {
                name: ix.name.to_owned(),
                columns: ix.columns.iter().map(|c| (*c).to_owned()).collect(),
                unique: ix.unique,
                keys: if ix.keys.iter().all(|k| *k == IndexKey::ASC) {
                    Vec::new()
                } else {
                    ix.keys.to_vec()
                },
                method: ix.method,
                include: ix.include.iter().map(|c| (*c).to_owned()).collect(),
                predicate: ix.predicate_expr().unwrap_or_else(|e| panic!("{e}")),
            })
            .collect();
        indexes.sort_by(|a, b| a.name.cmp(&b.name));
        let mut foreign_keys: Vec<ForeignKey> = model
            .foreign_keys
            .iter()
            .map(|fk| ForeignKey {
                name: fk.name.to_owned(),
                columns: fk.columns.iter().map(|c| (*c).to_owned()).collect(),
                ref_table: fk.ref_table.to_owned(),
                ref_columns: fk.ref_columns.iter().map(|c| (*c).to_owned()).collect(),
                on_delete: fk.on_delete,
                on_update: fk.on_update,
            })
            .collect();
        foreign_keys.sort_by(|a, b| a.name.cmp(&b.name));
        let mut checks: Vec<Check> = model
            .checks
            .iter()
            .map(|check| Check {
                name: check.name.to_owned(),
                condition: check.expr().unwrap_or_else(|e| panic!("{e}")),
            })
            .collect();
        checks.sort_by(|a, b| a.name.cmp(&b.name));
        Table {
            name: model.table.to_owned(),
            columns,
            primary_key: model
                .primary_key_columns()
                .map(|c| c.name.to_owned())
                .collect(),
            indexes,
            foreign_keys,
            checks,
            triggers: owned_trigger_names(model.table, None),
            renamed_from: model.renamed_from.map(str::to_owned),
        }
    }
}

/// The names of the triggers the ORM keeps on `table` (on `dialect`, or on any), sorted.
fn owned_trigger_names(table: &str, dialect: Option<Dialect>) -> Vec<String> {
    let mut names: Vec<String> = polyorm_core::registry::triggers()
        .filter(|t| t.table == table && dialect.is_none_or(|d| (t.create)(d).is_some()))
        .map(|t| t.name.to_owned())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// A whole schema: tables by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, std::default::Default)]
pub struct Schema {
    /// Tables, sorted by name.
    pub tables: BTreeMap<String, Table>,
}

impl Schema {
    /// The desired schema of a set of models.
    pub fn from_models<'a>(models: impl IntoIterator<Item = &'a ModelSchema>) -> Schema {
        let tables = models
            .into_iter()
            .map(|m| (m.table.to_owned(), Table::from_model(m)))
            .collect();
        Schema { tables }
    }

    /// This schema as `dialect` holds it: each table keeps only the ORM's triggers that
    /// exist on `dialect` (PostgreSQL has no linking trigger).
    pub fn for_dialect(&self, dialect: Dialect) -> Schema {
        let mut schema = self.clone();
        for t in schema.tables.values_mut() {
            let on_dialect = owned_trigger_names(&t.name, Some(dialect));
            t.triggers.retain(|name| on_dialect.contains(name));
        }
        schema
    }

    /// Every model linked into the program (registered by `#[derive(Model)]`).
    pub fn registered() -> Schema {
        Schema::from_models(polyorm_core::registry::models())
    }

    /// The schema as pretty JSON with a trailing newline (the `snapshot.json` format).
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a schema always serializes");
        s.push('\n');
        s
    }
}
