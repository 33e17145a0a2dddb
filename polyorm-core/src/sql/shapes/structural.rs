//! Selects whose SQL follows from their structure alone: whole rows of a model and its joins,
//! filtered by comparisons, ranges, `IN` lists, `LIKE` and `IS NULL` joined with AND, OR and
//! NOT, ordered by columns, limited. Their text is kept per [`Skeleton`], a sequence of words
//! that says everything of the statement that its SQL depends on, and none of its values:
//! - the model and each joined model (their `'static` schemas' addresses), each join's kind,
//!   alias and `ON` columns;
//! - every column compared (the addresses and lengths of its `'static` table and column
//!   names), every operator, and whether the value compared with `=`/`<>` is NULL (then
//!   `IS NULL`/`IS NOT NULL`, no parameter);
//! - the length of every `IN` list (an empty one is a constant), whether a `LIKE` folds case
//!   (its pattern is folded for MySQL and SQLite, a value), AND/OR/NOT and their arity;
//! - the ordered columns, directions and NULL placements;
//! - whether there is a `LIMIT` and an `OFFSET`, and on SQLite their numbers (literals there);
//! - the dialect.
//!
//! Subqueries, computed expressions, a keyset position, CTEs, walks, compounds, derived
//! tables, locks and hints keep a select out, as do an `OFFSET` without a `LIMIT` (some
//! dialects add one) and, on SQLite, a model with a decimal column (whose values are scaled
//! against their columns while the statement is lowered).

use arrayvec::ArrayVec;

use super::{through_sea, whole_rows_in_one_level};
use crate::error::Error;
use crate::query::ir::{
    CmpOp, ColumnRef, Condition, Direction, JoinKind, Nulls, SelectExpr, SelectQuery,
};
use crate::sql::{Dialect, check, fit, values};
use crate::value::Value;

/// The most words a skeleton holds; a larger select compiles every time.
const MAX_WORDS: usize = 64;

/// Node tags, so that no two structures write the same words.
const COMPARE: u64 = 1;
const BETWEEN: u64 = 2;
const IN_LIST: u64 = 3;
const LIKE: u64 = 4;
const IS_NULL: u64 = 5;
const AND: u64 = 6;
const OR: u64 = 7;
const NOT: u64 = 8;

/// Everything of a select that its SQL text depends on, as words (see the module's notes).
///
/// Written in place by [`Skeleton::describe`] into the caller's frame: half a kilobyte that is
/// neither zeroed first (only the words written are ever read) nor moved out of a function
/// that built it — both were a measurable part of a one-row join's cost.
pub(crate) struct Skeleton {
    words: ArrayVec<u64, MAX_WORDS>,
}

impl Skeleton {
    /// An empty skeleton, to [`describe`](Skeleton::describe) a select into.
    pub(crate) fn new() -> Skeleton {
        Skeleton {
            words: ArrayVec::new(),
        }
    }

    /// The skeleton of `q` on `dialect`.
    #[cfg(test)]
    pub(crate) fn of(q: &SelectQuery, dialect: Dialect) -> Option<Skeleton> {
        let mut s = Skeleton::new();
        s.describe(q, dialect).then_some(s)
    }

    /// Makes this the skeleton of `q` on `dialect`: whether `q` is of the shapes kept (if not,
    /// the words are meaningless).
    pub(crate) fn describe(&mut self, q: &SelectQuery, dialect: Dialect) -> bool {
        self.words.clear();
        self.write(q, dialect).is_some()
    }

