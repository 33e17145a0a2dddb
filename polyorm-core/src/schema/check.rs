//! User CHECK constraints (`#[orm(check = ...)]`): a typed filter over the model's own columns,
//! kept in the descriptor as the function that builds it, and turned into a neutral,
//! serializable [`CheckExpr`] that every dialect (and the migration engine's snapshots) reads.
//!
//! A CHECK holds literals, never bound parameters: the literals are the ones the model's
//! source code wrote, and each dialect quotes them when it renders the DDL.

use crate::error::Error;
use crate::query::ir::{CmpOp, Condition};
use crate::value::Value;

/// A CHECK constraint declared on a model: `#[orm(check = ...)]` on a field (named
/// `ck_<table>_<column>`) or `#[orm(check(name = ...))]` on the struct (`ck_<table>_<name>`).
#[derive(Debug, Clone, Copy)]
pub struct CheckSchema {
    /// Constraint name (`ck_<table>_<column>` or `ck_<table>_<name>`).
    pub name: &'static str,
    /// The column a field-level check was declared on (`None` for a table-level one).
    pub column: Option<&'static str>,
    /// Builds the condition (a typed `Filter` of the model, checked by the compiler).
    pub condition: fn() -> Condition,
}

impl PartialEq for CheckSchema {
    /// Two checks are equal when they have the same name, column and condition (compared by
    /// value: function addresses are not stable across codegen units).
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.column == other.column
            && (self.condition)() == (other.condition)()
    }
}

impl CheckSchema {
    /// The neutral expression of the condition, or [`Error::Schema`] naming what a CHECK cannot
    /// hold (a subquery, an aggregate, a literal of a type without a portable SQL literal).
    pub fn expr(&self) -> Result<CheckExpr, Error> {
        CheckExpr::from_condition(&(self.condition)()).map_err(|what| {
            Error::Schema(format!(
                "check `{}` cannot be a CHECK constraint: {what}; write it with comparisons, \
                 `between`, `in_list`, `is_null`, `and`, `or` and `not` over this model's \
                 columns and bool, integer, float, decimal or text values",
                self.name
            ))
        })
    }
}

/// A comparison operator of a [`CheckExpr`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum CheckOp {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl From<CmpOp> for CheckOp {
    fn from(op: CmpOp) -> Self {
        match op {
            CmpOp::Eq => CheckOp::Eq,
            CmpOp::Ne => CheckOp::Ne,
            CmpOp::Lt => CheckOp::Lt,
            CmpOp::Le => CheckOp::Le,
            CmpOp::Gt => CheckOp::Gt,
            CmpOp::Ge => CheckOp::Ge,
        }
    }
}

/// A literal inside a [`CheckExpr`].
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum CheckLiteral {
    /// A boolean.
    Bool(bool),
    /// An integer (every integer type up to `i64`).
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A decimal, as its exact text (`"0.5"`).
    Decimal(String),
    /// A text.
    Text(String),
}

/// The neutral form of a CHECK condition: what the DDL of every dialect renders, and what a
/// migration snapshot stores (so that a changed condition is a dropped and an added check).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum CheckExpr {
    /// `column <op> literal`.
    Compare {
        /// The column's name.
        column: String,
        /// The operator.
        op: CheckOp,
        /// The right side.
        value: CheckLiteral,
    },
    /// `column BETWEEN low AND high`.
    Between {
        /// The column's name.
        column: String,
        /// Inclusive lower bound.
        low: CheckLiteral,
        /// Inclusive upper bound.
        high: CheckLiteral,
    },
    /// `column [NOT] IN (...)`.
    InList {
        /// The column's name.
        column: String,
        /// The values.
        values: Vec<CheckLiteral>,
        /// `NOT IN` when true.
        #[cfg_attr(feature = "serde", serde(default))]
        negated: bool,
    },
    /// `column IS [NOT] NULL`.
    IsNull {
        /// The column's name.
        column: String,
        /// `IS NOT NULL` when true.
        #[cfg_attr(feature = "serde", serde(default))]
        negated: bool,
    },
    /// Every condition holds.
    And(Vec<CheckExpr>),
    /// At least one condition holds.
    Or(Vec<CheckExpr>),
    /// The condition does not hold.
    Not(Box<CheckExpr>),
}

