//! MongoDB change-stream events (the documents `collection.watch()` yields) decoded into
//! typed events of a model. Unit-level: the nx-27017 test server has no change streams.

use bson::{Bson, DateTime as BsonDateTime, doc, oid::ObjectId};
use chrono::{TimeZone, Utc};
use polyorm::Model;
use polyorm_changes::mongo::decode_event;
use polyorm_changes::{Change, ChangeKind, Error, Position};

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "cdc_profiles")]
struct Profile {
    #[orm(primary_key)]
    id: i64,
    name: String,
    score: f64,
    visits: u32,
    owner: ObjectId,
    seen_at: chrono::DateTime<Utc>,
    prefs: serde_json::Value,
    bio: Option<String>,
}

const BACKEND: polyorm::Backend = polyorm::Backend::MongoDb;

fn document(name: &str, owner: ObjectId) -> bson::Document {
    doc! {
        "_id": 7_i64, "name": name, "score": 2.5, "visits": 3_i32, "owner": owner,
        "seen_at": BsonDateTime::from_millis(1_704_067_200_123),
        "prefs": { "dark": true, "langs": ["en", "fr"] }, "bio": Bson::Null,
    }
}

fn profile(name: &str, owner: ObjectId) -> Profile {
    Profile {
        id: 7,
        name: name.into(),
        score: 2.5,
        visits: 3,
        owner,
        seen_at: Utc.timestamp_millis_opt(1_704_067_200_123).unwrap(),
        prefs: serde_json::json!({"dark": true, "langs": ["en", "fr"]}),
        bio: None,
    }
}

fn event(operation: &str, token: &str) -> bson::Document {
    doc! {
        "_id": { "_data": token },
        "operationType": operation,
        "clusterTime": Bson::Timestamp(bson::Timestamp { time: 1_704_067_201, increment: 1 }),
        "wallTime": BsonDateTime::from_millis(1_704_067_201_500),
        "ns": { "db": "app", "coll": "cdc_profiles" },
        "documentKey": { "_id": 7_i64 },
        "txnNumber": 12_i64,
    }
}

#[test]
fn an_insert_event_decodes_into_the_model_with_its_resume_token() {
    let owner = ObjectId::new();
    let mut insert = event("insert", "82657A0001");
    insert.insert("fullDocument", document("ada", owner));
    let raw = decode_event(&insert).unwrap().unwrap();
    assert_eq!(raw.kind, ChangeKind::Insert);
    assert_eq!(
        raw.meta.position,
        Position::ResumeToken("82657A0001".into())
    );
    assert_eq!(raw.meta.transaction_id.as_deref(), Some("12"));
    assert_eq!(raw.meta.commit_time_micros, Some(1_704_067_201_500_000));
    assert_eq!(
        (raw.meta.schema.as_str(), raw.meta.table.as_str()),
        ("app", "cdc_profiles")
    );
    let event = raw.decode::<Profile>(BACKEND).unwrap().unwrap();
    assert_eq!(event.change, Change::Insert(profile("ada", owner)));
}

#[test]
fn updates_carry_pre_images_when_the_collection_records_them() {
    let owner = ObjectId::new();
    let mut update = event("update", "82657A0002");
    update.insert("fullDocument", document("bea", owner));
    update.insert("fullDocumentBeforeChange", document("ada", owner));
    let change = decode_event(&update)
        .unwrap()
        .unwrap()
        .decode::<Profile>(BACKEND)
        .unwrap()
        .unwrap()
        .change;
    assert_eq!(
        change,
        Change::Update {
            key: vec![polyorm::Value::BigInt(7)],
            before: Some(profile("ada", owner)),
            after: profile("bea", owner),
        }
    );
    // A replace is an update too; without a pre-image `before` is None.
    let mut replace = event("replace", "82657A0003");
    replace.insert("fullDocument", document("cy", owner));
    let change = decode_event(&replace)
        .unwrap()
        .unwrap()
        .decode::<Profile>(BACKEND)
        .unwrap()
        .unwrap();
    assert!(matches!(change.change, Change::Update { before: None, .. }));
}

#[test]
fn deletes_without_pre_images_carry_the_document_key() {
    let change = decode_event(&event("delete", "82657A0004"))
        .unwrap()
        .unwrap()
        .decode::<Profile>(BACKEND)
        .unwrap()
        .unwrap()
        .change;
    assert_eq!(
        change,
        Change::Delete {
            key: vec![polyorm::Value::BigInt(7)],
            before: None
        }
    );
}

#[test]
fn non_row_events_are_skipped_and_updates_without_documents_are_errors() {
    assert_eq!(decode_event(&event("drop", "82657A0005")).unwrap(), None);
    assert_eq!(
        decode_event(&event("invalidate", "82657A0006")).unwrap(),
        None
    );
    match decode_event(&event("update", "82657A0007")) {
        Err(Error::Protocol { message, .. }) => {
            assert!(message.contains("updateLookup"), "{message}")
        }
        other => panic!("expected an error naming updateLookup, got {other:?}"),
    }
    let mut other_collection = event("insert", "82657A0008");
    other_collection.insert("ns", doc! { "db": "app", "coll": "elsewhere" });
    other_collection.insert("fullDocument", document("x", ObjectId::new()));
    assert!(
        decode_event(&other_collection)
            .unwrap()
            .unwrap()
            .decode::<Profile>(BACKEND)
            .is_none()
    );
}

#[test]
fn a_field_of_the_wrong_type_is_a_decode_error_naming_it() {
    let mut insert = event("insert", "82657A0009");
    let mut doc = document("ada", ObjectId::new());
    doc.insert("visits", "many");
    insert.insert("fullDocument", doc);
    match decode_event(&insert)
        .unwrap()
        .unwrap()
        .decode::<Profile>(BACKEND)
    {
        Some(Err(Error::Decode { message, .. })) => {
            assert!(message.contains("visits"), "{message}")
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
}
