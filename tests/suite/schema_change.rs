//! A running application keeps working when a migration changes a table under its pool
//! (issue 17, item 1): statements the pool prepared before the change are prepared again.
//!
//! Each test warms every connection of an application pool (each prepares the model's
//! statements), lets a second pool — a deploy job — change a column's type, then uses the
//! application pool as before, reading every value back. SQLite runs on a file so that both
//! pools see one database.

use std::time::Duration;

use polyorm::prelude::*;
use polyorm::{Dialect, Error};

use crate::harness::{self, Backend};

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "deploy_docs")]
struct Doc {
    #[orm(primary_key, auto_increment)]
    id: i64,
    #[orm(max_length = 100)]
    title: String,
    views: i32,
}

const POOL_SIZE: u32 = 4;

/// The application's pool and the deploy job's, on one database.
struct Pools {
    app: Db,
    deployer: Db,
    /// Tears the test database down (the file on SQLite).
    cleanup: Cleanup,
}

enum Cleanup {
    Harness(harness::TestDb),
    File(std::path::PathBuf),
}

async fn pools(backend: Backend, test: &str) -> Option<Pools> {
    let options = harness::pool_options()
        .max_connections(POOL_SIZE)
        .acquire_timeout(Duration::from_secs(10));
    if backend == Backend::Sqlite {
        if !harness::enabled(backend) {
            eprintln!("SKIPPED {test}: sqlite not in ORM_TEST_BACKENDS");
            return None;
        }
        let path = std::env::temp_dir().join(format!(
            "orm-schema-change-{}-{}.db",
            std::process::id(),
            test.replace("::", "-")
        ));
        remove_sqlite_files(&path);
        let url = format!("sqlite://{}", path.display());
        let app = options.clone().connect(&url).await.unwrap();
        let deployer = options.connect(&url).await.unwrap();
        return Some(Pools {
            app,
            deployer,
            cleanup: Cleanup::File(path),
        });
    }
    let t = harness::setup(backend, test).await?;
    let app = options.clone().connect(&t.url).await.unwrap();
    let deployer = options.connect(&t.url).await.unwrap();
    Some(Pools {
        app,
        deployer,
        cleanup: Cleanup::Harness(t),
    })
}

impl Pools {
    async fn teardown(self) {
        self.app.close().await;
        self.deployer.close().await;
        match self.cleanup {
            Cleanup::Harness(t) => t.teardown().await,
            Cleanup::File(path) => remove_sqlite_files(&path),
        }
    }
}

/// Removes a SQLite database file and its WAL files (left by an earlier failed run, or done).
fn remove_sqlite_files(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.to_owned().into_os_string();
        file.push(suffix);
        // Absent is fine: nothing to remove.
        let _absent = std::fs::remove_file(file);
    }
}

/// DDL that widens `deploy_docs.title` to `width` characters, as a migration would.
fn widen_title(dialect: Dialect, width: u32) -> Vec<String> {
    match dialect {
        Dialect::Postgres => vec![format!(
            "ALTER TABLE deploy_docs ALTER COLUMN title TYPE varchar({width}) COLLATE \"C\""
        )],
        Dialect::MySql => vec![format!(
            "ALTER TABLE deploy_docs MODIFY title VARCHAR({width}) NOT NULL"
        )],
        // SQLite cannot alter a column's type: migrations rebuild the table.
        Dialect::Sqlite => vec![
            format!(
                "CREATE TABLE deploy_docs_new (id INTEGER PRIMARY KEY AUTOINCREMENT, \
                 title TEXT NOT NULL CHECK (length(title) <= {width}), views INTEGER NOT NULL)"
            ),
            "INSERT INTO deploy_docs_new SELECT id, title, views FROM deploy_docs".to_owned(),
            "DROP TABLE deploy_docs".to_owned(),
            "ALTER TABLE deploy_docs_new RENAME TO deploy_docs".to_owned(),
        ],
    }
}

/// Runs a migration's statements in one call, so on one connection (as the migration runner
/// does: SQLite checks `RENAME TO` against the connection's cached schema).
async fn run_ddl(db: &impl Executor, statements: &[String]) {
    let sql = statements.join(";\n");
    if let Err(e) = db.execute_raw(&sql).await {
        panic!("{sql}: {e}");
    }
}

