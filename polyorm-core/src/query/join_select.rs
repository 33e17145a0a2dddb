//! Projections of a join: `Artist::query().inner_join(Artist::albums()).select((Artist::NAME,
//! Album::ID.count())).group_by(Artist::NAME)` returns `(String, i64)` rows. Each item is a
//! column or expression of either model; grouping, `having` and ordering take either side.
//!
//! Which side an item belongs to is inferred from its model (the `Side` markers
//! [`OfModel`]/[`OfJoined`]). In a self-join both sides are the same model, so name them:
//! `.select::<(OfModel, OfJoined), _>((Employee::NAME, Employee::NAME))` is each employee's name
//! with their manager's.

use std::marker::PhantomData;

use super::aggregate::{GroupKey, Projected, SelectItem, Selection};
use super::column::{Column, Filter, Order};
use super::expr::Expression;
use super::grouping::ValidGrouping;
use super::ir::{Condition, JoinClause, SelectExpr};
use super::join::{Inner, Joined};
use crate::error::Result;
use crate::exec::RowRef;
use crate::model::Model;
use crate::value::FieldType;

/// Marks an item of a join's projection read from the queried model.
pub struct OfModel;
/// Marks an item of a join's projection read from the joined model.
pub struct OfJoined;

/// A column or expression that a select of `M` joined with `J` can return; `Side` is
/// [`OfModel`] or [`OfJoined`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` is neither a column of `{M}` nor of the joined `{J}`",
    label = "select columns and aggregates of the two models of the join"
)]
pub trait JoinItem<M, J, Side> {
    /// The Rust type of the selected value.
    type Output: FieldType;

    /// The IR expression, with the joined side named as `join` names it (its alias in a
    /// self-join).
    fn join_expr(&self, join: &JoinClause) -> SelectExpr;
}

impl<M: Model, J: Model, S: SelectItem<M>> JoinItem<M, J, OfModel> for S {
    type Output = S::Output;

    fn join_expr(&self, _: &JoinClause) -> SelectExpr {
        self.expr()
    }
}

/// An item that belongs to one model (a column or an expression over one), unlike
/// `count_all()`, which counts the joined rows and so is on the model's side.
pub trait OfOneModel {}

impl<M, T, Id> OfOneModel for Column<M, T, Id> {}
impl<M, T> OfOneModel for Expression<M, T> {}

impl<M: Model, J: Model, S: SelectItem<J> + OfOneModel> JoinItem<M, J, OfJoined> for S {
    type Output = S::Output;

    fn join_expr(&self, join: &JoinClause) -> SelectExpr {
        qualified(self.expr(), join)
    }
}

/// `expr` of the joined model, named through `join`'s alias.
fn qualified(mut expr: SelectExpr, join: &JoinClause) -> SelectExpr {
    expr.visit_columns_mut(&mut |column| *column = join.qualify(*column));
    expr
}

/// What [`Joined::select`] selects: a tuple of [`JoinItem`]s.
pub trait JoinSelection<M, J, Sides>: Send + 'static {
    /// One decoded row.
    type Output: Send + 'static;

    /// The IR expressions, in tuple order.
    fn join_exprs(&self, join: &JoinClause) -> Vec<SelectExpr>;

    /// Decodes one row by position.
    fn decode(row: &RowRef<'_>) -> Result<Self::Output>;
}

macro_rules! join_selection {
    ($($name:ident $side:ident $index:tt),+) => {
        impl<M: Model, J: Model, $($side, $name: JoinItem<M, J, $side> + Send + 'static),+>
            JoinSelection<M, J, ($($side,)+)> for ($($name,)+)
        {
            type Output = ($($name::Output,)+);

            fn join_exprs(&self, join: &JoinClause) -> Vec<SelectExpr> {
                vec![$(self.$index.join_expr(join)),+]
            }

            fn decode(row: &RowRef<'_>) -> Result<Self::Output> {
                Ok(($(<$name::Output as FieldType>::decode(row, $index)?,)+))
            }
        }
    };
}
join_selection!(A SA 0);
join_selection!(A SA 0, B SB 1);
join_selection!(A SA 0, B SB 1, C SC 2);
join_selection!(A SA 0, B SB 1, C SC 2, D SD 3);
join_selection!(A SA 0, B SB 1, C SC 2, D SD 3, E SE 4);
join_selection!(A SA 0, B SB 1, C SC 2, D SD 3, E SE 4, F SF 5);

/// The [`Selection`] of a join's projection: decodes as `S` does.
pub struct JoinedSelection<J, S, Sides> {
    _marker: PhantomData<SelectionTypes<J, S, Sides>>,
}

/// The type parameters of [`JoinedSelection`], held without owning any value.
type SelectionTypes<J, S, Sides> = fn() -> (J, S, Sides);

impl<M: Model, J: Model, Sides: 'static, S: JoinSelection<M, J, Sides>> Selection<M>
    for JoinedSelection<J, S, Sides>
{
    type Output = S::Output;

    fn exprs(&self) -> Vec<SelectExpr> {
        unreachable!("a join's projection is built by `Joined::select`")
    }

    fn decode(row: &RowRef<'_>) -> Result<S::Output> {
        S::decode(row)
    }
}

/// Joins are left to the run-time grouping check ([`Error::UngroupedColumn`](crate::Error)).
impl<J, S, Sides, K, R> ValidGrouping<(K, R)> for JoinedSelection<J, S, Sides> {}

/// A projection of a join; see [`Joined::select`].
pub type JoinProjected<M, J, S, Sides> = Projected<M, JoinedSelection<J, S, Sides>>;

impl<M: Model, J: Model> Joined<M, J, Inner> {
    /// Selects a tuple of columns and aggregates of both models instead of pairs:
    /// `.select((Artist::NAME, Album::TITLE))` gives `(String, String)` rows. Group, filter
    /// groups and sort with `group_by`/`having`/`order_by` (the model's side) and their
    /// `_joined` forms (the joined model's side).
    ///
    /// Inner joins only for now: on a left join the joined side's columns can be NULL, which
    /// the item types do not say yet; load the pairs (`all`) instead.
    pub fn select<Sides, S: JoinSelection<M, J, Sides>>(
        self,
        selection: S,
    ) -> JoinProjected<M, J, S, Sides> {
        let query = self.into_ir();
        let join = query.joins[0];
        Projected::new(query, selection.join_exprs(&join))
    }
}

impl<M: Model, J: Model, S, Sides> JoinProjected<M, J, S, Sides> {
    fn join(&mut self) -> JoinClause {
        self.query_mut().joins[0]
    }

    /// Groups the rows by a column of the joined model or an expression over one.
    pub fn group_by_joined(mut self, key: impl GroupKey<J>) -> Self {
        let key = qualified(key.group_expr(), &self.join());
        self.aggregation().group_by.push(key);
        self
    }

    /// Keeps the groups matching `filter` over the joined model's aggregates or grouped
    /// columns; combines with [`having`](Projected::having) by AND.
    pub fn having_joined(mut self, filter: Filter<J>) -> Self {
        let join = self.join();
        let mut condition = filter.into_condition();
        condition.visit_columns_mut(&mut |c| *c = join.qualify(*c));
        let aggregation = self.aggregation();
        aggregation.having = Some(Condition::and_opt(aggregation.having.take(), condition));
        self
    }

    /// Sorts by a column, an aggregate or an expression of the joined model.
    pub fn order_by_joined(mut self, order: Order<J>) -> Self {
        let join = self.join();
        let mut order = order.into_order_by();
        order.expr = qualified(order.expr, &join);
        self.query_mut().order.push(order);
        self
    }
}
