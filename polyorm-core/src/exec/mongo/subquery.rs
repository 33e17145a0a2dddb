//! Subqueries on MongoDB. A find cannot nest a query over another collection, so each
//! subquery runs first (innermost first) and the values it read replace it as an `IN` list:
//!
//! - `column IN (subquery)` becomes `column IN (values)`, with the NULL rules of
//!   [`Condition::InList`] (which follow SQL's);
//! - `EXISTS (related rows)` becomes `outer IS NOT NULL AND outer IN (non-NULL inner values)`,
//!   which is TRUE or FALSE — never UNKNOWN — exactly where `EXISTS` is, so `NOT` keeps its
//!   SQL meaning too.
//!
//! The subquery and the outer query are two reads: they see one snapshot only inside a
//! transaction (as on a SQL database at READ COMMITTED, where each statement sees its own).

use std::future::Future;
use std::pin::Pin;

use bson::{Bson, RawDocumentBuf};

use super::{DocumentRow, Target, fetch, run_find};
use crate::error::{Error, Result};
use crate::exec::RowRef;
use crate::mongo::find_plan;
use crate::query::ir::{
    AggregateFn, ColumnRef, Condition, Projection, SelectExpr, SelectQuery, Statement,
};
use crate::schema::{ColumnType, ModelSchema};
use crate::value::Value;

type Resolving<'a> = Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>>;

/// Replaces every subquery of `statement`'s conditions by the values it reads.
pub(crate) async fn resolve_statement(
    target: &mut Target<'_>,
    statement: &mut Statement,
) -> Result<()> {
    match statement {
        Statement::Select(q) => resolve_select(target, q).await,
        Statement::Update(q) => resolve_option(target, &mut q.filter).await,
        Statement::Delete(q) => resolve_option(target, &mut q.filter).await,
        Statement::Insert(_) | Statement::Upsert(_) => Ok(()),
    }
}

/// Replaces every subquery of a select's filter and `having` by the values it reads.
pub(crate) async fn resolve_select(target: &mut Target<'_>, query: &mut SelectQuery) -> Result<()> {
    resolve_option(target, &mut query.filter).await?;
    if let Projection::Exprs(aggregation) = &mut query.projection {
        resolve_option(target, &mut aggregation.having).await?;
    }
    Ok(())
}

async fn resolve_option(target: &mut Target<'_>, condition: &mut Option<Condition>) -> Result<()> {
    match condition {
        Some(c) if has_subquery(c) => resolve(target, c).await,
        _ => Ok(()),
    }
}

fn has_subquery(condition: &Condition) -> bool {
    let mut found = false;
    condition.visit_subqueries(&mut |_| found = true);
    found
}

fn resolve<'a>(target: &'a mut Target<'_>, condition: &'a mut Condition) -> Resolving<'a> {
    Box::pin(async move {
        match condition {
            Condition::InSubquery {
                column,
                subquery,
                negated,
            } => {
                let (values, ty) = selected_values(target, subquery).await?;
                *condition = Condition::InList {
                    column: *column,
                    values: values
                        .into_iter()
                        .map(|b| to_value(b, ty))
                        .collect::<Result<_>>()?,
                    negated: *negated,
                };
            }
            Condition::Exists {
                subquery,
                inner,
                outer,
            } => {
                let inner = *inner;
                let outer = *outer;
                let mut values = column_values(target, subquery, &inner).await?;
                values.retain(|b| !matches!(b, Bson::Null));
                let ty = column_type(subquery.schema, &inner);
                let values = values
                    .into_iter()
                    .map(|b| to_value(b, ty))
                    .collect::<Result<_>>()?;
                *condition = Condition::And(vec![
                    Condition::IsNull {
                        column: outer,
                        negated: true,
                    },
                    Condition::InList {
                        column: outer,
                        values,
                        negated: false,
                    },
                ]);
            }
            Condition::And(items) | Condition::Or(items) => {
                for item in items {
                    resolve(target, item).await?;
                }
            }
            Condition::Not(inner) => resolve(target, inner).await?,
            _ => {}
        }
        Ok(())
    })
}

/// The values an `IN` subquery selects, and the column type of a NULL among them. One plain
/// column reads through a `find`; an aggregate, `group_by`/`having` or `distinct` runs as the
/// same pipeline a select of it would (see [`crate::mongo::aggregate_plan`]).
async fn selected_values(
    target: &mut Target<'_>,
    subquery: &mut SelectQuery,
) -> Result<(Vec<Bson>, ColumnType)> {
    let Projection::Exprs(aggregation) = &subquery.projection else {
        return Err(not_one_value(subquery));
    };
    let [expr] = aggregation.exprs.as_slice() else {
        return Err(not_one_value(subquery));
    };
    // Only a NULL's type depends on it: `IN` never matches a NULL.
    let ty = match expr {
        SelectExpr::Aggregate {
            function: AggregateFn::Count,
            ..
        } => ColumnType::BigInt,
        SelectExpr::Aggregate {
            function: AggregateFn::Avg,
            ..
        } => ColumnType::Double,
        SelectExpr::Column(c)
        | SelectExpr::Aggregate {
            column: Some(c), ..
        } => column_type(subquery.schema, c),
        _ => ColumnType::BigInt,
    };
    if let SelectExpr::Column(column) = *expr
        && aggregation.group_by.is_empty()
        && aggregation.having.is_none()
        && !aggregation.distinct
    {
        return Ok((column_values(target, subquery, &column).await?, ty));
    }
    resolve_select(target, subquery).await?;
    let values = fetch(target.reborrow(), subquery.clone(), first_output, false).await?;
    Ok((values, ty))
}

