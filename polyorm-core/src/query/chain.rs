//! Selects over any number of joins: `Track::query().inner_join(Track::album())
//! .inner_join(Album::artist())` reads track ⋈ album ⋈ artist, and every later call (filters,
//! orders, projections, grouping) takes columns of any of the three.
//!
//! The models a query reads are a type-level list ([`Cons`] of [`Source`]s ending in [`Nil`])
//! in join order, each with its [`Nullability`] (a left join's side, or every side before a
//! right join, can be all NULLs). "Model `X` is in this query" is the bound
//! `L: Contains<X, I>`, where the position `I` ([`S0`] the model, [`S1`] its first join, ..)
//! is inferred; when one model is read twice (a self-join) the occurrence is named:
//! `.filter::<S1, _>(Employee::NAME.eq("Ada"))` is the manager's name. A column of a model
//! outside the list does not compile. At run time a position picks the join whose alias
//! qualifies the column, so columns of a repeated table never clash.

use std::marker::PhantomData;

use super::column::{Column, Filter, Order};
use super::grouping::ColumnId;
use super::ir::{ColumnRef, Condition, JoinClause, JoinKind, JoinOn, SelectExpr, SelectQuery};
use super::join::{Inner, JoinOutput, Joinable, Joined, Left};
use super::select::Select;
use crate::error::Result;
use crate::exec::Executor;
use crate::model::Model;
use crate::value::FieldType;

/// The end of a query's list of models.
pub struct Nil;

/// A query's list of models: `H`, then the models of `T`.
pub struct Cons<H, T>(PhantomData<fn() -> (H, T)>);

/// Model `M` read by a query, whose columns are NULL-able as `N` says.
pub struct Source<M, N>(PhantomData<fn() -> (M, N)>);

/// A side whose columns have the types their fields declare.
pub struct Required;

/// A side that an outer join can fill with NULLs: its columns decode as `Option`s.
pub struct Nullable;

/// How the columns of one side of a join decode.
pub trait Nullability: 'static {
    /// The type a value of `T` from this side decodes to.
    type Out<T: FieldType>: FieldType;
}

impl Nullability for Required {
    type Out<T: FieldType> = T;
}

impl Nullability for Nullable {
    type Out<T: FieldType> = Option<T::Base>;
}

/// A list of the models a query reads (built by the joins, never by hand).
pub trait Sources: 'static {
    /// The list with model `M` (or common table) appended, NULL-able as `N`.
    type Push<M: 'static, N: Nullability>: Sources;
    /// The list with every side NULL-able (what a right join makes of the sides before it).
    type AllNullable: Sources;
}

impl Sources for Nil {
    type Push<M: 'static, N: Nullability> = Cons<Source<M, N>, Nil>;
    type AllNullable = Nil;
}

impl<M: 'static, N: Nullability, T: Sources> Sources for Cons<Source<M, N>, T> {
    type Push<J: 'static, K: Nullability> = Cons<Source<M, N>, T::Push<J, K>>;
    type AllNullable = Cons<Source<M, Nullable>, T::AllNullable>;
}

/// The first position in a list of models: the queried model itself.
pub struct Here;

/// The position after `I`.
pub struct There<I>(PhantomData<fn() -> I>);

/// A position in a query's list of models.
pub trait Position: 'static {
    /// 0 for the queried model, `n` for the `n`-th join.
    const INDEX: usize;
}

impl Position for Here {
    const INDEX: usize = 0;
}

impl<I: Position> Position for There<I> {
    const INDEX: usize = I::INDEX + 1;
}

/// The queried model's position.
pub type S0 = Here;
/// The first join's position.
pub type S1 = There<S0>;
/// The second join's position.
pub type S2 = There<S1>;
/// The third join's position.
pub type S3 = There<S2>;
/// The fourth join's position.
pub type S4 = There<S3>;
/// The fifth join's position.
pub type S5 = There<S4>;
/// The sixth join's position.
pub type S6 = There<S5>;
/// The seventh join's position.
pub type S7 = There<S6>;
/// The eighth join's position.
pub type S8 = There<S7>;

