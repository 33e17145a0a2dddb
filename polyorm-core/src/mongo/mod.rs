//! Compiles the query IR to MongoDB commands as BSON: filters, sorts, projections, skip and
//! limit, counts, inserted documents, updates, upserts, deletes, `$group` pipelines for
//! aggregates ([`aggregate_plan`]) and `$lookup` pipelines for joins ([`join_pipeline`]).
//!
//! This is the MongoDB counterpart of [`crate::sql`]: the same [`SelectQuery`],
//! [`InsertQuery`], [`UpdateQuery`] and [`DeleteQuery`] go in, plain [`bson::Document`]s come
//! out, ready for the official driver (`find`, `count_documents`, `insert_many`,
//! `update_many`, `delete_many`). Nothing here talks to a server.
//!
//! # Mapping
//!
//! | SQL | MongoDB |
//! | --- | --- |
//! | table | collection of the same name |
//! | row | document |
//! | single-column primary key `id` | `_id` (the column name is not stored) |
//! | composite primary key `(a, b)` | `_id: {a: .., b: ..}`, an embedded document in key order; a filter or sort on `a` uses the dotted path `_id.a` |
//! | auto-increment key | `_id` left out of the inserted document: the executor assigns it (from a counters collection) |
//! | other column | field of the same name |
//! | NULL | BSON `null` when inserted; an update to NULL `$unset`s the field; readers treat a missing field as NULL |
//! | `bool`, `i16`/`i32`, `i64`, `f32`/`f64`, `String`, `Vec<u8>` | boolean, int32, int64, double, string, binary (generic subtype) |
//! | dates, `Uuid`, `Decimal`, JSON, enums, unsigned integers | see [`to_bson`] |
//! | `INSERT … ON CONFLICT` | an `update` command of upserts ([`upsert_statements`]) |
//! | `SELECT a, COUNT(*) … GROUP BY a HAVING …` | `$match`, `$group`, `$project`, `$match` ([`aggregate_plan`]) |
//! | `JOIN` | `$lookup` + `$unwind` ([`join_pipeline`]) |
//!
//! Field names come only from the static [`ModelSchema`] (never from user input), and a column
//! name that MongoDB would read as something else (empty, starting with `$`, containing `.` or
//! NUL, or `_id` on a column that is not the single key) is rejected with [`Error::Schema`].
//! User values only ever appear as BSON *values* next to an operator the compiler chose
//! (`{"name": {"$eq": "<value>"}}`), so no string can become an operator or a field path.
//!
//! # Filters and SQL's NULL
//!
//! Conditions keep SQL's three-valued logic: a row is returned only when the condition is
//! TRUE, and a comparison with NULL is UNKNOWN, not FALSE. Where MongoDB's operators would
//! answer differently the compiler says more:
//!
//! - `eq(None)` / `is_null()` → `{f: {$eq: null}}`, which matches a `null` *or missing*
//!   field (as `{f: null}` does); `ne(None)` / `is_not_null()` → `{f: {$nin: [null]}}`, a
//!   present, non-null field (as `{f: {$ne: null}}`). Both spellings are the ones the
//!   nx-27017 test server also reads right inside `$or`/`$and` and for `$unset` fields.
//! - `ne(v)` on a nullable column → `{f: {$nin: [v, null]}}` (SQL's `f <> v` is not TRUE for a
//!   NULL `f`, MongoDB's `$ne` would match it); on a non-nullable column plain `$ne`.
//!   `not_in` likewise adds `null` to `$nin`.
//! - `not(c)` is pushed down to the leaves, De Morgan style: `not(a & b)` → `{$or: [not a,
//!   not b]}`, `not(age < 30)` → `{age: {$gte: 30}}`, `not(in_list)` → `$nin`,
//!   `not(is_null)` → `{$nin: [null]}`; on a nullable column the complement also excludes `null`,
//!   so rows where `c` is UNKNOWN stay out, as in SQL. Only `not(like)` uses `$nor` (a
//!   regular expression has no complement operator). MongoDB's `$not` is never used, and
//!   complement operators keep index bounds usable where `$nor` would not.
//! - `lt`/`le`/`gt`/`ge`/`between` with a NULL value, or `in_list` of only NULLs, match nothing.
//! - An empty `in_list` / `any([])` match nothing ([`match_nothing`], `{_id: {$in: []}}`); an
//!   empty `not_in` / `all([])` match everything (`{}`).
//! - `like`/`ilike` become an anchored `$regex` string with `$options` `"s"`; see
//!   [`like_to_regex`]. `ilike` spells each ASCII letter as a class of both cases
//!   ([`ilike_to_regex`]) instead of the `i` option, which would also fold accented letters:
//!   only `A`-`Z` fold, as on every SQL dialect. The BSON regular-expression type is never
//!   emitted.
//!
//! # Sorting and paging
//!
//! `order_by` becomes a sort document (`1` ascending, `-1` descending). MongoDB sorts `null`
//! and missing fields *first* ascending and last descending: the ORM's portable default on
//! every backend. `nulls_first()`/`nulls_last()` asking for the opposite, and sorting by a
//! computed expression (`lower()`, `year()`, an aggregate), are refused with
//! [`Error::InvalidQuery`](crate::Error::InvalidQuery). A `limit(0)` compiles to [`match_nothing`] without a limit, since MongoDB reads
//! a limit of 0 as "no limit".
//!
//! [`Error::Schema`]: crate::Error::Schema
//! [`ModelSchema`]: crate::ModelSchema

