//! The [`Model`] trait implemented by `#[derive(Model)]`, with the CRUD entry points.

use std::future::Future;

use crate::error::{Error, Result};
use crate::exec::{Executor, RowRef};
use crate::query::ir::{
    Assignment, Condition, InsertQuery, Projection, SelectQuery, Statement, UpdateQuery,
    UpsertQuery,
};
use crate::query::{DeleteMany, OnConflict, Select, UpdateMany};
use crate::schema::ModelSchema;
use crate::value::Value;

/// A struct stored as one table (or collection); implemented by `#[derive(Model)]`.
///
/// The required methods are generated; the provided ones are the CRUD API:
/// [`query`](Model::query), [`find`](Model::find), [`insert`](Model::insert),
/// [`insert_many`](Model::insert_many), [`update`](Model::update),
/// [`update_many`](Model::update_many), [`delete`](Model::delete),
/// [`delete_by_key`](Model::delete_by_key) and [`delete_many`](Model::delete_many).
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
        query.filter = Some(Condition::primary_key_eq(
            Self::schema(),
            Self::primary_key_values(key),
        ));
        // The whole primary key matches at most one row, so no `LIMIT 1` (on PostgreSQL and
        // MySQL one parameter less to encode and bind; the statement is the hand-written one).
        db.fetch_optional(query, decode_model::<Self>)
    }

    /// Inserts this row and returns it as stored, with generated keys filled in.
    ///
    /// Auto-increment columns are never written: the database generates them.
    fn insert<E: Executor>(&self, db: &E) -> impl Future<Output = Result<Self>> + Send {
        let query = InsertQuery {
            schema: Self::schema(),
            rows: vec![self.insert_values()],
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
        let rows: Vec<Vec<Value>> = rows.iter().map(Self::insert_values).collect();
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
        let rows: Vec<Vec<Value>> = rows.iter().map(Self::insert_values).collect();
        async move {
            if rows.is_empty() {
                return Ok(());
            }
            let schema = Self::schema();
            let upsert = Statement::Upsert(UpsertQuery {
                insert: InsertQuery {
                    schema,
                    rows,
                    returning: false,
                },
                on_conflict: on_conflict.into_clause(),
            });
            db.execute(upsert)
                .await
                .map_err(|e| e.resolve_constraint(schema))?;
            Ok(())
        }
    }

    /// Writes every non-key field of this loaded row; [`Error::NotFound`] if its key matches no
    /// row.
    fn update<E: Executor>(&self, db: &E) -> impl Future<Output = Result<()>> + Send {
        let schema = Self::schema();
        let assignments: Vec<(&'static str, Assignment)> = schema
            .update_columns()
            .map(|c| c.name)
            .zip(self.update_values().into_iter().map(Assignment::Value))
            .collect();
        let filter =
            Condition::primary_key_eq(schema, Self::primary_key_values(self.primary_key()));
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
            if done.rows_affected == 0 {
                Err(not_found_by_key(schema))
            } else {
                Ok(())
            }
        }
    }

    /// An update of every row matching a filter: `User::update_many().set(..).filter(..)`.
    fn update_many() -> UpdateMany<Self> {
        UpdateMany::new()
    }

    /// Deletes this row by its primary key; returns whether a row was deleted.
    fn delete<E: Executor>(&self, db: &E) -> impl Future<Output = Result<bool>> + Send {
        Self::delete_by_key(db, self.primary_key())
    }

    /// Deletes the row with this primary key; returns whether a row was deleted.
    fn delete_by_key<E: Executor>(
        db: &E,
        key: Self::PrimaryKey,
    ) -> impl Future<Output = Result<bool>> + Send {
        let filter = Condition::primary_key_eq(Self::schema(), Self::primary_key_values(key));
        let delete = DeleteMany::<Self>::new().with_condition(filter);
        async move { Ok(delete.execute(db).await? > 0) }
    }

    /// A delete of every row matching a filter: `User::delete_many().filter(..)`.
    fn delete_many() -> DeleteMany<Self> {
        DeleteMany::new()
    }
}

fn not_found_by_key(schema: &'static ModelSchema) -> Error {
    Error::NotFound {
        table: schema.table,
        detail: " the primary key",
    }
}

/// Decodes a whole model starting at column 0.
pub(crate) fn decode_model<M: Model>(row: &RowRef<'_>) -> Result<M> {
    M::decode_row(row, 0)
}

/// A select of every column of `M` (used by [`Select`]).
pub(crate) fn select_query<M: Model>(projection: Projection) -> SelectQuery {
    SelectQuery::new(M::schema(), projection)
}
