//! Horizontal sharding: one model's rows spread over several databases by a shard key
//! (feature `sharding`).
//!
//! A model names its shard key with `#[orm(shard_key)]` on a field (or
//! [`ShardsBuilder::shard_key`] for a model you cannot annotate); a [`ShardRouter`] maps key
//! values to shards ([`HashMod`], [`Ranges`], [`Lookup`], or your own); [`Shards`] holds one
//! [`Db`] per shard and is an [`Executor`], so every typed query runs on it unchanged:
//!
//! - a select, update or delete goes to the shard its filter names by key (`key = v`, or
//!   `key IN (...)` over keys of one shard); a filter that does not pin the key is refused
//!   ([`ShardError::MissingKey`]) unless the caller reads every shard on purpose with
//!   [`Shards::all_shards`], whose results are merged (order, limit and offset applied again
//!   after the merge; counts, sums, minimums and maximums combined);
//! - an insert goes to the shard of its row's key; rows of several shards in one statement, or
//!   an update assigning the key, are refused;
//! - a transaction is bound to one shard ([`Shards::transaction`]): a statement in it that
//!   reaches another shard is refused; a write over several shards that must be atomic runs as
//!   a two-phase commit ([`Shards::begin_distributed`], feature `distributed`).
//!
//! ```no_run
//! # #[cfg(feature = "sqlite")]
//! # async fn run() -> polyorm_core::Result<()> {
//! use polyorm_core::shard::{HashMod, Shards};
//! use polyorm_core::Db;
//!
//! let shards = Shards::builder(HashMod)
//!     .shard("s0", Db::connect("sqlite:///var/lib/app/s0.db").await?)
//!     .shard("s1", Db::connect("sqlite:///var/lib/app/s1.db").await?)
//!     .build()?;
//! // Tenant 42's rows live on one of them:
//! let db = shards.for_key(42)?;
//! # let _ = db;
//! # Ok(()) }
//! ```
//!
//! Rails' `connected_to(shard:)` is [`Shards::for_key`] / [`Shards::shard`]; Django's database
//! routers are [`ShardRouter`]; the refusal of keyless queries is what neither has.

mod error;
mod fan_out;
mod route;
mod router;
mod tx;

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::Arc;

pub use error::ShardError;
pub use fan_out::FanOut;
pub use router::{HashMod, Lookup, Ranges, ShardKey, ShardRouter};
pub use tx::ShardTx;

use crate::error::{Error, Result};
use crate::exec::{Backend, Db, Decoder, ExecResult, Executor, RetryPolicy, RowStream, TxOptions};
use crate::model::Model;
use crate::query::ir::{InsertQuery, SelectQuery, Statement};
use crate::query::{Column, ColumnId};
use crate::schema::ModelSchema;
use crate::sql::Compiled;
use crate::value::FieldType;

/// `e` as the crate's error. (No `From` impl: a second `From` for [`Error`] would break type
/// inference of `?` in users' closures.)
pub(crate) fn error(e: ShardError) -> Error {
    Error::Shard(Box::new(e))
}

/// Several databases holding one data set split by a shard key; cheap to clone.
///
/// Build it with [`Shards::builder`]. See the [module docs](self) for what routes where.
#[derive(Clone)]
pub struct Shards {
    inner: Arc<Inner>,
}

struct Inner {
    names: Vec<String>,
    dbs: Vec<Db>,
    router: Box<dyn ShardRouter>,
    /// Shard keys registered by table name (over the descriptor's `shard_key`).
    keys: HashMap<&'static str, usize>,
    backend: Backend,
}

impl std::fmt::Debug for Shards {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shards")
            .field("shards", &self.inner.names)
            .field("backend", &self.inner.backend)
            .finish()
    }
}

/// Builds [`Shards`]: `Shards::builder(router).shard("s0", db0).shard("s1", db1).build()`.
#[must_use = "call `build()` to get the `Shards`"]
pub struct ShardsBuilder {
    router: Box<dyn ShardRouter>,
    shards: Vec<(String, Db)>,
    keys: HashMap<&'static str, usize>,
    errors: Vec<String>,
}

