//! Typed joins: `User::query().inner_join(User::posts())` returns `(User, Post)` pairs,
//! `left_join` returns `(User, Option<Post>)`; both sides can be filtered and ordered.

use std::marker::PhantomData;

use super::column::{Filter, Order};
use super::ir::{ColumnRef, Condition, JoinClause, JoinKind, JoinOn, SelectQuery};
use super::relation::{BelongsTo, HasMany};
use super::select::Select;
use crate::error::{Error, Result};
use crate::exec::{Executor, RowRef};
use crate::model::Model;

/// A relation that can join `M` to another model: the joined model and the equated columns.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot join `{M}`",
    label = "join a relation declared on `{M}`, e.g. `User::query().inner_join(User::posts())`"
)]
pub trait Joinable<M: Model> {
    /// The joined model.
    type Joined: Model;

    /// `(joined table's column, M's column)` of the `ON` equality.
    fn on(&self) -> (ColumnRef, ColumnRef);
}

impl<P: Model, C: Model> Joinable<P> for HasMany<P, C> {
    type Joined = C;

    fn on(&self) -> (ColumnRef, ColumnRef) {
        (
            ColumnRef {
                table: C::schema().table,
                name: self.foreign_key(),
            },
            key_column::<P>(),
        )
    }
}

impl<C: Model, P: Model> Joinable<C> for BelongsTo<C, P> {
    type Joined = P;

    fn on(&self) -> (ColumnRef, ColumnRef) {
        (
            key_column::<P>(),
            ColumnRef {
                table: C::schema().table,
                name: self.foreign_key(),
            },
        )
    }
}

fn key_column<M: Model>() -> ColumnRef {
    let schema = M::schema();
    let key = schema
        .primary_key_columns()
        .next()
        .expect("a model has a primary key");
    ColumnRef {
        table: schema.table,
        name: key.name,
    }
}

/// Marker of an inner join: rows come as `(M, J)`.
pub struct Inner;
/// Marker of a left join: rows come as `(M, Option<J>)`.
pub struct Left;

/// How a join's pairs decode.
pub trait JoinOutput<M: Model, J: Model>: Send + 'static {
    /// One decoded pair.
    type Row: Send + 'static;
    /// The IR join kind.
    const KIND: JoinKind;
    /// Decodes a pair: the model's columns first, the joined model's after them.
    fn decode(row: &RowRef<'_>) -> Result<Self::Row>;
}

impl<M: Model, J: Model> JoinOutput<M, J> for Inner {
    type Row = (M, J);
    const KIND: JoinKind = JoinKind::Inner;

    fn decode(row: &RowRef<'_>) -> Result<(M, J)> {
        Ok((
            M::decode_row(row, 0)?,
            J::decode_row(row, M::schema().columns.len())?,
        ))
    }
}

impl<M: Model, J: Model> JoinOutput<M, J> for Left {
    type Row = (M, Option<J>);
    const KIND: JoinKind = JoinKind::Left;

    fn decode(row: &RowRef<'_>) -> Result<(M, Option<J>)> {
        let offset = M::schema().columns.len();
        // A NULL primary key means no joined row (keys are never NULL in a stored row).
        let key = offset + J::schema().primary_key[0];
        let joined = if row.is_null(key)? {
            None
        } else {
            Some(J::decode_row(row, offset)?)
        };
        Ok((M::decode_row(row, 0)?, joined))
    }
}

/// A select of `M` joined with `J`; see [`Select::inner_join`] and [`Select::left_join`].
#[must_use = "a query does nothing until a terminal method such as `all(&db)` is awaited"]
pub struct Joined<M, J, K> {
    query: SelectQuery,
    _marker: PhantomData<JoinTypes<M, J, K>>,
}

/// The type parameters of [`Joined`], held without owning any value.
type JoinTypes<M, J, K> = fn() -> (M, J, K);

impl<M: Model> Select<M> {
    /// Joins the rows of a relation, keeping only pairs that match: `(M, J)` rows.
    pub fn inner_join<R: Joinable<M>>(self, relation: R) -> Joined<M, R::Joined, Inner> {
        self.join(relation, JoinKind::Inner)
    }

    /// Joins the rows of a relation, keeping every row of `M`: `(M, Option<J>)` rows.
    pub fn left_join<R: Joinable<M>>(self, relation: R) -> Joined<M, R::Joined, Left> {
        self.join(relation, JoinKind::Left)
    }

