//! [`CachedTx`]: a transaction whose writes invalidate the cache when it commits.

use std::future::Future;

use polyorm_core::exec::{Delegate, Finish, Layer, Layered};
use polyorm_core::{Db, Error, Result, Transaction, TxOptions};

use crate::executor::{CacheLayer, CachedDb};

/// A transaction begun through a [`CachedDb`]: the transaction with the cache's
/// [`CacheLayer`] on top. Its reads go to the database (they must see the transaction's own
/// writes); the tables it writes are invalidated when the outermost
/// [`commit`](CachedTx::commit) succeeds, and not at all when it rolls back.
#[derive(Clone, Debug)]
pub struct CachedTx {
    layered: Layered<CacheLayer, Transaction>,
}

impl Delegate for CachedTx {
    type To = Layered<CacheLayer, Transaction>;

    fn delegate(&self) -> &Self::To {
        &self.layered
    }
}

impl CachedDb<Db> {
    /// Begins a transaction with the database's defaults.
    pub async fn begin(&self) -> Result<CachedTx> {
        self.begin_with(TxOptions::default()).await
    }

    /// Begins a transaction with an isolation level or read-only mode.
    pub async fn begin_with(&self, options: TxOptions) -> Result<CachedTx> {
        let tx = self.inner().begin_with(options).await?;
        Ok(CachedTx {
            layered: Layered::new(self.layered.get_layer().for_transaction(), tx),
        })
    }

    /// Runs `body` in a transaction: commits (then invalidates what it wrote) when it
    /// returns `Ok`, rolls back when it returns `Err`.
    pub async fn transaction<T, E, F, Fut>(&self, body: F) -> std::result::Result<T, E>
    where
        F: FnOnce(CachedTx) -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
        E: From<Error>,
    {
        self.begin().await?.run(body).await
    }
}

impl CachedTx {
    /// The underlying transaction (its writes are not tracked for invalidation).
    pub fn inner(&self) -> &Transaction {
        self.layered.inner()
    }

    /// Opens a savepoint; what it writes is invalidated when the outer transaction commits.
    pub async fn savepoint(&self) -> Result<CachedTx> {
        Ok(CachedTx {
            layered: Layered::new(
                self.layered.get_layer().for_savepoint(),
                self.inner().savepoint().await?,
            ),
        })
    }

    /// Commits, then invalidates every table and row written (for a savepoint: releases it).
    pub async fn commit(self) -> Result<()> {
        Finish::commit(self.layered).await
    }

    /// Rolls back; nothing is invalidated (for a savepoint: rolls back to it; its writes
    /// still invalidate at the outer commit, which is merely conservative).
    pub async fn rollback(self) -> Result<()> {
        Finish::rollback(self.layered).await
    }
}

impl Finish for CachedTx {
    async fn commit(self) -> Result<()> {
        CachedTx::commit(self).await
    }

    async fn rollback(self) -> Result<()> {
        CachedTx::rollback(self).await
    }
}
