//! `.explain(&db)` and `.explain_analyze(&db)` of any typed select: the database's own plan,
//! as text (see [`crate::sql::explain::explain`] for each dialect's form).

use std::future::Future;

use super::aggregate::{Projected, Selection};
use super::grouping::ValidGrouping;
use super::ir::{SelectQuery, Statement};
use super::join::{JoinOutput, Joined};
use super::select::Select;
use crate::error::{Error, Result};
use crate::exec::Executor;
use crate::model::Model;
use crate::value::FieldType;

/// A typed select whose plan the database can show: every builder (`Select`, a join, a
/// projection) implements it.
pub trait Explain: Sized + Send {
    /// The IR of the select.
    fn into_select(self) -> SelectQuery;

    /// The database's plan of this query (`EXPLAIN`), without running it: PostgreSQL's text
    /// plan, MySQL/MariaDB's JSON plan, SQLite's `EXPLAIN QUERY PLAN` steps, one per line.
    /// MongoDB: an [`Error::InvalidQuery`] (run the `explain` command on the pipeline).
    fn explain<E: Executor>(self, db: &E) -> impl Future<Output = Result<String>> + Send {
        plan(self.into_select(), db, false)
    }

    /// The plan after running the query (`EXPLAIN ANALYZE` on PostgreSQL, `ANALYZE` on
    /// MariaDB): real row counts and timings. SQLite has none: an [`Error::InvalidQuery`].
    fn explain_analyze<E: Executor>(self, db: &E) -> impl Future<Output = Result<String>> + Send {
        plan(self.into_select(), db, true)
    }
}

impl<M: Model> Explain for Select<M> {
    fn into_select(self) -> SelectQuery {
        self.into_ir()
    }
}

impl<M: Model, J: Model, K: JoinOutput<M, J>> Explain for Joined<M, J, K> {
    fn into_select(self) -> SelectQuery {
        self.into_ir()
    }
}

impl<M: Model, S: Selection<M> + ValidGrouping<G>, G> Explain for Projected<M, S, G> {
    fn into_select(self) -> SelectQuery {
        self.into_ir()
    }
}

/// The plan of `query` on `db`, its lines joined with `\n`.
async fn plan<E: Executor>(query: SelectQuery, db: &E, analyze: bool) -> Result<String> {
    let Some(dialect) = db.dialect() else {
        return Err(Error::InvalidQuery(format!(
            "`explain` of a query of `{}` is not available on {}: run the `explain` command \
             on the collection with the pipeline the query compiles to (`polyorm::mongo`)",
            query.schema.table,
            db.backend()
        )));
    };
    let compiled = crate::sql::compile(&Statement::Select(query), dialect)?;
    let explain = crate::sql::explain::explain(compiled, dialect, analyze)?;
    // The plan's column is the first, or SQLite's fourth (`detail`).
    let decode: crate::exec::Decoder<String> = match explain.column {
        0 => |row| String::decode(row, 0),
        3 => |row| String::decode(row, 3),
        other => unreachable!("`sql::explain` puts the plan in column 0 or 3, not {other}"),
    };
    let lines: Vec<String> = db.fetch_compiled(explain.statement, decode).await?;
    Ok(lines.join("\n"))
}