/// Model `M` is read by the query at position `I`.
#[diagnostic::on_unimplemented(
    message = "`{M}` is not one of the models this query reads",
    label = "join `{M}` first (`inner_join`, `left_join`, `right_join`, `cross_join`, `join_on`)",
    note = "a model joined more than once is named by its position: `.filter::<S1, _>(..)`"
)]
pub trait Contains<M, I> {
    /// Whether that side's columns can be NULL.
    type Null: Nullability;
}

impl<M, N: Nullability, T> Contains<M, Here> for Cons<Source<M, N>, T> {
    type Null = N;
}

impl<M, H, T: Contains<M, I>, I> Contains<M, There<I>> for Cons<H, T> {
    type Null = T::Null;
}

/// Marker of a right join: every row of the joined model, the sides before it NULL-able.
pub struct Right;

/// How a join of a chain combines (the [`Inner`], [`Left`] and [`Right`] markers).
pub trait ChainJoin: 'static {
    /// The IR join kind.
    const KIND: JoinKind;
    /// Whether the joined model's columns can be NULL.
    type Null: Nullability;
    /// What the join makes of the models read before it.
    type Before<L: Sources>: Sources;
}

impl ChainJoin for Inner {
    const KIND: JoinKind = JoinKind::Inner;
    type Null = Required;
    type Before<L: Sources> = L;
}

impl ChainJoin for Left {
    const KIND: JoinKind = JoinKind::Left;
    type Null = Nullable;
    type Before<L: Sources> = L;
}

impl ChainJoin for Right {
    const KIND: JoinKind = JoinKind::Right;
    type Null = Required;
    type Before<L: Sources> = L::AllNullable;
}

/// The chain after joining `J` to the models `L` with a `K` join.
pub type Then<L, K, J> =
    JoinChain<<<K as ChainJoin>::Before<L> as Sources>::Push<J, <K as ChainJoin>::Null>>;

/// A select over the models `L` (see the [module](self) documentation).
#[must_use = "a query does nothing until a terminal method such as `all(&db)` is awaited"]
pub struct JoinChain<L> {
    query: SelectQuery,
    _marker: PhantomData<fn() -> L>,
}

/// The chain of a select of `M` before any join.
type Start<M> = JoinChain<Cons<Source<M, Required>, Nil>>;

impl<M: Model> Select<M> {
    fn chain(self) -> Start<M> {
        JoinChain::new(self.into_ir())
    }

    /// Joins the rows of a relation, keeping every row of the joined model: the model's
    /// columns become `Option`s. Chain more joins, then `select` columns of any side.
    pub fn right_join<R: Joinable<M>>(
        self,
        relation: R,
    ) -> Then<Cons<Source<M, Required>, Nil>, Right, R::Joined> {
        self.chain().right_join(relation)
    }

    /// Joins every row of `J` to every row of `M` (no `ON`).
    pub fn cross_join<J: Model>(self) -> Then<Cons<Source<M, Required>, Nil>, Inner, J> {
        self.chain().cross_join::<J>()
    }

    /// Joins `J` on an explicit equality `joined = other` (`other` a column of `M`), for
    /// tables related without a declared relation: `.join_on(Inner, Album::ID,
    /// Track::ALBUM_ID)`.
    pub fn join_on<K: ChainJoin, J: Model, T: FieldType, U: FieldType<Base = T::Base>>(
        self,
        kind: K,
        joined: Column<J, T, impl ColumnId>,
        other: Column<M, U, impl ColumnId>,
    ) -> Then<Cons<Source<M, Required>, Nil>, K, J> {
        self.chain()
            .join_on::<K, Here, M, J, T, U>(kind, joined, other)
    }
}

/// The models of a [`Joined`] select of `M` and `J` joined by `K`.
type Pair<M, J, K> = Cons<Source<M, Required>, Cons<Source<J, <K as ChainJoin>::Null>, Nil>>;

