//! Private database servers for fault tests: a PostgreSQL or MariaDB server of the test's own,
//! on a free port, in a temporary directory, that the test may crash (`kill`), stop and start
//! again on the same port and data; killed and removed on drop. The shared servers are never
//! touched.
//!
//! Ports come from `ORM_TEST_PORT_RANGE` (`first-last`, e.g. `55400-55499`) when it is set,
//! else from the kernel. As root (CI), PostgreSQL runs as the `postgres` user (it refuses to
//! run as root) with a data directory that user owns.

#![allow(dead_code)]

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
const MARIADBD: &str = "/usr/sbin/mariadbd";
const MARIADB_INSTALL_DB: &str = "/usr/bin/mariadb-install-db";
/// The password of PostgreSQL's administrator `postgres` (MariaDB's `root` has none).
pub const PASSWORD: &str = "orm-fault-pw";

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Postgres,
    MariaDb,
}

impl Kind {
    /// Both SQL servers that run over the network.
    pub const ALL: [Kind; 2] = [Kind::Postgres, Kind::MariaDb];
}

/// A port nothing listens on now, from `ORM_TEST_PORT_RANGE` or the kernel.
pub fn free_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let bindable = |port: u16| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok();
    match std::env::var("ORM_TEST_PORT_RANGE") {
        Ok(range) => {
            let (first, last) = range
                .split_once('-')
                .and_then(|(a, b)| {
                    Some((a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?))
                })
                .unwrap_or_else(|| panic!("ORM_TEST_PORT_RANGE={range}: expected first-last"));
            let span = last - first + 1;
            // Each test process starts at its own offset so that parallel runs rarely collide.
            let start = (std::process::id() % u32::from(span)) as u16;
            for _ in 0..span {
                let n = NEXT.fetch_add(1, Ordering::Relaxed);
                let port = first + (start.wrapping_add(n)) % span;
                if bindable(port) {
                    return port;
                }
            }
            panic!("no free port in ORM_TEST_PORT_RANGE={range}");
        }
        Err(_) => {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            listener.local_addr().expect("bound").port()
        }
    }
}

/// The processes whose parent is `pid` (from `/proc`).
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|candidate| {
            // `/proc/<pid>/stat`: "pid (comm) state ppid ..."; comm may contain spaces.
            std::fs::read_to_string(format!("/proc/{candidate}/stat")).is_ok_and(|stat| {
                stat.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok())
                    == Some(pid)
            })
        })
        .collect()
}

/// A CPU quota on one server's processes, in a cgroup (v1 `cpu` controller) of its own: it
/// stands in for a host of the server's own where every server shares this machine's cores
/// (a replica can then add capacity that the others do not take). On drop, the processes go
/// back to the root group and the group is removed.
pub struct CpuQuota {
    dir: PathBuf,
}

const CPU_CGROUPS: &str = "/sys/fs/cgroup/cpu";

