//! `DELETE FROM ... WHERE ...`.

use sea_query::Query;

use super::condition::condition;
use super::{Scope, build, set_where};
use crate::error::Error;
use crate::query::ir::DeleteQuery;
use crate::sql::{Compiled, Dialect};

/// Writes a delete.
pub(super) fn render(q: &DeleteQuery, dialect: Dialect) -> Result<Compiled, Error> {
    let mut delete = Query::delete();
    delete.from_table(q.schema.table);
    if let Some(filter) = &q.filter {
        set_where(
            &mut delete,
            condition(filter, &Scope::writing(dialect, q.schema))?,
        );
    }
    Ok(build(&delete, dialect))
}
