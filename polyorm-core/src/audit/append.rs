//! Appending a transaction's records to the chain, in the transaction.
//!
//! The ORM computes each record's [digest](AuditRecord::digest) (the records of one
//! transaction chained to each other through it); the database links them to the chain: it
//! moves the head (`seq + n`, the new `hash`, and the old `hash` kept as `prev_hash`) and
//! inserts the records, each hashed over `{prev_hash}:{seq}:{digest}`. Moving the head waits
//! for (and then reads) any concurrent appender's committed head, so appenders take turns
//! and never fork the chain:
//!
//! - PostgreSQL: one statement, the `UPDATE … RETURNING` of the head in a data-modifying
//!   `WITH` whose `INSERT … SELECT` writes the records.
//! - MySQL/MariaDB and SQLite: one statement, a plain multi-row `INSERT … VALUES` that the
//!   [linking trigger](super::trigger) (`orm_audit_link`, made with the tables) links to the
//!   chain row by row. Whether the database has the trigger is found on the first append of
//!   an [`Audited`](super::Audited) handle (one select, kept by its clones); audit tables made
//!   before the trigger existed are appended to as before, in two statements: the `UPDATE`
//!   of the head then the `INSERT … SELECT` that reads it (neither has data-modifying
//!   `WITH`, and MySQL's `UPDATE` returns no rows) — [`create_tables`](super::create_tables)
//!   adds the trigger to them.
//! - MongoDB: its query language has no SHA-256, so the ORM hashes and needs the head's hash
//!   first. Two when the head is the one the handle's last append left (kept in memory, per
//!   [`Audited`](super::Audited) handle): move it with a compare-and-set `update` (filtered
//!   on that `seq` and `hash`), insert the records. Three otherwise — the handle's first
//!   append, or when another handle or process appended since (the compare-and-set matched
//!   nothing, one statement more): read (lock) the head, insert the records, move the head.
//!   Concurrent transactions moving the head conflict (a write conflict), as they did.
//!
//! Each of these once per [`RECORDS_PER_BATCH`] records.

use std::sync::{Arc, Mutex, OnceLock};

use super::capture::Pending;
use super::table::{AUDIT_HEAD, AUDIT_LOG, AuditRecord, GENESIS_HASH, HEAD_ID, Head};
use super::trigger::has_link_trigger;
use crate::error::{Error, Result};
use crate::exec::{Backend, Executor};
use crate::query::ir::{
    Assignment, CmpOp, ColumnRef, Condition, InsertQuery, OnConflict, Projection, RowLock,
    SelectQuery, Statement, UpdateQuery, UpsertQuery,
};
use crate::sql::{Compiled, Dialect};
use crate::value::{FieldType, Value};

/// Records appended by one append (12 bound values each, well under every dialect's limit on
/// bound parameters); a transaction with more appends once per this many.
pub(crate) const RECORDS_PER_BATCH: usize = 500;

/// The name of the SHA-256 function the ORM's SQLite driver registers on its connections
/// (text in, lowercase hex out).
pub(crate) const SQLITE_SHA256: &str = "orm_audit_sha256";

/// The log's columns the ORM supplies, in order; `seq`, `prev_hash` and `hash` come from the
/// head. The digest follows them in each row of the batch.
const SUPPLIED: [&str; 11] = [
    "recorded_at_us",
    "actor",
    "trace_id",
    "request_id",
    "operation",
    "table_name",
    "row_key",
    "changes",
    "before_values",
    "statement",
    "rows_affected",
];

/// What an audited handle's appends remember, shared by its clones and their transactions.
#[derive(Debug, Clone, Default)]
pub(crate) struct HandleCache(Arc<Remembered>);

#[derive(Debug, Default)]
struct Remembered {
    /// Whether the database links records with the [linking trigger](super::trigger)
    /// (MySQL/MariaDB and SQLite): found by the handle's first append.
    linked: OnceLock<bool>,
    /// MongoDB: the head (`seq`, `hash`) as this handle's last append left it, which the next
    /// one moves without reading it first, if it is still the head.
    head: Mutex<Option<(i64, String)>>,
}

