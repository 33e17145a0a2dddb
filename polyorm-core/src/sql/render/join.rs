//! `<kind> JOIN other [AS alias] [ON other.column = earlier.column]`, once per join.

use sea_query::{Expr, ExprTrait, JoinType, SelectStatement};

use super::Scope;
use crate::query::ir::{JoinClause, JoinKind};

/// Writes one join of a select; a table already in the query is named by its alias.
pub(super) fn render(select: &mut SelectStatement, join: &JoinClause, scope: &Scope) {
    let kind = match join.kind {
        JoinKind::Inner => JoinType::InnerJoin,
        JoinKind::Left => JoinType::LeftJoin,
        JoinKind::Right => JoinType::RightJoin,
        JoinKind::Cross => JoinType::CrossJoin,
    };
    // sea-query leaves the condition of a cross join out.
    let on = match &join.on {
        Some(on) => scope.col(&on.joined).eq(scope.col(&on.other)),
        None => Expr::cust("1 = 1"),
    };
    match (join.alias, join.kind) {
        (Some(alias), _) => select.join_as(kind, join.schema.table, alias, on),
        (None, JoinKind::Cross) => select.cross_join(join.schema.table),
        (None, _) => select.join(kind, join.schema.table, on),
    };
}
