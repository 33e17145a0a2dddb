//! Renders neutral operations to DDL for one dialect, through sea-query and the column
//! mapping of `orm_core::sql::ddl` (the same one `CREATE TABLE` uses).
//!
//! What a dialect cannot do in place is spelled out here: SQLite rebuilds a table (create a
//! new one, copy the rows, drop the old one, rename, recreate the indexes) to alter or drop a
//! column, to add a NOT NULL column without a default, and to add or drop a foreign key.

use orm_core::Dialect;
use orm_core::sql::ddl::{self, action, column_def_for, column_type_sql, render as sql};
use sea_query::{Alias, ForeignKey as SqForeignKey, Index as SqIndex, Table as SqTable};

use crate::diff::Operation;
use crate::error::Result;
use crate::schema::{Column, Default, ForeignKey, Index, Schema, Table};

/// Quotes an identifier for `dialect`.
pub fn quote(name: &str, dialect: Dialect) -> String {
    match dialect {
        Dialect::MySql => format!("`{}`", name.replace('`', "``")),
        _ => format!("\"{}\"", name.replace('"', "\"\"")),
    }
}

/// A default as a SQL literal.
fn literal(default: &Default) -> String {
    match default {
        Default::Bool(b) => b.to_string(),
        Default::Int(i) => i.to_string(),
        Default::Float(f) => format!("{f:?}"),
        Default::Text(s) => format!("'{}'", s.replace('\'', "''")),
    }
}

/// The `CREATE TABLE` statement of `table` (named `as_name`), without its indexes.
pub fn create_table_sql(table: &Table, as_name: &str, dialect: Dialect) -> String {
    let mut stmt = SqTable::create();
    stmt.table(Alias::new(as_name));
    for c in &table.columns {
        stmt.col(column_def_for(&table.spec(c), dialect));
    }
    if table.primary_key.len() > 1 {
        let mut key = SqIndex::create();
        for c in &table.primary_key {
            key.col(Alias::new(c));
        }
        stmt.primary_key(&mut key);
    }
    for fk in &table.foreign_keys {
        stmt.foreign_key(&mut fk_statement(as_name, fk));
    }
    ddl::table_options(&mut stmt, dialect);
    sql(&stmt, dialect)
}

fn fk_statement(table: &str, fk: &ForeignKey) -> sea_query::ForeignKeyCreateStatement {
    let mut key = SqForeignKey::create();
    key.name(&fk.name)
        .from_tbl(Alias::new(table))
        .to_tbl(Alias::new(&fk.ref_table))
        .on_delete(action(fk.on_delete.core()))
        .on_update(action(fk.on_update.core()));
    for (c, r) in fk.columns.iter().zip(&fk.ref_columns) {
        key.from_col(Alias::new(c)).to_col(Alias::new(r));
    }
    key
}

fn create_index_sql(table: &str, ix: &Index, dialect: Dialect) -> String {
    let mut index = SqIndex::create();
    index.name(&ix.name).table(Alias::new(table));
    for c in &ix.columns {
        index.col(Alias::new(c));
    }
    if ix.unique {
        index.unique();
    }
    sql(&index, dialect)
}

/// The up statements of `ops`, applied to `before`.
pub fn render_up(ops: &[Operation], before: &Schema, dialect: Dialect) -> Result<Vec<String>> {
    let mut state = before.clone();
    let mut out = Vec::new();
    for op in ops {
        out.extend(render_op(op, &state, dialect)?);
        state.apply(op);
    }
    Ok(out)
}

/// The down statements of `ops` (their inverses in reverse order), applied to the schema after
/// them.
pub fn render_down(ops: &[Operation], before: &Schema, dialect: Dialect) -> Result<Vec<String>> {
    let mut after = before.clone();
    for op in ops {
        after.apply(op);
    }
    let inverse: Vec<Operation> = ops.iter().rev().map(Operation::inverse).collect();
    render_up(&inverse, &after, dialect)
}

/// Whether SQLite needs a table rebuild for `op`.
pub fn sqlite_rebuilds(op: &Operation) -> bool {
    match op {
        Operation::AlterColumn { .. }
        | Operation::DropColumn { .. }
        | Operation::AddForeignKey { .. }
        | Operation::DropForeignKey { .. } => true,
        Operation::AddColumn { column, .. } => !column.nullable && column.default.is_none(),
        _ => false,
    }
}

