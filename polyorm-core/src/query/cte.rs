//! Common table expressions: a projection, a derived table or a set operation named once in a
//! `WITH` clause and read like a table by the query: its rows selected and filtered
//! ([`Cte::query`]), or joined to models ([`JoinChain::join_cte`]). A common table built from
//! another one lists it first, so `WITH a AS (..), b AS (SELECT .. FROM a ..)` reads as written:
//!
//! ```ignore
//! let lengths = Track::query()
//!     .select((Track::ALBUM_ID, Track::MS.sum()))
//!     .group_by(Track::ALBUM_ID)
//!     .cte("album_length");
//! let (album, ms) = lengths.columns();
//! Album::query()
//!     .join_cte(Inner, &lengths, album, Album::ID)
//!     .select((Album::TITLE, ms))
//!     .order_by(ms.desc())
//! ```
//!
//! The columns of a common table are [`DerivedColumn`]s qualified by its name (`c0`, `c1`, ..
//! in the SQL, as a derived table's), typed as the select's values; its filters and orders are
//! `Filter<Derived<R>>`/`Order<Derived<R>>`, and in a join chain it is the model `Derived<R>`
//! (a common table joined twice is named by its position, as a model is).

use std::marker::PhantomData;
use std::sync::{Mutex, PoisonError};

use super::aggregate::{Projected, Selection};
use super::chain::{
    ChainJoin, Cons, Contains, Here, JoinChain, Position, Required, Source, Sources, Then, qualify,
};
use super::chain_select::{ChainProjected, ChainSelection};
use super::column::Column;
use super::derived::{Derived, DerivedColumn, DerivedRow};
use super::grouping::{ColumnId, ValidGrouping};
use super::ir::{
    Aggregation, COMMON_TABLE, ColumnRef, CommonTable, DERIVED_COLUMNS, Projection, SelectExpr,
    SelectQuery,
};
use super::join::{JoinOutput, Joined};
use super::select::Select;
use crate::exec::Decoder;
use crate::model::Model;
use crate::schema::{ColumnSchema, ColumnType, ModelSchema};
use crate::value::FieldType;

/// A select named as a common table expression, whose rows decode as `R`; made by
/// [`Projected::cte`](crate::query::Projected::cte). Cloning it is cheap enough to name it in
/// several queries.
pub struct Cte<R> {
    name: &'static str,
    schema: &'static ModelSchema,
    /// This table's definition, after those of the common tables it reads.
    with: Vec<CommonTable>,
    decode: Decoder<R>,
    _marker: PhantomData<fn() -> R>,
}

impl<R> Clone for Cte<R> {
    fn clone(&self) -> Self {
        Cte {
            name: self.name,
            schema: self.schema,
            with: self.with.clone(),
            decode: self.decode,
            _marker: PhantomData,
        }
    }
}

impl<R> std::fmt::Debug for Cte<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cte")
            .field("name", &self.name)
            .field("with", &self.with)
            .finish()
    }
}

impl<R: DerivedRow> Cte<R> {
    fn new(name: &'static str, mut query: SelectQuery, decode: Decoder<R>) -> Self {
        // The common tables the select reads come first, named once for the whole statement.
        let mut with = std::mem::take(&mut query.with);
        with.push(CommonTable { name, query });
        Cte {
            name,
            schema: schema_of(name, R::WIDTH),
            with,
            decode,
            _marker: PhantomData,
        }
    }

    /// The name the statement gives the table (`WITH name AS (..)`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The table's columns, in row order, to select, filter and sort a query that joins it:
    /// `let (album, ms) = lengths.columns();`.
    pub fn columns(&self) -> R::Columns {
        R::columns_in(self.name)
    }

    /// The table's rows (`WITH name AS (..) SELECT name.c0, .. FROM name`), to filter, sort
    /// and page like a derived table's, or to name as a further common table.
    pub fn query(&self) -> Derived<R> {
        let exprs = DERIVED_COLUMNS[..R::WIDTH]
            .iter()
            .map(|column| SelectExpr::Column(ColumnRef::new(self.name, column)))
            .collect();
        let mut query = SelectQuery::new(
            self.schema,
            Projection::Exprs(Box::new(Aggregation {
                exprs,
                group_by: Vec::new(),
                having: None,
                distinct: false,
            })),
        );
        query.with = self.with.clone();
        Derived::reading(query, self.decode, self.name)
    }

    /// Adds this table's definition (and those it reads) to `query`'s `WITH` clause, each
    /// once; a different table of the same name stays, for the compiler to refuse.
    fn named_in(&self, query: &mut SelectQuery) {
        for table in &self.with {
            if !query.with.contains(table) {
                query.with.push(table.clone());
            }
        }
    }
}

/// The static description of a common table named `name` with `width` columns: its table
/// name and its columns `c0, c1, ..` (of no one type; nullable), what the compiler reads of a
/// joined table. Made once per distinct name and width, and kept for the program's life.
fn schema_of(name: &'static str, width: usize) -> &'static ModelSchema {
    static SCHEMAS: Mutex<Vec<&'static ModelSchema>> = Mutex::new(Vec::new());
    let mut schemas = SCHEMAS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(schema) = schemas
        .iter()
        .find(|s| s.table == name && s.columns.len() == width)
    {
        return schema;
    }
    let schema: &'static ModelSchema = Box::leak(Box::new(ModelSchema {
        name: COMMON_TABLE,
        table: name,
        columns: &COLUMNS[..width.min(COLUMNS.len())],
        primary_key: &[],
        indexes: &[],
        foreign_keys: &[],
        checks: &[],
        renamed_from: None,
        shard_key: None,
        soft_delete: None,
    }));
    schemas.push(schema);
    schema
}

