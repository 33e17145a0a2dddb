//! `polyorm backup physical create | verify | restore | archive-now` on private servers (the root's
//! tests/support/servers.rs): a MariaDB full and incremental backup, and a PostgreSQL base
//! backup restored to a recorded time, taken from the command line and restored into new data
//! directories that other private servers start on; their rows are read back. Needs
//! `mariadb-backup` (scripts/physical-backup-deps.sh).

// tests/support/servers.rs names the `polyorm` crate; polyorm-core is what it uses of it.
extern crate polyorm_core as polyorm;

use std::path::Path;
use std::process::{Command, Output};

use polyorm_core::{Compiled, Db, Executor, FieldType};

#[path = "../../tests/support/servers.rs"]
mod servers;
use servers::{Kind, PrivateServer, server_writable_dir};

fn orm(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_polyorm"))
        .args(args)
        .env("DATABASE_URL", url)
        .output()
        .expect("the polyorm binary runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn ok(output: Output) -> String {
    assert!(output.status.success(), "{}", text(&output));
    text(&output)
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

async fn ids(url: &str) -> Vec<(i64, String)> {
    // PostgreSQL's `text` and MariaDB's `varchar` both decode as String.
    let db = Db::connect(url).await.unwrap();
    let rows = db
        .fetch_compiled(
            Compiled {
                sql: "SELECT id, note FROM cli_rows ORDER BY id".into(),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_physical_backups_are_created_verified_and_restored_from_the_command_line() {
    let dir = std::env::temp_dir().join(format!("orm_cli_physical_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let source = PrivateServer::start(Kind::MariaDb).await;
    let url = source.url();
    let db = Db::connect(&url).await.unwrap();
    db.execute_raw("CREATE TABLE cli_rows (id bigint PRIMARY KEY, note varchar(40) NOT NULL)")
        .await
        .unwrap();
    db.execute_raw("INSERT INTO cli_rows VALUES (1, 'full'), (2, 'full')")
        .await
        .unwrap();
    let (full, inc) = (dir.join("full"), dir.join("inc"));
    let said = ok(orm(
        &url,
        &["backup", "physical", "create", "--to", path(&full)],
    ));
    assert!(said.contains("MariaDB Full backup"), "{said}");
    db.execute_raw("INSERT INTO cli_rows VALUES (3, 'incremental')")
        .await
        .unwrap();
    let said = ok(orm(
        &url,
        &[
            "backup",
            "physical",
            "create",
            "--to",
            path(&inc),
            "--incremental-from",
            path(&full),
        ],
    ));
    assert!(said.contains("MariaDB Incremental backup"), "{said}");
    db.execute_raw("INSERT INTO cli_rows VALUES (4, 'in no backup')")
        .await
        .unwrap();
    db.close().await;
    let said = ok(orm(&url, &["backup", "physical", "verify", path(&inc)]));
    assert!(said.contains(": ok"), "{said}");

    // Refused: a directory that is not a backup, PostgreSQL options on a MariaDB backup.
    let refused = orm(
        &url,
        &[
            "backup",
            "physical",
            "restore",
            path(&dir),
            "--datadir",
            path(&dir.join("x")),
        ],
    );
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        text(&refused).contains("did not finish"),
        "{}",
        text(&refused)
    );
    let refused = orm(
        &url,
        &[
            "backup",
            "physical",
            "restore",
            path(&full),
            "--datadir",
            path(&dir.join("x")),
            "--target-time",
            "2026-01-01T00:00:00Z",
        ],
    );
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        text(&refused).contains("for PostgreSQL"),
        "{}",
        text(&refused)
    );

    let restored = PrivateServer::unstarted(Kind::MariaDb, &[]);
    let data = restored.data_dir();
    let said = ok(orm(
        &url,
        &[
            "backup",
            "physical",
            "restore",
            path(&full),
            path(&inc),
            "--datadir",
            path(&data),
            "--port",
            &restored.port.to_string(),
        ],
    ));
    assert!(
        said.contains(&format!("--port={}", restored.port)),
        "{said}"
    );
    restored.start_existing().await;
    assert_eq!(
        ids(&restored.url()).await,
        vec![
            (1, "full".to_owned()),
            (2, "full".to_owned()),
            (3, "incremental".to_owned())
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_base_backup_is_restored_to_a_time_from_the_command_line() {
    let dir = std::env::temp_dir().join(format!("orm_cli_pitr_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let archive = dir.join("wal");
    server_writable_dir(&archive);
    let command = format!(
        "archive_command={}",
        polyorm_backup::physical::postgres::archive_command(&archive).unwrap()
    );
    let source = PrivateServer::start_with(
        Kind::Postgres,
        &["wal_level=replica", "archive_mode=on", &command],
    )
    .await;
    let url = source.url();
    let db = Db::connect(&url).await.unwrap();
    db.execute_raw("CREATE TABLE cli_rows (id bigint PRIMARY KEY, note text NOT NULL)")
        .await
        .unwrap();
    db.execute_raw("INSERT INTO cli_rows VALUES (1, 'before the backup')")
        .await
        .unwrap();
    let base = dir.join("base");
    let said = ok(orm(
        &url,
        &[
            "backup",
            "physical",
            "create",
            "--to",
            path(&base),
            "--wal-archive",
            path(&archive),
        ],
    ));
    assert!(said.contains("PostgreSQL Full backup"), "{said}");
    db.execute_raw("INSERT INTO cli_rows VALUES (2, 'before the target')")
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let target = chrono::Utc::now().to_rfc3339();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    db.execute_raw("INSERT INTO cli_rows VALUES (3, 'after the target')")
        .await
        .unwrap();
    db.close().await;
    let said = ok(orm(&url, &["backup", "physical", "archive-now"]));
    assert!(said.contains("is archived"), "{said}");

    let restored = PrivateServer::unstarted(Kind::Postgres, &[]);
    let data = restored.data_dir();
    let said = ok(orm(
        &url,
        &[
            "backup",
            "physical",
            "restore",
            path(&base),
            "--datadir",
            path(&data),
            "--target-time",
            &target,
            "--port",
            &restored.port.to_string(),
        ],
    ));
    assert!(said.contains(&format!("-p {}", restored.port)), "{said}");
    restored.start_existing().await;
    if let Err(e) = polyorm_backup::physical::postgres::wait_until_promoted(
        &restored.url(),
        std::time::Duration::from_secs(60),
    )
    .await
    {
        panic!("{e}\n{}", restored.log());
    }
    assert_eq!(
        ids(&restored.url()).await,
        vec![
            (1, "before the backup".to_owned()),
            (2, "before the target".to_owned())
        ]
    );
    // The restored server does not archive: a base backup of it is refused.
    let refused = orm(
        &restored.url(),
        &["backup", "physical", "create", "--to", path(&dir.join("x"))],
    );
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        text(&refused).contains("not configured for WAL archiving"),
        "{}",
        text(&refused)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