/// Holds every connection of `db` at once, each in a transaction, and reads through each:
/// none may meet a statement prepared against the old schema.
async fn read_in_a_transaction_on_every_connection(db: &Db) {
    let mut txs = Vec::new();
    for _ in 0..POOL_SIZE {
        let tx = db.begin().await.unwrap();
        assert_eq!(Doc::query().all(&tx).await.unwrap().len(), 3);
        let first = Doc::find(&tx, 1).await.unwrap().unwrap();
        assert_eq!(first.title, "document 1");
        txs.push(tx);
    }
    for tx in txs {
        tx.commit().await.unwrap();
    }
}

fn doc(n: i32) -> Doc {
    Doc {
        id: 0,
        title: format!("document {n}"),
        views: n,
    }
}

/// Makes every connection of `db` prepare the statements the checks below use: holds
/// `POOL_SIZE` connections at once and reads through each.
async fn warm_every_connection(db: &Db) {
    let mut held = Vec::new();
    for _ in 0..POOL_SIZE {
        let conn = db.acquire().await.unwrap();
        assert_eq!(Doc::query().all(&conn).await.unwrap().len(), 3);
        assert!(Doc::find(&conn, 1).await.unwrap().is_some());
        assert_eq!(Doc::query().count(&conn).await.unwrap(), 3);
        held.push(conn);
    }
    drop(held);
    // And the pool's own statement paths, on whichever connections it hands out.
    for _ in 0..2 * POOL_SIZE {
        assert_eq!(Doc::query().all(db).await.unwrap().len(), 3);
        assert!(Doc::find(db, 2).await.unwrap().is_some());
    }
}

/// Reads, counts, inserts and updates through `db` enough times to reach every connection,
/// checking each value read back.
async fn use_every_connection(db: &Db, round: i32) {
    for i in 0..2 * POOL_SIZE as i32 {
        let rows = Doc::query().order_by(Doc::ID.asc()).all(db).await.unwrap();
        assert_eq!(rows[0], Doc { id: 1, ..doc(1) });
        let found = Doc::find(db, 2).await.unwrap().unwrap();
        assert_eq!(found.title, "document 2");
        let n = Doc::query().count(db).await.unwrap();
        let inserted = doc(1000 * round + i).insert(db).await.unwrap();
        assert_eq!(inserted.title, format!("document {}", 1000 * round + i));
        let mut changed = found.clone();
        changed.views += 1;
        changed.update(db).await.unwrap();
        assert_eq!(Doc::query().count(db).await.unwrap(), n + 1);
    }
}

async fn setup_docs(db: &Db) {
    db.create_table::<Doc>().await.unwrap();
    for n in 1..=3 {
        doc(n).insert(db).await.unwrap();
    }
}

/// Statements prepared before another process widened a column run again, transparently, on
/// every connection of the pool.
async fn pool_survives_a_column_type_change_by_another_process(backend: Backend, test: &str) {
    let Some(p) = pools(backend, test).await else {
        return;
    };
    let dialect = p.app.backend().dialect().unwrap();
    setup_docs(&p.app).await;
    warm_every_connection(&p.app).await;
    run_ddl(&p.deployer, &widen_title(dialect, 200)).await;
    use_every_connection(&p.app, 1).await;
    // The widened column takes what the old one refused (the model's own limit aside).
    p.deployer
        .execute_raw(&format!(
            "UPDATE deploy_docs SET title = '{}' WHERE id = 3",
            "x".repeat(150)
        ))
        .await
        .unwrap();
    let read = Doc::find(&p.app, 3).await.unwrap().unwrap();
    assert_eq!(read.title.len(), 150);
    p.teardown().await;
}

