//! Layers: code that runs around every statement of an executor — observing it (tracing,
//! metrics, audit), answering it (a cache), or changing how it runs (retries, routing) —
//! written once as one type and stacked on any executor: `db.layer(a).layer(b)`.
//!
//! A [`Layer`] gets each operation as an [`Op`] (the IR statement and, for reads, the
//! decoder), may look at its compiled form ([`Op::compile`]), runs it on the executor below
//! ([`Op::run`]) or answers it itself, and sees the [`Outcome`]. A [`Layered`] executor is an
//! [`Executor`] like any other, so every query builder runs on it; its transactions
//! ([`Begin::begin`]) run their statements through the same layers, and a layer learns when
//! such a transaction commits or rolls back.
//!
//! A layer may instead (or also) override the typed method of an operation
//! ([`Layer::fetch_optional`], [`Layer::execute`], …) and say which operations its `call`
//! sees ([`Layer::CALLS`]): an operation it leaves out goes straight to the executor below,
//! the layer's method returning the inner executor's future itself, with no [`Op`] built and
//! no future wrapped. Layers are static types: a `Db` with none costs nothing, and each layer
//! costs what it does (the access-control layer checks reads in its typed methods; tracing
//! with nothing listening is one atomic load, [`Layer::is_active`]).
//!
//! An operation that does reach `call` runs in a heap future of its own (one allocation): the
//! `call` path, with the [`Op`] and [`Op::run`]'s future for every operation below, is then
//! eight bytes of the future a typed method returns, so a skipped operation's future stays the
//! size of the inner executor's, at every level of the stack (a future is moved whole each
//! time it is returned or awaited).
//!
//! ```
//! # #[cfg(feature = "sqlite")]
//! # async fn run() -> polyorm_core::Result<()> {
//! use polyorm_core::exec::layer::{Layer, Op, Outcome};
//! use polyorm_core::{Db, Executor, Result};
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

use futures_util::future::Either;

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
    pub async fn run<E: Executor>(self, executor: &E) -> Result<Outcome<T>> {
        Ok(match self {
            Op::FetchAll(query, decode) => Outcome::Rows(executor.fetch_all(query, decode).await?),
            Op::FetchOptional(query, decode) => {
                Outcome::Row(executor.fetch_optional(query, decode).await?)
            }
            Op::Count(query) => Outcome::Count(executor.count(query).await?),
            Op::InsertReturning(query, decode) => {
                Outcome::Inserted(executor.insert_returning(query, decode).await?)
            }
            Op::Execute(statement) => Outcome::Done(executor.execute(statement).await?),
            Op::ExecuteRaw(sql) => Outcome::Done(executor.execute_raw(&sql).await?),
            Op::FetchCompiled(statement, decode) => {
                Outcome::Rows(executor.fetch_compiled(statement, decode).await?)
            }
            Op::ExecuteCompiled(statement) => {
                Outcome::Done(executor.execute_compiled(statement).await?)
            }
        })
    }
}

impl<T> Op<T> {
    /// The operation's kind (which [`Executor`] method it is).
    pub fn kind(&self) -> OpKind {
        match self {
            Op::FetchAll(..) => OpKind::FetchAll,
            Op::FetchOptional(..) => OpKind::FetchOptional,
            Op::Count(_) => OpKind::Count,
            Op::InsertReturning(..) => OpKind::InsertReturning,
            Op::Execute(_) => OpKind::Execute,
            Op::ExecuteRaw(_) => OpKind::ExecuteRaw,
            Op::FetchCompiled(..) => OpKind::FetchCompiled,
            Op::ExecuteCompiled(_) => OpKind::ExecuteCompiled,
        }
    }

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
         the op it was given (see `polyorm_core::exec::layer::Outcome`)"
    ))
}

/// The kind of an [`Op`], without its statement: which of the [`Executor`] methods it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OpKind {
    /// [`Op::FetchAll`].
    FetchAll,
    /// [`Op::FetchOptional`].
    FetchOptional,
    /// [`Op::Count`].
    Count,
    /// [`Op::InsertReturning`].
    InsertReturning,
    /// [`Op::Execute`].
    Execute,
    /// [`Op::ExecuteRaw`].
    ExecuteRaw,
    /// [`Op::FetchCompiled`].
    FetchCompiled,
    /// [`Op::ExecuteCompiled`].
    ExecuteCompiled,
}

