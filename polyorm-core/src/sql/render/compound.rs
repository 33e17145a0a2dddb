//! `<select> UNION | UNION ALL | INTERSECT | EXCEPT <select>`: each member is a select of its
//! own, checked, lowered and rendered as one (sea-query writes SQLite's members without the
//! parentheses SQLite refuses).

use sea_query::{SelectStatement, UnionType};

use super::{Scope, select};
use crate::error::Error;
use crate::query::ir::{Compound, SetOp};

/// Appends `member` to the compound `select`.
pub(super) fn render(
    select: &mut SelectStatement,
    member: &Compound,
    scope: &Scope,
) -> Result<(), Error> {
    let kind = match member.op {
        SetOp::Union => UnionType::Distinct,
        SetOp::UnionAll => UnionType::All,
        SetOp::Intersect => UnionType::Intersect,
        SetOp::Except => UnionType::Except,
    };
    let rendered = select::statement(&member.query, scope, None)?;
    select.union(kind, rendered);
    Ok(())
}
