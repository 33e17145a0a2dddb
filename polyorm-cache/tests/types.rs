//! Every supported field type survives the cache: recorded on a miss, encoded into Redis,
//! decoded by another process's cache, and replayed from the in-process tier.

mod common;

use std::time::Duration;

use common::everything::{Everything, sample};
use common::{REDIS_URL, prefix};
use polyorm::cache::{Cache, CacheExt};
use polyorm::prelude::*;

async fn round_trip(url: &str, test: &str) {
    let db = Db::connect(url).await.unwrap();
    db.drop_table::<Everything>().await.unwrap();
    db.create_table::<Everything>().await.unwrap();
    let rows = vec![sample(1), sample(2)];
    Everything::insert_many(&db, &rows).await.unwrap();
    let dialect = db.backend().dialect().unwrap();

    let shared = prefix(test);
    let cache = |p: &str| {
        // Hits are counted exactly below: on a loaded machine a Redis call over the default
        // 50 ms timeout would count as an outage (a miss), so this test waits longer.
        Cache::builder()
            .redis_url(REDIS_URL)
            .redis_timeout(Duration::from_secs(2))
            .prefix(p)
            .build()
            .unwrap()
    };
    let (first, second) = (cache(&shared), cache(&shared));
    let minute = Duration::from_secs(60);
    let query = || {
        Everything::query()
            .order_by(Everything::ID.asc())
            .cached(minute)
    };

    let a = first.wrap(db.clone());
    assert_eq!(query().all(&a).await.unwrap(), rows, "miss on {dialect}");
    assert_eq!(
        query().all(&a).await.unwrap(),
        rows,
        "local hit on {dialect}"
    );
    let b = second.wrap(db.clone());
    assert_eq!(
        query().all(&b).await.unwrap(),
        rows,
        "Redis hit on {dialect}"
    );
    assert_eq!((first.stats().misses, first.stats().hits_local), (1, 1));
    assert_eq!((second.stats().misses, second.stats().hits_redis), (0, 1));

    // Aggregates and other projections decode through the same recorded values.
    let view = b.cached(minute);
    for _ in 0..2 {
        let (n, max) = Everything::query()
            .select((count_all(), Everything::INT.max()))
            .one(&view)
            .await
            .unwrap();
        assert_eq!((n, max), (2, Some(i32::MIN + 1)));
    }
    assert_eq!(second.stats().misses, 1);
    assert_eq!(second.stats().hits_local, 1);

    // A filter on an ObjectId is part of the key: each value gets its own entry.
    for _ in 0..2 {
        for row in &rows {
            let found = Everything::query()
                .filter(Everything::OID.eq(row.oid))
                .all(&view)
                .await
                .unwrap();
            assert_eq!(found, std::slice::from_ref(row), "by ObjectId on {dialect}");
        }
    }
    assert_eq!(second.stats().misses, 3);
    assert_eq!(second.stats().hits_local, 3);
    db.drop_table::<Everything>().await.unwrap();
}

#[tokio::test]
async fn every_supported_type_round_trips_through_both_tiers_on_sqlite() {
    round_trip(&common::sqlite_url(), "types_sqlite").await;
}

#[tokio::test]
async fn every_supported_type_round_trips_through_both_tiers_on_postgres() {
    let (url, schema) = common::postgres_schema("types").await;
    round_trip(&url, "types_postgres").await;
    common::drop_schema(&schema).await;
}

#[tokio::test]
async fn every_supported_type_round_trips_through_both_tiers_on_mysql() {
    let base = std::env::var("ORM_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned());
    let admin = Db::connect(&base).await.unwrap();
    let name = format!("orm_cache_types_{}", std::process::id());
    admin
        .execute_raw(&format!("DROP DATABASE IF EXISTS `{name}`"))
        .await
        .unwrap();
    admin
        .execute_raw(&format!("CREATE DATABASE `{name}`"))
        .await
        .unwrap();
    let server = base
        .rsplit_once('/')
        .map_or(base.as_str(), |(server, _)| server);
    round_trip(&format!("{server}/{name}"), "types_mysql").await;
    admin
        .execute_raw(&format!("DROP DATABASE `{name}`"))
        .await
        .unwrap();
}
