//! The audit as executors: [`Audited`] (writes outside a transaction run in one of their own)
//! and [`AuditLayer`], the layer of an audited transaction, which gathers the records of its
//! writes and appends them to the chain just before it commits.

use std::future::Future;
use std::sync::{Arc, Mutex};

use super::append::append;
use super::capture::{KeyCapture, Pending, Plan};
use super::{Audit, ChainReport};
use crate::error::{Error, Result};
use crate::exec::{
    Backend, Begin, Db, Decoder, ExecResult, Executor, Finish, Layer, Layered, Op, OpKind, OpKinds,
    Outcome, RowStream,
};
use crate::query::ir::{InsertQuery, SelectQuery, Statement};
use crate::sql::Compiled;

/// An executor whose every write is recorded in the audit chain, in the write's own
/// transaction: a write made on it directly runs in a transaction of its own (begin, write,
/// append, commit); a transaction begun on it ([`Begin::begin`],
/// [`transaction`](Audited::transaction)) appends the records of all its writes when it
/// commits, and none when it rolls back. Reads pass through untouched.
///
/// Build one with [`Db::audited`] or [`Layered::audited`].
#[derive(Debug, Clone)]
pub struct Audited<E> {
    audit: Audit,
    inner: E,
}

impl<E> Audited<E> {
    /// The audit configuration.
    pub fn audit(&self) -> &Audit {
        &self.audit
    }

    /// The executor below (writes made on it are not audited).
    pub fn inner(&self) -> &E {
        &self.inner
    }

    /// Stacks `outer` on top (it runs first, and sees the writes before they are audited).
    pub fn layer<O: Layer>(self, outer: O) -> Layered<O, Self> {
        Layered::new(outer, self)
    }
}

impl<E: Executor> Audited<E> {
    /// Checks the whole chain (see [`verify`](super::verify)).
    pub async fn verify(&self) -> Result<ChainReport> {
        super::verify(&self.inner).await
    }
}

impl<E: Begin> Audited<E>
where
    E::Tx: Clone,
{
    /// Runs `body` in an audited transaction: commits (with the audit records of its writes)
    /// when it returns `Ok`, rolls back (leaving no record) when it returns `Err`.
    pub async fn transaction<T, Er, F, Fut>(&self, body: F) -> std::result::Result<T, Er>
    where
        F: FnOnce(Layered<AuditLayer, E::Tx>) -> Fut,
        Fut: Future<Output = std::result::Result<T, Er>>,
        Er: From<Error>,
    {
        Begin::begin(self).await?.run(body).await
    }
}

impl Db {
    /// This database with every write recorded in the audit chain (see [`crate::audit`]).
    /// Create the tables first with [`create_tables`](super::create_tables).
    pub fn audited(&self, audit: Audit) -> Audited<Db> {
        Audited {
            audit: audit.for_new_handle(),
            inner: self.clone(),
        }
    }
}

impl<L, E> Layered<L, E> {
    /// This stack with every write recorded in the audit chain; the layers below see the
    /// audit's own statements too (a tracing layer below traces them).
    pub fn audited(self, audit: Audit) -> Audited<Self> {
        Audited {
            audit: audit.for_new_handle(),
            inner: self,
        }
    }
}

impl<E: Begin> Audited<E> {
    /// Runs one write in a transaction of its own, so that it and its record commit together.
    async fn write<T: Send + 'static>(&self, op: Op<T>) -> Result<Outcome<T>> {
        let tx = Begin::begin(self).await?;
        let outcome = tx.get_layer().call(tx.inner(), op).await?;
        tx.commit().await?;
        Ok(outcome)
    }
}

fn unexpected<T>(op: &str, _: Outcome<T>) -> Error {
    Error::InvalidQuery(format!(
        "the audited `{op}` came back with the outcome of another operation (a layer below \
         returned the wrong `Outcome` variant)"
    ))
}

impl<E: Begin> Executor for Audited<E> {
    fn backend(&self) -> Backend {
        self.inner.backend()
    }

    async fn fetch_all<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> Result<Vec<T>> {
        self.inner.fetch_all(query, decode).await
    }

    async fn fetch_optional<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> Result<Option<T>> {
        self.inner.fetch_optional(query, decode).await
    }

