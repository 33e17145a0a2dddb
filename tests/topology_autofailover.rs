//! pg_auto_failover (`postgresql-15-auto-failover`): a monitor and two PostgreSQL nodes started
//! by `scripts/ha-servers.sh` on free local ports. The primary is killed; the monitor promotes
//! the secondary; the ORM's writes continue there through a multi-host URL, without a
//! restart, and every acknowledged row is still there. Its own test binary: setting the
//! formation up takes about half a minute.
//!
//! The write gap (kill → first write accepted by the promoted node) is printed for
//! BENCHMARKS.md; nothing here asserts a duration.

#[path = "support/servers.rs"]
mod servers;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use polyorm::prelude::*;
use polyorm::topology::Role;
use polyorm::{Error, raw};
use servers::free_port;

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "autofailover_items")]
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

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/ha-servers.sh")
}

/// A pg_auto_failover formation; killed and removed on drop.
struct Formation {
    dir: PathBuf,
    ports: [u16; 2],
}

impl Formation {
    fn start() -> Formation {
        let dir = std::env::temp_dir().join(format!("orm-pgaf-{}", std::process::id()));
        let monitor = free_port();
        let ports = [free_port(), free_port()];
        let formation = Formation { dir, ports };
        let out = Command::new("bash")
            .arg(script())
            .arg("pgaf-start")
            .arg(&formation.dir)
            .args([monitor, ports[0], ports[1]].map(|p| p.to_string()))
            .output()
            .expect("run scripts/ha-servers.sh");
        assert!(
            out.status.success(),
            "pg_auto_failover did not start: {}{}\nlogs in {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            formation.dir.display()
        );
        formation
    }

    /// SIGKILL to the member (`node1`, `node2`): its keeper and its PostgreSQL.
    fn kill(&self, member: &str) {
        let status = Command::new("bash")
            .arg(script())
            .args(["pgaf-kill"])
            .arg(&self.dir)
            .arg(member)
            .status()
            .expect("run scripts/ha-servers.sh");
        assert!(status.success());
    }

    fn url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/postgres?sslmode=disable&target_session_attrs=read-write",
            self.ports[0], self.ports[1]
        )
    }
}

impl Drop for Formation {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("pgaf-stop")
            .arg(&self.dir)
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_continue_on_the_node_pg_auto_failover_promotes_after_the_primary_is_killed() {
    let started = Instant::now();
    let formation = tokio::task::spawn_blocking(Formation::start).await.unwrap();
    println!(
        "pg_auto_failover: monitor + 2 nodes ready in {:?}",
        started.elapsed()
    );
    let db = Db::topology()
        .url(&formation.url())
        .probe_interval(Duration::from_millis(100))
        .probe_timeout(Duration::from_millis(500))
        .connect()
        .await
        .expect("connect through the multi-host URL");
    let health = db.health().await;
    let primary_port = formation
        .ports
        .into_iter()
        .find(|p| health.primary.as_deref() == Some(&format!("127.0.0.1:{p}/postgres")))
        .unwrap_or_else(|| panic!("the primary is one of the nodes: {health:#?}"));
    let (member, survivor) = if primary_port == formation.ports[0] {
        ("node1", formation.ports[1])
    } else {
        ("node2", formation.ports[0])
    };
    assert_eq!(
        health
            .node(&format!("127.0.0.1:{survivor}"))
            .map(|n| n.role),
        Some(Role::Replica),
        "{health:#?}"
    );

    db.execute_raw("DROP TABLE IF EXISTS autofailover_items")
        .await
        .unwrap();
    db.create_table::<Item>().await.unwrap();
    for id in 1..=50 {
        item(id).insert(&db).await.unwrap();
    }

    let killed = Instant::now();
    formation.kill(member);
    // Each row is retried while the failover runs: the error is typed (retryable, the node
    // named) or a connection lost with the killed primary; a retry that finds its row there
    // (the lost attempt was applied) counts as written.
    let mut resumed = None;
    let mut errors = 0;
    for id in 51..=100 {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            match item(id).insert(&db).await {
                Ok(_) => break,
                Err(e) if e.is_unique_violation() => break,
                Err(e @ (Error::NodeUnavailable { .. } | Error::ConnectionLost { .. }))
                    if Instant::now() < deadline =>
                {
                    errors += 1;
                    if let Error::NodeUnavailable { node, .. } = &e {
                        assert!(node.contains("127.0.0.1"), "{e}");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("write {id} during the failover: {e}"),
            }
        }
        resumed.get_or_insert_with(Instant::now);
    }
    let gap = resumed.unwrap() - killed;
    println!(
        "pg_auto_failover: writes resumed {gap:?} after the primary was killed ({errors} retryable errors meanwhile)"
    );
    assert_eq!(
        db.primary_name().as_deref(),
        Some(format!("127.0.0.1:{survivor}/postgres").as_str())
    );
    assert_eq!(db.failovers(), 1);
    // Nothing committed is lost (synchronous replication to the secondary).
    let (rows,): (i64,) = raw("SELECT count(*) FROM autofailover_items")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(rows, 100);
    db.close().await;
}
