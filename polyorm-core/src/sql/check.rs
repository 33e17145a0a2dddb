//! Pass 1: a statement is checked against the dialect's [`Capabilities`] and the columns'
//! limits before anything is built. Each rule is one function; a refusal says what to do.

use super::{Capabilities, Dialect, fit, scaled};
use crate::error::Error;
use crate::query::ir::{
    AggregateFn, Aggregation, COMMON_TABLE, CmpOp, ColumnRef, Condition, Projection, RowLock,
    SelectExpr, SelectQuery, Statement, ValueKind, WindowFn,
};
use crate::schema::{ColumnType, ModelSchema};

/// Checks a write (selects are checked level by level by [`select`]).
pub(super) fn statement(statement: &Statement, dialect: Dialect) -> Result<(), Error> {
    fit::check(statement, Some(dialect))?;
    match statement {
        Statement::Insert(q) => insert_rows(q.schema, q.rows.len()),
        Statement::Upsert(q) => {
            insert_rows(q.insert.schema, q.insert.rows.len())?;
            conflict_columns(q.insert.schema, &q.on_conflict.columns)
        }
        Statement::Update(q) if q.assignments.is_empty() => Err(Error::InvalidQuery(format!(
            "update of `{}` sets no column; add at least one `set(column, value)`",
            q.schema.table
        ))),
        _ => Ok(()),
    }
}

/// A table whose columns are all generated takes one row per insert (`DEFAULT VALUES`).
fn insert_rows(schema: &ModelSchema, rows: usize) -> Result<(), Error> {
    if schema.insert_columns().next().is_none() && rows != 1 {
        return Err(Error::InvalidQuery(format!(
            "`{}` has only generated columns; insert its rows one at a time",
            schema.table
        )));
    }
    Ok(())
}

/// An upsert names the columns whose conflict it handles.
fn conflict_columns(schema: &ModelSchema, columns: &[&str]) -> Result<(), Error> {
    if columns.is_empty() {
        return Err(Error::InvalidQuery(format!(
            "upsert into `{}` names no conflict column; add `.on(column)`",
            schema.table
        )));
    }
    Ok(())
}

/// Checks one level of a select (its subqueries are checked when they are compiled).
pub(super) fn select(q: &SelectQuery, dialect: Dialect) -> Result<(), Error> {
    fit::condition(q.filter.as_ref())?;
    let having = match &q.projection {
        Projection::Exprs(aggregation) => aggregation.having.as_ref(),
        _ => None,
    };
    fit::condition(having)?;
    distinct_sources(q)?;
    windows(q)?;
    compound_members(q)?;
    common_tables(q)?;
    let capabilities = dialect.capabilities();
    // Both decimal rules read decimal columns only: a model without one (the common case)
    // skips them.
    if capabilities.stored_decimals && reads_decimal(q) {
        refuse_text_decimal_order(q)?;
    }
    row_lock(q, capabilities)?;
    index_hint(q)?;
    if let Projection::Exprs(aggregation) = &q.projection {
        group_keys(q, &aggregation.group_by)?;
        grouped_columns(q, aggregation)?;
    }
    decimal_expressions(q, capabilities)?;
    for condition in q.filter.iter().chain(having) {
        single_column_subqueries(condition)?;
    }
    Ok(())
}

/// Every table of a select goes by its own name (a join gives a repeated table an alias,
/// from a fixed list that a select joining one table too often runs out of).
fn distinct_sources(q: &SelectQuery) -> Result<(), Error> {
    for (position, (name, _)) in q.sources().enumerate() {
        if q.sources()
            .take(position)
            .any(|(earlier, _)| earlier == name)
        {
            return Err(Error::InvalidQuery(format!(
                "`{name}` is joined more often than the aliases a select can give one table \
                 (`joined` to `joined_8`); split the query"
            )));
        }
    }
    Ok(())
}

