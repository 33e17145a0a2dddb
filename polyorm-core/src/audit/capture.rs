//! What a write becomes in the audit log: the records an [`Op`] plans before it runs, filled
//! in from its [`Outcome`] (rows affected, a generated key) once it has.

use std::any::Any;
use std::future::Future;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value as Json};

use super::table::AuditRecord;
use super::{Audit, AuditContext};
use crate::error::{Error, Result};
use crate::exec::{Backend, Decoder, Executor, Op, Outcome, RowRef};
use crate::query::ir::{
    Assignment, CmpOp, ColumnRef, Condition, Direction, InsertQuery, OrderBy, Projection, RowLock,
    SelectQuery, Statement,
};
use crate::schema::{ColumnType, ModelSchema};
use crate::value::{SqlType, Value};

/// What a redacted column's value reads as in `changes`.
pub const REDACTED: &str = "[redacted]";

/// A record waiting for its transaction to commit (its place in the chain is decided then).
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub context: Option<AuditContext>,
    pub recorded_at_us: i64,
    pub operation: &'static str,
    pub table: Option<&'static str>,
    pub keys: Option<Vec<Vec<Value>>>,
    pub changes: Option<String>,
    pub before_values: Option<String>,
    pub statement: Option<String>,
    pub rows_affected: i64,
}

/// The records of one write, before it runs.
pub(crate) struct Plan {
    records: Vec<Pending>,
    /// The model whose generated key the write reports (a one-row insert of a model with an
    /// auto-increment key).
    generated_key: Option<&'static ModelSchema>,
    /// Whether `rows_affected` comes from the outcome (updates, deletes, raw SQL) rather than
    /// one per inserted row.
    counts_from_outcome: bool,
    /// The read of an update's or delete's rows before it runs (their values, when the audit
    /// records changes, and their keys, when the filter does not name them).
    before: Option<SelectQuery>,
}