impl CheckExpr {
    /// The neutral form of a filter's condition; `Err` says which part a CHECK cannot hold.
    pub fn from_condition(condition: &Condition) -> Result<CheckExpr, String> {
        Ok(match condition {
            Condition::Compare { column, op, value } if value.is_null() => CheckExpr::IsNull {
                column: column.name.to_owned(),
                negated: *op == CmpOp::Ne,
            },
            Condition::Compare { column, op, value } => CheckExpr::Compare {
                column: column.name.to_owned(),
                op: (*op).into(),
                value: literal(value)?,
            },
            Condition::Between { column, low, high } => CheckExpr::Between {
                column: column.name.to_owned(),
                low: literal(low)?,
                high: literal(high)?,
            },
            Condition::InList {
                column,
                values,
                negated,
            } => CheckExpr::InList {
                column: column.name.to_owned(),
                values: values.iter().map(literal).collect::<Result<_, _>>()?,
                negated: *negated,
            },
            Condition::IsNull { column, negated } => CheckExpr::IsNull {
                column: column.name.to_owned(),
                negated: *negated,
            },
            Condition::And(items) => CheckExpr::And(
                items
                    .iter()
                    .map(CheckExpr::from_condition)
                    .collect::<Result<_, _>>()?,
            ),
            Condition::Or(items) => CheckExpr::Or(
                items
                    .iter()
                    .map(CheckExpr::from_condition)
                    .collect::<Result<_, _>>()?,
            ),
            Condition::Not(inner) => CheckExpr::Not(Box::new(CheckExpr::from_condition(inner)?)),
            Condition::Like { .. } => return Err("`like` patterns differ between dialects".into()),
            Condition::CompareExpr { .. } => {
                return Err("it compares a computed expression".into());
            }
            Condition::InSubquery { .. } | Condition::Exists { .. } => {
                return Err("it reads another table (a subquery)".into());
            }
        })
    }

    /// Every column the expression reads, in order of appearance (with repeats).
    pub fn columns(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.visit_columns(&mut |c| out.push(c));
        out
    }

    /// Renames the column `from` to `to` wherever the expression reads it.
    pub fn rename_column(&mut self, from: &str, to: &str) {
        match self {
            CheckExpr::Compare { column, .. }
            | CheckExpr::Between { column, .. }
            | CheckExpr::InList { column, .. }
            | CheckExpr::IsNull { column, .. } => {
                if column == from {
                    to.clone_into(column);
                }
            }
            CheckExpr::And(items) | CheckExpr::Or(items) => {
                items.iter_mut().for_each(|i| i.rename_column(from, to));
            }
            CheckExpr::Not(inner) => inner.rename_column(from, to),
        }
    }

    fn visit_columns<'a>(&'a self, f: &mut impl FnMut(&'a str)) {
        match self {
            CheckExpr::Compare { column, .. }
            | CheckExpr::Between { column, .. }
            | CheckExpr::InList { column, .. }
            | CheckExpr::IsNull { column, .. } => f(column),
            CheckExpr::And(items) | CheckExpr::Or(items) => {
                items.iter().for_each(|i| i.visit_columns(f));
            }
            CheckExpr::Not(inner) => inner.visit_columns(f),
        }
    }
}

/// The literal of a value written in a check, or why it has none.
fn literal(value: &Value) -> Result<CheckLiteral, String> {
    Ok(match value {
        Value::Bool(b) => CheckLiteral::Bool(*b),
        Value::SmallInt(i) => CheckLiteral::Int(i64::from(*i)),
        Value::Int(i) => CheckLiteral::Int(i64::from(*i)),
        Value::BigInt(i) => CheckLiteral::Int(*i),
        Value::Float(f) => CheckLiteral::Float(f64::from(*f)),
        Value::Double(f) => CheckLiteral::Float(*f),
        Value::Text(s) => CheckLiteral::Text(s.clone()),
        #[cfg(feature = "decimal")]
        Value::Decimal(d) => CheckLiteral::Decimal(d.normalize().to_string()),
        Value::Null(_) => return Err("NULL compares only with `is_null`/`is_not_null`".into()),
        _ => {
            return Err(
                "a date, time, UUID, ObjectId, byte-string or JSON value has no literal every \
                 dialect reads the same way"
                    .into(),
            );
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::ir::ColumnRef;

    fn col(name: &'static str) -> ColumnRef {
        ColumnRef::new("t", name)
    }

    #[test]
    fn a_range_condition_becomes_a_neutral_expression() {
        let condition = Condition::And(vec![
            Condition::Compare {
                column: col("confidence"),
                op: CmpOp::Ge,
                value: Value::Double(0.0),
            },
            Condition::Compare {
                column: col("confidence"),
                op: CmpOp::Le,
                value: Value::Double(1.0),
            },
        ]);
        let expr = CheckExpr::from_condition(&condition).unwrap();
        assert_eq!(expr.columns(), ["confidence", "confidence"]);
        assert_eq!(
            expr,
            CheckExpr::And(vec![
                CheckExpr::Compare {
                    column: "confidence".into(),
                    op: CheckOp::Ge,
                    value: CheckLiteral::Float(0.0)
                },
                CheckExpr::Compare {
                    column: "confidence".into(),
                    op: CheckOp::Le,
                    value: CheckLiteral::Float(1.0)
                },
            ])
        );
    }

    #[test]
    fn comparing_with_null_is_a_null_test_and_bytes_are_refused() {
        let is_null = Condition::Compare {
            column: col("a"),
            op: CmpOp::Ne,
            value: Value::Null(crate::schema::ColumnType::Int),
        };
        assert_eq!(
            CheckExpr::from_condition(&is_null).unwrap(),
            CheckExpr::IsNull {
                column: "a".into(),
                negated: true
            }
        );
        let bytes = Condition::Compare {
            column: col("b"),
            op: CmpOp::Eq,
            value: Value::Bytes(vec![1]),
        };
        let err = CheckExpr::from_condition(&bytes).unwrap_err();
        assert!(err.contains("byte-string"), "{err}");
    }
}
