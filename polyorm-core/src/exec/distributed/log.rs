//! The coordinator log: where a commit decision is made durable before phase two, so that
//! recovery after a crash commits what was decided and rolls back everything else (presumed
//! abort: a transaction with no logged decision was never committed anywhere).
//!
//! Two places: a local file (appended and `fsync`ed) or a table in a database (any [`Db`],
//! typically one of the participants; each decision is one autocommitted `INSERT`).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use super::xid::{coordinator_prefix, is_ours};
use crate::error::{Error, Result};
use crate::exec::{Db, Executor};
use crate::raw::raw;

/// The table [`DecisionLog::table`] writes to.
pub const DEFAULT_LOG_TABLE: &str = "orm_2pc_decisions";

/// Records written to the file between compactions (each transaction writes two).
const COMPACT_AFTER: usize = 10_000;

/// Where a [`Coordinator`](super::Coordinator) makes its commit decisions durable. Cheap to
/// clone (clones share the file or table).
///
/// One log per coordinator process: two processes must not append to the same file (a table
/// may be shared, each coordinator reads only its own decisions).
#[derive(Clone, Debug)]
pub struct DecisionLog {
    kind: Arc<LogKind>,
}

#[derive(Debug)]
enum LogKind {
    File(FileLog),
    Table(TableLog),
}

/// A decision found in the log: the transaction was committed and these participants hold
/// (or held) a branch of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Decision {
    pub(super) id: String,
    pub(super) participants: Vec<String>,
}

impl DecisionLog {
    /// A log in a local file, created if missing: one line per decision, `fsync`ed before any
    /// participant commits. Put it on storage that survives the coordinator's machine
    /// restarting (not a tmpfs).
    pub fn file(path: impl Into<PathBuf>) -> DecisionLog {
        DecisionLog {
            kind: Arc::new(LogKind::File(FileLog {
                path: path.into(),
                file: Arc::new(Mutex::new(None)),
            })),
        }
    }

    /// A log in the table `orm_2pc_decisions` of `db` (created if missing): each decision is an
    /// autocommitted row, durable as the database's own commits are; recovery deletes it once
    /// every branch is committed. `db` may be a participant (its branches are other
    /// connections) or any other database, SQLite included.
    pub fn table(db: &Db) -> DecisionLog {
        DecisionLog::table_named(db, DEFAULT_LOG_TABLE).expect("the default table name is valid")
    }

    /// [`table`](DecisionLog::table) in a table of another name (lower-case ASCII letters,
    /// digits and `_`).
    pub fn table_named(db: &Db, table: &str) -> Result<DecisionLog> {
        let valid = !table.is_empty()
            && table.len() <= 63
            && !table.starts_with(|c: char| c.is_ascii_digit())
            && table
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            return Err(Error::Config(format!(
                "invalid coordinator log table name `{table}`: use lower-case ASCII letters, \
                 digits and `_` (at most 63, not starting with a digit)"
            )));
        }
        Ok(DecisionLog {
            kind: Arc::new(LogKind::Table(TableLog {
                db: db.clone(),
                table: table.to_owned(),
                created: OnceCell::new(),
            })),
        })
    }

    /// Makes the decision to commit `id` durable; returns only once it is.
    pub(super) async fn record_commit(&self, id: &str, participants: &[String]) -> Result<()> {
        match &*self.kind {
            LogKind::File(file) => {
                let line = format!("C {id} {}\n", participants.join(","));
                file.append(line, true).await
            }
            LogKind::Table(table) => table.record_commit(id, participants).await,
        }
    }

    /// Forgets the decision on `id` once every branch is committed (not made durable: a
    /// decision remembered too long only makes recovery look for branches that are gone).
    pub(super) async fn forget(&self, id: &str) -> Result<()> {
        match &*self.kind {
            LogKind::File(file) => file.append(format!("D {id}\n"), false).await,
            LogKind::Table(table) => table.forget(id).await,
        }
    }

    /// The decisions of `coordinator` not yet forgotten.
    pub(super) async fn pending(&self, coordinator: &str) -> Result<Vec<Decision>> {
        let all = match &*self.kind {
            LogKind::File(file) => file.pending().await?,
            LogKind::Table(table) => table.pending(coordinator).await?,
        };
        Ok(all
            .into_iter()
            .filter(|d| is_ours(&d.id, coordinator))
            .collect())
    }

    /// Where the log is, for messages.
    pub(super) fn describe(&self) -> String {
        match &*self.kind {
            LogKind::File(file) => format!("file {}", file.path.display()),
            LogKind::Table(table) => format!("table `{}`", table.table),
        }
    }
}

