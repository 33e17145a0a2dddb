//! insta snapshots of the BSON every builder feature compiles to on MongoDB, and
//! operator-injection property tests of the BSON compiler (`polyorm::mongo`).
//!
//! MongoDB is one backend, so each case is snapshotted once, as `<case>@mongodb`. BSON is
//! rendered by [`bson_text`]: strings with Rust escapes, `Int64` numbers with an `i64`
//! suffix, doubles always with a fraction, so that every type is visible in the snapshot.

use polyorm::mongo::bson::{Bson, Document};
use polyorm::mongo::{self, AggregatePlan, CountPlan, FindPlan, UpdatePlan};
use polyorm::prelude::*;
use polyorm::query::escape_like;
use polyorm::query::ir::{
    Assignment, Condition, DeleteQuery, InsertQuery, SelectQuery, UpdateQuery, UpsertQuery,
};
use polyorm::{OnConflict, count_all};

#[derive(Model, Debug, Clone)]
#[orm(table = "users", has_many(posts = Post::AUTHOR_ID, edited = Post::EDITOR_ID))]
struct User {
    #[orm(primary_key, auto_increment)]
    id: i64,
    #[orm(unique, max_length = 120)]
    email: String,
    name: String,
    age: i32,
    nickname: Option<String>,
    #[orm(default = true)]
    active: bool,
    #[orm(column = "score_value", default = 0.5)]
    score: f64,
}

#[derive(Model, Debug, Clone)]
#[orm(
    table = "memberships",
    primary_key(user_id, group_code),
    unique(group_code, level)
)]
struct Membership {
    user_id: i64,
    #[orm(max_length = 20)]
    group_code: String,
    level: i16,
    role: String,
    avatar: Option<Vec<u8>>,
    ratio: f32,
    flag: Option<bool>,
}

/// A child with a required and a nullable reference to `User`.
#[derive(Model, Debug, Clone)]
#[orm(table = "posts")]
struct Post {
    #[orm(primary_key, auto_increment)]
    id: i64,
    #[orm(belongs_to = User)]
    author_id: i64,
    #[orm(belongs_to = User)]
    editor_id: Option<i64>,
    title: String,
}

/// A key chosen by the application.
/// A model related to itself: an employee reports to another employee.
#[derive(Model, Debug, Clone)]
#[orm(table = "employees")]
struct Employee {
    #[orm(primary_key)]
    id: i64,
    name: String,
    #[orm(belongs_to = Employee)]
    reports_to: Option<i64>,
}

#[derive(Model, Debug, Clone)]
#[orm(table = "notes")]
struct Note {
    #[orm(primary_key)]
    slug: String,
    body: Option<String>,
}

/// Column names MongoDB would misread.
#[derive(Model, Debug, Clone)]
#[orm(table = "odd")]
struct OddNames {
    #[orm(primary_key)]
    id: i32,
    #[orm(column = "a.b")]
    dotted: i32,
}

#[derive(Model, Debug, Clone)]
#[orm(table = "odd_dollar")]
struct DollarName {
    #[orm(primary_key)]
    id: i32,
    #[orm(column = "$where")]
    operator: i32,
}

#[derive(Model, Debug, Clone)]
#[orm(table = "odd_id")]
struct IdName {
    #[orm(primary_key)]
    key: i32,
    #[orm(column = "_id")]
    other: i32,
}

/// A MongoDB-native model: an ObjectId key (`_id`), an ObjectId reference and a nullable one.
#[path = "support/object_id_doc.rs"]
mod object_id_doc;
use object_id_doc::{Doc, oid};

