//! Relations between models and eager loading: `User::query().with(User::posts())`.
//!
//! Loading never runs one query per row: each level of a relation runs one query per chunk of
//! 1,000 parent keys (`WHERE fk IN (...)`), and the rows are matched to their parents in
//! memory. `User::query().with(User::posts().with(Post::comments()))` runs three queries for
//! any number of users.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::marker::PhantomData;

use foldhash::fast::RandomState;

use super::column::Column;
use super::grouping::ColumnId;
use super::ir::{ColumnRef, Condition, Direction, OrderBy, Projection, SelectQuery};
use super::select::Select;
use crate::error::Result;
use crate::exec::Executor;
use crate::model::{Model, decode_model};
use crate::value::{ReferencesKey, Value};

/// Parent keys per `IN (...)` list: far below every dialect's parameter limit.
const KEYS_PER_QUERY: usize = 1_000;

/// Something loaded for each of a list of parent rows of `P`, in one query per level.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a relation of `{P}`",
    label = "eager-load a relation declared on `{P}`",
    note = "relations start at the model they belong to: `User::query().with(User::posts())`"
)]
pub trait Relation<P: Model>: Send + Sync {
    /// What each parent gets: `Vec<C>` for has-many, `Option<C>` for has-one and belongs-to,
    /// `Vec<(C, Nested)>` when nested.
    type Loaded: Send + 'static;

    /// Loads the related rows of every parent, in the parents' order.
    fn load<E: Executor>(
        &self,
        db: &E,
        parents: &[P],
    ) -> impl Future<Output = Result<Vec<Self::Loaded>>> + Send;
}

/// The rows of `C` whose foreign key holds a `P`'s primary key (one-to-many).
pub struct HasMany<P, C> {
    foreign_key: &'static str,
    _marker: PhantomData<fn() -> (P, C)>,
}

/// A [`HasMany`] whose children load a nested relation too.
pub struct HasManyWith<P, C, R> {
    parent: HasMany<P, C>,
    nested: R,
}

/// The row of `C` whose foreign key holds a `P`'s primary key, if any (one-to-one).
pub struct HasOne<P, C> {
    inner: HasMany<P, C>,
}

/// The `P` row a `C` row's foreign key points at (many-to-one); `None` for a NULL key.
pub struct BelongsTo<C, P> {
    foreign_key: &'static str,
    _marker: PhantomData<fn() -> (C, P)>,
}

impl<P: Model, C: Model> HasMany<P, C> {
    /// The relation through `C`'s foreign-key column `foreign_key`, which holds `P`'s
    /// (single-column) primary key.
    pub fn via<F: ReferencesKey<P::PrimaryKey>>(foreign_key: Column<C, F, impl ColumnId>) -> Self {
        HasMany {
            foreign_key: foreign_key.name(),
            _marker: PhantomData,
        }
    }

    /// [`via`](HasMany::via) without the key-type check, for derived accessors, which check
    /// it separately so that a mismatch is reported at the column handle.
    #[doc(hidden)]
    pub fn via_checked_elsewhere<F: crate::value::FieldType>(
        foreign_key: Column<C, F, impl ColumnId>,
    ) -> Self {
        HasMany {
            foreign_key: foreign_key.name(),
            _marker: PhantomData,
        }
    }