impl OpKind {
    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// A set of [`OpKind`]s: the operations a layer's [`call`](Layer::call) is given
/// ([`Layer::CALLS`]). Built in `const` context: `OpKinds::NONE.with(OpKind::Execute)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OpKinds(u8);

impl OpKinds {
    /// Every operation.
    pub const ALL: OpKinds = OpKinds(u8::MAX);
    /// None: every operation goes straight to the executor below, unless the layer overrides
    /// its typed method.
    pub const NONE: OpKinds = OpKinds(0);
    /// The typed reads: [`OpKind::FetchAll`], [`OpKind::FetchOptional`], [`OpKind::Count`].
    pub const READS: OpKinds = OpKinds::NONE
        .with(OpKind::FetchAll)
        .with(OpKind::FetchOptional)
        .with(OpKind::Count);
    /// Every operation but the typed reads (what may change data, and SQL the caller wrote).
    pub const NOT_READS: OpKinds = OpKinds(!OpKinds::READS.0);

    /// This set and `kind`.
    #[must_use]
    pub const fn with(self, kind: OpKind) -> OpKinds {
        OpKinds(self.0 | kind.bit())
    }

    /// This set without `kind`.
    #[must_use]
    pub const fn without(self, kind: OpKind) -> OpKinds {
        OpKinds(self.0 & !kind.bit())
    }

    /// Whether `kind` is in the set.
    pub const fn contains(self, kind: OpKind) -> bool {
        self.0 & kind.bit() != 0
    }
}

/// Code that runs around every operation of the executor it is stacked on (see the module
/// docs).
///
/// Two ways to write one, which mix:
/// - **One entry point**: implement [`call`](Layer::call), which every operation in
///   [`CALLS`](Layer::CALLS) (by default all of them) reaches as an [`Op`]. Simplest for a layer
///   that treats every statement alike (tracing, metrics, audit).
/// - **Typed methods**: override [`fetch_optional`](Layer::fetch_optional),
///   [`execute`](Layer::execute), … for the operations the layer acts on, and set `CALLS` to
///   the operations `call` should still see ([`OpKinds::NONE`] for none). An operation outside
///   `CALLS` that the layer does not override goes straight to the executor below, with
///   nothing built or wrapped: a layer costs only what it does.
///
/// An operation handed to `call` by a default typed method runs in a heap future (see the
/// module docs); a layer that acts on every statement of a hot path and wants no allocation
/// overrides the typed method instead (as `Metrics` does: a future of its own around the
/// inner one).
///
/// The transaction hooks are optional.
pub trait Layer: Send + Sync {
    /// The operations that the default typed methods hand to [`call`](Layer::call) (when
    /// [`is_active`](Layer::is_active)); the others go straight to the executor below. Known
    /// at compile time, so a layer that leaves an operation out adds nothing to it.
    const CALLS: OpKinds = OpKinds::ALL;

    /// Runs `op`: usually `op.run(inner).await` with something before and after it; a layer
    /// may also answer without running it (a cache hit) or run it more than once (a retry).
    /// By default it only runs it.
    fn call<E: Executor, T: Send + 'static>(
        &self,
        inner: &E,
        op: Op<T>,
    ) -> impl Future<Output = Result<Outcome<T>>> + Send {
        op.run(inner)
    }

    /// Whether [`call`](Layer::call) has work to do now (default: yes). Asked once per
    /// operation in [`CALLS`](Layer::CALLS); `false` sends the operation straight to the
    /// executor below (tracing with nothing listening).
    fn is_active(&self) -> bool {
        true
    }

    /// [`Executor::fetch_all`] through this layer; by default [`call`](Layer::call) with
    /// [`Op::FetchAll`] (see [`CALLS`](Layer::CALLS)).
    fn fetch_all<E: Executor, T: Send + 'static>(
        &self,
        inner: &E,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> impl Future<Output = Result<Vec<T>>> + Send {
        if Self::CALLS.contains(OpKind::FetchAll) && self.is_active() {
            Either::Left(Box::pin(async move {
                let outcome = self.call(inner, Op::FetchAll(query, decode)).await;
                expect_outcome!(outcome, Rows, "fetch_all")
            }))
        } else {
            Either::Right(inner.fetch_all(query, decode))
        }
    }

