//! The MongoDB side of the executor seam: IR statements are compiled by [`crate::mongo`] and
//! run through the official driver; documents are decoded straight from the driver's raw
//! bytes ([`DocumentRow`]).
//!
//! # Auto-increment keys
//!
//! MongoDB has no sequences. An `auto_increment` key takes its values from the
//! `__orm_counters` collection of the same database: one document per collection,
//! `{_id: "<collection>", seq: <last value>}`, advanced atomically with
//! `findOneAndUpdate({_id}, {$inc: {seq: n}}, upsert, returnDocument: after)` (one call per
//! insert, reserving `n` values for an `insert_many` of `n` rows). Like a SQL sequence, the
//! counter runs outside any transaction (a rolled-back insert leaves a gap, and concurrent
//! transactions never conflict on it); `drop_table` removes it.

mod errors;
mod row;
mod subquery;
mod types;

use bson::{Bson, Document, RawDocumentBuf, doc};
use mongodb::options::{
    ClientOptions, CountOptions, FindOptions, IndexOptions, ReadConcern, ReturnDocument,
    TransactionOptions,
};
use mongodb::{Client, ClientSession, Database, IndexModel};

pub(crate) use errors::from_mongo;
pub use row::DocumentRow;
pub(crate) use row::FromBson;

use super::stream::next;
use super::{Decoder, ExecResult, RowRef, RowStream};
use crate::error::{Error, Result};
use crate::mongo::{
    AggregatePlan, CountPlan, FindPlan, ID_FIELD, SelectPlan, count_plan, delete_filter,
    index_plans, insert_documents, select_plan, update_plan, upsert_statements, validator,
};
use crate::query::ir::{InsertQuery, Projection, SelectQuery, Statement, UpsertQuery};
use crate::schema::{ColumnType, ModelSchema};
use crate::value::Value;

/// The collection holding the auto-increment counters (see the module docs).
pub const COUNTERS_COLLECTION: &str = "__orm_counters";

/// The database used when a `mongodb://` URL names none.
pub const DEFAULT_DATABASE: &str = "test";

/// A driver client (itself a connection pool) and the database of the URL.
#[derive(Clone, Debug)]
pub(crate) struct MongoPool {
    pub(crate) client: Client,
    pub(crate) database: Database,
    max_connections: u32,
}

impl MongoPool {
    /// Connects with `options` (read from the URL, with TLS and credentials applied); the
    /// database is the URL's path (`mongodb://host/db`), or
    /// [`DEFAULT_DATABASE`]. Checks that the server answers `ping`.
    pub(crate) async fn connect(
        mut options: ClientOptions,
        max_connections: u32,
        min_connections: u32,
        acquire_timeout: std::time::Duration,
    ) -> Result<MongoPool> {
        options.max_pool_size = Some(max_connections);
        options.min_pool_size = Some(min_connections);
        options.server_selection_timeout = Some(acquire_timeout);
        let name = options
            .default_database
            .clone()
            .unwrap_or_else(|| DEFAULT_DATABASE.to_owned());
        let client = Client::with_options(options).map_err(|e| from_mongo(e, None))?;
        let database = client.database(&name);
        database
            .run_command(doc! { "ping": 1 })
            .await
            .map_err(|e| from_mongo(e, None))?;
        Ok(MongoPool {
            client,
            database,
            max_connections,
        })
    }

    /// Pings the server (see [`crate::Db::health`]).
    pub(crate) async fn health(&self) -> Result<crate::exec::Health> {
        let started = std::time::Instant::now();
        self.database
            .run_command(doc! { "ping": 1 })
            .await
            .map_err(|e| from_mongo(e, None))?;
        Ok(crate::exec::Health {
            latency: started.elapsed(),
            connections: 0,
            idle: 0,
            max_connections: self.max_connections,
        })
    }

