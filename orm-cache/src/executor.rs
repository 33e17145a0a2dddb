//! [`CachedDb`]: an [`Executor`] that answers reads from the cache and invalidates on writes.

use std::any::Any;
use std::future::Future;
use std::time::Duration;

use orm_core::exec::Decoder;
use orm_core::exec::cached::{CachedRow, Slot, read_statement};
use orm_core::query::ir::{InsertQuery, Projection, SelectQuery, Statement};
use orm_core::{Backend, Compiled, ExecResult, Executor, FieldType, Result, RowRef, Value};

use crate::cache::{ALL, Cache, Lookup, tag_name};
use crate::key::{Key, Read};
use crate::scope;

/// A database handle whose reads go through a [`Cache`]; get one with [`Cache::wrap`].
///
/// Reads are cached when they opt in ([`CacheExt::cached`](crate::CacheExt::cached),
/// [`CachedDb::cached`]) or when their model has a default TTL
/// ([`CacheBuilder::model_ttl`](crate::CacheBuilder::model_ttl)); other reads go straight to
/// the database. Every write (insert, update, delete, upsert, `insert_returning`) invalidates
/// its table once it has succeeded; raw SQL statements invalidate every entry unless run with
/// [`execute_raw_for`](CachedDb::execute_raw_for) or
/// [`execute_compiled_for`](CachedDb::execute_compiled_for), which name their tables.
///
/// Wrap a pool: for transactions use [`CachedDb::begin`], whose writes invalidate on commit.
/// Raw selects (`fetch_compiled`) are never cached. MongoDB reads are cached like SQL ones
/// (keyed by the compiled BSON plan), except those with subqueries (`in_subquery`, a
/// relation's `exists`), which run as several reads and go straight to the database.
#[derive(Clone)]
pub struct CachedDb<E> {
    pub(crate) cache: Cache,
    pub(crate) db: E,
}

impl<E: std::fmt::Debug> std::fmt::Debug for CachedDb<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedDb")
            .field("db", &self.db)
            .field("cache", &self.cache)
            .finish()
    }
}

impl<E: Executor> CachedDb<E> {
    pub(crate) fn new(cache: Cache, db: E) -> Self {
        CachedDb { cache, db }
    }

    /// The cache.
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// The wrapped database (reads and writes on it bypass the cache, and its writes do not
    /// invalidate).
    pub fn inner(&self) -> &E {
        &self.db
    }

    /// An executor over this handle that caches every select for `ttl` (any query builder
    /// runs on it: joins, aggregates, relations).
    pub fn cached(&self, ttl: Duration) -> CacheView<'_, E> {
        CacheView {
            db: self,
            ttl: Some(ttl),
            tags: Vec::new(),
        }
    }

    /// Runs raw SQL that writes `tables`, then invalidates them (instead of everything).
    pub async fn execute_raw_for(&self, sql: &str, tables: &[&str]) -> Result<ExecResult> {
        let done = self.db.execute_raw(sql).await?;
        self.invalidate(tables_named(tables)).await;
        Ok(done)
    }

    /// Runs a compiled statement that writes `tables`, then invalidates them.
    pub async fn execute_compiled_for(
        &self,
        statement: Compiled,
        tables: &[&str],
    ) -> Result<ExecResult> {
        let done = self.db.execute_compiled(statement).await?;
        self.invalidate(tables_named(tables)).await;
        Ok(done)
    }

    async fn invalidate(&self, names: Vec<String>) {
        self.cache.core.invalidate(&names).await;
    }

    fn view(&self) -> CacheView<'_, E> {
        CacheView {
            db: self,
            ttl: None,
            tags: Vec::new(),
        }
    }
}

/// Every generation of `tables` (raw SQL names tables, not rows).
fn tables_named(tables: &[&str]) -> Vec<String> {
    tables.iter().flat_map(|t| scope::whole_table(t)).collect()
}

/// A [`CachedDb`] with a TTL (and tags) for every select run on it; see [`CachedDb::cached`].
pub struct CacheView<'a, E> {
    db: &'a CachedDb<E>,
    ttl: Option<Duration>,
    tags: Vec<String>,
}

