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

use bson::{Bson, Document, RawDocumentBuf, doc};
use mongodb::options::{
    ClientOptions, CountOptions, FindOptions, IndexOptions, ReadConcern, ReturnDocument,
    TransactionOptions,
};
use mongodb::{Client, ClientSession, Database, IndexModel};

pub(crate) use errors::from_mongo;
pub use row::DocumentRow;

use super::{Decoder, ExecResult, RowRef};
use crate::error::{Error, Result};
use crate::mongo::{
    CountPlan, FindPlan, ID_FIELD, SelectPlan, count_plan, delete_filter, index_plans,
    insert_documents, select_plan, update_plan, validator,
};
use crate::query::ir::{InsertQuery, SelectQuery, Statement};
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
    /// Connects to `url`; the database is the URL's path (`mongodb://host/db`), or
    /// [`DEFAULT_DATABASE`]. Checks that the server answers `ping`.
    pub(crate) async fn connect(
        url: &str,
        max_connections: u32,
        min_connections: u32,
        acquire_timeout: std::time::Duration,
    ) -> Result<MongoPool> {
        let mut options = ClientOptions::parse(url)
            .await
            .map_err(|e| from_mongo(e, None))?;
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

/// Runs a `find` and decodes every document (at most `max`).
async fn run_find<T>(
    target: Target<'_>,
    schema: &'static ModelSchema,
    plan: FindPlan,
    decode: Decoder<T>,
) -> Result<Vec<T>> {
    let coll = target.database.collection::<RawDocumentBuf>(schema.table);
    let mut options = FindOptions::default();
    options.sort = plan.sort;
    options.skip = plan.skip;
    options.limit = plan.limit;
    options.projection = Some(plan.projection);
    let find = coll.find(plan.filter).with_options(options);
    let map = |e| from_mongo(e, Some(schema));
    let mut out = Vec::new();
    match target.session {
        None => {
            let mut cursor = find.await.map_err(map)?;
            while cursor.advance().await.map_err(map)? {
                out.push(decode(&RowRef::Document(DocumentRow::new(
                    cursor.current(),
                    schema,
                )))?);
            }
        }
        Some(session) => {
            let mut cursor = find.session(&mut *session).await.map_err(map)?;
            while cursor.advance(&mut *session).await.map_err(map)? {
                out.push(decode(&RowRef::Document(DocumentRow::new(
                    cursor.current(),
                    schema,
                )))?);
            }
        }
    }
    Ok(out)
}

fn find_of(query: &SelectQuery) -> Result<FindPlan> {
    match select_plan(query)? {
        SelectPlan::Find(plan) | SelectPlan::Exists(plan) => Ok(plan),
        SelectPlan::Count(_) => Err(Error::InvalidQuery(format!(
            "a count of `{}` returns a number, not rows; use `count()`",
            query.schema.table
        ))),
    }
}

/// Runs a select and decodes every document.
pub(crate) async fn fetch_all<T>(
    mut target: Target<'_>,
    mut query: SelectQuery,
    decode: Decoder<T>,
) -> Result<Vec<T>> {
    subquery::resolve_select(&mut target, &mut query).await?;
    let plan = find_of(&query)?;
    run_find(target, query.schema, plan, decode).await
}

/// Runs a select and decodes the first document, if any.
pub(crate) async fn fetch_optional<T>(
    mut target: Target<'_>,
    mut query: SelectQuery,
    decode: Decoder<T>,
) -> Result<Option<T>> {
    subquery::resolve_select(&mut target, &mut query).await?;
    let mut plan = find_of(&query)?;
    plan.limit = Some(plan.limit.map_or(1, |l| l.min(1)));
    Ok(run_find(target, query.schema, plan, decode)
        .await?
        .into_iter()
        .next())
}

/// Counts the documents a select matches, after its skip and limit.
pub(crate) async fn count(mut target: Target<'_>, mut query: SelectQuery) -> Result<u64> {
    subquery::resolve_select(&mut target, &mut query).await?;
    let schema = query.schema;
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

/// Runs an insert (`insert_many`; nothing for no rows), update (`update_many`, matched count)
/// or delete (`delete_many`).
pub(crate) async fn execute(
    mut target: Target<'_>,
    mut statement: Statement,
) -> Result<ExecResult> {
    subquery::resolve_statement(&mut target, &mut statement).await?;
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
        Statement::Upsert(query) => {
            return Err(Error::InvalidQuery(format!(
                "upsert into `{}` is not supported on MongoDB yet (issue 6); insert, or update by key",
                query.insert.schema.table
            )));
        }
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
