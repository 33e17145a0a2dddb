//! Latency of a cache hit (in-process tier, with and without the Redis generation check, and
//! the Redis and Memcached tiers) against the same query run uncached on SQLite and
//! PostgreSQL and against a raw client `GET` of the same stored bytes; then the cost of
//! compression and encryption on a hundred-row entry.
//!
//! Needs Redis at 127.0.0.1:6379, PostgreSQL at `ORM_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`) and `/usr/bin/memcached` (started here on a free
//! port): `cargo bench -p polyorm-cache`.
//!
//! `ORM_CACHE_BENCH_PROFILE=<read>/<n>` runs only `n` reads of one kind after the same setup
//! and exits, for counting instructions under callgrind (run it with `n` = 0 and `n` = k and
//! divide the difference by k): `<read>` is `in_process`, `redis_tier`, `raw_redis`,
//! `memcached_tier` or `raw_memcached`.

use std::hint::black_box;
use std::time::Duration;

use async_memcached::AsciiProtocol;
use criterion::{Criterion, criterion_group};
use polyorm::cache::{Cache, CacheBuilder, CacheExt, CachedDb, StaticKeys};
use polyorm::prelude::*;

/// A row of the benchmark table.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "bench_cache_items")]
pub struct Item {
    #[orm(primary_key)]
    id: i64,
    name: String,
    price: i64,
    active: bool,
}

const TTL: Duration = Duration::from_secs(3600);

async fn seeded(url: &str) -> Db {
    let db = Db::connect(url).await.expect("database reachable");
    db.drop_table::<Item>().await.unwrap();
    db.create_table::<Item>().await.unwrap();
    let items: Vec<Item> = (1..=100)
        .map(|id| Item {
            id,
            name: format!("item {id}"),
            price: id * 3,
            active: id % 2 == 0,
        })
        .collect();
    Item::insert_many(&db, &items).await.unwrap();
    db
}

fn prefix(name: &str) -> String {
    format!("polyorm-cache-bench:{name}:{}", std::process::id())
}

/// Ten rows by a range of keys: what a page of a list view reads.
async fn page<E: Executor>(db: &E) -> Vec<Item> {
    Item::query()
        .filter(Item::ID.between(11, 20))
        .order_by(Item::ID.asc())
        .all(db)
        .await
        .unwrap()
}

async fn cached_page<E: Executor>(db: &CachedDb<E>) -> Vec<Item> {
    Item::query()
        .filter(Item::ID.between(11, 20))
        .order_by(Item::ID.asc())
        .cached(TTL)
        .all(db)
        .await
        .unwrap()
}

/// All hundred rows: an entry of a few kilobytes, for compression and encryption.
async fn cached_all<E: Executor>(db: &CachedDb<E>) -> Vec<Item> {
    Item::query()
        .order_by(Item::ID.asc())
        .cached(TTL)
        .all(db)
        .await
        .unwrap()
}

/// A `memcached` of the benchmark's own on a free port, killed on drop.
struct Memcached(std::process::Child, u16);

impl Memcached {
    fn start() -> Memcached {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = std::process::Command::new("/usr/bin/memcached")
            .args([
                "-p",
                &port.to_string(),
                "-l",
                "127.0.0.1",
                "-U",
                "0",
                "-u",
                "root",
            ])
            .spawn()
            .expect("/usr/bin/memcached (bash scripts/cache-servers.sh install)");
        let server = Memcached(child, port);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("memcached did not start on {port}");
    }
}

