//! [`FanOut`]: a read of every shard (or of the shards an `IN` names), merged as if one
//! database had answered.
//!
//! Rows are merged by the values their decoder read (the query cache's recording rows,
//! [`CachedRow`]): the sort keys come from the recorded columns, and grouped aggregates are
//! combined per group (counts and sums added, minimums and maximums compared), then decoded
//! again by the caller's decoder. Each shard is asked for `limit + offset` rows in the query's
//! order, so the merged top rows are exact.

use std::any::Any;
use std::cmp::Ordering;
use std::collections::HashMap;

use futures_util::future::try_join_all;

use super::route::Routed;
use super::{ShardError, Shards, error};
use crate::error::{Error, Result};
use crate::exec::cached::{CachedRow, Slot};
use crate::exec::{Backend, Db, Decoder, ExecResult, Executor, RowRef, RowStream};
use crate::query::ir::{
    AggregateFn, Direction, InsertQuery, Nulls, Projection, SelectExpr, SelectQuery, Statement,
};
use crate::sql::Compiled;
use crate::value::Value;

/// Every shard at once ([`Shards::all_shards`]): an [`Executor`] whose reads run on every
/// shard (only on the shards a `key IN (...)` names, when the filter has one), concurrently,
/// and are merged: rows concatenated, then sorted, offset and limited again as the query
/// says; `count` summed; `COUNT`, `SUM`, `MIN` and `MAX` (grouped or not) combined per
/// group; `DISTINCT` rows deduplicated. What cannot be merged exactly is refused
/// ([`ShardError::CannotMerge`]): `AVG` and `COUNT(DISTINCT)` (select `SUM` and `COUNT`
/// instead), `HAVING`, window functions, an order by an expression that is not selected,
/// set operations, derived tables and recursive walks.
///
/// Typed writes route by key exactly as on [`Shards`] (a fan-out never writes to several
/// shards in one statement); raw SQL runs on every shard in turn (DDL, maintenance; not
/// atomic across shards), its rows concatenated and its counts summed.
#[derive(Debug, Clone, Copy)]
pub struct FanOut<'a> {
    shards: &'a Shards,
}

impl<'a> FanOut<'a> {
    pub(super) fn new(shards: &'a Shards) -> Self {
        FanOut { shards }
    }

    /// The shards a read reaches: those its key names, else all (a model without a shard key
    /// included: its table is read on every shard).
    fn targets(&self, query: &SelectQuery) -> Result<Vec<&'a Db>> {
        let dbs = &self.shards.inner.dbs;
        Ok(match self.shards.shards_of(&Routed::Select(query)) {
            Ok(Some(set)) if set.is_empty() => vec![&dbs[0]],
            Ok(Some(set)) => set.into_iter().map(|i| &dbs[i]).collect(),
            Ok(None) | Err(ShardError::NotSharded { .. }) => dbs.iter().collect(),
            Err(e) => return Err(error(e)),
        })
    }
}

/// How a fan-out read is merged.
struct Plan {
    /// Sort keys: column position in the recorded row, direction, NULL placement.
    sort: Vec<(usize, Direction, Nulls)>,
    /// Per selected expression: `Some(f)` for an aggregate merged with `f`, `None` for a
    /// group key; `None` overall when nothing is aggregated.
    merge: Option<Vec<Option<AggregateFn>>>,
    /// `SELECT DISTINCT` rows are deduplicated.
    distinct: bool,
}

