//! Layers: code that runs around every statement of an executor — observing it (tracing,
//! metrics, audit), answering it (a cache), or changing how it runs (retries, routing) —
//! written once as one type and stacked on any executor: `db.layer(a).layer(b)`.
//!
//! A [`Layer`] gets each operation as an [`Op`] (the IR statement and, for reads, the
//! decoder), may look at its compiled form ([`Op::compile`]), runs it on the executor below
//! ([`Op::run`]) or answers it itself, and sees the [`Outcome`]. A [`Layered`] executor is an
//! [`Executor`] like any other, so every query builder runs on it; its transactions
//! ([`Begin::begin`]) run their statements through the same layers, and a layer learns when
//! such a transaction commits or rolls back. Layers are static types: a `Db` with none costs
//! nothing, and each layer costs what its `call` does.
//!
//! ```
//! # #[cfg(feature = "sqlite")]
//! # async fn run() -> orm_core::Result<()> {
//! use orm_core::exec::layer::{Layer, Op, Outcome};
//! use orm_core::{Db, Executor, Result};
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU64, Ordering};
//!
//! /// Counts the statements that reach the database.
//! #[derive(Clone, Default)]
//! struct Count(Arc<AtomicU64>);
//!
//! impl Layer for Count {
//!     async fn call<E: Executor, T: Send + 'static>(&self, inner: &E, op: Op<T>) -> Result<Outcome<T>> {
//!         self.0.fetch_add(1, Ordering::Relaxed);
//!         op.run(inner).await
//!     }
//! }
//!
//! let count = Count::default();
//! let db = Db::connect("sqlite::memory:").await?.layer(count.clone());
//! db.execute_raw("CREATE TABLE t (id INTEGER PRIMARY KEY)").await?;
//! assert_eq!(count.0.load(Ordering::Relaxed), 1);
//! # Ok(()) }
//! ```

use std::future::Future;

use super::{Backend, Db, Decoder, ExecResult, Executor, RowStream, Transaction};
use crate::error::{Error, Result};
use crate::query::ir::{InsertQuery, Projection, SelectQuery, Statement};
use crate::schema::ModelSchema;
use crate::sql::{Compiled, compile};

/// One operation of an [`Executor`], as a layer sees it: the IR statement (or SQL the caller
/// compiled) and, where rows come back, the decoder that reads them.
#[derive(Debug)]
#[non_exhaustive]
pub enum Op<T> {
    /// [`Executor::fetch_all`].
    FetchAll(SelectQuery, Decoder<T>),
    /// [`Executor::fetch_optional`].
    FetchOptional(SelectQuery, Decoder<T>),
    /// [`Executor::count`].
    Count(SelectQuery),
    /// [`Executor::insert_returning`].
    InsertReturning(InsertQuery, Decoder<T>),
    /// [`Executor::execute`]: an insert, upsert, update or delete.
    Execute(Statement),
    /// [`Executor::execute_raw`]: SQL text without parameters.
    ExecuteRaw(String),
    /// [`Executor::fetch_compiled`]: SQL the caller compiled (`raw`).
    FetchCompiled(Compiled, Decoder<T>),
    /// [`Executor::execute_compiled`].
    ExecuteCompiled(Compiled),
}

/// What an [`Op`] produced; its variant follows the op's ([`Op::FetchAll`] → `Rows`, …).
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome<T> {
    /// Every row ([`Op::FetchAll`], [`Op::FetchCompiled`]).
    Rows(Vec<T>),
    /// The first row, if any ([`Op::FetchOptional`]).
    Row(Option<T>),
    /// The row as stored ([`Op::InsertReturning`]).
    Inserted(T),
    /// How many rows matched ([`Op::Count`]).
    Count(u64),
    /// What a write reported ([`Op::Execute`], [`Op::ExecuteRaw`], [`Op::ExecuteCompiled`]).
    Done(ExecResult),
}

