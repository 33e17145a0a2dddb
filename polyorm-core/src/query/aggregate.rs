//! Projections and aggregates: `User::query().select((User::CITY, count_all(),
//! User::AGE.avg())).group_by(User::CITY).all(&db)` returns `Vec<(String, i64, Option<f64>)>`.
//!
//! Result types are the same on every dialect: `COUNT` is `i64`; `SUM` is `Option<i64>` over
//! integer columns and `Option<f64>` over floating-point ones; `AVG` is `Option<f64>` (an exact
//! `Option<Decimal>` at the column's scale over decimals); `MIN` and
//! `MAX` have the column's type; every aggregate but `COUNT` is `None` over no row.

use std::marker::PhantomData;

use super::column::{Column, Filter, Order};
use super::expr::Expression;
use super::grouping::{Computed, ValidGrouping};
use super::ir::{
    AggregateFn, Aggregation, Condition, Direction, Projection, SelectExpr, SelectQuery, ValueKind,
};
use super::select::Select;
use crate::error::{Error, Result};
use crate::exec::{Executor, RowRef, RowStream};
use crate::model::Model;
use crate::value::FieldType;

/// An expression selected from rows of `M`, decoding to `Output`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be selected from `{M}`",
    label = "select columns or aggregates of `{M}`"
)]
pub trait SelectItem<M> {
    /// The Rust type of the selected value.
    type Output: FieldType;

    /// The IR expression.
    fn expr(&self) -> SelectExpr;
}

impl<M: Model, T: FieldType, Id> SelectItem<M> for Column<M, T, Id> {
    type Output = T;

    fn expr(&self) -> SelectExpr {
        SelectExpr::Column(self.column_ref())
    }
}

/// An aggregate over a column of `M`, of result type `T`: select it, compare it in `having`,
/// sort by it.
pub type Aggregate<M, T> = Expression<M, T>;

/// `COUNT(*)` of the rows (of each group).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountAll;

/// `COUNT(*)`: the number of rows, or of rows in each group.
pub fn count_all() -> CountAll {
    CountAll
}

impl CountAll {
    /// Ascending order on the row count of each group.
    pub fn asc<M>(self) -> Order<M> {
        Order::new(self.ir(), Direction::Asc)
    }

    /// Descending order on the row count of each group.
    pub fn desc<M>(self) -> Order<M> {
        Order::new(self.ir(), Direction::Desc)
    }

    pub(super) fn ir(self) -> SelectExpr {
        SelectExpr::Aggregate {
            function: AggregateFn::Count,
            column: None,
            kind: ValueKind::Integer,
        }
    }
}

impl<M: Model> SelectItem<M> for CountAll {
    type Output = i64;

    fn expr(&self) -> SelectExpr {
        self.ir()
    }
}

/// Column types that `sum` applies to, with the type of their sum.
#[diagnostic::on_unimplemented(
    message = "`sum` needs a numeric column, not `{Self}`",
    label = "not `i16`, `i32`, `i64`, `f32`, `f64`, `Decimal` or an `Option` of one"
)]
pub trait Summable: FieldType {
    /// `i64` for integers, `f64` for floating-point numbers, `Decimal` for decimals.
    type Sum: crate::value::SqlType;
    /// What the values are.
    const KIND: ValueKind;
}

/// Column types that `avg` applies to, with the type of their mean: `f64` for integers and
/// floats; for decimals an exact `Decimal` rounded half away from zero to the column's scale,
/// the same on every dialect.
#[diagnostic::on_unimplemented(
    message = "`avg` needs a numeric column, not `{Self}`",
    label = "not `i16`, `i32`, `i64`, `f32`, `f64`, `Decimal` or an `Option` of one"
)]
pub trait Averageable: Summable {
    /// `f64`, or `Decimal` for decimals.
    type Avg: crate::value::SqlType;
}

macro_rules! summable {
    ($($ty:ty => $sum:ty, $kind:ident;)*) => {$(
        impl Summable for $ty {
            type Sum = $sum;
            const KIND: ValueKind = ValueKind::$kind;
        }
        impl Summable for Option<$ty> {
            type Sum = $sum;
            const KIND: ValueKind = ValueKind::$kind;
        }
        impl Averageable for $ty {
            type Avg = f64;
        }
        impl Averageable for Option<$ty> {
            type Avg = f64;
        }
    )*};
}
summable! {
    i16 => i64, Integer;
    i32 => i64, Integer;
    i64 => i64, Integer;
    f32 => f64, Float;
    f64 => f64, Float;
}

#[cfg(feature = "decimal")]
impl Summable for rust_decimal::Decimal {
    type Sum = rust_decimal::Decimal;
    const KIND: ValueKind = ValueKind::Decimal;
}
#[cfg(feature = "decimal")]
impl Summable for Option<rust_decimal::Decimal> {
    type Sum = rust_decimal::Decimal;
    const KIND: ValueKind = ValueKind::Decimal;
}
#[cfg(feature = "decimal")]
impl Averageable for rust_decimal::Decimal {
    type Avg = rust_decimal::Decimal;
}
#[cfg(feature = "decimal")]
impl Averageable for Option<rust_decimal::Decimal> {
    type Avg = rust_decimal::Decimal;
}

