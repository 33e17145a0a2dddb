//! [`DeleteQuery`] → `delete_many` filter.

use bson::Document;

use super::filter::filter_document;
use crate::error::Result;
use crate::query::ir::DeleteQuery;

/// The filter of a `delete_many` (`{}`, every document, when the delete has no filter).
pub fn delete_filter(q: &DeleteQuery) -> Result<Document> {
    filter_document(q.schema, q.filter.as_ref())
}