impl Plan {
    /// The records `op` will leave if it succeeds; `None` for a read.
    pub(crate) fn of<T>(op: &Op<T>, backend: Backend, audit: &Audit) -> Option<Plan> {
        let now = now_us();
        let context = AuditContext::current();
        let record = |operation, table, keys, changes, statement| Pending {
            context: context.clone(),
            recorded_at_us: now,
            operation,
            table,
            keys,
            changes,
            before_values: None,
            statement,
            rows_affected: 1,
        };
        let inserted = |operation: &'static str, query: &InsertQuery| {
            let schema = query.schema;
            let key_positions = insert_key_positions(schema);
            let records = query
                .rows
                .iter()
                .map(|row| {
                    let keys = key_positions
                        .as_ref()
                        .map(|positions| vec![positions.iter().map(|&i| row[i].clone()).collect()]);
                    let changes = audit.records_changes().then(|| {
                        let columns = schema.insert_columns().map(|c| c.name);
                        audit.changes_json(schema.table, columns.zip(row.iter().cloned()))
                    });
                    record(operation, Some(schema.table), keys, changes, None)
                })
                .collect();
            let generated_key =
                (key_positions.is_none() && query.rows.len() == 1).then_some(schema);
            Plan {
                records,
                generated_key,
                counts_from_outcome: false,
                before: None,
            }
        };
        let by_filter =
            |operation, schema: &'static ModelSchema, filter: Option<&Condition>, changes| {
                let keys = keys_in_filter(schema, filter);
                // Without keys, the statement says which rows were meant.
                let statement = match keys {
                    None => op.compile(backend).ok().map(|c| c.sql),
                    Some(_) => None,
                };
                let before = (audit.records_changes() || keys.is_none())
                    .then(|| before_query(schema, filter, backend));
                Plan {
                    records: vec![record(
                        operation,
                        Some(schema.table),
                        keys,
                        changes,
                        statement,
                    )],
                    generated_key: None,
                    counts_from_outcome: true,
                    before,
                }
            };
        Some(match op {
            Op::FetchAll(..) | Op::FetchOptional(..) | Op::Count(_) | Op::FetchCompiled(..) => {
                return None;
            }
            Op::Execute(Statement::Select(_)) => return None,
            Op::InsertReturning(query, _) | Op::Execute(Statement::Insert(query)) => {
                inserted("insert", query)
            }
            Op::Execute(Statement::Upsert(query)) => inserted("upsert", &query.insert),
            Op::Execute(Statement::Update(query)) => {
                let changes = audit.records_changes().then(|| {
                    audit.changes_json(
                        query.schema.table,
                        query.assignments.iter().map(|(column, assignment)| {
                            let value = match assignment {
                                Assignment::Value(value) => value.clone(),
                                // An increment's result is computed by the database: the
                                // record holds the expression.
                                Assignment::Add { source, delta } => {
                                    Value::Text(format!("{source} + {}", value_json(delta)))
                                }
                            };
                            (*column, value)
                        }),
                    )
                });
                by_filter("update", query.schema, query.filter.as_ref(), changes)
            }
            Op::Execute(Statement::Delete(query)) => {
                by_filter("delete", query.schema, query.filter.as_ref(), None)
            }
            Op::ExecuteRaw(sql) => Plan {
                records: vec![record("raw", None, None, None, Some(sql.clone()))],
                generated_key: None,
                counts_from_outcome: true,
                before: None,
            },
            Op::ExecuteCompiled(compiled) => Plan {
                records: vec![record("raw", None, None, None, Some(compiled.sql.clone()))],
                generated_key: None,
                counts_from_outcome: true,
                before: None,
            },
        })
    }

    /// Whether the write reports a generated key the records need.
    pub(crate) fn wants_generated_key(&self) -> Option<&'static ModelSchema> {
        self.generated_key
    }

    /// Reads the rows an update or delete is about to write (in its transaction, `inner`,
    /// locking them where the backend can), when the plan needs them; `None` otherwise.
    pub(crate) async fn read_before<E: Executor>(
        &mut self,
        inner: &E,
    ) -> Result<Option<Vec<Vec<Value>>>> {
        let Some(query) = self.before.take() else {
            return Ok(None);
        };
        let schema = query.schema;
        READING
            .scope(schema, inner.fetch_all(query, decode_row))
            .await
            .map(Some)
    }

    /// The records, completed from what the write reported, the key read from the inserted
    /// row (if one was captured) and the rows read before it ran (if they were).
    pub(crate) fn finish<T>(
        mut self,
        outcome: &Outcome<T>,
        captured_key: Option<Vec<Value>>,
        before: Option<(&'static ModelSchema, Vec<Vec<Value>>)>,
        audit: &Audit,
    ) -> Vec<Pending> {
        if let (Some((schema, rows)), [record]) = (before, self.records.as_mut_slice()) {
            if record.keys.is_none() {
                record.keys = Some(
                    rows.iter()
                        .map(|row| schema.primary_key.iter().map(|&i| row[i].clone()).collect())
                        .collect(),
                );
            }
            if audit.records_changes() {
                let objects: Vec<String> = rows
                    .into_iter()
                    .map(|row| {
                        let columns = schema.columns.iter().map(|c| c.name);
                        audit.changes_json(schema.table, columns.zip(row))
                    })
                    .collect();
                record.before_values = Some(format!("[{}]", objects.join(",")));
            }
        }
        let done = match outcome {
            Outcome::Done(done) => Some(*done),
            _ => None,
        };
        if self.counts_from_outcome
            && let (Some(done), [record]) = (done, self.records.as_mut_slice())
        {
            record.rows_affected = i64::try_from(done.rows_affected).unwrap_or(i64::MAX);
        }
        if let (Some(schema), [record]) = (self.generated_key, self.records.as_mut_slice()) {
            let reported = done
                .and_then(|d| d.last_insert_id)
                .filter(|_| schema.primary_key.len() == 1)
                .map(|id| vec![Value::BigInt(id)]);
            record.keys = captured_key.or(reported).map(|key| vec![key]);
        }
        self.records
    }
}

