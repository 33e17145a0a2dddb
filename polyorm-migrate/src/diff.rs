//! Neutral operations and the diff that derives them from two schemas.
//!
//! The diff is deterministic: operations come in a fixed phase order and, within a phase,
//! sorted by table and name. Renames come only from `renamed_from` hints of the models.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use polyorm_core::ColumnType;

use crate::schema::{Check, Column, ForeignKey, Index, Schema, Table};

/// One backend-neutral schema change. Every operation carries what its inverse needs, so
/// `down` is derived from `up` without the database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Operation {
    /// Create a table with its columns, key, indexes and foreign keys.
    CreateTable {
        /// The new table.
        table: Table,
    },
    /// Drop a table (its definition is kept for `down`).
    DropTable {
        /// The dropped table.
        table: Table,
    },
    /// Rename a table.
    RenameTable {
        /// Old name.
        from: String,
        /// New name.
        to: String,
    },
    /// Add a column.
    AddColumn {
        /// Table name.
        table: String,
        /// The new column.
        column: Column,
    },
    /// Drop a column (its definition is kept for `down`).
    DropColumn {
        /// Table name.
        table: String,
        /// The dropped column.
        column: Column,
    },
    /// Rename a column.
    RenameColumn {
        /// Table name.
        table: String,
        /// Old name.
        from: String,
        /// New name.
        to: String,
    },
    /// Change a column's type, nullability or default.
    AlterColumn {
        /// Table name.
        table: String,
        /// The column before.
        from: Column,
        /// The column after.
        to: Column,
    },
    /// Create an index or unique constraint.
    AddIndex {
        /// Table name.
        table: String,
        /// The index.
        index: Index,
    },
    /// Drop an index or unique constraint.
    DropIndex {
        /// Table name.
        table: String,
        /// The index.
        index: Index,
    },
    /// Add a foreign key.
    AddForeignKey {
        /// Table name.
        table: String,
        /// The foreign key.
        foreign_key: ForeignKey,
    },
    /// Drop a foreign key.
    DropForeignKey {
        /// Table name.
        table: String,
        /// The foreign key.
        foreign_key: ForeignKey,
    },
    /// Add a user CHECK constraint.
    AddCheck {
        /// Table name.
        table: String,
        /// The check.
        check: Check,
    },
    /// Drop a user CHECK constraint (its definition is kept for `down`).
    DropCheck {
        /// Table name.
        table: String,
        /// The check.
        check: Check,
    },
    /// Rename an index or unique constraint (its definition unchanged), e.g. one named after a
    /// renamed table: never a window without it.
    RenameIndex {
        /// Table name.
        table: String,
        /// Old name.
        from: String,
        /// New name.
        to: String,
    },
    /// Rename a foreign key (its definition unchanged).
    RenameForeignKey {
        /// Table name.
        table: String,
        /// Old name.
        from: String,
        /// New name.
        to: String,
    },
    /// Create a trigger the ORM keeps on an existing table: the audit log's linking trigger
    /// on a log made before the trigger existed.
    AddTrigger {
        /// Table name.
        table: String,
        /// The trigger's name (its statement is the ORM's own on the dialect).
        name: String,
    },
    /// Drop a trigger the ORM kept on a table.
    DropTrigger {
        /// Table name.
        table: String,
        /// The trigger's name.
        name: String,
    },
}

impl Operation {
    /// The operation that undoes this one.
    pub fn inverse(&self) -> Operation {
        use Operation::*;
        match self.clone() {
            CreateTable { table } => DropTable { table },
            DropTable { table } => CreateTable { table },
            RenameTable { from, to } => RenameTable { from: to, to: from },
            AddColumn { table, column } => DropColumn { table, column },
            DropColumn { table, column } => AddColumn { table, column },
            RenameColumn { table, from, to } => RenameColumn {
                table,
                from: to,
                to: from,
            },
            AlterColumn { table, from, to } => AlterColumn {
                table,
                from: to,
                to: from,
            },
            AddIndex { table, index } => DropIndex { table, index },
            DropIndex { table, index } => AddIndex { table, index },
            AddForeignKey { table, foreign_key } => DropForeignKey { table, foreign_key },
            DropForeignKey { table, foreign_key } => AddForeignKey { table, foreign_key },
            AddCheck { table, check } => DropCheck { table, check },
            DropCheck { table, check } => AddCheck { table, check },
            RenameIndex { table, from, to } => RenameIndex {
                table,
                from: to,
                to: from,
            },
            RenameForeignKey { table, from, to } => RenameForeignKey {
                table,
                from: to,
                to: from,
            },
            AddTrigger { table, name } => DropTrigger { table, name },
            DropTrigger { table, name } => AddTrigger { table, name },
        }
    }

