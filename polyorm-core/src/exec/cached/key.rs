//! A strict encoding of a select, for cache keys that need no compiled SQL.
//!
//! Two selects with the same encoding (and the same schema and backend) are the same
//! statement with the same bound values: every field of the IR that the compiler reads is
//! written, values by type and bits ([`encode_value`]: `0.0` and `-0.0`, `1.0` and `1.00`, one
//! instant in two offsets all differ), strings and lists length-prefixed. Only the common
//! shapes are encoded (one model, no join, filters of column comparisons, orders by column,
//! paging); for anything else the caller keys by [`read_statement`](super::read_statement).
//!
//! Every struct of the IR is destructured without `..` and every enum matched without a
//! wildcard, so a field or variant added to the IR does not compile here until it is encoded
//! or refused.

use super::encode_value;
use crate::query::ir::{
    CmpOp, ColumnRef, Condition, Direction, Nulls, OrderBy, Projection, ReadOptions, SelectExpr,
    SelectQuery,
};
use crate::schema::ModelSchema;
use crate::value::Value;

/// Appends the strict encoding of `query` to `out`; `false` when the query is not of a shape
/// encoded here (`out` is then partly written: discard it).
///
/// The schema is not written, only positions into its columns: the caller keys by the schema
/// too (its table and every column, e.g. through its `Debug` text).
pub fn encode_select(query: &SelectQuery, out: &mut Vec<u8>) -> bool {
    let SelectQuery {
        schema,
        projection,
        filter,
        order,
        limit,
        offset,
        lock,
        joins,
        index_hint,
        after,
        outer,
        compound,
        walk,
        with,
        read,
    } = query;
    if lock.is_some()
        || !joins.is_empty()
        || index_hint.is_some()
        || outer.is_some()
        || !compound.is_empty()
        || walk.is_some()
        || !with.is_empty()
    {
        return false;
    }
    out.extend_from_slice(b"select/1");
    out.push(match projection {
        Projection::Model => 0,
        Projection::Count => 1,
        Projection::Exists => 2,
        Projection::Exprs(_) => return false,
    });
    match filter {
        None => out.push(0),
        Some(condition) => {
            out.push(1);
            if !encode_condition(schema, condition, out) {
                return false;
            }
        }
    }
    put_len(out, order.len());
    for OrderBy {
        expr,
        direction,
        nulls,
    } in order
    {
        let SelectExpr::Column(column) = expr else {
            return false;
        };
        encode_column(schema, column, out);
        out.push(match direction {
            Direction::Asc => 0,
            Direction::Desc => 1,
        });
        out.push(match nulls {
            None => 0,
            Some(Nulls::First) => 1,
            Some(Nulls::Last) => 2,
        });
    }
    put_u64(out, *limit);
    put_u64(out, *offset);
    match after {
        None => out.push(0),
        Some(values) => {
            out.push(1);
            put_values(out, values);
        }
    }
    let ReadOptions {
        allow_scan,
        consistent,
    } = read;
    out.extend_from_slice(&[u8::from(*allow_scan), u8::from(*consistent)]);
    true
}

fn encode_condition(schema: &ModelSchema, condition: &Condition, out: &mut Vec<u8>) -> bool {
    match condition {
        Condition::Compare { column, op, value } => {
            out.push(1);
            encode_column(schema, column, out);
            out.push(match op {
                CmpOp::Eq => 0,
                CmpOp::Ne => 1,
                CmpOp::Lt => 2,
                CmpOp::Le => 3,
                CmpOp::Gt => 4,
                CmpOp::Ge => 5,
            });
            encode_value(value, out);
        }
        Condition::Between { column, low, high } => {
            out.push(2);
            encode_column(schema, column, out);
            encode_value(low, out);
            encode_value(high, out);
        }
        Condition::InList {
            column,
            values,
            negated,
        } => {
            out.push(3);
            encode_column(schema, column, out);
            out.push(u8::from(*negated));
            put_values(out, values);
        }
        Condition::Like {
            column,
            pattern,
            case_insensitive,
        } => {
            out.push(4);
            encode_column(schema, column, out);
            out.push(u8::from(*case_insensitive));
            put_str(out, pattern);
        }
        Condition::IsNull { column, negated } => {
            out.push(5);
            encode_column(schema, column, out);
            out.push(u8::from(*negated));
        }
        Condition::And(items) | Condition::Or(items) => {
            out.push(if matches!(condition, Condition::And(_)) {
                6
            } else {
                7
            });
            put_len(out, items.len());
            return items.iter().all(|item| encode_condition(schema, item, out));
        }
        Condition::Not(inner) => {
            out.push(8);
            return encode_condition(schema, inner, out);
        }
        Condition::CompareExpr { .. } | Condition::InSubquery { .. } | Condition::Exists { .. } => {
            return false;
        }
    }
    true
}

