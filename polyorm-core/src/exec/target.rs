//! Where a statement runs: a pool ([`Db`](super::Db)), a [`Transaction`](super::Transaction) or
//! a held [`Connection`](super::Connection). Each is a [`Target`]: it lends a session for one
//! statement and keeps its own bookkeeping (schema changes, savepoints); everything else — how
//! each kind of statement is compiled, sized, retried and decoded — is written once, here and
//! in [`super::sql_runner`], for all three.

use std::future::Future;

use super::sql_driver::SqlConn;
use super::{Backend, Decoder, ExecResult, sql_runner};
use crate::error::Result;
use crate::query::ir::{InsertQuery, OnConflict, SelectQuery, Statement};
use crate::sql::{Compiled, Dialect, Shared};

/// A place statements run: lends a session (a pooled connection, a locked transaction, a held
/// connection) for the length of one statement.
pub(crate) trait Target: Send + Sync + Sized {
    /// What one statement holds while it runs.
    type Session<'a>: Send
    where
        Self: 'a;

    /// The database behind the target (named apart from `Executor::backend`, which answers
    /// with it, so that both traits can be in scope).
    fn target_backend(&self) -> Backend;

    /// The dialect SQL statements compile to (only asked on the SQL path).
    fn sql_dialect(&self) -> Dialect {
        self.target_backend()
            .dialect()
            .expect("the SQL path is taken only by SQL targets")
    }

    /// How many times a statement refused because it was prepared before a schema change
    /// ([`Error::SchemaChanged`](crate::Error::SchemaChanged)) is run again: on a pool, where
    /// each statement is its own transaction, once per connection (each refusal makes one stale
    /// connection forget its statements, and the next run may land on another); none inside a
    /// transaction, which the refusal aborted, so its caller retries it whole.
    fn stale_statement_retries(&self) -> u32 {
        0
    }

    /// Whether the target's statements run inside one transaction the ORM opened (a
    /// [`Transaction`](super::Transaction), a distributed branch), so that a row written by one
    /// statement is visible to the next unless the server ended the transaction.
    fn in_transaction(&self) -> bool {
        false
    }

    /// A free connection of a SQLite pool, taken at once, on which a statement runs inline
    /// without building the asynchronous path's futures (`super::sqlite::inline`); `None`
    /// (the default) where there is none at hand: the statement then takes that path.
    #[cfg(feature = "sqlite")]
    fn sqlite_at_hand(&self) -> Option<Result<super::sqlite::SqliteLease<'_>>> {
        None
    }

    /// Takes the session for one statement.
    fn session(&self) -> impl Future<Output = Result<Self::Session<'_>>> + Send;

    /// The SQL connection of a session.
    fn sql<'c>(session: &'c mut Self::Session<'_>) -> Result<SqlConn<'c>>;

    /// Where a MongoDB operation of a session runs (the pool, or the transaction's session).
    #[cfg(feature = "mongodb")]
    fn mongo<'c>(session: &'c mut Self::Session<'_>) -> Result<super::mongo::Target<'c>>;

    /// Where a DynamoDB operation of a session runs (the pool, or the transaction's buffer).
    #[cfg(feature = "dynamodb")]
    fn dynamo<'c>(session: &'c mut Self::Session<'_>) -> Result<super::dynamo::Target<'c>>;

    /// Runs SQL text without parameters, with the target's bookkeeping of schema changes.
    fn run_raw_sql(&self, sql: &str) -> impl Future<Output = Result<ExecResult>> + Send;

    /// Runs an insert too large for one statement as several: a pool opens a transaction for
    /// them (all or nothing), a transaction runs them in itself, a held connection one after
    /// another.
    fn run_chunked_insert(
        &self,
        query: InsertQuery,
        on_conflict: Option<OnConflict>,
    ) -> impl Future<Output = Result<ExecResult>> + Send {
        sql_runner::insert_in_chunks(self, query, on_conflict)
    }

    /// Runs a compiled query and decodes every row (the statement is borrowed: a retry runs
    /// it again as it is).
    fn run_fetch_all<T: Send + 'static>(
        &self,
        statement: &Shared,
        decode: Decoder<T>,
    ) -> impl Future<Output = Result<Vec<T>>> + Send {
        async move {
            let mut session = self.session().await?;
            Self::sql(&mut session)?.fetch_all(statement, decode).await
        }
    }

    /// Runs a compiled query and decodes its first row, if any.
    fn run_fetch_optional<T: Send + 'static>(
        &self,
        statement: &Shared,
        decode: Decoder<T>,
    ) -> impl Future<Output = Result<Option<T>>> + Send {
        async move {
            let mut session = self.session().await?;
            Self::sql(&mut session)?
                .fetch_optional(statement, decode)
                .await
        }
    }

    /// Runs a read (`statement`) and decodes every row. A pool runs the same statement once
    /// more on another connection when the one it reused without a ping turned out broken (a
    /// read is safe to run twice); other targets run it as
    /// [`run_fetch_all`](Target::run_fetch_all) does.
    fn run_read_all<T: Send + 'static>(
        &self,
        statement: &Shared,
        decode: Decoder<T>,
    ) -> impl Future<Output = Result<Vec<T>>> + Send {
        self.run_fetch_all(statement, decode)
    }

    /// [`run_read_all`](Target::run_read_all) for the first row, if any.
    fn run_read_optional<T: Send + 'static>(
        &self,
        statement: &Shared,
        decode: Decoder<T>,
    ) -> impl Future<Output = Result<Option<T>>> + Send {
        self.run_fetch_optional(statement, decode)
    }

    /// Runs a compiled statement that returns no rows.
    fn run_execute(&self, statement: &Shared) -> impl Future<Output = Result<ExecResult>> + Send {
        async move {
            let mut session = self.session().await?;
            Self::sql(&mut session)?.execute(statement).await
        }
    }
}

