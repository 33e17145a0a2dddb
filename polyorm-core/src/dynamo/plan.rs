//! Reads: which request serves a select (`GetItem`, `Query` on the table or an index, or a
//! `Scan` the caller allowed), with its expressions.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::expr::{FilterCompiler, Placeholders, op_text, unsupported};
use super::keys::{KeySchema, secondary_indexes, table_key};
use super::value::to_attr;
use crate::error::{Error, Result};
use crate::query::ir::{
    CmpOp, Condition, Direction, Nulls, OrderBy, Projection, SelectExpr, SelectQuery,
};
use crate::schema::ModelSchema;
use crate::value::Value;

/// One item: attribute name → value.
pub type Item = HashMap<String, AttributeValue>;

/// The request that reads a select's items.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadKind {
    /// `GetItem` of one key (every key attribute is compared for equality and nothing else
    /// is asked).
    Get {
        /// The item's key.
        key: Item,
    },
    /// `Query` on the table (`index: None`) or a global secondary index.
    Query {
        /// The index queried, `None` for the table.
        index: Option<&'static str>,
        /// `KeyConditionExpression`: the partition key's equality, and a sort key condition.
        key_condition: String,
    },
    /// `Scan` of the whole table (only when the caller allowed it).
    Scan,
}

/// How a select runs on DynamoDB.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadPlan {
    /// The request.
    pub kind: ReadKind,
    /// `FilterExpression` (`ConditionExpression` is never used on reads).
    pub filter: Option<String>,
    /// The names and values the expressions use.
    pub placeholders: Placeholders,
    /// The attributes decoded, by position (every column for a whole-model select).
    pub attributes: Vec<&'static str>,
    /// `ProjectionExpression` for a select of some columns (`None`: whole items).
    pub projection: Option<String>,
    /// `ScanIndexForward`: the sort key ascending (true) or descending.
    pub forward: bool,
    /// An order the request cannot give (not the sort key of the key read): the items are
    /// sorted in memory after all of them are read.
    pub sort_in_memory: Vec<(&'static str, Direction, Nulls)>,
    /// Items skipped.
    pub offset: u64,
    /// Most items returned.
    pub limit: Option<u64>,
    /// `ConsistentRead` (tables only; a global secondary index is always eventually
    /// consistent).
    pub consistent: bool,
}

impl ReadPlan {
    /// Whether every matching item must be read before any is returned (an order sorted in
    /// memory); otherwise paging stops after `offset + limit` items.
    pub fn reads_all(&self) -> bool {
        !self.sort_in_memory.is_empty()
    }
}

/// What the caller allowed for a read (see [`SelectQuery::read`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadPolicy {
    /// A `Scan` may serve a filter that no key or index serves.
    pub allow_scan: bool,
    /// Strongly consistent reads.
    pub consistent: bool,
}

