//! The one reader of live catalogs: runs a dialect's [`Catalog`] queries and decodes their rows
//! into the physical schema that drift detection compares.

use std::collections::BTreeSet;

use orm_core::{Compiled, Executor, FieldType, ReferentialAction};

use super::catalog::Catalog;
use super::{PhysColumn, PhysSchema, fk_line, norm_default, norm_type};
use crate::error::Result;

/// One row of [`Catalog::columns`].
struct ColumnRow {
    table: String,
    name: String,
    ty: String,
    nullable: bool,
    default: Option<String>,
    auto_increment: bool,
    collation: Option<String>,
    key_position: i64,
}

/// One row of [`Catalog::indexes`].
struct IndexRow {
    table: String,
    name: String,
    unique: bool,
    column: Option<String>,
    method: Option<String>,
    predicate: Option<String>,
}

/// One row of [`Catalog::foreign_keys`].
struct ForeignKeyRow {
    table: String,
    key: String,
    name: String,
    column: String,
    ref_table: String,
    ref_column: Option<String>,
    on_delete: String,
    on_update: String,
}

async fn fetch<E: Executor, T: Send + 'static>(
    db: &E,
    sql: &str,
    decode: orm_core::exec::Decoder<T>,
) -> Result<Vec<T>> {
    let statement = Compiled {
        sql: sql.to_owned(),
        values: vec![],
    };
    Ok(db.fetch_compiled(statement, decode).await?)
}

/// Reads the live schema described by `catalog` (history table included).
pub async fn live<E: Executor>(db: &E, catalog: &Catalog) -> Result<PhysSchema> {
    let mut out = PhysSchema::new();
    let columns = fetch(db, catalog.columns, |r| {
        Ok(ColumnRow {
            table: String::decode(r, 0)?,
            name: String::decode(r, 1)?,
            ty: String::decode(r, 2)?,
            nullable: i64::decode(r, 3)? != 0,
            default: Option::<String>::decode(r, 4)?,
            auto_increment: i64::decode(r, 5)? != 0,
            collation: Option::<String>::decode(r, 6)?,
            key_position: i64::decode(r, 7)?,
        })
    })
    .await?;
    let mut keys: Vec<(String, i64, String)> = Vec::new();
    for c in columns {
        if c.key_position > 0 {
            keys.push((c.table.clone(), c.key_position, c.name.clone()));
        }
        out.entry(c.table).or_default().columns.insert(
            c.name,
            PhysColumn {
                ty: norm_type(catalog, &c.ty),
                nullable: c.nullable,
                default: norm_default(c.default.as_deref(), catalog),
                auto_increment: c.auto_increment,
                collation: c.collation.filter(|_| catalog.reports_collations),
            },
        );
    }
    keys.sort();
    for (table, _, column) in keys {
        out.entry(table).or_default().primary_key.push(column);
    }

    let indexes = fetch(db, catalog.indexes, |r| {
        Ok(IndexRow {
            table: String::decode(r, 0)?,
            name: String::decode(r, 1)?,
            unique: i64::decode(r, 2)? != 0,
            column: Option::<String>::decode(r, 4)?,
            method: Option::<String>::decode(r, 5)?,
            predicate: Option::<String>::decode(r, 6)?,
        })
    })
    .await?;
    for ix in consecutive(indexes, |a, b| a.table == b.table && a.name == b.name) {
        let first = &ix[0];
        let mut columns: Vec<String> = ix
            .iter()
            .map(|r| {
                r.column
                    .clone()
                    .unwrap_or_else(|| "(expression)".to_owned())
            })
            .collect();
        columns.extend(first.method.as_ref().map(|m| format!("USING {m}")));
        columns.extend(first.predicate.as_ref().map(|p| format!("WHERE {p}")));
        out.entry(first.table.clone())
            .or_default()
            .indexes
            .insert(first.name.clone(), (columns, first.unique));
    }

    let foreign_keys = fetch(db, catalog.foreign_keys, |r| {
        Ok(ForeignKeyRow {
            table: String::decode(r, 0)?,
            key: String::decode(r, 1)?,
            name: String::decode(r, 2)?,
            column: String::decode(r, 3)?,
            ref_table: String::decode(r, 4)?,
            ref_column: Option::<String>::decode(r, 5)?,
            on_delete: String::decode(r, 6)?,
            on_update: String::decode(r, 7)?,
        })
    })
    .await?;
    for key in consecutive(foreign_keys, |a, b| a.table == b.table && a.key == b.key) {
        let first = &key[0];
        let columns: Vec<String> = key.iter().map(|r| r.column.clone()).collect();
        // A key that names no referenced columns references the primary key.
        let ref_columns: Vec<String> = match key.iter().map(|r| r.ref_column.clone()).collect() {
            Some(named) => named,
            None => out
                .get(&first.ref_table)
                .map(|t| t.primary_key.clone())
                .unwrap_or_default(),
        };
        let line = fk_line(
            &first.name,
            &columns,
            &first.ref_table,
            &ref_columns,
            action_name(parse_action(&first.on_delete), catalog),
            action_name(parse_action(&first.on_update), catalog),
            catalog,
        );
        out.entry(first.table.clone())
            .or_default()
            .foreign_keys
            .push(line);
    }
    for t in out.values_mut() {
        t.foreign_keys.sort();
    }

    let named = fetch(db, catalog.named, |r| {
        Ok((
            String::decode(r, 0)?,
            String::decode(r, 1)?,
            String::decode(r, 2)?,
        ))
    })
    .await?;
    for (table, kind, text) in named {
        // A trigger on a table of another schema does not concern this one.
        let Some(t) = out.get_mut(&table) else {
            continue;
        };
        match kind.as_str() {
            "c" => {
                t.checks.insert(text);
            }
            "t" => {
                t.triggers.insert(text);
            }
            _ => t.checks.extend(named_checks(&text)),
        }
    }
    Ok(out)
}

