//! A projection read as a derived table, to filter and sort on what it computed: the top two
//! tracks of each genre are
//!
//! ```ignore
//! Track::query()
//!     .select((Track::GENRE, Track::NAME, row_number().partition_by(Track::GENRE).order_by(Track::MS.desc())))
//!     .derived()
//!     .filter(|(_, _, rank)| rank.le(2))
//!     .order_by(|(genre, _, _)| genre.asc())
//! ```
//!
//! Each column of the derived row is a typed [`DerivedColumn`] (the row's `n`-th value), whose
//! filters and orders are `Filter<Derived<R>>`/`Order<Derived<R>>`: they combine with `&`, `|`
//! and `!` as any filter, and belong to no model.

use std::marker::PhantomData;

use super::aggregate::{Projected, Selection};
use super::chain::Sources;
use super::chain_select::{ChainProjected, ChainSelection};
use super::column::{Filter, Order};
use super::grouping::ValidGrouping;
use super::ir::{
    CmpOp, ColumnRef, Compound, Condition, DERIVED_COLUMNS, DERIVED_TABLE, Direction, OrderBy,
    SelectQuery, SetOp,
};
use crate::error::{Error, Result};
use crate::exec::{Decoder, Executor};
use crate::model::Model;
use crate::value::{FieldType, IntoValue};

/// The rows of a projection, read as a derived table (`FROM (SELECT …) AS d`); made by
/// [`Projected::derived`](crate::query::Projected::derived).
#[must_use = "a query does nothing until a terminal method such as `all(&db)` is awaited"]
pub struct Derived<R> {
    query: SelectQuery,
    decode: Decoder<R>,
    /// The name the row's columns are qualified with: [`DERIVED_TABLE`] when the query reads
    /// its inner select through [`SelectQuery::outer`], a common table's name when it reads
    /// that table directly ([`Cte::query`](super::cte::Cte::query)).
    from: &'static str,
}

/// The `T` value at one position of a derived row `R` (of a derived table, or of a common
/// table expression, whose name then qualifies it).
pub struct DerivedColumn<R, T> {
    table: &'static str,
    position: usize,
    _marker: PhantomData<fn() -> (R, T)>,
}

impl<R, T> Clone for DerivedColumn<R, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<R, T> Copy for DerivedColumn<R, T> {}

impl<R, T: FieldType> DerivedColumn<R, T> {
    fn at(table: &'static str, position: usize) -> Self {
        DerivedColumn {
            table,
            position,
            _marker: PhantomData,
        }
    }

    /// The column as the IR names it (`derived.c1`, or `<common table>.c1`).
    pub(super) fn column(self) -> ColumnRef {
        ColumnRef::new(self.table, DERIVED_COLUMNS[self.position])
    }

    fn compare(self, op: CmpOp, value: impl IntoValue<T>) -> Filter<Derived<R>> {
        Filter::from_condition(Condition::Compare {
            column: self.column(),
            op,
            value: value.into_value(),
        })
    }

    /// `value = v` (`IS NULL` for a NULL `v`).
    pub fn eq(self, value: impl IntoValue<T>) -> Filter<Derived<R>> {
        self.compare(CmpOp::Eq, value)
    }

    /// `value <> v` (`IS NOT NULL` for a NULL `v`).
    pub fn ne(self, value: impl IntoValue<T>) -> Filter<Derived<R>> {
        self.compare(CmpOp::Ne, value)
    }

    /// `value < v`.
    pub fn lt(self, value: impl IntoValue<T>) -> Filter<Derived<R>> {
        self.compare(CmpOp::Lt, value)
    }

    /// `value <= v`.
    pub fn le(self, value: impl IntoValue<T>) -> Filter<Derived<R>> {
        self.compare(CmpOp::Le, value)
    }

    /// `value > v`.
    pub fn gt(self, value: impl IntoValue<T>) -> Filter<Derived<R>> {
        self.compare(CmpOp::Gt, value)
    }

    /// `value >= v`.
    pub fn ge(self, value: impl IntoValue<T>) -> Filter<Derived<R>> {
        self.compare(CmpOp::Ge, value)
    }

    /// Ascending order on this value (NULL first).
    pub fn asc(self) -> Order<Derived<R>> {
        Order::new(super::ir::SelectExpr::Column(self.column()), Direction::Asc)
    }

    /// Descending order on this value (NULL last).
    pub fn desc(self) -> Order<Derived<R>> {
        Order::new(
            super::ir::SelectExpr::Column(self.column()),
            Direction::Desc,
        )
    }
}

