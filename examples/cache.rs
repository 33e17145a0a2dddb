//! The query cache: SQLite behind an in-process tier and the local Redis.
//!
//! ```sh
//! cargo run --example cache --features cache
//! REDIS_URL=redis://127.0.0.1:6379 cargo run --example cache --features cache
//! ```

use std::time::Duration;

use polyorm::cache::{Cache, CacheExt};
use polyorm::prelude::*;

/// A product in a catalogue.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "cache_products")]
struct Product {
    #[orm(primary_key, auto_increment)]
    id: i64,
    name: String,
    price_cents: i64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let redis = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    // One prefix per database: processes that share it share entries and invalidations.
    let prefix = format!("example-cache:{}", std::process::id());
    let cache = Cache::builder()
        .redis_url(redis)
        .prefix(prefix)
        .max_entries(1_000)
        .build()?;
    let db = cache.wrap(Db::connect("sqlite::memory:").await?);
    db.inner().create_table::<Product>().await?;
    for (name, price_cents) in [("tea", 450), ("coffee", 390), ("cocoa", 520)] {
        let row = Product {
            id: 0,
            name: name.into(),
            price_cents,
        };
        row.insert(&db).await?;
    }

    let cheap = || {
        Product::query()
            .filter(Product::PRICE_CENTS.lt(500))
            .order_by(Product::NAME.asc())
            .cached(Duration::from_secs(60))
    };
    let first = cheap().all(&db).await?; // miss: runs the query, stores both tiers
    let again = cheap().all(&db).await?; // hit: in-process tier, checked against Redis
    assert_eq!(first, again);
    println!("cheap: {:?}", names(&again));

    // A write through the cached handle invalidates the table, in every process.
    Product::update_many()
        .set(Product::PRICE_CENTS, 300)
        .filter(Product::NAME.eq("cocoa"))
        .execute(&db)
        .await?;
    let after = cheap().all(&db).await?;
    assert_eq!(names(&after), ["cocoa", "coffee", "tea"]);
    println!("after the price cut: {:?}", names(&after));

    let stats = cache.stats();
    println!(
        "hits {} (local {}, redis {}), misses {}, stale {}, Redis errors {}",
        stats.hits(),
        stats.hits_local,
        stats.hits_redis,
        stats.misses,
        stats.stale,
        stats.errors
    );
    Ok(())
}

fn names(products: &[Product]) -> Vec<&str> {
    products.iter().map(|p| p.name.as_str()).collect()
}
