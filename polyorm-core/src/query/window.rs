//! Window functions: `row_number().partition_by(Track::GENRE).order_by(Track::MS.desc())`
//! numbers each genre's tracks longest first; `Track::MS.sum_over().order_by(..)
//! .rows(UnboundedPreceding, CurrentRow)` is a running total. A [`Window`] is selected (or
//! sorted by), never compared: its `eq`/`lt`/.. do not compile (their message says what to
//! do) and it is no [`Filter`](super::Filter), so a window function in `WHERE` does not compile. Filter on one through a derived table
//! ([`Projected::derived`](super::Projected::derived)).

use std::marker::PhantomData;

use super::aggregate::{Averageable, GroupKey, SelectItem, Summable};
use super::column::{Column, Order};
use super::ir::{
    AggregateFn, Direction, FrameBound, FrameUnit, SelectExpr, ValueKind, WindowExpr, WindowFn,
    WindowFrame,
};
use crate::model::Model;
use crate::value::FieldType;

/// A window function over rows of `M`, of result type `T`.
#[must_use = "a window does nothing until it is selected"]
pub struct Window<M, T> {
    window: WindowExpr,
    _marker: PhantomData<fn() -> (M, T)>,
}

/// What a window function could be compared with inside the query that computes it: nothing
/// (SQL evaluates window functions after `WHERE`). Implemented by no type, and sealed, so that
/// `row_number()...le(2)` fails with a message saying how to filter on a window instead of
/// reaching for `Iterator::le`.
#[diagnostic::on_unimplemented(
    message = "a window function cannot be filtered in the query that computes it",
    label = "SQL computes window functions after `WHERE`",
    note = "select the window, call `.derived()` on the select, and filter the derived table's column (see `Projected::derived`)"
)]
pub trait WindowComparand: sealed::Never {}

mod sealed {
    /// Implemented by no type: [`WindowComparand`](super::WindowComparand) stays unimplemented.
    pub trait Never {}
}

/// Comparisons that do not compile (their bound is never met): they exist only so that
/// comparing a window says what to do instead.
impl<M, T> Window<M, T> {
    /// Does not compile: "equal to" cannot be asked of a window function in the query that
    /// computes it (see [`WindowComparand`]).
    pub fn eq<V: WindowComparand>(self, _value: V) -> super::Filter<M> {
        unreachable!("`WindowComparand` has no implementations")
    }

    /// Does not compile: "not equal to" cannot be asked of a window function in the query that
    /// computes it (see [`WindowComparand`]).
    pub fn ne<V: WindowComparand>(self, _value: V) -> super::Filter<M> {
        unreachable!("`WindowComparand` has no implementations")
    }

    /// Does not compile: "less than" cannot be asked of a window function in the query that
    /// computes it (see [`WindowComparand`]).
    pub fn lt<V: WindowComparand>(self, _value: V) -> super::Filter<M> {
        unreachable!("`WindowComparand` has no implementations")
    }

    /// Does not compile: "at most" cannot be asked of a window function in the query that
    /// computes it (see [`WindowComparand`]).
    pub fn le<V: WindowComparand>(self, _value: V) -> super::Filter<M> {
        unreachable!("`WindowComparand` has no implementations")
    }

    /// Does not compile: "greater than" cannot be asked of a window function in the query that
    /// computes it (see [`WindowComparand`]).
    pub fn gt<V: WindowComparand>(self, _value: V) -> super::Filter<M> {
        unreachable!("`WindowComparand` has no implementations")
    }

    /// Does not compile: "at least" cannot be asked of a window function in the query that
    /// computes it (see [`WindowComparand`]).
    pub fn ge<V: WindowComparand>(self, _value: V) -> super::Filter<M> {
        unreachable!("`WindowComparand` has no implementations")
    }
}

impl<M, T> Clone for Window<M, T> {
    fn clone(&self) -> Self {
        Window {
            window: self.window.clone(),
            _marker: PhantomData,
        }
    }
}

impl<M, T> std::fmt::Debug for Window<M, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.window.fmt(f)
    }
}

/// `ROW_NUMBER()`: 1, 2, 3, .. in the window's order (ties in no particular order).
pub fn row_number<M: Model>() -> Window<M, i64> {
    Window::of(WindowFn::RowNumber)
}

/// `RANK()`: ties share a rank and the next rank skips (1, 1, 3).
pub fn rank<M: Model>() -> Window<M, i64> {
    Window::of(WindowFn::Rank)
}

/// `DENSE_RANK()`: ties share a rank and the next does not skip (1, 1, 2).
pub fn dense_rank<M: Model>() -> Window<M, i64> {
    Window::of(WindowFn::DenseRank)
}

