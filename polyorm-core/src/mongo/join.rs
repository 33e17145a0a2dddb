//! A select with a [`JoinClause`] → an `aggregate` pipeline with `$lookup`.
//!
//! ```text
//! {$match: <conditions on the model's columns only>}          (before the lookup: fewer lookups, indexes apply)
//! {$lookup: {from: <joined>, localField: <model column>, foreignField: <joined column>, as: "__orm_joined"}}
//! {$unwind: {path: "$__orm_joined", preserveNullAndEmptyArrays: <left join>}}
//! {$match: <the other conditions>}                             (joined fields under `__orm_joined.`)
//! {$sort}, {$skip}, {$limit}
//! ```
//!
//! `$unwind` gives one document per matching pair, as a SQL join gives one row; a left join
//! keeps a model document without a match (its `__orm_joined` is then missing, read as NULLs).
//! SQL's `NULL = NULL` is never true, but `$lookup` pairs a null or missing `localField` with
//! joined documents whose field is null or missing: a nullable model column is therefore
//! matched only when present (`$nin: [null]`, inner join), and a nullable joined column gets
//! a `$lookup` sub-pipeline keeping only joined documents where it is present (MongoDB 5.0+
//! accepts `localField`/`foreignField` with `pipeline`).
//!
//! Why `$lookup` here and batched `$in` queries for eager loading (`.with(..)`): a join's
//! filter, sort and paging may read both sides, so the server must see the pairs (one round
//! trip, paging exact); eager loading returns each parent once with its children, so two
//! indexed `find`s (parents, then children by `$in` over their keys) read each document once
//! and need no per-parent lookup.

use bson::{Bson, Document, doc};

use super::fields::{JOINED_FIELD, resolve};
use super::filter::{Fields, ModelFields, filter_with, match_nothing};
use crate::error::{Error, Result};
use crate::query::ir::{ColumnRef, Condition, Direction, JoinClause, JoinKind, SelectQuery};
use crate::schema::ModelSchema;

/// The one join of `q`, if it has one; a second join, a right join and a cross join are
/// refused with [`Error::Unsupported`] (no chained `$lookup` translation yet).
pub fn single_join(q: &SelectQuery) -> Result<Option<&JoinClause>> {
    let refuse = |construct, advice| Error::Unsupported {
        backend: "MongoDB",
        construct,
        table: q.schema.table,
        advice,
    };
    match q.joins.as_slice() {
        [] => Ok(None),
        [join] => match (join.kind, join.on) {
            (JoinKind::Inner | JoinKind::Left, Some(_)) => Ok(Some(join)),
            (JoinKind::Right, _) => Err(refuse(
                "`right_join`",
                "swap the sides into a `left_join`, or run this query on a SQL backend",
            )),
            _ => Err(refuse(
                "`cross_join`",
                "load both collections and combine them in Rust, or run this query on a SQL backend",
            )),
        },
        _ => Err(refuse(
            "a second join (chained `$lookup`s)",
            "join once and load the next level with `.with(..)`, or run this query on a SQL backend",
        )),
    }
}