    fn fetch_stream<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> RowStream<'_, T> {
        self.inner.fetch_stream(query, decode)
    }

    async fn count(&self, query: SelectQuery) -> Result<u64> {
        self.inner.count(query).await
    }

    async fn insert_returning<T: Send + 'static>(
        &self,
        query: InsertQuery,
        decode: Decoder<T>,
    ) -> Result<T> {
        match self.write(Op::InsertReturning(query, decode)).await? {
            Outcome::Inserted(row) => Ok(row),
            other => Err(unexpected("insert_returning", other)),
        }
    }

    async fn execute(&self, statement: Statement) -> Result<ExecResult> {
        if let Statement::Select(_) = statement {
            return self.inner.execute(statement).await;
        }
        match self.write(Op::<()>::Execute(statement)).await? {
            Outcome::Done(done) => Ok(done),
            other => Err(unexpected("execute", other)),
        }
    }

    async fn execute_raw(&self, sql: &str) -> Result<ExecResult> {
        match self.write(Op::<()>::ExecuteRaw(sql.to_owned())).await? {
            Outcome::Done(done) => Ok(done),
            other => Err(unexpected("execute_raw", other)),
        }
    }

    async fn fetch_compiled<T: Send + 'static>(
        &self,
        statement: Compiled,
        decode: Decoder<T>,
    ) -> Result<Vec<T>> {
        self.inner.fetch_compiled(statement, decode).await
    }

    async fn execute_compiled(&self, statement: Compiled) -> Result<ExecResult> {
        match self.write(Op::<()>::ExecuteCompiled(statement)).await? {
            Outcome::Done(done) => Ok(done),
            other => Err(unexpected("execute_compiled", other)),
        }
    }
}

impl<E: Begin> Begin for Audited<E> {
    type Tx = Layered<AuditLayer, E::Tx>;

    async fn begin(&self) -> Result<Self::Tx> {
        let tx = self.inner.begin().await?;
        Ok(Layered::new(
            AuditLayer {
                audit: self.audit.clone(),
                pending: Arc::default(),
            },
            tx,
        ))
    }
}

/// The layer of an audited transaction (built by [`Audited`]'s `begin`): it keeps the
/// records of the transaction's writes and appends them to the chain just before the
/// transaction commits.
#[derive(Debug, Clone)]
pub struct AuditLayer {
    audit: Audit,
    /// Shared by the clones of one transaction's handle.
    pending: Arc<Mutex<Vec<Pending>>>,
}

impl AuditLayer {
    fn take_pending(&self) -> Vec<Pending> {
        self.pending
            .lock()
            .map(|mut p| std::mem::take(&mut *p))
            .unwrap_or_default()
    }
}

impl Layer for AuditLayer {
    /// Reads (typed or compiled) leave no record: they go straight to the executor below.
    const CALLS: OpKinds = OpKinds::NOT_READS.without(OpKind::FetchCompiled);

    async fn call<E: Executor, T: Send + 'static>(
        &self,
        inner: &E,
        op: Op<T>,
    ) -> Result<Outcome<T>> {
        let Some(mut plan) = Plan::of(&op, inner.backend(), &self.audit) else {
            return op.run(inner).await;
        };
        let before = match (plan.read_before(inner).await?, &op) {
            (Some(rows), Op::Execute(Statement::Update(q))) => Some((q.schema, rows)),
            (Some(rows), Op::Execute(Statement::Delete(q))) => Some((q.schema, rows)),
            _ => None,
        };
        let (outcome, key) = match (plan.wants_generated_key(), op) {
            (Some(schema), Op::InsertReturning(query, decode)) => {
                let (row, key) = KeyCapture::run(decode, schema, |decode| {
                    inner.insert_returning(query, decode)
                })
                .await;
                (Outcome::Inserted(row?), key)
            }
            (_, op) => (op.run(inner).await?, None),
        };
        let records = plan.finish(&outcome, key, before, &self.audit);
        if let Ok(mut pending) = self.pending.lock() {
            pending.extend(records);
        }
        Ok(outcome)
    }

    fn for_transaction(&self) -> Self {
        AuditLayer {
            audit: self.audit.clone(),
            pending: Arc::default(),
        }
    }

    async fn before_commit<E: Executor>(&self, inner: &E) -> Result<()> {
        let records = self.take_pending();
        if records.is_empty() {
            return Ok(());
        }
        append(inner, records, &self.audit.cache).await
    }

    async fn rolled_back(&self) {
        self.take_pending();
    }
}
