//! Compiles the query IR to SQL for PostgreSQL, MySQL/MariaDB and SQLite through sea-query.
//!
//! Values are always bound parameters (save SQLite's integer LIMIT/OFFSET, see
//! `inline_sqlite_paging`); identifiers are quoted by the dialect. What differs
//! between dialects (RETURNING, ILIKE, OFFSET without LIMIT) is decided here, in one place.

pub mod ddl;
pub(crate) mod fit;
mod values;

use sea_query::extension::postgres::PgBinOper;
use sea_query::{
    Asterisk, BinOper, Expr, ExprTrait, Func, JoinType, LikeExpr, LockBehavior, LockType,
    MysqlQueryBuilder, Order, PostgresQueryBuilder, Query, QueryStatementWriter,
    SqliteQueryBuilder,
};

use crate::error::Error;
use crate::query::ir::{
    AggregateFn, Assignment, CmpOp, ColumnRef, Condition, DeleteQuery, Direction, InsertQuery,
    JoinKind, OnConflict, Projection, RowLock, SelectExpr, SelectQuery, Statement, UpdateQuery,
};
use crate::value::Value;
use sea_query::SelectStatement;

/// A SQL dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// PostgreSQL.
    Postgres,
    /// MySQL and MariaDB.
    MySql,
    /// SQLite.
    Sqlite,
}

impl Dialect {
    /// Every dialect, for tests and tools that loop over them.
    pub const ALL: [Dialect; 3] = [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite];

    /// Short lowercase name (`postgres`, `mysql`, `sqlite`).
    pub const fn name(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::MySql => "mysql",
            Dialect::Sqlite => "sqlite",
        }
    }

    /// The most parameters one statement may bind (PostgreSQL and MySQL: 65,535; SQLite:
    /// 32,766 since 3.32). `insert_many` splits larger inserts into chunks under it.
    pub const fn max_bind_parameters(self) -> usize {
        match self {
            Dialect::Postgres | Dialect::MySql => 65_535,
            Dialect::Sqlite => 32_766,
        }
    }

    /// Whether `INSERT ... RETURNING` is available (MySQL has no RETURNING; the ORM reads the
    /// row back by its key instead).
    pub const fn has_returning(self) -> bool {
        !matches!(self, Dialect::MySql)
    }
}

impl std::fmt::Display for Dialect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A statement compiled for one dialect: SQL text with placeholders and the values to bind.
#[derive(Debug, Clone, PartialEq)]
pub struct Compiled {
    /// SQL text (`$1` placeholders on PostgreSQL, `?` elsewhere).
    pub sql: String,
    /// Values bound to the placeholders, in order.
    pub values: Vec<Value>,
}

impl std::fmt::Display for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.sql)?;
        if !self.values.is_empty() {
            write!(f, "\n-- params: {:?}", self.values)?;
        }
        Ok(())
    }
}

/// Compiles any IR statement for `dialect`.
///
/// A value that does not fit its column (see [`Error::ValueTooLong`], [`Error::OutOfRange`])
/// or cannot be encoded fails here, before anything is sent.
pub fn compile(statement: &Statement, dialect: Dialect) -> Result<Compiled, Error> {
    fit::check(statement, dialect)?;
    match statement {
        Statement::Select(q) => compile_select(q, dialect),
        Statement::Insert(q) => compile_insert(q, None, dialect),
        Statement::Upsert(q) => compile_insert(&q.insert, Some(&q.on_conflict), dialect),
        Statement::Update(q) => compile_update(q, dialect),
        Statement::Delete(q) => compile_delete(q, dialect),
    }
}

fn build(statement: &impl QueryStatementWriter, dialect: Dialect) -> Compiled {
    let (sql, values) = match dialect {
        Dialect::Postgres => statement.build(PostgresQueryBuilder),
        Dialect::MySql => statement.build(MysqlQueryBuilder),
        Dialect::Sqlite => statement.build(SqliteQueryBuilder),
    };
    Compiled {
        sql,
        values: values.0.into_iter().map(values::from_sea).collect(),
    }
}

