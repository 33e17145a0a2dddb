//! `INSERT`, with `ON CONFLICT`/`ON DUPLICATE KEY UPDATE` for upserts and `RETURNING` where
//! the dialect has it.

use sea_query::{Expr, Query};

use super::build;
use super::projection::stored_column;
use crate::error::Error;
use crate::query::ir::{InsertQuery, OnConflict};
use crate::sql::{Compiled, Dialect, values};

/// Writes an insert (an upsert with `on_conflict`).
pub(super) fn render(
    q: &InsertQuery,
    on_conflict: Option<&OnConflict>,
    dialect: Dialect,
) -> Result<Compiled, Error> {
    let table = q.schema.table;
    let mut insert = Query::insert();
    insert.into_table(table);
    let columns: Vec<&'static str> = q.schema.insert_columns().map(|c| c.name).collect();
    if columns.is_empty() {
        // One row (`check::statement`).
        insert.or_default_values();
    } else {
        insert.columns(columns.iter().copied());
        for row in &q.rows {
            insert
                .values(row.iter().cloned().map(|v| Expr::val(values::to_sea(v))))
                .map_err(|e| Error::InvalidQuery(format!("insert into `{table}`: {e}")))?;
        }
    }
    if let Some(oc) = on_conflict {
        // Conflict columns are named (`check::statement`).
        let mut clause = sea_query::OnConflict::columns(oc.columns.iter().copied());
        if oc.update.is_empty() {
            // MySQL: `ON DUPLICATE KEY UPDATE c = c`, not INSERT IGNORE, which would also
            // swallow every other error (strict-mode conversions included).
            clause.do_nothing_on(oc.columns.iter().copied());
        } else {
            clause.update_columns(oc.update.iter().copied());
        }
        insert.on_conflict(clause);
    }
    if q.returning && dialect.has_returning() {
        let columns = q
            .schema
            .columns
            .iter()
            .map(|c| stored_column(Expr::col(c.name), c, dialect));
        insert.returning(Query::returning().exprs(columns));
    }
    Ok(build(&insert, dialect))
}
