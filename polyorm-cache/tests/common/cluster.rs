//! A Redis Cluster of the test's own: six `redis-server` nodes in cluster mode (three
//! masters, one replica each), killed on drop.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Six nodes on kernel-chosen ports, each with its cluster bus on a second kernel-chosen port
/// (the default, port + 10000, may not exist or may be taken), their files in a temp directory.
pub struct Cluster {
    pub ports: Vec<u16>,
    nodes: Vec<Option<Child>>,
    dir: std::path::PathBuf,
}

impl Cluster {
    /// Starts the nodes on free ports, joins them with `redis-cli --cluster create` and waits
    /// until every node reports `cluster_state:ok`.
    pub async fn start() -> Cluster {
        let (ports, buses) = free_ports();
        let dir = std::env::temp_dir().join(format!(
            "polyorm-cache-cluster-{}-{}",
            std::process::id(),
            ports[0]
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temp directory for the cluster");
        let mut cluster = Cluster {
            ports: ports.clone(),
            nodes: Vec::new(),
            dir,
        };
        for (port, bus) in ports.iter().zip(&buses) {
            // A node outlives a test process that is killed (a timeout, ^C) unless the kernel
            // ends it with its parent (`setpriv --pdeathsig`, util-linux); a leftover node
            // would hold its ports for later runs.
            let child = Command::new("/usr/bin/setpriv")
                .args(["--pdeathsig", "KILL", "/usr/bin/redis-server"])
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--cluster-port", &bus.to_string()])
                .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "1000"])
                .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
                .args(["--save", "", "--appendonly", "no"])
                // Replicas sync at once (the default waits 5 s for more replicas to batch).
                .args(["--repl-diskless-sync-delay", "0"])
                .current_dir(&cluster.dir)
                .stdout(Stdio::null())
                .spawn()
                .expect("/usr/bin/redis-server starts (bash scripts/cache-servers.sh install)");
            cluster.nodes.push(Some(child));
        }
        for port in &ports {
            wait_listening(*port).await;
        }
        let addresses: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let created = Command::new("/usr/bin/redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdout(Stdio::null())
            .status()
            .expect("redis-cli runs (package redis-tools)");
        assert!(created.success(), "redis-cli --cluster create failed");
        let deadline = Instant::now() + Duration::from_secs(30);
        for port in &ports {
            while !cluster_info(*port).await.contains("cluster_state:ok") {
                assert!(
                    Instant::now() < deadline,
                    "the cluster did not become ready"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        cluster
    }

    /// `redis://127.0.0.1:port` of every node.
    pub fn urls(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect()
    }

    /// The port of the master serving `key`'s slot now, asked of a live node.
    pub async fn master_of(&self, key: &str) -> u16 {
        let port = self.live_port();
        let mut conn = connect(port).await;
        let slot = slot_of(&mut conn, key).await;
        let nodes: String = redis::cmd("CLUSTER")
            .arg("NODES")
            .query_async(&mut conn)
            .await
            .expect("CLUSTER NODES");
        for line in nodes.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            if !fields[2].contains("master") || fields[2].contains("fail") {
                continue;
            }
            let serves = fields[8..].iter().any(|range| {
                let (from, to) = range.split_once('-').unwrap_or((range, range));
                match (from.parse::<u16>(), to.parse::<u16>()) {
                    (Ok(from), Ok(to)) => (from..=to).contains(&slot),
                    _ => false,
                }
            });
            if serves {
                let address = fields[1].split('@').next().expect("ip:port@bus");
                return address
                    .rsplit_once(':')
                    .expect("ip:port")
                    .1
                    .parse()
                    .expect("a port");
            }
        }
        panic!("no master serves slot {slot}:\n{nodes}");
    }

    /// How many keys `key`'s slot holds, asked of the master serving it.
    pub async fn keys_in_slot_of(&self, key: &str) -> u64 {
        let mut conn = connect(self.master_of(key).await).await;
        let slot = slot_of(&mut conn, key).await;
        redis::cmd("CLUSTER")
            .arg("COUNTKEYSINSLOT")
            .arg(slot)
            .query_async(&mut conn)
            .await
            .expect("CLUSTER COUNTKEYSINSLOT")
    }

    /// Kills the node on `port`.
    pub fn kill(&mut self, port: u16) {
        let i = self
            .ports
            .iter()
            .position(|p| *p == port)
            .expect("a node of this cluster");
        if let Some(mut child) = self.nodes[i].take() {
            child.kill().expect("kill a cluster node");
            child.wait().expect("reap a cluster node");
        }
    }

    fn live_port(&self) -> u16 {
        self.ports
            .iter()
            .zip(&self.nodes)
            .find(|(_, child)| child.is_some())
            .map(|(p, _)| *p)
            .expect("a live node")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in self.nodes.iter_mut().filter_map(Option::take) {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Six node ports and six cluster-bus ports, all distinct, chosen by the kernel: the twelve
/// listeners are held together so that none is handed out twice, then closed for the nodes.
fn free_ports() -> (Vec<u16>, Vec<u16>) {
    let listeners: Vec<std::net::TcpListener> = (0..12)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    let ports: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().expect("bound").port())
        .collect();
    (ports[..6].to_vec(), ports[6..].to_vec())
}

async fn connect(port: u16) -> redis::aio::MultiplexedConnection {
    redis::Client::open(format!("redis://127.0.0.1:{port}"))
        .expect("a node URL")
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| panic!("cluster node on {port}: {e}"))
}

async fn slot_of(conn: &mut redis::aio::MultiplexedConnection, key: &str) -> u16 {
    redis::cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg(key)
        .query_async(conn)
        .await
        .expect("CLUSTER KEYSLOT")
}

async fn cluster_info(port: u16) -> String {
    let mut conn = connect(port).await;
    redis::cmd("CLUSTER")
        .arg("INFO")
        .query_async(&mut conn)
        .await
        .unwrap_or_default()
}

async fn wait_listening(port: u16) {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("cluster node on port {port} did not start listening");
}