/// The file log: an append-only handle opened at first use; `written` counts records since the
/// last compaction.
#[derive(Debug)]
struct FileLog {
    path: PathBuf,
    file: Arc<Mutex<Option<OpenFile>>>,
}

#[derive(Debug)]
struct OpenFile {
    file: File,
    written: usize,
}

impl FileLog {
    /// Appends `line` (and `fsync`s when `durable`), on a blocking thread.
    async fn append(&self, line: String, durable: bool) -> Result<()> {
        let (path, file) = (self.path.clone(), self.file.clone());
        blocking(move || {
            let mut guard = file.lock().unwrap_or_else(|e| e.into_inner());
            let written = (|| {
                let open = open_file(&path, &mut guard)?;
                open.file.write_all(line.as_bytes())?;
                if durable {
                    open.file.sync_data()?;
                }
                open.written += 1;
                Ok(open.written)
            })();
            match written {
                Ok(n) if n >= COMPACT_AFTER => compact(&path, &mut guard).map(drop),
                Ok(_) => Ok(()),
                Err(e) => {
                    // A record may be half written: reopening cuts it off before the next.
                    *guard = None;
                    Err(e)
                }
            }
        })
        .await
        .map_err(|e| log_error(&self.path, e))
    }

    /// Reads every pending decision, compacting the file to them.
    async fn pending(&self) -> Result<Vec<Decision>> {
        let (path, file) = (self.path.clone(), self.file.clone());
        blocking(move || {
            let mut guard = file.lock().unwrap_or_else(|e| e.into_inner());
            open_file(&path, &mut guard)?;
            compact(&path, &mut guard)
        })
        .await
        .map_err(|e| log_error(&self.path, e))
    }
}

fn log_error(path: &Path, e: std::io::Error) -> Error {
    Error::Config(format!(
        "the coordinator log file {} cannot be written or read: {e}; check that its directory \
         exists and is writable",
        path.display()
    ))
}

/// Runs file work on tokio's blocking threads (an `fsync` can take milliseconds).
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)))
}

/// The open log file, opening it first: a torn last line (the process died while writing it)
/// is cut off, so that the next record starts a line of its own. A torn decision was never
/// durable, so no participant was told to commit it.
fn open_file<'a>(path: &Path, slot: &'a mut Option<OpenFile>) -> std::io::Result<&'a mut OpenFile> {
    if slot.is_none() {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)?;
        let mut text = Vec::new();
        file.read_to_end(&mut text)?;
        let whole = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        if whole < text.len() {
            file.set_len(whole as u64)?;
            file.sync_data()?;
        }
        file.seek(SeekFrom::End(0))?;
        *slot = Some(OpenFile { file, written: 0 });
    }
    Ok(slot.as_mut().expect("opened above"))
}

/// Rewrites the file with only its pending decisions (written to a temporary file, `fsync`ed,
/// renamed over the log, the directory `fsync`ed) and returns them.
fn compact(path: &Path, slot: &mut Option<OpenFile>) -> std::io::Result<Vec<Decision>> {
    let mut text = String::new();
    File::open(path)?.read_to_string(&mut text)?;
    let pending = parse(&text);
    let tmp = path.with_extension("compacting");
    {
        let mut out = File::create(&tmp)?;
        for d in &pending {
            writeln!(out, "C {} {}", d.id, d.participants.join(","))?;
        }
        out.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)?.sync_all()?;
    }
    *slot = None;
    open_file(path, slot)?;
    Ok(pending)
}