impl HandleCache {
    /// Whether the database behind `tx` has the trigger (asked once).
    async fn linked<E: Executor>(&self, tx: &E) -> Result<bool> {
        if let Some(linked) = self.0.linked.get() {
            return Ok(*linked);
        }
        let linked = has_link_trigger(tx).await?;
        Ok(*self.0.linked.get_or_init(|| linked))
    }

    fn head(&self) -> Option<(i64, String)> {
        self.0.head.lock().ok().and_then(|head| head.clone())
    }

    fn remember_head(&self, head: Option<(i64, String)>) {
        if let Ok(mut cached) = self.0.head.lock() {
            *cached = head;
        }
    }
}

/// Appends `records` to the chain in transaction `tx` (see the module docs for the
/// statements it takes).
pub(crate) async fn append<E: Executor>(
    tx: &E,
    mut records: Vec<Pending>,
    cache: &HandleCache,
) -> Result<()> {
    while !records.is_empty() {
        let rest = records.split_off(records.len().min(RECORDS_PER_BATCH));
        let batch = digested(std::mem::replace(&mut records, rest));
        match tx.backend() {
            Backend::Sql(Dialect::Postgres) => append_sql(tx, Dialect::Postgres, &batch).await?,
            Backend::Sql(dialect) if cache.linked(tx).await? => {
                tx.execute_compiled(insert_for_trigger(dialect, &batch))
                    .await?;
            }
            Backend::Sql(dialect) => append_sql(tx, dialect, &batch).await?,
            _ => append_unhashed(tx, batch, cache).await?,
        }
    }
    Ok(())
}

/// The records of one batch with their digests, each chained to the one before.
fn digested(records: Vec<Pending>) -> Vec<(AuditRecord, String)> {
    let mut batch: Vec<(AuditRecord, String)> = Vec::with_capacity(records.len());
    for pending in records {
        let record = pending.into_record();
        let digest = record.digest(batch.last().map(|(_, d)| d.as_str()));
        batch.push((record, digest));
    }
    batch
}

/// One append on SQL, seeding the head row first if it is missing (tables a migration made).
async fn append_sql<E: Executor>(
    tx: &E,
    dialect: Dialect,
    batch: &[(AuditRecord, String)],
) -> Result<()> {
    for attempt in 0..2 {
        let appended = if dialect == Dialect::Postgres {
            tx.execute_compiled(postgres_append(batch))
                .await?
                .rows_affected
                > 0
        } else {
            let moved = tx
                .execute_compiled(move_head(dialect, batch))
                .await?
                .rows_affected
                > 0;
            if moved {
                tx.execute_compiled(insert_linked(dialect, batch)).await?;
            }
            moved
        };
        if appended {
            return Ok(());
        }
        if attempt == 0 {
            tx.execute(seed_head()).await?;
        }
    }
    Err(missing_head())
}

fn missing_head() -> Error {
    Error::InvalidQuery(
        "the audit chain head (`orm_audit_head`, id 1) could not be created; create the audit \
         tables with `polyorm::audit::create_tables`"
            .to_owned(),
    )
}

/// SQL text with its bound values, built left to right.
struct Sql {
    dialect: Dialect,
    text: String,
    values: Vec<Value>,
}

impl Sql {
    fn new(dialect: Dialect) -> Self {
        Sql {
            dialect,
            text: String::with_capacity(1024),
            values: Vec::new(),
        }
    }

    fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// `name` quoted as the dialect quotes identifiers.
    fn quoted(&self, name: &str) -> String {
        if self.dialect == Dialect::MySql {
            format!("`{name}`")
        } else {
            format!("\"{name}\"")
        }
    }

    /// A quoted identifier.
    fn ident(&mut self, name: &str) -> &mut Self {
        let quoted = self.quoted(name);
        self.push(&quoted)
    }

    /// A placeholder bound to `value`, returned rather than written (for expressions built
    /// before they are written); cast to `cast` on PostgreSQL, whose `VALUES` rows give an
    /// untyped parameter no type.
    fn placeholder_for(&mut self, value: Value, cast: &str) -> String {
        self.values.push(value);
        if self.dialect == Dialect::Postgres {
            format!("${}::{cast}", self.values.len())
        } else {
            "?".to_owned()
        }
    }

