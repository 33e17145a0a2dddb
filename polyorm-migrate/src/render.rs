//! Renders neutral operations to DDL for one dialect, through sea-query and the column
//! mapping of `polyorm_core::sql::ddl` (the same one `CREATE TABLE` uses).
//!
//! What a dialect cannot do in place is spelled out here: SQLite rebuilds a table (create a
//! new one, copy the rows, drop the old one, rename, recreate the indexes) to alter or drop a
//! column, to add a NOT NULL column without a default, and to add or drop a foreign key.

use polyorm_core::Dialect;
use polyorm_core::sql::ddl::{
    self, action, column_def_for, column_type_sql, declared_collation, render as sql,
};
use sea_query::{Alias, ForeignKey as SqForeignKey, Index as SqIndex, Table as SqTable};

use crate::diff::Operation;
use crate::error::Result;
use crate::schema::{Check, Column, Default, ForeignKey, Index, Schema, Table};

/// Quotes an identifier for `dialect`.
pub fn quote(name: &str, dialect: Dialect) -> String {
    match dialect {
        Dialect::MySql => format!("`{}`", name.replace('`', "``")),
        _ => format!("\"{}\"", name.replace('"', "\"\"")),
    }
}

/// A constant default as a SQL literal (`None` for a generated one).
fn literal(default: &Default) -> Option<String> {
    Some(match default {
        Default::Bool(b) => b.to_string(),
        Default::Int(i) => i.to_string(),
        Default::Float(f) => format!("{f:?}"),
        Default::Text(s) => format!("'{}'", s.replace('\'', "''")),
        Default::Now | Default::Uuid => return None,
    })
}

/// The SQL of `column`'s default on `dialect` (as `CREATE TABLE` writes it), or `None` where
/// it has none there (no default, or `uuid()` outside PostgreSQL, which the ORM generates).
pub(crate) fn default_sql(column: &Column, dialect: Dialect) -> Option<String> {
    let default = column.default.as_ref()?;
    polyorm_core::sql::default::default_sql(
        &default.borrowed(),
        column.ty,
        column.precision,
        dialect,
    )
    .or_else(|| literal(default))
}

/// The `CREATE TABLE` statement of `table` (named `as_name`), without its indexes.
///
/// # Errors
/// When a user check cannot be written for `dialect` (see [`user_check_sql`]).
pub fn create_table_sql(table: &Table, as_name: &str, dialect: Dialect) -> Result<String> {
    let mut stmt = SqTable::create();
    stmt.table(Alias::new(as_name));
    for c in &table.columns {
        stmt.col(column_def_for(&table.spec(c), dialect));
    }
    for c in &table.columns {
        // Named after the table's own name, also while a SQLite rebuild creates it as a copy.
        for (name, expr) in ddl::column_checks(&table.name, &c.check_spec(), dialect) {
            stmt.check(sea_query::Check::named(name, expr));
        }
    }
    for check in &table.checks {
        stmt.check(sea_query::Check::named(
            check.name.clone(),
            user_check_expr(table, check, dialect)?,
        ));
    }
    if table.primary_key.len() > 1 {
        let mut key = SqIndex::create();
        for c in &table.primary_key {
            key.col(Alias::new(c));
        }
        stmt.primary_key(&mut key);
    }
    for fk in &table.foreign_keys {
        ddl::check_foreign_key_actions(&table.name, &fk.name, fk.on_delete, fk.on_update, dialect)?;
        stmt.foreign_key(&mut fk_statement(as_name, fk));
    }
    ddl::table_options(&mut stmt, dialect);
    Ok(sql(&stmt, dialect))
}

/// The condition of a user check of `table`, for `dialect`.
fn user_check_expr(table: &Table, check: &Check, dialect: Dialect) -> Result<sea_query::Expr> {
    let storage = |name: &str| table.storage(name);
    Ok(polyorm_core::sql::constraint::check_condition(
        &table.name,
        &check.name,
        &check.condition,
        &storage,
        dialect,
    )?)
}

/// The condition of a user check of `table`, as SQL text of `dialect`.
pub fn user_check_sql(table: &Table, check: &Check, dialect: Dialect) -> Result<String> {
    Ok(ddl::condition_sql(
        user_check_expr(table, check, dialect)?,
        dialect,
    ))
}

