//! The linking trigger (`orm_audit_link`) of MySQL/MariaDB and SQLite: the database links
//! each record a plain `INSERT INTO orm_audit_log … VALUES …` writes to the chain, so that an
//! append is one statement on them too (PostgreSQL's data-modifying `WITH` needs none).
//!
//! The ORM inserts each record of a batch with `seq = -i` (`i` from 1 in the batch),
//! `prev_hash = ''` and its [digest](super::AuditRecord::digest) in `hash`; for such a row
//! (`seq < 1`) the trigger reads and locks the head, seeds it when missing, sets the row's
//! `seq` (the head's + 1), `prev_hash` (the head's `hash` for the batch's first record, its
//! `prev_hash`, the anchor that first record moved there, for the others) and `hash`
//! (SHA-256 of `{prev_hash}:{seq}:{digest}`, as [`AuditRecord::chain_hash`]), and moves the
//! head onto it. Rows inserted with a real `seq` (≥ 1) are left as they are. The head's row
//! lock (MySQL/MariaDB) or SQLite's single writer makes concurrent appenders take turns.
//!
//! [`AuditRecord::chain_hash`]: super::AuditRecord::chain_hash

use super::append::SQLITE_SHA256;
use super::table::{AUDIT_HEAD, AUDIT_LOG, GENESIS_HASH, HEAD_ID};
use crate::error::Result;
use crate::exec::{Executor, RowRef};
use crate::sql::{Compiled, Dialect};
use crate::value::{FieldType, Value};

/// The trigger's name.
pub(crate) const LINK_TRIGGER: &str = "orm_audit_link";

/// The `CREATE TRIGGER` of the linking trigger on `dialect`; `None` on PostgreSQL, which
/// appends in one statement without it.
pub(crate) fn create_link_trigger(dialect: Dialect) -> Option<String> {
    let (log, head, genesis) = (AUDIT_LOG.table, AUDIT_HEAD.table, GENESIS_HASH);
    match dialect {
        Dialect::Postgres => None,
        // A BEFORE trigger assigns NEW; its statement reads no head, so the head's UPDATE
        // is allowed (no error 1442). `SELECT … FOR UPDATE` waits for a concurrent
        // appender's commit and reads its head.
        Dialect::MySql => Some(format!(
            "CREATE TRIGGER `{LINK_TRIGGER}` BEFORE INSERT ON `{log}` FOR EACH ROW\n\
             BEGIN\n\
             \x20 DECLARE h_seq BIGINT DEFAULT NULL;\n\
             \x20 DECLARE h_hash, h_prev, anchor TEXT DEFAULT NULL;\n\
             \x20 DECLARE CONTINUE HANDLER FOR NOT FOUND SET h_seq = NULL;\n\
             \x20 IF NEW.`seq` < 1 THEN\n\
             \x20   SELECT `seq`, `hash`, `prev_hash` INTO h_seq, h_hash, h_prev FROM `{head}` \
             WHERE `id` = {HEAD_ID} FOR UPDATE;\n\
             \x20   IF h_seq IS NULL THEN\n\
             \x20     INSERT IGNORE INTO `{head}` (`id`, `seq`, `hash`, `prev_hash`) \
             VALUES ({HEAD_ID}, 0, '{genesis}', '{genesis}');\n\
             \x20     SELECT `seq`, `hash`, `prev_hash` INTO h_seq, h_hash, h_prev FROM `{head}` \
             WHERE `id` = {HEAD_ID} FOR UPDATE;\n\
             \x20   END IF;\n\
             \x20   IF NEW.`seq` = -1 THEN\n\
             \x20     SET anchor = h_hash;\n\
             \x20   ELSE\n\
             \x20     SET anchor = h_prev;\n\
             \x20   END IF;\n\
             \x20   SET NEW.`seq` = h_seq + 1;\n\
             \x20   SET NEW.`prev_hash` = anchor;\n\
             \x20   SET NEW.`hash` = SHA2(CONCAT(anchor, ':', NEW.`seq`, ':', NEW.`hash`), 256);\n\
             \x20   UPDATE `{head}` SET `seq` = NEW.`seq`, `hash` = NEW.`hash`, \
             `prev_hash` = anchor WHERE `id` = {HEAD_ID};\n\
             \x20 END IF;\n\
             END"
        )),
        // SQLite assigns no NEW: an AFTER trigger moves the head (every assignment reads the
        // old row), then copies it onto the row. A connection without `orm_audit_sha256`
        // cannot prepare any insert into the log ("no such function").
        Dialect::Sqlite => {
            let anchor = "CASE WHEN NEW.\"seq\" = -1 THEN \"hash\" ELSE \"prev_hash\" END";
            Some(format!(
                "CREATE TRIGGER \"{LINK_TRIGGER}\" AFTER INSERT ON \"{log}\" FOR EACH ROW \
                 WHEN NEW.\"seq\" < 1\n\
                 BEGIN\n\
                 \x20 INSERT OR IGNORE INTO \"{head}\" (\"id\", \"seq\", \"hash\", \"prev_hash\") \
                 VALUES ({HEAD_ID}, 0, '{genesis}', '{genesis}');\n\
                 \x20 UPDATE \"{head}\" SET \"prev_hash\" = {anchor}, \"hash\" = \
                 {SQLITE_SHA256}({anchor} || ':' || (\"seq\" + 1) || ':' || NEW.\"hash\"), \
                 \"seq\" = \"seq\" + 1 WHERE \"id\" = {HEAD_ID};\n\
                 \x20 UPDATE \"{log}\" SET (\"seq\", \"prev_hash\", \"hash\") = \
                 (SELECT \"seq\", \"prev_hash\", \"hash\" FROM \"{head}\" WHERE \"id\" = {HEAD_ID}) \
                 WHERE \"seq\" = NEW.\"seq\";\n\
                 END"
            ))
        }
    }
}

