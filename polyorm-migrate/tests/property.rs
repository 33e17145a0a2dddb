//! A property test of the migration engine (issue 17, item 9): random sequences of model
//! changes — add, drop, rename and alter columns (widen, narrow, integer width, NOT NULL with a
//! default, defaults), add and drop indexes, uniques and foreign keys, create and rename
//! tables — are generated, applied up with rows present, then rolled back one by one, on
//! SQLite, PostgreSQL and MariaDB/MySQL. After every step:
//! - `verify` reports no drift against the models of that step;
//! - every row and value is still there (a step that would not keep them — a narrowing over a
//!   value that does not fit — must fail with nothing changed);
//! - each `down` returns the previous schema with its data (a dropped column comes back with
//!   its default or NULL: the one change that cannot give values back).
//!
//! Seeded and reproducible: `ORM_MIGRATE_PROPTEST_SEED` (default 17; case `i` uses seed + i,
//! printed on failure with every step), `ORM_MIGRATE_PROPTEST_CASES` (default 6) and
//! `ORM_MIGRATE_PROPTEST_STEPS` (default 16) per dialect: about a minute in CI, MariaDB's DDL
//! being the slowest. Run more cases or other seeds to explore.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use polyorm::{ColumnType, ReferentialAction};
use polyorm::{Compiled, Dialect, Executor, FieldType};
use polyorm_migrate::files::GenerateOptions;
use polyorm_migrate::schema::{Column, Default as Dflt, ForeignKey, Index, Table};
use polyorm_migrate::{Error, Migrator, Schema, generate};

/// xorshift64*: small, fast, reproducible from its seed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ty {
    Int,
    BigInt,
    Varchar(u32),
}

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Val {
    Null,
    Int(i64),
    Text(String),
}

impl Val {
    fn sql(&self) -> String {
        match self {
            Val::Null => "NULL".to_owned(),
            Val::Int(i) => i.to_string(),
            Val::Text(s) => format!("'{}'", s.replace('\'', "''")),
        }
    }

    fn shown(&self) -> String {
        match self {
            Val::Null => "\\N".to_owned(),
            Val::Int(i) => i.to_string(),
            Val::Text(s) => s.clone(),
        }
    }
}

/// A column, with what its whole history allows (generated values respect every constraint
/// the column ever had, so that each `down` can put the older one back).
#[derive(Clone, Debug)]
struct Col {
    id: u32,
    name: String,
    ty: Ty,
    nullable: bool,
    default: Option<Val>,
    /// Ever NOT NULL: no NULL is written.
    ever_not_null: bool,
    /// Ever unique: values are unique.
    ever_unique: bool,
    /// A reference to the `id` of this table (by table id): values are existing ids or NULL.
    parent: Option<u32>,
}

#[derive(Clone, Debug, PartialEq)]
struct Ix {
    cols: Vec<u32>,
    unique: bool,
}

#[derive(Clone, Debug)]
struct Tab {
    id: u32,
    name: String,
    cols: Vec<Col>,
    ixs: Vec<Ix>,
    /// Columns with a foreign key constraint now.
    fks: Vec<u32>,
    rows: BTreeMap<i64, BTreeMap<u32, Val>>,
}

impl Tab {
    fn col(&self, id: u32) -> Option<&Col> {
        self.cols.iter().find(|c| c.id == id)
    }

    fn col_name(&self, id: u32) -> &str {
        &self.col(id).expect("a column of the table").name
    }
}

#[derive(Clone, Debug, Default)]
struct World {
    tabs: Vec<Tab>,
    next_id: u32,
    next_row: i64,
}

impl World {
    fn fresh(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }

    fn tab(&self, id: u32) -> &Tab {
        self.tabs.iter().find(|t| t.id == id).expect("a table")
    }