/// The plan of `query`: `GetItem` for a key lookup, `Query` on the table or an index when
/// the filter pins a partition key with equality, else `Scan` if `policy` allows it, else
/// [`Error::InvalidQuery`] naming the attributes that would need an index.
pub fn read_plan(query: &SelectQuery, policy: ReadPolicy) -> Result<ReadPlan> {
    let schema = query.schema;
    refuse_shapes(query)?;
    let query = &*crate::query::keyset::with_keyset(query)?;
    let attributes = attributes(query)?;
    let mut placeholders = Placeholders::default();
    let projection = match query.projection {
        Projection::Exprs(_) => Some(
            attributes
                .iter()
                .map(|a| placeholders.name(a))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        _ => None,
    };
    let conjuncts = conjuncts(query.filter.as_ref());
    let table = table_key(schema)?;
    let mut keys = vec![table];
    keys.extend(secondary_indexes(schema)?);
    let chosen = keys
        .iter()
        .find(|k| equality(&conjuncts, k.partition).is_some());
    let mut sort_in_memory = Vec::new();
    let mut forward = true;
    // Ordering by the partition key the query pins is no ordering at all.
    let pinned = chosen.map(|k| k.partition);
    let order: Vec<&OrderBy> = query
        .order
        .iter()
        .filter(|t| !matches!(&t.expr, SelectExpr::Column(c) if Some(c.name) == pinned))
        .collect();
    for (i, term) in order.iter().enumerate() {
        let SelectExpr::Column(column) = &term.expr else {
            return Err(unsupported(
                schema,
                "ordering by a computed expression",
                "order by attributes, or sort in Rust",
            ));
        };
        let on_sort_key = i == 0
            && order.len() == 1
            && chosen.is_some_and(|k| k.sort == Some(column.name))
            && term.nulls.is_none();
        if on_sort_key {
            forward = term.direction == Direction::Asc;
        } else {
            sort_in_memory.push((column.name, term.direction, term.effective_nulls()));
        }
    }
    if !sort_in_memory.is_empty() {
        // The whole order is applied in memory, the first term included.
        forward = true;
        sort_in_memory = order
            .iter()
            .filter_map(|t| match &t.expr {
                SelectExpr::Column(c) => Some((c.name, t.direction, t.effective_nulls())),
                _ => None,
            })
            .collect();
    }
    let mut plan = ReadPlan {
        kind: ReadKind::Scan,
        filter: None,
        placeholders,
        attributes,
        projection,
        forward,
        sort_in_memory,
        offset: query.offset.unwrap_or(0),
        limit: query.limit,
        consistent: policy.consistent,
    };
    let Some(key) = chosen.copied() else {
        if !policy.allow_scan {
            return Err(no_index(schema, &conjuncts));
        }
        plan.filter = filter(schema, &mut plan.placeholders, &conjuncts, &[])?;
        return Ok(plan);
    };
    if key.index.is_some() && policy.consistent {
        return Err(Error::InvalidQuery(format!(
            "a strongly consistent read of `{}` cannot use its index `{}` (global secondary \
             indexes are eventually consistent); filter on the table's key, or drop \
             `consistent_read()`",
            schema.table,
            key.index.unwrap_or_default()
        )));
    }
    let (pk_at, pk_value) = equality(&conjuncts, key.partition).expect("chosen by its equality");
    let mut used = vec![pk_at];
    let get = key.index.is_none()
        && order.is_empty()
        && match key.sort {
            None => conjuncts.len() == 1,
            Some(sort) => conjuncts.len() == 2 && equality(&conjuncts, sort).is_some(),
        };
    if get {
        let mut item = Item::new();
        for (i, c) in conjuncts.iter().enumerate() {
            if let Condition::Compare { column, value, .. } = c {
                item.insert(column.name.to_owned(), present(value, i)?);
            }
        }
        plan.kind = ReadKind::Get { key: item };
        plan.forward = true;
        return Ok(plan);
    }
    let pk_name = plan.placeholders.name(key.partition);
    let pk_v = plan.placeholders.attr(present(pk_value, pk_at)?);
    let mut key_condition = format!("{pk_name} = {pk_v}");
    if let Some(sort) = key.sort
        && let Some((at, text)) = sort_condition(schema, &mut plan.placeholders, &conjuncts, sort)?
    {
        used.push(at);
        key_condition = format!("{key_condition} AND {text}");
    }
    plan.filter = filter(schema, &mut plan.placeholders, &conjuncts, &used)?;
    plan.kind = ReadKind::Query {
        index: key.index,
        key_condition,
    };
    Ok(plan)
}

fn present(value: &Value, _at: usize) -> Result<AttributeValue> {
    to_attr(value)?.ok_or_else(|| Error::InvalidQuery("a key compared with NULL".to_owned()))
}

/// The top-level conjuncts of a filter.
fn conjuncts(filter: Option<&Condition>) -> Vec<&Condition> {
    fn walk<'c>(c: &'c Condition, out: &mut Vec<&'c Condition>) {
        match c {
            Condition::And(parts) => parts.iter().for_each(|p| walk(p, out)),
            c => out.push(c),
        }
    }
    let mut out = Vec::new();
    if let Some(c) = filter {
        walk(c, &mut out);
    }
    out
}

/// The conjunct comparing `attribute` for equality with a non-NULL value.
fn equality<'c>(conjuncts: &[&'c Condition], attribute: &str) -> Option<(usize, &'c Value)> {
    conjuncts.iter().enumerate().find_map(|(i, c)| match c {
        Condition::Compare {
            column,
            op: CmpOp::Eq,
            value,
        } if column.name == attribute && !value.is_null() => Some((i, value)),
        _ => None,
    })
}

/// A conjunct that can be the sort key's condition (`=`, `<`, `<=`, `>`, `>=`, `BETWEEN`,
/// `begins_with`), compiled.
fn sort_condition(
    schema: &'static ModelSchema,
    p: &mut Placeholders,
    conjuncts: &[&Condition],
    sort: &'static str,
) -> Result<Option<(usize, String)>> {
    for (i, c) in conjuncts.iter().enumerate() {
        match c {
            Condition::Compare { column, op, value }
                if column.name == sort && *op != CmpOp::Ne && !value.is_null() =>
            {
                let name = p.name(sort);
                let v = p.attr(present(value, i)?);
                return Ok(Some((i, format!("{name} {} {v}", op_text(*op)))));
            }
            Condition::Between { column, low, high }
                if column.name == sort && !low.is_null() && !high.is_null() =>
            {
                let name = p.name(sort);
                let l = p.attr(present(low, i)?);
                let h = p.attr(present(high, i)?);
                return Ok(Some((i, format!("{name} BETWEEN {l} AND {h}"))));
            }
            _ => {}
        }
    }
    let _ = schema;
    Ok(None)
}

