//! Writes: items of inserts, update expressions, conditions of conditional writes.

use super::expr::{FilterCompiler, Placeholders, unsupported};
use super::keys::table_key;
use super::plan::Item;
use super::value::into_attr;
use crate::error::{Error, Result};
use crate::query::ir::{Assignment, Condition, InsertQuery, UpdateQuery};
use crate::schema::ModelSchema;

/// The items of an insert, one per row (NULL values left out). An auto-increment key left
/// out of the rows is not in the items: the executor assigns it.
pub fn insert_items(query: &InsertQuery) -> Result<Vec<Item>> {
    into_insert_items(query.clone())
}

/// [`insert_items`] of an insert the caller no longer needs: its values move into the items
/// (text and bytes are not copied).
pub fn into_insert_items(query: InsertQuery) -> Result<Vec<Item>> {
    let columns: Vec<&'static str> = query.schema.insert_columns().map(|c| c.name).collect();
    query
        .rows
        .into_iter()
        .map(|row| {
            let mut item = Item::with_capacity(row.len());
            for (name, value) in columns.iter().zip(row) {
                if let Some(attr) = into_attr(value)? {
                    item.insert((*name).to_owned(), attr);
                }
            }
            Ok(item)
        })
        .collect()
}

/// The key attributes of `item` (the table's partition and sort key).
pub fn key_of(schema: &'static ModelSchema, item: &Item) -> Result<Item> {
    let key = table_key(schema)?;
    let mut out = Item::with_capacity(2);
    for name in [Some(key.partition), key.sort].into_iter().flatten() {
        let value = item.get(name).ok_or_else(|| {
            Error::InvalidQuery(format!(
                "an item of `{}` has no value for its key attribute `{name}`",
                schema.table
            ))
        })?;
        out.insert(name.to_owned(), value.clone());
    }
    Ok(out)
}

/// `attribute_not_exists(#pk)`: the condition of an insert (a second item with the same key
/// fails instead of replacing the first).
pub fn not_exists(schema: &'static ModelSchema, p: &mut Placeholders) -> Result<String> {
    let key = table_key(schema)?;
    let name = p.name(key.partition);
    Ok(format!("attribute_not_exists({name})"))
}

/// `attribute_exists(#pk) [AND <filter>]`: the condition under which an update or delete of
/// one item applies.
pub fn write_condition(
    schema: &'static ModelSchema,
    filter: Option<&Condition>,
    p: &mut Placeholders,
) -> Result<String> {
    let key = table_key(schema)?;
    let name = p.name(key.partition);
    let exists = format!("attribute_exists({name})");
    match filter {
        None => Ok(exists),
        Some(filter) => {
            let compiled = FilterCompiler { schema, p }.compile(filter, false)?;
            Ok(format!("{exists} AND {compiled}"))
        }
    }
}

/// The `UpdateExpression` of an update: `SET #a = :v, #b = #b + :d REMOVE #c` (a NULL value
/// removes the attribute). Key attributes cannot change on DynamoDB ([`Error::Unsupported`]).
pub fn update_expression(query: &UpdateQuery, p: &mut Placeholders) -> Result<String> {
    let schema = query.schema;
    let key = table_key(schema)?;
    let mut set = Vec::new();
    let mut remove = Vec::new();
    for (column, assignment) in &query.assignments {
        if *column == key.partition || Some(*column) == key.sort {
            return Err(unsupported(
                schema,
                "changing a key attribute",
                "delete the item and insert it under its new key (in one transaction)",
            ));
        }
        let name = p.name(column);
        match assignment {
            Assignment::Value(value) => match p.value(value)? {
                Some(v) => set.push(format!("{name} = {v}")),
                None => remove.push(name),
            },
            Assignment::Add { source, delta } => {
                let source = p.name(source);
                let Some(d) = p.value(delta)? else {
                    // NULL + anything is NULL.
                    remove.push(name);
                    continue;
                };
                set.push(format!("{name} = {source} + {d}"));
            }
        }
    }
    let mut out = String::new();
    if !set.is_empty() {
        out.push_str("SET ");
        out.push_str(&set.join(", "));
    }
    if !remove.is_empty() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str("REMOVE ");
        out.push_str(&remove.join(", "));
    }
    Ok(out)
}
