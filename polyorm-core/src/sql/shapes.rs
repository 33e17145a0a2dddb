//! Compiled SQL of the statements whose text depends only on (model, shape, dialect): a lookup
//! by primary key (or of every row), an insert of a few whole rows, an update of a loaded row and a delete by
//! primary key. Each is compiled through sea-query once per process; later calls reuse the
//! text and only convert their values, exactly as the compiler would, for binding.
//!
//! A shape is recognised from the IR, never assumed from the caller, and everything that
//! changes the text is either part of the key or keeps the statement out of the cache:
//! - the model, by the address of its `'static` schema (two schemas at one address are one
//!   schema; a model seen at two addresses only gets two entries with the same text);
//! - the dialect;
//! - for selects: whole rows, either unfiltered or filtered by the full primary key compared
//!   with `=` in key order, no NULL value (which would be `IS NULL`), no join, order, offset
//!   or lock, and a `LIMIT` of none or 1 (SQLite writes it as a literal), all in the key;
//! - for inserts: every row holds exactly the model's insert columns; the row count and
//!   `RETURNING` are in the key; at most [`MAX_CACHED_ROWS`] rows;
//! - for updates: exactly the model's update columns, each set to a value, filtered by key;
//! - upserts, `col = col + n`, subqueries and anything else compile every time.
//!
//! Selects of whole rows with other filters, joins, order or paging are kept by their
//! structure instead ([`Skeleton`], in `structural`). Each cache holds at most
//! [`MAX_ENTRIES`] statements.
//!
//! Debug builds compile every cached statement anew as well and panic on any difference, so
//! the whole test suite checks the cache against the compiler.

mod structural;

use std::borrow::Borrow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::{Arc, PoisonError, RwLock};
use std::thread::LocalKey;

use super::{Compiled, Dialect, Shared, SqlText, values};
use crate::error::Error;
use crate::query::ir::{
    Assignment, CmpOp, Condition, DeleteQuery, InsertQuery, Projection, SelectQuery, Statement,
    UpdateQuery,
};
use crate::schema::{ColumnSchema, ModelSchema};
use crate::value::Value;

pub(crate) use structural::{Skeleton, skeleton_values};

/// The most rows of an insert whose SQL is kept (one entry per row count).
pub(crate) const MAX_CACHED_ROWS: usize = 128;

/// What a statement is, as far as its SQL text goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Shape {
    /// `SELECT <columns> FROM t [WHERE <key> = ?] [LIMIT 1]`.
    Select {
        /// Filtered by the whole primary key (else not filtered).
        by_key: bool,
        /// `LIMIT 1` (else no limit).
        limit_one: bool,
    },
    /// `INSERT INTO t (<insert columns>) VALUES <rows> [RETURNING <columns>]`.
    Insert {
        /// Number of rows.
        rows: usize,
        /// `RETURNING` asked for (the dialect decides whether it is written).
        returning: bool,
    },
    /// `UPDATE t SET <update columns> = ? WHERE <key> = ?`.
    UpdateByKey,
    /// `DELETE FROM t WHERE <key> = ?`.
    DeleteByKey,
}

/// One cache entry's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    /// Address of the model's `'static` schema.
    schema: usize,
    shape: Shape,
    dialect: Dialect,
}

/// One word to hash (one wide multiply of the schema's address by the shape and dialect, where
/// the derived `Hash` chained a multiply per field and per enum tag).
impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let shape = match self.shape {
            Shape::Select { by_key, limit_one } => {
                1 | u64::from(by_key) << 3 | u64::from(limit_one) << 4
            }
            Shape::Insert { rows, returning } => 2 | u64::from(returning) << 3 | (rows as u64) << 4,
            Shape::UpdateByKey => 3,
            Shape::DeleteByKey => 4,
        };
        let tag = shape << 8 | self.dialect as u64;
        state.write_u64(folded_multiply(
            self.schema as u64 ^ PAIR_SEEDS[0],
            tag ^ PAIR_SEEDS[1],
        ));
    }
}

impl Key {
    fn new(schema: &'static ModelSchema, shape: Shape, dialect: Dialect) -> Key {
        Key {
            schema: std::ptr::from_ref(schema) as usize,
            shape,
            dialect,
        }
    }
}

