//! IR [`Condition`] → filter document, keeping SQL's three-valued logic.
//!
//! A SQL condition is TRUE, FALSE or UNKNOWN (a comparison involving NULL), and a row is
//! returned only when it is TRUE. A MongoDB filter is two-valued, so each condition is
//! compiled twice over: [`Compiler::truthy`] matches the documents where it is TRUE and
//! [`Compiler::falsy`] those where it is FALSE. `NOT c` is TRUE exactly where `c` is FALSE,
//! so negation needs no `$not` and never lets an UNKNOWN row through.
//!
//! Negation is pushed down to the leaves (De Morgan; `$lt` ↔ `$gte`, `$in` ↔ `$nin`,
//! `$eq: null` ↔ `$nin: [null]`) rather than wrapped around a whole subtree with `$nor`: the
//! complement operators keep index bounds usable on MongoDB, and the nx-27017 test server
//! mishandles null tests nested in `$nor`/`$or`/`$and`. Only `$regex`, which has no
//! complement, is negated with `$nor`.

use bson::{Bson, Document, doc};

use super::fields::{check_schema, resolve};
use super::regex::{ilike_to_regex, like_to_regex};
use super::value::to_bson;
use crate::error::{Error, Result};
use crate::query::ir::{CmpOp, ColumnRef, Condition, SelectExpr};
use crate::schema::ModelSchema;
use crate::value::Value;

/// The filter that matches no document: `{_id: {$in: []}}`.
///
/// Used for an empty `in_list`, `Filter::any([])` and `limit(0)`.
pub fn match_nothing() -> Document {
    doc! { "_id": { "$in": [] } }
}

/// The filter document of `condition` over `schema`'s collection (`{}`, every document, for
/// `None`).
///
/// See the module docs of [`crate::mongo`] for the translation of each condition.
pub fn filter_document(
    schema: &'static ModelSchema,
    condition: Option<&Condition>,
) -> Result<Document> {
    check_schema(schema)?;
    if let Some(condition) = condition {
        super::refuse_nesting_in(schema, |f| condition.visit_exprs(&mut |e| f(e)))?;
    }
    // A value whose encoding failed (a `Json<T>` that cannot serialize) is an error, never null.
    crate::sql::fit::condition(condition)?;
    filter_with(&ModelFields(schema), condition)
}

/// The filter document of `condition`, with columns and aggregates resolved by `fields`.
pub(crate) fn filter_with(fields: &dyn Fields, condition: Option<&Condition>) -> Result<Document> {
    crate::sql::fit::condition(condition)?;
    let matched = match condition {
        None => Match::All,
        Some(c) => Compiler { fields }.truthy(c)?,
    };
    Ok(matched.into_document())
}

/// Where a condition finds the values it tests: the field path of a column or of a computed
/// aggregate, and whether it may be NULL.
pub(crate) trait Fields {
    /// The path and nullability of a column.
    fn column(&self, column: &ColumnRef) -> Result<(String, bool)>;

    /// The path and nullability of an aggregate (in `having`); only a `$group` stage has any.
    fn expr(&self, _expr: &SelectExpr) -> Result<(String, bool)> {
        Err(Error::InvalidQuery(
            "an aggregate can only be compared in `having`, after `select(..)`".to_owned(),
        ))
    }
}

/// The fields of one model's documents.
pub(crate) struct ModelFields<'s>(pub(crate) &'s ModelSchema);

impl Fields for ModelFields<'_> {
    fn column(&self, column: &ColumnRef) -> Result<(String, bool)> {
        let (col, path) = resolve(self.0, column)?;
        Ok((path, col.nullable))
    }
}

/// `a AND b` of two filter documents (either may be `{}`).
pub(crate) fn all_of(a: Document, b: Document) -> Document {
    let wrap = |d: Document| {
        if d.is_empty() {
            Match::All
        } else {
            Match::Doc(d)
        }
    };
    all(vec![wrap(a), wrap(b)]).into_document()
}

