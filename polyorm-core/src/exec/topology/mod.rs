//! Replicated topologies (feature `topology`): one [`Topology`] over a primary and any number
//! of read replicas (PostgreSQL streaming replication, MariaDB GTID replication), an
//! [`Executor`] like a [`Db`].
//!
//! - **Routing.** Reads outside a transaction (`all`, `first`, `count`, `exists`, streams) go
//!   to a healthy replica, round-robin or the least latency ([`ReadPolicy`]); writes, row
//!   locks (`for_update`), transactions and raw SQL go to the primary. [`Topology::on_primary`]
//!   (per query) and [`Topology::primary_scope`] (per task) send reads to the primary too.
//! - **Read-your-writes.** In a [`Topology::read_your_writes`] scope, a read after a write
//!   goes to a replica only once it has replayed the primary's position after that write
//!   (PostgreSQL's WAL LSN, `pg_last_wal_replay_lsn()`; MariaDB's GTID, `MASTER_GTID_WAIT`),
//!   waiting at most [`TopologyBuilder::read_your_writes_wait`]; else the read runs on the
//!   primary.
//! - **Health.** A background probe (every [`TopologyBuilder::probe_interval`]) reads each
//!   node's role, position, replay lag and latency; a replica lagging more than
//!   [`TopologyBuilder::max_lag`] leaves the rotation until it catches up.
//!   [`Topology::health`] reports every node.
//! - **Failures.** Each node has a circuit breaker ([`BreakerConfig`]); a read that fails
//!   because its node is down runs again on another node with exponential backoff and
//!   jitter. A write is never run twice unless the handle says it may be
//!   ([`Topology::idempotent`]). When the primary refuses connections or turns read-only (a
//!   failover demoted it), the topology probes every node for the new primary
//!   (`pg_is_in_recovery()`, MariaDB `@@read_only`) and sends writes there: no restart.
//!   Statements that were not applied meanwhile fail with [`Error::NodeUnavailable`]
//!   (retryable, naming the node).
//!
//! ```no_run
//! # async fn run() -> polyorm_core::Result<()> {
//! use polyorm_core::{Db, Executor, raw};
//! let db = Db::topology()
//!     .primary("postgres://app@db-1/app")
//!     .replica("postgres://app@db-2/app")
//!     .replica("postgres://app@db-3/app")
//!     .connect()
//!     .await?;
//! // Or: Db::topology().url("postgres://app@db-1,db-2,db-3/app?target_session_attrs=read-write")
//! raw("INSERT INTO t (id) VALUES (1)").execute(&db).await?; // the primary
//! let (n,): (i64,) = raw("SELECT count(*) FROM t").fetch_one(&db).await?; // a replica
//! db.read_your_writes(async {
//!     raw("INSERT INTO t (id) VALUES (2)").execute(&db).await?;
//!     // A replica that has replayed the insert, or the primary.
//!     raw("SELECT count(*) FROM t").fetch_one::<(i64,), _>(&db).await
//! })
//! .await?;
//! # Ok(()) }
//! ```

mod breaker;
mod failure;
mod health;
mod node;
mod position;
mod scope;
mod url;

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

pub use breaker::{BreakerConfig, BreakerState};
pub use health::{NodeHealth, TopologyHealth};
pub use node::Role;
pub use position::Position;

use self::node::{Node, UNMEASURED};
use self::scope::{Scope, Token};
use self::url::SessionAttrs;
use super::layer::{Begin, Finish, Op, Outcome};
use super::sql_runner::{decode_count, fetch_all_ref, fetch_optional_ref};
use super::{Backend, Db, Decoder, ExecResult, Executor, PoolOptions, RowStream};
use super::{RetryPolicy, Transaction, TxOptions};
use crate::error::{Error, Result};
use crate::query::ir::{InsertQuery, SelectQuery, Statement};
use crate::raw::raw;
use crate::sql::{Compiled, Dialect};

/// No node is known to be the primary.
const NO_PRIMARY: usize = usize::MAX;

/// How reads choose among the healthy replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadPolicy {
    /// Each read the next replica in turn (default).
    #[default]
    RoundRobin,
    /// The replica with the lowest recent round-trip time (a moving average of its reads and
    /// probes).
    LeastLatency,
}

/// PostgreSQL's `synchronous_commit` for one transaction ([`Topology::begin_durable`]): how
/// far its commit waits for the standbys named in `synchronous_standby_names`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `off`: does not wait for the local WAL flush (a crash may lose the last commits, never
    /// corrupts).
    Off,
    /// `local`: the local WAL flush only.
    Local,
    /// `remote_write`: the synchronous standbys have written the commit (not flushed).
    RemoteWrite,
    /// `on`: the synchronous standbys have flushed the commit.
    On,
    /// `remote_apply`: the synchronous standbys have applied the commit, so a read there sees
    /// it.
    RemoteApply,
}

impl Durability {
    fn setting(self) -> &'static str {
        match self {
            Durability::Off => "off",
            Durability::Local => "local",
            Durability::RemoteWrite => "remote_write",
            Durability::On => "on",
            Durability::RemoteApply => "remote_apply",
        }
    }
}