impl std::fmt::Debug for ShardsBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.shards.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("ShardsBuilder")
            .field("shards", &names)
            .finish()
    }
}

impl ShardsBuilder {
    /// Adds a shard named `name` (for errors, [`Shards::by_name`] and distributed
    /// transactions); its position is the index the router returns.
    pub fn shard(mut self, name: impl Into<String>, db: Db) -> Self {
        self.shards.push((name.into(), db));
        self
    }

    /// Routes `M` by `column`, for a model without `#[orm(shard_key)]` (or to override it).
    pub fn shard_key<M: Model, T: FieldType>(
        mut self,
        column: Column<M, T, impl ColumnId>,
    ) -> Self {
        let schema = M::schema();
        let name = column.name();
        match schema.columns.iter().position(|c| c.name == name) {
            Some(i) if schema.columns[i].auto_increment => self.errors.push(format!(
                "the shard key `{}.{name}` is auto_increment: each shard would generate its own \
                 values; shard by a key the application sets",
                schema.name
            )),
            Some(i) => {
                self.keys.insert(schema.table, i);
            }
            None => self.errors.push(format!(
                "`{name}` is not a stored column of `{}`",
                schema.name
            )),
        }
        self
    }

    /// The shard set; [`ShardError::Config`] without shards, with duplicate names, with shards
    /// of different backends, or after a bad [`shard_key`](Self::shard_key).
    pub fn build(self) -> Result<Shards> {
        let mut errors = self.errors;
        let Some(backend) = self.shards.first().map(|(_, db)| db.backend()) else {
            return Err(error(ShardError::Config(
                "no shard was added; add them with `.shard(name, db)`".into(),
            )));
        };
        let mut seen = BTreeSet::new();
        for (name, db) in &self.shards {
            if !seen.insert(name.as_str()) {
                errors.push(format!(
                    "two shards are named `{name}`; name each shard once"
                ));
            }
            if db.backend() != backend {
                errors.push(format!(
                    "shard `{name}` is {}, the first shard is {backend}; every shard runs the \
                     same backend (statements are compiled once for all)",
                    db.backend()
                ));
            }
        }
        if !errors.is_empty() {
            return Err(error(ShardError::Config(errors.join("; "))));
        }
        let (names, dbs) = self.shards.into_iter().unzip();
        Ok(Shards {
            inner: Arc::new(Inner {
                names,
                dbs,
                router: self.router,
                keys: self.keys,
                backend,
            }),
        })
    }
}

impl Shards {
    /// A builder over `router`.
    pub fn builder(router: impl ShardRouter) -> ShardsBuilder {
        ShardsBuilder {
            router: Box::new(router),
            shards: Vec::new(),
            keys: HashMap::new(),
            errors: Vec::new(),
        }
    }

    /// How many shards there are.
    pub fn len(&self) -> usize {
        self.inner.dbs.len()
    }

    /// Always false: a shard set has at least one shard.
    pub fn is_empty(&self) -> bool {
        self.inner.dbs.is_empty()
    }

    /// The shards' names, in order.
    pub fn names(&self) -> &[String] {
        &self.inner.names
    }

    /// The shard at `index` (its position in the builder).
    ///
    /// # Panics
    /// If `index >= self.len()`.
    pub fn shard(&self, index: usize) -> &Db {
        &self.inner.dbs[index]
    }

    /// The shard named `name`.
    pub fn by_name(&self, name: &str) -> Option<&Db> {
        let i = self.inner.names.iter().position(|n| n == name)?;
        Some(&self.inner.dbs[i])
    }