/// A compiled filter, with the two constants kept apart so that they fold away.
#[derive(Debug)]
enum Match {
    /// Every document (`{}`).
    All,
    /// No document ([`match_nothing`]).
    Nothing,
    /// The documents matching this filter.
    Doc(Document),
}

impl Match {
    fn into_document(self) -> Document {
        match self {
            Match::All => Document::new(),
            Match::Nothing => match_nothing(),
            Match::Doc(d) => d,
        }
    }
}

/// `{path: operators}`.
fn on_field(path: String, operators: impl Into<Bson>) -> Match {
    let mut d = Document::new();
    d.insert(path, operators);
    Match::Doc(d)
}

/// `{path: {operator: value}}`.
fn field_op(path: String, operator: &str, value: Bson) -> Match {
    let mut ops = Document::new();
    ops.insert(operator, value);
    on_field(path, ops)
}

/// `{path: {$eq: null}}`: the field is null or missing.
///
/// Same meaning as the shorthand `{path: null}` on MongoDB; the nx-27017 test server only
/// reads the shorthand right at the top level of a filter.
fn is_null(path: String) -> Match {
    field_op(path, "$eq", Bson::Null)
}

/// `{path: {$nin: [null]}}`: the field is present and not null.
///
/// Same meaning as `{path: {$ne: null}}` on MongoDB; the nx-27017 test server lets `$ne: null`
/// match a missing field (which is what a field `$unset` to NULL is).
fn not_null(path: String) -> Match {
    field_op(path, "$nin", Bson::Array(vec![Bson::Null]))
}

/// Every match holds (`$and`), folding the constants and nested `$and`s.
fn all(items: Vec<Match>) -> Match {
    let mut docs = Vec::new();
    for item in items {
        match item {
            Match::All => {}
            Match::Nothing => return Match::Nothing,
            Match::Doc(d) => push_flat(&mut docs, d, "$and"),
        }
    }
    combine(docs, "$and", Match::All)
}

/// At least one match holds (`$or`), folding the constants and nested `$or`s.
fn any(items: Vec<Match>) -> Match {
    let mut docs = Vec::new();
    for item in items {
        match item {
            Match::All => return Match::All,
            Match::Nothing => {}
            Match::Doc(d) => push_flat(&mut docs, d, "$or"),
        }
    }
    combine(docs, "$or", Match::Nothing)
}

/// Appends `d`, or its members when it is itself `{operator: [..]}` (field names never start
/// with `$`, so such a document is one the compiler built).
fn push_flat(docs: &mut Vec<Document>, d: Document, operator: &str) {
    if d.len() == 1
        && let Ok(members) = d.get_array(operator)
        && members.iter().all(|m| matches!(m, Bson::Document(_)))
    {
        docs.extend(members.iter().filter_map(|m| m.as_document().cloned()));
    } else {
        docs.push(d);
    }
}

/// `{operator: docs}`, the one document itself, or `empty` when there is none.
fn combine(mut docs: Vec<Document>, operator: &str, empty: Match) -> Match {
    match docs.len() {
        0 => empty,
        1 => Match::Doc(docs.pop().expect("one element")),
        _ => {
            let mut d = Document::new();
            d.insert(operator, docs);
            Match::Doc(d)
        }
    }
}

/// The documents `m` does not match: `{$nor: [m]}` (MongoDB's `$not` only negates operators
/// of one field, and the test server lacks it).
fn nor(m: Match) -> Match {
    match m {
        Match::All => Match::Nothing,
        Match::Nothing => Match::All,
        Match::Doc(d) => Match::Doc(doc! { "$nor": [d] }),
    }
}

/// The comparison operator of `op`.
fn operator(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "$eq",
        CmpOp::Ne => "$ne",
        CmpOp::Lt => "$lt",
        CmpOp::Le => "$lte",
        CmpOp::Gt => "$gt",
        CmpOp::Ge => "$gte",
    }
}

/// The operator that holds exactly where `op` is FALSE, for a present, non-null field.
fn negated_operator(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "$ne",
        CmpOp::Ne => "$eq",
        CmpOp::Lt => "$gte",
        CmpOp::Le => "$gt",
        CmpOp::Gt => "$lte",
        CmpOp::Ge => "$lt",
    }
}

