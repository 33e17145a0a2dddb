//! Models inferred from a sample of MongoDB documents, on the MongoDB test server
//! (`ORM_TEST_MONGO_URL`, started by `scripts/test.sh`): types by majority, `Option` where a
//! field is absent or null, notes on what does not fit. The code inferred from the documents
//! below is `tests/pulled/mongodb.rs`, compiled into this test (`ORM_PULL_BLESS=1` rewrites it
//! after review), and the rows read back through it equal what was inserted.

use mongodb::bson::{Bson, doc, oid::ObjectId};
use polyorm::prelude::*;
use polyorm_migrate::pull::{code, infer_mongo};

#[allow(dead_code)] // every field is read through `Debug`/`PartialEq` only
#[rustfmt::skip] // as `pull` formats it
#[path = "pulled/mongodb.rs"]
mod pulled_mongodb;

fn url() -> Option<String> {
    let url = std::env::var("ORM_TEST_MONGO_URL").ok();
    let backends = std::env::var("ORM_TEST_BACKENDS").unwrap_or_default();
    if url.is_none() && std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "CI must run the MongoDB tests: set ORM_TEST_MONGO_URL (scripts/test.sh starts a server)"
        );
    }
    if url.is_none() || (!backends.is_empty() && !backends.contains("mongodb")) {
        eprintln!("SKIPPED: ORM_TEST_MONGO_URL is not set or mongodb is not in ORM_TEST_BACKENDS");
        return None;
    }
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_is_inferred_from_sampled_documents_and_reads_them_back() {
    let Some(url) = url() else { return };
    let name = format!("orm_infer_{}", std::process::id());
    let client = mongodb::Client::with_uri_str(&url).await.unwrap();
    let db = client.database(&name);
    let ids: Vec<ObjectId> = (0..4).map(|_| ObjectId::new()).collect();
    db.collection("people")
        .insert_many([
            doc! { "_id": ids[0], "name": "Ada", "age": 36_i32, "tags": ["math"], "active": true },
            doc! { "_id": ids[1], "name": "Alan", "age": 41_i32, "active": false, "score": 2.5 },
            doc! { "_id": ids[2], "name": "Grace", "age": Bson::Null, "active": true },
            doc! { "_id": ids[3], "name": "Edsger", "age": "unknown", "active": true },
        ])
        .await
        .unwrap();

    let pulled = infer_mongo(&db, &["people".to_owned()], 100).await.unwrap();
    let model = &pulled.models[0];
    let fields: Vec<(&str, &str, bool)> = model
        .fields
        .iter()
        .map(|f| (f.ident.as_str(), f.column.ty.rust_name(), f.column.nullable))
        .collect();
    assert_eq!(
        fields,
        [
            ("id", "ObjectId", false),
            ("name", "String", false),
            ("age", "i32", true),
            ("tags", "JSON", true),
            ("active", "bool", false),
            ("score", "f64", true),
        ]
    );
    let age_note = model.fields[2].notes.join(" ");
    assert!(
        age_note.contains("1 of 4 sampled documents hold another type (String ×1)"),
        "{age_note}"
    );

    let text = code(&pulled);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pulled/mongodb.rs");
    let text = text.replace(&name, "orm_infer");
    if std::env::var("ORM_PULL_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &text).unwrap();
    }
    assert_eq!(
        text,
        std::fs::read_to_string(&path).unwrap(),
        "inferred code changed: review it and rerun with ORM_PULL_BLESS=1"
    );

    // The documents of the majority types read back through the inferred model.
    db.collection::<mongodb::bson::Document>("people")
        .delete_one(doc! { "_id": ids[3] })
        .await
        .unwrap();
    let sep = if url.contains('?') {
        url.find('?').unwrap()
    } else {
        url.len()
    };
    let (base, query) = url.split_at(sep);
    let orm_url = format!("{}/{name}{query}", base.trim_end_matches('/'));
    let odb = PoolOptions::new()
        .max_connections(1)
        .connect(&orm_url)
        .await
        .unwrap();
    let mut people = pulled_mongodb::People::query().all(&odb).await.unwrap();
    people.sort_by_key(|p| p.id);
    let names: Vec<(&str, Option<i32>, bool, Option<f64>)> = people
        .iter()
        .map(|p| (p.name.as_str(), p.age, p.active, p.score))
        .collect();
    assert_eq!(
        names,
        [
            ("Ada", Some(36), true, None),
            ("Alan", Some(41), false, Some(2.5)),
            ("Grace", None, true, None),
        ]
    );
    assert_eq!(people[0].tags, Some(serde_json::json!(["math"])));
    odb.close().await;
    db.drop().await.unwrap();
}