fn fk_statement(table: &str, fk: &ForeignKey) -> sea_query::ForeignKeyCreateStatement {
    let mut key = SqForeignKey::create();
    key.name(&fk.name)
        .from_tbl(Alias::new(table))
        .to_tbl(Alias::new(&fk.ref_table))
        .on_delete(action(fk.on_delete))
        .on_update(action(fk.on_update));
    for (c, r) in fk.columns.iter().zip(&fk.ref_columns) {
        key.from_col(Alias::new(c)).to_col(Alias::new(r));
    }
    key
}

/// `CREATE INDEX` of `ix` on `table` (whose columns say which are nullable: PostgreSQL indexes
/// those `NULLS FIRST`, the ORM's order; see [`ddl::index_sql`] for what each dialect makes of
/// methods, function and descending keys, `include` and partial indexes).
/// Nothing for an index the dialect does not build ([`ddl::index_is_built`]).
fn create_index_sql(table: &Table, ix: &Index, dialect: Dialect) -> Result<Vec<String>> {
    if !ddl::index_is_built(ix.method, dialect) {
        return Ok(Vec::new());
    }
    Ok(vec![ddl::index_sql(
        &ix.spec(table),
        &|c| table.storage(c),
        false,
        dialect,
    )?])
}

/// [`create_index_sql`] on the table `name` of `state` (a bare table when it is unknown).
fn create_index_in(
    state: &Schema,
    name: &str,
    ix: &Index,
    dialect: Dialect,
) -> Result<Vec<String>> {
    match state.tables.get(name) {
        Some(t) => create_index_sql(t, ix, dialect),
        None => create_index_sql(&bare_table(name), ix, dialect),
    }
}

fn bare_table(name: &str) -> Table {
    Table {
        name: name.to_owned(),
        columns: vec![],
        primary_key: vec![],
        indexes: vec![],
        foreign_keys: vec![],
        checks: vec![],
        triggers: vec![],
        renamed_from: None,
    }
}

/// The up statements of `ops`, applied to `before`.
pub fn render_up(ops: &[Operation], before: &Schema, dialect: Dialect) -> Result<Vec<String>> {
    let mut state = before.clone();
    let mut out = Vec::new();
    let mut i = 0;
    while i < ops.len() {
        let run = sqlite_check_run(&ops[i..], dialect);
        if run > 1 {
            // SQLite rebuilds a table for each check it adds or drops: one rebuild serves a
            // run of them on the same table.
            let mut after = state.clone();
            ops[i..i + run].iter().for_each(|op| after.apply(op));
            let name = ops[i].table();
            if let (Some(old), Some(new)) = (state.tables.get(name), after.tables.get(name)) {
                out.extend(sqlite_rebuild(old, new)?);
            }
            state = after;
            i += run;
            continue;
        }
        out.extend(render_op(&ops[i], &state, dialect)?);
        state.apply(&ops[i]);
        i += 1;
    }
    Ok(out)
}

/// How many operations from the first are checks added or dropped on one table, on SQLite
/// (0 elsewhere).
fn sqlite_check_run(ops: &[Operation], dialect: Dialect) -> usize {
    let is_check =
        |op: &Operation| matches!(op, Operation::AddCheck { .. } | Operation::DropCheck { .. });
    match ops.first() {
        Some(first) if dialect == Dialect::Sqlite && is_check(first) => ops
            .iter()
            .take_while(|op| is_check(op) && op.table() == first.table())
            .count(),
        _ => 0,
    }
}

/// The down statements of `ops` (their inverses in reverse order), applied to the schema after
/// them.
pub fn render_down(ops: &[Operation], before: &Schema, dialect: Dialect) -> Result<Vec<String>> {
    let mut after = before.clone();
    for op in ops {
        after.apply(op);
    }
    let inverse: Vec<Operation> = ops.iter().rev().map(Operation::inverse).collect();
    render_up(&inverse, &after, dialect)
}

/// Whether SQLite needs a table rebuild for `op`.
pub fn sqlite_rebuilds(op: &Operation) -> bool {
    match op {
        Operation::AlterColumn { .. }
        | Operation::DropColumn { .. }
        | Operation::AddForeignKey { .. }
        | Operation::DropForeignKey { .. }
        | Operation::AddCheck { .. }
        | Operation::DropCheck { .. } => true,
        // `ADD COLUMN` takes no NOT NULL column without a default, nor a default that is not
        // a constant (`now()`).
        Operation::AddColumn { column, .. } => {
            (!column.nullable && column.default.is_none())
                || column.default.as_ref().is_some_and(|d| d.is_generated())
        }
        _ => false,
    }
}