/// The settings of a [`Topology`]; start with [`Db::topology`].
#[derive(Debug, Clone)]
pub struct TopologyBuilder {
    nodes: Vec<(String, Role)>,
    options: PoolOptions,
    settings: Settings,
    error: Option<String>,
}

#[derive(Debug, Clone)]
struct Settings {
    read_policy: ReadPolicy,
    max_lag: Option<Duration>,
    read_your_writes_wait: Duration,
    probe_interval: Duration,
    probe_timeout: Duration,
    breaker: BreakerConfig,
    read_retry: RetryPolicy,
    failover_timeout: Duration,
    attrs: SessionAttrs,
}

impl Db {
    /// Starts a [`Topology`]: a primary and read replicas (feature `topology`).
    pub fn topology() -> TopologyBuilder {
        TopologyBuilder {
            nodes: Vec::new(),
            options: PoolOptions::new(),
            settings: Settings {
                read_policy: ReadPolicy::RoundRobin,
                max_lag: None,
                read_your_writes_wait: Duration::from_millis(100),
                probe_interval: Duration::from_secs(1),
                probe_timeout: Duration::from_secs(2),
                breaker: BreakerConfig::default(),
                read_retry: RetryPolicy {
                    max_attempts: 3,
                    initial_backoff: Duration::from_millis(10),
                    max_backoff: Duration::from_millis(200),
                },
                failover_timeout: Duration::from_secs(30),
                attrs: SessionAttrs::Default,
            },
            error: None,
        }
    }
}

impl TopologyBuilder {
    /// The primary's URL (the node writes go to; if it turns out to be a replica, the probe's
    /// answer wins and the primary is looked for among all nodes).
    pub fn primary(mut self, url: impl Into<String>) -> Self {
        self.nodes.push((url.into(), Role::Primary));
        self
    }

    /// A read replica's URL.
    pub fn replica(mut self, url: impl Into<String>) -> Self {
        self.nodes.push((url.into(), Role::Replica));
        self
    }

    /// Every host of a multi-host URL (`postgres://app@h1:5432,h2:5432/app`), each a node
    /// whose role the first probe finds. `target_session_attrs` follows libpq: `read-write`,
    /// `primary`, `any`, `prefer-standby` (or none) send writes to the primary and reads to
    /// replicas when one is healthy; `standby` and `read-only` never read from the primary.
    pub fn url(mut self, url: &str) -> Self {
        match url::split_hosts(url) {
            Ok((urls, attrs)) => {
                self.settings.attrs = attrs;
                self.nodes
                    .extend(urls.into_iter().map(|url| (url, Role::Unknown)));
            }
            Err(e) => self.error = Some(e.to_string()),
        }
        self
    }

    /// The pool settings of every node (each node has a pool of its own of this size).
    pub fn pool_options(mut self, options: PoolOptions) -> Self {
        self.options = options;
        self
    }

    /// How reads choose a replica (default [`ReadPolicy::RoundRobin`]).
    pub fn read_policy(mut self, policy: ReadPolicy) -> Self {
        self.settings.read_policy = policy;
        self
    }

    /// A replica whose replay lag (as of the last probe) exceeds `lag` gets no reads until
    /// it catches up; also a replica whose lag is unknown (replication stopped). Default:
    /// no limit.
    pub fn max_lag(mut self, lag: Duration) -> Self {
        self.settings.max_lag = Some(lag);
        self
    }

    /// How long a read in a [`Topology::read_your_writes`] scope waits for a replica to replay
    /// the scope's writes before it runs on the primary instead (default 100 ms).
    pub fn read_your_writes_wait(mut self, wait: Duration) -> Self {
        self.settings.read_your_writes_wait = wait;
        self
    }

    /// How often every node is probed (role, position, lag, latency; default 1 s).
    pub fn probe_interval(mut self, interval: Duration) -> Self {
        self.settings.probe_interval = interval;
        self
    }

    /// How long a probe may take before the node counts as down (default 2 s).
    pub fn probe_timeout(mut self, timeout: Duration) -> Self {
        self.settings.probe_timeout = timeout;
        self
    }

    /// When a node's circuit breaker opens and for how long.
    pub fn breaker(mut self, config: BreakerConfig) -> Self {
        self.settings.breaker = config;
        self
    }

    /// How often a read whose node failed runs again on another (default 3 attempts, backoff
    /// from 10 ms to 200 ms with jitter).
    pub fn read_retry(mut self, policy: RetryPolicy) -> Self {
        self.settings.read_retry = policy;
        self
    }

    /// How long an [`idempotent`](Topology::idempotent) write keeps trying while the primary
    /// is being looked for (default 30 s).
    pub fn failover_timeout(mut self, timeout: Duration) -> Self {
        self.settings.failover_timeout = timeout;
        self
    }

