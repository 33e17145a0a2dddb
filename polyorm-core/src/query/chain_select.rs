//! Projections of a [`JoinChain`]: `.select((Track::NAME, Album::TITLE, Artist::NAME))` gives
//! `(String, String, String)` rows; `group_by`, `having` and `order_by` take columns and
//! aggregates of any joined model. A column of a side that an outer join can fill with NULLs
//! decodes as an `Option` (so does an aggregate over one, `count` included).

use std::marker::PhantomData;

use super::aggregate::CountAll;
use super::chain::{
    Cons, Contains, Here, JoinChain, Nil, Nullability, Nullable, Position, Required, Source,
    Sources, qualify_condition, qualify_expr,
};
use super::column::{Column, Filter, Order};
use super::derived::{Derived, DerivedColumn};
use super::expr::Expression;
use super::ir::{Aggregation, Condition, Projection, SelectExpr, SelectQuery};
use super::join::{Joined, Left};
use crate::error::{Error, Result};
use crate::exec::{Executor, RowRef};
use crate::model::Model;
use crate::value::FieldType;

/// A column or an expression over the columns of one model (what a chain's projection,
/// grouping and ordering read from that model).
pub trait ModelItem {
    /// The model whose columns it reads.
    type Model: Model;
    /// The Rust type of its value.
    type Output: FieldType;
    /// The IR expression, with the model's columns named by its table.
    fn model_expr(&self) -> SelectExpr;
}

impl<M: Model, T: FieldType, Id> ModelItem for Column<M, T, Id> {
    type Model = M;
    type Output = T;

    fn model_expr(&self) -> SelectExpr {
        SelectExpr::Column(self.column_ref())
    }
}

impl<M: Model, T: FieldType> ModelItem for Expression<M, T> {
    type Model = M;
    type Output = T;

    fn model_expr(&self) -> SelectExpr {
        self.ir()
    }
}

impl<M: Model, T: FieldType> ModelItem for super::window::Window<M, T> {
    type Model = M;
    type Output = T;

    fn model_expr(&self) -> SelectExpr {
        self.ir()
    }
}

/// A column, expression or aggregate that a select over the models `L` can return, read from
/// the model at position `I`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be selected from this join",
    label = "select columns and aggregates of the models the query joins",
    note = "a model joined more than once is named by its position: `.select::<(S0, S1), _>(..)`"
)]
pub trait ChainItem<L, I> {
    /// The Rust type of the selected value.
    type Output: FieldType;

    /// The IR expression, with the columns named as `query` names their side.
    fn chain_expr(&self, query: &SelectQuery) -> SelectExpr;
}

impl<L: Contains<S::Model, I>, I: Position, S: ModelItem> ChainItem<L, I> for S {
    type Output = <L::Null as Nullability>::Out<S::Output>;

    fn chain_expr(&self, query: &SelectQuery) -> SelectExpr {
        qualify_expr(query, I::INDEX, self.model_expr())
    }
}

/// `count_all()` counts the joined rows: it belongs to no one model.
impl<L> ChainItem<L, Here> for CountAll {
    type Output = i64;

    fn chain_expr(&self, _: &SelectQuery) -> SelectExpr {
        self.ir()
    }
}

/// A column of a common table joined to the query ([`JoinChain::join_cte`]).
impl<L: Contains<Derived<R>, I>, I: Position, R: 'static, T: FieldType> ChainItem<L, I>
    for DerivedColumn<R, T>
{
    type Output = <L::Null as Nullability>::Out<T>;

    fn chain_expr(&self, query: &SelectQuery) -> SelectExpr {
        qualify_expr(query, I::INDEX, SelectExpr::Column(self.column()))
    }
}

/// What [`JoinChain::select`] selects: a tuple of [`ChainItem`]s, `Is` their positions.
pub trait ChainSelection<L, Is>: Send + 'static {
    /// One decoded row.
    type Output: Send + 'static;

    /// The IR expressions, in tuple order.
    fn chain_exprs(&self, query: &SelectQuery) -> Vec<SelectExpr>;

    /// Decodes one row by position.
    fn decode(row: &RowRef<'_>) -> Result<Self::Output>;
}