    /// Creates `schema`'s collection with its `$jsonSchema` validator, unless it exists, and
    /// its indexes (see [`crate::mongo::validator`] and [`crate::mongo::index_plans`]).
    pub(crate) async fn ensure_schema(&self, schema: &'static ModelSchema) -> Result<()> {
        let validator = validator(schema)?;
        let created = self
            .database
            .create_collection(schema.table)
            .validator(validator)
            .await;
        match created {
            Err(e)
                if errors::code_and_message(&e).map(|c| c.0) == Some(errors::NAMESPACE_EXISTS) => {}
            other => other.map_err(|e| from_mongo(e, Some(schema)))?,
        }
        let models: Vec<IndexModel> = index_plans(schema)?
            .into_iter()
            .map(|plan| {
                IndexModel::builder()
                    .keys(plan.keys)
                    .options(
                        IndexOptions::builder()
                            .name(plan.name.to_owned())
                            .unique(plan.unique)
                            .partial_filter_expression(plan.partial_filter)
                            .build(),
                    )
                    .build()
            })
            .collect();
        if !models.is_empty() {
            self.database
                .collection::<Document>(schema.table)
                .create_indexes(models)
                .await
                .map_err(|e| from_mongo(e, Some(schema)))?;
        }
        Ok(())
    }

    /// Drops `schema`'s collection (if it exists) and its auto-increment counter.
    pub(crate) async fn drop_collection(&self, schema: &'static ModelSchema) -> Result<()> {
        match self
            .database
            .collection::<Document>(schema.table)
            .drop()
            .await
        {
            Err(e)
                if errors::code_and_message(&e).map(|c| c.0)
                    == Some(errors::NAMESPACE_NOT_FOUND) => {}
            other => other.map_err(|e| from_mongo(e, Some(schema)))?,
        }
        self.database
            .collection::<Document>(COUNTERS_COLLECTION)
            .delete_one(doc! { ID_FIELD: schema.table })
            .await
            .map_err(|e| from_mongo(e, Some(schema)))?;
        Ok(())
    }

    /// Starts a session with a transaction (see [`crate::TxOptions`] for what MongoDB offers).
    pub(crate) async fn begin(&self, options: crate::exec::TxOptions) -> Result<ClientSession> {
        let read_concern = options.mongo_read_concern()?;
        let mut session = self
            .client
            .start_session()
            .await
            .map_err(|e| from_mongo(e, None))?;
        let mut tx_options = TransactionOptions::default();
        tx_options.read_concern = read_concern;
        session
            .start_transaction()
            .with_options(tx_options)
            .await
            .map_err(|e| from_mongo(e, None))?;
        Ok(session)
    }
}

/// A transaction in progress: the session that carries it and the database it runs on.
pub(crate) struct MongoTx {
    pub(crate) session: ClientSession,
    pub(crate) database: Database,
}

impl MongoTx {
    /// Commits or aborts the transaction.
    pub(crate) async fn finish(mut self, commit: bool) -> Result<()> {
        let done = if commit {
            self.session.commit_transaction().await
        } else {
            self.session.abort_transaction().await
        };
        done.map_err(|e| from_mongo(e, None))
    }
}

/// Where an operation runs: on the pool, or in a transaction's session.
pub(crate) struct Target<'a> {
    pub(crate) database: &'a Database,
    pub(crate) session: Option<&'a mut ClientSession>,
}

impl<'a> Target<'a> {
    /// The same target for one more operation (a transaction's session is lent, not moved).
    pub(crate) fn reborrow(&mut self) -> Target<'_> {
        Target {
            database: self.database,
            session: self.session.as_deref_mut(),
        }
    }

    /// An operation outside any transaction.
    pub(crate) fn pool(pool: &'a MongoPool) -> Self {
        Target {
            database: &pool.database,
            session: None,
        }
    }

    /// An operation inside `tx`.
    pub(crate) fn tx(tx: &'a mut MongoTx) -> Self {
        Target {
            database: &tx.database,
            session: Some(&mut tx.session),
        }
    }
}

/// Runs a `find`, handing over each document decoded as the cursor reads it.
fn find_stream<'a, T: Send + 'static>(
    target: Target<'a>,
    schema: &'static ModelSchema,
    plan: FindPlan,
    decode: Decoder<T>,
) -> RowStream<'a, T> {
    Box::pin(async_stream::try_stream! {
        let coll = target.database.collection::<RawDocumentBuf>(schema.table);
        let mut options = FindOptions::default();
        options.sort = plan.sort;
        options.skip = plan.skip;
        options.limit = plan.limit;
        options.projection = Some(plan.projection);
        let find = coll.find(plan.filter).with_options(options);
        let map = |e| from_mongo(e, Some(schema));
        match target.session {
            None => {
                let mut cursor = find.await.map_err(map)?;
                while cursor.advance().await.map_err(map)? {
                    let row = decode_document(decode, DocumentRow::new(cursor.current(), schema))?;
                    yield row;
                }
            }
            Some(session) => {
                let mut cursor = find.session(&mut *session).await.map_err(map)?;
                while cursor.advance(&mut *session).await.map_err(map)? {
                    let row = decode_document(decode, DocumentRow::new(cursor.current(), schema))?;
                    yield row;
                }
            }
        }
    })
}