impl Drop for Memcached {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The one entry a shared tier holds under `prefix` (Redis), as stored.
async fn stored_entry(conn: &mut redis::aio::MultiplexedConnection, prefix: &str) -> Vec<u8> {
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:e:*"))
        .query_async(conn)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    redis::cmd("GET")
        .arg(&keys[0])
        .query_async(conn)
        .await
        .unwrap()
}

/// A cache whose every read is answered by its shared tier (no in-process capacity).
fn shared_only(builder: CacheBuilder, name: &str) -> Cache {
    builder.prefix(prefix(name)).max_entries(0).build().unwrap()
}

fn hit_latency(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let postgres_url = std::env::var("ORM_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let file = std::env::temp_dir().join(format!("polyorm-cache-bench-{}.db", std::process::id()));
    let sqlite = rt.block_on(seeded(&format!("sqlite://{}", file.display())));
    let postgres = rt.block_on(seeded(&postgres_url));

    let local_only = Cache::builder().build().unwrap().wrap(sqlite.clone());
    let with_redis = Cache::builder()
        .redis_url("redis://127.0.0.1:6379")
        .prefix(prefix("local"))
        .build()
        .unwrap()
        .wrap(sqlite.clone());
    let bounded = Cache::builder()
        .redis_url("redis://127.0.0.1:6379")
        .prefix(prefix("bounded"))
        .max_staleness(Duration::from_millis(100))
        .build()
        .unwrap()
        .wrap(sqlite.clone());
    // No in-process capacity: every read is answered by Redis.
    let redis_tier = Cache::builder()
        .redis_url("redis://127.0.0.1:6379")
        .prefix(prefix("redis"))
        .max_entries(0)
        .build()
        .unwrap()
        .wrap(sqlite.clone());
    for db in [&local_only, &with_redis, &bounded, &redis_tier] {
        assert_eq!(rt.block_on(cached_page(db)).len(), 10);
    }

    let mut group = c.benchmark_group("ten_rows");
    group.bench_function("uncached_sqlite", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(page(&sqlite).await) })
    });
    group.bench_function("uncached_postgres", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(page(&postgres).await) })
    });
    group.bench_function("hit_in_process_no_redis", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(cached_page(&local_only).await) })
    });
    group.bench_function("hit_in_process_redis_checked", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(cached_page(&with_redis).await) })
    });
    group.bench_function("hit_in_process_max_staleness_100ms", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(cached_page(&bounded).await) })
    });
    group.bench_function("hit_redis_tier", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(cached_page(&redis_tier).await) })
    });
    group.finish();

    let stats = redis_tier.cache().stats();
    assert_eq!(
        stats.loads, 1,
        "the Redis tier answered every read: {stats:?}"
    );

    // Each shared tier against its raw client reading the same bytes.
    let memcached = Memcached::start();
    let memcached_tier = shared_only(
        Cache::builder().memcached(format!("127.0.0.1:{}", memcached.1)),
        "memcached",
    )
    .wrap(sqlite.clone());
    assert_eq!(rt.block_on(cached_page(&memcached_tier)).len(), 10);
    let redis_client = redis::Client::open("redis://127.0.0.1:6379").unwrap();
    let mut raw_redis = rt
        .block_on(redis_client.get_multiplexed_async_connection())
        .unwrap();
    let payload = rt.block_on(stored_entry(&mut raw_redis, &prefix("redis")));
    let raw_key = format!("{}:raw", prefix("redis"));
    rt.block_on(async {
        redis::cmd("SET")
            .arg(&raw_key)
            .arg(&payload)
            .query_async::<()>(&mut raw_redis)
            .await
    })
    .unwrap();
    let raw_memcached = rt.block_on(async {
        let mut client = async_memcached::Client::new(format!("tcp://127.0.0.1:{}", memcached.1))
            .await
            .unwrap();
        client
            .set("raw", payload.as_slice(), None, None)
            .await
            .unwrap();
        tokio::sync::Mutex::new(client)
    });
    let mut group = c.benchmark_group("shared_tier_vs_raw_get");
    group.bench_function("hit_redis_tier", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(cached_page(&redis_tier).await) })
    });
    group.bench_function("raw_redis_get_same_bytes", |b| {
        b.to_async(&rt).iter(|| {
            let mut conn = raw_redis.clone();
            let key = raw_key.clone();
            async move {
                let v: Vec<u8> = redis::cmd("GET")
                    .arg(key)
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                black_box(v)
            }
        })
    });
    group.bench_function("hit_memcached_tier", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(cached_page(&memcached_tier).await) })
    });
    group.bench_function("raw_memcached_get_same_bytes", |b| {
        b.to_async(&rt).iter(|| async {
            let mut client = raw_memcached.lock().await;
            black_box(client.get("raw").await.unwrap())
        })
    });
    group.finish();
    assert_eq!(
        memcached_tier.cache().stats().loads,
        1,
        "Memcached answered"
    );

    // Compression and encryption of a hundred-row entry in the Redis tier.
    let key = [7; 32];
    let variants = [
        ("plain", Cache::builder()),
        ("zstd", Cache::builder().compress_above(1024, 3)),
        (
            "aes_gcm",
            Cache::builder().encryption(StaticKeys::new(1, key)),
        ),
        (
            "zstd_aes_gcm",
            Cache::builder()
                .compress_above(1024, 3)
                .encryption(StaticKeys::new(1, key)),
        ),
    ];
    let mut group = c.benchmark_group("hundred_rows_redis_tier");
    for (name, builder) in variants {
        let cache = shared_only(
            builder.redis_url("redis://127.0.0.1:6379"),
            &format!("codec-{name}"),
        );
        let db = cache.wrap(sqlite.clone());
        assert_eq!(rt.block_on(cached_all(&db)).len(), 100);
        let size = rt
            .block_on(stored_entry(
                &mut raw_redis,
                &prefix(&format!("codec-{name}")),
            ))
            .len();
        eprintln!("hundred rows, {name}: {size} bytes stored");
        group.bench_function(name, |b| {
            b.to_async(&rt)
                .iter(|| async { black_box(cached_all(&db).await) })
        });
        assert_eq!(cache.stats().loads, 1, "{name}: the tier answered");
    }
    group.finish();
    rt.block_on(postgres.drop_table::<Item>()).unwrap();
    let _ = std::fs::remove_file(&file);
}