/// The common tables of a `WITH` clause each have their own name, which no table the
/// statement reads has (the common table would hide it).
fn common_tables(q: &SelectQuery) -> Result<(), Error> {
    if q.with.is_empty() {
        return Ok(());
    }
    if q.walk.is_some() {
        return Err(Error::InvalidQuery(format!(
            "a walk of `{}` (`with_recursive`) cannot also read common tables; join the \
             common table in a query over the walked rows' keys instead",
            q.schema.table
        )));
    }
    for (position, table) in q.with.iter().enumerate() {
        if q.with[..position].iter().any(|t| t.name == table.name) {
            return Err(Error::InvalidQuery(format!(
                "two different common tables are named `{}`; give each `cte(..)` its own name",
                table.name
            )));
        }
    }
    let levels = std::iter::once(q).chain(q.with.iter().map(|t| &t.query));
    let models: Vec<&str> = levels
        .flat_map(|level| level.sources())
        .filter(|(_, schema)| schema.name != COMMON_TABLE)
        .map(|(_, schema)| schema.table)
        .collect();
    if let Some(table) = q.with.iter().find(|t| models.contains(&t.name)) {
        return Err(Error::InvalidQuery(format!(
            "the common table `{0}` has the name of a table the query reads; name it \
             otherwise (`cte(\"{0}_rows\")`)",
            table.name
        )));
    }
    Ok(())
}

/// The selects of a `UNION`/`INTERSECT`/`EXCEPT` select as many expressions as the first, and
/// neither they nor the first sort, page or lock their own rows (SQL sorts and pages the
/// combined rows, which the outer select of a derived table does).
fn compound_members(q: &SelectQuery) -> Result<(), Error> {
    let Some(first) = q.compound.first() else {
        return Ok(());
    };
    let width = |q: &SelectQuery| match &q.projection {
        Projection::Exprs(aggregation) => Some(aggregation.exprs.len()),
        _ => None,
    };
    let op = first.op.method();
    let ordered = |q: &SelectQuery| {
        !q.order.is_empty() || q.limit.is_some() || q.offset.is_some() || q.lock.is_some()
    };
    if ordered(q)
        || q.compound
            .iter()
            .any(|m| ordered(&m.query) || m.query.outer.is_some())
    {
        return Err(Error::InvalidQuery(format!(
            "the selects of a `{op}` of `{}` are combined unsorted and unpaged; sort and page \
             the combined rows with the `order_by`/`limit` of the result",
            q.schema.table
        )));
    }
    for member in &q.compound {
        if width(&member.query).is_none() || width(&member.query) != width(q) {
            return Err(Error::InvalidQuery(format!(
                "every select of a `{}` selects as many values as the first (`{}` and `{}` \
                 differ)",
                member.op.method(),
                q.schema.table,
                member.query.schema.table
            )));
        }
    }
    Ok(())
}

/// Window functions are computed after `WHERE`, `GROUP BY` and `HAVING`, so they are read
/// only by the select list and `ORDER BY`; they nest in no aggregate nor other window; their
/// aggregates are over integers and floats (an exact decimal sum has no portable window form).
fn windows(q: &SelectQuery) -> Result<(), Error> {
    let has_window = |e: &SelectExpr| {
        let mut found = false;
        e.visit(&mut |e| found |= matches!(e, SelectExpr::Window(_)));
        found
    };
    let mut filtered = false;
    let mut grouped = false;
    if let Some(filter) = &q.filter {
        filter.visit_exprs(&mut |e| filtered |= has_window(e));
    }
    if let Projection::Exprs(aggregation) = &q.projection {
        if let Some(having) = &aggregation.having {
            having.visit_exprs(&mut |e| filtered |= has_window(e));
        }
        grouped = aggregation.group_by.iter().any(has_window);
    }
    if filtered || grouped {
        return Err(Error::InvalidQuery(format!(
            "a window function cannot {} the rows of `{}`: SQL computes it after `WHERE`, \
             `GROUP BY` and `HAVING`; select it, and filter on it through `.derived()`",
            if filtered { "filter" } else { "group" },
            q.schema.table
        )));
    }
    let mut refusal = None;
    q.visit_exprs(&mut |e| match e {
        SelectExpr::Aggregate { .. } | SelectExpr::AggregateOf { .. } if has_window(e) => {
            refusal.get_or_insert(
                "an aggregate cannot read a window function; select the \
                                   window in a derived table and aggregate over it",
            );
        }
        SelectExpr::Window(w) => {
            if w.operands().any(has_window) {
                refusal.get_or_insert("a window function cannot read another window function");
            }
            if let WindowFn::Aggregate {
                kind: ValueKind::Decimal,
                ..
            } = w.function
            {
                refusal.get_or_insert(
                    "a window aggregate over a decimal column has no exact \
                                       portable form; group by the partition keys and use \
                                       `sum()`/`avg()` instead",
                );
            }
        }
        _ => {}
    });
    match refusal {
        Some(refusal) => Err(Error::InvalidQuery(refusal.to_owned())),
        None => Ok(()),
    }
}

