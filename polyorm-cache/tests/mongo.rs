//! MongoDB reads are cached like SQL ones: every supported field type is recorded from a
//! document on a miss, encoded into Redis, decoded by another process's cache and replayed
//! from the in-process tier; every kind of write invalidates the reads of its collection.
//!
//! Runs against the MongoDB-wire test server (`bash scripts/mongo-server.sh start`, port
//! 27018, which `scripts/test.sh` starts) or `ORM_TEST_MONGO_URL`; an unreachable server
//! fails the tests (leave mongodb out of `ORM_TEST_BACKENDS` not to run them). The test server
//! cannot store decimal128, so `Decimal` (and `u64` above `i64::MAX`) are left out of the
//! model here; their recording from documents is unit-tested in polyorm-core
//! (`exec/cached/mongo_tests.rs`).

mod common;

use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};
use common::everything::{Email, Mood, Prefs, sample};
use common::{Counting, REDIS_URL, prefix};
use polyorm::Json;
use polyorm::bson::oid::ObjectId;
use polyorm::cache::{Cache, CacheExt};
use polyorm::prelude::*;
use uuid::Uuid;

/// [`common::everything::Everything`] without its `Decimal` (see the module comment).
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
    big_unsigned: u64,
    utc: DateTime<Utc>,
    naive: NaiveDateTime,
    date: NaiveDate,
    clock: NaiveTime,
    offset: ::time::OffsetDateTime,
    primitive: ::time::PrimitiveDateTime,
    time_date: ::time::Date,
    time_clock: ::time::Time,
    uuid: Uuid,
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

impl From<common::everything::Everything> for Everything {
    fn from(e: common::everything::Everything) -> Self {
        Everything {
            id: e.id,
            flag: e.flag,
            small: e.small,
            int: e.int,
            float: e.float,
            double: e.double,
            text: e.text,
            bytes: e.bytes,
            tiny_unsigned: e.tiny_unsigned,
            small_unsigned: e.small_unsigned,
            unsigned: e.unsigned,
            big_unsigned: i64::MAX as u64,
            utc: e.utc,
            naive: e.naive,
            date: e.date,
            clock: e.clock,
            offset: e.offset,
            primitive: e.primitive,
            time_date: e.time_date,
            time_clock: e.time_clock,
            uuid: e.uuid,
            json: e.json,
            prefs: e.prefs,
            mood: e.mood,
            email: e.email,
            maybe_text: e.maybe_text,
            maybe_int: e.maybe_int,
            maybe_uuid: e.maybe_uuid,
            maybe_utc: e.maybe_utc,
            oid: e.oid,
            maybe_oid: e.maybe_oid,
        }
    }
}

/// A row of every type.
fn row(id: i64) -> Everything {
    sample(id).into()
}

const MINUTE: Duration = Duration::from_secs(60);

/// Whether MongoDB is selected (`ORM_TEST_BACKENDS`, as the integration suite reads it);
/// leaving it out is reported, and refused with `CI=true`.
fn selected() -> bool {
    let list = std::env::var("ORM_TEST_BACKENDS")
        .unwrap_or_else(|_| "sqlite,postgres,mysql,mongodb".to_owned());
    let on = list.split(',').any(|b| b.trim() == "mongodb");
    if !on {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must run every backend, but ORM_TEST_BACKENDS=`{list}` leaves out mongodb"
        );
        eprintln!("not run: ORM_TEST_BACKENDS=`{list}` leaves out mongodb");
    }
    on
}

/// A database of the test's own on the MongoDB server (`ORM_TEST_MONGO_URL`'s host and
/// options, this database).
async fn mongo(test: &str) -> Db {
    let base = std::env::var("ORM_TEST_MONGO_URL")
        .unwrap_or_else(|_| "mongodb://127.0.0.1:27018".to_owned());
    let (server, options) = base.split_once('?').unwrap_or((&base, ""));
    let rest = server.strip_prefix("mongodb://").unwrap_or(server);
    let host = rest.split('/').next().unwrap_or(rest);
    let options = if options.is_empty() {
        String::new()
    } else {
        format!("?{options}")
    };
    let url = format!(
        "mongodb://{host}/orm_cache_{test}_{}{options}",
        std::process::id()
    );
    let db = Db::connect(&url).await.unwrap_or_else(|e| {
        panic!(
            "MongoDB at {url}: {e}; start the test server with `bash scripts/mongo-server.sh \
             start`, point ORM_TEST_MONGO_URL at a MongoDB, or leave mongodb out of \
             ORM_TEST_BACKENDS"
        )
    });
    db.drop_table::<Everything>().await.unwrap();
    db.create_table::<Everything>().await.unwrap();
    db
}

fn cache(shared: &str) -> Cache {
    // Hits are counted exactly below: a Redis call over the default 50 ms timeout on a
    // loaded machine would count as an outage (a miss), so this waits longer.
    Cache::builder()
        .redis_url(REDIS_URL)
        .redis_timeout(Duration::from_secs(2))
        .prefix(shared)
        .build()
        .unwrap()
}

