//! User CHECK constraints ([`CheckExpr`]) as `$jsonSchema` clauses of the collection's
//! validator, with SQL's meaning: a CHECK rejects a row only when its condition is FALSE (a
//! NULL operand makes it UNKNOWN, which passes).
//!
//! Each expression is written twice, as the schema of the documents where it is TRUE and of
//! those where it is FALSE (three-valued logic: NOT swaps them, AND and OR combine them with
//! `allOf`/`anyOf`); the validator requires `not` FALSE. JSON Schema orders numbers only, so a
//! check that orders text (`<`, `between` on a `String`) is refused with [`Error::Schema`].

use bson::{Bson, Document, doc};

use super::fields::{ID_FIELD, single_key};
use crate::error::{Error, Result};
use crate::schema::{CheckExpr, CheckLiteral, CheckOp, CheckSchema, ModelSchema};

/// The `$jsonSchema` clause of one check: `{not: <documents where it is FALSE>}`.
pub(super) fn check_clause(schema: &ModelSchema, check: &CheckSchema) -> Result<Document> {
    let expr = check.expr()?;
    let cx = Cx { schema, check };
    Ok(doc! { "not": cx.when(&expr, false)? })
}

struct Cx<'a> {
    schema: &'a ModelSchema,
    check: &'a CheckSchema,
}