/// The statements of one operation, given the schema before it.
pub fn render_op(op: &Operation, state: &Schema, dialect: Dialect) -> Result<Vec<String>> {
    if dialect == Dialect::Sqlite {
        if let Operation::RenameTable { from, to } = op {
            // SQLite renames no CHECK: a table with checks (named after it) is rebuilt under
            // its new name, inside the migration's transaction.
            let mut out = op_statements(op, state, dialect)?;
            if let Some(t) = state.tables.get(from)
                && (!t.checks.is_empty()
                    || t.columns
                        .iter()
                        .any(|c| !checks_of(from, c, dialect).is_empty()))
            {
                // Renamed in the schema too: a key of the table on itself follows the name.
                let mut after = state.clone();
                after.apply(op);
                let renamed = &after.tables[to];
                out.extend(sqlite_rebuild(renamed, renamed)?);
            }
            return Ok(out);
        }
        if let Operation::RenameColumn { table, from, .. } = op
            && let Some(t) = state.tables.get(table)
            && t.column(from)
                .is_some_and(|c| !checks_of(table, c, dialect).is_empty())
        {
            // Nor a CHECK named after a renamed column: rebuild with the new names.
            let mut after = state.clone();
            after.apply(op);
            let new = &after.tables[table];
            let mut out = op_statements(op, state, dialect)?;
            out.extend(sqlite_rebuild(new, new)?);
            return Ok(out);
        }
        if !sqlite_rebuilds(op) {
            return op_statements(op, state, dialect);
        }
        let mut after = state.clone();
        after.apply(op);
        let name = op.table();
        let (Some(old), Some(new)) = (state.tables.get(name), after.tables.get(name)) else {
            return Ok(Vec::new());
        };
        return sqlite_rebuild(old, new);
    }
    // A CHECK names its table and column and tests the column's type: drop it before the
    // operation and add it (renamed, retyped) after, wherever the operation touches it.
    let (drop, add) = check_changes(op, state, dialect);
    if let Operation::RenameTable { from, to } = op {
        // Renamed with the table, never dropped: no moment without them.
        let columns = state.tables.get(from).map_or(&[][..], |t| &t.columns[..]);
        let mut out = op_statements(op, state, dialect)?;
        out.extend(rename_checks(from, to, columns, dialect));
        return Ok(out);
    }
    let mut out = drop;
    out.extend(op_statements(op, state, dialect)?);
    out.extend(add);
    if dialect == Dialect::MySql {
        // MySQL/MariaDB commit each DDL statement: one `ALTER TABLE` per operation is atomic,
        // so an operation never stays half applied (a check dropped, its column unchanged).
        out = merge_alters(out);
    }
    Ok(out)
}

/// Joins consecutive `ALTER TABLE `t` ...` statements on the same table into one.
fn merge_alters(statements: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut head: Option<String> = None;
    for stmt in statements {
        let this = alter_head(&stmt);
        match (&head, this) {
            (Some(h), Some(t)) if *h == t => {
                let last = out.last_mut().expect("a head has its statement");
                last.push_str(", ");
                last.push_str(stmt[t.len()..].trim_start());
            }
            (_, t) => {
                head = t;
                out.push(stmt);
            }
        }
    }
    out
}

/// `ALTER TABLE `t` ` of a MySQL `ALTER TABLE` statement (not a rename of the table).
fn alter_head(stmt: &str) -> Option<String> {
    let rest = stmt.strip_prefix("ALTER TABLE `")?;
    let end = rest.find("` ")?;
    let head = format!("ALTER TABLE `{}` ", &rest[..end]);
    let spec = &stmt[head.len()..];
    (!spec.starts_with("RENAME TO")).then_some(head)
}

/// The checks of `columns` renamed from `from`'s names to `to`'s, after `from` was renamed.
fn rename_checks(from: &str, to: &str, columns: &[Column], dialect: Dialect) -> Vec<String> {
    let q = |n: &str| quote(n, dialect);
    let mut specs = Vec::new();
    for c in columns {
        let old = checks_of(from, c, dialect);
        let new = checks_of(to, c, dialect);
        for (o, n) in old.iter().zip(&new) {
            match dialect {
                Dialect::Postgres => specs.push(format!(
                    "ALTER TABLE {} RENAME CONSTRAINT {} TO {}",
                    q(to),
                    q(&o.name),
                    q(&n.name)
                )),
                _ => {
                    specs.push(format!("DROP CONSTRAINT IF EXISTS {}", q(&o.name)));
                    specs.push(format!(
                        "ADD CONSTRAINT {} CHECK ({})",
                        q(&n.name),
                        n.condition
                    ));
                }
            }
        }
    }
    match dialect {
        Dialect::Postgres => specs,
        _ if specs.is_empty() => specs,
        // One statement: the old checks give way to the new ones at once.
        _ => vec![format!("ALTER TABLE {} {}", q(to), specs.join(", "))],
    }
}

