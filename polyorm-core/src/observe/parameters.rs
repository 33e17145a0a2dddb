//! The bound values of a statement by column, for [`Tracing::record_values`]: read from the
//! IR (where each value's column is known), redacted by column name.
//!
//! [`Tracing::record_values`]: super::Tracing::record_values

use std::fmt::Write;

use crate::exec::Op;
use crate::query::ir::{Assignment, Condition, InsertQuery, SelectQuery, Statement};
use crate::value::Value;

/// What a redacted value reads as.
pub const REDACTED: &str = "[redacted]";

/// Column rules: a value of a listed column is never shown.
#[derive(Debug, Clone, Default)]
pub(crate) struct Redaction {
    /// `(table, column)`; a `None` table names the column in every table.
    columns: Vec<(Option<String>, String)>,
}

impl Redaction {
    pub(crate) fn add(&mut self, table: Option<String>, column: String) {
        self.columns.push((table, column));
    }

    fn hides(&self, table: &str, column: &str) -> bool {
        self.columns
            .iter()
            .any(|(t, c)| c == column && t.as_deref().is_none_or(|t| t == table))
    }
}

/// `table.column=value, …` for every value `op` binds; `None` for SQL the caller wrote (its
/// values have no column to redact by, so they are never shown).
pub(crate) fn parameters<T>(op: &Op<T>, redaction: &Redaction) -> Option<String> {
    let mut out = Shown {
        text: String::new(),
        redaction,
    };
    match op {
        Op::FetchAll(query, _) | Op::FetchOptional(query, _) | Op::Count(query) => {
            out.select(query);
        }
        Op::InsertReturning(query, _) => out.insert(query),
        Op::Execute(statement) => match statement {
            Statement::Select(query) => out.select(query),
            Statement::Insert(query) => out.insert(query),
            Statement::Upsert(query) => out.insert(&query.insert),
            Statement::Update(query) => {
                for (column, assignment) in &query.assignments {
                    let value = match assignment {
                        Assignment::Value(value) | Assignment::Add { delta: value, .. } => value,
                    };
                    out.push(query.schema.table, column, value);
                }
                out.condition(query.filter.as_ref());
            }
            Statement::Delete(query) => out.condition(query.filter.as_ref()),
        },
        Op::ExecuteRaw(_) | Op::FetchCompiled(..) | Op::ExecuteCompiled(_) => return None,
    }
    Some(out.text)
}

struct Shown<'a> {
    text: String,
    redaction: &'a Redaction,
}

impl Shown<'_> {
    fn push(&mut self, table: &str, column: &str, value: &Value) {
        if !self.text.is_empty() {
            self.text.push_str(", ");
        }
        let _ = write!(self.text, "{table}.{column}=");
        if self.redaction.hides(table, column) {
            self.text.push_str(REDACTED);
            return;
        }
        #[allow(unreachable_patterns)]
        let _ = match value {
            Value::Null(_) => write!(self.text, "NULL"),
            Value::Bool(b) => write!(self.text, "{b}"),
            Value::SmallInt(n) => write!(self.text, "{n}"),
            Value::Int(n) => write!(self.text, "{n}"),
            Value::BigInt(n) => write!(self.text, "{n}"),
            Value::BigUnsigned(n) => write!(self.text, "{n}"),
            Value::Float(f) => write!(self.text, "{f}"),
            Value::Double(f) => write!(self.text, "{f}"),
            Value::Text(s) => write!(self.text, "{s:?}"),
            other => write!(self.text, "{other:?}"),
        };
    }

    fn insert(&mut self, query: &InsertQuery) {
        for row in &query.rows {
            for (column, value) in query.schema.insert_columns().zip(row) {
                self.push(query.schema.table, column.name, value);
            }
        }
    }

    fn select(&mut self, query: &SelectQuery) {
        self.condition(query.filter.as_ref());
    }

    fn condition(&mut self, condition: Option<&Condition>) {
        let Some(condition) = condition else { return };
        match condition {
            Condition::Compare { column, value, .. } => self.push(column.table, column.name, value),
            Condition::Between { column, low, high } => {
                self.push(column.table, column.name, low);
                self.push(column.table, column.name, high);
            }
            Condition::InList { column, values, .. } => {
                for value in values {
                    self.push(column.table, column.name, value);
                }
            }
            Condition::Like {
                column, pattern, ..
            } => self.push(column.table, column.name, &Value::Text(pattern.clone())),
            // An aggregate's bound has no column of its own.
            Condition::CompareExpr { .. } | Condition::IsNull { .. } => {}
            Condition::InSubquery { subquery, .. } | Condition::Exists { subquery, .. } => {
                self.select(subquery);
            }
            Condition::And(all) | Condition::Or(all) => {
                for c in all {
                    self.condition(Some(c));
                }
            }
            Condition::Not(inner) => self.condition(Some(inner)),
        }
    }
}
