//! [`Branch`]: one participant's part of a distributed transaction, on one held connection, and
//! the statements of the prepared phase per dialect (PostgreSQL `PREPARE TRANSACTION`,
//! MySQL/MariaDB XA).

use super::xid::{postgres_gid, xa_xid};
use crate::error::{Error, Result};
use crate::exec::connection::Connection;
use crate::exec::errors::database_code;
use crate::exec::prepared::starts_with_keyword;
use crate::exec::sql_driver::SqlConn;
use crate::exec::target::{Target, executor_for_target};
use crate::exec::transaction::TxOptions;
use crate::exec::{Backend, Db, ExecResult, Executor};
use crate::raw::raw;
use crate::sql::Dialect;

/// One participant's branch of a [`DistributedTx`](super::DistributedTx): an [`Executor`] on
/// the connection the branch holds, so the typed queries run inside it as inside a
/// [`Transaction`](crate::Transaction): `row.insert(tx.branch("orders")?)`.
///
/// The branch ends only with its distributed transaction: `COMMIT`, `ROLLBACK`, `XA …` and
/// `PREPARE TRANSACTION` run by hand on it are refused.
pub struct Branch {
    participant: String,
    dialect: Dialect,
    /// The participant's pool: commits and rollbacks by id when the held connection is lost.
    db: Db,
    conn: Connection,
    /// The branch's id as its dialect's statements write it (a quoted gid or an XA id).
    xid: String,
}

impl std::fmt::Debug for Branch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Branch")
            .field("participant", &self.participant)
            .field("dialect", &self.dialect)
            .field("xid", &self.xid)
            .finish()
    }
}

impl Branch {
    /// Takes a connection of `db` and begins branch `index` of transaction `id` on it.
    pub(super) async fn begin(
        participant: &str,
        db: &Db,
        id: &str,
        index: usize,
        options: TxOptions,
    ) -> Result<Branch> {
        let dialect = db
            .backend()
            .dialect()
            .expect("checked to be SQL by the caller");
        let xid = match dialect {
            Dialect::Postgres => format!("'{}'", postgres_gid(id, index)),
            _ => xa_xid(id, index),
        };
        let conn = db.acquire().await?;
        let begin = match dialect {
            Dialect::Postgres => options.begin_sql(dialect)?,
            _ => xa_begin(options, &xid),
        };
        conn.run_raw_sql(&begin).await?;
        Ok(Branch {
            participant: participant.to_owned(),
            dialect,
            db: db.clone(),
            conn,
            xid,
        })
    }

    /// The participant's name, as given to [`Coordinator::begin`](super::Coordinator::begin).
    pub fn participant(&self) -> &str {
        &self.participant
    }

    /// The branch's id as the database lists it: the `gid` of `pg_prepared_xacts`, or the XA
    /// id (`'gtrid','bqual',formatID`) of `XA RECOVER`.
    pub fn xid(&self) -> &str {
        &self.xid
    }

    /// Phase one: makes the branch's work durable without committing it.
    pub(super) async fn prepare(&self) -> Result<()> {
        if self.dialect != Dialect::Postgres {
            let sql = format!("XA END {xid}; XA PREPARE {xid}", xid = self.xid);
            return self.conn.run_raw_sql(&sql).await.map(drop);
        }
        self.conn
            .run_raw_sql(&format!("PREPARE TRANSACTION {}", self.xid))
            .await?;
        // In a transaction aborted by a failed statement, PostgreSQL answers `PREPARE
        // TRANSACTION` with a silent `ROLLBACK` (no error): only its list tells.
        let gid = self.xid.trim_matches('\'');
        let found: Option<(i32,)> =
            raw("SELECT CAST(1 AS INTEGER) FROM pg_prepared_xacts WHERE gid = ?")
                .bind(gid)
                .fetch_optional(&self.conn)
                .await?;
        match found {
            Some(_) => Ok(()),
            None => Err(Error::InvalidQuery(format!(
                "PostgreSQL rolled back the branch of participant `{}` instead of preparing it: \
                 a statement of the branch failed earlier and aborted its transaction; handle \
                 that statement's error (or run it in a savepoint) before committing",
                self.participant
            ))),
        }
    }