    /// [`describe`](Skeleton::describe)'s words; `None` when `q` is not kept.
    fn write(&mut self, q: &SelectQuery, dialect: Dialect) -> Option<()> {
        let plain = whole_rows_in_one_level(q)
            && (q.offset.is_none() || q.limit.is_some())
            && !(dialect.capabilities().stored_decimals && check::reads_decimal(q));
        if !plain {
            return None;
        }
        let s = self;
        s.push(address(q.schema))?;
        s.push(dialect as u64)?;
        s.push(q.joins.len() as u64)?;
        for join in &q.joins {
            s.push(match join.kind {
                JoinKind::Inner => 0,
                JoinKind::Left => 1,
                JoinKind::Right => 2,
                JoinKind::Cross => 3,
            })?;
            s.push(address(join.schema))?;
            match join.alias {
                Some(alias) => {
                    s.push(1)?;
                    s.name(alias)?;
                }
                None => s.push(0)?,
            }
            match &join.on {
                Some(on) => {
                    s.push(1)?;
                    s.column(&on.joined)?;
                    s.column(&on.other)?;
                }
                None => s.push(0)?,
            }
        }
        match &q.filter {
            Some(filter) => {
                s.push(1)?;
                s.condition(filter)?;
            }
            None => s.push(0)?,
        }
        s.push(q.order.len() as u64)?;
        for o in &q.order {
            let SelectExpr::Column(column) = &o.expr else {
                return None;
            };
            s.column(column)?;
            s.push(match o.direction {
                Direction::Asc => 0,
                Direction::Desc => 1,
            })?;
            s.push(match o.nulls {
                None => 0,
                Some(Nulls::First) => 1,
                Some(Nulls::Last) => 2,
            })?;
        }
        for paging in [q.limit, q.offset] {
            match paging {
                // SQLite writes the number into the text.
                Some(n) if dialect == Dialect::Sqlite => {
                    s.push(1)?;
                    s.push(n)?;
                }
                Some(_) => s.push(1)?,
                None => s.push(0)?,
            }
        }
        Some(())
    }

    /// The words written.
    pub(crate) fn words(&self) -> &[u64] {
        &self.words
    }

    fn push(&mut self, word: u64) -> Option<()> {
        self.words.try_push(word).ok()
    }

    /// A `'static` name by address and length (two names at one address with one length are
    /// one name; one name at two addresses only gets two entries with the same text).
    fn name(&mut self, name: &'static str) -> Option<()> {
        self.push(name.as_ptr() as u64)?;
        self.push(name.len() as u64)
    }

    fn column(&mut self, c: &ColumnRef) -> Option<()> {
        self.name(c.table)?;
        self.name(c.name)
    }

    fn condition(&mut self, c: &Condition) -> Option<()> {
        match c {
            Condition::Compare { column, op, value } => {
                self.push(COMPARE)?;
                self.column(column)?;
                self.push(match op {
                    CmpOp::Eq => 0,
                    CmpOp::Ne => 1,
                    CmpOp::Lt => 2,
                    CmpOp::Le => 3,
                    CmpOp::Gt => 4,
                    CmpOp::Ge => 5,
                })?;
                self.push(u64::from(value.is_null()))
            }
            Condition::Between { column, .. } => {
                self.push(BETWEEN)?;
                self.column(column)
            }
            Condition::InList {
                column,
                values,
                negated,
            } => {
                self.push(IN_LIST)?;
                self.column(column)?;
                self.push(u64::from(*negated))?;
                self.push(values.len() as u64)
            }
            Condition::Like {
                column,
                case_insensitive,
                ..
            } => {
                self.push(LIKE)?;
                self.column(column)?;
                self.push(u64::from(*case_insensitive))
            }
            Condition::IsNull { column, negated } => {
                self.push(IS_NULL)?;
                self.column(column)?;
                self.push(u64::from(*negated))
            }
            Condition::And(items) | Condition::Or(items) => {
                self.push(if matches!(c, Condition::And(_)) {
                    AND
                } else {
                    OR
                })?;
                self.push(items.len() as u64)?;
                items.iter().try_for_each(|item| self.condition(item))
            }
            Condition::Not(inner) => {
                self.push(NOT)?;
                self.condition(inner)
            }
            _ => None,
        }
    }
}

/// The address of a `'static` value, as a word.
fn address<T>(value: &'static T) -> u64 {
    std::ptr::from_ref(value) as usize as u64
}

/// The values of a select [`Skeleton::describe`] accepted, in the compiler's order: the filter's,
/// then `LIMIT` and `OFFSET` where they are parameters (SQLite writes them as literals). The
/// filter's values are checked as the compiler checks them.
pub(crate) fn skeleton_values(q: &SelectQuery, dialect: Dialect) -> Result<Vec<Value>, Error> {
    fit::condition(q.filter.as_ref())?;
    let mut out = Vec::new();
    if let Some(filter) = &q.filter {
        push_values(filter, dialect, &mut out);
    }
    if dialect != Dialect::Sqlite {
        for n in [q.limit, q.offset].into_iter().flatten() {
            out.push(values::from_sea(sea_query::Value::BigUnsigned(Some(n))));
        }
    }
    Ok(out)
}