impl Plan {
    fn of(query: &SelectQuery) -> std::result::Result<Plan, ShardError> {
        let model = query.schema.name;
        let refuse = |what: &str, hint: &'static str| ShardError::CannotMerge {
            model,
            what: what.to_owned(),
            hint,
        };
        if query.outer.is_some()
            || !query.compound.is_empty()
            || query.walk.is_some()
            || !query.with.is_empty()
        {
            return Err(refuse(
                "a derived table, a set operation, a recursive walk or a common table",
                "run it on each shard (`shards.shard(i)`) and combine the results yourself",
            ));
        }
        let (merge, distinct) = match &query.projection {
            Projection::Model | Projection::Exists | Projection::Count => (None, false),
            Projection::Exprs(aggregation) => {
                if aggregation.having.is_some() {
                    return Err(refuse(
                        "HAVING",
                        "filter the merged groups in your code (a group's rows may sit on \
                         several shards)",
                    ));
                }
                let mut merge = Vec::with_capacity(aggregation.exprs.len());
                for expr in &aggregation.exprs {
                    merge.push(match expr {
                        SelectExpr::Aggregate { function, .. }
                        | SelectExpr::AggregateOf { function, .. } => match function {
                            AggregateFn::Count
                            | AggregateFn::Sum
                            | AggregateFn::Min
                            | AggregateFn::Max => Some(*function),
                            _ => {
                                return Err(refuse(
                                    "AVG or COUNT(DISTINCT)",
                                    "select SUM and COUNT (or the distinct values) and divide \
                                     (or deduplicate) the merged results",
                                ));
                            }
                        },
                        SelectExpr::Window(_) => {
                            return Err(refuse(
                                "a window function",
                                "a window spans rows of several shards: compute it on the \
                                 merged rows",
                            ));
                        }
                        _ => None,
                    });
                }
                let aggregated = merge.iter().any(Option::is_some);
                (aggregated.then_some(merge), aggregation.distinct)
            }
        };
        let mut sort = Vec::with_capacity(query.order.len());
        for order in &query.order {
            let position = match (&query.projection, &order.expr) {
                (Projection::Model, SelectExpr::Column(c)) if c.table == query.schema.table => {
                    query.schema.columns.iter().position(|s| s.name == c.name)
                }
                (Projection::Exprs(aggregation), expr) => {
                    aggregation.exprs.iter().position(|e| e == expr)
                }
                (Projection::Exists | Projection::Count, _) => continue,
                _ => None,
            };
            let position = position.ok_or_else(|| {
                refuse(
                    "an order by an expression the merged rows do not carry",
                    "order by a column of the model (or, for a projection, by one of its \
                     selected expressions)",
                )
            })?;
            sort.push((position, order.direction, order.effective_nulls()));
        }
        Ok(Plan {
            sort,
            merge,
            distinct,
        })
    }

    /// Whether rows must be recorded (their values read again) to merge them.
    fn records(&self) -> bool {
        !self.sort.is_empty() || self.merge.is_some() || self.distinct
    }
}

tokio::task_local! {
    /// The caller's decoder, for [`capture_row`] (a decoder is a plain `fn`, so the recording
    /// wrapper reaches it through the task, as the query cache does).
    static CAPTURE: (Backend, Box<dyn Any + Send + Sync>);
}

/// Runs the caller's decoder, recording the values it reads.
fn capture_row<T: 'static>(row: &RowRef<'_>) -> Result<(T, CachedRow)> {
    let found = CAPTURE
        .try_with(|(backend, decode)| (*backend, decode.downcast_ref::<Decoder<T>>().copied()));
    match found {
        Ok((backend, Some(decode))) => CachedRow::record(backend, row, decode),
        _ => Err(Error::InvalidQuery(
            "internal error: the fan-out's recording decoder ran outside its read; please \
             report this with the backend in use"
                .to_owned(),
        )),
    }
}

/// A stream that yields `error`.
pub(super) fn failed<'a, T: Send + 'a>(error: Error) -> RowStream<'a, T> {
    Box::pin(async_stream::stream! { yield Err(error); })
}

