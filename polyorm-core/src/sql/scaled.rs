//! Exact decimals on SQLite, which has no decimal type: a decimal column declared with
//! `precision = P, scale = S` and `P <= 18` is stored as the INTEGER `value × 10^S`.
//!
//! Integers order, compare and sum exactly, so `order_by`, `lt`/`between` and aggregates mean
//! what they mean on PostgreSQL and MySQL. Values bound against such a column are scaled here,
//! before binding; the column is read back as the exact decimal text (`-12.50`) that the
//! `Decimal` decoder parses. A decimal without precision, or with `P > 18` (beyond `i64`),
//! stays text: it round-trips exactly, but SQLite would order and compare it as text, so
//! ordering by it or comparing it with `<`/`>`/`between` is refused on SQLite.

use sea_query::Expr;

use crate::query::ir::{AggregateFn, ArithOp, ColumnRef, SelectExpr, ValueKind};
use crate::schema::{ColumnSchema, ColumnType};

/// The largest precision whose scaled integers fit an `i64` (10^18 - 1 < 2^63).
pub const MAX_SCALED_PRECISION: u32 = 18;

/// The scale of a decimal column that SQLite stores as a scaled integer, from its type and
/// `(precision, scale)`.
pub fn scaled_storage(ty: ColumnType, precision: Option<(u32, u32)>) -> Option<u32> {
    match (ty, precision) {
        (ColumnType::Decimal, Some((p, s))) if p <= MAX_SCALED_PRECISION => Some(s),
        _ => None,
    }
}

/// [`scaled_storage`] of a model column.
pub(crate) fn scale_of(column: &ColumnSchema) -> Option<u32> {
    scaled_storage(column.ty, column.precision)
}

/// Whether SQLite keeps `column` as decimal text (no numeric order).
pub(crate) fn is_text_decimal(column: &ColumnSchema) -> bool {
    column.ty == ColumnType::Decimal && scale_of(column).is_none()
}

/// The SQLite expression reading scaled column `x` back as exact decimal text (`NULL` stays
/// `NULL`; `printf` would print it as 0).
pub(crate) fn read_back(x: Expr, scale: u32) -> Expr {
    if scale == 0 {
        return Expr::cust_with_expr("CAST(? AS TEXT)", x);
    }
    let unit = 10_i64.pow(scale);
    let template = format!(
        "CASE WHEN ? IS NULL THEN NULL ELSE printf('%s%d.%0{scale}d', \
         CASE WHEN ? < 0 THEN '-' ELSE '' END, abs(?) / {unit}, abs(?) % {unit}) END"
    );
    Expr::cust_with_exprs(template, std::iter::repeat_n(x, 4))
}

/// The scale at which SQLite holds the decimal value of `expr` as a scaled integer, or `None`
/// when it is not a decimal of that kind. `column` finds a column's schema. A decimal value
/// keeps its own scale; `+`/`-` are computed at the larger scale of their operands, `*` at the
/// sum; `COALESCE` and `CASE` at the largest scale of their results; `SUM`, `MIN`, `MAX` and
/// `AVG` at their column's.
pub(crate) fn expr_scale<'s>(
    expr: &SelectExpr,
    column: &dyn Fn(&ColumnRef) -> Option<&'s ColumnSchema>,
) -> Option<u32> {
    let of_column = |c: &ColumnRef| column(c).and_then(scale_of);
    match expr {
        SelectExpr::Column(c) => of_column(c),
        SelectExpr::Aggregate {
            function: AggregateFn::Sum | AggregateFn::Min | AggregateFn::Max | AggregateFn::Avg,
            column: Some(c),
            ..
        } => of_column(c),
        SelectExpr::AggregateOf {
            function: AggregateFn::Sum | AggregateFn::Min | AggregateFn::Max,
            arg,
            ..
        } => expr_scale(arg, column),
        #[cfg(feature = "decimal")]
        SelectExpr::Value(crate::value::Value::Decimal(d)) => Some(d.scale()),
        SelectExpr::Arith {
            op,
            left,
            right,
            kind: ValueKind::Decimal,
        } => {
            let left = expr_scale(left, column).unwrap_or(0);
            let right = expr_scale(right, column).unwrap_or(0);
            Some(match op {
                ArithOp::Mul => left + right,
                _ => left.max(right),
            })
        }
        SelectExpr::Coalesce(items) => items.iter().filter_map(|e| expr_scale(e, column)).max(),
        SelectExpr::Case {
            branches,
            otherwise,
        } => branches
            .iter()
            .map(|(_, e)| e)
            .chain(std::iter::once(&**otherwise))
            .filter_map(|e| expr_scale(e, column))
            .max(),
        _ => None,
    }
}

#[cfg(feature = "decimal")]
pub(crate) use rewrite::{scale, scale_select, scale_values};

#[cfg(feature = "decimal")]
mod rewrite {
    use rust_decimal::Decimal;

    use super::scale_of;
    use crate::error::Error;
    use crate::query::ir::{Assignment, ColumnRef, Condition, Projection, SelectQuery, Statement};
    use crate::schema::{ColumnSchema, ModelSchema};
    use crate::value::Value;