impl<T: Send + 'static> Op<T> {
    /// Runs the operation on `executor` (the layer below, or the database).
    ///
    /// The operation below runs in a future of its own on the heap: kept inline, each layer's
    /// future would hold the largest future of all eight operations of the executor below, and
    /// every layer stacked would copy it again (about 1,000 instructions per layer; one
    /// allocation costs a tenth of that).
    pub async fn run<E: Executor>(self, executor: &E) -> Result<Outcome<T>> {
        Ok(match self {
            Op::FetchAll(query, decode) => {
                Outcome::Rows(Box::pin(executor.fetch_all(query, decode)).await?)
            }
            Op::FetchOptional(query, decode) => {
                Outcome::Row(Box::pin(executor.fetch_optional(query, decode)).await?)
            }
            Op::Count(query) => Outcome::Count(Box::pin(executor.count(query)).await?),
            Op::InsertReturning(query, decode) => {
                Outcome::Inserted(Box::pin(executor.insert_returning(query, decode)).await?)
            }
            Op::Execute(statement) => Outcome::Done(Box::pin(executor.execute(statement)).await?),
            Op::ExecuteRaw(sql) => Outcome::Done(Box::pin(executor.execute_raw(&sql)).await?),
            Op::FetchCompiled(statement, decode) => {
                Outcome::Rows(Box::pin(executor.fetch_compiled(statement, decode)).await?)
            }
            Op::ExecuteCompiled(statement) => {
                Outcome::Done(Box::pin(executor.execute_compiled(statement)).await?)
            }
        })
    }
}

impl<T> Op<T> {
    /// The operation's name, as its [`Executor`] method is called (`"fetch_all"`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Op::FetchAll(..) => "fetch_all",
            Op::FetchOptional(..) => "fetch_optional",
            Op::Count(_) => "count",
            Op::InsertReturning(..) => "insert_returning",
            Op::Execute(_) => "execute",
            Op::ExecuteRaw(_) => "execute_raw",
            Op::FetchCompiled(..) => "fetch_compiled",
            Op::ExecuteCompiled(_) => "execute_compiled",
        }
    }

    /// The model whose table the operation reads or writes first; `None` for SQL the caller
    /// wrote (raw and compiled statements).
    pub fn schema(&self) -> Option<&'static ModelSchema> {
        match self {
            Op::FetchAll(query, _) | Op::FetchOptional(query, _) | Op::Count(query) => {
                Some(query.schema)
            }
            Op::InsertReturning(query, _) => Some(query.schema),
            Op::Execute(statement) => Some(statement.schema()),
            Op::ExecuteRaw(_) | Op::FetchCompiled(..) | Op::ExecuteCompiled(_) => None,
        }
    }

    /// Whether the operation may change data (every op but the typed reads and
    /// [`Op::FetchCompiled`]).
    pub fn is_write(&self) -> bool {
        !matches!(
            self,
            Op::FetchAll(..) | Op::FetchOptional(..) | Op::Count(_) | Op::FetchCompiled(..)
        )
    }

    /// The statement as the driver of `backend` is sent it: SQL text and bound values.
    ///
    /// Compiled again for the asking layer (the executor compiles its own copy), so a layer
    /// that needs it pays for it and others do not. On MongoDB a select is its BSON plan (see
    /// [`read_statement`](super::cached::read_statement)); MongoDB writes have no single
    /// statement (an insert may first reserve keys, an upsert is one command per row) and are
    /// [`Error::InvalidQuery`]. An insert on a dialect without `RETURNING` is shown as the
    /// insert (the executor then reads the row back by its key).
    pub fn compile(&self, backend: Backend) -> Result<Compiled> {
        let select = |query: &SelectQuery| super::cached::read_statement(query, backend);
        match self {
            Op::FetchAll(query, _) | Op::FetchOptional(query, _) => select(query),
            Op::Count(query) => {
                let mut counted = query.clone();
                counted.projection = Projection::Count;
                select(&counted)
            }
            Op::ExecuteRaw(sql) => Ok(Compiled {
                sql: sql.clone(),
                values: Vec::new(),
            }),
            Op::FetchCompiled(statement, _) | Op::ExecuteCompiled(statement) => {
                Ok(statement.clone())
            }
            Op::InsertReturning(query, _) => {
                let dialect = sql_dialect(backend)?;
                let mut query = query.clone();
                query.returning = dialect.has_returning();
                compile(&Statement::Insert(query), dialect)
            }
            Op::Execute(Statement::Select(query)) => select(query),
            Op::Execute(statement) => compile(statement, sql_dialect(backend)?),
        }
    }
}