/// `n` reads of one kind (see the module's documentation), without criterion.
fn profile(spec: &str) {
    let (read, n) = spec
        .split_once('/')
        .and_then(|(read, n)| Some((read, n.parse::<usize>().ok()?)))
        .expect("ORM_CACHE_BENCH_PROFILE=<read>/<n>");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let file =
        std::env::temp_dir().join(format!("polyorm-cache-profile-{}.db", std::process::id()));
    let sqlite = rt.block_on(seeded(&format!("sqlite://{}", file.display())));
    let memcached = Memcached::start();
    let builder = match read {
        "in_process" => Cache::builder(),
        "redis_tier" | "raw_redis" => Cache::builder().redis_url("redis://127.0.0.1:6379"),
        "memcached_tier" | "raw_memcached" => {
            Cache::builder().memcached(format!("127.0.0.1:{}", memcached.1))
        }
        other => panic!("unknown read `{other}`"),
    };
    let max_entries = if read == "in_process" { 10 } else { 0 };
    // A generous timeout: under callgrind every call is many times slower.
    let cache = builder
        .prefix(prefix(&format!("profile-{read}")))
        .redis_timeout(Duration::from_secs(5))
        .max_entries(max_entries)
        .build()
        .unwrap();
    let db = cache.wrap(sqlite.clone());
    rt.block_on(async {
        assert_eq!(cached_page(&db).await.len(), 10);
        // What the raw reads fetch: the entry as the Redis tier stored it (the same bytes
        // any tier stores for this read).
        let client = redis::Client::open("redis://127.0.0.1:6379").unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let payload = if read.starts_with("raw") {
            let name = "profile-payload";
            let builder = Cache::builder()
                .redis_url("redis://127.0.0.1:6379")
                .redis_timeout(Duration::from_secs(5));
            let stored = shared_only(builder, name).wrap(sqlite.clone());
            assert_eq!(cached_page(&stored).await.len(), 10);
            stored_entry(&mut conn, &prefix(name)).await
        } else {
            Vec::new()
        };
        match read {
            "raw_redis" => {
                let key = format!("{}:raw", prefix("profile"));
                redis::cmd("SET")
                    .arg(&key)
                    .arg(&payload)
                    .query_async::<()>(&mut conn)
                    .await
                    .unwrap();
                for _ in 0..n {
                    let v: Vec<u8> = redis::cmd("GET")
                        .arg(&key)
                        .query_async(&mut conn)
                        .await
                        .unwrap();
                    black_box(v);
                }
            }
            "raw_memcached" => {
                let mut client =
                    async_memcached::Client::new(format!("tcp://127.0.0.1:{}", memcached.1))
                        .await
                        .unwrap();
                client
                    .set("raw", payload.as_slice(), None, None)
                    .await
                    .unwrap();
                for _ in 0..n {
                    black_box(client.get("raw").await.unwrap());
                }
            }
            _ => {
                for _ in 0..n {
                    black_box(cached_page(&db).await);
                }
            }
        }
    });
    assert_eq!(cache.stats().loads, 1, "{read}: the cache answered");
    let _ = std::fs::remove_file(&file);
}

criterion_group!(benches, hit_latency);

fn main() {
    if let Ok(spec) = std::env::var("ORM_CACHE_BENCH_PROFILE") {
        profile(&spec);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
