//! A model inferred from a sample of a MongoDB collection's documents (feature `mongodb`).
//!
//! MongoDB keeps no schema, so this is an inference, and the generated code says so: each
//! field's type is the BSON type most of the sampled documents have for it (ties broken in
//! `pull`'s order of preference), `Option` where some documents lack it or hold `null`, and a
//! note lists the other types seen (documents holding them will not decode).

use std::collections::BTreeMap;

use mongodb::bson::{Bson, Document, spec::BinarySubtype};
use polyorm_core::ColumnType;

use crate::error::{Error, Result};
use crate::pull::{PREFERENCE, PulledField, PulledModel, type_ident};
use crate::schema::{Column, Table};

/// What one field held across the sample.
#[derive(Default)]
struct Seen {
    /// Documents per logical type.
    types: BTreeMap<ColumnType, usize>,
    /// Documents where the field is `null`.
    nulls: usize,
    /// Documents that have the field.
    present: usize,
    /// The BSON names of values no field type reads (`regex`, `javascript`, ...).
    unsupported: BTreeMap<&'static str, usize>,
}

/// The logical type a BSON value reads as, or the name of a type no field reads.
fn logical(value: &Bson) -> std::result::Result<Option<ColumnType>, &'static str> {
    Ok(Some(match value {
        Bson::Null => return Ok(None),
        Bson::Boolean(_) => ColumnType::Bool,
        Bson::Int32(_) => ColumnType::Int,
        Bson::Int64(_) => ColumnType::BigInt,
        Bson::Double(_) => ColumnType::Double,
        Bson::String(_) => ColumnType::Text,
        Bson::Binary(b) if b.subtype == BinarySubtype::Uuid && b.bytes.len() == 16 => {
            ColumnType::Uuid
        }
        Bson::Binary(_) => ColumnType::Bytes,
        Bson::DateTime(_) => ColumnType::TimestampTz,
        Bson::ObjectId(_) => ColumnType::ObjectId,
        Bson::Decimal128(_) => ColumnType::Decimal,
        Bson::Document(_) | Bson::Array(_) => ColumnType::Json,
        Bson::RegularExpression(_) => return Err("regex"),
        Bson::JavaScriptCode(_) | Bson::JavaScriptCodeWithScope(_) => return Err("javascript"),
        Bson::Timestamp(_) => return Err("timestamp"),
        _ => return Err("other"),
    }))
}

/// Reads up to `sample` documents of `collection` and infers a model from them.
pub async fn infer(
    db: &mongodb::Database,
    collection: &str,
    sample: u32,
) -> Result<(PulledModel, Vec<String>)> {
    let mut cursor = db
        .collection::<Document>(collection)
        .find(Document::new())
        .limit(i64::from(sample))
        .await
        .map_err(|e| mongo_error(collection, e))?;
    let mut docs = Vec::new();
    while cursor
        .advance()
        .await
        .map_err(|e| mongo_error(collection, e))?
    {
        docs.push(
            cursor
                .deserialize_current()
                .map_err(|e| mongo_error(collection, e))?,
        );
    }
    Ok(from_documents(collection, &docs))
}

fn mongo_error(collection: &str, e: mongodb::error::Error) -> Error {
    Error::Unsupported(format!(
        "cannot read a sample of the MongoDB collection `{collection}`: {e}; check the URL, \
         the credentials and that the server is up"
    ))
}