impl<M: Model, T: FieldType, Id> Column<M, T, Id> {
    fn aggregate<O>(self, function: AggregateFn, kind: ValueKind) -> Aggregate<M, O> {
        Expression::new(SelectExpr::Aggregate {
            function,
            column: Some(self.column_ref()),
            kind,
        })
    }

    /// `COUNT(column)`: the number of non-NULL values.
    pub fn count(self) -> Aggregate<M, i64> {
        self.aggregate(AggregateFn::Count, ValueKind::Integer)
    }

    /// `COUNT(DISTINCT column)`: the number of distinct non-NULL values.
    pub fn count_distinct(self) -> Aggregate<M, i64> {
        self.aggregate(AggregateFn::CountDistinct, ValueKind::Integer)
    }

    /// `SUM(column)`: `i64` over integers, `f64` over floats, an exact `Decimal` over
    /// decimals (on SQLite too); `None` over no row.
    pub fn sum(self) -> Aggregate<M, Option<T::Sum>>
    where
        T: Summable,
    {
        self.aggregate(AggregateFn::Sum, T::KIND)
    }

    /// `AVG(column)`: an `f64` over integers and floats; over decimals an exact `Decimal`
    /// rounded half away from zero to the column's scale (on SQLite too); `None` over no row.
    pub fn avg(self) -> Aggregate<M, Option<T::Avg>>
    where
        T: Averageable,
    {
        self.aggregate(AggregateFn::Avg, T::KIND)
    }

    /// `MIN(column)`; `None` over no row.
    pub fn min(self) -> Aggregate<M, Option<T::Base>> {
        self.aggregate(AggregateFn::Min, ValueKind::Other)
    }

    /// `MAX(column)`; `None` over no row.
    pub fn max(self) -> Aggregate<M, Option<T::Base>> {
        self.aggregate(AggregateFn::Max, ValueKind::Other)
    }
}

/// What [`Projected::group_by`] groups by: a column of `M` or a computed expression over one
/// (an aggregate is refused when the query is compiled: SQL cannot group by one).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot group a select of `{M}`",
    label = "group by a column of `{M}` or an expression over one, e.g. `.group_by(Invoice::DATE.year())`"
)]
pub trait GroupKey<M> {
    /// The key's place in the type-level list of group keys: the column's [`ColumnId`](super::ColumnId), or
    /// [`Computed`] for an expression (checked at run time).
    type Key;

    /// The IR expression grouped by.
    fn group_expr(&self) -> SelectExpr;
}

impl<M: Model, T: FieldType, Id> GroupKey<M> for Column<M, T, Id> {
    type Key = Id;

    fn group_expr(&self) -> SelectExpr {
        SelectExpr::Column(self.column_ref())
    }
}

impl<M: Model, T: FieldType> GroupKey<M> for Expression<M, T> {
    type Key = Computed;

    fn group_expr(&self) -> SelectExpr {
        self.ir()
    }
}

/// What [`Select::select`] selects: a tuple of columns and aggregates of `M`.
pub trait Selection<M>: Send + 'static {
    /// One decoded row.
    type Output: Send + 'static;

    /// The IR expressions, in tuple order.
    fn exprs(&self) -> Vec<SelectExpr>;

    /// Decodes one row by position.
    fn decode(row: &RowRef<'_>) -> Result<Self::Output>;
}

macro_rules! tuple_selection {
    ($($name:ident $index:tt),+) => {
        impl<M: Model, $($name: SelectItem<M> + Send + 'static),+> Selection<M> for ($($name,)+) {
            type Output = ($($name::Output,)+);

            fn exprs(&self) -> Vec<SelectExpr> {
                vec![$(self.$index.expr()),+]
            }

            fn decode(row: &RowRef<'_>) -> Result<Self::Output> {
                Ok(($(<$name::Output as FieldType>::decode(row, $index)?,)+))
            }
        }
    };
}
tuple_selection!(A 0);
tuple_selection!(A 0, B 1);
tuple_selection!(A 0, B 1, C 2);
tuple_selection!(A 0, B 1, C 2, D 3);
tuple_selection!(A 0, B 1, C 2, D 3, E 4);
tuple_selection!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple_selection!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_selection!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);

