//! Compiles the query IR to SQL for PostgreSQL, MySQL/MariaDB and SQLite through sea-query.
//!
//! Values are always bound parameters (save SQLite's integer LIMIT/OFFSET, see
//! `inline_sqlite_paging`); identifiers are quoted by the dialect. What differs
//! between dialects (RETURNING, ILIKE, OFFSET without LIMIT) is decided here, in one place.

pub mod ddl;
pub(crate) mod fit;
pub(crate) mod scaled;
mod shapes;
mod values;

use sea_query::extension::postgres::PgBinOper;
use sea_query::{
    Asterisk, BinOper, ConditionalStatement, Expr, ExprTrait, Func, JoinType, LikeExpr,
    LockBehavior, LockType, LogicalChainOper, MysqlQueryBuilder, NullOrdering, Order,
    PostgresQueryBuilder, Query, QueryStatementWriter, SqliteQueryBuilder,
};

use crate::error::Error;
use crate::query::ir::{
    AggregateFn, Assignment, CaseFold, CmpOp, ColumnRef, Condition, DatePart, DeleteQuery,
    Direction, InsertQuery, JoinKind, Nulls, OnConflict, OrderBy, Projection, RowLock, SelectExpr,
    SelectQuery, Statement, UpdateQuery, ValueKind,
};
use crate::schema::{ColumnSchema, ColumnType, ModelSchema};
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
    // Selects are checked (and scaled) by `compile_select`, which executors also call directly.
    if let Statement::Select(q) = statement {
        return compile_select(q, dialect);
    }
    fit::check(statement, Some(dialect))?;
    if let Some(shape) = shapes::statement_shape(statement) {
        return shapes::compiled(
            schema_of(statement),
            shape,
            dialect,
            || shapes::statement_values(statement, dialect),
            || compile_checked(statement, dialect),
        );
    }
    compile_checked(statement, dialect)
}

/// The model a statement reads or writes.
fn schema_of(statement: &Statement) -> &'static ModelSchema {
    match statement {
        Statement::Select(q) => q.schema,
        Statement::Insert(q) => q.schema,
        Statement::Upsert(q) => q.insert.schema,
        Statement::Update(q) => q.schema,
        Statement::Delete(q) => q.schema,
    }
}

/// [`compile`] after [`fit::check`], through sea-query.
fn compile_checked(statement: &Statement, dialect: Dialect) -> Result<Compiled, Error> {
    // Selects are scaled by `compile_select`, which executors also call directly.
    #[cfg(feature = "decimal")]
    if dialect == Dialect::Sqlite
        && !matches!(statement, Statement::Select(_))
        && let Some(scaled) = scaled::scale_values(statement)?
    {
        return compile_scaled(&scaled, dialect);
    }
    compile_scaled(statement, dialect)
}

/// Compiles a statement whose decimals are already scaled for SQLite.
fn compile_scaled(statement: &Statement, dialect: Dialect) -> Result<Compiled, Error> {
    match statement {
        Statement::Select(q) => compile_select(q, dialect),
        Statement::Insert(q) => compile_insert(q, None, dialect),
        Statement::Upsert(q) => compile_insert(&q.insert, Some(&q.on_conflict), dialect),
        Statement::Update(q) => compile_update(q, dialect),
        Statement::Delete(q) => compile_delete(q, dialect),
    }
}

fn build(statement: &impl QueryStatementWriter, dialect: Dialect) -> Compiled {
    let mut writer = Writer::new(dialect);
    match dialect {
        Dialect::Postgres => statement.build_collect_any_into(&PostgresQueryBuilder, &mut writer),
        Dialect::MySql => statement.build_collect_any_into(&MysqlQueryBuilder, &mut writer),
        Dialect::Sqlite => statement.build_collect_any_into(&SqliteQueryBuilder, &mut writer),
    }
    Compiled {
        sql: writer.sql,
        values: writer.values,
    }
}

/// Receives the SQL text and the parameters of one statement as sea-query writes them, each
/// parameter converted to a [`Value`] as it comes: no placeholder string to allocate and no
/// second vector of sea-query values to convert afterwards (`SqlWriterValues` does both).
struct Writer {
    sql: String,
    values: Vec<Value>,
    /// `$1, $2, ...` (PostgreSQL) rather than `?`.
    numbered: bool,
}