    /// `statement` with every decimal bound against a scaled column replaced by its scaled
    /// integer, or `None` when nothing changes (no scaled column: the common case, no copy).
    pub(crate) fn scale_values(statement: &Statement) -> Result<Option<Statement>, Error> {
        let schemas: Vec<&'static ModelSchema> = match statement {
            Statement::Select(q) => return Ok(scale_select(q)?.map(Statement::Select)),
            Statement::Insert(q) => vec![q.schema],
            Statement::Upsert(q) => vec![q.insert.schema],
            Statement::Update(q) => vec![q.schema],
            Statement::Delete(q) => vec![q.schema],
        };
        if !has_scaled(&schemas) {
            return Ok(None);
        }
        let scope = Scope(schemas.iter().map(|s| (s.table, *s)).collect());
        let mut statement = statement.clone();
        match &mut statement {
            Statement::Select(_) => unreachable!("selects returned above"),
            Statement::Insert(q) => rows(q.schema, &mut q.rows)?,
            Statement::Upsert(q) => rows(q.insert.schema, &mut q.insert.rows)?,
            Statement::Update(q) => {
                for (name, assignment) in &mut q.assignments {
                    if let (Assignment::Value(value), Some(column)) =
                        (assignment, q.schema.column(name))
                    {
                        scale(column, value)?;
                    }
                }
                condition(&scope, q.filter.as_mut())?;
            }
            Statement::Delete(q) => condition(&scope, q.filter.as_mut())?,
        }
        Ok(Some(statement))
    }

    /// The tables a statement reads, each with the name its columns are qualified with (a
    /// self-join's alias), to find a column by reference.
    struct Scope(Vec<(&'static str, &'static ModelSchema)>);

    impl Scope {
        fn column(&self, c: &ColumnRef) -> Option<&'static ColumnSchema> {
            self.0
                .iter()
                .find(|(name, _)| *name == c.table)
                .and_then(|(_, s)| s.column(c.name))
        }
    }

    /// [`scale_values`] of a select.
    pub(crate) fn scale_select(q: &SelectQuery) -> Result<Option<SelectQuery>, Error> {
        let schemas: Vec<_> = q.sources().map(|(_, schema)| schema).collect();
        if !has_scaled(&schemas) {
            return Ok(None);
        }
        let scope = Scope(q.sources().collect());
        let mut q = q.clone();
        condition(&scope, q.filter.as_mut())?;
        if let Projection::Exprs(aggregation) = &mut q.projection {
            condition(&scope, aggregation.having.as_mut())?;
        }
        Ok(Some(q))
    }

    fn has_scaled(schemas: &[&'static ModelSchema]) -> bool {
        schemas
            .iter()
            .any(|s| s.columns.iter().any(|c| scale_of(c).is_some()))
    }

    fn rows(schema: &ModelSchema, rows: &mut [Vec<Value>]) -> Result<(), Error> {
        let columns: Vec<&ColumnSchema> = schema.insert_columns().collect();
        for row in rows {
            for (column, value) in columns.iter().zip(row.iter_mut()) {
                scale(column, value)?;
            }
        }
        Ok(())
    }

    fn condition(scope: &Scope, c: Option<&mut Condition>) -> Result<(), Error> {
        let Some(c) = c else { return Ok(()) };
        let column = |c: &ColumnRef| scope.column(c);
        match c {
            Condition::Compare {
                column: c, value, ..
            } => {
                if let Some(col) = column(c) {
                    scale(col, value)?;
                }
            }
            Condition::Between {
                column: c,
                low,
                high,
            } => {
                if let Some(col) = column(c) {
                    scale(col, low)?;
                    scale(col, high)?;
                }
            }
            Condition::InList {
                column: c, values, ..
            } => {
                if let Some(col) = column(c) {
                    values.iter_mut().try_for_each(|v| scale(col, v))?;
                }
            }
            // MIN/MAX/SUM/AVG of a scaled column, and arithmetic over one, are scaled
            // integers too.
            Condition::CompareExpr { expr, value, .. } => {
                if let Some(to) = super::expr_scale(expr, &column) {
                    let what = expr.construct().unwrap_or("the compared aggregate");
                    scale_to(to, value, what)?;
                }
            }
            Condition::And(items) | Condition::Or(items) => {
                for item in items {
                    condition(scope, Some(item))?;
                }
            }
            Condition::Not(inner) => condition(scope, Some(inner))?,
            _ => {}
        }
        Ok(())
    }

    /// Replaces a decimal compared with a scaled expression (`what`) by `value × 10^scale`.
    pub(crate) fn scale_to(scale: u32, value: &mut Value, what: &str) -> Result<(), Error> {
        let Value::Decimal(d) = &*value else {
            return Ok(());
        };
        if d.normalize().scale() > scale {
            return Err(Error::InvalidQuery(format!(
                "{d} has more than {scale} decimal places, the scale of {what} on SQLite; \
                 round it first (`round_dp({scale})`)"
            )));
        }
        let mut scaled: Decimal = *d;
        scaled.rescale(scale);
        let mantissa = i64::try_from(scaled.mantissa()).map_err(|_| Error::OutOfRange {
            column: None,
            source: format!("{d} at scale {scale} does not fit a 64-bit integer").into(),
        })?;
        *value = Value::BigInt(mantissa);
        Ok(())
    }

    /// Replaces a decimal bound against scaled `column` by `value × 10^scale`.
    pub(crate) fn scale(column: &ColumnSchema, value: &mut Value) -> Result<(), Error> {
        let (Some(scale), Value::Decimal(d)) = (scale_of(column), &*value) else {
            return Ok(());
        };
        let mut scaled: Decimal = *d;
        if d.normalize().scale() > scale {
            return Err(Error::InvalidQuery(format!(
                "{d} has more than {scale} decimal places, the scale of `{}`; round it first \
                 (`round_dp({scale})`)",
                column.name
            )));
        }
        scaled.rescale(scale);
        let mantissa = i64::try_from(scaled.mantissa()).map_err(|_| Error::OutOfRange {
            column: Some(column.name.to_owned()),
            source: format!("{d} does not fit the column's precision").into(),
        })?;
        *value = Value::BigInt(mantissa);
        Ok(())
    }
}
