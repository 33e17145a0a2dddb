//! What a migration does to the rows already there.
//!
//! Each operation that could fail on, or lose, existing rows has a [`RowCheck`]: a condition
//! selecting the rows concerned, written against the database as it is *before* the migration
//! (tables and columns renamed by earlier operations of the same migration are named as they
//! were). The runner counts them before a generated migration (or its `down`) runs any
//! statement, and refuses to start when one of the blocking checks matches a row: a narrowing
//! never cuts, rounds or clamps a value, on any dialect. `generate` with a database counts them
//! to say what a refused destructive operation would lose.

use std::collections::BTreeMap;

use polyorm_core::sql::ddl::scaled_storage;
use polyorm_core::{ColumnType, Compiled, Dialect, Executor, FieldType};

use crate::diff::{Operation, narrows, type_name};
use crate::error::Result;
use crate::render::quote;
use crate::schema::{Column, Default, Schema};

/// The rows one operation concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowCheck {
    /// The position of the operation in its migration.
    pub op: usize,
    /// `table.column` (or `table`, `table.index`) as the models name it.
    pub subject: String,
    /// What is true of the matching rows (`are longer than 20 characters`), after a count.
    pub problem: String,
    /// The table in the database before the migration.
    pub table: String,
    /// SQL condition selecting the rows concerned (names as before the migration).
    pub condition: String,
    /// The table's key columns, quoted, as before the migration (empty: no samples).
    pub key: Vec<String>,
    /// Whether a matching row makes the migration fail before it changes anything; otherwise
    /// the rows are what a destructive operation would lose.
    pub blocks: bool,
}

/// What the database holds for one check: how many rows match and a few of their keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    /// Matching rows.
    pub rows: i64,
    /// Keys of the first few of them (`1`, `(1, 'a')`).
    pub keys: Vec<String>,
}

impl RowCheck {
    /// `posts.title: 3 rows are longer than 20 characters (keys: 1, 4, 9)`.
    pub fn describe(&self, count: &Count) -> String {
        let rows = if count.rows == 1 {
            "1 row".to_owned()
        } else {
            format!("{} rows", count.rows)
        };
        let problem = if count.rows == 1 {
            singular(&self.problem)
        } else {
            self.problem.clone()
        };
        let mut out = format!("{}: {rows} {problem}", self.subject);
        if !count.keys.is_empty() {
            let more = if (count.keys.len() as i64) < count.rows {
                ", …"
            } else {
                ""
            };
            out.push_str(&format!(" (keys: {}{more})", count.keys.join(", ")));
        }
        out
    }

    /// Counts the matching rows and reads up to `samples` of their keys.
    pub async fn count<E: Executor>(
        &self,
        db: &E,
        dialect: Dialect,
        samples: usize,
    ) -> Result<Count> {
        let from = quote(&self.table, dialect);
        let rows: Vec<i64> = db
            .fetch_compiled(
                raw(format!(
                    "SELECT COUNT(*) FROM {from} WHERE {}",
                    self.condition
                )),
                |r| i64::decode(r, 0),
            )
            .await?;
        let rows = rows.first().copied().unwrap_or(0);
        let mut keys = Vec::new();
        if rows > 0 && samples > 0 && !self.key.is_empty() {
            let text: Vec<String> = self.key.iter().map(|k| as_text(k, dialect)).collect();
            let joined = match dialect {
                Dialect::MySql => format!("CONCAT_WS(', ', {})", text.join(", ")),
                _ => text.join(" || ', ' || "),
            };
            let sql = format!(
                "SELECT {joined} FROM {from} WHERE {} ORDER BY {} LIMIT {samples}",
                self.condition,
                self.key.join(", ")
            );
            keys = db
                .fetch_compiled(raw(sql), |r| String::decode(r, 0))
                .await?;
            if self.key.len() > 1 {
                keys = keys.into_iter().map(|k| format!("({k})")).collect();
            }
        }
        Ok(Count { rows, keys })
    }
}

