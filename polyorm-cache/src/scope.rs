//! Which generations a cached read depends on and which ones a write moves: per table, and
//! per primary key for reads and writes that pin the keys of their rows.
//!
//! For a table `T`:
//! - `T` moves on every write to `T`; a read that does not pin its rows depends on it.
//! - `T!rows` moves on writes whose rows' keys are unknown (bulk updates and deletes,
//!   inserts without the key, upserts that may conflict on another unique key, raw SQL
//!   naming the table, explicit invalidation).
//! - `T=k` moves on writes to the row whose primary key is `k`.
//!
//! A read of `T` alone whose filter pins the primary key (`id = 5`, `id IN (..)`, either
//! ANDed with anything that reads no other row) depends on `T!rows` and its `T=k` only, so
//! writes to other rows leave it cached. Only single-column integer keys are pinned: a text
//! key may compare equal to another spelling under the column's collation (case, accents,
//! trailing spaces on MySQL), which a per-key generation could not see.
//!
//! The database changes more than the statement names: a delete (or a key update) of `T`
//! also deletes or updates the rows of tables whose foreign keys to `T` cascade or set NULL /
//! their default. Their whole tables move with it, found among every model linked into the
//! program (the derive registers each one).

use std::collections::HashMap;
use std::sync::OnceLock;

use polyorm_core::Value;
use polyorm_core::query::ir::{CmpOp, Condition, InsertQuery, Projection, SelectQuery, Statement};
use polyorm_core::schema::{ForeignKeySchema, ModelSchema, ReferentialAction};

/// More keys than this in one read or write are treated as unknown (per table).
const MAX_PINNED: usize = 32;

/// The generation of every read of `table` that does not pin its rows.
fn table(table: &str) -> String {
    table.to_owned()
}

/// The generation moved by writes to `table` whose keys are unknown.
fn rows(table: &str) -> String {
    format!("{table}!rows")
}

/// The generation of the row of `table` whose primary key is `key`.
fn row(table: &str, key: i128) -> String {
    format!("{table}={key}")
}

/// What invalidating all of `table` moves: every read of it, pinned or not.
pub(crate) fn whole_table(name: &str) -> [String; 2] {
    [table(name), rows(name)]
}

/// The generations a read of `query` depends on (without the global one and tags).
pub(crate) fn read(query: &SelectQuery) -> Vec<String> {
    match pinned_read(query) {
        Some(keys) => {
            let t = query.schema.table;
            std::iter::once(rows(t))
                .chain(keys.into_iter().map(|k| row(t, k)))
                .collect()
        }
        None => query.tables().into_iter().map(table).collect(),
    }
}

/// The generations a write of `statement` moves once it has run.
pub(crate) fn write(statement: &Statement) -> Vec<String> {
    match statement {
        Statement::Select(q) => whole_table(q.schema.table).into(),
        Statement::Insert(q) => insert(q),
        Statement::Upsert(q) => {
            // The conflicting row is the one with the same key only when no other unique
            // constraint could conflict.
            let only_key = q.insert.schema.indexes.iter().all(|index| !index.unique)
                && key_column(q.insert.schema)
                    .is_some_and(|key| q.on_conflict.columns.as_slice() == [key]);
            if only_key {
                insert(&q.insert)
            } else {
                whole_table(q.insert.schema.table).into()
            }
        }
        Statement::Update(q) => {
            // An update that sets the key moves the row to a key no filter names.
            let moves_key = key_column(q.schema)
                .is_none_or(|key| q.assignments.iter().any(|(column, _)| *column == key));
            let keys = (!moves_key)
                .then(|| pinned(q.schema, q.filter.as_ref()))
                .flatten();
            let mut names = known(q.schema.table, keys);
            let sets = |fk: &ForeignKeySchema| {
                q.assignments
                    .iter()
                    .any(|(column, _)| fk.ref_columns.contains(column))
            };
            extend_referencing(
                &mut names,
                q.schema.table,
                &|fk| sets(fk).then_some(fk.on_update),
                |fk| fk.on_update,
            );
            names
        }
        Statement::Delete(q) => {
            let mut names = known(q.schema.table, pinned(q.schema, q.filter.as_ref()));
            extend_referencing(&mut names, q.schema.table, &|fk| Some(fk.on_delete), |fk| {
                fk.on_delete
            });
            names
        }
    }
}

/// Foreign keys by the table they reference: (referencing table, key).
type ByParent = HashMap<&'static str, Vec<(&'static str, &'static ForeignKeySchema)>>;

/// Every linked model's foreign keys, by the table they reference.
fn foreign_keys_to() -> &'static ByParent {
    static BY_PARENT: OnceLock<ByParent> = OnceLock::new();
    BY_PARENT.get_or_init(|| {
        let mut by_parent: HashMap<_, Vec<_>> = HashMap::new();
        for model in polyorm_core::registry::models() {
            for fk in model.foreign_keys {
                by_parent
                    .entry(fk.ref_table)
                    .or_default()
                    .push((model.table, fk));
            }
        }
        by_parent
    })
}