    /// A placeholder bound to `value` (see [`placeholder_for`](Self::placeholder_for)).
    fn bind(&mut self, value: Value, cast: &str) -> &mut Self {
        let placeholder = self.placeholder_for(value, cast);
        self.push(&placeholder)
    }

    /// The chain hash of `prev`, `seq` and `digest` (SQL expressions): SHA-256, lowercase
    /// hex, of the text `{prev}:{seq}:{digest}`, as [`AuditRecord::chain_hash`].
    fn chain_hash(&mut self, prev: &str, seq: &str, digest: &str) -> &mut Self {
        let hash = match self.dialect {
            Dialect::Postgres => format!(
                "encode(sha256(convert_to({prev} || ':' || ({seq}) || ':' || {digest}, 'UTF8')), \
                 'hex')"
            ),
            Dialect::MySql => format!("SHA2(CONCAT({prev}, ':', {seq}, ':', {digest}), 256)"),
            Dialect::Sqlite => {
                format!("{SQLITE_SHA256}({prev} || ':' || ({seq}) || ':' || {digest})")
            }
        };
        self.push(&hash)
    }

    fn compiled(self) -> Compiled {
        Compiled {
            sql: self.text,
            values: self.values,
        }
    }
}

/// The batch's size (written as a literal: it is no user data) and its last digest, which
/// the head's new hash is taken over.
fn size_and_last(batch: &[(AuditRecord, String)]) -> (usize, Value) {
    let last = batch.last().map(|(_, d)| d.clone()).unwrap_or_default();
    (batch.len(), Value::Text(last))
}

/// `SET prev_hash = hash, hash = <chain hash of the last record>, seq = seq + n WHERE id = 1`:
/// on MySQL the assignments run left to right, each reading the columns the ones before left
/// alone, so the three read the old head on every dialect.
fn head_assignments(sql: &mut Sql, batch: &[(AuditRecord, String)]) {
    let (n, last) = size_and_last(batch);
    let (seq, hash, prev) = (
        sql.quoted("seq"),
        sql.quoted("hash"),
        sql.quoted("prev_hash"),
    );
    sql.push(&format!(" SET {prev} = {hash}, {hash} = "));
    let last = sql.placeholder_for(last, "text");
    sql.chain_hash(&hash, &format!("{seq} + {n}"), &last);
    sql.push(&format!(", {seq} = {seq} + {n} WHERE "))
        .ident("id")
        .push(&format!(" = {HEAD_ID}"));
}

/// The SQL type a supplied column is bound as on PostgreSQL.
fn cast_of(column: &str) -> &'static str {
    match column {
        "recorded_at_us" | "rows_affected" => "bigint",
        _ => "text",
    }
}

/// A supplied column's value of `record`, in [`SUPPLIED`] order.
fn supplied(record: &AuditRecord) -> [Value; 11] {
    let r = record.clone();
    [
        FieldType::into_value(r.recorded_at_us),
        FieldType::into_value(r.actor),
        FieldType::into_value(r.trace_id),
        FieldType::into_value(r.request_id),
        FieldType::into_value(r.operation),
        FieldType::into_value(r.table_name),
        FieldType::into_value(r.row_key),
        FieldType::into_value(r.changes),
        FieldType::into_value(r.before_values),
        FieldType::into_value(r.statement),
        FieldType::into_value(r.rows_affected),
    ]
}

/// `INSERT INTO orm_audit_log (seq, <supplied>, prev_hash, hash)`.
fn insert_into(sql: &mut Sql) {
    sql.push("INSERT INTO ").ident(AUDIT_LOG.table).push(" (");
    sql.ident("seq");
    for column in SUPPLIED {
        sql.push(", ").ident(column);
    }
    sql.push(", ")
        .ident("prev_hash")
        .push(", ")
        .ident("hash")
        .push(")");
}