fn singular(problem: &str) -> String {
    if let Some(rest) = problem.strip_prefix("are not integers ") {
        return format!("is not an integer {rest}");
    }
    for (plural, one) in [
        ("are ", "is "),
        ("hold ", "holds "),
        ("have ", "has "),
        ("do ", "does "),
        ("share ", "shares "),
        ("reference ", "references "),
    ] {
        if let Some(rest) = problem.strip_prefix(plural) {
            return format!("{one}{rest}");
        }
    }
    problem.to_owned()
}

fn raw(sql: String) -> Compiled {
    Compiled {
        sql,
        values: vec![],
    }
}

/// A key column as text, whatever its type.
fn as_text(col: &str, dialect: Dialect) -> String {
    match dialect {
        Dialect::Postgres => format!("CAST({col} AS text)"),
        Dialect::MySql => format!("CAST({col} AS CHAR)"),
        Dialect::Sqlite => format!("CAST({col} AS TEXT)"),
    }
}

/// Where each table and column of the evolving schema came from in the database before the
/// migration (`None`: created by the migration, so it holds no row or only defaults).
#[derive(Debug, Clone, Default)]
struct Origins {
    tables: BTreeMap<String, (String, BTreeMap<String, String>)>,
}

impl Origins {
    fn of(schema: &Schema) -> Origins {
        let tables = schema
            .tables
            .values()
            .map(|t| {
                let cols = t
                    .columns
                    .iter()
                    .map(|c| (c.name.clone(), c.name.clone()))
                    .collect();
                (t.name.clone(), (t.name.clone(), cols))
            })
            .collect();
        Origins { tables }
    }

    fn table(&self, table: &str) -> Option<&str> {
        self.tables.get(table).map(|(t, _)| t.as_str())
    }

    fn column(&self, table: &str, column: &str) -> Option<&str> {
        self.tables.get(table)?.1.get(column).map(String::as_str)
    }

    fn apply(&mut self, op: &Operation) {
        use Operation::*;
        match op {
            RenameTable { from, to } => {
                if let Some(e) = self.tables.remove(from) {
                    self.tables.insert(to.clone(), e);
                }
            }
            DropTable { table } => {
                self.tables.remove(&table.name);
            }
            RenameColumn { table, from, to } => {
                if let Some((_, cols)) = self.tables.get_mut(table)
                    && let Some(o) = cols.remove(from)
                {
                    cols.insert(to.clone(), o);
                }
            }
            DropColumn { table, column } => {
                if let Some((_, cols)) = self.tables.get_mut(table) {
                    cols.remove(&column.name);
                }
            }
            _ => {}
        }
    }
}

/// The row checks of `ops`, applied in order to `before`, on `dialect`.
pub fn row_checks(ops: &[Operation], before: &Schema, dialect: Dialect) -> Vec<RowCheck> {
    let mut state = before.clone();
    let mut origins = Origins::of(before);
    let mut out = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        out.extend(checks_of(i, op, &state, &origins, dialect));
        state.apply(op);
        origins.apply(op);
    }
    out
}

