//! Bulk writes by filter: `update_many` and `delete_many`.

use std::marker::PhantomData;

use super::column::{Column, Filter};
use super::grouping::ColumnId;
use super::ir;
use super::ir::{Assignment, Condition, DeleteQuery, Statement, UpdateQuery};
use crate::error::Result;
use crate::exec::Executor;
use crate::model::Model;
use crate::sql::{Compiled, Dialect, compile};
use crate::value::{Assign, FieldType, IntoValue, NumericField};

/// `column + delta`, built with `Post::VIEWS + 1`; usable as the value of
/// [`UpdateMany::set`].
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnPlus<M, T> {
    source: &'static str,
    delta: crate::value::Value,
    _marker: PhantomData<fn() -> (M, T)>,
}

impl<M: Model, T: NumericField, V: IntoValue<T>, Id> std::ops::Add<V> for Column<M, T, Id> {
    type Output = ColumnPlus<M, T>;

    fn add(self, delta: V) -> ColumnPlus<M, T> {
        ColumnPlus {
            source: self.name(),
            delta: delta.into_value(),
            _marker: PhantomData,
        }
    }
}

impl<M: Model, T: NumericField, V: IntoValue<T>, Id> std::ops::Sub<V> for Column<M, T, Id>
where
    V: std::ops::Neg<Output = V>,
{
    type Output = ColumnPlus<M, T>;

    fn sub(self, delta: V) -> ColumnPlus<M, T> {
        self + (-delta)
    }
}

impl<M, T> Assign<M, T> for ColumnPlus<M, T> {
    fn into_assignment(self) -> Assignment {
        Assignment::Add {
            source: self.source,
            delta: self.delta,
        }
    }
}

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

    /// Sets `column` on every matching row to a value, or to an expression such as
    /// `Post::VIEWS + 1`.
    pub fn set<T: FieldType>(
        mut self,
        column: Column<M, T, impl ColumnId>,
        value: impl Assign<M, T>,
    ) -> Self {
        self.query
            .assignments
            .push((column.name(), value.into_assignment()));
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
        compile(
            &Statement::Update(touched::<M>(self.query.clone())),
            dialect,
        )
    }

    /// Runs the update; returns the number of rows matched. A model with an
    /// `#[orm(updated_at)]` column also sets it to the current time, unless the update sets it.
    pub async fn execute<E: Executor>(self, db: &E) -> Result<u64> {
        let done = db
            .execute(Statement::Update(touched::<M>(self.query)))
            .await
            .map_err(|e| e.resolve_constraint(M::schema()))?;
        Ok(done.rows_affected)
    }
}

/// `query` with `M`'s `updated_at` column set to now and its `version` incremented, unless the
/// update sets them itself (or `M` has none, or nothing is assigned: an update without
/// assignments stays refused as such).
fn touched<M: Model>(mut query: UpdateQuery) -> UpdateQuery {
    if let Some((column, now)) = M::touch()
        && !query.assignments.is_empty()
        && !query.assignments.iter().any(|(c, _)| *c == column)
    {
        query.assignments.push((column, Assignment::Value(now)));
    }
    // A changed row gets a new version (`version = version + 1`), unless the update sets it.
    if let Some(column) = M::VERSION_COLUMN
        && let Some(ty) = M::schema().column(column).map(|c| c.ty)
        && !query.assignments.is_empty()
        && !query.assignments.iter().any(|(c, _)| *c == column)
    {
        let one = match ty {
            crate::schema::ColumnType::SmallInt => crate::value::Value::SmallInt(1),
            crate::schema::ColumnType::Int => crate::value::Value::Int(1),
            _ => crate::value::Value::BigInt(1),
        };
        query.assignments.push((
            column,
            Assignment::Add {
                source: column,
                delta: one,
            },
        ));
    }
    query
}

/// A delete of every row of `M` matching the filters (all rows when there is none).
///
/// For a model with an `#[orm(soft_delete)]` column it is an update that sets the column to
/// the current time in the matching live rows (the rows stay, every query skips them);
/// [`hard`](DeleteMany::hard) makes it a `DELETE`.
#[derive(Debug, Clone)]
#[must_use = "a delete does nothing until `execute(&db)` is awaited"]
pub struct DeleteMany<M> {
    query: DeleteQuery,
    hard: bool,
    _marker: PhantomData<fn() -> M>,
}

impl<M: Model> DeleteMany<M> {
    pub(crate) fn new() -> Self {
        DeleteMany {
            query: DeleteQuery {
                schema: M::schema(),
                filter: None,
            },
            hard: false,
            _marker: PhantomData,
        }
    }

    /// Removes the matching rows (soft-deleted or not) even when the model soft-deletes.
    pub fn hard(mut self) -> Self {
        self.hard = true;
        self
    }

    /// The statement this delete runs: a `DELETE`, or for a soft-deleting model (unless
    /// [`hard`](DeleteMany::hard)) the update that marks the live matching rows deleted (and
    /// keeps `updated_at` and the version as any update does).
    pub fn statement(&self) -> Statement {
        match M::soft_delete_now() {
            Some((column, now)) if !self.hard => {
                let live = crate::model::deleted_rows(M::schema(), false)
                    .expect("a soft-deleting model has the column");
                Statement::Update(touched::<M>(UpdateQuery {
                    schema: M::schema(),
                    assignments: vec![(column, Assignment::Value(now))],
                    filter: Some(Condition::and_opt(self.query.filter.clone(), live)),
                }))
            }
            _ => Statement::Delete(self.query.clone()),
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
        compile(&self.statement(), dialect)
    }

    /// Runs the delete; returns the number of rows deleted (soft-deleted for a soft-deleting
    /// model).
    pub async fn execute<E: Executor>(self, db: &E) -> Result<u64> {
        Ok(db.execute(self.statement()).await?.rows_affected)
    }
}

/// What [`Model::upsert_many`] does with rows that conflict with existing ones:
/// `OnConflict::on(User::EMAIL).update(User::NAME)` or `OnConflict::on(User::EMAIL).do_nothing()`.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "pass the conflict clause to `upsert_many`"]
pub struct OnConflict<M> {
    clause: ir::OnConflict,
    _marker: PhantomData<fn() -> M>,
}

impl<M: Model> OnConflict<M> {
    /// Handles conflicts on `column` (add more with [`and`](OnConflict::and)); PostgreSQL and
    /// SQLite need a unique index or key on exactly these columns.
    pub fn on<T: FieldType>(column: Column<M, T, impl ColumnId>) -> Self {
        OnConflict {
            clause: ir::OnConflict {
                columns: vec![column.name()],
                update: Vec::new(),
            },
            _marker: PhantomData,
        }
    }

    /// Adds another conflict column (for a composite unique constraint).
    pub fn and<T: FieldType>(mut self, column: Column<M, T, impl ColumnId>) -> Self {
        self.clause.columns.push(column.name());
        self
    }

    /// On conflict, overwrites `column` with the new row's value (repeat for more columns).
    pub fn update<T: FieldType>(mut self, column: Column<M, T, impl ColumnId>) -> Self {
        self.clause.update.push(column.name());
        self
    }

    /// On conflict, keeps the existing row unchanged (the default when nothing is updated).
    pub fn do_nothing(mut self) -> Self {
        self.clause.update.clear();
        self
    }

    /// The IR clause.
    pub fn into_clause(self) -> ir::OnConflict {
        self.clause
    }
}