    /// The child's foreign-key column.
    pub fn foreign_key(&self) -> &'static str {
        self.foreign_key
    }

    /// Also loads `nested` for every child: `User::posts().with(Post::comments())`.
    pub fn with<R: Relation<C>>(self, nested: R) -> HasManyWith<P, C, R> {
        HasManyWith {
            parent: self,
            nested,
        }
    }

    /// The children of every parent, in parent order; children ordered by their key.
    async fn children<E: Executor>(&self, db: &E, parents: &[P]) -> Result<Vec<Vec<C>>> {
        let keys: Vec<Value> = parents.iter().map(single_key::<P>).collect();
        let column = ColumnRef {
            table: C::schema().table,
            name: self.foreign_key,
        };
        let rows: Vec<C> = fetch_in(db, column, &keys).await?;
        let fk_index = position(C::schema(), self.foreign_key);
        // Each key's first parent (a later parent with the same key gets no children).
        let mut first_parent: KeyMap<usize> = key_map(keys.len());
        for (index, key) in keys.iter().enumerate() {
            first_parent.entry(Key::of(key)).or_insert(index);
        }
        // Two passes, so that every parent's list is allocated once at its final size.
        let owners: Vec<Option<usize>> = rows
            .iter()
            .map(|row| {
                first_parent
                    .get(&Key::of(&row.column_value(fk_index)))
                    .copied()
            })
            .collect();
        let mut counts = vec![0usize; keys.len()];
        for &owner in owners.iter().flatten() {
            counts[owner] += 1;
        }
        let mut children: Vec<Vec<C>> = counts.into_iter().map(Vec::with_capacity).collect();
        for (row, owner) in rows.into_iter().zip(owners) {
            if let Some(owner) = owner {
                children[owner].push(row);
            }
        }
        Ok(children)
    }
}

impl<P: Model, C: Model> HasOne<P, C> {
    /// The relation through `C`'s foreign-key column `foreign_key`; when several rows match,
    /// the one with the lowest key wins (declare the column `unique` to rule that out).
    pub fn via<F: ReferencesKey<P::PrimaryKey>>(foreign_key: Column<C, F, impl ColumnId>) -> Self {
        HasOne {
            inner: HasMany::via(foreign_key),
        }
    }

    /// The one-to-many relation underneath.
    pub(crate) fn as_has_many(&self) -> &HasMany<P, C> {
        &self.inner
    }

    /// [`via`](HasOne::via) without the key-type check, for derived accessors.
    #[doc(hidden)]
    pub fn via_checked_elsewhere<F: crate::value::FieldType>(
        foreign_key: Column<C, F, impl ColumnId>,
    ) -> Self {
        HasOne {
            inner: HasMany::via_checked_elsewhere(foreign_key),
        }
    }
}

impl<C: Model, P: Model> BelongsTo<C, P> {
    /// The child's foreign-key column.
    pub fn foreign_key(&self) -> &'static str {
        self.foreign_key
    }

    /// The relation through `C`'s foreign-key column `foreign_key`, which holds `P`'s key.
    pub fn via<F: ReferencesKey<P::PrimaryKey>>(foreign_key: Column<C, F, impl ColumnId>) -> Self {
        BelongsTo {
            foreign_key: foreign_key.name(),
            _marker: PhantomData,
        }
    }

    /// [`via`](BelongsTo::via) without the key-type check, for derived accessors: the derive
    /// checks the `belongs_to` field's type at the field, once.
    #[doc(hidden)]
    pub fn via_checked_elsewhere<F: crate::value::FieldType>(
        foreign_key: Column<C, F, impl ColumnId>,
    ) -> Self {
        BelongsTo {
            foreign_key: foreign_key.name(),
            _marker: PhantomData,
        }
    }
}

impl<P: Model, C: Model> Relation<P> for HasMany<P, C> {
    type Loaded = Vec<C>;

    async fn load<E: Executor>(&self, db: &E, parents: &[P]) -> Result<Vec<Vec<C>>> {
        self.children(db, parents).await
    }
}

impl<P: Model, C: Model, R: Relation<C>> Relation<P> for HasManyWith<P, C, R> {
    type Loaded = Vec<(C, R::Loaded)>;

    async fn load<E: Executor>(&self, db: &E, parents: &[P]) -> Result<Vec<Self::Loaded>> {
        let children = self.parent.children(db, parents).await?;
        load_nested(db, children, &self.nested).await
    }
}

impl<P: Model, C: Model> Relation<P> for HasOne<P, C> {
    type Loaded = Option<C>;

