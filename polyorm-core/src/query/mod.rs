//! Typed query builders over the backend-neutral IR.

mod aggregate;
pub mod chain;
mod chain_models;
mod chain_select;
mod column;
pub mod compute;
mod cte;
mod derived;
mod explain;
mod expr;
pub mod grouping;
mod into_struct;
pub mod ir;
mod join;
mod join_select;
pub mod keyset;
mod relation;
mod select;
mod subquery;
mod through;
mod walk;
mod window;
mod write;

pub use aggregate::{
    Aggregate, Averageable, CountAll, GroupKey, Projected, SelectItem, Selection, Summable,
    count_all,
};
pub use chain::{ChainJoin, Contains, JoinChain, Right, S0, S1, S2, S3, S4, S5, S6, S7, S8};
pub use chain_models::{ChainModels, ModelSide};
pub use chain_select::{ChainItem, ChainProjected, ChainSelection, ModelItem};
pub use column::{Column, Filter, Order, escape_like};
pub use compute::{Case, Operand, case_when};
pub use cte::Cte;
pub use derived::{Derived, DerivedColumn, DerivedRow, Rows};
pub use explain::Explain;
pub use expr::Expression;
pub use grouping::{ColumnId, ValidGrouping};
pub use join::{Inner, JoinOutput, Joinable, Joined, Left};
pub use join_select::{
    JoinItem, JoinProjected, JoinSelection, JoinedSelection, OfJoined, OfModel, OfOneModel,
};
pub use relation::{BelongsTo, HasMany, HasManyWith, HasOne, Relation, WithRelation};
pub use select::Select;
pub use subquery::ComparableWith;
pub use through::{BelongsToModel, HasManyThrough, HasManyThroughWith, JoinModel};
pub use walk::{DEFAULT_MAX_DEPTH, Walk};
pub use window::{Window, WindowComparand, dense_rank, rank, row_number};
pub use write::{ColumnPlus, DeleteMany, OnConflict, UpdateMany};