/// Runs `$sql` on a SQL target, `$mongo` (with the session's MongoDB target) on MongoDB.
macro_rules! by_backend {
    ($target:ident, sql => $sql:expr, mongo($mongo_target:ident) => $mongo:expr, dynamo($dynamo_target:ident) => $dynamo:expr) => {{
        #[cfg(feature = "mongodb")]
        if $target.target_backend() == Backend::MongoDb {
            let mut session = $target.session().await?;
            let $mongo_target = X::mongo(&mut session)?;
            return $mongo;
        }
        #[cfg(feature = "dynamodb")]
        if $target.target_backend() == Backend::DynamoDb {
            let mut session = $target.session().await?;
            let $dynamo_target = X::dynamo(&mut session)?;
            return $dynamo;
        }
        $sql
    }};
}

// The operations of `Executor`, once for every target. A read or write that SQLite runs inline
// (`sqlite::inline`) never builds the asynchronous path, which is a future on the heap
// (`*_waiting`): inline, its state (every driver's, kilobytes) made each of these futures as
// large, copied at every layer above. That one box also keeps every backend's state machines
// (DynamoDB's among them) out of the layered callers' types, whose depth once passed the
// compiler's query depth limit (polyorm-cache's tests) when DynamoDB's were inline.
//
// The typed ones return an `async move` block rather than being `async fn`s: an `async fn`
// moves each argument into a local of its body when first polled, so its future held the
// statement twice (a `SelectQuery` is 320 bytes) and copied it once more; a block reads what it
// captured where it lies.

#[allow(
    clippy::manual_async_fn,
    reason = "an `async fn` would hold the statement twice (above)"
)]
pub(crate) fn fetch_all<X: Target, T: Send + 'static>(
    x: &X,
    query: SelectQuery,
    decode: Decoder<T>,
) -> impl Future<Output = Result<Vec<T>>> + Send {
    async move {
        #[cfg(feature = "sqlite")]
        if let Some(done) = super::sqlite::inline::fetch_all(x, &query, decode) {
            return done;
        }
        Box::pin(fetch_all_waiting(x, query, decode)).await
    }
}

async fn fetch_all_waiting<X: Target, T: Send + 'static>(
    x: &X,
    query: SelectQuery,
    decode: Decoder<T>,
) -> Result<Vec<T>> {
    by_backend!(x,
        sql => sql_runner::fetch_all(x, query, decode).await,
        mongo(target) => super::mongo::fetch_all(target, query, decode).await,
        dynamo(target) => super::dynamo::fetch_all(target, query, decode).await)
}

