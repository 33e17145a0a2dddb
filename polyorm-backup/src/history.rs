//! The backups of a target as a history: listing, chains, taking a new one, and
//! grandfather-father-son retention.

use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;

use chrono::{DateTime, Datelike, Duration, Utc};
use polyorm_core::Db;

use crate::archive::Archive;
use crate::backup::Backup;
use crate::error::{BackupError, Result};
use crate::manifest::{BackupKind, Manifest};
use crate::target::{BackupStatus, BackupTarget, StoredBackup};

/// How many backups to keep: the newest `last`, and the newest one of each of the last
/// `daily` days, `weekly` ISO weeks, `monthly` months and `yearly` years that have one
/// (grandfather-father-son, as restic's `--keep-daily` and friends). A kept incremental or
/// differential backup keeps the backups it needs to be restored (its chain).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// The newest backups kept whatever their dates (at least 1).
    pub last: usize,
    /// Days kept.
    pub daily: usize,
    /// ISO weeks kept.
    pub weekly: usize,
    /// Months kept.
    pub monthly: usize,
    /// Years kept.
    pub yearly: usize,
    /// Incomplete backups (an upload that did not finish) younger than this are left alone:
    /// they may still be being written.
    pub incomplete_grace: Duration,
}

impl Default for Retention {
    /// 7 daily, 4 weekly, 12 monthly, 5 yearly, the newest always.
    fn default() -> Self {
        Retention {
            last: 1,
            daily: 7,
            weekly: 4,
            monthly: 12,
            yearly: 5,
            incomplete_grace: Duration::hours(1),
        }
    }
}

/// What a prune kept and deleted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pruned {
    /// Ids kept, newest first, each with why (`daily 2026-12-06`, `chain of …`).
    pub kept: Vec<(String, String)>,
    /// Ids deleted (or, in a dry run, that would be).
    pub deleted: Vec<String>,
}

impl Retention {
    /// Which of `backups` (complete ones) to keep, with the reason; the rest go.
    pub fn select(&self, backups: &[Manifest]) -> Vec<(String, String)> {
        let mut sorted: Vec<&Manifest> = backups.iter().collect();
        sorted.sort_by_key(|m| std::cmp::Reverse(m.created_at));
        let mut keep: Vec<(String, String)> = Vec::new();
        let kept = |id: &str, why: String, keep: &mut Vec<(String, String)>| {
            if !keep.iter().any(|(k, _)| k == id) {
                keep.push((id.to_owned(), why));
            }
        };
        for m in sorted.iter().take(self.last.max(1)) {
            kept(&m.id, "last".to_owned(), &mut keep);
        }
        type Bucket = fn(&DateTime<Utc>) -> String;
        let buckets: [(&str, usize, Bucket); 4] = [
            ("daily", self.daily, |t| t.format("%Y-%m-%d").to_string()),
            ("weekly", self.weekly, |t| {
                let w = t.iso_week();
                format!("{}-W{:02}", w.year(), w.week())
            }),
            ("monthly", self.monthly, |t| t.format("%Y-%m").to_string()),
            ("yearly", self.yearly, |t| t.format("%Y").to_string()),
        ];
        for (name, count, bucket) in buckets {
            let mut seen = BTreeSet::new();
            for m in &sorted {
                if seen.len() == count {
                    break;
                }
                let key = bucket(&m.created_at);
                if seen.insert(key.clone()) {
                    kept(&m.id, format!("{name} {key}"), &mut keep);
                }
            }
        }
        // The chain each kept backup needs.
        let mut i = 0;
        while i < keep.len() {
            let id = keep[i].0.clone();
            if let Some(parent) = sorted
                .iter()
                .find(|m| m.id == id)
                .and_then(|m| m.parent.clone())
            {
                kept(&parent, format!("chain of {id}"), &mut keep);
            }
            i += 1;
        }
        keep.sort_by(|a, b| {
            let at = |id: &str| sorted.iter().find(|m| m.id == id).map(|m| m.created_at);
            at(&b.0).cmp(&at(&a.0))
        });
        keep
    }
}

/// The backups of one target.
#[derive(Debug, Clone)]
pub struct History<T> {
    target: T,
}

impl<T: BackupTarget> History<T> {
    /// The history kept in `target`.
    pub fn new(target: T) -> History<T> {
        History { target }
    }

    /// The target.
    pub fn target(&self) -> &T {
        &self.target
    }