    /// The models of this world; `renamed` maps table and column ids renamed by this step to
    /// their previous names (the `renamed_from` hints).
    fn schema(&self, renamed: &BTreeMap<u32, String>) -> Schema {
        let mut schema = Schema::default();
        for t in &self.tabs {
            let mut columns = vec![Column::new("id", ColumnType::BigInt, false)];
            for c in &t.cols {
                let (ty, max_length) = match c.ty {
                    Ty::Int => (ColumnType::Int, None),
                    Ty::BigInt => (ColumnType::BigInt, None),
                    Ty::Varchar(n) => (ColumnType::Text, Some(n)),
                };
                columns.push(Column {
                    name: c.name.clone(),
                    ty,
                    nullable: c.nullable,
                    auto_increment: false,
                    default: c.default.as_ref().map(|d| match d {
                        Val::Int(i) => Dflt::Int(*i),
                        Val::Text(s) => Dflt::Text(s.clone()),
                        Val::Null => unreachable!("no NULL default"),
                    }),
                    max_length,
                    precision: None,
                    collation: None,
                    allowed_values: None,
                    renamed_from: renamed.get(&c.id).cloned(),
                });
            }
            // Named as the derive names them: after the table and its columns.
            let mut indexes: Vec<Index> = t
                .ixs
                .iter()
                .map(|ix| {
                    let cols: Vec<String> =
                        ix.cols.iter().map(|c| t.col_name(*c).to_owned()).collect();
                    let prefix = if ix.unique { "uq" } else { "idx" };
                    Index {
                        name: format!("{prefix}_{}_{}", t.name, cols.join("_")),
                        columns: cols,
                        unique: ix.unique,
                        ..Index::default()
                    }
                })
                .collect();
            indexes.sort_by(|a, b| a.name.cmp(&b.name));
            let mut foreign_keys: Vec<ForeignKey> = t
                .fks
                .iter()
                .map(|c| {
                    let col = t.col(*c).expect("a column");
                    ForeignKey {
                        name: format!("fk_{}_{}", t.name, col.name),
                        columns: vec![col.name.clone()],
                        ref_table: self.tab(col.parent.expect("a reference")).name.clone(),
                        ref_columns: vec!["id".into()],
                        on_delete: ReferentialAction::NoAction,
                        on_update: ReferentialAction::NoAction,
                    }
                })
                .collect();
            foreign_keys.sort_by(|a, b| a.name.cmp(&b.name));
            schema.tables.insert(
                t.name.clone(),
                Table {
                    name: t.name.clone(),
                    columns,
                    primary_key: vec!["id".into()],
                    indexes,
                    foreign_keys,
                    checks: vec![],
                    triggers: vec![],
                    renamed_from: renamed.get(&t.id).cloned(),
                },
            );
        }
        schema
    }

    /// The world after rolling the last step back: `before`'s structure with the rows of
    /// `self` (a column the step dropped comes back with its default, or NULL).
    fn rolled_back_to(&self, before: &World) -> World {
        let mut out = before.clone();
        out.next_id = self.next_id;
        out.next_row = self.next_row;
        for t in &mut out.tabs {
            let Some(now) = self.tabs.iter().find(|n| n.id == t.id) else {
                continue;
            };
            t.rows = now
                .rows
                .iter()
                .map(|(id, row)| {
                    let values = t
                        .cols
                        .iter()
                        .map(|c| {
                            let v = match now.col(c.id) {
                                Some(_) => row[&c.id].clone(),
                                None => c.default.clone().unwrap_or(Val::Null),
                            };
                            (c.id, v)
                        })
                        .collect();
                    (*id, values)
                })
                .collect();
        }
        out
    }
}

/// One generated step: what it did, and the hints of its renames.
struct Step {
    what: String,
    renamed: BTreeMap<u32, String>,
    /// A narrowing over a value that does not fit: the migration must fail, changing nothing.
    must_fail: bool,
}