/// A multiply-rotate hasher for the few machine words of a [`Key`] (SipHash would cost more
/// than the rest of a lookup; the keys are not attacker-chosen).
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    /// Sixteen bytes at a time (a slice of words, a [`Skeleton`], arrives here whole): each
    /// pair of words is mixed by one wide multiply that does not depend on the state, so the
    /// chain from one pair to the next is an exclusive or and a rotation. Mixing word by word
    /// through the state (a multiply's latency per word) was most of a structural lookup.
    fn write(&mut self, bytes: &[u8]) {
        let mut pairs = bytes.chunks_exact(16);
        for pair in &mut pairs {
            let (a, b) = pair.split_at(8);
            let a = u64::from_le_bytes(a.try_into().expect("eight bytes"));
            let b = u64::from_le_bytes(b.try_into().expect("eight bytes"));
            self.0 =
                (self.0 ^ folded_multiply(a ^ PAIR_SEEDS[0], b ^ PAIR_SEEDS[1])).rotate_left(23);
        }
        let mut words = pairs.remainder().chunks_exact(8);
        for word in &mut words {
            self.write_u64(u64::from_le_bytes(word.try_into().expect("eight bytes")));
        }
        for &b in words.remainder() {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn write_isize(&mut self, n: isize) {
        self.write_u64(n as u64);
    }
}

/// Two odd constants with no pattern (the fractional digits of π), so that a pair of words
/// that are both zero (or equal) still multiplies to a mixed value.
const PAIR_SEEDS: [u64; 2] = [0x243f_6a88_85a3_08d3, 0x1319_8a2e_0370_7345];

/// The 128-bit product of `a` and `b`, its halves folded together (foldhash's mixer).
fn folded_multiply(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

/// Kept SQL by key (shared with the statements that run it: a repeat statement copies no text).
/// Each text is leaked once, into a `'static` `Arc`: entries are never removed (the maps are
/// bounded by [`MAX_ENTRIES`]), so the text lives as long as it would in the map, and
/// statements borrow it instead of counting references.
type Map<K> = HashMap<K, &'static Arc<str>, BuildHasherDefault<KeyHasher>>;

/// The SQL of the fixed shapes (bounded: models × shapes × dialects).
static CACHE: RwLock<Map<Key>> = RwLock::new(HashMap::with_hasher(BuildHasherDefault::new()));

/// The SQL of selects by their [`Skeleton`].
static SKELETONS: RwLock<Map<Box<[u64]>>> =
    RwLock::new(HashMap::with_hasher(BuildHasherDefault::new()));

thread_local! {
    /// Each thread's copy of the entries of [`CACHE`] it has used. An entry never changes once
    /// kept, so a copy is never stale; reading it takes no lock (the shared map's read lock
    /// was two atomic read-modify-writes on a line every thread writes, per statement).
    static CACHE_HERE: RefCell<Map<Key>> =
        const { RefCell::new(HashMap::with_hasher(BuildHasherDefault::new())) };
    /// The same for [`SKELETONS`].
    static SKELETONS_HERE: RefCell<Map<Box<[u64]>>> =
        const { RefCell::new(HashMap::with_hasher(BuildHasherDefault::new())) };
}

/// The most entries a cache holds: past it, new shapes compile every time (a program that
/// builds ever new column names at run time cannot grow the cache without bound).
const MAX_ENTRIES: usize = 4096;

/// Whether `q` reads whole rows in one plain level: no walk, CTE, derived table, compound,
/// keyset position, lock or hint (what neither cache keeps).
fn whole_rows_in_one_level(q: &SelectQuery) -> bool {
    q.projection == Projection::Model
        && q.walk.is_none()
        && q.with.is_empty()
        && q.outer.is_none()
        && q.compound.is_empty()
        && q.after.is_none()
        && q.lock.is_none()
        && q.index_hint.is_none()
}

/// The shape of a select, if it reads whole rows by the whole primary key or unfiltered.
pub(crate) fn select_shape(q: &SelectQuery) -> Option<Shape> {
    let plain = whole_rows_in_one_level(q)
        && q.joins.is_empty()
        && q.order.is_empty()
        && q.offset.is_none();
    let limit_one = match q.limit {
        None => false,
        Some(1) => true,
        Some(_) => return None,
    };
    let by_key = q.filter.is_some();
    (plain && (!by_key || is_key_filter(q.schema, q.filter.as_ref())))
        .then_some(Shape::Select { by_key, limit_one })
}

/// The shape of a write, if it is one of the fixed ones.
pub(crate) fn statement_shape(statement: &Statement) -> Option<Shape> {
    match statement {
        Statement::Select(q) => select_shape(q),
        Statement::Insert(q) => insert_shape(q),
        Statement::Update(q) => is_update_by_key(q).then_some(Shape::UpdateByKey),
        Statement::Delete(q) => {
            is_key_filter(q.schema, q.filter.as_ref()).then_some(Shape::DeleteByKey)
        }
        Statement::Upsert(_) => None,
    }
}

fn insert_shape(q: &InsertQuery) -> Option<Shape> {
    let columns = q.schema.insert_columns().count();
    let whole_rows = columns > 0 && q.rows.iter().all(|row| row.len() == columns);
    (whole_rows && (1..=MAX_CACHED_ROWS).contains(&q.rows.len())).then_some(Shape::Insert {
        rows: q.rows.len(),
        returning: q.returning,
    })
}

fn is_update_by_key(q: &UpdateQuery) -> bool {
    let mut columns = q.schema.update_columns();
    let every_column = q.assignments.iter().all(|(name, assignment)| {
        matches!(assignment, Assignment::Value(_))
            && columns.next().is_some_and(|c| c.name == *name)
    });
    every_column
        && columns.next().is_none()
        && !q.assignments.is_empty()
        && is_key_filter(q.schema, q.filter.as_ref())
}

/// The comparisons of a key filter, or of any conjunction.
fn conjuncts(filter: &Condition) -> &[Condition] {
    match filter {
        Condition::And(items) => items,
        single => std::slice::from_ref(single),
    }
}

/// Whether `filter` is `k1 = v1 AND k2 = v2 ...` over the whole primary key of `schema`, in
/// key order, with no NULL value.
fn is_key_filter(schema: &ModelSchema, filter: Option<&Condition>) -> bool {
    let Some(filter) = filter else { return false };
    let items = conjuncts(filter);
    !items.is_empty()
        && items.len() == schema.primary_key.len()
        && items
            .iter()
            .zip(schema.primary_key_columns())
            .all(|(item, key)| match item {
                Condition::Compare {
                    column,
                    op: CmpOp::Eq,
                    value,
                } => column.table == schema.table && column.name == key.name && !value.is_null(),
                _ => false,
            })
}

/// The compiled statement of a recognised `shape` of `source`: the kept SQL with the values
/// `values` takes from `source` (those the compiler would bind, in its order; moved out of an
/// owned `source`), or `compile`'s result, whose SQL is then kept.
pub(crate) fn compiled<S>(
    schema: &'static ModelSchema,
    shape: Shape,
    dialect: Dialect,
    source: S,
    values: impl FnOnce(S) -> Result<Vec<Value>, Error>,
    compile: impl Fn(&S) -> Result<Compiled, Error>,
) -> Result<Shared, Error> {
    let key = Key::new(schema, shape, dialect);
    serve((&CACHE, &CACHE_HERE), &key, || key, source, values, compile)
}

/// The compiled select of a recognised [`Skeleton`] (see [`compiled`]).
pub(crate) fn compiled_select<S>(
    skeleton: &Skeleton,
    source: S,
    values: impl FnOnce(S) -> Result<Vec<Value>, Error>,
    compile: impl Fn(&S) -> Result<Compiled, Error>,
) -> Result<Shared, Error> {
    let words = skeleton.words();
    serve(
        (&SKELETONS, &SKELETONS_HERE),
        words,
        || words.into(),
        source,
        values,
        compile,
    )
}

/// The kept SQL of `key` in a cache (the shared map and this thread's copy of what it used)
/// with the values of `source`, or `compile`'s result, whose SQL is then kept under `owned()`
/// (while the cache has room).
fn serve<K, Q, S>(
    (cache, here): (&RwLock<Map<K>>, &'static LocalKey<RefCell<Map<K>>>),
    key: &Q,
    owned: impl FnOnce() -> K,
    source: S,
    values: impl FnOnce(S) -> Result<Vec<Value>, Error>,
    compile: impl Fn(&S) -> Result<Compiled, Error>,
) -> Result<Shared, Error>
where
    K: Borrow<Q> + Hash + Eq,
    Q: Hash + Eq + ?Sized,
{
    // `try_with`: a thread being torn down (a destructor running a query) has no copy left
    // and reads the shared map.
    let sql = match here.try_with(|here| here.borrow().get(key).copied()) {
        Ok(Some(sql)) => sql,
        _ => match not_here((cache, here), key, owned, &source, &compile)? {
            Ok(sql) => sql,
            Err(compiled) => return Ok(compiled.into()),
        },
    };
    // Debug builds compile the statement anew to check the cache against, before `values`
    // may take the values out of it.
    #[cfg(debug_assertions)]
    let fresh = compile(&source);
    let cached = Shared {
        sql: SqlText::Kept(sql),
        values: values(source)?,
    };
    #[cfg(debug_assertions)]
    check_against_compiler(&cached, fresh);
    Ok(cached)
}

/// [`serve`] when this thread has no copy of `key`'s entry: the shared map's (copied here), or
/// else `compile`'s result (`Err`), whose SQL the shared map then keeps. Out of line and
/// cold, so that the path every repeat statement takes stays a few cache lines of code.
#[cold]
#[inline(never)]
fn not_here<K, Q, S>(
    (cache, here): (&RwLock<Map<K>>, &'static LocalKey<RefCell<Map<K>>>),
    key: &Q,
    owned: impl FnOnce() -> K,
    source: &S,
    compile: &impl Fn(&S) -> Result<Compiled, Error>,
) -> Result<Result<&'static Arc<str>, Compiled>, Error>
where
    K: Borrow<Q> + Hash + Eq,
    Q: Hash + Eq + ?Sized,
{
    let shared = cache
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(key)
        .copied();
    let Some(sql) = shared else {
        let compiled = compile(source)?;
        let mut cache = cache.write().unwrap_or_else(PoisonError::into_inner);
        if cache.len() < MAX_ENTRIES {
            // Kept once: a thread that compiled the same statement at the same time finds it
            // kept and leaves it (a kept text is never replaced, so never lost).
            cache
                .entry(owned())
                .or_insert_with(|| Box::leak(Box::new(compiled.sql.as_str().into())));
        }
        return Ok(Err(compiled));
    };
    // The shared map is bounded, and so is every copy of its entries (a copy already borrowed
    // on this thread, which nothing here does, would just go without this entry).
    let _torn_down = here.try_with(|here| {
        if let Ok(mut here) = here.try_borrow_mut() {
            here.insert(owned(), sql);
        }
    });
    Ok(Ok(sql))
}

/// Debug builds: the cached statement is what the compiler produces (`fresh`; values compared
/// by their `Debug` text, so that a NaN equals itself).
#[cfg(debug_assertions)]
fn check_against_compiler(cached: &Shared, fresh: Result<Compiled, Error>) {
    let fresh = fresh.expect("a statement whose values convert compiles");
    assert_eq!(
        cached.sql.as_str(),
        fresh.sql,
        "cached SQL differs from the compiler's"
    );
    assert_eq!(
        format!("{:?}", cached.values),
        format!("{:?}", fresh.values),
        "cached values differ from the compiler's for `{}`",
        fresh.sql
    );
}

/// `value` as the compiler binds it against `column` on `dialect`: a decimal scaled for
/// SQLite where the column is stored scaled, then through sea-query's value type and back
/// (which, e.g., turns a `u64` that fits into an `i64`).
#[cfg_attr(not(feature = "decimal"), allow(unused_variables))]
fn bound(column: &ColumnSchema, value: Value, dialect: Dialect) -> Result<Value, Error> {
    #[cfg(feature = "decimal")]
    if dialect == Dialect::Sqlite && matches!(value, Value::Decimal(_)) {
        let mut scaled = value;
        super::scaled::scale(column, &mut scaled)?;
        return Ok(values::from_sea(values::to_sea(scaled)));
    }
    Ok(through_sea(value))
}

/// `value` through sea-query's value type and back, as the compiler binds a value that needs
/// no scaling.
fn through_sea(value: Value) -> Value {
    match value {
        // Each of these becomes the sea-query variant of the same payload and comes back as
        // it went (`values::to_sea`, `values::from_sea`): the round trip is skipped, its
        // result the same.
        Value::Bool(_)
        | Value::SmallInt(_)
        | Value::Int(_)
        | Value::BigInt(_)
        | Value::Float(_)
        | Value::Double(_)
        | Value::Text(_)
        | Value::Bytes(_) => value,
        // Unsigned integers (an `i64` where it fits), typed NULLs (per sea-query's types) and
        // the rest go through.
        other => values::from_sea(values::to_sea(other)),
    }
}

/// The key values of a filter [`is_key_filter`] accepted, converted for binding.
fn push_key_values(
    schema: &ModelSchema,
    filter: Option<&Condition>,
    dialect: Dialect,
    out: &mut Vec<Value>,
) -> Result<(), Error> {
    for (item, column) in conjuncts(filter.expect("a key filter"))
        .iter()
        .zip(schema.primary_key_columns())
    {
        if let Condition::Compare { value, .. } = item {
            out.push(bound(column, value.clone(), dialect)?);
        }
    }
    Ok(())
}

/// The values of a select of [`Shape::Select`], in the compiler's order: the key, then
/// `LIMIT 1` where it is a parameter (SQLite writes it as a literal).
pub(crate) fn select_values(q: &SelectQuery, dialect: Dialect) -> Result<Vec<Value>, Error> {
    let limit_bound = q.limit.is_some() && dialect != Dialect::Sqlite;
    let keys = if q.filter.is_some() {
        q.schema.primary_key.len()
    } else {
        0
    };
    // Nothing allocated for a select with no values (every row, on SQLite).
    let mut out = Vec::with_capacity(keys + usize::from(limit_bound));
    if q.filter.is_some() {
        super::fit::condition(q.filter.as_ref())?;
        push_key_values(q.schema, q.filter.as_ref(), dialect, &mut out)?;
    }
    if limit_bound {
        out.push(values::from_sea(sea_query::Value::BigUnsigned(Some(1))));
    }
    Ok(out)
}

/// The values of a write of a recognised shape, in the compiler's order (the statement has
/// passed `fit::check`).
pub(crate) fn statement_values(
    statement: &Statement,
    dialect: Dialect,
) -> Result<Vec<Value>, Error> {
    match statement {
        Statement::Select(q) => select_values(q, dialect),
        Statement::Insert(q) => insert_values(q.schema, &q.rows, dialect),
        Statement::Update(q) => {
            let assigned = q
                .assignments
                .iter()
                .map(|(_, assignment)| match assignment {
                    Assignment::Value(value) => Some(value),
                    Assignment::Add { .. } => None,
                });
            update_values(q.schema, assigned, q.filter.as_ref(), dialect)
        }
        Statement::Delete(DeleteQuery { schema, filter }) => {
            let mut out = Vec::with_capacity(schema.primary_key.len());
            push_key_values(schema, filter.as_ref(), dialect, &mut out)?;
            Ok(out)
        }
        Statement::Upsert(_) => unreachable!("upserts have no cached shape"),
    }
}

/// [`statement_values`] of a statement the caller gives up: the values of an insert's rows and
/// an update's assignments are moved out rather than copied.
pub(crate) fn take_statement_values(
    statement: Statement,
    dialect: Dialect,
) -> Result<Vec<Value>, Error> {
    match statement {
        Statement::Insert(q) => insert_values(q.schema, q.rows, dialect),
        Statement::Update(q) => {
            let assigned = q
                .assignments
                .into_iter()
                .map(|(_, assignment)| match assignment {
                    Assignment::Value(value) => Some(value),
                    Assignment::Add { .. } => None,
                });
            update_values(q.schema, assigned, q.filter.as_ref(), dialect)
        }
        other => statement_values(&other, dialect),
    }
}

/// The values of the rows of an insert into `schema`, owned (`Vec<Value>`) or borrowed
/// (`&Vec<Value>`, each value then copied).
fn insert_values<R>(
    schema: &ModelSchema,
    rows: impl IntoIterator<Item = R, IntoIter: ExactSizeIterator>,
    dialect: Dialect,
) -> Result<Vec<Value>, Error>
where
    R: IntoIterator<Item: Into<Taken>>,
{
    let rows = rows.into_iter();
    let columns = schema.insert_columns().count();
    let mut out = Vec::with_capacity(rows.len() * columns);
    for row in rows {
        for (column, value) in schema.insert_columns().zip(row) {
            out.push(bound(column, value.into().0, dialect)?);
        }
    }
    Ok(out)
}

/// A value taken from a statement to bind: moved out of one the caller gave up, copied out
/// of one it keeps.
struct Taken(Value);

impl From<Value> for Taken {
    fn from(value: Value) -> Self {
        Taken(value)
    }
}

impl From<&Value> for Taken {
    fn from(value: &Value) -> Self {
        Taken(value.clone())
    }
}

/// The values of an update of [`Shape::UpdateByKey`], in the compiler's order: each assigned
/// value (owned or borrowed, as in [`insert_values`]; `None` for `col = col + n`, which the
/// shape excludes), then the key's.
fn update_values<V: Into<Taken>>(
    schema: &ModelSchema,
    assigned: impl ExactSizeIterator<Item = Option<V>>,
    filter: Option<&Condition>,
    dialect: Dialect,
) -> Result<Vec<Value>, Error> {
    let mut out = Vec::with_capacity(assigned.len() + schema.primary_key.len());
    for (column, value) in schema.update_columns().zip(assigned) {
        if let Some(value) = value {
            out.push(bound(column, value.into().0, dialect)?);
        }
    }
    push_key_values(schema, filter, dialect, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::ir::{ColumnRef, Direction, OrderBy, RowLock, UpsertQuery};
    use crate::schema::ColumnType;
    use crate::sql::{compile, compile_checked, compile_owned, compile_select_uncached};

    pub(super) const fn column(
        name: &'static str,
        ty: ColumnType,
        primary_key: bool,
        auto_increment: bool,
        nullable: bool,
    ) -> ColumnSchema {
        ColumnSchema {
            auto_increment,
            ..ColumnSchema::plain(name, ty, nullable, primary_key)
        }
    }

    pub(super) const fn model(
        table: &'static str,
        columns: &'static [ColumnSchema],
        primary_key: &'static [usize],
    ) -> ModelSchema {
        ModelSchema {
            name: table,
            table,
            columns,
            primary_key,
            indexes: &[],
            foreign_keys: &[],
            checks: &[],
            renamed_from: None,
            shard_key: None,
            soft_delete: None,
        }
    }

    pub(super) static USERS: ModelSchema = model(
        "shape_users",
        &[
            column("id", ColumnType::BigInt, true, true, false),
            column("name", ColumnType::Text, false, false, false),
            column("nick", ColumnType::Text, false, false, true),
            column("score", ColumnType::Double, false, false, true),
        ],
        &[0],
    );

    /// The same table read through a narrower model: its statements differ from `USERS`'.
    static USER_NAMES: ModelSchema = model(
        "shape_users",
        &[
            column("id", ColumnType::BigInt, true, true, false),
            column("name", ColumnType::Text, false, false, false),
        ],
        &[0],
    );

    /// A composite key, declared in the other order than the columns, and no generated column.
    pub(super) static MEMBERS: ModelSchema = model(
        "shape_members",
        &[
            column("user_id", ColumnType::BigInt, true, false, false),
            column("code", ColumnType::Text, true, false, false),
            column("level", ColumnType::SmallInt, false, false, false),
            column("big", ColumnType::U64, false, false, true),
        ],
        &[1, 0],
    );

    fn key(schema: &'static ModelSchema, values: Vec<Value>) -> Condition {
        Condition::primary_key_eq(schema, values)
    }

    fn find(schema: &'static ModelSchema, values: Vec<Value>, limit: Option<u64>) -> SelectQuery {
        let mut q = SelectQuery::new(schema, Projection::Model);
        q.filter = Some(key(schema, values));
        q.limit = limit;
        q
    }

    pub(super) fn text(s: &str) -> Value {
        Value::Text(s.to_owned())
    }

    fn insert(schema: &'static ModelSchema, rows: Vec<Vec<Value>>, returning: bool) -> Statement {
        Statement::Insert(InsertQuery {
            schema,
            rows,
            returning,
        })
    }

    fn update(
        schema: &'static ModelSchema,
        values: Vec<Value>,
        key_values: Vec<Value>,
    ) -> Statement {
        let assignments = schema
            .update_columns()
            .map(|c| c.name)
            .zip(values.into_iter().map(Assignment::Value))
            .collect();
        Statement::Update(UpdateQuery {
            schema,
            assignments,
            filter: Some(key(schema, key_values)),
        })
    }

    fn delete(schema: &'static ModelSchema, key_values: Vec<Value>) -> Statement {
        Statement::Delete(DeleteQuery {
            schema,
            filter: Some(key(schema, key_values)),
        })
    }

    /// Statements of every cached shape; the second of each pair has other values (NULLs in
    /// nullable columns where the first has values), so a hit must bind its own values.
    fn cached_cases() -> Vec<(&'static str, [Statement; 2])> {
        let user_row = |id: i64, nick: Option<&str>| {
            vec![
                text(&format!("user {id}")),
                nick.map_or(Value::Null(ColumnType::Text), text),
                Value::Double(f64::from(id as i32) / 2.0),
            ]
        };
        let member_key = |id: i64, code: &str| vec![text(code), Value::BigInt(id)];
        let all = |schema, limit| {
            Statement::Select(SelectQuery {
                limit,
                ..SelectQuery::new(schema, Projection::Model)
            })
        };
        vec![
            ("select_all", [all(&USERS, None), all(&USERS, None)]),
            (
                "first_row",
                [all(&MEMBERS, Some(1)), all(&MEMBERS, Some(1))],
            ),
            (
                "find_limit_one",
                [
                    Statement::Select(find(&USERS, vec![Value::BigInt(1)], Some(1))),
                    Statement::Select(find(&USERS, vec![Value::BigInt(2)], Some(1))),
                ],
            ),
            (
                "find_no_limit",
                [
                    Statement::Select(find(&USERS, vec![Value::BigInt(1)], None)),
                    Statement::Select(find(&USERS, vec![Value::BigInt(3)], None)),
                ],
            ),
            (
                "find_narrow_model",
                [
                    Statement::Select(find(&USER_NAMES, vec![Value::BigInt(1)], Some(1))),
                    Statement::Select(find(&USER_NAMES, vec![Value::BigInt(4)], Some(1))),
                ],
            ),
            (
                "find_composite",
                [
                    Statement::Select(find(&MEMBERS, member_key(1, "a"), Some(1))),
                    Statement::Select(find(&MEMBERS, member_key(2, "b"), Some(1))),
                ],
            ),
            (
                "insert_one_returning",
                [
                    insert(&USERS, vec![user_row(1, Some("x"))], true),
                    insert(&USERS, vec![user_row(2, None)], true),
                ],
            ),
            (
                "insert_one",
                [
                    insert(&USERS, vec![user_row(1, None)], false),
                    insert(&USERS, vec![user_row(2, Some("y"))], false),
                ],
            ),
            (
                "insert_three",
                [
                    insert(&USERS, (1..=3).map(|i| user_row(i, None)).collect(), false),
                    insert(
                        &USERS,
                        (4..=6).map(|i| user_row(i, Some("z"))).collect(),
                        false,
                    ),
                ],
            ),
            (
                "insert_composite_u64",
                [
                    insert(
                        &MEMBERS,
                        vec![vec![
                            Value::BigInt(1),
                            text("a"),
                            Value::SmallInt(3),
                            Value::BigUnsigned(7),
                        ]],
                        true,
                    ),
                    insert(
                        &MEMBERS,
                        vec![vec![
                            Value::BigInt(2),
                            text("b"),
                            Value::SmallInt(4),
                            Value::Null(ColumnType::U64),
                        ]],
                        true,
                    ),
                ],
            ),
            (
                "update_by_key",
                [
                    update(&USERS, user_row(1, Some("n")), vec![Value::BigInt(1)]),
                    update(&USERS, user_row(2, None), vec![Value::BigInt(2)]),
                ],
            ),
            (
                "update_composite",
                [
                    update(
                        &MEMBERS,
                        vec![Value::SmallInt(1), Value::Null(ColumnType::U64)],
                        member_key(1, "a"),
                    ),
                    update(
                        &MEMBERS,
                        vec![Value::SmallInt(2), Value::BigUnsigned(9)],
                        member_key(2, "b"),
                    ),
                ],
            ),
            (
                "delete_by_key",
                [
                    delete(&USERS, vec![Value::BigInt(1)]),
                    delete(&USERS, vec![Value::BigInt(2)]),
                ],
            ),
            (
                "delete_composite",
                [
                    delete(&MEMBERS, member_key(1, "a")),
                    delete(&MEMBERS, member_key(2, "b")),
                ],
            ),
        ]
    }

    /// What `compile` returns without the cache (an error included: a `u64` above what
    /// PostgreSQL and SQLite store fails both ways).
    fn uncached(statement: &Statement, dialect: Dialect) -> Result<Compiled, Error> {
        match statement {
            Statement::Select(q) => compile_select_uncached(q, dialect),
            other => {
                super::super::check::statement(other, dialect)?;
                compile_checked(other, dialect)
            }
        }
    }

    /// `compile` returns `expected` twice (the first call may fill the entry, the second is
    /// served from it), and what the cache keeps (`kept`) is the compiler's SQL.
    pub(super) fn assert_served_as_compiled(
        what: &str,
        expected: &Result<Compiled, Error>,
        compile: impl Fn() -> Result<Compiled, Error>,
        kept: impl FnOnce() -> Option<String>,
    ) {
        for _ in 0..2 {
            assert_eq!(
                format!("{:?}", compile()),
                format!("{expected:?}"),
                "{what}"
            );
        }
        if let Ok(expected) = expected {
            assert_eq!(
                kept().as_deref(),
                Some(expected.sql.as_str()),
                "{what}: the kept SQL"
            );
        }
    }

    fn schema(statement: &Statement) -> &'static ModelSchema {
        statement.schema()
    }

    fn kept_sql(statement: &Statement, dialect: Dialect) -> Option<String> {
        let key = Key::new(schema(statement), statement_shape(statement)?, dialect);
        let cache = CACHE.read().unwrap_or_else(PoisonError::into_inner);
        cache.get(&key).map(|sql| sql.to_string())
    }

    #[test]
    fn cached_statements_equal_the_compilers_for_every_shape_and_dialect() {
        for dialect in Dialect::ALL {
            for (case, statements) in cached_cases() {
                for statement in &statements {
                    assert!(
                        statement_shape(statement).is_some(),
                        "{case}: recognised as a fixed shape"
                    );
                    assert_served_as_compiled(
                        &format!("{case}@{dialect}"),
                        &uncached(statement, dialect),
                        || compile(statement, dialect),
                        || kept_sql(statement, dialect),
                    );
                }
            }
        }
    }

    #[test]
    fn statements_given_up_compile_as_kept_ones_for_every_shape_and_dialect() {
        // `compile_owned` moves the values out of the statement (insert rows, update
        // assignments) instead of copying them: the same SQL and values either way.
        for dialect in Dialect::ALL {
            for (case, statements) in cached_cases() {
                for statement in &statements {
                    assert_served_as_compiled(
                        &format!("{case}@{dialect} (owned)"),
                        &uncached(statement, dialect),
                        || compile_owned(statement.clone(), dialect).map(Shared::into_compiled),
                        || kept_sql(statement, dialect),
                    );
                }
            }
        }
    }

    #[test]
    fn every_shape_model_and_dialect_has_its_own_entry() {
        let mut seen: Vec<(Key, String)> = Vec::new();
        for dialect in Dialect::ALL {
            for (case, [statement, _]) in cached_cases() {
                let Ok(Compiled { sql, .. }) = compile(&statement, dialect) else {
                    continue;
                };
                let key = Key::new(
                    schema(&statement),
                    statement_shape(&statement).unwrap(),
                    dialect,
                );
                for (other, other_sql) in &seen {
                    assert_ne!(*other, key, "{case}@{dialect} shares a key");
                    // Within a dialect, different keys may only share text where RETURNING
                    // is all they differ in, on MySQL, which has none. (Across dialects a
                    // statement without placeholders may read the same.)
                    if *other_sql == sql && other.dialect == dialect {
                        assert_eq!(dialect, Dialect::MySql, "{case}@{dialect}: {sql}");
                    }
                }
                seen.push((key, sql));
            }
        }
    }

    #[test]
    fn statements_whose_text_depends_on_more_are_not_cached() {
        let id = || vec![Value::BigInt(1)];
        let null_key = find(&USERS, vec![Value::Null(ColumnType::BigInt)], Some(1));
        let by_name = {
            let mut q = SelectQuery::new(&USERS, Projection::Model);
            q.filter = Some(Condition::Compare {
                column: ColumnRef::new("shape_users", "name"),
                op: CmpOp::Eq,
                value: text("a"),
            });
            q
        };
        let limit_two = find(&USERS, id(), Some(2));
        let mut ordered = find(&USERS, id(), Some(1));
        ordered.order.push(OrderBy::column(
            ColumnRef::new("shape_users", "id"),
            Direction::Asc,
        ));
        let mut offset = find(&USERS, id(), Some(1));
        offset.offset = Some(1);
        let mut locked = find(&USERS, id(), Some(1));
        locked.lock = Some(RowLock::ForUpdate);
        let mut count = find(&USERS, id(), None);
        count.projection = Projection::Count;
        // The composite key in column order rather than key order.
        let mut swapped = find(&MEMBERS, vec![text("a"), Value::BigInt(1)], Some(1));
        if let Some(Condition::And(items)) = &mut swapped.filter {
            items.reverse();
        }
        let half_key = find(&MEMBERS, vec![text("a")], Some(1));
        let not_equal = {
            let mut q = find(&USERS, id(), Some(1));
            if let Some(Condition::Compare { op, .. }) = &mut q.filter {
                *op = CmpOp::Ne;
            }
            q
        };
        let selects = [
            ("null key", &null_key),
            ("by name", &by_name),
            ("limit 2", &limit_two),
            ("ordered", &ordered),
            ("offset", &offset),
            ("locked", &locked),
            ("count", &count),
            ("key out of order", &swapped),
            ("half a key", &half_key),
            ("not equal", &not_equal),
        ];
        for (case, q) in selects {
            assert_eq!(select_shape(q), None, "{case}");
        }

        let row = || vec![text("a"), Value::Null(ColumnType::Text), Value::Double(1.0)];
        let short_row = insert(&USERS, vec![vec![text("a")]], false);
        let too_many = insert(&USERS, vec![row(); MAX_CACHED_ROWS + 1], false);
        let no_rows = insert(&USERS, Vec::new(), false);
        let mut partial = update(&USERS, row(), id());
        if let Statement::Update(q) = &mut partial {
            q.assignments.pop();
        }
        let mut increment = update(&USERS, row(), id());
        if let Statement::Update(q) = &mut increment {
            q.assignments[2].1 = Assignment::Add {
                source: "score",
                delta: Value::Double(1.0),
            };
        }
        let mut delete_by_name = delete(&USERS, id());
        if let Statement::Delete(q) = &mut delete_by_name {
            q.filter = by_name.filter.clone();
        }
        let upsert = Statement::Upsert(UpsertQuery {
            insert: InsertQuery {
                schema: &USERS,
                rows: vec![row()],
                returning: false,
            },
            on_conflict: crate::query::ir::OnConflict {
                columns: vec!["id"],
                update: vec!["name"],
            },
        });
        let writes = [
            ("short row", short_row),
            ("too many rows", too_many),
            ("no rows", no_rows),
            ("partial update", partial),
            ("increment", increment),
            ("delete by name", delete_by_name),
            ("upsert", upsert),
        ];
        for (case, statement) in &writes {
            assert_eq!(statement_shape(statement), None, "{case}");
        }
    }

    #[test]
    fn a_null_key_is_compared_with_is_null_not_a_kept_equality() {
        for dialect in Dialect::ALL {
            // Fill the entry of the ordinary lookup first.
            compile_select(&find(&USERS, vec![Value::BigInt(1)], Some(1)), dialect).unwrap();
            let null = find(&USERS, vec![Value::Null(ColumnType::BigInt)], Some(1));
            let compiled = super::super::compile_select(&null, dialect).unwrap();
            assert!(
                compiled.sql.contains("IS NULL"),
                "{dialect}: {}",
                compiled.sql
            );
            assert_eq!(
                compiled,
                uncached(&Statement::Select(null), dialect).unwrap()
            );
        }
    }

    use super::super::compile_select;

    #[cfg(feature = "decimal")]
    #[test]
    fn sqlite_scales_decimal_keys_and_values_of_cached_statements() {
        use rust_decimal::Decimal;

        static PRICES: ModelSchema = model(
            "shape_prices",
            &[
                ColumnSchema {
                    precision: Some((10, 2)),
                    ..column("sku", ColumnType::Decimal, true, false, false)
                },
                ColumnSchema {
                    precision: Some((12, 3)),
                    ..column("amount", ColumnType::Decimal, false, false, true)
                },
                column("label", ColumnType::Text, false, false, false),
            ],
            &[0],
        );
        let d = |s: &str| Value::Decimal(s.parse::<Decimal>().unwrap());
        let statements = [
            Statement::Select(find(&PRICES, vec![d("12.5")], Some(1))),
            Statement::Select(find(&PRICES, vec![d("-0.25")], Some(1))),
            insert(&PRICES, vec![vec![d("1.5"), d("2.125"), text("a")]], true),
            insert(
                &PRICES,
                vec![vec![d("3"), Value::Null(ColumnType::Decimal), text("b")]],
                true,
            ),
            update(&PRICES, vec![d("7.001"), text("c")], vec![d("4.1")]),
            delete(&PRICES, vec![d("9.99")]),
        ];
        for dialect in Dialect::ALL {
            for statement in &statements {
                let expected = uncached(statement, dialect).unwrap();
                for _ in 0..2 {
                    assert_eq!(compile(statement, dialect).unwrap(), expected, "{dialect}");
                }
            }
        }
        // On SQLite the key is bound as the scaled integer.
        let q = find(&PRICES, vec![d("12.5")], Some(1));
        let compiled = compile_select(&q, Dialect::Sqlite).unwrap();
        assert_eq!(compiled.values, vec![Value::BigInt(1250)]);
        // A key with more places than the column's scale fails as without the cache.
        let q = find(&PRICES, vec![d("1.234")], Some(1));
        let cached = compile_select(&q, Dialect::Sqlite).unwrap_err().to_string();
        let fresh = compile_select_uncached(&q, Dialect::Sqlite)
            .unwrap_err()
            .to_string();
        assert_eq!(cached, fresh);
    }
}
