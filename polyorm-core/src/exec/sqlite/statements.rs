//! A SQLite connection with the statements prepared on it, kept by the address of their SQL
//! text ([`StatementConn`]).
//!
//! Why this exists (the one `unsafe` module of the driver, issue 19): rusqlite keeps prepared
//! statements by their text (`prepare_cached`), which costs every statement a trim and two
//! hashes of the whole SQL text, an `Arc<str>` key and a re-link of its LRU list — about a tenth
//! of a one-row read. The SQL the ORM runs most arrives as text its statement caches keep and
//! share (`SqlText::Kept`, an `Arc<str>`): one allocation per distinct text, for the life of the
//! process. Keyed by that allocation's address, a lookup is one hash of a pointer. rusqlite
//! ties a [`Statement`] to the lifetime of a borrow of its [`Connection`], so keeping
//! statements beside the connection they belong to, in one value that can move (between the
//! pool's list, its user and a stream's blocking thread), needs their lifetime extended; that
//! is what the `unsafe` here does, and all it does.
//!
//! What it guarantees:
//! - a kept statement is only ever used on the connection that prepared it, through `&mut` of
//!   the value that owns both, and only lent to a closure generic over its lifetime (it never
//!   leaves this module);
//! - every kept statement is finalized before its connection is closed (`Drop`);
//! - statements whose text is only equal never share a prepared statement: the key is the
//!   address of the shared text, and the entry holds that `Arc`, so the address is not reused
//!   for other text while the statement is kept;
//! - at most [`KEPT`] statements are kept; past that the least recently used one is finalized;
//! - SQL text that is not shared (an insert of many rows, a raw statement) takes rusqlite's own
//!   cache, as before; [`StatementConn::forget`] empties both (a schema change).
#![allow(unsafe_code)]

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::ptr::NonNull;
use std::sync::Arc;

use rusqlite::{Connection, PrepFlags, Statement};

use crate::sql::SqlText;

/// Statements kept per connection by the address of their shared text (sqlx's default cache
/// size; rusqlite's cache, for other text, holds as many again).
pub(crate) const KEPT: usize = 100;

/// The SQL text of a statement to run: shared with the ORM's statement caches (kept by its
/// address) or not (kept by rusqlite, by its text).
#[derive(Clone, Copy)]
pub(crate) enum Sql<'a> {
    /// Text a statement cache keeps and shares.
    Shared(&'a Arc<str>),
    /// Any other text.
    Text(&'a str),
}

impl<'a> From<&'a SqlText> for Sql<'a> {
    fn from(sql: &'a SqlText) -> Self {
        match sql {
            SqlText::Kept(sql) => Sql::Shared(sql),
            SqlText::Fresh(sql) => Sql::Text(sql),
        }
    }
}

impl<'a> From<&'a str> for Sql<'a> {
    fn from(sql: &'a str) -> Self {
        Sql::Text(sql)
    }
}

/// A kept statement.
struct Kept {
    /// The shared text the statement was prepared from: holding it keeps its address (the key)
    /// from being reused for other text.
    sql: Arc<str>,
    /// Prepared on the owning [`StatementConn`]'s connection; its `'static` is a lie this
    /// module keeps true (see the module documentation).
    statement: Statement<'static>,
    /// The owner's use count at this statement's last use (the least recent is evicted).
    used: u64,
    /// Whether the statement has parameters (values to clear after each use).
    parameters: bool,
}

