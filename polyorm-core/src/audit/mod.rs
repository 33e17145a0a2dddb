//! A tamper-evident audit trail of every write (feature `audit`).
//!
//! [`Db::audited`](crate::Db::audited) wraps a database so that every write made through it —
//! insert, upsert, update, delete, bulk update and delete, and raw SQL — leaves an
//! [`AuditRecord`] in the table `orm_audit_log`, with the actor, trace id and request id of
//! the task's [`AuditContext`], the table, the keys of the rows written and, when asked for,
//! the values written and those updated or deleted rows held before
//! ([`Audit::record_changes`], with [`Audit::redact`] for secrets).
//!
//! ```
//! # #[cfg(feature = "sqlite")]
//! # async fn run() -> polyorm_core::Result<()> {
//! use polyorm_core::audit::{self, Audit, AuditContext};
//!
//! let db = polyorm_core::Db::connect("sqlite::memory:").await?;
//! audit::create_tables(&db).await?;
//! let audited = db.audited(Audit::new().record_changes().redact("password"));
//! AuditContext::new()
//!     .with_actor("admin")
//!     .with_request_id("req-1")
//!     .scope(audited.execute_raw("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
//!     .await?;
//! assert!(audit::verify(&db).await?.is_intact());
//! # Ok(()) }
//! # use polyorm_core::Executor;
//! ```
//!
//! # Guarantees
//!
//! - **Same transaction.** A record is written in the transaction of the write it records: a
//!   write made on the audited handle directly runs in a transaction of its own with its
//!   record; in a transaction begun on it, the records of all its writes are appended just
//!   before it commits. A rolled-back (or dropped) transaction leaves no record, and a
//!   failed append aborts the commit.
//! - **Chained.** Each record carries a hash over the hash the chain ended with before its
//!   transaction (`prev_hash`), its `seq` and the digest of its content, which includes the
//!   digest of the record before it in the same transaction
//!   ([`AuditRecord::canonical_bytes`], [`AuditRecord::chain_hash`]); the head row
//!   (`orm_audit_head`) holds the last one's. The ORM computes the digests, the database the
//!   hashes (on SQL), so appending needs no read of the head first.
//! - **Never forked.** Appending moves the head row, with an `UPDATE` (PostgreSQL) or, in
//!   the linking trigger, a `SELECT … FOR UPDATE` (MySQL/MariaDB) that locks it until the
//!   transaction ends (SQLite: its single writer), and links the records to what it moved
//!   from, so concurrent transactions append one after the other, each to the head the one
//!   before committed. MongoDB has no lock to wait on: of two transactions appending
//!   at once, the second fails (a write conflict on the head, or a duplicate `seq`, the log's
//!   key) and rolls back, to be retried; either way `seq` being the key rules out two
//!   records at one position.
//! - **Verifiable.** [`verify`] names each row edited, deleted or inserted behind the
//!   audit's back ([`ChainReport::breaks`]).
//! - **No secret in the clear.** Bound values are recorded only with
//!   [`Audit::record_changes`], and never those of a column [`redact`](Audit::redact)ed;
//!   statement text is recorded with placeholders only.
//!
//! # What a record holds
//!
//! - insert and upsert: one record per row, with its key (the row's key values, or the key
//!   the database generated for a one-row insert; `NULL` for generated keys of a many-row
//!   insert) and, with `record_changes`, the values inserted.
//! - update and delete: one record per statement with the affected row count. When the
//!   audit records changes, or the filter names no key, the rows the statement is about to
//!   write are read first, in its transaction (`SELECT … FOR UPDATE` where the backend locks
//!   rows, so that they cannot change in between), by key order. `row_key` holds the keys
//!   the filter names (`key = v`, `key IN (…)`, `=` on every column of a composite key,
//!   alone or AND-ed with further conditions, in which case only some of them may have
//!   matched: `rows_affected` says how many did), else the keys of the rows read; a filter
//!   that names no key also leaves its statement's SQL text, with placeholders, in
//!   `statement` (`NULL` on MongoDB). With `record_changes`, an update's record holds the
//!   assigned values (an increment as `column + delta`) in `changes`, and every record of an
//!   update or delete the rows as they were before it in `before_values` (every column,
//!   redacted alike). The rows read are held in memory until the transaction commits.
//! - raw SQL ([`crate::Executor::execute_raw`], `execute_compiled`):
//!   one record with the SQL text (placeholders, never values), `table_name` `NULL`. DDL on
//!   MySQL/MariaDB commits the transaction it runs in, so its record is written after it, in
//!   a transaction of its own, not atomically with it.
//!
//! # Cost
//!
//! A transaction with writes costs one statement more than the writes it made, at commit (and
//! once more per further 500 records), on SQL: **PostgreSQL** a data-modifying `WITH`
//! (`UPDATE` the head `RETURNING` its old `seq` and hash, `INSERT … SELECT` the records
//! hashed with `sha256()`); **MySQL/MariaDB and SQLite** a plain multi-row
//! `INSERT … VALUES` that the linking trigger `orm_audit_link`, created with the tables,
//! links to the chain row by row (`SHA2(…, 256)`, and on SQLite `orm_audit_sha256`, which the
//! ORM's SQLite driver registers on its connections: another program's connection cannot
//! insert into the log). An audited handle's first append there asks once whether the
//! trigger exists; audit tables made before it are appended to in two statements (`UPDATE`
//! the head, then `INSERT … SELECT` it) until [`create_tables`] adds it. **Two on MongoDB**
//! (its query language has no SHA-256, so the ORM hashes, and needs the head's hash first):
//! move the head the handle's last append left with a compare-and-set `update`, then insert
//! the records; three on the handle's first append (read the head, insert, move), four when
//! another handle or process appended since (the compare-and-set matches nothing). A write
//! outside a transaction also pays for the transaction around it (`BEGIN`, `COMMIT`). An
//! update or delete that reads its rows first (see above) costs one select
//! more. Other reads cost nothing.
//!
//! # Tables
//!
//! [`create_tables`] creates `orm_audit_log` and `orm_audit_head` (their schemas are
//! [`AUDIT_LOG`] and [`AUDIT_HEAD`]; with the `registry` feature, which the facade's
//! `migrate` feature turns on, both are in the migration engine's model list, so that a
//! migrate binary creates them like any model's table, and the linking trigger with the log,
//! which its drift check expects); the head row is created on the first append when
//! missing. Appending on SQLite needs the ORM's own driver (the hash function
//! is registered on its connections).