/// Whether the model of `q` or one of its joined models has a decimal column.
pub(super) fn reads_decimal(q: &SelectQuery) -> bool {
    let has = |schema: &ModelSchema| schema.columns.iter().any(|c| c.ty == ColumnType::Decimal);
    q.sources().any(|(_, schema)| has(schema))
}

/// SQLite orders and compares decimals stored as text (no precision, or more than 18 digits)
/// as text: `order_by` and `<`/`>`/`between` on them are refused rather than answered in
/// text order.
fn refuse_text_decimal_order(q: &SelectQuery) -> Result<(), Error> {
    let refuse = |c: &ColumnRef, what: &str| -> Result<(), Error> {
        match q.schema_of(c).and_then(|s| s.column(c.name)) {
            Some(column) if scaled::is_text_decimal(column) => Err(Error::InvalidQuery(format!(
                "SQLite stores `{}.{}` (a decimal without `precision` of at most {} digits) as \
                 text, so {what} would follow text order; declare \
                 `#[orm(precision = P, scale = S)]` with P <= {} to store it as a scaled integer",
                c.table,
                c.name,
                scaled::MAX_SCALED_PRECISION,
                scaled::MAX_SCALED_PRECISION
            ))),
            _ => Ok(()),
        }
    };
    for o in &q.order {
        if let SelectExpr::Column(c) = &o.expr {
            refuse(c, "ordering by it")?;
        }
    }
    fn ranges<'a>(c: &'a Condition, out: &mut Vec<&'a ColumnRef>) {
        match c {
            Condition::Compare { column, op, .. } if !matches!(op, CmpOp::Eq | CmpOp::Ne) => {
                out.push(column);
            }
            Condition::Between { column, .. } => out.push(column),
            Condition::And(items) | Condition::Or(items) => {
                items.iter().for_each(|c| ranges(c, out));
            }
            Condition::Not(inner) => ranges(inner, out),
            _ => {}
        }
    }
    let mut compared = Vec::new();
    if let Some(filter) = &q.filter {
        ranges(filter, &mut compared);
    }
    compared
        .into_iter()
        .try_for_each(|c| refuse(c, "comparing it with `<`, `>` or `between`"))
}

/// Without row locks (SQLite, whose transactions are serializable), `for_update()` adds
/// nothing, and `skip_locked()`/`no_wait()` cannot be honoured.
fn row_lock(q: &SelectQuery, capabilities: Capabilities) -> Result<(), Error> {
    let method = match q.lock {
        _ if capabilities.row_locks => return Ok(()),
        None | Some(RowLock::ForUpdate) => return Ok(()),
        Some(RowLock::SkipLocked) => "skip_locked",
        Some(RowLock::NoWait) => "no_wait",
    };
    Err(Error::InvalidQuery(format!(
        "SQLite has no row locks, so `{method}()` cannot be honoured; use `for_update()`, \
         which SQLite's serializable transactions already guarantee"
    )))
}

/// An index hint names one of the model's indexes (checked on every dialect, so that a typo
/// is found where the hint is left out too).
fn index_hint(q: &SelectQuery) -> Result<(), Error> {
    let Some(hint) = q.index_hint else {
        return Ok(());
    };
    if q.schema.indexes.iter().any(|i| i.name == hint.index) {
        return Ok(());
    }
    let known: Vec<&str> = q.schema.indexes.iter().map(|i| i.name).collect();
    Err(Error::InvalidQuery(format!(
        "`{}` has no index `{}` to hint (its indexes: {}); name one of them, as the DDL \
         created it",
        q.schema.table,
        hint.index,
        if known.is_empty() {
            "none".to_owned()
        } else {
            known.join(", ")
        }
    )))
}

