//! `SELECT` builder: `User::query().filter(..).order_by(..).limit(..).all(&db)`.

use std::marker::PhantomData;

use super::column::{Filter, Order};
use super::ir::{Condition, IndexHint, IndexHintKind, Projection, RowLock, SelectQuery, Statement};
use crate::error::{Error, Result};
use crate::exec::{Executor, RowStream};
use crate::model::{Model, decode_model, select_query};
use crate::sql::{Compiled, Dialect, compile, compile_select};

/// A typed select over model `M`; nothing runs until a terminal method (`all`, `one`,
/// `optional`, `count`, `exists`) is awaited.
#[derive(Debug, Clone)]
#[must_use = "a query does nothing until a terminal method such as `all(&db)` is awaited"]
pub struct Select<M> {
    query: SelectQuery,
    _marker: PhantomData<fn() -> M>,
}

impl<M: Model> Default for Select<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: Model> Select<M> {
    /// A select of every row of `M`'s table.
    pub fn new() -> Self {
        Select {
            query: select_query::<M>(Projection::Model),
            _marker: PhantomData,
        }
    }

    pub(crate) fn with_condition(mut self, condition: Condition) -> Self {
        self.query.filter = Some(Condition::and_opt(self.query.filter.take(), condition));
        self
    }

    /// Reads soft-deleted rows too (a model with an `#[orm(soft_delete)]` column; every query
    /// of such a model skips them by default). Nothing changes for another model.
    pub fn with_deleted(mut self) -> Self {
        if let Some(live) = crate::model::deleted_rows(M::schema(), false) {
            self.query.filter = self
                .query
                .filter
                .take()
                .and_then(|f| without_conjunct(f, &live));
        }
        self
    }

    /// Reads only soft-deleted rows (a model with an `#[orm(soft_delete)]` column); for
    /// another model, no row.
    pub fn only_deleted(mut self) -> Self {
        self = self.with_deleted();
        let deleted = crate::model::deleted_rows(M::schema(), true)
            .unwrap_or_else(|| Condition::Or(Vec::new()));
        self.query.filter = Some(Condition::and_opt(self.query.filter.take(), deleted));
        self
    }

    /// Keeps the rows matching `filter`; several calls combine with AND.
    pub fn filter(self, filter: Filter<M>) -> Self {
        self.with_condition(filter.into_condition())
    }

    /// Sorts by `order`; later calls break ties of earlier ones.
    pub fn order_by(mut self, order: Order<M>) -> Self {
        self.query.order.push(order.into_order_by());
        self
    }

    /// Locks the selected rows until the transaction ends (`FOR UPDATE`); run it on a
    /// [`Transaction`](crate::Transaction). On SQLite, whose transactions are serializable, it
    /// adds nothing.
    pub fn for_update(mut self) -> Self {
        self.query.lock = Some(RowLock::ForUpdate);
        self
    }

    /// Locks the selected rows, leaving out rows other transactions hold
    /// (`FOR UPDATE SKIP LOCKED`: job queues). Not available on SQLite (`InvalidQuery`).
    pub fn skip_locked(mut self) -> Self {
        self.query.lock = Some(RowLock::SkipLocked);
        self
    }

    /// Locks the selected rows, failing at once with [`Error::LockTimeout`] when one is held
    /// by another transaction (`FOR UPDATE NOWAIT`). Not available on SQLite.
    pub fn no_wait(mut self) -> Self {
        self.query.lock = Some(RowLock::NoWait);
        self
    }

    /// MySQL/MariaDB `USE INDEX (index)`: the optimizer considers only this index of the
    /// model's (its name as the DDL created it, e.g. `idx_users_age`). PostgreSQL has no
    /// optimizer hints, and SQLite and MongoDB get none: the hint is left out there. A name
    /// the model has no index of is an [`Error::InvalidQuery`] on every SQL dialect.
    pub fn use_index(self, index: &'static str) -> Self {
        self.hint(IndexHintKind::Use, index)
    }

    /// MySQL/MariaDB `FORCE INDEX (index)`: a table scan only if the index cannot serve the
    /// query at all; left out elsewhere, as [`use_index`](Select::use_index).
    pub fn force_index(self, index: &'static str) -> Self {
        self.hint(IndexHintKind::Force, index)
    }

    /// MySQL/MariaDB `IGNORE INDEX (index)`; left out elsewhere, as
    /// [`use_index`](Select::use_index).
    pub fn ignore_index(self, index: &'static str) -> Self {
        self.hint(IndexHintKind::Ignore, index)
    }

    fn hint(mut self, kind: IndexHintKind, index: &'static str) -> Self {
        self.query.index_hint = Some(IndexHint { kind, index });
        self
    }

    /// Keyset pagination: only the rows after `last` in this query's order (see
    /// [`keyset`](crate::query::keyset)). The order must include the primary key and use NOT
    /// NULL columns, else running the query is an [`Error::InvalidQuery`].
    pub fn after(mut self, last: &M) -> Self {
        let values = (0..M::schema().columns.len()).map(|i| last.column_value(i));
        self.query.after = Some(values.collect());
        self
    }

