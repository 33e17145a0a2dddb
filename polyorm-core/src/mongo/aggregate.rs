//! [`Projection::Exprs`] (chosen columns, aggregates, `group_by`, `having`, `distinct`) → an
//! `aggregate` pipeline whose documents hold the selected values as `c0`, `c1`, ..
//! ([`OUTPUT_FIELDS`]), decoded by position with the same result types as SQL.
//!
//! | SQL | pipeline |
//! | --- | --- |
//! | `WHERE` | `$match` (first, so indexes apply) |
//! | `GROUP BY a, b` | `$group: {_id: {k0: "$a", k1: "$b"}}`; one column: `_id: "$a"`; none: `_id: null` |
//! | `COUNT(*)` / `COUNT(col)` | `$sum: 1` / `$sum: {$cond: [{$eq: [{$ifNull: ["$col", null]}, null]}, 0, 1]}` (non-null values) |
//! | `SUM(col)` | `$sum: "$col"`, made `null` by the `$project` when the group has no non-null value (MongoDB would say 0) |
//! | `AVG` | `$sum` ÷ the count of non-null values, `null` over none (as SQL) |
//! | `MIN`, `MAX` | `$min`, `$max` (they skip nulls and give `null` over none, as SQL) |
//! | selected values | `$project: {c0: .., c1: ..}` after the `$group` |
//! | `HAVING` | `$match` on the projected fields (aggregates only in `having` get fields `h0`, ..) |
//! | `ORDER BY`, `OFFSET`, `LIMIT` | `$sort` (on grouped columns), `$skip`, `$limit` |
//! | `DISTINCT` | the selected columns join the `$group` key |
//! | plain columns | `$match`, `$sort`, `$skip`, `$limit`, `$project: {_id: 0, c0: "$col", ..}` |
//!
//! `$group` by `null` returns no document over no input, where SQL returns one row (`COUNT`
//! 0, the other aggregates NULL): [`AggregatePlan::empty_row`] is that row, for the executor
//! to return when the pipeline returns nothing.

use bson::{Bson, Document, doc};

use super::fields::resolve;
use super::filter::{Fields, ModelFields, filter_with, match_nothing};
use crate::error::{Error, Result};
use crate::query::ir::{
    AggregateFn, Aggregation, ColumnRef, Condition, Direction, SelectExpr, SelectQuery,
};
use crate::schema::ModelSchema;

/// The field holding the value selected at each position, in a pipeline's output documents.
pub const OUTPUT_FIELDS: [&str; 16] = [
    "c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", "c10", "c11", "c12", "c13", "c14",
    "c15",
];

/// A select of expressions compiled to an `aggregate` pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregatePlan {
    /// The pipeline stages.
    pub pipeline: Vec<Document>,
    /// The one row an aggregation without `group_by` returns when no document matches
    /// (`$group` by `null` then outputs nothing); `None` when the query is grouped, or when its
    /// `offset`/`limit` would leave that row out.
    pub empty_row: Option<Document>,
}

/// Compiles a select whose projection is [`Projection::Exprs`](crate::query::ir::Projection).
pub fn aggregate_plan(q: &SelectQuery, aggregation: &Aggregation) -> Result<AggregatePlan> {
    super::refuse_nesting(q)?;
    crate::sql::grouped_columns(q, aggregation)?;
    let schema = q.schema;
    if aggregation.exprs.len() > OUTPUT_FIELDS.len() {
        return Err(Error::InvalidQuery(format!(
            "a select of `{}` has {} expressions; MongoDB projections here hold at most {}",
            schema.table,
            aggregation.exprs.len(),
            OUTPUT_FIELDS.len()
        )));
    }
    let mut pipeline = Vec::new();
    let filter = filter_with(&ModelFields(schema), q.filter.as_ref())?;
    let filter = if q.limit == Some(0) {
        match_nothing()
    } else {
        filter
    };
    if !filter.is_empty() {
        pipeline.push(doc! { "$match": filter });
    }
    let has_aggregate = aggregation
        .exprs
        .iter()
        .any(|e| matches!(e, SelectExpr::Aggregate { .. }));
    let grouped = has_aggregate || !aggregation.group_by.is_empty() || aggregation.distinct;
    let empty_row = if grouped {
        group_stages(q, aggregation, has_aggregate, &mut pipeline)?
    } else {
        plain_stages(q, aggregation, &mut pipeline)?;
        None
    };
    Ok(AggregatePlan {
        pipeline,
        empty_row,
    })
}