fn sql_dialect(backend: Backend) -> Result<crate::sql::Dialect> {
    backend.dialect().ok_or_else(|| {
        Error::InvalidQuery(format!(
            "{backend} writes have no single compiled statement; read the IR statement instead"
        ))
    })
}

/// Code that runs around every operation of the executor it is stacked on (see the module
/// docs). Implement [`call`](Layer::call); the transaction hooks are optional.
pub trait Layer: Send + Sync {
    /// Runs `op`: usually `op.run(inner).await` with something before and after it; a layer
    /// may also answer without running it (a cache hit) or run it more than once (a retry).
    fn call<E: Executor, T: Send + 'static>(
        &self,
        inner: &E,
        op: Op<T>,
    ) -> impl Future<Output = Result<Outcome<T>>> + Send;

    /// Streams the rows of `query` ([`Executor::fetch_stream`]); by default straight from
    /// `inner`. Streams do not pass through [`call`](Layer::call) (their rows are never all
    /// in hand to make an [`Outcome`] of); a layer that watches reads overrides this.
    fn fetch_stream<'a, E: Executor, T: Send + 'static>(
        &'a self,
        inner: &'a E,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> RowStream<'a, T> {
        inner.fetch_stream(query, decode)
    }

    /// The layer that a transaction begun through this one runs its statements through
    /// (default: a copy of this one). A layer that keeps per-transaction state (the writes
    /// to act on at commit) starts it fresh here.
    fn for_transaction(&self) -> Self
    where
        Self: Sized + Clone,
    {
        self.clone()
    }

    /// Called when a transaction begun through this layer is about to commit, with the
    /// executor below it (the transaction): the layer's last chance to write in it (the
    /// audit trail appends its records here). An error aborts the commit: the transaction
    /// is then dropped, which rolls it back.
    fn before_commit<E: Executor>(&self, inner: &E) -> impl Future<Output = Result<()>> + Send {
        let _ = inner;
        async { Ok(()) }
    }

    /// Called once a transaction begun through this layer (the value
    /// [`for_transaction`](Layer::for_transaction) returned) has committed.
    fn committed(&self) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// Called once such a transaction has rolled back (explicitly, not when dropped).
    fn rolled_back(&self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// An executor with a [`Layer`] on top: every operation goes through the layer first.
/// Build one with [`Db::layer`] or [`Layered::layer`].
#[derive(Debug, Clone)]
pub struct Layered<L, E> {
    layer: L,
    inner: E,
}

impl<L, E> Layered<L, E> {
    /// `layer` on top of `inner`.
    pub fn new(layer: L, inner: E) -> Self {
        Layered { layer, inner }
    }

    /// Stacks `outer` on top of this stack (it runs first).
    pub fn layer<O: Layer>(self, outer: O) -> Layered<O, Self> {
        Layered::new(outer, self)
    }

    /// This layer.
    pub fn get_layer(&self) -> &L {
        &self.layer
    }

    /// The executor below this layer (operations on it skip this layer).
    pub fn inner(&self) -> &E {
        &self.inner
    }

    /// The layer and the executor below it.
    pub fn into_parts(self) -> (L, E) {
        (self.layer, self.inner)
    }
}

impl Db {
    /// This database with `layer` on top: every operation run on the result goes through it.
    /// Stack more with [`Layered::layer`]; the last one added runs first.
    pub fn layer<L: Layer>(&self, layer: L) -> Layered<L, Db> {
        Layered::new(layer, self.clone())
    }
}

/// Unwraps the outcome a layer returned for an op of the given kind.
macro_rules! expect_outcome {
    ($outcome:expr, $variant:ident, $op:literal) => {
        match $outcome? {
            Outcome::$variant(value) => Ok(value),
            other => Err(wrong_outcome($op, outcome_name(&other))),
        }
    };
}

fn outcome_name<T>(outcome: &Outcome<T>) -> &'static str {
    match outcome {
        Outcome::Rows(_) => "Rows",
        Outcome::Row(_) => "Row",
        Outcome::Inserted(_) => "Inserted",
        Outcome::Count(_) => "Count",
        Outcome::Done(_) => "Done",
    }
}

fn wrong_outcome(op: &str, got: &str) -> Error {
    Error::InvalidQuery(format!(
        "a layer answered `{op}` with `Outcome::{got}`; a layer must return the outcome of \
         the op it was given (see `orm_core::exec::layer::Outcome`)"
    ))
}

impl<L: Layer, E: Executor> Executor for Layered<L, E> {
    fn backend(&self) -> Backend {
        self.inner.backend()
    }

    async fn fetch_all<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> Result<Vec<T>> {
        let outcome = self
            .layer
            .call(&self.inner, Op::FetchAll(query, decode))
            .await;
        expect_outcome!(outcome, Rows, "fetch_all")
    }

    async fn fetch_optional<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> Result<Option<T>> {
        let outcome = self
            .layer
            .call(&self.inner, Op::FetchOptional(query, decode))
            .await;
        expect_outcome!(outcome, Row, "fetch_optional")
    }

    fn fetch_stream<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> RowStream<'_, T> {
        self.layer.fetch_stream(&self.inner, query, decode)
    }

    async fn count(&self, query: SelectQuery) -> Result<u64> {
        let outcome = self.layer.call(&self.inner, Op::<()>::Count(query)).await;
        expect_outcome!(outcome, Count, "count")
    }

    async fn insert_returning<T: Send + 'static>(
        &self,
        query: InsertQuery,
        decode: Decoder<T>,
    ) -> Result<T> {
        let outcome = self
            .layer
            .call(&self.inner, Op::InsertReturning(query, decode))
            .await;
        expect_outcome!(outcome, Inserted, "insert_returning")
    }

    async fn execute(&self, statement: Statement) -> Result<ExecResult> {
        let outcome = self
            .layer
            .call(&self.inner, Op::<()>::Execute(statement))
            .await;
        expect_outcome!(outcome, Done, "execute")
    }

    async fn execute_raw(&self, sql: &str) -> Result<ExecResult> {
        let outcome = self
            .layer
            .call(&self.inner, Op::<()>::ExecuteRaw(sql.to_owned()))
            .await;
        expect_outcome!(outcome, Done, "execute_raw")
    }

    async fn fetch_compiled<T: Send + 'static>(
        &self,
        statement: Compiled,
        decode: Decoder<T>,
    ) -> Result<Vec<T>> {
        let outcome = self
            .layer
            .call(&self.inner, Op::FetchCompiled(statement, decode))
            .await;
        expect_outcome!(outcome, Rows, "fetch_compiled")
    }

    async fn execute_compiled(&self, statement: Compiled) -> Result<ExecResult> {
        let outcome = self
            .layer
            .call(&self.inner, Op::<()>::ExecuteCompiled(statement))
            .await;
        expect_outcome!(outcome, Done, "execute_compiled")
    }
}

