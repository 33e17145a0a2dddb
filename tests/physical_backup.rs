//! Physical backups (`polyorm::backup::physical`) on private servers of the tests' own
//! (tests/support/servers.rs): PostgreSQL base backups with WAL archiving restored to a recorded
//! time, MariaDB full + incremental backups (`mariadb-backup`, installed by
//! scripts/physical-backup-deps.sh) restored into new data directories; each restore is started
//! as a server on another port and its rows are read back. The refusals: a tool that is not
//! installed, a server that does not archive WAL, a target time before the base backup, a
//! corrupt or unfinished backup, a broken incremental chain.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use polyorm::backup::BackupError;
use polyorm::backup::physical::mariadb::{MariaDbPhysical, MariaDbRestore};
use polyorm::backup::physical::postgres::{
    PgPhysical, PgRestore, RecoveryTarget, archive_command, wait_until_promoted,
};
use polyorm::backup::physical::{PgFormat, PhysicalKind, verify_physical};
use polyorm::{Compiled, Db, Executor, FieldType};

#[path = "support/servers.rs"]
mod servers;
use servers::{Kind, PrivateServer, server_writable_dir};

/// A directory of the test's own, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("orm-physical-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn insert(db: &Db, table: &str, ids: std::ops::RangeInclusive<i64>, phase: &str) {
    for id in ids {
        // One transaction per row, as an application writes them.
        db.execute_raw(&format!(
            "INSERT INTO {table} (id, phase) VALUES ({id}, '{phase}')"
        ))
        .await
        .unwrap();
    }
}

async fn rows(url: &str, table: &str) -> Vec<(i64, String)> {
    let db = Db::connect(url).await.unwrap();
    let rows = db
        .fetch_compiled(
            Compiled {
                sql: format!("SELECT id, phase FROM {table} ORDER BY id"),
                values: Vec::new(),
            },
            |r| {
                Ok((
                    <i64 as FieldType>::decode(r, 0)?,
                    <String as FieldType>::decode(r, 1)?,
                ))
            },
        )
        .await
        .unwrap();
    db.close().await;
    rows
}

fn expected(phases: &[(std::ops::RangeInclusive<i64>, &str)]) -> Vec<(i64, String)> {
    phases
        .iter()
        .flat_map(|(ids, phase)| ids.clone().map(move |id| (id, (*phase).to_owned())))
        .collect()
}

/// A moment between two phases of writes: no commit shares its millisecond.
async fn mark() -> DateTime<Utc> {
    tokio::time::sleep(Duration::from_millis(100)).await;
    let at = Utc::now();
    tokio::time::sleep(Duration::from_millis(100)).await;
    at
}