impl FanOut<'_> {
    /// Every merged row.
    async fn read<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> Result<Vec<T>> {
        let targets = self.targets(&query)?;
        if let [db] = targets[..] {
            return db.fetch_all(query, decode).await;
        }
        let plan = Plan::of(&query).map_err(error)?;
        let (limit, offset) = (query.limit, query.offset.unwrap_or(0));
        let mut each = query;
        each.offset = None;
        if plan.merge.is_some() {
            // Every group of every shard is needed before groups can be combined.
            each.order.clear();
            each.limit = None;
        } else {
            each.limit = limit.map(|l| l.saturating_add(offset));
        }
        let page = |rows: Vec<T>| -> Vec<T> {
            let rows = rows
                .into_iter()
                .skip(usize::try_from(offset).unwrap_or(usize::MAX));
            match limit {
                Some(l) => rows
                    .take(usize::try_from(l).unwrap_or(usize::MAX))
                    .collect(),
                None => rows.collect(),
            }
        };
        if !plan.records() {
            let parts =
                try_join_all(targets.iter().map(|db| db.fetch_all(each.clone(), decode))).await?;
            return Ok(page(parts.into_iter().flatten().collect()));
        }
        let backend = self.shards.backend();
        let reads = try_join_all(
            targets
                .iter()
                .map(|db| db.fetch_all(each.clone(), capture_row::<T>)),
        );
        let parts = CAPTURE.scope((backend, Box::new(decode)), reads).await?;
        let mut rows: Vec<(T, CachedRow)> = parts.into_iter().flatten().collect();
        if let Some(merge) = &plan.merge {
            rows = merge_groups(backend, rows, merge, query_model(&each))?
                .into_iter()
                .map(|row| Ok((row.decode(decode)?, row)))
                .collect::<Result<_>>()?;
        } else if plan.distinct {
            let mut seen = std::collections::HashSet::new();
            rows.retain(|(_, row)| seen.insert(format!("{:?}", row.slots())));
        }
        rows.sort_by(|(_, a), (_, b)| compare_rows(&plan.sort, a, b));
        Ok(page(rows.into_iter().map(|(t, _)| t).collect()))
    }
}

fn query_model(query: &SelectQuery) -> &'static str {
    query.schema.name
}

/// Combines the rows of each group (rows with equal group-key columns): counts and sums
/// added, minimums and maximums compared.
fn merge_groups<T>(
    backend: Backend,
    rows: Vec<(T, CachedRow)>,
    merge: &[Option<AggregateFn>],
    model: &'static str,
) -> Result<Vec<CachedRow>> {
    let mut groups: Vec<Vec<Slot>> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (_, row) in rows {
        let slots = row.slots();
        let key: Vec<&Slot> = merge
            .iter()
            .zip(slots)
            .filter(|(f, _)| f.is_none())
            .map(|(_, s)| s)
            .collect();
        let key = format!("{key:?}");
        match index.get(&key) {
            None => {
                index.insert(key, groups.len());
                groups.push(slots.to_vec());
            }
            Some(&at) => {
                let group = &mut groups[at];
                for (position, function) in merge.iter().enumerate() {
                    let Some(function) = function else { continue };
                    let (Some(into), Some(next)) =
                        (group.get(position).cloned(), slots.get(position))
                    else {
                        continue;
                    };
                    group[position] = combine(*function, into, next.clone()).ok_or_else(|| {
                        error(ShardError::CannotMerge {
                            model,
                            what: format!("{function:?} values of different types or overflowing"),
                            hint: "cast the aggregate to one numeric type",
                        })
                    })?;
                }
            }
        }
    }
    Ok(groups
        .into_iter()
        .map(|slots| CachedRow::new(backend, slots))
        .collect())
}

/// One aggregate's values of two shards, combined; `None` when they do not combine.
fn combine(function: AggregateFn, a: Slot, b: Slot) -> Option<Slot> {
    let (a, b) = match (a, b) {
        (Slot::Null | Slot::Unread, other) | (other, Slot::Null | Slot::Unread) => {
            return Some(other);
        }
        (Slot::Value(a), Slot::Value(b)) => (a, b),
        _ => return None,
    };
    Some(Slot::Value(match function {
        AggregateFn::Count | AggregateFn::Sum => add(a, b)?,
        AggregateFn::Min => {
            if compare_values(&b, &a) == Ordering::Less {
                b
            } else {
                a
            }
        }
        AggregateFn::Max => {
            if compare_values(&b, &a) == Ordering::Greater {
                b
            } else {
                a
            }
        }
        _ => return None,
    }))
}