/// A type that is an [`Executor`] by handing every operation to another: a handle with an
/// API of its own around a (layered) executor, such as the query cache's `CachedDb`.
/// Implementing it is the whole `Executor` impl; a reference to an executor is one too.
pub trait Delegate: Send + Sync {
    /// The executor that runs the operations.
    type To: Executor;

    /// That executor.
    fn delegate(&self) -> &Self::To;
}

impl<E: Executor> Delegate for &E {
    type To = E;

    fn delegate(&self) -> &E {
        self
    }
}

impl<D: Delegate> Executor for D {
    fn backend(&self) -> Backend {
        self.delegate().backend()
    }

    fn fetch_all<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> impl Future<Output = Result<Vec<T>>> + Send {
        self.delegate().fetch_all(query, decode)
    }

    fn fetch_optional<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> impl Future<Output = Result<Option<T>>> + Send {
        self.delegate().fetch_optional(query, decode)
    }

    fn fetch_stream<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> RowStream<'_, T> {
        self.delegate().fetch_stream(query, decode)
    }

    fn count(&self, query: SelectQuery) -> impl Future<Output = Result<u64>> + Send {
        self.delegate().count(query)
    }

    fn insert_returning<T: Send + 'static>(
        &self,
        query: InsertQuery,
        decode: Decoder<T>,
    ) -> impl Future<Output = Result<T>> + Send {
        self.delegate().insert_returning(query, decode)
    }

    fn execute(&self, statement: Statement) -> impl Future<Output = Result<ExecResult>> + Send {
        self.delegate().execute(statement)
    }

    fn execute_raw(&self, sql: &str) -> impl Future<Output = Result<ExecResult>> + Send {
        self.delegate().execute_raw(sql)
    }

    fn fetch_compiled<T: Send + 'static>(
        &self,
        statement: Compiled,
        decode: Decoder<T>,
    ) -> impl Future<Output = Result<Vec<T>>> + Send {
        self.delegate().fetch_compiled(statement, decode)
    }

    fn execute_compiled(
        &self,
        statement: Compiled,
    ) -> impl Future<Output = Result<ExecResult>> + Send {
        self.delegate().execute_compiled(statement)
    }
}

