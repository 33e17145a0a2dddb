//! The query cache as a layer ([`CacheLayer`]): reads answered from the cache, writes that
//! invalidate what they changed; [`CachedDb`] and [`CacheView`] are handles over it.

use std::any::Any;
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use polyorm_core::exec::cached::{CachedRow, Slot, read_statement};
use polyorm_core::exec::{Decoder, Delegate, Layer, Layered, Op, Outcome};
use polyorm_core::query::ir::{Projection, SelectQuery};
use polyorm_core::{Backend, Compiled, ExecResult, Executor, FieldType, Result, RowRef, Value};

use crate::cache::{ALL, Cache, Lookup, tag_name};
use crate::key::{Key, Read};
use crate::scope;
use crate::stats::Counters;

/// The query cache as a [`Layer`]: stacked on an executor, it answers the selects it caches
/// from the cache (loading misses through the executor below) and invalidates, once a write
/// has succeeded, the tables (or rows) it wrote. In a transaction begun through it, reads go
/// to the database (they must see the transaction's own writes) and the writes are
/// invalidated when the transaction commits.
///
/// Usually reached through [`Cache::wrap`] ([`CachedDb`]); stack it yourself with
/// `db.layer(cache.layer())` to combine it with other layers.
#[derive(Clone, Debug)]
pub struct CacheLayer {
    cache: Cache,
    /// Every select cached for this long (`None`: only models with a default TTL).
    ttl: Option<Duration>,
    /// Tags of the entries read through this layer.
    tags: Vec<String>,
    /// Inside a transaction: what it wrote so far.
    tx: Option<TxWrites>,
}

/// What a transaction (and its savepoints) wrote, invalidated at its outermost commit.
#[derive(Clone, Debug, Default)]
struct TxWrites {
    written: Arc<Mutex<BTreeSet<String>>>,
    savepoint: bool,
}

impl Cache {
    /// This cache as a [`Layer`], to stack with others: `db.layer(cache.layer())`.
    pub fn layer(&self) -> CacheLayer {
        CacheLayer {
            cache: self.clone(),
            ttl: None,
            tags: Vec::new(),
            tx: None,
        }
    }
}

impl CacheLayer {
    /// The cache.
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// This layer, caching every select for `ttl`.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// This layer, tagging the entries it reads (see [`Cache::invalidate_tag`]).
    pub fn with_tag(mut self, tag: impl AsRef<str>) -> Self {
        self.tags.push(tag_name(tag.as_ref()));
        self
    }

    /// The layer of a savepoint inside this layer's transaction (its writes are invalidated
    /// at the outer commit).
    pub(crate) fn for_savepoint(&self) -> Self {
        let mut layer = self.clone();
        if let Some(tx) = &mut layer.tx {
            tx.savepoint = true;
        }
        layer
    }

    async fn invalidate(&self, names: Vec<String>) {
        self.cache.core.invalidate(&names).await;
    }

