//! [`SelectQuery`] → `find` (rows, exists) and `count_documents` arguments.

use bson::Document;

use super::aggregate::{AggregatePlan, aggregate_plan};
use super::fields::{ID_FIELD, check_schema, path_of, resolve};
use super::filter::{filter_document, match_nothing};
use super::join::join_pipeline;
use crate::error::{Error, Result};
use crate::query::ir::{
    ColumnRef, Direction, Nulls, OrderBy, Projection, RowLock, SelectExpr, SelectQuery,
};
use crate::schema::ModelSchema;

/// The arguments of a `find`: filter, sort, skip, limit and projection.
#[derive(Debug, Clone, PartialEq)]
pub struct FindPlan {
    /// The filter document.
    pub filter: Document,
    /// The sort document (`{field: 1 | -1, ..}`), `None` without `order_by`.
    pub sort: Option<Document>,
    /// Documents to skip (`offset`).
    pub skip: Option<u64>,
    /// Maximum number of documents, always positive (a limit of 0 is compiled into the filter,
    /// since MongoDB reads 0 as "no limit").
    pub limit: Option<i64>,
    /// The projection: every column of the model by field name (`_id` once for the key).
    pub projection: Document,
}

/// The arguments of a `count_documents`: the count respects `offset` and `limit`, as in SQL.
#[derive(Debug, Clone, PartialEq)]
pub struct CountPlan {
    /// The filter document.
    pub filter: Document,
    /// Documents to skip before counting (`offset`).
    pub skip: Option<u64>,
    /// Maximum count (`limit`), always positive.
    pub limit: Option<u64>,
}

/// A select compiled for MongoDB, by what it returns.
#[derive(Debug, Clone, PartialEq)]
pub enum SelectPlan {
    /// [`Projection::Model`]: a `find` whose documents decode into the model.
    Find(FindPlan),
    /// [`Projection::Count`]: a `count_documents`.
    Count(CountPlan),
    /// [`Projection::Exists`]: a `find` of at most one `_id`; a row means "exists".
    Exists(FindPlan),
    /// A join returning pairs, or whether one exists: an `aggregate` pipeline over the
    /// model's collection (see [`join_pipeline`]) whose documents embed the joined one.
    Join(Vec<Document>),
    /// The number of pairs of a join: the pipeline ends with `{$group: {_id: null, n}}`.
    JoinCount(Vec<Document>),
    /// [`Projection::Exprs`]: an `aggregate` pipeline whose documents hold the selected
    /// values (see [`aggregate_plan`]).
    Aggregate(AggregatePlan),
}

/// Compiles a select by its [`Projection`].
pub fn select_plan(q: &SelectQuery) -> Result<SelectPlan> {
    // Keyset pagination is a filter (and refused where it does not apply).
    let q = &*crate::query::keyset::with_keyset(q)?;
    if !q.with.is_empty() {
        return Err(crate::Error::Unsupported {
            backend: "MongoDB",
            construct: "a common table expression (`cte()`)",
            table: q.schema.table,
            advice: "run the common table's select first and filter with its values \
                     (`in_list`), or run this query on a SQL backend",
        });
    }
    super::refuse_nesting(q)?;
    if q.walk.is_some() {
        return Err(crate::Error::Unsupported {
            backend: "MongoDB",
            construct: "`with_recursive`",
            table: q.schema.table,
            advice: "load the levels with repeated `in_list` queries, or run this query on a \
                     SQL backend",
        });
    }
    if let Some(member) = q.compound.first() {
        return Err(crate::Error::Unsupported {
            backend: "MongoDB",
            construct: match member.op {
                crate::query::ir::SetOp::Union => "`union`",
                crate::query::ir::SetOp::UnionAll => "`union_all`",
                crate::query::ir::SetOp::Intersect => "`intersect`",
                crate::query::ir::SetOp::Except => "`except`",
            },
            table: q.schema.table,
            advice: "run each select and combine the rows in Rust, or run this query on a SQL \
                     backend",
        });
    }
    if q.outer.is_some() {
        return Err(crate::Error::Unsupported {
            backend: "MongoDB",
            construct: "a derived table (`derived()`)",
            table: q.schema.table,
            advice: "filter the selected rows in Rust, or run this query on a SQL backend",
        });
    }
    if matches!(q.lock, Some(RowLock::SkipLocked | RowLock::NoWait)) {
        return Err(crate::Error::InvalidQuery(
            "MongoDB has no row locks: `skip_locked()`/`no_wait()` cannot be honoured \
             (`for_update()` is accepted: conflicting writes in transactions abort)"
                .to_owned(),
        ));
    }
    if let Some(join) = super::join::single_join(q)? {
        let mut pipeline = join_pipeline(q, join)?;
        return Ok(match &q.projection {
            Projection::Model => SelectPlan::Join(pipeline),
            Projection::Exists => {
                pipeline.push(bson::doc! { "$limit": 1 });
                SelectPlan::Join(pipeline)
            }
            Projection::Count => {
                pipeline.push(
                    bson::doc! { "$group": { ID_FIELD: bson::Bson::Null, "n": { "$sum": 1 } } },
                );
                SelectPlan::JoinCount(pipeline)
            }
            Projection::Exprs(_) => {
                return Err(crate::Error::InvalidQuery(format!(
                    "a projection of a join of `{}` cannot be compiled for MongoDB; load the pairs",
                    q.schema.table
                )));
            }
        });
    }
    Ok(match &q.projection {
        Projection::Model => SelectPlan::Find(find_plan(q)?),
        Projection::Count => SelectPlan::Count(count_plan(q)?),
        Projection::Exists => SelectPlan::Exists(exists_plan(q)?),
        Projection::Exprs(aggregation) => SelectPlan::Aggregate(aggregate_plan(q, aggregation)?),
    })
}

