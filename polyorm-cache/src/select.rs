//! `.cached(ttl)` on the select builder.

use std::time::Duration;

use polyorm_core::{Executor, Model, Result, Select};

use crate::executor::CachedDb;

/// Adds `.cached(ttl)` to [`Select`]: `User::query().filter(..).cached(ttl).all(&db)`.
pub trait CacheExt: Sized {
    /// The query, cached for `ttl` when run on a [`CachedDb`].
    type Cached;

    /// Caches the result of this query for `ttl`.
    fn cached(self, ttl: Duration) -> Self::Cached;
}

impl<M: Model> CacheExt for Select<M> {
    type Cached = CachedSelect<M>;

    fn cached(self, ttl: Duration) -> CachedSelect<M> {
        CachedSelect {
            select: self,
            ttl,
            tags: Vec::new(),
        }
    }
}

/// A [`Select`] whose terminal methods read through the cache; see [`CacheExt::cached`].
#[derive(Debug, Clone)]
#[must_use = "a query does nothing until a terminal method such as `all(&db)` is awaited"]
pub struct CachedSelect<M> {
    select: Select<M>,
    ttl: Duration,
    tags: Vec<String>,
}

impl<M: Model> CachedSelect<M> {
    /// Tags the entry, for [`Cache::invalidate_tag`](crate::Cache::invalidate_tag).
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }

    fn view<'a, E: Executor>(&self, db: &'a CachedDb<E>) -> crate::CacheView<'a, E> {
        self.tags
            .iter()
            .fold(db.cached(self.ttl), |view, tag| view.tag(tag))
    }

    /// Every matching row.
    pub async fn all<E: Executor>(self, db: &CachedDb<E>) -> Result<Vec<M>> {
        let view = self.view(db);
        self.select.all(&view).await
    }

    /// The first matching row; [`polyorm_core::Error::NotFound`] if there is none.
    pub async fn one<E: Executor>(self, db: &CachedDb<E>) -> Result<M> {
        let view = self.view(db);
        self.select.one(&view).await
    }

    /// The first matching row, or `None`.
    pub async fn optional<E: Executor>(self, db: &CachedDb<E>) -> Result<Option<M>> {
        let view = self.view(db);
        self.select.optional(&view).await
    }

    /// The number of matching rows.
    pub async fn count<E: Executor>(self, db: &CachedDb<E>) -> Result<u64> {
        let view = self.view(db);
        self.select.count(&view).await
    }

    /// Whether any row matches.
    pub async fn exists<E: Executor>(self, db: &CachedDb<E>) -> Result<bool> {
        let view = self.view(db);
        self.select.exists(&view).await
    }
}