    async fn load<E: Executor>(&self, db: &E, parents: &[P]) -> Result<Vec<Option<C>>> {
        let children = self.inner.children(db, parents).await?;
        Ok(children.into_iter().map(|c| c.into_iter().next()).collect())
    }
}

impl<C: Model, P: Model + Clone> Relation<C> for BelongsTo<C, P> {
    type Loaded = Option<P>;

    async fn load<E: Executor>(&self, db: &E, children: &[C]) -> Result<Vec<Option<P>>> {
        let fk_index = position(C::schema(), self.foreign_key);
        let keys: Vec<Value> = children.iter().map(|c| c.column_value(fk_index)).collect();
        let key_column = P::schema()
            .primary_key_columns()
            .next()
            .expect("a model has a primary key");
        let column = ColumnRef {
            table: P::schema().table,
            name: key_column.name,
        };
        let parents: Vec<P> = fetch_in(db, column, &keys).await?;
        let mut by_key: KeyMap<P> = key_map(parents.len());
        by_key.extend(parents.into_iter().map(|p| (Key::of(&single_key(&p)), p)));
        Ok(keys
            .iter()
            .map(|k| by_key.get(&Key::of(k)).cloned())
            .collect())
    }
}

impl<P: Model, A: Relation<P>, B: Relation<P>> Relation<P> for (A, B) {
    type Loaded = (A::Loaded, B::Loaded);

    async fn load<E: Executor>(&self, db: &E, parents: &[P]) -> Result<Vec<Self::Loaded>> {
        let a = self.0.load(db, parents).await?;
        let b = self.1.load(db, parents).await?;
        Ok(a.into_iter().zip(b).collect())
    }
}

/// A select whose rows come with their related rows; see [`Select::with`].
#[must_use = "a query does nothing until `all(&db)` (or `one`, `optional`) is awaited"]
pub struct WithRelation<M, R> {
    select: Select<M>,
    relation: R,
}

impl<M: Model> Select<M> {
    /// Eager-loads `relation` for every row: `.with(User::posts())` gives `(User, Vec<Post>)`
    /// pairs; `.with((User::posts(), User::profile()))` loads two relations.
    pub fn with<R: Relation<M>>(self, relation: R) -> WithRelation<M, R> {
        WithRelation {
            select: self,
            relation,
        }
    }
}

impl<M: Model, R: Relation<M>> WithRelation<M, R> {
    /// Every matching row with its related rows.
    pub async fn all<E: Executor>(self, db: &E) -> Result<Vec<(M, R::Loaded)>> {
        let parents = self.select.all(db).await?;
        let loaded = self.relation.load(db, &parents).await?;
        Ok(parents.into_iter().zip(loaded).collect())
    }

    /// The first matching row with its related rows, or `None`.
    pub async fn optional<E: Executor>(self, db: &E) -> Result<Option<(M, R::Loaded)>> {
        let Some(parent) = self.select.optional(db).await? else {
            return Ok(None);
        };
        let parents = [parent];
        let loaded = self.relation.load(db, &parents).await?;
        let [parent] = parents;
        Ok(loaded.into_iter().next().map(|l| (parent, l)))
    }
}

/// Loads `nested` for every row of every parent's `children` (one call over all of them) and
/// pairs each row with what it loaded, keeping the grouping by parent.
pub(super) async fn load_nested<C: Model, R: Relation<C>, E: Executor>(
    db: &E,
    children: Vec<Vec<C>>,
    nested: &R,
) -> Result<Vec<Vec<(C, R::Loaded)>>> {
    let sizes: Vec<usize> = children.iter().map(Vec::len).collect();
    let flat: Vec<C> = children.into_iter().flatten().collect();
    let loaded = nested.load(db, &flat).await?;
    let mut pairs = flat.into_iter().zip(loaded);
    Ok(sizes
        .into_iter()
        .map(|n| pairs.by_ref().take(n).collect::<Vec<_>>())
        .collect())
}