/// The conjuncts not in `used`, as one filter expression.
fn filter(
    schema: &'static ModelSchema,
    p: &mut Placeholders,
    conjuncts: &[&Condition],
    used: &[usize],
) -> Result<Option<String>> {
    let mut compiler = FilterCompiler { schema, p };
    let parts = conjuncts
        .iter()
        .enumerate()
        .filter(|(i, _)| !used.contains(i))
        .map(|(_, c)| compiler.compile(c, false))
        .collect::<Result<Vec<_>>>()?;
    Ok((!parts.is_empty()).then(|| parts.join(" AND ")))
}

/// The error for a filter no key or index serves.
fn no_index(schema: &'static ModelSchema, conjuncts: &[&Condition]) -> Error {
    let mut filtered: Vec<&str> = conjuncts
        .iter()
        .filter_map(|c| match c {
            Condition::Compare { column, .. }
            | Condition::Between { column, .. }
            | Condition::InList { column, .. }
            | Condition::IsNull { column, .. }
            | Condition::Like { column, .. } => Some(column.name),
            _ => None,
        })
        .collect();
    filtered.dedup();
    let key = table_key(schema).map(|k| k.partition).unwrap_or("?");
    let on = if filtered.is_empty() {
        "reads every item (no filter)".to_owned()
    } else {
        format!("filters on `{}`", filtered.join("`, `"))
    };
    Error::InvalidQuery(format!(
        "this query of `{}` {on}, but DynamoDB can only query by a partition key compared with \
         `eq`: the table's `{key}` or the first column of an index; add an index \
         (`#[orm(index)]`) on the attribute you filter by, or call `.allow_scan()` to read \
         the whole table (or `scan=allow` in the `dynamodb://` URL)",
        schema.table
    ))
}

/// The attributes a select decodes, by position.
fn attributes(query: &SelectQuery) -> Result<Vec<&'static str>> {
    let schema = query.schema;
    match &query.projection {
        Projection::Model | Projection::Count | Projection::Exists => {
            Ok(schema.columns.iter().map(|c| c.name).collect())
        }
        Projection::Exprs(aggregation) => {
            if !aggregation.group_by.is_empty()
                || aggregation.having.is_some()
                || aggregation.distinct
            {
                return Err(unsupported(
                    schema,
                    "`group_by`, `having` and `distinct`",
                    "DynamoDB has no aggregation: read the items and group in Rust",
                ));
            }
            aggregation
                .exprs
                .iter()
                .map(|e| match e {
                    SelectExpr::Column(c) if c.table == schema.table => Ok(c.name),
                    SelectExpr::Aggregate { .. } | SelectExpr::AggregateOf { .. } => {
                        Err(unsupported(
                            schema,
                            "SQL aggregates (`count`, `sum`, `avg`, `min`, `max`)",
                            "use `count()` for counts; read the items and aggregate in Rust",
                        ))
                    }
                    _ => Err(unsupported(
                        schema,
                        "selecting a computed expression",
                        "select attributes and compute in Rust",
                    )),
                })
                .collect()
        }
    }
}

/// Refuses what a DynamoDB read cannot express.
fn refuse_shapes(query: &SelectQuery) -> Result<()> {
    let schema = query.schema;
    if !query.joins.is_empty() {
        return Err(unsupported(
            schema,
            "joins",
            "DynamoDB has no joins: read each table by key (eager loading batches the reads)",
        ));
    }
    if query.outer.is_some()
        || !query.compound.is_empty()
        || query.walk.is_some()
        || !query.with.is_empty()
    {
        return Err(unsupported(
            schema,
            "derived tables, set operations, recursive walks and common tables",
            "run the parts as separate queries and combine them in Rust",
        ));
    }
    if query.lock.is_some() {
        return Err(unsupported(
            schema,
            "row locks (`for_update`)",
            "use a version attribute and a conditional write (optimistic concurrency)",
        ));
    }
    Ok(())
}

/// The key attributes of `schema`'s items (table key, then every index key), for cursors.
pub fn key_attributes(schema: &'static ModelSchema) -> Result<Vec<&'static str>> {
    let mut out = Vec::new();
    let mut push = |k: KeySchema| {
        for a in [Some(k.partition), k.sort].into_iter().flatten() {
            if !out.contains(&a) {
                out.push(a);
            }
        }
    };
    push(table_key(schema)?);
    for k in secondary_indexes(schema)? {
        push(k);
    }
    Ok(out)
}