fn new_col(w: &mut World, rng: &mut Rng, parent: Option<u32>) -> Col {
    let id = w.fresh();
    let ty = if parent.is_some() {
        Ty::BigInt
    } else {
        match rng.below(3) {
            0 => Ty::Int,
            1 => Ty::BigInt,
            _ => Ty::Varchar(12 + rng.below(30) as u32),
        }
    };
    let nullable = parent.is_some() || rng.chance(50);
    // A reference has no default (no row to point at); other nullable columns may.
    let default = if parent.is_some() || (nullable && rng.chance(50)) {
        None
    } else {
        Some(default_for(ty, rng))
    };
    Col {
        id,
        name: format!("c{id}"),
        ty,
        nullable,
        default,
        ever_not_null: !nullable,
        ever_unique: false,
        parent,
    }
}

fn default_for(ty: Ty, rng: &mut Rng) -> Val {
    match ty {
        Ty::Varchar(_) => Val::Text(format!("d{}", rng.below(9))),
        _ => Val::Int(rng.below(9) as i64),
    }
}

/// A value for column `c` of a new row `id`, within everything the column ever allowed.
fn value_for(w: &World, c: &Col, id: i64, rng: &mut Rng) -> Val {
    if c.nullable && !c.ever_not_null && rng.chance(25) {
        return Val::Null;
    }
    if let Some(parent) = c.parent {
        let ids: Vec<i64> = w.tab(parent).rows.keys().copied().collect();
        return match ids.get(rng.below(ids.len() + 1)) {
            Some(p) => Val::Int(*p),
            None if !c.ever_not_null => Val::Null,
            None => Val::Int(id),
        };
    }
    match (c.ty, c.ever_unique) {
        (Ty::Varchar(_), true) => Val::Text(format!("u{id}")),
        (Ty::Varchar(_), false) => {
            Val::Text(["a", "bb", "c c", "dddd", "it's", "ffffffffff"][rng.below(6)].to_owned())
        }
        (_, true) => Val::Int(id * 100 + i64::from(c.id % 100)),
        (_, false) => Val::Int(rng.below(50) as i64 - 10),
    }
}

/// Inserts up to three rows in each table; returns the SQL (run by the caller).
fn insert_rows(w: &mut World, rng: &mut Rng, dialect: Dialect) -> Vec<String> {
    let mut out = Vec::new();
    for ti in 0..w.tabs.len() {
        for _ in 0..rng.below(4) {
            w.next_row += 1;
            let id = w.next_row;
            let t = &w.tabs[ti];
            let mut row = BTreeMap::new();
            for c in &t.cols {
                row.insert(c.id, value_for(w, c, id, rng));
            }
            let q = |n: &str| polyorm_migrate::render::quote(n, dialect);
            let mut names = vec![q("id")];
            let mut values = vec![id.to_string()];
            for c in &t.cols {
                names.push(q(&c.name));
                values.push(row[&c.id].sql());
            }
            out.push(format!(
                "INSERT INTO {} ({}) VALUES ({})",
                q(&t.name),
                names.join(", "),
                values.join(", ")
            ));
            w.tabs[ti].rows.insert(id, row);
        }
    }
    out
}

/// Whether the non-null values of column `c` of `t` are distinct (a unique index fits).
fn distinct(t: &Tab, c: u32) -> bool {
    let mut seen = std::collections::BTreeSet::new();
    t.rows
        .values()
        .filter(|r| r[&c] != Val::Null)
        .all(|r| seen.insert(r[&c].clone()))
}

