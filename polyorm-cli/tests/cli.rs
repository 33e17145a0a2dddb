//! The installed `polyorm` command on a SQLite database: pull, baseline, status, verify, and the
//! exit codes a CI gates on.

use std::path::Path;
use std::process::{Command, Output};

use polyorm_core::{Executor, PoolOptions};

fn orm(dir: &Path, url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_polyorm"))
        .args(args)
        .current_dir(dir)
        .env("DATABASE_URL", url)
        .env_remove("NO_COLOR")
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_baseline_status_and_verify_gate_a_ci_with_exit_codes() {
    let dir = std::env::temp_dir().join(format!("orm_cli_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}/app.db?mode=rwc", dir.display());
    let db = PoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    db.execute_raw(
        "CREATE TABLE users (id integer PRIMARY KEY AUTOINCREMENT, name text NOT NULL, \
         nick text)",
    )
    .await
    .unwrap();
    db.execute_raw("CREATE TABLE notes (body text)")
        .await
        .unwrap();

    let pulled = orm(&dir, &url, &["db", "pull"]);
    assert!(pulled.status.success(), "{}", text(&pulled));
    let code = String::from_utf8_lossy(&pulled.stdout);
    assert!(code.contains("pub struct Users {"), "{code}");
    assert!(
        code.contains("table `notes`: it has no primary key"),
        "{code}"
    );
    // Piped output has no colors.
    assert!(!code.contains('\u{1b}'), "{code:?}");

    let baseline = orm(&dir, &url, &["migrate", "baseline"]);
    assert!(baseline.status.success(), "{}", text(&baseline));
    assert!(
        text(&baseline).contains("recorded as applied"),
        "{}",
        text(&baseline)
    );
    let status = orm(&dir, &url, &["migrate", "status"]);
    assert!(
        status.status.success() && text(&status).contains("_baseline  applied"),
        "{}",
        text(&status)
    );
    // `notes` is not described by the snapshot: own it, as pull said.
    let verify = orm(&dir, &url, &["migrate", "verify"]);
    assert_eq!(verify.status.code(), Some(1), "{}", text(&verify));
    assert!(
        text(&verify).contains("table `notes` is not in the models"),
        "{}",
        text(&verify)
    );
    db.execute_raw("DROP TABLE notes").await.unwrap();
    let verify = orm(&dir, &url, &["migrate", "verify"]);
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify));

    let again = orm(&dir, &url, &["migrate", "baseline"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again).contains("cannot baseline"), "{}", text(&again));
    let generate = orm(
        &dir,
        &url,
        &["migrate", "generate", "x", "--dialect", "sqlite"],
    );
    assert_eq!(generate.status.code(), Some(1));
    assert!(
        text(&generate).contains("`generate` needs your models"),
        "{}",
        text(&generate)
    );
    db.close().await;

    // An unreachable database fails fast with the cause.
    let started = std::time::Instant::now();
    let down = orm(
        &dir,
        "postgres://nobody@127.0.0.1:1/none",
        &["migrate", "status"],
    );
    assert_eq!(down.status.code(), Some(1));
    assert!(text(&down).contains("error:"), "{}", text(&down));
    assert!(
        started.elapsed().as_secs() < 30,
        "took {:?}",
        started.elapsed()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
