//! Replicated topologies on real replication: a PostgreSQL primary with two streaming
//! standbys (`pg_basebackup -R`), and a MariaDB primary with a GTID replica, all private
//! servers on free ports, killed on drop. Reads are routed to replicas, writes to the primary,
//! read-your-writes waits for replay, a replica that dies leaves the rotation, and a promoted
//! standby takes the writes after the primary is killed, with every committed row still
//! there.
//!
//! No timing assertions: the failover's write gap is printed (BENCHMARKS.md).

#[path = "support/servers.rs"]
mod servers;

use std::time::{Duration, Instant};

use polyorm::prelude::*;
use polyorm::topology::{Durability, ReadPolicy, Role, Topology, TopologyHealth};
use polyorm::{Error, raw};
use servers::{Kind, PASSWORD, PrivateServer};

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "topo_items")]
struct Item {
    #[orm(primary_key)]
    id: i64,
    #[orm(max_length = 40)]
    name: String,
}

fn item(id: i64) -> Item {
    Item {
        id,
        name: format!("item {id}"),
    }
}

/// Statements the topology sent to the node on `port`.
fn statements(health: &TopologyHealth, port: u16) -> u64 {
    node(health, port).statements
}

fn node(health: &TopologyHealth, port: u16) -> &polyorm::topology::NodeHealth {
    health
        .node(&format!("127.0.0.1:{port}/"))
        .unwrap_or_else(|| panic!("no node on port {port}: {health:#?}"))
}

