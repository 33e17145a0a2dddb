//! Nesting expressions: arithmetic (`Line::PRICE * Line::QUANTITY`), `coalesce`, `CASE WHEN`
//! and casts, over columns, other expressions and values. Each is an [`Expression`], so it can
//! be selected, compared in `filter`/`having`, sorted by and grouped by, and nested again.
//!
//! Typed: an operand is a column or expression of the same model `M` (a column of a model not
//! in the query does not compile) or a value; the result type follows the operands: integers
//! give `i64` (computed in 64 bits on every dialect), a float operand gives `f64`, decimals give
//! an exact `Decimal`; `Option` when an operand is nullable. Division gives an `Option`: a zero
//! divisor is NULL on every dialect. `Column + value` stays the update increment
//! ([`super::ColumnPlus`]); start from [`Column::as_expr`] to add inside a select.

use super::aggregate::{Averageable, Summable};
use super::column::{Column, Filter};
use super::expr::Expression;
use super::ir::{AggregateFn, ArithOp, CastTo, SelectExpr, ValueKind};
use crate::model::Model;
use crate::value::{FieldType, IntoValue};

/// An operand of an expression over rows of `M`: a column or an expression of `M`, or a value.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an operand of an expression over `{M}`",
    label = "use a column or an expression of `{M}`, or a value (`i32`, `i64`, `f64`, `Decimal`, `String`, ..)",
    note = "a column of another model can only be used once that model is joined"
)]
pub trait Operand<M> {
    /// The Rust type of the operand's value.
    type Value: FieldType;

    /// The IR expression.
    fn operand(self) -> SelectExpr;
}

impl<M: Model, T: FieldType, Id> Operand<M> for Column<M, T, Id> {
    type Value = T;

    fn operand(self) -> SelectExpr {
        SelectExpr::Column(self.column_ref())
    }
}

impl<M: Model, T: FieldType> Operand<M> for Expression<M, T> {
    type Value = T;

    fn operand(self) -> SelectExpr {
        self.into_ir()
    }
}

macro_rules! value_operand {
    ($($ty:ty),*) => {$(
        impl<M> Operand<M> for $ty {
            type Value = $ty;

            fn operand(self) -> SelectExpr {
                SelectExpr::Value(IntoValue::<$ty>::into_value(self))
            }
        }
    )*};
}
value_operand!(i16, i32, i64, f64, bool, String);
#[cfg(feature = "decimal")]
value_operand!(rust_decimal::Decimal);

impl<M> Operand<M> for &str {
    type Value = String;

    fn operand(self) -> SelectExpr {
        SelectExpr::Value(IntoValue::<String>::into_value(self))
    }
}

/// The type of `Self <op> R` for `+`, `-` and `*`: integers give `i64`, a float operand `f64`,
/// decimals `Decimal`; nullable when either side is.
#[diagnostic::on_unimplemented(
    message = "`{Self}` and `{R}` cannot be combined by arithmetic",
    label = "operands are integers, `f64` or `Decimal` (integers mix with either; `f64` and `Decimal` do not mix)",
    note = "convert one side with `.cast::<f64>()` first"
)]
pub trait Arith<R> {
    /// The result type.
    type Output: FieldType;
    /// What the operands are computed as.
    const KIND: ValueKind;
}

/// The type of `Self / R`: integer division (truncating toward zero) or float division, NULL
/// for a zero divisor; decimals are not divided (no exact portable quotient).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be divided by `{R}`",
    label = "`/` takes integers and `f64`; decimals have no exact portable quotient",
    note = "cast decimals with `.cast::<f64>()`, or average them with `avg()` (exact)"
)]
pub trait Divide<R> {
    /// The result type (always an `Option`: a zero divisor gives NULL).
    type Output: FieldType;
    /// What the operands are computed as.
    const KIND: ValueKind;
}

