//! [`UpsertQuery`] → the statements of one `update` command, each
//! `{q: <conflict columns = the row's values>, u: {$set, $setOnInsert}, upsert: true}`.
//!
//! A row whose conflict columns match a stored document updates the `on_conflict(..).update(..)`
//! columns with `$set` (nothing for `do_nothing()`); otherwise the upsert inserts a document
//! made of the filter's equalities and `$setOnInsert` (every other column). The conflict
//! columns must be the primary key or a unique index of the model, so that at most one
//! document matches (and two concurrent upserts cannot both insert).
//!
//! An auto-increment key is reserved from the counters collection for every row before the
//! command runs and sent in `$setOnInsert`, so a row that updates instead leaves a gap in the
//! keys, as a PostgreSQL sequence or a MySQL `AUTO_INCREMENT` does under `ON CONFLICT` /
//! `ON DUPLICATE KEY`. The statements run in order and stop at the first error; outside a
//! transaction the rows before it stay written (SQL's single statement would write none).

use bson::{Bson, Document, doc};

use super::fields::{ID_FIELD, path_of, single_key};
use super::insert::insert_documents;
use crate::error::{Error, Result};
use crate::query::ir::UpsertQuery;
use crate::schema::ColumnSchema;

/// The `updates` of an `update` command for `q`, from the documents of its rows.
///
/// Without an auto-increment key the documents are those of [`insert_documents`]; the
/// executor passes them with the reserved `_id`s otherwise (see the module docs).
pub fn upsert_statements(q: &UpsertQuery, documents: Vec<Document>) -> Result<Vec<Document>> {
    let schema = q.insert.schema;
    let conflict = &q.on_conflict;
    let columns: Vec<&ColumnSchema> = conflict
        .columns
        .iter()
        .map(|name| {
            schema.column(name).ok_or_else(|| {
                Error::InvalidQuery(format!("`{}` has no column `{name}`", schema.table))
            })
        })
        .collect::<Result<_>>()?;
    let same_set = |names: &[&str]| {
        names.len() == conflict.columns.len() && names.iter().all(|n| conflict.columns.contains(n))
    };
    let key: Vec<&str> = schema.primary_key_columns().map(|c| c.name).collect();
    let on_key = same_set(&key);
    if !on_key
        && !schema
            .indexes
            .iter()
            .any(|ix| ix.unique && ix.is_plain() && same_set(ix.columns))
    {
        return Err(Error::InvalidQuery(format!(
            "upsert into `{}` on ({}): on MongoDB the conflict columns must be the primary key or a unique index of the model, so that one document at most matches",
            schema.table,
            conflict.columns.join(", ")
        )));
    }
    let mut updated = Vec::new();
    for name in &conflict.update {
        let col = schema.column(name).ok_or_else(|| {
            Error::InvalidQuery(format!("`{}` has no column `{name}`", schema.table))
        })?;
        if col.primary_key {
            return Err(Error::InvalidQuery(format!(
                "upsert into `{}` updates the primary-key column `{name}`; MongoDB cannot change a document's `_id`",
                schema.table
            )));
        }
        updated.push(col.name);
    }
    // Each conflict column by its path; a composite key's columns in key order, so that the
    // `_id` an upsert builds from `_id.<col>` equalities has the key's field order.
    let filter_paths: Vec<String> = if on_key {
        schema
            .primary_key_columns()
            .map(|c| path_of(schema, c))
            .collect()
    } else if !single_key(schema) && columns.iter().any(|c| c.primary_key) {
        return Err(Error::InvalidQuery(format!(
            "upsert into `{}` on ({}): a conflict target that mixes part of the composite key with other columns cannot be compiled for MongoDB (the key is one `_id` document); use the whole key or a unique index without key columns",
            schema.table,
            conflict.columns.join(", ")
        )));
    } else {
        columns.iter().map(|c| path_of(schema, c)).collect()
    };
    documents
        .into_iter()
        .map(|mut document| {
            let mut filter = Document::new();
            for path in &filter_paths {
                let value = match path.split_once('.') {
                    None => document.get(path),
                    Some((_, col)) => document.get_document(ID_FIELD).ok().and_then(|k| k.get(col)),
                }
                .cloned()
                .unwrap_or(Bson::Null);
                if value == Bson::Null {
                    return Err(Error::InvalidQuery(format!(
                        "upsert into `{}`: a conflict column is NULL, which never conflicts in SQL; insert the row instead",
                        schema.table
                    )));
                }
                // `{path: value}` is the equality the upsert copies into a new document. A
                // document value (only a JSON column has one) would be read as operators if
                // its keys start with `$`, so it is wrapped in `$eq`.
                let value = match value {
                    Bson::Document(_) => Bson::Document(doc! { "$eq": value }),
                    other => other,
                };
                filter.insert(path.clone(), value);
            }
            let mut set = Document::new();
            for name in &updated {
                if let Some(value) = document.remove(*name) {
                    set.insert(*name, value);
                }
            }
            // Fields of the filter are copied into an inserted document by the server.
            for path in &filter_paths {
                document.remove(path.split_once('.').map_or(path.as_str(), |(id, _)| id));
            }
            let mut update = Document::new();
            if !set.is_empty() {
                update.insert("$set", set);
            }
            // An empty `$setOnInsert` is left out unless it is the whole update (an empty
            // update document would replace the stored one; MongoDB 5.0+ accepts `{}` there).
            if !document.is_empty() || update.is_empty() {
                update.insert("$setOnInsert", document);
            }
            Ok(doc! { "q": filter, "u": update, "upsert": true })
        })
        .collect()
}

/// The statements of `q` for a model without an auto-increment key (see
/// [`upsert_statements`]).
pub fn upsert_plan(q: &UpsertQuery) -> Result<Vec<Document>> {
    upsert_statements(q, insert_documents(&q.insert)?)
}