    /// Phase two: commits the prepared branch, on its connection or, when that is lost, on
    /// another of the participant's.
    pub(super) async fn commit_prepared(&self) -> Result<()> {
        let sql = commit_prepared_sql(self.dialect, &self.xid);
        match self.conn.run_raw_sql(&sql).await {
            Ok(_) => Ok(()),
            Err(_) => self.db.execute_raw(&sql).await.map(drop),
        }
    }

    /// Rolls back a branch that is not prepared; a connection that cannot is closed instead
    /// (the server rolls back the transaction of a closed connection).
    pub(super) async fn rollback_active(&mut self) {
        let sql = match self.dialect {
            Dialect::Postgres => "ROLLBACK".to_owned(),
            _ => format!("XA END {xid}; XA ROLLBACK {xid}", xid = self.xid),
        };
        if self.conn.run_raw_sql(&sql).await.is_err() {
            self.conn.close_on_drop();
        }
    }

    /// Rolls back the branch whatever its state: prepared (`ROLLBACK PREPARED`, `XA
    /// ROLLBACK`), or not prepared after a failed or abandoned prepare. `Ok` once the
    /// participant confirmed it holds no prepared branch of this id; `Err` when it could not
    /// be asked (the branch may be in doubt).
    pub(super) async fn rollback_any(&mut self) -> Result<()> {
        let by_id = rollback_prepared_sql(self.dialect, &self.xid);
        match self.conn.run_raw_sql(&by_id).await {
            Ok(_) => return Ok(()),
            // Asked on the branch's own connection, which ran the prepare: nothing pending.
            Err(e) if is_unknown_branch(&e) => return Ok(()),
            Err(_) => {}
        }
        // Not prepared (or the connection is gone): close the connection, which ends an
        // unprepared transaction, then make sure through another connection that no
        // prepared branch is left.
        self.conn.close_on_drop();
        if self.dialect != Dialect::Postgres {
            // An XA branch still active on this connection would make the rollback by id
            // wait for it: end it on the connection first, when that still answers.
            let end = format!("XA END {xid}; XA ROLLBACK {xid}", xid = self.xid);
            if self.conn.run_raw_sql(&end).await.is_ok() {
                return Ok(());
            }
        }
        rollback_prepared_by_id(&self.db, self.dialect, &self.xid).await
    }

    /// Gives up the connection without waiting for it (after a timed-out prepare, whose
    /// statement may still be running): it is closed, not returned to the pool.
    pub(super) fn abandon_connection(&mut self) {
        self.conn.close_on_drop();
    }

    /// Closes the connection instead of returning it to the pool when the branch is dropped.
    pub(super) fn close_on_drop(&mut self) {
        self.conn.close_on_drop();
    }

    /// The participant's pool and dialect, for a rollback by id after the branch is gone.
    pub(super) fn db(&self) -> &Db {
        &self.db
    }
}

/// `XA START` with the isolation level and access mode of `options` set first.
fn xa_begin(options: TxOptions, xid: &str) -> String {
    let mut modes = Vec::new();
    if let Some(level) = options.isolation_level() {
        modes.push(format!("ISOLATION LEVEL {}", level.sql()));
    }
    if options.is_read_only() {
        modes.push("READ ONLY".to_owned());
    }
    if modes.is_empty() {
        format!("XA START {xid}")
    } else {
        format!("SET TRANSACTION {}; XA START {xid}", modes.join(", "))
    }
}

/// The statement that commits prepared branch `xid`.
pub(super) fn commit_prepared_sql(dialect: Dialect, xid: &str) -> String {
    match dialect {
        Dialect::Postgres => format!("COMMIT PREPARED {xid}"),
        _ => format!("XA COMMIT {xid}"),
    }
}

/// The statement that rolls back prepared branch `xid`.
pub(super) fn rollback_prepared_sql(dialect: Dialect, xid: &str) -> String {
    match dialect {
        Dialect::Postgres => format!("ROLLBACK PREPARED {xid}"),
        _ => format!("XA ROLLBACK {xid}"),
    }
}

