//! The statement a select runs as on a backend, as one [`Compiled`] for cache keys.

use crate::error::Result;
use crate::exec::Backend;
use crate::query::ir::SelectQuery;
use crate::sql::{Compiled, compile_select};

/// The statement `query` runs as on `backend`, for keys that must change whenever the
/// statement or its values do (the query cache's).
///
/// On SQL it is the compiled SQL and its bound values. On MongoDB `sql` names the collection
/// and the one value is the compiled BSON plan (`polyorm::mongo::select_plan`: filter, sort,
/// skip, limit, projection or pipeline, values inlined) with the collection, as BSON bytes
/// (which keep BSON types apart: an int32 `5` and an int64 `5` differ).
///
/// An error when the query does not compile for `backend`; on MongoDB that includes queries
/// with subqueries (`in_subquery`, a relation's `exists`), which the executor resolves by
/// reading first, so they have no plan of their own.
pub fn read_statement(query: &SelectQuery, backend: Backend) -> Result<Compiled> {
    match backend {
        Backend::Sql(dialect) => compile_select(query, dialect),
        Backend::MongoDb => mongo_statement(query),
        Backend::DynamoDb => dynamo_statement(query),
    }
}

/// A DynamoDB read as a cache key: its request, expressions and placeholders (sorted, so
/// that the same query always gives the same text).
#[cfg(feature = "dynamodb")]
fn dynamo_statement(query: &SelectQuery) -> Result<Compiled> {
    use crate::dynamo::{ReadPolicy, read_plan};
    let policy = ReadPolicy {
        allow_scan: true,
        consistent: query.read.consistent,
    };
    let plan = read_plan(query, policy)?;
    let mut names: Vec<_> = plan.placeholders.names.iter().collect();
    names.sort();
    let mut values: Vec<_> = plan.placeholders.values.iter().collect();
    values.sort_by(|a, b| a.0.cmp(b.0));
    let kind = match &plan.kind {
        crate::dynamo::ReadKind::Get { key } => {
            let mut key: Vec<_> = key.iter().collect();
            key.sort_by(|a, b| a.0.cmp(b.0));
            format!("get {key:?}")
        }
        other => format!("{other:?}"),
    };
    let text = format!(
        "DynamoDB select on `{}`: {kind} filter={:?} projection={:?} forward={} sort={:?} \
         offset={} limit={:?} consistent={} count={} names={names:?} values={values:?}",
        query.schema.table,
        plan.filter,
        plan.projection,
        plan.forward,
        plan.sort_in_memory,
        plan.offset,
        plan.limit,
        plan.consistent,
        matches!(query.projection, crate::query::ir::Projection::Count),
    );
    Ok(Compiled {
        sql: format!("DynamoDB select on `{}`", query.schema.table),
        values: vec![crate::value::Value::Text(text)],
    })
}

#[cfg(not(feature = "dynamodb"))]
fn dynamo_statement(_query: &SelectQuery) -> Result<Compiled> {
    Err(crate::error::Error::Config(
        "this build has no `dynamodb` backend; enable the `dynamodb` cargo feature of `polyorm`"
            .to_owned(),
    ))
}

#[cfg(feature = "mongodb")]
fn mongo_statement(query: &SelectQuery) -> Result<Compiled> {
    use crate::mongo::{AggregatePlan, CountPlan, FindPlan, SelectPlan, select_plan};
    use bson::{Bson, doc};

    let find = |kind: &str, plan: FindPlan| {
        doc! {
            "op": kind,
            "filter": plan.filter,
            "sort": plan.sort.map_or(Bson::Null, Bson::Document),
            "skip": plan.skip.map_or(Bson::Null, |s| Bson::String(s.to_string())),
            "limit": plan.limit.map_or(Bson::Null, Bson::Int64),
            "projection": plan.projection,
        }
    };
    let pipeline = |kind: &str, stages: Vec<bson::Document>| {
        doc! { "op": kind, "pipeline": stages }
    };
    let plan = match select_plan(query)? {
        SelectPlan::Find(plan) => find("find", plan),
        SelectPlan::Exists(plan) => find("exists", plan),
        SelectPlan::Count(CountPlan {
            filter,
            skip,
            limit,
        }) => doc! {
            "op": "count",
            "filter": filter,
            "skip": skip.map_or(Bson::Null, |s| Bson::String(s.to_string())),
            "limit": limit.map_or(Bson::Null, |l| Bson::String(l.to_string())),
        },
        SelectPlan::Join(stages) => pipeline("join", stages),
        SelectPlan::JoinCount(stages) => pipeline("join_count", stages),
        SelectPlan::Aggregate(AggregatePlan {
            pipeline: stages,
            empty_row,
        }) => doc! {
            "op": "aggregate",
            "pipeline": stages,
            "empty_row": empty_row.map_or(Bson::Null, Bson::Document),
        },
    };
    let statement = doc! { "collection": query.schema.table, "plan": plan };
    let bytes = statement.to_vec().map_err(|e| {
        crate::error::Error::InvalidQuery(format!(
            "the MongoDB plan of a select on `{}` does not encode as BSON: {e}",
            query.schema.table
        ))
    })?;
    Ok(Compiled {
        sql: format!("MongoDB select on `{}`", query.schema.table),
        values: vec![crate::value::Value::Bytes(bytes)],
    })
}

#[cfg(not(feature = "mongodb"))]
fn mongo_statement(_: &SelectQuery) -> Result<Compiled> {
    Err(crate::error::Error::Config(
        "a MongoDB select needs orm's `mongodb` feature; enable it in Cargo.toml".to_owned(),
    ))
}