/// Adds the whole tables whose rows the database changes through foreign keys to `parent`
/// when `parent`'s rows are deleted or their keys updated: `action` says which action a key
/// to `parent` takes for this statement (`None`: not touched), `cascaded` which one a key to
/// a table reached by a cascade takes (the cascade deletes its rows or updates their
/// referencing columns, which may be what its own referencing tables name: followed too).
fn extend_referencing(
    names: &mut Vec<String>,
    parent: &'static str,
    action: &dyn Fn(&ForeignKeySchema) -> Option<ReferentialAction>,
    cascaded: fn(&ForeignKeySchema) -> ReferentialAction,
) {
    // `parent` is not marked seen: a foreign key of `parent` to itself (a manager column set
    // NULL with its row's deletion) changes rows of `parent` whose keys the statement does
    // not name, so the whole table moves too.
    let mut seen = Vec::new();
    let mut frontier = vec![parent];
    while let Some(table) = frontier.pop() {
        for &(child, fk) in foreign_keys_to().get(table).into_iter().flatten() {
            let taken = if table == parent {
                action(fk)
            } else {
                Some(cascaded(fk))
            };
            let changes = matches!(
                taken,
                Some(
                    ReferentialAction::Cascade
                        | ReferentialAction::SetNull
                        | ReferentialAction::SetDefault
                )
            );
            if !changes || seen.contains(&child) {
                continue;
            }
            seen.push(child);
            names.extend(whole_table(child));
            if taken == Some(ReferentialAction::Cascade) {
                frontier.push(child);
            }
        }
    }
}

/// The generations an insert of `query`'s rows moves.
pub(crate) fn insert(query: &InsertQuery) -> Vec<String> {
    let schema = query.schema;
    let position =
        key_column(schema).and_then(|key| schema.insert_columns().position(|c| c.name == key));
    let keys = position.and_then(|i| {
        query
            .rows
            .iter()
            .map(|values| values.get(i).and_then(integer))
            .collect::<Option<Vec<i128>>>()
    });
    known(schema.table, keys.filter(|k| k.len() <= MAX_PINNED))
}

/// `T` and either the rows' generations or, when the keys are unknown, `T!rows`.
fn known(name: &str, keys: Option<Vec<i128>>) -> Vec<String> {
    let mut out = vec![table(name)];
    match keys {
        Some(keys) => out.extend(keys.into_iter().map(|k| row(name, k))),
        None => out.push(rows(name)),
    }
    out
}

/// The keys a read pins, when it reads only rows with those keys of its own table.
fn pinned_read(query: &SelectQuery) -> Option<Vec<i128>> {
    if !query.joins.is_empty() || !query.compound.is_empty() || query.walk.is_some() {
        return None;
    }
    let having = match &query.projection {
        Projection::Exprs(aggregation) => aggregation.having.as_ref(),
        _ => None,
    };
    let mut subqueries = 0;
    for condition in query.filter.iter().chain(having) {
        condition.visit_subqueries(&mut |_| subqueries += 1);
    }
    if subqueries > 0 {
        return None;
    }
    pinned(query.schema, query.filter.as_ref())
}

/// The primary-key values `filter` restricts `schema`'s rows to, if it does.
fn pinned(schema: &ModelSchema, filter: Option<&Condition>) -> Option<Vec<i128>> {
    let key = key_column(schema)?;
    let keys = pins(schema.table, key, filter?)?;
    (keys.len() <= MAX_PINNED).then_some(keys)
}

fn pins(table: &str, key: &str, condition: &Condition) -> Option<Vec<i128>> {
    let is_key =
        |column: &polyorm_core::query::ir::ColumnRef| column.table == table && column.name == key;
    match condition {
        Condition::Compare {
            column,
            op: CmpOp::Eq,
            value,
        } if is_key(column) => Some(vec![integer(value)?]),
        Condition::InList {
            column,
            values,
            negated: false,
        } if is_key(column) => values.iter().map(integer).collect(),
        // One pinning conjunct restricts the rows to its keys, whatever the others say.
        Condition::And(items) => items.iter().find_map(|c| pins(table, key, c)),
        _ => None,
    }
}

/// The single primary-key column of `schema`, if its key has one column.
fn key_column(schema: &ModelSchema) -> Option<&'static str> {
    match schema.primary_key {
        [one] => Some(schema.columns[*one].name),
        _ => None,
    }
}

/// An integer key value, the same whatever its width.
fn integer(value: &Value) -> Option<i128> {
    match value {
        Value::SmallInt(n) => Some(i128::from(*n)),
        Value::Int(n) => Some(i128::from(*n)),
        Value::BigInt(n) => Some(i128::from(*n)),
        Value::BigUnsigned(n) => Some(i128::from(*n)),
        _ => None,
    }
}
