//! [`ModelSchema`] → the collection's `$jsonSchema` validator and its indexes.

use bson::{Bson, Document, doc};

use super::fields::{ID_FIELD, check_schema, path_of, single_key};
use crate::error::Result;
use crate::schema::{ColumnSchema, ColumnType, IndexMethod, ModelSchema};

/// An index the model declares, ready for `createIndexes`.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexPlan {
    /// The index name from the descriptor (`uq_<table>_<cols>` / `idx_<table>_<cols>`), so a
    /// duplicate-key error names the same constraint as on SQL.
    pub name: &'static str,
    /// The key document: `{field: 1, ..}` in index order.
    pub keys: Document,
    /// Whether the index is unique.
    pub unique: bool,
    /// The `partialFilterExpression` of a partial index (`where = ...`): the filter document
    /// of its condition.
    pub partial_filter: Option<Document>,
}

/// The BSON types a value of `ty` may be stored as (see [`super::to_bson`]).
///
/// Integers accept both `int` and `long` for 64-bit columns (a small `i64` written by another
/// client may be an int32; the ORM reads either), floats are `double`; a JSON column accepts
/// any type (an embedded document, array or scalar).
fn bson_types(ty: ColumnType) -> &'static [&'static str] {
    match ty {
        ColumnType::Bool => &["bool"],
        ColumnType::SmallInt | ColumnType::Int | ColumnType::U8 | ColumnType::U16 => &["int"],
        ColumnType::BigInt | ColumnType::U32 => &["long", "int"],
        ColumnType::U64 => &["long", "int", "decimal"],
        ColumnType::Float | ColumnType::Double => &["double"],
        ColumnType::Text | ColumnType::Time => &["string"],
        ColumnType::Bytes | ColumnType::Uuid => &["binData"],
        ColumnType::ObjectId => &["objectId"],
        ColumnType::TimestampTz | ColumnType::Timestamp | ColumnType::Date => &["date"],
        ColumnType::Decimal => &["decimal"],
        ColumnType::Json => &[],
    }
}

/// The inclusive range the integer types narrower than their BSON type must keep.
fn integer_range(ty: ColumnType) -> Option<(Bson, Bson)> {
    match ty {
        ColumnType::SmallInt => Some((i32::from(i16::MIN).into(), i32::from(i16::MAX).into())),
        ColumnType::U8 => Some((0.into(), i32::from(u8::MAX).into())),
        ColumnType::U16 => Some((0.into(), i32::from(u16::MAX).into())),
        ColumnType::U32 => Some((0.into(), i64::from(u32::MAX).into())),
        ColumnType::U64 => Some((0.into(), Bson::Decimal128(u64_max()))),
        _ => None,
    }
}

fn u64_max() -> bson::Decimal128 {
    u64::MAX
        .to_string()
        .parse()
        .expect("u64::MAX is a decimal128")
}

/// The `$jsonSchema` property of one column: its BSON types (`null` added when nullable),
/// `maxLength` for bounded text, the range of the narrow and unsigned integer types, and the
/// allowed values of an enum (`#[derive(SqlEnum)]`).
fn property(col: &ColumnSchema) -> Document {
    let mut types: Vec<Bson> = bson_types(col.ty).iter().map(|&t| Bson::from(t)).collect();
    if col.nullable && !types.is_empty() {
        types.push(Bson::from("null"));
    }
    let mut p = Document::new();
    if !types.is_empty() {
        p.insert("bsonType", types);
    }
    if let (ColumnType::Text, Some(max)) = (col.ty, col.max_length) {
        p.insert("maxLength", i64::from(max));
    }
    if let Some((min, max)) = integer_range(col.ty) {
        p.insert("minimum", min);
        p.insert("maximum", max);
    }
    if let Some(values) = col.allowed_values {
        let mut allowed: Vec<Bson> = values.iter().map(|&v| Bson::from(v)).collect();
        if col.nullable {
            allowed.push(Bson::Null);
        }
        p.insert("enum", allowed);
    }
    p
}