    /// Every backup held, oldest first (incomplete ones by their file time).
    ///
    /// # Errors
    /// When the target cannot be listed.
    pub async fn list(&self) -> Result<Vec<StoredBackup>> {
        let mut all = self.target.list().await?;
        all.sort_by_key(|b| b.manifest.as_ref().map_or(b.modified, |m| m.created_at));
        Ok(all)
    }

    /// The newest complete backup, if any (lifecycle archives aside).
    pub async fn latest(&self) -> Result<Option<Manifest>> {
        Ok(self
            .list()
            .await?
            .into_iter()
            .filter_map(|b| b.manifest)
            .rfind(|m| m.lifecycle.is_none()))
    }

    /// Takes `backup` of `db` and stores it: a full one, or, with `incremental`, one that
    /// continues the newest backup held (a full one when there is none yet). The archive is
    /// written into `scratch` (a directory of the local disk) and removed once stored.
    ///
    /// # Errors
    /// As [`Backup::to_tar`] and [`BackupTarget::put`].
    pub async fn create(
        &self,
        db: &Db,
        backup: &Backup,
        incremental: bool,
        scratch: &std::path::Path,
    ) -> Result<Manifest> {
        let mut backup = backup.clone();
        if incremental && let Some(parent) = self.latest().await? {
            backup = backup.incremental(&parent);
        }
        std::fs::create_dir_all(scratch).map_err(BackupError::io(scratch))?;
        let file = scratch.join(format!(
            "polyorm-backup-{}-{}.tar",
            std::process::id(),
            Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ));
        let manifest = backup.to_tar(db, &file).await?;
        let stored = self.target.put(&file, &manifest).await;
        let _ = std::fs::remove_file(&file);
        stored?;
        Ok(manifest)
    }

    /// The chain that restores backup `id`: its full backup, then each backup it continues.
    ///
    /// # Errors
    /// [`BackupError::BrokenChain`] when a backup of the chain is missing or incomplete.
    pub async fn chain(&self, id: &str) -> Result<Vec<Manifest>> {
        let all: Vec<Manifest> = self
            .list()
            .await?
            .into_iter()
            .filter_map(|b| b.manifest)
            .collect();
        let mut chain = Vec::new();
        let mut next = Some(id.to_owned());
        while let Some(id) = next {
            let m = all.iter().find(|m| m.id == id).ok_or_else(|| {
                BackupError::BrokenChain(format!(
                    "backup `{id}` is not (completely) in {}",
                    self.target.describe()
                ))
            })?;
            next = match m.kind {
                BackupKind::Full => None,
                _ => m.parent.clone(),
            };
            chain.push(m.clone());
        }
        chain.reverse();
        Ok(chain)
    }

    /// Downloads the chain of backup `id` into `dir` and opens its archives (full first).
    pub async fn fetch_chain(&self, id: &str, dir: &std::path::Path) -> Result<Vec<Archive>> {
        std::fs::create_dir_all(dir).map_err(BackupError::io(dir))?;
        let mut out = Vec::new();
        for m in self.chain(id).await? {
            let path: PathBuf = self.target.fetch(&m.id, dir).await?;
            out.push(Archive::open(path)?);
        }
        Ok(out)
    }