/// The common type of two results of `coalesce` or `CASE`: one type (integers widen to the
/// larger), nullable only when both are (`coalesce`) or either is (`CASE`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` and `{R}` are not one type",
    label = "`coalesce` and `case_when` branches must have one type (integers of any width mix)"
)]
pub trait Unify<R> {
    /// The non-nullable common type.
    type Base: FieldType;
    /// `Base`, or `Option<Base>` when either side is nullable.
    type Either: FieldType;
    /// `Base`, or `Option<Base>` when both sides are nullable (what `coalesce` returns).
    type Both: FieldType;
}

/// `T` itself: the result of an operation on two non-nullable operands that cannot be NULL.
type Same<T> = T;

macro_rules! pairs {
    ($trait:ident [$wrap:ident]: $($l:ty, $r:ty => $o:ty, $kind:ident;)*) => {$(
        impl $trait<$r> for $l {
            type Output = $wrap<$o>;
            const KIND: ValueKind = ValueKind::$kind;
        }
        impl $trait<Option<$r>> for $l {
            type Output = Option<$o>;
            const KIND: ValueKind = ValueKind::$kind;
        }
        impl $trait<$r> for Option<$l> {
            type Output = Option<$o>;
            const KIND: ValueKind = ValueKind::$kind;
        }
        impl $trait<Option<$r>> for Option<$l> {
            type Output = Option<$o>;
            const KIND: ValueKind = ValueKind::$kind;
        }
    )*};
}

macro_rules! integer_pairs {
    ($trait:ident [$wrap:ident]) => {
        pairs! { $trait [$wrap]:
            i16, i16 => i64, Integer; i16, i32 => i64, Integer; i16, i64 => i64, Integer;
            i32, i16 => i64, Integer; i32, i32 => i64, Integer; i32, i64 => i64, Integer;
            i64, i16 => i64, Integer; i64, i32 => i64, Integer; i64, i64 => i64, Integer;
        }
    };
}
integer_pairs!(Arith[Same]);
integer_pairs!(Divide[Option]);

macro_rules! float_pairs {
    ($trait:ident [$wrap:ident]) => {
        pairs! { $trait [$wrap]:
            f64, f64 => f64, Float;
            f64, i16 => f64, Float; f64, i32 => f64, Float; f64, i64 => f64, Float;
            i16, f64 => f64, Float; i32, f64 => f64, Float; i64, f64 => f64, Float;
        }
    };
}
float_pairs!(Arith[Same]);
float_pairs!(Divide[Option]);

#[cfg(feature = "decimal")]
mod decimal_pairs {
    use super::{Arith, Same, ValueKind};
    use rust_decimal::Decimal;

    pairs! { Arith [Same]:
        Decimal, Decimal => Decimal, Decimal;
        Decimal, i16 => Decimal, Decimal; Decimal, i32 => Decimal, Decimal; Decimal, i64 => Decimal, Decimal;
        i16, Decimal => Decimal, Decimal; i32, Decimal => Decimal, Decimal; i64, Decimal => Decimal, Decimal;
    }
}

macro_rules! unify {
    ($($l:ty, $r:ty => $o:ty;)*) => {$(
        impl Unify<$r> for $l { type Base = $o; type Either = $o; type Both = $o; }
        impl Unify<Option<$r>> for $l { type Base = $o; type Either = Option<$o>; type Both = $o; }
        impl Unify<$r> for Option<$l> { type Base = $o; type Either = Option<$o>; type Both = $o; }
        impl Unify<Option<$r>> for Option<$l> { type Base = $o; type Either = Option<$o>; type Both = Option<$o>; }
    )*};
}
unify! {
    i16, i16 => i16; i16, i32 => i32; i16, i64 => i64;
    i32, i16 => i32; i32, i32 => i32; i32, i64 => i64;
    i64, i16 => i64; i64, i32 => i64; i64, i64 => i64;
    f64, f64 => f64; bool, bool => bool; String, String => String;
}
#[cfg(feature = "decimal")]
unify! { rust_decimal::Decimal, rust_decimal::Decimal => rust_decimal::Decimal; }