    /// The table the operation changes (its new name for a rename).
    pub fn table(&self) -> &str {
        use Operation::*;
        match self {
            CreateTable { table } | DropTable { table } => &table.name,
            RenameTable { to, .. } => to,
            AddColumn { table, .. }
            | DropColumn { table, .. }
            | RenameColumn { table, .. }
            | AlterColumn { table, .. }
            | AddIndex { table, .. }
            | DropIndex { table, .. }
            | AddForeignKey { table, .. }
            | DropForeignKey { table, .. }
            | AddCheck { table, .. }
            | DropCheck { table, .. }
            | RenameIndex { table, .. }
            | RenameForeignKey { table, .. }
            | AddTrigger { table, .. }
            | DropTrigger { table, .. } => table,
        }
    }

    /// What `--allow` names to accept this operation: `table` or `table.column_or_index`.
    pub fn target(&self) -> String {
        use Operation::*;
        let t = self.table();
        match self {
            CreateTable { .. } | DropTable { .. } | RenameTable { .. } => t.to_owned(),
            AddColumn { column, .. } | DropColumn { column, .. } => format!("{t}.{}", column.name),
            RenameColumn { to, .. } => format!("{t}.{to}"),
            AlterColumn { to, .. } => format!("{t}.{}", to.name),
            AddIndex { index, .. } | DropIndex { index, .. } => format!("{t}.{}", index.name),
            AddForeignKey { foreign_key, .. } | DropForeignKey { foreign_key, .. } => {
                format!("{t}.{}", foreign_key.name)
            }
            AddCheck { check, .. } | DropCheck { check, .. } => format!("{t}.{}", check.name),
            RenameIndex { to, .. } | RenameForeignKey { to, .. } => format!("{t}.{to}"),
            AddTrigger { name, .. } | DropTrigger { name, .. } => format!("{t}.{name}"),
        }
    }

    /// A one-line description (`drop column users.nickname`).
    pub fn describe(&self) -> String {
        use Operation::*;
        let kind = match self {
            CreateTable { .. } => "create table",
            DropTable { .. } => "drop table",
            RenameTable { from, .. } => return format!("rename table {from} to {}", self.table()),
            AddColumn { .. } => "add column",
            DropColumn { .. } => "drop column",
            RenameColumn { table, from, to } => {
                return format!("rename column {table}.{from} to {to}");
            }
            AlterColumn { .. } => "alter column",
            AddIndex { index, .. } if index.unique => "add unique",
            AddIndex { .. } => "add index",
            DropIndex { index, .. } if index.unique => "drop unique",
            DropIndex { .. } => "drop index",
            AddForeignKey { .. } => "add foreign key",
            DropForeignKey { .. } => "drop foreign key",
            AddCheck { .. } => "add check",
            DropCheck { .. } => "drop check",
            AddTrigger { .. } => "add trigger",
            DropTrigger { .. } => "drop trigger",
            RenameIndex { table, from, to } => {
                return format!("rename index {table}.{from} to {to}");
            }
            RenameForeignKey { table, from, to } => {
                return format!("rename foreign key {table}.{from} to {to}");
            }
        };
        format!("{kind} {}", self.target())
    }

    /// Why this operation may lose data or fail on existing rows, if it may.
    ///
    /// `new_tables` are the tables created earlier in the same migration (always empty).
    pub fn hazard(&self, new_tables: &BTreeSet<String>) -> Option<String> {
        use Operation::*;
        match self {
            DropTable { table } => Some(format!(
                "drop table {}: every row of `{}` would be deleted",
                table.name, table.name
            )),
            DropColumn { table, column } => Some(format!(
                "drop column {table}.{}: the values of `{}` in every row would be lost",
                column.name, column.name
            )),
            AddColumn { table, column }
                if !column.nullable
                    && column.default.is_none()
                    && !column.auto_increment
                    && !new_tables.contains(table) =>
            {
                Some(format!(
                    "add column {table}.{}: NOT NULL without a default fails if `{table}` has \
                     rows; add `#[orm(default = ...)]` or make the field an `Option`",
                    column.name
                ))
            }
            AlterColumn { table, from, to } => {
                if narrows(from, to) {
                    Some(format!(
                        "alter column {table}.{}: {} to {} is narrower; if any row does not fit, \
                         the migration fails before it changes anything (values are never cut)",
                        to.name,
                        type_name(from),
                        type_name(to)
                    ))
                } else if from.nullable && !to.nullable {
                    Some(format!(
                        "alter column {table}.{}: NOT NULL fails if any row holds NULL; \
                         backfill the NULLs first (a hand-written migration)",
                        to.name
                    ))
                } else {
                    None
                }
            }
            DropIndex { table, index } if index.unique => Some(format!(
                "drop unique {table}.{}: duplicates of ({}) would be accepted from then on",
                index.name,
                index.columns.join(", ")
            )),
            _ => None,
        }
    }
}

