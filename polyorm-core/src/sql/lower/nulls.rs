//! Where NULLs sort: the ORM promises NULL as the smallest value on every dialect unless asked
//! otherwise; PostgreSQL sorts it as the largest.

use crate::query::ir::{
    ArithOp, Direction, JoinKind, Nulls, OrderBy, SelectExpr, SelectQuery, WindowFn,
};
use crate::sql::Dialect;

/// The `NULLS FIRST`/`NULLS LAST` placement to write for `o`, or `None` when the dialect's own order
/// already puts NULLs where the ORM promises (or the expression is never NULL, so that an index
/// on a NOT NULL column keeps serving the sort). MySQL's missing `NULLS` clause is emulated by
/// sea-query with an `expr IS NULL` sort key.
pub(crate) fn placement(q: &SelectQuery, o: &OrderBy, dialect: Dialect) -> Option<Nulls> {
    let wanted = o.effective_nulls();
    // PostgreSQL sorts NULL as the largest value; the others as the smallest.
    let native = match (dialect.capabilities().nulls_sort_largest, o.direction) {
        (true, Direction::Asc) | (false, Direction::Desc) => Nulls::Last,
        (true, Direction::Desc) | (false, Direction::Asc) => Nulls::First,
    };
    if wanted == native || !may_be_null(q, &o.expr) {
        return None;
    }
    Some(wanted)
}

/// Whether `expr` can be NULL in the rows of `q`.
fn may_be_null(q: &SelectQuery, expr: &SelectExpr) -> bool {
    let column = match expr {
        SelectExpr::Column(c) | SelectExpr::Fold { column: c, .. } => c,
        SelectExpr::Extract { column: c, .. } => c,
        SelectExpr::Aggregate { function, .. } if function.is_count() => return false,
        // Over no row (no grouping) every other aggregate is NULL.
        SelectExpr::Aggregate { .. } => return true,
        SelectExpr::AggregateOf { function, .. } => return !function.is_count(),
        SelectExpr::Value(value) => return value.is_null(),
        // A zero divisor gives NULL.
        SelectExpr::Arith {
            op: ArithOp::Div, ..
        } => return true,
        SelectExpr::Arith { left, right, .. } => {
            return may_be_null(q, left) || may_be_null(q, right);
        }
        SelectExpr::Coalesce(items) => return items.iter().all(|e| may_be_null(q, e)),
        SelectExpr::Case {
            branches,
            otherwise,
        } => {
            return may_be_null(q, otherwise) || branches.iter().any(|(_, e)| may_be_null(q, e));
        }
        SelectExpr::Cast { expr, .. } => return may_be_null(q, expr),
        // Ranks and counts are never NULL; `lag`/`lead` are at a partition's edge.
        SelectExpr::Window(w) => {
            return match &w.function {
                WindowFn::RowNumber | WindowFn::Rank | WindowFn::DenseRank => false,
                WindowFn::Aggregate { function, .. } => !function.is_count(),
                WindowFn::Lag { .. } | WindowFn::Lead { .. } => true,
            };
        }
    };
    let Some(position) = q.sources().position(|(name, _)| name == column.table) else {
        return true;
    };
    let (_, schema) = q.sources().nth(position).expect("a source at its position");
    schema.column(column.name).is_none_or(|c| c.nullable) || outer_side(q, position)
}

/// Whether an outer join can fill the source at `position` (0: the model, then each join)
/// with NULLs: its own left join, or a right join after it.
fn outer_side(q: &SelectQuery, position: usize) -> bool {
    let own_left = position > 0 && q.joins[position - 1].kind == JoinKind::Left;
    own_left
        || q.joins[position..]
            .iter()
            .any(|j| j.kind == JoinKind::Right)
}
