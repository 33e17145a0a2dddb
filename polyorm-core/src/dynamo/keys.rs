//! Tables and their keys: the primary key and the global secondary indexes of a model.

use aws_sdk_dynamodb::types::ScalarAttributeType;

use crate::error::{Error, Result};
use crate::schema::{ColumnSchema, ColumnType, ModelSchema};

/// The key of a table or of a global secondary index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySchema {
    /// The index's name, `None` for the table's own key.
    pub index: Option<&'static str>,
    /// The partition (hash) key attribute.
    pub partition: &'static str,
    /// The sort (range) key attribute, if any.
    pub sort: Option<&'static str>,
    /// Whether the index is unique in the model (enforced with guard items, see
    /// [`crate::dynamo`]).
    pub unique: bool,
}

/// The table's key: a single-column primary key is the partition key, a two-column one is
/// partition + sort key; more columns cannot be a DynamoDB key ([`Error::Schema`]).
pub fn table_key(schema: &'static ModelSchema) -> Result<KeySchema> {
    let mut pk = schema.primary_key.iter().map(|&i| &schema.columns[i]);
    match (pk.next(), pk.next(), pk.next()) {
        (Some(partition), sort, None) => {
            key_type(schema, partition)?;
            if let Some(sort) = sort {
                key_type(schema, sort)?;
            }
            Ok(KeySchema {
                index: None,
                partition: partition.name,
                sort: sort.map(|c| c.name),
                unique: true,
            })
        }
        (None, ..) => Err(Error::Schema(format!(
            "`{}` has no primary key; DynamoDB needs one (the partition key)",
            schema.table
        ))),
        _ => Err(Error::Schema(format!(
            "the primary key of `{}` has {} columns; a DynamoDB key has a partition key and at \
             most one sort key: key the model by one or two columns",
            schema.table,
            schema.primary_key.len()
        ))),
    }
}

/// The global secondary indexes of a model: one per declared index, its first column the
/// partition key and its second (if any) the sort key. An index of more than two columns
/// keys on its first two and filters on the rest.
///
/// A partial, expression, descending or non-default-method index has no DynamoDB form: it is
/// an [`Error::Schema`] that names the index.
pub fn secondary_indexes(schema: &'static ModelSchema) -> Result<Vec<KeySchema>> {
    if let Some(index) = schema.indexes.iter().find(|i| !i.is_plain()) {
        return Err(Error::Schema(format!(
            "index `{}` of `{}` is partial (`where`), orders or computes a key (`desc`, \
             `lower`), names a method or includes columns, and DynamoDB indexes only plain \
             attributes; declare a plain `index(...)` for a model stored in DynamoDB",
            index.name, schema.table
        )));
    }
    schema
        .indexes
        .iter()
        .map(|index| {
            let column = |name: &str| {
                schema.column(name).ok_or_else(|| {
                    Error::Schema(format!(
                        "index `{}` of `{}` names `{name}`, which is not a column",
                        index.name, schema.table
                    ))
                })
            };
            let partition = column(index.columns[0])?;
            key_type(schema, partition)?;
            let sort = match index.columns.get(1) {
                Some(name) => {
                    let sort = column(name)?;
                    key_type(schema, sort)?;
                    Some(sort.name)
                }
                None => None,
            };
            Ok(KeySchema {
                index: Some(index.name),
                partition: partition.name,
                sort,
                unique: index.unique,
            })
        })
        .collect()
}

/// The scalar type a key attribute of `column` has: `S`, `N` or `B` (booleans and JSON
/// cannot be keys: [`Error::Schema`]).
pub fn key_type(schema: &ModelSchema, column: &ColumnSchema) -> Result<ScalarAttributeType> {
    Ok(match column.ty {
        ColumnType::SmallInt
        | ColumnType::Int
        | ColumnType::BigInt
        | ColumnType::U8
        | ColumnType::U16
        | ColumnType::U32
        | ColumnType::U64
        | ColumnType::Float
        | ColumnType::Double
        | ColumnType::Decimal => ScalarAttributeType::N,
        ColumnType::Bytes => ScalarAttributeType::B,
        ColumnType::Text
        | ColumnType::Uuid
        | ColumnType::ObjectId
        | ColumnType::TimestampTz
        | ColumnType::Timestamp
        | ColumnType::Date
        | ColumnType::Time => ScalarAttributeType::S,
        other => {
            return Err(Error::Schema(format!(
                "`{}.{}` ({}) cannot be a DynamoDB key or index key: keys are numbers, text or \
                 bytes; drop it from the key or index",
                schema.table,
                column.name,
                other.rust_name()
            )));
        }
    })
}