/// The checks of `column` of `table`, rendered.
fn checks_of(table: &str, column: &Column, dialect: Dialect) -> Vec<ddl::ColumnCheck> {
    ddl::column_check_sql(table, &column.check_spec(), dialect)
}

/// `ALTER TABLE .. DROP CONSTRAINT` for each check of a column (IF EXISTS: a table made
/// before the checks were recorded in snapshots has none).
fn drop_checks(table: &str, column: &Column, dialect: Dialect) -> Vec<String> {
    let q = |n: &str| quote(n, dialect);
    checks_of(table, column, dialect)
        .into_iter()
        .map(|c| {
            format!(
                "ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}",
                q(table),
                q(&c.name)
            )
        })
        .collect()
}

/// `ALTER TABLE .. ADD CONSTRAINT .. CHECK (..)` for each check of a column.
fn add_checks(table: &str, column: &Column, dialect: Dialect) -> Vec<String> {
    let q = |n: &str| quote(n, dialect);
    checks_of(table, column, dialect)
        .into_iter()
        .map(|c| {
            format!(
                "ALTER TABLE {} ADD CONSTRAINT {} CHECK ({})",
                q(table),
                q(&c.name),
                c.condition
            )
        })
        .collect()
}

/// The check statements to run before and after `op` on PostgreSQL and MySQL.
fn check_changes(op: &Operation, state: &Schema, dialect: Dialect) -> (Vec<String>, Vec<String>) {
    use Operation::*;
    let column_of = |table: &str, name: &str| state.tables.get(table)?.column(name).cloned();
    match op {
        AddColumn { table, column } => (Vec::new(), add_checks(table, column, dialect)),
        DropColumn { table, column } => (drop_checks(table, column, dialect), Vec::new()),
        RenameColumn { table, from, to } => match column_of(table, from) {
            Some(old) => {
                let new = Column {
                    name: to.clone(),
                    ..old.clone()
                };
                (
                    drop_checks(table, &old, dialect),
                    add_checks(table, &new, dialect),
                )
            }
            None => (Vec::new(), Vec::new()),
        },
        AlterColumn { table, from, to }
            if checks_of(table, from, dialect) != checks_of(table, to, dialect) =>
        {
            (
                drop_checks(table, from, dialect),
                add_checks(table, to, dialect),
            )
        }
        _ => (Vec::new(), Vec::new()),
    }
}