fn checks_of(
    i: usize,
    op: &Operation,
    state: &Schema,
    origins: &Origins,
    dialect: Dialect,
) -> Vec<RowCheck> {
    use Operation::*;
    let q = |n: &str| quote(n, dialect);
    let name = op.table();
    let Some(orig_table) = origins.table(name) else {
        // Created by this migration: empty.
        return Vec::new();
    };
    let col = |c: &str| origins.column(name, c).map(q);
    let key: Vec<String> = state
        .tables
        .get(name)
        .map(|t| t.primary_key.iter().filter_map(|k| col(k)).collect())
        .unwrap_or_default();
    let key = if state
        .tables
        .get(name)
        .is_some_and(|t| t.primary_key.len() == key.len())
    {
        key
    } else {
        Vec::new()
    };
    let check = |subject: String, problem: String, condition: String, blocks: bool| RowCheck {
        op: i,
        subject,
        problem,
        table: orig_table.to_owned(),
        condition,
        key: key.clone(),
        blocks,
    };
    let mut out = Vec::new();
    match op {
        DropTable { table } => out.push(check(
            table.name.clone(),
            "would be deleted".to_owned(),
            "1 = 1".to_owned(),
            false,
        )),
        DropColumn { table, column } => {
            if let Some(c) = col(&column.name) {
                out.push(check(
                    format!("{table}.{}", column.name),
                    "hold a non-null value that would be lost".to_owned(),
                    format!("{c} IS NOT NULL"),
                    false,
                ));
            }
        }
        AddColumn { table, column }
            if !column.nullable && column.default.is_none() && !column.auto_increment =>
        {
            out.push(check(
                format!("{table}.{}", column.name),
                "would need a value for the new NOT NULL column, which has no default".to_owned(),
                "1 = 1".to_owned(),
                true,
            ));
        }
        AlterColumn { table, from, to } => {
            let Some(c) = col(&to.name) else {
                return out;
            };
            let subject = format!("{table}.{}", to.name);
            if narrows(from, to)
                && let Some((condition, problem)) = does_not_fit(&c, from, to, dialect)
            {
                out.push(check(
                    subject.clone(),
                    format!("{problem} ({} to {})", type_name(from), type_name(to)),
                    condition,
                    true,
                ));
            }
            // A default fills the NULLs (see the renderer); without one they are refused.
            if from.nullable && !to.nullable && to.default.is_none() {
                out.push(check(
                    subject,
                    "hold NULL, which the column no longer accepts".to_owned(),
                    format!("{c} IS NULL"),
                    true,
                ));
            }
        }
        AddIndex { table, index } if index.unique => {
            let cols: Option<Vec<String>> = index.columns.iter().map(|c| col(c)).collect();
            if let Some(cols) = cols {
                let list = cols.join(", ");
                let not_null = cols
                    .iter()
                    .map(|c| format!("{c} IS NOT NULL"))
                    .collect::<Vec<_>>()
                    .join(" AND ");
                let tuple = if cols.len() == 1 {
                    list.clone()
                } else {
                    format!("({list})")
                };
                let t = q(orig_table);
                // The inner table gets an alias: MySQL refuses a subquery on the table it
                // filters only for writes, but an alias keeps the query plain everywhere.
                out.push(check(
                    format!("{table}.{}", index.name),
                    format!(
                        "share their ({}) with another row",
                        index.columns.join(", ")
                    ),
                    format!(
                        "{not_null} AND {tuple} IN (SELECT {list} FROM (SELECT {list} FROM {t} \
                         WHERE {not_null} GROUP BY {list} HAVING COUNT(*) > 1) AS orm_dup)"
                    ),
                    true,
                ));
            }
        }
        AddForeignKey { table, foreign_key } => {
            let cols: Option<Vec<String>> = foreign_key.columns.iter().map(|c| col(c)).collect();
            if let Some(cols) = cols {
                let not_null = cols
                    .iter()
                    .map(|c| format!("{c} IS NOT NULL"))
                    .collect::<Vec<_>>()
                    .join(" AND ");
                let t = q(orig_table);
                let parent = origins.table(&foreign_key.ref_table);
                let ref_cols: Option<Vec<String>> = foreign_key
                    .ref_columns
                    .iter()
                    .map(|c| origins.column(&foreign_key.ref_table, c).map(q))
                    .collect();
                let condition = match (parent, ref_cols) {
                    (Some(parent), Some(refs)) => {
                        let on = cols
                            .iter()
                            .zip(&refs)
                            .map(|(c, r)| format!("orm_ref.{r} = {t}.{c}"))
                            .collect::<Vec<_>>()
                            .join(" AND ");
                        format!(
                            "{not_null} AND NOT EXISTS (SELECT 1 FROM {} AS orm_ref WHERE {on})",
                            q(parent)
                        )
                    }
                    // The referenced table or column is new: it has no row yet.
                    _ => not_null,
                };
                out.push(check(
                    format!("{table}.{}", foreign_key.name),
                    format!("reference a missing row of {}", foreign_key.ref_table),
                    condition,
                    true,
                ));
            }
        }
        _ => {}
    }
    out
}

fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The signed range of an integer type (`None`: not an integer).
fn int_range(ty: ColumnType) -> Option<(i128, i128)> {
    Some(match ty {
        ColumnType::SmallInt => (i16::MIN.into(), i16::MAX.into()),
        ColumnType::Int => (i32::MIN.into(), i32::MAX.into()),
        ColumnType::BigInt => (i64::MIN.into(), i64::MAX.into()),
        ColumnType::U8 => (0, u8::MAX.into()),
        ColumnType::U16 => (0, u16::MAX.into()),
        ColumnType::U32 => (0, u32::MAX.into()),
        ColumnType::U64 => (0, u64::MAX.into()),
        ColumnType::Bool => (0, 1),
        _ => return None,
    })
}

fn pow10(n: u32) -> String {
    format!("1{}", "0".repeat(n as usize))
}

/// The condition selecting the values of column `c` that `to` cannot hold exactly, and what
/// it says of them; `None` when every value fits.
pub fn does_not_fit(c: &str, from: &Column, to: &Column, d: Dialect) -> Option<(String, String)> {
    use ColumnType::*;
    if let Some(values) = &to.allowed_values {
        let list: Vec<String> = values.iter().map(|v| literal(v)).collect();
        return Some((
            format!("{c} IS NOT NULL AND {c} NOT IN ({})", list.join(", ")),
            "hold a value the column no longer accepts".to_owned(),
        ));
    }
    let sqlite_scale = |col: &Column| match d {
        Dialect::Sqlite => scaled_storage(col.ty, col.precision),
        _ => None,
    };
    let text_decimal = d == Dialect::Sqlite && from.ty == Decimal && sqlite_scale(from).is_none();
    match to.ty {
        Text => {
            let n = to.max_length?;
            if from.ty == Text && from.max_length.is_some_and(|m| m <= n) {
                return None;
            }
            let len = match d {
                Dialect::Postgres => format!("char_length(CAST({c} AS text))"),
                Dialect::MySql => format!("CHAR_LENGTH({c})"),
                Dialect::Sqlite => format!("length(CAST({c} AS TEXT))"),
            };
            Some((
                format!("{c} IS NOT NULL AND {len} > {n}"),
                format!("are longer than {n} characters"),
            ))
        }
        _ if int_range(to.ty).is_some() => {
            let (lo, hi) = int_range(to.ty).expect("an integer");
            if let Some((flo, fhi)) = int_range(from.ty)
                && flo >= lo
                && fhi <= hi
            {
                return None;
            }
            let mut parts = Vec::new();
            // The value as an integer, and whether it has one.
            let (value, whole) = match (from.ty, d) {
                (ty, _) if int_range(ty).is_some() => (c.to_owned(), None),
                (Decimal, Dialect::Sqlite) if sqlite_scale(from).is_some() => {
                    let unit = pow10(sqlite_scale(from).expect("scaled"));
                    (
                        format!("({c} / {unit})"),
                        Some(format!("{c} % {unit} <> 0")),
                    )
                }
                (Text, Dialect::Postgres) => {
                    // Only digits cast; anything else is refused before the cast fails.
                    return Some((
                        format!(
                            "{c} IS NOT NULL AND CASE WHEN {c} ~ '^\\s*[-+]?[0-9]{{1,18}}\\s*$' \
                             THEN CAST({c} AS bigint) NOT BETWEEN {lo} AND {hi} ELSE TRUE END"
                        ),
                        format!("are not integers between {lo} and {hi}"),
                    ));
                }
                (Text, Dialect::MySql) => (
                    format!("CAST({c} AS SIGNED)"),
                    Some(format!("CAST(CAST({c} AS SIGNED) AS CHAR) <> TRIM({c})")),
                ),
                (_, Dialect::Sqlite) => (
                    format!("CAST({c} AS INTEGER)"),
                    Some(format!("CAST({c} AS INTEGER) <> {c}")),
                ),
                _ => (c.to_owned(), Some(format!("{c} <> FLOOR({c})"))),
            };
            parts.extend(whole);
            let in_i64 = |v: i128| v >= i128::from(i64::MIN) && v <= i128::from(i64::MAX);
            let (flo, fhi) = int_range(from.ty).unwrap_or((i128::MIN, i128::MAX));
            if flo < lo && in_i64(lo) {
                parts.push(format!("{value} < {lo}"));
            }
            if fhi > hi {
                parts.push(format!("{value} > {hi}"));
            }
            if parts.is_empty() {
                return None;
            }
            Some((
                format!("{c} IS NOT NULL AND ({})", parts.join(" OR ")),
                format!("are not integers between {lo} and {hi}"),
            ))
        }
        Decimal => {
            let (p2, s2) = to.precision?;
            let digits = p2.saturating_sub(s2);
            let mut parts = Vec::new();
            let (p1, s1) = match from.ty {
                Decimal => from.precision.unwrap_or((u32::MAX, u32::MAX)),
                ty if int_range(ty).is_some() => {
                    let (_, hi) = int_range(ty).expect("an integer");
                    (hi.to_string().len() as u32, 0)
                }
                _ => (u32::MAX, u32::MAX),
            };
            let scaled = sqlite_scale(from);
            if s1 > s2 {
                parts.push(match (scaled, text_decimal) {
                    (Some(s), _) => format!("{c} % {} <> 0", pow10(s - s2)),
                    (None, true) => format!(
                        "(CASE WHEN instr({c}, '.') > 0 THEN length(rtrim(substr({c}, \
                         instr({c}, '.') + 1), '0')) ELSE 0 END) > {s2}"
                    ),
                    _ => format!("{c} <> ROUND({c}, {s2})"),
                });
            }
            if p1.saturating_sub(s1.min(p1)) > digits || p1 == u32::MAX {
                parts.push(match (scaled, text_decimal) {
                    (Some(s), _) if digits + s <= 18 => {
                        format!("ABS({c}) >= {}", pow10(digits + s))
                    }
                    (Some(_), _) => String::new(),
                    (None, true) => format!(
                        "length(ltrim(replace(CASE WHEN instr({c}, '.') > 0 THEN substr({c}, 1, \
                         instr({c}, '.') - 1) ELSE {c} END, '-', ''), '0')) > {digits}"
                    ),
                    _ => format!("ABS({c}) >= {}", pow10(digits)),
                });
            }
            parts.retain(|p| !p.is_empty());
            if parts.is_empty() {
                return None;
            }
            Some((
                format!("{c} IS NOT NULL AND ({})", parts.join(" OR ")),
                format!("do not fit decimal({p2}, {s2}) exactly"),
            ))
        }
        Float | Double if d != Dialect::Sqlite => {
            if to.ty == Double && !matches!(from.ty, BigInt | U64 | Decimal | Text) {
                return None;
            }
            let (narrow, wide) = match (to.ty, d) {
                (Float, Dialect::Postgres) => ("real", "double precision"),
                (Float, _) => ("FLOAT", "DOUBLE"),
                (_, Dialect::Postgres) => ("double precision", "numeric"),
                _ => ("DOUBLE", "DECIMAL(65, 28)"),
            };
            if from.ty == Text {
                return None;
            }
            Some((
                format!(
                    "{c} IS NOT NULL AND CAST(CAST({c} AS {narrow}) AS {wide}) <> CAST({c} AS {wide})"
                ),
                format!("would change as {}", type_name(to)),
            ))
        }
        _ => None,
    }
}