/// Applies one random change to `w`.
fn mutate(w: &mut World, rng: &mut Rng) -> Step {
    let mut renamed = BTreeMap::new();
    for _ in 0..50 {
        let ti = rng.below(w.tabs.len());
        let kind = rng.below(12);
        let t = &w.tabs[ti];
        let plain: Vec<usize> = (0..t.cols.len())
            .filter(|i| t.cols[*i].parent.is_none())
            .collect();
        match kind {
            // Create a table.
            0 if w.tabs.len() < 4 => {
                let id = w.fresh();
                let mut t = Tab {
                    id,
                    name: format!("t{id}"),
                    cols: vec![],
                    ixs: vec![],
                    fks: vec![],
                    rows: BTreeMap::new(),
                };
                for _ in 0..1 + rng.below(2) {
                    t.cols.push(new_col(w, rng, None));
                }
                let what = format!("create table {}", t.name);
                w.tabs.push(t);
                return Step {
                    what,
                    renamed,
                    must_fail: false,
                };
            }
            // Rename a table.
            1 => {
                let id = w.fresh();
                let t = &mut w.tabs[ti];
                renamed.insert(t.id, t.name.clone());
                let what = format!("rename table {} to t{id}", t.name);
                t.name = format!("t{id}");
                return Step {
                    what,
                    renamed,
                    must_fail: false,
                };
            }
            // Add a column (a reference, sometimes, with its foreign key).
            2 => {
                let parent = rng.chance(40).then(|| w.tabs[rng.below(w.tabs.len())].id);
                let c = new_col(w, rng, parent);
                let t = &mut w.tabs[ti];
                for row in t.rows.values_mut() {
                    row.insert(c.id, c.default.clone().unwrap_or(Val::Null));
                }
                if parent.is_some() {
                    t.fks.push(c.id);
                }
                let what = format!("add column {}.{} {:?}", t.name, c.name, c.ty);
                t.cols.push(c);
                return Step {
                    what,
                    renamed,
                    must_fail: false,
                };
            }
            // Drop a column that `down` can give back (nullable or with a default, not unique).
            3 => {
                let t = &mut w.tabs[ti];
                let candidates: Vec<usize> = (0..t.cols.len())
                    .filter(|i| {
                        let c = &t.cols[*i];
                        (c.nullable || c.default.is_some()) && !c.ever_unique
                    })
                    .collect();
                if t.cols.len() < 2 || candidates.is_empty() {
                    continue;
                }
                let c = t.cols.remove(candidates[rng.below(candidates.len())]);
                t.ixs.retain(|ix| !ix.cols.contains(&c.id));
                t.fks.retain(|f| *f != c.id);
                for row in t.rows.values_mut() {
                    row.remove(&c.id);
                }
                return Step {
                    what: format!("drop column {}.{}", t.name, c.name),
                    renamed,
                    must_fail: false,
                };
            }
            // Rename a column.
            4 => {
                let id = w.fresh();
                let t = &mut w.tabs[ti];
                if t.cols.is_empty() {
                    continue;
                }
                let i = rng.below(t.cols.len());
                let c = &mut t.cols[i];
                renamed.insert(c.id, c.name.clone());
                let what = format!("rename column {}.{} to c{id}", t.name, c.name);
                c.name = format!("c{id}");
                return Step {
                    what,
                    renamed,
                    must_fail: false,
                };
            }
            // Change a column's type: varchar wider or narrower, integer wider or narrower.
            5 | 6 => {
                let t = &mut w.tabs[ti];
                if plain.is_empty() {
                    continue;
                }
                let c = &mut t.cols[plain[rng.below(plain.len())]];
                let before = c.ty;
                c.ty = match c.ty {
                    // Values are at most 10 characters and lengths at least 12: always fits.
                    Ty::Varchar(n) if rng.chance(50) => Ty::Varchar(n + 1 + rng.below(20) as u32),
                    Ty::Varchar(n) if n > 12 => {
                        Ty::Varchar(12 + rng.below((n - 12) as usize) as u32)
                    }
                    Ty::Varchar(n) => Ty::Varchar(n + 5),
                    Ty::Int => Ty::BigInt,
                    // Values are small: a narrower integer holds them.
                    Ty::BigInt => Ty::Int,
                };
                return Step {
                    what: format!(
                        "alter column {}.{} {before:?} to {:?}",
                        t.name, c.name, c.ty
                    ),
                    renamed,
                    must_fail: false,
                };
            }
            // Nullability and defaults.
            7 => {
                let t = &mut w.tabs[ti];
                if plain.is_empty() {
                    continue;
                }
                let i = plain[rng.below(plain.len())];
                let c = &mut t.cols[i];
                let what;
                if c.nullable && !c.ever_unique {
                    // NOT NULL with a default: the NULLs take the default.
                    let d = c.default.clone().unwrap_or_else(|| default_for(c.ty, rng));
                    c.default = Some(d.clone());
                    c.nullable = false;
                    c.ever_not_null = true;
                    let id = c.id;
                    what = format!("set not null {}.{}", t.name, t.cols[i].name);
                    for row in t.rows.values_mut() {
                        if row[&id] == Val::Null {
                            row.insert(id, d.clone());
                        }
                    }
                } else if !c.nullable {
                    c.nullable = true;
                    what = format!("drop not null {}.{}", t.name, c.name);
                } else {
                    c.default = Some(default_for(c.ty, rng));
                    what = format!("set default {}.{}", t.name, c.name);
                }
                return Step {
                    what,
                    renamed,
                    must_fail: false,
                };
            }
            // Add an index or a unique.
            8 => {
                let t = &mut w.tabs[ti];
                if t.cols.is_empty() {
                    continue;
                }
                let a = t.cols[rng.below(t.cols.len())].id;
                let unique = t.col(a).is_some_and(|c| c.parent.is_none()) && rng.chance(40);
                let mut cols = vec![a];
                if !unique && t.cols.len() > 1 && rng.chance(40) {
                    let b = t.cols[rng.below(t.cols.len())].id;
                    if b != a {
                        cols.push(b);
                    }
                }
                if t.ixs.iter().any(|ix| ix.cols == cols) || (unique && !distinct(t, a)) {
                    continue;
                }
                if unique {
                    t.cols
                        .iter_mut()
                        .find(|c| c.id == a)
                        .expect("a column")
                        .ever_unique = true;
                }
                let names: Vec<String> = cols.iter().map(|c| t.col_name(*c).to_owned()).collect();
                t.ixs.push(Ix { cols, unique });
                return Step {
                    what: format!(
                        "add {} {}({})",
                        if unique { "unique" } else { "index" },
                        t.name,
                        names.join(", ")
                    ),
                    renamed,
                    must_fail: false,
                };
            }
            // Drop an index or a unique.
            9 => {
                let t = &mut w.tabs[ti];
                if t.ixs.is_empty() {
                    continue;
                }
                let ix = t.ixs.remove(rng.below(t.ixs.len()));
                return Step {
                    what: format!("drop index {}{:?}", t.name, ix),
                    renamed,
                    must_fail: false,
                };
            }
            // Drop or add a foreign key on a reference column.
            10 => {
                let t = &mut w.tabs[ti];
                let refs: Vec<u32> = t
                    .cols
                    .iter()
                    .filter(|c| c.parent.is_some())
                    .map(|c| c.id)
                    .collect();
                if refs.is_empty() {
                    continue;
                }
                let c = refs[rng.below(refs.len())];
                let what = if let Some(p) = t.fks.iter().position(|f| *f == c) {
                    t.fks.remove(p);
                    format!("drop foreign key {}.{}", t.name, t.col_name(c))
                } else {
                    t.fks.push(c);
                    format!("add foreign key {}.{}", t.name, t.col_name(c))
                };
                return Step {
                    what,
                    renamed,
                    must_fail: false,
                };
            }
            // A narrowing over a value that does not fit: must fail, changing nothing.
            11 => {
                let t = &mut w.tabs[ti];
                let longest = |c: &Col| {
                    t.rows
                        .values()
                        .filter_map(|r| match &r[&c.id] {
                            Val::Text(s) => Some(s.chars().count() as u32),
                            _ => None,
                        })
                        .max()
                };
                let Some((i, len)) = plain
                    .iter()
                    .filter(|i| matches!(t.cols[**i].ty, Ty::Varchar(_)))
                    .find_map(|i| longest(&t.cols[*i]).filter(|l| *l >= 2).map(|l| (*i, l)))
                else {
                    continue;
                };
                let c = &mut t.cols[i];
                c.ty = Ty::Varchar(len - 1);
                return Step {
                    what: format!(
                        "narrow {}.{} to varchar({}) over a {len}-character value",
                        t.name,
                        c.name,
                        len - 1
                    ),
                    renamed,
                    must_fail: true,
                };
            }
            _ => continue,
        }
    }
    Step {
        what: "nothing".into(),
        renamed,
        must_fail: false,
    }
}

