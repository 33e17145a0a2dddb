//! `polyorm backup create | list | verify | restore | prune` on SQLite databases: the tables read
//! from the live database, archives kept in a directory, refusals as exit code 1.

use std::path::Path;
use std::process::{Command, Output};

use polyorm_core::{Executor, PoolOptions};

fn orm(dir: &Path, url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_polyorm"))
        .args(args)
        .current_dir(dir)
        .env("DATABASE_URL", url)
        .env("ORM_TEST_BACKUP_KEY", "11".repeat(32))
        .env("ORM_TEST_WRONG_KEY", "22".repeat(32))
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

fn refused(output: Output, says: &str) {
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(text(&output).contains(says), "{}", text(&output));
}

async fn rows(url: &str) -> Vec<(i64, String, Option<String>)> {
    let db = PoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap();
    let rows = db
        .fetch_compiled(
            polyorm_core::Compiled {
                sql: "SELECT id, name, nick FROM users ORDER BY id".into(),
                values: Vec::new(),
            },
            |r| {
                Ok((
                    <i64 as polyorm_core::FieldType>::decode(r, 0)?,
                    <String as polyorm_core::FieldType>::decode(r, 1)?,
                    <Option<String> as polyorm_core::FieldType>::decode(r, 2)?,
                ))
            },
        )
        .await
        .unwrap();
    db.close().await;
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_are_created_listed_verified_restored_and_pruned_from_the_command_line() {
    let dir = std::env::temp_dir().join(format!("orm_cli_backup_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let source = format!("sqlite://{}/app.db?mode=rwc", dir.display());
    let db = PoolOptions::new()
        .max_connections(1)
        .connect(&source)
        .await
        .unwrap();
    db.execute_raw(
        "CREATE TABLE users (id integer PRIMARY KEY AUTOINCREMENT, name text NOT NULL, \
         nick text, updated_at bigint NOT NULL)",
    )
    .await
    .unwrap();
    db.execute_raw(
        "INSERT INTO users (name, nick, updated_at) VALUES ('Ada', NULL, 1), ('Zoë', 'z', 2), \
         ('O''Brien', 'ob', 3)",
    )
    .await
    .unwrap();
    let store = dir.join("backups");
    let to = store.to_str().unwrap();

    let full = ok(orm(
        &dir,
        &source,
        &["backup", "create", "--to", to, "--watermark", "updated_at"],
    ));
    assert!(full.contains("full backup"), "{full}");
    db.execute_raw("INSERT INTO users (name, nick, updated_at) VALUES ('Grace', 'g', 4)")
        .await
        .unwrap();
    let inc = ok(orm(
        &dir,
        &source,
        &[
            "backup",
            "create",
            "--to",
            to,
            "--incremental",
            "--key-env",
            "ORM_TEST_BACKUP_KEY",
        ],
    ));
    assert!(
        inc.contains("incremental backup") && inc.contains("1 rows"),
        "{inc}"
    );
    db.close().await;

    let list = ok(orm(&dir, &source, &["backup", "list", "--to", to]));
    let ids: Vec<&str> = list
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{list}");
    assert!(
        list.contains("complete") && list.contains("incremental"),
        "{list}"
    );

    ok(orm(
        &dir,
        &source,
        &["backup", "verify", ids[0], "--to", to],
    ));
    refused(
        orm(&dir, &source, &["backup", "verify", ids[1], "--to", to]),
        "no key was given",
    );
    refused(
        orm(
            &dir,
            &source,
            &[
                "backup",
                "verify",
                ids[1],
                "--to",
                to,
                "--key-env",
                "ORM_TEST_WRONG_KEY",
            ],
        ),
        "cannot decrypt",
    );

    // The chain (full + incremental) into a new database.
    let target = format!("sqlite://{}/copy.db?mode=rwc", dir.display());
    let keyed = ["--to", to, "--key-env", "ORM_TEST_BACKUP_KEY"];
    let restore = |url: &str, extra: &[&str]| {
        let mut args = vec!["backup", "restore", ids[1]];
        args.extend(keyed);
        args.extend(extra);
        orm(&dir, url, &args)
    };
    let done = ok(restore(&target, &[]));
    assert!(
        done.contains("users: 4 rows (created table, checked)"),
        "{done}"
    );
    assert_eq!(rows(&target).await, rows(&source).await);
    refused(
        restore(&target, &[]),
        "already holds rows in users (4 rows)",
    );
    ok(restore(&target, &["--replace"]));
    assert_eq!(rows(&target).await.len(), 4);

    // A changed byte in the stored archive: refused, nothing written.
    let tar = store.join(format!("{}.tar", ids[0]));
    let mut bytes = std::fs::read(&tar).unwrap();
    // Inside the part: its frames follow the `ORMB` magic and header.
    let at = bytes.windows(4).position(|w| w == b"ORMB").unwrap() + 20;
    bytes[at] ^= 1;
    std::fs::write(&tar, &bytes).unwrap();
    refused(
        orm(&dir, &source, &["backup", "verify", ids[0], "--to", to]),
        "is corrupt",
    );
    let fresh = format!("sqlite://{}/fresh.db?mode=rwc", dir.display());
    refused(restore(&fresh, &[]), "is corrupt");
    let fresh_db = PoolOptions::new()
        .max_connections(1)
        .connect(&fresh)
        .await
        .unwrap();
    let tables = polyorm_migrate::introspect::live_schema(&fresh_db)
        .await
        .unwrap();
    assert!(
        tables.tables.is_empty(),
        "nothing written: {:?}",
        tables.tables.keys()
    );
    fresh_db.close().await;

    // Retention: keeping only the newest keeps its chain; a dry run deletes nothing.
    let dry = ok(orm(
        &dir,
        &source,
        &[
            "backup",
            "prune",
            "--to",
            to,
            "--last",
            "1",
            "--daily",
            "0",
            "--weekly",
            "0",
            "--monthly",
            "0",
            "--yearly",
            "0",
            "--dry-run",
        ],
    ));
    assert!(
        dry.contains(&format!("keep   {}  (chain of {})", ids[0], ids[1])),
        "{dry}"
    );
    assert!(!dry.contains("would delete"), "{dry}");
    std::fs::remove_dir_all(&dir).unwrap();
}
