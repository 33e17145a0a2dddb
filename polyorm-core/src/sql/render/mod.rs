//! Pass 3: the lowered IR written as SQL through sea-query, one module per clause or construct.
//! Nothing here decides what a dialect supports ([`super::check`]) or rewrites the query
//! ([`super::lower`]); what differs is only how a construct is spelled.

mod arith;
mod average;
mod cast;
mod compound;
mod condition;
mod conditional;
mod cte;
mod date;
mod delete;
mod derived;
mod expr;
mod hint;
mod insert;
mod join;
mod like;
mod lock;
mod order;
mod paging;
mod projection;
mod select;
mod subquery;
mod text;
mod update;
mod walk;
mod window;

use sea_query::{
    ConditionalStatement, Expr, LogicalChainOper, MysqlQueryBuilder, PostgresQueryBuilder,
    QueryStatementWriter, SqliteQueryBuilder,
};

use super::{Compiled, Dialect, values};
use crate::error::Error;
use crate::query::ir::{ColumnRef, SelectExpr, SelectQuery, Statement};
use crate::schema::{ColumnSchema, ModelSchema};
use crate::value::Value;

/// Renders a lowered write (selects go through [`select`]).
pub(super) fn write_statement(statement: &Statement, dialect: Dialect) -> Result<Compiled, Error> {
    match statement {
        Statement::Select(q) => select(q, dialect),
        Statement::Insert(q) => insert::render(q, None, dialect),
        Statement::Upsert(q) => insert::render(&q.insert, Some(&q.on_conflict), dialect),
        Statement::Update(q) => update::render(q, dialect),
        Statement::Delete(q) => delete::render(q, dialect),
    }
}

/// Compiles a select: each level (the statement, then each subquery as it is reached) is
/// checked, lowered and rendered.
pub(super) fn select(q: &SelectQuery, dialect: Dialect) -> Result<Compiled, Error> {
    if let Some(walk) = &q.walk {
        let compiled = build(&walk::render(q, walk, &Scope::top(dialect))?, dialect);
        return Ok(paging::inline_sqlite_paging(q, compiled, dialect));
    }
    let compiled = build(&select::statement(q, &Scope::top(dialect), None)?, dialect);
    Ok(match &q.outer {
        // The outer select's paging ends the statement.
        Some(outer) => {
            paging::inline_sqlite_paging_of(outer.limit, outer.offset, compiled, dialect)
        }
        None => paging::inline_sqlite_paging(q, compiled, dialect),
    })
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
    /// The tables whose columns are in reach (this level's, then the outer levels'), each by
    /// the name its columns are qualified with, to find a column's schema (its decimal scale).
    tables: Vec<(&'static str, &'static ModelSchema)>,
}

impl Scope {
    fn top(dialect: Dialect) -> Scope {
        Scope {
            dialect,
            alias: None,
            depth: 0,
            tables: Vec::new(),
        }
    }

    /// The scope of a subquery over `table`, nested in this one.
    fn subquery(&self, table: &'static str) -> Scope {
        let depth = self.depth + 1;
        Scope {
            dialect: self.dialect,
            alias: Some((table, format!("sub{depth}"))),
            depth,
            tables: self.tables.clone(),
        }
    }

    /// This scope with the tables of one level of a select in reach (first, so that they
    /// shadow an outer level's).
    fn reading(&self, q: &SelectQuery) -> Scope {
        let mut tables: Vec<_> = q.sources().collect();
        tables.extend(self.tables.iter().copied());
        Scope {
            dialect: self.dialect,
            alias: self.alias.clone(),
            depth: self.depth,
            tables,
        }
    }

    /// The scope of a write to `schema`'s table.
    fn writing(dialect: Dialect, schema: &'static ModelSchema) -> Scope {
        Scope {
            tables: vec![(schema.table, schema)],
            ..Scope::top(dialect)
        }
    }

    /// The schema of the column `c` names, if it is in reach.
    fn column(&self, c: &ColumnRef) -> Option<&'static ColumnSchema> {
        self.tables
            .iter()
            .find(|(name, _)| *name == c.table)
            .and_then(|(_, schema)| schema.column(c.name))
    }

    /// The scale SQLite stores `expr`'s decimal value at (a scaled integer), or `None` when
    /// it is no decimal or the dialect keeps decimals as they are.
    fn stored_scale(&self, expr: &SelectExpr) -> Option<u32> {
        if !self.dialect.capabilities().stored_decimals {
            return None;
        }
        crate::sql::scaled::expr_scale(expr, &|c| self.column(c))
    }

    fn col(&self, c: &ColumnRef) -> Expr {
        match &self.alias {
            Some((table, alias)) if *table == c.table => Expr::col((alias.clone(), c.name)),
            _ => Expr::col((c.table, c.name)),
        }
    }
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

/// A custom SQL fragment around one expression, written with `?` where the expression goes
/// (sea-query substitutes the dialect's placeholder mark: `$1` on PostgreSQL, `?` elsewhere).
fn custom(dialect: Dialect, template: &str, expr: Expr) -> Expr {
    let template = match dialect {
        Dialect::Postgres => template.replacen('?', "$1", 1),
        Dialect::MySql | Dialect::Sqlite => template.to_owned(),
    };
    Expr::cust_with_expr(template, expr)
}
