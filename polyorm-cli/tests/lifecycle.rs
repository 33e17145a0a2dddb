//! `polyorm lifecycle run [--dry-run]` on a PostgreSQL database of its own (created on the shared
//! server, `ORM_TEST_POSTGRES_URL`, dropped at the end): the `[[lifecycle]]` policies of
//! orm.toml counted, then run (a delete policy and an archive policy), every remaining row read
//! back, and the archive verified and restored (into a second database) with `polyorm backup`.

use std::path::Path;
use std::process::{Command, Output};

use polyorm_core::{Compiled, Db, Executor, FieldType, PoolOptions};

fn orm(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_polyorm"))
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("ORM_CONFIG")
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

async fn ids(db: &Db, table: &str) -> Vec<i64> {
    db.fetch_compiled(
        Compiled {
            sql: format!("SELECT id FROM {table} ORDER BY id"),
            values: Vec::new(),
        },
        |r| <i64 as FieldType>::decode(r, 0),
    )
    .await
    .unwrap()
}

fn postgres_url() -> String {
    std::env::var("ORM_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_policies_of_orm_toml_are_counted_then_run_from_the_command_line() {
    let base = postgres_url();
    let admin = PoolOptions::new()
        .max_connections(1)
        .connect(&base)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {base} is unreachable: {e}"));
    let name = format!("orm_lc_cli_{}", std::process::id());
    admin
        .execute_raw(&format!("DROP DATABASE IF EXISTS {name}"))
        .await
        .unwrap();
    admin
        .execute_raw(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let (server, _) = base.rsplit_once('/').unwrap();
    let url = format!("{server}/{name}");
    let db = PoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    for sql in [
        "CREATE TABLE sessions (id bigint PRIMARY KEY, user_id bigint NOT NULL, \
         expires_at timestamptz NOT NULL)",
        "INSERT INTO sessions SELECT n, n * 10, CASE WHEN n <= 20 THEN now() - interval '40 days' \
         ELSE now() + interval '1 day' END FROM generate_series(1, 30) n",
        "CREATE TABLE events (id bigserial PRIMARY KEY, at timestamp NOT NULL, body text NOT NULL)",
        "INSERT INTO events (at, body) SELECT (now() AT TIME ZONE 'utc') - CASE WHEN n <= 6 \
         THEN interval '400 days' ELSE interval '1 hour' END, 'event ' || n \
         FROM generate_series(1, 10) n",
    ] {
        db.execute_raw(sql).await.unwrap();
    }

    let dir = std::env::temp_dir().join(format!("orm_cli_lifecycle_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let archive = dir.join("archive");
    std::fs::write(
        dir.join("orm.toml"),
        format!("[database]\nurl = \"{url}\"\n"),
    )
    .unwrap();
    refused(
        orm(&dir, &["lifecycle", "run"]),
        "declares no `[[lifecycle]]` policies",
    );
    std::fs::write(
        dir.join("orm.toml"),
        format!(
            r#"[database]
url = "{url}"

[[lifecycle]]
table = "sessions"
column = "expires_at"
older_than = "30d"
action = "delete"
batch_size = 7

[[lifecycle]]
name = "old-events"
table = "events"
column = "at"
older_than = "365d"
action = "archive"
archive_to = "{}"
batch_size = 4
pause = "10ms"
"#,
            archive.display()
        ),
    )
    .unwrap();

    let dry = ok(orm(&dir, &["lifecycle", "run", "--dry-run"]));
    assert!(
        dry.contains(
            "sessions (sessions.expires_at older than 30d): 20 rows would be deleted (dry run"
        ),
        "{dry}"
    );
    assert!(
        dry.contains(&format!(
            "old-events (events.at older than 365d): 6 rows would be archived to {} and deleted",
            archive.display()
        )),
        "{dry}"
    );
    assert_eq!(ids(&db, "sessions").await.len(), 30);
    assert_eq!(ids(&db, "events").await.len(), 10);
    assert!(!archive.exists());
    refused(
        orm(&dir, &["lifecycle", "run", "--policy", "nope"]),
        "no lifecycle policy named `nope` (it has: sessions, old-events)",
    );

    let done = ok(orm(&dir, &["lifecycle", "run"]));
    assert!(
        done.contains(
            "sessions (sessions.expires_at older than 30d): 20 rows deleted in 3 batches"
        ),
        "{done}"
    );
    assert!(
        done.contains("6 rows archived to") && done.contains("(verified), 6 deleted in 2 batches"),
        "{done}"
    );
    assert_eq!(ids(&db, "sessions").await, (21..=30).collect::<Vec<_>>());
    assert_eq!(ids(&db, "events").await, (7..=10).collect::<Vec<_>>());
    let again = ok(orm(&dir, &["lifecycle", "run", "--policy", "old-events"]));
    assert!(again.contains("0 rows deleted in 0 batches"), "{again}");

    // The archive is a backup archive: `polyorm backup` lists, verifies and restores it.
    let to = archive.display().to_string();
    let list = ok(orm(&dir, &["backup", "list", "--to", &to]));
    let id = list
        .lines()
        .find(|l| l.contains("-archive-old-events"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("{list}"))
        .to_owned();
    ok(orm(&dir, &["backup", "verify", &id, "--to", &to]));
    // Into a second PostgreSQL database (PostgreSQL → SQLite of a pulled table trips on its
    // `COLLATE "default"`, a restore issue of its own).
    let copy_name = format!("{name}_copy");
    admin
        .execute_raw(&format!("DROP DATABASE IF EXISTS {copy_name}"))
        .await
        .unwrap();
    admin
        .execute_raw(&format!("CREATE DATABASE {copy_name}"))
        .await
        .unwrap();
    let restored = format!("{server}/{copy_name}");
    let out = ok(orm(
        &dir,
        &[
            "backup",
            "restore",
            &id,
            "--to",
            &to,
            "--database-url",
            &restored,
        ],
    ));
    assert!(out.contains("events: 6 rows"), "{out}");
    let copy = PoolOptions::new()
        .max_connections(1)
        .connect(&restored)
        .await
        .unwrap();
    let bodies = copy
        .fetch_compiled(
            Compiled {
                sql: "SELECT id, body FROM events ORDER BY id".into(),
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
    assert_eq!(
        bodies,
        (1..=6)
            .map(|n| (n, format!("event {n}")))
            .collect::<Vec<_>>()
    );
    copy.close().await;
    db.close().await;
    for drop in [&name, &copy_name] {
        admin
            .execute_raw(&format!("DROP DATABASE {drop}"))
            .await
            .unwrap();
    }
    admin.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
