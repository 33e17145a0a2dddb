//! Many-to-many relations through a join model: `Post::query().with(Post::tags())`.
//!
//! A join model (`PostTag`) has a `belongs_to` field to each side. Loading runs two queries per
//! chunk of 1,000 keys, never one per row: the join rows whose key to the parent is one of the
//! parents' keys, then the targets whose key is one of those rows' keys to the target; the rows
//! are matched in memory. A soft-deleted join row or target is not loaded, as for the other
//! relations. `exists_where` compiles to nested `EXISTS` subqueries (join table, then target).

use std::marker::PhantomData;

use super::column::Column;
use super::grouping::ColumnId;
use super::ir::ColumnRef;
use super::relation::{
    Key, KeyMap, Relation, fetch_in, key_map, load_nested, position, single_key,
};
use crate::error::Result;
use crate::exec::Executor;
use crate::model::Model;
use crate::value::{ReferencesKey, Value};

/// A model with exactly one `belongs_to = P` field: `#[derive(Model)]` implements it for each
/// parent named by one (and only one) `belongs_to` field, so that `through(Join)` finds the
/// join model's foreign key to each side.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no single `belongs_to = {P}` field",
    label = "this join model does not point at `{P}`",
    note = "a `through` join model needs exactly one field `#[orm(belongs_to = {P})]`; with two \
            (a model related to itself), build the relation from its columns: \
            `HasManyThrough::via(Join::FROM_ID, Join::TO_ID)`"
)]
pub trait BelongsToModel<P: Model>: Model {
    /// The join model's column that holds `P`'s primary key.
    const FOREIGN_KEY: &'static str;
}

/// A join model between `P` and one other model: `#[derive(Model)]` implements it, both ways,
/// for a model with exactly two `belongs_to` fields to two different models (what
/// `has_many(tags = through(PostTag))` reads).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a join model between `{P}` and exactly one other model",
    label = "`through({Self})` cannot tell which model it leads to",
    note = "`through(Join)` needs a model with exactly two `belongs_to` fields to two different \
            models; otherwise name the target: `has_many(tags = through(PostTag, Tag))`"
)]
pub trait JoinModel<P: Model>: Model {
    /// The model on the other side of the join.
    type Other: Model;
    /// The join model's column that holds `P`'s primary key.
    const TO_SELF: &'static str;
    /// The join model's column that holds [`Other`](JoinModel::Other)'s primary key.
    const TO_OTHER: &'static str;
}

/// The marker of [`HasManyThrough`]: the three models, owned by none of them.
type Models<P, J, T> = PhantomData<fn() -> (P, J, T)>;

/// The rows of `T` linked to a `P` by rows of the join model `J` (many-to-many).
pub struct HasManyThrough<P, J, T> {
    /// `J`'s column that holds `P`'s key.
    join_key: &'static str,
    /// `J`'s column that holds `T`'s key.
    target_key: &'static str,
    _marker: Models<P, J, T>,
}

/// A [`HasManyThrough`] whose targets load a nested relation too.
pub struct HasManyThroughWith<P, J, T, R> {
    parent: HasManyThrough<P, J, T>,
    nested: R,
}

impl<P: Model, J: Model, T: Model> HasManyThrough<P, J, T> {
    /// The relation through a join model with exactly two `belongs_to` fields, to `P` and to
    /// `T` (what `has_many(tags = through(PostTag))` generates).
    pub fn joined() -> Self
    where
        J: JoinModel<P, Other = T>,
    {
        HasManyThrough {
            join_key: J::TO_SELF,
            target_key: J::TO_OTHER,
            _marker: PhantomData,
        }
    }

    /// The relation through the join model's `belongs_to` fields to `P` and to `T` (what
    /// `has_many(tags = through(PostTag, Tag))` generates).
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self
    where
        J: BelongsToModel<P> + BelongsToModel<T>,
    {
        HasManyThrough {
            join_key: <J as BelongsToModel<P>>::FOREIGN_KEY,
            target_key: <J as BelongsToModel<T>>::FOREIGN_KEY,
            _marker: PhantomData,
        }
    }