/// A PostgreSQL server archiving its WAL into `archive`.
async fn archiving_postgres(archive: &Path) -> PrivateServer {
    server_writable_dir(archive);
    let command = format!("archive_command={}", archive_command(archive).unwrap());
    PrivateServer::start_with(
        Kind::Postgres,
        &["wal_level=replica", "archive_mode=on", &command],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restores_to_a_recorded_time_from_a_base_backup_and_the_wal_archive() {
    let scratch = Scratch::new("pg-pitr");
    let archive = scratch.join("wal");
    let source = archiving_postgres(&archive).await;
    let db = Db::connect(&source.url()).await.unwrap();
    db.execute_raw("CREATE TABLE pitr_rows (id bigint PRIMARY KEY, phase text NOT NULL)")
        .await
        .unwrap();
    insert(&db, "pitr_rows", 1..=3, "before the backup").await;

    let pg = PgPhysical::new(source.url()).wal_archive(&archive);
    let settings = pg.check_archiving().await.unwrap();
    assert_eq!(settings.archive_mode, "on");
    let base = scratch.join("base");
    let backup = pg.base_backup(&base).await.unwrap();
    assert_eq!(backup.kind, PhysicalKind::Full);
    assert_eq!(backup.pg_format, Some(PgFormat::Tar));
    assert!(base.join("data/base.tar").is_file() && base.join("data/pg_wal.tar").is_file());
    assert!(backup.finished_at >= backup.started_at);

    insert(&db, "pitr_rows", 4..=6, "after the backup").await;
    let target = mark().await;
    insert(&db, "pitr_rows", 7..=9, "after the target").await;
    db.execute_raw("UPDATE pitr_rows SET phase = 'changed after the target' WHERE id = 1")
        .await
        .unwrap();
    // The last commits reach the archive: recovery sees a commit past the target and stops.
    pg.archive_now().await.unwrap();
    db.close().await;

    // Refusals first: nothing is written for any of them.
    let refused_dir = scratch.join("refused");
    let too_early = backup.started_at - chrono::Duration::seconds(1);
    let err = PgRestore::new(RecoveryTarget::Time(too_early))
        .run(&base, &refused_dir)
        .await
        .unwrap_err();
    assert!(
        matches!(err, BackupError::TargetBeforeBackup { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("choose a time after"), "{err}");
    let err = PgRestore::new(RecoveryTarget::Time(target))
        .wal_archive(scratch.join("no-such-archive"))
        .run(&base, &refused_dir)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
    let err = PgRestore::new(RecoveryTarget::Time(target))
        .bin_dir(scratch.join("no-binaries"))
        .run(&base, &refused_dir)
        .await
        .unwrap_err();
    assert!(matches!(err, BackupError::ToolMissing { .. }), "{err}");
    assert!(err.to_string().contains("postgresql-15"), "{err}");
    assert!(!refused_dir.exists());

    // The restore, started on another port.
    let restored = PrivateServer::unstarted(Kind::Postgres, &[]);
    let written = PgRestore::new(RecoveryTarget::Time(target))
        .run(&base, restored.data_dir())
        .await
        .unwrap();
    assert!(written.command_line(restored.port).contains("-D"));
    restored.start_existing().await;
    if let Err(e) = wait_until_promoted(&restored.url(), Duration::from_secs(60)).await {
        panic!("{e}\n{}", restored.log());
    }
    assert_eq!(
        rows(&restored.url(), "pitr_rows").await,
        expected(&[(1..=3, "before the backup"), (4..=6, "after the backup")]),
        "exactly the rows committed before the target time"
    );
    // The restored server is a primary that takes writes.
    let copy = Db::connect(&restored.url()).await.unwrap();
    copy.execute_raw("INSERT INTO pitr_rows (id, phase) VALUES (100, 'on the copy')")
        .await
        .unwrap();
    copy.close().await;

    // A server that does not archive: refused before pg_basebackup runs.
    let err = PgPhysical::new(restored.url())
        .base_backup(scratch.join("unarchived"))
        .await
        .unwrap_err();
    assert!(matches!(err, BackupError::NotArchiving { .. }), "{err}");
    assert!(err.to_string().contains("archive_mode is off"), "{err}");
    // pg_basebackup missing.
    let err = PgPhysical::new(source.url())
        .bin_dir(scratch.join("no-binaries"))
        .base_backup(scratch.join("no-tool"))
        .await
        .unwrap_err();
    assert!(matches!(err, BackupError::ToolMissing { .. }), "{err}");
    assert!(err.to_string().contains("postgresql-client-15"), "{err}");

    // A changed or unfinished backup.
    let tar = base.join("data/base.tar");
    let mut bytes = std::fs::read(&tar).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&tar, bytes).unwrap();
    let err = PgRestore::new(RecoveryTarget::Latest)
        .run(&base, &refused_dir)
        .await
        .unwrap_err();
    assert!(matches!(err, BackupError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("base.tar"), "{err}");
    std::fs::remove_file(base.join("orm-physical.json")).unwrap();
    let err = verify_physical(&base).unwrap_err();
    assert!(err.to_string().contains("did not finish"), "{err}");
    assert!(!refused_dir.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_plain_base_backup_restores_to_its_end_or_to_the_latest_archived_commit() {
    let scratch = Scratch::new("pg-plain");
    let archive = scratch.join("wal");
    let source = archiving_postgres(&archive).await;
    let db = Db::connect(&source.url()).await.unwrap();
    db.execute_raw("CREATE TABLE plain_rows (id bigint PRIMARY KEY, phase text NOT NULL)")
        .await
        .unwrap();
    insert(&db, "plain_rows", 1..=2, "in the backup").await;
    let pg = PgPhysical::new(source.url())
        .wal_archive(&archive)
        .format(PgFormat::Plain);
    let base = scratch.join("base");
    pg.base_backup(&base).await.unwrap();
    assert!(base.join("data/PG_VERSION").is_file());
    insert(&db, "plain_rows", 3..=4, "archived later").await;
    pg.archive_now().await.unwrap();
    db.close().await;

    let at_end = PrivateServer::unstarted(Kind::Postgres, &[]);
    PgRestore::new(RecoveryTarget::EndOfBackup)
        .run(&base, at_end.data_dir())
        .await
        .unwrap();
    let latest = PrivateServer::unstarted(Kind::Postgres, &[]);
    PgRestore::new(RecoveryTarget::Latest)
        .run(&base, latest.data_dir())
        .await
        .unwrap();
    at_end.start_existing().await;
    latest.start_existing().await;
    for server in [&at_end, &latest] {
        if let Err(e) = wait_until_promoted(&server.url(), Duration::from_secs(60)).await {
            panic!("{e}\n{}", server.log());
        }
    }
    assert_eq!(
        rows(&at_end.url(), "plain_rows").await,
        expected(&[(1..=2, "in the backup")])
    );
    assert_eq!(
        rows(&latest.url(), "plain_rows").await,
        expected(&[(1..=2, "in the backup"), (3..=4, "archived later")])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_full_and_incremental_backups_restore_exactly_their_rows() {
    let scratch = Scratch::new("mariadb");
    let source = PrivateServer::start(Kind::MariaDb).await;
    let db = Db::connect(&source.url()).await.unwrap();
    db.execute_raw(
        "CREATE TABLE hot_rows (id bigint PRIMARY KEY, phase varchar(64) NOT NULL) ENGINE=InnoDB",
    )
    .await
    .unwrap();
    insert(&db, "hot_rows", 1..=3, "full").await;
    let maria = MariaDbPhysical::new(source.url());
    let full = scratch.join("full");
    let full_manifest = maria.full(&full).await.unwrap();
    assert_eq!(full_manifest.kind, PhysicalKind::Full);

    insert(&db, "hot_rows", 4..=6, "incremental").await;
    db.execute_raw("UPDATE hot_rows SET phase = 'updated' WHERE id = 1")
        .await
        .unwrap();
    db.execute_raw("DELETE FROM hot_rows WHERE id = 2")
        .await
        .unwrap();
    let inc = scratch.join("inc-1");
    let inc_manifest = maria.incremental(&inc, &full).await.unwrap();
    assert_eq!(inc_manifest.kind, PhysicalKind::Incremental);
    assert_eq!(
        inc_manifest.parent.as_deref(),
        Some(full_manifest.id.as_str())
    );
    assert_eq!(inc_manifest.from_lsn, full_manifest.to_lsn);
    assert!(
        inc_manifest.bytes() < full_manifest.bytes(),
        "an incremental copies the changed pages only ({} vs {} bytes)",
        inc_manifest.bytes(),
        full_manifest.bytes()
    );
    insert(&db, "hot_rows", 7..=9, "in no backup").await;
    db.close().await;

    // Chains that do not hold together, and a missing tool: nothing written.
    let refused_dir = scratch.join("refused");
    let err = MariaDbRestore::new()
        .run(&[&inc], &refused_dir)
        .await
        .unwrap_err();
    assert!(matches!(err, BackupError::BrokenChain(_)), "{err}");
    let err = MariaDbRestore::new()
        .run(&[&full, &full], &refused_dir)
        .await
        .unwrap_err();
    assert!(matches!(err, BackupError::BrokenChain(_)), "{err}");
    let err = MariaDbPhysical::new(source.url())
        .bin_dir(scratch.join("no-binaries"))
        .full(scratch.join("no-tool"))
        .await
        .unwrap_err();
    assert!(matches!(err, BackupError::ToolMissing { .. }), "{err}");
    assert!(
        err.to_string().contains("apt-get install mariadb-backup"),
        "{err}"
    );
    assert!(!refused_dir.exists());

    let full_only = PrivateServer::unstarted(Kind::MariaDb, &[]);
    MariaDbRestore::new()
        .run(&[&full], full_only.data_dir())
        .await
        .unwrap();
    let both = PrivateServer::unstarted(Kind::MariaDb, &[]);
    let restored = MariaDbRestore::new()
        .run(&[&full, &inc], both.data_dir())
        .await
        .unwrap();
    assert_eq!(restored.chain.len(), 2);
    // Restoring prepares a copy: the backups are as they were.
    verify_physical(&full).unwrap();
    verify_physical(&inc).unwrap();

    full_only.start_existing().await;
    both.start_existing().await;
    assert_eq!(
        rows(&full_only.url(), "hot_rows").await,
        expected(&[(1..=3, "full")])
    );
    assert_eq!(
        rows(&both.url(), "hot_rows").await,
        expected(&[(1..=1, "updated"), (3..=3, "full"), (4..=6, "incremental")])
    );

    // A truncated file of the backup.
    let ibdata = full.join("data/ibdata1");
    let len = std::fs::metadata(&ibdata).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&ibdata)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let err = MariaDbRestore::new()
        .run(&[&full, &inc], &refused_dir)
        .await
        .unwrap_err();
    assert!(matches!(err, BackupError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("ibdata1"), "{err}");
    assert!(!refused_dir.exists());
}
