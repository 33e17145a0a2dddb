//! The cache against the real Redis (127.0.0.1:6379), SQLite and PostgreSQL.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::cluster::Cluster;
use common::{Counting, REDIS_URL, Server, prefix};
use polyorm::cache::{Cache, CacheBuilder, CacheExt, CachedDb, OutagePolicy, StaticKeys};
use polyorm::prelude::*;

/// A row of the tests' table.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "accounts")]
pub struct Account {
    #[orm(primary_key)]
    id: i64,
    name: String,
    balance: i64,
}

/// A row of a second table, read by subqueries of `Account` queries.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "payments")]
pub struct Payment {
    #[orm(primary_key)]
    id: i64,
    account_id: i64,
}

const MINUTE: Duration = Duration::from_secs(60);

fn account(id: i64, name: &str, balance: i64) -> Account {
    Account {
        id,
        name: name.to_owned(),
        balance,
    }
}

fn cache(test: &str) -> Cache {
    cache_at(&prefix(test))
}

/// A cache on the shared Redis under `prefix`, default settings.
fn cache_at(prefix: &str) -> Cache {
    Cache::builder()
        .redis_url(REDIS_URL)
        .prefix(prefix)
        .build()
        .expect("valid settings")
}

/// An in-memory SQLite database with a few accounts, behind a counting executor.
async fn sqlite_accounts(delay: Duration) -> Counting {
    let db = common::sqlite().await;
    db.create_table::<Account>().await.unwrap();
    Account::insert_many(&db, &[account(1, "ada", 10), account(2, "bob", 20)])
        .await
        .unwrap();
    Counting::new(db, delay)
}

#[tokio::test]
async fn a_second_read_is_a_local_hit_without_a_query() {
    let counting = sqlite_accounts(Duration::ZERO).await;
    let cache = cache("local_hit");
    let db = cache.wrap(counting.clone());
    let query = || {
        Account::query()
            .filter(Account::BALANCE.gt(5))
            .order_by(Account::ID.asc())
    };
    let first = query().cached(MINUTE).all(&db).await.unwrap();
    let second = query().cached(MINUTE).all(&db).await.unwrap();
    assert_eq!(first, vec![account(1, "ada", 10), account(2, "bob", 20)]);
    assert_eq!(second, first);
    assert_eq!(counting.reads(), 1);
    let stats = cache.stats();
    assert_eq!((stats.misses, stats.hits_local, stats.loads), (1, 1, 1));
    // A different bound value is a different key.
    query()
        .filter(Account::BALANCE.gt(15))
        .cached(MINUTE)
        .all(&db)
        .await
        .unwrap();
    assert_eq!(counting.reads(), 2);
}

/// The `accounts` table read through a model of fewer columns.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "accounts")]
pub struct AccountName {
    #[orm(primary_key)]
    id: i64,
    name: String,
}

/// A table with a floating-point column.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "readings")]
pub struct Reading {
    #[orm(primary_key)]
    id: i64,
    value: f64,
}

/// Keys come from the select's IR (no SQL is compiled on a hit): values the IR's `==` calls
/// equal but that bind differently, and two models of one table, still get their own entries.
#[tokio::test]
async fn keys_tell_apart_equal_comparing_values_and_models_of_one_table() {
    let counting = sqlite_accounts(Duration::ZERO).await;
    counting.db.create_table::<Reading>().await.unwrap();
    let reading = Reading { id: 1, value: 1.5 };
    reading.insert(&counting.db).await.unwrap();
    let cache = cache("strict_keys");
    let db = cache.wrap(counting.clone());
    for (bound, reads) in [(0.0_f64, 1), (-0.0, 2), (0.0, 2), (-0.0, 2)] {
        let above = Reading::query()
            .filter(Reading::VALUE.gt(bound))
            .cached(MINUTE)
            .all(&db);
        assert_eq!(above.await.unwrap(), vec![reading.clone()]);
        assert_eq!(counting.reads(), reads, "after {bound:?}");
    }
    let whole = Account::query()
        .filter(Account::ID.eq(1))
        .cached(MINUTE)
        .all(&db);
    assert_eq!(whole.await.unwrap(), vec![account(1, "ada", 10)]);
    let narrow = AccountName::query()
        .filter(AccountName::ID.eq(1))
        .cached(MINUTE)
        .all(&db);
    let expected = AccountName {
        id: 1,
        name: "ada".to_owned(),
    };
    assert_eq!(narrow.await.unwrap(), vec![expected]);
    assert_eq!(counting.reads(), 4, "each model read once");
    let stats = cache.stats();
    assert_eq!(
        stats.errors, 0,
        "no entry decoded by the other model: {stats:?}"
    );
}