    /// The TTL of `query`, or `None` when it is not cached.
    fn ttl_of(&self, query: &SelectQuery) -> Option<Duration> {
        if query.lock.is_some() {
            return None;
        }
        self.ttl
            .or_else(|| self.cache.core.model_ttl(query.schema.table))
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
    /// `Ok(None)` when it is not cached (or, keyed by its compiled statement, does not
    /// compile, which the database path then reports, or is a MongoDB read with subqueries,
    /// which has no single plan to key).
    async fn read<T, F, Fut>(
        &self,
        backend: Backend,
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
        let key = match Key::of_query(backend, read, query) {
            Some(key) => key,
            None => {
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
                Key::of(backend, read, &compiled)
            }
        };
        let names = self.names(query);
        let lookup = Lookup {
            key,
            names: &names,
            ttl,
        };
        let rows = self.cache.core.read(lookup, decode, load).await?;
        Ok(Some(rows))
    }

    /// Counts a read that went to the database without the cache (inside a transaction).
    fn bypassed(&self) {
        Counters::bump(
            &self.cache.core.counters.bypassed,
            "orm_cache_bypassed_total",
        );
    }

    /// `fetch_all` through the cache when `query` is cached, else from the database.
    ///
    /// The database calls are boxed: their futures are kilobytes, and a hit, which never
    /// reaches them, would otherwise move them at every await.
    async fn all_cached<E: Executor, T: Send + 'static>(
        &self,
        inner: &E,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> Result<Vec<T>> {
        let backend = inner.backend();
        let load = || {
            with_decoder(
                backend,
                decode,
                inner.fetch_all(query.clone(), capture_row::<T>),
            )
        };
        match self.read(backend, &query, Read::All, decode, load).await? {
            Some(rows) => Ok(rows),
            None => Box::pin(inner.fetch_all(query, decode)).await,
        }
    }

    /// `fetch_optional` as [`all_cached`](Self::all_cached).
    async fn optional_cached<E: Executor, T: Send + 'static>(
        &self,
        inner: &E,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> Result<Option<T>> {
        let backend = inner.backend();
        let load = || async {
            let row = with_decoder(
                backend,
                decode,
                inner.fetch_optional(query.clone(), capture_row::<T>),
            );
            Ok(row.await?.into_iter().collect())
        };
        match self
            .read(backend, &query, Read::Optional, decode, load)
            .await?
        {
            Some(rows) => Ok(rows.into_iter().next()),
            None => Box::pin(inner.fetch_optional(query, decode)).await,
        }
    }

    /// `count` as [`all_cached`](Self::all_cached).
    async fn count_cached<E: Executor>(&self, inner: &E, query: SelectQuery) -> Result<u64> {
        let backend = inner.backend();
        let load = || async {
            let n = inner.count(query.clone()).await?;
            let stored = i64::try_from(n).map_or(Value::BigUnsigned(n), Value::BigInt);
            Ok(vec![(
                n,
                CachedRow::new(backend, vec![Slot::Value(stored)]),
            )])
        };
        match self
            .read(backend, &query, Read::Count, decode_count, load)
            .await?
        {
            Some(n) => Ok(n.into_iter().next().unwrap_or(0)),
            None => Box::pin(inner.count(query)).await,
        }
    }

    /// An op inside a transaction: reads go to the database, writes are recorded for the
    /// commit. Recorded before running: a statement that fails may still have written (MySQL
    /// keeps what a failed multi-row statement did), and over-invalidating is harmless.
    async fn in_transaction<E: Executor, T: Send + 'static>(
        &self,
        writes: &TxWrites,
        inner: &E,
        op: Op<T>,
    ) -> Result<Outcome<T>> {
        let names: Vec<String> = match &op {
            Op::FetchAll(..) | Op::FetchOptional(..) | Op::Count(_) => {
                self.bypassed();
                Vec::new()
            }
            Op::InsertReturning(query, _) => scope::insert(query),
            Op::Execute(statement) => scope::write(statement),
            Op::FetchCompiled(..) => Vec::new(),
            _ => vec![ALL.to_owned()],
        };
        writes
            .written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(names);
        op.run(inner).await
    }
}

impl Layer for CacheLayer {
    async fn call<E: Executor, T: Send + 'static>(
        &self,
        inner: &E,
        op: Op<T>,
    ) -> Result<Outcome<T>> {
        if let Some(writes) = &self.tx {
            return self.in_transaction(writes, inner, op).await;
        }
        match op {
            Op::FetchAll(query, decode) => {
                Ok(Outcome::Rows(self.all_cached(inner, query, decode).await?))
            }
            Op::FetchOptional(query, decode) => Ok(Outcome::Row(
                self.optional_cached(inner, query, decode).await?,
            )),
            Op::Count(query) => Ok(Outcome::Count(self.count_cached(inner, query).await?)),
            Op::InsertReturning(query, decode) => {
                let names = scope::insert(&query);
                let row = inner.insert_returning(query, decode).await?;
                self.invalidate(names).await;
                Ok(Outcome::Inserted(row))
            }
            Op::Execute(statement) => {
                let names = scope::write(&statement);
                let done = inner.execute(statement).await?;
                self.invalidate(names).await;
                Ok(Outcome::Done(done))
            }
            // Raw selects are never cached.
            op @ Op::FetchCompiled(..) => op.run(inner).await,
            // Raw writes name no tables: everything is invalidated.
            other => {
                let outcome = other.run(inner).await?;
                self.invalidate(vec![ALL.to_owned()]).await;
                Ok(outcome)
            }
        }
    }

    // The reads skip `call` (a future holding every operation's): outside a transaction
    // they are the cache's own small futures; inside one they go to the database.
    async fn fetch_all<E: Executor, T: Send + 'static>(
        &self,
        inner: &E,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> Result<Vec<T>> {
        if self.tx.is_some() {
            self.bypassed();
            return Box::pin(inner.fetch_all(query, decode)).await;
        }
        self.all_cached(inner, query, decode).await
    }

    async fn fetch_optional<E: Executor, T: Send + 'static>(
        &self,
        inner: &E,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> Result<Option<T>> {
        if self.tx.is_some() {
            self.bypassed();
            return Box::pin(inner.fetch_optional(query, decode)).await;
        }
        self.optional_cached(inner, query, decode).await
    }

    async fn count<E: Executor>(&self, inner: &E, query: SelectQuery) -> Result<u64> {
        if self.tx.is_some() {
            self.bypassed();
            return Box::pin(inner.count(query)).await;
        }
        self.count_cached(inner, query).await
    }

    fn for_transaction(&self) -> Self {
        CacheLayer {
            cache: self.cache.clone(),
            ttl: None,
            tags: Vec::new(),
            tx: Some(TxWrites::default()),
        }
    }

    async fn committed(&self) {
        let Some(writes) = &self.tx else { return };
        if writes.savepoint {
            return;
        }
        let names: Vec<String> =
            std::mem::take(&mut *writes.written.lock().unwrap_or_else(|e| e.into_inner()))
                .into_iter()
                .collect();
        if !names.is_empty() {
            self.invalidate(names).await;
        }
    }
}