/// Hashes an address: the key is already unique, only spread over the bits the table uses.
#[derive(Default)]
struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_usize(&mut self, address: usize) {
        // Heap addresses are 8-aligned: drop the bits that never differ, then mix.
        self.0 = ((address as u64) >> 3).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A rusqlite [`Connection`] and the statements prepared on it for shared SQL text, moving
/// together (see the module documentation).
pub(crate) struct StatementConn {
    /// Kept statements by the address of their text. Emptied before `conn` is freed.
    kept: HashMap<usize, Kept, BuildHasherDefault<AddressHasher>>,
    /// Statements run through `kept` so far: the clock of [`Kept::used`].
    uses: u64,
    /// The connection, owned: from `Box::into_raw`, freed in `Drop`. A raw pointer rather than
    /// a `Box`, which asserts unique access whenever it moves, while the kept statements hold
    /// shared references to the connection.
    conn: NonNull<Connection>,
}

// SAFETY: `Connection` is `Send`; what is not is `Statement`, for its `&Connection`, which
// another thread could use at the same time as the owner of the connection. Every kept
// statement refers to `conn`, which this value owns: they always move to another thread
// together, and are only used through `&mut self` (or `&self`, which is not `Sync`: no
// `Sync` impl, and `NonNull` and `Statement` are `!Sync`), so never from two threads at once.
unsafe impl Send for StatementConn {}

impl StatementConn {
    /// Takes ownership of `conn`, with no statement kept yet.
    pub(crate) fn new(conn: Connection) -> Self {
        StatementConn {
            kept: HashMap::with_capacity_and_hasher(16, BuildHasherDefault::default()),
            uses: 0,
            conn: NonNull::from(Box::leak(Box::new(conn))),
        }
    }

    /// The connection.
    pub(crate) fn conn(&self) -> &Connection {
        // SAFETY: `conn` comes from `Box::into_raw` (through `Box::leak`) and is freed only in
        // `Drop`; only shared references to it are ever made.
        unsafe { self.conn.as_ref() }
    }

    /// Runs `run` on the connection and the statement prepared for `sql`: kept by the address
    /// of shared text (prepared on first use), or from rusqlite's cache for other text.
    /// Preparing's errors are `run`'s error type's.
    pub(crate) fn with_statement<R, E: From<rusqlite::Error>>(
        &mut self,
        sql: Sql<'_>,
        run: impl for<'c> FnOnce(&Connection, &mut Statement<'c>) -> Result<R, E>,
    ) -> Result<R, E> {
        let shared = match sql {
            Sql::Shared(shared) => shared,
            Sql::Text(text) => {
                let conn = self.conn();
                let mut statement = conn.prepare_cached(text)?;
                return run(conn, &mut statement);
            }
        };
        self.uses += 1;
        let address = Arc::as_ptr(shared).cast::<u8>() as usize;
        // SAFETY: as in `conn` (a reference made from the pointer, not a borrow of `self`).
        let conn = unsafe { self.conn.as_ref() };
        // One lookup when the statement is kept (every use but the first).
        if let Some(kept) = self.kept.get_mut(&address) {
            return Self::run_kept(kept, self.uses, shared, conn, run);
        }
        self.prepare(shared, address)?;
        let kept = self
            .kept
            .get_mut(&address)
            .expect("kept by `prepare` just now");
        Self::run_kept(kept, self.uses, shared, conn, run)
    }

    /// Runs `run` on the kept statement `kept` of `shared` at use `uses`.
    #[inline]
    fn run_kept<R, E>(
        kept: &mut Kept,
        uses: u64,
        shared: &Arc<str>,
        conn: &Connection,
        run: impl for<'c> FnOnce(&Connection, &mut Statement<'c>) -> Result<R, E>,
    ) -> Result<R, E> {
        debug_assert!(Arc::ptr_eq(&kept.sql, shared));
        kept.used = uses;
        let ran = run(conn, &mut kept.statement);
        // As rusqlite's cache does on taking a statement back: a kept statement holds no copy
        // of the last values bound (a large text or blob) until its next use. A statement
        // without parameters has none to clear.
        if kept.parameters {
            kept.statement.clear_bindings();
        }
        ran
    }

    /// Prepares `sql` and keeps it under `address`, making room first.
    #[cold]
    fn prepare(&mut self, sql: &Arc<str>, address: usize) -> rusqlite::Result<()> {
        // SAFETY: the statement prepared on this `'static` reference is kept in `kept` only,
        // which `Drop` empties before freeing the connection, and leaves this value only lent
        // to a closure generic over its lifetime (`with_statement`): it never outlives the
        // connection, and only shared references to the connection exist.
        let conn: &'static Connection = unsafe { &*self.conn.as_ptr() };
        // As rusqlite's cache prepares (whose statements this one's replace): trimmed, and
        // flagged as kept for long.
        let statement =
            conn.prepare_with_flags(sql.trim(), PrepFlags::SQLITE_PREPARE_PERSISTENT)?;
        if self.kept.len() >= KEPT {
            self.evict();
        }
        let parameters = statement.parameter_count() > 0;
        self.kept.insert(
            address,
            Kept {
                sql: sql.clone(),
                statement,
                used: self.uses,
                parameters,
            },
        );
        Ok(())
    }

    /// Finalizes the least recently used kept statement.
    fn evict(&mut self) {
        let oldest = self
            .kept
            .iter()
            .min_by_key(|(_, kept)| kept.used)
            .map(|(address, _)| *address);
        if let Some(address) = oldest {
            self.kept.remove(&address);
        }
    }

    /// Finalizes every prepared statement, kept here and in rusqlite's cache (after a schema
    /// change: the next use prepares against the new schema).
    pub(crate) fn forget(&mut self) {
        self.kept.clear();
        self.conn().flush_prepared_statement_cache();
    }

    /// Statements kept by shared text.
    #[cfg(test)]
    fn kept(&self) -> usize {
        self.kept.len()
    }
}