mod append;
mod capture;
mod context;
mod layer;
mod table;
mod trigger;
mod verify;

use std::sync::Arc;

pub use capture::REDACTED;
pub use context::AuditContext;
pub use layer::{AuditLayer, Audited};
pub use table::{AUDIT_HEAD, AUDIT_LOG, AuditRecord, GENESIS_HASH};
pub use verify::{BreakKind, ChainBreak, ChainReport, verify};

use crate::error::{Error, Result};
use crate::exec::{Backend, Db, Executor};
use crate::query::ir::{Projection, SelectQuery};

/// What the audit records (see the [module docs](self)): build it, then hand it to
/// [`Db::audited`](crate::Db::audited).
#[derive(Debug, Clone, Default)]
pub struct Audit {
    config: Arc<Config>,
    /// What the handle's appends remember (whether the trigger exists, MongoDB's head).
    cache: append::HandleCache,
}

#[derive(Debug, Clone, Default)]
struct Config {
    record_changes: bool,
    /// `(table, column)`; a `None` table redacts the column in every table.
    redacted: Vec<(Option<String>, String)>,
}

impl Audit {
    /// An audit that records keys, not values.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also records the values each write sets (inserted rows, assigned columns) in
    /// [`AuditRecord::changes`], and the rows an update or delete writes as they were before
    /// it in [`AuditRecord::before_values`] (read in its transaction first: one select more
    /// per update or delete statement).
    pub fn record_changes(mut self) -> Self {
        Arc::make_mut(&mut self.config).record_changes = true;
        self
    }