/// The types `cast` converts to, from the types each accepts.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be cast to `{To}` portably",
    label = "casts: integers to `i64`, `f64` or `String`; `f64` and `Decimal` to `f64`",
    note = "a float cast to an integer rounds differently per dialect, so it is not offered"
)]
pub trait CastInto<To> {
    /// `To`, or `Option<To>` for a nullable source.
    type Output: FieldType;
    /// The IR target.
    const TO: CastTo;
}

macro_rules! casts {
    ($($from:ty => $to:ty, $target:ident;)*) => {$(
        impl CastInto<$to> for $from { type Output = $to; const TO: CastTo = CastTo::$target; }
        impl CastInto<$to> for Option<$from> { type Output = Option<$to>; const TO: CastTo = CastTo::$target; }
    )*};
}
casts! {
    i16 => i64, Integer; i32 => i64, Integer; i64 => i64, Integer;
    i16 => f64, Float; i32 => f64, Float; i64 => f64, Float; f64 => f64, Float;
    i16 => String, Text; i32 => String, Text; i64 => String, Text;
}
#[cfg(feature = "decimal")]
casts! { rust_decimal::Decimal => f64, Float; }

fn arith<M, T>(
    op: ArithOp,
    left: SelectExpr,
    right: SelectExpr,
    kind: ValueKind,
) -> Expression<M, T> {
    Expression::new(SelectExpr::Arith {
        op,
        left: Box::new(left),
        right: Box::new(right),
        kind,
    })
}

macro_rules! operator {
    ([$($id:ident)?] $target:ty, $trait:ident, $method:ident, $bound:ident, $op:ident) => {
        impl<M: Model, T: FieldType, R: Operand<M> $(, $id)?> std::ops::$trait<R> for $target
        where
            T: $bound<R::Value>,
        {
            type Output = Expression<M, <T as $bound<R::Value>>::Output>;

            fn $method(self, rhs: R) -> Self::Output {
                let kind = <T as $bound<R::Value>>::KIND;
                arith(ArithOp::$op, self.operand(), rhs.operand(), kind)
            }
        }
    };
}
operator!([] Expression<M, T>, Add, add, Arith, Add);
operator!([] Expression<M, T>, Sub, sub, Arith, Sub);
operator!([] Expression<M, T>, Mul, mul, Arith, Mul);
operator!([] Expression<M, T>, Div, div, Divide, Div);
// `Column + value` is the update increment (`ColumnPlus`); `*` and `/` are free.
operator!([Id] Column<M, T, Id>, Mul, mul, Arith, Mul);
operator!([Id] Column<M, T, Id>, Div, div, Divide, Div);

/// Methods shared by columns and expressions: `coalesce` and `cast`.
macro_rules! shared_methods {
    ([$($id:ident)?] $target:ty) => {
        impl<M: Model, T: FieldType $(, $id)?> $target {
            /// `COALESCE(self, fallback)`: this value, or `fallback` where it is NULL; nullable
            /// only when `fallback` is too.
            pub fn coalesce<R: Operand<M>>(
                self,
                fallback: R,
            ) -> Expression<M, <T as Unify<R::Value>>::Both>
            where
                T: Unify<R::Value>,
            {
                Expression::new(SelectExpr::Coalesce(vec![
                    self.operand(),
                    fallback.operand(),
                ]))
            }

            /// `CAST(self AS ...)` to `i64`, `f64` or `String` (see [`CastInto`] for what
            /// converts to what on every dialect).
            pub fn cast<To>(self) -> Expression<M, <T as CastInto<To>>::Output>
            where
                T: CastInto<To>,
            {
                Expression::new(SelectExpr::Cast {
                    expr: Box::new(self.operand()),
                    to: <T as CastInto<To>>::TO,
                })
            }
        }
    };
}
shared_methods!([Id] Column<M, T, Id>);
shared_methods!([] Expression<M, T>);

impl<M: Model, T: FieldType, Id> Column<M, T, Id> {
    /// The column as an expression, to start arithmetic with `+` or `-`
    /// (`Line::PRICE.as_expr() + Line::TAX`): `Column + value` itself is the update increment.
    pub fn as_expr(self) -> Expression<M, T> {
        Expression::new(SelectExpr::Column(self.column_ref()))
    }
}