fn not_one_value(subquery: &SelectQuery) -> Error {
    Error::InvalidQuery(format!(
        "an `in_subquery` subquery over `{}` must select exactly one value; select one column \
         or aggregate",
        subquery.schema.table
    ))
}

/// The first selected value of a pipeline's output document (`null` when missing).
fn first_output(row: &RowRef<'_>) -> Result<Bson> {
    let RowRef::Document(doc) = row else {
        unreachable!("MongoDB pipelines decode documents")
    };
    doc.value(0)?.map_or(Ok(Bson::Null), |raw| {
        Bson::try_from(raw).map_err(|e| Error::InvalidQuery(format!("a subquery value: {e}")))
    })
}

fn column_type(schema: &ModelSchema, column: &ColumnRef) -> ColumnType {
    schema
        .column(column.name)
        .map_or(ColumnType::Text, |c| c.ty)
}

/// The values of `column` in the rows `subquery` matches (its order, skip and limit apply);
/// missing fields read as `null`.
async fn column_values(
    target: &mut Target<'_>,
    subquery: &mut SelectQuery,
    column: &ColumnRef,
) -> Result<Vec<Bson>> {
    resolve_select(target, subquery).await?;
    let schema = subquery.schema;
    let index = schema
        .columns
        .iter()
        .position(|c| c.name == column.name && column.table == schema.table)
        .ok_or_else(|| {
            Error::InvalidQuery(format!(
                "subquery over `{}` selects `{}.{}`, which is not one of its columns",
                schema.table, column.table, column.name
            ))
        })?;
    let mut rows = subquery.clone();
    rows.projection = Projection::Model;
    let plan = find_plan(&rows)?;
    let docs = run_find(target.reborrow(), schema, plan, whole_document).await?;
    docs.iter()
        .map(|doc| {
            let value = DocumentRow::new(doc, schema).value(index)?;
            value.map_or(Ok(Bson::Null), Bson::try_from).map_err(|e| {
                Error::InvalidQuery(format!("`{}.{}`: {e}", schema.table, column.name))
            })
        })
        .collect()
}

fn whole_document(row: &RowRef<'_>) -> Result<RawDocumentBuf> {
    match row {
        RowRef::Document(d) => Ok(d.raw().to_owned()),
        _ => unreachable!("MongoDB finds decode documents"),
    }
}

/// A value whose BSON form ([`crate::mongo::to_bson`]) is `bson`, so that it matches the
/// stored field exactly.
fn to_value(bson: Bson, ty: ColumnType) -> Result<Value> {
    Ok(match bson {
        Bson::Null => Value::Null(ty),
        Bson::Boolean(b) => Value::Bool(b),
        Bson::Int32(i) => Value::Int(i),
        Bson::Int64(i) => Value::BigInt(i),
        Bson::Double(f) => Value::Double(f),
        Bson::String(s) => Value::Text(s),
        Bson::ObjectId(o) => Value::ObjectId(o),
        Bson::Binary(b) if b.subtype == bson::spec::BinarySubtype::Generic => Value::Bytes(b.bytes),
        #[cfg(feature = "uuid")]
        Bson::Binary(b) if b.subtype == bson::spec::BinarySubtype::Uuid => {
            uuid::Uuid::from_slice(&b.bytes).map_or_else(|_| Value::Bytes(b.bytes), Value::Uuid)
        }
        #[cfg(feature = "chrono")]
        Bson::DateTime(d) => match chrono::DateTime::from_timestamp_millis(d.timestamp_millis()) {
            Some(d) => Value::ChronoDateTimeUtc(d),
            None => unsupported(&Bson::DateTime(d))?,
        },
        #[cfg(all(feature = "time", not(feature = "chrono")))]
        Bson::DateTime(d) => {
            let nanos = i128::from(d.timestamp_millis()) * 1_000_000;
            match time::OffsetDateTime::from_unix_timestamp_nanos(nanos) {
                Ok(d) => Value::TimeOffsetDateTime(d),
                Err(_) => unsupported(&Bson::DateTime(d))?,
            }
        }
        #[cfg(feature = "decimal")]
        Bson::Decimal128(d) => match d.to_string().parse::<rust_decimal::Decimal>() {
            Ok(d) => Value::Decimal(d),
            Err(_) => unsupported(&Bson::Decimal128(d))?,
        },
        #[cfg(not(feature = "decimal"))]
        Bson::Decimal128(d) => match d.to_string().parse::<u64>() {
            Ok(u) => Value::BigUnsigned(u),
            Err(_) => unsupported(&Bson::Decimal128(d))?,
        },
        other => unsupported(&other)?,
    })
}

fn unsupported(bson: &Bson) -> Result<Value> {
    Err(Error::InvalidQuery(format!(
        "a subquery read a {:?} value, which an `IN` list cannot compare on MongoDB; select a \
         scalar column (for dates, decimals and UUIDs enable the `chrono`/`time`, `decimal` or \
         `uuid` feature)",
        bson.element_type()
    )))
}