/// The validator of `schema`'s collection: `{$jsonSchema: {bsonType: "object", required: [..],
/// properties: {..}}}`.
///
/// Every non-nullable column is required (a missing field reads as NULL, so it must be
/// present); each property carries its BSON types, `maxLength` for `max_length` text columns
/// and the range of `i16`. The key is `_id` (an embedded document with its own `required` and
/// `properties` for a composite key). Extra fields are allowed, so documents written by an
/// older version of the model stay valid.
pub fn validator(schema: &ModelSchema) -> Result<Document> {
    check_schema(schema)?;
    let mut required = Vec::new();
    let mut properties = Document::new();
    let mut key_required = Vec::new();
    let mut key_properties = Document::new();
    for col in schema.columns {
        match (col.primary_key, single_key(schema)) {
            (true, true) => {
                required.push(Bson::from(ID_FIELD));
                properties.insert(ID_FIELD, property(col));
            }
            (true, false) => {
                key_required.push(Bson::from(col.name));
                key_properties.insert(col.name, property(col));
            }
            (false, _) => {
                if !col.nullable {
                    required.push(Bson::from(col.name));
                }
                properties.insert(path_of(schema, col), property(col));
            }
        }
    }
    if !key_required.is_empty() {
        required.insert(0, Bson::from(ID_FIELD));
        let key = doc! {
            "bsonType": "object",
            "required": key_required,
            "properties": key_properties,
        };
        let mut with_key = doc! { ID_FIELD: key };
        with_key.extend(properties);
        properties = with_key;
    }
    let mut json_schema = doc! {
        "bsonType": "object",
        "required": required,
        "properties": properties,
    };
    if !schema.checks.is_empty() {
        let clauses = schema
            .checks
            .iter()
            .map(|check| super::check::check_clause(schema, check))
            .collect::<Result<Vec<_>>>()?;
        json_schema.insert("allOf", clauses);
    }
    Ok(doc! { "$jsonSchema": json_schema })
}

/// The indexes `schema` declares, field-level and struct-level, by field path.
///
/// A unique index over exactly the primary-key columns is left out: `_id` is always unique.
pub fn index_plans(schema: &ModelSchema) -> Result<Vec<IndexPlan>> {
    check_schema(schema)?;
    let key: Vec<&str> = schema.primary_key_columns().map(|c| c.name).collect();
    let mut plans = Vec::new();
    for index in schema.indexes {
        if index.unique
            && index.is_plain()
            && index.columns.len() == key.len()
            && index.columns.iter().all(|c| key.contains(c))
        {
            continue;
        }
        let refuse = |what: String| {
            crate::error::Error::Schema(format!(
                "index `{}` of `{}` {what}, which MongoDB has no equivalent of; keep the index \
                 to the SQL dialects (a model for MongoDB declares it without that option)",
                index.name, schema.table
            ))
        };
        // `gin` and `gist` are PostgreSQL's alone, left out elsewhere (see
        // `sql::ddl::index_is_built`).
        let hashed = match index.method {
            None | Some(IndexMethod::Btree) => false,
            Some(IndexMethod::Hash) => true,
            Some(_) => continue,
        };
        let mut keys = Document::new();
        for (name, key) in index.key_specs() {
            if let Some(f) = key.function {
                return Err(refuse(format!(
                    "indexes `{}({name})` (a case-insensitive index is a collation there)",
                    f.sql()
                )));
            }
            let direction = match (hashed, key.descending) {
                (true, _) => Bson::String("hashed".to_owned()),
                (false, false) => Bson::Int32(1),
                (false, true) => Bson::Int32(-1),
            };
            keys.insert(super::field_path(schema, name)?, direction);
        }
        // `include` columns have no MongoDB form: every index can cover any field it keys, and
        // leaving them out changes no result.
        let partial_filter = index
            .predicate
            .map(|predicate| {
                super::filter::filter_with(&super::filter::ModelFields(schema), Some(&predicate()))
            })
            .transpose()?;
        plans.push(IndexPlan {
            name: index.name,
            keys,
            unique: index.unique,
            partial_filter,
        });
    }
    Ok(plans)
}
