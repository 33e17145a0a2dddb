//! Projections decoded into a user struct: `select((Track::NAME, Album::TITLE))
//! .all_as::<TrackLine>(&db)`, where `#[derive(FromRow)] struct TrackLine { track: String,
//! album: String }`. The struct's [`FromValues`] impl names the value types it is built from,
//! so a selection of other types (or in another order of types) does not compile.

use super::aggregate::{Projected, Selection};
use super::chain::Sources;
use super::chain_select::{ChainProjected, ChainSelection};
use super::grouping::ValidGrouping;
use crate::error::{Error, Result};
use crate::exec::{Executor, RowRef, RowStream};
use crate::model::Model;
use crate::raw::FromValues;

macro_rules! into_struct {
    ($decode:path $(, $bound:ty: $trait:path)?) => {
        /// Every result row, as the struct `T` built from its values.
        pub async fn all_as<T, E>(self, db: &E) -> Result<Vec<T>>
        where
            T: FromValues<S::Output>,
            E: Executor,
            $($bound: $trait,)?
        {
            let decode = |row: &RowRef<'_>| $decode(row).map(T::from_values);
            db.fetch_all(self.into_ir(), decode).await
        }

        /// Every result row as the struct `T`, handed over one at a time as the database
        /// returns it.
        pub fn stream_as<T, E>(self, db: &E) -> RowStream<'_, T>
        where
            T: FromValues<S::Output>,
            E: Executor,
            $($bound: $trait,)?
        {
            let decode = |row: &RowRef<'_>| $decode(row).map(T::from_values);
            db.fetch_stream(self.into_ir(), decode)
        }

        /// The first result row as the struct `T`; [`Error::NotFound`] if there is none.
        pub async fn one_as<T, E>(self, db: &E) -> Result<T>
        where
            T: FromValues<S::Output>,
            E: Executor,
            $($bound: $trait,)?
        {
            let mut query = self.into_ir();
            let table = query.schema.table;
            query.limit.get_or_insert(1);
            let decode = |row: &RowRef<'_>| $decode(row).map(T::from_values);
            db.fetch_optional(query, decode)
                .await?
                .ok_or(Error::NotFound { table, detail: "" })
        }
    };
}

impl<M: Model, S: Selection<M>, G> Projected<M, S, G> {
    into_struct!(S::decode, S: ValidGrouping<G>);
}

impl<L: Sources, S: ChainSelection<L, Is>, Is> ChainProjected<L, S, Is> {
    into_struct!(S::decode);
}
