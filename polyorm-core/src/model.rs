//! The [`Model`] trait implemented by `#[derive(Model)]`, with the CRUD entry points.

use std::future::Future;

use crate::error::{Error, Result};
use crate::exec::{Backend, Executor, RowRef};
use crate::query::ir::{
    Assignment, CmpOp, ColumnRef, Condition, InsertQuery, Projection, SelectQuery, Statement,
    UpdateQuery, UpsertQuery,
};
use crate::query::{DeleteMany, OnConflict, Select, UpdateMany};
use crate::schema::ModelSchema;
use crate::sql::default::generated_sql;
use crate::value::Value;

/// A struct stored as one table (or collection); implemented by `#[derive(Model)]`.
///
/// The required methods are generated; the provided ones are the CRUD API:
/// [`query`](Model::query), [`find`](Model::find), [`insert`](Model::insert),
/// [`insert_many`](Model::insert_many), [`update`](Model::update),
/// [`update_many`](Model::update_many), [`delete`](Model::delete),
/// [`delete_by_key`](Model::delete_by_key) and [`delete_many`](Model::delete_many).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a model",
    label = "a model is expected here",
    note = "a model is a struct with `#[derive(Model)]`"
)]
pub trait Model: Sized + Send + Sync + 'static {
    /// The primary key: the key field's type, or a tuple for a composite key.
    type PrimaryKey: Send + Sync;

    /// The static schema descriptor (a constant, so other models' descriptors can refer to it).
    const SCHEMA: &'static ModelSchema;

    /// The static schema descriptor.
    fn schema() -> &'static ModelSchema {
        Self::SCHEMA
    }

    /// Decodes a row whose columns start at `offset`, in [`ModelSchema::columns`] order.
    fn decode_row(row: &RowRef<'_>, offset: usize) -> Result<Self>;

    /// The value of the stored column at `index` (a position in [`ModelSchema::columns`]).
    ///
    /// # Panics
    /// If `index` is not a column position of this model.
    fn column_value(&self, index: usize) -> Value;

    /// Values of [`ModelSchema::insert_columns`], in that order.
    fn insert_values(&self) -> Vec<Value>;

    /// The value the application generates for the column at `index` (a position in
    /// [`ModelSchema::columns`]) when an insert leaves it unset and the database cannot
    /// generate it: `now()` on MongoDB, `uuid()` outside PostgreSQL. `None` for the other
    /// columns. Generated for the fields with `#[orm(default = now())]` / `uuid()`.
    fn generated_value(index: usize) -> Option<Value> {
        let _ = index;
        None
    }

    /// The `#[orm(version)]` column (optimistic locking): [`update`](Model::update) writes
    /// only the row still holding the version it was read with (else [`Error::Conflict`]) and
    /// increments it; [`update_many`](Model::update_many) increments it in every row it
    /// changes. `None` without such a column.
    const VERSION_COLUMN: Option<&'static str> = None;

    /// The `#[orm(updated_at)]` column and the current time (the application's clock, UTC) to
    /// write into it: added by [`update_many`](Model::update_many) (unless it sets the column
    /// itself) and by [`upsert_many`](Model::upsert_many) to the columns a conflict updates.
    /// `None` without such a column.
    fn touch() -> Option<(&'static str, Value)> {
        None
    }

    /// Values of [`ModelSchema::update_columns`], in that order.
    fn update_values(&self) -> Vec<Value>;

    /// This row's primary key.
    fn primary_key(&self) -> Self::PrimaryKey;

    /// The values of a primary key, in key order.
    fn primary_key_values(key: Self::PrimaryKey) -> Vec<Value>;

    /// A query over this model's table.
    fn query() -> Select<Self> {
        Select::new()
    }

    /// The row with this primary key, or `None`.
    fn find<E: Executor>(
        db: &E,
        key: Self::PrimaryKey,
    ) -> impl Future<Output = Result<Option<Self>>> + Send {
        let mut query = select_query::<Self>(Projection::Model);
        query.filter = Some(Condition::and_opt(
            query.filter.take(),
            Condition::primary_key_eq(Self::schema(), Self::primary_key_values(key)),
        ));
        // The whole primary key matches at most one row, so no `LIMIT 1` (on PostgreSQL and
        // MySQL one parameter less to encode and bind; the statement is the hand-written one).
        db.fetch_optional(query, decode_model::<Self>)
    }

    /// Inserts this row and returns it as stored, with generated keys filled in.
    ///
    /// Auto-increment columns are never written: the database generates them.
    fn insert<E: Executor>(&self, db: &E) -> impl Future<Output = Result<Self>> + Send {
        let mut rows = vec![self.insert_values()];
        fill_generated::<Self>(&mut rows, db.backend());
        let query = InsertQuery {
            schema: Self::schema(),
            rows,
            returning: true,
        };
        async move {
            db.insert_returning(query, decode_model::<Self>)
                .await
                .map_err(|e| e.resolve_constraint(Self::schema()))
        }
    }

    /// Inserts all `rows` in one statement; returns how many were inserted.
    fn insert_many<E: Executor>(db: &E, rows: &[Self]) -> impl Future<Output = Result<u64>> + Send {
        let mut rows: Vec<Vec<Value>> = rows.iter().map(Self::insert_values).collect();
        fill_generated::<Self>(&mut rows, db.backend());
        async move {
            if rows.is_empty() {
                return Ok(0);
            }
            let schema = Self::schema();
            let insert = Statement::Insert(InsertQuery {
                schema,
                rows,
                returning: false,
            });
            let done = db
                .execute(insert)
                .await
                .map_err(|e| e.resolve_constraint(schema))?;
            Ok(done.rows_affected)
        }
    }

    /// Inserts `rows`, updating (or skipping) those that conflict with existing rows on the
    /// columns of `on_conflict`: `ON CONFLICT ... DO UPDATE/NOTHING` on PostgreSQL and SQLite,
    /// `ON DUPLICATE KEY UPDATE` on MySQL (which applies it to a conflict on any unique key).
    ///
    /// Returns nothing: the dialects count upserted rows differently (MySQL counts an updated
    /// row twice), so no count would mean the same everywhere.
    fn upsert_many<E: Executor>(
        db: &E,
        rows: &[Self],
        on_conflict: OnConflict<Self>,
    ) -> impl Future<Output = Result<()>> + Send {
        let mut rows: Vec<Vec<Value>> = rows.iter().map(Self::insert_values).collect();
        fill_generated::<Self>(&mut rows, db.backend());
        async move {
            if rows.is_empty() {
                return Ok(());
            }
            let schema = Self::schema();
            let mut on_conflict = on_conflict.into_clause();
            // A conflict that updates the row also updates its `updated_at`.
            if let Some((column, _)) = Self::touch()
                && !on_conflict.update.is_empty()
                && !on_conflict.update.contains(&column)
            {
                on_conflict.update.push(column);
            }
            let upsert = Statement::Upsert(UpsertQuery {
                insert: InsertQuery {
                    schema,
                    rows,
                    returning: false,
                },
                on_conflict,
            });
            db.execute(upsert)
                .await
                .map_err(|e| e.resolve_constraint(schema))?;
            Ok(())
        }
    }

    /// Writes every non-key field of this loaded row; [`Error::NotFound`] if its key matches no
    /// row.
    ///
    /// With an `#[orm(version)]` column, only the row still holding this row's version is
    /// written, and its version is incremented (`WHERE version = old`, `SET version = old + 1`);
    /// a row another writer updated since it was read is [`Error::Conflict`] (read it again
    /// and retry). The stored version is then this row's plus one: re-read the row (or add one)
    /// before updating it again.
    fn update<E: Executor>(&self, db: &E) -> impl Future<Output = Result<()>> + Send {
        let schema = Self::schema();
        let mut assignments: Vec<(&'static str, Assignment)> = schema
            .update_columns()
            .map(|c| c.name)
            .zip(self.update_values().into_iter().map(Assignment::Value))
            .collect();
        let key = Condition::primary_key_eq(schema, Self::primary_key_values(self.primary_key()));
        let mut filter = key.clone();
        let mut expected = None;
        if let Some(column) = Self::VERSION_COLUMN
            && let Some(index) = schema.columns.iter().position(|c| c.name == column)
        {
            let old = self.column_value(index);
            if let Some(version) = version_number(&old) {
                expected = Some(version);
                filter = Condition::and_all([
                    key.clone(),
                    Condition::Compare {
                        column: ColumnRef {
                            table: schema.table,
                            name: column,
                        },
                        op: CmpOp::Eq,
                        value: old.clone(),
                    },
                ]);
                for (name, assignment) in &mut assignments {
                    if *name == column {
                        *assignment = Assignment::Value(next_version(&old));
                    }
                }
            }
        }
        async move {
            if assignments.is_empty() {
                // A key-only row has nothing to update; it must still exist.
                let exists = Select::<Self>::new()
                    .with_condition(filter)
                    .exists(db)
                    .await?;
                return if exists {
                    Ok(())
                } else {
                    Err(not_found_by_key(schema))
                };
            }
            let update = Statement::Update(UpdateQuery {
                schema,
                assignments,
                filter: Some(filter),
            });
            let done = db
                .execute(update)
                .await
                .map_err(|e| e.resolve_constraint(schema))?;
            if done.rows_affected > 0 {
                return Ok(());
            }
            // Nothing written: a stale version if the row is there, else no such row.
            if let Some(expected) = expected
                && Select::<Self>::new().with_condition(key).exists(db).await?
            {
                return Err(Error::Conflict {
                    table: schema.table,
                    expected,
                });
            }
            Err(not_found_by_key(schema))
        }
    }

    /// An update of every row matching a filter: `User::update_many().set(..).filter(..)`.
    fn update_many() -> UpdateMany<Self> {
        UpdateMany::new()
    }

    /// Deletes this row by its primary key; returns whether a row was deleted.
    ///
    /// With an `#[orm(soft_delete)]` column the row stays: the column is set to the current
    /// time (if the row is not deleted already), and every query of the model skips it from
    /// then on; [`hard_delete`](Model::hard_delete) removes it.
    fn delete<E: Executor>(&self, db: &E) -> impl Future<Output = Result<bool>> + Send {
        Self::delete_by_key(db, self.primary_key())
    }

    /// Deletes the row with this primary key; returns whether a row was deleted (soft-deleted
    /// with an `#[orm(soft_delete)]` column, as [`delete`](Model::delete)).
    fn delete_by_key<E: Executor>(
        db: &E,
        key: Self::PrimaryKey,
    ) -> impl Future<Output = Result<bool>> + Send {
        let filter = Condition::primary_key_eq(Self::schema(), Self::primary_key_values(key));
        let delete = DeleteMany::<Self>::new().with_condition(filter);
        async move { Ok(delete.execute(db).await? > 0) }
    }

    /// Removes this row from the table, whether or not the model soft-deletes (and whether or
    /// not the row is soft-deleted); returns whether a row was removed.
    fn hard_delete<E: Executor>(&self, db: &E) -> impl Future<Output = Result<bool>> + Send {
        let filter =
            Condition::primary_key_eq(Self::schema(), Self::primary_key_values(self.primary_key()));
        let delete = DeleteMany::<Self>::new().hard().with_condition(filter);
        async move { Ok(delete.execute(db).await? > 0) }
    }

    /// Brings a soft-deleted row back (its `#[orm(soft_delete)]` column set to NULL); returns
    /// whether a deleted row was restored (`false` for a live or missing row). A model
    /// without a soft-delete column has nothing to restore: [`Error::InvalidQuery`].
    fn restore<E: Executor>(&self, db: &E) -> impl Future<Output = Result<bool>> + Send {
        let schema = Self::schema();
        let statement = schema.soft_delete_column().map(|column| {
            let key =
                Condition::primary_key_eq(schema, Self::primary_key_values(self.primary_key()));
            Statement::Update(UpdateQuery {
                schema,
                assignments: vec![(column.name, Assignment::Value(Value::Null(column.ty)))],
                filter: Some(Condition::and_opt(
                    Some(key),
                    deleted_rows(schema, true).expect("a soft-delete column"),
                )),
            })
        });
        async move {
            let Some(statement) = statement else {
                return Err(Error::InvalidQuery(format!(
                    "`{}` has no `#[orm(soft_delete)]` column, so its deletes remove rows and \
                     there is nothing to restore",
                    schema.table
                )));
            };
            Ok(db.execute(statement).await?.rows_affected > 0)
        }
    }

    /// A delete of every row matching a filter: `User::delete_many().filter(..)` (a soft
    /// delete with an `#[orm(soft_delete)]` column; `.hard()` removes the rows).
    fn delete_many() -> DeleteMany<Self> {
        DeleteMany::new()
    }

    /// The `#[orm(soft_delete)]` column and the value a soft delete writes into it (the
    /// current time); `None` for a model whose deletes remove rows.
    fn soft_delete_now() -> Option<(&'static str, Value)> {
        None
    }
}

fn not_found_by_key(schema: &'static ModelSchema) -> Error {
    Error::NotFound {
        table: schema.table,
        detail: " the primary key",
    }
}

/// The number a version column holds.
fn version_number(value: &Value) -> Option<i64> {
    match value {
        Value::SmallInt(v) => Some(i64::from(*v)),
        Value::Int(v) => Some(i64::from(*v)),
        Value::BigInt(v) => Some(*v),
        _ => None,
    }
}

/// A version plus one, in the column's own type (wrapping at its largest value).
fn next_version(value: &Value) -> Value {
    match value {
        Value::SmallInt(v) => Value::SmallInt(v.wrapping_add(1)),
        Value::Int(v) => Value::Int(v.wrapping_add(1)),
        Value::BigInt(v) => Value::BigInt(v.wrapping_add(1)),
        other => other.clone(),
    }
}

/// Fills the generated defaults the database of `backend` does not generate itself
/// (`uuid()` outside PostgreSQL, `now()` on MongoDB) in the rows of an insert, where they are
/// unset (NULL): the values of [`Model::generated_value`].
pub(crate) fn fill_generated<M: Model>(rows: &mut [Vec<Value>], backend: Backend) {
    let schema = M::schema();
    let columns = schema
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.auto_increment);
    for (position, (index, column)) in columns.enumerate() {
        let Some(default) = column.default.as_ref().filter(|d| d.is_generated()) else {
            continue;
        };
        let by_database = backend
            .dialect()
            .is_some_and(|dialect| generated_sql(default, column.ty, dialect).is_some());
        if by_database {
            continue;
        }
        for row in rows.iter_mut() {
            if let Some(slot @ Value::Null(_)) = row.get_mut(position)
                && let Some(value) = M::generated_value(index)
            {
                *slot = value;
            }
        }
    }
}

/// Decodes a whole model starting at column 0.
pub(crate) fn decode_model<M: Model>(row: &RowRef<'_>) -> Result<M> {
    M::decode_row(row, 0)
}

/// A select of every column of `M` (used by [`Select`], [`Model::find`] and relation
/// subqueries): of its live rows only, when the model soft-deletes.
pub(crate) fn select_query<M: Model>(projection: Projection) -> SelectQuery {
    let mut query = SelectQuery::new(M::schema(), projection);
    query.filter = deleted_rows(M::schema(), false);
    query
}

/// The condition on `schema`'s soft-delete column that selects its deleted rows (`IS NOT
/// NULL`) or its live ones (`IS NULL`); `None` for a model without one.
pub(crate) fn deleted_rows(schema: &'static ModelSchema, deleted: bool) -> Option<Condition> {
    schema.soft_delete_column().map(|column| Condition::IsNull {
        column: ColumnRef {
            table: schema.table,
            name: column.name,
        },
        negated: deleted,
    })
}