impl Writer {
    fn new(dialect: Dialect) -> Writer {
        Writer {
            sql: String::with_capacity(256),
            values: Vec::new(),
            numbered: dialect == Dialect::Postgres,
        }
    }
}

impl std::fmt::Write for Writer {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.sql.push_str(s);
        Ok(())
    }

    fn write_char(&mut self, c: char) -> std::fmt::Result {
        self.sql.push(c);
        Ok(())
    }
}

impl std::fmt::Display for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.sql)
    }
}

impl sea_query::SqlWriter for Writer {
    fn push_param<T: sea_query::QueryBuilder>(&mut self, value: sea_query::Value, _: &T) {
        self.values.push(values::from_sea(value));
        if self.numbered {
            self.sql.push('$');
            push_decimal(&mut self.sql, self.values.len() as u64);
        } else {
            self.sql.push('?');
        }
    }

    fn as_writer(&mut self) -> &mut dyn std::fmt::Write {
        self
    }
}

/// Appends `n` in decimal (what `write!(sql, "{n}")` does, without the formatting machinery).
fn push_decimal(sql: &mut String, n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for &d in &digits[at..] {
        sql.push(char::from(d));
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
    match shapes::select_shape(q) {
        Some(shape) => shapes::compiled(
            q.schema,
            shape,
            dialect,
            || shapes::select_values(q, dialect),
            || compile_select_uncached(q, dialect),
        ),
        None => compile_select_uncached(q, dialect),
    }
}

/// [`compile_select`] through sea-query.
fn compile_select_uncached(q: &SelectQuery, dialect: Dialect) -> Result<Compiled, Error> {
    let compiled = build(&select_statement(q, &Scope::top(dialect), None)?, dialect);
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
///
/// `correlate` is ANDed after the filter (an `EXISTS` subquery's link to the outer row).
fn select_statement(
    q: &SelectQuery,
    scope: &Scope,
    correlate: Option<Expr>,
) -> Result<SelectStatement, Error> {
    fit::condition(q.filter.as_ref())?;
    if let Projection::Exprs(aggregation) = &q.projection {
        fit::condition(aggregation.having.as_ref())?;
    }
    // Both SQLite passes read decimal columns only: a model without one (the common case)
    // skips them.
    if scope.dialect == Dialect::Sqlite && reads_decimal(q) {
        refuse_text_decimal_order(q)?;
        #[cfg(feature = "decimal")]
        if let Some(scaled) = scaled::scale_select(q)? {
            return select_body(&scaled, scope, correlate);
        }
    }
    select_body(q, scope, correlate)
}

/// Whether the model of `q` or its joined model has a decimal column.
fn reads_decimal(q: &SelectQuery) -> bool {
    let has = |schema: &ModelSchema| schema.columns.iter().any(|c| c.ty == ColumnType::Decimal);
    has(q.schema) || q.join.is_some_and(|j| has(j.schema))
}

/// The schema of a column that `q` reads (its model's or the joined model's).
fn column_schema(q: &SelectQuery, c: &ColumnRef) -> Option<&'static ColumnSchema> {
    q.schema_of(c)?.column(c.name)
}

/// SQLite orders and compares decimals stored as text (no precision, or more than 18 digits)
/// as text: `order_by` and `<`/`>`/`between` on them are refused rather than answered in
/// text order.
fn refuse_text_decimal_order(q: &SelectQuery) -> Result<(), Error> {
    let refuse = |c: &ColumnRef, what: &str| -> Result<(), Error> {
        match column_schema(q, c) {
            Some(column) if scaled::is_text_decimal(column) => Err(Error::InvalidQuery(format!(
                "SQLite stores `{}.{}` (a decimal without `precision` of at most {} digits) as \
                 text, so {what} would follow text order; declare \
                 `#[orm(precision = P, scale = S)]` with P <= {} to store it as a scaled integer",
                c.table,
                c.name,
                scaled::MAX_SCALED_PRECISION,
                scaled::MAX_SCALED_PRECISION
            ))),
            _ => Ok(()),
        }
    };
    for o in &q.order {
        if let SelectExpr::Column(c) = &o.expr {
            refuse(c, "ordering by it")?;
        }
    }
    fn ranges<'a>(c: &'a Condition, out: &mut Vec<&'a ColumnRef>) {
        match c {
            Condition::Compare { column, op, .. } if !matches!(op, CmpOp::Eq | CmpOp::Ne) => {
                out.push(column);
            }
            Condition::Between { column, .. } => out.push(column),
            Condition::And(items) | Condition::Or(items) => {
                items.iter().for_each(|c| ranges(c, out));
            }
            Condition::Not(inner) => ranges(inner, out),
            _ => {}
        }
    }
    let mut compared = Vec::new();
    if let Some(filter) = &q.filter {
        ranges(filter, &mut compared);
    }
    compared
        .into_iter()
        .try_for_each(|c| refuse(c, "comparing it with `<`, `>` or `between`"))
}

