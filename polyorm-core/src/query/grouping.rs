//! The compile-time half of the grouping rule: in a select with `group_by`, every bare column
//! selected is a group key, or its model's primary key is grouped (SQL's functional
//! dependence). Anything else does not compile.
//!
//! How: `#[derive(Model)]` gives each column its own identity type ([`ColumnId`]; `User::CITY`
//! is a `Column<User, String, User_CITY>`). Each `group_by` puts the key's identity at the
//! head of a type-level list (`(User_AGE, (User_CITY, ()))`), and the terminal methods of
//! [`Projected`](super::Projected) require [`ValidGrouping`] of that list from the selection.
//! The derive generates, for each pair of columns of a model, whether one is valid under the
//! other as a key ([`GroupedIn`]); that is N² small impls for N columns.
//!
//! What stays a run-time check ([`Error::UngroupedColumn`](crate::Error), before any
//! statement is sent, on every backend), because the types do not carry it:
//! - computed expressions (`User::NAME.lower()`, `Invoice::DATE.year()`, arithmetic, ..):
//!   their column identity is lost, so selected they always pass here, and as keys they
//!   make no column valid here;
//! - aggregates mixed with bare columns and no `group_by` at all (an aggregate is an
//!   [`Expression`] like any other);
//! - `order_by` terms, `having` filters, joins (`group_by_joined`, chains of joins);
//! - a composite primary key: grouping by any column of it passes here, and the run-time
//!   check asks for all of them.

use super::aggregate::CountAll;
use super::column::Column;
use super::expr::Expression;
use super::window::Window;

/// The identity of one column, a unit type that `#[derive(Model)]` generates per field
/// (`User_CITY` for `User::CITY`), so that two columns of one Rust type are two types.
pub trait ColumnId: Send + Sync + 'static {}

/// The place of a computed key (`.group_by(Invoice::DATE.year())`) in the list of group keys:
/// it makes no column valid at compile time (the run-time check sees through it).
#[derive(Debug, Clone, Copy)]
pub struct Computed;

/// The column `Self` may be selected under the group keys `Keys`: one of them is `Self` or
/// its model's primary key. Implemented by generated code for every pair of columns of a
/// model; `Keys` is a list `(Key, Rest)` ending in `()`.
#[diagnostic::on_unimplemented(
    message = "the column `{Self}` is selected but neither grouped nor aggregated",
    label = "`{Self}` is not a group key of this select: group by it or aggregate it",
    note = "add `.group_by(..)` on this column, select an aggregate of it (`.max()`, `.count()`, ..), or group by its model's primary key"
)]
pub trait GroupedIn<Keys> {}

impl<Id: GroupedIn<Rest>, Rest> GroupedIn<(Computed, Rest)> for Id {}

/// A selected item that is valid under the group keys `Keys`: a column that
/// [`GroupedIn`] says is, and any aggregate, window or computed expression (computed ones
/// are checked at run time).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be selected in a grouped select",
    label = "select a group key or an aggregate"
)]
pub trait GroupedItem<Keys> {}

impl<M, T, Id: GroupedIn<Keys>, Keys> GroupedItem<Keys> for Column<M, T, Id> {}
impl<Keys> GroupedItem<Keys> for CountAll {}
impl<M, T, Keys> GroupedItem<Keys> for Expression<M, T> {}
impl<M, T, Keys> GroupedItem<Keys> for Window<M, T> {}

/// A selection that is valid under the group keys `Keys`: any selection when there is no
/// `group_by` (`()`), else every item is a [`GroupedItem`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a valid selection under the group keys `{Keys}`",
    label = "every selected column must be grouped or aggregated"
)]
pub trait ValidGrouping<Keys> {}

impl<S> ValidGrouping<()> for S {}

macro_rules! tuple_grouping {
    ($($name:ident),+) => {
        impl<K, R, $($name: GroupedItem<(K, R)>),+> ValidGrouping<(K, R)> for ($($name,)+) {}
    };
}
tuple_grouping!(A);
tuple_grouping!(A, B);
tuple_grouping!(A, B, C);
tuple_grouping!(A, B, C, D);
tuple_grouping!(A, B, C, D, E);
tuple_grouping!(A, B, C, D, E, F);
tuple_grouping!(A, B, C, D, E, F, G);
tuple_grouping!(A, B, C, D, E, F, G, H);