/// `GROUP BY` keys are columns or computed expressions, never aggregates (nor expressions
/// over one).
fn group_keys(q: &SelectQuery, keys: &[SelectExpr]) -> Result<(), Error> {
    for key in keys {
        let mut aggregate = None;
        key.visit(&mut |e| match e {
            SelectExpr::Aggregate {
                function, column, ..
            } => {
                let argument = column.map_or("*".to_owned(), |c| format!("{}.{}", c.table, c.name));
                aggregate.get_or_insert((*function, argument));
            }
            SelectExpr::AggregateOf { function, .. } => {
                aggregate.get_or_insert((*function, "..".to_owned()));
            }
            _ => {}
        });
        if let Some((function, argument)) = aggregate {
            return Err(Error::InvalidQuery(format!(
                "a select of `{}` cannot be grouped by an aggregate (`{function:?}({argument})`); \
                 group by a column or an expression such as `year()`, and filter aggregates \
                 with `having`",
                q.schema.table
            )));
        }
    }
    Ok(())
}

/// In a grouped select (one with `GROUP BY`, or with aggregates and no `GROUP BY`: one
/// group), every selected or sorted expression is a group key, an aggregate, or computed from
/// group keys; a column of a model whose whole primary key is grouped is one value per group
/// too (SQL's functional dependence). Windows are computed after grouping and left alone.
pub(crate) fn grouped_columns(q: &SelectQuery, aggregation: &Aggregation) -> Result<(), Error> {
    let keys = &aggregation.group_by;
    if keys.is_empty() && !aggregation.exprs.iter().any(has_aggregate) {
        return Ok(());
    }
    let grouped = |c: &ColumnRef| {
        let key = |name: &str| {
            keys.iter()
                .any(|k| matches!(k, SelectExpr::Column(k) if k.table == c.table && k.name == name))
        };
        key(c.name)
            || q.schema_of(c).is_some_and(|schema| {
                !schema.primary_key.is_empty()
                    && schema.primary_key_columns().all(|pk| key(pk.name))
            })
    };
    let exprs = aggregation.exprs.iter().map(|e| (e, "selected"));
    let orders = q.order.iter().map(|o| (&o.expr, "sorted by"));
    for (expr, clause) in exprs.chain(orders) {
        if let Some(c) = ungrouped(expr, keys, &grouped) {
            return Err(Error::UngroupedColumn {
                name: builder_name(q, &c),
                table: c.table,
                column: c.name,
                clause,
            });
        }
    }
    Ok(())
}

/// Whether `expr` aggregates rows (outside any window).
fn has_aggregate(expr: &SelectExpr) -> bool {
    match expr {
        SelectExpr::Aggregate { .. } | SelectExpr::AggregateOf { .. } => true,
        SelectExpr::Window(_) => false,
        SelectExpr::Arith { left, right, .. } => has_aggregate(left) || has_aggregate(right),
        SelectExpr::Coalesce(items) => items.iter().any(has_aggregate),
        SelectExpr::Case {
            branches,
            otherwise,
        } => branches.iter().any(|(_, e)| has_aggregate(e)) || has_aggregate(otherwise),
        SelectExpr::Cast { expr, .. } => has_aggregate(expr),
        _ => false,
    }
}

/// The first column `expr` reads outside aggregates that is not `grouped`, unless `expr` is
/// itself a group key.
fn ungrouped(
    expr: &SelectExpr,
    keys: &[SelectExpr],
    grouped: &impl Fn(&ColumnRef) -> bool,
) -> Option<ColumnRef> {
    if keys.contains(expr) {
        return None;
    }
    let column = |c: &ColumnRef| (!grouped(c)).then_some(*c);
    match expr {
        SelectExpr::Column(c)
        | SelectExpr::Fold { column: c, .. }
        | SelectExpr::Extract { column: c, .. } => column(c),
        SelectExpr::Aggregate { .. }
        | SelectExpr::AggregateOf { .. }
        | SelectExpr::Window(_)
        | SelectExpr::Value(_) => None,
        SelectExpr::Arith { left, right, .. } => {
            ungrouped(left, keys, grouped).or_else(|| ungrouped(right, keys, grouped))
        }
        SelectExpr::Coalesce(items) => items.iter().find_map(|e| ungrouped(e, keys, grouped)),
        SelectExpr::Cast { expr, .. } => ungrouped(expr, keys, grouped),
        SelectExpr::Case {
            branches,
            otherwise,
        } => {
            for (condition, result) in branches {
                let mut read = Vec::new();
                condition.clone().visit_columns_mut(&mut |c| read.push(*c));
                if let Some(c) = read.iter().find_map(column) {
                    return Some(c);
                }
                if let Some(c) = ungrouped(result, keys, grouped) {
                    return Some(c);
                }
            }
            ungrouped(otherwise, keys, grouped)
        }
    }
}