/// A row of a projection: a tuple of values, each read as a [`DerivedColumn`].
pub trait DerivedRow: Sized + Send + 'static {
    /// The tuple of this row's columns.
    type Columns;

    /// The columns, in row order, qualified by `table` (the derived table's alias or a common
    /// table's name).
    fn columns_in(table: &'static str) -> Self::Columns;

    /// How many columns a row has.
    const WIDTH: usize;
}

macro_rules! derived_row {
    ($($name:ident $index:tt),+) => {
        impl<$($name: FieldType),+> DerivedRow for ($($name,)+) {
            type Columns = ($(DerivedColumn<Self, $name>,)+);

            const WIDTH: usize = [$($index),+].len();

            fn columns_in(table: &'static str) -> Self::Columns {
                ($(DerivedColumn::at(table, $index),)+)
            }
        }
    };
}
derived_row!(A 0);
derived_row!(A 0, B 1);
derived_row!(A 0, B 1, C 2);
derived_row!(A 0, B 1, C 2, D 3);
derived_row!(A 0, B 1, C 2, D 3, E 4);
derived_row!(A 0, B 1, C 2, D 3, E 4, F 5);
derived_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
derived_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);

/// A projection whose rows decode as `R`: what a set operation combines with another.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not return `{R}` rows",
    label = "combine selects of the same value types, in the same order"
)]
pub trait Rows<R> {
    /// The IR of the projection.
    fn rows_ir(self) -> SelectQuery;
}

impl<M: Model, S: Selection<M> + ValidGrouping<G>, G> Rows<S::Output> for Projected<M, S, G> {
    fn rows_ir(self) -> SelectQuery {
        self.into_ir()
    }
}

impl<L: Sources, S: ChainSelection<L, Is>, Is> Rows<S::Output> for ChainProjected<L, S, Is> {
    fn rows_ir(self) -> SelectQuery {
        self.into_ir()
    }
}

impl<M: Model, S: Selection<M>, G> Projected<M, S, G>
where
    S::Output: DerivedRow,
{
    /// Reads this projection's rows as a derived table (`SELECT .. FROM (this) AS derived`),
    /// to filter and sort on the values it computed, window functions included.
    pub fn derived(self) -> Derived<S::Output>
    where
        S: ValidGrouping<G>,
    {
        Derived::new(self.into_ir(), S::decode)
    }

    /// `this UNION other`: the distinct rows of either (of the same types, from any model),
    /// as a derived table to filter, sort and page.
    pub fn union(self, other: impl Rows<S::Output>) -> Derived<S::Output>
    where
        S: ValidGrouping<G>,
    {
        self.derived().union(other)
    }

    /// `this UNION ALL other`: the rows of both, duplicates kept.
    pub fn union_all(self, other: impl Rows<S::Output>) -> Derived<S::Output>
    where
        S: ValidGrouping<G>,
    {
        self.derived().union_all(other)
    }

    /// `this INTERSECT other`: the distinct rows found in both.
    pub fn intersect(self, other: impl Rows<S::Output>) -> Derived<S::Output>
    where
        S: ValidGrouping<G>,
    {
        self.derived().intersect(other)
    }

    /// `this EXCEPT other`: the distinct rows of this one that `other` lacks.
    pub fn except(self, other: impl Rows<S::Output>) -> Derived<S::Output>
    where
        S: ValidGrouping<G>,
    {
        self.derived().except(other)
    }
}

impl<L: Sources, S: ChainSelection<L, Is>, Is> ChainProjected<L, S, Is>
where
    S::Output: DerivedRow,
{
    /// Reads this projection's rows as a derived table (`SELECT .. FROM (this) AS derived`),
    /// to filter and sort on the values it computed, window functions included.
    pub fn derived(self) -> Derived<S::Output> {
        Derived::new(self.into_ir(), S::decode)
    }
}

impl<R: DerivedRow> Derived<R> {
    fn new(mut query: SelectQuery, decode: Decoder<R>) -> Self {
        query.outer = Some(Box::default());
        Derived {
            query,
            decode,
            from: DERIVED_TABLE,
        }
    }

    /// The rows of `query`, a select of the columns of the common table `from`, filtered,
    /// sorted and paged by that select itself.
    pub(super) fn reading(query: SelectQuery, decode: Decoder<R>, from: &'static str) -> Self {
        Derived {
            query,
            decode,
            from,
        }
    }

    /// The select and the decoder of its rows.
    pub(super) fn into_parts(self) -> (SelectQuery, Decoder<R>) {
        (self.query, self.decode)
    }