/// The statements of one operation itself (checks aside), where the dialect does it in place.
fn op_statements(op: &Operation, state: &Schema, dialect: Dialect) -> Result<Vec<String>> {
    use Operation::*;
    let q = |n: &str| quote(n, dialect);
    Ok(match op {
        CreateTable { table } => {
            let mut v = vec![create_table_sql(table, &table.name, dialect)?];
            for ix in &table.indexes {
                v.extend(create_index_sql(table, ix, dialect)?);
            }
            v.extend(owned_triggers(table, dialect));
            v
        }
        DropTable { table } => vec![sql(SqTable::drop().table(Alias::new(&table.name)), dialect)],
        RenameTable { from, to } => vec![sql(
            SqTable::rename().table(Alias::new(from), Alias::new(to)),
            dialect,
        )],
        AddColumn { table, column } => {
            let t = state.tables.get(table);
            let mut spec = t.map(|t| t.spec(column)).unwrap_or_else(|| {
                Table {
                    name: table.clone(),
                    columns: vec![],
                    primary_key: vec![],
                    indexes: vec![],
                    foreign_keys: vec![],
                    checks: vec![],
                    triggers: vec![],
                    renamed_from: None,
                }
                .spec(column)
            });
            spec.primary_key = false;
            let mut add = sql(
                SqTable::alter()
                    .table(Alias::new(table))
                    .add_column(column_def_for(&spec, dialect)),
                dialect,
            );
            if dialect == Dialect::Sqlite {
                // SQLite adds no table constraint in place, but takes named column checks.
                for check in checks_of(table, column, dialect) {
                    add.push_str(&format!(
                        " CONSTRAINT {} CHECK ({})",
                        q(&check.name),
                        check.condition
                    ));
                }
            }
            vec![add]
        }
        DropColumn { table, column } => vec![sql(
            SqTable::alter()
                .table(Alias::new(table))
                .drop_column(Alias::new(&column.name)),
            dialect,
        )],
        RenameColumn { table, from, to } => vec![sql(
            SqTable::alter()
                .table(Alias::new(table))
                .rename_column(Alias::new(from), Alias::new(to)),
            dialect,
        )],
        AlterColumn { table, from, to } => match dialect {
            Dialect::Postgres => {
                let mut v = Vec::new();
                let head = format!("ALTER TABLE {} ALTER COLUMN {}", q(table), q(&to.name));
                if from.ty != to.ty
                    || from.max_length != to.max_length
                    || from.precision != to.precision
                    || from.collation != to.collation
                {
                    let ty = column_type_sql(&to.type_spec(), dialect);
                    // Without COLLATE, `TYPE` would reset a text column to the database's
                    // default collation (a locale), losing the code-point order of `"C"`.
                    let collate = declared_collation(&to.type_spec(), dialect)
                        .map(|name| format!(" COLLATE {}", q(name)))
                        .unwrap_or_default();
                    // Within a family (text, numbers) the assignment cast applies: it refuses
                    // a value that does not fit, where an explicit `::varchar(20)` would cut
                    // it. Other changes need the explicit cast (which fails on what it cannot
                    // convert); the runner checks the rows before either runs.
                    let using = if pg_assignable(from, to) {
                        String::new()
                    } else {
                        format!(" USING {}::{ty}", q(&to.name))
                    };
                    v.push(format!("{head} TYPE {ty}{collate}{using}"));
                }
                if from.default != to.default {
                    v.push(match default_sql(to, dialect) {
                        Some(d) => format!("{head} SET DEFAULT {d}"),
                        None => format!("{head} DROP DEFAULT"),
                    });
                }
                if from.nullable != to.nullable {
                    v.extend(backfill(table, from, to, dialect));
                    let verb = if to.nullable { "DROP" } else { "SET" };
                    v.push(format!("{head} {verb} NOT NULL"));
                    // The NULL order of the column's indexes follows its nullability: create
                    // them again (inside the migration's transaction: never without them).
                    let mut after = state.clone();
                    after.apply(op);
                    if let Some(t) = after.tables.get(table) {
                        for ix in t.indexes.iter().filter(|ix| {
                            ix.columns.contains(&to.name) && ddl::index_is_built(ix.method, dialect)
                        }) {
                            v.push(format!("DROP INDEX {}", q(&ix.name)));
                            v.extend(create_index_sql(t, ix, dialect)?);
                        }
                    }
                }
                v
            }
            _ => {
                let t = state.tables.get(table).cloned().unwrap_or(Table {
                    name: table.clone(),
                    columns: vec![],
                    primary_key: vec![],
                    indexes: vec![],
                    foreign_keys: vec![],
                    checks: vec![],
                    triggers: vec![],
                    renamed_from: None,
                });
                let mut spec = t.spec(to);
                spec.primary_key = false;
                let mut v = backfill(table, from, to, dialect);
                v.push(sql(
                    SqTable::alter()
                        .table(Alias::new(table))
                        .modify_column(column_def_for(&spec, dialect)),
                    dialect,
                ));
                v
            }
        },
        AddIndex { table, index } => create_index_in(state, table, index, dialect)?,
        DropIndex { index, .. } if !ddl::index_is_built(index.method, dialect) => Vec::new(),
        RenameIndex { table, from, .. }
            if state
                .tables
                .get(table)
                .and_then(|t| t.indexes.iter().find(|i| &i.name == from))
                .is_some_and(|i| !ddl::index_is_built(i.method, dialect)) =>
        {
            Vec::new()
        }
        DropIndex { table, index } => match mysql_fk_needing(state, table, index, dialect) {
            // InnoDB dropped the foreign key's own index when this one could serve it: give
            // the key its index back in the same statement (error 1553 otherwise).
            Some(fks) => {
                let mut specs: Vec<String> = fks
                    .iter()
                    .map(|fk| {
                        let cols: Vec<String> = fk.columns.iter().map(|c| q(c)).collect();
                        format!(
                            "ADD INDEX IF NOT EXISTS {} ({})",
                            q(&fk.name),
                            cols.join(", ")
                        )
                    })
                    .collect();
                specs.push(format!("DROP INDEX {}", q(&index.name)));
                vec![format!("ALTER TABLE {} {}", q(table), specs.join(", "))]
            }
            None => vec![sql(
                SqIndex::drop().name(&index.name).table(Alias::new(table)),
                dialect,
            )],
        },
        RenameIndex { table, from, to } => match dialect {
            Dialect::Postgres => vec![format!("ALTER INDEX {} RENAME TO {}", q(from), q(to))],
            Dialect::MySql => vec![format!(
                "ALTER TABLE {} RENAME INDEX {} TO {}",
                q(table),
                q(from),
                q(to)
            )],
            // SQLite renames no index: create it under the new name, then drop the old one,
            // inside the migration's exclusive transaction.
            Dialect::Sqlite => match state
                .tables
                .get(table)
                .and_then(|t| t.indexes.iter().find(|i| &i.name == from))
            {
                Some(ix) => {
                    let mut v = create_index_in(
                        state,
                        table,
                        &Index {
                            name: to.clone(),
                            ..ix.clone()
                        },
                        dialect,
                    )?;
                    v.push(format!("DROP INDEX {}", q(from)));
                    v
                }
                None => Vec::new(),
            },
        },
        RenameForeignKey { table, from, to } => match dialect {
            Dialect::Postgres => vec![format!(
                "ALTER TABLE {} RENAME CONSTRAINT {} TO {}",
                q(table),
                q(from),
                q(to)
            )],
            Dialect::MySql => match state
                .tables
                .get(table)
                .and_then(|t| t.foreign_keys.iter().find(|f| &f.name == from))
            {
                // One statement: the key is never missing.
                Some(fk) => {
                    let add = sql(
                        &fk_statement(
                            table,
                            &ForeignKey {
                                name: to.clone(),
                                ..fk.clone()
                            },
                        ),
                        dialect,
                    );
                    let add = add
                        .split_once(" ADD ")
                        .map_or(add.clone(), |(_, a)| format!("ADD {a}"));
                    vec![format!(
                        "ALTER TABLE {} DROP FOREIGN KEY {}, {add}",
                        q(table),
                        q(from)
                    )]
                }
                None => Vec::new(),
            },
            // SQLite keeps no constraint names (its catalog reports none).
            Dialect::Sqlite => Vec::new(),
        },
        // Dropped first if there: a database whose log a migration of the version before
        // snapshots listed triggers made already has it.
        AddTrigger { table, name } => polyorm_core::registry::triggers_on(table, dialect)
            .into_iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, create)| [drop_trigger(table, name, dialect), create])
            .collect(),
        DropTrigger { table, name } => vec![drop_trigger(table, name, dialect)],
        AddForeignKey { table, foreign_key } => {
            ddl::check_foreign_key_actions(
                table,
                &foreign_key.name,
                foreign_key.on_delete,
                foreign_key.on_update,
                dialect,
            )?;
            vec![sql(&fk_statement(table, foreign_key), dialect)]
        }
        AddCheck { table, check } => {
            let condition = match state.tables.get(table) {
                Some(t) => user_check_sql(t, check, dialect)?,
                None => user_check_sql(&bare_table(table), check, dialect)?,
            };
            vec![format!(
                "ALTER TABLE {} ADD CONSTRAINT {} CHECK ({condition})",
                q(table),
                q(&check.name)
            )]
        }
        DropCheck { table, check } => vec![format!(
            "ALTER TABLE {} DROP CONSTRAINT {}",
            q(table),
            q(&check.name)
        )],
        DropForeignKey { table, foreign_key } => vec![sql(
            SqForeignKey::drop()
                .name(&foreign_key.name)
                .table(Alias::new(table)),
            dialect,
        )],
    })
}