/// A database handle whose reads go through a [`Cache`]; get one with [`Cache::wrap`]. An
/// [`Executor`]: the executor `E` with a [`CacheLayer`] on top.
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
    pub(crate) layered: Layered<CacheLayer, E>,
}

impl<E: std::fmt::Debug> std::fmt::Debug for CachedDb<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedDb")
            .field("db", self.layered.inner())
            .field("cache", &self.layered.get_layer().cache)
            .finish()
    }
}

impl<E: Executor> Delegate for CachedDb<E> {
    type To = Layered<CacheLayer, E>;

    fn delegate(&self) -> &Self::To {
        &self.layered
    }
}

impl<E: Executor> CachedDb<E> {
    pub(crate) fn new(cache: Cache, db: E) -> Self {
        CachedDb {
            layered: Layered::new(cache.layer(), db),
        }
    }

    /// The cache.
    pub fn cache(&self) -> &Cache {
        &self.layered.get_layer().cache
    }

    /// The wrapped database (reads and writes on it bypass the cache, and its writes do not
    /// invalidate).
    pub fn inner(&self) -> &E {
        self.layered.inner()
    }

    /// An executor over this handle that caches every select for `ttl` (any query builder
    /// runs on it: joins, aggregates, relations).
    pub fn cached(&self, ttl: Duration) -> CacheView<'_, E> {
        CacheView {
            layered: Layered::new(
                self.layered.get_layer().clone().with_ttl(ttl),
                self.layered.inner(),
            ),
        }
    }

    /// Runs raw SQL that writes `tables`, then invalidates them (instead of everything).
    pub async fn execute_raw_for(&self, sql: &str, tables: &[&str]) -> Result<ExecResult> {
        let done = self.inner().execute_raw(sql).await?;
        self.layered
            .get_layer()
            .invalidate(tables_named(tables))
            .await;
        Ok(done)
    }

    /// Runs a compiled statement that writes `tables`, then invalidates them.
    pub async fn execute_compiled_for(
        &self,
        statement: Compiled,
        tables: &[&str],
    ) -> Result<ExecResult> {
        let done = self.inner().execute_compiled(statement).await?;
        self.layered
            .get_layer()
            .invalidate(tables_named(tables))
            .await;
        Ok(done)
    }
}

/// Every generation of `tables` (raw SQL names tables, not rows).
fn tables_named(tables: &[&str]) -> Vec<String> {
    tables.iter().flat_map(|t| scope::whole_table(t)).collect()
}

/// A [`CachedDb`] with a TTL (and tags) for every select run on it; see [`CachedDb::cached`].
pub struct CacheView<'a, E> {
    layered: Layered<CacheLayer, &'a E>,
}

impl<E> std::fmt::Debug for CacheView<'_, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let layer = self.layered.get_layer();
        f.debug_struct("CacheView")
            .field("ttl", &layer.ttl)
            .field("tags", &layer.tags)
            .finish()
    }
}

impl<'a, E: Executor> Delegate for CacheView<'a, E> {
    type To = Layered<CacheLayer, &'a E>;

    fn delegate(&self) -> &Self::To {
        &self.layered
    }
}

impl<E: Executor> CacheView<'_, E> {
    /// Tags the entries read through this view, for [`Cache::invalidate_tag`].
    pub fn tag(self, tag: impl AsRef<str>) -> Self {
        let (layer, inner) = self.layered.into_parts();
        CacheView {
            layered: Layered::new(layer.with_tag(tag), inner),
        }
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
        _ => Err(polyorm_core::Error::InvalidQuery(
            "internal error: the query cache's recording decoder ran outside its query; \
             please report this with the backend in use"
                .to_owned(),
        )),
    }
}