/// A column's type as messages name it: `varchar(20)`, `decimal(10, 2)`, `enum(a, b)`, `int`.
pub fn type_name(c: &Column) -> String {
    match (c.ty, c.max_length, c.precision, &c.allowed_values) {
        (ColumnType::Text, _, _, Some(values)) => format!("enum({})", values.join(", ")),
        (ColumnType::Text, Some(n), _, _) => format!("varchar({n})"),
        (ColumnType::Decimal, _, Some((p, s)), _) => format!("decimal({p}, {s})"),
        (ty, ..) => format!("{ty:?}").to_lowercase(),
    }
}

/// Whether a decimal of `to`'s precision may not hold every value of `from`'s (fewer digits
/// before or after the point; `None` is unbounded).
pub fn decimal_narrows(from: Option<(u32, u32)>, to: Option<(u32, u32)>) -> bool {
    match (from, to) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some((p1, s1)), Some((p2, s2))) => {
            s2 < s1 || p2.saturating_sub(s2) < p1.saturating_sub(s1)
        }
    }
}

/// Whether changing `from` into `to` may not fit existing values.
pub fn narrows(from: &Column, to: &Column) -> bool {
    use ColumnType::*;
    if let Some(values) = &to.allowed_values {
        // An enum accepts only its values: every other text (or a value it lost) is refused.
        return match &from.allowed_values {
            Some(old) => old.iter().any(|v| !values.contains(v)),
            None => true,
        };
    }
    if from.ty == to.ty {
        if from.ty == Decimal {
            return decimal_narrows(from.precision, to.precision);
        }
        return match (from.max_length, to.max_length) {
            (_, None) => false,
            (None, Some(_)) => from.ty == Text && from.allowed_values.is_none(),
            (Some(a), Some(b)) => b < a,
        };
    }
    let rank = |t: ColumnType| match t {
        SmallInt => 1,
        Int => 2,
        BigInt => 3,
        _ => 0,
    };
    let widening = (rank(from.ty) > 0 && rank(to.ty) > rank(from.ty))
        || (from.ty == Float && to.ty == Double)
        || (matches!(from.ty, SmallInt | Int) && to.ty == Double)
        || (from.ty == Bool && matches!(to.ty, SmallInt | Int | BigInt))
        || (matches!(from.ty, U8 | U16) && matches!(to.ty, Int | BigInt))
        || (from.ty == U8 && to.ty == SmallInt)
        || (from.ty == U32 && to.ty == BigInt)
        || (to.ty == Text && to.max_length.is_none() && from.ty != Bytes);
    !widening
}