impl Cx<'_> {
    fn refuse(&self, what: &str) -> Error {
        Error::Schema(format!(
            "check `{}` of `{}` cannot be enforced by a MongoDB validator: {what}",
            self.check.name, self.schema.table
        ))
    }

    /// The field path of `column` (a top-level field: `_id` for a single-column key).
    fn field(&self, column: &str) -> Result<String> {
        let col = self
            .schema
            .column(column)
            .ok_or_else(|| self.refuse(&format!("`{column}` is not a column of the model")))?;
        match (col.primary_key, single_key(self.schema)) {
            (true, true) => Ok(ID_FIELD.to_owned()),
            (true, false) => Err(self.refuse(&format!(
                "`{column}` is part of a composite key, stored inside `_id`"
            ))),
            (false, _) => Ok(col.name.to_owned()),
        }
    }

    /// Documents whose field `column` is present, not null, and matches `property`.
    fn value_is(&self, column: &str, property: Document) -> Result<Document> {
        let field = self.field(column)?;
        let not_null = doc! { "bsonType": "null" };
        let property = if property.contains_key("not") {
            doc! { "allOf": [property, { "not": not_null }] }
        } else {
            let mut property = property;
            property.insert("not", not_null);
            property
        };
        Ok(doc! { "required": [field.clone()], "properties": { field: property } })
    }

    /// Documents whose field `column` is null or missing.
    fn is_null(&self, column: &str) -> Result<Document> {
        let field = self.field(column)?;
        Ok(doc! { "anyOf": [
            { "not": { "required": [field.clone()] } },
            { "properties": { field: { "bsonType": "null" } } },
        ] })
    }

    fn number(&self, value: &CheckLiteral) -> Result<Bson> {
        Ok(match value {
            CheckLiteral::Int(i) => Bson::Int64(*i),
            CheckLiteral::Float(f) => Bson::Double(*f),
            CheckLiteral::Decimal(text) => Bson::Decimal128(
                text.parse()
                    .map_err(|_| self.refuse(&format!("`{text}` is not a decimal")))?,
            ),
            CheckLiteral::Bool(_) | CheckLiteral::Text(_) => {
                return Err(self.refuse(
                    "JSON Schema orders numbers only; compare text and booleans with \
                     `eq`, `ne` or `in_list`",
                ));
            }
        })
    }

    fn literal(value: &CheckLiteral) -> Bson {
        match value {
            CheckLiteral::Bool(b) => Bson::Boolean(*b),
            CheckLiteral::Int(i) => Bson::Int64(*i),
            CheckLiteral::Float(f) => Bson::Double(*f),
            CheckLiteral::Decimal(text) => text
                .parse()
                .map(Bson::Decimal128)
                .unwrap_or_else(|_| Bson::String(text.clone())),
            CheckLiteral::Text(s) => Bson::String(s.clone()),
        }
    }

    /// `value <op> bound` as a JSON Schema property (numbers only).
    fn ordered(&self, op: CheckOp, bound: &CheckLiteral) -> Result<Document> {
        let bound = self.number(bound)?;
        Ok(match op {
            CheckOp::Lt => doc! { "maximum": bound, "exclusiveMaximum": true },
            CheckOp::Le => doc! { "maximum": bound },
            CheckOp::Gt => doc! { "minimum": bound, "exclusiveMinimum": true },
            CheckOp::Ge => doc! { "minimum": bound },
            CheckOp::Eq | CheckOp::Ne => unreachable!("equality is written with `enum`"),
        })
    }

    /// The documents where `expr` is `truth` (TRUE or FALSE; never UNKNOWN).
    fn when(&self, expr: &CheckExpr, truth: bool) -> Result<Document> {
        let negate = |op: CheckOp| match op {
            CheckOp::Eq => CheckOp::Ne,
            CheckOp::Ne => CheckOp::Eq,
            CheckOp::Lt => CheckOp::Ge,
            CheckOp::Le => CheckOp::Gt,
            CheckOp::Gt => CheckOp::Le,
            CheckOp::Ge => CheckOp::Lt,
        };
        match expr {
            CheckExpr::Compare { column, op, value } => {
                let op = if truth { *op } else { negate(*op) };
                let property = match op {
                    CheckOp::Eq => doc! { "enum": [Self::literal(value)] },
                    CheckOp::Ne => doc! { "not": { "enum": [Self::literal(value)] } },
                    _ => self.ordered(op, value)?,
                };
                self.value_is(column, property)
            }
            CheckExpr::Between { column, low, high } => {
                let (low, high) = (self.number(low)?, self.number(high)?);
                if truth {
                    self.value_is(column, doc! { "minimum": low, "maximum": high })
                } else {
                    Ok(doc! { "anyOf": [
                        self.value_is(column, doc! { "maximum": low, "exclusiveMaximum": true })?,
                        self.value_is(column, doc! { "minimum": high, "exclusiveMinimum": true })?,
                    ] })
                }
            }
            CheckExpr::InList {
                column,
                values,
                negated,
            } => {
                let values: Vec<Bson> = values.iter().map(Self::literal).collect();
                // `x IN ()` is FALSE and `x NOT IN ()` TRUE, even for a NULL `x`.
                if values.is_empty() {
                    return Ok(if truth == *negated {
                        doc! {}
                    } else {
                        doc! { "not": {} }
                    });
                }
                let inside = doc! { "enum": values };
                if truth != *negated {
                    self.value_is(column, inside)
                } else {
                    self.value_is(column, doc! { "not": inside })
                }
            }
            CheckExpr::IsNull { column, negated } => {
                if truth != *negated {
                    self.is_null(column)
                } else {
                    let field = self.field(column)?;
                    Ok(doc! {
                        "required": [field.clone()],
                        "properties": { field: { "not": { "bsonType": "null" } } },
                    })
                }
            }
            CheckExpr::And(items) | CheckExpr::Or(items) => {
                // TRUE AND: all TRUE; FALSE AND: any FALSE (and the dual for OR).
                let all = matches!(expr, CheckExpr::And(_)) == truth;
                let parts = items
                    .iter()
                    .map(|i| self.when(i, truth).map(Bson::Document))
                    .collect::<Result<Vec<_>>>()?;
                Ok(match (parts.is_empty(), all) {
                    (true, true) => doc! {},
                    (true, false) => doc! { "not": {} },
                    (false, true) => doc! { "allOf": parts },
                    (false, false) => doc! { "anyOf": parts },
                })
            }
            CheckExpr::Not(inner) => self.when(inner, !truth),
        }
    }
}