#[tokio::test]
async fn uncached_reads_always_query_and_count_optional_exists_are_cached_separately() {
    let counting = sqlite_accounts(Duration::ZERO).await;
    let cache = cache("kinds");
    let db = cache.wrap(counting.clone());
    Account::query().all(&db).await.unwrap();
    Account::query().all(&db).await.unwrap();
    assert_eq!(counting.reads(), 2, "no TTL, no caching");
    for _ in 0..2 {
        assert_eq!(Account::query().cached(MINUTE).count(&db).await.unwrap(), 2);
        let bob = Account::query()
            .filter(Account::NAME.eq("bob"))
            .cached(MINUTE)
            .optional(&db);
        assert_eq!(bob.await.unwrap(), Some(account(2, "bob", 20)));
        let nobody = Account::query()
            .filter(Account::NAME.eq("eve"))
            .cached(MINUTE);
        assert!(!nobody.exists(&db).await.unwrap());
    }
    assert_eq!(counting.reads(), 5, "three cached reads, each run once");
}

#[tokio::test]
async fn an_entry_expires_after_its_ttl_in_both_tiers() {
    let counting = sqlite_accounts(Duration::ZERO).await;
    let cache = cache("ttl");
    let db = cache.wrap(counting.clone());
    let ttl = Duration::from_millis(300);
    Account::query().cached(ttl).all(&db).await.unwrap();
    Account::query().cached(ttl).all(&db).await.unwrap();
    assert_eq!(counting.reads(), 1);
    tokio::time::sleep(Duration::from_millis(450)).await;
    Account::query().cached(ttl).all(&db).await.unwrap();
    assert_eq!(counting.reads(), 2, "expired locally and in Redis");
    assert_eq!(cache.stats().hits_redis, 0);
}

#[tokio::test]
async fn a_model_default_ttl_caches_plain_queries() {
    let counting = sqlite_accounts(Duration::ZERO).await;
    let cache = Cache::builder()
        .redis_url(REDIS_URL)
        .prefix(prefix("model_ttl"))
        .model_ttl::<Account>(MINUTE)
        .build()
        .unwrap();
    let db = cache.wrap(counting.clone());
    for _ in 0..3 {
        assert_eq!(
            Account::find(&db, 1).await.unwrap(),
            Some(account(1, "ada", 10))
        );
    }
    assert_eq!(counting.reads(), 1);
}

#[tokio::test]
async fn every_kind_of_write_invalidates_its_table() {
    let counting = sqlite_accounts(Duration::ZERO).await;
    let cache = cache("writes");
    let db = cache.wrap(counting.clone());
    let names = || async {
        let all = Account::query()
            .order_by(Account::ID.asc())
            .cached(MINUTE)
            .all(&db);
        all.await
            .unwrap()
            .into_iter()
            .map(|a| a.name)
            .collect::<Vec<_>>()
    };
    assert_eq!(names().await, ["ada", "bob"]);
    account(3, "cy", 0).insert(&db).await.unwrap();
    assert_eq!(names().await, ["ada", "bob", "cy"]);
    Account::update_many()
        .set(Account::NAME, "ADA")
        .filter(Account::ID.eq(1))
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(names().await, ["ADA", "bob", "cy"]);
    Account::delete_by_key(&db, 3).await.unwrap();
    assert_eq!(names().await, ["ADA", "bob"]);
    Account::upsert_many(
        &db,
        &[account(2, "bo", 1)],
        OnConflict::on(Account::ID).update(Account::NAME),
    )
    .await
    .unwrap();
    assert_eq!(names().await, ["ADA", "bo"]);
    db.execute_raw_for("UPDATE accounts SET name = 'raw'", &["accounts"])
        .await
        .unwrap();
    assert_eq!(names().await, ["raw", "raw"]);
    db.execute_raw("UPDATE accounts SET name = 'undeclared'")
        .await
        .unwrap();
    assert_eq!(
        names().await,
        ["undeclared", "undeclared"],
        "raw SQL without tables invalidates all"
    );
    assert_eq!(counting.reads(), 7);
}

#[tokio::test]
async fn a_write_to_a_table_read_by_a_subquery_invalidates_the_entry() {
    let db = common::sqlite().await;
    db.create_table::<Account>().await.unwrap();
    db.create_table::<Payment>().await.unwrap();
    Account::insert_many(&db, &[account(1, "ada", 10), account(2, "bob", 20)])
        .await
        .unwrap();
    let cache = cache("subquery");
    let db = cache.wrap(Counting::new(db, Duration::ZERO));
    let payers = || async {
        let ids = Payment::query().select_column(Payment::ACCOUNT_ID);
        let all = Account::query()
            .filter(Account::ID.in_subquery(ids))
            .cached(MINUTE)
            .all(&db);
        all.await
            .unwrap()
            .into_iter()
            .map(|a| a.name)
            .collect::<Vec<_>>()
    };
    assert!(payers().await.is_empty());
    Payment {
        id: 1,
        account_id: 2,
    }
    .insert(&db)
    .await
    .unwrap();
    assert_eq!(payers().await, ["bob"], "the entry read `payments` too");
}