/// How column references render while one SELECT is compiled. Inside a subquery the
/// subquery's table is aliased (`sub1`, `sub2`, ...), so that a condition relating rows of one
/// table (a tree of categories) can still name the outer row by the table's own name.
struct Scope {
    dialect: Dialect,
    /// The aliased table and its alias, inside a subquery.
    alias: Option<(&'static str, String)>,
    depth: usize,
}

impl Scope {
    fn top(dialect: Dialect) -> Scope {
        Scope {
            dialect,
            alias: None,
            depth: 0,
        }
    }

    /// The scope of a subquery over `table`, nested in this one.
    fn subquery(&self, table: &'static str) -> Scope {
        let depth = self.depth + 1;
        Scope {
            dialect: self.dialect,
            alias: Some((table, format!("sub{depth}"))),
            depth,
        }
    }

    fn col(&self, c: &ColumnRef) -> Expr {
        match &self.alias {
            Some((table, alias)) if *table == c.table => Expr::col((alias.clone(), c.name)),
            _ => Expr::col((c.table, c.name)),
        }
    }
}

/// Compiles a select.
pub fn compile_select(q: &SelectQuery, dialect: Dialect) -> Result<Compiled, Error> {
    let compiled = build(&select_statement(q, &Scope::top(dialect))?, dialect);
    let paged = q.limit.is_some() || q.offset.is_some() || q.projection == Projection::Exists;
    Ok(match dialect {
        Dialect::Sqlite if paged => inline_sqlite_paging(compiled),
        _ => compiled,
    })
}

/// Writes the trailing `LIMIT ?`/`OFFSET ?` of a SQLite select as integer literals.
///
/// SQLite (since 3.46) reads a bound `LIMIT` while planning and marks the prepared statement
/// stale whenever that parameter is bound again, so every run of a cached `... LIMIT ?`
/// statement is parsed and planned anew: about 40,000 instructions, more than the rest of a
/// primary-key lookup (`benches/NOTES.md`). The numbers are the builder's integers, never text;
/// anything else (a count over a limited subquery) keeps its parameters.
fn inline_sqlite_paging(mut compiled: Compiled) -> Compiled {
    let mut tail = String::new();
    for clause in [" OFFSET ?", " LIMIT ?"] {
        let Some(head) = compiled.sql.strip_suffix(clause) else {
            continue;
        };
        let number = match compiled.values.last() {
            Some(Value::BigInt(n)) => n.to_string(),
            Some(Value::BigUnsigned(n)) => n.to_string(),
            _ => break,
        };
        let keep = head.len();
        compiled.values.pop();
        compiled.sql.truncate(keep);
        tail = format!("{}{number}{tail}", clause.trim_end_matches('?'));
    }
    compiled.sql.push_str(&tail);
    compiled
}

/// Builds the sea-query statement of a select (or of a subquery, in a nested scope).
fn select_statement(q: &SelectQuery, scope: &Scope) -> Result<SelectStatement, Error> {
    fit::condition(q.filter.as_ref())?;
    if let Projection::Exprs(aggregation) = &q.projection {
        fit::condition(aggregation.having.as_ref())?;
    }
    let dialect = scope.dialect;
    let table = q.schema.table;
    let mut select = Query::select();
    match &scope.alias {
        Some((aliased, alias)) if *aliased == table => {
            select.from_as(table, alias.clone());
        }
        _ => {
            select.from(table);
        }
    }
    if let Some(join) = &q.join {
        let kind = match join.kind {
            JoinKind::Inner => JoinType::InnerJoin,
            JoinKind::Left => JoinType::LeftJoin,
        };
        let on = scope
            .col(&join.joined_column)
            .eq(scope.col(&join.model_column));
        select.join(kind, join.schema.table, on);
    }
    if let Some(filter) = &q.filter {
        select.and_where(condition(filter, scope)?);
    }
    for o in &q.order {
        let order = match o.direction {
            Direction::Asc => Order::Asc,
            Direction::Desc => Order::Desc,
        };
        select.order_by_expr(scope.col(&o.column), order);
    }
    let mut limit = q.limit;
    if q.offset.is_some() && limit.is_none() && dialect != Dialect::Postgres {
        // MySQL and SQLite have no OFFSET without LIMIT; the largest limit means "no limit".
        limit = Some(i64::MAX as u64);
    }
    // One row answers `exists()`; inside `EXISTS (...)` the database stops at one by itself.
    if q.projection == Projection::Exists && scope.depth == 0 {
        limit = Some(limit.map_or(1, |l| Ord::min(l, 1)));
    }
    if let Some(l) = limit {
        select.limit(l);
    }
    if let Some(o) = q.offset {
        select.offset(o);
    }
    match (q.lock, dialect) {
        (None, _) => {}
        // SQLite has no row locks: its transactions are serializable, so a conflicting writer
        // fails with a retryable `LockTimeout`/`SerializationFailure` instead of waiting.
        (Some(RowLock::ForUpdate), Dialect::Sqlite) => {}
        (Some(lock), Dialect::Sqlite) => {
            let method = if lock == RowLock::SkipLocked {
                "skip_locked"
            } else {
                "no_wait"
            };
            return Err(Error::InvalidQuery(format!(
                "SQLite has no row locks, so `{method}()` cannot be honoured; use `for_update()`, \
                 which SQLite's serializable transactions already guarantee"
            )));
        }
        (Some(RowLock::ForUpdate), _) => {
            select.lock(LockType::Update);
        }
        (Some(RowLock::SkipLocked), _) => {
            select.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        (Some(RowLock::NoWait), _) => {
            select.lock_with_behavior(LockType::Update, LockBehavior::Nowait);
        }
    }
    match &q.projection {
        Projection::Exprs(aggregation) => {
            if aggregation.distinct {
                select.distinct();
            }
            for expr in &aggregation.exprs {
                select.expr(select_expr(expr, scope));
            }
            for column in &aggregation.group_by {
                select.add_group_by([scope.col(column)]);
            }
            if let Some(having) = &aggregation.having {
                select.and_having(condition(having, scope)?);
            }
        }
        Projection::Model => {
            select.exprs(
                q.schema
                    .columns
                    .iter()
                    .map(|c| scope.col(&ColumnRef::new(table, c.name))),
            );
            if let Some(join) = &q.join {
                let joined = join.schema.table;
                let columns = join.schema.columns.iter();
                select.exprs(columns.map(|c| scope.col(&ColumnRef::new(joined, c.name))));
            }
        }
        Projection::Exists => {
            select.expr(Expr::cust("1"));
        }
        Projection::Count if limit.is_none() && q.offset.is_none() => {
            // Order does not change a count, and PostgreSQL rejects ORDER BY beside COUNT(*).
            select.clear_order_by();
            select.expr(Func::count(Expr::col(Asterisk)));
        }
        Projection::Count => {
            // LIMIT/OFFSET apply to rows, not to the count: count over the limited rows.
            select.expr(Expr::cust("1"));
            let mut outer = Query::select();
            outer
                .expr(Func::count(Expr::col(Asterisk)))
                .from_subquery(select, "counted");
            return Ok(outer);
        }
    }
    Ok(select)
}

/// A selected expression; sums and averages are cast so that every dialect returns the
/// documented type (`i64` for integer sums, `f64` for float sums and every average).
fn select_expr(expr: &SelectExpr, scope: &Scope) -> Expr {
    let (function, column, integer) = match expr {
        SelectExpr::Column(c) => return scope.col(c),
        SelectExpr::Aggregate {
            function,
            column,
            integer,
        } => (*function, column, *integer),
    };
    let arg = || {
        column
            .as_ref()
            .map_or_else(|| Expr::col(Asterisk), |c| scope.col(c))
    };
    let (big_int, double) = match scope.dialect {
        Dialect::Postgres => (Some("BIGINT"), Some("DOUBLE PRECISION")),
        Dialect::MySql => (Some("SIGNED"), Some("DOUBLE")),
        Dialect::Sqlite => (None, None),
    };
    let cast = |call: sea_query::FunctionCall, to: Option<&'static str>| match to {
        Some(to) => Expr::from(Func::cast_as(call, to)),
        None => Expr::from(call),
    };
    match function {
        AggregateFn::Count => Func::count(arg()).into(),
        AggregateFn::Sum if integer => cast(Func::sum(arg()), big_int),
        AggregateFn::Sum => cast(Func::sum(arg()), double),
        AggregateFn::Avg => cast(Func::avg(arg()), double),
        AggregateFn::Min => Func::min(arg()).into(),
        AggregateFn::Max => Func::max(arg()).into(),
    }
}

fn compile_insert(
    q: &InsertQuery,
    on_conflict: Option<&OnConflict>,
    dialect: Dialect,
) -> Result<Compiled, Error> {
    let table = q.schema.table;
    let mut insert = Query::insert();
    insert.into_table(table);
    let columns: Vec<&'static str> = q.schema.insert_columns().map(|c| c.name).collect();
    if columns.is_empty() {
        if q.rows.len() != 1 {
            return Err(Error::InvalidQuery(format!(
                "`{table}` has only generated columns; insert its rows one at a time"
            )));
        }
        insert.or_default_values();
    } else {
        insert.columns(columns.iter().copied());
        for row in &q.rows {
            insert
                .values(row.iter().cloned().map(|v| Expr::val(values::to_sea(v))))
                .map_err(|e| Error::InvalidQuery(format!("insert into `{table}`: {e}")))?;
        }
    }
    if let Some(oc) = on_conflict {
        if oc.columns.is_empty() {
            return Err(Error::InvalidQuery(format!(
                "upsert into `{table}` names no conflict column; add `.on(column)`"
            )));
        }
        let mut clause = sea_query::OnConflict::columns(oc.columns.iter().copied());
        if oc.update.is_empty() {
            // MySQL: `ON DUPLICATE KEY UPDATE c = c`, not INSERT IGNORE, which would also
            // swallow every other error (strict-mode conversions included).
            clause.do_nothing_on(oc.columns.iter().copied());
        } else {
            clause.update_columns(oc.update.iter().copied());
        }
        insert.on_conflict(clause);
    }
    if q.returning && dialect.has_returning() {
        insert.returning(Query::returning().columns(q.schema.columns.iter().map(|c| c.name)));
    }
    Ok(build(&insert, dialect))
}

fn compile_update(q: &UpdateQuery, dialect: Dialect) -> Result<Compiled, Error> {
    if q.assignments.is_empty() {
        return Err(Error::InvalidQuery(format!(
            "update of `{}` sets no column; add at least one `set(column, value)`",
            q.schema.table
        )));
    }
    let mut update = Query::update();
    update
        .table(q.schema.table)
        .values(q.assignments.iter().map(|(name, a)| {
            let value = match a {
                Assignment::Value(v) => Expr::val(values::to_sea(v.clone())),
                Assignment::Add { source, delta } => {
                    Expr::col(*source).add(Expr::val(values::to_sea(delta.clone())))
                }
            };
            (*name, value)
        }));
    if let Some(filter) = &q.filter {
        update.and_where(condition(filter, &Scope::top(dialect))?);
    }
    Ok(build(&update, dialect))
}

fn compile_delete(q: &DeleteQuery, dialect: Dialect) -> Result<Compiled, Error> {
    let mut delete = Query::delete();
    delete.from_table(q.schema.table);
    if let Some(filter) = &q.filter {
        delete.and_where(condition(filter, &Scope::top(dialect))?);
    }
    Ok(build(&delete, dialect))
}

fn constant(truth: bool) -> Expr {
    Expr::cust(if truth { "1 = 1" } else { "1 = 0" })
}

fn val(v: &Value) -> Expr {
    Expr::val(values::to_sea(v.clone()))
}

/// Compiles an IR condition to a sea-query expression.
fn condition(c: &Condition, scope: &Scope) -> Result<Expr, Error> {
    let col = |c| scope.col(c);
    Ok(match c {
        Condition::Compare {
            column,
            op: CmpOp::Eq,
            value,
        } if value.is_null() => col(column).is_null(),
        Condition::Compare {
            column,
            op: CmpOp::Ne,
            value,
        } if value.is_null() => col(column).is_not_null(),
        Condition::Compare { column, op, value } => {
            col(column).binary(binary_operator(*op), val(value))
        }
        Condition::CompareExpr { expr, op, value } => {
            select_expr(expr, scope).binary(binary_operator(*op), val(value))
        }
        Condition::Between { column, low, high } => col(column).between(val(low), val(high)),
        Condition::InList {
            values, negated, ..
        } if values.is_empty() => constant(*negated),
        Condition::InList {
            column,
            values,
            negated,
        } => {
            let values = values.iter().cloned().map(values::to_sea);
            if *negated {
                col(column).is_not_in(values)
            } else {
                col(column).is_in(values)
            }
        }
        Condition::InSubquery {
            column,
            subquery,
            negated,
        } => {
            let sub = in_subquery(subquery, scope)?;
            if *negated {
                col(column).not_in_subquery(sub)
            } else {
                col(column).in_subquery(sub)
            }
        }
        Condition::Exists {
            subquery,
            inner,
            outer,
        } => {
            let mut related = (**subquery).clone();
            related.projection = Projection::Exists;
            related.order.clear();
            let nested = scope.subquery(related.schema.table);
            let mut sub = select_statement(&related, &nested)?;
            sub.and_where(nested.col(inner).eq(col(outer)));
            Expr::exists(sub)
        }
        Condition::Like {
            column,
            pattern,
            case_insensitive,
        } => like(col(column), pattern, *case_insensitive, scope.dialect),
        Condition::IsNull {
            column,
            negated: false,
        } => col(column).is_null(),
        Condition::IsNull {
            column,
            negated: true,
        } => col(column).is_not_null(),
        Condition::And(items) => fold(items, scope, true)?,
        Condition::Or(items) => fold(items, scope, false)?,
        Condition::Not(inner) => condition(inner, scope)?.not(),
    })
}

/// The subquery of `IN (...)`, checked to select one expression. MariaDB refuses `LIMIT` in an
/// `IN` subquery and a subquery over the table an `UPDATE`/`DELETE` writes; both are allowed
/// from a derived table, so on MySQL the subquery is wrapped in one.
fn in_subquery(subquery: &SelectQuery, scope: &Scope) -> Result<SelectStatement, Error> {
    let single = matches!(&subquery.projection, Projection::Exprs(a) if a.exprs.len() == 1);
    if !single {
        return Err(Error::InvalidQuery(format!(
            "an `in_subquery` subquery over `{}` must select exactly one column or aggregate; \
             use `.select((column,))`",
            subquery.schema.table
        )));
    }
    let nested = scope.subquery(subquery.schema.table);
    let sub = select_statement(subquery, &nested)?;
    if scope.dialect != Dialect::MySql {
        return Ok(sub);
    }
    let derived = format!(
        "{}_in",
        nested.alias.as_ref().map_or("sub", |(_, a)| a.as_str())
    );
    let mut wrapper = Query::select();
    wrapper.column(Asterisk).from_subquery(sub, derived);
    Ok(wrapper)
}

/// `LIKE` with `\\` as the escape character on every dialect.
fn like(column: Expr, pattern: &str, case_insensitive: bool, dialect: Dialect) -> Expr {
    match dialect {
        // Backslash is PostgreSQL's default LIKE escape; sea-query cannot render ILIKE with an
        // ESCAPE clause, so none is written.
        Dialect::Postgres if case_insensitive => {
            column.binary(PgBinOper::ILike, Expr::val(pattern))
        }
        Dialect::Postgres => column.like(pattern),
        // Declared explicitly: SQLite has no default escape, and MySQL loses it under
        // NO_BACKSLASH_ESCAPES.
        Dialect::MySql | Dialect::Sqlite if case_insensitive => {
            // LOWER() on both sides: one folding rule for the column and the pattern.
            let pattern = Expr::Binary(
                Box::new(Func::lower(Expr::val(pattern)).into()),
                BinOper::Escape,
                Box::new(Expr::Constant('\\'.into())),
            );
            Expr::from(Func::lower(column)).binary(BinOper::Like, pattern)
        }
        Dialect::MySql | Dialect::Sqlite => column.like(LikeExpr::new(pattern).escape('\\')),
    }
}

fn binary_operator(op: CmpOp) -> BinOper {
    match op {
        CmpOp::Eq => BinOper::Equal,
        CmpOp::Ne => BinOper::NotEqual,
        CmpOp::Lt => BinOper::SmallerThan,
        CmpOp::Le => BinOper::SmallerThanOrEqual,
        CmpOp::Gt => BinOper::GreaterThan,
        CmpOp::Ge => BinOper::GreaterThanOrEqual,
    }
}

fn fold(items: &[Condition], scope: &Scope, all: bool) -> Result<Expr, Error> {
    let mut exprs = items.iter().map(|c| condition(c, scope));
    let Some(first) = exprs.next().transpose()? else {
        return Ok(constant(all));
    };
    exprs.try_fold(first, |acc, e| {
        Ok(if all { acc.and(e?) } else { acc.or(e?) })
    })
}