/// `rows` split into runs of consecutive rows that `same` puts together (the rows of one index
/// or key, which the catalog queries return in order).
fn consecutive<T>(rows: Vec<T>, same: fn(&T, &T) -> bool) -> Vec<Vec<T>> {
    let mut out: Vec<Vec<T>> = Vec::new();
    for row in rows {
        match out.last_mut() {
            Some(run) if same(&run[0], &row) => run.push(row),
            _ => out.push(vec![row]),
        }
    }
    out
}

/// A referential action as the catalogs report it: its SQL spelling, or PostgreSQL's one-letter
/// code (`a`, `r`, `c`, `n`, `d`).
pub(super) fn parse_action(s: &str) -> ReferentialAction {
    match s.to_ascii_uppercase().as_str() {
        "R" | "RESTRICT" => ReferentialAction::Restrict,
        "C" | "CASCADE" => ReferentialAction::Cascade,
        "N" | "SET NULL" => ReferentialAction::SetNull,
        "D" | "SET DEFAULT" => ReferentialAction::SetDefault,
        _ => ReferentialAction::NoAction,
    }
}

/// The spelling under which `catalog` reports `action` (InnoDB's `NO ACTION` is `RESTRICT`).
pub(super) fn action_name(action: ReferentialAction, catalog: &Catalog) -> &'static str {
    match action {
        ReferentialAction::NoAction if catalog.no_action_is_restrict => "RESTRICT",
        _ => action.sql(),
    }
}

/// The names of the `CONSTRAINT <name> CHECK` clauses of a `CREATE TABLE` (for a catalog that
/// keeps no list of them; unnamed checks are not reported).
fn named_checks(create: &str) -> BTreeSet<String> {
    let words = crate::split::words(create);
    words
        .windows(3)
        .filter(|w| w[0].eq_ignore_ascii_case("CONSTRAINT") && w[2].eq_ignore_ascii_case("CHECK"))
        .map(|w| w[1].clone())
        .collect()
}