impl Schema {
    /// Applies one operation to this schema (the snapshot after a migration is the snapshot
    /// before it with every operation applied).
    pub fn apply(&mut self, op: &Operation) {
        use Operation::*;
        let sort_ix = |t: &mut Table| t.indexes.sort_by(|a, b| a.name.cmp(&b.name));
        let sort_fk = |t: &mut Table| t.foreign_keys.sort_by(|a, b| a.name.cmp(&b.name));
        match op {
            CreateTable { table } => {
                self.tables.insert(table.name.clone(), table.clone());
            }
            DropTable { table } => {
                self.tables.remove(&table.name);
            }
            RenameTable { from, to } => {
                if let Some(mut t) = self.tables.remove(from) {
                    t.name = to.clone();
                    self.tables.insert(to.clone(), t);
                }
                for t in self.tables.values_mut() {
                    for fk in &mut t.foreign_keys {
                        if &fk.ref_table == from {
                            fk.ref_table = to.clone();
                        }
                    }
                }
            }
            _ => {
                let name = op.table().to_owned();
                if let RenameColumn { from, to, .. } = op {
                    for t in self.tables.values_mut() {
                        for fk in &mut t.foreign_keys {
                            if fk.ref_table == name {
                                rename_in(&mut fk.ref_columns, from, to);
                            }
                        }
                    }
                }
                let Some(t) = self.tables.get_mut(&name) else {
                    return;
                };
                match op {
                    AddColumn { column, .. } => t.columns.push(column.clone()),
                    DropColumn { column, .. } => t.columns.retain(|c| c.name != column.name),
                    RenameColumn { from, to, .. } => {
                        for c in &mut t.columns {
                            if &c.name == from {
                                c.name = to.clone();
                            }
                        }
                        rename_in(&mut t.primary_key, from, to);
                        for ix in &mut t.indexes {
                            rename_in(&mut ix.columns, from, to);
                            rename_in(&mut ix.include, from, to);
                            if let Some(predicate) = &mut ix.predicate {
                                predicate.rename_column(from, to);
                            }
                        }
                        for fk in &mut t.foreign_keys {
                            rename_in(&mut fk.columns, from, to);
                        }
                        for check in &mut t.checks {
                            check.condition.rename_column(from, to);
                        }
                    }
                    AlterColumn { to, .. } => {
                        for c in &mut t.columns {
                            if c.name == to.name {
                                *c = Column {
                                    renamed_from: None,
                                    ..to.clone()
                                };
                            }
                        }
                    }
                    AddIndex { index, .. } => {
                        t.indexes.push(index.clone());
                        sort_ix(t);
                    }
                    DropIndex { index, .. } => t.indexes.retain(|i| i.name != index.name),
                    AddForeignKey { foreign_key, .. } => {
                        t.foreign_keys.push(foreign_key.clone());
                        sort_fk(t);
                    }
                    DropForeignKey { foreign_key, .. } => {
                        t.foreign_keys.retain(|f| f.name != foreign_key.name)
                    }
                    AddCheck { check, .. } => {
                        t.checks.retain(|c| c.name != check.name);
                        t.checks.push(check.clone());
                        t.checks.sort_by(|a, b| a.name.cmp(&b.name));
                    }
                    DropCheck { check, .. } => t.checks.retain(|c| c.name != check.name),
                    AddTrigger { name, .. } => {
                        t.triggers.retain(|n| n != name);
                        t.triggers.push(name.clone());
                        t.triggers.sort();
                    }
                    DropTrigger { name, .. } => t.triggers.retain(|n| n != name),
                    RenameIndex { from, to, .. } => {
                        for ix in &mut t.indexes {
                            if &ix.name == from {
                                ix.name = to.clone();
                            }
                        }
                        sort_ix(t);
                    }
                    RenameForeignKey { from, to, .. } => {
                        for fk in &mut t.foreign_keys {
                            if &fk.name == from {
                                fk.name = to.clone();
                            }
                        }
                        sort_fk(t);
                    }
                    CreateTable { .. } | DropTable { .. } | RenameTable { .. } => {}
                }
            }
        }
    }
}

fn rename_in(names: &mut [String], from: &str, to: &str) {
    for n in names {
        if n == from {
            *n = to.to_owned();
        }
    }
}

/// Strips the models' rename hints (snapshots never store them).
fn without_hints(mut t: Table) -> Table {
    t.renamed_from = None;
    for c in &mut t.columns {
        c.renamed_from = None;
    }
    t
}