/// The `find` returning the rows of `q` (its projection is ignored: every column is read).
pub fn find_plan(q: &SelectQuery) -> Result<FindPlan> {
    let (filter, limit) = paged_filter(q)?;
    Ok(FindPlan {
        filter,
        sort: sort_document(q)?,
        skip: q.offset,
        limit: limit.and_then(|l| i64::try_from(l).ok()),
        projection: model_projection(q.schema)?,
    })
}

/// The `find` telling whether `q` matches any row: at most one document, `_id` only, no sort.
pub fn exists_plan(q: &SelectQuery) -> Result<FindPlan> {
    let (filter, _) = paged_filter(q)?;
    Ok(FindPlan {
        filter,
        sort: None,
        skip: q.offset,
        limit: Some(1),
        projection: bson::doc! { ID_FIELD: 1 },
    })
}

/// The `count_documents` counting the rows of `q` after `offset` and `limit` (the order does
/// not change a count, so no sort).
pub fn count_plan(q: &SelectQuery) -> Result<CountPlan> {
    let (filter, limit) = paged_filter(q)?;
    Ok(CountPlan {
        filter,
        skip: q.offset,
        limit: limit.filter(|&l| i64::try_from(l).is_ok()),
    })
}

/// The filter and the positive limit of `q`: `limit(0)` becomes a filter matching nothing.
fn paged_filter(q: &SelectQuery) -> Result<(Document, Option<u64>)> {
    let q = crate::query::keyset::with_keyset(q)?;
    let filter = filter_document(q.schema, q.filter.as_ref())?;
    Ok(match q.limit {
        Some(0) => (match_nothing(), None),
        limit => (filter, limit),
    })
}

/// The column an `ORDER BY` term sorts by, where MongoDB can sort it: a plain column, with
/// nulls where MongoDB puts them (as the smallest value, the ORM's default). An explicit
/// `nulls_first()`/`nulls_last()` that asks for the opposite, and a computed expression, have
/// no sort spelling and are refused.
pub(crate) fn sort_column<'q>(schema: &ModelSchema, o: &'q OrderBy) -> Result<&'q ColumnRef> {
    let SelectExpr::Column(column) = &o.expr else {
        return Err(Error::InvalidQuery(format!(
            "MongoDB cannot sort `{}` by a computed expression ({:?}) yet; sort by a column, or \
             run this query on a SQL backend",
            schema.table, o.expr
        )));
    };
    let native = match o.direction {
        Direction::Asc => Nulls::First,
        Direction::Desc => Nulls::Last,
    };
    if o.effective_nulls() != native {
        let asked = match native {
            Nulls::First => "nulls_last()",
            Nulls::Last => "nulls_first()",
        };
        return Err(Error::InvalidQuery(format!(
            "MongoDB always sorts null as the smallest value, so `{asked}` on `{}.{}` cannot be \
             honoured; drop it (nulls then come first ascending, last descending) or filter the \
             nulls out",
            column.table, column.name
        )));
    }
    Ok(column)
}

/// `{field: 1 | -1, ..}` in `order_by` order; a column sorted twice keeps its first direction
/// (the second term could never break a tie).
///
/// MongoDB sorts `null` and missing fields as the smallest value, the ORM's default; an
/// explicit `nulls_first()`/`nulls_last()` that asks for the opposite, and sorting by a
/// computed expression, have no `find` sort spelling and are refused.
pub(crate) fn sort_document(q: &SelectQuery) -> Result<Option<Document>> {
    let mut sort = Document::new();
    for o in &q.order {
        let column = sort_column(q.schema, o)?;
        let (_, path) = resolve(q.schema, column)?;
        if !sort.contains_key(&path) {
            let direction = match o.direction {
                Direction::Asc => 1,
                Direction::Desc => -1,
            };
            sort.insert(path, direction);
        }
    }
    Ok((!sort.is_empty()).then_some(sort))
}

/// `{field: 1, ..}` for every column in schema order; the key (single or composite) is `_id`.
fn model_projection(schema: &ModelSchema) -> Result<Document> {
    check_schema(schema)?;
    let mut projection = Document::new();
    for col in schema.columns {
        let field = if col.primary_key {
            ID_FIELD.to_owned()
        } else {
            path_of(schema, col)
        };
        projection.insert(field, 1);
    }
    Ok(projection)
}