    /// [`Executor::fetch_optional`] through this layer; by default [`call`](Layer::call) with
    /// [`Op::FetchOptional`] (see [`CALLS`](Layer::CALLS)).
    fn fetch_optional<E: Executor, T: Send + 'static>(
        &self,
        inner: &E,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> impl Future<Output = Result<Option<T>>> + Send {
        if Self::CALLS.contains(OpKind::FetchOptional) && self.is_active() {
            Either::Left(Box::pin(async move {
                let outcome = self.call(inner, Op::FetchOptional(query, decode)).await;
                expect_outcome!(outcome, Row, "fetch_optional")
            }))
        } else {
            Either::Right(inner.fetch_optional(query, decode))
        }
    }

    /// [`Executor::count`] through this layer; by default [`call`](Layer::call) with
    /// [`Op::Count`] (see [`CALLS`](Layer::CALLS)).
    fn count<E: Executor>(
        &self,
        inner: &E,
        query: SelectQuery,
    ) -> impl Future<Output = Result<u64>> + Send {
        if Self::CALLS.contains(OpKind::Count) && self.is_active() {
            Either::Left(Box::pin(async move {
                let outcome = self.call(inner, Op::<()>::Count(query)).await;
                expect_outcome!(outcome, Count, "count")
            }))
        } else {
            Either::Right(inner.count(query))
        }
    }

    /// [`Executor::insert_returning`] through this layer; by default [`call`](Layer::call)
    /// with [`Op::InsertReturning`] (see [`CALLS`](Layer::CALLS)).
    fn insert_returning<E: Executor, T: Send + 'static>(
        &self,
        inner: &E,
        query: InsertQuery,
        decode: Decoder<T>,
    ) -> impl Future<Output = Result<T>> + Send {
        if Self::CALLS.contains(OpKind::InsertReturning) && self.is_active() {
            Either::Left(Box::pin(async move {
                let outcome = self.call(inner, Op::InsertReturning(query, decode)).await;
                expect_outcome!(outcome, Inserted, "insert_returning")
            }))
        } else {
            Either::Right(inner.insert_returning(query, decode))
        }
    }

    /// [`Executor::execute`] through this layer; by default [`call`](Layer::call) with
    /// [`Op::Execute`] (see [`CALLS`](Layer::CALLS)).
    fn execute<E: Executor>(
        &self,
        inner: &E,
        statement: Statement,
    ) -> impl Future<Output = Result<ExecResult>> + Send {
        if Self::CALLS.contains(OpKind::Execute) && self.is_active() {
            Either::Left(Box::pin(async move {
                let outcome = self.call(inner, Op::<()>::Execute(statement)).await;
                expect_outcome!(outcome, Done, "execute")
            }))
        } else {
            Either::Right(inner.execute(statement))
        }
    }

    /// [`Executor::execute_raw`] through this layer; by default [`call`](Layer::call) with
    /// [`Op::ExecuteRaw`] (see [`CALLS`](Layer::CALLS)).
    fn execute_raw<E: Executor>(
        &self,
        inner: &E,
        sql: &str,
    ) -> impl Future<Output = Result<ExecResult>> + Send {
        if Self::CALLS.contains(OpKind::ExecuteRaw) && self.is_active() {
            Either::Left(Box::pin(async move {
                let outcome = self.call(inner, Op::<()>::ExecuteRaw(sql.to_owned())).await;
                expect_outcome!(outcome, Done, "execute_raw")
            }))
        } else {
            Either::Right(inner.execute_raw(sql))
        }
    }

    /// [`Executor::fetch_compiled`] through this layer; by default [`call`](Layer::call) with
    /// [`Op::FetchCompiled`] (see [`CALLS`](Layer::CALLS)).
    fn fetch_compiled<E: Executor, T: Send + 'static>(
        &self,
        inner: &E,
        statement: Compiled,
        decode: Decoder<T>,
    ) -> impl Future<Output = Result<Vec<T>>> + Send {
        if Self::CALLS.contains(OpKind::FetchCompiled) && self.is_active() {
            Either::Left(Box::pin(async move {
                let outcome = self.call(inner, Op::FetchCompiled(statement, decode)).await;
                expect_outcome!(outcome, Rows, "fetch_compiled")
            }))
        } else {
            Either::Right(inner.fetch_compiled(statement, decode))
        }
    }

    /// [`Executor::execute_compiled`] through this layer; by default [`call`](Layer::call)
    /// with [`Op::ExecuteCompiled`] (see [`CALLS`](Layer::CALLS)).
    fn execute_compiled<E: Executor>(
        &self,
        inner: &E,
        statement: Compiled,
    ) -> impl Future<Output = Result<ExecResult>> + Send {
        if Self::CALLS.contains(OpKind::ExecuteCompiled) && self.is_active() {
            Either::Left(Box::pin(async move {
                let outcome = self.call(inner, Op::<()>::ExecuteCompiled(statement)).await;
                expect_outcome!(outcome, Done, "execute_compiled")
            }))
        } else {
            Either::Right(inner.execute_compiled(statement))
        }
    }

    /// A typed operation with what the observability layers above want done when it ends
    /// ([`Executor::observed`]). Not for layers to override: the `Tracing` and `Metrics`
    /// layers add their part and hand it further down, so that one future does the work of
    /// both. By default the operation runs through this layer's typed method, wrapped once.
    #[doc(hidden)]
    #[cfg(any(feature = "tracing", feature = "metrics"))]
    #[inline]
    fn observed<E, O, P>(
        &self,
        inner: &E,
        op: O,
        observation: P,
    ) -> impl Future<Output = Result<O::Output>> + Send
    where
        E: Executor,
        O: crate::observe::fused::TypedOp,
        P: crate::observe::fused::Observation,
    {
        crate::observe::fused::Observed::new(op.run_through(self, inner), observation, O::counted)
    }

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