// The migration engine creates the trigger with the log table and does not take it for drift.
#[cfg(feature = "registry")]
inventory::submit! {
    crate::registry::RegisteredTrigger {
        table: AUDIT_LOG.table,
        name: LINK_TRIGGER,
        create: create_link_trigger,
    }
}

/// Whether the linking trigger exists in the database `db` is connected to (always `false`
/// on PostgreSQL and MongoDB, which have none).
pub(crate) async fn has_link_trigger<E: Executor>(db: &E) -> Result<bool> {
    let sql = match db.dialect() {
        Some(Dialect::MySql) => {
            "SELECT COUNT(*) FROM information_schema.TRIGGERS \
             WHERE TRIGGER_SCHEMA = DATABASE() AND TRIGGER_NAME = ?"
        }
        Some(Dialect::Sqlite) => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name = ?"
        }
        _ => return Ok(false),
    };
    let count = |row: &RowRef<'_>| -> Result<i64> { FieldType::decode(row, 0) };
    let found = db
        .fetch_compiled(
            Compiled {
                sql: sql.to_owned(),
                values: vec![Value::Text(LINK_TRIGGER.to_owned())],
            },
            count,
        )
        .await?;
    Ok(found.first().is_some_and(|n| *n > 0))
}

/// Creates the linking trigger on `db` unless it exists (nothing on PostgreSQL and MongoDB).
pub(crate) async fn ensure_link_trigger<E: Executor>(db: &E) -> Result<()> {
    let Some(create) = db.dialect().and_then(create_link_trigger) else {
        return Ok(());
    };
    if !has_link_trigger(db).await? {
        db.execute_raw(&create).await?;
    }
    Ok(())
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use super::*;
    use crate::audit::AuditRecord;

    /// A connection with the audit tables and the trigger, `with_hash` deciding whether the
    /// ORM's hash function is registered on it (another tool's connection would lack it).
    fn sqlite(with_hash: bool) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open_in_memory().expect("an in-memory database");
        if with_hash {
            crate::audit::register_sqlite_functions(&conn).expect("the hash function");
        }
        for schema in [&AUDIT_LOG, &AUDIT_HEAD] {
            for ddl in crate::sql::ddl::create_table(schema, Dialect::Sqlite, false).unwrap() {
                conn.execute_batch(&ddl).unwrap();
            }
        }
        conn.execute_batch(&create_link_trigger(Dialect::Sqlite).unwrap())
            .unwrap();
        conn
    }

    /// An insert of rows as the ORM hands them to the trigger: `(-i, digest)`.
    fn insert(conn: &rusqlite::Connection, rows: &[(i64, &str)]) -> rusqlite::Result<usize> {
        let values: Vec<String> = rows
            .iter()
            .map(|(seq, digest)| format!("({seq}, 0, 'raw', 0, '', '{digest}')"))
            .collect();
        conn.execute(
            &format!(
                "INSERT INTO orm_audit_log (seq, recorded_at_us, operation, rows_affected, \
                 prev_hash, hash) VALUES {}",
                values.join(", ")
            ),
            [],
        )
    }

    fn log(conn: &rusqlite::Connection) -> Vec<(i64, String, String)> {
        let mut stmt = conn
            .prepare("SELECT seq, prev_hash, hash FROM orm_audit_log ORDER BY seq")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[test]
    fn the_sqlite_trigger_links_each_batch_to_the_head_as_the_orm_hashes() {
        let conn = sqlite(true);
        // No head row yet (tables a migration made): the trigger seeds it.
        insert(&conn, &[(-1, "d1")]).unwrap();
        insert(&conn, &[(-1, "d2"), (-2, "d3")]).unwrap();
        let h1 = AuditRecord::chain_hash(GENESIS_HASH, 1, "d1");
        let h2 = AuditRecord::chain_hash(&h1, 2, "d2");
        let h3 = AuditRecord::chain_hash(&h1, 3, "d3");
        assert_eq!(
            log(&conn),
            [
                (1, GENESIS_HASH.to_owned(), h1.clone()),
                (2, h1.clone(), h2),
                (3, h1.clone(), h3.clone()),
            ]
        );
        let head: (i64, String, String) = conn
            .query_row("SELECT seq, hash, prev_hash FROM orm_audit_head", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!(head, (3, h3, h1));
        // A row with its own `seq` is left as it is (restoring a row, or tampering).
        insert(&conn, &[(9, "x")]).unwrap();
        assert_eq!(log(&conn)[3], (9, String::new(), "x".to_owned()));
    }

    #[test]
    fn a_sqlite_connection_without_the_hash_function_cannot_insert_into_the_log() {
        let conn = sqlite(false);
        let err = insert(&conn, &[(-1, "d1")]).unwrap_err().to_string();
        assert!(err.contains(crate::audit::append::SQLITE_SHA256), "{err}");
        // Nor a row with its own `seq`: the chain cannot be extended behind the trigger.
        assert!(insert(&conn, &[(1, "d1")]).is_err());
        assert!(log(&conn).is_empty());
    }
}
