//! DDL for a model's table: the same renderer the migration engine uses.
//!
//! Every table the ORM creates compares text by code point: MySQL/MariaDB tables use the
//! `utf8mb4_bin` collation (PostgreSQL and SQLite compare bytes by default).

use sea_query::{
    Check, ColumnDef, Expr, ExprTrait, ForeignKey, ForeignKeyAction, Index, IndexCreateStatement,
    MysqlQueryBuilder, PostgresQueryBuilder, SchemaStatementBuilder, SqliteQueryBuilder, Table,
    TableCreateStatement,
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
        table.col(column_def(column, single_key, dialect));
    }
    for column in schema.columns {
        for check in checks(schema, column, dialect) {
            table.check(check);
        }
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

/// The CHECK constraints of `column` on `dialect`, named by convention so that a violation
/// maps to the right error (see `exec/errors.rs`):
/// - `ck_<table>_<col>`: the allowed values of an enum column (every dialect);
/// - `ck_<table>_<col>_length`: `max_length` on SQLite, which does not enforce `varchar(N)`;
/// - `ck_<table>_<col>_range`: the range of an integer type stored in a wider column (unsigned
///   types on PostgreSQL and SQLite, `i16`/`i32` on SQLite whose integers are all 64-bit).
fn checks(schema: &ModelSchema, column: &ColumnSchema, dialect: Dialect) -> Vec<Check> {
    let name = |suffix: &str| format!("ck_{}_{}{suffix}", schema.table, column.name);
    let mut out = Vec::new();
    if let Some(values) = column.allowed_values {
        let expr = Expr::col(column.name).is_in(values.iter().copied());
        out.push(Check::named(name(""), expr));
    }
    if let (Some(max), Dialect::Sqlite) = (column.max_length, dialect) {
        let expr = Expr::cust(format!("length({})", quote(column.name, dialect))).lte(max);
        out.push(Check::named(name("_length"), expr));
    }
    let wider = match dialect {
        Dialect::MySql => false,
        Dialect::Postgres => matches!(
            column.ty,
            ColumnType::U8 | ColumnType::U16 | ColumnType::U32
        ),
        Dialect::Sqlite => true,
    };
    if let (Some((low, high)), true) = (column.ty.integer_range(), wider) {
        let expr = Expr::col(column.name).between(low, high);
        out.push(Check::named(name("_range"), expr));
    }
    out
}

/// `name` quoted as an identifier of `dialect` (for expressions sea-query cannot build).
fn quote(name: &str, dialect: Dialect) -> String {
    match dialect {
        Dialect::MySql => format!("`{}`", name.replace('`', "``")),
        Dialect::Postgres | Dialect::Sqlite => format!("\"{}\"", name.replace('"', "\"\"")),
    }
}

fn column_def(column: &ColumnSchema, single_key: bool, dialect: Dialect) -> ColumnDef {
    use Dialect::{MySql, Postgres, Sqlite};
    let mut def = ColumnDef::new(column.name);
    // Enum columns are as wide as their longest value, so MySQL can index them.
    let max_length = column.max_length.or_else(|| {
        column.allowed_values.map(|values| {
            values
                .iter()
                .map(|v| v.chars().count())
                .max()
                .unwrap_or(1)
                .max(1) as u32
        })
    });
    match (column.ty, max_length, dialect) {
        (ColumnType::Bool, _, _) => def.boolean(),
        (ColumnType::SmallInt, _, _) => def.small_integer(),
        (ColumnType::Int, _, _) => def.integer(),
        (ColumnType::BigInt, _, _) => def.big_integer(),
        (ColumnType::Float, _, _) => def.float(),
        (ColumnType::Double, _, _) => def.double(),
        (ColumnType::Text, Some(n), _) => def.string_len(n),
        (ColumnType::Text, None, _) => def.text(),
        (ColumnType::Bytes, _, _) => def.blob(),
        (ColumnType::U8, _, MySql) => def.tiny_unsigned(),
        (ColumnType::U16, _, MySql) => def.small_unsigned(),
        (ColumnType::U32, _, MySql) => def.unsigned(),
        (ColumnType::U64, _, MySql) => def.big_unsigned(),
        (ColumnType::U8, _, _) => def.small_integer(),
        (ColumnType::U16, _, _) => def.integer(),
        (ColumnType::U32 | ColumnType::U64, _, _) => def.big_integer(),
        (ColumnType::TimestampTz, _, Postgres) => def.custom("timestamptz"),
        (ColumnType::Timestamp, _, Postgres) => def.custom("timestamp"),
        (ColumnType::TimestampTz | ColumnType::Timestamp, _, MySql) => def.custom("DATETIME(6)"),
        (ColumnType::Date, _, Postgres | MySql) => def.custom("date"),
        (ColumnType::Time, _, Postgres) => def.custom("time"),
        (ColumnType::Time, _, MySql) => def.custom("TIME(6)"),
        (ColumnType::Uuid, _, Postgres) => def.custom("uuid"),
        (ColumnType::Uuid, _, MySql) => def.custom("BINARY(16)"),
        (ColumnType::Uuid, _, Sqlite) => def.custom("BLOB"),
        (ColumnType::Decimal, _, Postgres) => match column.precision {
            Some((p, s)) => def.custom(format!("numeric({p}, {s})")),
            None => def.custom("numeric"),
        },
        // rust_decimal holds 28 decimal places and at most 29 integer digits.
        (ColumnType::Decimal, _, MySql) => {
            let (p, s) = column.precision.unwrap_or((65, 28));
            def.custom(format!("DECIMAL({p}, {s})"))
        }
        (ColumnType::Json, _, Postgres) => def.custom("jsonb"),
        (ColumnType::Json, _, MySql) => def.custom("JSON"),
        // SQLite: dates, times, decimals and JSON are text (exact, ISO-8601 for dates).
        (
            ColumnType::TimestampTz
            | ColumnType::Timestamp
            | ColumnType::Date
            | ColumnType::Time
            | ColumnType::Decimal
            | ColumnType::Json,
            _,
            Sqlite,
        ) => def.custom("TEXT"),
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
    if column.ty == ColumnType::U64 && dialect != Dialect::MySql {
        return Err(Error::Schema(format!(
            "`{}.{}` is a `u64`, which {} cannot store (its largest integer is a signed 64-bit \
             one); use `i64`, or `u32` if the values are smaller",
            schema.table,
            column.name,
            if dialect == Dialect::Postgres {
                "PostgreSQL"
            } else {
                "SQLite"
            }
        )));
    }
    if dialect == Dialect::MySql
        && keyed
        && matches!(column.ty, ColumnType::Text | ColumnType::Json)
        && column.max_length.is_none()
        && column.allowed_values.is_none()
    {
        return Err(Error::Schema(format!(
            "`{}.{}` is a key or indexed column of unbounded length, which MySQL cannot index; \
             add `#[orm(max_length = N)]` to the field",
            schema.table, column.name
        )));
    }
    Ok(())
}
