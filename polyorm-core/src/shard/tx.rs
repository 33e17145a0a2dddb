//! [`ShardTx`]: a transaction bound to one shard.

use super::route::Routed;
use super::{ShardError, Shards, error};
use crate::error::Result;
use crate::exec::{Backend, Decoder, ExecResult, Executor, RowStream, Transaction};
use crate::query::ir::{InsertQuery, SelectQuery, Statement};
use crate::sql::Compiled;

/// A transaction on one shard ([`Shards::transaction`], [`Shards::begin`]): an [`Executor`]
/// like [`Transaction`], which refuses a statement whose shard key routes to another shard
/// ([`ShardError::OtherShardInTransaction`]). Statements that name no key (and raw SQL) run
/// on the transaction's shard: the transaction chose it. Cheap to clone (clones share the
/// transaction).
#[derive(Clone, Debug)]
pub struct ShardTx {
    shards: Shards,
    shard: usize,
    tx: Transaction,
}

impl ShardTx {
    pub(super) fn new(shards: Shards, shard: usize, tx: Transaction) -> Self {
        ShardTx { shards, shard, tx }
    }

    /// The name of the shard the transaction runs on.
    pub fn shard_name(&self) -> &str {
        &self.shards.names()[self.shard]
    }

    /// The position of the shard the transaction runs on.
    pub fn shard_index(&self) -> usize {
        self.shard
    }

    /// The underlying transaction (savepoints, raw access); statements run on it directly are
    /// not checked against the shard.
    pub fn transaction(&self) -> &Transaction {
        &self.tx
    }

    /// Commits the transaction.
    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await
    }

    /// Rolls the transaction back.
    pub async fn rollback(self) -> Result<()> {
        self.tx.rollback().await
    }

    /// Refuses `statement` if its key routes elsewhere than the transaction's shard.
    fn check(&self, statement: Routed<'_>) -> Result<()> {
        let shards = match self.shards.shards_of(&statement) {
            Ok(Some(shards)) => shards,
            // No key in the filter, or a model without a key: the transaction's shard.
            Ok(None) | Err(ShardError::NotSharded { .. }) => return Ok(()),
            Err(e) => return Err(error(e)),
        };
        match shards.iter().find(|&&s| s != self.shard) {
            None => Ok(()),
            Some(&other) => {
                let schema = statement.schema();
                let key = self
                    .shards
                    .key_of(schema)
                    .map_or("?", |i| schema.columns[i].name);
                Err(error(ShardError::OtherShardInTransaction {
                    model: schema.name,
                    key,
                    bound: self.shard_name().to_owned(),
                    other: self.shards.names()[other].clone(),
                }))
            }
        }
    }
}

impl Executor for ShardTx {
    fn backend(&self) -> Backend {
        self.tx.backend()
    }

    async fn fetch_all<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> Result<Vec<T>> {
        self.check(Routed::Select(&query))?;
        self.tx.fetch_all(query, decode).await
    }

    async fn fetch_optional<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> Result<Option<T>> {
        self.check(Routed::Select(&query))?;
        self.tx.fetch_optional(query, decode).await
    }

    fn fetch_stream<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> RowStream<'_, T> {
        match self.check(Routed::Select(&query)) {
            Ok(()) => self.tx.fetch_stream(query, decode),
            Err(e) => super::fan_out::failed(e),
        }
    }

    async fn count(&self, query: SelectQuery) -> Result<u64> {
        self.check(Routed::Select(&query))?;
        self.tx.count(query).await
    }

    async fn insert_returning<T: Send + 'static>(
        &self,
        query: InsertQuery,
        decode: Decoder<T>,
    ) -> Result<T> {
        self.check(Routed::Insert(&query, "insert"))?;
        self.tx.insert_returning(query, decode).await
    }

    async fn execute(&self, statement: Statement) -> Result<ExecResult> {
        self.check(Routed::of(&statement))?;
        self.tx.execute(statement).await
    }

    async fn execute_raw(&self, sql: &str) -> Result<ExecResult> {
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
        self.tx.execute_compiled(statement).await
    }
}
