//! The one reader of live catalogs: runs a dialect's [`Catalog`] queries and decodes their rows
//! into a [`LiveSchema`], from which drift detection ([`super::physical`]) and `pull` work.

use std::collections::{BTreeMap, BTreeSet};

use polyorm_core::{Compiled, Executor, FieldType, ReferentialAction};

use super::catalog::Catalog;
use crate::error::Result;
use crate::schema::ForeignKey;

/// One column as the catalog reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveColumn {
    /// Name.
    pub name: String,
    /// The catalog's spelling of the storage type (`character varying(20)`, `int(11)`, ...).
    pub storage_type: String,
    /// Whether NULL is accepted.
    pub nullable: bool,
    /// The catalog's text of the default expression (`'x'::text`, `0`, `now()`).
    pub default: Option<String>,
    /// Whether the database generates values (identity, serial, `AUTO_INCREMENT`,
    /// `AUTOINCREMENT`).
    pub auto_increment: bool,
    /// The column's collation, where the catalog reports one.
    pub collation: Option<String>,
}

/// One index other than the primary key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveIndex {
    /// Name.
    pub name: String,
    /// Key columns in order; `None` for an expression.
    pub columns: Vec<Option<String>>,
    /// Whether it enforces uniqueness.
    pub unique: bool,
    /// Its access method where it is not the default (`gin`, ...).
    pub method: Option<String>,
    /// The condition of a partial index.
    pub predicate: Option<String>,
    /// Whether each key (in `columns`' order) is in descending order.
    pub descending: Vec<bool>,
}

/// One table as the catalog reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveTable {
    /// Columns in table order.
    pub columns: Vec<LiveColumn>,
    /// Primary-key columns in key order.
    pub primary_key: Vec<String>,
    /// Indexes, by name.
    pub indexes: Vec<LiveIndex>,
    /// Foreign keys, in the catalog's order.
    pub foreign_keys: Vec<ForeignKey>,
    /// CHECK constraints: name and condition (named ones only, on SQLite).
    pub checks: BTreeMap<String, String>,
    /// Names of the triggers on the table.
    pub triggers: BTreeSet<String>,
}

impl LiveTable {
    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&LiveColumn> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// A live schema: its tables by name, and the names of its views.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveSchema {
    /// Base tables by name.
    pub tables: BTreeMap<String, LiveTable>,
    /// Views (and materialized views), which no model describes.
    pub views: Vec<String>,
}

/// One row of [`Catalog::columns`].
struct ColumnRow {
    table: String,
    column: LiveColumn,
    key_position: i64,
}

/// One row of [`Catalog::indexes`].
struct IndexRow {
    table: String,
    name: String,
    unique: bool,
    column: Option<String>,
    method: Option<String>,
    predicate: Option<String>,
    descending: bool,
}

/// One row of [`Catalog::foreign_keys`].
struct ForeignKeyRow {
    table: String,
    key: String,
    name: String,
    column: String,
    ref_table: String,
    ref_column: Option<String>,
    on_delete: String,
    on_update: String,
}

async fn fetch<E: Executor, T: Send + 'static>(
    db: &E,
    sql: &str,
    decode: polyorm_core::exec::Decoder<T>,
) -> Result<Vec<T>> {
    let statement = Compiled {
        sql: sql.to_owned(),
        values: vec![],
    };
    Ok(db.fetch_compiled(statement, decode).await?)
}