impl Drop for StatementConn {
    fn drop(&mut self) {
        // Statements first: SQLite refuses to close a connection with statements left.
        self.kept.clear();
        // SAFETY: `conn` comes from `Box::into_raw` (through `Box::leak`) and is freed only
        // here; no statement refers to it any more (cleared above).
        drop(unsafe { Box::from_raw(self.conn.as_ptr()) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> StatementConn {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
            .unwrap();
        StatementConn::new(conn)
    }

    fn count(conn: &mut StatementConn, sql: &Arc<str>) -> i64 {
        conn.with_statement(Sql::Shared(sql), |_, statement| {
            statement.query_row([], |row| row.get::<_, i64>(0))
        })
        .unwrap()
    }

    #[test]
    fn kept_statements_stay_within_their_bound_and_keep_the_recent_ones() {
        let mut conn = open();
        let texts: Vec<Arc<str>> = (0..=KEPT)
            .map(|n| Arc::from(format!("SELECT {n} + count(*) FROM t")))
            .collect();
        for (n, text) in texts.iter().enumerate() {
            assert_eq!(count(&mut conn, text), n as i64);
            // The first stays the most recently used but one.
            assert_eq!(count(&mut conn, &texts[0]), 0);
        }
        assert_eq!(conn.kept(), KEPT);
        assert!(
            conn.kept
                .contains_key(&(Arc::as_ptr(&texts[0]).cast::<u8>() as usize))
        );
        assert!(
            !conn
                .kept
                .contains_key(&(Arc::as_ptr(&texts[1]).cast::<u8>() as usize))
        );
    }

    #[test]
    fn equal_text_in_two_allocations_gets_two_statements() {
        let mut conn = open();
        let one: Arc<str> = Arc::from("SELECT count(*) FROM t");
        let two: Arc<str> = Arc::from("SELECT count(*) FROM t");
        assert_eq!(count(&mut conn, &one), 0);
        assert_eq!(count(&mut conn, &two), 0);
        assert_eq!(conn.kept(), 2);
        conn.forget();
        assert_eq!(conn.kept(), 0);
    }

    #[test]
    fn moves_to_another_thread_with_its_statements_and_closes_cleanly() {
        let mut conn = open();
        let sql: Arc<str> = Arc::from("SELECT count(*) FROM t");
        assert_eq!(count(&mut conn, &sql), 0);
        let sql2 = sql.clone();
        let mut conn = std::thread::spawn(move || {
            conn.conn()
                .execute("INSERT INTO t (v) VALUES ('a')", [])
                .unwrap();
            assert_eq!(count(&mut conn, &sql2), 1);
            conn
        })
        .join()
        .unwrap();
        assert_eq!(count(&mut conn, &sql), 1);
        // Dropped with a statement kept: finalized before the connection closes (rusqlite
        // panics when closing a connection with statements left).
        drop(conn);
    }
}