/// The decisions of the log's text not followed by their `D` record, in order of decision.
fn parse(text: &str) -> Vec<Decision> {
    let mut order = 0usize;
    let mut pending: BTreeMap<String, (usize, Vec<String>)> = BTreeMap::new();
    for line in text.lines() {
        let mut fields = line.split(' ');
        match (fields.next(), fields.next(), fields.next(), fields.next()) {
            (Some("C"), Some(id), Some(participants), None) => {
                order += 1;
                let names = participants.split(',').map(str::to_owned).collect();
                pending.insert(id.to_owned(), (order, names));
            }
            (Some("D"), Some(id), None, None) => {
                pending.remove(id);
            }
            _ => {}
        }
    }
    let mut decisions: Vec<_> = pending.into_iter().collect();
    decisions.sort_by_key(|(_, (order, _))| *order);
    decisions
        .into_iter()
        .map(|(id, (_, participants))| Decision { id, participants })
        .collect()
}

/// The table log.
#[derive(Debug)]
struct TableLog {
    db: Db,
    table: String,
    created: OnceCell<()>,
}

impl TableLog {
    /// Creates the table unless it exists (once per log).
    async fn ensure_table(&self) -> Result<()> {
        self.created
            .get_or_try_init(|| async {
                let sql = format!(
                    "CREATE TABLE IF NOT EXISTS {} (transaction_id VARCHAR(100) NOT NULL \
                     PRIMARY KEY, participants VARCHAR(2000) NOT NULL)",
                    self.table
                );
                self.db.execute_raw(&sql).await.map(drop)
            })
            .await
            .map(drop)
    }

    async fn record_commit(&self, id: &str, participants: &[String]) -> Result<()> {
        self.ensure_table().await?;
        raw(format!(
            "INSERT INTO {} (transaction_id, participants) VALUES (?, ?)",
            self.table
        ))
        .bind(id)
        .bind(participants.join(","))
        .execute(&self.db)
        .await
        .map(drop)
    }

    async fn forget(&self, id: &str) -> Result<()> {
        self.ensure_table().await?;
        raw(format!(
            "DELETE FROM {} WHERE transaction_id = ?",
            self.table
        ))
        .bind(id)
        .execute(&self.db)
        .await
        .map(drop)
    }

    async fn pending(&self, coordinator: &str) -> Result<Vec<Decision>> {
        self.ensure_table().await?;
        // `_` in a coordinator name is a LIKE wildcard: the exact prefix is checked by the caller.
        let rows: Vec<(String, String)> = raw(format!(
            "SELECT transaction_id, participants FROM {} WHERE transaction_id LIKE ? \
             ORDER BY transaction_id",
            self.table
        ))
        .bind(format!("{}%", coordinator_prefix(coordinator)))
        .fetch_all(&self.db)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, participants)| Decision {
                id,
                participants: participants.split(',').map(str::to_owned).collect(),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decision_is_pending_until_its_done_record_and_garbage_is_ignored() {
        let text = "C orm2pc:a:1 p,q\nC orm2pc:a:2 p,r\nD orm2pc:a:1\nnot a record\nC orm2pc:a:3";
        let pending = parse(text);
        assert_eq!(
            pending,
            vec![Decision {
                id: "orm2pc:a:2".into(),
                participants: vec!["p".into(), "r".into()]
            }]
        );
    }

    #[test]
    fn a_torn_last_line_is_cut_off_so_the_next_record_starts_its_own_line() {
        let path = std::env::temp_dir().join(format!("orm2pc-torn-{}.log", std::process::id()));
        std::fs::write(&path, "C orm2pc:a:1 p,q\nC orm2pc:a:2 p").unwrap();
        let mut slot = None;
        let open = open_file(&path, &mut slot).unwrap();
        open.file.write_all(b"C orm2pc:a:3 p,q\n").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(text, "C orm2pc:a:1 p,q\nC orm2pc:a:3 p,q\n");
        let ids: Vec<_> = parse(&text).into_iter().map(|d| d.id).collect();
        assert_eq!(ids, ["orm2pc:a:1", "orm2pc:a:3"]);
    }
}
