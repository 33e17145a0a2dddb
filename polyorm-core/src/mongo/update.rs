//! [`UpdateQuery`] → `update_many` arguments.

use bson::{Bson, Document};

use super::fields::field_path;
use super::filter::filter_document;
use super::value::to_bson;
use crate::error::{Error, Result};
use crate::query::ir::{Assignment, UpdateQuery};

/// The arguments of an `update_many`.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdatePlan {
    /// The filter document selecting the documents to update.
    pub filter: Document,
    /// The update document: `{$set: {..}}` and/or `{$unset: {..}}`.
    pub update: Document,
}

/// Compiles an update: each assignment goes to `$set`, except those to NULL, which go to
/// `$unset` (the field is removed; readers and `{f: {$eq: null}}` filters treat a missing field as
/// NULL). A column assigned twice keeps the last value, as MySQL does.
///
/// [`Error::InvalidQuery`] when the update sets nothing (as on SQL) or sets a primary-key
/// column: MongoDB never changes a document's `_id`.
pub fn update_plan(q: &UpdateQuery) -> Result<UpdatePlan> {
    let schema = q.schema;
    if q.assignments.is_empty() {
        return Err(Error::InvalidQuery(format!(
            "update of `{}` sets no column; add at least one `set(column, value)`",
            schema.table
        )));
    }
    let filter = filter_document(schema, q.filter.as_ref())?;
    let mut set = Document::new();
    let mut unset = Document::new();
    let mut inc = Document::new();
    for (name, assignment) in &q.assignments {
        let path = field_path(schema, name)?;
        if schema.column(name).is_some_and(|c| c.primary_key) {
            return Err(Error::InvalidQuery(format!(
                "update of `{}` sets the primary-key column `{name}`; MongoDB cannot change a document's `_id`: delete the row and insert it with the new key",
                schema.table
            )));
        }
        set.remove(&path);
        unset.remove(&path);
        inc.remove(&path);
        let value = match assignment {
            Assignment::Value(value) => value,
            Assignment::Add { source, delta } if source == name => {
                inc.insert(path, to_bson(delta));
                continue;
            }
            Assignment::Add { source, .. } => {
                return Err(Error::InvalidQuery(format!(
                    "update of `{}` sets `{name}` from another column (`{source}`), which MongoDB's update operators cannot express; only `{name} + n` (`$inc`) is supported",
                    schema.table
                )));
            }
        };
        if value.is_null() {
            unset.insert(path, Bson::String(String::new()));
        } else {
            set.insert(path, to_bson(value));
        }
    }
    let mut update = Document::new();
    if !set.is_empty() {
        update.insert("$set", set);
    }
    if !unset.is_empty() {
        update.insert("$unset", unset);
    }
    if !inc.is_empty() {
        update.insert("$inc", inc);
    }
    Ok(UpdatePlan { filter, update })
}