/// The operations that turn `current` into `desired`, in a deterministic order.
///
/// Phases: drop foreign keys, drop indexes, rename tables, rename columns, rename indexes and
/// foreign keys, drop checks, drop tables (children first), create tables (parents first),
/// add, alter and drop columns, add indexes, add foreign keys, add checks. Within a phase, operations are sorted by table
/// and name. A foreign key on a column whose type changes is dropped first and added again
/// last (MySQL/MariaDB cannot retype a column inside one).
pub fn diff(current: &Schema, desired: &Schema) -> Result<Vec<Operation>> {
    let mut cur = current.clone();
    let mut renames_table = Vec::new();
    for t in desired.tables.values() {
        if let Some(old) = &t.renamed_from
            && !cur.tables.contains_key(&t.name)
            && cur.tables.contains_key(old)
        {
            renames_table.push(Operation::RenameTable {
                from: old.clone(),
                to: t.name.clone(),
            });
        }
    }
    for op in &renames_table {
        cur.apply(op);
    }
    let mut renames_column = Vec::new();
    for t in desired.tables.values() {
        let Some(c) = cur.tables.get(&t.name) else {
            continue;
        };
        for col in &t.columns {
            if let Some(old) = &col.renamed_from
                && c.column(&col.name).is_none()
                && c.column(old).is_some()
            {
                renames_column.push(Operation::RenameColumn {
                    table: t.name.clone(),
                    from: old.clone(),
                    to: col.name.clone(),
                });
            }
        }
    }
    for op in &renames_column {
        cur.apply(op);
    }

    let (mut drop_fks, mut drop_ixs, mut add_cols, mut alter_cols, mut drop_cols) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut add_ixs, mut add_fks, mut renames_object) = (Vec::new(), Vec::new(), Vec::new());
    let (mut drop_checks, mut add_checks) = (Vec::new(), Vec::new());
    let (mut drop_triggers, mut add_triggers) = (Vec::new(), Vec::new());
    let dropped: Vec<&Table> = cur
        .tables
        .values()
        .filter(|t| !desired.tables.contains_key(&t.name))
        .collect();
    let created: Vec<Table> = desired
        .tables
        .values()
        .filter(|t| !cur.tables.contains_key(&t.name))
        .cloned()
        .map(without_hints)
        .collect();
    for (name, want) in &desired.tables {
        let Some(have) = cur.tables.get(name) else {
            continue;
        };
        if want.primary_key != have.primary_key {
            return Err(Error::Unsupported(format!(
                "the primary key of `{name}` changes from ({}) to ({}); write a hand-written \
                 migration (a directory with up.sql and down.sql) for it",
                have.primary_key.join(", "),
                want.primary_key.join(", ")
            )));
        }
        for col in &want.columns {
            match have.column(&col.name) {
                None => add_cols.push(Operation::AddColumn {
                    table: name.clone(),
                    column: Column {
                        renamed_from: None,
                        ..col.clone()
                    },
                }),
                Some(old) if !old.same_definition(col) => alter_cols.push(Operation::AlterColumn {
                    table: name.clone(),
                    from: old.clone(),
                    to: Column {
                        renamed_from: None,
                        ..col.clone()
                    },
                }),
                Some(_) => {}
            }
        }
        for col in &have.columns {
            if want.column(&col.name).is_none() {
                drop_cols.push(Operation::DropColumn {
                    table: name.clone(),
                    column: col.clone(),
                });
            }
        }
        // An index or foreign key whose definition is unchanged under another name (named
        // after a renamed table, say) is renamed, never dropped and created again.
        let renamed_ixs = pair_renames(
            &have.indexes,
            &want.indexes,
            |i| &i.name,
            |a, b| {
                let unnamed = |i: &Index| Index {
                    name: String::new(),
                    ..i.clone()
                };
                unnamed(a) == unnamed(b)
            },
        );
        for (from, to) in &renamed_ixs {
            renames_object.push(Operation::RenameIndex {
                table: name.clone(),
                from: from.clone(),
                to: to.clone(),
            });
        }
        for ix in &have.indexes {
            if !want.indexes.contains(ix) && !renamed_ixs.iter().any(|(f, _)| *f == ix.name) {
                drop_ixs.push(Operation::DropIndex {
                    table: name.clone(),
                    index: ix.clone(),
                });
            }
        }
        for ix in &want.indexes {
            if !have.indexes.contains(ix) && !renamed_ixs.iter().any(|(_, t)| *t == ix.name) {
                add_ixs.push(Operation::AddIndex {
                    table: name.clone(),
                    index: ix.clone(),
                });
            }
        }
        let renamed_fks = pair_renames(
            &have.foreign_keys,
            &want.foreign_keys,
            |f| &f.name,
            |a, b| {
                a.columns == b.columns
                    && a.ref_table == b.ref_table
                    && a.ref_columns == b.ref_columns
                    && a.on_delete == b.on_delete
                    && a.on_update == b.on_update
            },
        );
        for (from, to) in &renamed_fks {
            renames_object.push(Operation::RenameForeignKey {
                table: name.clone(),
                from: from.clone(),
                to: to.clone(),
            });
        }
        for fk in &have.foreign_keys {
            if !want.foreign_keys.contains(fk) && !renamed_fks.iter().any(|(f, _)| *f == fk.name) {
                drop_fks.push(Operation::DropForeignKey {
                    table: name.clone(),
                    foreign_key: fk.clone(),
                });
            }
        }
        for fk in &want.foreign_keys {
            if !have.foreign_keys.contains(fk) && !renamed_fks.iter().any(|(_, t)| *t == fk.name) {
                add_fks.push(Operation::AddForeignKey {
                    table: name.clone(),
                    foreign_key: fk.clone(),
                });
            }
        }
        // A check whose condition changed is dropped and added again (a CHECK has no ALTER).
        for check in &have.checks {
            if !want.checks.contains(check) {
                drop_checks.push(Operation::DropCheck {
                    table: name.clone(),
                    check: check.clone(),
                });
            }
        }
        for check in &want.checks {
            if !have.checks.contains(check) {
                add_checks.push(Operation::AddCheck {
                    table: name.clone(),
                    check: check.clone(),
                });
            }
        }
        // The ORM's own triggers: a snapshot written before them lacks them (the audit log
        // of an earlier version), and the migration adds them to the existing table.
        for trigger in &have.triggers {
            if !want.triggers.contains(trigger) {
                drop_triggers.push(Operation::DropTrigger {
                    table: name.clone(),
                    name: trigger.clone(),
                });
            }
        }
        for trigger in &want.triggers {
            if !have.triggers.contains(trigger) {
                add_triggers.push(Operation::AddTrigger {
                    table: name.clone(),
                    name: trigger.clone(),
                });
            }
        }
    }
    // A column whose type changes cannot stay in a foreign key on MySQL/MariaDB (errors 1832,
    // 1833), and both of its sides usually change together: drop each foreign key on such a
    // column (as referencing or referenced column) first and add it again last.
    let retyped: BTreeSet<(String, String)> = alter_cols
        .iter()
        .filter_map(|op| match op {
            Operation::AlterColumn { table, from, to } if retypes(from, to) => {
                Some((table.clone(), to.name.clone()))
            }
            _ => None,
        })
        .collect();
    if !retyped.is_empty() {
        for (name, have) in &cur.tables {
            let Some(want) = desired.tables.get(name) else {
                continue;
            };
            for fk in &have.foreign_keys {
                let touched = fk
                    .columns
                    .iter()
                    .any(|c| retyped.contains(&(name.clone(), c.clone())))
                    || fk
                        .ref_columns
                        .iter()
                        .any(|c| retyped.contains(&(fk.ref_table.clone(), c.clone())));
                let kept = want.foreign_keys.contains(fk);
                if touched && kept {
                    drop_fks.push(Operation::DropForeignKey {
                        table: name.clone(),
                        foreign_key: fk.clone(),
                    });
                    add_fks.push(Operation::AddForeignKey {
                        table: name.clone(),
                        foreign_key: fk.clone(),
                    });
                }
            }
        }
    }
    // Columns are visited in table order; sort each phase by (table, target) for stability.
    for phase in [
        &mut drop_fks,
        &mut drop_ixs,
        &mut add_cols,
        &mut alter_cols,
        &mut drop_cols,
        &mut add_ixs,
        &mut add_fks,
        &mut drop_checks,
        &mut add_checks,
        &mut drop_triggers,
        &mut add_triggers,
        &mut renames_table,
        &mut renames_column,
        &mut renames_object,
    ] {
        phase.sort_by_key(|op| (op.table().to_owned(), op.target()));
    }

    // Drops run before the renames: name their tables and objects as before the renames.
    let old_name: BTreeMap<&str, &str> = renames_table
        .iter()
        .filter_map(|op| match op {
            Operation::RenameTable { from, to } => Some((to.as_str(), from.as_str())),
            _ => None,
        })
        .collect();
    for op in drop_fks.iter_mut().chain(drop_ixs.iter_mut()) {
        let table = op.table().to_owned();
        let old = old_name.get(table.as_str()).copied().unwrap_or(&table);
        let Some(original) = current.tables.get(old) else {
            continue;
        };
        match op {
            Operation::DropForeignKey { table, foreign_key } => {
                if let Some(fk) = original
                    .foreign_keys
                    .iter()
                    .find(|f| f.name == foreign_key.name)
                {
                    *foreign_key = fk.clone();
                    *table = old.to_owned();
                }
            }
            Operation::DropIndex { table, index } => {
                if let Some(ix) = original.indexes.iter().find(|i| i.name == index.name) {
                    *index = ix.clone();
                    *table = old.to_owned();
                }
            }
            _ => {}
        }
    }
    let mut ops = Vec::new();
    ops.extend(drop_fks);
    ops.extend(drop_ixs);
    ops.extend(renames_table);
    ops.extend(renames_column);
    ops.extend(renames_object);
    // After the renames: a check is dropped by its name on the table as renamed.
    ops.extend(drop_checks);
    ops.extend(drop_triggers);
    let mut drop_order = dependency_order(dropped.into_iter().cloned().collect());
    drop_order.reverse();
    ops.extend(
        drop_order
            .into_iter()
            .map(|table| Operation::DropTable { table }),
    );
    ops.extend(
        dependency_order(created)
            .into_iter()
            .map(|table| Operation::CreateTable { table }),
    );
    ops.extend(add_cols);
    ops.extend(alter_cols);
    ops.extend(drop_cols);
    ops.extend(add_ixs);
    ops.extend(add_fks);
    // Last: a check may read columns added or retyped above.
    ops.extend(add_checks);
    // After everything the trigger's table may need.
    ops.extend(add_triggers);
    Ok(ops)
}