#[allow(
    clippy::manual_async_fn,
    reason = "an `async fn` would hold the statement twice (above)"
)]
pub(crate) fn fetch_optional<X: Target, T: Send + 'static>(
    x: &X,
    query: SelectQuery,
    decode: Decoder<T>,
) -> impl Future<Output = Result<Option<T>>> + Send {
    async move {
        #[cfg(feature = "sqlite")]
        if let Some(done) = super::sqlite::inline::fetch_optional(x, &query, decode) {
            return done;
        }
        Box::pin(fetch_optional_waiting(x, query, decode)).await
    }
}

async fn fetch_optional_waiting<X: Target, T: Send + 'static>(
    x: &X,
    query: SelectQuery,
    decode: Decoder<T>,
) -> Result<Option<T>> {
    by_backend!(x,
        sql => sql_runner::fetch_optional(x, query, decode).await,
        mongo(target) => super::mongo::fetch_optional(target, query, decode).await,
        dynamo(target) => super::dynamo::fetch_optional(target, query, decode).await)
}

#[cfg_attr(not(feature = "sqlite"), allow(unused_mut))]
#[allow(
    clippy::manual_async_fn,
    reason = "an `async fn` would hold the statement twice (above)"
)]
pub(crate) fn count<X: Target>(
    x: &X,
    mut query: SelectQuery,
) -> impl Future<Output = Result<u64>> + Send {
    async move {
        #[cfg(feature = "sqlite")]
        if let Some(done) = super::sqlite::inline::count(x, &mut query) {
            return done;
        }
        Box::pin(count_waiting(x, query)).await
    }
}

async fn count_waiting<X: Target>(x: &X, query: SelectQuery) -> Result<u64> {
    by_backend!(x,
        sql => sql_runner::count(x, query).await,
        mongo(target) => super::mongo::count(target, query).await,
        dynamo(target) => super::dynamo::count(target, query).await)
}

#[allow(
    clippy::manual_async_fn,
    reason = "an `async fn` would hold the statement twice (above)"
)]
pub(crate) fn insert_returning<X: Target, T: Send + 'static>(
    x: &X,
    query: InsertQuery,
    decode: Decoder<T>,
) -> impl Future<Output = Result<T>> + Send {
    async move {
        #[cfg(feature = "sqlite")]
        let query = match super::sqlite::inline::insert_returning(x, query, decode) {
            Ok(done) => return done,
            Err(query) => query,
        };
        Box::pin(insert_returning_waiting(x, query, decode)).await
    }
}

async fn insert_returning_waiting<X: Target, T: Send + 'static>(
    x: &X,
    query: InsertQuery,
    decode: Decoder<T>,
) -> Result<T> {
    by_backend!(x,
        sql => sql_runner::insert_returning(x, query, decode).await,
        mongo(target) => super::mongo::insert_returning(target, query, decode).await,
        dynamo(target) => super::dynamo::insert_returning(target, query, decode).await)
}

#[allow(
    clippy::manual_async_fn,
    reason = "an `async fn` would hold the statement twice (above)"
)]
pub(crate) fn execute<X: Target>(
    x: &X,
    statement: Statement,
) -> impl Future<Output = Result<ExecResult>> + Send {
    async move {
        #[cfg(feature = "sqlite")]
        let statement = {
            use super::sqlite::inline::{Inline, execute};
            match execute(x, statement) {
                Inline::Done(done) => return done,
                Inline::Compiled(compiled) => {
                    return Box::pin(sql_runner::execute_shared(x, compiled)).await;
                }
                Inline::Untouched(statement) => statement,
            }
        };
        Box::pin(execute_waiting(x, statement)).await
    }
}

async fn execute_waiting<X: Target>(x: &X, statement: Statement) -> Result<ExecResult> {
    by_backend!(x,
        sql => sql_runner::execute(x, statement).await,
        mongo(target) => super::mongo::execute(target, statement).await,
        dynamo(target) => super::dynamo::execute(target, statement).await)
}

pub(crate) async fn execute_raw<X: Target>(x: &X, sql: &str) -> Result<ExecResult> {
    #[cfg(feature = "mongodb")]
    if x.target_backend() == Backend::MongoDb {
        return super::mongo::execute_raw(sql);
    }
    #[cfg(feature = "dynamodb")]
    if x.target_backend() == Backend::DynamoDb {
        return super::dynamo::execute_raw(sql);
    }
    x.run_raw_sql(sql).await
}