/// How the builder names column `c` of `q`: `Track::NAME` (its model's constant), or
/// `name.c1` for a common table's column.
fn builder_name(q: &SelectQuery, c: &ColumnRef) -> String {
    match q.schema_of(c) {
        Some(schema) if schema.name != COMMON_TABLE => {
            let field = schema.column(c.name).map_or(c.name, |column| column.field);
            format!("{}::{}", schema.name, field.to_ascii_uppercase())
        }
        _ => format!("{}.{}", c.table, c.name),
    }
}

/// Computed expressions: an aggregate does not nest in another; the exact decimal `avg`
/// rounds to its column's declared scale; on SQLite, arithmetic, `coalesce` and `case_when`
/// compute over scaled integers, which a decimal stored as text is not, and at most 18
/// decimal places fit.
fn decimal_expressions(q: &SelectQuery, capabilities: Capabilities) -> Result<(), Error> {
    let column = |c: &ColumnRef| q.schema_of(c).and_then(|s| s.column(c.name));
    let mut refusal = None;
    q.visit_exprs(&mut |e| {
        if refusal.is_some() {
            return;
        }
        if let SelectExpr::Aggregate {
            function: AggregateFn::Avg,
            kind: ValueKind::Decimal,
            column: Some(c),
        } = e
            && column(c).is_some_and(|s| s.precision.is_none())
        {
            refusal = Some(format!(
                "`avg` of `{}.{}` rounds to the column's scale, which it does not declare; \
                 declare `#[orm(precision = P, scale = S)]` on the field",
                c.table, c.name
            ));
        }
        if let SelectExpr::AggregateOf { arg, .. } = e
            && arg.has_aggregate()
        {
            refusal = Some(
                "an aggregate cannot aggregate another (`sum().max()`); select the inner \
                 aggregate per group, or aggregate the column directly"
                    .to_owned(),
            );
        }
        if let SelectExpr::AggregateOf {
            function: AggregateFn::Avg,
            kind: ValueKind::Decimal,
            ..
        } = e
        {
            refusal = Some(
                "`avg` over a decimal expression has no declared scale to round to; average \
                 a decimal column, or `cast::<f64>()` the expression first"
                    .to_owned(),
            );
        }
        if !capabilities.stored_decimals || e.construct().is_none() {
            return;
        }
        let mut text = None;
        e.visit_columns(&mut |c| {
            if let Some(schema) = column(c)
                && scaled::is_text_decimal(schema)
            {
                text.get_or_insert(*c);
            }
        });
        if let Some(c) = text {
            refusal = Some(format!(
                "SQLite stores `{}.{}` (a decimal without `precision` of at most {} digits) as \
                 text, so {} cannot compute with it exactly; declare \
                 `#[orm(precision = P, scale = S)]` with P <= {} to store it as a scaled integer",
                c.table,
                c.name,
                scaled::MAX_SCALED_PRECISION,
                e.construct().unwrap_or("an expression"),
                scaled::MAX_SCALED_PRECISION
            ));
        } else if let Some(scale) = scaled::expr_scale(e, &column)
            && scale > scaled::MAX_SCALED_PRECISION
        {
            refusal = Some(format!(
                "{} has {scale} decimal places on SQLite, where decimals are 64-bit scaled \
                 integers of at most {} places; round an operand first or cast it to `f64`",
                e.construct().unwrap_or("an expression"),
                scaled::MAX_SCALED_PRECISION
            ));
        }
    });
    refusal.map_or(Ok(()), |r| Err(Error::InvalidQuery(r)))
}

/// The subquery of `IN (...)` selects exactly one expression.
fn single_column_subqueries(c: &Condition) -> Result<(), Error> {
    match c {
        Condition::InSubquery { subquery, .. } => {
            let single = matches!(&subquery.projection, Projection::Exprs(a) if a.exprs.len() == 1);
            if !single {
                return Err(Error::InvalidQuery(format!(
                    "an `in_subquery` subquery over `{}` must select exactly one column or \
                     aggregate; use `.select((column,))`",
                    subquery.schema.table
                )));
            }
            Ok(())
        }
        Condition::And(items) | Condition::Or(items) => {
            items.iter().try_for_each(single_column_subqueries)
        }
        Condition::Not(inner) => single_column_subqueries(inner),
        _ => Ok(()),
    }
}
