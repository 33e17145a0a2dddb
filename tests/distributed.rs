//! Distributed transactions (two-phase commit) on real servers: private PostgreSQL servers with
//! `max_prepared_transactions` set and private MariaDB servers (`support/servers.rs`), plus the
//! shared PostgreSQL, whose `max_prepared_transactions = 0` must be reported as such.
//!
//! The crash tests run the coordinator as a child process (this test binary again, running
//! [`coordinator_process`]) and SIGKILL it at each step of the protocol, or kill a participant
//! server after the prepare; then recovery must leave every participant committed or none
//! (rows read back) and no prepared transaction behind (`pg_prepared_xacts`, `XA RECOVER`).

#[path = "support/servers.rs"]
mod servers;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use polyorm::distributed::{Coordinator, DecisionLog, DistributedError, Step};
use polyorm::prelude::*;
use polyorm::{Dialect, Error, PoolOptions};
use servers::{Kind, PrivateServer};

/// A row written on every participant.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "twopc_ledger")]
struct Ledger {
    #[orm(primary_key)]
    id: i64,
    amount: i64,
}

/// The PostgreSQL setting prepared transactions need (the shared server has 0).
const PREPARED: &str = "max_prepared_transactions=10";

/// Starts a private PostgreSQL with prepared transactions and a private MariaDB, concurrently.
async fn servers() -> (PrivateServer, PrivateServer) {
    tokio::join!(
        PrivateServer::start_with(Kind::Postgres, &[PREPARED]),
        PrivateServer::start(Kind::MariaDb)
    )
}

/// A pool on `url` that gives up on an unreachable server after 3 s (not the default 30 s).
async fn connect(url: &str) -> Db {
    PoolOptions::new()
        .acquire_timeout(Duration::from_secs(3))
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("connect {url}: {e}"))
}

/// Creates `database` on `server` (its administrator's connection) and returns a pool on it
/// with the ledger table, which has already served a query.
async fn database(server: &PrivateServer, database: &str) -> Db {
    if database != "test" {
        let admin = connect(&server.url()).await;
        admin
            .execute_raw(&format!("CREATE DATABASE {database}"))
            .await
            .unwrap();
        admin.close().await;
    }
    let db = connect(&server.url_for(database)).await;
    db.create_table::<Ledger>().await.unwrap();
    Ledger { id: 1, amount: 100 }.insert(&db).await.unwrap();
    db
}

/// The ledger's ids on `db`.
async fn ids(db: &Db) -> Vec<i64> {
    let mut ids: Vec<i64> = Ledger::query()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.id)
        .collect();
    ids.sort_unstable();
    ids
}

/// The prepared transactions `db`'s server holds (PostgreSQL: of its database), by id.
async fn prepared(db: &Db) -> Vec<String> {
    if db.backend() == Dialect::Postgres {
        let rows: Vec<(String,)> =
            polyorm::raw("SELECT gid FROM pg_prepared_xacts WHERE database = current_database()")
                .fetch_all(db)
                .await
                .unwrap();
        rows.into_iter().map(|(gid,)| gid).collect()
    } else {
        let rows: Vec<(i64, i64, i64, Vec<u8>)> =
            polyorm::raw("XA RECOVER").fetch_all(db).await.unwrap();
        rows.into_iter()
            .map(|(.., data)| String::from_utf8(data).unwrap())
            .collect()
    }
}

/// Asserts that the ledger of every database holds exactly `expected`, and that none holds a
/// prepared transaction.
async fn assert_settled(dbs: &[&Db], expected: &[i64], case: &str) {
    for db in dbs {
        assert_eq!(ids(db).await, expected, "{case}: rows on {}", db.backend());
        assert_eq!(
            prepared(db).await,
            Vec::<String>::new(),
            "{case}: prepared transactions left on {}",
            db.backend()
        );
    }
}

fn distributed(err: &Error) -> &DistributedError {
    match err {
        Error::Distributed(e) => e,
        other => panic!("expected a distributed transaction error, got {other:?}"),
    }
}

