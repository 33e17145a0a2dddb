//! Subqueries in filters: `User::ID.in_subquery(Post::query().filter(..).select((Post::AUTHOR_ID,)))`
//! and a relation's `exists`: `User::query().filter(User::posts().exists_where(Post::VIEWS.gt(10)))`.
//!
//! Both compile to one SQL statement (`IN (SELECT ..)`, a correlated `EXISTS (SELECT 1 ..)`); on
//! MongoDB, where a filter cannot read another collection, the executor runs the subquery first
//! and filters by the values it read (see `exec::mongo::subquery`).

use super::aggregate::{Projected, SelectItem};
use super::column::{Column, Filter};
use super::grouping::{ColumnId, ValidGrouping};
use super::ir::{ColumnRef, Condition, Projection};
use super::relation::{BelongsTo, HasMany, HasOne};
use super::select::Select;
use super::through::HasManyThrough;
use crate::model::{Model, select_query};
use crate::value::{FieldType, SqlType};

/// Marks a subquery result type `Self` that can be compared with a column of type `T`: the
/// same type, or one of them the `Option` of the other.
#[diagnostic::on_unimplemented(
    message = "a subquery selecting `{Self}` cannot be compared with a `{T}` column",
    label = "the subquery must select a column of the same type (or its `Option`)"
)]
pub trait ComparableWith<T> {}
impl<T: SqlType> ComparableWith<T> for T {}
impl<T: SqlType> ComparableWith<T> for Option<T> {}
impl<T: SqlType> ComparableWith<Option<T>> for T {}
impl<T: SqlType> ComparableWith<Option<T>> for Option<T> {}

impl<M: Model, T: FieldType, Id> Column<M, T, Id> {
    /// `column IN (SELECT ...)`: the subquery selects one column (or aggregate) of the same
    /// type. As with [`in_list`](Column::in_list), NULLs never match.
    pub fn in_subquery<N: Model, A, G>(self, subquery: Projected<N, (A,), G>) -> Filter<M>
    where
        A: SelectItem<N> + Send + 'static,
        (A,): ValidGrouping<G>,
        A::Output: ComparableWith<T>,
    {
        self.subquery_condition(subquery, false)
    }

    /// `column NOT IN (SELECT ...)`. As in SQL (and [`not_in`](Column::not_in)), no row
    /// matches when the subquery returns a NULL: filter it with `is_not_null()`.
    pub fn not_in_subquery<N: Model, A, G>(self, subquery: Projected<N, (A,), G>) -> Filter<M>
    where
        A: SelectItem<N> + Send + 'static,
        (A,): ValidGrouping<G>,
        A::Output: ComparableWith<T>,
    {
        self.subquery_condition(subquery, true)
    }

    fn subquery_condition<N: Model, A, G>(
        self,
        subquery: Projected<N, (A,), G>,
        negated: bool,
    ) -> Filter<M>
    where
        A: SelectItem<N> + Send + 'static,
        (A,): ValidGrouping<G>,
    {
        Filter::from_condition(Condition::InSubquery {
            column: self.column_ref(),
            subquery: Box::new(subquery.into_ir()),
            negated,
        })
    }
}

/// `EXISTS (SELECT 1 FROM related WHERE related.inner = outer AND filter)`.
fn exists<O: Model, R: Model>(
    related: Option<Filter<R>>,
    inner: &'static str,
    outer: &'static str,
) -> Filter<O> {
    // `select_query` reads only the live rows of a soft-deleting model.
    let mut subquery = select_query::<R>(Projection::Exists);
    if let Some(related) = related {
        subquery.filter = Some(Condition::and_opt(
            subquery.filter.take(),
            related.into_condition(),
        ));
    }
    Filter::from_condition(Condition::Exists {
        subquery: Box::new(subquery),
        inner: ColumnRef::new(R::schema().table, inner),
        outer: ColumnRef::new(O::schema().table, outer),
    })
}

fn key_column<M: Model>() -> &'static str {
    M::schema()
        .primary_key_columns()
        .next()
        .expect("a model has a primary key")
        .name
}

impl<P: Model, C: Model> HasMany<P, C> {
    /// The parents that have at least one child: `User::posts().exists()` (negate with `!`
    /// for the parents with none).
    pub fn exists(&self) -> Filter<P> {
        exists::<P, C>(None, self.foreign_key(), key_column::<P>())
    }

    /// The parents that have at least one child matching `filter`.
    pub fn exists_where(&self, filter: Filter<C>) -> Filter<P> {
        exists::<P, C>(Some(filter), self.foreign_key(), key_column::<P>())
    }
}

impl<P: Model, C: Model> HasOne<P, C> {
    /// The parents that have their child row.
    pub fn exists(&self) -> Filter<P> {
        self.as_has_many().exists()
    }

    /// The parents whose child row matches `filter`.
    pub fn exists_where(&self, filter: Filter<C>) -> Filter<P> {
        self.as_has_many().exists_where(filter)
    }
}

impl<C: Model, P: Model> BelongsTo<C, P> {
    /// The rows whose parent matches `filter`: `Post::author().exists_where(User::ACTIVE.eq(true))`.
    /// A row with a NULL foreign key has no parent and never matches.
    pub fn exists_where(&self, filter: Filter<P>) -> Filter<C> {
        exists::<C, P>(Some(filter), key_column::<P>(), self.foreign_key())
    }
}

impl<P: Model, J: Model, T: Model> HasManyThrough<P, J, T> {
    /// The parents linked to at least one live target: `Post::tags().exists()` (negate with
    /// `!` for the parents with none). Nested `EXISTS`: a join row of the parent whose target
    /// row exists.
    pub fn exists(&self) -> Filter<P> {
        self.linked(None)
    }

    /// The parents linked to at least one target matching `filter`:
    /// `Post::tags().exists_where(Tag::NAME.eq("rust"))`.
    pub fn exists_where(&self, filter: Filter<T>) -> Filter<P> {
        self.linked(Some(filter))
    }

    fn linked(&self, filter: Option<Filter<T>>) -> Filter<P> {
        let target = exists::<J, T>(filter, key_column::<T>(), self.target_key());
        exists::<P, J>(Some(target), self.join_key(), key_column::<P>())
    }
}

impl<M: Model> Select<M> {
    /// Selects one column for [`in_subquery`](Column::in_subquery): shorthand for
    /// `.select((column,))`.
    pub fn select_column<T: FieldType, Id: ColumnId>(
        self,
        column: Column<M, T, Id>,
    ) -> Projected<M, (Column<M, T, Id>,)> {
        self.select((column,))
    }
}