mod aggregate;
mod check;
mod delete;
mod fields;
mod filter;
mod find;
mod insert;
mod join;
mod regex;
mod schema;
mod update;
mod upsert;
mod value;

pub use bson;

pub use aggregate::{AggregatePlan, OUTPUT_FIELDS, aggregate_plan};
pub use delete::delete_filter;
pub use fields::{ID_FIELD, JOINED_FIELD, field_path};
pub use filter::{filter_document, match_nothing};
pub use find::{CountPlan, FindPlan, SelectPlan, count_plan, exists_plan, find_plan, select_plan};
pub use insert::insert_documents;
pub use join::join_pipeline;
pub use regex::{escape_regex, ilike_to_regex, like_to_regex};
pub use schema::{IndexPlan, index_plans, validator};
pub use update::{UpdatePlan, update_plan};
pub use upsert::{upsert_plan, upsert_statements};
pub use value::{JSON_KEY_ESCAPE, escape_json_key, to_bson, unescape_json_key};

#[cfg(doc)]
use crate::query::ir::{DeleteQuery, InsertQuery, SelectQuery, UpdateQuery};

/// MongoDB has no translation yet of the nesting expressions (arithmetic, `coalesce`,
/// `case_when`, `cast`) nor of the exact decimal `avg`: a select using one is refused with
/// [`crate::Error::Unsupported`] naming it.
pub(crate) fn refuse_nesting(q: &crate::query::ir::SelectQuery) -> crate::Result<()> {
    refuse_nesting_in(q.schema, |f| q.visit_exprs(&mut |e| f(e)))
}

/// [`refuse_nesting`] of the expressions `visit` reaches in a statement over `schema`.
pub(crate) fn refuse_nesting_in(
    schema: &'static crate::schema::ModelSchema,
    visit: impl FnOnce(&mut dyn FnMut(&crate::query::ir::SelectExpr)),
) -> crate::Result<()> {
    let mut construct = None;
    visit(&mut |e| {
        construct = construct.or(e.construct());
    });
    match construct {
        Some(construct) => Err(crate::Error::Unsupported {
            backend: "MongoDB",
            construct,
            table: schema.table,
            advice: "select the columns and compute in Rust, or run this query on a SQL backend",
        }),
        None => Ok(()),
    }
}