/// A log file in the server's directory (removed with it).
fn log_file(server: &PrivateServer, name: &str) -> DecisionLog {
    DecisionLog::file(server.dir().join(name))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_on_every_participant_or_on_none() {
    let (pg, maria) = servers().await;
    let orders = database(&pg, "test").await;
    let billing = database(&maria, "test").await;
    let coordinator = Coordinator::new("happy", log_file(&pg, "happy.log")).unwrap();
    let both = [("orders", &orders), ("billing", &billing)];

    // PostgreSQL + MariaDB: the typed queries run inside each branch and see its own writes.
    let tx = coordinator.begin(&both).await.unwrap();
    for branch in tx.branches() {
        Ledger { id: 2, amount: -5 }.insert(branch).await.unwrap();
        assert_eq!(Ledger::query().count(branch).await.unwrap(), 2);
    }
    // Not visible outside before the commit.
    assert_eq!(ids(&orders).await, [1]);
    tx.commit().await.unwrap();
    assert_settled(&[&orders, &billing], &[1, 2], "PostgreSQL + MariaDB").await;
    let row = Ledger::query()
        .filter(Ledger::ID.eq(2))
        .one(&billing)
        .await
        .unwrap();
    assert_eq!(row, Ledger { id: 2, amount: -5 });

    // PostgreSQL + PostgreSQL: two databases of one server.
    let archive = database(&pg, "archive").await;
    let journal = database(&pg, "journal").await;
    let tx = coordinator
        .begin(&[("archive", &archive), ("journal", &journal)])
        .await
        .unwrap();
    Ledger { id: 3, amount: 7 }
        .insert(tx.branch("archive").unwrap())
        .await
        .unwrap();
    Ledger { id: 3, amount: 7 }
        .insert(tx.branch("journal").unwrap())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_settled(&[&archive, &journal], &[1, 3], "PostgreSQL + PostgreSQL").await;

    // An explicit rollback, and a transaction dropped without commit, leave nothing.
    let tx = coordinator.begin(&both).await.unwrap();
    for branch in tx.branches() {
        Ledger { id: 4, amount: 1 }.insert(branch).await.unwrap();
    }
    tx.rollback().await.unwrap();
    let tx = coordinator.begin(&both).await.unwrap();
    for branch in tx.branches() {
        Ledger { id: 5, amount: 1 }.insert(branch).await.unwrap();
    }
    drop(tx);
    assert_settled(&[&orders, &billing], &[1, 2], "rollback and drop").await;

    // A branch ends only with its transaction.
    let tx = coordinator.begin(&both).await.unwrap();
    let err = tx
        .branch("billing")
        .unwrap()
        .execute_raw("COMMIT")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("DistributedTx::commit"), "{err}");
    let err = tx.branch("nowhere").unwrap_err();
    assert!(err.to_string().contains("`orders`, `billing`"), "{err}");
    tx.rollback().await.unwrap();

    // Recovery run while a transaction of the same coordinator is between its prepare and its
    // decision leaves it alone (it is in flight, not in doubt).
    let seen = Arc::new(std::sync::Mutex::new(None));
    let (recovering, dbs, seen_in_step) = (
        coordinator.clone(),
        (orders.clone(), billing.clone()),
        seen.clone(),
    );
    let observed = coordinator.clone().on_step(move |step| {
        if let Step::Prepared { .. } = step {
            let (orders, billing) = (&dbs.0, &dbs.1);
            let handle = tokio::runtime::Handle::current();
            let outcome = tokio::task::block_in_place(|| {
                handle.block_on(async {
                    let report = recovering
                        .recover(&[("orders", orders), ("billing", billing)])
                        .await
                        .unwrap();
                    (
                        report,
                        prepared(orders).await.len(),
                        prepared(billing).await.len(),
                    )
                })
            });
            *seen_in_step.lock().unwrap() = Some(outcome);
        }
    });
    let tx = observed.begin(&both).await.unwrap();
    for branch in tx.branches() {
        Ledger { id: 3, amount: 9 }.insert(branch).await.unwrap();
    }
    tx.commit().await.unwrap();
    let (report, on_orders, on_billing) = seen.lock().unwrap().take().expect("the step ran");
    assert_eq!(
        (on_orders, on_billing),
        (1, 1),
        "both branches were prepared"
    );
    assert!(
        report.committed.is_empty() && report.rolled_back.is_empty(),
        "{report:?}"
    );
    assert_settled(&[&orders, &billing], &[1, 2, 3], "recovery during a commit").await;
    for db in [&orders, &billing] {
        assert!(Ledger { id: 3, amount: 9 }.delete(db).await.unwrap());
    }

    // Nothing was left for recovery to do.
    let report = coordinator.recover(&both).await.unwrap();
    assert!(
        report.committed.is_empty() && report.rolled_back.is_empty(),
        "{report:?}"
    );
    assert!(report.is_complete(), "{report:?}");

    // One prepare fails (a deferred unique constraint checked at PREPARE TRANSACTION): the
    // branch already prepared on MariaDB is rolled back too.
    orders
        .execute_raw(
            "CREATE TABLE twopc_codes (code TEXT, CONSTRAINT twopc_codes_unique UNIQUE (code) \
             DEFERRABLE INITIALLY DEFERRED)",
        )
        .await
        .unwrap();
    orders
        .execute_raw("INSERT INTO twopc_codes VALUES ('taken')")
        .await
        .unwrap();
    let tx = coordinator.begin(&both).await.unwrap();
    tx.branch("orders")
        .unwrap()
        .execute_raw("INSERT INTO twopc_codes VALUES ('taken')")
        .await
        .unwrap();
    for branch in tx.branches() {
        Ledger { id: 6, amount: 1 }.insert(branch).await.unwrap();
    }
    let err = tx.commit().await.unwrap_err();
    match distributed(&err) {
        DistributedError::PrepareFailed {
            participant,
            source,
            in_doubt,
            ..
        } => {
            assert_eq!(participant, "orders");
            assert!(source.is_unique_violation(), "{source:?}");
            assert!(in_doubt.is_empty(), "{in_doubt:?}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().contains("rolled back on every participant"),
        "{err}"
    );
    assert_settled(&[&orders, &billing], &[1, 2], "failed prepare").await;

    // A statement of the PostgreSQL branch failed and its error was ignored: PostgreSQL would
    // answer the prepare with a silent rollback; the commit fails instead, on every participant.
    let tx = coordinator.begin(&both).await.unwrap();
    for branch in tx.branches() {
        Ledger { id: 6, amount: 1 }.insert(branch).await.unwrap();
    }
    let duplicate = Ledger { id: 1, amount: 1 }
        .insert(tx.branch("orders").unwrap())
        .await
        .unwrap_err();
    assert!(duplicate.is_unique_violation(), "{duplicate:?}");
    let err = tx.commit().await.unwrap_err();
    assert_eq!(distributed(&err).participant(), Some("orders"), "{err:?}");
    assert!(
        err.to_string()
            .contains("a statement of the branch failed earlier"),
        "{err}"
    );
    assert_settled(&[&orders, &billing], &[1, 2], "aborted branch").await;

    // A prepare slower than the timeout (a deferred trigger sleeping 3 s at PREPARE): rolled
    // back everywhere; the late branch, prepared after the coordinator gave up on it, has no
    // decision and recovery rolls it back.
    orders
        .execute_raw(
            "CREATE FUNCTION twopc_slow() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN PERFORM pg_sleep(3); RETURN NULL; END $$",
        )
        .await
        .unwrap();
    orders
        .execute_raw(
            "CREATE CONSTRAINT TRIGGER twopc_slow AFTER INSERT ON twopc_ledger \
             DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION twopc_slow()",
        )
        .await
        .unwrap();
    let impatient = coordinator
        .clone()
        .prepare_timeout(Duration::from_millis(300));
    let tx = impatient.begin(&both).await.unwrap();
    for branch in tx.branches() {
        Ledger { id: 7, amount: 1 }.insert(branch).await.unwrap();
    }
    let err = tx.commit().await.unwrap_err();
    match distributed(&err) {
        DistributedError::PrepareTimeout {
            participant,
            in_doubt,
            ..
        } => {
            assert_eq!(participant, "orders");
            assert_eq!(in_doubt, &["orders"]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(ids(&billing).await, [1, 2], "MariaDB rolled back at once");
    // The abandoned PREPARE finishes on the server; recovery rolls its branch back.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let report = coordinator.recover(&both).await.unwrap();
    assert_eq!(report.rolled_back.len(), 1, "{report:?}");
    assert_eq!(report.rolled_back[0].participant, "orders", "{report:?}");
    assert!(
        report.committed.is_empty() && report.is_complete(),
        "{report:?}"
    );
    orders
        .execute_raw("DROP TRIGGER twopc_slow ON twopc_ledger")
        .await
        .unwrap();
    assert_settled(&[&orders, &billing], &[1, 2], "prepare timeout").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_participants_and_disabled_prepared_transactions_are_refused_by_name() {
    let maria = PrivateServer::start(Kind::MariaDb).await;
    let billing = database(&maria, "test").await;
    let coordinator = Coordinator::new("refusals", log_file(&maria, "refusals.log")).unwrap();

    let sqlite = Db::connect("sqlite::memory:").await.unwrap();
    let err = coordinator
        .begin(&[("billing", &billing), ("cache", &sqlite)])
        .await
        .unwrap_err();
    assert_eq!(distributed(&err).participant(), Some("cache"));
    assert!(
        err.to_string()
            .contains("`cache` is SQLite, which has no prepared"),
        "{err}"
    );

    // The shared PostgreSQL runs with max_prepared_transactions = 0 (its default).
    let shared_url = std::env::var("ORM_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let shared = connect(&shared_url).await;
    let tx = coordinator
        .begin(&[("billing", &billing), ("orders", &shared)])
        .await
        .unwrap();
    Ledger { id: 2, amount: 1 }
        .insert(tx.branch("billing").unwrap())
        .await
        .unwrap();
    let err = tx.commit().await.unwrap_err();
    assert!(
        matches!(
            distributed(&err),
            DistributedError::PreparedTransactionsDisabled { participant, .. } if participant == "orders"
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("max_prepared_transactions = 0"),
        "{message}"
    );
    assert!(
        message.contains("set `max_prepared_transactions`"),
        "{message}"
    );
    assert_settled(&[&billing], &[1], "disabled prepared transactions").await;
}

/// Where the coordinator child stops (and is killed): after every branch prepared, after the
/// decision is logged, after the first branch committed.
const STOPS: [&str; 3] = ["prepared", "decided", "committed"];

/// The child's side of the crash tests: one distributed transaction writing row 10 on both
/// participants, stopping at `ORM_2PC_STOP` to be killed. Run by [`the_coordinator_killed_at_each_step_is_recovered`].
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the coordinator process of the crash tests, which run it themselves"]
async fn coordinator_process() {
    let Ok(stop) = std::env::var("ORM_2PC_STOP") else {
        println!("only the crash tests run the coordinator process (they set ORM_2PC_STOP)");
        return;
    };
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
    let orders = connect(&var("ORM_2PC_ORDERS")).await;
    let billing = connect(&var("ORM_2PC_BILLING")).await;
    let log = child_log(&var("ORM_2PC_LOG"), &orders);
    let coordinator = Coordinator::new("crash", log)
        .unwrap()
        .on_step(move |step| {
            let at = match step {
                Step::Prepared { .. } => "prepared",
                Step::Decided { .. } => "decided",
                Step::Committed { .. } => "committed",
                _ => "other",
            };
            if at == stop {
                println!("STOPPED {at}");
                std::thread::sleep(Duration::from_secs(600));
            }
        });
    let tx = coordinator
        .begin(&[("orders", &orders), ("billing", &billing)])
        .await
        .unwrap();
    for branch in tx.branches() {
        Ledger { id: 10, amount: 1 }.insert(branch).await.unwrap();
    }
    tx.commit().await.unwrap();
    println!("COMMITTED");
}

/// The log the crash tests use for `spec`: `table` (on the PostgreSQL participant) or a file.
fn child_log(spec: &str, orders: &Db) -> DecisionLog {
    match spec {
        "table" => DecisionLog::table(orders),
        path => DecisionLog::file(path),
    }
}

/// Runs [`coordinator_process`] until it reports reaching `stop`, then SIGKILLs it.
fn run_coordinator_until(stop: &str, orders: &str, billing: &str, log: &str) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["coordinator_process", "--exact", "--ignored", "--nocapture"])
        .env("ORM_2PC_STOP", stop)
        .env("ORM_2PC_ORDERS", orders)
        .env("ORM_2PC_BILLING", billing)
        .env("ORM_2PC_LOG", log)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut seen = Vec::new();
    for line in stdout.lines() {
        let line = line.unwrap();
        if line.starts_with("STOPPED") {
            assert_eq!(line, format!("STOPPED {stop}"));
            child.kill().unwrap();
            child.wait().unwrap();
            return;
        }
        seen.push(line);
    }
    panic!(
        "the coordinator exited before reaching `{stop}`: {:?}; output: {seen:?}",
        child.wait()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_coordinator_killed_at_each_step_is_recovered() {
    let (pg, maria) = servers().await;
    let orders = database(&pg, "test").await;
    let billing = database(&maria, "test").await;
    let both = [("orders", &orders), ("billing", &billing)];
    let file = pg.dir().join("crash.log");
    for (stop, log) in STOPS.into_iter().zip(["table", "file", "table"]) {
        let spec = if log == "file" {
            file.to_str().unwrap().to_owned()
        } else {
            log.to_owned()
        };
        run_coordinator_until(stop, &pg.url(), &maria.url(), &spec);
        // The killed coordinator left one prepared branch per participant (two after the
        // first commit, one of which may have committed already).
        if stop != "committed" {
            assert_eq!(prepared(&orders).await.len(), 1, "{stop}");
            assert_eq!(prepared(&billing).await.len(), 1, "{stop}");
            assert_settled_rows(&[&orders, &billing], &[1], stop).await;
        }
        let coordinator = Coordinator::new("crash", child_log(&spec, &orders)).unwrap();
        let report = coordinator.recover(&both).await.unwrap();
        assert!(report.is_complete(), "{stop}: {report:?}");
        let expected: &[i64] = if stop == "prepared" {
            assert_eq!(report.rolled_back.len(), 2, "{stop}: {report:?}");
            assert!(report.committed.is_empty(), "{stop}: {report:?}");
            &[1]
        } else {
            // After the decision every branch is committed by recovery; after the first commit
            // the others were sent at the same moment, so at most one is left to it.
            let resolved = report.committed.len();
            let left = if stop == "decided" { 2..=2 } else { 0..=1 };
            assert!(left.contains(&resolved), "{stop}: {report:?}");
            assert!(report.rolled_back.is_empty(), "{stop}: {report:?}");
            assert_eq!(report.decisions_forgotten.len(), 1, "{stop}: {report:?}");
            &[1, 10]
        };
        assert_settled(&[&orders, &billing], expected, stop).await;
        // A second recovery finds nothing: the decision was forgotten.
        let again = coordinator.recover(&both).await.unwrap();
        assert!(
            again.committed.is_empty()
                && again.rolled_back.is_empty()
                && again.decisions_forgotten.is_empty(),
            "{stop}: {again:?}"
        );
        for db in [&orders, &billing] {
            let found = Ledger { id: 10, amount: 1 }.delete(db).await.unwrap();
            assert_eq!(found, expected.contains(&10), "{stop}");
        }
    }
    assert!(Path::new(&file).exists());
}

/// Asserts the rows without looking at prepared transactions.
async fn assert_settled_rows(dbs: &[&Db], expected: &[i64], case: &str) {
    for db in dbs {
        assert_eq!(ids(db).await, expected, "{case}: rows on {}", db.backend());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_killed_after_prepare_is_committed_by_recovery_once_back() {
    let (pg, maria) = servers().await;
    let (pg, maria) = (Arc::new(pg), Arc::new(maria));
    let orders = database(&pg, "test").await;
    let billing = database(&maria, "test").await;
    let both = [("orders", &orders), ("billing", &billing)];
    for (victim, name) in [(pg.clone(), "orders"), (maria.clone(), "billing")] {
        let log = log_file(&pg, &format!("{name}.log"));
        let killed = victim.clone();
        let coordinator = Coordinator::new("victim", log)
            .unwrap()
            .on_step(move |step| {
                if matches!(step, Step::Prepared { .. }) {
                    killed.kill();
                }
            });
        let tx = coordinator.begin(&both).await.unwrap();
        for branch in tx.branches() {
            Ledger { id: 20, amount: 1 }.insert(branch).await.unwrap();
        }
        let err = tx.commit().await.unwrap_err();
        match distributed(&err) {
            DistributedError::CommitIncomplete { pending, .. } => assert_eq!(pending, &[name]),
            other => panic!("{name}: {other:?}"),
        }
        assert!(err.to_string().contains("Coordinator::recover"), "{err}");
        // While the server is down, recovery resolves nothing there and keeps the decision.
        let report = coordinator.recover(&both).await.unwrap();
        assert!(!report.is_complete(), "{name}: {report:?}");
        assert_eq!(report.failed.len(), 1, "{name}: {report:?}");
        assert_eq!(report.failed[0].0, name, "{name}: {report:?}");
        assert_eq!(report.decisions_kept.len(), 1, "{name}: {report:?}");

        // A new transaction cannot begin there meanwhile, and says where.
        let err = coordinator.begin(&both).await.unwrap_err();
        match distributed(&err) {
            DistributedError::Begin { participant, .. } => assert_eq!(participant, name),
            other => panic!("{name}: {other:?}"),
        }

        victim.restart().await;
        let report = coordinator.recover(&both).await.unwrap();
        assert!(report.is_complete(), "{name}: {report:?}");
        assert_eq!(report.committed.len(), 1, "{name}: {report:?}");
        assert_eq!(report.committed[0].participant, name, "{name}: {report:?}");
        assert_settled(&[&orders, &billing], &[1, 20], name).await;
        for db in [&orders, &billing] {
            assert!(Ledger { id: 20, amount: 1 }.delete(db).await.unwrap());
        }
    }
}
