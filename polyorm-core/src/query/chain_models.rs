//! Whole models of a [`JoinChain`]: `Track::query().inner_join(Track::album())
//! .inner_join(Album::artist()).all(&db)` returns `(Track, Album, Artist)` rows, a side that an
//! outer join can fill with NULLs as an `Option` (`(Employee, Option<Employee>, ..)`).
//!
//! The select list is every column of each model in join order, each qualified by the name
//! its side goes by (a self-joined table's alias), and each model decodes by position from
//! where the previous one ended; a NULL primary key on an outer side means "no row".

use super::chain::{Cons, JoinChain, Nil, Nullable, Required, Source, Sources};
use crate::error::{Error, Result};
use crate::exec::{Executor, RowRef};
use crate::model::Model;

/// One side of a chain read as a whole model: `M`, or `Option<M>` on an outer join's side.
pub trait ModelSide: 'static {
    /// The decoded side.
    type Out: Send + 'static;

    /// Decodes the side from its columns starting at `offset`.
    fn decode_at(row: &RowRef<'_>, offset: usize) -> Result<Self::Out>;

    /// How many columns the side has.
    fn width() -> usize;
}

impl<M: Model> ModelSide for Source<M, Required> {
    type Out = M;

    fn decode_at(row: &RowRef<'_>, offset: usize) -> Result<M> {
        M::decode_row(row, offset)
    }

    fn width() -> usize {
        M::schema().columns.len()
    }
}

impl<M: Model> ModelSide for Source<M, Nullable> {
    type Out = Option<M>;

    fn decode_at(row: &RowRef<'_>, offset: usize) -> Result<Option<M>> {
        // A stored row never has a NULL key: a NULL one is the outer join's missing row.
        let key = offset + M::schema().primary_key[0];
        if row.is_null(key)? {
            return Ok(None);
        }
        M::decode_row(row, offset).map(Some)
    }

    fn width() -> usize {
        M::schema().columns.len()
    }
}

/// A chain whose every side is a model (no common table), read as tuples of whole models.
#[diagnostic::on_unimplemented(
    message = "the rows of this join cannot be loaded as whole models",
    label = "`select` the columns you need",
    note = "a joined common table (`join_cte`) has no model to load"
)]
pub trait ChainModels: Sources {
    /// One row: the models in join order.
    type Row: Send + 'static;

    /// Decodes one row by position.
    fn decode(row: &RowRef<'_>) -> Result<Self::Row>;
}

macro_rules! chain_models {
    (@cons $head:ident $(, $rest:ident)*) => {
        Cons<$head, chain_models!(@cons $($rest),*)>
    };
    (@cons) => { Nil };
    ($($side:ident),+) => {
        impl<$($side: ModelSide),+> ChainModels for chain_models!(@cons $($side),+)
        where
            chain_models!(@cons $($side),+): Sources,
        {
            type Row = ($($side::Out,)+);

            #[allow(unused_assignments)]
            fn decode(row: &RowRef<'_>) -> Result<Self::Row> {
                let mut offset = 0;
                Ok(($({
                    let side = $side::decode_at(row, offset)?;
                    offset += $side::width();
                    side
                },)+))
            }
        }
    };
}
chain_models!(A, B);
chain_models!(A, B, C);
chain_models!(A, B, C, D);
chain_models!(A, B, C, D, E);
chain_models!(A, B, C, D, E, F);
chain_models!(A, B, C, D, E, F, G);
chain_models!(A, B, C, D, E, F, G, H);
chain_models!(A, B, C, D, E, F, G, H, I);

impl<L: ChainModels> JoinChain<L> {
    /// Every joined row as a tuple of whole models in join order (`Option`s for the sides an
    /// outer join can leave empty): `(Track, Album, Artist)`.
    pub async fn all<E: Executor>(self, db: &E) -> Result<Vec<L::Row>> {
        db.fetch_all(self.into_ir(), L::decode).await
    }

    /// Every joined row, handed over one at a time as the database returns it (constant
    /// memory; see [`Select::stream`](crate::query::Select::stream)).
    pub fn stream<E: Executor>(self, db: &E) -> crate::exec::RowStream<'_, L::Row> {
        db.fetch_stream(self.into_ir(), L::decode)
    }

    /// The first joined row; [`Error::NotFound`] if there is none.
    pub async fn one<E: Executor>(self, db: &E) -> Result<L::Row> {
        let table = self.ir().schema.table;
        self.optional(db)
            .await?
            .ok_or(Error::NotFound { table, detail: "" })
    }

    /// The first joined row, or `None`.
    pub async fn optional<E: Executor>(self, db: &E) -> Result<Option<L::Row>> {
        let mut query = self.into_ir();
        query.limit.get_or_insert(1);
        db.fetch_optional(query, L::decode).await
    }
}
