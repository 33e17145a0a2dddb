//! DDL for a model's table: the same renderer the migration engine uses.
//!
//! Every table the ORM creates compares text by code point: MySQL/MariaDB tables use the
//! `utf8mb4_bin` collation (PostgreSQL and SQLite compare bytes by default).

use sea_query::{
    ColumnDef, ForeignKey, ForeignKeyAction, Index, IndexCreateStatement, MysqlQueryBuilder,
    PostgresQueryBuilder, SchemaStatementBuilder, SqliteQueryBuilder, Table, TableCreateStatement,
};

use super::Dialect;
use crate::error::Error;
use crate::schema::{
    ColumnSchema, ColumnType, DefaultValue, IndexSchema, ModelSchema, ReferentialAction,
};

/// Renders a sea-query schema statement for `dialect` (the one place DDL text is produced).
pub fn render(statement: &impl SchemaStatementBuilder, dialect: Dialect) -> String {
    match dialect {
        Dialect::Postgres => statement.to_string(PostgresQueryBuilder),
        Dialect::MySql => statement.to_string(MysqlQueryBuilder),
        Dialect::Sqlite => statement.to_string(SqliteQueryBuilder),
    }
}

/// The statements that create `schema`'s table and its indexes, in execution order.
///
/// With `if_not_exists`, running them against an existing table is a no-op.
pub fn create_table(
    schema: &ModelSchema,
    dialect: Dialect,
    if_not_exists: bool,
) -> Result<Vec<String>, Error> {
    let mut table = table_statement(schema, dialect)?;
    if if_not_exists {
        table.if_not_exists();
    }
    if dialect == Dialect::MySql {
        // MySQL has no CREATE INDEX IF NOT EXISTS: declare the indexes inside CREATE TABLE so
        // that IF NOT EXISTS covers them too.
        for ix in schema.indexes {
            table.index(&mut index_statement(schema, ix));
        }
        return Ok(vec![render(&table, dialect)]);
    }
    let mut out = vec![render(&table, dialect)];
    for ix in schema.indexes {
        let mut index = index_statement(schema, ix);
        if if_not_exists {
            index.if_not_exists();
        }
        out.push(render(&index, dialect));
    }
    Ok(out)
}

fn index_statement(schema: &ModelSchema, ix: &IndexSchema) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(ix.name).table(schema.table);
    for c in ix.columns {
        index.col(*c);
    }
    if ix.unique {
        index.unique();
    }
    index
}

/// The statement that drops `schema`'s table (if it exists).
pub fn drop_table(schema: &ModelSchema, dialect: Dialect) -> String {
    render(Table::drop().table(schema.table).if_exists(), dialect)
}

fn table_statement(schema: &ModelSchema, dialect: Dialect) -> Result<TableCreateStatement, Error> {
    let mut table = Table::create();
    table.table(schema.table);
    let single_key = schema.primary_key.len() == 1;
    for column in schema.columns {
        check_column(schema, column, dialect)?;
        table.col(column_def(column, single_key));
    }
    if !single_key {
        let mut key = Index::create();
        for c in schema.primary_key_columns() {
            key.col(c.name);
        }
        table.primary_key(&mut key);
    }
    for fk in schema.foreign_keys {
        let mut key = ForeignKey::create();
        key.name(fk.name)
            .from_tbl(schema.table)
            .to_tbl(fk.ref_table)
            .on_delete(action(fk.on_delete))
            .on_update(action(fk.on_update));
        for (column, referenced) in fk.columns.iter().zip(fk.ref_columns) {
            key.from_col(*column).to_col(*referenced);
        }
        table.foreign_key(&mut key);
    }
    table_options(&mut table, dialect);
    Ok(table)
}

/// Adds the options every table the ORM creates gets on `dialect` (on MySQL/MariaDB: InnoDB,
/// `utf8mb4`, binary collation so that text compares by code point).
pub fn table_options(table: &mut TableCreateStatement, dialect: Dialect) {
    if dialect == Dialect::MySql {
        table
            .engine("InnoDB")
            .character_set("utf8mb4")
            .collate("utf8mb4_bin");
    }
}

/// The sea-query spelling of a referential action.
pub fn action(action: ReferentialAction) -> ForeignKeyAction {
    match action {
        ReferentialAction::NoAction => ForeignKeyAction::NoAction,
        ReferentialAction::Restrict => ForeignKeyAction::Restrict,
        ReferentialAction::Cascade => ForeignKeyAction::Cascade,
        ReferentialAction::SetNull => ForeignKeyAction::SetNull,
        ReferentialAction::SetDefault => ForeignKeyAction::SetDefault,
    }
}

fn column_def(column: &ColumnSchema, single_key: bool) -> ColumnDef {
    column_def_for(&ColumnSpec {
        name: column.name,
        ty: column.ty,
        max_length: column.max_length,
        nullable: column.nullable,
        primary_key: column.primary_key && single_key,
        auto_increment: column.auto_increment,
        default: column.default.map(|d| match d {
            DefaultValue::Bool(b) => DefaultRef::Bool(b),
            DefaultValue::Int(i) => DefaultRef::Int(i),
            DefaultValue::Float(f) => DefaultRef::Float(f),
            DefaultValue::Text(s) => DefaultRef::Text(s),
        }),
    })
}

