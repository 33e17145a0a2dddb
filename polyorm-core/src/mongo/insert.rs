//! [`InsertQuery`] → documents for `insert_many`.

use bson::Document;

use super::fields::{ID_FIELD, check_schema, single_key};
use super::value::to_bson;
use crate::error::{Error, Result};
use crate::query::ir::InsertQuery;
use crate::schema::ColumnSchema;

/// One document per inserted row, `_id` first, then the other columns in schema order.
///
/// - A single-column key given by the application becomes `_id`.
/// - An **auto-increment** key is not among the inserted values, so `_id` is left out: the
///   executor assigns it (from a counters collection) before inserting.
/// - A composite key becomes the embedded document `_id: {col1: v, col2: v}`, in key order.
/// - NULL values are stored as `null`.
///
/// An empty query gives no documents (the driver refuses an empty `insert_many`, so the
/// executor should skip it). A row whose length differs from
/// [`ModelSchema::insert_columns`](crate::ModelSchema::insert_columns) is an
/// [`Error::InvalidQuery`].
pub fn insert_documents(q: &InsertQuery) -> Result<Vec<Document>> {
    let schema = q.schema;
    check_schema(schema)?;
    let columns: Vec<&ColumnSchema> = schema.insert_columns().collect();
    let composite = !schema.primary_key.is_empty() && !single_key(schema);
    if composite && schema.primary_key_columns().any(|c| c.auto_increment) {
        return Err(Error::InvalidQuery(format!(
            "`{}` has an auto-increment column in a composite key, which MongoDB cannot generate",
            schema.table
        )));
    }
    // Position among the inserted values of each key column, in key order.
    let key_at: Vec<(&str, usize)> = schema
        .primary_key_columns()
        .filter_map(|k| Some((k.name, columns.iter().position(|c| c.name == k.name)?)))
        .collect();
    let mut docs = Vec::with_capacity(q.rows.len());
    for (i, row) in q.rows.iter().enumerate() {
        if row.len() != columns.len() {
            return Err(Error::InvalidQuery(format!(
                "insert into `{}`: row {i} has {} values for {} columns",
                schema.table,
                row.len(),
                columns.len()
            )));
        }
        let mut doc = Document::new();
        if composite {
            let mut key = Document::new();
            for &(name, at) in &key_at {
                key.insert(name, to_bson(&row[at]));
            }
            doc.insert(ID_FIELD, key);
        } else if let Some(&(_, at)) = key_at.first() {
            doc.insert(ID_FIELD, to_bson(&row[at]));
        }
        for (col, value) in columns.iter().zip(row) {
            if !col.primary_key {
                doc.insert(col.name, to_bson(value));
            }
        }
        docs.push(doc);
    }
    Ok(docs)
}
