//! Condition, key-condition, update and projection expressions. Every attribute name is an
//! `#nN` placeholder of `ExpressionAttributeNames` and every value a `:vN` placeholder of
//! `ExpressionAttributeValues`: nothing a user wrote ever becomes expression text.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::value::to_attr;
use crate::error::{Error, Result};
use crate::query::ir::{CmpOp, ColumnRef, Condition};
use crate::schema::ModelSchema;
use crate::value::Value;

/// The placeholders of one request: attribute names and values, each under its own key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Placeholders {
    /// `#n0` → attribute name.
    pub names: HashMap<String, String>,
    /// `:v0` → value.
    pub values: HashMap<String, AttributeValue>,
}

impl Placeholders {
    /// The placeholder of attribute `name` (one per name).
    pub fn name(&mut self, name: &str) -> String {
        if let Some((key, _)) = self.names.iter().find(|(_, n)| n.as_str() == name) {
            return key.clone();
        }
        let key = format!("#n{}", self.names.len());
        self.names.insert(key.clone(), name.to_owned());
        key
    }

    /// The placeholder of a value that is present (not NULL).
    pub fn attr(&mut self, value: AttributeValue) -> String {
        let key = format!(":v{}", self.values.len());
        self.values.insert(key.clone(), value);
        key
    }

    /// The placeholder of `value`; `None` for NULL.
    pub fn value(&mut self, value: &Value) -> Result<Option<String>> {
        Ok(to_attr(value)?.map(|v| self.attr(v)))
    }

