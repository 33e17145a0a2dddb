//! [`AccessControl`]: the layer that checks each statement for the task's [`Actor`] and adds
//! the row rules to what it reads, updates and deletes.

use std::future::{Future, Ready, ready};
use std::sync::Arc;

use futures_util::future::Either;

use super::policy::{Action, EVERY_TABLE, Resolved};
use super::{Actor, Policy};
use crate::error::{Error, Result};
use crate::exec::layer::{Layer, Op, OpKinds, Outcome};
use crate::exec::{Decoder, Executor, RowStream};
use crate::query::ir::{Condition, JoinKind, Projection, SelectQuery, Statement};

/// A layer that refuses every statement the task's [`Actor`] may not run, before it reaches
/// the database, and adds the [`Policy`]'s row rules to every read, update and delete (see
/// the [module docs](super)). Cheap to clone (the policy is shared).
#[derive(Clone)]
pub struct AccessControl {
    policy: Arc<Resolved>,
}

impl std::fmt::Debug for AccessControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessControl").finish_non_exhaustive()
    }
}

impl AccessControl {
    /// The layer for `policy`.
    ///
    /// # Panics
    ///
    /// When the policy names an undeclared role or its roles inherit in a cycle; use
    /// [`AccessControl::try_new`] for a policy read from outside the code.
    pub fn new(policy: Policy) -> Self {
        Self::try_new(policy).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The layer for `policy`, or [`Error::Config`] naming an undeclared role or a cycle of
    /// inheritance (e.g. in the rules [`Policy::load`] read).
    pub fn try_new(policy: Policy) -> Result<Self> {
        Ok(AccessControl {
            policy: Arc::new(policy.resolve()?),
        })
    }

    /// `op` as `actor` may run it (with its row rules), or why not.
    fn admit<T>(&self, actor: &Actor, op: Op<T>) -> Result<Op<T>> {
        let check = |table: &str, action| self.policy.check(actor, table, action);
        Ok(match op {
            Op::FetchAll(query, decode) => Op::FetchAll(self.read(actor, query)?, decode),
            Op::FetchOptional(query, decode) => Op::FetchOptional(self.read(actor, query)?, decode),
            Op::Count(query) => Op::Count(self.read(actor, query)?),
            Op::InsertReturning(query, decode) => {
                check(query.schema.table, Action::Insert)?;
                Op::InsertReturning(query, decode)
            }
            Op::Execute(statement) => Op::Execute(self.write(actor, statement)?),
            Op::ExecuteRaw(sql) => {
                let action = if is_ddl(&sql) {
                    Action::Ddl
                } else {
                    Action::Raw
                };
                check(EVERY_TABLE, action)?;
                Op::ExecuteRaw(sql)
            }
            Op::FetchCompiled(statement, decode) => {
                check(EVERY_TABLE, Action::Raw)?;
                Op::FetchCompiled(statement, decode)
            }
            Op::ExecuteCompiled(statement) => {
                check(EVERY_TABLE, Action::Raw)?;
                Op::ExecuteCompiled(statement)
            }
        })
    }

    /// A select `actor` may read: every table it reads allowed, the row rules added.
    fn read(&self, actor: &Actor, mut query: SelectQuery) -> Result<SelectQuery> {
        self.admit_read(actor, &mut query)?;
        Ok(query)
    }

    /// Checks that `actor` may read every table `query` reads and adds the row rules to it,
    /// in place.
    fn admit_read(&self, actor: &Actor, query: &mut SelectQuery) -> Result<()> {
        // Allowed to read every table: no walk over the tables the query reads.
        if !self.policy.grants_everywhere(actor, Action::Read) {
            if reads_one_table(query) {
                self.policy.check(actor, query.schema.table, Action::Read)?;
            } else {
                for table in query.tables() {
                    self.policy.check(actor, table, Action::Read)?;
                }
            }
        }
        self.restrict(actor, query)
    }

    /// `query` as the task's actor may read it (see [`admit_read`](Self::admit_read)), the
    /// actor borrowed from the task, not cloned.
    fn admit_current_read(&self, query: &mut SelectQuery) -> Result<()> {
        Actor::with_current(|actor| self.admit_read(actor, query))
            .unwrap_or_else(|| Err(no_actor(query.schema.table, Action::Read)))
    }

    /// `run(query)` once the task's actor may read `query` (with its row rules added), or the
    /// refusal as a ready future.
    fn guarded_read<R, F: Future<Output = Result<R>>>(
        &self,
        mut query: SelectQuery,
        run: impl FnOnce(SelectQuery) -> F,
    ) -> Either<Ready<Result<R>>, F> {
        match self.admit_current_read(&mut query) {
            Ok(()) => Either::Right(run(query)),
            Err(error) => Either::Left(ready(Err(error))),
        }
    }

    /// A write `actor` may run: its action allowed on its table, the tables its filter reads
    /// allowed, the row rules added to updates, deletes and their subqueries.
    fn write(&self, actor: &Actor, mut statement: Statement) -> Result<Statement> {
        let check = |table: &str, action| self.policy.check(actor, table, action);
        match &mut statement {
            Statement::Select(query) => *query = self.read(actor, query.clone())?,
            Statement::Insert(query) => check(query.schema.table, Action::Insert)?,
            Statement::Upsert(upsert) => {
                let table = upsert.insert.schema.table;
                check(table, Action::Insert)?;
                if !upsert.on_conflict.update.is_empty() {
                    check(table, Action::Update)?;
                    // The row it would update is found by its key, not by a filter.
                    if self.rule(actor, table)?.is_some() {
                        return Err(self.policy.denied(
                            actor,
                            table,
                            Action::Update,
                            "the table has a row rule, which an upsert's update cannot carry",
                        ));
                    }
                }
            }
            Statement::Update(query) => {
                check(query.schema.table, Action::Update)?;
                query.filter =
                    self.restrict_filter(actor, query.schema.table, query.filter.take())?;
            }
            Statement::Delete(query) => {
                check(query.schema.table, Action::Delete)?;
                query.filter =
                    self.restrict_filter(actor, query.schema.table, query.filter.take())?;
            }
        }
        Ok(statement)
    }

    /// `filter` of a write to `table`: its subqueries' tables readable and restricted, and
    /// `table`'s row rule added.
    fn restrict_filter(
        &self,
        actor: &Actor,
        table: &'static str,
        mut filter: Option<Condition>,
    ) -> Result<Option<Condition>> {
        if let Some(condition) = &mut filter {
            let mut outcome = Ok(());
            condition.visit_subqueries_mut(&mut |sub| {
                if outcome.is_ok() {
                    outcome = sub
                        .tables()
                        .into_iter()
                        .try_for_each(|t| self.policy.check(actor, t, Action::Read))
                        .and_then(|()| self.restrict(actor, sub));
                }
            });
            outcome?;
        }
        match self.rule(actor, table)? {
            Some(rule) => Ok(Some(Condition::and_opt(filter, rule))),
            None => Ok(filter),
        }
    }

    /// The row rule of `table` for `actor` (`None`: the table has none, or the actor sees
    /// every row); an actor the rule cannot be made for is refused.
    fn rule(&self, actor: &Actor, table: &'static str) -> Result<Option<Condition>> {
        let Some(rule) = self.policy.row_rules.get(table) else {
            return Ok(None);
        };
        if self.policy.sees_all_rows(actor) {
            return Ok(None);
        }
        rule(actor).map(Some).ok_or_else(|| {
            self.policy.denied(
                actor,
                table,
                Action::Read,
                "its row rule needs an attribute this actor does not carry (`Actor::with`)",
            )
        })
    }

    /// Adds the row rules to `query`: its own table's, each inner-joined table's (on the
    /// join's name), those of its subqueries (in WHERE and HAVING) and of the selects combined
    /// with it. A rule that cannot be added without changing what the query means — an outer
    /// or cross join of a restricted table, a recursive walk of one — refuses the query rather
    /// than let rows through.
    fn restrict(&self, actor: &Actor, query: &mut SelectQuery) -> Result<()> {
        if self.policy.row_rules.is_empty() {
            return Ok(());
        }
        let mut added = Vec::new();
        if let Some(rule) = self.rule(actor, query.schema.table)? {
            if query.walk.is_some() {
                return Err(self.policy.denied(
                    actor,
                    query.schema.table,
                    Action::Read,
                    "a recursive walk cannot carry the table's row rule to every level",
                ));
            }
            added.push(rule);
        }
        for join in &query.joins {
            let Some(mut rule) = self.rule(actor, join.schema.table)? else {
                continue;
            };
            if join.kind != JoinKind::Inner {
                return Err(self.policy.denied(
                    actor,
                    join.schema.table,
                    Action::Read,
                    "the table has a row rule, which only an inner join can carry",
                ));
            }
            let qualifier = join.qualifier();
            rule.visit_columns_mut(&mut |column| column.table = qualifier);
            added.push(rule);
        }
        let mut outcome = Ok(());
        // Subqueries of WHERE and of HAVING read rows as much as the select itself does.
        let having = match &mut query.projection {
            Projection::Exprs(aggregation) => aggregation.having.as_mut(),
            _ => None,
        };
        for condition in query.filter.iter_mut().chain(having) {
            condition.visit_subqueries_mut(&mut |sub| {
                if outcome.is_ok() {
                    outcome = self.restrict(actor, sub);
                }
            });
        }
        outcome?;
        for member in &mut query.compound {
            self.restrict(actor, &mut member.query)?;
        }
        if !added.is_empty() {
            let existing = query.filter.take();
            query.filter = Some(Condition::and_all(existing.into_iter().chain(added)));
        }
        Ok(())
    }
}

/// Whether `query` reads its own table only (no join, subquery or combined select): the
/// common case, checked without listing its tables.
fn reads_one_table(query: &SelectQuery) -> bool {
    let mut subqueries = false;
    let having = match &query.projection {
        Projection::Exprs(aggregation) => aggregation.having.as_ref(),
        _ => None,
    };
    for condition in query.filter.iter().chain(having) {
        condition.visit_subqueries(&mut |_| subqueries = true);
    }
    query.joins.is_empty() && query.compound.is_empty() && query.with.is_empty() && !subqueries
}

/// The refusal of a statement run outside any [`Actor::scope`].
fn no_actor(table: &str, action: Action) -> Error {
    Error::PermissionDenied {
        actor: "(no actor)".to_owned(),
        roles: Vec::new(),
        table: table.to_owned(),
        action: action.name().to_owned(),
        reason: "the task runs outside `Actor::scope`: access control grants nothing to an \
                 unknown caller"
            .to_owned(),
    }
}

/// The action an operation is refused as when there is no actor.
fn op_action<T>(op: &Op<T>) -> Action {
    match op {
        Op::FetchAll(..) | Op::FetchOptional(..) | Op::Count(_) => Action::Read,
        Op::InsertReturning(..) | Op::Execute(Statement::Insert(_) | Statement::Upsert(_)) => {
            Action::Insert
        }
        Op::Execute(Statement::Select(_)) => Action::Read,
        Op::Execute(Statement::Update(_)) => Action::Update,
        Op::Execute(Statement::Delete(_)) => Action::Delete,
        Op::ExecuteRaw(sql) if is_ddl(sql) => Action::Ddl,
        _ => Action::Raw,
    }
}

/// Whether SQL text changes the schema (its first word).
fn is_ddl(sql: &str) -> bool {
    let first = sql
        .trim_start()
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or_default();
    ["create", "alter", "drop", "truncate", "rename", "comment"]
        .iter()
        .any(|w| first.eq_ignore_ascii_case(w))
}

/// The typed reads are checked in their own methods (no [`Op`] built, the select admitted in
/// place); every other operation goes through [`call`](Layer::call).
impl Layer for AccessControl {
    const CALLS: OpKinds = OpKinds::NOT_READS;