/// ` SELECT <base> + b.i, b.<supplied>…, <anchor>, <chain hash>` of the records in `b`.
fn select_linked(sql: &mut Sql, base: &str, anchor: &str) {
    let b = |sql: &Sql, column: &str| format!("{}.{}", sql.quoted("b"), sql.quoted(column));
    let seq = format!("{base} + {}", b(sql, "i"));
    sql.push(" SELECT ").push(&seq);
    for column in SUPPLIED {
        let value = b(sql, column);
        sql.push(", ").push(&value);
    }
    let digest = b(sql, "digest");
    sql.push(", ").push(anchor).push(", ");
    sql.chain_hash(anchor, &seq, &digest);
}

/// The batch as rows `(i, <supplied>…, digest)`, `i` from 1: `VALUES (…), (…)` on
/// PostgreSQL and SQLite, `SELECT … UNION ALL SELECT …` on MySQL/MariaDB (whose `VALUES` rows
/// are spelt differently by MySQL and MariaDB).
fn batch_rows(sql: &mut Sql, batch: &[(AuditRecord, String)]) {
    let mysql = sql.dialect == Dialect::MySql;
    if !mysql {
        sql.push("VALUES ");
    }
    for (i, (record, digest)) in batch.iter().enumerate() {
        if i > 0 {
            sql.push(if mysql { " UNION ALL " } else { ", " });
        }
        sql.push(if mysql { "SELECT " } else { "(" });
        sql.push(&(i + 1).to_string());
        if mysql && i == 0 {
            sql.push(" AS ").ident("i");
        }
        for (column, value) in SUPPLIED.iter().zip(supplied(record)) {
            sql.push(", ").bind(value, cast_of(column));
            if mysql && i == 0 {
                sql.push(" AS ").ident(column);
            }
        }
        sql.push(", ").bind(Value::Text(digest.clone()), "text");
        if mysql && i == 0 {
            sql.push(" AS ").ident("digest");
        }
        if !mysql {
            sql.push(")");
        }
    }
}

/// The column list of the batch rows, `(i, <supplied>…, digest)`.
fn batch_columns(sql: &mut Sql) {
    sql.push(" (").ident("i");
    for column in SUPPLIED {
        sql.push(", ").ident(column);
    }
    sql.push(", ").ident("digest").push(")");
}

/// PostgreSQL's one statement: move the head and insert the records linked to its old hash.
fn postgres_append(batch: &[(AuditRecord, String)]) -> Compiled {
    let mut sql = Sql::new(Dialect::Postgres);
    sql.push("WITH \"head\" AS (UPDATE ")
        .ident(AUDIT_HEAD.table);
    head_assignments(&mut sql, batch);
    sql.push(&format!(
        " RETURNING \"seq\" - {} AS \"base\", \"prev_hash\" AS \"anchor\") ",
        batch.len()
    ));
    insert_into(&mut sql);
    select_linked(&mut sql, "\"head\".\"base\"", "\"head\".\"anchor\"");
    sql.push(" FROM \"head\", (");
    batch_rows(&mut sql, batch);
    sql.push(") AS \"b\"");
    batch_columns(&mut sql);
    sql.compiled()
}

/// MySQL/MariaDB and SQLite with the linking trigger, the one statement: the batch's rows
/// as the trigger takes them (`seq` = -1, -2, … in batch order, `prev_hash` empty, the
/// digest in `hash`), which it links to the chain.
fn insert_for_trigger(dialect: Dialect, batch: &[(AuditRecord, String)]) -> Compiled {
    let mut sql = Sql::new(dialect);
    insert_into(&mut sql);
    sql.push(" VALUES ");
    for (i, (record, digest)) in batch.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.push(&format!("(-{}", i + 1));
        for (column, value) in SUPPLIED.iter().zip(supplied(record)) {
            sql.push(", ").bind(value, cast_of(column));
        }
        sql.push(", '', ")
            .bind(Value::Text(digest.clone()), "text")
            .push(")");
    }
    sql.compiled()
}

/// MySQL/MariaDB and SQLite without the linking trigger, first statement: move the head (and
/// lock it).
fn move_head(dialect: Dialect, batch: &[(AuditRecord, String)]) -> Compiled {
    let mut sql = Sql::new(dialect);
    sql.push("UPDATE ").ident(AUDIT_HEAD.table);
    head_assignments(&mut sql, batch);
    sql.compiled()
}