#[tokio::test]
async fn explicit_invalidation_by_table_and_by_tag() {
    let counting = sqlite_accounts(Duration::ZERO).await;
    let cache = cache("explicit");
    let db = cache.wrap(counting.clone());
    let tagged = || Account::query().cached(MINUTE).tag("dashboard").all(&db);
    tagged().await.unwrap();
    tagged().await.unwrap();
    assert_eq!(counting.reads(), 1);
    cache.invalidate_tag("other").await;
    tagged().await.unwrap();
    assert_eq!(counting.reads(), 1, "another tag leaves it alone");
    cache.invalidate_tag("dashboard").await;
    tagged().await.unwrap();
    assert_eq!(counting.reads(), 2);
    cache.invalidate_model::<Account>().await;
    tagged().await.unwrap();
    assert_eq!(counting.reads(), 3);
    cache.invalidate_all().await;
    tagged().await.unwrap();
    assert_eq!(counting.reads(), 4);
}

#[tokio::test]
async fn one_hundred_concurrent_misses_on_a_cold_key_run_one_query() {
    // Each query takes 200 ms, so all 100 readers arrive while the first one loads.
    let counting = sqlite_accounts(Duration::from_millis(200)).await;
    // A Redis call that times out on a busy machine would make its reader load alone.
    let cache = Cache::builder()
        .redis_url(REDIS_URL)
        .prefix(prefix("stampede"))
        .redis_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let db = Arc::new(cache.wrap(counting.clone()));
    let readers: Vec<_> = (0..100)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move {
                Account::query()
                    .order_by(Account::ID.asc())
                    .cached(MINUTE)
                    .all(&*db)
                    .await
            })
        })
        .collect();
    for reader in readers {
        assert_eq!(reader.await.unwrap().unwrap().len(), 2);
    }
    assert_eq!(counting.reads(), 1);
    assert_eq!(cache.stats().loads, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_hundred_misses_from_two_processes_run_one_query_through_redis() {
    misses_across_processes_share_one_load(|b| b.redis_url(REDIS_URL)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_hundred_misses_from_two_processes_run_one_query_through_memcached() {
    let server = Server::memcached(None).await;
    misses_across_processes_share_one_load(|b| b.memcached(server.url())).await;
}

/// One "process" of the cross-process tests: its own cache under `prefix` on the shared tier
/// that `shared` sets, with a stampede lease of `lease`, over `counting`.
fn process(
    shared: &impl Fn(CacheBuilder) -> CacheBuilder,
    prefix: &str,
    lease: Duration,
    counting: &Counting,
) -> Arc<CachedDb<Counting>> {
    let cache = shared(Cache::builder())
        .prefix(prefix)
        .redis_timeout(Duration::from_secs(2))
        .stampede_lease(lease)
        .build()
        .unwrap();
    Arc::new(cache.wrap(counting.clone()))
}

/// Two processes (own caches, one shared tier) with 50 concurrent misses each on one cold
/// key: one database query in all; without the lease, one per process.
async fn misses_across_processes_share_one_load(shared: impl Fn(CacheBuilder) -> CacheBuilder) {
    for (lease, queries) in [(Duration::from_secs(5), 1), (Duration::ZERO, 2)] {
        // Each query takes 300 ms, so all readers arrive while the first one loads.
        let counting = sqlite_accounts(Duration::from_millis(300)).await;
        let prefix = prefix("lease");
        let processes = [(); 2].map(|()| process(&shared, &prefix, lease, &counting));
        let readers: Vec<_> = (0..100)
            .map(|i| {
                let db = processes[i % 2].clone();
                tokio::spawn(async move {
                    let q = Account::query().order_by(Account::ID.asc()).cached(MINUTE);
                    q.all(&*db).await
                })
            })
            .collect();
        for reader in readers {
            assert_eq!(reader.await.unwrap().unwrap().len(), 2);
        }
        assert_eq!(counting.reads(), queries, "lease {lease:?}");
        let loads: u64 = processes.iter().map(|p| p.cache().stats().loads).sum();
        assert_eq!(loads, queries);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_load_gives_up_its_lease_through_redis() {
    a_failed_load_gives_up_its_lease(|b| b.redis_url(REDIS_URL)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_load_gives_up_its_lease_through_memcached() {
    let server = Server::memcached(None).await;
    a_failed_load_gives_up_its_lease(|b| b.memcached(server.url())).await;
}

/// Two processes miss one key whose query fails (its table does not exist yet): the process
/// holding the load lease gives it up with its error, so the other one — already waiting, or
/// arriving later — loads at once instead of waiting out the 10-second lease.
async fn a_failed_load_gives_up_its_lease(shared: impl Fn(CacheBuilder) -> CacheBuilder) {
    const LEASE: Duration = Duration::from_secs(10);
    // No table: every load fails, after 300 ms.
    let counting = Counting::new(common::sqlite().await, Duration::from_millis(300));
    let prefix = prefix("failed_lease");
    let [first, second] = [(); 2].map(|()| process(&shared, &prefix, LEASE, &counting));
    let read = |db: Arc<CachedDb<Counting>>| async move {
        let started = std::time::Instant::now();
        let result = Account::query().cached(MINUTE).all(&*db).await;
        (result, started.elapsed())
    };
    // The second process arrives while the first one loads, and waits for it.
    let loading = tokio::spawn(read(first.clone()));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (waited, waited_for) = read(second.clone()).await;
    let (failed, _) = loading.await.unwrap();
    assert!(failed.is_err(), "no table yet: {failed:?}");
    assert!(waited.is_err(), "no table yet: {waited:?}");
    assert!(
        waited_for < LEASE / 2,
        "the waiting process should load once the failed loader gives up its lease, \
         not wait it out: waited {waited_for:?}"
    );
    // A later miss finds no stale lease either.
    let (later, later_took) = read(first.clone()).await;
    assert!(later.is_err());
    assert!(later_took < LEASE / 2, "took {later_took:?}");
    assert_eq!(counting.reads(), 3, "each miss loaded once");
    // Once the query can succeed, it is loaded and shared as usual.
    counting.db.create_table::<Account>().await.unwrap();
    assert_eq!(read(second).await.0.unwrap(), vec![]);
    assert_eq!(read(first).await.0.unwrap(), vec![]);
    assert_eq!(
        counting.reads(),
        4,
        "the second process's entry served the first"
    );
}

#[tokio::test]
async fn a_failed_load_reaches_its_caller_and_is_not_cached() {
    let db = common::sqlite().await;
    let cache = cache("failed_load");
    let db = cache.wrap(db);
    let missing = Account::query().cached(MINUTE).all(&db).await;
    assert!(missing.is_err(), "no table yet: {missing:?}");
    db.inner().create_table::<Account>().await.unwrap();
    assert_eq!(
        Account::query().cached(MINUTE).all(&db).await.unwrap(),
        vec![]
    );
}

#[tokio::test]
async fn a_transaction_invalidates_on_commit_and_not_on_rollback() {
    let file = std::env::temp_dir().join(format!("polyorm-cache-tx-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let db = Db::connect(&format!("sqlite://{}", file.display()))
        .await
        .unwrap();
    db.create_table::<Account>().await.unwrap();
    account(1, "ada", 10).insert(&db).await.unwrap();
    let counting = Counting::new(db.clone(), Duration::ZERO);
    let cache = cache("tx");
    let cached = cache.wrap(counting.clone());
    let plain = cache.wrap(db);
    let balance = || async {
        let one = Account::query().cached(MINUTE).one(&cached);
        one.await.unwrap().balance
    };
    assert_eq!(balance().await, 10);

    let tx = plain.begin().await.unwrap();
    Account::update_many()
        .set(Account::BALANCE, 99)
        .execute(&tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(balance().await, 10);
    assert_eq!(counting.reads(), 1, "a rollback invalidates nothing");

    let tx = plain.begin().await.unwrap();
    Account::update_many()
        .set(Account::BALANCE, 42)
        .execute(&tx)
        .await
        .unwrap();
    let inside = Account::query().one(&tx).await.unwrap();
    assert_eq!(inside.balance, 42, "the transaction reads its own write");
    tx.commit().await.unwrap();
    assert_eq!(balance().await, 42, "the commit invalidated");

    plain
        .transaction(|tx| async move {
            Account::update_many()
                .set(Account::BALANCE, 7)
                .execute(&tx)
                .await?;
            Ok::<_, polyorm::Error>(())
        })
        .await
        .unwrap();
    assert_eq!(balance().await, 7);
    let _ = std::fs::remove_file(&file);
}

/// Two application processes: separate pools and in-process tiers, one Redis.
#[tokio::test]
async fn a_write_through_one_db_is_never_read_stale_through_another() {
    never_stale_across_processes("cross_db", |b| b.redis_url(REDIS_URL)).await;
}

/// The same with Memcached as the shared tier.
#[tokio::test]
async fn with_memcached_a_write_through_one_db_is_never_read_stale_through_another() {
    let server = Server::memcached(None).await;
    never_stale_across_processes("cross_db_mc", |b| b.memcached(server.url())).await;
}

/// Two processes sharing the tier `shared` adds to a builder: each write is seen by the
/// other's next read; a third process with another prefix keeps its stale copy.
async fn never_stale_across_processes(test: &str, shared: impl Fn(CacheBuilder) -> CacheBuilder) {
    let (url, schema) = common::postgres_schema(test).await;
    let prefix = prefix(test);
    let process = |prefix: String| {
        let url = url.clone();
        // What is tested is staleness, not speed: a loaded machine must not turn a slow reply
        // into a tier error (the 50 ms default).
        let cache = shared(Cache::builder())
            .redis_timeout(Duration::from_secs(2))
            .prefix(prefix)
            .build()
            .unwrap();
        async move { cache.wrap(Db::connect(&url).await.unwrap()) }
    };
    let a: CachedDb<Db> = process(prefix.clone()).await;
    let b: CachedDb<Db> = process(prefix.clone()).await;
    a.inner().create_table::<Account>().await.unwrap();
    account(1, "ada", 10).insert(&a).await.unwrap();
    let read = |db: &CachedDb<Db>| {
        let q = Account::query().filter(Account::ID.eq(1)).cached(MINUTE);
        let db = db.clone();
        async move { q.one(&db).await.unwrap().balance }
    };
    for round in 0..20_i64 {
        // Both processes have the row cached locally...
        assert_eq!(read(&a).await, 10 + round);
        assert_eq!(read(&b).await, 10 + round);
        // ...one writes; the other's next read must see it.
        let writer = if round % 2 == 0 { &a } else { &b };
        Account::update_many()
            .set(Account::BALANCE, 11 + round)
            .filter(Account::ID.eq(1))
            .execute(writer)
            .await
            .unwrap();
        assert_eq!(read(&a).await, 11 + round);
        assert_eq!(read(&b).await, 11 + round);
    }
    assert!(b.cache().stats().stale >= 10, "{:?}", b.cache().stats());
    assert!(b.cache().stats().hits() >= 10, "{:?}", b.cache().stats());

    // A process with its own Redis prefix shares nothing: it keeps its stale copy.
    let c = process(format!("{prefix}-elsewhere")).await;
    let before = read(&c).await;
    Account::update_many()
        .set(Account::BALANCE, 0)
        .execute(&a)
        .await
        .unwrap();
    assert_eq!(read(&c).await, before, "the check above can fail");
    drop((a, b, c));
    common::drop_schema(&schema).await;
}

#[tokio::test]
async fn a_redis_outage_causes_no_query_error_and_the_cache_recovers() {
    let server = Server::redis(None).await;
    let url = server.url();
    outage_causes_no_query_error_and_recovers(server, |b| b.redis_url(url)).await;
}

#[tokio::test]
async fn a_memcached_outage_causes_no_query_error_and_the_cache_recovers() {
    let server = Server::memcached(None).await;
    let url = server.url();
    outage_causes_no_query_error_and_recovers(server, |b| b.memcached(url)).await;
}

/// Kills the shared tier's server between reads and writes, then restarts it: no query
/// fails, the in-process tier serves meanwhile, and the shared tier is trusted again after.
async fn outage_causes_no_query_error_and_recovers(
    mut server: Server,
    shared: impl FnOnce(CacheBuilder) -> CacheBuilder,
) {
    let counting = sqlite_accounts(Duration::ZERO).await;
    let cache = shared(Cache::builder())
        .prefix(prefix("outage"))
        .redis_timeout(Duration::from_millis(100))
        .circuit_breaker(2, Duration::from_millis(300))
        .build()
        .unwrap();
    let db = cache.wrap(counting.clone());
    let names = || async {
        let all = Account::query()
            .order_by(Account::ID.asc())
            .cached(MINUTE)
            .all(&db);
        all.await
            .expect("no error reaches the query")
            .into_iter()
            .map(|a| a.name)
            .collect::<Vec<_>>()
    };
    assert_eq!(names().await, ["ada", "bob"]);
    assert_eq!(cache.stats().errors, 0);

    server.kill();
    for _ in 0..20 {
        assert_eq!(names().await, ["ada", "bob"]);
    }
    let down = cache.stats();
    assert!(
        down.redis_down && down.breaker_trips == 1 && down.errors >= 2,
        "{down:?}"
    );
    assert!(
        down.errors <= 3,
        "the breaker stops calling Redis: {down:?}"
    );
    assert_eq!(counting.reads(), 1, "served from the in-process tier");
    // This process's own write still invalidates its in-process tier.
    account(3, "cy", 0).insert(&db).await.expect("writes work");
    assert_eq!(names().await, ["ada", "bob", "cy"]);

    server.restart().await;
    // The breaker probes after its cooldown; the connection may need one failed call to
    // notice the new server, so allow a few cooldowns.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while cache.stats().redis_down {
        assert!(
            std::time::Instant::now() < deadline,
            "the server came back but the breaker stayed open"
        );
        assert_eq!(names().await, ["ada", "bob", "cy"]);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(names().await, ["ada", "bob", "cy"]);
    let up = cache.stats();
    assert!(!up.redis_down, "the probe closed the breaker: {up:?}");
    // The entry cached during the outage was not trusted once Redis returned; the reload
    // went to Redis, and the next read is a hit again.
    let reads = counting.reads();
    assert_eq!(names().await, ["ada", "bob", "cy"]);
    assert_eq!(counting.reads(), reads);
    assert_eq!(cache.stats().errors, up.errors, "no new errors");
}

#[tokio::test]
async fn bypass_policy_reads_the_database_while_redis_is_down() {
    let mut server = Server::redis(None).await;
    let counting = sqlite_accounts(Duration::ZERO).await;
    let cache = Cache::builder()
        .redis_url(server.url())
        .prefix(prefix("bypass"))
        .redis_timeout(Duration::from_millis(100))
        .outage_policy(OutagePolicy::Bypass)
        .build()
        .unwrap();
    let db = cache.wrap(counting.clone());
    Account::query().cached(MINUTE).all(&db).await.unwrap();
    server.kill();
    for _ in 0..5 {
        Account::query().cached(MINUTE).all(&db).await.unwrap();
    }
    assert_eq!(counting.reads(), 6);
    assert_eq!(cache.stats().bypassed, 5);
}

#[tokio::test]
async fn a_cache_without_redis_is_local_only() {
    let counting = sqlite_accounts(Duration::ZERO).await;
    let cache = Cache::builder().max_entries(1).build().unwrap();
    let db = cache.wrap(counting.clone());
    Account::query().cached(MINUTE).all(&db).await.unwrap();
    Account::query().cached(MINUTE).all(&db).await.unwrap();
    assert_eq!(counting.reads(), 1);
    Account::query()
        .filter(Account::ID.eq(1))
        .cached(MINUTE)
        .all(&db)
        .await
        .unwrap();
    assert!(cache.local_entries().await <= 1, "bounded by entries");
    assert!(cache.stats().evictions >= 1, "{:?}", cache.stats());
    assert_eq!(cache.stats().errors, 0);
}

#[tokio::test]
async fn max_staleness_skips_redis_for_a_window_but_never_for_own_writes() {
    let shared = prefix("staleness");
    let counting = sqlite_accounts(Duration::ZERO).await;
    let window = Duration::from_millis(400);
    let process = || {
        let cache = Cache::builder()
            .redis_url(REDIS_URL)
            .prefix(shared.clone())
            .max_staleness(window)
            .build()
            .unwrap();
        cache.wrap(counting.db.clone())
    };
    let (a, b) = (process(), process());
    let balance = |db: &CachedDb<Db>| {
        let q = Account::query().filter(Account::ID.eq(1)).cached(MINUTE);
        let db = db.clone();
        async move { q.one(&db).await.unwrap().balance }
    };
    assert_eq!(balance(&b).await, 10);
    let update = |db: CachedDb<Db>, to: i64| async move {
        Account::update_many()
            .set(Account::BALANCE, to)
            .filter(Account::ID.eq(1))
            .execute(&db)
            .await
            .unwrap();
    };
    update(a.clone(), 11).await;
    assert_eq!(
        balance(&b).await,
        10,
        "another process's write shows only after the window"
    );
    tokio::time::sleep(window + Duration::from_millis(50)).await;
    assert_eq!(
        balance(&b).await,
        11,
        "after the window Redis is asked again"
    );
    update(b.clone(), 12).await;
    assert_eq!(balance(&b).await, 12, "own writes invalidate at once");
}

/// Redis Cluster: the cross-process guarantee holds, and every key of a cache (an entry and
/// the generations it depends on) lives in one slot.
#[tokio::test]
async fn with_a_redis_cluster_writes_are_never_stale_and_an_entry_shares_its_slot() {
    let cluster = Cluster::start().await;
    never_stale_across_processes("cross_db_cluster", |b| b.redis_cluster(cluster.urls())).await;

    let prefix = prefix("slot");
    let cache = Cache::builder()
        .redis_cluster(cluster.urls())
        .redis_timeout(Duration::from_secs(2))
        .prefix(prefix.clone())
        .build()
        .unwrap();
    let db = cache.wrap(sqlite_accounts(Duration::ZERO).await);
    for id in [1, 2] {
        let one = Account::query().filter(Account::ID.eq(id)).cached(MINUTE);
        one.one(&db).await.unwrap();
    }
    // The generations of `*`, `accounts!rows`, `accounts=1` and `accounts=2`, and two entries.
    let tag = format!("{{{prefix}}}");
    assert_eq!(cluster.keys_in_slot_of(&tag).await, 6);
    assert_eq!(cache.stats().errors, 0, "{:?}", cache.stats());
}

/// Two processes read and write under load while the master serving the cache's slot is
/// killed: no query fails, and once its replica took over a write through one process is
/// seen by the other again (the time that takes is printed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_node_killed_mid_load_causes_no_query_error_and_the_cache_recovers() {
    let mut cluster = Cluster::start().await;
    let prefix = prefix("cluster_kill");
    let db = common::sqlite().await;
    db.create_table::<Account>().await.unwrap();
    let rows: Vec<Account> = (1..=20).map(|id| account(id, "n", 0)).collect();
    Account::insert_many(&db, &rows).await.unwrap();
    let process = || {
        let cache = Cache::builder()
            .redis_cluster(cluster.urls())
            .prefix(prefix.clone())
            .redis_timeout(Duration::from_millis(500))
            .circuit_breaker(2, Duration::from_millis(300))
            .build()
            .unwrap();
        cache.wrap(db.clone())
    };
    let (a, b) = (process(), process());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let failures = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let queries = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let workers: Vec<_> = (0..8_i64)
        .map(|w| {
            let db = if w % 2 == 0 { a.clone() } else { b.clone() };
            let (stop, failures, queries) = (stop.clone(), failures.clone(), queries.clone());
            tokio::spawn(async move {
                let mut i = w;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    i += 1;
                    let id = 2 + i % 19;
                    let done = if i % 10 == 0 {
                        Account::update_many()
                            .set(Account::BALANCE, i)
                            .filter(Account::ID.eq(id))
                            .execute(&db)
                            .await
                            .map(|_| ())
                    } else {
                        let q = Account::query().filter(Account::ID.eq(id)).cached(MINUTE);
                        q.one(&db).await.map(|_| ())
                    };
                    queries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if let Err(e) = done {
                        eprintln!("query failed: {e}");
                        failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let master = cluster.master_of(&format!("{{{prefix}}}")).await;
    cluster.kill(master);
    let killed = std::time::Instant::now();

    // Recovered: a write through `a` is read through `b` (row 1 is left to this loop).
    let balance = |db: &CachedDb<Db>| {
        let q = Account::query().filter(Account::ID.eq(1)).cached(MINUTE);
        let db = db.clone();
        async move {
            q.one(&db)
                .await
                .expect("no error reaches the query")
                .balance
        }
    };
    let mut round = 0;
    loop {
        round += 1;
        balance(&b).await;
        Account::update_many()
            .set(Account::BALANCE, -round)
            .filter(Account::ID.eq(1))
            .execute(&a)
            .await
            .expect("writes work during the failover");
        if balance(&b).await == -round && !a.cache().stats().redis_down {
            break;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "the cache did not recover within 30 s of the kill: {:?}",
            b.cache().stats()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let recovery = killed.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for worker in workers {
        worker.await.unwrap();
    }
    let (sa, sb) = (a.cache().stats(), b.cache().stats());
    eprintln!(
        "cluster failover: recovered in {recovery:?}; {} queries, {} failed; errors counted {} + {}",
        queries.load(std::sync::atomic::Ordering::Relaxed),
        failures.load(std::sync::atomic::Ordering::Relaxed),
        sa.errors,
        sb.errors
    );
    assert_eq!(failures.load(std::sync::atomic::Ordering::Relaxed), 0);
    assert!(
        sa.errors + sb.errors > 0,
        "the kill was noticed: {sa:?} {sb:?}"
    );
    assert!(sb.hits_redis > 0, "{sb:?}");
}

/// The entries (not generations) the shared Redis holds under `prefix`, as stored.
async fn stored_entries(prefix: &str) -> Vec<Vec<u8>> {
    let client = redis::Client::open(REDIS_URL).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:e:*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    let mut values = Vec::new();
    for key in keys {
        let value: Vec<u8> = redis::cmd("GET")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        values.push(value);
    }
    values
}

#[tokio::test]
async fn large_entries_are_stored_compressed_and_every_process_reads_them() {
    let db = common::sqlite().await;
    db.create_table::<Account>().await.unwrap();
    let rows: Vec<Account> = (1..=200)
        .map(|id| account(id, &format!("customer number {id} of the test"), id))
        .collect();
    Account::insert_many(&db, &rows).await.unwrap();
    let all = |cached: CachedDb<Db>| async move {
        let q = Account::query().order_by(Account::ID.asc()).cached(MINUTE);
        q.all(&cached).await.unwrap()
    };
    let (small, plain) = (prefix("zstd"), prefix("zstd_off"));
    let compressing = Cache::builder()
        .redis_url(REDIS_URL)
        .prefix(small.clone())
        .compress_above(1024, 3)
        .build()
        .unwrap();
    assert_eq!(all(compressing.wrap(db.clone())).await, rows);
    assert_eq!(all(cache_at(&plain).wrap(db.clone())).await, rows);
    let (compressed, uncompressed) = (stored_entries(&small).await, stored_entries(&plain).await);
    assert_eq!((compressed.len(), uncompressed.len()), (1, 1));
    assert!(
        compressed[0].len() * 3 < uncompressed[0].len(),
        "{} vs {} bytes",
        compressed[0].len(),
        uncompressed[0].len()
    );
    // Another process, without compression of its own, reads the compressed entry.
    let reader = cache_at(&small);
    assert_eq!(all(reader.wrap(db.clone())).await, rows);
    assert_eq!((reader.stats().hits_redis, reader.stats().errors), (1, 0));
}

#[tokio::test]
async fn encrypted_entries_are_read_with_their_key_after_a_rotation_and_missed_without_it() {
    let counting = sqlite_accounts(Duration::ZERO).await;
    let (key1, key2) = ([1; 32], [2; 32]);
    let shared = prefix("aes");
    let process = |keys: Option<StaticKeys>| {
        let mut builder = Cache::builder().redis_url(REDIS_URL).prefix(shared.clone());
        if let Some(keys) = keys {
            builder = builder.encryption(keys);
        }
        builder.build().unwrap()
    };
    let names = |cache: &Cache| {
        let db = cache.wrap(counting.clone());
        async move {
            let q = Account::query().order_by(Account::ID.asc()).cached(MINUTE);
            let all = q.all(&db).await.expect("never an error");
            all.into_iter().map(|a| a.name).collect::<Vec<_>>()
        }
    };
    let writer = process(Some(StaticKeys::new(1, key1)));
    assert_eq!(names(&writer).await, ["ada", "bob"]);
    let stored = stored_entries(&shared).await;
    assert_eq!(stored.len(), 1);
    assert!(
        !stored[0].windows(3).any(|w| w == b"ada"),
        "encrypted at rest"
    );

    let rotated = process(Some(StaticKeys::new(2, key2).with_old(1, key1)));
    assert_eq!(names(&rotated).await, ["ada", "bob"]);
    assert_eq!(
        (rotated.stats().hits_redis, rotated.stats().errors),
        (1, 0),
        "the old key still reads"
    );

    let reads = counting.reads();
    for stranger in [
        process(Some(StaticKeys::new(1, [9; 32]))), // same id, other key
        process(Some(StaticKeys::new(3, key2))),    // key 1 retired
        process(None),                              // no key at all
    ] {
        assert_eq!(
            names(&stranger).await,
            ["ada", "bob"],
            "a miss, never garbage"
        );
        assert_eq!(stranger.stats().hits_redis, 0);
        assert_eq!(stranger.stats().errors, 1, "{:?}", stranger.stats());
    }
    assert_eq!(
        counting.reads(),
        reads + 3,
        "each stranger read the database"
    );
    // Plain entries are refused as well while encryption is on.
    let plain = prefix("aes_plain");
    names(
        &Cache::builder()
            .redis_url(REDIS_URL)
            .prefix(plain.clone())
            .build()
            .unwrap(),
    )
    .await;
    assert!(
        stored_entries(&plain).await[0]
            .windows(3)
            .any(|w| w == b"ada"),
        "the check above can fail"
    );
    let strict = Cache::builder()
        .redis_url(REDIS_URL)
        .prefix(plain)
        .encryption(StaticKeys::new(1, key1))
        .build()
        .unwrap();
    names(&strict).await;
    assert_eq!((strict.stats().hits_redis, strict.stats().errors), (0, 1));
}

/// Counts the operations that reach the executor below it.
#[derive(Clone, Default)]
struct Below(Arc<std::sync::atomic::AtomicUsize>);

impl polyorm::exec::Layer for Below {
    async fn call<E: polyorm::Executor, T: Send + 'static>(
        &self,
        inner: &E,
        op: polyorm::exec::Op<T>,
    ) -> polyorm::Result<polyorm::exec::Outcome<T>> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        op.run(inner).await
    }
}

impl Below {
    fn seen(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[tokio::test]
async fn the_cache_is_a_layer_that_stacks_with_others_and_invalidates_at_commit() {
    use polyorm::exec::{Begin, Finish};
    let db = common::sqlite().await;
    db.create_table::<Account>().await.unwrap();
    Account::insert_many(&db, &[account(1, "ada", 10), account(2, "bob", 20)])
        .await
        .unwrap();
    let cache = Cache::builder()
        .redis_url(REDIS_URL)
        .prefix(prefix("layer_stack"))
        .model_ttl::<Account>(MINUTE)
        .build()
        .unwrap();
    let below = Below::default();
    let stack = db.layer(below.clone()).layer(cache.layer());
    let read = || Account::find(&stack, 1);
    assert_eq!(read().await.unwrap(), Some(account(1, "ada", 10)));
    assert_eq!(read().await.unwrap(), Some(account(1, "ada", 10)));
    assert_eq!(
        below.seen(),
        1,
        "the second read is answered by the cache layer"
    );

    // A transaction begun through the stack: its reads go to the database, its write
    // invalidates the row once committed, not before.
    let tx = Begin::begin(&stack).await.unwrap();
    Account::update_many()
        .set(Account::BALANCE, 99)
        .filter(Account::ID.eq(1))
        .execute(&tx)
        .await
        .unwrap();
    assert_eq!(
        Account::find(&tx, 1).await.unwrap(),
        Some(account(1, "ada", 99))
    );
    let seen = below.seen();
    tx.commit().await.unwrap();
    assert_eq!(read().await.unwrap(), Some(account(1, "ada", 99)));
    assert_eq!(
        below.seen(),
        seen + 1,
        "the committed write made the entry a miss"
    );

    // A rolled-back write leaves the entry valid (and the row unchanged).
    let tx = Begin::begin(&stack).await.unwrap();
    Account::delete_many()
        .filter(Account::ID.eq(1))
        .execute(&tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let seen = below.seen();
    assert_eq!(read().await.unwrap(), Some(account(1, "ada", 99)));
    assert_eq!(below.seen(), seen, "still a hit after a rollback");
}