    /// Never records the value of a column named `column`, in any table: it reads
    /// [`REDACTED`].
    pub fn redact(mut self, column: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.config)
            .redacted
            .push((None, column.into()));
        self
    }

    /// Never records the value of `table`'s column `column`.
    pub fn redact_in(mut self, table: impl Into<String>, column: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.config)
            .redacted
            .push((Some(table.into()), column.into()));
        self
    }

    /// This configuration for a new audited handle: it finds afresh how its database links
    /// records and where its chain ends (another handle's may be another database's).
    pub(crate) fn for_new_handle(mut self) -> Self {
        self.cache = append::HandleCache::default();
        self
    }

    /// Whether written values are recorded.
    pub fn records_changes(&self) -> bool {
        self.config.record_changes
    }

    /// Whether `table`'s column `column` is redacted.
    pub fn is_redacted(&self, table: &str, column: &str) -> bool {
        self.config
            .redacted
            .iter()
            .any(|(t, c)| c == column && t.as_deref().is_none_or(|t| t == table))
    }
}

/// Creates the audit tables unless they exist, the linking trigger of MySQL/MariaDB and
/// SQLite unless it exists (also on tables made before it), and the empty chain's head row.
/// Run it on the plain database (not the audited handle), once, like a migration; creating
/// the trigger on MySQL/MariaDB takes the `TRIGGER` privilege (and, with binary logging on,
/// `SUPER` or `log_bin_trust_function_creators`). Where the server refuses the trigger, the
/// tables are still made and appends take two statements instead of one (a warning is logged
/// with the `tracing` feature); run this again once the privilege is granted.
///
/// On MongoDB the collections are created by their first write; this creates the head.
pub async fn create_tables(db: &Db) -> Result<()> {
    if let Backend::Sql(dialect) = db.backend() {
        for schema in [&AUDIT_LOG, &AUDIT_HEAD] {
            for statement in crate::sql::ddl::create_table(schema, dialect, true)? {
                db.execute_raw(&statement).await?;
            }
        }
        // The chain stays correct without the trigger (two statements per append).
        if let Err(refused) = trigger::ensure_link_trigger(db).await {
            #[cfg(feature = "tracing")]
            tracing::warn!(
                error = %refused,
                "the audit's linking trigger could not be created: appends take two \
                 statements; grant TRIGGER (and, with binary logging, SUPER or \
                 log_bin_trust_function_creators) and run create_tables again"
            );
            #[cfg(not(feature = "tracing"))]
            let _ = refused;
        }
    }
    db.execute(append::seed_head()).await?;
    Ok(())
}

/// Registers on a SQLite connection the function appending hashes the chain with
/// (`orm_audit_sha256(text)`: SHA-256 of the text's UTF-8, lowercase hex; `NULL` for `NULL`).
#[cfg(feature = "sqlite")]
pub(crate) fn register_sqlite_functions(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    use sha2::{Digest, Sha256};
    conn.create_scalar_function(
        append::SQLITE_SHA256,
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let text: Option<String> = ctx.get(0)?;
            Ok(text.map(|t| hex::encode(Sha256::digest(t))))
        },
    )
}

/// Every record of the log, in chain order (reads the whole table).
pub async fn records<E: Executor>(db: &E) -> Result<Vec<AuditRecord>> {
    let mut rows = db
        .fetch_all(
            SelectQuery::new(&AUDIT_LOG, Projection::Model),
            AuditRecord::decode,
        )
        .await
        .map_err(|e| match e {
            Error::Database { .. } => Error::Config(format!(
                "cannot read the audit log `{}`: {e}; create it with \
                 `polyorm::audit::create_tables`",
                AUDIT_LOG.table
            )),
            other => other,
        })?;
    rows.sort_by_key(|r| r.seq);
    Ok(rows)
}