impl<M: Model, J: Model, K: JoinOutput<M, J> + ChainJoin> Joined<M, J, K> {
    fn chain(self) -> JoinChain<Pair<M, J, K>> {
        JoinChain::new(self.into_ir())
    }

    /// Joins a relation of either model (or of a later one), keeping rows that match.
    pub fn inner_join<I: Position, X: Model, R: Joinable<X>>(
        self,
        relation: R,
    ) -> Then<Pair<M, J, K>, Inner, R::Joined>
    where
        Pair<M, J, K>: Contains<X, I>,
    {
        self.chain().inner_join::<I, X, R>(relation)
    }

    /// Joins a relation of either model, keeping every row read so far.
    pub fn left_join<I: Position, X: Model, R: Joinable<X>>(
        self,
        relation: R,
    ) -> Then<Pair<M, J, K>, Left, R::Joined>
    where
        Pair<M, J, K>: Contains<X, I>,
    {
        self.chain().left_join::<I, X, R>(relation)
    }

    /// Joins a relation of either model, keeping every row of the newly joined model.
    pub fn right_join<I: Position, X: Model, R: Joinable<X>>(
        self,
        relation: R,
    ) -> Then<Pair<M, J, K>, Right, R::Joined>
    where
        Pair<M, J, K>: Contains<X, I>,
    {
        self.chain().right_join::<I, X, R>(relation)
    }

    /// Joins every row of `N` to every pair (no `ON`).
    pub fn cross_join<N: Model>(self) -> Then<Pair<M, J, K>, Inner, N> {
        self.chain().cross_join::<N>()
    }

    /// Joins `N` on an explicit equality `joined = other`, `other` a column of either model.
    pub fn join_on<C, I, X, N, T, U>(
        self,
        kind: C,
        joined: Column<N, T, impl ColumnId>,
        other: Column<X, U, impl ColumnId>,
    ) -> Then<Pair<M, J, K>, C, N>
    where
        C: ChainJoin,
        I: Position,
        X: Model,
        N: Model,
        T: FieldType,
        U: FieldType<Base = T::Base>,
        Pair<M, J, K>: Contains<X, I>,
    {
        self.chain()
            .join_on::<C, I, X, N, T, U>(kind, joined, other)
    }
}

impl<L: Sources> JoinChain<L> {
    pub(super) fn new(query: SelectQuery) -> Self {
        JoinChain {
            query,
            _marker: PhantomData,
        }
    }

    /// The IR of this query, to change.
    pub(super) fn query_mut(&mut self) -> &mut SelectQuery {
        &mut self.query
    }

    /// Appends the join of `J` typed as `K` and written as `kind`, on `on` (`(joined column,
    /// earlier column)`).
    fn push<K: ChainJoin, J: Model>(
        self,
        kind: JoinKind,
        on: Option<(ColumnRef, ColumnRef)>,
    ) -> Then<L, K, J> {
        self.push_source::<K, J>(J::schema(), kind, on)
    }