    /// Lets DynamoDB serve this query with a full-table `Scan` when neither the table's key
    /// nor an index serves its filter (without it such a query is an
    /// [`Error::InvalidQuery`](crate::Error::InvalidQuery) naming the attributes to index).
    /// A scan reads, and is billed for, every item of the table. Other backends ignore it.
    pub fn allow_scan(mut self) -> Self {
        self.query.read.allow_scan = true;
        self
    }

    /// Strongly consistent reads on DynamoDB (`ConsistentRead`): the query sees every write
    /// acknowledged before it started. Not available on a global secondary index. Other
    /// backends ignore it (their reads are consistent).
    pub fn consistent_read(mut self) -> Self {
        self.query.read.consistent = true;
        self
    }

    /// Returns at most `n` rows.
    pub fn limit(mut self, n: u64) -> Self {
        self.query.limit = Some(n);
        self
    }

    /// Skips the first `n` rows.
    pub fn offset(mut self, n: u64) -> Self {
        self.query.offset = Some(n);
        self
    }

    /// The IR of this query, by value.
    pub(crate) fn into_ir(self) -> SelectQuery {
        self.query
    }

    /// The IR of this query.
    pub fn ir(&self) -> &SelectQuery {
        &self.query
    }

    /// Compiles the query for `dialect` without running it (for logging and tests).
    pub fn compile(&self, dialect: Dialect) -> Result<Compiled> {
        // What `compile(&Statement::Select(..))` does for a select, without copying the IR.
        compile_select(&self.query, dialect)
    }

    fn compile_as(&self, projection: Projection, dialect: Dialect) -> Result<Compiled> {
        let mut query = self.query.clone();
        query.projection = projection;
        compile(&Statement::Select(query), dialect)
    }

    /// Compiles the `count` form of this query for `dialect`.
    pub fn compile_count(&self, dialect: Dialect) -> Result<Compiled> {
        self.compile_as(Projection::Count, dialect)
    }

    /// Compiles the `exists` form of this query for `dialect`.
    pub fn compile_exists(&self, dialect: Dialect) -> Result<Compiled> {
        self.compile_as(Projection::Exists, dialect)
    }

    /// Every matching row.
    pub async fn all<E: Executor>(self, db: &E) -> Result<Vec<M>> {
        db.fetch_all(self.query, decode_model::<M>).await
    }

    /// Every matching row, handed over one at a time as the database returns it: a read of
    /// any size in constant memory (a cursor on MongoDB). The stream holds a connection until
    /// it ends or is dropped (see [`RowStream`]).
    ///
    /// ```no_run
    /// # use polyorm_core::prelude::*;
    /// # async fn run<M: Model>(db: &polyorm_core::Db) -> polyorm_core::Result<()> {
    /// use futures_core::Stream;
    /// let mut rows = M::query().stream(db);
    /// while let Some(row) = std::future::poll_fn(|cx| rows.as_mut().poll_next(cx)).await {
    ///     let _row: M = row?;
    /// }
    /// # Ok(()) }
    /// ```
    /// (With `futures::TryStreamExt` in scope: `while let Some(row) = rows.try_next().await? {…}`.)
    pub fn stream<E: Executor>(self, db: &E) -> RowStream<'_, M> {
        db.fetch_stream(self.query, decode_model::<M>)
    }

    /// The first matching row; [`Error::NotFound`] if there is none.
    pub async fn one<E: Executor>(self, db: &E) -> Result<M> {
        let table = M::schema().table;
        self.optional(db)
            .await?
            .ok_or(Error::NotFound { table, detail: "" })
    }

    /// The first matching row, or `None`.
    pub async fn optional<E: Executor>(mut self, db: &E) -> Result<Option<M>> {
        if self.query.limit.is_none() {
            self.query.limit = Some(1);
        }
        db.fetch_optional(self.query, decode_model::<M>).await
    }

    /// The number of matching rows (after `limit` and `offset`).
    pub async fn count<E: Executor>(self, db: &E) -> Result<u64> {
        db.count(self.query).await
    }

    /// Whether any row matches.
    pub async fn exists<E: Executor>(mut self, db: &E) -> Result<bool> {
        self.query.projection = Projection::Exists;
        Ok(db.fetch_optional(self.query, |_| Ok(())).await?.is_some())
    }
}

/// `condition` without one top-level conjunct equal to `conjunct` (`None` when nothing is
/// left).
fn without_conjunct(condition: Condition, conjunct: &Condition) -> Option<Condition> {
    match condition {
        c if c == *conjunct => None,
        Condition::And(mut items) => {
            if let Some(i) = items.iter().position(|c| c == conjunct) {
                items.remove(i);
            }
            match items.len() {
                0 => None,
                1 => items.pop(),
                _ => Some(Condition::And(items)),
            }
        }
        other => Some(other),
    }
}