/// Rows of `M` whose `column` is one of `keys` (NULLs and duplicates left out), one query per
/// chunk of keys, ordered by `M`'s primary key.
pub(super) async fn fetch_in<M: Model, E: Executor>(
    db: &E,
    column: ColumnRef,
    keys: &[Value],
) -> Result<Vec<M>> {
    let mut seen: HashSet<Key, RandomState> =
        HashSet::with_capacity_and_hasher(keys.len(), RandomState::default());
    let distinct: Vec<Value> = keys
        .iter()
        .filter(|k| !k.is_null() && seen.insert(Key::of(k)))
        .cloned()
        .collect();
    let schema = M::schema();
    let order: Vec<OrderBy> = schema
        .primary_key_columns()
        .map(|c| {
            let column = ColumnRef {
                table: schema.table,
                name: c.name,
            };
            OrderBy::column(column, Direction::Asc)
        })
        .collect();
    let fetch = async {
        let mut rows = Vec::new();
        for chunk in distinct.chunks(KEYS_PER_QUERY) {
            let mut query = SelectQuery::new(schema, Projection::Model);
            // A soft-deleting child's deleted rows are not loaded.
            query.filter = Some(Condition::and_opt(
                crate::model::deleted_rows(schema, false),
                Condition::InList {
                    column,
                    values: chunk.to_vec(),
                    negated: false,
                },
            ));
            query.order = order.clone();
            rows.extend(db.fetch_all(query, decode_model::<M>).await?);
        }
        Result::<Vec<M>>::Ok(rows)
    };
    // A span per level (feature `tracing`): its statements nest under it, it under the
    // caller's span.
    #[cfg(feature = "tracing")]
    let fetch = tracing::Instrument::instrument(
        fetch,
        tracing::info_span!(
            "orm.eager_load",
            otel.name = %format_args!("eager load {}", schema.table),
            db.collection.name = schema.table,
            orm.keys = distinct.len(),
        ),
    );
    fetch.await
}

/// The single-column primary key of a row (relations are only built for such keys: a
/// composite key is a tuple, which `ReferencesKey` rejects at compile time).
pub(super) fn single_key<M: Model>(row: &M) -> Value {
    M::primary_key_values(row.primary_key()).swap_remove(0)
}

pub(super) fn position(schema: &crate::schema::ModelSchema, column: &str) -> usize {
    schema
        .columns
        .iter()
        .position(|c| c.name == column)
        .expect("relations are built from the model's own column handles")
}

/// A hashable form of a key value; integers of every width compare equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Key {
    Null,
    Bool(bool),
    Int(i64),
    FloatBits(u64),
    Text(String),
    Bytes(Vec<u8>),
    Other(String),
}

/// Rows by their key while related rows are matched up: foldhash (randomly seeded, made for
/// hash tables) rather than SipHash, which was a tenth of an eager load's instructions.
pub(super) type KeyMap<V> = HashMap<Key, V, RandomState>;

/// An empty [`KeyMap`] with room for `capacity` keys.
pub(super) fn key_map<V>(capacity: usize) -> KeyMap<V> {
    HashMap::with_capacity_and_hasher(capacity, RandomState::default())
}

impl Key {
    pub(super) fn of(value: &Value) -> Key {
        match value {
            Value::Null(_) => Key::Null,
            Value::Bool(b) => Key::Bool(*b),
            Value::SmallInt(i) => Key::Int(i64::from(*i)),
            Value::Int(i) => Key::Int(i64::from(*i)),
            Value::BigInt(i) => Key::Int(*i),
            Value::Float(f) => Key::FloatBits(f64::from(*f).to_bits()),
            Value::Double(f) => Key::FloatBits(f.to_bits()),
            Value::Text(s) => Key::Text(s.clone()),
            Value::Bytes(b) => Key::Bytes(b.clone()),
            #[allow(unreachable_patterns)]
            other => Key::Other(format!("{other:?}")),
        }
    }
}