/// The pairs (old name, new name) of objects of `have` and `want` that differ only by name:
/// each unmatched object of `have` whose definition equals exactly one unmatched object of
/// `want`, with names free on both sides.
fn pair_renames<T: PartialEq>(
    have: &[T],
    want: &[T],
    name: impl Fn(&T) -> &String,
    same: impl Fn(&T, &T) -> bool,
) -> Vec<(String, String)> {
    let gone: Vec<&T> = have.iter().filter(|h| !want.contains(h)).collect();
    let new: Vec<&T> = want.iter().filter(|w| !have.contains(w)).collect();
    let mut out = Vec::new();
    for h in &gone {
        if want.iter().any(|w| name(w) == name(h)) {
            continue;
        }
        let matches: Vec<&&T> = new
            .iter()
            .filter(|w| same(h, w) && !have.iter().any(|x| name(x) == name(w)))
            .collect();
        let rivals = gone
            .iter()
            .filter(|g| same(g, matches.first().map_or(h, |m| m)))
            .count();
        if let [only] = matches[..]
            && rivals == 1
            && !out.iter().any(|(_, t): &(String, String)| t == name(only))
        {
            out.push((name(h).clone(), name(only).clone()));
        }
    }
    out
}

/// Whether an alteration changes the column's storage type (not only its nullability or
/// default).
pub fn retypes(from: &Column, to: &Column) -> bool {
    from.ty != to.ty
        || from.max_length != to.max_length
        || from.precision != to.precision
        || from.collation != to.collation
}

