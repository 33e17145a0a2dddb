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

fn render(statement: &impl SchemaStatementBuilder, dialect: Dialect) -> String {
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
    if dialect == Dialect::MySql {
        table
            .engine("InnoDB")
            .character_set("utf8mb4")
            .collate("utf8mb4_bin");
    }
    Ok(table)
}

fn action(action: ReferentialAction) -> ForeignKeyAction {
    match action {
        ReferentialAction::NoAction => ForeignKeyAction::NoAction,
        ReferentialAction::Restrict => ForeignKeyAction::Restrict,
        ReferentialAction::Cascade => ForeignKeyAction::Cascade,
        ReferentialAction::SetNull => ForeignKeyAction::SetNull,
        ReferentialAction::SetDefault => ForeignKeyAction::SetDefault,
    }
}

fn column_def(column: &ColumnSchema, single_key: bool) -> ColumnDef {
    let mut def = ColumnDef::new(column.name);
    match (column.ty, column.max_length) {
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
    if !column.nullable {
        def.not_null();
    }
    if column.primary_key && single_key {
        def.primary_key();
    }
    if column.auto_increment {
        def.auto_increment();
    }
    if let Some(default) = column.default {
        match default {
            DefaultValue::Bool(b) => def.default(b),
            DefaultValue::Int(i) => def.default(i),
            DefaultValue::Float(f) => def.default(f),
            DefaultValue::Text(s) => def.default(s),
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