/// Runs `sql` on `server`'s `test` database directly (not through the topology).
async fn direct(server: &PrivateServer, sql: &str) {
    let db = Db::connect(&server.url()).await.expect("connect directly");
    db.execute_raw(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    db.close().await;
}

/// Rows of `topo_items` on `server`, read directly.
async fn rows_on(server: &PrivateServer) -> u64 {
    let db = Db::connect(&server.url()).await.expect("connect directly");
    let n = Item::query().count(&db).await.expect("count");
    db.close().await;
    n
}

/// Makes commits on the PostgreSQL `primary` wait for `standbys` (its
/// `synchronous_standby_names`), set once they are attached (a commit made before would wait
/// for them forever).
async fn synchronous_standbys(primary: &PrivateServer, standbys: &str) {
    let db = Db::connect(&primary.url()).await.unwrap();
    db.execute_raw(&format!(
        "ALTER SYSTEM SET synchronous_standby_names = '{standbys}'"
    ))
    .await
    .unwrap();
    raw("SELECT pg_reload_conf()").execute(&db).await.unwrap();
    db.close().await;
}

/// Waits until the standby on `server` has replayed everything the primary `db` wrote.
async fn caught_up(db: &Topology, server: &PrivateServer) {
    let primary = db.primary_db().unwrap();
    let standby = Db::connect(&server.url()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (wanted,): (String,) = raw("SELECT pg_current_wal_lsn()::text")
            .fetch_one(&primary)
            .await
            .unwrap();
        let (reached,): (bool,) = raw("SELECT pg_last_wal_replay_lsn() >= CAST(? AS TEXT)::pg_lsn")
            .bind(wanted)
            .fetch_one(&standby)
            .await
            .unwrap();
        if reached {
            return standby.close().await;
        }
        assert!(Instant::now() < deadline, "the standby never caught up");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_reads_go_to_standbys_writes_to_the_primary_and_read_your_writes_waits_for_replay()
{
    let primary = PrivateServer::start(Kind::Postgres).await;
    let (a, b) = tokio::join!(
        PrivateServer::start_pg_standby(&primary, &[]),
        PrivateServer::start_pg_standby(&primary, &[])
    );
    // ANY 2: a remote_apply commit returns once both standbys have applied it.
    synchronous_standbys(&primary, "ANY 2 (*)").await;
    let db = Db::topology()
        .primary(primary.url())
        .replica(a.url())
        .replica(b.url())
        .probe_interval(Duration::from_millis(100))
        .connect()
        .await
        .expect("connect the topology");

    let health = db.health().await;
    assert!(health.is_healthy(), "{health:#?}");
    assert_eq!(node(&health, primary.port).role, Role::Primary);
    assert_eq!(node(&health, a.port).role, Role::Replica);
    assert_eq!(node(&health, b.port).role, Role::Replica);
    assert_eq!(health.replicas_in_rotation(), 2, "{health:#?}");
    assert_eq!(node(&health, a.port).lag_bytes, Some(0), "{health:#?}");

    // DDL and writes: the primary.
    db.create_table::<Item>().await.unwrap();
    for id in 1..=10 {
        item(id).insert(&db).await.unwrap();
    }
    caught_up(&db, &a).await;
    caught_up(&db, &b).await;

    // Reads: round-robin over the standbys, none on the primary.
    let before = db.health().await;
    for _ in 0..10 {
        assert_eq!(Item::query().count(&db).await.unwrap(), 10);
    }
    let found = Item::find(&db, 3)
        .await
        .unwrap()
        .expect("row 3 on a standby");
    assert_eq!(found, item(3));
    let after = db.health().await;
    let on = |port| statements(&after, port) - statements(&before, port);
    assert_eq!(on(primary.port), 0, "{after:#?}");
    assert_eq!(on(a.port) + on(b.port), 11);
    assert!(
        on(a.port) >= 5 && on(b.port) >= 5,
        "round robin: {after:#?}"
    );

    // `on_primary`, `primary_scope`, row locks and transactions: the primary.
    let was = statements(&db.health().await, primary.port);
    assert_eq!(Item::query().count(&db.on_primary()).await.unwrap(), 10);
    db.primary_scope(async { Item::query().count(&db).await })
        .await
        .unwrap();
    db.transaction(|tx| async move {
        let locked = Item::query()
            .filter(Item::ID.eq(1))
            .for_update()
            .all(&tx)
            .await?;
        assert_eq!(locked.len(), 1);
        Ok::<_, Error>(())
    })
    .await
    .unwrap();
    assert_eq!(statements(&db.health().await, primary.port) - was, 3);

    // Read-your-writes: with replay paused on both standbys, a read after a write in the scope
    // runs on the primary (after the bounded wait) and sees the write; a read outside the
    // scope goes to a standby and does not.
    direct(&a, "SELECT pg_wal_replay_pause()").await;
    direct(&b, "SELECT pg_wal_replay_pause()").await;
    let seen = db
        .read_your_writes(async {
            item(11).insert(&db).await?;
            Item::query().count(&db).await
        })
        .await
        .unwrap();
    assert_eq!(seen, 11, "the scope reads its own write");
    assert_eq!(
        Item::query().count(&db).await.unwrap(),
        10,
        "outside the scope a paused standby answers"
    );
    // Replay resumes: the scope's read waits for it and runs on a standby.
    direct(&a, "SELECT pg_wal_replay_resume()").await;
    direct(&b, "SELECT pg_wal_replay_resume()").await;
    let was = db.health().await;
    let seen = db
        .read_your_writes(async {
            item(12).insert(&db).await?;
            Item::query().count(&db).await
        })
        .await
        .unwrap();
    assert_eq!(seen, 12);
    let now = db.health().await;
    assert_eq!(
        statements(&now, a.port) + statements(&now, b.port)
            - statements(&was, a.port)
            - statements(&was, b.port),
        1,
        "the read after the write ran on a standby that had replayed it: {now:#?}"
    );

    // Per-transaction durability: remote_apply returns once both standbys applied the commit.
    let tx = db
        .begin_durable(polyorm::TxOptions::default(), Durability::RemoteApply)
        .await
        .unwrap();
    item(13).insert(&tx).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(rows_on(&a).await, 13);
    assert_eq!(rows_on(&b).await, 13);

    // A multi-host URL with target_session_attrs finds the primary wherever it is listed.
    let url = format!(
        "postgres://postgres:{PASSWORD}@127.0.0.1:{},127.0.0.1:{},127.0.0.1:{}/test?target_session_attrs=read-write",
        a.port, primary.port, b.port
    );
    let multi = Db::topology()
        .url(&url)
        .read_policy(ReadPolicy::LeastLatency)
        .connect()
        .await
        .unwrap();
    assert_eq!(
        multi.primary_name().as_deref(),
        Some(format!("127.0.0.1:{}/test", primary.port).as_str())
    );
    assert_eq!(Item::query().count(&multi).await.unwrap(), 13);
    let multi_health = multi.health().await;
    assert_eq!(
        statements(&multi_health, primary.port),
        0,
        "{multi_health:#?}"
    );
    multi.close().await;

    // max_lag: a standby whose replay is paused while the primary writes leaves the rotation.
    let strict = Db::topology()
        .primary(primary.url())
        .replica(a.url())
        .replica(b.url())
        .max_lag(Duration::from_millis(1))
        .connect()
        .await
        .unwrap();
    direct(&b, "SELECT pg_wal_replay_pause()").await;
    // synchronous_standby_names waits for both standbys' flush (not replay): writes go on.
    item(14).insert(&strict).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let lagging = strict.health().await;
    assert!(!node(&lagging, b.port).in_rotation, "{lagging:#?}");
    assert!(node(&lagging, b.port).lag.unwrap() > Duration::ZERO);
    assert!(
        node(&lagging, b.port).lag_bytes.unwrap() > 0,
        "{lagging:#?}"
    );
    for _ in 0..4 {
        assert_eq!(Item::query().count(&strict).await.unwrap(), 14);
    }
    direct(&b, "SELECT pg_wal_replay_resume()").await;
    strict.close().await;

    // A standby that dies: reads go on (retried elsewhere), its breaker opens, and it rejoins
    // once restarted.
    a.kill();
    for _ in 0..6 {
        assert_eq!(Item::query().count(&db).await.unwrap(), 14);
    }
    // Its breaker counts every failed read and probe: once the background probe has taken the
    // standby out of rotation, reads stop failing on it, so the probes (`health()` probes now)
    // bring the count to the threshold.
    let mut down = db.health().await;
    for _ in 0..3 {
        if node(&down, a.port).breaker != polyorm::topology::BreakerState::Closed {
            break;
        }
        down = db.health().await;
    }
    assert!(!node(&down, a.port).reachable, "{down:#?}");
    assert!(!node(&down, a.port).in_rotation);
    assert_ne!(
        node(&down, a.port).breaker,
        polyorm::topology::BreakerState::Closed,
        "{down:#?}"
    );
    a.restart().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let health = db.health().await;
        if node(&health, a.port).in_rotation {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the standby never rejoined: {health:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(rows_on(&primary).await, 14);

    // One validation report: every node, the migrations, the schema's drift.
    let dir = primary.dir().join("migrations");
    std::fs::create_dir_all(&dir).unwrap();
    let migrator = polyorm::migrate::Migrator::new(
        db.primary_db().unwrap(),
        &dir,
        polyorm::migrate::Schema::from_models([Item::schema()]),
    )
    .unwrap();
    let report = migrator.validate_topology(&db).await;
    assert!(report.is_ok(), "{report:#?}");
    assert_eq!(report.topology.as_ref().unwrap().nodes.len(), 3);
    assert!(report.drift.is_empty());
    db.execute_raw("ALTER TABLE topo_items ADD COLUMN extra INTEGER")
        .await
        .unwrap();
    b.kill();
    let report = migrator.validate_topology(&db).await;
    assert!(!report.is_ok());
    assert!(
        report.drift.iter().any(|d| d.contains("extra")),
        "{report:#?}"
    );
    assert!(
        report.problems.iter().any(
            |p| p.contains(&format!("127.0.0.1:{}", b.port)) && p.contains("cannot be reached")
        ),
        "{report:#?}"
    );
    db.close().await;
}

/// Inserts rows `ids` through `db`, each retried while the topology reports a failover
/// (a retryable error, or a connection lost with the old primary); a retry that finds its row
/// already there (the lost attempt was applied) counts as done. Returns when the first of them
/// succeeded.
async fn insert_through_failover(db: &Topology, ids: std::ops::RangeInclusive<i64>) -> Instant {
    let mut first_ok = None;
    for id in ids {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match item(id).insert(db).await {
                Ok(_) => break,
                Err(e) if e.is_unique_violation() => break,
                Err(e @ (Error::NodeUnavailable { .. } | Error::ConnectionLost { .. }))
                    if Instant::now() < deadline =>
                {
                    if let Error::NodeUnavailable { node, role, .. } = &e {
                        assert_eq!(*role, "primary", "{e}");
                        assert!(node.contains("127.0.0.1"), "the node is named: {e}");
                        assert!(e.is_retryable());
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("write {id} during the failover: {e}"),
            }
        }
        first_ok.get_or_insert_with(Instant::now);
    }
    first_ok.expect("at least one row")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_writes_continue_on_a_promoted_standby_after_the_primary_is_killed() {
    let primary = PrivateServer::start(Kind::Postgres).await;
    let standby = PrivateServer::start_pg_standby(&primary, &[]).await;
    // Synchronous replication: every acknowledged commit is on the standby before the kill.
    synchronous_standbys(&primary, "*").await;
    let db = Db::topology()
        .primary(primary.url())
        .replica(standby.url())
        .probe_interval(Duration::from_millis(100))
        .probe_timeout(Duration::from_millis(500))
        .connect()
        .await
        .unwrap();
    db.create_table::<Item>().await.unwrap();
    for id in 1..=50 {
        item(id).insert(&db).await.unwrap();
    }
    assert_eq!(db.failovers(), 0);

    let killed = Instant::now();
    primary.kill();
    // What an HA manager does: promote the standby (pg_auto_failover does it in the other
    // test binary).
    let promote = Db::connect(&standby.url()).await.unwrap();
    raw("SELECT pg_promote()")
        .execute(&promote)
        .await
        .expect("promote the standby");
    promote.close().await;
    let resumed = insert_through_failover(&db, 51..=100).await;
    println!(
        "postgres failover: writes resumed {:?} after the primary was killed (promotion by pg_promote)",
        resumed - killed
    );

    let health = db.health().await;
    assert_eq!(
        health.primary.as_deref(),
        Some(format!("127.0.0.1:{}/test", standby.port).as_str()),
        "{health:#?}"
    );
    assert_eq!(db.failovers(), 1);
    assert!(!node(&health, primary.port).reachable);
    // Nothing committed is lost: the 50 rows from before the kill and the 50 after.
    assert_eq!(Item::query().count(&db).await.unwrap(), 100);
    assert_eq!(rows_on(&standby).await, 100);
    // An idempotent handle retries a write by itself through the next outage.
    let upsert = raw("INSERT INTO topo_items (id, name) VALUES (101, 'x') ON CONFLICT DO NOTHING");
    upsert.execute(&db.idempotent()).await.unwrap();
    assert_eq!(rows_on(&standby).await, 101);
    db.close().await;
}

/// Points the MariaDB server `replica` at `primary` with GTID replication and waits until it
/// has the primary's `test` database.
async fn start_gtid_replication(primary: &PrivateServer, replica: &PrivateServer) {
    let admin = Db::connect(&replica.url_for("mysql")).await.unwrap();
    for sql in [
        "DROP DATABASE test".to_owned(),
        "SET GLOBAL gtid_slave_pos = ''".to_owned(),
        format!(
            "CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = {}, \
             MASTER_USER = 'root', MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1",
            primary.port
        ),
        "START SLAVE".to_owned(),
    ] {
        admin
            .execute_raw(&sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found: Option<(String,)> =
            raw("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'test'")
                .fetch_optional(&admin)
                .await
                .unwrap();
        if found.is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "replication never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    admin.close().await;
}

/// Waits until the MariaDB replica has applied what the primary logged.
async fn gtid_caught_up(primary: &PrivateServer, replica: &PrivateServer) {
    let p = Db::connect(&primary.url()).await.unwrap();
    let (gtid,): (String,) = raw("SELECT @@gtid_binlog_pos").fetch_one(&p).await.unwrap();
    p.close().await;
    let r = Db::connect(&replica.url()).await.unwrap();
    let (waited,): (i64,) = raw("SELECT MASTER_GTID_WAIT(?, 30)")
        .bind(gtid)
        .fetch_one(&r)
        .await
        .unwrap();
    assert_eq!(waited, 0, "the replica never caught up");
    r.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_gtid_replica_takes_reads_read_your_writes_waits_and_writes_survive_promotion() {
    let primary = PrivateServer::start_with(
        Kind::MariaDb,
        &["--log-bin=binlog", "--server-id=1", "--binlog-format=ROW"],
    )
    .await;
    let replica = PrivateServer::start_with(
        Kind::MariaDb,
        &[
            "--log-bin=binlog",
            "--log-slave-updates",
            "--server-id=2",
            "--binlog-format=ROW",
            "--read-only=1",
        ],
    )
    .await;
    start_gtid_replication(&primary, &replica).await;
    let db = Db::topology()
        .primary(primary.url())
        .replica(replica.url())
        .probe_interval(Duration::from_millis(100))
        .probe_timeout(Duration::from_millis(500))
        .read_your_writes_wait(Duration::from_millis(200))
        .connect()
        .await
        .unwrap();
    db.create_table::<Item>().await.unwrap();
    for id in 1..=20 {
        item(id).insert(&db).await.unwrap();
    }
    gtid_caught_up(&primary, &replica).await;
    let health = db.health().await;
    assert_eq!(
        node(&health, replica.port).role,
        Role::Replica,
        "{health:#?}"
    );
    assert_eq!(
        node(&health, replica.port).lag,
        Some(Duration::ZERO),
        "{health:#?}"
    );
    assert!(node(&health, replica.port).in_rotation);

    let before = db.health().await;
    for _ in 0..5 {
        assert_eq!(Item::query().count(&db).await.unwrap(), 20);
    }
    let after = db.health().await;
    assert_eq!(
        statements(&after, replica.port) - statements(&before, replica.port),
        5
    );
    assert_eq!(
        statements(&after, primary.port),
        statements(&before, primary.port)
    );

    // The replica's SQL thread stopped: the scope's read falls back to the primary after
    // MASTER_GTID_WAIT times out; outside the scope the replica answers, stale.
    direct(&replica, "STOP SLAVE SQL_THREAD").await;
    let seen = db
        .read_your_writes(async {
            item(21).insert(&db).await?;
            Item::query().count(&db).await
        })
        .await
        .unwrap();
    assert_eq!(seen, 21);
    assert_eq!(Item::query().count(&db).await.unwrap(), 20);
    direct(&replica, "START SLAVE SQL_THREAD").await;
    let was = db.health().await;
    let seen = db
        .read_your_writes(async {
            item(22).insert(&db).await?;
            Item::query().count(&db).await
        })
        .await
        .unwrap();
    assert_eq!(seen, 22);
    let now = db.health().await;
    assert_eq!(
        statements(&now, replica.port) - statements(&was, replica.port),
        1,
        "MASTER_GTID_WAIT let the read run on the replica: {now:#?}"
    );

    // Failover: every acknowledged row is on the replica, the primary dies, the replica is
    // promoted, writes continue there.
    gtid_caught_up(&primary, &replica).await;
    let killed = Instant::now();
    primary.kill();
    let admin = Db::connect(&replica.url()).await.unwrap();
    for sql in ["STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL read_only = 0"] {
        admin.execute_raw(sql).await.unwrap();
    }
    admin.close().await;
    let resumed = insert_through_failover(&db, 23..=40).await;
    println!(
        "mariadb failover: writes resumed {:?} after the primary was killed",
        resumed - killed
    );
    assert_eq!(db.failovers(), 1);
    assert_eq!(
        db.primary_name().as_deref(),
        Some(format!("127.0.0.1:{}/test", replica.port).as_str())
    );
    assert_eq!(Item::query().count(&db).await.unwrap(), 40);
    db.close().await;
}

/// Reads per second of `find` by key from 32 tasks for 3 s through `db`.
async fn reads_per_second(db: &Topology) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(3);
    let tasks: Vec<_> = (0..32)
        .map(|t| {
            let db = db.clone();
            tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let id = 1 + (n + t) as i64 % 100;
                    Item::find(&db, id).await.unwrap().expect("the row");
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    total as f64 / 3.0
}

/// Read scaling (issue 25, BENCHMARKS.md "Replicated topology"): the same read-only load
/// through a topology with one replica, then two. Every server shares this machine's two
/// cores, so each is held to 5% of one core (a cgroup CPU quota, standing in for a
/// host of its own): the load is then bound by the servers, as on separate hosts, and a
/// second replica must add its capacity. Prints the figures (`-- --nocapture`).
#[tokio::test(flavor = "multi_thread")]
async fn replica_reads_scale_with_a_second_replica() {
    let primary = PrivateServer::start(Kind::Postgres).await;
    let (a, b) = tokio::join!(
        PrivateServer::start_pg_standby(&primary, &[]),
        PrivateServer::start_pg_standby(&primary, &[])
    );
    let seed = Db::connect(&primary.url()).await.unwrap();
    seed.create_table::<Item>().await.unwrap();
    Item::insert_many(&seed, &(1..=100).map(item).collect::<Vec<_>>())
        .await
        .unwrap();
    seed.close().await;
    let _quotas = [&primary, &a, &b].map(|server| server.limit_cpu(5));
    let options = polyorm::PoolOptions::new().max_connections(16);
    let one = Db::topology()
        .primary(primary.url())
        .replica(a.url())
        .pool_options(options.clone())
        .connect()
        .await
        .unwrap();
    caught_up(&one, &a).await;
    caught_up(&one, &b).await;
    let primary_only = Db::topology()
        .primary(primary.url())
        .pool_options(options.clone())
        .connect()
        .await
        .unwrap();
    let two = Db::topology()
        .primary(primary.url())
        .replica(a.url())
        .replica(b.url())
        .pool_options(options)
        .connect()
        .await
        .unwrap();
    // Warm every pool first (backends forked now inherit their server's quota).
    for db in [&primary_only, &one, &two] {
        reads_per_second(db).await;
    }
    let none = reads_per_second(&primary_only).await;
    let r1 = reads_per_second(&one).await;
    let r2 = reads_per_second(&two).await;
    println!(
        "read scaling (find by key, 32 tasks, 16 connections per node, each server held to 5% \
         of a core): primary only {none:.0}/s, 1 replica {r1:.0}/s, 2 replicas {r2:.0}/s \
         ({:.2}x of 1 replica)",
        r2 / r1
    );
    let health = two.health().await;
    println!(
        "statements per node: replica a {}, replica b {}",
        statements(&health, a.port),
        statements(&health, b.port)
    );
    assert_eq!(statements(&health, primary.port), 0, "{health:#?}");
    // What makes the second replica's capacity count is that the reads are spread over both:
    // each serves at least 40% of them. The throughput itself is printed, not asserted: it
    // moves with the CPU quotas' scheduling on this shared machine (1.08x to 1.70x of one
    // replica between runs of one binary; figures in BENCHMARKS.md), and speed targets live
    // in benchmarks, not in tests.
    let (on_a, on_b) = (statements(&health, a.port), statements(&health, b.port));
    assert!(
        on_a.min(on_b) * 10 >= (on_a + on_b) * 4,
        "the reads were not spread over both replicas: {on_a} on a, {on_b} on b"
    );
}
