//! `JOIN other [AS alias] ON other.column = model.column`.

use sea_query::{ExprTrait, JoinType, SelectStatement};

use super::Scope;
use crate::query::ir::{JoinClause, JoinKind};

/// Writes the join of a select; a self-join names the joined copy of the table by its alias.
pub(super) fn render(select: &mut SelectStatement, join: &JoinClause, scope: &Scope) {
    let kind = match join.kind {
        JoinKind::Inner => JoinType::InnerJoin,
        JoinKind::Left => JoinType::LeftJoin,
    };
    let on = scope
        .col(&join.joined_column)
        .eq(scope.col(&join.model_column));
    match join.alias {
        Some(alias) => select.join_as(kind, join.schema.table, alias, on),
        None => select.join(kind, join.schema.table, on),
    };
}
