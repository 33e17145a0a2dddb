//! Computed expressions over a model's columns: aggregates (`User::AGE.avg()`), case folding
//! (`User::NAME.lower()`), date parts (`Event::AT.year()`) and the nesting ones of
//! [`super::compute`] (arithmetic, `coalesce`, `case_when`, casts). Each can be selected,
//! compared (in `filter`, or in `having` for aggregates), sorted by and grouped by.
//!
//! Every expression means the same on every dialect: `lower()`/`upper()` fold only the ASCII
//! letters `A`-`Z`/`a`-`z` (accented capitals stay as they are, as on SQLite, which has no
//! Unicode case tables), and date parts of timestamps are read in UTC.

use std::marker::PhantomData;

use super::aggregate::SelectItem;
use super::column::{Column, Filter, Order};
use super::ir::{CaseFold, CmpOp, Condition, DatePart, Direction, SelectExpr};
use crate::model::Model;
use crate::value::{DateField, FieldType, IntoValue, TextField};

/// An expression over rows of `M` whose value has the Rust type `T`.
pub struct Expression<M, T> {
    expr: SelectExpr,
    _marker: PhantomData<fn() -> (M, T)>,
}

impl<M, T> Clone for Expression<M, T> {
    fn clone(&self) -> Self {
        Expression::new(self.expr.clone())
    }
}

impl<M, T> std::fmt::Debug for Expression<M, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Expression({:?})", self.expr)
    }
}

impl<M, T> Expression<M, T> {
    /// Wraps an IR expression (for extensions that build their own).
    pub fn new(expr: SelectExpr) -> Self {
        Expression {
            expr,
            _marker: PhantomData,
        }
    }

    /// The IR expression.
    pub fn ir(&self) -> SelectExpr {
        self.expr.clone()
    }

    /// The IR expression, by value.
    pub fn into_ir(self) -> SelectExpr {
        self.expr
    }
}

impl<M: Model, T: FieldType> SelectItem<M> for Expression<M, T> {
    type Output = T;

    fn expr(&self) -> SelectExpr {
        self.expr.clone()
    }
}

impl<M: Model, T: FieldType> Expression<M, T> {
    fn compare(self, op: CmpOp, value: impl IntoValue<T>) -> Filter<M> {
        Filter::from_condition(Condition::CompareExpr {
            expr: self.expr,
            op,
            value: value.into_value(),
        })
    }

    /// `expression = value`.
    pub fn eq(self, value: impl IntoValue<T>) -> Filter<M> {
        self.compare(CmpOp::Eq, value)
    }

    /// `expression <> value`.
    pub fn ne(self, value: impl IntoValue<T>) -> Filter<M> {
        self.compare(CmpOp::Ne, value)
    }

    /// `expression < value`.
    pub fn lt(self, value: impl IntoValue<T>) -> Filter<M> {
        self.compare(CmpOp::Lt, value)
    }

    /// `expression <= value`.
    pub fn le(self, value: impl IntoValue<T>) -> Filter<M> {
        self.compare(CmpOp::Le, value)
    }

    /// `expression > value`.
    pub fn gt(self, value: impl IntoValue<T>) -> Filter<M> {
        self.compare(CmpOp::Gt, value)
    }

    /// `expression >= value`.
    pub fn ge(self, value: impl IntoValue<T>) -> Filter<M> {
        self.compare(CmpOp::Ge, value)
    }

    /// Ascending order on this expression (NULL first).
    pub fn asc(self) -> Order<M> {
        Order::new(self.expr, Direction::Asc)
    }

    /// Descending order on this expression (NULL last).
    pub fn desc(self) -> Order<M> {
        Order::new(self.expr, Direction::Desc)
    }
}

impl<M: Model, T: FieldType, Id> Column<M, T, Id> {
    fn fold(self, fold: CaseFold) -> Expression<M, T> {
        Expression::new(SelectExpr::Fold {
            fold,
            column: self.column_ref(),
        })
    }

    /// The text with `A`-`Z` lowered to `a`-`z` (only ASCII letters, on every dialect).
    pub fn lower(self) -> Expression<M, T>
    where
        T: TextField,
    {
        self.fold(CaseFold::Lower)
    }

    /// The text with `a`-`z` raised to `A`-`Z` (only ASCII letters, on every dialect).
    pub fn upper(self) -> Expression<M, T>
    where
        T: TextField,
    {
        self.fold(CaseFold::Upper)
    }

    fn extract(self, part: DatePart) -> Expression<M, T::Part>
    where
        T: DateField,
    {
        Expression::new(SelectExpr::Extract {
            part,
            column: self.column_ref(),
        })
    }

    /// The year of a date or timestamp (in UTC).
    pub fn year(self) -> Expression<M, T::Part>
    where
        T: DateField,
    {
        self.extract(DatePart::Year)
    }

    /// The month (1 to 12) of a date or timestamp (in UTC).
    pub fn month(self) -> Expression<M, T::Part>
    where
        T: DateField,
    {
        self.extract(DatePart::Month)
    }

    /// The day of the month (1 to 31) of a date or timestamp (in UTC).
    pub fn day(self) -> Expression<M, T::Part>
    where
        T: DateField,
    {
        self.extract(DatePart::Day)
    }
}
