//! Prepared statements that outlive a schema change.
//!
//! sqlx keeps each connection's prepared statements for reuse. When a migration changes a
//! table under them (say `ALTER COLUMN … TYPE`), PostgreSQL refuses to run such a statement
//! ("cached plan must not change result type", [`Error::SchemaChanged`]) until the connection
//! forgets it. Three mechanisms keep a running application working:
//! - a connection whose statement failed that way forgets all its prepared statements at once
//!   ([`forget_if_stale`]), so it fails at most once per schema change;
//! - on a [`Db`](super::Db) the failed statement is prepared again and retried (nothing ran:
//!   the server refuses it before executing), so pool users never see the error
//!   ([`super::sql_runner`]);
//! - DDL run through a `Db` (or its transactions and connections) is recorded in its
//!   [`SchemaClock`], and a PostgreSQL pool replaces every connection opened before it when it
//!   is next handed out, so even transactions never meet a stale statement after the `Db`'s
//!   own migrations. A SQLite file pool does the same: SQLite prepares statements again
//!   itself, but checks some DDL (`ALTER TABLE … RENAME TO x`) against a connection's cached
//!   schema, in which a table another connection dropped still exists. (An in-memory SQLite
//!   database lives and dies with its one connection, which is never replaced; MariaDB needs
//!   neither.)

use std::sync::atomic::{AtomicU64, Ordering};
#[cfg(any(feature = "postgres", feature = "mysql"))]
use std::time::Duration;
use std::time::Instant;

#[cfg(feature = "_sqlx")]
use crate::error::{Error, Result};

/// When DDL last ran through one [`Db`](super::Db) (shared by its clones, transactions and
/// connections).
#[derive(Debug)]
pub(crate) struct SchemaClock {
    origin: Instant,
    /// Nanoseconds from `origin` to the end of the last schema change; 0 for none yet.
    last_change: AtomicU64,
}

impl SchemaClock {
    pub(crate) fn new() -> Self {
        SchemaClock {
            origin: Instant::now(),
            last_change: AtomicU64::new(0),
        }
    }

    /// Records that a schema change has just completed (or committed).
    pub(crate) fn record_change(&self) {
        let nanos = u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.last_change.fetch_max(nanos.max(1), Ordering::AcqRel);
    }

    /// Now, as this clock records changes: to stamp a connection with when it was opened, for
    /// [`stamped_before_last_change`](Self::stamped_before_last_change).
    #[cfg(feature = "sqlite")]
    pub(crate) fn stamp(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Whether a connection stamped `opened` ([`stamp`](Self::stamp)) at its opening predates
    /// the last schema change: the check the server pools make by instant, with no
    /// arithmetic, for a pool that checks at every statement.
    #[cfg(feature = "sqlite")]
    pub(crate) fn stamped_before_last_change(&self, opened: u64) -> bool {
        let last = self.last_change.load(Ordering::Acquire);
        last != 0 && opened <= last
    }

    /// Whether a connection opened at `opened` predates the last schema change, so that its
    /// prepared statements may describe the old schema (one addition: it runs at every
    /// hand-out).
    #[cfg(any(feature = "postgres", feature = "mysql"))]
    pub(crate) fn opened_before_last_change(&self, opened: Instant) -> bool {
        let last = self.last_change.load(Ordering::Acquire);
        last != 0
            && self
                .origin
                .checked_add(Duration::from_nanos(last))
                .is_none_or(|change| opened <= change)
    }
}

/// Whether `sql` (one or more statements) can change the shape of a table or view: a
/// statement beginning with `ALTER`, `DROP`, `CREATE` or `RENAME`. Errs on the side of yes:
/// the only cost is that the pool opens fresh connections.
pub(crate) fn changes_schema(sql: &str) -> bool {
    sql.split(';')
        .any(|statement| starts_with_keyword(statement, &["ALTER", "DROP", "CREATE", "RENAME"]))
}

/// Whether the first word of `sql` is one of `keywords` (ASCII, any case).
pub(crate) fn starts_with_keyword(sql: &str, keywords: &[&str]) -> bool {
    let word = sql
        .trim_start()
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or_default();
    keywords.iter().any(|kw| word.eq_ignore_ascii_case(kw))
}

/// Passes `result` through; when it is [`Error::SchemaChanged`], first makes `conn` forget its
/// prepared statements so that the next ones are prepared against the new schema.
#[cfg(feature = "_sqlx")]
pub(crate) async fn forget_if_stale<C, T>(conn: &mut C, result: Result<T>) -> Result<T>
where
    C: sqlx::Connection,
    C::Database: sqlx::database::HasStatementCache,
{
    if let Err(Error::SchemaChanged { .. }) = &result {
        // A connection that cannot even close its statements is broken: the pool's ping
        // discards it before its next use, and the statement's own error is the one to report.
        let _broken = conn.clear_cached_statements().await;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_is_recognised_at_the_start_of_any_statement() {
        assert!(changes_schema("ALTER TABLE t ALTER COLUMN c TYPE bigint"));
        assert!(changes_schema("  drop table t"));
        assert!(changes_schema(
            "BEGIN; alter table t add column c int; COMMIT"
        ));
        assert!(changes_schema("CREATE OR REPLACE VIEW v AS SELECT 1"));
        assert!(!changes_schema("SELECT 'ALTER TABLE t'"));
        assert!(!changes_schema("INSERT INTO t VALUES (1)"));
        assert!(!changes_schema("altered"));
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn connections_stamped_before_a_change_predate_it() {
        let clock = SchemaClock::new();
        let before = clock.stamp();
        assert!(!clock.stamped_before_last_change(before));
        std::thread::sleep(std::time::Duration::from_millis(5));
        let older = clock.stamp();
        std::thread::sleep(std::time::Duration::from_millis(5));
        clock.record_change();
        assert!(clock.stamped_before_last_change(before));
        assert!(clock.stamped_before_last_change(older));
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(!clock.stamped_before_last_change(clock.stamp()));
    }

    #[cfg(any(feature = "postgres", feature = "mysql"))]
    #[test]
    fn connections_opened_before_a_change_predate_it_by_their_open_time() {
        let before = Instant::now();
        let clock = SchemaClock::new();
        assert!(!clock.opened_before_last_change(before));
        std::thread::sleep(Duration::from_millis(5));
        let older = Instant::now();
        std::thread::sleep(Duration::from_millis(5));
        clock.record_change();
        assert!(clock.opened_before_last_change(before));
        assert!(clock.opened_before_last_change(older));
        std::thread::sleep(Duration::from_millis(5));
        let newer = Instant::now();
        assert!(!clock.opened_before_last_change(newer));
    }
}
