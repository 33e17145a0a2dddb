//! Compiles the query IR to DynamoDB requests: which request reads a select (`GetItem`,
//! `Query` on the table or a global secondary index, or a `Scan` the caller allowed), its key
//! condition, filter, projection and update expressions, and the items of inserts.
//!
//! This is the DynamoDB counterpart of [`crate::sql`] and `crate::mongo`: the same
//! [`SelectQuery`](crate::query::ir::SelectQuery), `InsertQuery`, `UpdateQuery` and
//! `DeleteQuery` go in, plans of `aws-sdk-dynamodb` values come out. Nothing here talks to a
//! server; the executor (`Db` on a `dynamodb://` URL) runs the plans.
//!
//! # Mapping
//!
//! | SQL | DynamoDB |
//! | --- | --- |
//! | table | table of the same name |
//! | row | item |
//! | single-column primary key | partition (hash) key |
//! | two-column primary key `(a, b)` | partition key `a` + sort (range) key `b` |
//! | index `(a)` / `(a, b)` (`#[orm(index)]`, `#[orm(unique)]`) | global secondary index `a` / `a` + sort key `b`, projecting every attribute |
//! | unique index | the index above, plus a guard item per value in `__orm_unique`, written in the same `TransactWriteItems` as the item |
//! | auto-increment key | a counter item per table in `__orm_counters` (`ADD seq :n`) |
//! | column | attribute of the same name |
//! | NULL | the attribute is absent (so the item is not in an index on it) |
//! | `bool` | `BOOL` |
//! | integers, floats, `Decimal` | `N`, exact decimal text (NaN and infinities refused) |
//! | `String`, `Uuid`, `ObjectId` | `S` |
//! | dates and times | `S`, fixed-width ISO 8601 (sorts in time order) |
//! | `Vec<u8>` | `B` |
//! | JSON | native `M` / `L` / `S` / `N` / `BOOL` / `NULL` |
//! | `find(key)` | `GetItem` |
//! | filter with `eq` on the partition key (of the table or an index) | `Query` (`KeyConditionExpression` on the partition key and a sort-key condition, `FilterExpression` for the rest) |
//! | any other filter | `Scan` with a `FilterExpression`, only after `.allow_scan()` (or `scan=allow` in the URL); else [`Error::InvalidQuery`] naming the attributes to index |
//! | `order_by` the sort key of the key queried | `ScanIndexForward`; any other order sorts the matched items in memory |
//! | `limit` / `offset` / `after` | pages read until enough items matched; `after` is a filter on the order |
//! | `count()` | `Select=COUNT`, summed over pages |
//! | `consistent_read()` | `ConsistentRead` (tables only) |
//! | `INSERT` | `PutItem` with `attribute_not_exists` (an existing key is `UniqueViolation`); several rows: `TransactWriteItems` of 100 |
//! | `UPDATE` / `DELETE` by key | `UpdateItem` / `DeleteItem` with the filter as `ConditionExpression` |
//! | `UPDATE` / `DELETE` by filter | the keys are read as a select would, then one conditional write per item (deletes without a filter: `BatchWriteItem`, unprocessed items retried with backoff) |
//! | transaction | writes buffered and committed as one `TransactWriteItems` (at most 100) |
//! | joins, `group_by`, aggregates, subqueries, row locks, savepoints, raw SQL | refused: [`Error::Unsupported`] / [`Error::InvalidQuery`] |
//!
//! # Values are only values
//!
//! Every attribute name is an `ExpressionAttributeNames` placeholder (`#n0`) and every value an
//! `ExpressionAttributeValues` placeholder (`:v0`): no user string becomes expression text,
//! whatever it contains.
//!
//! # NULL and SQL's three-valued logic
//!
//! A NULL is an absent attribute. `is_null` is `attribute_not_exists`, `is_not_null`
//! `attribute_exists`; `ne(v)` is `attribute_exists(#a) AND #a <> :v`, and `not(..)` is
//! pushed down to the leaves as on MongoDB, so that an absent attribute never makes a negated
//! comparison TRUE. `like` maps to `begins_with` (`abc%`), `contains` (`%abc%`) or
//! equality; other patterns and `ilike` of letters are refused.
//!
//! [`Error::InvalidQuery`]: crate::Error::InvalidQuery
//! [`Error::Unsupported`]: crate::Error::Unsupported

mod expr;
mod keys;
mod plan;
mod value;
mod write;

/// The `aws-sdk-dynamodb` crate, in the version the ORM links (see `Db::dynamodb_client`).
pub use aws_sdk_dynamodb as sdk;
pub use aws_sdk_dynamodb::types::AttributeValue;
pub use expr::Placeholders;
pub use keys::{KeySchema, key_type, secondary_indexes, table_key};
pub use plan::{Item, ReadKind, ReadPlan, ReadPolicy, key_attributes, read_plan};
#[cfg(feature = "time")]
pub(crate) use value::time_formats;
#[cfg(feature = "json")]
pub use value::{attr_to_json, json_to_attr};
pub use value::{compare_attrs, compare_numbers, into_attr, to_attr};
pub use write::{
    insert_items, into_insert_items, key_of, not_exists, update_expression, write_condition,
};

/// The table holding the auto-increment counters: one item per table, `{name, seq}`.
pub const COUNTERS_TABLE: &str = "__orm_counters";

/// The table holding the guard items of unique indexes: one item per unique value,
/// `{guard: "<table>#<index>#<value>"}`.
pub const UNIQUE_TABLE: &str = "__orm_unique";

/// The most writes one `TransactWriteItems` holds (DynamoDB's limit).
pub const MAX_TRANSACTION_ITEMS: usize = 100;

/// The most writes one `BatchWriteItem` holds.
pub const MAX_BATCH_WRITE_ITEMS: usize = 25;
