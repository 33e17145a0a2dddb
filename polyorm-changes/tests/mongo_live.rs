//! MongoDB change streams against a real replica set (`MONGODB_URL`, e.g. `docker compose up
//! -d --wait mongodb`): typed events from writes by the driver and by the ORM, and resuming
//! after the last acknowledged resume token. Ignored otherwise: the nx-27017 test server the
//! suite starts accepts `watch` but never reports a change.

use std::time::Duration;

use bson::doc;
use polyorm::Model;
use polyorm_changes::mongo::MongoSource;
use polyorm_changes::{Change, ChangeStream, ModelChanges};

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "cdc_live_profiles")]
struct Profile {
    #[orm(primary_key)]
    id: i64,
    name: String,
    visits: i32,
}

async fn next<T>(stream: &mut ChangeStream<T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), stream.next())
        .await
        .expect("an event within 20 s")
        .expect("the stream is open")
        .expect("the event decodes")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(orm_mongo_real),
    ignore = "needs a MongoDB replica set (MONGODB_URL): the nx-27017 test server has no change streams"
)]
async fn typed_events_and_resume_on_a_replica_set() {
    let url =
        std::env::var("ORM_TEST_MONGO_URL").expect("ORM_TEST_MONGO_URL (set from MONGODB_URL)");
    let database = format!("cdc_live_{}", std::process::id());
    let client = mongodb::Client::with_uri_str(&url).await.unwrap();
    let collection = client
        .database(&database)
        .collection::<bson::Document>("cdc_live_profiles");
    collection
        .insert_one(doc! { "_id": 0_i64, "name": "seed", "visits": 0 })
        .await
        .unwrap();
    let source = MongoSource::new(url.as_str(), database.as_str(), "cdc_live");
    let mut stream = Profile::changes(&source).start().await.unwrap();

    collection
        .insert_one(doc! { "_id": 1_i64, "name": "ada", "visits": 1 })
        .await
        .unwrap();
    let first = next(&mut stream).await;
    let ada = Profile {
        id: 1,
        name: "ada".into(),
        visits: 1,
    };
    assert_eq!(first.change, Change::Insert(ada.clone()));
    stream.ack(first.position()).await.unwrap();

    let db = polyorm::Db::connect(&format!("{}/{database}", url.trim_end_matches('/')))
        .await
        .unwrap();
    let mut bea = ada.clone();
    bea.name = "bea".into();
    bea.update(&db).await.unwrap();
    collection.delete_one(doc! { "_id": 1_i64 }).await.unwrap();
    let update = next(&mut stream).await;
    assert!(matches!(&update.change, Change::Update { after, .. } if *after == bea));
    let delete = next(&mut stream).await;
    assert_eq!(
        delete.change,
        Change::Delete {
            key: vec![polyorm::Value::BigInt(1)],
            before: None
        }
    );
    drop(stream);

    // Reopened: starts right after the acknowledged insert.
    let mut stream = Profile::changes(&source).start().await.unwrap();
    assert_eq!(next(&mut stream).await.position(), update.position());
    assert_eq!(next(&mut stream).await.position(), delete.position());
    drop(stream);
    client.database(&database).drop().await.unwrap();
    db.close().await;
}