/// How SQLite's table rebuild copies column `old` into `new`: converting the stored form where
/// it differs (a decimal's scaled integer, text), and filling NULLs with the new default when
/// the column becomes NOT NULL.
pub fn sqlite_copy(old: &Column, new: &Column) -> String {
    use ColumnType::*;
    // A rebuild copies the columns both tables share, by name.
    let c = quote(&new.name, Dialect::Sqlite);
    let scale = |col: &Column| scaled_storage(col.ty, col.precision);
    let ints = |ty: ColumnType| int_range(ty).is_some() && ty != Bool;
    let value = match (old.ty, new.ty, scale(old), scale(new)) {
        (Decimal, Decimal, Some(a), Some(b)) if b > a => format!("{c} * {}", pow10(b - a)),
        (Decimal, Decimal, Some(a), Some(b)) if b < a => format!("{c} / {}", pow10(a - b)),
        (Decimal, Decimal, Some(a), None) => scaled_as_text(&c, a),
        (Decimal, Decimal, None, Some(b)) => text_as_scaled(&c, b),
        (Decimal, ty, Some(a), _) if ints(ty) => format!("{c} / {}", pow10(a)),
        (Decimal, ty, None, _) if ints(ty) => format!("CAST({c} AS INTEGER)"),
        (ty, Decimal, _, Some(b)) if ints(ty) => format!("{c} * {}", pow10(b)),
        (ty, Decimal, _, None) if ints(ty) => format!("CAST({c} AS TEXT)"),
        (Decimal, Float | Double, Some(a), _) => format!("CAST({c} AS REAL) / {}", pow10(a)),
        (Decimal, Float | Double, None, _) => format!("CAST({c} AS REAL)"),
        (Float | Double, Decimal, _, Some(b)) => {
            format!("CAST(round({c} * {}) AS INTEGER)", pow10(b))
        }
        (Float | Double, Decimal, _, None) => format!("CAST({c} AS TEXT)"),
        _ => c.clone(),
    };
    match (default_literal(new), old.nullable && !new.nullable) {
        (Some(d), true) => format!("COALESCE({value}, {d})"),
        _ => value,
    }
}