    /// The primary and replicas of an `orm.toml` (`[database]` with its pool, TLS and
    /// credentials; `[topology] replicas`, which share them).
    #[cfg(feature = "config")]
    pub fn from_config(file: &crate::config::file::ConfigFile) -> Result<TopologyBuilder> {
        let options = file.database.pool_options()?;
        let mut builder = Db::topology().pool_options(options);
        if file.database.url.is_empty() {
            return Err(Error::Config(format!(
                "{} sets no `[database] url`; the topology's primary is that URL",
                file.path.display()
            )));
        }
        builder = if file.database.url.contains(',') {
            builder.url(&file.database.url)
        } else {
            builder.primary(file.database.url.clone())
        };
        for replica in &file.topology.replicas {
            builder = builder.replica(replica.clone());
        }
        Ok(builder)
    }

    /// Connects to every node, finds the primary, and starts the background probe.
    ///
    /// Fails when no node is the primary ([`Error::NodeUnavailable`]); a replica that cannot
    /// be reached now is connected by a later probe.
    pub async fn connect(self) -> Result<Topology> {
        if let Some(error) = self.error {
            return Err(Error::Config(error));
        }
        let Some((first, _)) = self.nodes.first() else {
            return Err(Error::Config(
                "a topology needs at least one node: call `.primary(url)` (and `.replica(url)`) \
                 or `.url(\"postgres://h1,h2/app\")`"
                    .to_owned(),
            ));
        };
        let dialect = match first.split(':').next().unwrap_or_default() {
            "postgres" | "postgresql" => Dialect::Postgres,
            "mysql" | "mariadb" => Dialect::MySql,
            other => {
                return Err(Error::Config(format!(
                    "a topology's nodes are PostgreSQL or MySQL/MariaDB servers, not `{other}:`"
                )));
            }
        };
        let nodes: Vec<Node> = self
            .nodes
            .into_iter()
            .map(|(url, role)| {
                Node::new(
                    url,
                    dialect,
                    self.options.clone(),
                    role,
                    self.settings.breaker,
                )
            })
            .collect();
        let declared = nodes.iter().position(|n| n.role() == Role::Primary);
        let inner = Arc::new(Inner {
            nodes,
            primary: AtomicUsize::new(declared.unwrap_or(NO_PRIMARY)),
            backend: Backend::Sql(dialect),
            settings: self.settings,
            next: AtomicUsize::new(0),
            rediscovery: tokio::sync::Mutex::new(None),
            failovers: AtomicU64::new(0),
            monitor: Mutex::new(None),
        });
        let topology = Topology::from_inner(inner);
        topology.refresh().await;
        let found = topology.inner.primary.load(Ordering::Acquire);
        if found == NO_PRIMARY || topology.inner.nodes[found].role() != Role::Primary {
            topology.rediscover(found).await?;
        }
        topology.start_monitor();
        Ok(topology)
    }
}

/// A primary and its read replicas, used like a [`Db`]; see the [module docs](self). Cheap
/// to clone and share.
#[derive(Clone)]
pub struct Topology {
    inner: Arc<Inner>,
    /// `on_primary`: every statement on the primary.
    force_primary: bool,
    /// `idempotent`: writes may run again after a failover.
    idempotent: bool,
}

impl std::fmt::Debug for Topology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Topology")
            .field(
                "nodes",
                &self.inner.nodes.iter().map(|n| &n.name).collect::<Vec<_>>(),
            )
            .field("primary", &self.primary_name())
            .field("force_primary", &self.force_primary)
            .field("idempotent", &self.idempotent)
            .finish()
    }
}

struct Inner {
    nodes: Vec<Node>,
    primary: AtomicUsize,
    backend: Backend,
    settings: Settings,
    /// Round-robin counter.
    next: AtomicUsize,
    /// One primary search at a time; when the last one ended and whether it found one.
    rediscovery: tokio::sync::Mutex<Option<(Instant, bool)>>,
    failovers: AtomicU64,
    monitor: Mutex<Option<tokio::task::AbortHandle>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(handle) = self
            .monitor
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            handle.abort();
        }
    }
}

/// Unwraps an outcome of the op kind that was run.
fn expect<T, V>(outcome: Result<Outcome<T>>, pick: fn(Outcome<T>) -> Option<V>) -> Result<V> {
    pick(outcome?).ok_or_else(|| {
        Error::InvalidQuery("internal error: an operation returned another kind of outcome".into())
    })
}

/// A copy of a read op, for running it again on another node.
fn copy_read<T>(op: &Op<T>) -> Option<Op<T>> {
    match op {
        Op::FetchAll(query, decode) => Some(Op::FetchAll(query.clone(), *decode)),
        Op::FetchOptional(query, decode) => Some(Op::FetchOptional(query.clone(), *decode)),
        Op::Count(query) => Some(Op::Count(query.clone())),
        _ => None,
    }
}

/// A copy of any op (for idempotent writes).
fn copy_op<T>(op: &Op<T>) -> Op<T> {
    match op {
        Op::InsertReturning(query, decode) => Op::InsertReturning(query.clone(), *decode),
        Op::Execute(statement) => Op::Execute(statement.clone()),
        Op::ExecuteRaw(sql) => Op::ExecuteRaw(sql.clone()),
        Op::FetchCompiled(statement, decode) => Op::FetchCompiled(statement.clone(), *decode),
        Op::ExecuteCompiled(statement) => Op::ExecuteCompiled(statement.clone()),
        read => copy_read(read).expect("every other op is a read"),
    }
}