    fn join<R: Joinable<M>, K>(self, relation: R, kind: JoinKind) -> Joined<M, R::Joined, K> {
        let mut query = self.into_ir();
        query
            .joins
            .push(JoinClause::of_relation(&query, &relation, kind));
        Joined {
            query,
            _marker: PhantomData,
        }
    }
}

impl JoinClause {
    /// The join of `relation` to `query`, whose `M` side is the query's model (the model's
    /// own table, never aliased): aliased when its table is already in the query.
    pub(super) fn of_relation<M: Model, R: Joinable<M>>(
        query: &SelectQuery,
        relation: &R,
        kind: JoinKind,
    ) -> JoinClause {
        let (joined, other) = relation.on();
        let schema = R::Joined::schema();
        let alias = JoinClause::alias_in(query, schema.table);
        let mut join = JoinClause {
            kind,
            schema,
            alias,
            on: None,
        };
        join.on = Some(JoinOn {
            joined: join.qualify(joined),
            other,
        });
        join
    }
}

impl<M: Model, J: Model, K: JoinOutput<M, J>> Joined<M, J, K> {
    /// Keeps the pairs whose `M` side matches `filter`; several calls combine with AND.
    pub fn filter(mut self, filter: Filter<M>) -> Self {
        self.and(filter.into_condition());
        self
    }

    /// Keeps the pairs whose joined side matches `filter` (on a left join, a filter on the
    /// joined side also drops the rows without a match, as in SQL).
    pub fn filter_joined(mut self, filter: Filter<J>) -> Self {
        let mut condition = filter.into_condition();
        let join = self.join_clause();
        condition.visit_columns_mut(&mut |c| *c = join.qualify(*c));
        self.and(condition);
        self
    }

    fn join_clause(&self) -> JoinClause {
        self.query.joins[0]
    }

    fn and(&mut self, condition: Condition) {
        self.query.filter = Some(Condition::and_opt(self.query.filter.take(), condition));
    }

    /// Sorts by a column of `M`.
    pub fn order_by(mut self, order: Order<M>) -> Self {
        self.query.order.push(order.into_order_by());
        self
    }

    /// Sorts by a column of the joined model.
    pub fn order_by_joined(mut self, order: Order<J>) -> Self {
        let mut order = order.into_order_by();
        let join = self.join_clause();
        order
            .expr
            .visit_columns_mut(&mut |column| *column = join.qualify(*column));
        self.query.order.push(order);
        self
    }

    /// Returns at most `n` pairs.
    pub fn limit(mut self, n: u64) -> Self {
        self.query.limit = Some(n);
        self
    }

    /// Skips the first `n` pairs.
    pub fn offset(mut self, n: u64) -> Self {
        self.query.offset = Some(n);
        self
    }

    /// The IR of this query.
    pub fn ir(&self) -> &SelectQuery {
        &self.query
    }

    /// The IR of this query, by value.
    pub fn into_ir(self) -> SelectQuery {
        self.query
    }

    /// Compiles the query for `dialect` without running it.
    pub fn compile(&self, dialect: crate::sql::Dialect) -> Result<crate::sql::Compiled> {
        crate::sql::compile(
            &crate::query::ir::Statement::Select(self.query.clone()),
            dialect,
        )
    }

    /// Every pair.
    pub async fn all<E: Executor>(self, db: &E) -> Result<Vec<K::Row>> {
        db.fetch_all(self.query, K::decode).await
    }

    /// Every result row, handed over one at a time as the database returns it (constant
    /// memory; see [`Select::stream`](crate::query::Select::stream)).
    pub fn stream<E: Executor>(self, db: &E) -> crate::exec::RowStream<'_, K::Row> {
        db.fetch_stream(self.query, K::decode)
    }

    /// The first pair; [`Error::NotFound`] if there is none.
    pub async fn one<E: Executor>(self, db: &E) -> Result<K::Row> {
        let table = M::schema().table;
        self.optional(db)
            .await?
            .ok_or(Error::NotFound { table, detail: "" })
    }

    /// The first pair, or `None`.
    pub async fn optional<E: Executor>(mut self, db: &E) -> Result<Option<K::Row>> {
        self.query.limit.get_or_insert(1);
        db.fetch_optional(self.query, K::decode).await
    }

    /// The number of pairs.
    pub async fn count<E: Executor>(self, db: &E) -> Result<u64> {
        db.count(self.query).await
    }
}