/// The select list entry of `expr`: on SQLite, scaled decimal columns (and their MIN, MAX and
/// SUM) are read back as exact decimal text, except inside a subquery, whose values the outer
/// query compares with its own scaled integers.
fn output_expr(q: &SelectQuery, expr: &SelectExpr, scope: &Scope) -> Expr {
    let sql = select_expr(expr, scope);
    if scope.depth > 0 {
        return sql;
    }
    let column = match expr {
        SelectExpr::Column(c)
        | SelectExpr::Aggregate {
            function: AggregateFn::Min | AggregateFn::Max | AggregateFn::Sum,
            column: Some(c),
            ..
        } => c,
        _ => return sql,
    };
    match column_schema(q, column) {
        Some(column) => stored_column(sql, column, scope.dialect),
        None => sql,
    }
}

/// The columns of `schema` as a select list, in schema order (decoded by position), qualified
/// with `table` (the schema's table, or its alias in a self-join).
fn model_columns<'a>(
    schema: &'static ModelSchema,
    table: &'static str,
    scope: &'a Scope,
) -> impl Iterator<Item = Expr> + 'a {
    schema.columns.iter().map(move |c| {
        let expr = scope.col(&ColumnRef::new(table, c.name));
        if scope.depth > 0 {
            return expr;
        }
        stored_column(expr, c, scope.dialect)
    })
}

/// `expr`, reading `column`, as returned to the decoder: a scaled decimal on SQLite is read
/// back as exact decimal text.
fn stored_column(expr: Expr, column: &ColumnSchema, dialect: Dialect) -> Expr {
    match scaled::scale_of(column) {
        Some(scale) if dialect == Dialect::Sqlite => scaled::read_back(expr, scale),
        _ => expr,
    }
}