/// When a column becomes NOT NULL with a default, its NULLs take the default first (as
/// SQLite's rebuild does); without a default the runner refuses rows holding NULL.
fn backfill(table: &str, from: &Column, to: &Column, dialect: Dialect) -> Vec<String> {
    match default_sql(to, dialect) {
        Some(v) if from.nullable && !to.nullable => vec![format!(
            "UPDATE {t} SET {c} = {v} WHERE {c} IS NULL",
            t = quote(table, dialect),
            c = quote(&from.name, dialect),
        )],
        _ => Vec::new(),
    }
}

/// Whether PostgreSQL's assignment cast converts `from` into `to` (same family: text, or
/// numbers), so that `ALTER .. TYPE` needs no `USING`.
fn pg_assignable(from: &Column, to: &Column) -> bool {
    use polyorm_core::ColumnType::*;
    let family = |c: &Column| match c.ty {
        Text => 1,
        SmallInt | Int | BigInt | U8 | U16 | U32 | U64 | Float | Double | Decimal => 2,
        _ => 0,
    };
    family(from) != 0 && family(from) == family(to)
}

/// The foreign keys of `table` that only `index` serves on MySQL/MariaDB: their columns lead
/// the index, and no other index (nor the primary key) of the table starts with them.
fn mysql_fk_needing(
    state: &Schema,
    table: &str,
    index: &Index,
    dialect: Dialect,
) -> Option<Vec<ForeignKey>> {
    if dialect != Dialect::MySql {
        return None;
    }
    let t = state.tables.get(table)?;
    let leads = |cols: &[String], fk: &ForeignKey| cols.starts_with(&fk.columns);
    let fks: Vec<ForeignKey> = t
        .foreign_keys
        .iter()
        .filter(|fk| leads(&index.columns, fk))
        .filter(|fk| {
            !leads(&t.primary_key, fk)
                && !t
                    .indexes
                    .iter()
                    .any(|ix| ix.name != index.name && leads(&ix.columns, fk))
        })
        .cloned()
        .collect();
    (!fks.is_empty()).then_some(fks)
}