/// The statements of one operation, given the schema before it.
pub fn render_op(op: &Operation, state: &Schema, dialect: Dialect) -> Result<Vec<String>> {
    use Operation::*;
    if dialect == Dialect::Sqlite && sqlite_rebuilds(op) {
        let mut after = state.clone();
        after.apply(op);
        let name = op.table();
        let (Some(old), Some(new)) = (state.tables.get(name), after.tables.get(name)) else {
            return Ok(Vec::new());
        };
        return Ok(sqlite_rebuild(old, new));
    }
    let q = |n: &str| quote(n, dialect);
    Ok(match op {
        CreateTable { table } => {
            let mut v = vec![create_table_sql(table, &table.name, dialect)];
            v.extend(
                table
                    .indexes
                    .iter()
                    .map(|ix| create_index_sql(&table.name, ix, dialect)),
            );
            v
        }
        DropTable { table } => vec![sql(SqTable::drop().table(Alias::new(&table.name)), dialect)],
        RenameTable { from, to } => vec![sql(
            SqTable::rename().table(Alias::new(from), Alias::new(to)),
            dialect,
        )],
        AddColumn { table, column } => {
            let t = state.tables.get(table);
            let mut spec = t.map(|t| t.spec(column)).unwrap_or_else(|| {
                Table {
                    name: table.clone(),
                    columns: vec![],
                    primary_key: vec![],
                    indexes: vec![],
                    foreign_keys: vec![],
                    renamed_from: None,
                }
                .spec(column)
            });
            spec.primary_key = false;
            vec![sql(
                SqTable::alter()
                    .table(Alias::new(table))
                    .add_column(column_def_for(&spec, dialect)),
                dialect,
            )]
        }
        DropColumn { table, column } => vec![sql(
            SqTable::alter()
                .table(Alias::new(table))
                .drop_column(Alias::new(&column.name)),
            dialect,
        )],
        RenameColumn { table, from, to } => vec![sql(
            SqTable::alter()
                .table(Alias::new(table))
                .rename_column(Alias::new(from), Alias::new(to)),
            dialect,
        )],
        AlterColumn { table, from, to } => match dialect {
            Dialect::Postgres => {
                let mut v = Vec::new();
                let head = format!("ALTER TABLE {} ALTER COLUMN {}", q(table), q(&to.name));
                if from.ty != to.ty
                    || from.max_length != to.max_length
                    || from.precision != to.precision
                {
                    let ty = column_type_sql(&to.type_spec(), dialect);
                    v.push(format!("{head} TYPE {ty} USING {}::{ty}", q(&to.name)));
                }
                if from.default != to.default {
                    v.push(match &to.default {
                        Some(d) => format!("{head} SET DEFAULT {}", literal(d)),
                        None => format!("{head} DROP DEFAULT"),
                    });
                }
                if from.nullable != to.nullable {
                    let verb = if to.nullable { "DROP" } else { "SET" };
                    v.push(format!("{head} {verb} NOT NULL"));
                }
                v
            }
            _ => {
                let t = state.tables.get(table).cloned().unwrap_or(Table {
                    name: table.clone(),
                    columns: vec![],
                    primary_key: vec![],
                    indexes: vec![],
                    foreign_keys: vec![],
                    renamed_from: None,
                });
                let mut spec = t.spec(to);
                spec.primary_key = false;
                vec![sql(
                    SqTable::alter()
                        .table(Alias::new(table))
                        .modify_column(column_def_for(&spec, dialect)),
                    dialect,
                )]
            }
        },
        AddIndex { table, index } => vec![create_index_sql(table, index, dialect)],
        DropIndex { table, index } => vec![sql(
            SqIndex::drop().name(&index.name).table(Alias::new(table)),
            dialect,
        )],
        AddForeignKey { table, foreign_key } => {
            vec![sql(&fk_statement(table, foreign_key), dialect)]
        }
        DropForeignKey { table, foreign_key } => vec![sql(
            SqForeignKey::drop()
                .name(&foreign_key.name)
                .table(Alias::new(table)),
            dialect,
        )],
    })
}

/// SQLite's table rebuild: new table, copy the shared columns, drop, rename, indexes.
///
/// The runner turns `PRAGMA foreign_keys` off around the migration's transaction and runs
/// `PRAGMA foreign_key_check` before committing, as SQLite's documentation prescribes.
fn sqlite_rebuild(old: &Table, new: &Table) -> Vec<String> {
    let d = Dialect::Sqlite;
    let tmp = format!("_orm_new_{}", new.name);
    let shared: Vec<String> = new
        .columns
        .iter()
        .filter(|c| old.column(&c.name).is_some())
        .map(|c| quote(&c.name, d))
        .collect();
    let select: Vec<String> = new
        .columns
        .iter()
        .filter(|c| old.column(&c.name).is_some())
        .map(|c| copy_expr(old.column(&c.name).expect("filtered"), c))
        .collect();
    let mut v = vec![
        create_table_sql(new, &tmp, d),
        format!(
            "INSERT INTO {} ({}) SELECT {} FROM {}",
            quote(&tmp, d),
            shared.join(", "),
            select.join(", "),
            quote(&old.name, d)
        ),
        format!("DROP TABLE {}", quote(&old.name, d)),
        format!(
            "ALTER TABLE {} RENAME TO {}",
            quote(&tmp, d),
            quote(&new.name, d)
        ),
    ];
    v.extend(
        new.indexes
            .iter()
            .map(|ix| create_index_sql(&new.name, ix, d)),
    );
    v
}

/// How a rebuild copies one column: as is, or with the new default filling NULLs when the
/// column becomes NOT NULL.
fn copy_expr(old: &Column, new: &Column) -> String {
    let name = quote(&new.name, Dialect::Sqlite);
    match (&new.default, old.nullable && !new.nullable) {
        (Some(d), true) => format!("COALESCE({name}, {})", literal(d)),
        _ => name,
    }
}