fn unavailable(node: &str, role: &'static str, source: Error) -> Error {
    Error::NodeUnavailable {
        node: node.to_owned(),
        role,
        source: Box::new(source),
    }
}

impl Topology {
    fn from_inner(inner: Arc<Inner>) -> Topology {
        Topology {
            inner,
            force_primary: false,
            idempotent: false,
        }
    }

    /// This topology's identity, for task-local tokens.
    #[inline]
    fn id(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }

    /// A handle whose statements all run on the primary: `User::find(&db.on_primary(), id)`.
    pub fn on_primary(&self) -> Topology {
        Topology {
            force_primary: true,
            ..self.clone()
        }
    }

    /// A handle whose writes may run more than once: when the primary cannot be reached or
    /// was demoted, a write through it waits for the new primary (up to
    /// [`TopologyBuilder::failover_timeout`]) and runs there, also after a lost connection
    /// (when it may have been applied already). Use it only for writes that mean the same
    /// when repeated (upserts, `SET x = 5`).
    pub fn idempotent(&self) -> Topology {
        Topology {
            idempotent: true,
            ..self.clone()
        }
    }

    /// Runs `future` with every statement of this task on the primary (nested scopes keep
    /// the outer read-your-writes token).
    pub async fn primary_scope<F: Future>(&self, future: F) -> F::Output {
        let outer = scope::current().unwrap_or_default();
        scope::run(
            Scope {
                force_primary: true,
                token: outer.token,
            },
            future,
        )
        .await
    }

    /// Runs `future` so that its reads see its own writes: after a write (or a transaction)
    /// through this topology in the scope, a read goes to a replica only once the replica
    /// has replayed the primary's position (waiting up to
    /// [`TopologyBuilder::read_your_writes_wait`]), else to the primary.
    pub async fn read_your_writes<F: Future>(&self, future: F) -> F::Output {
        let outer = scope::current().unwrap_or_default();
        scope::run(
            Scope {
                force_primary: outer.force_primary,
                token: Some(Arc::new(Token::new(self.id()))),
            },
            future,
        )
        .await
    }

    /// The pool of the node that is the primary now.
    pub fn primary_db(&self) -> Result<Db> {
        let index = self.inner.primary.load(Ordering::Acquire);
        self.inner
            .nodes
            .get(index)
            .and_then(Node::db)
            .cloned()
            .ok_or_else(|| self.no_primary())
    }

    /// The primary's `host:port/database`, if one is known.
    pub fn primary_name(&self) -> Option<String> {
        let index = self.inner.primary.load(Ordering::Acquire);
        self.inner.nodes.get(index).map(|n| n.name.clone())
    }

    /// How many times the primary moved to another node since connecting.
    pub fn failovers(&self) -> u64 {
        self.inner.failovers.load(Ordering::Relaxed)
    }

    fn no_primary(&self) -> Error {
        unavailable(
            &self.node_list(),
            "primary",
            Error::Connection {
                source: "no node is the primary now (each is unreachable, in recovery or \
                         read-only)"
                    .into(),
            },
        )
    }

