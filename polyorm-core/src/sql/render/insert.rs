//! `INSERT`, with `ON CONFLICT`/`ON DUPLICATE KEY UPDATE` for upserts and `RETURNING` where
//! the dialect has it.

use sea_query::{Expr, Func, Query};

use super::build;
use super::projection::stored_column;
use crate::error::Error;
use crate::query::ir::{InsertQuery, OnConflict};
use crate::sql::default::generated_sql;
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
        // A column the database generates (`default = now()`, `uuid()` on PostgreSQL) takes
        // its default where the row leaves it unset (NULL): `COALESCE(?, now())`, one text for
        // every row, so the statement's SQL does not depend on its values.
        let generated: Vec<Option<&'static str>> = q
            .schema
            .insert_columns()
            .map(|c| generated_sql(c.default.as_ref()?, c.ty, dialect))
            .collect();
        for row in &q.rows {
            let exprs = row.iter().zip(&generated).map(|(v, generated)| {
                let value = Expr::val(values::to_sea(v.clone()));
                match generated {
                    Some(sql) => Func::coalesce([value, Expr::cust(*sql)]).into(),
                    None => value,
                }
            });
            insert
                .values(exprs)
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