    fn combine(mut self, op: SetOp, other: impl Rows<R>) -> Self {
        if self.query.outer.is_none() {
            // The rows of a common table, combined: the combination is a derived table (the
            // members of a set operation are neither sorted nor paged).
            self.query.outer = Some(Box::default());
            self.from = DERIVED_TABLE;
        }
        let query = other.rows_ir();
        self.query.compound.push(Compound { op, query });
        self
    }

    /// Adds `UNION other` (the distinct rows of either) to the combined rows; the filters,
    /// orders and paging of this builder apply to the combination.
    pub fn union(self, other: impl Rows<R>) -> Self {
        self.combine(SetOp::Union, other)
    }

    /// Adds `UNION ALL other` (every row of both, duplicates kept).
    pub fn union_all(self, other: impl Rows<R>) -> Self {
        self.combine(SetOp::UnionAll, other)
    }

    /// Adds `INTERSECT other` (the distinct rows also in `other`).
    pub fn intersect(self, other: impl Rows<R>) -> Self {
        self.combine(SetOp::Intersect, other)
    }

    /// Adds `EXCEPT other` (the distinct rows not in `other`).
    pub fn except(self, other: impl Rows<R>) -> Self {
        self.combine(SetOp::Except, other)
    }

    /// The clauses that filter, sort and page the rows: the outer select's over a derived
    /// table, the select's own over a common table.
    fn clauses(&mut self) -> Clauses<'_> {
        match &mut self.query.outer {
            Some(outer) => Clauses {
                filter: &mut outer.filter,
                order: &mut outer.order,
                limit: &mut outer.limit,
                offset: &mut outer.offset,
            },
            None => Clauses {
                filter: &mut self.query.filter,
                order: &mut self.query.order,
                limit: &mut self.query.limit,
                offset: &mut self.query.offset,
            },
        }
    }

    /// The row's columns, as the rows are read.
    pub fn columns(&self) -> R::Columns {
        R::columns_in(self.from)
    }

    /// Keeps the rows matching the filter built from the row's columns:
    /// `.filter(|(_, _, rank)| rank.le(2))`; several calls combine with AND.
    pub fn filter(mut self, filter: impl FnOnce(R::Columns) -> Filter<Derived<R>>) -> Self {
        let condition = filter(self.columns()).into_condition();
        let slot = self.clauses().filter;
        *slot = Some(Condition::and_opt(slot.take(), condition));
        self
    }

    /// Sorts by one of the row's columns: `.order_by(|(genre, _, _)| genre.asc())`; later
    /// calls break ties.
    pub fn order_by(mut self, order: impl FnOnce(R::Columns) -> Order<Derived<R>>) -> Self {
        let order = order(self.columns()).into_order_by();
        self.clauses().order.push(order);
        self
    }

    /// Returns at most `n` rows.
    pub fn limit(mut self, n: u64) -> Self {
        *self.clauses().limit = Some(n);
        self
    }

    /// Skips the first `n` rows.
    pub fn offset(mut self, n: u64) -> Self {
        *self.clauses().offset = Some(n);
        self
    }

    /// The IR of this query (the inner select, with its
    /// [`OuterSelect`](crate::query::ir::OuterSelect)).
    pub fn ir(&self) -> &SelectQuery {
        &self.query
    }

    /// Compiles the query for `dialect` without running it.
    pub fn compile(&self, dialect: crate::sql::Dialect) -> Result<crate::sql::Compiled> {
        crate::sql::compile(
            &crate::query::ir::Statement::Select(self.query.clone()),
            dialect,
        )
    }

    /// Every result row.
    pub async fn all<E: Executor>(self, db: &E) -> Result<Vec<R>> {
        db.fetch_all(self.query, self.decode).await
    }

    /// Every result row, handed over one at a time as the database returns it (constant
    /// memory; see [`Select::stream`](crate::query::Select::stream)).
    pub fn stream<E: Executor>(self, db: &E) -> crate::exec::RowStream<'_, R> {
        db.fetch_stream(self.query, self.decode)
    }

    /// The first result row; [`Error::NotFound`] if there is none.
    pub async fn one<E: Executor>(mut self, db: &E) -> Result<R> {
        let table = self.query.schema.table;
        self.clauses().limit.get_or_insert(1);
        db.fetch_optional(self.query, self.decode)
            .await?
            .ok_or(Error::NotFound { table, detail: "" })
    }
}

/// The filter, order and paging of the rows a [`Derived`] reads.
struct Clauses<'a> {
    filter: &'a mut Option<Condition>,
    order: &'a mut Vec<OrderBy>,
    limit: &'a mut Option<u64>,
    offset: &'a mut Option<u64>,
}