/// Inside a transaction the failed statement aborted it: the error is typed and retryable,
/// the connection forgets its statements, and `transaction_with_retry` succeeds.
async fn transaction_after_a_change_by_another_process_is_retryable(backend: Backend, test: &str) {
    let Some(p) = pools(backend, test).await else {
        return;
    };
    let dialect = p.app.backend().dialect().unwrap();
    setup_docs(&p.app).await;
    // One connection, so the transaction surely runs on the one that prepared the statement.
    let conn = p.app.acquire().await.unwrap();
    assert_eq!(Doc::query().all(&conn).await.unwrap().len(), 3);
    run_ddl(&p.deployer, &widen_title(dialect, 200)).await;
    let first = Doc::query().all(&conn).await;
    match dialect {
        // PostgreSQL refuses a prepared statement whose result columns changed.
        Dialect::Postgres => {
            let err = first.unwrap_err();
            assert!(matches!(err, Error::SchemaChanged { .. }), "{err:?}");
            assert!(err.is_retryable(), "{err}");
            assert!(err.to_string().contains("retry"), "{err}");
        }
        // MariaDB and SQLite prepare the statement again themselves.
        _ => assert_eq!(first.unwrap().len(), 3),
    }
    // The same connection, its statements forgotten, runs it again.
    assert_eq!(Doc::query().all(&conn).await.unwrap().len(), 3);
    drop(conn);

    // A transaction on a pool connection that prepared its statements before a change.
    let single = harness::pool_options()
        .max_connections(1)
        .connect(&p_url(&p))
        .await
        .unwrap();
    assert_eq!(Doc::query().all(&single).await.unwrap().len(), 3);
    run_ddl(&p.deployer, &widen_title(dialect, 300)).await;
    let attempts = std::sync::atomic::AtomicU32::new(0);
    let rows = single
        .transaction_with_retry(TxOptions::new(), RetryPolicy::default(), |tx| {
            attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move {
                // The statement `single` prepared before the change.
                let rows = Doc::query().all(&tx).await?;
                Doc { id: 0, ..doc(77) }.insert(&tx).await?;
                Ok(rows)
            }
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    let expected_attempts = if dialect == Dialect::Postgres { 2 } else { 1 };
    assert_eq!(
        attempts.load(std::sync::atomic::Ordering::SeqCst),
        expected_attempts
    );
    // The insert of the aborted attempt is gone, the retried one is there once.
    assert_eq!(
        Doc::query()
            .filter(Doc::VIEWS.eq(77))
            .count(&single)
            .await
            .unwrap(),
        1
    );
    single.close().await;
    p.teardown().await;
}

/// DDL run through the application's own `Db` replaces its connections opened before it, so
/// even transactions on them never meet a statement prepared against the old schema.
async fn own_ddl_leaves_no_stale_statement_even_in_transactions(backend: Backend, test: &str) {
    let Some(p) = pools(backend, test).await else {
        return;
    };
    let dialect = p.app.backend().dialect().unwrap();
    setup_docs(&p.app).await;
    warm_every_connection(&p.app).await;
    // Through the pool.
    run_ddl(&p.app, &widen_title(dialect, 200)).await;
    read_in_a_transaction_on_every_connection(&p.app).await;
    // Through a connection taken from it (as the migration runner does), which reads the
    // table again itself before it is returned.
    warm_every_connection(&p.app).await;
    let conn = p.app.acquire().await.unwrap();
    assert_eq!(Doc::query().all(&conn).await.unwrap().len(), 3);
    run_ddl(&conn, &widen_title(dialect, 300)).await;
    assert_eq!(Doc::query().all(&conn).await.unwrap().len(), 3);
    drop(conn);
    read_in_a_transaction_on_every_connection(&p.app).await;
    // Statement by statement through the pool, each maybe on another connection. SQLite
    // checks `RENAME TO deploy_docs` against the connection's cached schema: every connection
    // reads the table just before the `DROP`, so each has cached a schema that still has it.
    warm_every_connection(&p.app).await;
    for sql in widen_title(dialect, 400) {
        if sql.starts_with("DROP") {
            warm_every_connection(&p.app).await;
        }
        p.app.execute_raw(&sql).await.unwrap();
    }
    read_in_a_transaction_on_every_connection(&p.app).await;
    use_every_connection(&p.app, 2).await;
    p.teardown().await;
}

fn p_url(p: &Pools) -> String {
    match &p.cleanup {
        Cleanup::Harness(t) => t.url.clone(),
        Cleanup::File(path) => format!("sqlite://{}", path.display()),
    }
}

macro_rules! per_sql_backend {
    ($($name:ident),*) => {
        $(
            mod $name {
                use super::*;
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(Backend::Sqlite, concat!(module_path!(), "::sqlite")).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name(Backend::Postgres, concat!(module_path!(), "::postgres")).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn mysql() {
                    super::$name(Backend::MySql, concat!(module_path!(), "::mysql")).await;
                }
            }
        )*
    };
}

per_sql_backend!(
    pool_survives_a_column_type_change_by_another_process,
    transaction_after_a_change_by_another_process_is_retryable,
    own_ddl_leaves_no_stale_statement_even_in_transactions
);
