//! Latency of a cache hit (in-process tier, with and without the Redis generation check, and
//! the Redis tier) against the same query run uncached on SQLite and PostgreSQL.
//!
//! Needs Redis at 127.0.0.1:6379 and PostgreSQL at `ORM_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`): `cargo bench -p orm-cache`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use orm::cache::{Cache, CacheExt, CachedDb};
use orm::prelude::*;

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
    format!("orm-cache-bench:{name}:{}", std::process::id())
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

fn hit_latency(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let postgres_url = std::env::var("ORM_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let file = std::env::temp_dir().join(format!("orm-cache-bench-{}.db", std::process::id()));
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
    rt.block_on(postgres.drop_table::<Item>()).unwrap();
    let _ = std::fs::remove_file(&file);
}

criterion_group!(benches, hit_latency);
criterion_main!(benches);