/// An executor that begins transactions: a [`Db`], or layers on top of one (whose
/// transactions run through the same layers).
pub trait Begin: Executor {
    /// The transaction this executor begins.
    type Tx: Finish;

    /// Begins a transaction with the database's defaults.
    fn begin(&self) -> impl Future<Output = Result<Self::Tx>> + Send;
}

/// A transaction: an executor that commits or rolls back.
pub trait Finish: Executor + Sized {
    /// Commits; the layers above learn of it once the database has.
    fn commit(self) -> impl Future<Output = Result<()>> + Send;

    /// Rolls back.
    fn rollback(self) -> impl Future<Output = Result<()>> + Send;

    /// Runs `body` with a handle of this transaction: commits when it returns `Ok`, rolls
    /// back when it returns `Err` (a panic drops the transaction, which rolls it back).
    fn run<T, Er, Fut>(
        self,
        body: impl FnOnce(Self) -> Fut,
    ) -> impl Future<Output = std::result::Result<T, Er>>
    where
        Self: Clone,
        Fut: Future<Output = std::result::Result<T, Er>>,
        Er: From<Error>,
    {
        async move {
            match body(self.clone()).await {
                Ok(value) => {
                    self.commit().await?;
                    Ok(value)
                }
                Err(e) => {
                    // The body's error is the one to report; a failed rollback also ends the
                    // transaction (the server rolls back when the connection is reset).
                    let _rollback = self.rollback().await;
                    Err(e)
                }
            }
        }
    }
}

impl Begin for Db {
    type Tx = Transaction;

    async fn begin(&self) -> Result<Transaction> {
        Db::begin(self).await
    }
}

impl Finish for Transaction {
    async fn commit(self) -> Result<()> {
        Transaction::commit(self).await
    }

    async fn rollback(self) -> Result<()> {
        Transaction::rollback(self).await
    }
}

impl<L: Layer + Clone, E: Begin> Begin for Layered<L, E> {
    type Tx = Layered<L, E::Tx>;

    async fn begin(&self) -> Result<Self::Tx> {
        let tx = self.inner.begin().await?;
        Ok(Layered::new(self.layer.for_transaction(), tx))
    }
}

impl<L: Layer, E: Finish> Finish for Layered<L, E> {
    async fn commit(self) -> Result<()> {
        self.layer.before_commit(&self.inner).await?;
        self.inner.commit().await?;
        self.layer.committed().await;
        Ok(())
    }

    async fn rollback(self) -> Result<()> {
        self.inner.rollback().await?;
        self.layer.rolled_back().await;
        Ok(())
    }
}

impl<L: Layer + Clone, E: Begin> Layered<L, E> {
    /// Runs `body` in a transaction begun through every layer: commits when it returns `Ok`,
    /// rolls back when it returns `Err` (see [`Db::transaction`]).
    pub async fn transaction<T, Er, F, Fut>(&self, body: F) -> std::result::Result<T, Er>
    where
        <Self as Begin>::Tx: Clone,
        F: FnOnce(<Self as Begin>::Tx) -> Fut,
        Fut: Future<Output = std::result::Result<T, Er>>,
        Er: From<Error>,
    {
        Begin::begin(self).await?.run(body).await
    }
}