/// Computed expressions (`lower()`, `year()`, ..) have no pipeline translation yet.
fn computed_unsupported(schema: &ModelSchema) -> Error {
    Error::InvalidQuery(format!(
        "MongoDB cannot select computed expressions (`lower()`, `year()`, ..) from `{}` yet; \
         select the column and compute in Rust, or use a SQL backend",
        schema.table
    ))
}

/// Plain columns: sort, page, then project each column onto its output field.
fn plain_stages(
    q: &SelectQuery,
    aggregation: &Aggregation,
    pipeline: &mut Vec<Document>,
) -> Result<()> {
    if let Some(sort) = super::find::sort_document(q)? {
        pipeline.push(doc! { "$sort": sort });
    }
    page(q, pipeline);
    let mut project = doc! { "_id": 0 };
    for (expr, name) in aggregation.exprs.iter().zip(OUTPUT_FIELDS) {
        let SelectExpr::Column(column) = expr else {
            return Err(computed_unsupported(q.schema));
        };
        project.insert(name, format!("${}", resolve(q.schema, column)?.1));
    }
    pipeline.push(doc! { "$project": project });
    Ok(())
}

/// `$skip` and `$limit` of `q` (a limit of 0 is compiled into the first `$match`).
pub(crate) fn page(q: &SelectQuery, pipeline: &mut Vec<Document>) {
    if let Some(skip) = q.offset.filter(|&s| s > 0) {
        pipeline.push(doc! { "$skip": i64::try_from(skip).unwrap_or(i64::MAX) });
    }
    if let Some(limit) = q
        .limit
        .and_then(|l| i64::try_from(l).ok())
        .filter(|&l| l > 0)
    {
        pipeline.push(doc! { "$limit": limit });
    }
}

/// The `$group` stage, the `$project` computing the output fields, `having`, sort and paging.
fn group_stages(
    q: &SelectQuery,
    aggregation: &Aggregation,
    has_aggregate: bool,
    pipeline: &mut Vec<Document>,
) -> Result<Option<Document>> {
    let schema = q.schema;
    let mut keys: Vec<ColumnRef> = Vec::new();
    for expr in &aggregation.group_by {
        let SelectExpr::Column(column) = expr else {
            return Err(Error::InvalidQuery(format!(
                "MongoDB cannot group `{}` by a computed expression ({expr:?}) yet; group by a \
                 column, or use a SQL backend",
                schema.table
            )));
        };
        if !keys.contains(column) {
            keys.push(*column);
        }
    }
    if aggregation.distinct && !has_aggregate {
        for expr in &aggregation.exprs {
            if let SelectExpr::Column(column) = expr
                && !keys.contains(column)
            {
                keys.push(*column);
            }
        }
    }
    if aggregation.distinct && has_aggregate {
        // One row per group already, unless a grouped column is left out of the selection.
        let selected = |c: &ColumnRef| aggregation.exprs.contains(&SelectExpr::Column(*c));
        if !keys.iter().all(selected) {
            return Err(Error::InvalidQuery(format!(
                "`distinct()` over aggregates of `{}` with a `group_by` column that is not selected cannot be compiled for MongoDB; select every grouped column",
                schema.table
            )));
        }
    }
    if keys.is_empty() && aggregation.having.is_some() {
        return Err(Error::InvalidQuery(format!(
            "`having` without `group_by` on `{}` cannot be compiled for MongoDB (over no row SQL still tests one); filter the single result row in Rust",
            schema.table
        )));
    }
    let group = Group::new(schema, keys)?;
    let mut stage = doc! { "_id": group.id() };
    let mut project = Document::new();
    let mut accumulators = Accumulators::default();
    for (expr, name) in aggregation.exprs.iter().zip(OUTPUT_FIELDS) {
        project.insert(name, group.value(expr, &mut accumulators)?);
    }
    // Aggregates compared in `having` but not selected get fields of their own.
    let mut having_fields = Vec::new();
    if let Some(having) = &aggregation.having {
        let mut exprs = Vec::new();
        having_exprs(having, &mut exprs);
        for expr in exprs {
            if !aggregation.exprs.contains(&expr) && !having_fields.contains(&expr) {
                let name = format!("h{}", having_fields.len());
                project.insert(name, group.value(&expr, &mut accumulators)?);
                having_fields.push(expr);
            }
        }
    }
    stage.extend(accumulators.fields);
    pipeline.push(doc! { "$group": stage });
    pipeline.push(doc! { "$project": project });
    if let Some(having) = &aggregation.having {
        let fields = HavingFields {
            group: &group,
            selected: &aggregation.exprs,
            extra: &having_fields,
        };
        let filter = filter_with(&fields, Some(having))?;
        if !filter.is_empty() {
            pipeline.push(doc! { "$match": filter });
        }
    }
    let mut sort = Document::new();
    for o in &q.order {
        let column = super::find::sort_column(schema, o)?;
        let path = group.key_path(column).ok_or_else(|| {
            Error::InvalidQuery(format!(
                "`order_by({}.{})` in a grouped select of `{}`: only grouped (or, with `distinct()`, selected) columns can be sorted",
                column.table, column.name, schema.table
            ))
        })?;
        if !sort.contains_key(&path) {
            sort.insert(path, if o.direction == Direction::Asc { 1 } else { -1 });
        }
    }
    if !sort.is_empty() {
        pipeline.push(doc! { "$sort": sort });
    }
    page(q, pipeline);
    let shown = q.offset.unwrap_or(0) == 0 && q.limit != Some(0);
    Ok((group.keys.is_empty() && shown).then(|| {
        let mut row = Document::new();
        for (expr, name) in aggregation.exprs.iter().zip(OUTPUT_FIELDS) {
            let count =
                matches!(expr, SelectExpr::Aggregate { function, .. } if function.is_count());
            row.insert(name, if count { Bson::Int64(0) } else { Bson::Null });
        }
        row
    }))
}