/// Runs a `find` and decodes every document.
async fn run_find<T: Send + 'static>(
    target: Target<'_>,
    schema: &'static ModelSchema,
    plan: FindPlan,
    decode: Decoder<T>,
) -> Result<Vec<T>> {
    collect(find_stream(target, schema, plan, decode)).await
}

/// Every row of `rows`.
async fn collect<T>(mut rows: RowStream<'_, T>) -> Result<Vec<T>> {
    let mut out = Vec::new();
    while let Some(row) = next(&mut rows).await {
        out.push(row?);
    }
    Ok(out)
}

/// How the documents of a pipeline read as rows.
#[derive(Clone, Copy)]
enum Shape {
    /// Pairs of a join: the model's fields, the joined model's under `JOINED_FIELD`.
    Joined(&'static ModelSchema, &'static ModelSchema),
    /// Selected values at `OUTPUT_FIELDS`.
    Output,
}

impl Shape {
    fn row(self, doc: &bson::RawDocument) -> DocumentRow<'_> {
        match self {
            Shape::Joined(model, joined) => DocumentRow::joined(doc, model, joined),
            Shape::Output => DocumentRow::output(doc),
        }
    }
}

/// Runs an `aggregate` pipeline on `schema`'s collection, handing over each document decoded
/// as the cursor reads it; `empty_row` (if any) is handed over when the pipeline returned none.
fn aggregate_stream<'a, T: Send + 'static>(
    target: Target<'a>,
    schema: &'static ModelSchema,
    pipeline: Vec<Document>,
    shape: Shape,
    empty_row: Option<Document>,
    decode: Decoder<T>,
) -> RowStream<'a, T> {
    Box::pin(async_stream::try_stream! {
        let coll = target.database.collection::<Document>(schema.table);
        let aggregate = coll.aggregate(pipeline);
        let map = |e| from_mongo(e, Some(schema));
        let mut any = false;
        match target.session {
            None => {
                let mut cursor = aggregate.await.map_err(map)?;
                while cursor.advance().await.map_err(map)? {
                    any = true;
                    let row = decode_document(decode, shape.row(cursor.current()))?;
                    yield row;
                }
            }
            Some(session) => {
                let mut cursor = aggregate.session(&mut *session).await.map_err(map)?;
                while cursor.advance(&mut *session).await.map_err(map)? {
                    any = true;
                    let row = decode_document(decode, shape.row(cursor.current()))?;
                    yield row;
                }
            }
        }
        if let Some(empty) = empty_row.filter(|_| !any) {
            // `$group` by `null` over no document: SQL's one row of COUNT 0 and NULLs.
            let raw = RawDocumentBuf::try_from(&empty)
                .map_err(|e| Error::InvalidQuery(e.to_string()))?;
            let row = decode_document(decode, DocumentRow::output(&raw))?;
            yield row;
        }
    })
}

/// Runs an `aggregate` pipeline on `schema`'s collection and decodes every document.
async fn run_aggregate<T: Send + 'static>(
    target: Target<'_>,
    schema: &'static ModelSchema,
    pipeline: Vec<Document>,
    shape: Shape,
    decode: Decoder<T>,
) -> Result<Vec<T>> {
    collect(aggregate_stream(
        target, schema, pipeline, shape, None, decode,
    ))
    .await
}

