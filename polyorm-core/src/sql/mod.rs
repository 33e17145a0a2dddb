//! Compiles the query IR to SQL for PostgreSQL, MySQL/MariaDB and SQLite through sea-query.
//!
//! A statement goes through three passes, each with one job:
//!
//! 1. `check`: what the statement asks is checked against the dialect's [`Capabilities`] and
//!    the columns' limits (`fit`); a refusal is an error that says what to do instead.
//! 2. `lower`: the IR is rewritten for the dialect, each portability rule one small named
//!    rewrite (SQLite's scaled decimals, `OFFSET` without `LIMIT`, where NULLs sort).
//! 3. `render`: the lowered IR is written through sea-query, one module per clause or
//!    construct (`render/select.rs`, `render/join.rs`, `render/order.rs`, `render/like.rs`, …).
//!
//! Values are always bound parameters (save SQLite's integer LIMIT/OFFSET, see
//! `render::paging`); identifiers are quoted by the dialect. Statements of a few common shapes
//! (a find by key, an insert of one row, …) are compiled once per model and dialect and kept,
//! and so are selects of whole rows filtered, joined, ordered and limited, once per structure
//! (`shapes`); the passes run only for the first of each.

mod check;

/// The grouping rule of every backend's compiler: a grouped select reads only group keys,
/// aggregates and what is computed from them ([`Error::UngroupedColumn`](crate::Error) otherwise).
#[cfg(feature = "mongodb")]
pub(crate) use check::grouped_columns;
pub mod constraint;
pub mod ddl;
pub mod default;
mod dialect;
pub mod explain;
pub(crate) mod fit;
mod lower;
mod render;
pub(crate) mod scaled;
mod shapes;
mod values;

pub use dialect::{Capabilities, Dialect};

use std::sync::Arc;

use crate::error::Error;
use crate::query::ir::{SelectQuery, Statement};
use crate::value::Value;

/// A statement compiled for one dialect: SQL text with placeholders and the values to bind.
#[derive(Debug, Clone, PartialEq)]
pub struct Compiled {
    /// SQL text (`$1` placeholders on PostgreSQL, `?` elsewhere).
    pub sql: String,
    /// Values bound to the placeholders, in order.
    pub values: Vec<Value>,
}

/// A compiled statement as the executors take it: like [`Compiled`], but the SQL text of a
/// statement the compiler keeps (`shapes`) is shared with its cache rather than copied, so a
/// driver that runs it at once (SQLite's) copies no text at all.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Shared {
    /// SQL text.
    pub(crate) sql: SqlText,
    /// Values bound to the placeholders, in order.
    pub(crate) values: Vec<Value>,
}

/// The SQL text of a [`Shared`] statement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SqlText {
    /// Text a statement cache keeps for the life of the process (its entries are never
    /// removed), lent by reference: a repeat statement touches no reference count (a driver
    /// that needs the text owned clones the `Arc`).
    Kept(&'static Arc<str>),
    /// Text compiled for this statement alone.
    Fresh(String),
}

impl SqlText {
    /// The text.
    pub(crate) fn as_str(&self) -> &str {
        match self {
            SqlText::Kept(sql) => sql,
            SqlText::Fresh(sql) => sql,
        }
    }
}

impl Shared {
    /// The statement with its own copy of the text.
    pub(crate) fn into_compiled(self) -> Compiled {
        let sql = match self.sql {
            SqlText::Kept(sql) => String::from(&**sql),
            SqlText::Fresh(sql) => sql,
        };
        Compiled {
            sql,
            values: self.values,
        }
    }
}

impl From<Compiled> for Shared {
    fn from(compiled: Compiled) -> Self {
        Shared {
            sql: SqlText::Fresh(compiled.sql),
            values: compiled.values,
        }
    }
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
    compile_shared(statement, dialect).map(Shared::into_compiled)
}

/// [`compile`], with the SQL text of a kept statement shared rather than copied.
pub(crate) fn compile_shared(statement: &Statement, dialect: Dialect) -> Result<Shared, Error> {
    // Selects are checked (and lowered) level by level, as their subqueries are rendered.
    if let Statement::Select(q) = statement {
        return compile_select_shared(q, dialect);
    }
    check::statement(statement, dialect)?;
    match shapes::statement_shape(statement) {
        Some(shape) => compile_kept(statement, shape, dialect, shapes::statement_values),
        None => compile_checked(statement, dialect).map(Shared::from),
    }
}

/// [`compile_shared`] of a statement the caller gives up, as the executors run it: the values
/// of a statement whose text is kept (an insert's rows, most of what it sends) are moved into
/// the compiled statement rather than copied.
pub(crate) fn compile_owned(statement: Statement, dialect: Dialect) -> Result<Shared, Error> {
    if let Statement::Select(q) = &statement {
        return compile_select_shared(q, dialect);
    }
    check::statement(&statement, dialect)?;
    match shapes::statement_shape(&statement) {
        Some(shape) => compile_kept(statement, shape, dialect, shapes::take_statement_values),
        None => compile_checked(&statement, dialect).map(Shared::from),
    }
}

/// A write of a `shape` whose text is kept, borrowed or owned: its values taken by `values`.
fn compile_kept<S: std::borrow::Borrow<Statement>>(
    statement: S,
    shape: shapes::Shape,
    dialect: Dialect,
    values: fn(S, Dialect) -> Result<Vec<Value>, Error>,
) -> Result<Shared, Error> {
    shapes::compiled(
        statement.borrow().schema(),
        shape,
        dialect,
        statement,
        |statement| values(statement, dialect),
        |statement| compile_checked(statement.borrow(), dialect),
    )
}

/// [`compile`] after [`check::statement`]: lowered, then rendered.
fn compile_checked(statement: &Statement, dialect: Dialect) -> Result<Compiled, Error> {
    if let Statement::Select(q) = statement {
        return compile_select(q, dialect);
    }
    let lowered = lower::statement(statement, dialect)?;
    render::write_statement(&lowered, dialect)
}

/// Compiles a select.
pub fn compile_select(q: &SelectQuery, dialect: Dialect) -> Result<Compiled, Error> {
    compile_select_shared(q, dialect).map(Shared::into_compiled)
}

/// [`compile_select`], with the SQL text of a kept select shared rather than copied.
pub(crate) fn compile_select_shared(q: &SelectQuery, dialect: Dialect) -> Result<Shared, Error> {
    if let Some(shape) = shapes::select_shape(q) {
        return shapes::compiled(
            q.schema,
            shape,
            dialect,
            q,
            |q| shapes::select_values(q, dialect),
            |q| compile_select_uncached(q, dialect),
        );
    }
    let mut skeleton = shapes::Skeleton::new();
    if skeleton.describe(q, dialect) {
        return shapes::compiled_select(
            &skeleton,
            q,
            |q| shapes::skeleton_values(q, dialect),
            |q| compile_select_uncached(q, dialect),
        );
    }
    compile_select_uncached(q, dialect).map(Shared::from)
}

/// [`compile_select`] through the passes (each subquery goes through them too).
fn compile_select_uncached(q: &SelectQuery, dialect: Dialect) -> Result<Compiled, Error> {
    render::select(q, dialect)
}
