//! Every supported field type survives the cache: recorded on a miss, encoded into Redis,
//! decoded by another process's cache, and replayed from the in-process tier.

mod common;

use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use common::{REDIS_URL, prefix};
use orm::bson::oid::ObjectId;
use orm::cache::{Cache, CacheExt};
use orm::prelude::*;
use orm::{Json, SqlEnum, SqlType};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A stored enum.
#[derive(SqlEnum, Debug, Clone, Copy, PartialEq)]
pub enum Mood {
    /// Fine.
    Calm,
    /// Not fine.
    Grumpy,
}

/// A newtype column.
#[derive(SqlType, Debug, Clone, PartialEq)]
pub struct Email(String);

/// A JSON document column.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Prefs {
    theme: String,
    sizes: Vec<u32>,
}

/// One column of every type (and nullable copies, set and unset).
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "everything")]
pub struct Everything {
    #[orm(primary_key)]
    id: i64,
    flag: bool,
    small: i16,
    int: i32,
    float: f32,
    double: f64,
    text: String,
    bytes: Vec<u8>,
    tiny_unsigned: u8,
    small_unsigned: u16,
    unsigned: u32,
    utc: DateTime<Utc>,
    naive: NaiveDateTime,
    date: NaiveDate,
    clock: NaiveTime,
    offset: time::OffsetDateTime,
    primitive: time::PrimitiveDateTime,
    time_date: time::Date,
    time_clock: time::Time,
    uuid: Uuid,
    #[orm(precision = 20, scale = 6)]
    decimal: Decimal,
    json: serde_json::Value,
    prefs: Json<Prefs>,
    mood: Mood,
    email: Email,
    maybe_text: Option<String>,
    maybe_int: Option<i32>,
    maybe_uuid: Option<Uuid>,
    maybe_utc: Option<DateTime<Utc>>,
    oid: ObjectId,
    maybe_oid: Option<ObjectId>,
}

/// The ObjectId of row `id` (distinct per row, so a filter on it picks one).
fn oid(id: i64) -> ObjectId {
    let mut bytes = *b"\x65\xf0\xa1\xb2\xc3\xd4\xe5\xf6\x07\x18\x29\x00";
    bytes[11] = id as u8;
    ObjectId::from_bytes(bytes)
}

fn sample(id: i64) -> Everything {
    let utc = DateTime::from_timestamp(1_700_000_000, 123_456_000).unwrap();
    Everything {
        id,
        flag: true,
        small: -12_345,
        int: i32::MIN + 1,
        float: 1.5e-3,
        double: -1.234_567_890_123_456_7e-300,
        text: "héllo \u{1F600} 'quoted' \\ \"x\"".to_owned(),
        bytes: vec![0, 255, 1, 254],
        tiny_unsigned: 255,
        small_unsigned: 65_535,
        unsigned: 4_000_000_000,
        utc,
        naive: utc.naive_utc(),
        date: NaiveDate::from_ymd_opt(1999, 12, 31).unwrap(),
        clock: NaiveTime::from_hms_micro_opt(23, 59, 58, 999_999).unwrap(),
        offset: time::OffsetDateTime::from_unix_timestamp_nanos(1_600_000_000_654_321_000).unwrap(),
        primitive: time::macros_free_primitive(),
        time_date: time::Date::from_calendar_date(2024, time::Month::February, 29).unwrap(),
        time_clock: time::Time::from_hms_micro(1, 2, 3, 4).unwrap(),
        uuid: Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
        decimal: "-12345678.901234".parse().unwrap(),
        json: serde_json::json!({"a": [1, 2.5, null, "x"], "b": {"c": true}}),
        prefs: Json(Prefs {
            theme: "dark".to_owned(),
            sizes: vec![1, 2, 3],
        }),
        mood: Mood::Grumpy,
        email: Email("a@b.c".to_owned()),
        maybe_text: Some("set".to_owned()),
        maybe_int: None,
        maybe_uuid: Some(Uuid::nil()),
        maybe_utc: None,
        oid: oid(id),
        maybe_oid: (id % 2 == 0).then(|| oid(-id)),
    }
}

/// `time` has no const constructor for a `PrimitiveDateTime` without its macros feature.
mod time {
    pub use ::time::*;

    pub fn macros_free_primitive() -> PrimitiveDateTime {
        PrimitiveDateTime::new(
            Date::from_calendar_date(2001, Month::September, 9).unwrap(),
            Time::from_hms_micro(1, 46, 40, 500_000).unwrap(),
        )
    }
}

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
