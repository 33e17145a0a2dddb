//! Trees in one table, walked with `WITH RECURSIVE`: `Staff::query().filter(Staff::ID.eq(1))
//! .with_recursive(HasMany::<Staff, Staff>::via(Staff::REPORTS_TO))` is employee 1 and
//! everyone under them, each with their depth below employee 1; a `BelongsTo` relation walks
//! up instead (a row's chain of managers).

use std::marker::PhantomData;

use super::ir::TreeWalk;
use super::join::Joinable;
use super::select::Select;
use crate::error::Result;
use crate::exec::{Executor, RowRef};
use crate::model::Model;
use crate::value::FieldType;

/// The deepest level a walk reads unless [`Walk::max_depth`] says otherwise.
pub const DEFAULT_MAX_DEPTH: u32 = 100;

/// A walk of a tree of `M`; see [`Select::with_recursive`].
#[must_use = "a query does nothing until a terminal method such as `all(&db)` is awaited"]
pub struct Walk<M> {
    query: crate::query::ir::SelectQuery,
    _marker: PhantomData<fn() -> M>,
}

impl<M: Model> Select<M> {
    /// Walks a tree through a relation of `M` to itself (`WITH RECURSIVE`): the rows this
    /// select's filter picks (depth 0), then the rows `relation` reaches from them (depth 1),
    /// and so on, breadth first, as `(row, depth)` pairs ordered by depth, then key. The
    /// walk stops at [`DEFAULT_MAX_DEPTH`] levels (a guard against cycles), see
    /// [`Walk::max_depth`].
    pub fn with_recursive<R: Joinable<M, Joined = M>>(self, relation: R) -> Walk<M> {
        let (step, from) = relation.on();
        let mut query = self.into_ir();
        query.walk = Some(Box::new(TreeWalk {
            step,
            from,
            max_depth: DEFAULT_MAX_DEPTH,
        }));
        Walk {
            query,
            _marker: PhantomData,
        }
    }
}

impl<M: Model> Walk<M> {
    fn walk(&mut self) -> &mut TreeWalk {
        self.query.walk.as_mut().expect("a walk has its tree walk")
    }

    /// Walks at most `depth` levels below the start rows (0: the start rows only).
    pub fn max_depth(mut self, depth: u32) -> Self {
        self.walk().max_depth = depth;
        self
    }

    /// Returns at most `n` rows (the shallowest first).
    pub fn limit(mut self, n: u64) -> Self {
        self.query.limit = Some(n);
        self
    }

    /// The IR of this query.
    pub fn ir(&self) -> &crate::query::ir::SelectQuery {
        &self.query
    }

    /// Compiles the query for `dialect` without running it.
    pub fn compile(&self, dialect: crate::sql::Dialect) -> Result<crate::sql::Compiled> {
        crate::sql::compile(
            &crate::query::ir::Statement::Select(self.query.clone()),
            dialect,
        )
    }

    /// Every walked row with its depth (the column named
    /// [`WALK_DEPTH`](crate::query::ir::WALK_DEPTH)).
    pub async fn all<E: Executor>(self, db: &E) -> Result<Vec<(M, i64)>> {
        db.fetch_all(self.query, decode::<M>).await
    }

    /// Every result row, handed over one at a time as the database returns it (constant
    /// memory; see [`Select::stream`](crate::query::Select::stream)).
    pub fn stream<E: Executor>(self, db: &E) -> crate::exec::RowStream<'_, (M, i64)> {
        db.fetch_stream(self.query, decode::<M>)
    }
}

/// A walked row: the model's columns, then its depth.
fn decode<M: Model>(row: &RowRef<'_>) -> Result<(M, i64)> {
    let depth = M::schema().columns.len();
    Ok((
        M::decode_row(row, 0)?,
        <i64 as FieldType>::decode(row, depth)?,
    ))
}