/// The model the documents `docs` of `collection` suggest, and the fields left out.
pub fn from_documents(collection: &str, docs: &[Document]) -> (PulledModel, Vec<String>) {
    // Fields in the order they are first seen.
    let mut order: Vec<String> = Vec::new();
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    for doc in docs {
        for (key, value) in doc {
            if !seen.contains_key(key) {
                order.push(key.clone());
            }
            let s = seen.entry(key.clone()).or_default();
            s.present += 1;
            match logical(value) {
                Ok(Some(ty)) => *s.types.entry(ty).or_default() += 1,
                Ok(None) => s.nulls += 1,
                Err(name) => *s.unsupported.entry(name).or_default() += 1,
            }
        }
    }
    let mut fields = Vec::new();
    let mut skipped = Vec::new();
    for key in order {
        let s = &seen[&key];
        let Some(ty) = majority(&s.types) else {
            skipped.push(format!(
                "field `{collection}.{key}`: no sampled value has a type a field can read \
                 ({})",
                describe(&s.unsupported)
            ));
            continue;
        };
        let primary = key == "_id";
        let nullable = !primary && (s.present < docs.len() || s.nulls > 0);
        let mut notes = Vec::new();
        let others: BTreeMap<&'static str, usize> = s
            .types
            .iter()
            .filter(|(t, _)| **t != ty)
            .map(|(t, n)| (t.rust_name(), *n))
            .chain(s.unsupported.iter().map(|(k, n)| (*k, *n)))
            .collect();
        if !others.is_empty() {
            notes.push(format!(
                "{} of {} sampled documents hold another type ({}): they will not decode",
                others.values().sum::<usize>(),
                docs.len(),
                describe(&others)
            ));
        }
        let (ident, _) = crate::pull::field_ident(if primary { "id" } else { &key });
        fields.push(PulledField {
            ident,
            column: Column::new(if primary { "id" } else { &key }, ty, nullable),
            variants: None,
            unique: false,
            unique_name: None,
            index: false,
            index_name: None,
            belongs_to: None,
            fk_name: None,
            notes,
        });
    }
    let has_key = fields.iter().any(|f| f.column.name == "id");
    let mut notes = vec![format!(
        "Inferred from {} sampled documents of the MongoDB collection `{collection}`: MongoDB \
         keeps no schema, so review the types",
        docs.len()
    )];
    if !has_key {
        notes.push("no sampled document has an `_id`".to_owned());
    }
    let table = Table {
        name: collection.to_owned(),
        columns: fields.iter().map(|f| f.column.clone()).collect(),
        primary_key: if has_key {
            vec!["id".to_owned()]
        } else {
            vec![]
        },
        indexes: vec![],
        foreign_keys: vec![],
        checks: vec![],
        triggers: vec![],
        renamed_from: None,
    };
    let model = PulledModel {
        name: type_ident(collection),
        table,
        fields,
        composite_indexes: vec![],
        has_many: vec![],
        notes,
    };
    (model, skipped)
}

/// The type most documents hold (ties: `pull`'s order of preference).
fn majority(types: &BTreeMap<ColumnType, usize>) -> Option<ColumnType> {
    let most = types.values().max()?;
    PREFERENCE.into_iter().find(|t| types.get(t) == Some(most))
}

fn describe(counts: &BTreeMap<&'static str, usize>) -> String {
    counts
        .iter()
        .map(|(name, n)| format!("{name} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use mongodb::bson::doc;

    use super::*;

    #[test]
    fn types_by_majority_and_option_where_absent_or_null() {
        let docs = [
            doc! { "_id": 1_i64, "name": "a", "age": 3_i32, "tags": ["x"] },
            doc! { "_id": 2_i64, "name": "b", "age": "old", "score": 1.5 },
            doc! { "_id": 3_i64, "name": mongodb::bson::Bson::Null, "age": 5_i32 },
        ];
        let (model, skipped) = from_documents("people", &docs);
        assert!(skipped.is_empty(), "{skipped:?}");
        let fields: Vec<(&str, ColumnType, bool)> = model
            .fields
            .iter()
            .map(|f| (f.column.name.as_str(), f.column.ty, f.column.nullable))
            .collect();
        assert_eq!(
            fields,
            [
                ("id", ColumnType::BigInt, false),
                ("name", ColumnType::Text, true),
                ("age", ColumnType::Int, false),
                ("tags", ColumnType::Json, true),
                ("score", ColumnType::Double, true),
            ]
        );
        assert!(
            model.fields[2].notes[0].contains("1 of 3 sampled documents"),
            "{:?}",
            model.fields[2].notes
        );
        assert_eq!(model.table.primary_key, ["id"]);
    }
}