/// `{$regex: .., $options: ..}` for a LIKE pattern.
fn regex_operators(pattern: &str, case_insensitive: bool) -> Result<Document> {
    let regex = if case_insensitive {
        ilike_to_regex(pattern)?
    } else {
        like_to_regex(pattern)?
    };
    Ok(doc! { "$regex": regex, "$options": "s" })
}

/// The non-null values of a list, as BSON, and whether the list held a NULL.
fn split_nulls(values: &[Value]) -> (Vec<Bson>, bool) {
    let present = values
        .iter()
        .filter(|v| !v.is_null())
        .map(to_bson)
        .collect();
    (present, values.iter().any(Value::is_null))
}

/// `values` plus `null`: for `$nin`, which would otherwise match null and missing fields.
fn and_null(mut values: Vec<Bson>) -> Bson {
    values.push(Bson::Null);
    Bson::Array(values)
}

struct Compiler<'f> {
    fields: &'f dyn Fields,
}

/// The documents where `path <op> value` is TRUE.
fn compare_truthy(path: String, nullable: bool, op: CmpOp, value: &Value) -> Match {
    match op {
        CmpOp::Eq if value.is_null() => is_null(path),
        CmpOp::Ne if value.is_null() => not_null(path),
        _ if value.is_null() => Match::Nothing,
        CmpOp::Ne if nullable => op_nin_with_null(path, vec![to_bson(value)]),
        _ => field_op(path, operator(op), to_bson(value)),
    }
}

/// The documents where `path <op> value` is FALSE.
fn compare_falsy(path: String, nullable: bool, op: CmpOp, value: &Value) -> Match {
    match op {
        CmpOp::Eq if value.is_null() => not_null(path),
        CmpOp::Ne if value.is_null() => is_null(path),
        // `< NULL` and friends are always UNKNOWN.
        _ if value.is_null() => Match::Nothing,
        CmpOp::Eq if nullable => op_nin_with_null(path, vec![to_bson(value)]),
        _ => field_op(path, negated_operator(op), to_bson(value)),
    }
}