    /// Deletes the backups `retention` does not keep (and incomplete ones past its grace);
    /// with `dry_run`, only says which.
    ///
    /// # Errors
    /// When the target cannot be listed or a deletion fails (the ones before it are done).
    pub async fn prune(&self, retention: &Retention, dry_run: bool) -> Result<Pruned> {
        let all = self.list().await?;
        // Lifecycle archives hold rows gone from the database: retention never deletes them.
        let (archives, manifests): (Vec<Manifest>, Vec<Manifest>) = all
            .iter()
            .filter_map(|b| b.manifest.clone())
            .partition(|m| m.lifecycle.is_some());
        let mut kept = retention.select(&manifests);
        kept.extend(archives.iter().rev().map(|m| {
            (
                m.id.clone(),
                "lifecycle archive (never pruned: its rows are gone from the database)".to_owned(),
            )
        }));
        let keep: HashSet<&str> = kept.iter().map(|(id, _)| id.as_str()).collect();
        let now = Utc::now();
        let mut deleted = Vec::new();
        for b in &all {
            let goes = match b.status {
                BackupStatus::Complete => !keep.contains(b.id.as_str()),
                BackupStatus::Incomplete => now - b.modified > retention.incomplete_grace,
            };
            if goes {
                if !dry_run {
                    self.target.delete(&b.id).await?;
                }
                deleted.push(b.id.clone());
            }
        }
        Ok(Pruned { kept, deleted })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn manifest(id: &str, at: DateTime<Utc>, kind: BackupKind, parent: Option<&str>) -> Manifest {
        Manifest {
            format: 1,
            id: id.to_owned(),
            created_at: at,
            kind,
            parent: parent.map(str::to_owned),
            base: id.to_owned(),
            source: "SQLite".to_owned(),
            consistency: String::new(),
            watermark_column: None,
            compression: None,
            encryption: None,
            schema: polyorm_migrate::Schema::default(),
            parts: Vec::new(),
            lifecycle: None,
        }
    }

    #[tokio::test]
    async fn lifecycle_archives_are_never_pruned_nor_continued() {
        let dir = tempfile::tempdir().unwrap();
        let at = |d| Utc.with_ymd_and_hms(2026, 1, d, 1, 0, 0).unwrap();
        let mut archive = manifest("a-archive-events", at(1), BackupKind::Full, None);
        archive.lifecycle = Some(crate::lifecycle::LifecycleInfo {
            policy: "events".to_owned(),
            rule: "at before 2025-01-01T00:00:00Z".to_owned(),
        });
        let old = manifest("b-full", at(2), BackupKind::Full, None);
        let new = manifest("c-full", at(3), BackupKind::Full, None);
        for m in [&archive, &old, &new] {
            std::fs::write(dir.path().join(format!("{}.tar", m.id)), b"").unwrap();
            let json = serde_json::to_vec(m).unwrap();
            std::fs::write(dir.path().join(format!("{}.json", m.id)), json).unwrap();
        }
        let history = History::new(crate::LocalTarget::new(dir.path()));
        assert_eq!(history.latest().await.unwrap().unwrap().id, "c-full");
        let retention = Retention {
            last: 1,
            daily: 0,
            weekly: 0,
            monthly: 0,
            yearly: 0,
            ..Retention::default()
        };
        let pruned = history.prune(&retention, false).await.unwrap();
        assert_eq!(pruned.deleted, vec!["b-full".to_owned()]);
        let left: Vec<String> = history
            .list()
            .await
            .unwrap()
            .into_iter()
            .map(|b| b.id)
            .collect();
        assert_eq!(
            left,
            vec!["a-archive-events".to_owned(), "c-full".to_owned()]
        );
    }

    #[test]
    fn gfs_keeps_the_newest_of_each_day_week_month_and_year_and_the_chains_they_need() {
        // A full backup at 01:00 and an incremental at 13:00, every day for 400 days.
        let start = Utc.with_ymd_and_hms(2025, 1, 1, 1, 0, 0).unwrap();
        let mut all = Vec::new();
        for day in 0..400 {
            let t = start + Duration::days(day);
            let full = format!("full-{day}");
            all.push(manifest(&full, t, BackupKind::Full, None));
            all.push(manifest(
                &format!("inc-{day}"),
                t + Duration::hours(12),
                BackupKind::Incremental,
                Some(&full),
            ));
        }
        let r = Retention::default();
        let kept = r.select(&all);
        let ids: HashSet<&str> = kept.iter().map(|(id, _)| id.as_str()).collect();
        // Daily: the last 7 days' incrementals, each with its full backup.
        for day in 393..400 {
            assert!(ids.contains(format!("inc-{day}").as_str()), "inc-{day}");
            assert!(ids.contains(format!("full-{day}").as_str()), "full-{day}");
        }
        assert!(
            !ids.contains("inc-392")
                || kept
                    .iter()
                    .any(|(id, why)| id == "inc-392" && !why.starts_with("daily"))
        );
        // Monthly and yearly: the newest backup of each of the last 12 months, and of each
        // year, is kept (whatever reason was recorded first).
        let newest_of = |key: &dyn Fn(&DateTime<Utc>) -> String| {
            let mut seen = BTreeSet::new();
            let mut newest = Vec::new();
            for m in all.iter().rev() {
                if seen.insert(key(&m.created_at)) {
                    newest.push(m.id.clone());
                }
            }
            newest
        };
        let months = newest_of(&|t| t.format("%Y-%m").to_string());
        for id in &months[..12] {
            assert!(ids.contains(id.as_str()), "monthly {id}");
        }
        assert!(!ids.contains(months[12].as_str()), "a 13th month");
        for id in newest_of(&|t| t.format("%Y").to_string()) {
            assert!(ids.contains(id.as_str()), "yearly {id}");
        }
        for (id, _) in &kept {
            if let Some(day) = id.strip_prefix("inc-") {
                assert!(
                    ids.contains(format!("full-{day}").as_str()),
                    "chain of {id}"
                );
            }
        }
        // Far fewer than the 800 taken.
        assert!(kept.len() < 60, "{}", kept.len());
    }
}