fn select_body(
    q: &SelectQuery,
    scope: &Scope,
    correlate: Option<Expr>,
) -> Result<SelectStatement, Error> {
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
        match join.alias {
            Some(alias) => select.join_as(kind, join.schema.table, alias, on),
            None => select.join(kind, join.schema.table, on),
        };
    }
    let filter = q.filter.as_ref().map(|f| condition(f, scope)).transpose()?;
    let filter = match (filter, correlate) {
        (Some(filter), Some(link)) => Some(filter.and(link)),
        (filter, link) => filter.or(link),
    };
    if let Some(filter) = filter {
        set_where(&mut select, filter);
    }
    for o in &q.order {
        let order = match o.direction {
            Direction::Asc => Order::Asc,
            Direction::Desc => Order::Desc,
        };
        let expr = select_expr(&o.expr, scope);
        match null_ordering(q, o, dialect) {
            Some(nulls) => select.order_by_expr_with_nulls(expr, order, nulls),
            None => select.order_by_expr(expr, order),
        };
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
                select.expr(output_expr(q, expr, scope));
            }
            for column in &aggregation.group_by {
                select.add_group_by([scope.col(column)]);
            }
            if let Some(having) = &aggregation.having {
                select.and_having(condition(having, scope)?);
            }
        }
        Projection::Model => {
            // One by one: `exprs` would collect them into a vector of its own first.
            for column in model_columns(q.schema, q.schema.table, scope) {
                select.expr(column);
            }
            if let Some(join) = &q.join {
                for column in model_columns(join.schema, join.qualifier(), scope) {
                    select.expr(column);
                }
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

/// The `NULLS FIRST`/`NULLS LAST` to write for `o`, or `None` when the dialect's own order
/// already puts NULLs where the ORM promises (or the expression is never NULL, so that an index
/// on a NOT NULL column keeps serving the sort). MySQL's missing `NULLS` clause is emulated by
/// sea-query with an `expr IS NULL` sort key.
fn null_ordering(q: &SelectQuery, o: &OrderBy, dialect: Dialect) -> Option<NullOrdering> {
    let wanted = o.effective_nulls();
    // PostgreSQL sorts NULL as the largest value; the others as the smallest.
    let native = match (dialect, o.direction) {
        (Dialect::Postgres, Direction::Asc)
        | (Dialect::MySql | Dialect::Sqlite, Direction::Desc) => Nulls::Last,
        (Dialect::Postgres, Direction::Desc)
        | (Dialect::MySql | Dialect::Sqlite, Direction::Asc) => Nulls::First,
    };
    if wanted == native || !may_be_null(q, &o.expr) {
        return None;
    }
    Some(match wanted {
        Nulls::First => NullOrdering::First,
        Nulls::Last => NullOrdering::Last,
    })
}

/// Whether `expr` can be NULL in the rows of `q`.
fn may_be_null(q: &SelectQuery, expr: &SelectExpr) -> bool {
    let column = match expr {
        SelectExpr::Column(c) | SelectExpr::Fold { column: c, .. } => c,
        SelectExpr::Extract { column: c, .. } => c,
        SelectExpr::Aggregate {
            function: AggregateFn::Count,
            ..
        } => return false,
        // Over no row (no grouping) every other aggregate is NULL.
        SelectExpr::Aggregate { .. } => return true,
    };
    match &q.join {
        Some(join) if join.qualifier() == column.table => {
            join.kind == JoinKind::Left
                || join.schema.column(column.name).is_none_or(|c| c.nullable)
        }
        _ if column.table == q.schema.table => {
            q.schema.column(column.name).is_none_or(|c| c.nullable)
        }
        _ => true,
    }
}

/// `LOWER`/`UPPER` folding only ASCII letters on every dialect. SQLite's own functions do just
/// that; PostgreSQL's do under the `C` collation; MySQL's `LOWER` folds accented capitals too, so
/// it gets the 26 letters replaced one by one (`REPLACE` is case-sensitive on every collation).
fn fold_case(expr: Expr, fold: CaseFold, dialect: Dialect) -> Expr {
    let function = match fold {
        CaseFold::Lower => "LOWER",
        CaseFold::Upper => "UPPER",
    };
    match dialect {
        Dialect::Sqlite => custom(dialect, &format!("{function}(?)"), expr),
        Dialect::Postgres => custom(dialect, &format!("{function}(? COLLATE \"C\")"), expr),
        Dialect::MySql => {
            let mut sql = String::from("?");
            for (from, to) in ('A'..='Z').zip('a'..='z') {
                let (from, to) = match fold {
                    CaseFold::Lower => (from, to),
                    CaseFold::Upper => (to, from),
                };
                sql = format!("REPLACE({sql}, '{from}', '{to}')");
            }
            custom(dialect, &sql, expr)
        }
    }
}

/// A part of a date or timestamp as an integer. Timestamps are read in UTC: sqlx opens
/// PostgreSQL sessions in UTC, MySQL `DATETIME` holds the UTC value the ORM wrote, and SQLite's
/// `strftime` converts the stored ISO-8601 text to UTC.
fn extract(expr: Expr, part: DatePart, dialect: Dialect) -> Expr {
    let (name, format) = match part {
        DatePart::Year => ("YEAR", "%Y"),
        DatePart::Month => ("MONTH", "%m"),
        DatePart::Day => ("DAY", "%d"),
    };
    let sql = match dialect {
        Dialect::Postgres => format!("CAST(EXTRACT({name} FROM ?) AS INTEGER)"),
        Dialect::MySql => format!("EXTRACT({name} FROM ?)"),
        Dialect::Sqlite => format!("CAST(strftime('{format}', ?) AS INTEGER)"),
    };
    custom(dialect, &sql, expr)
}

/// A custom SQL fragment around one expression, written with `?` where the expression goes
/// (sea-query substitutes the dialect's placeholder mark: `$1` on PostgreSQL, `?` elsewhere).
fn custom(dialect: Dialect, template: &str, expr: Expr) -> Expr {
    let template = match dialect {
        Dialect::Postgres => template.replacen('?', "$1", 1),
        Dialect::MySql | Dialect::Sqlite => template.to_owned(),
    };
    Expr::cust_with_expr(template, expr)
}

/// A selected expression; sums and averages are cast so that every dialect returns the
/// documented type (`i64` for integer sums, `f64` for float sums and every average).
fn select_expr(expr: &SelectExpr, scope: &Scope) -> Expr {
    let dialect = scope.dialect;
    let (function, column, kind) = match expr {
        SelectExpr::Column(c) => return scope.col(c),
        SelectExpr::Fold { fold, column } => return fold_case(scope.col(column), *fold, dialect),
        SelectExpr::Extract { part, column } => {
            return extract(scope.col(column), *part, dialect);
        }
        SelectExpr::Aggregate {
            function,
            column,
            kind,
        } => (*function, column, *kind),
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
        AggregateFn::Sum if kind == ValueKind::Integer => cast(Func::sum(arg()), big_int),
        // Exact on every dialect: NUMERIC/DECIMAL sums, and sums of SQLite's scaled integers.
        AggregateFn::Sum if kind == ValueKind::Decimal => Func::sum(arg()).into(),
        AggregateFn::Sum => cast(Func::sum(arg()), double),
        // MySQL's AVG of integers is a DECIMAL rounded to 4 places (`div_precision_increment`);
        // the exact sum divided in DOUBLE gives the correctly rounded mean, as on the others.
        AggregateFn::Avg if kind == ValueKind::Integer && dialect == Dialect::MySql => {
            cast(Func::sum(arg()), double).div(Func::count(arg()))
        }
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
        let columns = q
            .schema
            .columns
            .iter()
            .map(|c| stored_column(Expr::col(c.name), c, dialect));
        insert.returning(Query::returning().exprs(columns));
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
                Assignment::Add { source, delta } => add_expr(source, delta, dialect),
            };
            (*name, value)
        }));
    if let Some(filter) = &q.filter {
        set_where(&mut update, condition(filter, &Scope::top(dialect))?);
    }
    Ok(build(&update, dialect))
}

