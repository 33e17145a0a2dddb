//! Keyset pagination: `User::query().order_by(User::AGE.asc()).order_by(User::ID.asc())
//! .after(&last).limit(20)` reads the 20 rows that follow `last` in that order, at the cost of
//! an index range scan however deep the page (an `OFFSET` reads and drops every earlier row).
//!
//! The rows after `last` for an order `(c1, .., cn)` are those where, for some `i`, the columns
//! before `ci` equal `last`'s and `ci` is past `last`'s (`>` ascending, `<` descending): one
//! condition that every backend (MongoDB included) runs as a filter. For the pages to neither
//! skip nor repeat a row, the order must be total: it includes every primary-key column, and
//! its columns are NOT NULL (NULL compares as neither before nor after).

use std::borrow::Cow;

use super::ir::{CmpOp, Condition, Direction, Projection, SelectExpr, SelectQuery};
use crate::error::{Error, Result};

/// `q` with its `after` row turned into a filter (borrowed as it is when it has none).
pub fn with_keyset(q: &SelectQuery) -> Result<Cow<'_, SelectQuery>> {
    let Some(after) = &q.after else {
        return Ok(Cow::Borrowed(q));
    };
    let condition = condition(q, after)?;
    let mut q = q.clone();
    q.after = None;
    q.filter = Some(Condition::and_opt(q.filter.take(), condition));
    Ok(Cow::Owned(q))
}

/// The rows after `after` in `q`'s order.
fn condition(q: &SelectQuery, after: &[crate::value::Value]) -> Result<Condition> {
    let table = q.schema.table;
    let refuse = |why: String| Err(Error::InvalidQuery(format!("`after` on `{table}`: {why}")));
    if !q.joins.is_empty() || matches!(q.projection, Projection::Exprs(_)) {
        return refuse(
            "keyset pagination applies to rows of one model, not to a join or a projection \
             yet; page the model's rows, or use `offset`"
                .to_owned(),
        );
    }
    let mut terms = Vec::with_capacity(q.order.len());
    for o in &q.order {
        let SelectExpr::Column(column) = o.expr else {
            return refuse(format!("order by columns only, not {:?}", o.expr));
        };
        let Some((index, schema)) = q
            .schema
            .columns
            .iter()
            .enumerate()
            .find(|(_, c)| c.name == column.name && column.table == table)
        else {
            return refuse(format!(
                "`{}.{}` is not a column of the model",
                column.table, column.name
            ));
        };
        if schema.nullable {
            return refuse(format!(
                "`{}` is nullable, and a NULL is neither before nor after a value; order by NOT \
                 NULL columns",
                schema.name
            ));
        }
        let op = match o.direction {
            Direction::Asc => CmpOp::Gt,
            Direction::Desc => CmpOp::Lt,
        };
        terms.push((column, op, after[index].clone()));
    }
    let keyed = q
        .schema
        .primary_key_columns()
        .all(|k| terms.iter().any(|(c, ..)| c.name == k.name));
    if !keyed {
        return refuse(
            "the order must include every primary-key column (add `.order_by(<key>.asc())` \
             last) so that pages neither skip nor repeat rows"
                .to_owned(),
        );
    }
    let branches = (0..terms.len()).map(|i| {
        let equal = terms[..i]
            .iter()
            .map(|(column, _, value)| Condition::Compare {
                column: *column,
                op: CmpOp::Eq,
                value: value.clone(),
            });
        let (column, op, value) = &terms[i];
        let past = Condition::Compare {
            column: *column,
            op: *op,
            value: value.clone(),
        };
        Condition::and_all(equal.chain([past]))
    });
    Ok(Condition::Or(branches.collect()))
}