impl<M: Model, T> Window<M, T> {
    fn of(function: WindowFn) -> Self {
        Window {
            window: WindowExpr {
                function,
                partition_by: Vec::new(),
                order_by: Vec::new(),
                frame: None,
            },
            _marker: PhantomData,
        }
    }

    /// Computes the function per partition: the rows sharing `key`'s value (repeat for more
    /// keys); without a partition the window is every row.
    pub fn partition_by(mut self, key: impl GroupKey<M>) -> Self {
        self.window.partition_by.push(key.group_expr());
        self
    }

    /// Orders the rows of each partition (repeat to break ties); NULL sorts as the smallest
    /// value unless the order says otherwise, as in a select.
    pub fn order_by(mut self, order: Order<M>) -> Self {
        self.window.order_by.push(order.into_order_by());
        self
    }

    /// The frame an aggregate reads, in rows around the current one:
    /// `.rows(Preceding(2), CurrentRow)` is a moving window of three rows.
    pub fn rows(mut self, start: FrameBound, end: FrameBound) -> Self {
        self.window.frame = Some(WindowFrame {
            unit: FrameUnit::Rows,
            start,
            end,
        });
        self
    }

    /// The frame an aggregate reads, by the order key's value (the current row's peers count
    /// as the current row): `.range(UnboundedPreceding, CurrentRow)`.
    pub fn range(mut self, start: FrameBound, end: FrameBound) -> Self {
        self.window.frame = Some(WindowFrame {
            unit: FrameUnit::Range,
            start,
            end,
        });
        self
    }

    /// Ascending order on the window's value.
    pub fn asc(self) -> Order<M> {
        Order::new(self.ir(), Direction::Asc)
    }

    /// Descending order on the window's value.
    pub fn desc(self) -> Order<M> {
        Order::new(self.ir(), Direction::Desc)
    }

    /// The IR expression.
    pub fn ir(&self) -> SelectExpr {
        SelectExpr::Window(Box::new(self.window.clone()))
    }
}

impl<M: Model> Window<M, i64> {
    /// `COUNT(*) OVER (..)`: the rows of the frame.
    pub fn count_all() -> Self {
        Window::of(WindowFn::Aggregate {
            function: AggregateFn::Count,
            arg: None,
            kind: ValueKind::Integer,
        })
    }
}

/// Window functions over a column: `Track::MS.lag(1)`, `Track::MS.sum_over()`, ..
impl<M: Model, T: FieldType, Id> Column<M, T, Id> {
    fn over<O>(self, function: AggregateFn, kind: ValueKind) -> Window<M, O> {
        Window::of(WindowFn::Aggregate {
            function,
            arg: Some(SelectExpr::Column(self.column_ref())),
            kind,
        })
    }

    /// `COUNT(column) OVER (..)`: the non-NULL values of the frame.
    pub fn count_over(self) -> Window<M, i64> {
        self.over(AggregateFn::Count, ValueKind::Integer)
    }

    /// `SUM(column) OVER (..)`: `i64` over integers, `f64` over floats (a decimal column is
    /// refused when the query is compiled).
    pub fn sum_over(self) -> Window<M, Option<T::Sum>>
    where
        T: Summable,
    {
        self.over(AggregateFn::Sum, T::KIND)
    }

    /// `AVG(column) OVER (..)`: an `f64` (a decimal column is refused when the query is
    /// compiled).
    pub fn avg_over(self) -> Window<M, Option<T::Avg>>
    where
        T: Averageable,
    {
        self.over(AggregateFn::Avg, T::KIND)
    }

    /// `MIN(column) OVER (..)`.
    pub fn min_over(self) -> Window<M, Option<T::Base>> {
        self.over(AggregateFn::Min, ValueKind::Other)
    }

    /// `MAX(column) OVER (..)`.
    pub fn max_over(self) -> Window<M, Option<T::Base>> {
        self.over(AggregateFn::Max, ValueKind::Other)
    }

    /// `LAG(column, offset) OVER (..)`: the value `offset` rows before in the window's order,
    /// NULL before the partition's first row.
    pub fn lag(self, offset: u32) -> Window<M, Option<T::Base>> {
        let expr = SelectExpr::Column(self.column_ref());
        Window::of(WindowFn::Lag { expr, offset })
    }

    /// `LEAD(column, offset) OVER (..)`: the value `offset` rows after in the window's order,
    /// NULL after the partition's last row.
    pub fn lead(self, offset: u32) -> Window<M, Option<T::Base>> {
        let expr = SelectExpr::Column(self.column_ref());
        Window::of(WindowFn::Lead { expr, offset })
    }
}

impl<M: Model, T: FieldType> SelectItem<M> for Window<M, T> {
    type Output = T;

    fn expr(&self) -> SelectExpr {
        self.ir()
    }
}
