//! Typed query builders over the backend-neutral IR.

mod column;
pub mod ir;
mod select;
mod write;

pub use column::{Column, Filter, Order, escape_like};
pub use select::Select;
pub use write::{ColumnPlus, DeleteMany, OnConflict, UpdateMany};