fn user(nickname: Option<&str>) -> User {
    User {
        id: 1,
        email: "a@x.io".into(),
        name: "A".into(),
        age: 30,
        nickname: nickname.map(str::to_owned),
        active: true,
        score: 1.5,
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering

/// BSON as text: one line when short, indented otherwise.
fn bson_text(value: &Bson) -> String {
    let mut out = String::new();
    write_bson(&mut out, value, 0);
    out
}

fn inline(value: &Bson) -> String {
    match value {
        Bson::Document(d) if d.is_empty() => "{}".into(),
        Bson::Document(d) => {
            let fields: Vec<String> = d
                .iter()
                .map(|(k, v)| format!("{k:?}: {}", inline(v)))
                .collect();
            format!("{{ {} }}", fields.join(", "))
        }
        Bson::Array(a) => {
            let items: Vec<String> = a.iter().map(inline).collect();
            format!("[{}]", items.join(", "))
        }
        Bson::String(s) => format!("{s:?}"),
        Bson::Int32(i) => i.to_string(),
        Bson::Int64(i) => format!("{i}i64"),
        Bson::Double(f) => format!("{f:?}"),
        Bson::Boolean(b) => b.to_string(),
        Bson::Null => "null".into(),
        Bson::Binary(b) => {
            let hex: String = b.bytes.iter().map(|x| format!("{x:02x}")).collect();
            format!("Binary({:?}, 0x{hex})", b.subtype)
        }
        Bson::Decimal128(d) => format!("Decimal128({d})"),
        Bson::DateTime(d) => format!("DateTime({})", d.timestamp_millis()),
        Bson::ObjectId(o) => format!("ObjectId({o})"),
        other => panic!("the compiler emitted an unexpected BSON type: {other:?}"),
    }
}

fn write_bson(out: &mut String, value: &Bson, indent: usize) {
    let one_line = inline(value);
    if one_line.len() + indent <= 96 {
        out.push_str(&one_line);
        return;
    }
    let pad = "  ".repeat(indent + 1);
    match value {
        Bson::Document(d) => {
            out.push_str("{\n");
            for (k, v) in d {
                out.push_str(&format!("{pad}{k:?}: "));
                write_bson(out, v, indent + 1);
                out.push_str(",\n");
            }
            out.push_str(&"  ".repeat(indent));
            out.push('}');
        }
        Bson::Array(a) => {
            out.push_str("[\n");
            for v in a {
                out.push_str(&pad);
                write_bson(out, v, indent + 1);
                out.push_str(",\n");
            }
            out.push_str(&"  ".repeat(indent));
            out.push(']');
        }
        _ => out.push_str(&one_line),
    }
}

fn doc_text(d: &Document) -> String {
    bson_text(&Bson::Document(d.clone()))
}

fn find_text(p: &FindPlan) -> String {
    let mut out = format!("filter: {}\n", doc_text(&p.filter));
    if let Some(sort) = &p.sort {
        out.push_str(&format!("sort: {}\n", doc_text(sort)));
    }
    if let Some(skip) = p.skip {
        out.push_str(&format!("skip: {skip}\n"));
    }
    if let Some(limit) = p.limit {
        out.push_str(&format!("limit: {limit}\n"));
    }
    out.push_str(&format!("projection: {}", doc_text(&p.projection)));
    out
}

fn count_text(p: &CountPlan) -> String {
    let mut out = format!("count_documents filter: {}", doc_text(&p.filter));
    if let Some(skip) = p.skip {
        out.push_str(&format!("\nskip: {skip}"));
    }
    if let Some(limit) = p.limit {
        out.push_str(&format!("\nlimit: {limit}"));
    }
    out
}

fn update_text(p: &UpdatePlan) -> String {
    format!(
        "filter: {}\nupdate: {}",
        doc_text(&p.filter),
        doc_text(&p.update)
    )
}

fn pipeline_text(stages: &[Document]) -> String {
    stages.iter().map(doc_text).collect::<Vec<_>>().join("\n")
}

fn aggregate_text(p: &AggregatePlan) -> String {
    let mut out = pipeline_text(&p.pipeline);
    if let Some(row) = &p.empty_row {
        out.push_str(&format!("\nover no document: {}", doc_text(row)));
    }
    out
}

/// The plan of any select, as the executor runs it.
fn select(q: &SelectQuery) -> String {
    render(mongo::select_plan(q), |plan| match plan {
        mongo::SelectPlan::Find(p) | mongo::SelectPlan::Exists(p) => find_text(p),
        mongo::SelectPlan::Count(p) => count_text(p),
        mongo::SelectPlan::Join(stages) => format!(
            "aggregate on {}:\n{}",
            q.schema.table,
            pipeline_text(stages)
        ),
        mongo::SelectPlan::JoinCount(stages) => format!(
            "aggregate on {} (count):\n{}",
            q.schema.table,
            pipeline_text(stages)
        ),
        mongo::SelectPlan::Aggregate(p) => {
            format!("aggregate on {}:\n{}", q.schema.table, aggregate_text(p))
        }
    })
}

fn render<T>(result: polyorm::Result<T>, text: impl Fn(&T) -> String) -> String {
    match result {
        Ok(v) => text(&v),
        Err(e) => format!("error: {e}"),
    }
}

fn find(q: &SelectQuery) -> String {
    let plan = mongo::find_plan(q);
    if let Ok(plan) = &plan {
        assert_filter_shape(&plan.filter);
    }
    render(plan, find_text)
}

fn filter<M: Model>(f: Filter<M>) -> String {
    let doc = mongo::filter_document(M::schema(), Some(&f.into_condition()));
    if let Ok(doc) = &doc {
        assert_filter_shape(doc);
    }
    render(doc, doc_text)
}

/// A filter is well formed: `$and`/`$or`/`$nor` hold non-empty arrays of filters, and every
/// field maps to a document of comparison operators whose operands are plain values.
fn assert_filter_shape(filter: &Document) {
    for (key, value) in filter {
        match key.as_str() {
            "$and" | "$or" | "$nor" => {
                let Bson::Array(items) = value else {
                    panic!("{key} needs an array, got {value:?}")
                };
                assert!(!items.is_empty(), "empty {key} in {filter:?}");
                for item in items {
                    let Bson::Document(d) = item else {
                        panic!("{key} holds a non-document {item:?}")
                    };
                    assert_filter_shape(d);
                }
            }
            op if op.starts_with('$') => panic!("unexpected top-level operator {op}"),
            field => {
                let Bson::Document(ops) = value else {
                    panic!("field {field} compared to a bare value {value:?}")
                };
                assert!(!ops.is_empty(), "field {field} without operators");
                for (op, operand) in ops {
                    match (op.as_str(), operand) {
                        ("$in" | "$nin", Bson::Array(items)) => {
                            assert!(items.iter().all(is_plain), "{op} operands {items:?}")
                        }
                        ("$regex", Bson::String(_)) => {}
                        ("$options", Bson::String(o)) => {
                            assert!(o == "s" || o == "is", "$options {o:?}");
                            assert!(ops.contains_key("$regex"), "$options without $regex");
                        }
                        ("$eq" | "$ne" | "$lt" | "$lte" | "$gt" | "$gte", v) if is_plain(v) => {}
                        _ => panic!("field {field}: unexpected {op}: {operand:?}"),
                    }
                }
            }
        }
    }
}

/// A value operand: not a document, array or BSON regular expression.
fn is_plain(value: &Bson) -> bool {
    !matches!(
        value,
        Bson::Document(_) | Bson::Array(_) | Bson::RegularExpression(_)
    )
}

fn check(case: &str, text: String) {
    insta::assert_snapshot!(format!("{case}@mongodb"), text);
}

// ---------------------------------------------------------------------------------------------
// Snapshots

#[test]
fn select_every_column() {
    check("select_all", find(User::query().ir()));
}

#[test]
fn comparison_operators() {
    let f = User::AGE.eq(1)
        & User::AGE.ne(2)
        & User::AGE.lt(3)
        & User::AGE.le(4)
        & User::AGE.gt(5)
        & User::AGE.ge(6)
        & User::AGE.between(7, 8);
    check("filter_comparisons", find(User::query().filter(f).ir()));
    check(
        "filter_comparisons_other_types",
        filter(
            Membership::LEVEL.lt(3_i16)
                & Membership::RATIO.ge(0.25_f32)
                & Membership::FLAG.eq(true)
                & Membership::AVATAR.ne(vec![0_u8, 1, 255])
                & Membership::USER_ID.gt(1_i64 << 40),
        ),
    );
}

#[test]
fn ne_on_a_nullable_column_excludes_null_as_in_sql() {
    check("filter_ne_nullable", filter(User::NICKNAME.ne("x")));
}

#[test]
fn comparisons_with_null_match_nothing() {
    check(
        "filter_compare_with_null",
        filter(User::NICKNAME.lt(None::<String>) | User::NICKNAME.between(None::<String>, "m")),
    );
}

#[test]
fn in_lists_including_empty() {
    check(
        "filter_in_list",
        filter(User::AGE.in_list([1, 2, 3]) & User::NAME.not_in(["x", "y"])),
    );
    check(
        "filter_not_in_nullable",
        filter(User::NICKNAME.not_in(["x", "y"])),
    );
    check(
        "filter_in_list_empty",
        filter(User::AGE.in_list(Vec::<i32>::new())),
    );
    check(
        "filter_not_in_empty",
        filter(User::AGE.not_in(Vec::<i32>::new())),
    );
    check(
        "filter_in_list_empty_or_not_in_empty",
        filter(User::AGE.in_list(Vec::<i32>::new()) | User::AGE.not_in(Vec::<i32>::new())),
    );
    check(
        "filter_in_list_with_null",
        filter(
            User::NICKNAME.in_list([Some("x".to_owned()), None])
                | User::NICKNAME.not_in([None, Some("y".to_owned())]),
        ),
    );
}

#[test]
fn like_ilike_and_escaped_helpers() {
    check("filter_like", filter(User::NAME.like("A%")));
    check("filter_like_underscore", filter(User::NICKNAME.like("_L")));
    check("filter_ilike", filter(User::NICKNAME.ilike("%bob%")));
    check(
        "filter_contains_escapes",
        filter(User::NAME.contains("50%_off\\")),
    );
    check(
        "filter_starts_and_ends_with",
        filter(User::NAME.starts_with("a_") & User::NAME.ends_with("\\slash")),
    );
    check(
        "filter_like_metacharacters",
        filter(User::NAME.like("^a.b*c+d?(e)|[f]{g}$#-~ h/i'j\"k\\%\\_%_\n")),
    );
    check(
        "filter_like_unicode",
        filter(User::NAME.ilike("%héllo 你好 🎉_")),
    );
    check(
        "filter_like_trailing_escape",
        filter(User::NAME.like("abc\\")),
    );
}

#[test]
fn null_tests() {
    check(
        "filter_is_null",
        filter(User::NICKNAME.is_null() | User::NICKNAME.is_not_null()),
    );
    check(
        "filter_eq_none",
        filter(User::NICKNAME.eq(None) & User::NICKNAME.ne(None::<String>)),
    );
}

#[test]
fn boolean_combinators() {
    let f =
        (User::AGE.gt(1) | User::NAME.eq("x")) & !(User::ACTIVE.eq(false) & User::SCORE.lt(2.5));
    check(
        "filter_and_or_not",
        find(User::query().filter(f).filter(User::ID.ne(9)).ir()),
    );
    check("filter_empty_any", filter(Filter::<User>::any([])));
    check("filter_empty_all", filter(Filter::<User>::all([])));
    check(
        "filter_empty_any_all",
        filter(Filter::<User>::any([]) | Filter::all([])),
    );
    check("filter_not_empty_any", filter(!Filter::<User>::any([])));
}

#[test]
fn not_over_nullable_columns_keeps_unknown_rows_out() {
    check(
        "filter_not_nullable",
        filter(
            !(User::NICKNAME.eq("BL")
                | User::NICKNAME.like("a%")
                | User::NICKNAME.in_list(["x"])
                | User::NICKNAME.lt("m")),
        ),
    );
    check(
        "filter_not_nullable_between_and_not_in",
        filter(!(User::NICKNAME.between("a", "m") & User::NICKNAME.not_in(["q", "r"]))),
    );
    check(
        "filter_not_is_null",
        filter(!User::NICKNAME.is_null() & !!User::NICKNAME.ne("x")),
    );
}

#[test]
fn ordering_and_paging() {
    check(
        "order_limit_offset",
        find(
            User::query()
                .order_by(User::AGE.desc())
                .order_by(User::NAME.asc())
                .order_by(User::AGE.asc())
                .limit(10)
                .offset(20)
                .ir(),
        ),
    );
    check("offset_without_limit", find(User::query().offset(5).ir()));
    check(
        "limit_zero",
        find(User::query().filter(User::AGE.gt(1)).limit(0).ir()),
    );
    check(
        "order_by_key",
        find(User::query().order_by(User::ID.desc()).limit(u64::MAX).ir()),
    );
}

#[test]
fn count_and_exists() {
    let q = User::query().filter(User::AGE.gt(1));
    check("count", render(mongo::count_plan(q.ir()), count_text));
    check(
        "count_with_limit",
        render(
            mongo::count_plan(User::query().limit(3).offset(1).ir()),
            count_text,
        ),
    );
    check(
        "count_with_limit_zero",
        render(mongo::count_plan(User::query().limit(0).ir()), count_text),
    );
    check(
        "exists",
        render(
            mongo::exists_plan(q.order_by(User::AGE.asc()).offset(2).ir()),
            find_text,
        ),
    );
}

#[test]
fn select_plan_follows_the_projection() {
    let mut q = User::query().filter(User::AGE.gt(1)).ir().clone();
    q.projection = polyorm::query::ir::Projection::Count;
    let plan = mongo::select_plan(&q).expect("compiles");
    assert_eq!(
        plan,
        mongo::SelectPlan::Count(mongo::count_plan(&q).expect("compiles"))
    );
    q.projection = polyorm::query::ir::Projection::Exists;
    let plan = mongo::select_plan(&q).expect("compiles");
    assert_eq!(
        plan,
        mongo::SelectPlan::Exists(mongo::exists_plan(&q).expect("compiles"))
    );
}

#[test]
fn composite_key_lookup() {
    check(
        "find_composite_key",
        find(
            Membership::query()
                .filter(Membership::USER_ID.eq(7) & Membership::GROUP_CODE.eq("admins"))
                .order_by(Membership::GROUP_CODE.asc())
                .order_by(Membership::LEVEL.desc())
                .ir(),
        ),
    );
    let by_key = Condition::primary_key_eq(
        Membership::schema(),
        Membership::primary_key_values((7, "admins".into())),
    );
    check(
        "delete_by_composite_key",
        render(
            mongo::delete_filter(&DeleteQuery {
                schema: Membership::schema(),
                filter: Some(by_key),
            }),
            doc_text,
        ),
    );
}

fn insert(schema: &'static polyorm::ModelSchema, rows: Vec<Vec<polyorm::Value>>) -> String {
    let q = InsertQuery {
        schema,
        rows,
        returning: true,
    };
    render(mongo::insert_documents(&q), |docs| {
        if docs.is_empty() {
            return "(no documents)".into();
        }
        let docs: Vec<String> = docs.iter().map(doc_text).collect();
        docs.join("\n")
    })
}

#[test]
fn inserts() {
    check(
        "insert_one_auto_increment",
        insert(User::schema(), vec![user(None).insert_values()]),
    );
    check(
        "insert_many",
        insert(
            User::schema(),
            vec![
                user(Some("first")).insert_values(),
                user(None).insert_values(),
            ],
        ),
    );
    let note = Note {
        slug: "hello-world".into(),
        body: Some("text".into()),
    };
    check(
        "insert_application_key",
        insert(Note::schema(), vec![note.insert_values()]),
    );
    let m = Membership {
        user_id: 7,
        group_code: "admins".into(),
        level: -1,
        role: "owner".into(),
        avatar: Some(vec![0, 1, 255]),
        ratio: 0.5,
        flag: None,
    };
    check(
        "insert_composite_key",
        insert(Membership::schema(), vec![m.insert_values()]),
    );
    check(
        "insert_wrong_row_length",
        insert(User::schema(), vec![vec![polyorm::Value::Int(1)]]),
    );
    check("insert_no_rows", insert(User::schema(), Vec::new()));
}

#[test]
fn updates() {
    let u = user(None);
    let schema = User::schema();
    let assignments = schema
        .update_columns()
        .map(|c| c.name)
        .zip(u.update_values().into_iter().map(Assignment::Value))
        .collect();
    let filter = Condition::primary_key_eq(schema, User::primary_key_values(u.id));
    check(
        "update_loaded_row",
        render(
            mongo::update_plan(&UpdateQuery {
                schema,
                assignments,
                filter: Some(filter),
            }),
            update_text,
        ),
    );
    check(
        "update_many",
        render(
            mongo::update_plan(
                User::update_many()
                    .set(User::ACTIVE, false)
                    .set(User::NICKNAME, None)
                    .filter(User::AGE.gt(40))
                    .ir(),
            ),
            update_text,
        ),
    );
    check(
        "update_many_increment",
        render(
            mongo::update_plan(
                User::update_many()
                    .set(User::AGE, User::AGE + 1)
                    .set(User::NICKNAME, "x")
                    .filter(User::AGE.gt(40))
                    .ir(),
            ),
            update_text,
        ),
    );
    check(
        "update_many_same_column_twice",
        render(
            mongo::update_plan(
                User::update_many()
                    .set(User::NICKNAME, "a")
                    .set(User::NICKNAME, None)
                    .set(User::AGE, 1)
                    .set(User::AGE, 2)
                    .ir(),
            ),
            update_text,
        ),
    );
    check(
        "update_many_without_set",
        render(mongo::update_plan(User::update_many().ir()), update_text),
    );
    check(
        "update_primary_key",
        render(
            mongo::update_plan(User::update_many().set(User::ID, 5).ir()),
            update_text,
        ),
    );
    check(
        "update_composite_key_member",
        render(
            mongo::update_plan(
                Membership::update_many()
                    .set(Membership::ROLE, "member")
                    .filter(Membership::USER_ID.eq(7))
                    .ir(),
            ),
            update_text,
        ),
    );
}

#[test]
fn deletes() {
    check(
        "delete_many",
        render(
            mongo::delete_filter(User::delete_many().filter(User::AGE.lt(18)).ir()),
            doc_text,
        ),
    );
    check(
        "delete_all",
        render(mongo::delete_filter(User::delete_many().ir()), doc_text),
    );
}

#[test]
fn column_names_mongodb_would_misread_are_schema_errors() {
    check("schema_dotted_column", find(OddNames::query().ir()));
    check("schema_dollar_column", find(DollarName::query().ir()));
    check("schema_id_column", find(IdName::query().ir()));
}

// ---------------------------------------------------------------------------------------------
// Operator injection: user strings are only ever values.

/// Strings an attacker might send, plus every regex metacharacter and awkward characters.
const HOSTILE: &[&str] = &[
    "$where",
    "{\"$gt\": \"\"}",
    "{\"$ne\": null}",
    "$ne",
    "$gt",
    "$regex",
    "$options",
    "$or",
    "a.b",
    "_id",
    "_id.a",
    "$",
    ".",
    "",
    "\0",
    "a\0b",
    "'; DROP TABLE users; --",
    "function() { return true; }",
    "this.name == 'x' || true",
    "^.*$",
    "(?i)ADA",
    ".*",
    "\\",
    "\\\\",
    "\\x00",
    "\\Q.*\\E",
    "\\z",
    "abc\n",
    "\n",
    " \t\r",
    "%",
    "_",
    "%_\\",
    "[a-z]+",
    "(a|b){2,}",
    "#comment",
    "a-b~c",
    "\\ \\!\\\"\\#\\$\\%\\&\\'\\(\\)\\*\\+\\,\\-\\.\\/\\:\\;\\<\\=\\>\\?\\@\\[\\\\\\]\\^\\_\\`\\{\\|\\}\\~",
    " !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
    "héllo wörld — 你好 🎉",
    "\u{2028}\u{feff}\u{10FFFF}",
    "İı ß ﬃ",
];

/// Every key the compiler may write: operators it chose and field paths of the schema.
fn allowed_keys(schema: &polyorm::ModelSchema) -> Vec<String> {
    let mut keys: Vec<String> = [
        "$eq", "$ne", "$lt", "$lte", "$gt", "$gte", "$in", "$nin", "$regex", "$options", "$and",
        "$or", "$nor", "$set", "$unset", "_id",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    for c in schema.columns {
        keys.push(mongo::field_path(schema, c.name).expect("valid names"));
        keys.push(c.name.to_owned());
    }
    keys
}

/// Every key in `value`, recursively.
fn keys_of(value: &Bson, out: &mut Vec<String>) {
    match value {
        Bson::Document(d) => {
            for (k, v) in d {
                out.push(k.clone());
                keys_of(v, out);
            }
        }
        Bson::Array(a) => a.iter().for_each(|v| keys_of(v, out)),
        _ => {}
    }
}

/// Every string value in `value`, recursively (keys excluded).
fn strings_of(value: &Bson, out: &mut Vec<String>) {
    match value {
        Bson::Document(d) => d.values().for_each(|v| strings_of(v, out)),
        Bson::Array(a) => a.iter().for_each(|v| strings_of(v, out)),
        Bson::String(s) => out.push(s.clone()),
        _ => {}
    }
}

fn assert_only_values(what: &str, doc: &Document, schema: &polyorm::ModelSchema) {
    if what != "update" && what != "insert" {
        assert_filter_shape(doc);
    }
    let allowed = allowed_keys(schema);
    let mut keys = Vec::new();
    keys_of(&Bson::Document(doc.clone()), &mut keys);
    for key in keys {
        assert!(
            allowed.contains(&key),
            "{what}: key {key:?} is neither an operator the compiler chose nor a schema field, in {doc:?}"
        );
    }
}

/// Reads back the literal text of an escaped regex body, failing on anything that is not a
/// literal in both PCRE and Python `re`: a letter, digit or non-ASCII character as itself,
/// `\` + ASCII punctuation or space, or `\xHH`.
fn unescape_literal(body: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c.is_ascii_alphanumeric() || !c.is_ascii() {
            out.push(c);
            continue;
        }
        // `ilike` spells an ASCII letter as the class of its two cases: `[aA]` reads as `a`.
        if c == '[' {
            let class: String = chars.by_ref().take(3).collect();
            let mut letters = class.chars();
            match (letters.next(), letters.next(), letters.next()) {
                (Some(lower), Some(upper), Some(']'))
                    if lower.is_ascii_lowercase() && upper == lower.to_ascii_uppercase() =>
                {
                    out.push(lower);
                    continue;
                }
                _ => return Err(format!("class [{class} is not one letter's two cases")),
            }
        }
        if c != '\\' {
            return Err(format!("unescaped {c:?} in {body:?}"));
        }
        match chars.next() {
            Some('x') => {
                let hex: String = chars.by_ref().take(2).collect();
                let byte = u8::from_str_radix(&hex, 16).map_err(|e| format!("{hex:?}: {e}"))?;
                if !byte.is_ascii_control() {
                    return Err(format!("\\x{hex} used for a printable character"));
                }
                out.push(char::from(byte));
            }
            Some(p) if p.is_ascii_punctuation() || p == ' ' => out.push(p),
            other => return Err(format!("escape \\{other:?} in {body:?}")),
        }
    }
    Ok(out)
}

const END: &str = r"(?![\s\S])";

/// The literal between `prefix` and `suffix` of an anchored regex.
fn literal_between(regex: &str, prefix: &str, suffix: &str) -> String {
    let body = regex
        .strip_prefix(prefix)
        .and_then(|r| r.strip_suffix(suffix))
        .unwrap_or_else(|| panic!("{regex:?} is not {prefix}…{suffix}"));
    unescape_literal(body).unwrap_or_else(|e| panic!("{e}"))
}

fn regex_of(filter: &Document, field: &str) -> (String, String) {
    let ops = filter.get_document(field).expect("field operators");
    let regex = ops.get_str("$regex").expect("$regex string").to_owned();
    let options = ops.get_str("$options").expect("$options string").to_owned();
    (regex, options)
}

/// Checks one hostile string through every place a user string can go.
fn check_hostile(text: &str) {
    let schema = User::schema();
    let compile = |f: Filter<User>| {
        mongo::filter_document(schema, Some(&f.into_condition()))
            .unwrap_or_else(|e| panic!("{text:?}: {e}"))
    };

    if text.contains('\0') {
        // NUL is refused in every filter, on every backend (README, "Portability guarantees").
        for f in [
            User::NAME.eq(text),
            User::NAME.in_list([text]),
            User::NAME.contains(text),
            User::NAME.like(escape_like(text)),
        ] {
            let err = mongo::filter_document(schema, Some(&f.into_condition())).unwrap_err();
            assert!(
                matches!(&err, polyorm::Error::InvalidQuery(m) if m.contains("NUL")),
                "{text:?}: {err:?}"
            );
        }
    } else {
        // eq: exactly {name: {$eq: text}}, the text as a string value.
        let eq = compile(User::NAME.eq(text));
        assert_only_values("eq", &eq, schema);
        let mut expected = Document::new();
        expected.insert("name", polyorm::mongo::bson::doc! { "$eq": text });
        assert_eq!(eq, expected, "eq {text:?}");

        // ne, in_list, not_in, nullable column, negation: the text only ever as a value.
        for f in [
            User::NAME.ne(text),
            User::NAME.in_list([text, "other"]),
            User::NAME.not_in([text]),
            User::NICKNAME.eq(text),
            User::NICKNAME.ne(text),
            !User::NICKNAME.lt(text),
            User::NAME.between(text, text) | User::EMAIL.ge(text),
        ] {
            let doc = compile(f);
            assert_only_values("filter", &doc, schema);
            let mut strings = Vec::new();
            strings_of(&Bson::Document(doc.clone()), &mut strings);
            assert!(
                strings.iter().any(|s| s == text),
                "{text:?} not found as a value in {doc:?}"
            );
        }

        // contains / starts_with / ends_with / like of the escaped text: the regex body is the
        // text, literally.
        // `ilike` folds ASCII letters only: its literal is the text with `A`-`Z` lowered.
        let folded = text.to_ascii_lowercase();
        let cases = [
            (User::NAME.contains(text), "^.*", ".*", text),
            (User::NAME.starts_with(text), "^", ".*", text),
            (User::NAME.ends_with(text), "^.*", "", text),
            (User::NAME.like(escape_like(text)), "^", "", text),
            (
                User::NICKNAME.ilike(escape_like(text)),
                "^",
                "",
                folded.as_str(),
            ),
        ];
        for (f, prefix, suffix, literal) in cases {
            let doc = compile(f);
            assert_only_values("like", &doc, schema);
            let field = doc.keys().next().expect("one field").clone();
            let (regex, options) = regex_of(&doc, &field);
            assert_eq!(options, "s", "options");
            let suffix = format!("{suffix}{END}");
            let (prefix, suffix) = if text.is_empty() && prefix == "^.*" && suffix.starts_with(".*")
            {
                // `%%` collapses into one `.*`.
                ("^", suffix.as_str())
            } else {
                (prefix, suffix.as_str())
            };
            assert_eq!(
                literal_between(&regex, prefix, suffix),
                literal,
                "regex {regex:?}"
            );
        }
    }

    // update and insert: the text as a value of a schema field (NUL included: the executor
    // refuses it before anything is sent, `Error::InvalidValue`, but the documents are built
    // alike).
    let update = mongo::update_plan(User::update_many().set(User::NAME, text).ir()).expect("ok");
    assert_only_values("update", &update.update, schema);
    assert_eq!(
        update
            .update
            .get_document("$set")
            .expect("$set")
            .get_str("name")
            .ok(),
        Some(text)
    );
    let mut u = user(Some(text));
    u.name = text.to_owned();
    let docs = mongo::insert_documents(&InsertQuery {
        schema,
        rows: vec![u.insert_values()],
        returning: false,
    })
    .expect("ok");
    assert_only_values("insert", &docs[0], schema);
    assert_eq!(docs[0].get_str("name").ok(), Some(text));
    assert_eq!(docs[0].get_str("nickname").ok(), Some(text));
}

#[test]
fn hostile_strings_only_ever_appear_as_values() {
    for text in HOSTILE {
        check_hostile(text);
    }
}

/// A small deterministic generator (xorshift), so the property test needs no dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_strings_of_metacharacters_only_ever_appear_as_values() {
    let alphabet: Vec<char> =
        " !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~aZ09\0\n\r\t\u{7f}\u{1}é你🎉\u{2028}"
            .chars()
            .collect();
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for _ in 0..2000 {
        let len = (rng.next() % 12) as usize;
        let text: String = (0..len)
            .map(|_| alphabet[(rng.next() % alphabet.len() as u64) as usize])
            .collect();
        check_hostile(&text);
    }
}

#[test]
fn object_ids_are_native_object_ids_and_the_key_is_id() {
    let (a, b) = (
        oid("65f0a1b2c3d4e5f60718293a"),
        oid("000000000000000000000001"),
    );
    check(
        "filter_object_id",
        find(
            Doc::query()
                .filter(
                    Doc::ID.gt(a)
                        & Doc::OWNER.in_list([a, b])
                        & Doc::PARENT.is_null()
                        & Doc::PARENT.ne(b),
                )
                .order_by(Doc::ID.desc())
                .ir(),
        ),
    );
    check("ensure_schema_object_id", schema_text(Doc::schema()));
    let row = Doc {
        id: a,
        owner: b,
        parent: None,
    };
    check(
        "insert_object_id",
        insert(Doc::schema(), vec![row.insert_values()]),
    );
}

#[test]
fn like_wildcards_translate_and_escapes_are_literal() {
    let cases = [
        ("a%b_c", r"^a.*b.c(?![\s\S])"),
        ("%%", r"^.*(?![\s\S])"),
        (r"\%\_\\\a", r"^\%\_\\a(?![\s\S])"),
        ("", r"^(?![\s\S])"),
    ];
    for (pattern, regex) in cases {
        assert_eq!(mongo::like_to_regex(pattern).expect("valid"), regex);
    }
}

/// Index options: descending keys and partial indexes translate, a hash index is `hashed`,
/// a GIN index is PostgreSQL's alone, `include` has no MongoDB form.
// Two indexes start with `tier`: clippy reads the derive's options as repeated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(Model, Debug, Clone)]
#[orm(table = "memories")]
#[orm(index(tags, method = "gin"))]
#[orm(index(tier, method = "hash"))]
#[orm(index(tier, desc(created_at), include(confidence)))]
#[orm(unique(email, where = Self::DELETED_AT.is_null()))]
#[orm(index(confidence, where = Self::CONFIDENCE.ge(0.5).and(Self::TIER.eq("hot"))))]
struct Memory {
    #[orm(primary_key)]
    id: i64,
    email: String,
    tier: String,
    tags: String,
    confidence: f64,
    created_at: i64,
    deleted_at: Option<i64>,
}

/// A function key, which MongoDB has no index for.
#[derive(Model, Debug, Clone)]
#[orm(table = "handles")]
#[orm(unique(lower(handle)))]
struct Handle {
    #[orm(primary_key)]
    id: i64,
    handle: String,
}

#[test]
fn index_options_translate_or_are_refused() {
    check("ensure_schema_index_options", schema_text(Memory::schema()));
    check("ensure_schema_function_key", schema_text(Handle::schema()));
}

fn schema_text(schema: &'static polyorm::ModelSchema) -> String {
    let validator = render(mongo::validator(schema), doc_text);
    let indexes = render(mongo::index_plans(schema), |plans| {
        plans
            .iter()
            .map(|p| {
                let partial = p
                    .partial_filter
                    .as_ref()
                    .map(|f| format!(" partialFilterExpression={}", doc_text(f)))
                    .unwrap_or_default();
                format!(
                    "{} unique={} {}{partial}",
                    p.name,
                    p.unique,
                    doc_text(&p.keys)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    format!("validator:\n{validator}\nindexes:\n{indexes}")
}

/// User CHECK constraints, for the validator's three-valued `$jsonSchema` clauses.
#[derive(Model, Debug, Clone)]
#[orm(
    table = "scored",
    check(tier_or_pinned = Self::TIER.in_list(["hot", "warm"]).or(Self::PINNED.eq(true)))
)]
struct Scored {
    #[orm(primary_key)]
    id: i64,
    #[orm(check = Self::CONFIDENCE.between(0.0, 1.0))]
    confidence: f64,
    tier: String,
    pinned: bool,
    #[orm(check = !Self::RETRIES.gt(5))]
    retries: Option<i32>,
}

#[test]
fn ensure_schema_validator_and_indexes() {
    check("ensure_schema_users", schema_text(User::schema()));
    check(
        "ensure_schema_composite_key",
        schema_text(Membership::schema()),
    );
    check(
        "ensure_schema_dollar_column",
        schema_text(DollarName::schema()),
    );
    check("ensure_schema_user_checks", schema_text(Scored::schema()));
}

/// Every rich column type, for the validator's BSON types and ranges.
#[cfg(all(
    feature = "chrono",
    feature = "time",
    feature = "uuid",
    feature = "decimal",
    feature = "json"
))]
mod rich {
    use polyorm::prelude::*;
    use polyorm::{Json, SqlEnum};

    #[derive(SqlEnum, Debug, Clone, Copy, PartialEq)]
    pub enum Level {
        Low,
        High,
    }

    #[derive(Model, Debug, Clone)]
    #[orm(table = "rich")]
    pub struct Rich {
        #[orm(primary_key)]
        pub id: uuid::Uuid,
        pub at: chrono::DateTime<chrono::Utc>,
        pub local: chrono::NaiveDateTime,
        pub day: chrono::NaiveDate,
        pub clock: time::Time,
        pub price: rust_decimal::Decimal,
        pub doc: serde_json::Value,
        pub tags: Json<Vec<String>>,
        pub level: Level,
        pub maybe_level: Option<Level>,
        pub tiny: u8,
        pub small: u16,
        pub medium: u32,
        pub big: Option<u64>,
    }

    #[test]
    fn validator_knows_every_rich_type() {
        super::check(
            "ensure_schema_rich_types",
            super::schema_text(Rich::schema()),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Projections, aggregates, joins and upserts

#[test]
fn projections_and_aggregates() {
    check(
        "select_columns",
        select(
            User::query()
                .filter(User::AGE.ge(18))
                .order_by(User::NAME.asc())
                .limit(10)
                .offset(20)
                .select((User::NAME, User::NICKNAME))
                .ir(),
        ),
    );
    check(
        "aggregates_ungrouped",
        select(
            User::query()
                .select((
                    count_all(),
                    User::AGE.sum(),
                    User::AGE.avg(),
                    User::NAME.min(),
                    User::NICKNAME.max(),
                    User::NICKNAME.count(),
                    User::SCORE.sum(),
                ))
                .ir(),
        ),
    );
    check(
        "count_distinct",
        select(
            User::query()
                .select((User::ACTIVE, User::NAME.count_distinct()))
                .group_by(User::ACTIVE)
                .ir(),
        ),
    );
    check(
        "group_by_an_expression_is_refused",
        select(
            User::query()
                .select((User::NAME.lower(), count_all()))
                .group_by(User::NAME.lower())
                .ir(),
        ),
    );
    check(
        "group_by_having_order",
        select(
            User::query()
                .filter(User::ACTIVE.eq(true))
                .select((User::AGE, count_all(), User::SCORE.avg()))
                .group_by(User::AGE)
                .having(User::SCORE.avg().gt(2.0) & User::AGE.sum().le(100i64))
                .order_by(User::AGE.desc())
                .limit(3)
                .ir(),
        ),
    );
    check(
        "group_by_two_columns",
        select(
            User::query()
                .select((User::ACTIVE, User::NICKNAME, count_all()))
                .group_by(User::ACTIVE)
                .group_by(User::NICKNAME)
                .ir(),
        ),
    );
    check(
        "distinct_columns",
        select(
            User::query()
                .select((User::ACTIVE, User::NICKNAME))
                .distinct()
                .order_by(User::ACTIVE.desc())
                .ir(),
        ),
    );
    check(
        "aggregate_paged_past_the_one_row",
        select(User::query().offset(1).select((count_all(),)).ir()),
    );
    check(
        "grouped_select_of_an_ungrouped_column",
        select(
            User::query()
                .select((User::NAME, count_all()))
                .group_by(User::AGE)
                .ir(),
        ),
    );
    check(
        "having_without_group_by",
        select(
            User::query()
                .select((count_all(),))
                .having(User::AGE.max().gt(3))
                .ir(),
        ),
    );
}

#[test]
fn joins_lookup_and_unwind() {
    check(
        "inner_join",
        select(
            User::query()
                .filter(User::AGE.lt(50) & User::NAME.ne("x"))
                .inner_join(User::posts())
                .filter_joined(Post::TITLE.like("a%"))
                .order_by(User::NAME.asc())
                .order_by_joined(Post::TITLE.desc())
                .limit(5)
                .ir(),
        ),
    );
    check(
        "left_join",
        select(
            User::query()
                .left_join(User::posts())
                .filter_joined(Post::TITLE.ne("x"))
                .ir(),
        ),
    );
    check(
        "inner_join_on_a_nullable_column",
        select(Post::query().inner_join(Post::editor()).ir()),
    );
    check(
        "left_join_on_a_nullable_column",
        select(User::query().left_join(User::edited()).ir()),
    );
    check(
        "self_join",
        select(
            Employee::query()
                .left_join(BelongsTo::via(Employee::REPORTS_TO))
                .filter(Employee::NAME.ne("x"))
                .filter_joined(Employee::NAME.eq("Ada"))
                .order_by_joined(Employee::NAME.asc())
                .ir(),
        ),
    );
    let last = User {
        id: 9,
        email: "a@b".into(),
        name: "Ada".into(),
        age: 36,
        nickname: None,
        active: true,
        score: 1.0,
    };
    check(
        "keyset_after",
        select(
            User::query()
                .order_by(User::AGE.desc())
                .order_by(User::ID.asc())
                .after(&last)
                .limit(2)
                .ir(),
        ),
    );
    let mut count = User::query().inner_join(User::posts()).ir().clone();
    count.projection = polyorm::query::ir::Projection::Count;
    check("join_count", select(&count));
    let locked = User::query().skip_locked().ir().clone();
    check("skip_locked", select(&locked));
}

fn upsert(on_conflict: polyorm::query::ir::OnConflict, rows: Vec<Vec<polyorm::Value>>) -> String {
    let q = UpsertQuery {
        insert: InsertQuery {
            schema: User::schema(),
            rows,
            returning: false,
        },
        on_conflict,
    };
    render(mongo::upsert_plan(&q), |statements| {
        pipeline_text(statements)
    })
}

fn upsert_of<M: Model>(row: &M, on_conflict: polyorm::query::ir::OnConflict) -> String {
    let q = UpsertQuery {
        insert: InsertQuery {
            schema: M::schema(),
            rows: vec![row.insert_values()],
            returning: false,
        },
        on_conflict,
    };
    render(mongo::upsert_plan(&q), |statements| {
        pipeline_text(statements)
    })
}

#[test]
fn upserts() {
    let rows = || {
        vec![
            user(Some("ace")).insert_values(),
            user(None).insert_values(),
        ]
    };
    check(
        "upsert_update",
        upsert(
            OnConflict::on(User::EMAIL)
                .update(User::NAME)
                .update(User::AGE)
                .into_clause(),
            rows(),
        ),
    );
    check(
        "upsert_do_nothing",
        upsert(
            OnConflict::on(User::EMAIL).do_nothing().into_clause(),
            rows(),
        ),
    );
    check(
        "upsert_without_unique_index",
        upsert(
            OnConflict::on(User::NAME).do_nothing().into_clause(),
            rows(),
        ),
    );
    let m = Membership {
        user_id: 7,
        group_code: "g".into(),
        level: 1,
        role: "r".into(),
        avatar: None,
        ratio: 0.5,
        flag: None,
    };
    check(
        "upsert_composite_key",
        upsert_of(
            &m,
            OnConflict::on(Membership::USER_ID)
                .and(Membership::GROUP_CODE)
                .update(Membership::ROLE)
                .into_clause(),
        ),
    );
    check(
        "upsert_on_unique_index_of_a_composite_key_model",
        upsert_of(
            &m,
            OnConflict::on(Membership::GROUP_CODE)
                .and(Membership::LEVEL)
                .update(Membership::ROLE)
                .into_clause(),
        ),
    );
    check(
        "upsert_updating_the_key",
        upsert_of(
            &m,
            OnConflict::on(Membership::GROUP_CODE)
                .and(Membership::LEVEL)
                .update(Membership::USER_ID)
                .into_clause(),
        ),
    );
    let note = Note {
        slug: "a".into(),
        body: Some("b".into()),
    };
    check(
        "upsert_single_key",
        upsert_of(
            &note,
            OnConflict::on(Note::SLUG).update(Note::BODY).into_clause(),
        ),
    );
}

/// Arithmetic, `coalesce`, `case_when`, casts and aggregates over expressions have no
/// pipeline translation: each is refused with `Error::Unsupported` naming it, wherever it is.
#[test]
fn nesting_expressions_are_refused_by_name() {
    check(
        "arithmetic_selected_is_refused",
        select(User::query().select((User::ID, User::AGE * 2)).ir()),
    );
    check(
        "coalesce_filtered_is_refused",
        select(
            User::query()
                .filter(User::NICKNAME.coalesce(User::NAME).eq("ada"))
                .ir(),
        ),
    );
    check(
        "case_when_ordered_is_refused",
        select(
            User::query()
                .order_by(case_when(User::AGE.lt(18), 0).otherwise(1).asc())
                .ir(),
        ),
    );
    check(
        "cast_grouped_is_refused",
        select(
            User::query()
                .select((User::AGE.cast::<f64>(), count_all()))
                .group_by(User::AGE.cast::<f64>())
                .ir(),
        ),
    );
    check(
        "aggregate_of_an_expression_is_refused",
        select(User::query().select(((User::AGE * 12).sum(),)).ir()),
    );
}

// ---------------------------------------------------------------------------------------------
// Many-to-many: the finds eager loading sends (recorded by a layer over the mock driver, which
// answers with scripted rows), as MongoDB receives them.

#[path = "support/articles.rs"]
mod articles;

#[cfg(feature = "mock")]
mod many_to_many {
    use std::sync::{Arc, Mutex};

    use polyorm::mock::{MockDatabase, MockResult};
    use polyorm::mongo::bson::Document;
    use polyorm::prelude::*;
    use polyorm::{Backend, Dialect, Value};

    use super::articles::{Article, ArticleLabel, Label};

    /// Keeps each operation's BSON form.
    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<String>>>);

    impl polyorm::exec::Layer for Recorder {
        async fn call<E: Executor, T: Send + 'static>(
            &self,
            inner: &E,
            op: polyorm::exec::Op<T>,
        ) -> polyorm::Result<polyorm::exec::Outcome<T>> {
            // A MongoDB read compiles to one value: the BSON command (collection and plan).
            let compiled = op.compile(Backend::MongoDb)?;
            let [Value::Bytes(bytes)] = compiled.values.as_slice() else {
                panic!("a MongoDB read is one BSON document: {compiled}");
            };
            let command = Document::from_reader(bytes.as_slice()).expect("BSON");
            self.0
                .lock()
                .expect("not poisoned")
                .push(super::doc_text(&command));
            op.run(inner).await
        }
    }

    #[tokio::test]
    async fn many_to_many_eager_loading_finds() {
        let mock = MockDatabase::new(Dialect::Sqlite)
            .append(MockResult::models([
                Article {
                    id: 1,
                    title: "a".into(),
                },
                Article {
                    id: 2,
                    title: "b".into(),
                },
            ]))
            .append(MockResult::models([
                ArticleLabel {
                    id: 10,
                    article_id: 1,
                    label_id: 7,
                    deleted_at: None,
                },
                ArticleLabel {
                    id: 11,
                    article_id: 2,
                    label_id: 7,
                    deleted_at: None,
                },
                ArticleLabel {
                    id: 12,
                    article_id: 2,
                    label_id: 8,
                    deleted_at: None,
                },
            ]))
            .append(MockResult::models([
                Label {
                    id: 7,
                    name: "rust".into(),
                    deleted_at: None,
                },
                Label {
                    id: 8,
                    name: "sql".into(),
                    deleted_at: None,
                },
            ]));
        let recorder = Recorder::default();
        let db = mock.db().layer(recorder.clone());
        let loaded = Article::query()
            .with(Article::labels())
            .all(&db)
            .await
            .expect("scripted");
        let labels: Vec<(i64, Vec<i64>)> = loaded
            .iter()
            .map(|(a, labels)| (a.id, labels.iter().map(|l| l.id).collect()))
            .collect();
        assert_eq!(labels, [(1, vec![7]), (2, vec![7, 8])]);
        let statements = recorder.0.lock().expect("not poisoned").join("\n\n");
        insta::assert_snapshot!("many_to_many_eager_loading@mongodb", statements);
    }
}
