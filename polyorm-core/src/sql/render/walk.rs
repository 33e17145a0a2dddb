//! `WITH RECURSIVE walk AS (<start rows> UNION ALL <their related rows>) SELECT .. FROM walk`:
//! the rows of a tree reached from a select's rows through a self-relation, each with its
//! depth, breadth first (by depth, then key).

use sea_query::{
    CommonTableExpression, Expr, ExprTrait, Func, Order, Query, UnionType, WithClause, WithQuery,
};

use super::condition::condition;
use super::projection::stored_column;
use super::{Scope, set_where};
use crate::error::Error;
use crate::query::ir::{SelectQuery, TreeWalk, WALK_DEPTH, WALK_TABLE};
use crate::sql::{Dialect, check, lower};

/// The alias of the table in the recursive step (the next level's rows).
const STEP: &str = "walk_step";

/// The `WITH RECURSIVE` query of `q`'s walk.
pub(super) fn render(q: &SelectQuery, walk: &TreeWalk, scope: &Scope) -> Result<WithQuery, Error> {
    check::select(q, scope.dialect)?;
    let lowered = lower::select(q, scope.dialect, 0)?;
    let q = lowered.query.as_ref();
    let scope = &scope.reading(q);
    let schema = q.schema;
    let table = schema.table;
    let big_int = match scope.dialect {
        Dialect::Postgres => "BIGINT",
        Dialect::MySql => "SIGNED",
        Dialect::Sqlite => "INTEGER",
    };
    // The start rows, at depth 0 (the CTE's column types are the start select's).
    let mut start = Query::select();
    for c in schema.columns {
        start.expr(Expr::col((table, c.name)));
    }
    start.expr(Func::cast_as(Expr::cust("0"), big_int));
    start.from(table);
    if let Some(filter) = &q.filter {
        set_where(&mut start, condition(filter, scope)?);
    }
    // The next level: rows related to the current level's, one deeper, up to `max_depth`.
    let mut step = Query::select();
    for c in schema.columns {
        step.expr(Expr::col((STEP, c.name)));
    }
    step.expr(Expr::col((WALK_TABLE, WALK_DEPTH)).add(1));
    step.from_as(table, STEP);
    step.inner_join(
        WALK_TABLE,
        Expr::col((STEP, walk.step.name)).equals((WALK_TABLE, walk.from.name)),
    );
    set_where(
        &mut step,
        Expr::col((WALK_TABLE, WALK_DEPTH)).lt(i64::from(walk.max_depth)),
    );
    start.union(UnionType::All, step);
    let mut cte = CommonTableExpression::new();
    cte.query(start)
        .columns(schema.columns.iter().map(|c| c.name).chain([WALK_DEPTH]))
        .table_name(WALK_TABLE);
    // The walked rows, read back as a select of the model reads them.
    let mut rows = Query::select();
    for c in schema.columns {
        rows.expr(stored_column(
            Expr::col((WALK_TABLE, c.name)),
            c,
            scope.dialect,
        ));
    }
    rows.expr(Expr::col((WALK_TABLE, WALK_DEPTH)));
    rows.from(WALK_TABLE);
    rows.order_by((WALK_TABLE, WALK_DEPTH), Order::Asc);
    for key in schema.primary_key_columns() {
        rows.order_by((WALK_TABLE, key.name), Order::Asc);
    }
    if let Some(limit) = q.limit {
        rows.limit(limit);
    }
    Ok(rows.with(WithClause::new().recursive(true).cte(cte).to_owned()))
}