    /// The names, or `None` when there are none (the request must then leave them out).
    pub fn names_or_none(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    /// The values, or `None` when there are none.
    pub fn values_or_none(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

/// The most values DynamoDB's `IN` takes.
const MAX_IN_VALUES: usize = 100;

/// Compiles conditions over one table to a filter or condition expression.
pub(crate) struct FilterCompiler<'p> {
    pub(crate) schema: &'static ModelSchema,
    pub(crate) p: &'p mut Placeholders,
}

impl FilterCompiler<'_> {
    /// An expression that is always false: the partition key of every item exists.
    fn never(&mut self) -> String {
        let pk = self.key_name();
        format!("attribute_not_exists({pk})")
    }

    /// An expression that is always true.
    fn always(&mut self) -> String {
        let pk = self.key_name();
        format!("attribute_exists({pk})")
    }

    fn key_name(&mut self) -> String {
        let first = self.schema.primary_key.first().copied().unwrap_or(0);
        let name = self.schema.columns[first].name;
        self.p.name(name)
    }

    fn column(&mut self, column: &ColumnRef) -> Result<String> {
        if column.table != self.schema.table || self.schema.column(column.name).is_none() {
            return Err(unsupported(
                self.schema,
                "a condition on another table's column",
                "DynamoDB reads one table per request: filter on this model's attributes",
            ));
        }
        Ok(self.p.name(column.name))
    }

    /// `condition`, or its SQL negation when `negated` (pushed down to the leaves so that an
    /// absent attribute — SQL's NULL — makes a comparison UNKNOWN, never TRUE, either way).
    pub(crate) fn compile(&mut self, condition: &Condition, negated: bool) -> Result<String> {
        Ok(match condition {
            Condition::Compare { column, op, value } => {
                let name = self.column(column)?;
                let op = if negated { negate(*op) } else { *op };
                match (self.p.value(value)?, op) {
                    (None, CmpOp::Eq) => format!("attribute_not_exists({name})"),
                    (None, CmpOp::Ne) => format!("attribute_exists({name})"),
                    (None, _) => self.never(),
                    (Some(v), CmpOp::Ne) => {
                        format!("(attribute_exists({name}) AND {name} <> {v})")
                    }
                    (Some(v), op) => format!("{name} {} {v}", op_text(op)),
                }
            }
            Condition::Between { column, low, high } => {
                let name = self.column(column)?;
                match (self.p.value(low)?, self.p.value(high)?) {
                    (Some(l), Some(h)) if negated => {
                        format!("({name} < {l} OR {name} > {h})")
                    }
                    (Some(l), Some(h)) => format!("{name} BETWEEN {l} AND {h}"),
                    _ => self.never(),
                }
            }
            Condition::InList {
                column,
                values,
                negated: not_in,
            } => {
                let name = self.column(column)?;
                let negated = negated != *not_in;
                let mut present = Vec::with_capacity(values.len());
                let mut has_null = false;
                for v in values {
                    match self.p.value(v)? {
                        Some(v) => present.push(v),
                        None => has_null = true,
                    }
                }
                if negated && has_null {
                    // `x NOT IN (.., NULL)` is never TRUE.
                    return Ok(self.never());
                }
                if present.is_empty() {
                    return Ok(if negated { self.always() } else { self.never() });
                }
                let lists: Vec<String> = present
                    .chunks(MAX_IN_VALUES)
                    .map(|chunk| format!("{name} IN ({})", chunk.join(", ")))
                    .collect();
                if negated {
                    let nots: Vec<String> = lists.iter().map(|l| format!("NOT {l}")).collect();
                    format!("(attribute_exists({name}) AND {})", nots.join(" AND "))
                } else {
                    format!("({})", lists.join(" OR "))
                }
            }
            Condition::IsNull {
                column,
                negated: not_null,
            } => {
                let name = self.column(column)?;
                if negated != *not_null {
                    format!("attribute_exists({name})")
                } else {
                    format!("attribute_not_exists({name})")
                }
            }
            Condition::Like {
                column,
                pattern,
                case_insensitive,
            } => {
                let name = self.column(column)?;
                let test = self.like(&name, pattern, *case_insensitive)?;
                if negated {
                    format!("(attribute_exists({name}) AND NOT {test})")
                } else {
                    test
                }
            }
            Condition::And(parts) | Condition::Or(parts) => {
                let is_and = matches!(condition, Condition::And(_)) != negated;
                if parts.is_empty() {
                    return Ok(if is_and { self.always() } else { self.never() });
                }
                let compiled = parts
                    .iter()
                    .map(|c| self.compile(c, negated))
                    .collect::<Result<Vec<_>>>()?;
                format!("({})", compiled.join(if is_and { " AND " } else { " OR " }))
            }
            Condition::Not(inner) => self.compile(inner, !negated)?,
            Condition::CompareExpr { .. } => {
                return Err(unsupported(
                    self.schema,
                    "a comparison of a computed expression",
                    "compare attributes with values, or compute in Rust",
                ));
            }
            Condition::InSubquery { .. } | Condition::Exists { .. } => {
                return Err(unsupported(
                    self.schema,
                    "a subquery",
                    "run the inner query first and filter with `in_list` of its values",
                ));
            }
            #[allow(unreachable_patterns)]
            _ => {
                return Err(unsupported(
                    self.schema,
                    "this condition",
                    "filter with comparisons, `in_list`, `between`, `is_null` or a prefix `like`",
                ));
            }
        })
    }

    /// `LIKE` as DynamoDB functions: `abc` → equality, `abc%` → `begins_with`, `%abc%` →
    /// `contains`; other patterns, and `ilike` of a pattern with letters, are refused.
    fn like(&mut self, name: &str, pattern: &str, case_insensitive: bool) -> Result<String> {
        let mut literal = String::new();
        let mut wildcards = Vec::new();
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => literal.push(chars.next().unwrap_or('\\')),
                '%' | '_' => wildcards.push((literal.chars().count(), c)),
                c => literal.push(c),
            }
        }
        if case_insensitive && literal.chars().any(|c| c.is_ascii_alphabetic()) {
            return Err(unsupported(
                self.schema,
                "`ilike` (DynamoDB compares text case-sensitively)",
                "store a lower-cased copy of the attribute and filter it with `like`",
            ));
        }
        let len = literal.chars().count();
        if len == 0 && !wildcards.is_empty() && wildcards.iter().all(|w| w.1 == '%') {
            return Ok(format!("attribute_exists({name})"));
        }
        let v = self.p.attr(AttributeValue::S(literal));
        Ok(match wildcards.as_slice() {
            [] => format!("{name} = {v}"),
            [(at, '%')] if *at == len => format!("begins_with({name}, {v})"),
            [(0, '%'), (at, '%')] if *at == len => format!("contains({name}, {v})"),
            _ => {
                return Err(unsupported(
                    self.schema,
                    "this `like` pattern (DynamoDB has only `begins_with` and `contains`)",
                    "use `prefix%`, `%infix%` or an exact value, or filter in Rust",
                ));
            }
        })
    }
}

fn negate(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Eq => CmpOp::Ne,
        CmpOp::Ne => CmpOp::Eq,
        CmpOp::Lt => CmpOp::Ge,
        CmpOp::Le => CmpOp::Gt,
        CmpOp::Gt => CmpOp::Le,
        CmpOp::Ge => CmpOp::Lt,
    }
}

pub(crate) fn op_text(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "=",
        CmpOp::Ne => "<>",
        CmpOp::Lt => "<",
        CmpOp::Le => "<=",
        CmpOp::Gt => ">",
        CmpOp::Ge => ">=",
    }
}

/// [`Error::Unsupported`] on DynamoDB.
pub(crate) fn unsupported(
    schema: &'static ModelSchema,
    construct: &'static str,
    advice: &'static str,
) -> Error {
    Error::Unsupported {
        backend: "DynamoDB",
        construct,
        table: schema.table,
        advice,
    }
}