/// The pipeline of a joined select returning pairs (before any count or exists stage).
pub fn join_pipeline(q: &SelectQuery, join: &JoinClause) -> Result<Vec<Document>> {
    let model = q.schema;
    let Some(on) = join.on else {
        return Err(Error::InvalidQuery(format!(
            "a `cross_join` of `{}` has no `$lookup` on MongoDB",
            model.table
        )));
    };
    let fields = JoinFields { model, join: *join };
    let mut pipeline = Vec::new();
    if q.limit == Some(0) {
        pipeline.push(doc! { "$match": match_nothing() });
    }
    let (before, after) = split(q.filter.as_ref(), model.table);
    let model_fields = ModelFields(model);
    let mut before = filter_with(&model_fields, before.as_ref())?;
    let (local_col, local) = resolve(model, &on.other)?;
    let (foreign_col, foreign) = resolve(join.schema, &unaliased(join, &on.joined))?;
    if local_col.nullable && join.kind == JoinKind::Inner {
        // A NULL key joins nothing (SQL), where `$lookup` would pair it with null fields.
        before = super::filter::all_of(before, doc! { &local: { "$nin": [Bson::Null] } });
    }
    if !before.is_empty() {
        pipeline.push(doc! { "$match": before });
    }
    let mut lookup = doc! {
        "from": join.schema.table,
        "localField": &local,
        "foreignField": &foreign,
        "as": JOINED_FIELD,
    };
    if foreign_col.nullable || local_col.nullable {
        lookup.insert(
            "pipeline",
            vec![doc! { "$match": { &foreign: { "$nin": [Bson::Null] } } }],
        );
    }
    pipeline.push(doc! { "$lookup": lookup });
    pipeline.push(doc! { "$unwind": {
        "path": format!("${JOINED_FIELD}"),
        "preserveNullAndEmptyArrays": join.kind == JoinKind::Left,
    } });
    let after = filter_with(&fields, after.as_ref())?;
    if !after.is_empty() {
        pipeline.push(doc! { "$match": after });
    }
    let mut sort = Document::new();
    for o in &q.order {
        let (path, _) = fields.column(super::find::sort_column(q.schema, o)?)?;
        if !sort.contains_key(&path) {
            sort.insert(path, if o.direction == Direction::Asc { 1 } else { -1 });
        }
    }
    if !sort.is_empty() {
        pipeline.push(doc! { "$sort": sort });
    }
    super::aggregate::page(q, &mut pipeline);
    Ok(pipeline)
}

/// The top-level conjuncts of `filter` that read only `table`'s columns, and the others.
fn split(filter: Option<&Condition>, table: &str) -> (Option<Condition>, Option<Condition>) {
    let Some(filter) = filter else {
        return (None, None);
    };
    let items = match filter {
        Condition::And(items) => items.clone(),
        other => vec![other.clone()],
    };
    let (mine, rest): (Vec<_>, Vec<_>) = items.into_iter().partition(|c| only_table(c, table));
    let combine = |v: Vec<Condition>| (!v.is_empty()).then(|| Condition::and_all(v));
    (combine(mine), combine(rest))
}

/// Whether every column `c` reads belongs to `table`.
fn only_table(c: &Condition, table: &str) -> bool {
    let column = |col: &ColumnRef| col.table == table;
    match c {
        Condition::Compare { column: col, .. }
        | Condition::Between { column: col, .. }
        | Condition::InList { column: col, .. }
        | Condition::Like { column: col, .. }
        | Condition::IsNull { column: col, .. } => column(col),
        Condition::And(items) | Condition::Or(items) => items.iter().all(|c| only_table(c, table)),
        Condition::Not(inner) => only_table(inner, table),
        _ => false,
    }
}

/// `column` of the joined side under its table's own name (a self-join names it by alias).
fn unaliased(join: &JoinClause, column: &ColumnRef) -> ColumnRef {
    ColumnRef {
        table: join.schema.table,
        name: column.name,
    }
}

/// Fields of a joined document: the model's at their paths, the joined model's under
/// [`JOINED_FIELD`] (nullable after a left join).
struct JoinFields {
    model: &'static ModelSchema,
    join: JoinClause,
}

impl Fields for JoinFields {
    fn column(&self, column: &ColumnRef) -> Result<(String, bool)> {
        if column.table != self.join.qualifier() {
            if column.table == self.model.table {
                return ModelFields(self.model).column(column);
            }
            return Err(Error::InvalidQuery(format!(
                "column `{}.{}` belongs to neither `{}` nor the joined `{}`",
                column.table, column.name, self.model.table, self.join.schema.table
            )));
        }
        let (col, path) = resolve(self.join.schema, &unaliased(&self.join, column))?;
        Ok((
            format!("{JOINED_FIELD}.{path}"),
            col.nullable || self.join.kind == JoinKind::Left,
        ))
    }
}