/// Reads the live schema described by `catalog` (history table included).
pub async fn live<E: Executor>(db: &E, catalog: &Catalog) -> Result<LiveSchema> {
    let mut out = LiveSchema::default();
    let tables = &mut out.tables;
    let columns = fetch(db, catalog.columns, |r| {
        Ok(ColumnRow {
            table: String::decode(r, 0)?,
            column: LiveColumn {
                name: String::decode(r, 1)?,
                storage_type: String::decode(r, 2)?,
                nullable: i64::decode(r, 3)? != 0,
                default: Option::<String>::decode(r, 4)?,
                auto_increment: i64::decode(r, 5)? != 0,
                collation: Option::<String>::decode(r, 6)?,
            },
            key_position: i64::decode(r, 7)?,
        })
    })
    .await?;
    let mut keys: Vec<(String, i64, String)> = Vec::new();
    for c in columns {
        if c.key_position > 0 {
            keys.push((c.table.clone(), c.key_position, c.column.name.clone()));
        }
        tables.entry(c.table).or_default().columns.push(c.column);
    }
    keys.sort();
    for (table, _, column) in keys {
        tables.entry(table).or_default().primary_key.push(column);
    }

    let indexes = fetch(db, catalog.indexes, |r| {
        Ok(IndexRow {
            table: String::decode(r, 0)?,
            name: String::decode(r, 1)?,
            unique: i64::decode(r, 2)? != 0,
            column: Option::<String>::decode(r, 4)?,
            method: Option::<String>::decode(r, 5)?,
            predicate: Option::<String>::decode(r, 6)?,
            descending: Option::<i64>::decode(r, 7)?.unwrap_or(0) != 0,
        })
    })
    .await?;
    for mut ix in consecutive(indexes, |a, b| a.table == b.table && a.name == b.name) {
        let first = ix.remove(0);
        let mut columns = vec![first.column];
        let mut descending = vec![first.descending];
        for r in ix {
            columns.push(r.column);
            descending.push(r.descending);
        }
        tables
            .entry(first.table)
            .or_default()
            .indexes
            .push(LiveIndex {
                name: first.name,
                columns,
                unique: first.unique,
                method: first.method,
                predicate: first.predicate,
                descending,
            });
    }

    let foreign_keys = fetch(db, catalog.foreign_keys, |r| {
        Ok(ForeignKeyRow {
            table: String::decode(r, 0)?,
            key: String::decode(r, 1)?,
            name: String::decode(r, 2)?,
            column: String::decode(r, 3)?,
            ref_table: String::decode(r, 4)?,
            ref_column: Option::<String>::decode(r, 5)?,
            on_delete: String::decode(r, 6)?,
            on_update: String::decode(r, 7)?,
        })
    })
    .await?;
    for key in consecutive(foreign_keys, |a, b| a.table == b.table && a.key == b.key) {
        let first = &key[0];
        // A key that names no referenced columns references the primary key.
        let ref_columns = match key.iter().map(|r| r.ref_column.clone()).collect() {
            Some(named) => named,
            None => tables
                .get(&first.ref_table)
                .map(|t| t.primary_key.clone())
                .unwrap_or_default(),
        };
        let fk = ForeignKey {
            name: first.name.clone(),
            columns: key.iter().map(|r| r.column.clone()).collect(),
            ref_table: first.ref_table.clone(),
            ref_columns,
            on_delete: parse_action(&first.on_delete),
            on_update: parse_action(&first.on_update),
        };
        tables
            .entry(first.table.clone())
            .or_default()
            .foreign_keys
            .push(fk);
    }

    let named = fetch(db, catalog.named, |r| {
        Ok((
            String::decode(r, 0)?,
            String::decode(r, 1)?,
            String::decode(r, 2)?,
            Option::<String>::decode(r, 3)?,
        ))
    })
    .await?;
    for (table, kind, text, definition) in named {
        // A trigger on a table of another schema does not concern this one.
        let Some(t) = tables.get_mut(&table) else {
            continue;
        };
        match kind.as_str() {
            "c" => {
                t.checks.insert(text, definition.unwrap_or_default());
            }
            "t" => {
                t.triggers.insert(text);
            }
            _ => t.checks.extend(named_checks(&text)),
        }
    }
    out.views = fetch(db, catalog.views, |r| String::decode(r, 0)).await?;
    Ok(out)
}