fn push_values(c: &Condition, dialect: Dialect, out: &mut Vec<Value>) {
    match c {
        Condition::Compare {
            op: CmpOp::Eq | CmpOp::Ne,
            value,
            ..
        } if value.is_null() => {}
        Condition::Compare { value, .. } => out.push(through_sea(value.clone())),
        Condition::Between { low, high, .. } => {
            out.push(through_sea(low.clone()));
            out.push(through_sea(high.clone()));
        }
        Condition::InList { values, .. } => {
            out.extend(values.iter().map(|v| through_sea(v.clone())));
        }
        Condition::Like {
            pattern,
            case_insensitive,
            ..
        } => {
            // MySQL and SQLite compare folded text with the folded pattern (`render::like`).
            let pattern = match dialect {
                Dialect::MySql | Dialect::Sqlite if *case_insensitive => {
                    pattern.to_ascii_lowercase()
                }
                _ => pattern.clone(),
            };
            out.push(values::from_sea(sea_query::Value::from(pattern)));
        }
        Condition::And(items) | Condition::Or(items) => {
            items
                .iter()
                .for_each(|item| push_values(item, dialect, out));
        }
        Condition::Not(inner) => push_values(inner, dialect, out),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{MEMBERS, USERS, assert_served_as_compiled, column, model, text};
    use super::super::{PoisonError, SKELETONS};
    use super::*;
    use crate::query::ir::{JoinClause, JoinOn, OrderBy, Projection, RowLock};
    use crate::schema::{ColumnSchema, ColumnType, ModelSchema};
    use crate::sql::{Compiled, compile_select, compile_select_uncached};

    static POSTS: ModelSchema = model(
        "shape_posts",
        &[
            column("id", ColumnType::BigInt, true, true, false),
            column("user_id", ColumnType::BigInt, false, false, false),
            column("title", ColumnType::Text, false, false, false),
            column("body", ColumnType::Text, false, false, true),
        ],
        &[0],
    );

    fn users(name: &'static str) -> ColumnRef {
        ColumnRef::new("shape_users", name)
    }

    fn cmp(name: &'static str, op: CmpOp, value: Value) -> Condition {
        Condition::Compare {
            column: users(name),
            op,
            value,
        }
    }

    fn select(filter: Option<Condition>) -> SelectQuery {
        SelectQuery {
            filter,
            ..SelectQuery::new(&USERS, Projection::Model)
        }
    }

    fn filtered(filter: Condition) -> SelectQuery {
        select(Some(filter))
    }

    fn in_list(values: Vec<Value>, negated: bool) -> Condition {
        Condition::InList {
            column: users("id"),
            values,
            negated,
        }
    }

    fn like(pattern: &str, case_insensitive: bool) -> Condition {
        Condition::Like {
            column: users("name"),
            pattern: pattern.to_owned(),
            case_insensitive,
        }
    }

    /// `shape_users <kind> JOIN shape_posts ON shape_posts.user_id = shape_users.id`.
    fn joined(kind: JoinKind, filter: Option<Condition>) -> SelectQuery {
        let mut q = select(filter);
        q.joins.push(JoinClause {
            kind,
            schema: &POSTS,
            alias: None,
            on: Some(JoinOn {
                joined: ColumnRef::new("shape_posts", "user_id"),
                other: users("id"),
            }),
        });
        q
    }

    fn ordered(mut q: SelectQuery, name: &'static str, nulls: Option<Nulls>) -> SelectQuery {
        q.order.push(OrderBy {
            nulls,
            ..OrderBy::column(users(name), Direction::Desc)
        });
        q
    }

    fn paged(mut q: SelectQuery, limit: u64, offset: Option<u64>) -> SelectQuery {
        q.limit = Some(limit);
        q.offset = offset;
        q
    }

    /// The benchmark's three predicates: `id > ? AND name LIKE ? AND nick = ?`.
    fn three(id: i64, pattern: &str, nick: &str) -> Condition {
        Condition::And(vec![
            cmp("id", CmpOp::Gt, Value::BigInt(id)),
            like(pattern, false),
            cmp("nick", CmpOp::Eq, text(nick)),
        ])
    }

    /// Selects of every structural shape; the two of a pair differ only in their values (the
    /// second has NULLs where the text does not depend on them), so that a hit must bind its
    /// own values.
    fn cases() -> Vec<(&'static str, [SelectQuery; 2])> {
        let ops = [
            ("eq", CmpOp::Eq),
            ("ne", CmpOp::Ne),
            ("lt", CmpOp::Lt),
            ("le", CmpOp::Le),
            ("gt", CmpOp::Gt),
            ("ge", CmpOp::Ge),
        ];
        let mut cases: Vec<(&'static str, [SelectQuery; 2])> = ops
            .into_iter()
            .map(|(case, op)| {
                (
                    case,
                    [
                        filtered(cmp("score", op, Value::Double(1.5))),
                        filtered(cmp("score", op, Value::Double(-2.0))),
                    ],
                )
            })
            .collect();
        cases.extend([
            (
                "three_predicates",
                [
                    filtered(three(10, "User 1%", "black")),
                    filtered(three(-3, "%x\\%", "brown")),
                ],
            ),
            (
                "eq_null",
                [
                    filtered(cmp("nick", CmpOp::Eq, Value::Null(ColumnType::Text))),
                    filtered(cmp("nick", CmpOp::Eq, Value::Null(ColumnType::Text))),
                ],
            ),
            (
                "ne_null",
                [
                    filtered(cmp("nick", CmpOp::Ne, Value::Null(ColumnType::Text))),
                    filtered(cmp("nick", CmpOp::Ne, Value::Null(ColumnType::Text))),
                ],
            ),
            (
                "lt_null",
                [
                    filtered(cmp("score", CmpOp::Lt, Value::Null(ColumnType::Double))),
                    filtered(cmp("score", CmpOp::Lt, Value::Null(ColumnType::Double))),
                ],
            ),
            (
                "between",
                [
                    filtered(Condition::Between {
                        column: users("score"),
                        low: Value::Double(1.0),
                        high: Value::Double(2.0),
                    }),
                    filtered(Condition::Between {
                        column: users("score"),
                        low: Value::Null(ColumnType::Double),
                        high: Value::Double(9.0),
                    }),
                ],
            ),
            (
                "in_two",
                [
                    filtered(in_list(vec![Value::BigInt(1), Value::BigInt(2)], false)),
                    filtered(in_list(vec![Value::BigInt(3), Value::BigInt(4)], false)),
                ],
            ),
            (
                "in_three",
                [
                    filtered(in_list((1..=3).map(Value::BigInt).collect(), false)),
                    filtered(in_list((4..=6).map(Value::BigInt).collect(), false)),
                ],
            ),
            (
                "not_in_two",
                [
                    filtered(in_list(vec![Value::BigInt(1), Value::BigInt(2)], true)),
                    filtered(in_list(vec![Value::BigInt(5), Value::BigInt(6)], true)),
                ],
            ),
            (
                "in_empty",
                [
                    filtered(in_list(Vec::new(), false)),
                    filtered(in_list(Vec::new(), false)),
                ],
            ),
            (
                "not_in_empty",
                [
                    filtered(in_list(Vec::new(), true)),
                    filtered(in_list(Vec::new(), true)),
                ],
            ),
            (
                "like",
                [filtered(like("Ab%", false)), filtered(like("c_D", false))],
            ),
            (
                "ilike",
                [filtered(like("Ab%", true)), filtered(like("c_D", true))],
            ),
            (
                "is_null",
                [
                    filtered(Condition::IsNull {
                        column: users("nick"),
                        negated: false,
                    }),
                    filtered(Condition::IsNull {
                        column: users("nick"),
                        negated: false,
                    }),
                ],
            ),
            (
                "is_not_null",
                [
                    filtered(Condition::IsNull {
                        column: users("nick"),
                        negated: true,
                    }),
                    filtered(Condition::IsNull {
                        column: users("nick"),
                        negated: true,
                    }),
                ],
            ),
            (
                "or_not",
                [
                    filtered(Condition::Or(vec![
                        cmp("name", CmpOp::Eq, text("a")),
                        Condition::Not(Box::new(cmp("score", CmpOp::Lt, Value::Double(1.0)))),
                    ])),
                    filtered(Condition::Or(vec![
                        cmp("name", CmpOp::Eq, text("b")),
                        Condition::Not(Box::new(cmp("score", CmpOp::Lt, Value::Double(7.0)))),
                    ])),
                ],
            ),
            (
                "empty_and",
                [
                    filtered(Condition::And(Vec::new())),
                    filtered(Condition::And(Vec::new())),
                ],
            ),
            (
                "empty_or",
                [
                    filtered(Condition::Or(Vec::new())),
                    filtered(Condition::Or(Vec::new())),
                ],
            ),
            (
                "name_not_key",
                [
                    filtered(cmp("name", CmpOp::Eq, text("a"))),
                    filtered(cmp("name", CmpOp::Eq, text("b"))),
                ],
            ),
            (
                "composite_key_reversed",
                [
                    SelectQuery {
                        filter: Some(Condition::And(vec![
                            Condition::Compare {
                                column: ColumnRef::new("shape_members", "user_id"),
                                op: CmpOp::Eq,
                                value: Value::BigInt(1),
                            },
                            Condition::Compare {
                                column: ColumnRef::new("shape_members", "code"),
                                op: CmpOp::Eq,
                                value: text("a"),
                            },
                        ])),
                        ..SelectQuery::new(&MEMBERS, Projection::Model)
                    },
                    SelectQuery {
                        filter: Some(Condition::And(vec![
                            Condition::Compare {
                                column: ColumnRef::new("shape_members", "user_id"),
                                op: CmpOp::Eq,
                                value: Value::BigInt(2),
                            },
                            Condition::Compare {
                                column: ColumnRef::new("shape_members", "code"),
                                op: CmpOp::Eq,
                                value: text("b"),
                            },
                        ])),
                        ..SelectQuery::new(&MEMBERS, Projection::Model)
                    },
                ],
            ),
            (
                "left_join_filtered",
                [
                    joined(JoinKind::Left, Some(cmp("nick", CmpOp::Eq, text("black")))),
                    joined(JoinKind::Left, Some(cmp("nick", CmpOp::Eq, text("brown")))),
                ],
            ),
            (
                "left_join",
                [joined(JoinKind::Left, None), joined(JoinKind::Left, None)],
            ),
            (
                "inner_join",
                [joined(JoinKind::Inner, None), joined(JoinKind::Inner, None)],
            ),
            (
                "ordered",
                [
                    ordered(
                        filtered(cmp("id", CmpOp::Gt, Value::BigInt(1))),
                        "nick",
                        None,
                    ),
                    ordered(
                        filtered(cmp("id", CmpOp::Gt, Value::BigInt(2))),
                        "nick",
                        None,
                    ),
                ],
            ),
            (
                "ordered_nulls_last",
                [
                    ordered(select(None), "nick", Some(Nulls::Last)),
                    ordered(select(None), "nick", Some(Nulls::Last)),
                ],
            ),
            (
                "limit_five",
                [
                    paged(filtered(cmp("id", CmpOp::Gt, Value::BigInt(1))), 5, None),
                    paged(filtered(cmp("id", CmpOp::Gt, Value::BigInt(9))), 5, None),
                ],
            ),
            (
                "limit_six",
                [
                    paged(filtered(cmp("id", CmpOp::Gt, Value::BigInt(1))), 6, None),
                    paged(filtered(cmp("id", CmpOp::Gt, Value::BigInt(9))), 6, None),
                ],
            ),
            (
                "limit_offset",
                [
                    paged(select(None), 10, Some(20)),
                    paged(select(None), 10, Some(20)),
                ],
            ),
            (
                "limit_other_offset",
                [
                    paged(select(None), 10, Some(30)),
                    paged(select(None), 10, Some(30)),
                ],
            ),
        ]);
        cases
    }

    fn kept_sql(q: &SelectQuery, dialect: Dialect) -> Option<String> {
        let skeleton = Skeleton::of(q, dialect)?;
        let cache = SKELETONS.read().unwrap_or_else(PoisonError::into_inner);
        cache.get(skeleton.words()).map(|sql| sql.to_string())
    }

    #[test]
    fn structural_selects_equal_the_compilers_on_every_dialect() {
        for dialect in Dialect::ALL {
            for (case, queries) in cases() {
                for q in &queries {
                    assert!(
                        super::super::select_shape(q).is_none(),
                        "{case}: not a fixed shape"
                    );
                    assert!(Skeleton::of(q, dialect).is_some(), "{case}@{dialect}: kept");
                    let expected = compile_select_uncached(q, dialect);
                    assert!(expected.is_ok(), "{case}@{dialect}: {expected:?}");
                    assert_served_as_compiled(
                        &format!("{case}@{dialect}"),
                        &expected,
                        || compile_select(q, dialect),
                        || kept_sql(q, dialect),
                    );
                }
            }
        }
    }

    #[test]
    fn the_two_selects_of_a_case_share_an_entry_and_cases_do_not() {
        let mut seen: Vec<(String, Vec<u64>, String)> = Vec::new();
        for dialect in Dialect::ALL {
            for (case, [first, second]) in cases() {
                let words = Skeleton::of(&first, dialect).unwrap().words().to_vec();
                assert_eq!(
                    Skeleton::of(&second, dialect).unwrap().words(),
                    words.as_slice(),
                    "{case}@{dialect}: values are not part of the key"
                );
                let Compiled { sql, .. } = compile_select(&first, dialect).unwrap();
                let paging_only = |other: &str| {
                    [
                        ("limit_five", "limit_six"),
                        ("limit_offset", "limit_other_offset"),
                    ]
                    .iter()
                    .any(|&(a, b)| other == format!("{a}@{dialect}") && case == b)
                };
                for (other, other_words, other_sql) in &seen {
                    // Only the numbers of the paging are left out of the key, where they are
                    // parameters (not on SQLite).
                    if *other_words == words {
                        assert!(
                            dialect != Dialect::Sqlite && paging_only(other),
                            "{case}@{dialect} shares {other}'s key"
                        );
                    }
                    // Structures that differ only in a NULL compared with `<` (a parameter
                    // either way), in how `IS NULL` or a constant was asked for, or, on
                    // PostgreSQL and MySQL, in the numbers of the paging (parameters there)
                    // read the same; nothing else may.
                    // (Across dialects a statement without placeholders may read the same.)
                    if *other_sql == sql && other.ends_with(&format!("@{dialect}")) {
                        let same_text = [
                            ("lt", "lt_null"),
                            ("eq_null", "is_null"),
                            ("ne_null", "is_not_null"),
                            ("not_in_empty", "empty_and"),
                            ("in_empty", "empty_or"),
                        ];
                        assert!(
                            same_text
                                .iter()
                                .any(|&(a, b)| { *other == format!("{a}@{dialect}") && case == b })
                                || (dialect != Dialect::Sqlite && paging_only(other)),
                            "{case}@{dialect} reads as {other}: {sql}"
                        );
                    }
                }
                seen.push((format!("{case}@{dialect}"), words, sql));
            }
        }
    }

    #[test]
    fn null_comparisons_in_lists_and_operators_are_not_confused() {
        for dialect in Dialect::ALL {
            let check = |q: &SelectQuery| {
                let got = compile_select(q, dialect).unwrap();
                assert_eq!(
                    got,
                    compile_select_uncached(q, dialect).unwrap(),
                    "{dialect}"
                );
                got
            };
            // Each first fills its entry; the next must not be served from it.
            let eq = check(&filtered(cmp("nick", CmpOp::Eq, text("a"))));
            let eq_null = check(&filtered(cmp(
                "nick",
                CmpOp::Eq,
                Value::Null(ColumnType::Text),
            )));
            assert!(eq_null.sql.ends_with("IS NULL"), "{}", eq_null.sql);
            assert!(eq_null.values.is_empty());
            assert_ne!(eq.sql, eq_null.sql);
            let ne_null = check(&filtered(cmp(
                "nick",
                CmpOp::Ne,
                Value::Null(ColumnType::Text),
            )));
            assert!(ne_null.sql.ends_with("IS NOT NULL"), "{}", ne_null.sql);
            let ne = check(&filtered(cmp("nick", CmpOp::Ne, text("a"))));
            assert_ne!(eq.sql, ne.sql);
            let two = check(&filtered(in_list(
                vec![Value::BigInt(1), Value::BigInt(2)],
                false,
            )));
            let three = check(&filtered(in_list(
                (1..=3).map(Value::BigInt).collect(),
                false,
            )));
            let not_two = check(&filtered(in_list(
                vec![Value::BigInt(1), Value::BigInt(2)],
                true,
            )));
            let none = check(&filtered(in_list(Vec::new(), false)));
            assert_eq!((two.values.len(), three.values.len()), (2, 3));
            assert!(
                none.values.is_empty() && none.sql.ends_with("1 = 0"),
                "{}",
                none.sql
            );
            assert!(not_two.sql.contains("NOT IN"), "{}", not_two.sql);
            assert_ne!(two.sql, three.sql);
            // The same pattern with and without case folding.
            let exact = check(&filtered(like("Ab%", false)));
            let folded = check(&filtered(like("Ab%", true)));
            assert_ne!(exact.sql, folded.sql);
            assert_eq!(exact.values, vec![text("Ab%")]);
            let pattern = if dialect == Dialect::Postgres {
                "Ab%"
            } else {
                "ab%"
            };
            assert_eq!(folded.values, vec![text(pattern)]);
        }
    }

    #[test]
    fn selects_outside_the_structural_shapes_are_not_kept() {
        let by_name = || cmp("name", CmpOp::Eq, text("a"));
        let mut locked = filtered(by_name());
        locked.lock = Some(RowLock::ForUpdate);
        let mut offset_only = filtered(by_name());
        offset_only.offset = Some(5);
        let mut count = filtered(by_name());
        count.projection = Projection::Count;
        let mut exists = filtered(by_name());
        exists.projection = Projection::Exists;
        let in_subquery = filtered(Condition::InSubquery {
            column: users("id"),
            subquery: Box::new(SelectQuery::new(&POSTS, Projection::Model)),
            negated: false,
        });
        let related = filtered(Condition::Exists {
            subquery: Box::new(SelectQuery::new(&POSTS, Projection::Model)),
            inner: ColumnRef::new("shape_posts", "user_id"),
            outer: users("id"),
        });
        let mut by_expression = select(None);
        by_expression.order.push(OrderBy {
            expr: SelectExpr::Value(Value::BigInt(1)),
            direction: Direction::Asc,
            nulls: None,
        });
        let mut keyset = select(None);
        keyset.after = Some(vec![Value::BigInt(1)]);
        let too_big = filtered(in_list(Vec::new(), false));
        let too_big = SelectQuery {
            filter: Some(Condition::And(vec![too_big.filter.unwrap(); MAX_WORDS])),
            ..too_big
        };
        let cases = [
            ("locked", locked),
            ("offset without limit", offset_only),
            ("count", count),
            ("exists", exists),
            ("in subquery", in_subquery),
            ("exists subquery", related),
            ("ordered by an expression", by_expression),
            ("keyset", keyset),
            ("more words than kept", too_big),
        ];
        for dialect in Dialect::ALL {
            for (case, q) in &cases {
                assert!(Skeleton::of(q, dialect).is_none(), "{case}@{dialect}");
            }
        }
    }

    /// SQLite scales decimals against their columns while lowering; a model with a decimal
    /// column is kept on the other dialects only.
    #[test]
    fn decimal_models_are_kept_except_on_sqlite() {
        static PRICES: ModelSchema = model(
            "shape_prices",
            &[
                column("id", ColumnType::BigInt, true, true, false),
                ColumnSchema {
                    precision: Some((10, 2)),
                    ..column("amount", ColumnType::Decimal, false, false, true)
                },
            ],
            &[0],
        );
        let q = SelectQuery {
            filter: Some(Condition::Compare {
                column: ColumnRef::new("shape_prices", "id"),
                op: CmpOp::Gt,
                value: Value::BigInt(3),
            }),
            ..SelectQuery::new(&PRICES, Projection::Model)
        };
        for dialect in Dialect::ALL {
            let kept = Skeleton::of(&q, dialect).is_some();
            assert_eq!(kept, dialect != Dialect::Sqlite, "{dialect}");
            for _ in 0..2 {
                assert_eq!(
                    compile_select(&q, dialect).unwrap(),
                    compile_select_uncached(&q, dialect).unwrap()
                );
            }
        }
    }

    #[test]
    fn a_value_the_compiler_refuses_is_refused_on_a_hit() {
        for dialect in Dialect::ALL {
            compile_select(&filtered(cmp("name", CmpOp::Eq, text("a"))), dialect).unwrap();
            let q = filtered(cmp("name", CmpOp::Eq, text("a\0b")));
            let cached = compile_select(&q, dialect).unwrap_err().to_string();
            let fresh = compile_select_uncached(&q, dialect)
                .unwrap_err()
                .to_string();
            assert_eq!(cached, fresh, "{dialect}");
        }
    }
}