/// Rolls back prepared branch `xid` through `db`'s pool; a branch the server does not know
/// (never prepared, or already resolved) counts as rolled back.
pub(super) async fn rollback_prepared_by_id(db: &Db, dialect: Dialect, xid: &str) -> Result<()> {
    match db.execute_raw(&rollback_prepared_sql(dialect, xid)).await {
        Ok(_) => Ok(()),
        Err(e) if is_unknown_branch(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Whether `error` says the server holds no prepared branch of that id (PostgreSQL `42704`
/// undefined_object, "prepared transaction … does not exist"; MySQL/MariaDB `1397`
/// `XAER_NOTA`). Read from the error's code, not its text, which a server set to another
/// language (`lc_messages`) words differently.
pub(super) fn is_unknown_branch(error: &Error) -> bool {
    database_code(error).is_some_and(|code| matches!(code.as_str(), "42704" | "1397"))
}

/// Whether `error`, the answer to `PREPARE TRANSACTION`, is PostgreSQL refusing it because
/// `max_prepared_transactions` is 0 (`55000` object_not_in_prerequisite_state, the one
/// condition of that class the statement reports; a transaction it cannot prepare for other
/// reasons gets `0A000`).
pub(super) fn is_prepared_transactions_disabled(error: &Error) -> bool {
    database_code(error).is_some_and(|code| code == "55000")
}

/// Whether `sql` would end or hijack the branch's transaction.
fn ends_branch(sql: &str) -> bool {
    let words: Vec<_> = sql.split_whitespace().take(2).collect();
    let prepare_transaction = words.len() == 2
        && words[0].eq_ignore_ascii_case("PREPARE")
        && words[1].eq_ignore_ascii_case("TRANSACTION");
    prepare_transaction
        || starts_with_keyword(
            sql,
            &["COMMIT", "ROLLBACK", "END", "ABORT", "BEGIN", "START", "XA"],
        )
}

impl Target for Branch {
    type Session<'a> = <Connection as Target>::Session<'a>;

    fn target_backend(&self) -> Backend {
        Backend::Sql(self.dialect)
    }

    async fn session(&self) -> Result<Self::Session<'_>> {
        self.conn.session().await
    }

    fn sql<'c>(session: &'c mut Self::Session<'_>) -> Result<SqlConn<'c>> {
        <Connection as Target>::sql(session)
    }

    #[cfg(feature = "mongodb")]
    fn mongo<'c>(session: &'c mut Self::Session<'_>) -> Result<crate::exec::mongo::Target<'c>> {
        <Connection as Target>::mongo(session)
    }

    #[cfg(feature = "dynamodb")]
    fn dynamo<'c>(session: &'c mut Self::Session<'_>) -> Result<crate::exec::dynamo::Target<'c>> {
        <Connection as Target>::dynamo(session)
    }

    async fn run_raw_sql(&self, sql: &str) -> Result<ExecResult> {
        if ends_branch(sql) {
            return Err(Error::InvalidQuery(format!(
                "`{}` would end the branch of participant `{}` behind the coordinator's back; \
                 end a distributed transaction with `DistributedTx::commit` or `rollback`",
                sql.trim(),
                self.participant
            )));
        }
        self.conn.run_raw_sql(sql).await
    }
}

executor_for_target!(Branch);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::transaction::IsolationLevel;

    #[test]
    fn statements_that_would_end_a_branch_are_recognised() {
        for sql in [
            "COMMIT",
            " rollback",
            "XA END 'x'",
            "prepare  transaction 'g'",
            "BEGIN",
            "START TRANSACTION",
        ] {
            assert!(ends_branch(sql), "{sql}");
        }
        for sql in [
            "INSERT INTO t VALUES (1)",
            "PREPARE s FROM 'SELECT 1'",
            "SAVEPOINT a",
        ] {
            assert!(!ends_branch(sql), "{sql}");
        }
    }

    #[test]
    fn xa_branches_begin_with_the_requested_isolation_and_access_mode() {
        let options = TxOptions::new()
            .isolation(IsolationLevel::Serializable)
            .read_only();
        assert_eq!(
            xa_begin(options, "'a','0',1"),
            "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY; XA START 'a','0',1"
        );
        assert_eq!(
            xa_begin(TxOptions::new(), "'a','0',1"),
            "XA START 'a','0',1"
        );
    }
}