/// The rows of a select (`one`: at most one, for `fetch_optional`).
fn select_stream<'a, T: Send + 'static>(
    target: Target<'a>,
    query: SelectQuery,
    decode: Decoder<T>,
    one: bool,
) -> Result<RowStream<'a, T>> {
    let schema = query.schema;
    let limit_one = |pipeline: &mut Vec<Document>| {
        if one {
            pipeline.push(doc! { "$limit": 1 });
        }
    };
    Ok(match select_plan(&query)? {
        SelectPlan::Find(mut plan) | SelectPlan::Exists(mut plan) => {
            if one {
                plan.limit = Some(plan.limit.map_or(1, |l| l.min(1)));
            }
            find_stream(target, schema, plan, decode)
        }
        SelectPlan::Join(mut pipeline) => {
            let joined = query.joins[0].schema;
            limit_one(&mut pipeline);
            let shape = Shape::Joined(schema, joined);
            aggregate_stream(target, schema, pipeline, shape, None, decode)
        }
        SelectPlan::Aggregate(AggregatePlan {
            mut pipeline,
            empty_row,
        }) => {
            limit_one(&mut pipeline);
            aggregate_stream(target, schema, pipeline, Shape::Output, empty_row, decode)
        }
        SelectPlan::Count(_) | SelectPlan::JoinCount(_) => {
            return Err(Error::InvalidQuery(format!(
                "a count of `{}` returns a number, not rows; use `count()`",
                schema.table
            )));
        }
    })
}

/// Runs a select that returns rows (`one`: at most one, for `fetch_optional`).
async fn fetch<T: Send + 'static>(
    target: Target<'_>,
    query: SelectQuery,
    decode: Decoder<T>,
    one: bool,
) -> Result<Vec<T>> {
    collect(select_stream(target, query, decode, one)?).await
}

/// Runs a select and hands over each document decoded as the cursor reads it.
pub(crate) fn fetch_stream<T: Send + 'static>(
    mut target: Target<'_>,
    mut query: SelectQuery,
    decode: Decoder<T>,
) -> RowStream<'_, T> {
    Box::pin(async_stream::try_stream! {
        subquery::resolve_select(&mut target, &mut query).await?;
        let mut rows = select_stream(target, query, decode, false)?;
        while let Some(row) = next(&mut rows).await {
            yield row?;
        }
    })
}

/// Runs a select and decodes every document.
pub(crate) async fn fetch_all<T: Send + 'static>(
    mut target: Target<'_>,
    mut query: SelectQuery,
    decode: Decoder<T>,
) -> Result<Vec<T>> {
    subquery::resolve_select(&mut target, &mut query).await?;
    fetch(target, query, decode, false).await
}

/// Runs a select and decodes the first document, if any.
pub(crate) async fn fetch_optional<T: Send + 'static>(
    mut target: Target<'_>,
    mut query: SelectQuery,
    decode: Decoder<T>,
) -> Result<Option<T>> {
    subquery::resolve_select(&mut target, &mut query).await?;
    Ok(fetch(target, query, decode, true).await?.into_iter().next())
}

/// Counts the documents a select matches, after its skip and limit.
pub(crate) async fn count(mut target: Target<'_>, mut query: SelectQuery) -> Result<u64> {
    subquery::resolve_select(&mut target, &mut query).await?;
    let schema = query.schema;
    if !query.joins.is_empty() {
        let mut counted = query.clone();
        counted.projection = Projection::Count;
        let SelectPlan::JoinCount(pipeline) = select_plan(&counted)? else {
            unreachable!("a counted join compiles to a counting pipeline")
        };
        let decode: Decoder<i64> = |row| {
            <i64 as crate::value::SqlType>::decode_nullable(row, 0).map(Option::unwrap_or_default)
        };
        let shape = Shape::Output;
        let n = run_aggregate(target, schema, rename_count(pipeline), shape, decode).await?;
        return Ok(n.first().map_or(0, |&n| n.unsigned_abs()));
    }
    let CountPlan {
        filter,
        skip,
        limit,
    } = count_plan(&query)?;
    let mut options = CountOptions::default();
    options.skip = skip;
    options.limit = limit;
    let coll = target.database.collection::<Document>(schema.table);
    let action = coll.count_documents(filter).with_options(options);
    let counted = match target.session {
        None => action.await,
        Some(session) => action.session(session).await,
    };
    counted.map_err(|e| from_mongo(e, Some(schema)))
}

/// The counting pipeline with its count at the first output field, so that it decodes by
/// position.
fn rename_count(mut pipeline: Vec<Document>) -> Vec<Document> {
    pipeline.push(doc! { "$project": { crate::mongo::OUTPUT_FIELDS[0]: "$n" } });
    pipeline
}