    /// Appends the join of the table `schema` describes (a model's or a common table's),
    /// typed as the source `J`.
    pub(super) fn push_source<K: ChainJoin, J: 'static>(
        mut self,
        schema: &'static crate::schema::ModelSchema,
        kind: JoinKind,
        on: Option<(ColumnRef, ColumnRef)>,
    ) -> Then<L, K, J> {
        let mut join = JoinClause {
            kind,
            schema,
            alias: JoinClause::alias_in(&self.query, schema.table),
            on: None,
        };
        join.on = on.map(|(joined, other)| JoinOn {
            joined: join.qualify(joined),
            other,
        });
        self.query.joins.push(join);
        JoinChain::new(self.query)
    }

    fn join_relation<K: ChainJoin, I: Position, X: Model, R: Joinable<X>>(
        self,
        relation: R,
    ) -> Then<L, K, R::Joined>
    where
        L: Contains<X, I>,
    {
        let (joined, other) = relation.on();
        let other = qualify(&self.query, I::INDEX, other);
        self.push::<K, R::Joined>(K::KIND, Some((joined, other)))
    }

    /// Joins a relation of any model of the query (its position `I` is inferred, or named
    /// when the model is read twice), keeping rows that match.
    pub fn inner_join<I: Position, X: Model, R: Joinable<X>>(
        self,
        relation: R,
    ) -> Then<L, Inner, R::Joined>
    where
        L: Contains<X, I>,
    {
        self.join_relation::<Inner, I, X, R>(relation)
    }

    /// Joins a relation of any model of the query, keeping every row read so far (the joined
    /// model's columns become `Option`s).
    pub fn left_join<I: Position, X: Model, R: Joinable<X>>(
        self,
        relation: R,
    ) -> Then<L, Left, R::Joined>
    where
        L: Contains<X, I>,
    {
        self.join_relation::<Left, I, X, R>(relation)
    }

    /// Joins a relation of any model of the query, keeping every row of the joined model
    /// (the columns of the models before it become `Option`s).
    pub fn right_join<I: Position, X: Model, R: Joinable<X>>(
        self,
        relation: R,
    ) -> Then<L, Right, R::Joined>
    where
        L: Contains<X, I>,
    {
        self.join_relation::<Right, I, X, R>(relation)
    }

    /// Joins every row of `J` to every row read so far (no `ON`).
    pub fn cross_join<J: Model>(self) -> Then<L, Inner, J> {
        // Typed as an inner join: a cross join's sides are never NULL.
        self.push::<Inner, J>(JoinKind::Cross, None)
    }

    /// Joins `J` on an explicit equality `joined = other`, `other` a column of any model of
    /// the query (of the same type, or its `Option`): `.join_on(Left, Invoice::CUSTOMER_ID,
    /// Customer::ID)`.
    pub fn join_on<K, I, X, J, T, U>(
        self,
        _kind: K,
        joined: Column<J, T, impl ColumnId>,
        other: Column<X, U, impl ColumnId>,
    ) -> Then<L, K, J>
    where
        K: ChainJoin,
        I: Position,
        X: Model,
        J: Model,
        T: FieldType,
        U: FieldType<Base = T::Base>,
        L: Contains<X, I>,
    {
        let other = qualify(&self.query, I::INDEX, other.column_ref());
        self.push::<K, J>(K::KIND, Some((joined.column_ref(), other)))
    }

    /// Keeps the rows matching `filter` over any model of the query; several calls combine
    /// with AND.
    pub fn filter<I: Position, X>(mut self, filter: Filter<X>) -> Self
    where
        L: Contains<X, I>,
    {
        let condition = qualify_condition(&self.query, I::INDEX, filter.into_condition());
        self.query.filter = Some(Condition::and_opt(self.query.filter.take(), condition));
        self
    }

    /// Sorts by a column or expression of any model of the query; later calls break ties.
    pub fn order_by<I: Position, X>(mut self, order: Order<X>) -> Self
    where
        L: Contains<X, I>,
    {
        let mut order = order.into_order_by();
        order.expr = qualify_expr(&self.query, I::INDEX, order.expr);
        self.query.order.push(order);
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

    /// The number of joined rows.
    pub async fn count<E: Executor>(self, db: &E) -> Result<u64> {
        db.count(self.query).await
    }
}

/// `column` of the model at `position` of `query`, named as the query names that side.
pub(super) fn qualify(query: &SelectQuery, position: usize, column: ColumnRef) -> ColumnRef {
    match position.checked_sub(1) {
        Some(join) => query.joins[join].qualify(column),
        None => column,
    }
}

/// [`qualify`] of every column `expr` reads.
pub(super) fn qualify_expr(
    query: &SelectQuery,
    position: usize,
    mut expr: SelectExpr,
) -> SelectExpr {
    expr.visit_columns_mut(&mut |c| *c = qualify(query, position, *c));
    expr
}

/// [`qualify`] of every column `condition` reads.
pub(super) fn qualify_condition(
    query: &SelectQuery,
    position: usize,
    mut condition: Condition,
) -> Condition {
    condition.visit_columns_mut(&mut |c| *c = qualify(query, position, *c));
    condition
}