/// `rows` split into runs of consecutive rows that `same` puts together (the rows of one index
/// or key, which the catalog queries return in order).
fn consecutive<T>(rows: Vec<T>, same: fn(&T, &T) -> bool) -> Vec<Vec<T>> {
    let mut out: Vec<Vec<T>> = Vec::new();
    for row in rows {
        match out.last_mut() {
            Some(run) if same(&run[0], &row) => run.push(row),
            _ => out.push(vec![row]),
        }
    }
    out
}

/// A referential action as the catalogs report it: its SQL spelling, or PostgreSQL's one-letter
/// code (`a`, `r`, `c`, `n`, `d`).
fn parse_action(s: &str) -> ReferentialAction {
    match s.to_ascii_uppercase().as_str() {
        "R" | "RESTRICT" => ReferentialAction::Restrict,
        "C" | "CASCADE" => ReferentialAction::Cascade,
        "N" | "SET NULL" => ReferentialAction::SetNull,
        "D" | "SET DEFAULT" => ReferentialAction::SetDefault,
        _ => ReferentialAction::NoAction,
    }
}

/// The `CONSTRAINT <name> CHECK (<condition>)` clauses of a `CREATE TABLE`, for a catalog that
/// keeps no list of them (unnamed checks are not reported).
fn named_checks(create: &str) -> BTreeMap<String, String> {
    let chars: Vec<char> = create.chars().collect();
    let mut out = BTreeMap::new();
    // The last two words (quoted identifiers unquoted), to find `CONSTRAINT <name> CHECK`.
    let mut words: [String; 3] = Default::default();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let word = match c {
            '\'' => {
                i = skip_quoted(&chars, i);
                Some(String::new())
            }
            '"' | '`' => {
                let start = i + 1;
                i = skip_quoted(&chars, i);
                let inner: String = chars[start..i.saturating_sub(1).max(start)]
                    .iter()
                    .collect();
                Some(inner.replace(&format!("{c}{c}"), &c.to_string()))
            }
            c if c.is_alphanumeric() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                Some(chars[start..i].iter().collect())
            }
            '(' => {
                if words[2].eq_ignore_ascii_case("CHECK")
                    && words[0].eq_ignore_ascii_case("CONSTRAINT")
                {
                    let end = closing_paren(&chars, i);
                    let condition: String = chars[i + 1..end].iter().collect();
                    out.insert(words[1].clone(), condition.trim().to_owned());
                    i = end;
                }
                i += 1;
                Some(String::new())
            }
            c if c.is_whitespace() => {
                i += 1;
                None
            }
            _ => {
                i += 1;
                Some(String::new())
            }
        };
        if let Some(word) = word {
            words.rotate_left(1);
            words[2] = word;
        }
    }
    out
}

/// The index of the `)` that closes the `(` at `open` (or the end of `chars`).
fn closing_paren(chars: &[char], open: usize) -> usize {
    let mut depth = 0;
    let mut i = open;
    while i < chars.len() {
        match chars[i] {
            '\'' | '"' | '`' => {
                i = skip_quoted(chars, i);
                continue;
            }
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
        i += 1;
    }
    chars.len()
}

/// The index after the quoted text that starts at `i` (a doubled quote stays inside).
fn skip_quoted(chars: &[char], mut i: usize) -> usize {
    let quote = chars[i];
    i += 1;
    while i < chars.len() {
        if chars[i] == quote {
            if chars.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_checks_of_a_create_table_with_their_conditions() {
        let create = r#"CREATE TABLE "t" ("a" integer CHECK (a > 0), "b" varchar(3) NOT NULL,
            CONSTRAINT "ck_t_b" CHECK ("b" IN ('x', 'y)', 'z''s')),
            constraint ck_t_a_range check ((a) between 0 and (9)))"#;
        let checks = named_checks(create);
        assert_eq!(
            checks.into_iter().collect::<Vec<_>>(),
            [
                (
                    "ck_t_a_range".to_owned(),
                    "(a) between 0 and (9)".to_owned()
                ),
                (
                    "ck_t_b".to_owned(),
                    r#""b" IN ('x', 'y)', 'z''s')"#.to_owned()
                ),
            ]
        );
    }
}