/// MySQL/MariaDB and SQLite without the linking trigger, second statement: insert the records, linked to the head the
/// first one moved (its `seq - n` and `prev_hash` are the old head's `seq` and `hash`).
/// `?` binds in text order, so the rows are written before the `SELECT` that reads them:
/// a `WITH` on SQLite; on MySQL/MariaDB the `SELECT` binds nothing.
fn insert_linked(dialect: Dialect, batch: &[(AuditRecord, String)]) -> Compiled {
    let mut sql = Sql::new(dialect);
    let mysql = dialect == Dialect::MySql;
    if !mysql {
        sql.push("WITH \"b\"");
        batch_columns(&mut sql);
        sql.push(" AS (");
        batch_rows(&mut sql, batch);
        sql.push(") ");
    }
    insert_into(&mut sql);
    let (h_seq, h_prev) = if mysql {
        ("`h`.`seq`", "`h`.`prev_hash`")
    } else {
        ("\"h\".\"seq\"", "\"h\".\"prev_hash\"")
    };
    select_linked(&mut sql, &format!("({h_seq} - {})", batch.len()), h_prev);
    sql.push(" FROM ").ident(AUDIT_HEAD.table);
    if mysql {
        sql.push(" AS `h` JOIN (");
        batch_rows(&mut sql, batch);
        sql.push(") AS `b` WHERE `h`.`id` = ");
    } else {
        sql.push(" AS \"h\", \"b\" WHERE \"h\".\"id\" = ");
    }
    sql.push(&HEAD_ID.to_string());
    sql.compiled()
}

/// MongoDB (and DynamoDB), whose query language has no SHA-256, so the ORM hashes and needs
/// the head first. On MongoDB, with the head this handle's last append left: move it from
/// exactly that head (a compare-and-set `update`) and insert the records. Otherwise, or when
/// that is not the head any more (another handle or process appended, or that transaction
/// rolled back): read (lock) the head, insert the records, move the head.
async fn append_unhashed<E: Executor>(
    tx: &E,
    batch: Vec<(AuditRecord, String)>,
    cache: &HandleCache,
) -> Result<()> {
    // Only where an update that matches nothing is counted as such (tested on MongoDB).
    let cached = if matches!(tx.backend(), Backend::MongoDb) {
        cache.head()
    } else {
        None
    };
    if let Some((seq, hash)) = cached {
        let (rows, moved) = linked_rows(seq, &hash, &batch);
        let filter = Condition::and_all([
            Condition::primary_key_eq(&AUDIT_HEAD, vec![Value::Int(HEAD_ID)]),
            head_column_eq("seq", Value::BigInt(seq)),
            head_column_eq("hash", Value::Text(hash.clone())),
        ]);
        if tx
            .execute(move_head_to(&moved, hash, filter))
            .await?
            .rows_affected
            > 0
        {
            insert_rows(tx, rows).await?;
            cache.remember_head(Some(moved));
            return Ok(());
        }
    }
    let head = locked_head(tx).await?;
    let (rows, moved) = linked_rows(head.seq, &head.hash, &batch);
    insert_rows(tx, rows).await?;
    let filter = Condition::primary_key_eq(&AUDIT_HEAD, vec![Value::Int(HEAD_ID)]);
    tx.execute(move_head_to(&moved, head.hash, filter)).await?;
    cache.remember_head(Some(moved));
    Ok(())
}

/// `orm_audit_head.<column> = value`.
fn head_column_eq(column: &'static str, value: Value) -> Condition {
    Condition::Compare {
        column: ColumnRef {
            table: AUDIT_HEAD.table,
            name: column,
        },
        op: CmpOp::Eq,
        value,
    }
}

/// The batch's rows linked, here, to the head at `seq` with `hash`, and the head after them
/// (`seq`, `hash`).
fn linked_rows(
    seq: i64,
    hash: &str,
    batch: &[(AuditRecord, String)],
) -> (Vec<Vec<Value>>, (i64, String)) {
    let mut last = (seq, hash.to_owned());
    let rows = batch
        .iter()
        .map(|(record, digest)| {
            let mut record = record.clone();
            record.seq = last.0 + 1;
            record.prev_hash = hash.to_owned();
            record.hash = AuditRecord::chain_hash(hash, record.seq, digest);
            last = (record.seq, record.hash.clone());
            record.into_values()
        })
        .collect();
    (rows, last)
}