    fn node_list(&self) -> String {
        self.inner
            .nodes
            .iter()
            .map(|n| n.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Creates `M`'s table on the primary (see [`Db::create_table`]).
    pub async fn create_table<M: crate::Model>(&self) -> Result<()> {
        self.primary_db()?.create_table::<M>().await
    }

    /// Drops `M`'s table on the primary (see [`Db::drop_table`]).
    pub async fn drop_table<M: crate::Model>(&self) -> Result<()> {
        self.primary_db()?.drop_table::<M>().await
    }

    /// Closes every node's pool and stops the background probe.
    pub async fn close(&self) {
        if let Some(handle) = self
            .inner
            .monitor
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            handle.abort();
        }
        for node in &self.inner.nodes {
            if let Some(db) = node.db() {
                db.close().await;
            }
        }
    }

    // ---------------------------------------------------------------- transactions

    /// Begins a transaction on the primary (see [`Db::begin`]).
    pub async fn begin(&self) -> Result<Transaction> {
        self.begin_with(TxOptions::default()).await
    }

    /// Begins a transaction on the primary with an isolation level or read-only mode. A
    /// primary that cannot be reached or was demoted makes this look for the new one and
    /// fail with [`Error::NodeUnavailable`] (retryable).
    pub async fn begin_with(&self, options: TxOptions) -> Result<Transaction> {
        self.note_write();
        let index = self.primary_index().await?;
        let node = &self.inner.nodes[index];
        let Some(db) = node.db_for_statement() else {
            return Err(self.no_primary());
        };
        match db.begin_with(options).await {
            Err(e) => Err(self.primary_failed(index, e).await),
            Ok(tx) => {
                node.breaker.success();
                Ok(tx)
            }
        }
    }

    /// Begins a transaction on the primary whose commit waits as `durability` says
    /// (PostgreSQL `SET LOCAL synchronous_commit`; `RemoteApply` with a synchronous standby:
    /// once committed, a read on that standby sees it). MySQL/MariaDB have no per-transaction
    /// setting: [`Error::Unsupported`]-like [`Error::Config`].
    pub async fn begin_durable(
        &self,
        options: TxOptions,
        durability: Durability,
    ) -> Result<Transaction> {
        if self.inner.backend != Dialect::Postgres {
            return Err(Error::Config(format!(
                "{} has no per-transaction synchronous commit (semi-synchronous replication is \
                 a server setting there); use `begin_with`",
                self.inner.backend
            )));
        }
        let tx = self.begin_with(options).await?;
        tx.execute_raw(&format!(
            "SET LOCAL synchronous_commit = '{}'",
            durability.setting()
        ))
        .await?;
        Ok(tx)
    }

    /// Runs `body` in a transaction on the primary: commits on `Ok`, rolls back on `Err`.
    pub async fn transaction<T, E, F, Fut>(&self, body: F) -> std::result::Result<T, E>
    where
        F: FnOnce(Transaction) -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
        E: From<Error>,
    {
        self.begin().await?.run(body).await
    }

    /// [`Db::transaction_with_retry`] across failovers: a transaction that failed with a
    /// retryable error ([`Error::is_retryable`], [`Error::NodeUnavailable`] included) or lost
    /// its connection before `COMMIT` runs again, on the primary of the moment.
    pub async fn transaction_with_retry<T, F, Fut>(
        &self,
        options: TxOptions,
        policy: RetryPolicy,
        mut body: F,
    ) -> Result<T>
    where
        F: FnMut(Transaction) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut attempt = 1;
        loop {
            let outcome = match self.begin_with(options).await {
                Ok(tx) => tx.run(&mut body).await,
                Err(e) => Err(e),
            };
            match outcome {
                Err(e) if super::pool::reruns_transaction(&e) => {
                    if attempt >= policy.max_attempts.max(1) {
                        return Err(Error::RetriesExhausted {
                            attempts: attempt,
                            last: Box::new(e),
                        });
                    }
                    if matches!(e, Error::ConnectionLost { .. }) {
                        let index = self.inner.primary.load(Ordering::Acquire);
                        let _search = self.rediscover(index).await;
                    }
                    tokio::time::sleep(policy.backoff(attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    // ---------------------------------------------------------------- routing

    /// Records a write for the task's read-your-writes scope.
    #[inline]
    fn note_write(&self) {
        if let (_, Some(token)) = scope::lookup(self.id()) {
            token.mark_dirty();
        }
    }

    /// Runs a write, a locking read or raw SQL on the primary.
    async fn write<T: Send + 'static>(&self, op: Op<T>) -> Result<Outcome<T>> {
        if op.is_write() {
            self.note_write();
        }
        self.on_primary_run(op).await
    }

    /// Whether replica `index` may take a read now (role, pool, breaker, lag).
    #[inline]
    fn in_rotation(&self, index: usize, primary: usize) -> bool {
        let node = &self.inner.nodes[index];
        index != primary
            && node.role() == Role::Replica
            && node.db().is_some()
            && node.breaker.would_allow()
            && match self.inner.settings.max_lag {
                None => true,
                Some(max) => {
                    let lag = node.lag_micros();
                    lag != UNMEASURED && u128::from(lag) <= max.as_micros()
                }
            }
    }

    /// A replica for the next read, skipping those in `tried` (a bit per node).
    fn pick_replica(&self, tried: u64) -> Option<usize> {
        let nodes = &self.inner.nodes;
        let primary = self.inner.primary.load(Ordering::Relaxed);
        let usable = |i: usize| (i >= 64 || tried & (1 << i) == 0) && self.in_rotation(i, primary);
        match self.inner.settings.read_policy {
            ReadPolicy::RoundRobin => {
                // The n-th usable replica, n counting up: an even share for each.
                let usable_count = (0..nodes.len()).filter(|&i| usable(i)).count();
                if usable_count == 0 {
                    return None;
                }
                let turn = self.inner.next.fetch_add(1, Ordering::Relaxed) % usable_count;
                (0..nodes.len()).filter(|&i| usable(i)).nth(turn)
            }
            ReadPolicy::LeastLatency => (0..nodes.len())
                .filter(|&i| usable(i))
                .min_by_key(|&i| nodes[i].latency_micros()),
        }
    }

    /// Where the next read runs: `Some(replica)` or `None` for the primary.
    async fn read_target(&self, tried: u64) -> Option<usize> {
        match self.quick_read_target(tried) {
            Ok(target) => target,
            Err(token) => self.replayed_target(tried, &token).await,
        }
    }

    /// [`Self::read_target`] without waiting: `Err(token)` when the task's read-your-writes
    /// scope has a token (which may need the primary's position, or a replica's).
    #[inline]
    fn quick_read_target(&self, tried: u64) -> std::result::Result<Option<usize>, Arc<Token>> {
        let (force, token) = scope::lookup(self.id());
        if self.force_primary || force {
            return Ok(None);
        }
        match token {
            None => Ok(self.pick_replica(tried)),
            Some(token) => Err(token),
        }
    }

    /// A replica that has replayed the writes of `token`'s scope, or `None` (the primary).
    async fn replayed_target(&self, tried: u64, token: &Token) -> Option<usize> {
        if token.take_dirty() {
            match self.primary_position().await {
                Ok(position) => token.merge(position),
                Err(_) => {
                    // Not known what to wait for: the primary has every write.
                    token.mark_dirty();
                    return None;
                }
            }
        }
        let Some(needed) = token.needed() else {
            return self.pick_replica(tried);
        };
        let replica = self.pick_replica(tried)?;
        self.has_replayed(replica, &needed).await.then_some(replica)
    }

    /// The primary's position now (PostgreSQL `pg_current_wal_insert_lsn()`, MariaDB
    /// `@@gtid_binlog_pos`).
    async fn primary_position(&self) -> Result<Position> {
        let db = self.primary_db()?;
        if self.inner.backend == Dialect::Postgres {
            let (lsn,): (String,) = raw("SELECT pg_current_wal_insert_lsn()::text")
                .fetch_one(&db)
                .await?;
            Position::parse_lsn(&lsn).ok_or_else(|| {
                Error::InvalidQuery(format!("unexpected WAL position `{lsn}` from the primary"))
            })
        } else {
            let (gtid,): (String,) = raw("SELECT @@gtid_binlog_pos").fetch_one(&db).await?;
            Ok(Position::Gtid(gtid))
        }
    }

    /// Whether replica `index` has replayed `needed`, waiting for it up to the
    /// read-your-writes bound.
    async fn has_replayed(&self, index: usize, needed: &Position) -> bool {
        let node = &self.inner.nodes[index];
        if node.position().is_some_and(|at| at.has_reached(needed)) {
            return true;
        }
        let Some(db) = node.db() else {
            return false;
        };
        let wait = self.inner.settings.read_your_writes_wait;
        match needed {
            Position::Lsn(_) => {
                let deadline = Instant::now() + wait;
                loop {
                    let replayed: Result<(Option<String>,)> =
                        raw("SELECT pg_last_wal_replay_lsn()::text")
                            .fetch_one(db)
                            .await;
                    let Ok((Some(replayed),)) = replayed else {
                        return false;
                    };
                    let Some(at) = Position::parse_lsn(&replayed) else {
                        return false;
                    };
                    let reached = at.has_reached(needed);
                    node.set_position(Some(at));
                    if reached {
                        return true;
                    }
                    if Instant::now() >= deadline {
                        return false;
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
            Position::Gtid(gtid) => {
                // 0: reached; -1: timed out. NULL: not a replica.
                let waited: Result<(Option<i64>,)> = raw("SELECT MASTER_GTID_WAIT(?, ?)")
                    .bind(gtid.clone())
                    .bind(wait.as_secs_f64())
                    .fetch_one(db)
                    .await;
                matches!(waited, Ok((Some(0),)))
            }
        }
    }

    /// Runs a read (`run`, given the node's pool) on a replica or the primary, again on
    /// another node when its node failed (`run` borrows the query, so a retry costs nothing
    /// until it happens).
    ///
    /// One await holds the statement's future: the node is chosen without waiting unless a
    /// read-your-writes scope or a primary search needs to (those, and the backoff, are boxed),
    /// so this future is hardly larger than the statement's own and routing costs a read
    /// little more than a plain [`Db`].
    async fn read<'s, R, F, Fut>(&'s self, run: F) -> Result<R>
    where
        F: Fn(&'s Db) -> Fut,
        Fut: Future<Output = Result<R>>,
    {
        let policy = self.inner.settings.read_retry;
        let attempts = policy.max_attempts.max(1);
        let mut tried = 0u64;
        let mut attempt = 1;
        loop {
            let target = match self.quick_read_target(tried) {
                Ok(target) => target,
                Err(token) => Box::pin(self.replayed_target(tried, &token)).await,
            };
            // The node that runs it: the replica, or the primary (also for a replica whose
            // breaker or pool turned it away).
            let replica = target.filter(|&index| {
                let node = &self.inner.nodes[index];
                node.breaker.allow() && node.db().is_some()
            });
            let outcome = match replica {
                Some(index) => {
                    let node = &self.inner.nodes[index];
                    let db = node.db_for_statement().expect("checked above");
                    let outcome = if self.inner.settings.read_policy == ReadPolicy::LeastLatency {
                        let started = Instant::now();
                        let outcome = run(db).await;
                        node.record_latency(started.elapsed());
                        outcome
                    } else {
                        run(db).await
                    };
                    match &outcome {
                        Err(e) if failure::node_failed(e) => {
                            node.breaker.failure();
                            node.set_role(Role::Unknown);
                        }
                        _ => node.breaker.success(),
                    }
                    outcome
                }
                None if target.is_none()
                    && self.inner.settings.attrs == SessionAttrs::StandbyOnly
                    && !self.force_primary =>
                {
                    Err(unavailable(
                        &self.node_list(),
                        "replica",
                        Error::Connection {
                            source: "no replica is in rotation and target_session_attrs \
                                     forbids reading from the primary"
                                .into(),
                        },
                    ))
                }
                None => match self.primary_db_for_read().await {
                    Err(e) => Err(e),
                    Ok((index, db)) => match run(db).await {
                        Err(e) if failure::node_failed(&e) => {
                            self.inner.nodes[index].breaker.failure();
                            self.search_in_background(index);
                            Err(e)
                        }
                        outcome => outcome,
                    },
                },
            };
            match outcome {
                Err(e) if attempt < attempts && failure::node_failed(&e) => {
                    if let Some(index) = target.filter(|&i| i < 64) {
                        tried |= 1 << index;
                    }
                    Box::pin(tokio::time::sleep(policy.backoff(attempt))).await;
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }

    /// The primary's index and pool for a read (a statement counted on it).
    async fn primary_db_for_read(&self) -> Result<(usize, &Db)> {
        let index = self.primary_index().await?;
        match self.inner.nodes[index].db_for_statement() {
            Some(db) => Ok((index, db)),
            None => Err(self.no_primary()),
        }
    }

    /// The primary's index, searching for one when none is known.
    async fn primary_index(&self) -> Result<usize> {
        let index = self.inner.primary.load(Ordering::Acquire);
        if index != NO_PRIMARY {
            return Ok(index);
        }
        // Boxed: the search's future (probes of every node) stays out of every statement's.
        Box::pin(self.rediscover(NO_PRIMARY)).await
    }

    /// Runs `op` on the primary; an idempotent handle runs it again on the new primary after
    /// a failover.
    async fn on_primary_run<T: Send + 'static>(&self, mut op: Op<T>) -> Result<Outcome<T>> {
        if !self.idempotent {
            return self.primary_once(op).await;
        }
        let deadline = Instant::now() + self.inner.settings.failover_timeout;
        let mut attempt = 1;
        let policy = RetryPolicy {
            max_attempts: u32::MAX,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(500),
        };
        loop {
            let spare = copy_op(&op);
            match self.primary_once(op).await {
                Err(e)
                    if (failure::node_failed(&e) || matches!(e, Error::Timeout { .. }))
                        && Instant::now() < deadline =>
                {
                    tokio::time::sleep(policy.backoff(attempt)).await;
                    attempt += 1;
                    op = spare;
                }
                outcome => return outcome,
            }
        }
    }

    async fn primary_once<T: Send + 'static>(&self, op: Op<T>) -> Result<Outcome<T>> {
        let index = self.primary_index().await?;
        let node = &self.inner.nodes[index];
        let Some(db) = node.db() else {
            return Err(self.no_primary());
        };
        if !node.breaker.allow() {
            let found = self.rediscover(index).await?;
            if found == index {
                return Err(unavailable(
                    &node.name,
                    "primary",
                    Error::Connection {
                        source: "its circuit breaker is open after repeated failures".into(),
                    },
                ));
            }
            return Box::pin(self.primary_once(op)).await;
        }
        node.statements.fetch_add(1, Ordering::Relaxed);
        match op.run(db).await {
            Err(e) => Err(self.primary_failed(index, e).await),
            Ok(outcome) => {
                node.breaker.success();
                Ok(outcome)
            }
        }
    }

    /// What a statement's failure on the primary `index` becomes: a failure that says the
    /// node is gone or demoted starts the search for the new primary; one that left the
    /// statement unapplied is [`Error::NodeUnavailable`].
    async fn primary_failed(&self, index: usize, error: Error) -> Error {
        if !failure::node_failed(&error) {
            return error;
        }
        let node = &self.inner.nodes[index];
        node.breaker.failure();
        if failure::not_applied(&error) {
            // Looked for now: the caller's next attempt goes to the new primary.
            let _search = self.rediscover(index).await;
            unavailable(&node.name, "primary", error)
        } else {
            self.search_in_background(index);
            error
        }
    }

    fn search_in_background(&self, failed: usize) {
        let this = Topology::from_inner(self.inner.clone());
        tokio::spawn(async move {
            let _search = this.rediscover(failed).await;
        });
    }

    /// Looks for the primary among all nodes after `failed` (an index, or [`NO_PRIMARY`])
    /// failed as one; one search at a time, at most one every 50 ms when none is found.
    async fn rediscover(&self, failed: usize) -> Result<usize> {
        let mut last = self.inner.rediscovery.lock().await;
        let current = self.inner.primary.load(Ordering::Acquire);
        if current != NO_PRIMARY
            && current != failed
            && self.inner.nodes[current].role() == Role::Primary
        {
            return Ok(current);
        }
        if let Some((at, false)) = *last
            && at.elapsed() < Duration::from_millis(50)
        {
            return Err(self.no_primary());
        }
        self.probe_all().await;
        let nodes = &self.inner.nodes;
        let primaries: Vec<usize> = (0..nodes.len())
            .filter(|&i| nodes[i].role() == Role::Primary && nodes[i].db().is_some())
            .collect();
        let found = primaries
            .iter()
            .copied()
            .find(|&i| i != failed)
            .or_else(|| primaries.first().copied());
        *last = Some((Instant::now(), found.is_some()));
        match found {
            Some(index) => {
                if index != current {
                    self.inner.primary.store(index, Ordering::Release);
                    if current != NO_PRIMARY {
                        self.inner.failovers.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Ok(index)
            }
            None => Err(self.no_primary()),
        }
    }

    /// Probes every node at once, then computes each replica's lag in bytes behind the
    /// primary.
    async fn probe_all(&self) {
        let timeout = self.inner.settings.probe_timeout;
        let probes =
            futures_util::future::join_all(self.inner.nodes.iter().map(|node| node.probe(timeout)))
                .await;
        let primary_position = probes.iter().find_map(|p| match p {
            Ok(p) if p.role == Role::Primary => p.position.clone(),
            _ => None,
        });
        for (node, probe) in self.inner.nodes.iter().zip(&probes) {
            let bytes = match (probe, &primary_position) {
                (Ok(p), Some(primary)) if p.role == Role::Replica => {
                    p.position.as_ref().and_then(|at| at.bytes_to(primary))
                }
                (Ok(p), _) if p.role == Role::Primary => Some(0),
                _ => None,
            };
            node.set_lag_bytes(bytes);
        }
    }

    /// One round of the background probe: every node, and a search for the primary when the
    /// one in use is gone or demoted.
    async fn refresh(&self) {
        self.probe_all().await;
        let current = self.inner.primary.load(Ordering::Acquire);
        let lost = current == NO_PRIMARY || self.inner.nodes[current].role() != Role::Primary;
        if lost {
            let _search = self.rediscover(current).await;
        }
    }

    fn start_monitor(&self) {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let interval = self.inner.settings.probe_interval;
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(inner) = weak.upgrade() else {
                    return;
                };
                Topology::from_inner(inner).refresh().await;
            }
        });
        *self.inner.monitor.lock().unwrap_or_else(|e| e.into_inner()) = Some(task.abort_handle());
    }
}

impl Executor for Topology {
    fn backend(&self) -> Backend {
        self.inner.backend
    }

    async fn fetch_all<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> Result<Vec<T>> {
        if query.lock.is_some() {
            // Boxed: a write's future (every op, failover) stays out of the reads'.
            let outcome = Box::pin(self.write(Op::FetchAll(query, decode))).await;
            return expect(outcome, |o| match o {
                Outcome::Rows(rows) => Some(rows),
                _ => None,
            });
        }
        self.read(|db| fetch_all_ref(db, &query, decode)).await
    }

    async fn fetch_optional<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> Result<Option<T>> {
        if query.lock.is_some() {
            // Boxed: a write's future (every op, failover) stays out of the reads'.
            let outcome = Box::pin(self.write(Op::FetchOptional(query, decode))).await;
            return expect(outcome, |o| match o {
                Outcome::Row(row) => Some(row),
                _ => None,
            });
        }
        self.read(|db| fetch_optional_ref(db, &query, decode)).await
    }

    fn fetch_stream<T: Send + 'static>(
        &self,
        query: SelectQuery,
        decode: Decoder<T>,
    ) -> RowStream<'_, T> {
        Box::pin(async_stream::try_stream! {
            let target = if query.lock.is_some() { None } else { self.read_target(0).await };
            let db = match target.and_then(|i| self.inner.nodes[i].db()) {
                Some(db) => db.clone(),
                None => self.primary_db()?,
            };
            let mut rows = db.fetch_stream(query, decode);
            while let Some(row) = super::stream::next(&mut rows).await {
                yield row?;
            }
        })
    }

    async fn count(&self, mut query: SelectQuery) -> Result<u64> {
        query.projection = crate::query::ir::Projection::Count;
        let n = self
            .read(|db| fetch_optional_ref(db, &query, decode_count))
            .await?;
        Ok(n.unwrap_or(0))
    }

    async fn insert_returning<T: Send + 'static>(
        &self,
        query: InsertQuery,
        decode: Decoder<T>,
    ) -> Result<T> {
        let outcome = self.write(Op::InsertReturning(query, decode)).await;
        expect(outcome, |o| match o {
            Outcome::Inserted(row) => Some(row),
            _ => None,
        })
    }

    async fn execute(&self, statement: Statement) -> Result<ExecResult> {
        let outcome = self.write(Op::<()>::Execute(statement)).await;
        expect(outcome, done)
    }

    async fn execute_raw(&self, sql: &str) -> Result<ExecResult> {
        let outcome = self.write(Op::<()>::ExecuteRaw(sql.to_owned())).await;
        expect(outcome, done)
    }

    async fn fetch_compiled<T: Send + 'static>(
        &self,
        statement: Compiled,
        decode: Decoder<T>,
    ) -> Result<Vec<T>> {
        let outcome = self.write(Op::FetchCompiled(statement, decode)).await;
        expect(outcome, |o| match o {
            Outcome::Rows(rows) => Some(rows),
            _ => None,
        })
    }

    async fn execute_compiled(&self, statement: Compiled) -> Result<ExecResult> {
        let outcome = self.write(Op::<()>::ExecuteCompiled(statement)).await;
        expect(outcome, done)
    }
}

fn done<T>(outcome: Outcome<T>) -> Option<ExecResult> {
    match outcome {
        Outcome::Done(result) => Some(result),
        _ => None,
    }
}

impl Begin for Topology {
    type Tx = Transaction;

    async fn begin(&self) -> Result<Transaction> {
        Topology::begin(self).await
    }
}