    /// Every shard with its name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Db)> + '_ {
        self.inner
            .names
            .iter()
            .map(String::as_str)
            .zip(&self.inner.dbs)
    }

    /// The position of the shard holding `key` (as the router says).
    pub fn shard_index(&self, key: impl Into<ShardKey>) -> Result<usize> {
        let key = key.into();
        self.route_key("key", &key).map_err(error)
    }

    /// The shard holding `key`: run anything on it, raw SQL included (Rails'
    /// `connected_to(shard:)`).
    pub fn for_key(&self, key: impl Into<ShardKey>) -> Result<&Db> {
        Ok(&self.inner.dbs[self.shard_index(key)?])
    }

    /// The name of the shard holding `key` (a participant's name in
    /// [`begin_distributed`](Self::begin_distributed)).
    pub fn name_for(&self, key: impl Into<ShardKey>) -> Result<&str> {
        Ok(&self.inner.names[self.shard_index(key)?])
    }

    /// Every shard at once, on purpose: reads fan out and are merged (see [`FanOut`]).
    pub fn all_shards(&self) -> FanOut<'_> {
        FanOut::new(self)
    }

    /// Creates `M`'s table and indexes on every shard unless they exist.
    pub async fn create_table<M: Model>(&self) -> Result<()> {
        for db in &self.inner.dbs {
            db.create_table::<M>().await?;
        }
        Ok(())
    }

    /// Drops `M`'s table on every shard if it exists.
    pub async fn drop_table<M: Model>(&self) -> Result<()> {
        for db in &self.inner.dbs {
            db.drop_table::<M>().await?;
        }
        Ok(())
    }

    /// Begins a transaction on the shard holding `key`; see [`ShardTx`].
    pub async fn begin(&self, key: impl Into<ShardKey>) -> Result<ShardTx> {
        self.begin_with(key, TxOptions::default()).await
    }

    /// [`begin`](Self::begin) with an isolation level or read-only mode.
    pub async fn begin_with(
        &self,
        key: impl Into<ShardKey>,
        options: TxOptions,
    ) -> Result<ShardTx> {
        let shard = self.shard_index(key)?;
        let tx = self.inner.dbs[shard].begin_with(options).await?;
        Ok(ShardTx::new(self.clone(), shard, tx))
    }

    /// Runs `body` in a transaction on the shard holding `key`: commits when it returns `Ok`,
    /// rolls back on `Err` or a panic. A statement in it that reaches another shard's rows is
    /// refused ([`ShardError::OtherShardInTransaction`]).
    pub async fn transaction<T, E, F, Fut>(
        &self,
        key: impl Into<ShardKey>,
        body: F,
    ) -> std::result::Result<T, E>
    where
        F: FnOnce(ShardTx) -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
        E: From<Error>,
    {
        self.transaction_with(key, TxOptions::default(), body).await
    }

    /// [`transaction`](Self::transaction) with an isolation level or read-only mode.
    pub async fn transaction_with<T, E, F, Fut>(
        &self,
        key: impl Into<ShardKey>,
        options: TxOptions,
        body: F,
    ) -> std::result::Result<T, E>
    where
        F: FnOnce(ShardTx) -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
        E: From<Error>,
    {
        let shard = self.shard_index(key)?;
        self.inner.dbs[shard]
            .transaction_with(options, |tx| body(ShardTx::new(self.clone(), shard, tx)))
            .await
    }

    /// [`Db::transaction_with_retry`] on the shard holding `key`: run again on serialization
    /// failures and deadlocks, bound to that shard like [`transaction`](Self::transaction).
    pub async fn transaction_with_retry<T, F, Fut>(
        &self,
        key: impl Into<ShardKey>,
        options: TxOptions,
        policy: RetryPolicy,
        mut body: F,
    ) -> Result<T>
    where
        F: FnMut(ShardTx) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let shard = self.shard_index(key)?;
        self.inner.dbs[shard]
            .transaction_with_retry(options, policy, |tx| {
                body(ShardTx::new(self.clone(), shard, tx))
            })
            .await
    }

    /// A two-phase-commit transaction over the shards holding `keys` (each shard once),
    /// through `coordinator`: the write that spans shards and must be atomic. Its branches are
    /// named after the shards ([`name_for`](Self::name_for)):
    /// `tx.branch(shards.name_for(key)?)?`.
    #[cfg(feature = "distributed")]
    pub async fn begin_distributed(
        &self,
        coordinator: &crate::distributed::Coordinator,
        keys: &[ShardKey],
    ) -> Result<crate::distributed::DistributedTx> {
        let mut picked = BTreeSet::new();
        for key in keys {
            picked.insert(self.route_key("key", key).map_err(error)?);
        }
        let participants: Vec<(&str, &Db)> = picked
            .into_iter()
            .map(|i| (self.inner.names[i].as_str(), &self.inner.dbs[i]))
            .collect();
        coordinator.begin(&participants).await
    }

    /// The shard of one key, `column` naming it in errors.
    fn route_key(&self, column: &str, key: &ShardKey) -> std::result::Result<usize, ShardError> {
        let n = self.len();
        match self.inner.router.shard_for(key, n) {
            Ok(i) if i < n => Ok(i),
            Ok(i) => Err(ShardError::Config(format!(
                "the router placed {column} = {key} on shard {i}, but there are only {n} shards"
            ))),
            Err(reason) => Err(ShardError::NoShard {
                key: column.to_owned(),
                value: key.to_string(),
                reason,
            }),
        }
    }

    /// The shard-key column of `schema`.
    fn key_of(&self, schema: &'static ModelSchema) -> std::result::Result<usize, ShardError> {
        self.inner
            .keys
            .get(schema.table)
            .copied()
            .or(schema.shard_key)
            .ok_or(ShardError::NotSharded { model: schema.name })
    }

    fn names_of(&self, shards: &BTreeSet<usize>) -> Vec<String> {
        shards
            .iter()
            .map(|&i| self.inner.names[i].clone())
            .collect()
    }

    /// The one shard `statement` runs on, or why it does not have one.
    fn single(&self, statement: route::Routed<'_>) -> Result<&Db> {
        let shards = self
            .shards_of(&statement)
            .map_err(error)?
            .ok_or_else(|| statement.missing_key(self))?;
        Ok(&self.inner.dbs[self.only(&statement, &shards)?])
    }

    /// The single shard of `shards` (an empty set: the filter matches no row anywhere, so
    /// any shard answers it; the first does).
    fn only(&self, statement: &route::Routed<'_>, shards: &BTreeSet<usize>) -> Result<usize> {
        match shards.len() {
            0 => Ok(0),
            1 => Ok(*shards.first().expect("one shard")),
            _ => Err(statement.cross_shard(self, shards)),
        }
    }
}

