//! Recovery: finds the prepared branches a crash left in doubt on each participant and resolves
//! them by the coordinator log (commit where the decision was logged, roll back otherwise).

use std::collections::{HashMap, HashSet};

use super::branch::{commit_prepared_sql, is_unknown_branch, rollback_prepared_sql};
use super::xid::{FORMAT_ID, is_ours, transaction_of_gid};
use super::{Coordinator, check_supported};
use crate::error::{Error, Result};
use crate::exec::{Db, Executor};
use crate::raw::raw;
use crate::sql::Dialect;

/// One in-doubt branch that recovery resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedBranch {
    /// The participant holding the branch.
    pub participant: String,
    /// The distributed transaction's id.
    pub transaction: String,
    /// The branch's id as the database listed it (`gid`, or the XA id).
    pub xid: String,
}

/// What [`Coordinator::recover`] did.
#[derive(Debug, Default)]
pub struct RecoveryReport {
    /// Branches committed: their transaction's decision to commit was logged.
    pub committed: Vec<ResolvedBranch>,
    /// Branches rolled back: no decision was logged (the coordinator stopped before it).
    pub rolled_back: Vec<ResolvedBranch>,
    /// Participants that could not be asked or could not resolve a branch, with the error;
    /// run recovery again once they are reachable.
    pub failed: Vec<(String, Error)>,
    /// Logged decisions now fully carried out, and removed from the log.
    pub decisions_forgotten: Vec<String>,
    /// Logged decisions kept: a participant they name was not given or not reachable.
    pub decisions_kept: Vec<String>,
}

impl RecoveryReport {
    /// Whether every participant was reached and no branch is left in doubt.
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty() && self.decisions_kept.is_empty()
    }
}

impl Coordinator {
    /// Resolves every prepared branch of this coordinator's transactions found on
    /// `participants` (those it is running now excepted): commits the branches whose
    /// transaction's decision is in the log, rolls back the others, and forgets the decisions
    /// carried out everywhere. Run it at startup, before new transactions, and whenever a
    /// commit reported [`DistributedError::CommitIncomplete`](super::DistributedError) or
    /// branches in doubt.
    ///
    /// A participant that cannot be reached is reported in [`RecoveryReport::failed`] (the
    /// others are still resolved); the error is reserved for the log itself failing and for
    /// participants that cannot take part at all (SQLite, MongoDB).
    pub async fn recover(&self, participants: &[(&str, &Db)]) -> Result<RecoveryReport> {
        for (name, db) in participants {
            check_supported(name, db.backend())?;
        }
        let decisions: HashMap<String, Vec<String>> = self
            .log
            .pending(&self.name)
            .await
            .map_err(|e| {
                Error::Config(format!(
                    "recovery cannot read the coordinator log ({}): {e}",
                    self.log.describe()
                ))
            })?
            .into_iter()
            .map(|d| (d.id, d.participants))
            .collect();
        let in_flight = self.lock_in_flight().clone();
        let mut report = RecoveryReport::default();
        // Participants asked without error, and transactions with a branch left unresolved.
        let mut reached = HashSet::new();
        let mut unresolved = HashSet::new();
        for (participant, db) in participants {
            let dialect = db.backend().dialect().expect("checked above");
            let branches = match in_doubt(db, dialect, &self.name).await {
                Ok(branches) => branches,
                Err(e) => {
                    report.failed.push(((*participant).to_owned(), e));
                    continue;
                }
            };
            let mut all_resolved = true;
            for (transaction, xid) in branches {
                if in_flight.contains(&transaction) {
                    continue;
                }
                let commit = decisions.contains_key(&transaction);
                let sql = if commit {
                    commit_prepared_sql(dialect, &xid)
                } else {
                    rollback_prepared_sql(dialect, &xid)
                };
                let resolved = ResolvedBranch {
                    participant: (*participant).to_owned(),
                    transaction: transaction.clone(),
                    xid,
                };
                match db.execute_raw(&sql).await {
                    Ok(_) if commit => report.committed.push(resolved),
                    Ok(_) => report.rolled_back.push(resolved),
                    // Resolved meanwhile by another recovery on the same server.
                    Err(e) if is_unknown_branch(&e) => {}
                    Err(e) => {
                        all_resolved = false;
                        unresolved.insert(transaction);
                        report.failed.push(((*participant).to_owned(), e));
                    }
                }
            }
            if all_resolved {
                reached.insert(*participant);
            }
        }
        let mut ids: Vec<_> = decisions.keys().cloned().collect();
        ids.sort();
        for id in ids {
            let everywhere = decisions[&id].iter().all(|p| reached.contains(p.as_str()));
            if everywhere && !unresolved.contains(&id) && !in_flight.contains(&id) {
                self.log.forget(&id).await?;
                report.decisions_forgotten.push(id);
            } else {
                report.decisions_kept.push(id);
            }
        }
        Ok(report)
    }
}

/// The prepared branches of `coordinator`'s transactions on `db`: (transaction id, branch id
/// as the dialect's statements write it).
async fn in_doubt(db: &Db, dialect: Dialect, coordinator: &str) -> Result<Vec<(String, String)>> {
    match dialect {
        Dialect::Postgres => {
            // A prepared transaction is committed from a session of its own database.
            let gids: Vec<(String,)> = raw(
                "SELECT gid FROM pg_prepared_xacts WHERE database = current_database() \
                 ORDER BY prepared",
            )
            .fetch_all(db)
            .await?;
            Ok(gids
                .into_iter()
                .filter_map(|(gid,)| {
                    let id = transaction_of_gid(&gid, coordinator)?.to_owned();
                    Some((id, format!("'{gid}'")))
                })
                .collect())
        }
        _ => {
            let rows: Vec<(i64, i64, i64, Vec<u8>)> = raw("XA RECOVER").fetch_all(db).await?;
            Ok(rows
                .into_iter()
                .filter(|(format, ..)| *format == FORMAT_ID)
                .filter_map(|(_, gtrid_length, _, data)| {
                    let data = String::from_utf8(data).ok()?;
                    let split = usize::try_from(gtrid_length).ok()?;
                    let (gtrid, bqual) = (data.get(..split)?, data.get(split..)?);
                    let ours = is_ours(gtrid, coordinator)
                        && !bqual.is_empty()
                        && bqual.bytes().all(|b| b.is_ascii_digit());
                    ours.then(|| {
                        let xid = format!("'{gtrid}','{bqual}',{FORMAT_ID}");
                        (gtrid.to_owned(), xid)
                    })
                })
                .collect())
        }
    }
}