/// Reserves `n` values of `schema`'s auto-increment counter; returns the first.
async fn reserve_keys(database: &Database, schema: &'static ModelSchema, n: usize) -> Result<i64> {
    let n = i64::try_from(n).map_err(|_| Error::InvalidQuery("too many rows".to_owned()))?;
    let counter = database
        .collection::<Document>(COUNTERS_COLLECTION)
        .find_one_and_update(
            doc! { ID_FIELD: schema.table },
            doc! { "$inc": { "seq": n } },
        )
        .upsert(true)
        .return_document(ReturnDocument::After)
        .await
        .map_err(|e| from_mongo(e, Some(schema)))?
        .ok_or_else(|| {
            Error::InvalidQuery(format!("no counter document for `{}`", schema.table))
        })?;
    let last = match counter.get("seq") {
        Some(Bson::Int64(i)) => *i,
        Some(Bson::Int32(i)) => i64::from(*i),
        other => {
            return Err(Error::InvalidQuery(format!(
                "the counter of `{}` in `{COUNTERS_COLLECTION}` is not an integer: {other:?}",
                schema.table
            )));
        }
    };
    Ok(last - n + 1)
}

/// The documents of an insert, with keys from the counter for an auto-increment key.
async fn documents(database: &Database, query: &InsertQuery) -> Result<Vec<Document>> {
    let schema = query.schema;
    let mut docs = insert_documents(query)?;
    let Some(auto) = schema.auto_increment_column() else {
        return Ok(docs);
    };
    if docs.is_empty() {
        return Ok(docs);
    }
    let first = reserve_keys(database, schema, docs.len()).await?;
    for (i, doc) in docs.iter_mut().enumerate() {
        let id = first + i64::try_from(i).unwrap_or(i64::MAX);
        let value = match auto.ty {
            ColumnType::BigInt => Value::BigInt(id),
            ColumnType::Int => Value::Int(i32::try_from(id).map_err(|_| key_overflow(schema))?),
            _ => Value::SmallInt(i16::try_from(id).map_err(|_| key_overflow(schema))?),
        };
        let mut with_id = doc! { ID_FIELD: crate::mongo::to_bson(&value) };
        with_id.extend(std::mem::take(doc));
        *doc = with_id;
    }
    Ok(docs)
}

fn key_overflow(schema: &ModelSchema) -> Error {
    Error::InvalidQuery(format!(
        "the auto-increment key of `{}` overflowed its type; use an `i64` key",
        schema.table
    ))
}

/// Inserts one document and decodes it as stored (MongoDB stores exactly what was sent).
pub(crate) async fn insert_returning<T>(
    target: Target<'_>,
    query: InsertQuery,
    decode: Decoder<T>,
) -> Result<T> {
    let schema = query.schema;
    crate::sql::fit::insert(&query, None)?;
    let mut docs = documents(target.database, &query).await?;
    let (Some(doc), true) = (docs.pop(), docs.is_empty()) else {
        return Err(Error::InvalidQuery(format!(
            "insert into `{}` must have exactly one row to return it",
            schema.table
        )));
    };
    let raw = RawDocumentBuf::try_from(&doc).map_err(|e| Error::InvalidQuery(e.to_string()))?;
    let coll = target.database.collection::<Document>(schema.table);
    let action = coll.insert_one(doc);
    let done = match target.session {
        None => action.await,
        Some(session) => action.session(session).await,
    };
    done.map_err(|e| from_mongo(e, Some(schema)))?;
    decode(&RowRef::Document(DocumentRow::new(&raw, schema)))
}

/// Decodes one document; the borrowed row ends here, so that a stream holds no `RowRef`
/// (not `Send` with the SQLite driver's row in it) across its `yield`.
fn decode_document<T>(decode: Decoder<T>, row: DocumentRow<'_>) -> Result<T> {
    decode(&RowRef::Document(row))
}