async fn insert_rows<E: Executor>(tx: &E, rows: Vec<Vec<Value>>) -> Result<()> {
    tx.execute(Statement::Insert(InsertQuery {
        schema: &AUDIT_LOG,
        rows,
        returning: false,
    }))
    .await?;
    Ok(())
}

/// The update of the head matched by `filter` to `moved` (`seq`, `hash`), keeping the hash
/// it moved from as `prev_hash`.
fn move_head_to(moved: &(i64, String), from: String, filter: Condition) -> Statement {
    Statement::Update(UpdateQuery {
        schema: &AUDIT_HEAD,
        assignments: vec![
            ("seq", Assignment::Value(Value::BigInt(moved.0))),
            ("hash", Assignment::Value(Value::Text(moved.1.clone()))),
            ("prev_hash", Assignment::Value(Value::Text(from))),
        ],
        filter: Some(filter),
    })
}

/// The select of the chain head, locking it until the transaction ends where the backend
/// can lock rows.
fn head_query() -> SelectQuery {
    let mut query = SelectQuery::new(&AUDIT_HEAD, Projection::Model);
    query.filter = Some(Condition::primary_key_eq(
        &AUDIT_HEAD,
        vec![Value::Int(HEAD_ID)],
    ));
    query.lock = Some(RowLock::ForUpdate);
    query
}

/// Reads the chain head, creating it (empty chain) when the tables were created by a
/// migration rather than [`create_tables`](super::create_tables).
async fn locked_head<E: Executor>(tx: &E) -> Result<Head> {
    if let Some(head) = tx.fetch_optional(head_query(), Head::decode).await? {
        return Ok(head);
    }
    tx.execute(seed_head()).await?;
    tx.fetch_optional(head_query(), Head::decode)
        .await?
        .ok_or_else(missing_head)
}

/// The insert of the empty chain's head, skipped if it exists.
pub(crate) fn seed_head() -> Statement {
    Statement::Upsert(UpsertQuery {
        insert: InsertQuery {
            schema: &AUDIT_HEAD,
            rows: vec![vec![
                Value::Int(HEAD_ID),
                Value::BigInt(0),
                Value::Text(GENESIS_HASH.to_owned()),
                Value::Text(GENESIS_HASH.to_owned()),
            ]],
            returning: false,
        },
        on_conflict: OnConflict {
            columns: vec!["id"],
            update: Vec::new(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(n: usize) -> Vec<(AuditRecord, String)> {
        (0..n)
            .map(|i| {
                let record = AuditRecord {
                    seq: 0,
                    recorded_at_us: 1,
                    actor: None,
                    trace_id: None,
                    request_id: None,
                    operation: "insert".into(),
                    table_name: Some("t".into()),
                    row_key: None,
                    changes: None,
                    before_values: None,
                    statement: None,
                    rows_affected: 1,
                    prev_hash: String::new(),
                    hash: String::new(),
                };
                (record, format!("d{i}"))
            })
            .collect()
    }

    /// Every placeholder has its value, in the order the dialect binds them.
    #[test]
    fn statements_bind_one_value_per_placeholder() {
        for dialect in [Dialect::MySql, Dialect::Sqlite] {
            for compiled in [
                move_head(dialect, &batch(2)),
                insert_linked(dialect, &batch(2)),
                insert_for_trigger(dialect, &batch(2)),
            ] {
                assert_eq!(
                    compiled.sql.matches('?').count(),
                    compiled.values.len(),
                    "{dialect:?}: {}",
                    compiled.sql
                );
            }
        }
        let pg = postgres_append(&batch(2));
        let highest = (1..=pg.values.len())
            .filter(|i| pg.sql.contains(&format!("${i}::")))
            .count();
        assert_eq!(highest, pg.values.len(), "{}", pg.sql);
        assert!(!pg.sql.contains(&format!("${}::", pg.values.len() + 1)));
    }
}