/// The typed methods are `#[inline]`: each only hands the statement to the layer, and out of
/// line it was one more frame that copied the statement (320 bytes for a select) from its
/// caller's stack into the future it returns.
impl<L: Layer, E: Executor> Executor for Layered<L, E> {
    fn backend(&self) -> Backend {
        self.inner.backend()
    }

    #[inline]
    fn fetch_all<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> impl Future<Output = Result<Vec<T>>> + Send {
        self.layer.fetch_all(&self.inner, query, decode)
    }

    #[inline]
    fn fetch_optional<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> impl Future<Output = Result<Option<T>>> + Send {
        self.layer.fetch_optional(&self.inner, query, decode)
    }

    fn fetch_stream<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> RowStream<'_, T> {
        self.layer.fetch_stream(&self.inner, query, decode)
    }

    #[inline]
    fn count(&self, query: SelectQuery) -> impl Future<Output = Result<u64>> + Send {
        self.layer.count(&self.inner, query)
    }

    #[inline]
    fn insert_returning<T: Send + 'static>(
        &self,
        query: InsertQuery,
        decode: Decoder<T>,
    ) -> impl Future<Output = Result<T>> + Send {
        self.layer.insert_returning(&self.inner, query, decode)
    }

    #[inline]
    fn execute(&self, statement: Statement) -> impl Future<Output = Result<ExecResult>> + Send {
        self.layer.execute(&self.inner, statement)
    }

    fn execute_raw(&self, sql: &str) -> impl Future<Output = Result<ExecResult>> + Send {
        self.layer.execute_raw(&self.inner, sql)
    }

    fn fetch_compiled<T: Send + 'static>(
        &self,
        statement: Compiled,
        decode: Decoder<T>,
    ) -> impl Future<Output = Result<Vec<T>>> + Send {
        self.layer.fetch_compiled(&self.inner, statement, decode)
    }

    fn execute_compiled(
        &self,
        statement: Compiled,
    ) -> impl Future<Output = Result<ExecResult>> + Send {
        self.layer.execute_compiled(&self.inner, statement)
    }

    #[cfg(any(feature = "tracing", feature = "metrics"))]
    #[inline]
    fn observed<O: crate::observe::fused::TypedOp, P: crate::observe::fused::Observation>(
        &self,
        op: O,
        observation: P,
    ) -> impl Future<Output = Result<O::Output>> + Send {
        self.layer.observed(&self.inner, op, observation)
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

    #[cfg(any(feature = "tracing", feature = "metrics"))]
    fn observed<O: crate::observe::fused::TypedOp, P: crate::observe::fused::Observation>(
        &self,
        op: O,
        observation: P,
    ) -> impl Future<Output = Result<O::Output>> + Send {
        self.delegate().observed(op, observation)
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