/// Every aggregate a `having` condition compares.
fn having_exprs(c: &Condition, out: &mut Vec<SelectExpr>) {
    match c {
        Condition::CompareExpr { expr, .. } => out.push(expr.clone()),
        Condition::And(items) | Condition::Or(items) => {
            items.iter().for_each(|c| having_exprs(c, out));
        }
        Condition::Not(inner) => having_exprs(inner, out),
        _ => {}
    }
}

/// The `$group` key: the grouped columns, by field path.
struct Group<'s> {
    schema: &'s ModelSchema,
    keys: Vec<ColumnRef>,
    paths: Vec<String>,
}

impl<'s> Group<'s> {
    fn new(schema: &'s ModelSchema, keys: Vec<ColumnRef>) -> Result<Self> {
        let paths = keys
            .iter()
            .map(|c| resolve(schema, c).map(|(_, path)| path))
            .collect::<Result<_>>()?;
        Ok(Group {
            schema,
            keys,
            paths,
        })
    }

    /// `_id` of the `$group` stage: `null`, `"$a"`, or `{k0: "$a", k1: "$b"}`.
    fn id(&self) -> Bson {
        match self.paths.as_slice() {
            [] => Bson::Null,
            [one] => Bson::String(format!("${one}")),
            many => Bson::Document(
                many.iter()
                    .enumerate()
                    .map(|(i, path)| (format!("k{i}"), Bson::String(format!("${path}"))))
                    .collect(),
            ),
        }
    }

    /// Where a grouped column's value is after the `$group` stage.
    fn key_path(&self, column: &ColumnRef) -> Option<String> {
        let at = self.keys.iter().position(|k| k == column)?;
        Some(if self.keys.len() == 1 {
            "_id".to_owned()
        } else {
            format!("_id.k{at}")
        })
    }

    /// The `$project` expression of a selected value.
    fn value(&self, expr: &SelectExpr, accumulators: &mut Accumulators) -> Result<Bson> {
        match expr {
            SelectExpr::Column(column) => {
                resolve(self.schema, column)?;
                let path = self.key_path(column).ok_or_else(|| {
                    Error::InvalidQuery(format!(
                        "`{}.{}` is selected in a grouped select of `{}` but neither grouped nor aggregated; add it to `group_by`",
                        column.table, column.name, self.schema.table
                    ))
                })?;
                Ok(Bson::String(format!("${path}")))
            }
            SelectExpr::Aggregate {
                function, column, ..
            } => {
                let path = column
                    .as_ref()
                    .map(|c| resolve(self.schema, c).map(|(_, p)| format!("${p}")))
                    .transpose()?;
                Ok(accumulators.value(*function, path))
            }
            _ => Err(computed_unsupported(self.schema)),
        }
    }
}