/// Runs an insert (`insert_many`; nothing for no rows), update (`update_many`, matched count)
/// or delete (`delete_many`).
pub(crate) async fn execute(
    mut target: Target<'_>,
    mut statement: Statement,
) -> Result<ExecResult> {
    subquery::resolve_statement(&mut target, &mut statement).await?;
    crate::sql::fit::check(&statement, None)?;
    let rows_affected = match statement {
        Statement::Insert(query) => {
            let schema = query.schema;
            let docs = documents(target.database, &query).await?;
            if docs.is_empty() {
                return Ok(ExecResult::default());
            }
            let coll = target.database.collection::<Document>(schema.table);
            let action = coll.insert_many(docs);
            let done = match target.session {
                None => action.await,
                Some(session) => action.session(session).await,
            };
            done.map_err(|e| from_mongo(e, Some(schema)))?
                .inserted_ids
                .len() as u64
        }
        Statement::Update(query) => {
            let schema = query.schema;
            let plan = update_plan(&query)?;
            let coll = target.database.collection::<Document>(schema.table);
            let action = coll.update_many(plan.filter, plan.update);
            let done = match target.session {
                None => action.await,
                Some(session) => action.session(session).await,
            };
            done.map_err(|e| from_mongo(e, Some(schema)))?.matched_count
        }
        Statement::Delete(query) => {
            let schema = query.schema;
            let filter = delete_filter(&query)?;
            let coll = target.database.collection::<Document>(schema.table);
            let action = coll.delete_many(filter);
            let done = match target.session {
                None => action.await,
                Some(session) => action.session(session).await,
            };
            done.map_err(|e| from_mongo(e, Some(schema)))?.deleted_count
        }
        Statement::Upsert(query) => upsert(target, &query).await?,
        Statement::Select(query) => {
            return Err(Error::InvalidQuery(format!(
                "a select of `{}` returns rows; use `fetch_all`/`count`, not `execute`",
                query.schema.table
            )));
        }
    };
    Ok(ExecResult {
        rows_affected,
        last_insert_id: None,
    })
}

/// Statements per `update` command of an upsert (far below the server's 100,000 and 16 MB).
const UPSERT_BATCH: usize = 1_000;

/// Runs an upsert as `update` commands of [`crate::mongo::upsert_statements`]; returns the
/// number of documents matched or inserted.
async fn upsert(target: Target<'_>, query: &UpsertQuery) -> Result<u64> {
    let schema = query.insert.schema;
    let docs = documents(target.database, &query.insert).await?;
    let statements = upsert_statements(query, docs)?;
    let mut session = target.session;
    let mut written = 0;
    for chunk in statements.chunks(UPSERT_BATCH) {
        let command = doc! { "update": schema.table, "updates": chunk, "ordered": true };
        let action = target.database.run_command(command);
        let reply = match session.as_deref_mut() {
            None => action.await,
            Some(session) => action.session(session).await,
        }
        .map_err(|e| from_mongo(e, Some(schema)))?;
        // Write errors come inside the reply, not as a command failure.
        if let Ok(errors) = reply.get_array("writeErrors")
            && let Some(Bson::Document(first)) = errors.first()
        {
            let code = first.get_i32("code").unwrap_or_default();
            let message = first.get_str("errmsg").unwrap_or_default();
            return Err(errors::from_write_error(code, message, Some(schema)));
        }
        written += match reply.get("n") {
            Some(Bson::Int32(n)) => u64::try_from(*n).unwrap_or_default(),
            Some(Bson::Int64(n)) => u64::try_from(*n).unwrap_or_default(),
            _ => 0,
        };
    }
    Ok(written)
}

/// SQL text cannot run on MongoDB.
pub(crate) fn execute_raw(sql: &str) -> Result<ExecResult> {
    let shown: String = sql.chars().take(60).collect();
    Err(Error::InvalidQuery(format!(
        "raw SQL on MongoDB: `{shown}` cannot run on a MongoDB database; use the typed query builder (or the `mongodb` driver directly for commands)"
    )))
}

impl crate::exec::TxOptions {
    /// The read concern of a MongoDB transaction with these options.
    fn mongo_read_concern(self) -> Result<Option<ReadConcern>> {
        use crate::exec::IsolationLevel;
        if self.is_read_only() {
            return Err(Error::Config(
                "MongoDB has no read-only transactions; run the reads without `read_only()`"
                    .to_owned(),
            ));
        }
        match self.isolation_level() {
            None => Ok(None),
            Some(IsolationLevel::ReadCommitted) => Ok(Some(ReadConcern::majority())),
            Some(IsolationLevel::RepeatableRead) => Ok(Some(ReadConcern::snapshot())),
            Some(IsolationLevel::Serializable) => Err(Error::Config(
                "MongoDB transactions are snapshot-isolated, not serializable; use \
                 `IsolationLevel::RepeatableRead` (snapshot read concern): write conflicts then \
                 fail with `Error::SerializationFailure`, which `transaction_with_retry` retries"
                    .to_owned(),
            )),
        }
    }
}
