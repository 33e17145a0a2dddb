//! Bulk writes by filter: `update_many` and `delete_many`.

use std::marker::PhantomData;

use super::column::{Column, Filter};
use super::ir::{Condition, DeleteQuery, Statement, UpdateQuery};
use crate::error::Result;
use crate::exec::Executor;
use crate::model::Model;
use crate::sql::{Compiled, Dialect, compile};
use crate::value::{FieldType, IntoValue};

/// An update of every row of `M` matching the filters: `set` columns, then `execute`.
#[derive(Debug, Clone)]
#[must_use = "an update does nothing until `execute(&db)` is awaited"]
pub struct UpdateMany<M> {
    query: UpdateQuery,
    _marker: PhantomData<fn() -> M>,
}

impl<M: Model> UpdateMany<M> {
    pub(crate) fn new() -> Self {
        UpdateMany {
            query: UpdateQuery {
                schema: M::schema(),
                assignments: Vec::new(),
                filter: None,
            },
            _marker: PhantomData,
        }
    }

    /// Sets `column` to `value` on every matching row.
    pub fn set<T: FieldType>(mut self, column: Column<M, T>, value: impl IntoValue<T>) -> Self {
        self.query
            .assignments
            .push((column.name(), value.into_value()));
        self
    }

    /// Restricts the update to rows matching `filter`; several calls combine with AND.
    pub fn filter(mut self, filter: Filter<M>) -> Self {
        self.query.filter = Some(Condition::and_opt(
            self.query.filter.take(),
            filter.into_condition(),
        ));
        self
    }

    /// The IR of this update.
    pub fn ir(&self) -> &UpdateQuery {
        &self.query
    }

    /// Compiles the statement for `dialect` without running it.
    pub fn compile(&self, dialect: Dialect) -> Result<Compiled> {
        compile(&Statement::Update(self.query.clone()), dialect)
    }

    /// Runs the update; returns the number of rows matched.
    pub async fn execute<E: Executor>(self, db: &E) -> Result<u64> {
        let done = db
            .execute(Statement::Update(self.query))
            .await
            .map_err(|e| e.resolve_constraint(M::schema()))?;
        Ok(done.rows_affected)
    }
}

/// A delete of every row of `M` matching the filters (all rows when there is none).
#[derive(Debug, Clone)]
#[must_use = "a delete does nothing until `execute(&db)` is awaited"]
pub struct DeleteMany<M> {
    query: DeleteQuery,
    _marker: PhantomData<fn() -> M>,
}

impl<M: Model> DeleteMany<M> {
    pub(crate) fn new() -> Self {
        DeleteMany {
            query: DeleteQuery {
                schema: M::schema(),
                filter: None,
            },
            _marker: PhantomData,
        }
    }

    pub(crate) fn with_condition(mut self, condition: Condition) -> Self {
        self.query.filter = Some(Condition::and_opt(self.query.filter.take(), condition));
        self
    }

    /// Restricts the delete to rows matching `filter`; several calls combine with AND.
    pub fn filter(self, filter: Filter<M>) -> Self {
        self.with_condition(filter.into_condition())
    }

    /// The IR of this delete.
    pub fn ir(&self) -> &DeleteQuery {
        &self.query
    }

    /// Compiles the statement for `dialect` without running it.
    pub fn compile(&self, dialect: Dialect) -> Result<Compiled> {
        compile(&Statement::Delete(self.query.clone()), dialect)
    }

    /// Runs the delete; returns the number of rows deleted.
    pub async fn execute<E: Executor>(self, db: &E) -> Result<u64> {
        Ok(db
            .execute(Statement::Delete(self.query))
            .await?
            .rows_affected)
    }
}