/// Every table's rows as the database holds them, one text per row.
async fn read_rows(ctx: &common::Ctx, w: &World) -> BTreeMap<String, Vec<String>> {
    let d = ctx.dialect();
    let q = |n: &str| polyorm_migrate::render::quote(n, d);
    let mut out = BTreeMap::new();
    for t in &w.tabs {
        let mut cols = vec![q("id")];
        cols.extend(t.cols.iter().map(|c| q(&c.name)));
        let text: Vec<String> = cols
            .iter()
            .map(|c| match d {
                Dialect::MySql => format!("COALESCE(CAST({c} AS CHAR), '\\\\N')"),
                Dialect::Postgres => format!("COALESCE(CAST({c} AS text), '\\N')"),
                Dialect::Sqlite => format!("COALESCE(CAST({c} AS TEXT), '\\N')"),
            })
            .collect();
        let joined = match d {
            Dialect::MySql => format!("CONCAT_WS('|', {})", text.join(", ")),
            _ => text.join(" || '|' || "),
        };
        // Each read its own text: PostgreSQL cannot run a statement prepared before a column
        // changed type (the lead's part of issue 17 re-prepares it; this test does not rely on it).
        static READS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = READS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let sql = format!(
            "SELECT {joined} FROM {} ORDER BY {} /* read {n} */",
            q(&t.name),
            q("id")
        );
        let rows = ctx
            .db
            .fetch_compiled(
                Compiled {
                    sql,
                    values: vec![],
                },
                |r| String::decode(r, 0),
            )
            .await
            .unwrap_or_else(|e| panic!("reading {}: {e}", t.name));
        out.insert(t.name.clone(), rows);
    }
    out
}