/// `a + b` in their common type.
fn add(a: Value, b: Value) -> Option<Value> {
    Some(match (a, b) {
        (Value::SmallInt(a), Value::SmallInt(b)) => Value::SmallInt(a.checked_add(b)?),
        (Value::Int(a), Value::Int(b)) => Value::Int(a.checked_add(b)?),
        (Value::BigInt(a), Value::BigInt(b)) => Value::BigInt(a.checked_add(b)?),
        (Value::BigUnsigned(a), Value::BigUnsigned(b)) => Value::BigUnsigned(a.checked_add(b)?),
        (Value::Float(a), Value::Float(b)) => Value::Float(a + b),
        (Value::Double(a), Value::Double(b)) => Value::Double(a + b),
        #[cfg(feature = "decimal")]
        (Value::Decimal(a), Value::Decimal(b)) => Value::Decimal(a.checked_add(b)?),
        _ => return None,
    })
}

/// The order of two recorded rows under `sort`.
fn compare_rows(sort: &[(usize, Direction, Nulls)], a: &CachedRow, b: &CachedRow) -> Ordering {
    for &(position, direction, nulls) in sort {
        let value = |row: &CachedRow| match row.slots().get(position) {
            Some(Slot::Value(v)) if !v.is_null() => Some(v.clone()),
            _ => None,
        };
        let ordering = match (value(a), value(b)) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => nulls_first(nulls),
            (Some(_), None) => nulls_first(nulls).reverse(),
            (Some(x), Some(y)) => match direction {
                Direction::Asc => compare_values(&x, &y),
                Direction::Desc => compare_values(&y, &x),
            },
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}

fn nulls_first(nulls: Nulls) -> Ordering {
    match nulls {
        Nulls::First => Ordering::Less,
        Nulls::Last => Ordering::Greater,
    }
}

/// The order of two values of one column, as the databases sort them by default (numbers by
/// value, text by code point, the ORM's portable comparison).
fn compare_values(a: &Value, b: &Value) -> Ordering {
    fn int(v: &Value) -> Option<i128> {
        Some(match v {
            Value::SmallInt(n) => i128::from(*n),
            Value::Int(n) => i128::from(*n),
            Value::BigInt(n) => i128::from(*n),
            Value::BigUnsigned(n) => i128::from(*n),
            Value::Bool(b) => i128::from(*b),
            _ => return None,
        })
    }
    fn float(v: &Value) -> Option<f64> {
        match v {
            Value::Float(f) => Some(f64::from(*f)),
            Value::Double(f) => Some(*f),
            #[allow(clippy::cast_precision_loss)]
            other => int(other).map(|n| n as f64),
        }
    }
    if let (Some(x), Some(y)) = (int(a), int(b)) {
        return x.cmp(&y);
    }
    if let (Some(x), Some(y)) = (float(a), float(b)) {
        return x.total_cmp(&y);
    }
    match (a, b) {
        (Value::Text(x), Value::Text(y)) => x.cmp(y),
        (Value::Bytes(x), Value::Bytes(y)) => x.cmp(y),
        #[cfg(feature = "chrono")]
        (Value::ChronoDateTimeUtc(x), Value::ChronoDateTimeUtc(y)) => x.cmp(y),
        #[cfg(feature = "chrono")]
        (Value::ChronoDateTime(x), Value::ChronoDateTime(y)) => x.cmp(y),
        #[cfg(feature = "chrono")]
        (Value::ChronoDate(x), Value::ChronoDate(y)) => x.cmp(y),
        #[cfg(feature = "chrono")]
        (Value::ChronoTime(x), Value::ChronoTime(y)) => x.cmp(y),
        #[cfg(feature = "time")]
        (Value::TimeOffsetDateTime(x), Value::TimeOffsetDateTime(y)) => x.cmp(y),
        #[cfg(feature = "time")]
        (Value::TimePrimitiveDateTime(x), Value::TimePrimitiveDateTime(y)) => x.cmp(y),
        #[cfg(feature = "time")]
        (Value::TimeDate(x), Value::TimeDate(y)) => x.cmp(y),
        #[cfg(feature = "time")]
        (Value::TimeTime(x), Value::TimeTime(y)) => x.cmp(y),
        #[cfg(feature = "uuid")]
        (Value::Uuid(x), Value::Uuid(y)) => x.cmp(y),
        #[cfg(feature = "decimal")]
        (Value::Decimal(x), Value::Decimal(y)) => x.cmp(y),
        _ => Ordering::Equal,
    }
}

impl Executor for FanOut<'_> {
    fn backend(&self) -> Backend {
        self.shards.backend()
    }

    async fn fetch_all<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> Result<Vec<T>> {
        self.read(query, decode).await
    }

    async fn fetch_optional<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> Result<Option<T>> {
        Ok(self.read(query, decode).await?.into_iter().next())
    }

    fn fetch_stream<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> RowStream<'_, T> {
        let plain = match Plan::of(&query) {
            Ok(plan) => !plan.records() && query.limit.is_none() && query.offset.is_none(),
            Err(e) => return failed(error(e)),
        };
        let this = *self;
        Box::pin(async_stream::try_stream! {
            if plain {
                // Shard after shard, each in constant memory.
                for db in this.targets(&query)? {
                    let mut rows = db.fetch_stream(query.clone(), decode);
                    while let Some(row) = crate::exec::stream_next(&mut rows).await {
                        yield row?;
                    }
                }
            } else {
                for row in this.read(query, decode).await? {
                    yield row;
                }
            }
        })
    }

    async fn count(&self, mut query: SelectQuery) -> Result<u64> {
        let targets = self.targets(&query)?;
        if let [db] = targets[..] {
            return db.count(query).await;
        }
        if let Projection::Exprs(aggregation) = &query.projection
            && (!aggregation.group_by.is_empty() || aggregation.distinct)
        {
            return Err(error(ShardError::CannotMerge {
                model: query.schema.name,
                what: "a count of groups or distinct rows".to_owned(),
                hint: "read the groups with `all_shards()` and count the merged rows",
            }));
        }
        let (limit, offset) = (query.limit.take(), query.offset.take().unwrap_or(0));
        let counts = try_join_all(targets.iter().map(|db| db.count(query.clone()))).await?;
        let after = counts.into_iter().sum::<u64>().saturating_sub(offset);
        Ok(limit.map_or(after, |l| after.min(l)))
    }

    async fn insert_returning<T: Send + 'static>(
        &self,
        query: InsertQuery,
        decode: Decoder<T>,
    ) -> Result<T> {
        self.shards.insert_returning(query, decode).await
    }

    async fn execute(&self, statement: Statement) -> Result<ExecResult> {
        self.shards.execute(statement).await
    }

    async fn execute_raw(&self, sql: &str) -> Result<ExecResult> {
        let mut total = ExecResult::default();
        for db in &self.shards.inner.dbs {
            total.rows_affected += db.execute_raw(sql).await?.rows_affected;
        }
        Ok(total)
    }

    async fn fetch_compiled<T: Send + 'static>(
        &self,
        statement: Compiled,
        decode: Decoder<T>,
    ) -> Result<Vec<T>> {
        let dbs = &self.shards.inner.dbs;
        let parts = try_join_all(
            dbs.iter()
                .map(|db| db.fetch_compiled(statement.clone(), decode)),
        )
        .await?;
        Ok(parts.into_iter().flatten().collect())
    }

    async fn execute_compiled(&self, statement: Compiled) -> Result<ExecResult> {
        let mut total = ExecResult::default();
        for db in &self.shards.inner.dbs {
            total.rows_affected += db.execute_compiled(statement.clone()).await?.rows_affected;
        }
        Ok(total)
    }
}