pub(crate) async fn fetch_compiled<X: Target, T: Send + 'static>(
    x: &X,
    statement: Compiled,
    decode: Decoder<T>,
) -> Result<Vec<T>> {
    #[cfg(feature = "mongodb")]
    if x.target_backend() == Backend::MongoDb {
        return super::mongo::execute_raw(&statement.sql).map(|_| Vec::new());
    }
    #[cfg(feature = "dynamodb")]
    if x.target_backend() == Backend::DynamoDb {
        return super::dynamo::execute_raw(&statement.sql).map(|_| Vec::new());
    }
    sql_runner::fetch_compiled(x, statement, decode).await
}

pub(crate) async fn execute_compiled<X: Target>(x: &X, statement: Compiled) -> Result<ExecResult> {
    #[cfg(feature = "mongodb")]
    if x.target_backend() == Backend::MongoDb {
        return super::mongo::execute_raw(&statement.sql);
    }
    #[cfg(feature = "dynamodb")]
    if x.target_backend() == Backend::DynamoDb {
        return super::dynamo::execute_raw(&statement.sql);
    }
    sql_runner::execute_compiled(x, statement).await
}

/// `impl Executor for $ty` through its [`Target`] impl. Each method returns the target
/// function's future itself, not an `async fn` of its own awaiting it: that wrapper was one more
/// state machine around it, which moved the statement (a `SelectQuery` is 320 bytes) into its
/// callee's state at the first poll, and one more poll frame where a layer polls it.
macro_rules! executor_for_target {
    ($ty:ty) => {
        impl $crate::exec::Executor for $ty {
            fn backend(&self) -> $crate::exec::Backend {
                $crate::exec::target::Target::target_backend(self)
            }

            fn fetch_all<T: Send + 'static>(
                &self,
                query: $crate::query::ir::SelectQuery,
                decode: $crate::exec::Decoder<T>,
            ) -> impl ::std::future::Future<Output = $crate::Result<Vec<T>>> + Send {
                $crate::exec::target::fetch_all(self, query, decode)
            }

            fn fetch_optional<T: Send + 'static>(
                &self,
                query: $crate::query::ir::SelectQuery,
                decode: $crate::exec::Decoder<T>,
            ) -> impl ::std::future::Future<Output = $crate::Result<Option<T>>> + Send {
                $crate::exec::target::fetch_optional(self, query, decode)
            }

            fn fetch_stream<T: Send + 'static>(
                &self,
                query: $crate::query::ir::SelectQuery,
                decode: $crate::exec::Decoder<T>,
            ) -> $crate::exec::RowStream<'_, T> {
                $crate::exec::stream::fetch_stream(self, query, decode)
            }

            fn count(
                &self,
                query: $crate::query::ir::SelectQuery,
            ) -> impl ::std::future::Future<Output = $crate::Result<u64>> + Send {
                $crate::exec::target::count(self, query)
            }

            fn insert_returning<T: Send + 'static>(
                &self,
                query: $crate::query::ir::InsertQuery,
                decode: $crate::exec::Decoder<T>,
            ) -> impl ::std::future::Future<Output = $crate::Result<T>> + Send {
                $crate::exec::target::insert_returning(self, query, decode)
            }

            fn execute(
                &self,
                statement: $crate::query::ir::Statement,
            ) -> impl ::std::future::Future<Output = $crate::Result<$crate::exec::ExecResult>>
            + Send {
                $crate::exec::target::execute(self, statement)
            }

            fn execute_raw(
                &self,
                sql: &str,
            ) -> impl ::std::future::Future<Output = $crate::Result<$crate::exec::ExecResult>>
            + Send {
                $crate::exec::target::execute_raw(self, sql)
            }

            fn fetch_compiled<T: Send + 'static>(
                &self,
                statement: $crate::sql::Compiled,
                decode: $crate::exec::Decoder<T>,
            ) -> impl ::std::future::Future<Output = $crate::Result<Vec<T>>> + Send {
                $crate::exec::target::fetch_compiled(self, statement, decode)
            }

            fn execute_compiled(
                &self,
                statement: $crate::sql::Compiled,
            ) -> impl ::std::future::Future<Output = $crate::Result<$crate::exec::ExecResult>>
            + Send {
                $crate::exec::target::execute_compiled(self, statement)
            }
        }
    };
}
pub(crate) use executor_for_target;