/// The rows `w` expects, as [`read_rows`] reads them.
fn expected_rows(w: &World) -> BTreeMap<String, Vec<String>> {
    w.tabs
        .iter()
        .map(|t| {
            let rows = t
                .rows
                .iter()
                .map(|(id, row)| {
                    let mut s = id.to_string();
                    for c in &t.cols {
                        let _ = write!(s, "|{}", row[&c.id].shown());
                    }
                    s
                })
                .collect();
            (t.name.clone(), rows)
        })
        .collect()
}

fn env_u64(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

async fn run_case(ctx: &common::Ctx, seed: u64, steps: usize) {
    let d = ctx.dialect();
    let mut rng = Rng::new(seed);
    let mut w = World::default();
    let mut history: Vec<World> = vec![w.clone()];
    let mut schemas: Vec<Schema> = vec![Schema::default()];
    let mut log = Vec::new();
    let dir = ctx.dir.join(format!("seed_{seed}"));
    let m = |s: &Schema| Migrator::new(ctx.db.clone(), &dir, s.clone()).unwrap();
    let mut version = 0;
    let mut refused = 0;
    // Two tables to start with.
    for _ in 0..2 {
        let id = w.fresh();
        let mut t = Tab {
            id,
            name: format!("t{id}"),
            cols: vec![],
            ixs: vec![],
            fks: vec![],
            rows: BTreeMap::new(),
        };
        for _ in 0..2 {
            t.cols.push(new_col(&mut w, &mut rng, None));
        }
        w.tabs.push(t);
    }
    let mut step = Step {
        what: "create the first tables".into(),
        renamed: BTreeMap::new(),
        must_fail: false,
    };
    for n in 0..=steps {
        if n > 0 {
            step = mutate(&mut w, &mut rng);
        }
        log.push(step.what.clone());
        let context = || {
            format!(
                "seed {seed} on {d}, step {n} ({}); steps so far:\n  {}",
                step.what,
                log.join("\n  ")
            )
        };
        let schema = w.schema(&step.renamed);
        let options = GenerateOptions {
            allow: vec![],
            allow_destructive: true,
            version: Some(format!("2026030{:07}", version)),
        };
        let Some(g) = generate(&dir, &format!("step{n}"), &schema, d, &options)
            .unwrap_or_else(|e| panic!("{}: generate: {e}", context()))
        else {
            // Nothing to migrate (no change found): go on.
            log.pop();
            continue;
        };
        version += 1;
        let result = m(&schema).up(None, false).await;
        if step.must_fail {
            match result {
                Err(Error::RowsDoNotFit { .. }) => {}
                other => panic!(
                    "{}: the migration must fail with RowsDoNotFit, got {other:?}",
                    context()
                ),
            }
            std::fs::remove_dir_all(&g.dir).unwrap();
            refused += 1;
            // Nothing changed: the previous world, schema and rows.
            let before = history.last().unwrap().clone();
            m(schemas.last().unwrap())
                .verify()
                .await
                .unwrap_or_else(|e| panic!("{}: after the refused step: {e}", context()));
            assert_eq!(
                read_rows(ctx, &before).await,
                expected_rows(&before),
                "{}: rows after the refused step",
                context()
            );
            w = before;
            log.pop();
            continue;
        }
        result.unwrap_or_else(|e| {
            let sql = std::fs::read_to_string(g.dir.join("up.sql")).unwrap_or_default();
            panic!("{}: up: {e}\n{sql}", context())
        });
        let plain = w.schema(&BTreeMap::new());
        m(&plain)
            .verify()
            .await
            .unwrap_or_else(|e| panic!("{}: drift after up: {e}", context()));
        assert_eq!(
            read_rows(ctx, &w).await,
            expected_rows(&w),
            "{}: rows after up",
            context()
        );
        // New rows, within every constraint each column ever had.
        for sql in insert_rows(&mut w, &mut rng, d) {
            ctx.db
                .execute_raw(&sql)
                .await
                .unwrap_or_else(|e| panic!("{}: {sql}: {e}", context()));
        }
        history.push(w.clone());
        schemas.push(plain);
    }
    eprintln!(
        "property test, seed {seed} on {d}: {} migrations up ({refused} narrowing(s) refused \
         with nothing changed):\n  {}",
        schemas.len() - 1,
        log.join("\n  ")
    );

    // Down, one at a time: each returns the previous schema and the rows (projected onto it).
    for k in (1..schemas.len()).rev() {
        let context = || {
            format!(
                "seed {seed} on {d}, down of step {k} ({}); steps:\n  {}",
                log[k - 1],
                log.join("\n  ")
            )
        };
        let done = m(&schemas[k])
            .down(1, false)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", context()));
        assert_eq!(done.len(), 1, "{}", context());
        w = w.rolled_back_to(&history[k - 1]);
        m(&schemas[k - 1])
            .verify()
            .await
            .unwrap_or_else(|e| panic!("{}: drift after down: {e}", context()));
        assert_eq!(
            read_rows(ctx, &w).await,
            expected_rows(&w),
            "{}: rows after down",
            context()
        );
    }
}

per_backend! {
    async fn random_model_changes_apply_up_and_down_without_drift_or_loss(ctx) {
        let seed = env_u64("ORM_MIGRATE_PROPTEST_SEED", 17);
        let cases = env_u64("ORM_MIGRATE_PROPTEST_CASES", 6);
        let steps = env_u64("ORM_MIGRATE_PROPTEST_STEPS", 16) as usize;
        eprintln!(
            "property test on {}: seed {seed}, {cases} case(s) of {steps} steps \
             (reproduce with ORM_MIGRATE_PROPTEST_SEED={seed})",
            ctx.dialect()
        );
        for case in 0..cases {
            run_case(ctx, seed.wrapping_add(case), steps).await;
        }
    }
}
