//! Backups on a cron schedule, each followed by a retention prune, on a tokio task.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use croner::Cron;
use polyorm_core::Db;
use tokio::sync::{mpsc, watch};

use crate::backup::Backup;
use crate::error::{BackupError, Result};
use crate::history::{History, Pruned, Retention};
use crate::manifest::Manifest;
use crate::target::BackupTarget;

/// `cron` parsed: five fields, or six with seconds first.
pub(crate) fn parse_cron(cron: &str) -> Result<Cron> {
    Cron::from_str(cron).map_err(|e| {
        BackupError::Config(format!(
            "`{cron}` is not a cron expression ({e}); e.g. `30 2 * * *` for 02:30 every day"
        ))
    })
}

/// One scheduled run: the backup taken (or why not) and what the prune after it did.
#[derive(Debug)]
pub struct ScheduledRun {
    /// When the run was due.
    pub due: DateTime<Utc>,
    /// The backup stored.
    pub backup: Result<Manifest>,
    /// The prune after it (`None`: no retention set, or the backup failed).
    pub pruned: Option<Result<Pruned>>,
}

/// Takes backups into a [`History`] at the times of a cron expression.
///
/// ```no_run
/// # async fn run(db: polyorm_core::Db) -> polyorm_backup::Result<()> {
/// use polyorm_backup::{Backup, History, LocalTarget, Retention, Scheduler};
/// let history = History::new(LocalTarget::new("/var/backups/app"));
/// let backup = Backup::new().registered().watermark("updated_at");
/// // Every day at 02:30: a full backup on Sundays' first run, incrementals in between.
/// let mut handle = Scheduler::new(history, db, backup, "30 2 * * *")?
///     .incrementals_between_fulls(6)
///     .retention(Retention::default())
///     .spawn();
/// while let Some(run) = handle.next_run().await {
///     if let Err(e) = &run.backup { eprintln!("backup due at {} failed: {e}", run.due); }
/// }
/// # Ok(()) }
/// ```
pub struct Scheduler<T> {
    history: Arc<History<T>>,
    db: Db,
    backup: Backup,
    cron: Cron,
    retention: Option<Retention>,
    incrementals: usize,
    scratch: PathBuf,
}

impl<T> std::fmt::Debug for Scheduler<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("cron", &self.cron.pattern.to_string())
            .field("retention", &self.retention)
            .field("incrementals", &self.incrementals)
            .finish_non_exhaustive()
    }
}

/// A running [`Scheduler`]: read its runs, stop it.
#[derive(Debug)]
pub struct SchedulerHandle {
    runs: mpsc::Receiver<ScheduledRun>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl SchedulerHandle {
    /// The next run, once it finished (`None` after [`stop`](SchedulerHandle::stop)). Runs
    /// not read are kept (up to 64; later ones then go unreported while the schedule goes on).
    pub async fn next_run(&mut self) -> Option<ScheduledRun> {
        self.runs.recv().await
    }

    /// Stops the schedule; a run in progress finishes first.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

impl<T: BackupTarget + 'static> Scheduler<T> {
    /// Backups of `backup`'s models from `db` into `history` at the times of `cron` (five
    /// fields, or six with seconds first: `*/10 * * * * *`), in UTC.
    ///
    /// # Errors
    /// [`BackupError::Config`] for an expression that does not parse.
    pub fn new(history: History<T>, db: Db, backup: Backup, cron: &str) -> Result<Scheduler<T>> {
        let cron = parse_cron(cron)?;
        Ok(Scheduler {
            history: Arc::new(history),
            db,
            backup,
            cron,
            retention: None,
            incrementals: 0,
            scratch: std::env::temp_dir(),
        })
    }

    /// Prunes the history with `retention` after every backup.
    pub fn retention(mut self, retention: Retention) -> Scheduler<T> {
        self.retention = Some(retention);
        self
    }

    /// Takes `n` incremental backups between full ones (the backup needs a
    /// [`watermark`](Backup::watermark)); 0 (the default): every backup is full.
    pub fn incrementals_between_fulls(mut self, n: usize) -> Scheduler<T> {
        self.incrementals = n;
        self
    }

    /// Where archives are written before they are stored (default: the system's temporary
    /// directory).
    pub fn scratch(mut self, dir: impl Into<PathBuf>) -> Scheduler<T> {
        self.scratch = dir.into();
        self
    }

    /// The next time a backup is due after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_next_occurrence(&after, false).ok()
    }

    /// Starts the schedule on a tokio task.
    pub fn spawn(self) -> SchedulerHandle {
        let (tx, runs) = mpsc::channel(64);
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut since_full: Option<usize> = None;
            loop {
                let Some(due) = self.next_after(Utc::now()) else {
                    return;
                };
                let wait = (due - Utc::now()).to_std().unwrap_or_default();
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stopped.changed() => return,
                }
                let incremental = matches!(since_full, Some(n) if n < self.incrementals);
                let backup = self
                    .history
                    .create(&self.db, &self.backup, incremental, &self.scratch)
                    .await;
                if backup.is_ok() {
                    since_full = Some(if incremental {
                        since_full.unwrap_or(0) + 1
                    } else {
                        0
                    });
                }
                let pruned = match (&backup, &self.retention) {
                    (Ok(_), Some(r)) => Some(self.history.prune(r, false).await),
                    _ => None,
                };
                let run = ScheduledRun {
                    due,
                    backup,
                    pruned,
                };
                // A reader 64 runs behind misses the newest reports; the schedule goes on.
                let _ = tx.try_send(run);
            }
        });
        SchedulerHandle { runs, stop, task }
    }
}