/// `column`'s default in SQLite's SQL (`None`: it has none there).
fn default_literal(column: &Column) -> Option<String> {
    let d = column.default.as_ref()?;
    if let Some(sql) = polyorm_core::sql::default::default_sql(
        &d.borrowed(),
        column.ty,
        column.precision,
        Dialect::Sqlite,
    ) {
        return Some(sql);
    }
    Some(match d {
        Default::Bool(b) => i32::from(*b).to_string(),
        Default::Int(i) => i.to_string(),
        Default::Float(f) => format!("{f:?}"),
        Default::Text(s) => literal(s),
        Default::Now | Default::Uuid => return None,
    })
}

/// A scaled decimal (`value × 10^scale`) as exact decimal text (`-12.50`).
fn scaled_as_text(c: &str, scale: u32) -> String {
    if scale == 0 {
        return format!("CAST({c} AS TEXT)");
    }
    let unit = pow10(scale);
    format!(
        "CASE WHEN {c} IS NULL THEN NULL ELSE printf('%s%d.%0{scale}d', CASE WHEN {c} < 0 THEN \
         '-' ELSE '' END, abs({c}) / {unit}, abs({c}) % {unit}) END"
    )
}

/// Decimal text as a scaled integer (`value × 10^scale`), exactly (the row checks refuse
/// values with more decimals).
fn text_as_scaled(c: &str, scale: u32) -> String {
    let zeros = "0".repeat(scale as usize);
    format!(
        "CAST(CASE WHEN instr({c}, '.') > 0 THEN substr({c}, 1, instr({c}, '.') - 1) || \
         substr(substr({c}, instr({c}, '.') + 1) || '{zeros}', 1, {scale}) ELSE {c} || '{zeros}' \
         END AS INTEGER)"
    )
}