    async fn call<E: Executor, T: Send + 'static>(
        &self,
        inner: &E,
        op: Op<T>,
    ) -> Result<Outcome<T>> {
        // What a refusal outside any scope names (the op moves into the check).
        let table = op.schema().map_or(EVERY_TABLE, |s| s.table);
        let action = op_action(&op);
        match Actor::with_current(|actor| self.admit(actor, op)) {
            Some(admitted) => admitted?.run(inner).await,
            None => Err(no_actor(table, action)),
        }
    }

    fn fetch_all<E: Executor, T: Send + 'static>(
        &self,
        inner: &E,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> impl Future<Output = Result<Vec<T>>> + Send {
        self.guarded_read(query, |query| inner.fetch_all(query, decode))
    }

    fn fetch_optional<E: Executor, T: Send + 'static>(
        &self,
        inner: &E,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> impl Future<Output = Result<Option<T>>> + Send {
        self.guarded_read(query, |query| inner.fetch_optional(query, decode))
    }

    fn count<E: Executor>(
        &self,
        inner: &E,
        query: SelectQuery,
    ) -> impl Future<Output = Result<u64>> + Send {
        self.guarded_read(query, |query| inner.count(query))
    }

    fn fetch_stream<'a, E: Executor, T: Send + 'static>(
        &'a self,
        inner: &'a E,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> RowStream<'a, T> {
        let mut query = query;
        match self.admit_current_read(&mut query) {
            Ok(()) => inner.fetch_stream(query, decode),
            Err(error) => Box::pin(async_stream::stream! { yield Err(error); }),
        }
    }
}
