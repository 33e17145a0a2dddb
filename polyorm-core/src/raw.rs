//! Raw SQL with bound parameters, decoded into models or tuples: the escape hatch for what
//! the builder cannot express.
//!
//! ```no_run
//! # async fn run(db: &polyorm_core::Db) -> polyorm_core::Result<()> {
//! let rows: Vec<(i64, String)> = polyorm_core::raw("SELECT id, name FROM users WHERE age > ?")
//!     .bind(30)
//!     .fetch_all(db)
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! Write `?` for every parameter on every dialect; on PostgreSQL they are renumbered to
//! `$1, $2, ...` (a `?` inside a quoted string, a quoted identifier or a comment is left alone).

use crate::error::{Error, Result};
use crate::exec::{ExecResult, Executor, RowRef};
use crate::model::Model;
use crate::sql::{Compiled, Dialect};
use crate::value::{FieldType, Value};

/// A type a raw query's rows decode into: any model, or a tuple of field types read by
/// position (`(i64,)`, `(String, Option<i32>)`, ... up to 8 columns).
pub trait FromRow: Sized + Send + 'static {
    /// Decodes one row.
    fn from_row(row: &RowRef<'_>) -> Result<Self>;
}

/// A struct built from the values of a projection, one field per value in order: what
/// `#[derive(FromRow)]` generates beside [`FromRow`], so that `select((..)).all_as::<T>(&db)`
/// compiles only when the selected values have the struct's field types.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be built from rows of `{V}`",
    label = "select values of the struct's field types, in field order",
    note = "`#[derive(FromRow)]` on the struct builds it from exactly its fields' types, in order"
)]
pub trait FromValues<V>: Sized + Send + 'static {
    /// The struct holding `values`.
    fn from_values(values: V) -> Self;
}

impl<M: Model> FromRow for M {
    fn from_row(row: &RowRef<'_>) -> Result<Self> {
        M::decode_row(row, 0)
    }
}

macro_rules! tuple_from_row {
    ($($name:ident $index:tt),+) => {
        impl<$($name: FieldType),+> FromRow for ($($name,)+) {
            fn from_row(row: &RowRef<'_>) -> Result<Self> {
                Ok(($($name::decode(row, $index)?,)+))
            }
        }
    };
}
tuple_from_row!(A 0);
tuple_from_row!(A 0, B 1);
tuple_from_row!(A 0, B 1, C 2);
tuple_from_row!(A 0, B 1, C 2, D 3);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);

/// A value [`Raw::bind`] accepts: any field type, `&str` and `&[u8]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be bound to a raw SQL parameter",
    label = "expected a field type (i64, String, Option<_>, ...), `&str` or `&[u8]`"
)]
pub trait Bind {
    /// The bound value.
    fn into_bound_value(self) -> Value;
}

impl<T: FieldType> Bind for T {
    fn into_bound_value(self) -> Value {
        self.into_value()
    }
}

impl Bind for &str {
    fn into_bound_value(self) -> Value {
        Value::Text(self.to_owned())
    }
}

impl Bind for &[u8] {
    fn into_bound_value(self) -> Value {
        Value::Bytes(self.to_vec())
    }
}

/// A raw SQL statement and its parameters; see the [module docs](self).
#[derive(Debug, Clone, PartialEq)]
#[must_use = "a raw query does nothing until it is run with `fetch_all`, `execute`, ..."]
pub struct Raw {
    sql: String,
    values: Vec<Value>,
}

/// Starts a raw SQL statement with `?` placeholders.
pub fn raw(sql: impl Into<String>) -> Raw {
    Raw {
        sql: sql.into(),
        values: Vec::new(),
    }
}

impl Raw {
    /// Binds the next `?` to `value` (`None::<T>` binds a typed NULL).
    pub fn bind(mut self, value: impl Bind) -> Self {
        self.values.push(value.into_bound_value());
        self
    }

    /// The statement for `dialect`, with its placeholders renumbered where needed.
    pub fn compile(&self, dialect: Dialect) -> Result<Compiled> {
        let (sql, count) = placeholders(&self.sql, dialect);
        if count != self.values.len() {
            return Err(Error::InvalidQuery(format!(
                "raw SQL has {count} `?` placeholder(s) but {} bound value(s)",
                self.values.len()
            )));
        }
        Ok(Compiled {
            sql,
            values: self.values.clone(),
        })
    }

    /// Runs the query and decodes every row into `T`.
    pub async fn fetch_all<T: FromRow, E: Executor>(self, db: &E) -> Result<Vec<T>> {
        db.fetch_compiled(self.compile(crate::exec::sql_dialect_of(db)?)?, T::from_row)
            .await
    }

    /// Runs the query and decodes the first row, if any.
    pub async fn fetch_optional<T: FromRow, E: Executor>(self, db: &E) -> Result<Option<T>> {
        let rows = db
            .fetch_compiled(self.compile(crate::exec::sql_dialect_of(db)?)?, T::from_row)
            .await?;
        Ok(rows.into_iter().next())
    }

    /// Runs the query and decodes its first row; [`Error::NotFound`] when it returns none.
    pub async fn fetch_one<T: FromRow, E: Executor>(self, db: &E) -> Result<T> {
        self.fetch_optional(db).await?.ok_or(Error::NotFound {
            table: "raw SQL",
            detail: " (the query returned no row)",
        })
    }

    /// Runs a statement that returns no rows.
    pub async fn execute<E: Executor>(self, db: &E) -> Result<ExecResult> {
        db.execute_compiled(self.compile(crate::exec::sql_dialect_of(db)?)?)
            .await
    }
}

/// Rewrites `?` to `$n` on PostgreSQL, skipping quoted text and comments; returns the SQL and
/// the number of placeholders.
fn placeholders(sql: &str, dialect: Dialect) -> (String, usize) {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut count = 0;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' | '`' => {
                out.push(c);
                // Copy through the closing quote; a doubled quote is an escaped one.
                while let Some(q) = chars.next() {
                    out.push(q);
                    if q == c {
                        if chars.peek() == Some(&c) {
                            out.push(chars.next().expect("peeked"));
                        } else {
                            break;
                        }
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                out.push(c);
                for q in chars.by_ref() {
                    out.push(q);
                    if q == '\n' {
                        break;
                    }
                }
            }
            '?' => {
                count += 1;
                match dialect {
                    Dialect::Postgres => out.push_str(&format!("${count}")),
                    Dialect::MySql | Dialect::Sqlite => out.push('?'),
                }
            }
            other => out.push(other),
        }
    }
    (out, count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_outside_quotes_and_comments_on_postgres() {
        let sql = "SELECT '?', \"a?\", x FROM t WHERE a = ? AND b = 'it''s ?' -- why?\nAND c = ?";
        let (pg, n) = placeholders(sql, Dialect::Postgres);
        assert_eq!(n, 2);
        assert_eq!(
            pg,
            "SELECT '?', \"a?\", x FROM t WHERE a = $1 AND b = 'it''s ?' -- why?\nAND c = $2"
        );
        assert_eq!(placeholders(sql, Dialect::MySql), (sql.to_owned(), 2));
    }

    #[test]
    fn placeholder_count_must_match_bound_values() {
        let err = raw("SELECT ?, ?")
            .bind(1_i64)
            .compile(Dialect::Sqlite)
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("2 `?` placeholder(s) but 1 bound value(s)"),
            "{err}"
        );
    }
}