/// Tables ordered so that a referenced table comes before the tables referencing it (cycles
/// fall back to name order).
fn dependency_order(tables: Vec<Table>) -> Vec<Table> {
    let mut left: BTreeMap<String, Table> =
        tables.into_iter().map(|t| (t.name.clone(), t)).collect();
    let mut out = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let ready = left
            .values()
            .find(|t| {
                t.foreign_keys
                    .iter()
                    .all(|fk| fk.ref_table == t.name || !left.contains_key(&fk.ref_table))
            })
            .map(|t| t.name.clone())
            .unwrap_or_else(|| left.keys().next().expect("non-empty").clone());
        out.push(left.remove(&ready).expect("present"));
    }
    out
}

/// The hazards of `ops` not covered by `allow` (targets such as `users` or `users.email`)
/// unless `allow_all`.
pub fn refused(ops: &[Operation], allow: &[String], allow_all: bool) -> Vec<String> {
    refused_at(ops, allow, allow_all)
        .into_iter()
        .map(|(_, h)| h)
        .collect()
}

/// [`refused`], each with the position of its operation in `ops`.
pub fn refused_at(ops: &[Operation], allow: &[String], allow_all: bool) -> Vec<(usize, String)> {
    if allow_all {
        return Vec::new();
    }
    let mut new_tables = BTreeSet::new();
    let mut out = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        if let Operation::CreateTable { table } = op {
            new_tables.insert(table.name.clone());
        }
        if let Some(h) = op.hazard(&new_tables) {
            let target = op.target();
            if !allow.iter().any(|a| *a == target || *a == op.table()) {
                out.push((i, format!("{h} (allow with `--allow {target}`)")));
            }
        }
    }
    out
}