impl Drop for CpuQuota {
    fn drop(&mut self) {
        if let Ok(procs) = std::fs::read_to_string(self.dir.join("cgroup.procs")) {
            for pid in procs.lines() {
                // A process that exited meanwhile has nothing to move.
                let _ = std::fs::write(Path::new(CPU_CGROUPS).join("cgroup.procs"), pid);
            }
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// SIGKILL to `pids`, some of which may have exited already.
fn kill_quietly(pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg("-KILL")
        .arg("--")
        .args(pids.iter().map(u32::to_string))
        .stderr(Stdio::null())
        .status();
}

/// Creates `path` (and its parents) for the server's user to write into: as root, owned by
/// `postgres` (a WAL archive that PostgreSQL's `archive_command` copies into).
pub fn server_writable_dir(path: &Path) {
    std::fs::create_dir_all(path).expect("create the directory");
    if running_as_root() {
        chown_tree(path, user_ids("postgres"));
    }
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The uid and gid of a system user (`id -u` / `id -g`).
fn user_ids(user: &str) -> (u32, u32) {
    let id = |flag: &str| {
        let out = Command::new("id")
            .args([flag, user])
            .output()
            .expect("run `id`");
        assert!(out.status.success(), "no user `{user}`");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse::<u32>()
            .expect("a numeric id")
    };
    (id("-u"), id("-g"))
}

fn chown_tree(path: &Path, (uid, gid): (u32, u32)) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown");
    if path.is_dir() {
        for entry in std::fs::read_dir(path).expect("read_dir") {
            chown_tree(&entry.expect("entry").path(), (uid, gid));
        }
    }
}

fn run(command: &mut Command, what: &str) {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A server of the test's own; see the module documentation.
pub struct PrivateServer {
    pub kind: Kind,
    pub port: u16,
    dir: PathBuf,
    /// The server process (PostgreSQL's postmaster), while it runs.
    child: Mutex<Option<Child>>,
    /// Set when PostgreSQL must run as the `postgres` user.
    run_as: Option<(u32, u32)>,
    /// Server settings added to the command line: PostgreSQL `name=value` (each passed as
    /// `-c name=value`), MariaDB `--name=value` options (after the defaults, so they win).
    settings: Vec<String>,
}

impl PrivateServer {
    /// Creates a data directory, starts the server and waits until it accepts logins to its
    /// `test` database (created here).
    pub async fn start(kind: Kind) -> PrivateServer {
        Self::start_with(kind, &[]).await
    }

    /// [`PrivateServer::start`] with server settings of the test's own: PostgreSQL
    /// `"name=value"` (e.g. `"max_prepared_transactions=10"`, `"wal_level=logical"`), MariaDB
    /// `"--name=value"` options (e.g. `"--log-bin=binlog"`), applied on every (re)start.
    pub async fn start_with(kind: Kind, settings: &[&str]) -> PrivateServer {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!(
            "orm-fault-{}-{}-{port}",
            match kind {
                Kind::Postgres => "pg",
                Kind::MariaDb => "mariadb",
            },
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the server's directory");
        let run_as = (kind == Kind::Postgres && running_as_root()).then(|| user_ids("postgres"));
        let server = PrivateServer {
            kind,
            port,
            dir,
            child: Mutex::new(None),
            run_as,
            settings: settings.iter().map(|s| (*s).to_owned()).collect(),
        };
        server.init();
        server.launch();
        server.wait_ready().await;
        let admin = polyorm::Db::connect(&server.url_for(server.admin_database()))
            .await
            .expect("the private server accepts its administrator");
        polyorm::Executor::execute_raw(&admin, "CREATE DATABASE test")
            .await
            .expect("CREATE DATABASE test");
        admin.close().await;
        server
    }

    /// A PostgreSQL hot standby of `primary` (which must allow replication connections, as
    /// `initdb`'s defaults do): a `pg_basebackup -R` copy of its data, started on a free port
    /// with `settings`, streaming from it. Waits until the standby accepts logins.
    pub async fn start_pg_standby(primary: &PrivateServer, settings: &[&str]) -> PrivateServer {
        assert_eq!(
            primary.kind,
            Kind::Postgres,
            "a standby of a PostgreSQL server"
        );
        let port = free_port();
        let dir = std::env::temp_dir().join(format!(
            "orm-fault-pg-standby-{}-{port}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the standby's directory");
        let server = PrivateServer {
            kind: Kind::Postgres,
            port,
            dir,
            child: Mutex::new(None),
            run_as: primary.run_as,
            settings: settings.iter().map(|s| (*s).to_owned()).collect(),
        };
        if let Some(ids) = server.run_as {
            chown_tree(&server.dir, ids);
        }
        let mut backup = server.as_server_user(Command::new(format!("{PG_BIN}/pg_basebackup")));
        backup
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &primary.port.to_string(),
                "-U",
                "postgres",
            ])
            .arg("-D")
            .arg(server.data())
            .args(["-R", "-X", "stream", "--checkpoint=fast", "--no-sync"])
            .env("PGPASSWORD", PASSWORD);
        run(&mut backup, "pg_basebackup");
        server.launch();
        server.wait_ready().await;
        server
    }

    /// A server of `kind` on a free port that is not started and has no data yet: the test
    /// writes its data directory ([`PrivateServer::data_dir`], e.g. a restored backup), then
    /// starts it with [`PrivateServer::start_existing`]. `settings` as for
    /// [`PrivateServer::start_with`].
    pub fn unstarted(kind: Kind, settings: &[&str]) -> PrivateServer {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!(
            "orm-fault-{}-restored-{}-{port}",
            match kind {
                Kind::Postgres => "pg",
                Kind::MariaDb => "mariadb",
            },
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the server's directory");
        PrivateServer {
            kind,
            port,
            dir,
            child: Mutex::new(None),
            run_as: (kind == Kind::Postgres && running_as_root()).then(|| user_ids("postgres")),
            settings: settings.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// Starts the server on the data directory the test wrote (given to the server's user),
    /// and waits until it accepts logins.
    pub async fn start_existing(&self) {
        if let Some(ids) = self.run_as {
            chown_tree(&self.dir, ids);
        }
        self.launch();
        self.wait_ready().await;
    }

    /// Starts the server on the data directory the test wrote without waiting for it.
    pub fn launch_existing(&self) {
        if let Some(ids) = self.run_as {
            chown_tree(&self.dir, ids);
        }
        self.launch();
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.data()
    }

    /// The server's log so far (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    fn admin_database(&self) -> &'static str {
        match self.kind {
            Kind::Postgres => "postgres",
            Kind::MariaDb => "mysql",
        }
    }

    /// The server's own directory (data, log, socket): a test may put files there, e.g.
    /// certificates that its settings name.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// MariaDB's temporary directory, one per server.
    fn tmp(&self) -> PathBuf {
        let tmp = self.dir.join("tmp");
        std::fs::create_dir_all(&tmp).expect("create the server's tmpdir");
        tmp
    }

    fn init(&self) {
        match self.kind {
            Kind::Postgres => {
                let pwfile = self.dir.join("pw");
                std::fs::write(&pwfile, PASSWORD).expect("write the password file");
                if let Some(ids) = self.run_as {
                    chown_tree(&self.dir, ids);
                }
                let mut initdb = self.as_server_user(Command::new(format!("{PG_BIN}/initdb")));
                initdb
                    .arg("-D")
                    .arg(self.data())
                    .args([
                        "-U",
                        "postgres",
                        "--auth-local=trust",
                        "--auth-host=scram-sha-256",
                    ])
                    .arg(format!("--pwfile={}", pwfile.display()))
                    .args(["-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]);
                run(&mut initdb, "initdb");
            }
            Kind::MariaDb => {
                let mut install = Command::new(MARIADB_INSTALL_DB);
                install
                    .arg("--no-defaults")
                    .arg(format!("--datadir={}", self.data().display()))
                    .arg(format!("--tmpdir={}", self.tmp().display()))
                    .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
                    .arg("--skip-name-resolve");
                if running_as_root() {
                    install.arg("--user=root");
                }
                // Concurrent bootstraps in one temporary directory collide on its temporary
                // tables: each gets its own, and they run one at a time.
                install.env("TMPDIR", self.tmp());
                static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
                let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
                run(&mut install, "mariadb-install-db");
            }
        }
    }

    fn as_server_user(&self, mut command: Command) -> Command {
        if let Some((uid, gid)) = self.run_as {
            command.uid(uid).gid(gid);
        }
        command
    }

    /// Starts the server process on the data directory (no waiting).
    fn launch(&self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("server.log"))
            .expect("open the server log");
        let mut command = match self.kind {
            Kind::Postgres => {
                let mut c = self.as_server_user(Command::new(format!("{PG_BIN}/postgres")));
                c.arg("-D")
                    .arg(self.data())
                    .args(["-p", &self.port.to_string(), "-k"])
                    .arg(&self.dir)
                    .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"]);
                for setting in &self.settings {
                    c.args(["-c", setting]);
                }
                c
            }
            Kind::MariaDb => {
                let mut c = Command::new(MARIADBD);
                c.arg("--no-defaults")
                    .arg(format!("--datadir={}", self.data().display()))
                    .arg(format!("--port={}", self.port))
                    .arg(format!(
                        "--socket={}",
                        self.dir.join("mysqld.sock").display()
                    ))
                    .arg(format!(
                        "--pid-file={}",
                        self.dir.join("mysqld.pid").display()
                    ))
                    .arg(format!("--tmpdir={}", self.tmp().display()))
                    .args([
                        "--bind-address=127.0.0.1",
                        "--skip-name-resolve",
                        "--skip-log-bin",
                    ])
                    .args([
                        "--innodb-buffer-pool-size=16M",
                        "--innodb-flush-log-at-trx-commit=2",
                    ]);
                if running_as_root() {
                    c.arg("--user=root");
                }
                c.args(&self.settings);
                c
            }
        };
        let child = command
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {:?}: {e}", self.kind));
        *self.child.lock().unwrap() = Some(child);
    }

    /// Starts the server again if its process has exited: a port in the kernel's ephemeral
    /// range can be taken for a moment by a client's connection to itself (TCP simultaneous
    /// open, when nothing listens there), and the server then fails to bind it.
    pub fn ensure_running(&self) {
        let exited = self
            .child
            .lock()
            .unwrap()
            .as_mut()
            .is_some_and(|child| child.try_wait().expect("server status").is_some());
        if exited {
            self.launch();
        }
    }

    /// Waits until the server accepts a login (at most 30 s).
    async fn wait_ready(&self) {
        let url = self.url_for(self.admin_database());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            self.ensure_running();
            let attempt = polyorm::PoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(2))
                .connect(&url)
                .await;
            match attempt {
                Ok(db) => return db.close().await,
                Err(e) if Instant::now() > deadline => {
                    panic!(
                        "{:?} on port {} did not start: {e}; see {}",
                        self.kind,
                        self.port,
                        self.dir.join("server.log").display()
                    )
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }

    /// The URL of `database` as the administrator.
    pub fn url_for(&self, database: &str) -> String {
        match self.kind {
            Kind::Postgres => format!(
                "postgres://postgres:{PASSWORD}@127.0.0.1:{}/{database}",
                self.port
            ),
            Kind::MariaDb => format!("mysql://root@127.0.0.1:{}/{database}", self.port),
        }
    }

    /// The URL of the `test` database.
    pub fn url(&self) -> String {
        self.url_for("test")
    }

    /// Crashes the server: SIGKILL to it and its children (PostgreSQL's backends), then waits
    /// until it is gone.
    /// Limits the server, and every process it starts from now on (PostgreSQL forks a
    /// backend per connection), to `percent` of one core until the quota is dropped.
    /// Needs root and cgroup v1's `cpu` controller at /sys/fs/cgroup/cpu (this machine's).
    pub fn limit_cpu(&self, percent: u32) -> CpuQuota {
        let pid = self
            .child
            .lock()
            .unwrap()
            .as_ref()
            .expect("limit_cpu on a running server")
            .id();
        let dir = Path::new(CPU_CGROUPS).join(format!("orm-test-{}", self.port));
        let write = |file: &str, value: String| {
            std::fs::write(dir.join(file), &value).unwrap_or_else(|e| {
                panic!(
                    "setting {file} = {value} in {}: {e} (a CPU quota needs root and cgroup v1's \
                     cpu controller mounted at {CPU_CGROUPS})",
                    dir.display()
                )
            })
        };
        if let Err(e) = std::fs::create_dir(&dir)
            && e.kind() != std::io::ErrorKind::AlreadyExists
        {
            panic!(
                "creating the cgroup {}: {e} (a CPU quota needs root and cgroup v1's cpu \
                 controller mounted at {CPU_CGROUPS})",
                dir.display()
            );
        }
        let quota = CpuQuota { dir: dir.clone() };
        write("cpu.cfs_period_us", "100000".to_owned());
        write("cpu.cfs_quota_us", (percent * 1000).to_string());
        write("cgroup.procs", pid.to_string());
        for child in children_of(pid) {
            // A backend that exited meanwhile has nothing to move.
            let _ = std::fs::write(dir.join("cgroup.procs"), child.to_string());
        }
        quota
    }

    pub fn kill(&self) {
        self.signal("KILL");
    }

    /// Stops the server the way an administrator does (PostgreSQL's fast shutdown, SIGINT;
    /// MariaDB's normal shutdown, SIGTERM) and waits until it has exited.
    pub fn stop(&self) {
        self.signal(match self.kind {
            Kind::Postgres => "INT",
            Kind::MariaDb => "TERM",
        });
    }

    fn signal(&self, signal: &str) {
        let Some(mut child) = self.child.lock().unwrap().take() else {
            return;
        };
        // A crash takes every process: PostgreSQL's backends are children of the postmaster
        // in sessions of their own (a group signal would miss them).
        let children = if signal == "KILL" {
            children_of(child.id())
        } else {
            Vec::new()
        };
        run(
            Command::new("kill").args([&format!("-{signal}"), "--", &child.id().to_string()]),
            "kill",
        );
        kill_quietly(&children);
        child.wait().expect("reap the server");
        // Backends of a killed group may take a moment to release the port.
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            assert!(
                Instant::now() < deadline,
                "port {} still accepts",
                self.port
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Starts a stopped or killed server again on the same port and data, and waits until it
    /// accepts logins; returns when it did.
    pub async fn restart(&self) -> Instant {
        self.launch();
        self.wait_ready().await;
        Instant::now()
    }

    /// Starts the stopped server again without waiting for it.
    pub fn relaunch(&self) {
        self.launch();
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let mut targets = children_of(child.id());
            targets.push(child.id());
            kill_quietly(&targets);
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
