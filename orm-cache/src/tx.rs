//! [`CachedTx`]: a transaction whose writes invalidate the cache when it commits.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Arc, Mutex};

use orm_core::exec::Decoder;
use orm_core::query::ir::{InsertQuery, SelectQuery, Statement};
use orm_core::{
    Backend, Compiled, Db, Error, ExecResult, Executor, Result, Transaction, TxOptions,
};

use crate::cache::{ALL, Cache};
use crate::executor::CachedDb;
use crate::scope;
use crate::stats::Counters;

/// A transaction begun through a [`CachedDb`]. Its reads go to the database (they must see
/// the transaction's own writes); the tables it writes are invalidated when the outermost
/// [`commit`](CachedTx::commit) succeeds, and not at all when it rolls back.
#[derive(Clone, Debug)]
pub struct CachedTx {
    tx: Transaction,
    cache: Cache,
    /// Generations of the tables and rows written so far, shared by the transaction and
    /// its savepoints.
    written: Arc<Mutex<BTreeSet<String>>>,
    savepoint: bool,
}

impl CachedDb<Db> {
    /// Begins a transaction with the database's defaults.
    pub async fn begin(&self) -> Result<CachedTx> {
        self.begin_with(TxOptions::default()).await
    }

    /// Begins a transaction with an isolation level or read-only mode.
    pub async fn begin_with(&self, options: TxOptions) -> Result<CachedTx> {
        Ok(CachedTx {
            tx: self.db.begin_with(options).await?,
            cache: self.cache.clone(),
            written: Arc::default(),
            savepoint: false,
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
        let tx = self.begin().await?;
        match body(tx.clone()).await {
            Ok(value) => {
                tx.commit().await?;
                Ok(value)
            }
            Err(e) => {
                // The body's error is the one to report; a failed rollback also ends the
                // transaction (the server rolls back when the connection is reset).
                let _rollback = tx.rollback().await;
                Err(e)
            }
        }
    }
}

impl CachedTx {
    /// The underlying transaction (its writes are not tracked for invalidation).
    pub fn inner(&self) -> &Transaction {
        &self.tx
    }

    /// Opens a savepoint; what it writes is invalidated when the outer transaction commits.
    pub async fn savepoint(&self) -> Result<CachedTx> {
        Ok(CachedTx {
            tx: self.tx.savepoint().await?,
            cache: self.cache.clone(),
            written: self.written.clone(),
            savepoint: true,
        })
    }

    /// Commits, then invalidates every table and row written (for a savepoint: releases it).
    pub async fn commit(self) -> Result<()> {
        let CachedTx {
            tx,
            cache,
            written,
            savepoint,
        } = self;
        tx.commit().await?;
        if !savepoint {
            let names: Vec<String> =
                std::mem::take(&mut *written.lock().unwrap_or_else(|e| e.into_inner()))
                    .into_iter()
                    .collect();
            if !names.is_empty() {
                cache.core.invalidate(&names).await;
            }
        }
        Ok(())
    }

    /// Rolls back; nothing is invalidated (for a savepoint: rolls back to it; its writes
    /// still invalidate at the outer commit, which is merely conservative).
    pub async fn rollback(self) -> Result<()> {
        self.tx.rollback().await
    }

    fn written(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.written.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wrote(&self, names: impl IntoIterator<Item = String>) {
        self.written().extend(names);
    }

    fn bypassed(&self) {
        Counters::bump(
            &self.cache.core.counters.bypassed,
            "orm_cache_bypassed_total",
        );
    }
}

impl Executor for CachedTx {
    fn backend(&self) -> Backend {
        self.tx.backend()
    }

    async fn fetch_all<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> Result<Vec<T>> {
        self.bypassed();
        self.tx.fetch_all(query, decode).await
    }

    async fn fetch_optional<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> Result<Option<T>> {
        self.bypassed();
        self.tx.fetch_optional(query, decode).await
    }

    async fn count(&self, query: SelectQuery) -> Result<u64> {
        self.bypassed();
        self.tx.count(query).await
    }

    async fn insert_returning<T: Send + 'static>(
        &self,
        query: InsertQuery,
        decode: Decoder<T>,
    ) -> Result<T> {
        // Recorded before running: a statement that fails may still have written (MySQL
        // keeps what a failed multi-row statement did), and over-invalidating is harmless.
        self.wrote(scope::insert(&query));
        self.tx.insert_returning(query, decode).await
    }

    async fn execute(&self, statement: Statement) -> Result<ExecResult> {
        self.wrote(scope::write(&statement));
        self.tx.execute(statement).await
    }

    async fn execute_raw(&self, sql: &str) -> Result<ExecResult> {
        self.wrote([ALL.to_owned()]);
        self.tx.execute_raw(sql).await
    }

    async fn fetch_compiled<T: Send + 'static>(
        &self,
        statement: Compiled,
        decode: Decoder<T>,
    ) -> Result<Vec<T>> {
        self.tx.fetch_compiled(statement, decode).await
    }

    async fn execute_compiled(&self, statement: Compiled) -> Result<ExecResult> {
        self.wrote([ALL.to_owned()]);
        self.tx.execute_compiled(statement).await
    }
}