impl Compiler<'_> {
    /// The field path of a column and whether the column is nullable.
    fn column(&self, column: &ColumnRef) -> Result<(String, bool)> {
        self.fields.column(column)
    }

    /// The documents where `c` is TRUE.
    fn truthy(&self, c: &Condition) -> Result<Match> {
        Ok(match c {
            Condition::Compare { column, op, value } => {
                let (path, nullable) = self.column(column)?;
                compare_truthy(path, nullable, *op, value)
            }
            Condition::Between { column, low, high } => {
                let (path, _) = self.column(column)?;
                if low.is_null() || high.is_null() {
                    Match::Nothing
                } else {
                    on_field(path, doc! { "$gte": to_bson(low), "$lte": to_bson(high) })
                }
            }
            Condition::InList {
                column,
                values,
                negated,
            } => {
                let (path, nullable) = self.column(column)?;
                let (present, has_null) = split_nulls(values);
                match negated {
                    false if present.is_empty() => Match::Nothing,
                    false => field_op(path, "$in", Bson::Array(present)),
                    true if values.is_empty() => Match::All,
                    true if has_null => Match::Nothing,
                    true if nullable => op_nin_with_null(path, present),
                    true => field_op(path, "$nin", Bson::Array(present)),
                }
            }
            Condition::Like {
                column,
                pattern,
                case_insensitive,
            } => {
                let (path, _) = self.column(column)?;
                on_field(path, regex_operators(pattern, *case_insensitive)?)
            }
            Condition::CompareExpr { expr, op, value } => {
                let (path, nullable) = self.fields.expr(expr)?;
                compare_truthy(path, nullable, *op, value)
            }
            Condition::InSubquery { .. } | Condition::Exists { .. } => {
                return Err(unresolved_subquery());
            }
            Condition::IsNull { column, negated } => {
                let (path, _) = self.column(column)?;
                if *negated {
                    not_null(path)
                } else {
                    is_null(path)
                }
            }
            Condition::And(items) => all(self.each(items, Self::truthy)?),
            Condition::Or(items) => any(self.each(items, Self::truthy)?),
            Condition::Not(inner) => self.falsy(inner)?,
        })
    }

    /// The documents where `c` is FALSE (not TRUE and not UNKNOWN).
    ///
    /// The negation is pushed down to the leaves, each of which has a complement operator
    /// (`$lt` ↔ `$gte`, `$in` ↔ `$nin`, ...) except `$regex`, negated with `$nor`.
    fn falsy(&self, c: &Condition) -> Result<Match> {
        Ok(match c {
            Condition::Compare { column, op, value } => {
                let (path, nullable) = self.column(column)?;
                compare_falsy(path, nullable, *op, value)
            }
            Condition::Between { column, low, high } => {
                let (path, _) = self.column(column)?;
                match (low.is_null(), high.is_null()) {
                    (true, true) => Match::Nothing,
                    // `f >= NULL AND f <= high` is FALSE only where `f > high`.
                    (true, false) => field_op(path, "$gt", to_bson(high)),
                    (false, true) => field_op(path, "$lt", to_bson(low)),
                    (false, false) => any(vec![
                        field_op(path.clone(), "$lt", to_bson(low)),
                        field_op(path, "$gt", to_bson(high)),
                    ]),
                }
            }
            Condition::InList {
                column,
                values,
                negated,
            } => {
                let (path, nullable) = self.column(column)?;
                let (present, has_null) = split_nulls(values);
                match negated {
                    false if values.is_empty() => Match::All,
                    // `f IN (.., NULL)` is never FALSE.
                    false if has_null => Match::Nothing,
                    false if nullable => op_nin_with_null(path, present),
                    false => field_op(path, "$nin", Bson::Array(present)),
                    true if present.is_empty() => Match::Nothing,
                    true => field_op(path, "$in", Bson::Array(present)),
                }
            }
            Condition::Like {
                column,
                pattern,
                case_insensitive,
            } => {
                let (path, nullable) = self.column(column)?;
                let regex = on_field(path.clone(), regex_operators(pattern, *case_insensitive)?);
                if nullable {
                    // Present, not null, and not matching.
                    all(vec![not_null(path), nor(regex)])
                } else {
                    nor(regex)
                }
            }
            Condition::CompareExpr { expr, op, value } => {
                let (path, nullable) = self.fields.expr(expr)?;
                compare_falsy(path, nullable, *op, value)
            }
            Condition::InSubquery { .. } | Condition::Exists { .. } => {
                return Err(unresolved_subquery());
            }
            Condition::IsNull { column, negated } => {
                let (path, _) = self.column(column)?;
                if *negated {
                    is_null(path)
                } else {
                    not_null(path)
                }
            }
            Condition::And(items) => any(self.each(items, Self::falsy)?),
            Condition::Or(items) => all(self.each(items, Self::falsy)?),
            Condition::Not(inner) => self.truthy(inner)?,
        })
    }

    fn each(
        &self,
        items: &[Condition],
        f: fn(&Self, &Condition) -> Result<Match>,
    ) -> Result<Vec<Match>> {
        items.iter().map(|c| f(self, c)).collect()
    }
}

/// `{path: {$nin: [values.., null]}}`: present, not null, and none of `values`.
fn op_nin_with_null(path: String, values: Vec<Bson>) -> Match {
    field_op(path, "$nin", and_null(values))
}

/// A subquery reached the filter compiler: the executor runs subqueries first (a filter
/// document cannot read another collection), so only a caller compiling by hand sees this.
fn unresolved_subquery() -> Error {
    Error::InvalidQuery(
        "a subquery (`in_subquery`, a relation's `exists`) cannot be compiled into one MongoDB \
         filter document; run the query through a `Db` or `Transaction`, which runs the \
         subquery first"
            .to_owned(),
    )
}