/// `row(id)` as MongoDB stores it: BSON datetimes keep milliseconds.
fn stored(id: i64) -> Everything {
    fn millis(t: DateTime<Utc>) -> DateTime<Utc> {
        t.with_nanosecond(t.nanosecond() / 1_000_000 * 1_000_000)
            .unwrap()
    }
    let mut row = row(id);
    row.utc = millis(row.utc);
    row.naive = row.utc.naive_utc();
    row.maybe_utc = row.maybe_utc.map(millis);
    let nanos = row.offset.unix_timestamp_nanos();
    row.offset =
        ::time::OffsetDateTime::from_unix_timestamp_nanos(nanos / 1_000_000 * 1_000_000).unwrap();
    row
}

#[tokio::test]
async fn every_supported_type_round_trips_through_both_tiers_on_mongodb() {
    if !selected() {
        return;
    }
    let db = mongo("types").await;
    let rows = vec![row(1), row(2)];
    Everything::insert_many(&db, &rows).await.unwrap();
    let expected = vec![stored(1), stored(2)];
    let query = || Everything::query().order_by(Everything::ID.asc());
    assert_eq!(query().all(&db).await.unwrap(), expected, "uncached read");

    let shared = prefix("mongo_types");
    let (first, second) = (cache(&shared), cache(&shared));
    let a = first.wrap(db.clone());
    assert_eq!(
        query().cached(MINUTE).all(&a).await.unwrap(),
        expected,
        "miss"
    );
    assert_eq!(
        query().cached(MINUTE).all(&a).await.unwrap(),
        expected,
        "in-process hit"
    );
    let b = second.wrap(db.clone());
    assert_eq!(
        query().cached(MINUTE).all(&b).await.unwrap(),
        expected,
        "Redis hit"
    );
    assert_eq!((first.stats().misses, first.stats().hits_local), (1, 1));
    assert_eq!((second.stats().misses, second.stats().hits_redis), (0, 1));

    // Aggregates (a `$group` pipeline), counts and single rows replay the same way.
    let view = b.cached(MINUTE);
    for _ in 0..2 {
        let (n, max) = Everything::query()
            .select((count_all(), Everything::INT.max()))
            .one(&view)
            .await
            .unwrap();
        assert_eq!((n, max), (2, Some(i32::MIN + 1)));
        assert_eq!(Everything::query().count(&view).await.unwrap(), 2);
        let one = Everything::query()
            .filter(Everything::ID.eq(2))
            .optional(&view)
            .await
            .unwrap();
        assert_eq!(one.as_ref(), Some(&expected[1]));
    }
    assert_eq!(second.stats().misses, 3);
    assert_eq!(second.stats().hits_local, 3);

    // The filter's values are part of the key: each key gets its own entry. (The test
    // server compares ObjectIds only in `_id`, so this filters on the key.)
    for _ in 0..2 {
        for row in &expected {
            let found = Everything::query()
                .filter(Everything::ID.eq(row.id))
                .all(&view)
                .await
                .unwrap();
            assert_eq!(found, std::slice::from_ref(row), "by key");
        }
    }
    assert_eq!(second.stats().misses, 5);
    assert_eq!(second.stats().hits_local, 5);
    db.drop_table::<Everything>().await.unwrap();
}

#[tokio::test]
async fn every_kind_of_write_invalidates_mongodb_reads_in_every_process() {
    if !selected() {
        return;
    }
    let db = mongo("writes").await;
    Everything::insert_many(&db, &[row(1), row(2)])
        .await
        .unwrap();
    let counting = Counting::new(db.clone(), Duration::ZERO);
    let shared = prefix("mongo_writes");
    let (writer, reader) = (cache(&shared), cache(&shared));
    let w = writer.wrap(counting.clone());
    let r = reader.wrap(counting.clone());
    async fn texts(db: &polyorm::cache::CachedDb<Counting>) -> Vec<(i64, String)> {
        let all = Everything::query()
            .order_by(Everything::ID.asc())
            .cached(MINUTE)
            .all(db);
        all.await
            .unwrap()
            .into_iter()
            .map(|e| (e.id, e.text))
            .collect()
    }
    let sample_text = row(1).text;
    let initial = vec![(1, sample_text.clone()), (2, sample_text.clone())];
    assert_eq!(texts(&r).await, initial);
    assert_eq!(texts(&r).await, initial, "a hit");
    assert_eq!(counting.reads(), 1);

    row(3).insert(&w).await.unwrap();
    let mut now = vec![
        (1, sample_text.clone()),
        (2, sample_text.clone()),
        (3, sample_text.clone()),
    ];
    assert_eq!(texts(&r).await, now, "after insert");

    Everything::update_many()
        .set(Everything::TEXT, "updated")
        .filter(Everything::ID.eq(1))
        .execute(&w)
        .await
        .unwrap();
    now[0].1 = "updated".to_owned();
    assert_eq!(texts(&r).await, now, "after update");

    Everything::delete_by_key(&w, 3).await.unwrap();
    now.pop();
    assert_eq!(texts(&r).await, now, "after delete");

    let mut replaced = row(2);
    replaced.text = "upserted".to_owned();
    Everything::upsert_many(
        &w,
        &[replaced],
        OnConflict::on(Everything::ID).update(Everything::TEXT),
    )
    .await
    .unwrap();
    now[1].1 = "upserted".to_owned();
    assert_eq!(texts(&r).await, now, "after upsert");
    assert_eq!(texts(&r).await, now, "a hit again");
    assert_eq!(
        counting.reads(),
        5,
        "one database read per write, none for hits"
    );
    db.drop_table::<Everything>().await.unwrap();
}