/// `CASE WHEN condition THEN result ... END` over rows of `M`; finish with
/// [`Case::otherwise`] or [`Case::end`] (NULL when no condition holds).
#[must_use = "a CASE expression is built with `when`, then `otherwise` or `end`"]
pub struct Case<M, T> {
    branches: Vec<(super::ir::Condition, SelectExpr)>,
    _marker: std::marker::PhantomData<fn() -> (M, T)>,
}

/// `CASE WHEN condition THEN result`: the first branch of a [`Case`].
pub fn case_when<M: Model, R: Operand<M>>(condition: Filter<M>, result: R) -> Case<M, R::Value> {
    Case {
        branches: vec![(condition.into_condition(), result.operand())],
        _marker: std::marker::PhantomData,
    }
}

impl<M: Model, T: FieldType> Case<M, T> {
    /// Another `WHEN condition THEN result`, tried after the earlier ones.
    pub fn when<R: Operand<M>>(
        mut self,
        condition: Filter<M>,
        result: R,
    ) -> Case<M, <T as Unify<R::Value>>::Either>
    where
        T: Unify<R::Value>,
    {
        self.branches
            .push((condition.into_condition(), result.operand()));
        Case {
            branches: self.branches,
            _marker: std::marker::PhantomData,
        }
    }

    /// `ELSE result END`.
    pub fn otherwise<R: Operand<M>>(
        self,
        result: R,
    ) -> Expression<M, <T as Unify<R::Value>>::Either>
    where
        T: Unify<R::Value>,
    {
        Expression::new(SelectExpr::Case {
            branches: self.branches,
            otherwise: Box::new(result.operand()),
        })
    }

    /// `END` without `ELSE`: NULL when no condition holds.
    pub fn end(self) -> Expression<M, Option<T::Base>> {
        Expression::new(SelectExpr::Case {
            branches: self.branches,
            otherwise: Box::new(SelectExpr::Value(crate::value::Value::Null(
                <T::Base as crate::value::SqlType>::COLUMN_TYPE,
            ))),
        })
    }
}

impl<M: Model, T: FieldType> Expression<M, T> {
    fn aggregate_of<O>(self, function: AggregateFn, kind: ValueKind) -> Expression<M, O> {
        Expression::new(SelectExpr::AggregateOf {
            function,
            arg: Box::new(self.into_ir()),
            kind,
        })
    }

    /// `COUNT(expression)`: the number of non-NULL values.
    pub fn count(self) -> Expression<M, i64> {
        self.aggregate_of(AggregateFn::Count, ValueKind::Integer)
    }

    /// `COUNT(DISTINCT expression)`: the number of distinct non-NULL values.
    pub fn count_distinct(self) -> Expression<M, i64> {
        self.aggregate_of(AggregateFn::CountDistinct, ValueKind::Integer)
    }

    /// `SUM(expression)` (`SUM(price * quantity)`): `i64` over integers, `f64` over floats,
    /// an exact `Decimal` over decimals; `None` over no row.
    pub fn sum(self) -> Expression<M, Option<T::Sum>>
    where
        T: Summable,
    {
        self.aggregate_of(AggregateFn::Sum, T::KIND)
    }

    /// `AVG(expression)` as an `f64` over integers and floats (a decimal expression has no
    /// declared scale to round its exact mean to: average a decimal column instead).
    pub fn avg(self) -> Expression<M, Option<f64>>
    where
        T: Averageable<Avg = f64>,
    {
        self.aggregate_of(AggregateFn::Avg, T::KIND)
    }

    /// `MIN(expression)`; `None` over no row.
    pub fn min(self) -> Expression<M, Option<T::Base>> {
        self.aggregate_of(AggregateFn::Min, ValueKind::Other)
    }

    /// `MAX(expression)`; `None` over no row.
    pub fn max(self) -> Expression<M, Option<T::Base>> {
        self.aggregate_of(AggregateFn::Max, ValueKind::Other)
    }
}