    /// The relation through two columns of the join model: `to_parent` holds `P`'s key and
    /// `to_target` holds `T`'s (for a join model with two keys to the same model, e.g.
    /// `HasManyThrough::<User, Follow, User>::via(Follow::FOLLOWER_ID, Follow::FOLLOWED_ID)`).
    pub fn via<F, G>(
        to_parent: Column<J, F, impl ColumnId>,
        to_target: Column<J, G, impl ColumnId>,
    ) -> Self
    where
        F: ReferencesKey<P::PrimaryKey>,
        G: ReferencesKey<T::PrimaryKey>,
    {
        HasManyThrough {
            join_key: to_parent.name(),
            target_key: to_target.name(),
            _marker: PhantomData,
        }
    }

    /// The join model's column that holds the parent's key.
    pub fn join_key(&self) -> &'static str {
        self.join_key
    }

    /// The join model's column that holds the target's key.
    pub fn target_key(&self) -> &'static str {
        self.target_key
    }

    /// Also loads `nested` for every target: `Post::tags().with(Tag::category())`.
    pub fn with<R: Relation<T>>(self, nested: R) -> HasManyThroughWith<P, J, T, R> {
        HasManyThroughWith {
            parent: self,
            nested,
        }
    }

    /// The targets of every parent, in parent order; each parent's targets in the order of
    /// its join rows' primary keys. A target linked twice appears twice.
    async fn targets<E: Executor>(&self, db: &E, parents: &[P]) -> Result<Vec<Vec<T>>>
    where
        T: Clone,
    {
        let keys: Vec<Value> = parents.iter().map(single_key::<P>).collect();
        let links: Vec<J> =
            fetch_in(db, ColumnRef::new(J::schema().table, self.join_key), &keys).await?;
        let (parent_at, target_at) = (
            position(J::schema(), self.join_key),
            position(J::schema(), self.target_key),
        );
        let links: Vec<(Value, Value)> = links
            .iter()
            .map(|l| (l.column_value(parent_at), l.column_value(target_at)))
            .collect();
        let target_keys: Vec<Value> = links.iter().map(|(_, t)| t.clone()).collect();
        let key_column = T::schema()
            .primary_key_columns()
            .next()
            .expect("a model has a primary key")
            .name;
        let targets: Vec<T> = fetch_in(
            db,
            ColumnRef::new(T::schema().table, key_column),
            &target_keys,
        )
        .await?;
        let mut by_key: KeyMap<T> = key_map(targets.len());
        by_key.extend(targets.into_iter().map(|t| (Key::of(&single_key(&t)), t)));
        let targets = by_key;
        let mut by_parent: KeyMap<Vec<T>> = key_map(keys.len());
        for (parent, target) in &links {
            // A soft-deleted target is absent: its link is skipped.
            if let Some(target) = targets.get(&Key::of(target)) {
                by_parent
                    .entry(Key::of(parent))
                    .or_default()
                    .push(target.clone());
            }
        }
        Ok(keys
            .iter()
            .map(|k| by_parent.remove(&Key::of(k)).unwrap_or_default())
            .collect())
    }
}

impl<P: Model, J: Model, T: Model> Clone for HasManyThrough<P, J, T> {
    fn clone(&self) -> Self {
        HasManyThrough {
            join_key: self.join_key,
            target_key: self.target_key,
            _marker: PhantomData,
        }
    }
}

impl<P: Model, J: Model, T: Model + Clone> Relation<P> for HasManyThrough<P, J, T> {
    type Loaded = Vec<T>;

    async fn load<E: Executor>(&self, db: &E, parents: &[P]) -> Result<Vec<Vec<T>>> {
        self.targets(db, parents).await
    }
}

impl<P: Model, J: Model, T: Model + Clone, R: Relation<T>> Relation<P>
    for HasManyThroughWith<P, J, T, R>
{
    type Loaded = Vec<(T, R::Loaded)>;

    async fn load<E: Executor>(&self, db: &E, parents: &[P]) -> Result<Vec<Self::Loaded>> {
        let targets = self.parent.targets(db, parents).await?;
        load_nested(db, targets, &self.nested).await
    }
}