impl<E> std::fmt::Debug for CacheView<'_, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheView")
            .field("ttl", &self.ttl)
            .field("tags", &self.tags)
            .finish()
    }
}

impl<E: Executor> CacheView<'_, E> {
    /// Tags the entries read through this view, for [`Cache::invalidate_tag`].
    pub fn tag(mut self, tag: impl AsRef<str>) -> Self {
        self.tags.push(tag_name(tag.as_ref()));
        self
    }

    /// The TTL of `query`, or `None` when it is not cached.
    fn ttl_of(&self, query: &SelectQuery) -> Option<Duration> {
        if query.lock.is_some() {
            return None;
        }
        self.ttl
            .or_else(|| self.db.cache.core.model_ttl(query.schema.table))
    }

    /// Tables (or rows), tags and the global generation an entry of `query` depends on,
    /// sorted.
    fn names(&self, query: &SelectQuery) -> Vec<String> {
        // Every table read, the joined one and those of subqueries included, or the rows
        // of its own table the query pins.
        let mut names = vec![ALL.to_owned()];
        names.extend(scope::read(query));
        names.extend(self.tags.iter().cloned());
        names.sort();
        names.dedup();
        names
    }

    /// Runs `query` through the cache when it is cached, loading misses with `load`;
    /// `Ok(None)` when it is not cached (or does not compile, which the database path then
    /// reports, or is a MongoDB read with subqueries, which has no single plan to key).
    async fn read<T, F, Fut>(
        &self,
        query: &SelectQuery,
        read: Read,
        decode: Decoder<T>,
        load: F,
    ) -> Result<Option<Vec<T>>>
    where
        T: Send,
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Vec<(T, CachedRow)>>> + Send,
    {
        let Some(ttl) = self.ttl_of(query) else {
            return Ok(None);
        };
        let backend = self.db.db.backend();
        // SQL text and values, or MongoDB's BSON plan with its values and collection.
        let compiled = if read == Read::Count {
            let mut counted = query.clone();
            counted.projection = Projection::Count;
            read_statement(&counted, backend)
        } else {
            read_statement(query, backend)
        };
        let Ok(compiled) = compiled else {
            return Ok(None);
        };
        let names = self.names(query);
        let lookup = Lookup {
            key: Key::of(backend, read, &compiled),
            names: &names,
            ttl,
        };
        let rows = self.db.cache.core.read(lookup, decode, load).await?;
        Ok(Some(rows))
    }
}

/// Reads a cached count (stored as a `BIGINT` value, as every backend counts).
fn decode_count(row: &RowRef<'_>) -> Result<u64> {
    let n = <i64 as FieldType>::decode(row, 0)?;
    u64::try_from(n).map_err(|e| row.decode_error(0, "u64", e))
}

tokio::task_local! {
    /// The decoder of the read being loaded, for [`capture_row`] (a decoder is a plain `fn`,
    /// so the recording wrapper reaches the caller's decoder through the task).
    static CAPTURE: (Backend, Box<dyn Any + Send + Sync>);
}

/// Runs `load` with `decode` available to [`capture_row`]; a row decoded outside it (by a
/// driver that decodes on another task) fails the load rather than caching a partial result.
async fn with_decoder<T: 'static, R>(
    backend: Backend,
    decode: Decoder<T>,
    load: impl Future<Output = Result<R>>,
) -> Result<R> {
    CAPTURE.scope((backend, Box::new(decode)), load).await
}

/// The decoder given to the database on a miss: runs the caller's decoder, recording the
/// values it reads.
fn capture_row<T: 'static>(row: &RowRef<'_>) -> Result<(T, CachedRow)> {
    let found = CAPTURE
        .try_with(|(backend, decode)| (*backend, decode.downcast_ref::<Decoder<T>>().copied()));
    match found {
        Ok((backend, Some(decode))) => CachedRow::record(backend, row, decode),
        _ => Err(orm_core::Error::InvalidQuery(
            "internal error: the query cache's recording decoder ran outside its query; \
             please report this with the backend in use"
                .to_owned(),
        )),
    }
}

