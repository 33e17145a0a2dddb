//! Column → field path: the primary key becomes `_id`, everything else keeps its name.

use crate::error::{Error, Result};
use crate::query::ir::ColumnRef;
use crate::schema::{ColumnSchema, ModelSchema};

/// The name of MongoDB's primary-key field.
pub const ID_FIELD: &str = "_id";

/// The field a join's `$lookup` puts the joined document in (no column may have this name).
pub const JOINED_FIELD: &str = "__orm_joined";

/// Whether the model's key is one column, stored as `_id` itself.
pub(crate) fn single_key(schema: &ModelSchema) -> bool {
    schema.primary_key.len() == 1
}

/// The field path of the column named `column` of `schema`.
///
/// The single primary-key column is `_id`; a column of a composite primary key is
/// `_id.<column>` (the key is an embedded document); any other column is its own name.
/// Fails with [`Error::Schema`] for a name MongoDB would misread (see the module docs) and with
/// [`Error::InvalidQuery`] for a column the model does not have.
pub fn field_path(schema: &ModelSchema, column: &str) -> Result<String> {
    let Some(col) = schema.column(column) else {
        return Err(Error::InvalidQuery(format!(
            "`{}` has no column `{column}`",
            schema.table
        )));
    };
    check_name(schema, col)?;
    Ok(path_of(schema, col))
}

/// The path of a column already known to belong to `schema` and to have a valid name.
pub(crate) fn path_of(schema: &ModelSchema, col: &ColumnSchema) -> String {
    match (col.primary_key, single_key(schema)) {
        (true, true) => ID_FIELD.to_owned(),
        (true, false) => format!("{ID_FIELD}.{}", col.name),
        (false, _) => col.name.to_owned(),
    }
}

/// The schema column an IR reference points at, with its field path.
pub(crate) fn resolve<'s>(
    schema: &'s ModelSchema,
    column: &ColumnRef,
) -> Result<(&'s ColumnSchema, String)> {
    if column.table != schema.table {
        return Err(Error::InvalidQuery(format!(
            "column `{}.{}` does not belong to `{}`; MongoDB queries read one collection",
            column.table, column.name, schema.table
        )));
    }
    let path = field_path(schema, column.name)?;
    let col = schema.column(column.name).expect("checked by field_path");
    Ok((col, path))
}

/// Rejects every column name of `schema` that MongoDB would misread.
pub(crate) fn check_schema(schema: &ModelSchema) -> Result<()> {
    schema
        .columns
        .iter()
        .try_for_each(|col| check_name(schema, col))
}

/// A column name must be a plain field name: not empty, no leading `$` (an operator), no `.`
/// (a path separator), no NUL (BSON keys are C strings), and `_id` only for the single key.
fn check_name(schema: &ModelSchema, col: &ColumnSchema) -> Result<()> {
    let name = col.name;
    let problem = if name.is_empty() {
        Some("is empty")
    } else if name.starts_with('$') {
        Some("starts with `$`, which MongoDB reads as an operator")
    } else if name.contains('.') {
        Some("contains `.`, which MongoDB reads as a path into an embedded document")
    } else if name.contains('\0') {
        Some("contains a NUL character")
    } else if name == JOINED_FIELD {
        Some("is the field joins use on MongoDB")
    } else if name == ID_FIELD && !(col.primary_key && single_key(schema)) {
        Some("is `_id`, which MongoDB reserves for the primary key")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(Error::Schema(format!(
            "column `{name}` of `{}` cannot be stored on MongoDB: its name {problem}; rename it with `#[orm(column = \"...\")]`",
            schema.table
        ))),
        None => Ok(()),
    }
}