macro_rules! chain_selection {
    ($($name:ident $position:ident $index:tt),+) => {
        impl<L, $($position, $name: ChainItem<L, $position> + Send + 'static),+>
            ChainSelection<L, ($($position,)+)> for ($($name,)+)
        {
            type Output = ($(<$name as ChainItem<L, $position>>::Output,)+);

            fn chain_exprs(&self, query: &SelectQuery) -> Vec<SelectExpr> {
                vec![$(self.$index.chain_expr(query)),+]
            }

            fn decode(row: &RowRef<'_>) -> Result<Self::Output> {
                Ok(($(<<$name as ChainItem<L, $position>>::Output as FieldType>::decode(row, $index)?,)+))
            }
        }
    };
}
chain_selection!(A IA 0);
chain_selection!(A IA 0, B IB 1);
chain_selection!(A IA 0, B IB 1, C IC 2);
chain_selection!(A IA 0, B IB 1, C IC 2, D ID 3);
chain_selection!(A IA 0, B IB 1, C IC 2, D ID 3, E IE 4);
chain_selection!(A IA 0, B IB 1, C IC 2, D ID 3, E IE 4, F IF 5);
chain_selection!(A IA 0, B IB 1, C IC 2, D ID 3, E IE 4, F IF 5, G IG 6);
chain_selection!(A IA 0, B IB 1, C IC 2, D ID 3, E IE 4, F IF 5, G IG 6, H IH 7);

/// A projection of a [`JoinChain`]; see [`JoinChain::select`].
#[must_use = "a query does nothing until a terminal method such as `all(&db)` is awaited"]
pub struct ChainProjected<L, S, Is> {
    query: SelectQuery,
    _marker: PhantomData<ProjectedTypes<L, S, Is>>,
}

/// The type parameters of [`ChainProjected`], held without owning any value.
type ProjectedTypes<L, S, Is> = fn() -> (L, S, Is);

impl<L: Sources> JoinChain<L> {
    /// Selects a tuple of columns, expressions and aggregates of any joined model:
    /// `.select((Track::NAME, Album::TITLE, Artist::NAME))`. Group with `group_by`, filter
    /// groups with `having`, sort with `order_by`.
    pub fn select<Is, S: ChainSelection<L, Is>>(self, selection: S) -> ChainProjected<L, S, Is> {
        let mut query = self.into_ir();
        let exprs = selection.chain_exprs(&query);
        query.projection = Projection::Exprs(Box::new(Aggregation {
            exprs,
            group_by: Vec::new(),
            having: None,
            distinct: false,
        }));
        ChainProjected {
            query,
            _marker: PhantomData,
        }
    }
}

/// The models of a left join of `J` to `M`: `J`'s side NULL-able.
type LeftPair<M, J> = Cons<Source<M, Required>, Cons<Source<J, Nullable>, Nil>>;

impl<M: Model, J: Model> Joined<M, J, Left> {
    /// Selects a tuple of columns, expressions and aggregates of either model, the joined
    /// model's as `Option`s (NULL where an `M` row has no match):
    /// `Artist::query().left_join(Artist::albums()).select((Artist::NAME, Album::TITLE))`
    /// gives `(String, Option<String>)` rows. Group, filter groups and sort as a chain's.
    pub fn select<Is, S: ChainSelection<LeftPair<M, J>, Is>>(
        self,
        selection: S,
    ) -> ChainProjected<LeftPair<M, J>, S, Is> {
        JoinChain::new(self.into_ir()).select(selection)
    }
}

impl<L: Sources, S: ChainSelection<L, Is>, Is> ChainProjected<L, S, Is> {
    fn aggregation(&mut self) -> &mut Aggregation {
        match &mut self.query.projection {
            Projection::Exprs(aggregation) => aggregation,
            _ => unreachable!("a projected select always has expressions"),
        }
    }

    /// Returns each distinct result row once (`SELECT DISTINCT`).
    pub fn distinct(mut self) -> Self {
        self.aggregation().distinct = true;
        self
    }

    /// Groups the rows by a column or an expression of any joined model; repeat for more keys.
    pub fn group_by<I: Position, K: ModelItem>(mut self, key: K) -> Self
    where
        L: Contains<K::Model, I>,
    {
        let key = qualify_expr(&self.query, I::INDEX, key.model_expr());
        self.aggregation().group_by.push(key);
        self
    }

    /// Keeps the groups matching `filter` over aggregates or grouped columns of any joined
    /// model; several calls combine with AND.
    pub fn having<I: Position, X>(mut self, filter: Filter<X>) -> Self
    where
        L: Contains<X, I>,
    {
        let condition = qualify_condition(&self.query, I::INDEX, filter.into_condition());
        let aggregation = self.aggregation();
        aggregation.having = Some(Condition::and_opt(aggregation.having.take(), condition));
        self
    }

    /// Sorts by a column, an aggregate or an expression of any joined model.
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

    /// Every result row.
    pub async fn all<E: Executor>(self, db: &E) -> Result<Vec<S::Output>> {
        db.fetch_all(self.query, S::decode).await
    }

    /// Every result row, handed over one at a time as the database returns it (constant
    /// memory; see [`Select::stream`](crate::query::Select::stream)).
    pub fn stream<E: Executor>(self, db: &E) -> crate::exec::RowStream<'_, S::Output> {
        db.fetch_stream(self.query, S::decode)
    }

    /// The first result row; [`Error::NotFound`] if there is none.
    pub async fn one<E: Executor>(self, db: &E) -> Result<S::Output> {
        let table = self.query.schema.table;
        self.optional(db)
            .await?
            .ok_or(Error::NotFound { table, detail: "" })
    }

    /// The first result row, or `None`.
    pub async fn optional<E: Executor>(mut self, db: &E) -> Result<Option<S::Output>> {
        self.query.limit.get_or_insert(1);
        db.fetch_optional(self.query, S::decode).await
    }
}