/// A column of the model's table as its position in the schema, any other by its names.
fn encode_column(schema: &ModelSchema, column: &ColumnRef, out: &mut Vec<u8>) {
    let ColumnRef { table, name } = column;
    let position = (*table == schema.table)
        .then(|| schema.columns.iter().position(|c| c.name == *name))
        .flatten();
    match position {
        Some(at) => {
            out.push(0);
            put_len(out, at);
        }
        None => {
            out.push(1);
            put_str(out, table);
            put_str(out, name);
        }
    }
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_len(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

fn put_u64(out: &mut Vec<u8>, n: Option<u64>) {
    match n {
        None => out.push(0),
        Some(n) => {
            out.push(1);
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
}

fn put_values(out: &mut Vec<u8>, values: &[Value]) {
    put_len(out, values.len());
    for value in values {
        encode_value(value, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::ir::{JoinClause, JoinKind, RowLock};
    use crate::schema::{ColumnSchema, ColumnType};
    use crate::sql::{Dialect, compile_select};

    const fn column(name: &'static str, ty: ColumnType, primary_key: bool) -> ColumnSchema {
        ColumnSchema::plain(name, ty, !primary_key, primary_key)
    }

    static ITEMS: ModelSchema = ModelSchema {
        name: "Item",
        table: "key_items",
        columns: &[
            column("id", ColumnType::BigInt, true),
            column("name", ColumnType::Text, false),
            column("price", ColumnType::Double, false),
        ],
        primary_key: &[0],
        indexes: &[],
        foreign_keys: &[],
        checks: &[],
        renamed_from: None,
        shard_key: None,
        soft_delete: None,
    };

    fn col(name: &'static str) -> ColumnRef {
        ColumnRef::new("key_items", name)
    }

    fn compare(name: &'static str, op: CmpOp, value: Value) -> Condition {
        Condition::Compare {
            column: col(name),
            op,
            value,
        }
    }

    fn select(filter: Option<Condition>) -> SelectQuery {
        let mut q = SelectQuery::new(&ITEMS, Projection::Model);
        q.filter = filter;
        q
    }

    fn encoded(q: &SelectQuery) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        encode_select(q, &mut out).then_some(out)
    }

    /// Selects that differ in one part each, including parts whose `PartialEq` or compiled
    /// SQL text do not tell apart.
    fn variants() -> Vec<SelectQuery> {
        let ordered = |direction, nulls| {
            let mut q = select(None);
            q.order = vec![OrderBy {
                expr: SelectExpr::Column(col("price")),
                direction,
                nulls,
            }];
            q
        };
        let paged = |limit, offset| {
            let mut q = select(None);
            q.limit = limit;
            q.offset = offset;
            q
        };
        let mut out = vec![
            select(None),
            select(Some(compare("price", CmpOp::Eq, Value::Double(0.0)))),
            select(Some(compare("price", CmpOp::Eq, Value::Double(-0.0)))),
            select(Some(compare("price", CmpOp::Eq, Value::Float(0.0)))),
            select(Some(compare("price", CmpOp::Ne, Value::Double(0.0)))),
            select(Some(compare(
                "price",
                CmpOp::Eq,
                Value::Null(ColumnType::Double),
            ))),
            select(Some(compare("id", CmpOp::Eq, Value::BigInt(1)))),
            select(Some(compare("id", CmpOp::Eq, Value::Int(1)))),
            select(Some(compare("id", CmpOp::Eq, Value::BigUnsigned(1)))),
            select(Some(compare(
                "name",
                CmpOp::Eq,
                Value::Text("1".to_owned()),
            ))),
            select(Some(compare(
                "name",
                CmpOp::Eq,
                Value::Bytes(b"1".to_vec()),
            ))),
            select(Some(Condition::Between {
                column: col("id"),
                low: Value::BigInt(1),
                high: Value::BigInt(2),
            })),
            select(Some(Condition::Between {
                column: col("id"),
                low: Value::BigInt(12),
                high: Value::BigInt(2),
            })),
            select(Some(Condition::InList {
                column: col("id"),
                values: vec![Value::BigInt(1), Value::BigInt(2)],
                negated: false,
            })),
            select(Some(Condition::InList {
                column: col("id"),
                values: vec![Value::BigInt(1), Value::BigInt(2)],
                negated: true,
            })),
            select(Some(Condition::Like {
                column: col("name"),
                pattern: "a%".to_owned(),
                case_insensitive: false,
            })),
            select(Some(Condition::Like {
                column: col("name"),
                pattern: "a%".to_owned(),
                case_insensitive: true,
            })),
            select(Some(Condition::IsNull {
                column: col("name"),
                negated: false,
            })),
            select(Some(Condition::And(vec![
                compare("id", CmpOp::Gt, Value::BigInt(1)),
                compare("id", CmpOp::Lt, Value::BigInt(9)),
            ]))),
            select(Some(Condition::Or(vec![
                compare("id", CmpOp::Gt, Value::BigInt(1)),
                compare("id", CmpOp::Lt, Value::BigInt(9)),
            ]))),
            select(Some(Condition::Not(Box::new(compare(
                "id",
                CmpOp::Gt,
                Value::BigInt(1),
            ))))),
            select(Some(compare("nick", CmpOp::Eq, Value::BigInt(1)))),
            ordered(Direction::Asc, None),
            ordered(Direction::Desc, None),
            ordered(Direction::Asc, Some(Nulls::Last)),
            paged(Some(10), None),
            paged(None, Some(10)),
            paged(Some(10), Some(10)),
            SelectQuery::new(&ITEMS, Projection::Count),
            SelectQuery::new(&ITEMS, Projection::Exists),
        ];
        let mut after = select(None);
        after.after = Some(vec![Value::BigInt(1)]);
        out.push(after);
        let mut consistent = select(None);
        consistent.read.consistent = true;
        out.push(consistent);
        #[cfg(feature = "decimal")]
        for digits in ["1.0", "1.00"] {
            let value = Value::Decimal(digits.parse().unwrap());
            out.push(select(Some(compare("price", CmpOp::Eq, value))));
        }
        #[cfg(feature = "time")]
        for offset in [0, 3600] {
            let at = ::time::OffsetDateTime::UNIX_EPOCH
                .to_offset(::time::UtcOffset::from_whole_seconds(offset).unwrap());
            let value = Value::TimeOffsetDateTime(at);
            out.push(select(Some(compare("price", CmpOp::Eq, value))));
        }
        out
    }

    #[test]
    fn different_selects_encode_differently() {
        let all = variants();
        let encodings: Vec<Vec<u8>> = all
            .iter()
            .map(|q| encoded(q).unwrap_or_else(|| panic!("not encoded: {q:?}")))
            .collect();
        for (i, a) in encodings.iter().enumerate() {
            for (j, b) in encodings.iter().enumerate().skip(i + 1) {
                assert_ne!(a, b, "{:?}\nand\n{:?}\nencode alike", all[i], all[j]);
            }
        }
        // And the same select, built twice, alike.
        assert_eq!(
            encodings,
            variants()
                .iter()
                .map(|q| encoded(q).unwrap())
                .collect::<Vec<_>>()
        );
    }

    /// The other direction: one encoding is one statement (what the key stands for).
    #[test]
    fn one_encoding_is_one_compiled_statement() {
        for dialect in [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite] {
            let mut seen: Vec<(Vec<u8>, String)> = Vec::new();
            for q in variants().iter().chain(variants().iter()) {
                let Ok(compiled) = compile_select(q, dialect) else {
                    continue;
                };
                let statement = format!("{} {:?}", compiled.sql, compiled.values);
                let key = encoded(q).unwrap();
                if let Some((_, before)) = seen.iter().find(|(k, _)| *k == key) {
                    assert_eq!(before, &statement, "{dialect:?}");
                }
                seen.push((key, statement));
            }
        }
    }

    #[test]
    fn other_shapes_are_left_to_the_compiled_statement() {
        let mut locked = select(None);
        locked.lock = Some(RowLock::ForUpdate);
        let mut joined = select(None);
        joined.joins.push(JoinClause {
            kind: JoinKind::Inner,
            schema: &ITEMS,
            alias: Some("other"),
            on: None,
        });
        let mut by_expr = select(None);
        by_expr.order = vec![OrderBy {
            expr: SelectExpr::Aggregate {
                function: crate::query::ir::AggregateFn::Count,
                column: None,
                kind: crate::query::ir::ValueKind::Integer,
            },
            direction: Direction::Asc,
            nulls: None,
        }];
        let mut nested = select(Some(Condition::And(vec![
            compare("id", CmpOp::Eq, Value::BigInt(1)),
            Condition::Exists {
                subquery: Box::new(select(None)),
                inner: col("id"),
                outer: col("id"),
            },
        ])));
        // A select reading a common table expression (the CTE's rows are not in its encoding).
        let mut with_cte = select(None);
        with_cte.with.push(crate::query::ir::CommonTable {
            name: "recent",
            query: select(None),
        });
        for q in [
            &mut locked,
            &mut joined,
            &mut by_expr,
            &mut nested,
            &mut with_cte,
        ] {
            assert!(encoded(q).is_none(), "{q:?}");
        }
    }
}
