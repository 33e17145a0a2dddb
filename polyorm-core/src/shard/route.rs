//! Which shards a statement reaches: the shard key read from an insert's rows, or from a
//! filter's `key = v` / `key IN (...)` terms (walked through `AND` and `OR`).

use std::collections::BTreeSet;

use super::{ShardError, ShardKey, Shards, error};
use crate::error::Error;
use crate::query::ir::{CmpOp, Condition, InsertQuery, SelectQuery, Statement};
use crate::schema::ModelSchema;
use crate::value::Value;

/// A statement as routing sees it.
pub(super) enum Routed<'a> {
    /// A select (read).
    Select(&'a SelectQuery),
    /// An insert (or an upsert's insert), with what to call it in errors.
    Insert(&'a InsertQuery, &'static str),
    /// An update: its filter, and whether it assigns the key (checked in `shards_of`).
    Update(&'a crate::query::ir::UpdateQuery),
    /// A delete.
    Delete(&'a crate::query::ir::DeleteQuery),
}

impl<'a> Routed<'a> {
    pub(super) fn of(statement: &'a Statement) -> Routed<'a> {
        match statement {
            Statement::Select(q) => Routed::Select(q),
            Statement::Insert(q) => Routed::Insert(q, "insert"),
            Statement::Upsert(q) => Routed::Insert(&q.insert, "upsert"),
            Statement::Update(q) => Routed::Update(q),
            Statement::Delete(q) => Routed::Delete(q),
        }
    }

    pub(super) fn schema(&self) -> &'static ModelSchema {
        match self {
            Routed::Select(q) => q.schema,
            Routed::Insert(q, _) => q.schema,
            Routed::Update(q) => q.schema,
            Routed::Delete(q) => q.schema,
        }
    }

    fn what(&self) -> &'static str {
        match self {
            Routed::Select(_) => "read",
            Routed::Insert(_, what) => what,
            Routed::Update(_) => "update",
            Routed::Delete(_) => "delete",
        }
    }

    fn key_name(&self, shards: &Shards) -> &'static str {
        let schema = self.schema();
        shards
            .key_of(schema)
            .map_or("?", |i| schema.columns[i].name)
    }

    /// [`ShardError::MissingKey`] for this statement.
    pub(super) fn missing_key(&self, shards: &Shards) -> Error {
        error(ShardError::MissingKey {
            model: self.schema().name,
            key: self.key_name(shards),
        })
    }

    /// [`ShardError::CrossShard`] for this statement over `reached`.
    pub(super) fn cross_shard(&self, shards: &Shards, reached: &BTreeSet<usize>) -> Error {
        error(ShardError::CrossShard {
            model: self.schema().name,
            key: self.key_name(shards),
            what: self.what(),
            shards: shards.names_of(reached),
        })
    }
}

impl Shards {
    /// The shards `statement` reaches: `Some(set)` when its key pins them (an empty set: no row
    /// can match), `None` when its filter does not name the key; an error for a model without
    /// a key, an update of the key, a key value without a shard.
    pub(super) fn shards_of(
        &self,
        statement: &Routed<'_>,
    ) -> std::result::Result<Option<BTreeSet<usize>>, ShardError> {
        let schema = statement.schema();
        let key = self.key_of(schema)?;
        let column = &schema.columns[key];
        let in_filter = |filter: &Option<Condition>| match filter {
            Some(condition) => self.in_condition(schema, column.name, condition),
            None => Ok(None),
        };
        match statement {
            Routed::Select(q) => in_filter(&q.filter),
            Routed::Delete(q) => in_filter(&q.filter),
            Routed::Update(q) => {
                if q.assignments.iter().any(|(name, _)| *name == column.name) {
                    return Err(ShardError::KeyUpdate {
                        model: schema.name,
                        key: column.name,
                    });
                }
                in_filter(&q.filter)
            }
            Routed::Insert(q, _) => {
                let at = schema
                    .insert_columns()
                    .position(|c| c.name == column.name)
                    .ok_or(ShardError::KeylessRow {
                        model: schema.name,
                        key: column.name,
                    })?;
                let mut shards = BTreeSet::new();
                for row in &q.rows {
                    let value = row.get(at).ok_or(ShardError::KeylessRow {
                        model: schema.name,
                        key: column.name,
                    })?;
                    shards.insert(self.route_value(column.name, value)?);
                }
                Ok(Some(shards))
            }
        }
    }

    /// The shard of one bound key value.
    fn route_value(&self, column: &str, value: &Value) -> std::result::Result<usize, ShardError> {
        let key = ShardKey::from_value(value).ok_or_else(|| ShardError::NoShard {
            key: column.to_owned(),
            value: format!("{value:?}"),
            reason: if value.is_null() {
                "a NULL key has no shard; give every row its key".to_owned()
            } else {
                "shard keys are integers, text, bytes or UUIDs, compared exactly".to_owned()
            },
        })?;
        self.route_key(column, &key)
    }

    /// The shards `condition` confines the rows to, through `AND` (intersection) and `OR`
    /// (union, when every branch names the key); `None` when it does not.
    fn in_condition(
        &self,
        schema: &'static ModelSchema,
        key: &'static str,
        condition: &Condition,
    ) -> std::result::Result<Option<BTreeSet<usize>>, ShardError> {
        let is_key = |c: &crate::query::ir::ColumnRef| c.table == schema.table && c.name == key;
        Ok(match condition {
            Condition::Compare {
                column,
                op: CmpOp::Eq,
                value,
            } if is_key(column) => Some(BTreeSet::from([self.route_value(key, value)?])),
            Condition::InList {
                column,
                values,
                negated: false,
            } if is_key(column) => {
                let mut shards = BTreeSet::new();
                for value in values {
                    shards.insert(self.route_value(key, value)?);
                }
                Some(shards)
            }
            Condition::And(parts) => {
                let mut shards: Option<BTreeSet<usize>> = None;
                for part in parts {
                    if let Some(found) = self.in_condition(schema, key, part)? {
                        shards = Some(match shards {
                            Some(s) => s.intersection(&found).copied().collect(),
                            None => found,
                        });
                    }
                }
                shards
            }
            Condition::Or(parts) if !parts.is_empty() => {
                let mut shards = BTreeSet::new();
                for part in parts {
                    match self.in_condition(schema, key, part)? {
                        Some(found) => shards.extend(found),
                        None => return Ok(None),
                    }
                }
                Some(shards)
            }
            _ => None,
        })
    }
}