/// SQLite's table rebuild: new table, copy the shared columns, drop, rename, indexes.
///
/// The runner turns `PRAGMA foreign_keys` off around the migration's transaction and runs
/// `PRAGMA foreign_key_check` before committing, as SQLite's documentation prescribes.
fn sqlite_rebuild(old: &Table, new: &Table) -> Result<Vec<String>> {
    let d = Dialect::Sqlite;
    let tmp = format!("_orm_new_{}", new.name);
    let shared: Vec<String> = new
        .columns
        .iter()
        .filter(|c| old.column(&c.name).is_some())
        .map(|c| quote(&c.name, d))
        .collect();
    let select: Vec<String> = new
        .columns
        .iter()
        .filter(|c| old.column(&c.name).is_some())
        .map(|c| copy_expr(old.column(&c.name).expect("filtered"), c))
        .collect();
    let mut v = vec![
        create_table_sql(new, &tmp, d)?,
        format!(
            "INSERT INTO {} ({}) SELECT {} FROM {}",
            quote(&tmp, d),
            shared.join(", "),
            select.join(", "),
            quote(&old.name, d)
        ),
        format!("DROP TABLE {}", quote(&old.name, d)),
        format!(
            "ALTER TABLE {} RENAME TO {}",
            quote(&tmp, d),
            quote(&new.name, d)
        ),
    ];
    for ix in &new.indexes {
        v.extend(create_index_sql(new, ix, d)?);
    }
    // Dropping the old table dropped its triggers too.
    v.extend(owned_triggers(new, d));
    Ok(v)
}

/// The `CREATE TRIGGER`s of the triggers the ORM keeps on `table` (the audit log's linking
/// trigger, with the core's `audit` feature) that its snapshot lists, made with the table.
fn owned_triggers(table: &Table, dialect: Dialect) -> Vec<String> {
    polyorm_core::registry::triggers_on(&table.name, dialect)
        .into_iter()
        .filter(|(name, _)| table.triggers.iter().any(|t| t == name))
        .map(|(_, create)| create)
        .collect()
}

/// `DROP TRIGGER IF EXISTS` of the trigger `name` on `table`.
fn drop_trigger(table: &str, name: &str, dialect: Dialect) -> String {
    match dialect {
        Dialect::Postgres => format!(
            "DROP TRIGGER IF EXISTS {} ON {}",
            quote(name, dialect),
            quote(table, dialect)
        ),
        Dialect::MySql | Dialect::Sqlite => {
            format!("DROP TRIGGER IF EXISTS {}", quote(name, dialect))
        }
    }
}

/// How a rebuild copies one column (see [`crate::rows::sqlite_copy`]).
fn copy_expr(old: &Column, new: &Column) -> String {
    crate::rows::sqlite_copy(old, new)
}
