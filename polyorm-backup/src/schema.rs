//! Descriptors of the archive's tables for the query IR, built from the manifest's snapshot.
//!
//! The IR names a table by a `&'static ModelSchema`; a restore knows its tables only from the
//! archive (the CLI has no models at all). Each distinct table definition is turned into a
//! descriptor once per process and kept (interned), so restoring the same archive again
//! allocates nothing new.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use polyorm_core::{ColumnSchema, ForeignKeySchema, IndexSchema, ModelSchema};
use polyorm_migrate::schema::Table;

/// `s` for the life of the process (descriptors hold `&'static str`).
pub(crate) fn leak_str(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

fn leak_strs(v: &[String]) -> &'static [&'static str] {
    Box::leak(
        v.iter()
            .map(|s| leak_str(s))
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    )
}

/// The descriptor of `table`; with `keys_written`, auto-increment columns are plain columns,
/// so that an insert writes the archived keys instead of letting the database pick new ones.
pub(crate) fn descriptor(table: &Table, keys_written: bool) -> &'static ModelSchema {
    static INTERNED: Mutex<BTreeMap<(String, bool), &'static ModelSchema>> =
        Mutex::new(BTreeMap::new());
    let key = (
        serde_json::to_string(table).unwrap_or_else(|_| table.name.clone()),
        keys_written,
    );
    let mut interned = INTERNED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(schema) = interned.get(&key) {
        return schema;
    }
    let positions: HashMap<&str, usize> = table
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.as_str(), i))
        .collect();
    let columns: Vec<ColumnSchema> = table
        .columns
        .iter()
        .map(|c| {
            let name = leak_str(&c.name);
            ColumnSchema {
                name,
                field: name,
                ty: c.ty,
                nullable: c.nullable,
                primary_key: table.primary_key.contains(&c.name),
                auto_increment: c.auto_increment && !keys_written,
                default: None,
                max_length: c.max_length,
                collation: c.collation.as_deref().map(leak_str),
                precision: c.precision,
                allowed_values: c.allowed_values.as_deref().map(leak_strs),
                renamed_from: None,
            }
        })
        .collect();
    let primary_key: Vec<usize> = table
        .primary_key
        .iter()
        .filter_map(|k| positions.get(k.as_str()).copied())
        .collect();
    // A partial index's condition is a function in a model's descriptor, which an archive
    // cannot give back: such an index is left out here (the restore's DDL comes from the
    // snapshot, which keeps it; the descriptor only needs the full indexes, e.g. the unique
    // ones an upsert can target).
    let indexes: Vec<IndexSchema> = table
        .indexes
        .iter()
        .filter(|ix| ix.predicate.is_none())
        .map(|ix| IndexSchema {
            name: leak_str(&ix.name),
            columns: leak_strs(&ix.columns),
            unique: ix.unique,
            keys: Box::leak(ix.keys.clone().into_boxed_slice()),
            method: ix.method,
            include: leak_strs(&ix.include),
            predicate: None,
        })
        .collect();
    let foreign_keys: Vec<ForeignKeySchema> = table
        .foreign_keys
        .iter()
        .map(|fk| ForeignKeySchema {
            name: leak_str(&fk.name),
            columns: leak_strs(&fk.columns),
            ref_table: leak_str(&fk.ref_table),
            ref_columns: leak_strs(&fk.ref_columns),
            on_delete: fk.on_delete,
            on_update: fk.on_update,
        })
        .collect();
    let name = leak_str(&table.name);
    let schema: &'static ModelSchema = Box::leak(Box::new(ModelSchema {
        name,
        table: name,
        columns: Box::leak(columns.into_boxed_slice()),
        primary_key: Box::leak(primary_key.into_boxed_slice()),
        indexes: Box::leak(indexes.into_boxed_slice()),
        foreign_keys: Box::leak(foreign_keys.into_boxed_slice()),
        checks: &[],
        renamed_from: None,
        shard_key: None,
        soft_delete: None,
    }));
    interned.insert(key, schema);
    schema
}

/// `tables` ordered so that a table comes after the tables its foreign keys reference (a
/// cycle keeps the remaining tables in name order).
pub(crate) fn dependency_order<'a>(tables: &[&'a Table]) -> Vec<&'a Table> {
    let mut left: Vec<&Table> = tables.to_vec();
    left.sort_by(|a, b| a.name.cmp(&b.name));
    let mut done: Vec<&Table> = Vec::new();
    while !left.is_empty() {
        let ready = left.iter().position(|t| {
            t.foreign_keys.iter().all(|fk| {
                fk.ref_table == t.name
                    || done.iter().any(|d| d.name == fk.ref_table)
                    || !left.iter().any(|l| l.name == fk.ref_table)
            })
        });
        done.push(left.remove(ready.unwrap_or(0)));
    }
    done
}