/// A select of chosen expressions; see [`Select::select`].
///
/// `G` lists the group keys' identities, most recent first (`()` before any
/// [`group_by`](Projected::group_by)): the terminal methods (`all`, `one`, `optional`,
/// `stream`, `all_as`, .., `derived`, `cte`, `union`, .., `explain`, subqueries) only compile
/// when every bare column selected is a group key or its model's primary key is one. Computed
/// expressions, `order_by` terms and joins are checked at run time instead
/// ([`Error::UngroupedColumn`], before any statement); see [`super::grouping`].
#[must_use = "a query does nothing until a terminal method such as `all(&db)` is awaited"]
pub struct Projected<M, S, G = ()> {
    query: SelectQuery,
    _marker: PhantomData<ProjectedTypes<M, S, G>>,
}

/// The type parameters of [`Projected`], held without owning any value.
type ProjectedTypes<M, S, G> = fn() -> (M, S, G);

impl<M: Model> Select<M> {
    /// Selects a tuple of columns and aggregates instead of whole rows:
    /// `.select((User::CITY, count_all()))` gives `(String, i64)` rows.
    pub fn select<S: Selection<M>>(self, selection: S) -> Projected<M, S> {
        let exprs = selection.exprs();
        Projected::new(self.into_ir(), exprs)
    }
}

impl<M, S> Projected<M, S> {
    /// `query` selecting `exprs` (ungrouped, not distinct).
    pub(super) fn new(mut query: SelectQuery, exprs: Vec<SelectExpr>) -> Self {
        query.projection = Projection::Exprs(Box::new(Aggregation {
            exprs,
            group_by: Vec::new(),
            having: None,
            distinct: false,
        }));
        Projected {
            query,
            _marker: PhantomData,
        }
    }
}

impl<M, S, G> Projected<M, S, G> {
    /// The query being built.
    pub(super) fn query_mut(&mut self) -> &mut SelectQuery {
        &mut self.query
    }

    pub(super) fn aggregation(&mut self) -> &mut Aggregation {
        match &mut self.query.projection {
            Projection::Exprs(aggregation) => aggregation,
            _ => unreachable!("a projected select always has expressions"),
        }
    }
}

impl<M: Model, S: Selection<M>, G> Projected<M, S, G> {
    /// Returns each distinct result row once (`SELECT DISTINCT`).
    pub fn distinct(mut self) -> Self {
        self.aggregation().distinct = true;
        self
    }

    /// Groups the rows by a column or a computed expression (`Invoice::DATE.year()`,
    /// `User::NAME.lower()`); repeat for more keys.
    ///
    /// A bare column selected must then be a key (or its model's primary key must be one),
    /// else the terminal method does not compile: group by it or aggregate it.
    pub fn group_by<K: GroupKey<M>>(mut self, key: K) -> Projected<M, S, (K::Key, G)> {
        self.aggregation().group_by.push(key.group_expr());
        Projected {
            query: self.query,
            _marker: PhantomData,
        }
    }

    /// Keeps the groups matching `filter` (over aggregates or grouped columns); several calls
    /// combine with AND.
    pub fn having(mut self, filter: Filter<M>) -> Self {
        let aggregation = self.aggregation();
        aggregation.having = Some(Condition::and_opt(
            aggregation.having.take(),
            filter.into_condition(),
        ));
        self
    }

    /// Sorts by a column, an aggregate (`count_all().desc()`) or a computed expression; later
    /// calls break ties of earlier ones.
    pub fn order_by(mut self, order: Order<M>) -> Self {
        self.query.order.push(order.into_order_by());
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

    /// Compiles the query for `dialect` without running it. Like [`ir`](Projected::ir), it
    /// does not ask for the compile-time grouping check: an ungrouped column is reported by
    /// the run-time one ([`Error::UngroupedColumn`]).
    pub fn compile(&self, dialect: crate::sql::Dialect) -> Result<crate::sql::Compiled> {
        crate::sql::compile(
            &crate::query::ir::Statement::Select(self.query.clone()),
            dialect,
        )
    }

    /// Every result row.
    pub async fn all<E: Executor>(self, db: &E) -> Result<Vec<S::Output>>
    where
        S: ValidGrouping<G>,
    {
        db.fetch_all(self.query, S::decode).await
    }

    /// Every result row, handed over one at a time as the database returns it (constant
    /// memory; see [`Select::stream`]).
    pub fn stream<E: Executor>(self, db: &E) -> RowStream<'_, S::Output>
    where
        S: ValidGrouping<G>,
    {
        db.fetch_stream(self.query, S::decode)
    }

    /// The first result row; [`Error::NotFound`] if there is none.
    pub async fn one<E: Executor>(self, db: &E) -> Result<S::Output>
    where
        S: ValidGrouping<G>,
    {
        let table = M::schema().table;
        self.optional(db)
            .await?
            .ok_or(Error::NotFound { table, detail: "" })
    }

    /// The first result row, or `None`.
    pub async fn optional<E: Executor>(mut self, db: &E) -> Result<Option<S::Output>>
    where
        S: ValidGrouping<G>,
    {
        self.query.limit.get_or_insert(1);
        db.fetch_optional(self.query, S::decode).await
    }
}
