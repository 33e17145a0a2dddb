//! Typed query builders over the backend-neutral IR.

mod aggregate;
mod column;
pub mod compute;
mod explain;
mod expr;
pub mod ir;
mod join;
mod join_select;
pub mod keyset;
mod relation;
mod select;
mod subquery;
mod write;

pub use aggregate::{
    Aggregate, Averageable, CountAll, GroupKey, Projected, SelectItem, Selection, Summable,
    count_all,
};
pub use column::{Column, Filter, Order, escape_like};
pub use compute::{Case, Operand, case_when};
pub use explain::Explain;
pub use expr::Expression;
pub use join::{Inner, JoinOutput, Joinable, Joined, Left};
pub use join_select::{
    JoinItem, JoinProjected, JoinSelection, JoinedSelection, OfJoined, OfModel, OfOneModel,
};
pub use relation::{BelongsTo, HasMany, HasManyWith, HasOne, Relation, WithRelation};
pub use select::Select;
pub use subquery::ComparableWith;
pub use write::{ColumnPlus, DeleteMany, OnConflict, UpdateMany};