impl Pending {
    /// The record, `seq`, `prev_hash` and `hash` still empty (the chain fills them in).
    pub(crate) fn into_record(self) -> AuditRecord {
        let row_key = self.row_key();
        let context = self.context.unwrap_or_default();
        AuditRecord {
            seq: 0,
            recorded_at_us: self.recorded_at_us,
            actor: context.actor,
            trace_id: context.trace_id,
            request_id: context.request_id,
            operation: self.operation.to_owned(),
            table_name: self.table.map(str::to_owned),
            row_key,
            changes: self.changes,
            before_values: self.before_values,
            statement: self.statement,
            rows_affected: self.rows_affected,
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    /// The record's keys as stored in `row_key`.
    pub(crate) fn row_key(&self) -> Option<String> {
        self.keys.as_ref().map(|keys| {
            Json::Array(
                keys.iter()
                    .map(|key| Json::Array(key.iter().map(value_json).collect()))
                    .collect(),
            )
            .to_string()
        })
    }
}

impl Audit {
    /// `columns` as a JSON object, redacted columns replaced by [`REDACTED`].
    fn changes_json(
        &self,
        table: &str,
        columns: impl Iterator<Item = (&'static str, Value)>,
    ) -> String {
        let mut object = Map::new();
        for (column, value) in columns {
            let shown = if self.is_redacted(table, column) {
                Json::String(REDACTED.to_owned())
            } else {
                value_json(&value)
            };
            object.insert(column.to_owned(), shown);
        }
        Json::Object(object).to_string()
    }
}

/// The select of the rows an update or delete with `filter` writes, in key order, locked
/// until the transaction ends where the backend has row locks.
fn before_query(
    schema: &'static ModelSchema,
    filter: Option<&Condition>,
    backend: Backend,
) -> SelectQuery {
    let mut query = SelectQuery::new(schema, Projection::Model);
    query.filter = filter.cloned();
    query.order = schema
        .primary_key_columns()
        .map(|c| OrderBy::column(ColumnRef::new(schema.table, c.name), Direction::Asc))
        .collect();
    if let Backend::Sql(dialect) = backend
        && dialect.capabilities().row_locks
    {
        query.lock = Some(RowLock::ForUpdate);
    }
    // The write itself reads these rows however its backend can (DynamoDB: a scan for a
    // filter no key serves): the read before it must not be refused where the write is not.
    query.read.allow_scan = true;
    query
}

tokio::task_local! {
    /// The model whose rows [`decode_row`] reads.
    static READING: &'static ModelSchema;
}

/// Every column of a row of the task's [`READING`] model, as values.
fn decode_row(row: &RowRef<'_>) -> Result<Vec<Value>> {
    READING
        .try_with(|schema| crate::value::decode_columns(row, schema))
        .map_err(|_| {
            Error::InvalidQuery(
                "the audit layer decoded the rows before an update or delete outside its task \
                 (a driver that decodes on another task cannot report them)"
                    .to_owned(),
            )
        })?
}

/// Positions (in an insert row) of the primary-key columns, or `None` when the database
/// generates the key.
fn insert_key_positions(schema: &ModelSchema) -> Option<Vec<usize>> {
    let columns: Vec<&str> = schema.insert_columns().map(|c| c.name).collect();
    schema
        .primary_key_columns()
        .map(|key| columns.iter().position(|c| *c == key.name))
        .collect()
}

/// The keys a filter names: `key = v`, `key IN (...)`, or an AND holding `=` on every key
/// column (further conjuncts only narrow which of them matched). `None` for any other filter.
fn keys_in_filter(schema: &ModelSchema, filter: Option<&Condition>) -> Option<Vec<Vec<Value>>> {
    let key: Vec<&str> = schema.primary_key_columns().map(|c| c.name).collect();
    let on_key = |column: &crate::query::ir::ColumnRef| {
        column.table == schema.table && key.len() == 1 && key[0] == column.name
    };
    match filter? {
        Condition::Compare {
            column,
            op: CmpOp::Eq,
            value,
        } if on_key(column) && !value.is_null() => Some(vec![vec![value.clone()]]),
        Condition::InList {
            column,
            values,
            negated: false,
        } if on_key(column) => Some(values.iter().map(|v| vec![v.clone()]).collect()),
        Condition::And(conjuncts) => {
            let equal_to = |name: &str| {
                conjuncts.iter().find_map(|c| match c {
                    Condition::Compare {
                        column,
                        op: CmpOp::Eq,
                        value,
                    } if column.table == schema.table
                        && column.name == name
                        && !value.is_null() =>
                    {
                        Some(value.clone())
                    }
                    _ => None,
                })
            };
            let whole: Option<Vec<Value>> = key.iter().map(|name| equal_to(name)).collect();
            whole.map(|k| vec![k]).or_else(|| {
                conjuncts
                    .iter()
                    .find_map(|c| keys_in_filter(schema, Some(c)))
            })
        }
        _ => None,
    }
}

/// A value as JSON: numbers, strings, booleans and `null` as themselves, bytes as lowercase
/// hex, other types as their debug text.
pub(crate) fn value_json(value: &Value) -> Json {
    #[allow(unreachable_patterns)]
    match value {
        Value::Null(_) => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::SmallInt(n) => Json::from(*n),
        Value::Int(n) => Json::from(*n),
        Value::BigInt(n) => Json::from(*n),
        Value::BigUnsigned(n) => Json::from(*n),
        Value::Float(f) => Json::from(f64::from(*f)),
        Value::Double(f) => Json::from(*f),
        Value::Text(s) => Json::String(s.clone()),
        Value::Bytes(b) => Json::String(hex::encode(b)),
        other => Json::String(format!("{other:?}")),
    }
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// The decoder of a row being inserted, and the generated key read from that row.
pub(crate) struct KeyCapture {
    decode: Box<dyn Any + Send + Sync>,
    key: &'static ModelSchema,
    read: Mutex<Option<Vec<Value>>>,
}

tokio::task_local! {
    static CAPTURE: KeyCapture;
}

impl KeyCapture {
    /// Runs `insert` (an `insert_returning` of `decode_with_key::<T>`) so that the row it
    /// decodes also yields its key; returns the outcome and that key.
    pub(crate) async fn run<T: Send + 'static, F>(
        decode: Decoder<T>,
        schema: &'static ModelSchema,
        insert: impl FnOnce(Decoder<T>) -> F,
    ) -> (F::Output, Option<Vec<Value>>)
    where
        F: Future,
    {
        let capture = KeyCapture {
            decode: Box::new(decode),
            key: schema,
            read: Mutex::new(None),
        };
        CAPTURE
            .scope(capture, async {
                let output = insert(decode_with_key::<T>).await;
                let key = CAPTURE.with(|c| c.read.lock().map(|mut k| k.take()).ok().flatten());
                (output, key)
            })
            .await
    }
}

/// The caller's decoder (held by the task's [`KeyCapture`]), which also reads the row's
/// generated key: the one place an inserted row passes by on every backend.
fn decode_with_key<T: 'static>(row: &RowRef<'_>) -> Result<T> {
    CAPTURE
        .try_with(|capture| {
            let decode = capture.decode.downcast_ref::<Decoder<T>>().ok_or_else(|| {
                Error::InvalidQuery(
                    "the audit layer's key capture received a row of another type".to_owned(),
                )
            })?;
            let value = decode(row)?;
            let key: Option<Vec<Value>> = capture
                .key
                .primary_key
                .iter()
                .map(|&i| integer_at(row, i, capture.key.columns[i].ty))
                .collect();
            if let Ok(mut slot) = capture.read.lock() {
                *slot = key;
            }
            Ok(value)
        })
        .map_err(|_| {
            Error::InvalidQuery(
                "the audit layer decoded an inserted row outside its task (a driver that \
                 decodes on another task cannot report generated keys)"
                    .to_owned(),
            )
        })?
}

/// A generated (integer) key column of `row`; `None` for other types.
fn integer_at(row: &RowRef<'_>, index: usize, ty: ColumnType) -> Option<Value> {
    match ty {
        ColumnType::SmallInt => i16::decode_nullable(row, index).ok()?.map(Value::SmallInt),
        ColumnType::Int => i32::decode_nullable(row, index).ok()?.map(Value::Int),
        ColumnType::BigInt => i64::decode_nullable(row, index).ok()?.map(Value::BigInt),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::ir::ColumnRef;
    use crate::schema::ColumnSchema;

    static COLUMNS: [ColumnSchema; 1] = [ColumnSchema {
        auto_increment: true,
        ..ColumnSchema::plain("id", ColumnType::BigInt, false, true)
    }];
    static SCHEMA: ModelSchema = ModelSchema {
        name: "T",
        table: "t",
        columns: &COLUMNS,
        primary_key: &[0],
        indexes: &[],
        foreign_keys: &[],
        checks: &[],
        renamed_from: None,
        shard_key: None,
        soft_delete: None,
    };

    fn id_is(op: CmpOp, value: i64) -> Condition {
        Condition::Compare {
            column: ColumnRef::new("t", "id"),
            op,
            value: Value::BigInt(value),
        }
    }

    #[test]
    fn keys_are_read_from_filters_that_name_them_and_only_those() {
        let key = |n| vec![Value::BigInt(n)];
        assert_eq!(
            keys_in_filter(&SCHEMA, Some(&id_is(CmpOp::Eq, 7))),
            Some(vec![key(7)])
        );
        let list = Condition::InList {
            column: ColumnRef::new("t", "id"),
            values: vec![Value::BigInt(1), Value::BigInt(2)],
            negated: false,
        };
        assert_eq!(
            keys_in_filter(&SCHEMA, Some(&list)),
            Some(vec![key(1), key(2)])
        );
        let narrowed = Condition::And(vec![id_is(CmpOp::Eq, 3), id_is(CmpOp::Gt, 0)]);
        assert_eq!(keys_in_filter(&SCHEMA, Some(&narrowed)), Some(vec![key(3)]));
        assert_eq!(keys_in_filter(&SCHEMA, Some(&id_is(CmpOp::Gt, 3))), None);
        assert_eq!(keys_in_filter(&SCHEMA, None), None);
        let either = Condition::Or(vec![id_is(CmpOp::Eq, 1), id_is(CmpOp::Eq, 2)]);
        assert_eq!(keys_in_filter(&SCHEMA, Some(&either)), None);
    }
}