/// A default value borrowed from any column description (static or owned).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DefaultRef<'a> {
    /// A boolean literal.
    Bool(bool),
    /// An integer literal.
    Int(i64),
    /// A floating-point literal.
    Float(f64),
    /// A text literal (quoted by the dialect).
    Text(&'a str),
}

/// A column definition borrowed from any column description: what [`column_def_for`] renders.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColumnSpec<'a> {
    /// Column name.
    pub name: &'a str,
    /// Logical type.
    pub ty: ColumnType,
    /// `VARCHAR(N)` bound for text columns.
    pub max_length: Option<u32>,
    /// Whether NULL is accepted.
    pub nullable: bool,
    /// Whether to declare `PRIMARY KEY` inline (single-column keys only).
    pub primary_key: bool,
    /// Whether the database generates the value.
    pub auto_increment: bool,
    /// Database default.
    pub default: Option<DefaultRef<'a>>,
}

/// Sets the storage type of `def` for a logical type: the one mapping from [`ColumnType`] to
/// each dialect's type.
pub fn set_column_type(def: &mut ColumnDef, ty: ColumnType, max_length: Option<u32>) {
    match (ty, max_length) {
        (ColumnType::Bool, _) => def.boolean(),
        (ColumnType::SmallInt, _) => def.small_integer(),
        (ColumnType::Int, _) => def.integer(),
        (ColumnType::BigInt, _) => def.big_integer(),
        (ColumnType::Float, _) => def.float(),
        (ColumnType::Double, _) => def.double(),
        (ColumnType::Text, Some(n)) => def.string_len(n),
        (ColumnType::Text, None) => def.text(),
        (ColumnType::Bytes, _) => def.blob(),
    };
}

/// The storage type `dialect` uses for a logical type, as SQL text (`integer`,
/// `varchar(120)`, ...), rendered by the same mapping as `CREATE TABLE`.
pub fn column_type_sql(ty: ColumnType, max_length: Option<u32>, dialect: Dialect) -> String {
    let mut def = ColumnDef::new("c");
    set_column_type(&mut def, ty, max_length);
    let sql = render(Table::create().table("t").col(def), dialect);
    // `CREATE TABLE "t" ( "c" <type> )`: the type sits between the column name and `)`.
    let start = sql.find(['"', '`']).map_or(0, |i| i + 1);
    let after_table = &sql[start..];
    let column = after_table
        .find("c\" ")
        .or_else(|| after_table.find("c` "))
        .map_or(0, |i| i + 3);
    after_table[column..]
        .trim_end()
        .trim_end_matches(')')
        .trim()
        .to_owned()
}

/// A sea-query column definition for `spec`: type, nullability, inline key, default.
pub fn column_def_for(spec: &ColumnSpec<'_>) -> ColumnDef {
    let mut def = ColumnDef::new(spec.name.to_owned());
    set_column_type(&mut def, spec.ty, spec.max_length);
    if !spec.nullable {
        def.not_null();
    }
    if spec.primary_key {
        def.primary_key();
    }
    if spec.auto_increment {
        def.auto_increment();
    }
    if let Some(default) = spec.default {
        match default {
            DefaultRef::Bool(b) => def.default(b),
            DefaultRef::Int(i) => def.default(i),
            DefaultRef::Float(f) => def.default(f),
            DefaultRef::Text(s) => def.default(s.to_owned()),
        };
    }
    def
}

/// Rejects what a dialect cannot store, with a message that says how to fix the model.
fn check_column(
    schema: &ModelSchema,
    column: &ColumnSchema,
    dialect: Dialect,
) -> Result<(), Error> {
    let keyed = column.primary_key
        || schema
            .indexes
            .iter()
            .any(|ix| ix.columns.contains(&column.name));
    if dialect == Dialect::MySql && keyed && column.ty == ColumnType::Bytes {
        return Err(Error::Schema(format!(
            "`{}.{}` is a key or indexed byte-string column, which MySQL cannot index without a \
             prefix length; use a bounded `String` key instead",
            schema.table, column.name
        )));
    }
    if dialect == Dialect::MySql
        && keyed
        && column.ty == ColumnType::Text
        && column.max_length.is_none()
    {
        return Err(Error::Schema(format!(
            "`{}.{}` is a key or indexed column of unbounded length, which MySQL cannot index; \
             add `#[orm(max_length = N)]` to the field",
            schema.table, column.name
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_type_sql_is_the_create_table_type() {
        let cases = [
            (ColumnType::Bool, None, ["bool", "bool", "boolean"]),
            (
                ColumnType::SmallInt,
                None,
                ["smallint", "smallint", "smallint"],
            ),
            (ColumnType::Int, None, ["integer", "int", "integer"]),
            (ColumnType::BigInt, None, ["bigint", "bigint", "integer"]),
            (ColumnType::Float, None, ["real", "float", "float"]),
            (
                ColumnType::Double,
                None,
                ["double precision", "double", "double"],
            ),
            (ColumnType::Text, None, ["text", "text", "text"]),
            (
                ColumnType::Text,
                Some(12),
                ["varchar(12)", "varchar(12)", "varchar(12)"],
            ),
            (ColumnType::Bytes, None, ["bytea", "blob", "blob"]),
        ];
        for (ty, len, expected) in cases {
            for (d, want) in Dialect::ALL.into_iter().zip(expected) {
                assert_eq!(column_type_sql(ty, len, d), want, "{ty:?} on {d}");
            }
        }
    }
}