/// A CTE's column: text, nullable, decoded by position.
const fn column(name: &'static str) -> ColumnSchema {
    ColumnSchema::plain(name, ColumnType::Text, true, false)
}

/// The columns of a common table, by position (as [`DERIVED_COLUMNS`] names them).
static COLUMNS: [ColumnSchema; 8] = [
    column(DERIVED_COLUMNS[0]),
    column(DERIVED_COLUMNS[1]),
    column(DERIVED_COLUMNS[2]),
    column(DERIVED_COLUMNS[3]),
    column(DERIVED_COLUMNS[4]),
    column(DERIVED_COLUMNS[5]),
    column(DERIVED_COLUMNS[6]),
    column(DERIVED_COLUMNS[7]),
];

impl<M: Model, S: Selection<M>, G> Projected<M, S, G>
where
    S::Output: DerivedRow,
{
    /// Names this projection's rows as the common table `name` (`WITH name AS (this)`), to
    /// read or join in later queries; see [`Cte`].
    pub fn cte(self, name: &'static str) -> Cte<S::Output>
    where
        S: ValidGrouping<G>,
    {
        Cte::new(name, self.into_ir(), S::decode)
    }
}

impl<L: Sources, S: ChainSelection<L, Is>, Is> ChainProjected<L, S, Is>
where
    S::Output: DerivedRow,
{
    /// Names this projection's rows as the common table `name` (`WITH name AS (this)`).
    pub fn cte(self, name: &'static str) -> Cte<S::Output> {
        Cte::new(name, self.into_ir(), S::decode)
    }
}

impl<R: DerivedRow> Derived<R> {
    /// Names these rows (a derived table's, a set operation's, or another common table's,
    /// filtered) as the common table `name`.
    pub fn cte(self, name: &'static str) -> Cte<R> {
        let (query, decode) = self.into_parts();
        Cte::new(name, query, decode)
    }
}

impl<L: Sources> JoinChain<L> {
    /// Joins the rows of the common table `cte` on `joined = other` (`joined` one of its
    /// [`columns`](Cte::columns), `other` a column of any model of the query of the same
    /// type, or its `Option`): `.join_cte(Inner, &lengths, album, Album::ID)`. Its columns
    /// are then selected, filtered and sorted like a model's.
    pub fn join_cte<K, R, T, I, X, U>(
        mut self,
        _kind: K,
        cte: &Cte<R>,
        joined: DerivedColumn<R, T>,
        other: Column<X, U, impl ColumnId>,
    ) -> Then<L, K, Derived<R>>
    where
        K: ChainJoin,
        R: DerivedRow,
        T: FieldType,
        I: Position,
        X: Model,
        U: FieldType<Base = T::Base>,
        L: Contains<X, I>,
    {
        cte.named_in(self.query_mut());
        let other = qualify(self.ir(), I::INDEX, other.column_ref());
        self.push_source::<K, Derived<R>>(cte.schema, K::KIND, Some((joined.column(), other)))
    }
}

impl<M: Model> Select<M> {
    /// Joins the rows of the common table `cte` on `joined = other` (`other` a column of
    /// `M`); see [`JoinChain::join_cte`].
    pub fn join_cte<K, R, T, U>(
        self,
        kind: K,
        cte: &Cte<R>,
        joined: DerivedColumn<R, T>,
        other: Column<M, U, impl ColumnId>,
    ) -> Then<Cons<Source<M, Required>, super::chain::Nil>, K, Derived<R>>
    where
        K: ChainJoin,
        R: DerivedRow,
        T: FieldType,
        U: FieldType<Base = T::Base>,
    {
        JoinChain::new(self.into_ir()).join_cte::<K, R, T, Here, M, U>(kind, cte, joined, other)
    }
}

impl<M: Model, J: Model, K: JoinOutput<M, J> + ChainJoin> Joined<M, J, K> {
    /// Joins the rows of the common table `cte` on `joined = other` (`other` a column of
    /// either model); see [`JoinChain::join_cte`].
    #[allow(clippy::type_complexity)]
    pub fn join_cte<C, R, T, I, X, U>(
        self,
        kind: C,
        cte: &Cte<R>,
        joined: DerivedColumn<R, T>,
        other: Column<X, U, impl ColumnId>,
    ) -> Then<
        Cons<Source<M, Required>, Cons<Source<J, <K as ChainJoin>::Null>, super::chain::Nil>>,
        C,
        Derived<R>,
    >
    where
        C: ChainJoin,
        R: DerivedRow,
        T: FieldType,
        I: Position,
        X: Model,
        U: FieldType<Base = T::Base>,
        Cons<Source<M, Required>, Cons<Source<J, <K as ChainJoin>::Null>, super::chain::Nil>>:
            Contains<X, I>,
    {
        JoinChain::new(self.into_ir()).join_cte::<C, R, T, I, X, U>(kind, cte, joined, other)
    }
}