impl<E: Executor> Executor for CacheView<'_, E> {
    fn backend(&self) -> Backend {
        self.db.db.backend()
    }

    async fn fetch_all<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> Result<Vec<T>> {
        let backend = self.backend();
        let db = &self.db.db;
        let load = || {
            with_decoder(
                backend,
                decode,
                db.fetch_all(query.clone(), capture_row::<T>),
            )
        };
        match self.read(&query, Read::All, decode, load).await? {
            Some(rows) => Ok(rows),
            None => self.db.db.fetch_all(query, decode).await,
        }
    }

    async fn fetch_optional<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> Result<Option<T>> {
        let backend = self.backend();
        let db = &self.db.db;
        let load = || async {
            let row = with_decoder(
                backend,
                decode,
                db.fetch_optional(query.clone(), capture_row::<T>),
            );
            Ok(row.await?.into_iter().collect())
        };
        match self.read(&query, Read::Optional, decode, load).await? {
            Some(rows) => Ok(rows.into_iter().next()),
            None => self.db.db.fetch_optional(query, decode).await,
        }
    }

    async fn count(&self, query: SelectQuery) -> Result<u64> {
        let backend = self.backend();
        let db = &self.db.db;
        let load = || async {
            let n = db.count(query.clone()).await?;
            let stored = i64::try_from(n).map_or(Value::BigUnsigned(n), Value::BigInt);
            Ok(vec![(
                n,
                CachedRow::new(backend, vec![Slot::Value(stored)]),
            )])
        };
        match self.read(&query, Read::Count, decode_count, load).await? {
            Some(n) => Ok(n.into_iter().next().unwrap_or(0)),
            None => self.db.db.count(query).await,
        }
    }

    async fn insert_returning<T: Send + 'static>(
        &self,
        query: InsertQuery,
        decode: Decoder<T>,
    ) -> Result<T> {
        let names = scope::insert(&query);
        let row = self.db.db.insert_returning(query, decode).await?;
        self.db.invalidate(names).await;
        Ok(row)
    }

    async fn execute(&self, statement: Statement) -> Result<ExecResult> {
        let names = scope::write(&statement);
        let done = self.db.db.execute(statement).await?;
        self.db.invalidate(names).await;
        Ok(done)
    }

    async fn execute_raw(&self, sql: &str) -> Result<ExecResult> {
        let done = self.db.db.execute_raw(sql).await?;
        self.db.invalidate(vec![ALL.to_owned()]).await;
        Ok(done)
    }

    async fn fetch_compiled<T: Send + 'static>(
        &self,
        statement: Compiled,
        decode: Decoder<T>,
    ) -> Result<Vec<T>> {
        self.db.db.fetch_compiled(statement, decode).await
    }

    async fn execute_compiled(&self, statement: Compiled) -> Result<ExecResult> {
        let done = self.db.db.execute_compiled(statement).await?;
        self.db.invalidate(vec![ALL.to_owned()]).await;
        Ok(done)
    }
}

/// Forwards every method to the view without a TTL (model defaults apply).
impl<E: Executor> Executor for CachedDb<E> {
    fn backend(&self) -> Backend {
        self.db.backend()
    }

    async fn fetch_all<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> Result<Vec<T>> {
        self.view().fetch_all(query, decode).await
    }

    async fn fetch_optional<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> Result<Option<T>> {
        self.view().fetch_optional(query, decode).await
    }

    async fn count(&self, query: SelectQuery) -> Result<u64> {
        self.view().count(query).await
    }

    async fn insert_returning<T: Send + 'static>(
        &self,
        query: InsertQuery,
        decode: Decoder<T>,
    ) -> Result<T> {
        self.view().insert_returning(query, decode).await
    }

    async fn execute(&self, statement: Statement) -> Result<ExecResult> {
        self.view().execute(statement).await
    }

    async fn execute_raw(&self, sql: &str) -> Result<ExecResult> {
        self.view().execute_raw(sql).await
    }

    async fn fetch_compiled<T: Send + 'static>(
        &self,
        statement: Compiled,
        decode: Decoder<T>,
    ) -> Result<Vec<T>> {
        self.db.fetch_compiled(statement, decode).await
    }

    async fn execute_compiled(&self, statement: Compiled) -> Result<ExecResult> {
        self.view().execute_compiled(statement).await
    }
}