/// The accumulators of the `$group` stage (`a0`, `a1`, ..), each computed once.
#[derive(Default)]
struct Accumulators {
    fields: Document,
}

impl Accumulators {
    /// The field path (`$a<i>`) holding `accumulator`, added on first use.
    fn field(&mut self, accumulator: Document) -> String {
        let same = |(_, a): (&String, &Bson)| a.as_document() == Some(&accumulator);
        let at = match self.fields.iter().position(same) {
            Some(at) => at,
            None => {
                let at = self.fields.len();
                self.fields.insert(format!("a{at}"), accumulator);
                at
            }
        };
        format!("$a{at}")
    }

    /// The projected value of `function` over `path` (`None`: every document).
    fn value(&mut self, function: AggregateFn, path: Option<String>) -> Bson {
        // 0 for a null or missing field, else 1: `$ifNull` turns missing into null first,
        // since `$eq: [missing, null]` is false in an expression.
        let non_null = |path: &str| {
            doc! { "$cond": [{ "$eq": [{ "$ifNull": [path, Bson::Null] }, Bson::Null] }, 0, 1] }
        };
        let Some(path) = path else {
            return Bson::String(self.field(doc! { "$sum": 1 }));
        };
        let field = match function {
            AggregateFn::Count => self.field(doc! { "$sum": non_null(&path) }),
            // The set of values, nulls left out as SQL's `COUNT(DISTINCT)` does (a missing
            // field adds nothing to `$addToSet`).
            AggregateFn::CountDistinct => {
                let values = self.field(doc! { "$addToSet": path.as_str() });
                return Bson::Document(doc! {
                    "$size": { "$setDifference": [values, [Bson::Null]] }
                });
            }
            AggregateFn::Sum => {
                let sum = self.field(doc! { "$sum": path.as_str() });
                let count = self.field(doc! { "$sum": non_null(&path) });
                return Bson::Document(doc! { "$cond": [{ "$gt": [count, 0] }, sum, Bson::Null] });
            }
            // SUM ÷ COUNT of the non-null values rather than `$avg`: the same double as the SQL
            // dialects compute, and nx-27017's `$avg` counts nulls as zeros.
            AggregateFn::Avg => {
                let sum = self.field(doc! { "$sum": path.as_str() });
                let count = self.field(doc! { "$sum": non_null(&path) });
                return Bson::Document(doc! {
                    "$cond": [{ "$gt": [&count, 0] }, { "$divide": [sum, &count] }, Bson::Null]
                });
            }
            AggregateFn::Min => self.field(doc! { "$min": path.as_str() }),
            AggregateFn::Max => self.field(doc! { "$max": path.as_str() }),
        };
        Bson::String(field)
    }
}

/// Fields of the documents after the `$project`: grouped columns under `_id`, aggregates at
/// their output field (`c<i>`) or `having` field (`h<i>`).
struct HavingFields<'a> {
    group: &'a Group<'a>,
    selected: &'a [SelectExpr],
    extra: &'a [SelectExpr],
}

impl Fields for HavingFields<'_> {
    fn column(&self, column: &ColumnRef) -> Result<(String, bool)> {
        let (col, _) = resolve(self.group.schema, column)?;
        let path = self.group.key_path(column).ok_or_else(|| {
            Error::InvalidQuery(format!(
                "`having` tests `{}.{}`, which is not grouped; add it to `group_by` or use `filter`",
                column.table, column.name
            ))
        })?;
        Ok((path, col.nullable))
    }

    fn expr(&self, expr: &SelectExpr) -> Result<(String, bool)> {
        let nullable =
            !matches!(expr, SelectExpr::Aggregate { function, .. } if function.is_count());
        if let Some(at) = self.selected.iter().position(|e| e == expr) {
            return Ok((OUTPUT_FIELDS[at].to_owned(), nullable));
        }
        let at = self.extra.iter().position(|e| e == expr).ok_or_else(|| {
            Error::InvalidQuery("an aggregate of `having` was not computed".to_owned())
        })?;
        Ok((format!("h{at}"), nullable))
    }
}
