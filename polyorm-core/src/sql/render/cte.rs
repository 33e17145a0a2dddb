//! `WITH name (c0, c1, ..) AS (<select>), ..`: the common tables a select reads, each
//! rendered as a select of its own (after those it reads), its columns named by position.

use sea_query::{CommonTableExpression, WithClause};

use super::{Scope, derived, select};
use crate::error::Error;
use crate::query::ir::{CommonTable, Projection};

/// The `WITH` clause naming `tables`, in order.
pub(super) fn clause(tables: &[CommonTable], scope: &Scope) -> Result<WithClause, Error> {
    let mut clause = WithClause::new();
    for table in tables {
        let Projection::Exprs(aggregation) = &table.query.projection else {
            return Err(Error::InvalidQuery(format!(
                "the common table `{}` selects whole rows of `{}`; name a select of chosen \
                 columns (`select((..)).cte(..)`)",
                table.name, table.query.schema.table
            )));
        };
        let columns = (0..aggregation.exprs.len())
            .map(derived::column_name)
            .collect::<Result<Vec<_>, _>>()?;
        let body = select::statement(&table.query, &Scope::top(scope.dialect), None)?;
        let mut cte = CommonTableExpression::new();
        cte.query(body).columns(columns).table_name(table.name);
        clause.cte(cte);
    }
    Ok(clause)
}