impl Executor for Shards {
    fn backend(&self) -> Backend {
        self.inner.backend
    }

    async fn fetch_all<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> Result<Vec<T>> {
        let db = self.single(route::Routed::Select(&query))?;
        db.fetch_all(query, decode).await
    }

    async fn fetch_optional<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> Result<Option<T>> {
        let db = self.single(route::Routed::Select(&query))?;
        db.fetch_optional(query, decode).await
    }

    fn fetch_stream<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> RowStream<'_, T> {
        match self.single(route::Routed::Select(&query)) {
            Ok(db) => db.fetch_stream(query, decode),
            Err(e) => fan_out::failed(e),
        }
    }

    async fn count(&self, query: SelectQuery) -> Result<u64> {
        let db = self.single(route::Routed::Select(&query))?;
        db.count(query).await
    }

    async fn insert_returning<T: Send + 'static>(
        &self,
        query: InsertQuery,
        decode: Decoder<T>,
    ) -> Result<T> {
        let db = self.single(route::Routed::Insert(&query, "insert"))?;
        db.insert_returning(query, decode).await
    }

    async fn execute(&self, statement: Statement) -> Result<ExecResult> {
        let db = self.single(route::Routed::of(&statement))?;
        db.execute(statement).await
    }

    async fn execute_raw(&self, _sql: &str) -> Result<ExecResult> {
        Err(error(ShardError::RawSql))
    }

    async fn fetch_compiled<T: Send + 'static>(
        &self,
        _statement: Compiled,
        _decode: Decoder<T>,
    ) -> Result<Vec<T>> {
        Err(error(ShardError::RawSql))
    }

    async fn execute_compiled(&self, _statement: Compiled) -> Result<ExecResult> {
        Err(error(ShardError::RawSql))
    }
}