/// `column + delta`. SQLite turns an integer sum that overflows 64 bits into a float (and
/// stores it), where PostgreSQL and MySQL fail with "out of range": on SQLite the sum is
/// checked and an overflow evaluates `abs(i64::MIN)`, SQLite's own "integer overflow" error,
/// which maps to [`Error::OutOfRange`] as on the other dialects.
fn add_expr(source: &'static str, delta: &Value, dialect: Dialect) -> Expr {
    let sum = || Expr::col(source).add(Expr::val(values::to_sea(delta.clone())));
    let integer = matches!(delta, Value::SmallInt(_) | Value::Int(_) | Value::BigInt(_));
    if dialect != Dialect::Sqlite || !integer {
        return sum();
    }
    let typeof_sum = Expr::from(Func::cust("typeof").arg(sum()));
    Expr::case(typeof_sum.eq(Expr::cust("'integer'")), sum())
        .finally(Expr::cust("abs(-9223372036854775807 - 1)"))
        .into()
}

fn compile_delete(q: &DeleteQuery, dialect: Dialect) -> Result<Compiled, Error> {
    let mut delete = Query::delete();
    delete.from_table(q.schema.table);
    if let Some(filter) = &q.filter {
        set_where(&mut delete, condition(filter, &Scope::top(dialect))?);
    }
    Ok(build(&delete, dialect))
}

/// Sets the `WHERE` clause of a statement to `filter`, its one and only condition.
///
/// The same SQL as `and_where(filter)`, which wraps the expression in a `Condition` that
/// sea-query clones whole while writing it (a fifth of building a three-predicate select).
fn set_where(statement: &mut impl ConditionalStatement, filter: Expr) {
    statement.and_or_where(LogicalChainOper::And(filter));
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
            let link = nested.col(inner).eq(col(outer));
            Expr::exists(select_statement(&related, &nested, Some(link))?)
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
    let sub = select_statement(subquery, &nested, None)?;
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
        // ILIKE under the `C` collation folds ASCII letters only, like the other dialects.
        Dialect::Postgres if case_insensitive => {
            custom(dialect, "? COLLATE \"C\"", column).binary(PgBinOper::ILike, Expr::val(pattern))
        }
        Dialect::Postgres => column.like(pattern),
        // Declared explicitly: SQLite has no default escape, and MySQL loses it under
        // NO_BACKSLASH_ESCAPES.
        Dialect::MySql | Dialect::Sqlite if case_insensitive => {
            // One folding rule everywhere: ASCII letters only, the pattern folded here.
            fold_case(column, CaseFold::Lower, dialect)
                .like(LikeExpr::new(pattern.to_ascii_lowercase()).escape('\\'))
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
